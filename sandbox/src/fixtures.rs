//! Documents for tests and the demo: real PDFs, made on the fly so no binary is checked in.

use crate::pdf::{self, Line};

/// A valid PDF of `pages` pages (at least one), each showing `title` and its page number.
///
/// Text goes through WinAnsiEncoding, so Portuguese accents render; characters outside it
/// (Cyrillic, emoji) show as `?`.
pub fn sample_pdf(title: &str, pages: usize) -> Vec<u8> {
    let total = pages.max(1);
    let contents: Vec<Vec<Line>> = (1..=total)
        .map(|n| {
            vec![
                Line::heading(title),
                Line::blank(),
                Line::body(format!("Página {n} de {total}")),
                Line::blank(),
                Line::body(
                    "Documento de exemplo gerado pelo signbridge-sandbox para testes de assinatura \
                     eletrônica. Não tem valor jurídico.",
                ),
            ]
        })
        .collect();
    // Building from fixed, well-formed objects into memory has no failure mode left to report.
    pdf::new_document(&contents).expect("an in-memory PDF of text pages always serialises")
}

/// Number of pages in a PDF, or the parser's message when the bytes are not a readable PDF.
pub fn pdf_page_count(bytes: &[u8]) -> Result<usize, String> {
    pdf::page_count(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_pdf_has_the_requested_pages() {
        let bytes = sample_pdf("Contrato nº 123 — locação", 3);
        assert!(bytes.starts_with(b"%PDF-"));
        assert_eq!(pdf_page_count(&bytes).unwrap(), 3);
        assert_eq!(pdf_page_count(&sample_pdf("x", 0)).unwrap(), 1);
    }

    #[test]
    fn page_count_rejects_garbage() {
        let err = pdf_page_count(b"not a pdf").unwrap_err();
        assert!(!err.is_empty());
    }
}
