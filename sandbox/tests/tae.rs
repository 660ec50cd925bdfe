//! Contract tests: the TAE simulator answers as `shared/contracts/tae.md` documents (§9
//! examples), driven with plain reqwest.

mod common;

use std::time::{Duration, Instant};

use base64::Engine;
use chrono::{NaiveDateTime, Utc};
use common::Env;
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use signbridge_sandbox::fixtures::{pdf_page_count, sample_pdf};
use signbridge_sandbox::tae::{DEFAULT_PASSWORD, DEFAULT_USER};
use signbridge_sandbox::{
    Chaos, ChaosKind, ChaosReport, Fault, Reset, SandboxConfig, spawn_background,
};

impl Env {
    async fn start() -> Env {
        Env::new(SandboxConfig::default()).await
    }

    fn auth(&self, path: &str) -> String {
        format!("{}/tae/identityintegration{path}", self.sandbox.base_url())
    }

    fn api(&self, path: &str) -> String {
        format!("{}/tae{path}", self.sandbox.base_url())
    }

    async fn token(&self) -> String {
        let answer: Value = self
            .http
            .post(self.auth("/v3/auth/login"))
            .json(&json!({"userName": DEFAULT_USER, "password": DEFAULT_PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["data"]["token"].as_str().unwrap().to_owned()
    }

    async fn upload_with(&self, token: &str, form: Form) -> reqwest::Response {
        self.http
            .post(self.api("/documents/v1/envelopes/upload"))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    async fn upload(&self, token: &str, pdf: &[u8]) -> i64 {
        let form = Form::new()
            .text("NomeEnvelope", "Contrato 000123")
            .part("Envelope", pdf_part(pdf, "contrato.pdf"));
        let response = self.upload_with(token, form).await;
        assert_eq!(response.status(), StatusCode::OK);
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["success"], json!(true));
        answer["data"].as_i64().expect("upload data is the integer id")
    }

    async fn publish(&self, token: &str, path: &str, body: &Value) -> reqwest::Response {
        self.http.post(self.api(path)).bearer_auth(token).json(body).send().await.unwrap()
    }

    async fn status(&self, token: &str, id: i64) -> Value {
        let response = self
            .http
            .get(self.api(&format!("/documents/v2/publicacoes/{id}")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["success"], json!(true));
        answer["data"].clone()
    }

    /// Upload + publish of the §9.3 example; returns (token, id).
    async fn published(&self, ordered: bool) -> (String, i64) {
        let token = self.token().await;
        let id = self.upload(&token, &sample_pdf("Contrato 000123", 2)).await;
        let response = self
            .publish(&token, "/signintegration/v2/Publicacoes", &publish_body(id, ordered))
            .await;
        assert_eq!(response.status(), StatusCode::OK, "{:?}", response.text().await);
        (token, id)
    }

    async fn download_v1(&self, token: &str, id: i64, kind: u8) -> reqwest::Response {
        self.http
            .get(self.api(&format!("/documents/v1/publicacoes/{id}/download?tipoDownload={kind}")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }
}

fn pdf_part(bytes: &[u8], name: &str) -> Part {
    Part::bytes(bytes.to_vec()).file_name(name.to_owned()).mime_str("application/pdf").unwrap()
}

/// The §9.3 example.
fn publish_body(id: i64, ordered: bool) -> Value {
    json!({
        "idDocumento": id,
        "destinatarios": [
            {"email": "cliente@exemplo.com", "acao": 0, "workflow": 1, "papelAssinante": "como contratante",
             "nomeCompleto": "Maria da Silva", "tipoAutenticacao": 2, "tipoIdentificacao": 1,
             "identificacao": "11111111111", "notificaEnvio": true, "tipoEnvioDocumento": 1,
             "tipoEnvioCodigo": 1, "telefone": null},
            {"email": "gestor@empresa.com.br", "acao": 1, "workflow": 2, "papelAssinante": "como validador",
             "tipoAutenticacao": 1}
        ],
        "observadores": [{"email": "juridico@empresa.com.br"}],
        "utilizaWorkflow": ordered,
        "responsavelAssinaDocumento": false,
        "enderecoIp": "",
        "dataExpiracao": "2099-07-01T23:59:59.000Z",
        "publicacaoOpcoes": {"idDocumento": id, "solicitaAssinaturaManuscrita": false,
            "assuntoMensagem": "Contrato 000123", "corpoMensagem": "Prezado(a), segue documento para assinatura.",
            "permiteRejeitarDocumento": true, "intervaloLembrete": 0}
    })
}

fn assert_tae_date(text: &Value) {
    let text = text.as_str().unwrap_or_else(|| panic!("not a date string: {text}"));
    assert!(!text.ends_with('Z') && !text.contains('+'), "{text} has an offset");
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .unwrap_or_else(|e| panic!("{text}: {e}"));
}

fn emails(list: &Value) -> Vec<&str> {
    list.as_array().unwrap().iter().map(|item| item["email"].as_str().unwrap()).collect()
}

// ---- login ----------------------------------------------------------------------------------

#[tokio::test]
async fn login_v3_returns_token_and_expiration_date_without_offset() {
    let env = Env::start().await;
    let response = env
        .http
        .post(env.auth("/v3/auth/login"))
        .json(&json!({"userName": DEFAULT_USER, "password": DEFAULT_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["succeeded"], json!(true));
    assert!(answer["description"].is_string());
    let data = answer["data"].as_object().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data["token"].as_str().unwrap().split('.').count(), 5);
    let expiration = data["expirationDate"].as_str().unwrap();
    assert_eq!(expiration.len(), "2025-06-01T23:59:59.123".len());
    assert_tae_date(&data["expirationDate"]);
    let expires = NaiveDateTime::parse_from_str(expiration, "%Y-%m-%dT%H:%M:%S%.f").unwrap();
    let hours = (expires - Utc::now().naive_utc()).num_minutes() as f64 / 60.0;
    assert!((11.9..=12.0).contains(&hours), "token lives {hours} h");
}

#[tokio::test]
async fn login_v2_and_api_shapes_accept_any_property_casing() {
    let env = Env::start().await;
    let v2: Value = env
        .http
        .post(env.auth("/v2/auth/login"))
        .json(&json!({"UserName": DEFAULT_USER, "Password": DEFAULT_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v2["succeeded"], json!(true));
    let data = v2["data"].as_object().unwrap();
    assert!(data["token"].is_string() && data["refreshToken"].is_string());
    assert!(!data.contains_key("expirationDate"));

    let api: Value = env
        .http
        .post(env.auth("/api/auth/login"))
        .json(&json!({"username": DEFAULT_USER, "PASSWORD": DEFAULT_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(api["data"].as_object().unwrap().keys().collect::<Vec<_>>(), ["token"]);

    let profile: Value = env
        .http
        .get(env.auth("/api/users/profile"))
        .bearer_auth(api["data"]["token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(profile["succeeded"], json!(true));
    assert_eq!(profile["data"]["email"], json!(DEFAULT_USER));
}

#[tokio::test]
async fn login_with_bad_credentials_is_400_with_identity_wrapper() {
    let env = Env::start().await;
    let response = env
        .http
        .post(env.auth("/v3/auth/login"))
        .json(&json!({"userName": DEFAULT_USER, "password": "wrong"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(
        answer,
        json!({"succeeded": false, "description": "Usuário ou senha inválidos.", "data": null})
    );
}

#[tokio::test]
async fn disabled_login_routes_answer_404_so_clients_fall_back() {
    let env = Env::start().await;
    let config = env.control.tae_set_config(json!({"login_routes": ["api"]})).await.unwrap();
    assert_eq!(config["login_routes"], json!(["api"]));
    let credentials = json!({"userName": DEFAULT_USER, "password": DEFAULT_PASSWORD});
    for (path, expected) in [
        ("/v3/auth/login", StatusCode::NOT_FOUND),
        ("/v2/auth/login", StatusCode::NOT_FOUND),
        ("/api/auth/login", StatusCode::OK),
    ] {
        let response = env.http.post(env.auth(path)).json(&credentials).send().await.unwrap();
        assert_eq!(response.status(), expected, "{path}");
    }
    let bad = env.control.tae_set_config(json!({"cancel_status": 3})).await.unwrap_err();
    assert_eq!(bad.status(), Some(400));
}

#[tokio::test]
async fn missing_unknown_or_expired_tokens_get_401() {
    let env = Env::start().await;
    let token = env.token().await;
    let id = env.upload(&token, &sample_pdf("x", 1)).await;
    let status_url = env.api(&format!("/documents/v2/publicacoes/{id}"));

    let missing = env.http.get(&status_url).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    let unknown = env.http.get(&status_url).bearer_auth("a.b.c.d.e").send().await.unwrap();
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let publish = env
        .http
        .post(env.api("/signintegration/v2/Publicacoes"))
        .json(&publish_body(id, false))
        .send()
        .await
        .unwrap();
    assert_eq!(publish.status(), StatusCode::UNAUTHORIZED);

    assert_eq!(
        env.http.get(&status_url).bearer_auth(&token).send().await.unwrap().status(),
        StatusCode::OK
    );
    env.control.tae_expire_tokens().await.unwrap();
    let expired = env.http.get(&status_url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(expired.status(), StatusCode::UNAUTHORIZED);

    // A fresh login works again; with a zero lifetime its token is dead on arrival.
    let fresh = env.token().await;
    assert_eq!(
        env.http.get(&status_url).bearer_auth(&fresh).send().await.unwrap().status(),
        StatusCode::OK
    );
    env.control.tae_set_config(json!({"token_ttl_secs": 0})).await.unwrap();
    let short_lived = env.token().await;
    let response = env.http.get(&status_url).bearer_auth(&short_lived).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

// ---- upload ---------------------------------------------------------------------------------

#[tokio::test]
async fn upload_creates_a_draft_with_an_integer_id() {
    let env = Env::start().await;
    let token = env.token().await;
    let pdf = sample_pdf("Contrato 000123", 1);
    let first = env.upload(&token, &pdf).await;
    let second = env.upload(&token, &pdf).await;
    assert!(first >= 10_000_000, "8-digit ids like the real service: {first}");
    assert_eq!(second, first + 1);

    let status = env.status(&token, first).await;
    assert_eq!(status["status"], json!(5));
    assert_eq!(status["nomeArquivo"], json!("contrato.pdf"));
    let state = env.control.tae_document(first).await.unwrap();
    assert_eq!(state["envelope_name"], json!("Contrato 000123"));
    assert_eq!(state["files"][0]["size"], json!(pdf.len()));
    assert_eq!(state["files"][0]["content_type"], json!("application/pdf"));
}

#[tokio::test]
async fn upload_keeps_every_envelope_part() {
    let env = Env::start().await;
    let token = env.token().await;
    let form = Form::new()
        .text("nomeenvelope", "Dois arquivos")
        .part("Envelope", pdf_part(&sample_pdf("a", 1), "a.pdf"))
        .part("Envelope", pdf_part(&sample_pdf("b", 2), "b.pdf"));
    let answer: Value = env.upload_with(&token, form).await.json().await.unwrap();
    let id = answer["data"].as_i64().unwrap();
    let state = env.control.tae_document(id).await.unwrap();
    assert_eq!(file_names(&state), ["a.pdf", "b.pdf"]);
}

fn file_names(state: &Value) -> Vec<&str> {
    state["files"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn upload_without_name_or_file_is_400_with_documents_wrapper() {
    let env = Env::start().await;
    let token = env.token().await;
    let cases = [
        Form::new().part("Envelope", pdf_part(b"%PDF-1.7", "c.pdf")),
        Form::new().text("NomeEnvelope", "Contrato"),
        Form::new().text("NomeEnvelope", "Contrato").part("Envelope", pdf_part(b"", "vazio.pdf")),
    ];
    for form in cases {
        let response = env.upload_with(&token, form).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["success"], json!(false));
        assert_eq!(answer["code"], json!(400));
        assert!(!answer["errors"][0].as_str().unwrap().is_empty());
        assert_eq!(answer["message"], answer["errors"][0]);
    }
    assert!(env.control.tae_documents().await.unwrap().is_empty());
}

// ---- publish --------------------------------------------------------------------------------

#[tokio::test]
async fn publish_moves_draft_to_pending_and_keeps_the_body() {
    let env = Env::start().await;
    let token = env.token().await;
    let id = env.upload(&token, &sample_pdf("x", 1)).await;
    let body = publish_body(id, true);
    let response = env.publish(&token, "/signintegration/v2/Publicacoes", &body).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap(), json!({"success": true, "data": null}));

    assert_eq!(env.status(&token, id).await["status"], json!(0));
    let state = env.control.tae_document(id).await.unwrap();
    assert_eq!(state["publication"]["received"], body);
    let recipients = &state["publication"]["recipients"];
    assert_eq!(recipients[0]["nomeCompleto"], json!("Maria da Silva"));
    assert_eq!(recipients[0]["tipoEnvioCodigo"], json!(1));
    assert_eq!(recipients[1]["state"], json!("pending"));

    let again = env.publish(&token, "/documents/v1/publicacoes", &body).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn publish_accepts_mixed_casing_and_the_documents_route() {
    let env = Env::start().await;
    let token = env.token().await;
    let id = env.upload(&token, &sample_pdf("x", 1)).await;
    let body = json!({
        "IdDocumento": id,
        "Destinatarios": [{"EMAIL": "a@x.com", "Acao": 0, "WorkFlow": 1}],
        "utilizaworkflow": false,
        "PUBLICACAOOPCOES": {"DataExpiracao": "2099-04-30", "PermiteRejeitarDocumento": true}
    });
    let response = env.publish(&token, "/signintegration/v2/publicacoes", &body).await;
    assert_eq!(response.status(), StatusCode::OK, "{:?}", response.text().await);
    let status = env.status(&token, id).await;
    assert_eq!(status["status"], json!(0));
    assert_eq!(emails(&status["pendentes"]), ["a@x.com"]);
    assert_eq!(status["publicacaoOpcoes"]["dataExpiracao"], json!("2099-04-30T23:59:59.999"));

    let second = env.upload(&token, &sample_pdf("y", 1)).await;
    let body = json!({"idDocumento": second, "destinatarios": [{"email": "a@x.com", "acao": 0}]});
    let response = env.publish(&token, "/DOCUMENTS/v1/Publicacoes", &body).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn publish_rejects_duplicate_recipients_naming_them() {
    let env = Env::start().await;
    let token = env.token().await;
    let id = env.upload(&token, &sample_pdf("x", 1)).await;
    let body = json!({"idDocumento": id, "destinatarios": [
        {"email": "cliente@exemplo.com", "acao": 0},
        {"email": "Cliente@Exemplo.com", "acao": 1}]});
    let response = env.publish(&token, "/signintegration/v2/Publicacoes", &body).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["success"], json!(false));
    let error = answer["errors"][0].as_str().unwrap();
    assert!(error.contains("destinat") && error.contains("repetido"), "{error}");
    assert!(error.to_lowercase().contains("cliente@exemplo.com"));
    assert_eq!(env.status(&token, id).await["status"], json!(5));
}

#[tokio::test]
async fn publish_validates_required_fields() {
    let env = Env::start().await;
    let token = env.token().await;
    let id = env.upload(&token, &sample_pdf("x", 1)).await;
    let cases = [
        json!({"idDocumento": id, "destinatarios": [{"acao": 0}]}),
        json!({"idDocumento": id, "destinatarios": [{"email": "a@x.com"}]}),
        json!({"idDocumento": id, "destinatarios": [{"email": "a@x.com", "acao": 0, "tipoAutenticacao": 2}]}),
        json!({"idDocumento": id, "destinatarios": []}),
        json!({"idDocumento": id, "destinatarios": [{"email": "a@x.com", "acao": 0}], "dataExpiracao": "amanhã"}),
    ];
    for body in cases {
        let response = env.publish(&token, "/documents/v1/publicacoes", &body).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
    }
    let unknown = json!({"idDocumento": 1, "destinatarios": [{"email": "a@x.com", "acao": 0}]});
    let response = env.publish(&token, "/documents/v1/publicacoes", &unknown).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let broken = env
        .http
        .post(env.api("/documents/v1/publicacoes"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(broken.status(), StatusCode::BAD_REQUEST);
    assert_eq!(env.status(&token, id).await["status"], json!(5));
}

// ---- status ---------------------------------------------------------------------------------

#[tokio::test]
async fn status_has_the_contract_shape_through_the_lifecycle() {
    let env = Env::start().await;
    let (token, id) = env.published(false).await;
    let data = env.status(&token, id).await;
    for key in [
        "id",
        "nomeArquivo",
        "status",
        "recCreatedOn",
        "recModifiedOn",
        "motivoRejeicao",
        "publicacaoOpcoes",
        "assinantes",
        "pendentes",
        "observadores",
    ] {
        assert!(data.get(key).is_some(), "missing {key} in {data}");
    }
    assert_eq!(data["id"], json!(id));
    assert_eq!(data["motivoRejeicao"], Value::Null);
    assert_tae_date(&data["recCreatedOn"]);
    assert_tae_date(&data["recModifiedOn"]);
    let options = &data["publicacaoOpcoes"];
    assert_eq!(options["dataExpiracao"], json!("2099-07-01T23:59:59"));
    assert_eq!(options["assuntoMensagem"], json!("Contrato 000123"));
    assert_eq!(options["permiteRejeitarDocumento"], json!(true));
    assert_eq!(options["intervaloLembrete"], json!(0));
    assert_eq!(data["assinantes"], json!([]));
    assert_eq!(emails(&data["pendentes"]), ["cliente@exemplo.com", "gestor@empresa.com.br"]);
    assert_eq!(emails(&data["observadores"]), ["juridico@empresa.com.br"]);

    env.control.tae_sign(id, "cliente@exemplo.com").await.unwrap();
    let data = env.status(&token, id).await;
    assert_eq!(data["status"], json!(1));
    let signer = &data["assinantes"][0];
    assert_eq!(signer["email"], json!("cliente@exemplo.com"));
    assert_eq!(signer["nome"], json!("Maria da Silva"));
    assert_eq!(signer["cpfCnpj"], json!("11111111111"));
    assert_eq!(signer["acao"], json!(0));
    assert_eq!(signer["statusTipoAssinatura"], json!(0));
    assert_tae_date(&signer["data"]);
    let pending = &data["pendentes"][0];
    assert_eq!(pending["email"], json!("gestor@empresa.com.br"));
    assert_eq!(pending["acao"], json!(1));
    assert_eq!(pending["pendente"], json!(true));
    assert!(pending["participanteSemCadastro"]["tipoIdentificacao"].is_i64());
    assert!(pending["participanteSemCadastro"]["identificacao"].is_string());

    env.control.tae_sign(id, "GESTOR@empresa.com.br").await.unwrap();
    let data = env.status(&token, id).await;
    assert_eq!(data["status"], json!(2));
    assert_eq!(data["pendentes"], json!([]));
    assert_eq!(data["assinantes"].as_array().unwrap().len(), 2);

    let v1: Value = env
        .http
        .get(env.api(&format!("/documents/v1/publicacoes/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v1["data"]["status"], json!(2));
}

#[tokio::test]
async fn unknown_document_is_404_with_the_exact_message() {
    let env = Env::start().await;
    let token = env.token().await;
    for path in ["/documents/v2/publicacoes/999", "/documents/v1/publicacoes/abc"] {
        let response = env.http.get(env.api(path)).bearer_auth(&token).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["success"], json!(false));
        assert_eq!(answer["message"], json!("Documento não encontrado."));
        assert_eq!(answer["errors"], json!(["Documento não encontrado."]));
    }
}

// ---- lifecycle driven by the control routes ---------------------------------------------------

#[tokio::test]
async fn workflow_order_is_enforced() {
    let env = Env::start().await;
    let (token, id) = env.published(true).await;
    let refused = env.control.tae_sign(id, "gestor@empresa.com.br").await.unwrap_err();
    assert_eq!(refused.status(), Some(409));
    assert!(refused.message().contains("cliente@exemplo.com"), "{refused}");
    let refused = env.control.tae_reject(id, "gestor@empresa.com.br", "não").await.unwrap_err();
    assert_eq!(refused.status(), Some(409));

    env.control.tae_sign(id, "cliente@exemplo.com").await.unwrap();
    let state = env.control.tae_sign(id, "gestor@empresa.com.br").await.unwrap();
    assert_eq!(state["status"], json!(2));
    assert_eq!(env.status(&token, id).await["status"], json!(2));
    let unknown = env.control.tae_sign(id, "ninguem@x.com").await.unwrap_err();
    assert_eq!(unknown.status(), Some(409), "finalized documents accept nothing");
}

#[tokio::test]
async fn reject_sets_status_4_and_reason_keeping_the_recipient_pending() {
    let env = Env::start().await;
    let (token, id) = env.published(false).await;
    env.control.tae_reject(id, "gestor@empresa.com.br", "Valor divergente").await.unwrap();
    let data = env.status(&token, id).await;
    assert_eq!(data["status"], json!(4));
    assert_eq!(data["motivoRejeicao"], json!("Valor divergente"));
    assert!(emails(&data["pendentes"]).contains(&"gestor@empresa.com.br"));
    assert!(env.control.tae_sign(id, "cliente@exemplo.com").await.is_err());
}

#[tokio::test]
async fn reject_needs_permission() {
    let env = Env::start().await;
    let token = env.token().await;
    let id = env.upload(&token, &sample_pdf("x", 1)).await;
    let body = json!({"idDocumento": id, "destinatarios": [{"email": "a@x.com", "acao": 0}]});
    env.publish(&token, "/documents/v1/publicacoes", &body).await;
    let refused = env.control.tae_reject(id, "a@x.com", "não").await.unwrap_err();
    assert_eq!(refused.status(), Some(409));
    assert_eq!(env.status(&token, id).await["status"], json!(0));
}

#[tokio::test]
async fn expiry_moves_the_date_into_the_past_and_stops_signing() {
    let env = Env::start().await;
    let (token, id) = env.published(false).await;
    env.control.tae_sign(id, "cliente@exemplo.com").await.unwrap();
    env.control.tae_expire(id).await.unwrap();
    let data = env.status(&token, id).await;
    assert_eq!(data["status"], json!(1));
    let expiry = NaiveDateTime::parse_from_str(
        data["publicacaoOpcoes"]["dataExpiracao"].as_str().unwrap(),
        "%Y-%m-%dT%H:%M:%S%.f",
    )
    .unwrap();
    assert!(expiry < Utc::now().naive_utc());
    let refused = env.control.tae_sign(id, "gestor@empresa.com.br").await.unwrap_err();
    assert_eq!(refused.status(), Some(409));
}

#[tokio::test]
async fn cancel_returns_to_draft_and_a_second_cancel_is_400() {
    let env = Env::start().await;
    let (token, id) = env.published(false).await;
    let cancel_url = env.api(&format!("/documents/v1/publicacoes/{id}/cancelar"));
    let first = env.http.post(&cancel_url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(first.json::<Value>().await.unwrap()["success"], json!(true));
    let data = env.status(&token, id).await;
    assert_eq!(data["status"], json!(5));
    assert_eq!(data["pendentes"].as_array().unwrap().len(), 2, "recipients stay listed");
    let second = env.http.post(&cancel_url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(second.status(), StatusCode::BAD_REQUEST);

    env.control.tae_set_config(json!({"cancel_status": 7})).await.unwrap();
    let (token, id) = env.published(false).await;
    let cancel_url = env.api(&format!("/documents/v1/publicacoes/{id}/cancelar"));
    env.http.post(&cancel_url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(env.status(&token, id).await["status"], json!(7));
}

#[tokio::test]
async fn cancel_of_a_finalized_document_is_400() {
    let env = Env::start().await;
    let (token, id) = env.published(false).await;
    env.control.tae_sign(id, "cliente@exemplo.com").await.unwrap();
    env.control.tae_sign(id, "gestor@empresa.com.br").await.unwrap();
    let response = env
        .http
        .post(env.api(&format!("/documents/v1/publicacoes/{id}/cancelar")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(env.status(&token, id).await["status"], json!(2));
}

// ---- search and recipients ------------------------------------------------------------------

#[tokio::test]
async fn search_pages_company_documents() {
    let env = Env::start().await;
    let (token, first) = env.published(false).await;
    let second = env.upload(&token, &sample_pdf("y", 1)).await;
    let third = env.upload(&token, &sample_pdf("z", 1)).await;
    let page = |n: u32| {
        let env = &env;
        let token = token.clone();
        async move {
            let answer: Value = env
                .http
                .post(env.api(&format!(
                    "/documents/v1/publicacoes/pesquisas?PaginaAtual={n}&TamanhoPagina=2"
                )))
                .bearer_auth(token)
                .json(&json!({"pesquisarEmTodaEmpresa": true}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            answer["data"].clone()
        }
    };
    let one = page(1).await;
    assert_eq!(one["total"], json!(3));
    let rows = one["registro"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["id"], json!(first));
    assert_eq!(rows[0]["status"], json!(0));
    assert_eq!(rows[0]["nomeArquivo"], json!("contrato.pdf"));
    assert_eq!(rows[0]["usuario"]["email"], json!(DEFAULT_USER));
    assert_eq!(rows[1]["id"], json!(second));
    let two = page(2).await;
    assert_eq!(two["registro"][0]["id"], json!(third));

    let v2: Value = env
        .http
        .post(env.api("/documents/v2/publicacoes/pesquisas?paginaatual=1&tamanhopagina=0"))
        .bearer_auth(&token)
        .json(&json!({"pesquisarEmTodaEmpresa": true, "email": "someone.else@x.com"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v2["data"], json!({"total": 0, "registro": []}));
}

/// Reconciliation after a lost reply (§4.4): the company search, paged while
/// `total > TamanhoPagina * PaginaAtual`, finds the draft by the file name the client sent.
#[tokio::test]
async fn the_company_search_finds_an_upload_whose_reply_was_lost() {
    let env = Env::start().await;
    let token = env.token().await;
    env.upload(&token, &sample_pdf("a", 1)).await;
    env.control.add_fault(Fault::reset(UPLOAD, Reset::After).on_method("POST")).await.unwrap();
    let form = Form::new()
        .text("NomeEnvelope", "Pedido 4711")
        .part("Envelope", pdf_part(&sample_pdf("Pedido 4711", 1), "pedido-4711.pdf"));
    let lost = env.http.post(env.api(UPLOAD_ROUTE)).bearer_auth(&token).multipart(form);
    assert!(lost.send().await.is_err(), "the client never hears of the upload");
    env.upload(&token, &sample_pdf("b", 1)).await;

    let mut rows = Vec::new();
    for page in 1.. {
        let answer: Value = env
            .http
            .post(env.api(&format!(
                "/documents/v1/publicacoes/pesquisas?PaginaAtual={page}&TamanhoPagina=1"
            )))
            .bearer_auth(&token)
            .json(&json!({"pesquisarEmTodaEmpresa": true}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let data = &answer["data"];
        rows.extend(data["registro"].as_array().unwrap().iter().cloned());
        if data["total"].as_u64().unwrap() <= page {
            break;
        }
    }
    assert_eq!(rows.len(), 3);
    let found: Vec<&Value> =
        rows.iter().filter(|r| r["nomeArquivo"] == "pedido-4711.pdf").collect();
    assert_eq!(found.len(), 1, "{rows:?}");
    assert_eq!(found[0]["status"], json!(5), "a draft");
    assert_eq!(found[0]["usuario"]["email"], json!(DEFAULT_USER));
    assert_tae_date(&found[0]["dataCriacao"]);
    let kept = env.control.tae_document(found[0]["id"].as_i64().unwrap()).await.unwrap();
    assert_eq!(kept["envelope_name"], json!("Pedido 4711"));
}

#[tokio::test]
async fn recipients_route_lists_access_keys() {
    let env = Env::start().await;
    let (token, id) = env.published(false).await;
    let answer: Value = env
        .http
        .post(env.api(&format!("/documents/v1/publicacoes/{id}/destinatarios")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let keys = answer["data"].as_array().unwrap();
    assert_eq!(emails(&answer["data"]), ["cliente@exemplo.com", "gestor@empresa.com.br"]);
    let code_by_email = keys[0]["publicKey"].as_str().unwrap();
    assert_eq!(code_by_email.len(), 36);
    assert_ne!(code_by_email, "00000000-0000-0000-0000-000000000000");
    assert_eq!(keys[1]["publicKey"], json!("00000000-0000-0000-0000-000000000000"));

    let by_recipient: Value = env
        .http
        .post(env.api(
            "/documents/v1/publicacoes/pesquisas/destinatario?PaginaAtual=1&TamanhoPagina=1000",
        ))
        .bearer_auth(&token)
        .json(&json!({"destinatarioEmail": "cliente@exemplo.com", "status": [0]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(by_recipient["data"]["total"], json!(1));
    assert_eq!(
        by_recipient["data"]["registro"][0]["destinatario"]["publicKey"],
        json!(code_by_email)
    );
}

// ---- downloads ------------------------------------------------------------------------------

async fn finalized(env: &Env) -> (String, i64) {
    let (token, id) = env.published(false).await;
    env.control.tae_sign(id, "cliente@exemplo.com").await.unwrap();
    env.control.tae_sign(id, "gestor@empresa.com.br").await.unwrap();
    (token, id)
}

fn decode_file(answer: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(answer["data"]["fileBytes"].as_str().unwrap())
        .unwrap()
}

#[tokio::test]
async fn download_v1_original_and_signed() {
    let env = Env::start().await;
    let (token, id) = env.published(false).await;
    let original = sample_pdf("Contrato 000123", 2);

    let response = env.download_v1(&token, id, 1).await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["success"], json!(true));
    assert_eq!(answer["data"]["fileName"], json!("contrato.pdf"));
    assert_eq!(decode_file(&answer), original);

    let early = env.download_v1(&token, id, 2).await;
    assert_eq!(early.status(), StatusCode::BAD_REQUEST);
    let early: Value = early.json().await.unwrap();
    assert!(early["errors"][0].as_str().unwrap().contains("finalizado"));

    env.control.tae_sign(id, "cliente@exemplo.com").await.unwrap();
    env.control.tae_sign(id, "gestor@empresa.com.br").await.unwrap();
    for kind in [2, 3] {
        let answer: Value = env.download_v1(&token, id, kind).await.json().await.unwrap();
        let signed = decode_file(&answer);
        assert!(signed.starts_with(b"%PDF-"));
        let pages = pdf_page_count(&signed).unwrap();
        assert!(pages > 2, "tipoDownload={kind}: {pages} pages");
        let last = u32::try_from(pages).unwrap();
        let text = lopdf::Document::load_mem(&signed).unwrap().extract_text(&[last]).unwrap();
        assert!(text.contains("Protocolo de assinaturas"), "{text}");
        assert!(text.contains("Maria da Silva") && text.contains("gestor@empresa.com.br"));
        assert_eq!(kind == 3, text.contains("certificado digital"));
    }

    let invalid = env.download_v1(&token, id, 9).await;
    assert_eq!(invalid.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn download_v1_zip_holds_original_and_signed() {
    let env = Env::start().await;
    let (token, id) = finalized(&env).await;
    let answer: Value = env.download_v1(&token, id, 4).await.json().await.unwrap();
    assert_eq!(answer["data"]["fileName"], json!("contrato.zip"));
    let bytes = decode_file(&answer);
    let archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let names: Vec<String> = archive.file_names().map(|n| n.unwrap().into_owned()).collect();
    assert_eq!(names, ["contrato.pdf", "contrato_assinado.pdf"]);
}

#[tokio::test]
async fn download_v2_gives_a_link_in_each_configured_shape() {
    let env = Env::start().await;
    let (token, id) = finalized(&env).await;
    for (shape, key) in [
        ("string", None),
        ("fileUrl", Some("fileUrl")),
        ("url", Some("url")),
        ("signedURL", Some("signedURL")),
    ] {
        env.control.tae_set_config(json!({"download_url_shape": shape})).await.unwrap();
        let answer: Value = env
            .http
            .get(env.api(&format!("/documents/v2/publicacoes/{id}/download?tipoDownload=2")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(answer["success"], json!(true));
        let url = match key {
            None => answer["data"].as_str(),
            Some(key) => answer["data"][key].as_str(),
        }
        .unwrap_or_else(|| panic!("{shape}: {answer}"))
        .to_owned();
        assert!(url.starts_with(&env.sandbox.base_url()), "{url}");

        // Served without auth, as an attachment.
        let file = env.http.get(&url).send().await.unwrap();
        assert_eq!(file.status(), StatusCode::OK);
        assert_eq!(file.headers()["content-type"], "application/pdf");
        let disposition = file.headers()["content-disposition"].to_str().unwrap().to_owned();
        assert!(
            disposition.starts_with("attachment;")
                && disposition.contains("filename=\"contrato.pdf\"")
        );
        let bytes = file.bytes().await.unwrap();
        assert!(pdf_page_count(&bytes).unwrap() > 2);
    }
    let missing =
        env.http.get(format!("{}/tae-storage/nope", env.sandbox.base_url())).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

// ---- faults ---------------------------------------------------------------------------------

#[tokio::test]
async fn status_fault_answers_without_running_the_handler() {
    let env = Env::start().await;
    let token = env.token().await;
    let id = env.upload(&token, &sample_pdf("x", 1)).await;
    let fault = Fault::status("/tae/signintegration/v2/Publicacoes", 503).retry_after("2").times(2);
    let fault_id = env.control.add_fault(fault).await.unwrap();
    for _ in 0..2 {
        let response =
            env.publish(&token, "/signintegration/v2/publicacoes", &publish_body(id, false)).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()["retry-after"], "2");
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["success"], json!(false));
        assert_eq!(answer["code"], json!(503));
        assert_eq!(env.status(&token, id).await["status"], json!(5), "handler must not run");
    }
    let response =
        env.publish(&token, "/signintegration/v2/Publicacoes", &publish_body(id, false)).await;
    assert_eq!(response.status(), StatusCode::OK, "the fault fired only twice");

    let log = env.control.requests().await.unwrap();
    let faulted: Vec<_> = log.iter().filter(|r| r.fault == Some(fault_id)).collect();
    assert_eq!(faulted.len(), 2);
    assert!(faulted.iter().all(|r| r.status == Some(503)));
}

#[tokio::test]
async fn status_fault_on_identity_uses_its_wrapper_and_custom_bodies_win() {
    let env = Env::start().await;
    env.control
        .add_fault(Fault::status("/tae/identityintegration/v3/auth/login", 500))
        .await
        .unwrap();
    let response = env
        .http
        .post(env.auth("/v3/auth/login"))
        .json(&json!({"userName": DEFAULT_USER, "password": DEFAULT_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["succeeded"], json!(false));

    env.control
        .add_fault(
            Fault::status("/tae/documents/v2/publicacoes/*", 429)
                .on_method("GET")
                .body(json!({"custom": true})),
        )
        .await
        .unwrap();
    let token = env.token().await;
    let response = env
        .http
        .get(env.api("/documents/v2/publicacoes/123"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.json::<Value>().await.unwrap(), json!({"custom": true}));
}

#[tokio::test]
async fn delay_fault_slows_the_request_then_handles_it() {
    let env = Env::start().await;
    let token = env.token().await;
    let id = env.upload(&token, &sample_pdf("x", 1)).await;
    env.control.add_fault(Fault::delay("/tae/documents/v2/publicacoes/*", 300)).await.unwrap();
    let started = Instant::now();
    let data = env.status(&token, id).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(data["status"], json!(5));
}

#[tokio::test]
async fn reset_before_drops_the_connection_without_effect() {
    let env = Env::start().await;
    let token = env.token().await;
    let id = env.upload(&token, &sample_pdf("x", 1)).await;
    env.control
        .add_fault(Fault::reset("/tae/signintegration/v2/Publicacoes", Reset::Before))
        .await
        .unwrap();
    let result = env
        .http
        .post(env.api("/signintegration/v2/Publicacoes"))
        .bearer_auth(&token)
        .json(&publish_body(id, false))
        .send()
        .await;
    let error = result.expect_err("the client must see a connection error");
    assert!(error.status().is_none(), "{error}");
    assert_eq!(env.status(&token, id).await["status"], json!(5));
}

#[tokio::test]
async fn reset_after_commits_the_write_but_the_client_gets_no_answer() {
    let env = Env::start().await;
    let token = env.token().await;
    let id = env.upload(&token, &sample_pdf("x", 1)).await;
    env.control
        .add_fault(
            Fault::reset("/tae/signintegration/v2/publicacoes", Reset::After).on_method("POST"),
        )
        .await
        .unwrap();
    let result = env
        .http
        .post(env.api("/signintegration/v2/Publicacoes"))
        .bearer_auth(&token)
        .json(&publish_body(id, false))
        .send()
        .await;
    let error = result.expect_err("the client must see a connection error");
    assert!(error.status().is_none(), "{error}");
    assert_eq!(env.status(&token, id).await["status"], json!(0), "the publish took effect");
    let state = env.control.tae_document(id).await.unwrap();
    assert_eq!(state["publication"]["received"], publish_body(id, false));

    let log = env.control.requests().await.unwrap();
    let publish = log.iter().find(|r| r.path == "/tae/signintegration/v2/Publicacoes").unwrap();
    assert_eq!(publish.status, Some(200), "the handler answered before the drop");
    assert!(publish.fault.is_some());
}

#[tokio::test]
async fn bad_faults_are_refused_and_faults_can_be_cleared() {
    let env = Env::start().await;
    let refused = env.control.add_fault(Fault::status("/x", 503).times(0)).await.unwrap_err();
    assert_eq!(refused.status(), Some(400));
    env.control.add_fault(Fault::status("/tae/*", 500).times(5)).await.unwrap();
    assert_eq!(env.control.faults().await.unwrap()[0]["remaining"], json!(5));
    env.control.clear_faults().await.unwrap();
    assert!(env.control.faults().await.unwrap().is_empty());
    let response = env
        .http
        .post(env.auth("/api/auth/login"))
        .json(&json!({"userName": DEFAULT_USER, "password": DEFAULT_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

// ---- faults after the commit ------------------------------------------------------------------

const PUBLISH: &str = "/tae/signintegration/v2/Publicacoes";

/// Uploads a draft, arms `fault` on its publish and publishes it; returns the raw answer (or
/// the transport error) and the document id.
async fn publish_under(
    env: &Env,
    token: &str,
    fault: Value,
) -> (Result<reqwest::Response, reqwest::Error>, i64) {
    let id = env.upload(token, &sample_pdf("x", 1)).await;
    // Raw JSON, as a test in another language arms it.
    let armed = env
        .http
        .post(format!("{}/__sandbox/faults", env.sandbox.base_url()))
        .json(&fault)
        .send()
        .await
        .unwrap();
    assert_eq!(armed.status(), StatusCode::OK, "{:?}", armed.text().await);
    let answer = env
        .http
        .post(env.api("/signintegration/v2/Publicacoes"))
        .bearer_auth(token)
        .json(&publish_body(id, false))
        .send()
        .await;
    (answer, id)
}

/// The publish of document `id` took effect: the sandbox holds it as received.
async fn assert_published(env: &Env, id: i64) {
    let state = env.control.tae_document(id).await.unwrap();
    assert_eq!(state["status"], json!(0), "{state}");
    assert_eq!(state["publication"]["received"], publish_body(id, false));
}

#[tokio::test]
async fn a_status_after_the_commit_replaces_the_reply_of_a_write_that_took_effect() {
    let env = Env::start().await;
    let token = env.token().await;
    let fault = json!({"path": PUBLISH, "method": "POST", "when": "after", "status": 502});
    let (answer, id) = publish_under(&env, &token, fault).await;
    let answer = answer.unwrap();
    assert_eq!(answer.status(), StatusCode::BAD_GATEWAY);
    let body: Value = answer.json().await.unwrap();
    assert_eq!((body["success"].clone(), body["code"].clone()), (json!(false), json!(502)));
    assert_published(&env, id).await;
    let log = env.control.requests().await.unwrap();
    let publish = log.iter().find(|r| r.path == PUBLISH).unwrap();
    assert_eq!(publish.status, Some(502), "the log shows what the client got");
    assert!(publish.fault.is_some());

    let fault = json!({"path": PUBLISH, "when": "after", "status": 429, "retry_after": "1"});
    let (answer, id) = publish_under(&env, &token, fault).await;
    let answer = answer.unwrap();
    assert_eq!(answer.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(answer.headers()["retry-after"], "1");
    assert_published(&env, id).await;
}

#[tokio::test]
async fn a_body_after_the_commit_can_be_an_html_page_or_unreadable_json() {
    let env = Env::start().await;
    let token = env.token().await;
    let html = Fault::html(PUBLISH, 504).after_commit();
    let (answer, id) = publish_under(&env, &token, serde_json::to_value(html).unwrap()).await;
    let answer = answer.unwrap();
    assert_eq!(answer.status(), StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(answer.headers()["content-type"], "text/html; charset=utf-8");
    assert!(answer.text().await.unwrap().contains("<title>504 Gateway Timeout</title>"));
    assert_published(&env, id).await;

    let garbage = Fault::garbage(PUBLISH).after_commit();
    let (answer, id) = publish_under(&env, &token, serde_json::to_value(garbage).unwrap()).await;
    let answer = answer.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(answer.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    assert!(answer.json::<Value>().await.is_err(), "the client cannot read the answer");
    assert_published(&env, id).await;

    let text = json!({"path": PUBLISH, "when": "after", "status": 200, "text": "OK"});
    let (answer, id) = publish_under(&env, &token, text).await;
    let answer = answer.unwrap();
    assert_eq!(answer.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(answer.text().await.unwrap(), "OK");
    assert_published(&env, id).await;
}

#[tokio::test]
async fn a_delay_after_the_commit_lets_the_client_time_out_on_a_write_that_took_effect() {
    let env = Env::start().await;
    let token = env.token().await;
    let id = env.upload(&token, &sample_pdf("x", 1)).await;
    // The delay outlasts the test: the client gives up first, whatever the machine's speed.
    env.control.add_fault(Fault::delay(PUBLISH, 600_000).after_commit()).await.unwrap();
    let result = env
        .http
        .post(env.api("/signintegration/v2/Publicacoes"))
        .bearer_auth(&token)
        .json(&publish_body(id, false))
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    assert!(result.expect_err("the client times out").is_timeout());
    assert_published(&env, id).await;
    let log = env.control.requests().await.unwrap();
    let publish = log.iter().find(|r| r.path == PUBLISH).unwrap();
    assert_eq!(publish.status, Some(200), "the handler answered; the reply was held back");
}

#[tokio::test]
async fn a_reset_after_the_commit_can_follow_a_delay() {
    let env = Env::start().await;
    let token = env.token().await;
    let fault = json!({"path": PUBLISH, "when": "after", "delay_ms": 50, "reset": "after"});
    let (answer, id) = publish_under(&env, &token, fault).await;
    assert!(answer.expect_err("no answer").status().is_none());
    assert_published(&env, id).await;
}

#[tokio::test]
async fn a_fault_scoped_to_a_method_leaves_the_others_alone() {
    let env = Env::start().await;
    let token = env.token().await;
    let upload = "/tae/documents/v1/envelopes/upload";
    env.control.add_fault(Fault::status(upload, 503).on_method("post")).await.unwrap();
    let get = env
        .http
        .get(env.api("/documents/v1/envelopes/upload"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), StatusCode::METHOD_NOT_ALLOWED, "GET is not faulted");
    let form = Form::new().text("NomeEnvelope", "x").part("Envelope", pdf_part(b"%PDF", "x.pdf"));
    assert_eq!(env.upload_with(&token, form).await.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(env.control.tae_documents().await.unwrap().is_empty(), "answered before the handler");
    let log = env.control.requests().await.unwrap();
    let faulted: Vec<&str> =
        log.iter().filter(|r| r.fault.is_some()).map(|r| r.method.as_str()).collect();
    assert_eq!(faulted, ["POST"]);
}

#[tokio::test]
async fn contradictory_faults_are_refused_with_the_reason() {
    let env = Env::start().await;
    let arm = |fault: Value| {
        let env = &env;
        async move {
            let answer = env
                .http
                .post(format!("{}/__sandbox/faults", env.sandbox.base_url()))
                .json(&fault)
                .send()
                .await
                .unwrap();
            (answer.status(), answer.json::<Value>().await.unwrap()["error"].clone())
        }
    };
    let (status, error) = arm(json!({"path": PUBLISH, "when": "after", "reset": "before"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error.as_str().unwrap().contains("cannot come after"), "{error}");
    let (status, error) = arm(json!({"path": PUBLISH, "delay_ms": 5, "text": "<html>"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error.as_str().unwrap().contains("together with \"status\""), "{error}");
    let (status, _) = arm(json!({"path": PUBLISH, "when": "during", "status": 500})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(env.control.faults().await.unwrap().is_empty());
}

// ---- chaos ------------------------------------------------------------------------------------

const UPLOAD: &str = "/tae/documents/v1/envelopes/upload";
/// The same route, under the API base.
const UPLOAD_ROUTE: &str = "/documents/v1/envelopes/upload";

fn chaos_kinds() -> Vec<ChaosKind> {
    ["status_before:503", "status_after:502", "reset_after", "garbage_after", "html_after:504"]
        .iter()
        .map(|kind| kind.parse().unwrap())
        .collect()
}

/// Runs `uploads` uploads under `chaos` on a fresh sandbox, with control calls in between;
/// returns what the client saw of each upload, the chaos report and the environment.
async fn uploads_under(chaos: &Chaos, uploads: usize) -> (Vec<String>, ChaosReport, Env) {
    let env = Env::start().await;
    let token = env.token().await;
    assert_eq!(env.control.set_chaos(chaos).await.unwrap().considered, 0);
    let mut seen = Vec::new();
    for n in 0..uploads {
        let form = Form::new()
            .text("NomeEnvelope", format!("Pedido {n}"))
            .part("Envelope", pdf_part(b"%PDF-1.7", &format!("pedido-{n}.pdf")));
        let sent = env.http.post(env.api(UPLOAD_ROUTE)).bearer_auth(&token).multipart(form);
        seen.push(match sent.send().await {
            Ok(answer) => {
                let status = answer.status();
                let text = answer.text().await.unwrap();
                let readable = serde_json::from_str::<Value>(&text).is_ok();
                format!("{status} readable: {readable}")
            }
            Err(e) => format!("no answer: {}", e.status().is_none()),
        });
        // Control routes are neither counted nor faulted, even under chaos on every POST.
        env.control.tae_documents().await.unwrap();
        env.control.clear_faults().await.unwrap();
    }
    let report = env.control.chaos().await.unwrap();
    (seen, report, env)
}

#[tokio::test]
async fn chaos_fires_the_same_way_for_the_same_seed_and_keeps_the_writes_after_the_commit() {
    let chaos = Chaos::new(2024, 0.5, chaos_kinds()).paths([UPLOAD]);
    let (first, report, env) = uploads_under(&chaos, 40).await;
    let (again, replayed, _) = uploads_under(&chaos, 40).await;
    assert_eq!(first, again);
    assert_eq!(report, replayed);
    let (other, _, _) = uploads_under(&Chaos { seed: 2025, ..chaos.clone() }, 40).await;
    assert_ne!(first, other, "another seed fires differently");

    assert_eq!(report.considered, 40, "only the uploads: not the login, not control routes");
    let fired: u64 = report.fired.values().sum();
    assert!((1..40).contains(&fired), "{:?}", report.fired);
    let log = env.control.requests().await.unwrap();
    let uploads: Vec<_> = log.iter().filter(|r| r.path == UPLOAD).collect();
    assert_eq!(uploads.len(), 40, "control routes are not logged");
    for (kind, count) in &report.fired {
        let labelled = uploads.iter().filter(|r| r.chaos.as_deref() == Some(kind)).count();
        assert_eq!(labelled as u64, *count, "{kind}");
    }
    // Every upload committed except those answered before the handler.
    let before = report.fired.get("status_before:503").copied().unwrap_or(0);
    let drafts = env.control.tae_documents().await.unwrap();
    assert_eq!(drafts.len() as u64, 40 - before);
}

#[tokio::test]
async fn chaos_spares_control_routes_and_ends_when_cleared() {
    let env = Env::start().await;
    let everything = Chaos::new(1, 1.0, ["status_before:503".parse().unwrap()])
        .methods(["GET", "POST", "DELETE", "PUT", "PATCH"]);
    let set = env.control.set_chaos(&everything).await.unwrap();
    assert_eq!(set.chaos.as_ref().unwrap().methods.as_ref().unwrap().len(), 5);
    env.control.add_fault(Fault::status("/x", 500)).await.unwrap();
    env.control.clear_faults().await.unwrap();
    env.control.tae_documents().await.unwrap();
    env.control.tae_expire_tokens().await.unwrap();
    env.control.requests().await.unwrap();
    assert_eq!(env.control.chaos().await.unwrap().considered, 0);

    let login = json!({"userName": DEFAULT_USER, "password": DEFAULT_PASSWORD});
    let refused = env.http.post(env.auth("/v3/auth/login")).json(&login).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    let report = env.control.chaos().await.unwrap();
    assert_eq!((report.considered, report.fired["status_before:503"]), (1, 1));

    env.control.clear_chaos().await.unwrap();
    assert_eq!(env.control.chaos().await.unwrap(), ChaosReport::default());
    let login = env.http.post(env.auth("/v3/auth/login")).json(&login).send().await.unwrap();
    assert_eq!(login.status(), StatusCode::OK);

    let bad = json!({"seed": 1, "rate": 2, "kinds": ["reset_after"]});
    let url = format!("{}/__sandbox/chaos", env.sandbox.base_url());
    let refused = env.http.post(&url).json(&bad).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let unknown = json!({"seed": 1, "rate": 0.5, "kinds": ["retry_after:429:1"]});
    let refused = env.http.post(&url).json(&unknown).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let error = refused.json::<Value>().await.unwrap()["error"].as_str().unwrap().to_owned();
    assert!(error.contains("status_<when>:<status>[:<retry-after secs>]"), "{error}");
}

// ---- request log ----------------------------------------------------------------------------

#[tokio::test]
async fn request_log_records_provider_requests_in_order_without_secrets() {
    let env = Env::start().await;
    let token = env.token().await;
    let id = env.upload(&token, &sample_pdf("x", 1)).await;
    env.control.tae_sign(id, "nobody@x.com").await.unwrap_err();
    env.http
        .get(env.api(&format!("/documents/v1/publicacoes/{id}/download?tipoDownload=1")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();

    let log = env.control.requests().await.unwrap();
    let paths: Vec<&str> = log.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/tae/identityintegration/v3/auth/login",
            "/tae/documents/v1/envelopes/upload",
            &format!("/tae/documents/v1/publicacoes/{id}/download"),
        ],
        "control requests are not logged"
    );
    assert_eq!(log[0].method, "POST");
    assert_eq!(log[0].status, Some(200));
    assert_eq!(log[0].body, json!({"userName": DEFAULT_USER, "password": "***"}));
    let parts = log[1].body["multipart"].as_array().unwrap();
    assert_eq!(parts[0], json!({"name": "NomeEnvelope", "size": 15, "value": "Contrato 000123"}));
    assert_eq!(parts[1]["filename"], json!("contrato.pdf"));
    assert_eq!(log[2].query.as_deref(), Some("tipoDownload=1"));
    assert_eq!(log[2].body, Value::Null);

    env.control.clear_requests().await.unwrap();
    assert!(env.control.requests().await.unwrap().is_empty());
}

// ---- embedding ------------------------------------------------------------------------------

#[test]
fn background_sandbox_serves_synchronous_callers() {
    let sandbox =
        spawn_background(SandboxConfig::default(), "127.0.0.1:0".parse().unwrap()).unwrap();
    assert_eq!(sandbox.base_url(), format!("http://{}", sandbox.addr()));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let answer: Value = runtime.block_on(async {
        reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap()
            .post(format!("{}/tae/identityintegration/v3/auth/login", sandbox.base_url()))
            .json(&json!({"userName": DEFAULT_USER, "password": DEFAULT_PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    assert_eq!(answer["succeeded"], json!(true));
    let addr = sandbox.addr();
    drop(sandbox);
    assert!(std::net::TcpStream::connect(addr).is_err(), "dropping stops the server");
}

#[tokio::test]
async fn shutdown_stops_the_server() {
    let env = Env::start().await;
    let url = env.auth("/api/auth/login");
    env.sandbox.shutdown().await;
    let result = env.http.post(&url).json(&json!({})).send().await;
    assert!(result.is_err());
}

// ---- the made-up webhook sender (§7, [I]) ----------------------------------------------------

mod webhooks {
    use std::time::Duration;

    use signbridge_sandbox::{CaptureReceiver, SenderId};

    use super::*;

    async fn register(env: &Env, body: Value) {
        let url = format!("{}/__sandbox/tae/webhooks", env.sandbox.base_url());
        let response = env.http.post(url).json(&body).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn receivers_hear_of_publication_signatures_and_finalization() {
        let env = Env::start().await;
        let receiver = CaptureReceiver::start().await.unwrap();
        let secret_receiver = CaptureReceiver::start().await.unwrap();
        register(&env, json!({"url": receiver.url("/tae")})).await;
        register(
            &env,
            json!({"url": secret_receiver.url("/hook"), "secret": "s3 cr/t", "secret_in": "query", "casing": "pascal"}),
        )
        .await;
        let (_, id) = env.published(true).await;
        env.control.tae_sign(id, "cliente@exemplo.com").await.unwrap();
        env.control.tae_sign(id, "gestor@empresa.com.br").await.unwrap();
        env.control.settle(SenderId::Tae, Duration::from_secs(20)).await.unwrap();

        let mut events: Vec<String> = receiver
            .received()
            .iter()
            .map(|c| {
                let body = c.json();
                assert_eq!(body["idDocumento"], json!(id));
                body["evento"].as_str().unwrap().to_owned()
            })
            .collect();
        events.sort();
        assert_eq!(
            events,
            [
                "assinatura realizada",
                "assinatura realizada",
                "documento finalizado",
                "documento publicado"
            ]
        );
        let received = secret_receiver.received();
        assert_eq!(received.len(), 4);
        assert!(
            received.iter().all(|c| c.target == "/hook?token=s3%20cr%2Ft"),
            "{}",
            received[0].target
        );
        assert!(received.iter().all(|c| c.json()["IdDocumento"] == json!(id)), "PascalCase");
        let listed: Value = env
            .http
            .get(format!("{}/__sandbox/tae/webhooks", env.sandbox.base_url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(!listed.to_string().contains("s3 cr/t"), "secrets are not shown");
    }

    #[tokio::test]
    async fn a_header_secret_and_a_rejection() {
        let env = Env::start().await;
        let receiver = CaptureReceiver::start().await.unwrap();
        register(&env, json!({"url": receiver.url("/tae"), "secret": "x", "secret_in": "header"}))
            .await;
        let (_, id) = env.published(false).await;
        env.control.tae_reject(id, "cliente@exemplo.com", "não").await.unwrap();
        env.control.settle(SenderId::Tae, Duration::from_secs(20)).await.unwrap();
        let received = receiver.received();
        assert_eq!(received.len(), 2);
        assert!(received.iter().all(|c| c.header("x-webhook-secret") == Some("x")));
        let last = received.iter().find(|c| c.json()["evento"] == "documento rejeitado").unwrap();
        assert_eq!(last.json()["status"], 4);
        assert_eq!(last.json()["assinante"], "cliente@exemplo.com");
    }
}
