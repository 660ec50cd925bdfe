//! A document's life: sent, acted on by its parties, completed, rejected, expired, cancelled,
//! downloaded.

use signbridge::{DownloadInfo, DownloadKind, ErrorKind, PartyState, State, Status};

use crate::{
    Harness, Outcome, acting, assert_no_request, assert_unsupported, capability, not_applicable,
    send, sign_all, start, undeclared,
};

scenarios!(complete_and_download, rejection_carries_its_reason, expiry, cancel, sequential);

/// The parties as the status reports them: one per acting party, all in `state`; none where
/// the harness says the provider's status leaves them out (so that a change shows).
#[track_caller]
fn assert_parties(h: &dyn Harness, status: &Status, acting: usize, state: PartyState) {
    let listed = if h.unlisted_parties().is_some() { 0 } else { acting };
    assert_eq!(status.parties.len(), listed, "party statuses: {status:?}");
    assert!(status.parties.iter().all(|p| p.state == state), "parties {state:?}: {status:?}");
}

/// Sent → each party signs → completed → every declared download kind gives a non-empty file
/// of its type.
async fn complete_and_download(h: &'static dyn Harness) -> Outcome {
    let env = start(h).await;
    let (envelope, handle) = send(h, &env, "ERP-DONE").await;
    let acting = acting(&envelope);
    let s = env.client.status(&handle).await.unwrap();
    assert_eq!(s.state, State::Sent, "{s:?}");
    assert_parties(h, &s, acting.len(), PartyState::Pending);

    for (n, &party) in acting.iter().enumerate() {
        h.sign(&env.control, &handle, &envelope, party).await.unwrap();
        let s = env.client.status(&handle).await.unwrap();
        if n + 1 < acting.len() {
            assert_eq!(s.state, State::PartiallySigned, "after parties[{party}] signed: {s:?}");
        }
    }
    let s = env.client.status(&handle).await.unwrap();
    assert_eq!(s.state, State::Completed, "{s:?}");
    assert!(s.state.is_terminal());
    assert_parties(h, &s, acting.len(), PartyState::Signed);

    for &kind in capability(h).download.kinds {
        let (bytes, info) = env
            .client
            .download_bytes(&handle, kind)
            .await
            .unwrap_or_else(|e| panic!("declared download of {kind}: {e}"));
        assert_file_type(h, kind, &bytes, &info);
    }
    match h.unlisted_parties() {
        Some(why) => Outcome::OkNote(format!("parties' states not checked: {why}")),
        None => Outcome::Ok,
    }
}

/// An archive is a ZIP, and so is `signed` where the harness says; every other kind, of the
/// suite's one-PDF envelopes, a PDF.
#[track_caller]
fn assert_file_type(h: &dyn Harness, kind: DownloadKind, bytes: &[u8], info: &DownloadInfo) {
    let zip = kind == DownloadKind::Archive || (kind == DownloadKind::Signed && h.signed_is_zip());
    let (magic, media_type) = match zip {
        true => (&b"PK"[..], "application/zip"),
        false => (&b"%PDF-"[..], "application/pdf"),
    };
    assert!(bytes.len() > magic.len(), "{kind}: {} bytes", bytes.len());
    assert!(bytes.starts_with(magic), "{kind} starts with {:?}", &bytes[..magic.len()]);
    assert_eq!(info.size, bytes.len() as u64, "{kind}: size reported");
    if let Some(declared) = &info.media_type {
        assert_eq!(declared, media_type, "{kind}: media type");
    }
}

async fn rejection_carries_its_reason(h: &'static dyn Harness) -> Outcome {
    let env = start(h).await;
    let (envelope, handle) = send(h, &env, "ERP-REJ").await;
    let party = *acting(&envelope).last().unwrap();
    let reason = "Cláusula 3 está errada / Неверная сумма";
    h.reject(&env.control, &handle, &envelope, party, reason).await.unwrap();
    let s = env.client.status(&handle).await.unwrap();
    assert_eq!((s.state, s.reason.as_deref()), (State::Rejected, Some(reason)), "{s:?}");
    assert!(s.state.is_terminal());
    Outcome::Ok
}

async fn expiry(h: &'static dyn Harness) -> Outcome {
    let env = start(h).await;
    let (_, handle) = send(h, &env, "ERP-EXP").await;
    if let Err(why) = h.expire(&env.control, &handle).await {
        return not_applicable(why);
    }
    let s = env.client.status(&handle).await.unwrap();
    assert_eq!(s.state, State::Expired, "{s:?}");
    assert!(s.state.is_terminal());
    assert!(s.expires_at.is_some_and(|at| at <= chrono::Utc::now()), "expires_at: {s:?}");
    Outcome::Ok
}

/// Declared: a pending document is cancelled, a completed one cannot be. Undeclared: 101
/// before any request.
async fn cancel(h: &'static dyn Harness) -> Outcome {
    let env = start(h).await;
    let (envelope, handle) = send(h, &env, "ERP-CANCEL").await;
    if !capability(h).cancel {
        env.control.clear_requests().await.unwrap();
        let err = env.client.cancel(&handle).await.unwrap_err();
        assert_unsupported(&err, "undeclared cancel");
        assert_no_request(&env, "undeclared cancel").await;
        return undeclared("cancel");
    }
    env.client.cancel(&handle).await.unwrap();
    assert_eq!(env.client.status(&handle).await.unwrap().state, State::Cancelled);

    let (_, done) = send(h, &env, "ERP-CANCEL-DONE").await;
    sign_all(h, &env, &envelope, &done).await;
    let err = env.client.cancel(&done).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "cancel of a completed document: {err}");
    assert_eq!(env.client.status(&done).await.unwrap().state, State::Completed);
    Outcome::Ok
}

/// Declared: parties of a sequential envelope act in their order (one out of turn is refused)
/// and it completes. Undeclared: a sequential envelope is refused (101) before any request.
async fn sequential(h: &'static dyn Harness) -> Outcome {
    let env = start(h).await;
    let mut envelope = h.envelope("ERP-SEQ");
    envelope.sequential = true;
    let acting = acting(&envelope);
    for (n, &party) in acting.iter().enumerate() {
        envelope.parties[party].order = Some(n as u32 + 1);
    }
    if !capability(h).send.sequential {
        let err = env.client.send(&envelope).await.unwrap_err();
        assert_unsupported(&err, "sequential envelope");
        assert_no_request(&env, "sequential envelope").await;
        return undeclared("send.sequential");
    }
    let handle = env.client.send(&envelope).await.unwrap();
    if let [_, .., last] = acting[..] {
        let out_of_turn = h.sign(&env.control, &handle, &envelope, last).await.unwrap_err();
        assert_eq!(out_of_turn.status(), Some(409), "out of turn: {out_of_turn}");
        assert_eq!(env.client.status(&handle).await.unwrap().state, State::Sent);
    }
    sign_all(h, &env, &envelope, &handle).await;
    assert_eq!(env.client.status(&handle).await.unwrap().state, State::Completed);
    if acting.len() > 1 {
        Outcome::Ok
    } else {
        Outcome::OkNote("order not checked: the envelope has one acting party".into())
    }
}
