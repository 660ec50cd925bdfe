//! Just enough PDF writing for the simulators: plain text pages (standard Type1 Helvetica,
//! WinAnsiEncoding), either as a new document or appended to an uploaded one, and small text
//! boxes stamped onto existing pages.
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

/// Russian and Kazakh Cyrillic spelled in Latin letters WinAnsiEncoding has (Russian as in
/// passports, Kazakh letters as in the 2021 Latin alphabet where WinAnsi has the letter), so
/// Cyrillic names stay readable in generated PDFs instead of turning into `?`. Other text is
/// kept as it is.
pub(crate) fn transliterate(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let lower = c.to_lowercase().next().unwrap_or(c);
        let latin = match lower {
            'а' => "a",
            'б' => "b",
            'в' => "v",
            'г' => "g",
            'д' => "d",
            'е' => "e",
            'ё' => "yo",
            'ж' => "zh",
            'з' => "z",
            'и' => "i",
            'й' => "y",
            'к' => "k",
            'л' => "l",
            'м' => "m",
            'н' => "n",
            'о' => "o",
            'п' => "p",
            'р' => "r",
            'с' => "s",
            'т' => "t",
            'у' => "u",
            'ф' => "f",
            'х' => "kh",
            'ц' => "ts",
            'ч' => "ch",
            'ш' => "sh",
            'щ' => "shch",
            'ъ' | 'ь' => "",
            'ы' => "y",
            'э' => "e",
            'ю' => "yu",
            'я' => "ya",
            'ә' => "ä",
            'ғ' => "g",
            'қ' => "q",
            'ң' => "ñ",
            'ө' => "ö",
            'ұ' => "u",
            'ү' => "ü",
            'һ' => "h",
            'і' => "i",
            // Not Cyrillic, but in every Russian document number and missing from WinAnsi.
            '№' => "No.",
            _ => {
                out.push(c);
                continue;
            }
        };
        if c == lower {
            out.push_str(latin);
        } else {
            // An uppercase letter: capitalise the first Latin letter only ("Щ" → "Shch").
            let mut letters = latin.chars();
            out.extend(letters.next().into_iter().flat_map(char::to_uppercase));
            out.extend(letters);
        }
    }
    out
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

/// Points per millimetre.
pub(crate) const POINTS_PER_MM: f32 = 72.0 / 25.4;

/// `(width, height)` of every page in points, from its (possibly inherited) MediaBox; A4 for a
/// page without one.
pub(crate) fn page_sizes(bytes: &[u8]) -> Result<Vec<(f32, f32)>, String> {
    let doc = Document::load_mem(bytes).map_err(|e| e.to_string())?;
    Ok(doc
        .get_pages()
        .values()
        .map(|&page| {
            let [x0, y0, x1, y1] = media_box(&doc, page);
            ((x1 - x0).abs(), (y1 - y0).abs())
        })
        .collect())
}

/// A text box drawn onto an existing page. Positions are in points, measured from the page's
/// left and top edges (the way signature positions are given).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Stamp {
    /// 1-based page number.
    pub page: u32,
    pub left: f32,
    pub top: f32,
    pub width: f32,
    pub height: f32,
    pub lines: Vec<String>,
}

/// The PDF with each stamp drawn as a framed text box on its page. Each box is a form XObject
/// with its own fonts, so the page's resources and graphics state do not matter.
pub(crate) fn stamp(original: &[u8], stamps: &[Stamp]) -> Result<Vec<u8>, String> {
    let mut doc = Document::load_mem(original).map_err(|e| e.to_string())?;
    let pages = doc.get_pages();
    let fonts = add_fonts(&mut doc);
    for (n, stamp) in stamps.iter().enumerate() {
        let page = *pages.get(&stamp.page).ok_or_else(|| format!("no page {}", stamp.page))?;
        let [x0, _, _, y1] = media_box(&doc, page);
        let form = doc.add_object(stamp_form(stamp, fonts)?);
        let name = format!("SbStamp{n}");
        doc.add_xobject(page, name.as_bytes(), form).map_err(|e| e.to_string())?;
        let (left, bottom) = (x0 + stamp.left, y1 - stamp.top - stamp.height);
        // The page's own content runs inside q/Q so a graphics state it leaves changed (an
        // unbalanced transform) cannot move the box.
        wrap_contents(&mut doc, page, format!("q 1 0 0 1 {left} {bottom} cm /{name} Do Q"))?;
    }
    save(doc)
}

fn stamp_form(stamp: &Stamp, fonts: Fonts) -> Result<Stream, String> {
    let rows = stamp.lines.len().max(1) as f32;
    let size = (stamp.height / (rows * 1.3 + 0.6)).clamp(2.0, 9.0);
    let mut operations = vec![
        Operation::new("q", vec![]),
        Operation::new("RG", vec![0.1.into(), 0.2.into(), 0.6.into()]),
        Operation::new("w", vec![0.8.into()]),
        Operation::new("re", vec![0.into(), 0.into(), stamp.width.into(), stamp.height.into()]),
        Operation::new("S", vec![]),
        Operation::new("Q", vec![]),
        Operation::new("BT", vec![]),
    ];
    let mut y = stamp.height - size * 1.2;
    for (i, line) in stamp.lines.iter().enumerate() {
        let font = if i == 0 { "F2" } else { "F1" };
        operations.push(Operation::new("Tf", vec![font.into(), size.into()]));
        operations.push(Operation::new(
            "Tm",
            vec![1.into(), 0.into(), 0.into(), 1.into(), (size * 0.4).into(), y.into()],
        ));
        operations
            .push(Operation::new("Tj", vec![Object::String(winansi(line), StringFormat::Literal)]));
        y -= size * 1.3;
    }
    operations.push(Operation::new("ET", vec![]));
    let content = Content { operations }.encode().map_err(|e| e.to_string())?;
    Ok(Stream::new(
        dictionary! {
            "Type" => "XObject",
            "Subtype" => "Form",
            "BBox" => vec![0.into(), 0.into(), stamp.width.into(), stamp.height.into()],
            "Resources" => dictionary! {
                "Font" => dictionary! { "F1" => fonts.regular, "F2" => fonts.bold },
            },
        },
        content,
    ))
}

/// Puts the page's content streams between `q` and `Q`, then `extra` after them.
fn wrap_contents(doc: &mut Document, page: ObjectId, extra: String) -> Result<(), String> {
    let existing: Vec<Object> = match doc.get_dictionary(page).and_then(|d| d.get(b"Contents")) {
        Ok(Object::Reference(id)) => match doc.get_object(*id) {
            Ok(Object::Array(items)) => items.clone(),
            _ => vec![Object::Reference(*id)],
        },
        Ok(Object::Array(items)) => items.clone(),
        _ => Vec::new(),
    };
    let open = doc.add_object(Stream::new(Dictionary::new(), b"q".to_vec()));
    let close = doc.add_object(Stream::new(Dictionary::new(), format!("Q {extra}").into_bytes()));
    let mut contents = vec![Object::Reference(open)];
    contents.extend(existing);
    contents.push(Object::Reference(close));
    let page = doc.get_dictionary_mut(page).map_err(|e| e.to_string())?;
    page.set("Contents", contents);
    Ok(())
}

/// A page's MediaBox `[x0, y0, x1, y1]`, inherited through the page tree; A4 when missing.
fn media_box(doc: &Document, page: ObjectId) -> [f32; 4] {
    let resolve = |object: &Object| match object {
        Object::Reference(id) => doc.get_object(*id).ok().cloned(),
        other => Some(other.clone()),
    };
    let mut node = doc.get_dictionary(page).ok();
    // The depth bound guards against a malformed tree whose parents loop.
    for _ in 0..64 {
        let Some(dictionary) = node else { break };
        if let Some(Object::Array(values)) = dictionary.get(b"MediaBox").ok().and_then(resolve) {
            let numbers: Vec<f32> = values
                .iter()
                .filter_map(|value| resolve(value).and_then(|v| v.as_float().ok()))
                .collect();
            if let [x0, y0, x1, y1] = numbers[..] {
                return [x0, y0, x1, y1];
            }
        }
        node = dictionary
            .get(b"Parent")
            .and_then(Object::as_reference)
            .and_then(|parent| doc.get_dictionary(parent))
            .ok();
    }
    [0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT]
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
    fn cyrillic_is_transliterated_into_winansi_letters() {
        assert_eq!(transliterate("Договор поставки № 1"), "Dogovor postavki No. 1");
        assert_eq!(transliterate("ЩИТ Өнім Қазақстан"), "ShchIT Önim Qazaqstan");
        assert_eq!(transliterate("Ação"), "Ação");
        assert!(!winansi(&transliterate("Құжат ӘЁЮЯ")).contains(&b'?'));
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
    fn page_sizes_come_from_the_media_box() {
        let doc = new_document(&layout(&[Line::body("a")])).unwrap();
        assert_eq!(page_sizes(&doc).unwrap(), vec![(PAGE_WIDTH, PAGE_HEIGHT)]);
        assert!(page_sizes(b"nope").is_err());
    }

    #[test]
    fn stamps_draw_text_on_the_page() {
        let original = new_document(&layout(&[Line::heading("Contrato")])).unwrap();
        let box_ = Stamp {
            page: 1,
            left: 50.0,
            top: 700.0,
            width: 200.0,
            height: 40.0,
            lines: vec!["Assinado por".into(), "Ana da Silva".into()],
        };
        let stamped = stamp(&original, std::slice::from_ref(&box_)).unwrap();
        assert_eq!(page_count(&stamped).unwrap(), 1);
        let doc = Document::load_mem(&stamped).unwrap();
        let page = doc.get_pages()[&1];
        let (resources, _) = doc.get_page_resources(page).unwrap();
        let xobjects = resources.and_then(|r| r.get(b"XObject").ok());
        assert!(xobjects.is_some(), "the stamp is registered on the page");
        assert!(text_of(&stamped, 1).contains("Contrato"));
        assert!(stamp(&original, &[Stamp { page: 2, ..box_ }]).is_err());
    }

    #[test]
    fn not_a_pdf_is_an_error() {
        assert!(page_count(b"hello").is_err());
        assert!(append_pages(b"hello", &layout(&[])).is_err());
    }
}
