//! File names that come from a provider (a `Content-Disposition`, a document's name in a reply,
//! an archive entry) are made safe here, and only here, before they name anything the SDK
//! writes: a zip entry, a file in the host's folder, a name handed to the host.

use std::collections::HashSet;

/// Longest name kept, in bytes: file systems allow 255, and a suffix may be added.
const MAX_NAME_BYTES: usize = 200;

/// Names Windows reserves for devices, whatever the extension (`CON.pdf` opens the console).
const RESERVED: [&str; 22] = [
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// `raw` as a plain file name: only its last path segment (`/` and `\` both separate), no NUL
/// or control characters, no characters Windows refuses, no leading dots or trailing dots and
/// spaces, not a reserved device name, at most [`MAX_NAME_BYTES`]. An empty result is
/// `fallback`.
pub fn file_name(raw: &str, fallback: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .map(|c| match c {
            c if c.is_control() => '_',
            '<' | '>' | ':' | '"' | '|' | '?' | '*' => '_',
            c => c,
        })
        .collect();
    let trimmed = cleaned.trim_start_matches(['.', ' ']).trim_end_matches(['.', ' ']);
    if trimmed.is_empty() {
        return fallback.to_string();
    }
    let stem = trimmed.split('.').next().unwrap_or_default();
    let mut name = if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(stem.trim())) {
        format!("_{trimmed}")
    } else {
        trimmed.to_string()
    };
    if name.len() > MAX_NAME_BYTES {
        name = truncate_keeping_extension(&name, MAX_NAME_BYTES);
    }
    name
}

/// Cuts `name` to at most `max` bytes on a character boundary, keeping a short extension.
fn truncate_keeping_extension(name: &str, max: usize) -> String {
    let ext = name.rsplit_once('.').map(|(_, e)| e).filter(|e| e.len() <= 10).unwrap_or("");
    let keep = max - if ext.is_empty() { 0 } else { ext.len() + 1 };
    let mut end = keep;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    if ext.is_empty() { name[..end].to_string() } else { format!("{}.{ext}", &name[..end]) }
}

/// Makes each name of a set unique, case-insensitively (as Windows and macOS compare them):
/// the second `a.pdf` becomes `a (2).pdf`.
#[derive(Default)]
pub struct Unique {
    taken: HashSet<String>,
}

impl Unique {
    pub fn name(&mut self, name: String) -> String {
        if self.taken.insert(name.to_lowercase()) {
            return name;
        }
        let (stem, ext) = match name.rsplit_once('.') {
            Some((stem, ext)) if !stem.is_empty() => (stem, format!(".{ext}")),
            _ => (name.as_str(), String::new()),
        };
        (2..)
            .map(|n| format!("{stem} ({n}){ext}"))
            .find(|candidate| self.taken.insert(candidate.to_lowercase()))
            .expect("an unused number exists")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_traversal_are_reduced_to_a_name() {
        for (raw, expected) in [
            ("contrato.pdf", "contrato.pdf"),
            ("../../etc/passwd", "passwd"),
            ("..\\..\\Windows\\win.ini", "win.ini"),
            ("/abs/olute.pdf", "olute.pdf"),
            ("C:\\x\\y.pdf", "y.pdf"),
            ("..", "fallback.pdf"),
            ("", "fallback.pdf"),
            ("dir/", "fallback.pdf"),
            ("a.pdf\0.exe", "a.pdf_.exe"),
            ("tab\tand\nnewline.pdf", "tab_and_newline.pdf"),
            (".hidden", "hidden"),
            ("trailing. . ", "trailing"),
            ("what?.pdf", "what_.pdf"),
            ("CON.pdf", "_CON.pdf"),
            ("lpt1", "_lpt1"),
            ("Договор №1.pdf", "Договор №1.pdf"),
        ] {
            assert_eq!(file_name(raw, "fallback.pdf"), expected, "{raw:?}");
        }
    }

    #[test]
    fn long_names_keep_their_extension_and_char_boundaries() {
        let long = format!("{}.pdf", "ж".repeat(300));
        let name = file_name(&long, "x");
        assert!(name.len() <= MAX_NAME_BYTES && name.ends_with(".pdf"), "{}", name.len());
        assert!(name.starts_with('ж'));
    }

    #[test]
    fn duplicates_get_a_number() {
        let mut unique = Unique::default();
        let names: Vec<String> = ["a.pdf", "A.PDF", "a.pdf", "b", "b", "a (2).pdf"]
            .into_iter()
            .map(|n| unique.name(n.to_string()))
            .collect();
        assert_eq!(names, ["a.pdf", "A (2).PDF", "a (3).pdf", "b", "b (2)", "a (2) (2).pdf"]);
    }
}
