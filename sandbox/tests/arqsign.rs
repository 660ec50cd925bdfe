//! Contract tests: the ArqSign simulator answers as `shared/contracts/arqsign.md` documents
//! (§7.3 examples, §2 endpoints, §5 errors), driven with plain reqwest.

mod common;

use std::time::Instant;

use base64::Engine;
use common::Env;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use signbridge_sandbox::arqsign::{
    ArqSignConfig, DEFAULT_APP_KEY, DEFAULT_FOLDER_ID, DEFAULT_RESPONSIBLE_ID,
    DEFAULT_SUBSCRIPTION_KEY, DEFAULT_SUBSCRIPTION_KEY_2, DELETED_FOLDER_ID, ROOT_FOLDER_ID,
};
use signbridge_sandbox::fixtures::{pdf_page_count, sample_pdf};
use signbridge_sandbox::{Fault, SandboxConfig};

const SEND: &str = "/api/v2/processo/enviar-documento-para-assinar";
const SEND_V3: &str = "/api/v3/processo/enviar-documento-para-assinar";

impl Env {
    async fn start() -> Env {
        Env::with(ArqSignConfig::default()).await
    }

    async fn with(arqsign: ArqSignConfig) -> Env {
        Env::new(SandboxConfig { arqsign, ..SandboxConfig::default() }).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}/arqsign{path}", self.sandbox.base_url())
    }

    /// A request with the account's AppKey and "Chave 1".
    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .header("AppKey", DEFAULT_APP_KEY)
            .header("SubscriptionKey", DEFAULT_SUBSCRIPTION_KEY)
    }

    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> (StatusCode, Value) {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    async fn send(&self, body: &Value) -> (StatusCode, Value) {
        self.call(Method::POST, SEND, Some(body)).await
    }

    /// Sends and returns the process id.
    async fn sent(&self, body: &Value) -> String {
        let (status, answer) = self.send(body).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        answer["IdProcesso"].as_str().unwrap().to_owned()
    }

    async fn status(&self, id: &str) -> Value {
        let (status, answer) = self.get(&format!("/api/v1/processo/{id}/status-do-processo")).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        answer
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(value: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(value.as_str().expect("base64 text")).unwrap()
}

/// §7.3's minimal signer.
fn signer(name: &str, email: &str, order: i64) -> Value {
    json!({"idTipoAcao": 1, "ordemAssinatura": order, "nome": name, "email": email,
           "assinarOnline": {"assinarComo": 1, "idTipoAssinatura": 1,
               "assinaturaEletronica": {"obrigarSignatarioInformarNome": 1,
                   "obrigarSignatarioInformarNumeroDocumento": 1, "tipoDocumentoAInformar": 1}}})
}

/// §7.3 #1: one minimal signer, one PDF.
fn send_body() -> Value {
    json!({
        "idResponsavel": DEFAULT_RESPONSIBLE_ID, "nomeProcesso": "Contrato",
        "idPasta": DEFAULT_FOLDER_ID, "usarOrdemAssinatura": 1,
        "usarPosicaoAssinaturaAutomatica": 1,
        "destinatarios": [signer("Ana", "ana@example.com", 1)],
        "documentos": [{"ordemDocumento": 1, "nomeComExtensao": "contrato.pdf",
                        "arquivo": b64(&sample_pdf("Contrato", 2))}]
    })
}

fn two_ordered() -> Value {
    let mut body = send_body();
    body["destinatarios"] =
        json!([signer("Ana", "ana@example.com", 1), signer("Bia", "bia@example.com", 2)]);
    body
}

fn assert_error(answer: &Value, status: StatusCode, message: &str) {
    assert_eq!(answer, &json!({"codigo": status.as_u16(), "mensagem": message}));
}

/// UTC, ISO, no offset: `2025-06-01T12:00:00.123456`.
fn assert_wire_date(value: &Value) {
    let text = value.as_str().unwrap_or_else(|| panic!("{value} is not a date"));
    assert!(
        chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").is_ok(),
        "{text} is not an ISO date without offset"
    );
}

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    keys
}

#[tokio::test]
async fn send_ok_has_the_documented_shape() {
    let env = Env::start().await;
    let (status, answer) = env.send(&send_body()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(keys(&answer), ["IdProcesso", "destinatarios", "documentos"]);
    let id = answer["IdProcesso"].as_str().unwrap();
    assert_eq!(id.len(), 36);
    let document = &answer["documentos"][0];
    assert_eq!(keys(document), ["id", "nome", "ordem"]);
    assert_eq!(
        (document["ordem"].clone(), document["nome"].clone()),
        (json!(1), json!("contrato.pdf"))
    );
    let recipient = &answer["destinatarios"][0];
    assert_eq!(
        keys(recipient),
        ["configuracoesAnexos", "formaEnvio", "idProcessoDestinatario", "nomeSignatario", "ordem"]
    );
    assert_eq!(recipient["formaEnvio"], "ana@example.com");
    assert_eq!(recipient["nomeSignatario"], "Ana");
    assert_eq!(recipient["configuracoesAnexos"], Value::Null);

    let state = env.control.arqsign_process(id).await.unwrap();
    assert_eq!(state["status"], 2);
    assert_eq!(state["documents"][0]["name"], "contrato.pdf");
    assert!(state["documents"][0].get("bytes").is_none());
    assert_eq!(state["signers"][0]["received"]["assinarOnline"]["idTipoAssinatura"], 1);
    assert_eq!(env.control.arqsign_processes().await.unwrap().len(), 1);
}

#[tokio::test]
async fn send_binds_any_casing_and_lenient_bits() {
    let env = Env::start().await;
    let body = json!({
        "IDRESPONSAVEL": DEFAULT_RESPONSIBLE_ID.to_uppercase(), "NomeProcesso": "Contrato",
        "IdPasta": DEFAULT_FOLDER_ID, "usarordemassinatura": "false",
        "UsarPosicaoAssinaturaAutomatica": "1",
        "Destinatarios": [{"IdTipoAcao": "1", "Nome": "Ana", "Email": "ana@example.com",
            "AssinarOnline": {"AssinarComo": 1, "IdTipoAssinatura": 3}}],
        "Documentos": [{"NomeComExtensao": "contrato.pdf", "Arquivo": b64(&sample_pdf("C", 1))}]
    });
    let (status, answer) = env.send(&body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    // Without signing order everyone is order 1; ICP-Brasil as 3 is accepted.
    assert_eq!(answer["destinatarios"][0]["ordem"], 1);
}

#[tokio::test]
async fn v3_returns_signing_links_and_takes_data_links() {
    let env = Env::start().await;
    let mut body = send_body();
    body["destinatarios"] =
        json!([signer("Ana", "ana@example.com", 1), signer("Bia", "bia@example.com", 2)]);
    body["destinatarios"][1]["retornarLinkProcesso"] = json!(true);
    body["destinatarios"][1]["alterarNotificacoes"] = json!(1);
    let pdf = sample_pdf("Contrato", 1);
    body["documentos"] = json!([{"nomeComExtensao": "contrato.pdf",
                                  "linkDoArquivo": format!("data:application/pdf;base64,{}", b64(&pdf))}]);
    let (status, answer) = env.call(Method::POST, SEND_V3, Some(&body)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["destinatarios"][0]["linkProcesso"], Value::Null);
    let link = answer["destinatarios"][1]["linkProcesso"].as_str().unwrap();
    let page = env.http.get(link).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("Bia"));

    // The same fields on v2 are unknown parameters; a remote link cannot be fetched.
    let (status, answer) = env.send(&body).await;
    assert_error(
        &answer,
        StatusCode::BAD_REQUEST,
        "Algum parâmetro está incorreto ou é inexistente.",
    );
    assert_eq!(status, StatusCode::BAD_REQUEST);
    body["documentos"][0]["linkDoArquivo"] = json!("https://example.com/contrato.pdf");
    let (status, answer) = env.call(Method::POST, SEND_V3, Some(&body)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(answer["mensagem"].as_str().unwrap().contains("linkDoArquivo"), "{answer}");
}

#[tokio::test]
async fn auth_needs_the_app_key_and_one_of_the_two_subscription_keys() {
    let env = Env::start().await;
    let send = |app: Option<&str>, subscription: Option<&str>| {
        let mut request = env.http.post(env.url(SEND)).json(&send_body());
        if let Some(app) = app {
            request = request.header("appkey", app);
        }
        if let Some(subscription) = subscription {
            request = request.header("SUBSCRIPTIONKEY", subscription);
        }
        request.send()
    };
    let missing = send(None, Some(DEFAULT_SUBSCRIPTION_KEY)).await.unwrap();
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    let answer: Value = missing.json().await.unwrap();
    assert_eq!(answer["codigo"], 401);
    assert_eq!(send(Some("wrong"), Some(DEFAULT_SUBSCRIPTION_KEY)).await.unwrap().status(), 401);
    assert_eq!(send(Some(DEFAULT_APP_KEY), Some("another-account")).await.unwrap().status(), 401);
    assert_eq!(send(Some(DEFAULT_APP_KEY), None).await.unwrap().status(), 401);
    // Header names compare case-insensitively, and "Chave 2" works as well as "Chave 1".
    assert_eq!(
        send(Some(DEFAULT_APP_KEY), Some(DEFAULT_SUBSCRIPTION_KEY_2)).await.unwrap().status(),
        200
    );

    env.control.arqsign_set_config(json!({"account_active": false})).await.unwrap();
    assert_eq!(
        send(Some(DEFAULT_APP_KEY), Some(DEFAULT_SUBSCRIPTION_KEY)).await.unwrap().status(),
        401
    );
    let settings = env
        .control
        .arqsign_set_config(json!({"account_active": true,
                                   "subscription_key_header": "Ocp-Apim-Subscription-Key"}))
        .await
        .unwrap();
    assert_eq!(settings["subscription_key_header"], "Ocp-Apim-Subscription-Key");
    assert!(!settings.to_string().contains(DEFAULT_APP_KEY), "keys are never shown");
    assert_eq!(
        send(Some(DEFAULT_APP_KEY), Some(DEFAULT_SUBSCRIPTION_KEY)).await.unwrap().status(),
        401
    );
    let renamed = env
        .http
        .get(env.url("/api/v1/conta/papeis-signatarios"))
        .header("AppKey", DEFAULT_APP_KEY)
        .header("ocp-apim-subscription-key", DEFAULT_SUBSCRIPTION_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), StatusCode::OK);
    let bad = env.control.arqsign_set_config(json!({"app_key_header": "bad header"})).await;
    assert_eq!(bad.unwrap_err().status(), Some(400));
}

#[tokio::test]
async fn email_xor_phone() {
    let env = Env::start().await;
    let mut body = send_body();
    body["destinatarios"][0]["telefone"] = json!("+5511987654321");
    let (status, answer) = env.send(&body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(
        &answer,
        status,
        "Somente é possível enviar o processo para um e-mail ou telefone. Escolha uma forma de envio.",
    );
}

#[tokio::test]
async fn only_pdfs_are_accepted() {
    let env = Env::start().await;
    let mut body = send_body();
    body["documentos"] = json!([{"ordemDocumento": 1, "nomeComExtensao": "a.docx", "arquivo": b64(b"PK\x03\x04docx")}]);
    let (status, answer) = env.send(&body).await;
    assert_error(
        &answer,
        StatusCode::BAD_REQUEST,
        "O arquivo a.docx é inválido. Somente é permitido arquivo do tipo PDF.",
    );
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn at_most_25_files() {
    let env = Env::start().await;
    let pdf = b64(&sample_pdf("C", 1));
    let mut body = send_body();
    body["documentos"] = (1..=26)
        .map(
            |n| json!({"ordemDocumento": n, "nomeComExtensao": format!("{n}.pdf"), "arquivo": pdf}),
        )
        .collect();
    let (status, answer) = env.send(&body).await;
    assert_error(
        &answer,
        StatusCode::BAD_REQUEST,
        "É permitido enviar até 25 arquivos por processo, cujo tamanho não ultrapasse a soma de 100MB.",
    );
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn binding_errors_have_their_documented_answers() {
    let env = Env::start().await;
    let response = env
        .request(Method::POST, SEND)
        .header("content-type", "application/json")
        .body("{\"nomeProcesso\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let answer: Value = response.json().await.unwrap();
    assert_error(&answer, StatusCode::INTERNAL_SERVER_ERROR, "Formato do JSON incorreto");

    let mut body = send_body();
    body["destinatarios"][0]["cpf"] = json!("52998224725");
    let (_, answer) = env.send(&body).await;
    assert_error(
        &answer,
        StatusCode::BAD_REQUEST,
        "Algum parâmetro está incorreto ou é inexistente.",
    );

    let mut body = send_body();
    body["destinatarios"][0]["ordemAssinatura"] = json!("primeiro");
    let (_, answer) = env.send(&body).await;
    assert_error(
        &answer,
        StatusCode::BAD_REQUEST,
        "O(s) item(ns) listado(s) está(ão) com o formato incorreto: ordemAssinatura.",
    );

    let mut body = send_body();
    body["idPasta"] = json!("6f9619ff-8b86-d011-b42d-00cf4fc964ff");
    let (_, answer) = env.send(&body).await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "idPasta não encontrado.");
    body["idPasta"] = json!(DELETED_FOLDER_ID);
    body["idResponsavel"] = json!("6f9619ff-8b86-d011-b42d-00cf4fc964ff");
    let (_, answer) = env.send(&body).await;
    assert_error(
        &answer,
        StatusCode::BAD_REQUEST,
        "O(s) id(s) listado(s) não existe(m): idResponsavel.",
    );
}

#[tokio::test]
async fn status_right_after_send() {
    let env = Env::start().await;
    let id = env.sent(&send_body()).await;
    let status = env.status(&id).await;
    assert_eq!(
        keys(&status),
        [
            "dataCancelamento",
            "dataConclusao",
            "dataExpiracao",
            "expirado",
            "idStatus",
            "nomeProcesso",
            "status"
        ]
    );
    assert_eq!(status["nomeProcesso"], "Contrato");
    assert_eq!(status["status"], "Aguardando");
    assert_eq!(status["idStatus"], 2);
    assert_eq!(status["expirado"], false);
    assert_eq!(status["dataConclusao"], Value::Null);
    assert_eq!(status["dataCancelamento"], Value::Null);
    assert_wire_date(&status["dataExpiracao"]);
    // dataExpiracao = dataEnvio + 30 days (the default).
    let state = env.control.arqsign_process(&id).await.unwrap();
    assert_eq!(state["expiry_days"], 30);
}

#[tokio::test]
async fn conclusion_gives_the_signed_file_and_evidence() {
    let env = Env::start().await;
    let id = env.sent(&send_body()).await;
    let state = env.control.arqsign_sign(&id, "ana@example.com").await.unwrap();
    assert_eq!(state["status"], 4);

    let (status, answer) = env.get(&format!("/api/v2/processo/{id}?arquivoTipo=1")).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["status"], "Concluído");
    assert_eq!(answer["idStatus"], 4);
    assert_wire_date(&answer["dataConclusao"]);
    assert_eq!(answer["nomeResponsavel"], "Remetente Sandbox");
    assert_eq!(answer["caminhoDaPasta"], "Arquivar\\Administração\\Contratos");
    let signer = &answer["signatarios"][0];
    assert_wire_date(&signer["dadosAssinatura"]["dataAssinatura"]);
    assert_eq!(signer["dadosAssinatura"]["tipoAssinatura"], "Assinatura Eletrônica");
    assert_eq!(signer["tipoAcao"], "Assinar Online");
    assert_eq!(signer["assinaturaRecusada"], false);
    let document = &answer["documentos"][0];
    assert!(document.get("linkParaBaixarDocumento").is_none());
    let signed = unb64(&document["base64Documento"]);
    assert!(signed.starts_with(b"%PDF-"));
    assert_eq!(pdf_page_count(&signed).unwrap(), 3, "the signature page is appended");
    assert_eq!(document["registroAssinaturas"]["nome"], "contrato_Registro de Assinaturas.pdf");
    let report = unb64(&document["registroAssinaturas"]["base64"]);
    assert!(pdf_page_count(&report).unwrap() >= 1);

    // The link form: no base64, a link that works without keys.
    let (_, answer) = env
        .get(&format!("/api/v2/processo/{id}?arquivoTipo=2&retornarRegistroAssinatura=false"))
        .await;
    let document = &answer["documentos"][0];
    assert!(document.get("base64Documento").is_none());
    assert_eq!(document["registroAssinaturas"], Value::Null);
    let link = document["linkParaBaixarDocumento"].as_str().unwrap();
    let download = env.http.get(link).send().await.unwrap();
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(download.headers()["content-type"], "application/pdf");
    assert_eq!(download.bytes().await.unwrap().as_ref(), signed.as_slice());

    // The evidence report by document id.
    let document_id = document["id"].as_str().unwrap();
    let (status, evidence) =
        env.get(&format!("/api/v1/processo/{document_id}/registro-assinaturas")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(keys(&evidence), ["base64", "idArquivoProcesso", "nome"]);
    assert_eq!(evidence["idArquivoProcesso"], document_id);
    assert_eq!(evidence["nome"], "contrato_Registro de Assinaturas.pdf");
    assert_eq!(unb64(&evidence["base64"]), report);
    let (status, answer) = env.get(&format!("/api/v1/processo/{id}/registro-assinaturas")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&answer, status, "O(s) id(s) listado(s) não existe(m): idArquivoProcesso.");
}

#[tokio::test]
async fn cancel_only_while_waiting_or_in_process() {
    let env = Env::start().await;
    let concluded = env.sent(&send_body()).await;
    env.control.arqsign_sign(&concluded, "ana@example.com").await.unwrap();
    let path = |id: &str| format!("/api/v1/processo/{id}/cancelar-processo");
    let (status, answer) = env.call(Method::PATCH, &path(&concluded), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer["codigo"], 422);

    let fresh = env.sent(&send_body()).await;
    let (status, answer) = env.call(Method::PATCH, &path(&fresh), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer, json!({"codigo": 200, "mensagem": "Documento cancelado com sucesso."}));
    let after = env.status(&fresh).await;
    assert_eq!(
        (after["idStatus"].clone(), after["status"].clone()),
        (json!(5), json!("Cancelado"))
    );
    assert_wire_date(&after["dataCancelamento"]);
    assert_eq!(after["dataExpiracao"], Value::Null);
    let (status, _) = env.call(Method::PATCH, &path(&fresh), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, process) = env.get(&format!("/api/v2/processo/{fresh}")).await;
    assert_eq!(process["usuarioCancelamento"], "Remetente Sandbox");
}

#[tokio::test]
async fn resend_without_edits_returns_the_current_order() {
    let env = Env::start().await;
    let id = env.sent(&two_ordered()).await;
    let path = format!("/api/v2/processo/{id}/reenviar-processo");
    let (status, answer) = env.call(Method::PATCH, &path, Some(&json!([]))).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let resent = answer.as_array().unwrap();
    assert_eq!(resent.len(), 1, "only the current order: {answer}");
    assert_eq!(
        keys(&resent[0]),
        ["anexos", "formaEnvioProcesso", "idProcessoDestinatario", "nome", "ordem"]
    );
    assert_eq!(resent[0]["nome"], "Ana");
    assert_eq!(resent[0]["ordem"], 1);
    assert_eq!(resent[0]["formaEnvioProcesso"], "ana@example.com");
    let (_, process) = env.get(&format!("/api/v2/processo/{id}")).await;
    assert_wire_date(&process["dataReenvio"]);

    // An edit: a new e-mail for the pending signer.
    let ana = resent[0]["idProcessoDestinatario"].as_str().unwrap();
    let edit = json!([{"idProcessoDestinatario": ana, "idFormaEnvioProcesso": 1,
                       "email": "ana.nova@example.com"}]);
    let (status, answer) = env.call(Method::PATCH, &path, Some(&edit)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer[0]["formaEnvioProcesso"], "ana.nova@example.com");
    env.control.arqsign_sign(&id, "ana.nova@example.com").await.unwrap();
    let (_, answer) = env.call(Method::PATCH, &path, Some(&json!([]))).await;
    assert_eq!(answer[0]["nome"], "Bia");

    let unknown = json!([{"idProcessoDestinatario": "6f9619ff-8b86-d011-b42d-00cf4fc964ff"}]);
    let (status, answer) = env.call(Method::PATCH, &path, Some(&unknown)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&answer, status, "O(s) id(s) listado(s) não existe(m): idProcessoDestinatario.");
}

#[tokio::test]
async fn unknown_process_ids_are_400() {
    let env = Env::start().await;
    let unknown = "6f9619ff-8b86-d011-b42d-00cf4fc964ff";
    for path in [
        format!("/api/v2/processo/{unknown}"),
        format!("/api/v1/processo/{unknown}/status-do-processo"),
        format!("/api/v1/processo/{unknown}/dados-signatarios"),
    ] {
        let (status, answer) = env.get(&path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert_error(&answer, status, "O(s) id(s) listado(s) não existe(m): idProcesso.");
    }
    let (status, _) = env
        .call(Method::PATCH, &format!("/api/v1/processo/{unknown}/cancelar-processo"), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, answer) = env.get("/api/v9/nada").await;
    assert_eq!((status, answer["codigo"].clone()), (StatusCode::NOT_FOUND, json!(404)));
}

#[tokio::test]
async fn refusal_cancels_with_the_reason() {
    let env = Env::start().await;
    let id = env.sent(&two_ordered()).await;
    let state = env.control.arqsign_refuse(&id, "ana@example.com", "valor errado").await.unwrap();
    assert_eq!(state["status"], 5);
    let (_, process) = env.get(&format!("/api/v2/processo/{id}")).await;
    assert_eq!(process["status"], "Cancelado");
    assert_wire_date(&process["dataCancelamento"]);
    let ana = &process["signatarios"][0];
    assert_eq!(
        (ana["assinaturaRecusada"].clone(), ana["motivoRecusa"].clone()),
        (json!(true), json!("valor errado"))
    );
    assert_eq!(ana["dadosAssinatura"], Value::Null);

    let (status, data) = env.get(&format!("/api/v1/processo/{id}/dados-signatarios")).await;
    assert_eq!(status, StatusCode::OK);
    let row = &data["signatarios"][0];
    assert_eq!(row["assinaturaRecusada"], true);
    assert_eq!(row["motivoRecusa"], "valor errado");
    assert_eq!(row["assinado"], false);
    for key in ["IdProcessoDestinatario", "IdFormaEnvioProcesso", "IdMeioEnvioCodigoSeguranca"] {
        assert!(row.get(key).is_some(), "{key} is PascalCase in dados-signatarios: {row}");
    }
    assert_eq!(row["IdFormaEnvioProcesso"], 1);
    let refused = env.control.arqsign_sign(&id, "bia@example.com").await.unwrap_err();
    assert_eq!(refused.status(), Some(409));
}

#[tokio::test]
async fn expiry_sets_the_flag_and_stops_signing_until_a_resend() {
    let env = Env::start().await;
    let id = env.sent(&send_body()).await;
    env.control.arqsign_expire(&id).await.unwrap();
    let status = env.status(&id).await;
    assert_eq!((status["expirado"].clone(), status["idStatus"].clone()), (json!(true), json!(2)));
    let refused = env.control.arqsign_sign(&id, "ana@example.com").await.unwrap_err();
    assert_eq!(refused.status(), Some(409));
    assert!(refused.message().contains("expirou"), "{refused}");

    let (status, _) = env
        .call(Method::PATCH, &format!("/api/v2/processo/{id}/reenviar-processo"), Some(&json!([])))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(env.status(&id).await["expirado"], false);
    env.control.arqsign_sign(&id, "ana@example.com").await.unwrap();
}

#[tokio::test]
async fn signing_order_is_enforced() {
    let env = Env::start().await;
    let id = env.sent(&two_ordered()).await;
    let (_, process) = env.get(&format!("/api/v2/processo/{id}")).await;
    let waiting: Vec<&Value> =
        process["signatarios"].as_array().unwrap().iter().map(|s| &s["aguardandoEnvio"]).collect();
    assert_eq!(waiting, [&json!(false), &json!(true)]);
    let refused = env.control.arqsign_sign(&id, "bia@example.com").await.unwrap_err();
    assert_eq!(refused.status(), Some(409));
    assert!(refused.message().contains("aguardando ana@example.com"), "{refused}");
    let unknown = env.control.arqsign_sign(&id, "nobody@example.com").await.unwrap_err();
    assert_eq!(unknown.status(), Some(404));
    let state = env.control.arqsign_sign(&id, "ana@example.com").await.unwrap();
    assert_eq!(state["status"], 3);
    assert_eq!(env.status(&id).await["status"], "Em processo");
    let again = env.control.arqsign_sign(&id, "ana@example.com").await.unwrap_err();
    assert_eq!(again.status(), Some(409), "already signed");
    env.control.arqsign_sign(&id, "bia@example.com").await.unwrap();
    assert_eq!(env.status(&id).await["idStatus"], 4);
}

#[tokio::test]
async fn polling_faster_than_configured_is_429_with_retry_after() {
    let env =
        Env::with(ArqSignConfig { status_poll_interval_ms: 1500, ..ArqSignConfig::default() })
            .await;
    let id = env.sent(&send_body()).await;
    let path = format!("/api/v1/processo/{id}/status-do-processo");
    assert_eq!(env.get(&path).await.0, StatusCode::OK);
    let response = env.request(Method::GET, &path).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "2");
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["codigo"], 429);
    // The full GET has its own clock; another process is not affected.
    assert_eq!(env.get(&format!("/api/v2/processo/{id}")).await.0, StatusCode::OK);
    let other = env.sent(&send_body()).await;
    assert_eq!(
        env.get(&format!("/api/v1/processo/{other}/status-do-processo")).await.0,
        StatusCode::OK
    );

    env.control.arqsign_set_config(json!({"status_poll_interval_ms": 0})).await.unwrap();
    assert_eq!(env.get(&path).await.0, StatusCode::OK);
}

#[tokio::test]
async fn the_account_rate_is_429_with_retry_after() {
    let env = Env::start().await;
    let settings = env.control.arqsign_set_config(json!({"requests_per_second": 2})).await.unwrap();
    assert_eq!(settings["requests_per_second"], 2);
    let started = Instant::now();
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..3 {
        let response =
            env.request(Method::GET, "/api/v1/conta/papeis-signatarios").send().await.unwrap();
        if let Some(value) = response.headers().get("retry-after") {
            retry_after = Some(value.to_str().unwrap().to_owned());
        }
        statuses.push(response.status().as_u16());
    }
    // Three requests well inside one second: the third waits.
    if started.elapsed().as_millis() < 900 {
        assert_eq!(statuses, [200, 200, 429]);
        assert_eq!(retry_after.as_deref(), Some("1"));
    }
}

#[tokio::test]
async fn a_30_mb_send_is_accepted_and_logged_without_the_file() {
    let env = Env::start().await;
    // A valid PDF followed by padding after %%EOF, as incremental saves leave.
    let mut pdf = sample_pdf("Grande", 1);
    pdf.resize(30 * 1024 * 1024, b' ');
    let mut body = send_body();
    body["documentos"][0]["arquivo"] = json!(b64(&pdf));
    let (status, answer) = env.send(&body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let id = answer["IdProcesso"].as_str().unwrap();
    let state = env.control.arqsign_process(id).await.unwrap();
    assert_eq!(state["documents"][0]["size"], pdf.len());

    let requests = env.control.requests().await.unwrap();
    let logged = requests[0].body["documentos"][0]["arquivo"].as_str().unwrap();
    assert!(logged.len() < 1024, "the log keeps only the start of the file");
    assert!(logged.starts_with("JVBERi0"));
}

#[tokio::test]
async fn lookups_of_the_seeded_account() {
    let env = Env::start().await;
    let (status, users) = env
        .call(Method::POST, "/api/v1/usuarios/buscar-usuarios", Some(&json!({"ativos": 1})))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(users.as_array().unwrap().len(), 1);
    assert_eq!(users[0]["id"], DEFAULT_RESPONSIBLE_ID);
    assert_eq!(keys(&users[0]), ["id", "nome", "remetente", "status"]);
    let (_, all) = env
        .call(Method::POST, "/api/v1/usuarios/buscar-usuarios", Some(&json!({"ativos": false})))
        .await;
    let statuses: Vec<&str> =
        all.as_array().unwrap().iter().map(|u| u["status"].as_str().unwrap()).collect();
    assert_eq!(statuses.len(), 3);
    assert!(statuses.contains(&"Bloqueado") && statuses.contains(&"Inativo"));
    let (status, answer) =
        env.call(Method::POST, "/api/v1/usuarios/buscar-usuarios", Some(&json!({}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&answer, status, "O(s) item(ns) listado(s) é(são) obrigatório(s): ativos.");

    let (status, root) = env
        .call(Method::POST, "/api/v1/diretorio/buscar-pastas", Some(&json!({"buscarPor": 3})))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(root[0]["id"], ROOT_FOLDER_ID);
    assert_eq!(root[0]["caminhoCompleto"], "Arquivar");
    let children: Vec<&str> =
        root[0]["filhos"].as_array().unwrap().iter().map(|f| f["nome"].as_str().unwrap()).collect();
    assert_eq!(children, ["Administração", "Arquivo morto", "Recursos Humanos"]);
    let (_, active) = env
        .call(
            Method::POST,
            "/api/v1/diretorio/buscar-pastas",
            Some(&json!({"buscarPor": 3, "ativas": true})),
        )
        .await;
    assert_eq!(active[0]["filhos"].as_array().unwrap().len(), 2);
    let (_, path) = env
        .call(
            Method::POST,
            "/api/v1/diretorio/buscar-pastas",
            Some(&json!({"buscarPor": 1, "pastas": [DEFAULT_FOLDER_ID]})),
        )
        .await;
    assert_eq!(path[0]["caminhoCompleto"], "Arquivar|Administração|Contratos");
    assert_eq!(path[0]["filhos"], Value::Null);

    let (_, roles) = env.get("/api/v1/conta/papeis-signatarios").await;
    assert_eq!(keys(&roles[0]), ["id", "nome", "padrao"]);
    let (_, subscription) = env.get("/api/v1/conta/dados-assinatura").await;
    assert_eq!(keys(&subscription), ["Conta", "assinatura", "plano"]);
    assert_eq!(subscription["Conta"]["idStatus"], 1);
    let envios = subscription["assinatura"]["itens"][0]["saldo"].as_i64().unwrap();
    env.sent(&send_body()).await;
    let (_, after) = env.get("/api/v1/conta/dados-assinatura").await;
    assert_eq!(after["assinatura"]["itens"][0]["saldo"].as_i64().unwrap(), envios - 1);
}

#[tokio::test]
async fn required_attachments_are_uploaded_when_signing() {
    let env = Env::start().await;
    let mut body = send_body();
    body["destinatarios"][0]["assinarOnline"]["anexos"] = json!([
        {"anexoDocumentoNome": "RG", "anexoObrigatorio": 1, "anexoExibirTodosDestinatarios": 0}]);
    let (_, answer) = env.send(&body).await;
    let id = answer["IdProcesso"].as_str().unwrap().to_owned();
    assert_eq!(answer["destinatarios"][0]["configuracoesAnexos"][0]["nome"], "RG");
    let path = format!("/api/v1/processo/{id}/buscar-anexos-signatarios");
    let (_, before) = env.call(Method::POST, &path, Some(&json!({"arquivoTipo": 1}))).await;
    assert_eq!(before[0]["anexos"], Value::Null);
    env.control.arqsign_sign(&id, "ana@example.com").await.unwrap();
    let (status, after) = env.call(Method::POST, &path, Some(&json!({"arquivoTipo": 1}))).await;
    assert_eq!(status, StatusCode::OK);
    let attachment = &after[0]["anexos"][0];
    assert_eq!(attachment["nome"], "RG - documento.pdf");
    assert!(unb64(&attachment["arquivo"]).starts_with(b"%PDF-"));
    let (status, answer) = env.call(Method::POST, &path, Some(&json!({"arquivoTipo": 3}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&answer, status, "O parâmetro arquivoTipo permite somente valores 1 ou 2.");
}

#[tokio::test]
async fn status_faults_use_the_arqsign_error_shape() {
    let env = Env::start().await;
    env.control.add_fault(Fault::status("/arqsign/api/v1/conta/*", 503)).await.unwrap();
    let (status, answer) = env.get("/api/v1/conta/papeis-signatarios").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer["codigo"], 503);
    assert!(answer["mensagem"].as_str().unwrap().contains("503"));
}

#[tokio::test]
async fn deleted_processes_answer_documento_excluido() {
    let env = Env::start().await;
    let id = env.sent(&send_body()).await;
    let deleted = env
        .http
        .post(format!("{}/__sandbox/arqsign/processes/{id}/delete", env.sandbox.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::OK);
    let (status, answer) = env.get(&format!("/api/v2/processo/{id}")).await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "Documento excluído.");
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

// ---- webhooks (§6) ---------------------------------------------------------------------------

mod webhooks {
    use std::time::Duration;

    use hmac::{Hmac, KeyInit, Mac};
    use signbridge_sandbox::{CaptureReceiver, SenderId};

    use super::*;

    const CONF: &str = "/api/v1/confwebhook";

    async fn configure(env: &Env, receiver: &CaptureReceiver, gatilhos: Value) -> (String, String) {
        let body = json!({
            "nome": "Acompanhamento", "status": 1, "urlPublicar": receiver.url("/arq hook"),
            "gatilhos": gatilhos,
            "dadosRetorno": {"processo": 1, "signatarios": 1, "documentos": 0},
        });
        let (status, answer) = env.call(Method::POST, CONF, Some(&body)).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        let id = answer["id"].as_str().unwrap().to_owned();
        (id, answer["chaveHMAC"].as_str().unwrap().to_owned())
    }

    async fn fast_retries(env: &Env) {
        let policy = json!({"backoff_ms": [5], "timeout_ms": 2000});
        env.control.set_delivery_policy(SenderId::Arqsign, policy).await.unwrap();
    }

    fn hmac_of(key: &str, body: &[u8]) -> String {
        let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key.as_bytes()).unwrap();
        mac.update(body);
        b64(&mac.finalize().into_bytes())
    }

    #[tokio::test]
    async fn configurations_are_created_listed_and_validated() {
        let env = Env::start().await;
        let receiver = CaptureReceiver::start().await.unwrap();
        let (id, key) = configure(&env, &receiver, json!([2, 3, 8])).await;
        assert_eq!(key.len(), 43);
        let (status, list) = env.get(CONF).await;
        assert_eq!(status, StatusCode::OK);
        let config = &list[0];
        assert_eq!(config["id"], json!(id));
        assert_eq!(config["urlPublicar"], json!(receiver.url("/arqhook")), "spaces removed");
        assert_eq!(config["aguardaRetorno"], json!(false), "the GET's spelling");
        assert_eq!(config["hmac"], json!(key));
        assert_eq!(config["gatilhos"].as_array().unwrap().len(), 3);
        assert_eq!(
            config["gatilhos"][2],
            json!({"id": 8, "nome": "Processo assinado/concluído por todos os signatários", "ativo": true})
        );
        assert!(config["dadosRetorno"].get("linkDocumentoCompartilhado").is_some());

        let duplicate = json!({"nome": "acompanhamento", "status": 1, "urlPublicar": "http://x", "gatilhos": [1]});
        assert_eq!(env.call(Method::POST, CONF, Some(&duplicate)).await.0, StatusCode::BAD_REQUEST);
        let no_trigger =
            json!({"nome": "B", "status": 1, "urlPublicar": "http://x", "gatilhos": []});
        assert_eq!(
            env.call(Method::POST, CONF, Some(&no_trigger)).await.0,
            StatusCode::BAD_REQUEST
        );
        let no_kind = json!({"nome": "C", "status": 1, "urlPublicar": "http://x", "gatilhos": [8],
                             "dadosRetorno": {"documentos": 1}});
        assert_eq!(env.call(Method::POST, CONF, Some(&no_kind)).await.0, StatusCode::BAD_REQUEST);
        let users = json!({"nome": "D", "status": 1, "urlPublicar": "http://x", "gatilhos": [8],
                           "usuarios": [INACTIVE_USER]});
        let (status, answer) = env.call(Method::POST, CONF, Some(&users)).await;
        assert_error(&answer, status, "Somente é permitido usuários com status ativo.");
        let unauthenticated = env.http.get(env.url(CONF)).send().await.unwrap();
        assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
    }

    const INACTIVE_USER: &str = signbridge_sandbox::arqsign::INACTIVE_USER_ID;

    #[tokio::test]
    async fn each_trigger_delivers_a_pascal_case_body_signed_with_hmac() {
        let env = Env::start().await;
        let receiver = CaptureReceiver::start().await.unwrap();
        let (webhook, key) = configure(&env, &receiver, json!([1, 3, 8])).await;
        let process = env.sent(&two_ordered()).await;
        env.control.arqsign_sign(&process, "ana@example.com").await.unwrap();
        env.control.arqsign_sign(&process, "bia@example.com").await.unwrap();
        env.control.settle(SenderId::Arqsign, Duration::from_secs(20)).await.unwrap();

        let received = receiver.received();
        let events: Vec<Value> = received.iter().map(|c| c.json()["Evento"].clone()).collect();
        // Deliveries run concurrently: compare as a multiset.
        let mut events: Vec<String> =
            events.iter().map(|e| e.as_str().unwrap().to_owned()).collect();
        events.sort();
        assert_eq!(
            events,
            ["ProcessoAssinado", "ProcessoAssinado", "ProcessoConcluido", "ProcessoEnviado"]
        );
        for captured in &received {
            assert_eq!(captured.target, "/arqhook");
            let signature = captured.header("hmac").expect("the HMAC header");
            assert_eq!(signature, hmac_of(&key, &captured.body), "base64 of HMAC-SHA256(body)");
            let body = captured.json();
            assert_eq!(body["IdProcesso"], json!(process));
            assert_eq!(body["IdWebhook"], json!(webhook));
            assert_eq!(body["IdConta"], json!(signbridge_sandbox::arqsign::ACCOUNT_ID));
            let now = body["DataHoraAtual"].as_str().unwrap();
            assert!(
                chrono::NaiveDateTime::parse_from_str(now, "%d/%m/%Y %H:%M:%S").is_ok(),
                "{now}"
            );
            assert_eq!(body["NomeProcesso"], "Contrato");
            if body["Evento"] == "ProcessoAssinado" {
                assert_eq!(body["Signatarios"].as_array().unwrap().len(), 1, "only who signed");
            }
            if body["Evento"] == "ProcessoConcluido" {
                assert_eq!(body["Status"], 4);
                assert_eq!(body["Signatarios"].as_array().unwrap().len(), 2);
            }
        }
    }

    #[tokio::test]
    async fn only_200_succeeds_retries_back_off_and_401_disables_the_webhook() {
        let env = Env::start().await;
        fast_retries(&env).await;
        let receiver = CaptureReceiver::start().await.unwrap();
        let (webhook, _) = configure(&env, &receiver, json!([1])).await;
        receiver.answer_next([500, 201]);
        env.sent(&send_body()).await;
        env.control.settle(SenderId::Arqsign, Duration::from_secs(20)).await.unwrap();
        assert_eq!(receiver.count(), 3, "500 and 201 are failures (§6.3: only 200)");
        let delivery = &env.control.deliveries(SenderId::Arqsign).await.unwrap()[0];
        assert_eq!(delivery.attempts, 3);
        assert_eq!(delivery.status, signbridge_sandbox::DeliveryStatus::Delivered);

        receiver.clear();
        receiver.set_status(401);
        env.sent(&send_body()).await;
        env.control.settle(SenderId::Arqsign, Duration::from_secs(20)).await.unwrap();
        assert_eq!(receiver.count(), 1, "401 is not retried");
        let (_, list) = env.get(CONF).await;
        assert_eq!(list[0]["status"], 3, "Inativo por falhas");
        env.sent(&send_body()).await;
        env.control.settle(SenderId::Arqsign, Duration::from_secs(20)).await.unwrap();
        assert_eq!(receiver.count(), 1, "an inactive webhook sends nothing");

        receiver.set_status(200);
        let path = format!("{CONF}/{webhook}/alterar-status");
        let (status, _) = env.call(Method::PATCH, &path, Some(&json!({"status": 1}))).await;
        assert_eq!(status, StatusCode::OK);
        env.control.settle(SenderId::Arqsign, Duration::from_secs(20)).await.unwrap();
        assert_eq!(receiver.count(), 2, "activating re-queues the failed delivery");
        let (_, list) = env.get(CONF).await;
        assert_eq!(list[0]["status"], 1);
    }
}
