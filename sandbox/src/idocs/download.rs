//! The files iDocs hands out for a document (contract §2.2, §2.4): the content to sign (a ZIP
//! of the original files), the print form (a PDF listing the route and the signatures) and the
//! archive (originals, print form and `.cms` signatures).
//!
//! The print form is a readable simulation, not iDocs' layout. Cyrillic is transliterated,
//! since the PDF fonts are WinAnsi.

use axum::body::Bytes;
use chrono::{DateTime, Utc};

use super::model::{Document, File, Signature, Stage};
use crate::files::{sha256_hex, zip};
use crate::pdf::{self, Line, transliterate};

/// What the print form says about the people and companies a document names.
#[derive(Debug, Clone, Default)]
pub(crate) struct Names {
    /// `(BIN, company name)` of the companies the sandbox knows.
    pub companies: Vec<(String, String)>,
    /// `(employee id, full name)`.
    pub employees: Vec<(String, String)>,
}

impl Names {
    fn company(&self, bin: &str) -> Option<&str> {
        self.companies.iter().find(|(b, _)| b == bin).map(|(_, name)| name.as_str())
    }

    fn employee(&self, id: &str) -> Option<&str> {
        self.employees.iter().find(|(e, _)| e == id).map(|(_, name)| name.as_str())
    }
}

/// File names made unique inside one archive: a second `a.pdf` becomes `a (2).pdf`.
fn unique_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut taken: Vec<String> = Vec::new();
    for name in names {
        let mut candidate = name.to_owned();
        let mut n = 1;
        while taken.iter().any(|t| t.eq_ignore_ascii_case(&candidate)) {
            n += 1;
            candidate = match name.rsplit_once('.') {
                Some((stem, extension)) if !stem.is_empty() => format!("{stem} ({n}).{extension}"),
                _ => format!("{name} ({n})"),
            };
        }
        taken.push(candidate);
    }
    taken
}

/// The content to sign: a ZIP of the original files, always the same bytes for a document.
pub(crate) fn content_zip(files: &[File]) -> Result<Vec<u8>, String> {
    let names = unique_names(files.iter().map(|f| f.name.as_str()));
    let entries: Vec<(&str, &[u8])> =
        names.iter().map(String::as_str).zip(files.iter().map(|f| &f.bytes[..])).collect();
    zip(&entries).map_err(|e| format!("could not build the content to sign: {e}"))
}

/// The document or package as downloaded by the bulk download: the original file when there
/// is one, else the ZIP of the originals. Returns `(file name, content type, bytes)`.
pub(crate) fn package(document: &Document) -> Result<(String, String, Bytes), String> {
    if let [file] = document.files.as_slice() {
        return Ok((file.name.clone(), file.mime_type.clone(), file.bytes.clone()));
    }
    let bytes = content_zip(&document.files)?;
    Ok((format!("{}.zip", archive_stem(document)), "application/zip".into(), bytes.into()))
}

/// A file-name stem from the document number, with characters that break names replaced.
pub(crate) fn archive_stem(document: &Document) -> String {
    let stem: String = document
        .number
        .chars()
        .map(|c| if c.is_alphanumeric() || "-_. ".contains(c) { c } else { '_' })
        .collect();
    if stem.trim().is_empty() { document.id.clone() } else { stem.trim().to_owned() }
}

/// The print form: the first PDF original with a signature sheet appended, or the sheet alone
/// when there is no readable PDF original.
pub(crate) fn print_form(
    document: &Document,
    names: &Names,
    now: DateTime<Utc>,
) -> Result<Vec<u8>, String> {
    let sheet = pdf::layout(&sheet_lines(document, names, now));
    let original = document
        .files
        .iter()
        .filter(|f| f.extension == ".pdf")
        .find_map(|f| pdf::append_pages(&f.bytes, &sheet).ok());
    match original {
        Some(bytes) => Ok(bytes),
        None => pdf::new_document(&sheet),
    }
}

/// The archive: the originals, the print form and one `.cms` per signature received as CMS.
pub(crate) fn archive(
    document: &Document,
    names: &Names,
    now: DateTime<Utc>,
) -> Result<Vec<u8>, String> {
    let print = print_form(document, names, now)?;
    let print_name = format!("{}_print_form.pdf", archive_stem(document));
    let signatures: Vec<(String, &[u8])> = document
        .signatures
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            s.cms
                .as_ref()
                .map(|cms| (format!("signature_{}_{}.cms", i + 1, s.company_bin), &cms[..]))
        })
        .collect();
    let all_names: Vec<&str> = document
        .files
        .iter()
        .map(|f| f.name.as_str())
        .chain([print_name.as_str()])
        .chain(signatures.iter().map(|(name, _)| name.as_str()))
        .collect();
    let unique = unique_names(all_names);
    let contents = document
        .files
        .iter()
        .map(|f| &f.bytes[..])
        .chain([&print[..]])
        .chain(signatures.iter().map(|(_, bytes)| *bytes));
    let entries: Vec<(&str, &[u8])> = unique.iter().map(String::as_str).zip(contents).collect();
    zip(&entries).map_err(|e| format!("could not build the archive: {e}"))
}

fn time(at: DateTime<Utc>) -> String {
    at.format("%d.%m.%Y %H:%M:%S UTC").to_string()
}

fn epoch(seconds: i64) -> String {
    DateTime::from_timestamp(seconds, 0).map_or_else(|| seconds.to_string(), time)
}

fn stage_label(stage: Stage) -> &'static str {
    match stage {
        Stage::Draft => "Draft (not sent)",
        Stage::Sent => "Sent, waiting for the counterparty",
        Stage::Finished => "Finished",
        Stage::Rejected => "Rejected by the counterparty",
        Stage::Recalled => "Recalled by the sender",
    }
}

fn signature_line(n: usize, signature: &Signature, names: &Names) -> Vec<Line> {
    let company = names.company(&signature.company_bin).unwrap_or("unknown company");
    let employee = names.employee(&signature.employee_id).unwrap_or(&signature.employee_id);
    let kind = match (&signature.cms, signature.form) {
        (Some(_), Some(form)) => format!("CMS, {}", form.name()),
        _ => "simulated (sandbox control route, no CMS)".into(),
    };
    let mut lines = vec![
        Line::section(format!("{n}. {company} (BIN {})", signature.company_bin)),
        Line::body(format!("Signed by: {employee}")),
        Line::body(format!("Signed on: {}", time(signature.at))),
        Line::body(format!("Signature: {kind}")),
    ];
    if let Some(subject) = &signature.signer_subject {
        lines.push(Line::body(format!("Certificate subject: {subject}")));
    }
    if let Some(cms) = &signature.cms {
        lines.push(Line::body(format!("CMS SHA-256: {}", sha256_hex(cms))));
    }
    lines
}

fn sheet_lines(document: &Document, names: &Names, now: DateTime<Utc>) -> Vec<Line> {
    let sender = names.company(&document.sender_bin).unwrap_or("");
    let mut lines = vec![
        Line::heading("iDocs - print form"),
        Line::blank(),
        Line::section("Document"),
        Line::body(format!("Name: {}", document.name)),
        Line::body(format!("Number: {}", document.number)),
        Line::body(format!("Date: {}", epoch(document.date))),
        Line::body(format!("Group: {}", document.group.name())),
        Line::body(format!("Id: {}", document.id)),
        Line::body(format!("Sender: {sender} (BIN {})", document.sender_bin)),
        Line::body(format!("Status: {}", stage_label(document.stage))),
        Line::blank(),
        Line::section("Files"),
    ];
    for file in &document.files {
        lines.push(Line::body(format!(
            "{} ({} bytes, SHA-256 {})",
            file.name,
            file.bytes.len(),
            sha256_hex(&file.bytes)
        )));
    }
    if let Some(route) = &document.route {
        lines.push(Line::blank());
        lines.push(Line::section(format!("Route ({})", route.order.name())));
        for node in &route.nodes {
            let company = names.company(&node.bin).unwrap_or("");
            let mut text =
                format!("{}. {company} (BIN {}): {}", node.order, node.bin, node.status.name());
            if let Some(at) = node.completed_on {
                text.push_str(&format!(" on {}", time(at)));
            }
            if let Some(reason) = &node.reject_reason {
                text.push_str(&format!(". Reason: {reason}"));
            }
            lines.push(Line::body(text));
        }
    }
    lines.push(Line::blank());
    lines.push(Line::section("Signatures"));
    if document.signatures.is_empty() {
        lines.push(Line::body("None yet."));
    }
    for (i, signature) in document.signatures.iter().enumerate() {
        lines.extend(signature_line(i + 1, signature, names));
    }
    lines.push(Line::blank());
    lines.push(Line::body(format!("Generated on {}", time(now))));
    lines.push(Line::body(
        "Generated by the signbridge sandbox, a local iDocs simulator. Not a legal document.",
    ));
    lines.into_iter().map(|line| Line { text: transliterate(&line.text), ..line }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_names_never_collide() {
        assert_eq!(
            unique_names(["a.pdf", "A.pdf", "a.pdf", "noext", "noext"]),
            ["a.pdf", "A (2).pdf", "a (3).pdf", "noext", "noext (2)"]
        );
    }
}
