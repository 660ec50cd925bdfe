//! Contract tests of the SINtegre sender simulator (`shared/contracts/sintegre.md` §1–§6)
//! against a [`CaptureReceiver`].

mod common;

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::Env;
use serde_json::{Value, json};
use signbridge_sandbox::{CaptureReceiver, Captured, DeliveryChaos, SandboxConfig, SenderId};

const SETTLE: Duration = Duration::from_secs(20);

impl Env {
    async fn sintegre(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/__sandbox/sintegre{path}", self.sandbox.base_url());
        let mut request = self.http.request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let value: Value = response.json().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {value}");
        value
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.sintegre(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> Value {
        self.sintegre(reqwest::Method::GET, path, None).await
    }

    async fn ipdo(&self) -> u64 {
        let product = self
            .post(
                "/products",
                json!({
                    "nome": "IPDO (Informativo Preliminar Diário da Operação)",
                    "processo": "Operação em Tempo Real",
                    "macroProcesso": "Operação do Sistema",
                }),
            )
            .await;
        product["id"].as_u64().unwrap()
    }

    async fn integration(&self, receiver: &CaptureReceiver, auth: Value, produtos: &[u64]) -> u64 {
        self.integration_with(json!({
            "descricao": "ERP",
            "url": receiver.url("/api/webhook"),
            "auth": auth,
            "produtos": produtos,
        }))
        .await
    }

    async fn integration_with(&self, form: Value) -> u64 {
        self.post("/integrations", form).await["id"].as_u64().unwrap()
    }

    async fn publish(&self, product: u64, file_name: &str, content: &str) -> u64 {
        let body = json!({
            "dataProduto": "20/02/2025",
            "periodicidade": "2025-02-20T00:00:00",
            "periodicidadeFinal": "2025-02-20T23:59:59",
            "file_name": file_name,
            "content": content,
        });
        let answer = self.post(&format!("/products/{product}/publications"), body).await;
        answer["publication"]["id"].as_u64().unwrap()
    }

    async fn settle(&self) {
        self.control.settle(SenderId::Sintegre, SETTLE).await.unwrap();
    }

    async fn slot(&self, integration: u64, product: u64) -> Value {
        let view = self.get(&format!("/integrations/{integration}")).await;
        view["slots"]
            .as_array()
            .unwrap()
            .iter()
            .find(|slot| slot["product_id"] == json!(product))
            .cloned()
            .unwrap()
    }

    async fn set_policy(&self, patch: Value) {
        self.control.set_delivery_policy(SenderId::Sintegre, patch).await.unwrap();
    }
}

async fn env() -> Env {
    Env::new(SandboxConfig::default()).await
}

/// The `url` member's token claims (decoded without verifying, as a receiver can).
fn claims(url: &str) -> Value {
    let token = url.split_once("token=").unwrap().1;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn url_of(captured: &Captured) -> String {
    captured.json()["url"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_publication_reaches_the_receiver_as_the_seven_camel_case_members() {
    let env = env().await;
    let receiver = CaptureReceiver::start().await.unwrap();
    let product = env.ipdo().await;
    let integration = env.integration(&receiver, json!({"type": "none"}), &[product]).await;
    env.publish(product, "IPDO-20-02-2025.pdf", "%PDF-1.4 ipdo").await;
    env.settle().await;

    let received = receiver.received();
    assert_eq!(received.len(), 1, "exactly one POST (§6 test 1)");
    let post = &received[0];
    assert_eq!(post.method, "POST");
    assert_eq!(post.target, "/api/webhook", "the configured URL, no query added (§1.1)");
    assert_eq!(post.header("content-type"), Some("application/json; charset=utf-8"));
    assert_eq!(post.header("authorization"), None, "auth none sends no header (§2)");
    let body = post.json();
    let members: HashSet<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
    let expected = [
        "nome",
        "processo",
        "macroProcesso",
        "dataProduto",
        "periodicidade",
        "periodicidadeFinal",
        "url",
    ];
    assert_eq!(members, expected.into_iter().collect());
    assert_eq!(body["nome"], "IPDO (Informativo Preliminar Diário da Operação)");
    assert_eq!(body["processo"], "Operação em Tempo Real");
    assert_eq!(body["macroProcesso"], "Operação do Sistema");
    assert_eq!(body["dataProduto"], "20/02/2025");
    assert_eq!(body["periodicidade"], "2025-02-20T00:00:00", "naive local time (§1.6)");
    assert_eq!(body["periodicidadeFinal"], "2025-02-20T23:59:59");

    let url = url_of(post);
    assert!(url.contains("/ONS.Sintegre.Proxy/webhook?token="), "{url}");
    let token = url.split_once("token=").unwrap().1;
    let header = URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap();
    assert_eq!(header, br#"{"typ":"JWT","alg":"HS256"}"#);
    let claims = claims(&url);
    assert_eq!(claims["nomeProduto"], body["nome"]);
    assert_eq!(claims["IsFile"], "True");
    assert_eq!(claims["iss"], "http://local.ons.org.br");
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["nbf"].as_i64().unwrap(), 86_640);
    assert!(claims["URL"].as_str().unwrap().ends_with("/IPDO-20-02-2025.pdf"));

    // §4: a plain GET, no credentials.
    let file = env.http.get(&url).send().await.unwrap();
    assert_eq!(file.status(), 200);
    let disposition = file.headers()["content-disposition"].to_str().unwrap().to_owned();
    assert!(disposition.contains("IPDO-20-02-2025.pdf"), "{disposition}");
    assert_eq!(file.bytes().await.unwrap(), "%PDF-1.4 ipdo");

    let slot = env.slot(integration, product).await;
    assert_eq!(slot["last_status"], "delivered");
    let deliveries = env.control.deliveries(SenderId::Sintegre).await.unwrap();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].attempts, 1);
    assert_eq!(deliveries[0].last_answer.as_ref().unwrap().status, Some(200));
}

#[tokio::test]
async fn the_guide_casing_sends_pascal_case_and_uri_with_extra_members() {
    let env = env().await;
    let receiver = CaptureReceiver::start().await.unwrap();
    let product = env.ipdo().await;
    env.integration_with(json!({
        "url": receiver.url("/api/Webhook"),
        "produtos": [product],
        "casing": "guide",
        "extra_members": {"versao": "2"},
    }))
    .await;
    env.publish(product, "a.pdf", "x").await;
    env.settle().await;
    let body = receiver.received()[0].json();
    let members: HashSet<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
    let expected = [
        "Nome",
        "Processo",
        "MacroProcesso",
        "DataProduto",
        "Periodicidade",
        "PeriodicidadeFinal",
        "Uri",
        "versao",
    ];
    assert_eq!(members, expected.into_iter().collect());
}

#[tokio::test]
async fn basic_and_token_auth_are_sent_preemptively_as_configured() {
    let env = env().await;
    let receiver = CaptureReceiver::start().await.unwrap();
    let product = env.ipdo().await;
    // RFC 7617: everything after the first colon is the password.
    let basic = json!({"type": "basic", "user": "ons", "password": "se:gredo"});
    env.integration(&receiver, basic, &[product]).await;
    env.integration(&receiver, json!({"type": "token", "value": "ninguemsabe"}), &[product]).await;
    let bearer = json!({"type": "token", "value": "ninguemsabe", "scheme": "bearer"});
    env.integration(&receiver, bearer, &[product]).await;
    env.publish(product, "a.pdf", "x").await;
    env.settle().await;

    let mut auths: Vec<String> =
        receiver.received().iter().map(|c| c.header("authorization").unwrap().to_owned()).collect();
    auths.sort();
    let basic = format!("Basic {}", STANDARD.encode("ons:se:gredo"));
    assert_eq!(auths, vec![basic, "Bearer ninguemsabe".to_owned(), "ninguemsabe".to_owned()]);
    // The control routes never show a secret.
    let shown =
        serde_json::to_string(&env.control.deliveries(SenderId::Sintegre).await.unwrap()).unwrap();
    assert!(!shown.contains("ninguemsabe") && !shown.contains(&STANDARD.encode("ons:se:gredo")));
    let integrations = env.get("/integrations").await.to_string();
    assert!(!integrations.contains("ninguemsabe") && !integrations.contains("se:gredo"));
}

#[tokio::test]
async fn a_failure_then_reenviar_pendentes_sends_a_fresh_token_for_the_same_file() {
    let env = env().await;
    let receiver = CaptureReceiver::start().await.unwrap();
    let product = env.ipdo().await;
    let integration = env.integration(&receiver, json!({"type": "none"}), &[product]).await;
    receiver.answer_next([503]);
    env.publish(product, "a.pdf", "x").await;
    env.settle().await;
    let slot = env.slot(integration, product).await;
    assert_eq!(slot["last_status"], "failed");
    assert_eq!(slot["reason"], "Http(503)");
    assert_eq!(receiver.count(), 1, "manual-only by default: no automatic retry (§3.3)");

    // Tokens carry whole seconds: the resend must be at least one second later to differ.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let answer =
        env.post(&format!("/integrations/{integration}/reenviar-pendentes"), json!({})).await;
    assert_eq!(answer["sent"], 1);
    env.settle().await;
    let received = receiver.received();
    assert_eq!(received.len(), 2);
    let (first, second) = (url_of(&received[0]), url_of(&received[1]));
    assert_ne!(first, second, "a new token on every send (§1.7)");
    assert_eq!(claims(&first)["URL"], claims(&second)["URL"], "the same file");
    assert_eq!(env.slot(integration, product).await["last_status"], "delivered");

    // Nothing is pending any more: another press sends nothing.
    let answer =
        env.post(&format!("/integrations/{integration}/reenviar-pendentes"), json!({})).await;
    assert_eq!(answer["sent"], 0);
}

#[tokio::test]
async fn versions_coalesce_only_the_latest_is_resent() {
    let env = env().await;
    let receiver = CaptureReceiver::start().await.unwrap();
    let product = env.ipdo().await;
    let integration = env.integration(&receiver, json!({"type": "none"}), &[product]).await;
    receiver.set_status(503);
    env.publish(product, "Nao_Consistido_202509_REV2.zip", "v1").await;
    env.publish(product, "Nao_Consistido_202509_REV3.zip", "v2").await;
    env.settle().await;
    receiver.set_status(200);
    receiver.clear();
    env.post(&format!("/integrations/{integration}/reenviar-pendentes"), json!({})).await;
    env.settle().await;
    let received = receiver.received();
    assert_eq!(received.len(), 1, "v1 is lost (§6 test 7)");
    assert!(claims(&url_of(&received[0]))["URL"].as_str().unwrap().ends_with("_REV3.zip"));
}

#[tokio::test]
async fn enviar_tudo_resends_every_delivered_product_and_enviar_sends_one() {
    let env = env().await;
    let receiver = CaptureReceiver::start().await.unwrap();
    let mut products = Vec::new();
    for name in ["A", "B", "C"] {
        let product = env
            .post("/products", json!({"nome": name, "processo": "P", "macroProcesso": "M"}))
            .await;
        products.push(product["id"].as_u64().unwrap());
    }
    let never = env
        .post("/products", json!({"nome": "D", "processo": "P", "macroProcesso": "M"}))
        .await["id"]
        .as_u64()
        .unwrap();
    let mut listed = products.clone();
    listed.push(never);
    let integration = env.integration(&receiver, json!({"type": "none"}), &listed).await;
    for product in &products {
        env.publish(*product, "f.txt", "x").await;
    }
    env.settle().await;
    assert_eq!(receiver.count(), 3);

    env.set_policy(json!({"concurrency": 3})).await;
    let answer = env.post(&format!("/integrations/{integration}/enviar-tudo"), json!({})).await;
    assert_eq!(answer["sent"], 3, "a never-published product sends nothing");
    env.settle().await;
    assert_eq!(receiver.count(), 6);

    let answer = env.post(&format!("/integrations/{integration}/enviar"), json!({})).await;
    assert_eq!(answer["product"], json!(products[0]));
    env.settle().await;
    assert_eq!(receiver.count(), 7);
}

#[tokio::test]
async fn enviar_with_nothing_published_sends_a_made_up_payload() {
    let env = env().await;
    let receiver = CaptureReceiver::start().await.unwrap();
    let product = env.ipdo().await;
    let integration = env.integration(&receiver, json!({"type": "none"}), &[product]).await;
    env.post(&format!("/integrations/{integration}/enviar"), json!({})).await;
    env.settle().await;
    let body = receiver.received()[0].json();
    assert_eq!(body.as_object().unwrap().len(), 7);
    assert_eq!(env.slot(integration, product).await["last_status"], "never");
    let deliveries = env.control.deliveries(SenderId::Sintegre).await.unwrap();
    assert_eq!(deliveries[0].event, "test");
}

#[tokio::test]
async fn links_expire_with_the_configured_error_and_folders_come_zipped() {
    let env = env().await;
    let receiver = CaptureReceiver::start().await.unwrap();
    let product = env
        .post(
            "/products",
            json!({"nome": "Deck NEWAVE Preliminar", "processo": "Médio Prazo", "macroProcesso": "Programação da Operação"}),
        )
        .await["id"]
        .as_u64()
        .unwrap();
    env.integration(&receiver, json!({"type": "none"}), &[product]).await;
    let body = json!({
        "dataProduto": "11/2025",
        "periodicidade": "2025-11-01T00:00:00",
        "periodicidadeFinal": "2025-11-30T23:59:59",
        "file_name": "deck.txt",
        "content": "newave",
        "is_file": false,
    });
    env.post(&format!("/products/{product}/publications"), body).await;
    env.settle().await;
    let url = url_of(&receiver.received()[0]);
    assert_eq!(claims(&url)["IsFile"], "False");
    assert!(claims(&url)["URL"].as_str().unwrap().starts_with("/sites/"), "a folder (§1.7)");

    env.post("/config", json!({"content_disposition": "rfc2047"})).await;
    let file = env.http.get(&url).send().await.unwrap();
    assert_eq!(file.status(), 200);
    let disposition = file.headers()["content-disposition"].to_str().unwrap().to_owned();
    let encoded = STANDARD.encode("Deck NEWAVE Preliminar.zip");
    assert_eq!(disposition, format!("attachment; filename=\"=?utf-8?B?{encoded}?=\""));
    assert_eq!(&file.bytes().await.unwrap()[..2], b"PK");

    let bad = format!("{}x", url);
    assert_eq!(env.http.get(&bad).send().await.unwrap().status(), 401, "not our signature");

    env.post("/clock/advance", json!({"secs": 86_640})).await;
    let expired = env.http.get(&url).send().await.unwrap();
    assert_eq!(expired.status(), 401, "401 by default after exp (§5.1)");
    env.post("/config", json!({"expired_status": 410, "expired_body": "Gone"})).await;
    let expired = env.http.get(&url).send().await.unwrap();
    assert_eq!(expired.status(), 410);
    assert_eq!(expired.text().await.unwrap(), "Gone");
}

#[tokio::test]
async fn a_timeout_fails_the_slot_though_the_receiver_got_it() {
    let env = env().await;
    let receiver = CaptureReceiver::start().await.unwrap();
    let product = env.ipdo().await;
    let integration = env.integration(&receiver, json!({"type": "none"}), &[product]).await;
    env.set_policy(json!({"timeout_ms": 200})).await;
    receiver.set_delay(Some(Duration::from_secs(2)));
    env.publish(product, "a.pdf", "x").await;
    env.settle().await;
    assert_eq!(receiver.count(), 1, "stored on the receiver's side (§6 test 5)");
    let slot = env.slot(integration, product).await;
    assert_eq!(slot["last_status"], "failed");
    assert_eq!(slot["reason"], "Timeout");
}

#[tokio::test]
async fn automatic_retries_back_off_and_stop_after_success() {
    let env = env().await;
    let receiver = CaptureReceiver::start().await.unwrap();
    let product = env.ipdo().await;
    let integration = env.integration(&receiver, json!({"type": "none"}), &[product]).await;
    env.set_policy(json!({"max_attempts": 5, "backoff_ms": [10, 20]})).await;
    receiver.answer_next([500, 502]);
    env.publish(product, "a.pdf", "x").await;
    env.settle().await;
    assert_eq!(receiver.count(), 3, "two 5xx, then a success ends the retries");
    let delivery = &env.control.deliveries(SenderId::Sintegre).await.unwrap()[0];
    assert_eq!(delivery.attempts, 3);
    assert_eq!(env.slot(integration, product).await["last_status"], "delivered");

    // An unreachable receiver: every attempt fails, then the delivery gives up.
    receiver.clear();
    env.set_policy(json!({"max_attempts": 3, "backoff_ms": [1]})).await;
    receiver.set_status(500);
    env.publish(product, "b.pdf", "y").await;
    env.settle().await;
    assert_eq!(receiver.count(), 3);
    assert_eq!(env.slot(integration, product).await["last_status"], "failed");
}

/// 10,000 deliveries, 20 % duplicated and shuffled: the duplicates and the sending order are
/// the same for the same seed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_duplicates_and_shuffles_reproducibly_by_seed() {
    async fn run(seed: u64) -> (Vec<Option<u64>>, Vec<u64>, u64) {
        let env = env().await;
        let receiver = CaptureReceiver::start().await.unwrap();
        let product = env.ipdo().await;
        env.integration(&receiver, json!({"type": "none"}), &[product]).await;
        let chaos = DeliveryChaos { seed, duplicate_percent: 20.0, shuffle: true };
        env.control.set_delivery_chaos(SenderId::Sintegre, Some(&chaos)).await.unwrap();
        env.set_policy(json!({"hold": true, "concurrency": 1})).await;
        let file = json!({
            "dataProduto": "20/02/2025",
            "periodicidade": "2025-02-20T00:00:00",
            "periodicidadeFinal": "2025-02-20T23:59:59",
            "file_name": "a.txt",
            "content": "x",
        });
        for _ in 0..500 {
            env.post(&format!("/products/{product}/publications"), file.clone()).await;
        }
        env.control.run_deliveries(SenderId::Sintegre).await.unwrap();
        env.settle().await;
        let deliveries = env.control.deliveries(SenderId::Sintegre).await.unwrap();
        let duplicates = deliveries.iter().map(|d| d.duplicate_of).collect();
        let mut by_order: BTreeMap<u64, u64> = BTreeMap::new();
        for delivery in &deliveries {
            by_order.insert(delivery.sent_order.unwrap(), delivery.id);
        }
        (duplicates, by_order.into_values().collect(), receiver.count())
    }
    let (duplicates, order, received) = run(42).await;
    let copies = duplicates.iter().flatten().count();
    assert!((60..=140).contains(&copies), "about 20 % of 500 duplicated: {copies}");
    assert_eq!(received, 500 + copies as u64);
    assert!(order.windows(2).any(|w| w[0] > w[1]), "shuffled");
    assert_eq!(run(42).await, (duplicates.clone(), order.clone(), received), "same seed");
    assert_ne!(run(43).await.0, duplicates, "another seed");
}

/// The 10,000-delivery run the receiver's chaos test needs: one call publishes them, 20 % are
/// duplicated, the order is shuffled, and every distinct file arrives at least once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_deliveries_with_a_fifth_duplicated_and_shuffled() {
    let env = env().await;
    let receiver = CaptureReceiver::start().await.unwrap();
    let product = env.ipdo().await;
    env.integration(&receiver, json!({"type": "none"}), &[product]).await;
    let chaos = DeliveryChaos { seed: 7, duplicate_percent: 20.0, shuffle: true };
    env.control.set_delivery_chaos(SenderId::Sintegre, Some(&chaos)).await.unwrap();
    env.set_policy(json!({"hold": true, "concurrency": 16})).await;
    let body = json!({
        "dataProduto": "20/02/2025",
        "periodicidade": "2025-02-20T00:00:00",
        "periodicidadeFinal": "2025-02-20T23:59:59",
        "file_name": "psat.txt",
        "content": "x",
        "count": 10_000,
    });
    let answer = env.post(&format!("/products/{product}/publications"), body).await;
    assert_eq!(answer["publications"].as_array().unwrap().len(), 10_000);
    env.control.run_deliveries(SenderId::Sintegre).await.unwrap();
    env.control.settle(SenderId::Sintegre, Duration::from_secs(300)).await.unwrap();

    let received = receiver.received();
    let files: Vec<String> =
        received.iter().map(|c| claims(&url_of(c))["URL"].as_str().unwrap().to_owned()).collect();
    let distinct: HashSet<&String> = files.iter().collect();
    assert_eq!(distinct.len(), 10_000, "every publication arrived");
    let copies = received.len() - 10_000;
    assert!((1_800..=2_200).contains(&copies), "about 20 % duplicated: {copies}");
    let versions: Vec<u32> = files
        .iter()
        .map(|f| f.rsplit_once("psat-").unwrap().1.trim_end_matches(".txt").parse().unwrap())
        .collect();
    let inversions = versions.windows(2).filter(|w| w[0] > w[1]).count();
    assert!(inversions > 3_000, "shuffled, not in publication order: {inversions} inversions");
    let summary = env.control.settle(SenderId::Sintegre, SETTLE).await.unwrap();
    assert_eq!(summary.delivered, received.len() as u64);
}

#[tokio::test]
async fn proxy_faults_truncated_bodies_and_missing_names() {
    let env = env().await;
    let receiver = CaptureReceiver::start().await.unwrap();
    let product = env.ipdo().await;
    env.integration(&receiver, json!({"type": "none"}), &[product]).await;
    env.publish(product, "psat_24022025.txt", &"0123456789".repeat(1000)).await;
    env.settle().await;
    let url = url_of(&receiver.received()[0]);

    // 5xx on the first two tries (§6 test 10), from the sandbox's fault routes.
    let fault =
        signbridge_sandbox::Fault::status("/sintegre/ONS.Sintegre.Proxy/webhook", 503).times(2);
    env.control.add_fault(fault).await.unwrap();
    assert_eq!(env.http.get(&url).send().await.unwrap().status(), 503);
    assert_eq!(env.http.get(&url).send().await.unwrap().status(), 503);
    assert_eq!(env.http.get(&url).send().await.unwrap().status(), 200);

    env.post("/config", json!({"truncate_downloads": 1, "content_disposition": "none"})).await;
    let cut = env.http.get(&url).send().await.unwrap();
    assert_eq!(cut.headers()["content-length"], "10000");
    assert!(cut.headers().get("content-disposition").is_none());
    assert!(cut.bytes().await.is_err(), "the body ends before its length");
    let whole = env.http.get(&url).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(whole.len(), 10_000, "only the next download was cut");
}

#[tokio::test]
async fn editar_changes_what_later_attempts_send_and_a_closed_port_fails_the_slot() {
    let env = env().await;
    let receiver = CaptureReceiver::start().await.unwrap();
    let product = env.ipdo().await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/api/webhook", listener.local_addr().unwrap())
    };
    let integration = env.integration_with(json!({"url": closed, "produtos": [product]})).await;
    env.publish(product, "a.pdf", "x").await;
    env.settle().await;
    let slot = env.slot(integration, product).await;
    assert_eq!(slot["last_status"], "failed");
    assert!(slot["reason"].as_str().unwrap().starts_with("Connect("), "{slot}");

    let form = json!({
        "url": receiver.url("/novo"),
        "auth": {"type": "basic", "user": "ons", "password": "nova"},
        "produtos": [product],
    });
    let edited = env
        .sintegre(reqwest::Method::PUT, &format!("/integrations/{integration}"), Some(form))
        .await;
    assert_eq!(edited["slots"][0]["last_status"], "failed", "a kept product keeps its slot");
    env.post(&format!("/integrations/{integration}/reenviar-pendentes"), json!({})).await;
    env.settle().await;
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].target, "/novo");
    assert_eq!(
        received[0].header("authorization"),
        Some(format!("Basic {}", STANDARD.encode("ons:nova"))).as_deref()
    );
}

/// The control client's SINtegre calls drive the same portal as the routes.
#[tokio::test]
async fn the_control_client_drives_the_portal() {
    let env = env().await;
    let receiver = CaptureReceiver::start().await.unwrap();
    let control = &env.control;
    let product = control
        .sintegre_add_product(json!({"nome": "PDP", "processo": "P", "macroProcesso": "M"}))
        .await
        .unwrap()["id"]
        .as_u64()
        .unwrap();
    let integration = control
        .sintegre_add_integration(json!({"url": receiver.url("/h"), "produtos": [product]}))
        .await
        .unwrap()["id"]
        .as_u64()
        .unwrap();
    let publication = json!({
        "dataProduto": "07/11/2025",
        "periodicidade": "2025-11-07T00:00:00",
        "periodicidadeFinal": "2025-11-07T23:59:59",
        "file_name": "pdp.xls",
        "content": "x",
    });
    control.sintegre_publish(product, publication).await.unwrap();
    control.settle(SenderId::Sintegre, SETTLE).await.unwrap();
    assert_eq!(control.sintegre_press(integration, "enviar-tudo").await.unwrap()["sent"], 1);
    control.settle(SenderId::Sintegre, SETTLE).await.unwrap();
    assert_eq!(receiver.count(), 2);
    let view = control.sintegre_integration(integration).await.unwrap();
    assert_eq!(view["slots"][0]["last_status"], "delivered");
    assert_eq!(control.sintegre_press(integration, "nope").await.unwrap_err().status(), Some(404));
    let config = control.sintegre_set_config(json!({"expired_status": 403})).await.unwrap();
    assert_eq!(config["expired_status"], 403);
    let config = control.sintegre_advance_clock(60).await.unwrap();
    assert_eq!(config["clock_offset_secs"], 60);
    let first = control.deliveries(SenderId::Sintegre).await.unwrap()[0].id;
    let fired = control.fire_delivery(SenderId::Sintegre, first).await.unwrap();
    assert_eq!(fired.attempts, 2);
    assert_eq!(receiver.count(), 3);
}
