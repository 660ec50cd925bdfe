//! Chaos delivery: many SINtegre deliveries, a fifth of them duplicates (the same file with a
//! fresh token, as "Enviar Tudo" and resends make them), in shuffled order, while the host
//! takes and acknowledges events as they come; the receiver is dropped twice mid-run — once
//! with an event handed out but not acknowledged — and reopened on the same journal file.
//! Afterwards every distinct notification is in the stream exactly once, none is lost and
//! none is acknowledged twice.
//!
//! 2 000 deliveries by default; `SIGNBRIDGE_CHAOS_DELIVERIES=10000` for the full run.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use serde_json::json;
use signbridge::webhooks::{Headers, Receiver};

fn token(file: &str, nbf: i64) -> String {
    let enc = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let claims = json!({"URL": file, "IsFile": "True", "nbf": nbf, "exp": nbf + 86_640});
    format!("{}.{}.c2ln", enc(json!({"typ": "JWT", "alg": "HS256"})), enc(claims))
}

fn body(product: usize, send: i64) -> Vec<u8> {
    let file = format!("https://sintegre.ons.org.br/sites/7/39/Produtos/{product}/f.zip");
    json!({"nome": format!("Produto {product}"), "processo": "P", "macroProcesso": "M",
        "dataProduto": "07/2025", "periodicidade": "2025-07-01T00:00:00",
        "periodicidadeFinal": "2025-07-31T23:59:59",
        "url": format!("https://apps08.ons.org.br/ONS.Sintegre.Proxy/webhook?token={}",
            token(&file, send))})
    .to_string()
    .into_bytes()
}

fn open(path: &Path) -> Receiver {
    let config = json!({"journal": {"path": path},
        "routes": [{"source": "sintegre", "account": "ons", "settings": {"auth": ["none"],
            "link_secret": "a test's link secret"}}]});
    Receiver::new(serde_json::from_value(config).unwrap()).unwrap()
}

/// Takes and acknowledges every event pending now; each ack must be the first for its id.
async fn drain(rx: &Receiver, acked: &mut Vec<String>) {
    while let Some(event) = rx.next_event(Some(Duration::ZERO)).await.unwrap() {
        assert!(rx.ack_event(&event.id).await.unwrap(), "{} acked twice", event.id);
        acked.push(event.id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_duplicated_shuffled_and_interrupted_reach_the_host_once() {
    let total: usize = std::env::var("SIGNBRIDGE_CHAOS_DELIVERIES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000);
    let distinct = total * 4 / 5;
    let mut rng = fastrand::Rng::with_seed(14);
    // Each product once, plus a fifth more sends of random products, each with its own token.
    let mut deliveries: Vec<(usize, i64)> = (0..distinct).map(|p| (p, 0)).collect();
    deliveries.extend((distinct..total).map(|n| (rng.usize(..distinct), n as i64)));
    rng.shuffle(&mut deliveries);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite3");
    let mut rx = open(&path);
    let mut acked = Vec::new();
    let (mut fresh, mut duplicates) = (0, 0);
    let headers = Headers::new([("Content-Type".into(), "application/json".into())]);
    for (n, (product, send)) in deliveries.iter().enumerate() {
        let reply = rx.handle("sintegre", "ons", "POST", &headers, &body(*product, *send)).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        if reply.body.contains("\"duplicate\":true") {
            duplicates += 1;
        } else {
            fresh += 1;
        }
        if n % 97 == 0 {
            drain(&rx, &mut acked).await;
        }
        if n == total / 3 || n == 2 * total / 3 {
            // The host took an event and stopped before acknowledging it.
            let _taken = rx.next_event(Some(Duration::ZERO)).await.unwrap();
            drop(std::mem::replace(&mut rx, open(&path)));
        }
    }
    drain(&rx, &mut acked).await;
    drop(rx);
    let rx = open(&path);
    assert!(rx.next_event(Some(Duration::ZERO)).await.unwrap().is_none(), "nothing left");

    assert_eq!((fresh, duplicates), (distinct, total - distinct));
    let unique: BTreeSet<&String> = acked.iter().collect();
    assert_eq!(unique.len(), acked.len(), "no event handed out after its ack");
    assert_eq!(acked.len(), distinct, "every distinct notification, once");
    let all = rx.replay_events(signbridge::Since::Position(0), 1_000).await.unwrap();
    assert!(all.iter().all(|e| unique.contains(&e.event.id) && e.acked_at.is_some()));
}
