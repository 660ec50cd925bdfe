//! Envelope checks shared by every provider, run before any request so that a bad envelope
//! costs nothing at the provider and the error names the field to fix. Each document's size
//! and first bytes are read here, once, and handed to the provider with it.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read as _;

use crate::error::{Error, Result};
use crate::model::{DocumentContent, Envelope, Role};
use crate::outgoing::{HEAD_BYTES, OutgoingDocument};
use crate::provider::EnvelopeRules;

/// Checks `env` against the rules every provider shares and `rules`; returns its documents
/// as the provider's `send` takes them.
pub fn envelope(env: &Envelope, rules: &EnvelopeRules) -> Result<Vec<OutgoingDocument>> {
    if env.reference.trim().is_empty() {
        return Err(Error::validation("reference", "must not be empty"));
    }
    if env.title.trim().is_empty() {
        return Err(Error::validation("title", "must not be empty"));
    }
    if let Some(max) = rules.max_title_chars {
        let len = env.title.chars().count();
        if len > max {
            return Err(Error::validation("title", format!("{len} characters, at most {max}")));
        }
    }
    let documents = documents(env, rules)?;
    parties(env, rules)?;
    Ok(documents)
}

fn documents(env: &Envelope, rules: &EnvelopeRules) -> Result<Vec<OutgoingDocument>> {
    if env.documents.is_empty() {
        return Err(Error::validation("documents", "at least one document is required"));
    }
    if let Some(max) = rules.max_documents {
        if env.documents.len() > max {
            let n = env.documents.len();
            return Err(Error::validation("documents", format!("{n} documents, at most {max}")));
        }
    }
    let mut checked = Vec::with_capacity(env.documents.len());
    for (i, doc) in env.documents.iter().enumerate() {
        if doc.name.trim().is_empty() {
            return Err(Error::validation(format!("documents[{i}].name"), "must not be empty"));
        }
        if let Some(allowed) = rules.document_extensions {
            let ext = doc.extension().unwrap_or_default();
            if !allowed.contains(&ext.as_str()) {
                return Err(Error::validation(
                    format!("documents[{i}].name"),
                    format!(
                        "{:?}: file type not accepted, allowed: {}",
                        doc.name,
                        allowed.join(", ")
                    ),
                ));
            }
        }
        let field = || format!("documents[{i}].content");
        let (size, head) = match &doc.content {
            DocumentContent::Bytes(b) => (b.len() as u64, b[..b.len().min(HEAD_BYTES)].to_vec()),
            DocumentContent::Path(path) => {
                let unreadable = |e: std::io::Error| {
                    Error::validation(field(), format!("cannot read {}: {e}", path.display()))
                };
                let meta = std::fs::metadata(path).map_err(unreadable)?;
                if !meta.is_file() {
                    return Err(Error::validation(
                        field(),
                        format!("{} is not a file", path.display()),
                    ));
                }
                let mut head = Vec::with_capacity(HEAD_BYTES);
                File::open(path)
                    .and_then(|f| f.take(HEAD_BYTES as u64).read_to_end(&mut head))
                    .map_err(unreadable)?;
                (meta.len(), head)
            }
        };
        if size == 0 {
            return Err(Error::validation(field(), "the file is empty"));
        }
        if let Some(max) = rules.max_document_bytes {
            if size > max {
                return Err(Error::validation(field(), format!("{size} bytes, at most {max}")));
            }
        }
        checked.push(OutgoingDocument {
            index: i,
            name: doc.name.clone(),
            media_type: doc.media_type().to_string(),
            len: size,
            head,
            content: doc.content.clone(),
        });
    }
    Ok(checked)
}

fn parties(env: &Envelope, rules: &EnvelopeRules) -> Result<()> {
    if !env.parties.iter().any(|p| p.role != Role::Observe) {
        return Err(Error::validation("parties", "at least one party must sign or approve"));
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, party) in env.parties.iter().enumerate() {
        let email = party.email.as_deref().map(str::trim).filter(|e| !e.is_empty());
        match email {
            None if rules.party_email_required => {
                return Err(Error::validation(
                    format!("parties[{i}].email"),
                    "this provider needs an e-mail address for every party",
                ));
            }
            None => {}
            Some(email) => {
                if !plausible_email(email) {
                    return Err(Error::validation(
                        format!("parties[{i}].email"),
                        format!("{email:?} is not an e-mail address"),
                    ));
                }
                if let Some(first) = seen.insert(email.to_lowercase(), i) {
                    return Err(Error::validation(
                        format!("parties[{i}].email"),
                        format!("same e-mail as parties[{first}]"),
                    ));
                }
            }
        }
        if env.sequential && party.order == Some(0) {
            return Err(Error::validation(format!("parties[{i}].order"), "starts at 1"));
        }
    }
    Ok(())
}

/// A deliberately loose check: one `@`, something on both sides, a dot in the domain, no spaces.
fn plausible_email(email: &str) -> bool {
    match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
                && !email.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::model::{Document, Party};
    use crate::provider::Capability;

    fn rules() -> EnvelopeRules {
        EnvelopeRules {
            party_email_required: true,
            document_extensions: Some(&["pdf"]),
            ..Capability::NONE.send.envelope
        }
    }

    fn party(email: &str) -> Party {
        Party::signer("N", email)
    }

    fn envelope_with(documents: Vec<Document>, parties: Vec<Party>) -> Envelope {
        Envelope::new("ref-1", "Contrato", documents, parties)
    }

    fn field_of(env: &Envelope) -> String {
        let err = envelope(env, &rules()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Validation);
        err.field().unwrap().to_string()
    }

    #[test]
    fn a_good_envelope_passes() {
        let env = envelope_with(
            vec![Document::from_bytes("a.pdf", b"%PDF".to_vec())],
            vec![party("a@x.com"), party("b@x.com")],
        );
        let docs = envelope(&env, &rules()).unwrap();
        assert_eq!((docs[0].len, docs[0].head.as_slice()), (4, &b"%PDF"[..]));
    }

    #[test]
    fn each_rule_names_its_field() {
        let pdf = || Document::from_bytes("a.pdf", b"%PDF".to_vec());
        assert_eq!(field_of(&envelope_with(vec![], vec![party("a@x.com")])), "documents");
        assert_eq!(
            field_of(&envelope_with(
                vec![Document::from_bytes("a.pdf", vec![])],
                vec![party("a@x.com")]
            )),
            "documents[0].content"
        );
        assert_eq!(
            field_of(&envelope_with(
                vec![pdf(), Document::from_bytes("b.exe", b"MZ".to_vec())],
                vec![party("a@x.com")]
            )),
            "documents[1].name"
        );
        assert_eq!(
            field_of(&envelope_with(
                vec![Document::from_path("/nonexistent/signbridge/x.pdf")],
                vec![party("a@x.com")]
            )),
            "documents[0].content"
        );
        assert_eq!(
            field_of(&envelope_with(vec![pdf()], vec![party("a@x.com"), party("A@X.com")])),
            "parties[1].email"
        );
        let mut no_mail = party("a@x.com");
        no_mail.email = None;
        assert_eq!(
            field_of(&envelope_with(vec![pdf()], vec![party("a@x.com"), no_mail])),
            "parties[1].email"
        );
        assert_eq!(
            field_of(&envelope_with(vec![pdf()], vec![party("not-an-email")])),
            "parties[0].email"
        );
        let mut observer = party("o@x.com");
        observer.role = Role::Observe;
        assert_eq!(field_of(&envelope_with(vec![pdf()], vec![observer])), "parties");
        let mut env = envelope_with(vec![pdf()], vec![party("a@x.com")]);
        env.reference = " ".into();
        assert_eq!(field_of(&env), "reference");
    }

    #[test]
    fn a_directory_is_not_a_document() {
        let dir = std::env::temp_dir();
        let env = envelope_with(vec![Document::from_path(dir.join("."))], vec![party("a@x.com")]);
        let mut rules = rules();
        rules.document_extensions = None;
        let err = envelope(&env, &rules).unwrap_err();
        assert_eq!(err.field(), Some("documents[0].content"));
    }

    #[test]
    fn email_check_is_loose_but_not_empty() {
        assert!(plausible_email("maria.silva+erp@empresa.com.br"));
        for bad in ["", "a@", "@b.com", "a b@c.com", "a@b", "a@.com", "a@b.com."] {
            assert!(!plausible_email(bad), "{bad}");
        }
    }
}
