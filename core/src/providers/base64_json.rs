//! Files that arrive as a base64 string inside a JSON reply (TAE's v1 download:
//! `{"success": true, "data": {"fileBytes": "JVBERi0…", "fileName": "x.pdf"}}`), decoded while
//! the reply is read: the file goes to the sink chunk by chunk and memory stays bounded
//! however large it is. The rest of the JSON is kept, with that string emptied, for the
//! provider to read as usual.

use base64::Engine as _;
use tokio::io::AsyncWriteExt as _;

use crate::error::{Error, ErrorKind, Result};
use crate::provider::Sink;
use crate::providers::http::{Chunks, sink_error};

/// Base64 text decoded at a time: a multiple of 4, so chunks decode on their own.
const DECODE_CHUNK: usize = 64 * 1024;

/// Keys longer than this are never the field looked for, so they are not kept.
const MAX_KEY: usize = 64;

/// What the scanner is in the middle of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    /// Between tokens.
    Json,
    /// Inside a string that is kept in the rest.
    Text { escaped: bool },
    /// Inside the base64 string, which goes to the sink.
    File { escaped: bool },
    /// Inside a `\uXXXX` escape of the base64 string: how many hex digits were read, and
    /// their value so far.
    Unicode(u8, u32),
}

/// Streams the JSON reply `body`, decoding the first string value of the key `field` into
/// `sink`. Returns the rest of the JSON (at most `max_rest` bytes, the field's value emptied)
/// and the number of bytes written to `sink`; `found` is false when no such field came.
pub async fn stream_field(
    provider: &'static str,
    mut body: Chunks,
    field: &str,
    max_rest: u64,
    sink: Sink<'_>,
) -> Result<Decoded> {
    let mut scan = Scanner::new(field.as_bytes(), max_rest);
    while let Some(chunk) = body.next().await? {
        scan.feed(&chunk).map_err(|e| malformed(provider, e))?;
        scan.drain(sink, false).await.map_err(|e| malformed_or_sink(provider, e))?;
    }
    scan.drain(sink, true).await.map_err(|e| malformed_or_sink(provider, e))?;
    Ok(Decoded { rest: scan.rest, size: scan.written, found: scan.found })
}

/// The outcome of [`stream_field`].
pub struct Decoded {
    pub rest: Vec<u8>,
    pub size: u64,
    pub found: bool,
}

enum Failure {
    Malformed(String),
    Sink(std::io::Error),
}

fn malformed(provider: &'static str, problem: String) -> Error {
    Error::new(
        ErrorKind::Provider,
        format!("download: unexpected response from {provider}: {problem}"),
    )
    .with_context("provider", provider)
}

fn malformed_or_sink(provider: &'static str, failure: Failure) -> Error {
    match failure {
        Failure::Malformed(problem) => malformed(provider, problem),
        Failure::Sink(e) => sink_error(e),
    }
}

struct Scanner<'f> {
    field: &'f [u8],
    max_rest: u64,
    at: At,
    /// The JSON without the file's text.
    rest: Vec<u8>,
    /// The last string closed in `Json`, while it may still turn out to be a key.
    last_string: Option<Vec<u8>>,
    /// The string being read, while short enough to be a key.
    string: Vec<u8>,
    /// A `:` followed the last string: the next value belongs to that key.
    value_of: Option<Vec<u8>>,
    /// Base64 text not yet decoded.
    pending: Vec<u8>,
    found: bool,
    done: bool,
    written: u64,
}

impl<'f> Scanner<'f> {
    fn new(field: &'f [u8], max_rest: u64) -> Scanner<'f> {
        Scanner {
            field,
            max_rest,
            at: At::Json,
            rest: Vec::new(),
            last_string: None,
            string: Vec::new(),
            value_of: None,
            pending: Vec::new(),
            found: false,
            done: false,
            written: 0,
        }
    }

    fn keep(&mut self, byte: u8) -> std::result::Result<(), String> {
        if self.rest.len() as u64 >= self.max_rest {
            return Err(format!("the JSON around the file exceeds {} bytes", self.max_rest));
        }
        self.rest.push(byte);
        Ok(())
    }

    fn feed(&mut self, bytes: &[u8]) -> std::result::Result<(), String> {
        for &b in bytes {
            match self.at {
                At::Json => {
                    match b {
                        b'"' => {
                            let is_file = !self.found
                                && self.value_of.as_deref().is_some_and(|k| k == self.field);
                            self.value_of = None;
                            self.last_string = None;
                            if is_file {
                                self.found = true;
                                self.at = At::File { escaped: false };
                            } else {
                                self.string.clear();
                                self.at = At::Text { escaped: false };
                            }
                        }
                        b':' => self.value_of = self.last_string.take(),
                        b' ' | b'\t' | b'\r' | b'\n' => {}
                        _ => {
                            self.value_of = None;
                            self.last_string = None;
                        }
                    }
                    self.keep(b)?;
                }
                At::Text { escaped } => {
                    self.keep(b)?;
                    if escaped {
                        self.at = At::Text { escaped: false };
                    } else if b == b'\\' {
                        self.at = At::Text { escaped: true };
                    } else if b == b'"' {
                        self.at = At::Json;
                        self.last_string =
                            (self.string.len() <= MAX_KEY).then(|| self.string.clone());
                        continue;
                    }
                    if self.string.len() <= MAX_KEY {
                        self.string.push(b);
                    }
                }
                At::File { escaped: true } => {
                    self.at = At::File { escaped: false };
                    match b {
                        b'/' => self.pending.push(b'/'),
                        b'n' | b'r' | b't' => {}
                        b'u' => self.at = At::Unicode(0, 0),
                        other => return Err(format!("escape \\{} inside base64", other as char)),
                    }
                }
                At::File { escaped: false } => match b {
                    b'\\' => self.at = At::File { escaped: true },
                    b'"' => {
                        self.done = true;
                        self.at = At::Json;
                        self.keep(b'"')?;
                    }
                    b' ' | b'\t' | b'\r' | b'\n' => {}
                    other => self.pending.push(other),
                },
                At::Unicode(read, value) => {
                    let digit = (b as char)
                        .to_digit(16)
                        .ok_or_else(|| "a broken \\u escape inside base64".to_string())?;
                    let value = value * 16 + digit;
                    if read < 3 {
                        self.at = At::Unicode(read + 1, value);
                        continue;
                    }
                    // Base64 is ASCII: `\u002F` is '/', anything wider is not base64.
                    let code = u8::try_from(value)
                        .ok()
                        .filter(u8::is_ascii)
                        .ok_or_else(|| "a \\u escape beyond ASCII inside base64".to_string())?;
                    self.pending.push(code);
                    self.at = At::File { escaped: false };
                }
            }
        }
        Ok(())
    }

    /// Decodes what base64 is complete (all of it once the string closed or `last`).
    async fn drain(&mut self, sink: Sink<'_>, last: bool) -> std::result::Result<(), Failure> {
        let complete = if self.done || last {
            self.pending.len()
        } else {
            self.pending.len() / DECODE_CHUNK * DECODE_CHUNK
        };
        for piece in self.pending[..complete].chunks(DECODE_CHUNK) {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(piece)
                .map_err(|e| Failure::Malformed(format!("the file is not base64: {e}")))?;
            sink.write_all(&bytes).await.map_err(Failure::Sink)?;
            self.written += bytes.len() as u64;
        }
        self.pending.drain(..complete);
        if last && matches!(self.at, At::File { .. } | At::Unicode(..)) {
            return Err(Failure::Malformed("the reply ended inside the file".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn scan(
        json: &[u8],
        cut: usize,
    ) -> std::result::Result<(Vec<u8>, Vec<u8>, bool), String> {
        let mut scan = Scanner::new(b"fileBytes", 4096);
        let mut out = Vec::new();
        for piece in [&json[..cut], &json[cut..]] {
            scan.feed(piece)?;
            scan.drain(&mut out, false).await.map_err(|_| "drain".to_string())?;
        }
        scan.drain(&mut out, true).await.map_err(|e| match e {
            Failure::Malformed(m) => m,
            Failure::Sink(e) => e.to_string(),
        })?;
        Ok((out, scan.rest, scan.found))
    }

    #[tokio::test]
    async fn the_file_is_decoded_and_the_rest_kept_wherever_the_reply_is_cut() {
        let file: Vec<u8> = (0..3000u32).map(|i| (i % 253) as u8).collect();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&file);
        // JSON encoders may escape '/' and wrap long base64 lines.
        let escaped = b64.replace('/', "\\/").replacen('A', "\\u0041", 1);
        let wrapped: String =
            escaped.as_bytes().chunks(76).map(|l| String::from_utf8_lossy(l) + "\\n").collect();
        let json = format!(
            r#"{{"success": true, "data": {{"fileName": "a \"b\".pdf", "fileBytes" : "{wrapped}", "size": 3}}}}"#
        );
        for cut in [0, 1, 20, 40, 60, json.len() / 2, json.len() - 1, json.len()] {
            let (out, rest, found) = scan(json.as_bytes(), cut).await.unwrap();
            assert!(found);
            assert_eq!(out, file, "cut at {cut}");
            let rest: serde_json::Value = serde_json::from_slice(&rest).unwrap();
            assert_eq!(rest["data"]["fileBytes"], "");
            assert_eq!(rest["data"]["fileName"], "a \"b\".pdf");
        }
    }

    #[tokio::test]
    async fn a_value_named_like_the_key_is_not_the_file() {
        let json = br#"{"message": "fileBytes", "data": {"fileBytes": "JVBERi0="}}"#;
        let (out, rest, _) = scan(json, 10).await.unwrap();
        assert_eq!(out, b"%PDF-");
        assert!(std::str::from_utf8(&rest).unwrap().contains(r#""message": "fileBytes""#));
    }

    #[tokio::test]
    async fn errors_and_truncation_are_reported() {
        let (out, rest, found) =
            scan(br#"{"success": false, "message": "erro"}"#, 5).await.unwrap();
        assert!(!found && out.is_empty());
        assert!(serde_json::from_slice::<serde_json::Value>(&rest).is_ok());
        assert!(scan(br#"{"fileBytes": "JVBER"#, 3).await.is_err(), "ended inside the file");
        assert!(scan(br#"{"fileBytes": "%%%%"}"#, 3).await.is_err(), "not base64");
        let huge = format!(r#"{{"x": "{}"}}"#, "y".repeat(5000));
        assert!(scan(huge.as_bytes(), 3).await.unwrap_err().contains("exceeds"));
    }
}
