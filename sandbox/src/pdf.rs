//! Just enough PDF writing for the simulators: plain text pages (standard Type1 Helvetica,
//! WinAnsiEncoding), either as a new document or appended to an uploaded one.
//!
//! The standard 14 fonts need no embedding, which keeps generated files small and readable by
//! every viewer. WinAnsiEncoding covers Portuguese; a character it lacks is written as `?`.

use lopdf::content::{Content, Operation};
use lopdf::{Dictionary, Document, Object, ObjectId, Stream, StringFormat, dictionary};

/// A4 in PostScript points.
const PAGE_WIDTH: f32 = 595.0;
const PAGE_HEIGHT: f32 = 842.0;
const MARGIN: f32 = 50.0;

/// One line of text as the caller wants it; [`layout`] wraps and paginates.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Line {
    pub text: String,
    pub size: f32,
    pub bold: bool,
}

impl Line {
    pub fn heading(text: impl Into<String>) -> Line {
        Line { text: text.into(), size: 14.0, bold: true }
    }

    pub fn section(text: impl Into<String>) -> Line {
        Line { text: text.into(), size: 12.0, bold: true }
    }

    pub fn body(text: impl Into<String>) -> Line {
        Line { text: text.into(), size: 10.0, bold: false }
    }

    pub fn blank() -> Line {
        Line::body("")
    }

    fn leading(&self) -> f32 {
        self.size * 1.4
    }
}

/// Wraps long lines and splits them into pages that fit A4 with margins.
pub(crate) fn layout(lines: &[Line]) -> Vec<Vec<Line>> {
    let usable_height = PAGE_HEIGHT - 2.0 * MARGIN;
    let mut pages = Vec::new();
    let mut page: Vec<Line> = Vec::new();
    let mut used = 0.0;
    for line in lines.iter().flat_map(wrap) {
        if used + line.leading() > usable_height && !page.is_empty() {
            pages.push(std::mem::take(&mut page));
            used = 0.0;
        }
        used += line.leading();
        page.push(line);
    }
    if !page.is_empty() || pages.is_empty() {
        pages.push(page);
    }
    pages
}

/// Splits a line at spaces so it fits the page width. Helvetica averages a little over half an
/// em per character in mixed text, so a character budget is close enough for generated reports.
fn wrap(line: &Line) -> Vec<Line> {
    // Truncation is intended: the budget only needs to be a safe whole number of characters.
    let budget = ((PAGE_WIDTH - 2.0 * MARGIN) / (line.size * 0.55)) as usize;
    let mut out = Vec::new();
    let mut current = String::new();
    for word in line.text.split(' ') {
        let mut word = word.to_owned();
        // A single word longer than the line (a hash, a URL) is cut hard.
        while word.chars().count() > budget {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            let head: String = word.chars().take(budget).collect();
            word = word.chars().skip(budget).collect();
            out.push(head);
        }
        let needed =
            current.chars().count() + usize::from(!current.is_empty()) + word.chars().count();
        if needed > budget && !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(&word);
    }
    out.push(current);
    out.into_iter().map(|text| Line { text, ..line.clone() }).collect()
}

/// Encodes text for a WinAnsiEncoding font (Windows-1252); unmapped characters become `?`.
pub(crate) fn winansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            '\u{20}'..='\u{7e}' | '\u{a0}'..='\u{ff}' => c as u8,
            '€' => 0x80,
            '‚' => 0x82,
            'ƒ' => 0x83,
            '„' => 0x84,
            '…' => 0x85,
            '†' => 0x86,
            '‡' => 0x87,
            'ˆ' => 0x88,
            '‰' => 0x89,
            'Š' => 0x8a,
            '‹' => 0x8b,
            'Œ' => 0x8c,
            'Ž' => 0x8e,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '•' => 0x95,
            '–' => 0x96,
            '—' => 0x97,
            '˜' => 0x98,
            '™' => 0x99,
            'š' => 0x9a,
            '›' => 0x9b,
            'œ' => 0x9c,
            'ž' => 0x9e,
            'Ÿ' => 0x9f,
            _ => b'?',
        })
        .collect()
}

/// A new PDF holding the given pages (as produced by [`layout`]).
pub(crate) fn new_document(pages: &[Vec<Line>]) -> Result<Vec<u8>, String> {
    let mut doc = Document::with_version("1.7");
    let pages_id = doc.new_object_id();
    let fonts = add_fonts(&mut doc);
    let kids: Vec<Object> = pages
        .iter()
        .map(|lines| add_page(&mut doc, pages_id, fonts, lines).map(Object::Reference))
        .collect::<Result<_, _>>()?;
    let count = i64::try_from(kids.len()).map_err(|e| e.to_string())?;
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Kids" => kids,
            "Count" => count,
        }),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    save(doc)
}

/// The uploaded PDF with the given pages appended at the end of its page tree.
pub(crate) fn append_pages(original: &[u8], pages: &[Vec<Line>]) -> Result<Vec<u8>, String> {
    let mut doc = Document::load_mem(original).map_err(|e| e.to_string())?;
    let pages_id = doc
        .catalog()
        .and_then(|catalog| catalog.get(b"Pages"))
        .and_then(Object::as_reference)
        .map_err(|e| e.to_string())?;
    let fonts = add_fonts(&mut doc);
    let new_kids: Vec<Object> = pages
        .iter()
        .map(|lines| add_page(&mut doc, pages_id, fonts, lines).map(Object::Reference))
        .collect::<Result<_, _>>()?;
    let added = i64::try_from(new_kids.len()).map_err(|e| e.to_string())?;

    let root = doc.get_dictionary_mut(pages_id).map_err(|e| e.to_string())?;
    let count = root.get(b"Count").and_then(Object::as_i64).unwrap_or(0);
    let mut kids = match root.get(b"Kids") {
        Ok(Object::Array(kids)) => kids.clone(),
        _ => Vec::new(),
    };
    kids.extend(new_kids);
    root.set("Kids", kids);
    root.set("Count", count + added);
    save(doc)
}

/// Number of pages of a PDF, or why it could not be read.
pub(crate) fn page_count(bytes: &[u8]) -> Result<usize, String> {
    Document::load_mem(bytes).map(|doc| doc.get_pages().len()).map_err(|e| e.to_string())
}

#[derive(Clone, Copy)]
struct Fonts {
    regular: ObjectId,
    bold: ObjectId,
}

fn add_fonts(doc: &mut Document) -> Fonts {
    let mut font = |base: &str| {
        doc.add_object(dictionary! {
            "Type" => "Font",
            "Subtype" => "Type1",
            "BaseFont" => Object::Name(base.as_bytes().to_vec()),
            "Encoding" => "WinAnsiEncoding",
        })
    };
    Fonts { regular: font("Helvetica"), bold: font("Helvetica-Bold") }
}

fn add_page(
    doc: &mut Document,
    parent: ObjectId,
    fonts: Fonts,
    lines: &[Line],
) -> Result<ObjectId, String> {
    let mut operations = vec![Operation::new("BT", vec![])];
    let mut y = PAGE_HEIGHT - MARGIN;
    for line in lines {
        y -= line.leading();
        let font = if line.bold { "F2" } else { "F1" };
        operations.push(Operation::new("Tf", vec![font.into(), line.size.into()]));
        // `Tm` sets an absolute position, so each line is independent of the previous one.
        operations.push(Operation::new(
            "Tm",
            vec![1.into(), 0.into(), 0.into(), 1.into(), MARGIN.into(), y.into()],
        ));
        operations.push(Operation::new(
            "Tj",
            vec![Object::String(winansi(&line.text), StringFormat::Literal)],
        ));
    }
    operations.push(Operation::new("ET", vec![]));
    let content = Content { operations }.encode().map_err(|e| e.to_string())?;
    let content_id = doc.add_object(Stream::new(Dictionary::new(), content));
    let resources = dictionary! {
        "Font" => dictionary! { "F1" => fonts.regular, "F2" => fonts.bold },
    };
    Ok(doc.add_object(dictionary! {
        "Type" => "Page",
        "Parent" => parent,
        "MediaBox" => vec![0.into(), 0.into(), PAGE_WIDTH.into(), PAGE_HEIGHT.into()],
        "Resources" => resources,
        "Contents" => content_id,
    }))
}

fn save(mut doc: Document) -> Result<Vec<u8>, String> {
    doc.compress();
    let mut out = Vec::new();
    doc.save_to(&mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_of(bytes: &[u8], page: u32) -> String {
        Document::load_mem(bytes).and_then(|doc| doc.extract_text(&[page])).unwrap_or_default()
    }

    #[test]
    fn winansi_keeps_portuguese_and_replaces_the_rest() {
        assert_eq!(winansi("Ação"), vec![b'A', 0xe7, 0xe3, b'o']);
        assert_eq!(winansi("“ok” – €"), vec![0x93, b'o', b'k', 0x94, b' ', 0x96, b' ', 0x80]);
        assert_eq!(winansi("Жук 😀"), b"??? ?".to_vec());
    }

    #[test]
    fn wrap_respects_the_budget_and_keeps_words() {
        let long = Line::body("palavra ".repeat(40));
        let wrapped = wrap(&long);
        assert!(wrapped.len() > 1);
        assert!(wrapped.iter().all(|l| l.text.chars().count() <= 90));
        assert_eq!(
            wrapped.iter().map(|l| l.text.trim()).collect::<Vec<_>>().join(" "),
            long.text.trim()
        );
        let hash = Line::body("x".repeat(200));
        assert_eq!(wrap(&hash).iter().map(|l| l.text.len()).sum::<usize>(), 200);
    }

    #[test]
    fn layout_paginates() {
        let lines: Vec<Line> = (0..200).map(|i| Line::body(format!("linha {i}"))).collect();
        let pages = layout(&lines);
        assert!(pages.len() >= 3);
        assert_eq!(pages.iter().map(Vec::len).sum::<usize>(), 200);
        assert_eq!(layout(&[]).len(), 1);
    }

    #[test]
    fn new_document_and_append_round_trip() {
        let first = new_document(&layout(&[Line::heading("Contrato de locação")])).unwrap();
        assert_eq!(page_count(&first).unwrap(), 1);
        assert!(text_of(&first, 1).contains("Contrato de locação"));

        let appended = append_pages(&first, &layout(&[Line::body("Protocolo")])).unwrap();
        assert_eq!(page_count(&appended).unwrap(), 2);
        assert!(text_of(&appended, 2).contains("Protocolo"));
        assert!(text_of(&appended, 1).contains("Contrato"));
    }

    #[test]
    fn not_a_pdf_is_an_error() {
        assert!(page_count(b"hello").is_err());
        assert!(append_pages(b"hello", &layout(&[])).is_err());
    }
}
