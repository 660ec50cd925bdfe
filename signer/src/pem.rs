//! PEM files as hosts really have them: several blocks in one file (a certificate chain, or a
//! certificate and its key together), text between blocks (`openssl pkcs12` writes "Bag
//! Attributes" lines), `EC PARAMETERS` before an `EC PRIVATE KEY`, and base64 lines wrapped at
//! a width other than 64.

use der::pem::Decoder;
use zeroize::Zeroizing;

use crate::error::{Result, SignerError};

/// One decoded PEM block. The bytes are wiped on drop because key blocks pass through here.
pub(crate) struct Block {
    pub(crate) label: String,
    pub(crate) der: Zeroizing<Vec<u8>>,
}

const BEGIN: &str = "-----BEGIN ";
const DASHES: &str = "-----";

/// Every block in `input`, in order; anything outside the blocks is ignored.
pub(crate) fn blocks(input: &[u8], what: &str) -> Result<Vec<Block>> {
    let text = std::str::from_utf8(input)
        .map_err(|_| SignerError::new(format!("the {what} is not PEM text (not UTF-8)")))?;
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let block = &rest[start..];
        let label_end = block[BEGIN.len()..].find(DASHES).ok_or_else(|| {
            SignerError::new(format!("the {what} has an unterminated PEM BEGIN line"))
        })?;
        let label = &block[BEGIN.len()..BEGIN.len() + label_end];
        let end_marker = format!("-----END {label}-----");
        let end = block.find(&end_marker).ok_or_else(|| {
            SignerError::new(format!("the {what} has a PEM block \"{label}\" without its END line"))
        })? + end_marker.len();
        found.push(decode(&block[..end], label, what)?);
        rest = &block[end..];
    }
    Ok(found)
}

fn decode(pem: &str, label: &str, what: &str) -> Result<Block> {
    let context = || format!("the {what} has a malformed PEM block \"{label}\"");
    // Legacy OpenSSL encryption puts `Proc-Type`/`DEK-Info` headers inside the block; the
    // decoder refuses them, and saying why is more useful than its generic error.
    if pem.contains("Proc-Type:") {
        return Err(SignerError::new(format!(
            "the {what} is an encrypted legacy OpenSSL PEM key; decrypt it \
             (`openssl pkey -in key.pem -out plain.pem`) or use a PKCS#12 file"
        )));
    }
    let mut decoder =
        Decoder::new_detect_wrap(pem.as_bytes()).map_err(|e| SignerError::caused(&context(), e))?;
    let mut der = Zeroizing::new(Vec::new());
    decoder.decode_to_end(&mut der).map_err(|e| SignerError::caused(&context(), e))?;
    Ok(Block { label: label.to_owned(), der })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_blocks_between_text_and_with_other_line_widths() {
        // "hello" and "world!" in base64, the second wrapped at 4 columns.
        let input = "Bag Attributes\n    localKeyID: 01\n\
                     -----BEGIN ONE-----\naGVsbG8=\n-----END ONE-----\n\
                     subject=CN = x\n\
                     -----BEGIN TWO-----\nd29y\nbGQh\n-----END TWO-----\n";
        let found = blocks(input.as_bytes(), "test input").unwrap();
        let seen: Vec<(&str, &[u8])> =
            found.iter().map(|b| (b.label.as_str(), b.der.as_slice())).collect();
        assert_eq!(seen, [("ONE", &b"hello"[..]), ("TWO", &b"world!"[..])]);
    }

    #[test]
    fn no_blocks_is_an_empty_list_and_broken_blocks_are_errors() {
        assert!(blocks(b"just text", "test input").unwrap().is_empty());
        let unterminated =
            blocks(b"-----BEGIN ONE-----\naGVsbG8=\n", "test input").err().expect("an error");
        assert!(unterminated.message().contains("without its END line"), "{unterminated}");
        let bad_base64 = blocks(b"-----BEGIN ONE-----\n!!!!\n-----END ONE-----\n", "test input")
            .err()
            .expect("an error");
        assert!(bad_base64.message().contains("malformed PEM block \"ONE\""), "{bad_base64}");
        let not_text = blocks(&[0xff, 0xfe], "test input").err().expect("an error");
        assert!(not_text.message().contains("not PEM text"), "{not_text}");
    }

    #[test]
    fn legacy_encrypted_keys_are_named_as_such() {
        let legacy = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\
                      DEK-Info: AES-128-CBC,00\n\naGVsbG8=\n-----END RSA PRIVATE KEY-----\n";
        let err = blocks(legacy.as_bytes(), "private key").err().expect("an error");
        assert!(err.message().contains("encrypted legacy OpenSSL PEM key"), "{err}");
    }
}
