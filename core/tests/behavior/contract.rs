//! The capability record is a contract: each flag is proved true of the provider, and what it
//! does not declare is refused before any request (`unsupported`, 101).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;
use signbridge::providers::PROVIDERS;
use signbridge::webhooks::{Receiver, RouteConfig};
use signbridge::{
    Document, DownloadKind, Envelope, ErrorKind, HostSigner, Role, SignRequest, State,
};

use crate::{
    Harness, Outcome, assert_no_request, assert_unsupported, capability, not_applicable, send,
    sign_all, start, undeclared,
};

scenarios!(
    undeclared_download_kinds,
    calls,
    changes,
    webhooks,
    host_signature,
    status_batch,
    bad_envelope,
);

/// Each kind the record leaves out is refused, for a completed document, before any request.
async fn undeclared_download_kinds(h: &'static dyn Harness) -> Outcome {
    let declared = capability(h).download.kinds;
    let undeclared: Vec<DownloadKind> =
        DownloadKind::ALL.into_iter().filter(|k| !declared.contains(k)).collect();
    if undeclared.is_empty() {
        return not_applicable("capability download.kinds declares every kind");
    }
    let env = start(h).await;
    let (envelope, handle) = send(h, &env, "ERP-DL").await;
    sign_all(h, &env, &envelope, &handle).await;
    env.control.clear_requests().await.unwrap();
    for kind in undeclared {
        let err = env.client.download_bytes(&handle, kind).await.unwrap_err();
        assert_unsupported(&err, &format!("undeclared download of {kind}"));
    }
    assert_no_request(&env, "undeclared download kinds").await;
    Outcome::Ok
}

/// Every declared call name reaches the provider and succeeds; a made-up name, and every name
/// another provider declares but this one does not, is refused before any request.
async fn calls(h: &'static dyn Harness) -> Outcome {
    let env = start(h).await;
    let (_, handle) = send(h, &env, "ERP-CALLS").await;
    let declared = capability(h).calls;
    for name in declared {
        let args = h
            .call_args(&env.control, name, &handle)
            .await
            .unwrap_or_else(|| panic!("declared call {name}: the harness has no arguments for it"));
        let before = env.requests().await.len();
        env.client.call(name, args).await.unwrap_or_else(|e| panic!("declared call {name}: {e}"));
        assert!(env.requests().await.len() > before, "declared call {name} reached the provider");
    }
    let mut refused = vec!["no_such_call"];
    for other in PROVIDERS {
        for name in signbridge::providers::capability(other).unwrap().calls {
            if !declared.contains(name) && !refused.contains(name) {
                refused.push(name);
            }
        }
    }
    env.control.clear_requests().await.unwrap();
    for name in refused {
        let err = env.client.call(name, json!({})).await.unwrap_err();
        assert_unsupported(&err, &format!("undeclared call {name}"));
    }
    assert_no_request(&env, "undeclared calls").await;
    if declared.is_empty() { undeclared("calls") } else { Outcome::Ok }
}

/// Declared: the change list answers, with a cursor that can be passed back. Undeclared: 101
/// before any request.
async fn changes(h: &'static dyn Harness) -> Outcome {
    let env = start(h).await;
    if capability(h).changes {
        send(h, &env, "ERP-CHANGES").await;
        let (_, cursor) = env.client.changes(None).await.unwrap();
        let cursor = cursor.expect("a cursor to resume from");
        env.client.changes(Some(&cursor)).await.unwrap();
        return Outcome::Ok;
    }
    let err = env.client.changes(None).await.unwrap_err();
    assert_unsupported(&err, "undeclared changes");
    assert_no_request(&env, "undeclared changes").await;
    undeclared("changes")
}

/// A declared webhook source: the provider's delivery about a sent document, handed to a
/// receiver on the client's journal, reaches the account's event stream.
async fn webhooks(h: &'static dyn Harness) -> Outcome {
    let Some(source) = capability(h).webhooks.source else {
        return not_applicable("capability webhooks declares no source");
    };
    let env = start(h).await;
    let (_, handle) = send(h, &env, "ERP-WEBHOOK").await;
    let (settings, headers, body) = h.webhook(&handle);
    let route = RouteConfig {
        source: source.to_owned(),
        account: env.client.account().to_owned(),
        settings,
    };
    let receiver = Receiver::with_journal(vec![route], env.client.journal().clone()).unwrap();
    let reply = receiver.handle(source, env.client.account(), "POST", &headers, &body).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let prefix = format!("{source}:");
    while let Some(event) = env.client.next_event(Some(Duration::ZERO)).await.unwrap() {
        if event.id.starts_with(&prefix) && event.handle.id == handle.id {
            assert!(env.client.ack_event(&event.id).await.unwrap());
            return Outcome::Ok;
        }
    }
    panic!("no {source} webhook event for {} in the client's stream", handle.id)
}

/// Counts the signatures its inner signer makes.
struct Counting {
    inner: Arc<dyn HostSigner>,
    calls: AtomicUsize,
}

impl HostSigner for Counting {
    fn sign(&self, request: &SignRequest) -> Result<Vec<u8>, String> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.sign(request)
    }
}

/// Declared: without a signer, `send` fails as a signing error (700) before any request; with
/// one, the signer signs. Undeclared: `send` needs no signer.
async fn host_signature(h: &'static dyn Harness) -> Outcome {
    let env = start(h).await;
    if !capability(h).send.host_signature {
        assert!(h.signer().is_none(), "the harness gives a signer the provider does not need");
        assert!(!env.client.has_host_signer());
        send(h, &env, "ERP-NOSIGNER").await;
        return Outcome::OkNote("send.host_signature undeclared: sent with no signer set".into());
    }
    env.client.set_host_signer(None);
    let err = env.client.send(&h.envelope("ERP-HOST")).await.unwrap_err();
    assert_eq!((err.kind(), err.code()), (ErrorKind::Signing, 700), "no signer set: {err}");
    assert_no_request(&env, "send without the host signer").await;

    let inner = h.signer().expect("the harness gives the host signer the provider needs");
    let signer = Arc::new(Counting { inner, calls: AtomicUsize::new(0) });
    env.client.set_host_signer(Some(signer.clone()));
    send(h, &env, "ERP-HOST").await;
    assert!(signer.calls.load(Ordering::SeqCst) > 0, "the host signer was asked to sign");
    Outcome::Ok
}

/// Declared: a batch refresh takes fewer requests than handles. Undeclared: exactly one
/// status request per handle.
async fn status_batch(h: &'static dyn Harness) -> Outcome {
    let env = start(h).await;
    let (_, a) = send(h, &env, "ERP-BATCH-A").await;
    let (_, b) = send(h, &env, "ERP-BATCH-B").await;
    env.control.clear_requests().await.unwrap();
    for result in env.client.refresh_forced(&[a, b]).await {
        assert_eq!(result.unwrap().state, State::Sent);
    }
    let requests = env.requests().await.len();
    if capability(h).status.batch {
        assert!(requests < 2, "a batch of 2 took {requests} requests");
        return Outcome::Ok;
    }
    assert_eq!(requests, 2, "one status request per handle");
    Outcome::OkNote("status.batch undeclared: one request per handle".into())
}

/// Every rule every provider shares, and each rule the record's `send.envelope` declares,
/// fails as a validation error (300) naming the field, before any request.
async fn bad_envelope(h: &'static dyn Harness) -> Outcome {
    let env = start(h).await;
    let cap = capability(h);
    let rules = cap.send.envelope;
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("vazio.pdf");
    std::fs::write(&empty, b"").unwrap();
    let parties = h.envelope("ERP-BAD").parties.len();

    type Spoil = Box<dyn Fn(&mut Envelope)>;
    let mut cases: Vec<(String, Spoil)> = vec![
        ("reference".into(), Box::new(|e| e.reference = " ".into())),
        ("title".into(), Box::new(|e| e.title = "  ".into())),
        ("documents".into(), Box::new(|e| e.documents.clear())),
        (
            "documents[0].content".into(),
            Box::new(move |e| e.documents = vec![Document::from_path(&empty)]),
        ),
        (
            "documents[0].content".into(),
            Box::new(|e| e.documents = vec![Document::from_path("/nonexistent/contrato.pdf")]),
        ),
        ("documents[0].name".into(), Box::new(|e| e.documents[0].name = " ".into())),
        ("parties".into(), Box::new(|e| e.parties.iter_mut().for_each(|p| p.role = Role::Observe))),
        ("parties[0].email".into(), Box::new(|e| e.parties[0].email = Some("nobody".into()))),
        (
            // The first party again, its e-mail in capitals.
            format!("parties[{parties}].email"),
            Box::new(|e| {
                let mut again = e.parties[0].clone();
                again.email = again.email.map(|m| m.to_uppercase());
                e.parties.push(again);
            }),
        ),
        (
            format!("provider_options.{}", h.id()),
            Box::new(move |e| e.provider_options = json!({(h.id()): {"no_such_option": true}})),
        ),
    ];
    if let Some(allowed) = rules.document_extensions {
        assert!(!allowed.contains(&"exe"), "the suite spoils documents as .exe");
        cases.push((
            "documents[0].name".into(),
            Box::new(|e| e.documents = vec![Document::from_bytes("setup.exe", b"MZ".to_vec())]),
        ));
    }
    if let Some(max) = rules.max_documents {
        cases.push((
            "documents".into(),
            Box::new(move |e| {
                let one = e.documents[0].clone();
                e.documents = (0..=max)
                    .map(|i| Document { name: format!("{i}.pdf"), ..one.clone() })
                    .collect();
            }),
        ));
    }
    if let Some(max) = rules.max_document_bytes {
        // Sparse: one byte over the limit on paper, next to nothing on disk.
        let huge = dir.path().join("grande.pdf");
        let file = std::fs::File::create(&huge).unwrap();
        std::io::Write::write_all(&mut &file, b"%PDF-1.7\n").unwrap();
        file.set_len(max + 1).unwrap();
        cases.push((
            "documents[0].content".into(),
            Box::new(move |e| e.documents = vec![Document::from_path(&huge)]),
        ));
    }
    if rules.party_email_required {
        cases.push(("parties[0].email".into(), Box::new(|e| e.parties[0].email = None)));
    }
    if let Some(max) = rules.max_title_chars {
        cases.push(("title".into(), Box::new(move |e| e.title = "T".repeat(max + 1))));
    }
    if cap.send.sequential {
        cases.push((
            "parties[0].order".into(),
            Box::new(|e| {
                e.sequential = true;
                e.parties[0].order = Some(0);
            }),
        ));
    }
    for (field, spoil) in cases {
        let mut envelope = h.envelope("ERP-BAD");
        spoil(&mut envelope);
        let err = env.client.send(&envelope).await.unwrap_err();
        assert_eq!((err.kind(), err.code()), (ErrorKind::Validation, 300), "{field}: {err}");
        assert_eq!(err.field(), Some(field.as_str()), "{err}");
    }
    assert_no_request(&env, "bad envelopes").await;
    Outcome::Ok
}
