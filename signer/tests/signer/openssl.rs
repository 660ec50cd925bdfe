//! Cross-checks with the OpenSSL command line: OpenSSL accepts what we sign, and we accept what
//! OpenSSL signs and packs. Each test says so and passes without checking when `openssl` is not
//! installed; CI machines have it.

use std::path::{Path, PathBuf};
use std::process::Command;

use signbridge_signer::{CmsForm, SoftwareSigner, verify};

use super::{CONTENT, both_keys, signer};

/// A scratch directory, or `None` (after saying so) when the `openssl` CLI is absent.
fn openssl_workspace(test: &str) -> Option<tempfile::TempDir> {
    match Command::new("openssl").arg("version").output() {
        Ok(output) if output.status.success() => Some(tempfile::tempdir().unwrap()),
        _ => {
            eprintln!(
                "SKIPPED {test}: the openssl CLI is not installed, nothing was cross-checked"
            );
            None
        }
    }
}

fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Runs openssl and returns its stdout, failing the test with its stderr.
fn openssl(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Vec<u8> {
    let output = Command::new("openssl").args(args.iter().map(|a| a.as_ref())).output().unwrap();
    assert!(
        output.status.success(),
        "openssl {:?} failed: {}",
        args.iter().map(|a| a.as_ref().to_string_lossy().into_owned()).collect::<Vec<_>>(),
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

#[test]
fn openssl_verifies_what_we_sign() {
    let Some(dir) = openssl_workspace("openssl_verifies_what_we_sign") else { return };
    let content = write(dir.path(), "content.zip", CONTENT);
    for (kind, keys) in both_keys() {
        let signer = signer(keys);
        for form in [CmsForm::Attached, CmsForm::Detached] {
            let cms = write(dir.path(), "signature.cms", signer.sign(CONTENT, form).unwrap());
            // -noverify: the certificate is self-signed; the signature itself is still checked.
            // -binary: the content is bytes, not MIME text to canonicalise.
            let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![
                &"cms",
                &"-verify",
                &"-noverify",
                &"-binary",
                &"-inform",
                &"DER",
                &"-in",
                &cms,
            ];
            if form == CmsForm::Detached {
                args.extend([&"-content" as &dyn AsRef<std::ffi::OsStr>, &content]);
            }
            assert_eq!(openssl(&args), CONTENT, "{kind} {form:?}");
        }
    }
}

#[test]
fn we_verify_what_openssl_signs() {
    let Some(dir) = openssl_workspace("we_verify_what_openssl_signs") else { return };
    let content = write(dir.path(), "content.zip", CONTENT);
    for (kind, (certificate, key)) in both_keys() {
        let certificate = write(dir.path(), "cert.pem", certificate);
        let key = write(dir.path(), "key.pem", key);
        let sign = |extra: &[&str]| {
            let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![
                &"cms",
                &"-sign",
                &"-binary",
                &"-md",
                &"sha256",
                &"-outform",
                &"DER",
                &"-in",
                &content,
                &"-signer",
                &certificate,
                &"-inkey",
                &key,
            ];
            args.extend(extra.iter().map(|a| a as &dyn AsRef<std::ffi::OsStr>));
            openssl(&args)
        };
        // OpenSSL adds an SMIMECapabilities attribute and, for RSA, names rsaEncryption.
        let attached = sign(&["-nodetach"]);
        let verified = verify(&attached, None).unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(verified.attached_content.as_deref(), Some(CONTENT));
        // -stream writes BER with indefinite lengths and the content in pieces.
        let streamed = sign(&["-nodetach", "-stream"]);
        let verified = verify(&streamed, None).unwrap_or_else(|e| panic!("{kind} BER: {e}"));
        assert_eq!(verified.attached_content.as_deref(), Some(CONTENT));
        let detached = sign(&[]);
        assert!(verify(&detached, Some(CONTENT)).is_ok(), "{kind} detached");
        assert!(verify(&detached, Some(b"other")).is_err(), "{kind} detached, wrong content");
    }
}

#[test]
fn pkcs12_files_made_by_openssl_load() {
    let Some(dir) = openssl_workspace("pkcs12_files_made_by_openssl_load") else { return };
    for (kind, (certificate_pem, key_pem)) in both_keys() {
        let certificate = write(dir.path(), "cert.pem", certificate_pem);
        let key = write(dir.path(), "key.pem", key_pem);
        let p12 = dir.path().join("signer.p12");
        // OpenSSL 3's default (PBES2 + AES-256, SHA-256 MAC), then the legacy 3DES / RC2-40
        // scheme that older Windows and Java tools (and many national-PKI key files) use.
        for legacy in [false, true] {
            let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![
                &"pkcs12",
                &"-export",
                &"-in",
                &certificate,
                &"-inkey",
                &key,
                &"-passout",
                &"pass:Пароль 1",
                &"-out",
                &p12,
            ];
            if legacy {
                args.push(&"-legacy");
            }
            openssl(&args);
            let signer = SoftwareSigner::from_pkcs12(&std::fs::read(&p12).unwrap(), "Пароль 1")
                .unwrap_or_else(|e| panic!("{kind}, legacy {legacy}: {e}"));
            let expected = super::signer(&(certificate_pem.clone(), key_pem.clone()));
            assert_eq!(signer.certificate_der(), expected.certificate_der());
            assert!(verify(&signer.sign(CONTENT, CmsForm::Attached).unwrap(), None).is_ok());
        }
    }
}
