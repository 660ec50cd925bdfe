//! Contract tests: the iDocs simulator answers as `shared/contracts/idocs.md` documents (§7.4
//! examples, §2 endpoints, §4 signing rules), driven with plain reqwest. Signatures are real
//! CMS made with `signbridge-signer` and a throw-away P-256 key.

mod common;

use std::io::Read;
use std::sync::OnceLock;

use common::Env;
use reqwest::multipart::{Form, Part};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use signbridge_sandbox::fixtures::{pdf_page_count, sample_pdf};
use signbridge_sandbox::idocs::{
    COUNTERPARTY_BIN, COUNTERPARTY_EMPLOYEE_ID, COUNTERPARTY_TOKEN, DEFAULT_TOKEN, IDocsConfig,
    SENDER_BIN, SENDER_EMPLOYEE_ID,
};
use signbridge_sandbox::{Fault, SandboxConfig};
use signbridge_signer::{CmsForm, SoftwareSigner, testkeys};

const V3: &str = "/api/v3";

/// A JSON answer: status, headers and body (`Value::Null` when empty, a string when not JSON).
struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Env {
    async fn start() -> Env {
        Env::with(IDocsConfig::default()).await
    }

    async fn with(idocs: IDocsConfig) -> Env {
        Env::new(SandboxConfig { idocs, ..SandboxConfig::default() }).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}/idocs{path}", self.sandbox.base_url())
    }

    async fn answer(response: reqwest::Response) -> Answer {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Answer { status, headers, body }
    }

    async fn call_as(
        &self,
        token: Option<&str>,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Answer {
        let mut request = self.http.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        Env::answer(request.send().await.unwrap()).await
    }

    /// As company A, the sender.
    async fn post(&self, path: &str, body: &Value) -> Answer {
        self.call_as(Some(DEFAULT_TOKEN), Method::POST, path, Some(body)).await
    }

    /// As company B, the counterparty.
    async fn post_b(&self, path: &str, body: &Value) -> Answer {
        self.call_as(Some(COUNTERPARTY_TOKEN), Method::POST, path, Some(body)).await
    }

    async fn get_as(&self, token: &str, path: &str) -> Answer {
        self.call_as(Some(token), Method::GET, path, None).await
    }

    /// Raw bytes of a GET with `token`.
    async fn bytes(&self, token: &str, url: &str) -> (StatusCode, Vec<u8>) {
        let response = self.http.get(url).bearer_auth(token).send().await.unwrap();
        (response.status(), response.bytes().await.unwrap().to_vec())
    }

    async fn upload_as(
        &self,
        token: &str,
        route: &str,
        part: &str,
        file_name: &str,
        bytes: Vec<u8>,
    ) -> Answer {
        let form =
            Form::new().part(part.to_owned(), Part::bytes(bytes).file_name(file_name.to_owned()));
        let request =
            self.http.post(self.url(&format!("{V3}/sync/blobs/{route}"))).bearer_auth(token);
        Env::answer(request.multipart(form).send().await.unwrap()).await
    }

    async fn upload_document(&self, file_name: &str, bytes: Vec<u8>) -> Answer {
        self.upload_as(DEFAULT_TOKEN, "document-content", "documentContent", file_name, bytes).await
    }

    async fn upload_signature_as(&self, token: &str, cms: Vec<u8>) -> String {
        let answer = self
            .upload_as(
                token,
                "document-signature-content",
                "signatureContent",
                "signature.cms",
                cms,
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.body["response"]["blobId"].as_str().unwrap().to_owned()
    }

    /// §7.4 #3 then #5: a draft of one PDF; returns the document id.
    async fn draft(&self) -> String {
        let upload = self.upload_document("contract.pdf", sample_pdf("Договор 1", 1)).await;
        assert_eq!(upload.status, StatusCode::OK, "{}", upload.body);
        let blob = upload.body["response"]["blobId"].as_str().unwrap().to_owned();
        let created = self
            .post(&format!("{V3}/sync/external/outbox/document/create"), &create_body(&blob))
            .await;
        assert_eq!(created.status, StatusCode::OK, "{}", created.body);
        created.body["id"].as_str().unwrap().to_owned()
    }

    /// §7.4 #7.
    async fn quick_route(&self, id: &str) -> Answer {
        self.post(
            &format!("{V3}/sync/external/outbox/route/quick-route/create"),
            &quick_route_body(id),
        )
        .await
    }

    async fn routed(&self) -> String {
        let id = self.draft().await;
        let routed = self.quick_route(&id).await;
        assert_eq!(routed.status, StatusCode::OK, "{}", routed.body);
        id
    }

    /// §7.4 #8 for `side` as the company of `token`.
    async fn generate(&self, token: &str, side: &str, id: &str, employee: &str) -> Answer {
        let body = json!({"documentId": id, "signedByEmployeeId": employee});
        let path = format!("{V3}/sync/external/{side}/signature/content-to-sign/generate");
        self.call_as(Some(token), Method::POST, &path, Some(&body)).await
    }

    async fn save(
        &self,
        token: &str,
        side: &str,
        id: &str,
        employee: &str,
        blob: &str,
        ticket: Option<&str>,
    ) -> Answer {
        let body = json!({"documentId": id, "signedByEmployeeId": employee,
            "signatureBinaryContent": {"blobId": blob}, "idempotencyTicket": ticket});
        let path = format!("{V3}/sync/external/{side}/signature/quick-sign/save");
        self.call_as(Some(token), Method::POST, &path, Some(&body)).await
    }

    /// The sender's full signing flow (§4.1): generate, download, sign `form`, upload, save.
    /// Returns (ticket, signature blob id).
    async fn sender_signs(&self, id: &str, form: CmsForm) -> (String, String) {
        let generated = self.generate(DEFAULT_TOKEN, "outbox", id, SENDER_EMPLOYEE_ID).await;
        assert_eq!(generated.status, StatusCode::OK, "{}", generated.body);
        let ticket = generated.body["idempotencyTicket"].as_str().unwrap().to_owned();
        let link = generated.body["downloadLink"].as_str().unwrap();
        let (status, content) = self.bytes(DEFAULT_TOKEN, link).await;
        assert_eq!(status, StatusCode::OK);
        let blob = self.upload_signature_as(DEFAULT_TOKEN, sign(&content, form)).await;
        let saved =
            self.save(DEFAULT_TOKEN, "outbox", id, SENDER_EMPLOYEE_ID, &blob, Some(&ticket)).await;
        assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
        (ticket, blob)
    }

    async fn status_as(&self, token: &str, id: &str) -> Answer {
        self.get_as(token, &format!("{V3}/sync/single/document/GetDocumentStatusByDocumentId/{id}"))
            .await
    }

    async fn status_of(&self, token: &str, id: &str) -> String {
        let answer = self.status_as(token, id).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.body["documentStatus"].as_str().unwrap().to_owned()
    }
}

fn create_body(blob: &str) -> Value {
    json!({"documentMetadata": {"documentName": "Договор 1", "documentNumber": "D-1",
        "documentDate": 1718780400, "documentGroup": "Purchase",
        "documentAuthorEmployeeId": SENDER_EMPLOYEE_ID},
        "documentBinaryContents": [{"blobId": blob}]})
}

fn quick_route_body(id: &str) -> Value {
    json!({"documentId": id, "employeeId": SENDER_EMPLOYEE_ID, "route": {"external": {
        "routeOrderType": "SEQUENTIAL", "isSignRequiredBySender": true, "nodes": [{"order": 0,
        "counterpartyBin": COUNTERPARTY_BIN, "comment": "Подпишите", "isIndividual": false,
        "counterpartyEmails": ["b@example.kz"], "isSignRequiredByCounterparty": true}]}}})
}

/// A CMS over `content` by a throw-away P-256 key, `CN=Айгерим Сатпаева`.
fn sign(content: &[u8], form: CmsForm) -> Vec<u8> {
    static KEY: OnceLock<(String, String)> = OnceLock::new();
    let (certificate, key) = KEY.get_or_init(|| testkeys::ecdsa_p256("Айгерим Сатпаева"));
    let signer = SoftwareSigner::from_pem(certificate.as_bytes(), key.as_bytes()).unwrap();
    signer.sign(content, form).unwrap()
}

fn error_code(answer: &Answer) -> &str {
    assert!(answer.body["response"].is_null(), "{}", answer.body);
    answer.body["errors"][0]["errorCode"]
        .as_str()
        .unwrap_or_else(|| panic!("no error in {}", answer.body))
}

fn assert_refused(answer: &Answer, code: &str) {
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
    assert_eq!(error_code(answer), code, "{}", answer.body);
}

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    keys
}

fn unzip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    (0..archive.len())
        .map(|i| {
            let mut file = archive.by_index(i).unwrap();
            let mut content = Vec::new();
            file.read_to_end(&mut content).unwrap();
            (file.name().unwrap().into_owned(), content)
        })
        .collect()
}

// ---- authentication and references ----------------------------------------------------------

#[tokio::test]
async fn requests_without_a_valid_token_get_an_empty_401() {
    let env = Env::start().await;
    let path = format!("{V3}/sync/references/company-token");
    for token in [None, Some("not-a-token")] {
        let answer = env.call_as(token, Method::POST, &path, None).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert_eq!(answer.body, Value::Null, "empty body");
        assert_eq!(answer.headers["www-authenticate"], "Bearer");
    }
    let upload = env
        .upload_as("nope", "document-content", "documentContent", "a.pdf", sample_pdf("x", 1))
        .await;
    assert_eq!(upload.status, StatusCode::UNAUTHORIZED);
    // An unknown route is 404 whatever the authentication, as in ASP.NET.
    let unknown = env.call_as(None, Method::GET, "/api/v3/nothing", None).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_token_names_its_company() {
    let env = Env::start().await;
    let path = format!("{V3}/sync/references/company-token");
    let a = env.call_as(Some(DEFAULT_TOKEN), Method::POST, &path, None).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(keys(&a.body), ["errors", "response"]);
    assert!(a.body["errors"].is_null());
    assert_eq!(keys(&a.body["response"]), ["companyBin", "companyId", "companyName", "id"]);
    assert_eq!(a.body["response"]["companyBin"], SENDER_BIN);
    let b = env.call_as(Some(COUNTERPARTY_TOKEN), Method::POST, &path, None).await;
    assert_eq!(b.body["response"]["companyBin"], COUNTERPARTY_BIN);

    let employees = env
        .post(&format!("{V3}/sync/references/company-employees"), &json!({"skip": 0, "top": 10}))
        .await;
    let page = &employees.body["response"];
    assert_eq!(
        (page["totalSize"].clone(), page["skip"].clone(), page["top"].clone()),
        (json!(1), json!(0), json!(10))
    );
    assert_eq!(page["pageItems"][0]["id"], SENDER_EMPLOYEE_ID);
    assert_eq!(page["pageItems"][0]["nationalIdentificationNumber"].as_str().unwrap().len(), 12);
    let permission = env
        .get_as(
            DEFAULT_TOKEN,
            &format!("{V3}/sync/references/company-employees/permission/{SENDER_EMPLOYEE_ID}"),
        )
        .await;
    assert_eq!(permission.body["response"]["employeeId"], SENDER_EMPLOYEE_ID);
    assert!(!permission.body["response"]["accountPermissions"].as_array().unwrap().is_empty());
    let foreign = env
        .get_as(
            DEFAULT_TOKEN,
            &format!(
                "{V3}/sync/references/company-employees/permission/{COUNTERPARTY_EMPLOYEE_ID}"
            ),
        )
        .await;
    assert_refused(&foreign, "RESOURCE_NOT_FOUND");
}

// ---- blobs ----------------------------------------------------------------------------------

#[tokio::test]
async fn uploads_answer_the_blob_in_the_envelope() {
    let env = Env::start().await;
    let pdf = sample_pdf("Договор", 1);
    let answer = env.upload_document("contract.pdf", pdf.clone()).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert!(answer.body["errors"].is_null());
    let blob = &answer.body["response"];
    assert_eq!(
        keys(blob),
        ["blobId", "createdOn", "extension", "fileLength", "fileName", "mimeType"]
    );
    assert_eq!(blob["blobId"].as_str().unwrap().len(), 36);
    assert_eq!(
        (blob["fileName"].as_str(), blob["extension"].as_str()),
        (Some("contract.pdf"), Some(".pdf"))
    );
    assert_eq!(blob["mimeType"], "application/pdf");
    assert_eq!(blob["fileLength"], json!(pdf.len().div_ceil(1024)), "kilobytes");
    let created_on = blob["createdOn"].as_i64().unwrap();
    assert!((created_on - chrono::Utc::now().timestamp()).abs() < 60, "epoch seconds");

    for name in ["a.doc", "b.DOCX", "c.xls", "d.xlsx", "e.txt"] {
        assert_eq!(
            env.upload_document(name, b"content".to_vec()).await.status,
            StatusCode::OK,
            "{name}"
        );
    }
}

#[tokio::test]
async fn uploads_are_refused_by_extension_size_and_content() {
    let env = Env::start().await;
    assert_refused(
        &env.upload_document("tool.exe", b"MZ".to_vec()).await,
        "UPLOADED_FILE_EXTENSION_ERROR",
    );
    assert_refused(
        &env.upload_document("noextension", b"x".to_vec()).await,
        "UPLOADED_FILE_EXTENSION_ERROR",
    );
    let big = vec![b'x'; 16 * 1024 * 1024];
    assert_refused(&env.upload_document("big.pdf", big).await, "UPLOADED_FILE_SIZE_ERROR");

    let signature = |name: &'static str, bytes: Vec<u8>| {
        env.upload_as(DEFAULT_TOKEN, "document-signature-content", "signatureContent", name, bytes)
    };
    assert_refused(
        &signature("sig.p7s", sign(b"x", CmsForm::Attached)).await,
        "UPLOADED_FILE_EXTENSION_ERROR",
    );
    assert_refused(
        &signature("sig.cms", b"not a cms".to_vec()).await,
        "UPLOADED_FILE_CONTENT_PARSING_ERROR",
    );
    // NCALayer answers base64; uploading the text instead of the decoded bytes is refused.
    let b64 = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        sign(b"x", CmsForm::Attached),
    );
    assert_refused(
        &signature("sig.cms", b64.into_bytes()).await,
        "UPLOADED_FILE_CONTENT_PARSING_ERROR",
    );

    let wrong_part =
        env.upload_as(DEFAULT_TOKEN, "document-content", "file", "a.pdf", b"%PDF".to_vec()).await;
    assert_refused(&wrong_part, "VALIDATION_ERROR");
    let not_multipart = env.post(&format!("{V3}/sync/blobs/document-content"), &json!({})).await;
    assert_refused(&not_multipart, "VALIDATION_ERROR");
}

// ---- create and route -------------------------------------------------------------------------

#[tokio::test]
async fn create_answers_a_bare_draft() {
    let env = Env::start().await;
    let blob =
        env.upload_document("contract.pdf", sample_pdf("x", 1)).await.body["response"]["blobId"]
            .clone();
    let created = env
        .post(
            &format!("{V3}/sync/external/outbox/document/create"),
            &create_body(blob.as_str().unwrap()),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    assert_eq!(
        keys(&created.body),
        [
            "createdOn",
            "documentAuthorEmployeeId",
            "documentDate",
            "documentDirection",
            "documentGroup",
            "documentName",
            "documentNumber",
            "documentStatus",
            "id"
        ]
    );
    assert_eq!(created.body["documentStatus"], "DRAFT");
    assert_eq!(created.body["documentDirection"], "Outbox");
    assert_eq!(created.body["documentGroup"], "Purchase");
    assert_eq!(created.body["documentDate"], 1718780400);
    assert_eq!(created.body["documentName"], "Договор 1");
    let id = created.body["id"].as_str().unwrap();
    assert_eq!(env.status_of(DEFAULT_TOKEN, id).await, "DRAFT");
}

#[tokio::test]
async fn invalid_creates_are_validation_errors_not_500s() {
    let env = Env::start().await;
    let blob =
        env.upload_document("contract.pdf", sample_pdf("x", 1)).await.body["response"]["blobId"]
            .as_str()
            .unwrap()
            .to_owned();
    let path = format!("{V3}/sync/external/outbox/document/create");
    let mut cases = Vec::new();
    let mut russian_group = create_body(&blob);
    russian_group["documentMetadata"]["documentGroup"] = json!("Договоры");
    cases.push(russian_group);
    let mut no_group = create_body(&blob);
    no_group["documentMetadata"].as_object_mut().unwrap().remove("documentGroup");
    cases.push(no_group);
    let mut no_name = create_body(&blob);
    no_name["documentMetadata"].as_object_mut().unwrap().remove("documentName");
    cases.push(no_name);
    let mut iso_date = create_body(&blob);
    iso_date["documentMetadata"]["documentDate"] = json!("2024-06-19T07:00:00Z");
    cases.push(iso_date);
    let mut no_files = create_body(&blob);
    no_files["documentBinaryContents"] = json!([]);
    cases.push(no_files);
    for body in cases {
        assert_refused(&env.post(&path, &body).await, "VALIDATION_ERROR");
    }
    let malformed = env
        .http
        .post(env.url(&path))
        .bearer_auth(DEFAULT_TOKEN)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_refused(&Env::answer(malformed).await, "VALIDATION_ERROR");
    let unknown_blob = create_body("3f2b8c1e-5a47-4d2e-9b6a-1c0d2e3f4a50");
    assert_refused(&env.post(&path, &unknown_blob).await, "RESOURCE_NOT_FOUND");

    // Property names in any casing, enums in any casing; unknown properties are ignored.
    let loose = json!({"DocumentMetadata": {"DOCUMENTNAME": "A", "documentnumber": "1",
        "documentDate": 1718780400, "documentGroup": "accounting", "extra": true},
        "documentBinaryContents": [{"BlobId": blob}], "isSenderPayer": true});
    let created = env.post(&path, &loose).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    assert_eq!(created.body["documentGroup"], "Accounting");
    assert_eq!(created.body["documentAuthorEmployeeId"], "00000000-0000-0000-0000-000000000000");
}

#[tokio::test]
async fn a_quick_route_keeps_the_draft_and_only_drafts_take_one() {
    let env = Env::start().await;
    let id = env.draft().await;
    let routed = env.quick_route(&id).await;
    assert_eq!(routed.status, StatusCode::OK, "{}", routed.body);
    assert_eq!(routed.body, json!({}));
    assert_eq!(env.status_of(DEFAULT_TOKEN, &id).await, "DRAFT");

    let details = env
        .get_as(DEFAULT_TOKEN, &format!("{V3}/sync/external/documents-query/single/outbox/{id}"))
        .await;
    let node = &details.body["response"]["documentRoute"]["external"]["nodes"][0];
    assert_eq!(node["counterpartyCompanyBin"], COUNTERPARTY_BIN);
    assert_eq!(node["isSignRequired"], true);
    assert_eq!(node["counterpartyCompanyEmails"], json!(["b@example.kz"]));
    assert_eq!(node["state"]["status"], "NotStarted");

    let mut bad_bin = quick_route_body(&id);
    bad_bin["route"]["external"]["nodes"][0]["counterpartyBin"] = json!("12345");
    assert_refused(
        &env.post(&format!("{V3}/sync/external/outbox/route/quick-route/create"), &bad_bin).await,
        "VALIDATION_ERROR",
    );

    env.sender_signs(&id, CmsForm::Attached).await;
    assert_refused(&env.quick_route(&id).await, "VALIDATION_ERROR");
    let full = json!({"documentId": id, "employeeId": SENDER_EMPLOYEE_ID, "route": {
        "external": quick_route_body(&id)["route"]["external"].clone(),
        "internal": {"routeActionOrderingType": "SEQUENTIAL",
                     "nodes": [{"order": 0, "employeeId": SENDER_EMPLOYEE_ID, "requiredAction": "APPROVE"}]}}});
    assert_refused(
        &env.post(&format!("{V3}/sync/external/outbox/route/create"), &full).await,
        "VALIDATION_ERROR",
    );
}

#[tokio::test]
async fn a_full_route_carries_the_senders_internal_route() {
    let env = Env::start().await;
    let id = env.draft().await;
    let full = json!({"documentId": id, "employeeId": SENDER_EMPLOYEE_ID, "route": {
        "external": quick_route_body(&id)["route"]["external"].clone(),
        "internal": {"routeActionOrderingType": "SEQUENTIAL",
                     "nodes": [{"order": 0, "employeeId": SENDER_EMPLOYEE_ID, "requiredAction": "APPROVE"}]}}});
    let routed = env.post(&format!("{V3}/sync/external/outbox/route/create"), &full).await;
    assert_eq!((routed.status, routed.body.clone()), (StatusCode::OK, json!({})));
    let details = env
        .get_as(DEFAULT_TOKEN, &format!("{V3}/sync/external/documents-query/single/outbox/{id}"))
        .await;
    let internal = &details.body["response"]["documentRoute"]["internal"];
    assert_eq!(internal["routeActionOrderingType"], "SEQUENTIAL");
    assert_eq!(internal["nodes"][0]["requiredAction"], "APPROVE");
}

// ---- signing ----------------------------------------------------------------------------------

#[tokio::test]
async fn content_to_sign_is_a_zip_of_the_originals_behind_bearer() {
    let env = Env::start().await;
    let pdf = sample_pdf("Договор 1", 1);
    let first =
        env.upload_document("contract.pdf", pdf.clone()).await.body["response"]["blobId"].clone();
    let second =
        env.upload_document("annex.txt", b"annex".to_vec()).await.body["response"]["blobId"]
            .clone();
    let mut body = create_body(first.as_str().unwrap());
    body["documentBinaryContents"] = json!([{"blobId": first}, {"blobId": second}]);
    let id =
        env.post(&format!("{V3}/sync/external/outbox/document/create"), &body).await.body["id"]
            .as_str()
            .unwrap()
            .to_owned();

    let generated = env.generate(DEFAULT_TOKEN, "outbox", &id, SENDER_EMPLOYEE_ID).await;
    assert_eq!(generated.status, StatusCode::OK, "{}", generated.body);
    assert_eq!(
        keys(&generated.body),
        ["disposeOn", "documentId", "downloadLink", "idempotencyTicket"]
    );
    assert_eq!(generated.body["documentId"], id.as_str());
    let link = generated.body["downloadLink"].as_str().unwrap();
    let prefix = format!("{}/idocs/api/v3/sync/sign-content/download/", env.sandbox.base_url());
    assert!(link.starts_with(&prefix), "{link}");
    let dispose_on = generated.body["disposeOn"].as_i64().unwrap();
    let ttl = dispose_on - chrono::Utc::now().timestamp();
    assert!((14 * 60..=15 * 60).contains(&ttl), "15 minutes, in seconds: {ttl}");

    let (status, zip) = env.bytes(DEFAULT_TOKEN, link).await;
    assert_eq!(status, StatusCode::OK);
    assert!(zip.starts_with(b"PK\x03\x04"));
    assert_eq!(
        unzip(&zip),
        [("contract.pdf".to_owned(), pdf), ("annex.txt".to_owned(), b"annex".to_vec())]
    );

    let anonymous = env.http.get(link).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let (other_company, _) = env.bytes(COUNTERPARTY_TOKEN, link).await;
    assert_eq!(other_company, StatusCode::NOT_FOUND);
    // The same content every time, so a signature over an earlier download still matches.
    let again = env.generate(DEFAULT_TOKEN, "outbox", &id, SENDER_EMPLOYEE_ID).await;
    let (_, zip_again) =
        env.bytes(DEFAULT_TOKEN, again.body["downloadLink"].as_str().unwrap()).await;
    assert_eq!(zip_again, zip);
    assert_ne!(again.body["idempotencyTicket"], generated.body["idempotencyTicket"]);

    let foreign_employee =
        env.generate(DEFAULT_TOKEN, "outbox", &id, COUNTERPARTY_EMPLOYEE_ID).await;
    assert_refused(&foreign_employee, "VALIDATION_ERROR");
    let not_mine = env.generate(COUNTERPARTY_TOKEN, "outbox", &id, COUNTERPARTY_EMPLOYEE_ID).await;
    assert_refused(&not_mine, "RESOURCE_NOT_FOUND");
}

#[tokio::test]
async fn the_full_flow_sends_then_the_counterparty_finishes_it() {
    let env = Env::start().await;
    let id = env.routed().await;
    let (ticket, blob) = env.sender_signs(&id, CmsForm::Attached).await;
    assert_eq!(env.status_of(DEFAULT_TOKEN, &id).await, "SENT_BY_SENDER");

    // §7.4 #13: B sees it in its inbox.
    let inbox = env
        .post_b(
            &format!("{V3}/sync/external/documents-query/inbox"),
            &json!({"documentStatuses": ["IN_NEW"], "skip": 0, "top": 10}),
        )
        .await;
    assert_eq!(inbox.status, StatusCode::OK, "{}", inbox.body);
    let page = &inbox.body["response"];
    assert_eq!(
        (page["totalSize"].clone(), page["skip"].clone(), page["top"].clone()),
        (json!(1), json!(0), json!(10))
    );
    let item = &page["pageItems"][0];
    assert_eq!(
        (item["id"].as_str(), item["documentDirection"].as_str()),
        (Some(id.as_str()), Some("Inbox"))
    );
    assert_eq!(item["documentStatus"], "IN_NEW");
    assert_eq!(item["documentRoute"]["external"]["nodes"][0]["state"]["status"], "Active");
    assert_eq!(env.status_of(COUNTERPARTY_TOKEN, &id).await, "IN_NEW");
    let single = env
        .get_as(
            COUNTERPARTY_TOKEN,
            &format!("{V3}/sync/external/documents-query/single/inbox/{id}"),
        )
        .await;
    assert_eq!(single.body["response"]["documentDirection"], "Inbox");
    let wrong_box = env
        .get_as(
            COUNTERPARTY_TOKEN,
            &format!("{V3}/sync/external/documents-query/single/outbox/{id}"),
        )
        .await;
    assert_eq!((wrong_box.status, wrong_box.body), (StatusCode::NOT_FOUND, json!({})));

    let state = env.control.idocs_document(&id).await.unwrap();
    assert_eq!(state["signature_count"], 1);
    let signature = &state["signatures"][0];
    assert_eq!(
        (signature["form"].as_str(), signature["ticket"].as_str()),
        (Some("attached"), Some(ticket.as_str()))
    );
    assert_eq!(signature["blob_id"], blob.as_str());
    assert_eq!(signature["signer_subject"], "CN=Айгерим Сатпаева");
    assert_eq!(state["route"]["nodes"][0]["recipient_status"], "IN_NEW");

    let signed = env.control.idocs_counterparty_sign(&id).await.unwrap();
    assert_eq!(signed["stage"], "finished");
    assert_eq!(signed["signature_count"], 2);
    assert_eq!(signed["signatures"][1]["simulated"], true);
    assert_eq!(env.status_of(DEFAULT_TOKEN, &id).await, "FINISHED");
    assert_eq!(env.status_of(COUNTERPARTY_TOKEN, &id).await, "FINISHED");
    let again = env.control.idocs_counterparty_sign(&id).await.unwrap_err();
    assert_eq!(again.status(), Some(409));
}

#[tokio::test]
async fn the_counterparty_can_sign_through_its_inbox() {
    let env = Env::start().await;
    let id = env.routed().await;
    env.sender_signs(&id, CmsForm::Detached).await;
    // T9: an internal route first.
    let route = json!({"documentId": id, "employeeId": COUNTERPARTY_EMPLOYEE_ID, "route": {"internal": {
        "routeActionOrderingType": "NONE", "nodes": [{"order": 0, "employeeId": COUNTERPARTY_EMPLOYEE_ID, "requiredAction": "SIGN"}]}}});
    let routed = env.post_b(&format!("{V3}/sync/external/inbox/route/create"), &route).await;
    assert_eq!(routed.status, StatusCode::OK, "{}", routed.body);
    assert_eq!(env.status_of(COUNTERPARTY_TOKEN, &id).await, "IN_PROCESS_BY_RECIPIENT");

    let generated = env.generate(COUNTERPARTY_TOKEN, "inbox", &id, COUNTERPARTY_EMPLOYEE_ID).await;
    assert_eq!(generated.status, StatusCode::OK, "{}", generated.body);
    let (_, content) =
        env.bytes(COUNTERPARTY_TOKEN, generated.body["downloadLink"].as_str().unwrap()).await;
    let blob = env.upload_signature_as(COUNTERPARTY_TOKEN, sign(&content, CmsForm::Attached)).await;
    let ticket = generated.body["idempotencyTicket"].as_str().unwrap();
    let saved = env
        .save(COUNTERPARTY_TOKEN, "inbox", &id, COUNTERPARTY_EMPLOYEE_ID, &blob, Some(ticket))
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    assert_eq!(env.status_of(DEFAULT_TOKEN, &id).await, "FINISHED");
    let state = env.control.idocs_document(&id).await.unwrap();
    let forms: Vec<&str> = state["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["form"].as_str().unwrap())
        .collect();
    assert_eq!(forms, ["detached", "attached"]);
}

#[tokio::test]
async fn a_save_is_idempotent_on_its_ticket() {
    let env = Env::start().await;
    let id = env.routed().await;
    let (ticket, blob) = env.sender_signs(&id, CmsForm::Attached).await;
    let replay =
        env.save(DEFAULT_TOKEN, "outbox", &id, SENDER_EMPLOYEE_ID, &blob, Some(&ticket)).await;
    assert_eq!((replay.status, replay.body), (StatusCode::OK, Value::Null), "200, empty body");
    assert_eq!(env.status_of(DEFAULT_TOKEN, &id).await, "SENT_BY_SENDER");
    assert_eq!(env.control.idocs_document(&id).await.unwrap()["signature_count"], 1);

    let other_blob =
        env.upload_signature_as(DEFAULT_TOKEN, env_zip_signature(&env, &id).await).await;
    let other = env
        .save(DEFAULT_TOKEN, "outbox", &id, SENDER_EMPLOYEE_ID, &other_blob, Some(&ticket))
        .await;
    assert_refused(&other, "VALIDATION_ERROR");
    let bogus =
        env.save(DEFAULT_TOKEN, "outbox", &id, SENDER_EMPLOYEE_ID, &blob, Some("bogus")).await;
    assert_refused(&bogus, "VALIDATION_ERROR");
}

/// A fresh attached signature over `id`'s content to sign.
async fn env_zip_signature(env: &Env, id: &str) -> Vec<u8> {
    let generated = env.generate(DEFAULT_TOKEN, "outbox", id, SENDER_EMPLOYEE_ID).await;
    let (_, content) =
        env.bytes(DEFAULT_TOKEN, generated.body["downloadLink"].as_str().unwrap()).await;
    sign(&content, CmsForm::Attached)
}

#[tokio::test]
async fn unknown_expired_and_foreign_tickets_are_refused() {
    let env = Env::start().await;
    let id = env.routed().await;
    let other = env.routed().await;
    let signature = env_zip_signature(&env, &id).await;
    let blob = env.upload_signature_as(DEFAULT_TOKEN, signature).await;

    let unknown =
        env.save(DEFAULT_TOKEN, "outbox", &id, SENDER_EMPLOYEE_ID, &blob, Some("bogus")).await;
    assert_refused(&unknown, "VALIDATION_ERROR");
    let foreign = env.generate(DEFAULT_TOKEN, "outbox", &other, SENDER_EMPLOYEE_ID).await;
    let foreign_ticket = foreign.body["idempotencyTicket"].as_str().unwrap();
    let mismatch = env
        .save(DEFAULT_TOKEN, "outbox", &id, SENDER_EMPLOYEE_ID, &blob, Some(foreign_ticket))
        .await;
    assert_refused(&mismatch, "VALIDATION_ERROR");

    let generated = env.generate(DEFAULT_TOKEN, "outbox", &id, SENDER_EMPLOYEE_ID).await;
    let ticket = generated.body["idempotencyTicket"].as_str().unwrap();
    env.control.idocs_expire_tickets().await.unwrap();
    let expired =
        env.save(DEFAULT_TOKEN, "outbox", &id, SENDER_EMPLOYEE_ID, &blob, Some(ticket)).await;
    assert_refused(&expired, "VALIDATION_ERROR");
    assert!(error_description(&expired).contains("expired"));
    let (gone, _) =
        env.bytes(DEFAULT_TOKEN, generated.body["downloadLink"].as_str().unwrap()).await;
    assert_eq!(gone, StatusCode::NOT_FOUND, "the link expires with its ticket");

    // A fresh ticket works with the same signature: the content to sign did not change.
    let fresh = env.generate(DEFAULT_TOKEN, "outbox", &id, SENDER_EMPLOYEE_ID).await;
    let saved = env
        .save(
            DEFAULT_TOKEN,
            "outbox",
            &id,
            SENDER_EMPLOYEE_ID,
            &blob,
            fresh.body["idempotencyTicket"].as_str(),
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
}

fn error_description(answer: &Answer) -> &str {
    answer.body["errors"][0]["errorDescription"].as_str().unwrap_or("")
}

#[tokio::test]
async fn signatures_over_anything_but_the_zip_are_refused() {
    let env = Env::start().await;
    let id = env.routed().await;
    let generated = env.generate(DEFAULT_TOKEN, "outbox", &id, SENDER_EMPLOYEE_ID).await;
    let ticket = generated.body["idempotencyTicket"].as_str().unwrap();
    // Signing the uploaded PDF instead of the downloaded ZIP: RB's classic mistake.
    let pdf = sample_pdf("Договор 1", 1);
    for form in [CmsForm::Attached, CmsForm::Detached] {
        let blob = env.upload_signature_as(DEFAULT_TOKEN, sign(&pdf, form)).await;
        let refused =
            env.save(DEFAULT_TOKEN, "outbox", &id, SENDER_EMPLOYEE_ID, &blob, Some(ticket)).await;
        assert_refused(&refused, "VALIDATION_ERROR");
    }
    assert_eq!(env.status_of(DEFAULT_TOKEN, &id).await, "DRAFT");
    assert_eq!(env.control.idocs_document(&id).await.unwrap()["signature_count"], 0);

    // The document blob is not a signature, and a save needs a route.
    let pdf_blob = env.upload_document("c.pdf", pdf).await.body["response"]["blobId"]
        .as_str()
        .unwrap()
        .to_owned();
    let wrong_kind =
        env.save(DEFAULT_TOKEN, "outbox", &id, SENDER_EMPLOYEE_ID, &pdf_blob, Some(ticket)).await;
    assert_refused(&wrong_kind, "VALIDATION_ERROR");
    let unrouted = env.draft().await;
    let generated = env.generate(DEFAULT_TOKEN, "outbox", &unrouted, SENDER_EMPLOYEE_ID).await;
    let (_, content) =
        env.bytes(DEFAULT_TOKEN, generated.body["downloadLink"].as_str().unwrap()).await;
    let blob = env.upload_signature_as(DEFAULT_TOKEN, sign(&content, CmsForm::Attached)).await;
    let refused = env
        .save(
            DEFAULT_TOKEN,
            "outbox",
            &unrouted,
            SENDER_EMPLOYEE_ID,
            &blob,
            generated.body["idempotencyTicket"].as_str(),
        )
        .await;
    assert_refused(&refused, "VALIDATION_ERROR");
    assert!(error_description(&refused).contains("route"));
}

#[tokio::test]
async fn rejection_carries_its_reason_to_both_sides() {
    let env = Env::start().await;
    let id = env.routed().await;
    env.sender_signs(&id, CmsForm::Attached).await;
    let rejected = env.control.idocs_counterparty_reject(&id, "Неверная сумма").await.unwrap();
    assert_eq!(rejected["stage"], "rejected");
    assert_eq!(env.status_of(DEFAULT_TOKEN, &id).await, "REJECTED_BY_RECIPIENT");
    assert_eq!(env.status_of(COUNTERPARTY_TOKEN, &id).await, "REJECTED_BY_RECIPIENT");
    let details = env
        .get_as(DEFAULT_TOKEN, &format!("{V3}/sync/external/documents-query/single/outbox/{id}"))
        .await;
    let state = &details.body["response"]["documentRoute"]["external"]["nodes"][0]["state"];
    assert_eq!(state["status"], "CompletedWithFail");
    assert_eq!(state["rejectMetadata"]["rejectReason"], "Неверная сумма");
    assert!(state["completedOn"].is_i64());
    assert_eq!(
        env.control.idocs_counterparty_reject(&id, "again").await.unwrap_err().status(),
        Some(409)
    );

    let recalled = env.routed().await;
    assert_eq!(
        env.control.idocs_recall(&recalled).await.unwrap_err().status(),
        Some(409),
        "a draft"
    );
    env.sender_signs(&recalled, CmsForm::Attached).await;
    env.control.idocs_recall(&recalled).await.unwrap();
    assert_eq!(env.status_of(COUNTERPARTY_TOKEN, &recalled).await, "RECALLED_BY_SENDER");
}

// ---- queries and downloads ------------------------------------------------------------------

#[tokio::test]
async fn single_document_gets_of_unknown_documents_are_404_empty() {
    let env = Env::start().await;
    let random = "5f0c2a1b-9d8e-4f7a-8b6c-5d4e3f2a1b0c";
    for path in [
        format!("{V3}/sync/single/document/GetDocumentStatusByDocumentId/{random}"),
        format!("{V3}/sync/single/document/GetDocumentPrintFormByDocumentId/{random}"),
        format!("{V3}/sync/single/document/GetDocumentArchiveByDocumentId/{random}"),
        format!("{V3}/sync/external/documents-query/single/outbox/{random}"),
        format!("{V3}/sync/external/documents-query/single/inbox/{random}"),
        format!("{V3}/sync/single/document/GetDocumentStatusByDocumentId/not-a-guid"),
    ] {
        let answer = env.get_as(DEFAULT_TOKEN, &path).await;
        assert_eq!((answer.status, answer.body), (StatusCode::NOT_FOUND, json!({})), "{path}");
    }
    // A draft is its sender's only.
    let id = env.draft().await;
    assert_eq!(env.status_as(COUNTERPARTY_TOKEN, &id).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn print_form_is_a_pdf_and_archive_a_zip_of_everything() {
    let env = Env::start().await;
    let id = env.routed().await;
    env.sender_signs(&id, CmsForm::Attached).await;
    env.control.idocs_counterparty_sign(&id).await.unwrap();

    let print_path = format!("{V3}/sync/single/document/GetDocumentPrintFormByDocumentId/{id}");
    let (status, print) = env.bytes(DEFAULT_TOKEN, &env.url(&print_path)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(print.starts_with(b"%PDF-"));
    // The original's page, then the signature sheet.
    assert_eq!(pdf_page_count(&print).unwrap(), 2);
    let text = lopdf::Document::load_mem(&print).unwrap().extract_text(&[2]).unwrap();
    for expected in [
        "print form",
        "Dogovor 1",
        SENDER_BIN,
        COUNTERPARTY_BIN,
        "CN=Aygerim Satpaeva",
        "CMS, attached",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in {text}");
    }
    let (status, _) = env.bytes(COUNTERPARTY_TOKEN, &env.url(&print_path)).await;
    assert_eq!(status, StatusCode::OK, "the recipient downloads it too");

    let archive_path = format!("{V3}/sync/single/document/GetDocumentArchiveByDocumentId/{id}");
    let (status, archive) = env.bytes(DEFAULT_TOKEN, &env.url(&archive_path)).await;
    assert_eq!(status, StatusCode::OK);
    let entries = unzip(&archive);
    let names: Vec<&str> = entries.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        ["contract.pdf", "D-1_print_form.pdf", &format!("signature_1_{SENDER_BIN}.cms")]
    );
    assert!(entries[1].1.starts_with(b"%PDF-"));
    assert!(
        signbridge_signer::verify(&entries[2].1, None).is_ok(),
        "the attached .cms as uploaded"
    );
}

#[tokio::test]
async fn lists_are_paginated() {
    let env = Env::start().await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(env.draft().await);
    }
    let path = format!("{V3}/sync/external/documents-query/outbox");
    let first = env.post(&path, &json!({"skip": 0, "top": 2})).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let page = &first.body["response"];
    assert_eq!(keys(page), ["pageItems", "skip", "top", "totalSize"]);
    assert_eq!(
        (page["totalSize"].clone(), page["pageItems"].as_array().unwrap().len()),
        (json!(3), 2)
    );
    assert_eq!(page["pageItems"][0]["id"], ids[2].as_str(), "newest first");
    assert_eq!(page["pageItems"][0]["documentRoute"], json!({"external": null, "internal": null}));
    let second = env.post(&path, &json!({"skip": 2, "top": 2})).await;
    assert_eq!(second.body["response"]["pageItems"][0]["id"], ids[0].as_str());
    let default = env.post(&path, &json!({})).await;
    assert_eq!(default.body["response"]["top"], 10);
    let empty = env.post(&path, &json!({"documentStatuses": ["FINISHED"]})).await;
    assert_eq!(empty.body["response"]["totalSize"], 0);
    assert_refused(&env.post(&path, &json!({"skip": -1})).await, "VALIDATION_ERROR");
    assert_eq!(env.post_b(&path, &json!({})).await.body["response"]["totalSize"], 0);
}

/// Reconciliation after a lost reply: the outbox query (§2.4, `QueryDocumentsVM`) lists the
/// draft the failed create left, with the number and date the client sent.
#[tokio::test]
async fn the_outbox_query_finds_a_draft_whose_create_reply_was_lost() {
    let env = Env::start().await;
    let upload = env.upload_document("contract.pdf", sample_pdf("Договор 1", 1)).await;
    let blob = upload.body["response"]["blobId"].as_str().unwrap().to_owned();
    let create = format!("/idocs{V3}/sync/external/outbox/document/create");
    env.control
        .add_fault(Fault::status(create, 500).on_method("POST").after_commit())
        .await
        .unwrap();
    let failed =
        env.post(&format!("{V3}/sync/external/outbox/document/create"), &create_body(&blob)).await;
    assert_eq!(failed.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(error_code(&failed), "INTERNAL_SERVER_ERROR");

    let path = format!("{V3}/sync/external/documents-query/outbox");
    let window = json!({"documentStatuses": ["DRAFT"], "documentDateFrom": 1718780400,
        "documentDateTo": 1718780400, "skip": 0, "top": 10});
    let found = env.post(&path, &window).await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.body);
    let page = &found.body["response"];
    assert_eq!(page["totalSize"], 1);
    let row = &page["pageItems"][0];
    assert_eq!(row["documentNumber"], "D-1");
    assert_eq!(row["documentDate"], 1718780400);
    assert_eq!(row["documentName"], "Договор 1");
    assert_eq!(row["documentStatus"], "DRAFT");
    assert_eq!(row["documentDirection"], "Outbox");
    let kept = env.control.idocs_documents().await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0]["id"], row["id"]);

    let before = json!({"documentDateTo": 1718780399});
    assert_eq!(env.post(&path, &before).await.body["response"]["totalSize"], 0);
    let sent = json!({"documentStatuses": ["SENT_BY_SENDER"]});
    assert_eq!(env.post(&path, &sent).await.body["response"]["totalSize"], 0);
}

// ---- async operations -----------------------------------------------------------------------

#[tokio::test]
async fn a_bulk_create_completes_on_the_next_poll() {
    let env = Env::start().await;
    let blob =
        env.upload_document("contract.pdf", sample_pdf("x", 1)).await.body["response"]["blobId"]
            .clone();
    let push_path = format!("{V3}/async/bulk/external/outbox/document/create");
    let pushed = env
        .post(&push_path, &json!({"operations": [{"data": create_body(blob.as_str().unwrap())}]}))
        .await;
    assert_eq!(pushed.status, StatusCode::OK, "{}", pushed.body);
    let operation = &pushed.body["operations"][0];
    assert_eq!(
        keys(operation),
        ["completedOn", "createdOn", "data", "operationErrors", "operationId", "operationStatus"]
    );
    assert_eq!(
        (operation["operationStatus"].clone(), operation["data"].clone()),
        (json!("Created"), json!({}))
    );
    let operation_id = operation["operationId"].as_str().unwrap();

    let status = env.post(&format!("{push_path}/status"),
        &json!({"operations": [{"operationId": operation_id}, {"operationId": "5f0c2a1b-9d8e-4f7a-8b6c-5d4e3f2a1b0c"}]})).await;
    assert_eq!(status.status, StatusCode::OK, "{}", status.body);
    let done = &status.body["operations"][0];
    assert_eq!(done["operationStatus"], "CompletedWithOk");
    assert!(done["completedOn"].is_i64());
    assert_eq!(done["data"]["documentStatus"], "DRAFT");
    let id = done["data"]["id"].as_str().unwrap();
    assert_eq!(env.status_of(DEFAULT_TOKEN, id).await, "DRAFT");
    assert_eq!(status.body["operations"][1]["operationStatus"], "NotFound");

    let registry =
        env.post(&format!("{V3}/sync/bulk/operations"), &json!({"skip": 0, "top": 10})).await;
    assert_eq!(registry.body["response"]["totalSize"], 1);
    assert_eq!(registry.body["response"]["pageItems"][0]["operationId"], operation_id);
}

#[tokio::test]
async fn a_delayed_operation_stays_in_processing_until_completed() {
    let config =
        IDocsConfig { async_delay: std::time::Duration::from_secs(3600), ..IDocsConfig::default() };
    let env = Env::with(config).await;
    let id = env.draft().await;
    let push_path = format!("{V3}/async/bulk/external/outbox/route/quick-route/create");
    let pushed = env
        .post(&push_path, &json!({"operations": [{"data": quick_route_body(&id)}, {"data": {}}]}))
        .await;
    let ids: Vec<Value> = pushed.body["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| json!({"operationId": o["operationId"]}))
        .collect();
    let status = env.post(&format!("{push_path}/status"), &json!({"operations": ids})).await;
    assert_eq!(status.body["operations"][0]["operationStatus"], "InProcessing");
    assert_eq!(env.control.idocs_complete_operations().await.unwrap(), 2);
    let status = env.post(&format!("{push_path}/status"), &json!({"operations": ids})).await;
    assert_eq!(status.body["operations"][0]["operationStatus"], "CompletedWithOk");
    assert_eq!(status.body["operations"][0]["data"], json!({}));
    let failed = &status.body["operations"][1];
    assert_eq!(failed["operationStatus"], "CompletedWithProcessingError");
    assert_eq!(failed["operationErrors"][0]["errorCode"], "VALIDATION_ERROR");
    let details = env
        .get_as(DEFAULT_TOKEN, &format!("{V3}/sync/external/documents-query/single/outbox/{id}"))
        .await;
    assert!(details.body["response"]["documentRoute"]["external"].is_object());
}

#[tokio::test]
async fn bulk_download_links_serve_the_original() {
    let env = Env::start().await;
    let id = env.draft().await;
    let push_path = format!("{V3}/async/documents/download/bulk-download");
    let pushed = env.post(&push_path, &json!({"operations": [{"data": {"documentId": id}}]})).await;
    let operation_id = pushed.body["operations"][0]["operationId"].clone();
    let status = env
        .post(
            &format!("{push_path}/status"),
            &json!({"operations": [{"operationId": operation_id}]}),
        )
        .await;
    let data = &status.body["operations"][0]["data"];
    assert_eq!(keys(data), ["disposeOn", "documentId", "downloadLink"]);
    let response = env.http.get(data["downloadLink"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.bytes().await.unwrap().starts_with(b"%PDF-"));
}

// ---- control, faults and the request log ----------------------------------------------------

#[tokio::test]
async fn settings_change_at_run_time() {
    let env = Env::start().await;
    let config = env
        .control
        .idocs_set_config(json!({"ticket_ttl_secs": 60, "require_ticket": true}))
        .await
        .unwrap();
    assert_eq!(config["ticket_ttl_secs"], 60);
    assert_eq!(config["verify_signatures"], true);
    assert!(!config.to_string().contains(DEFAULT_TOKEN));
    let id = env.routed().await;
    let generated = env.generate(DEFAULT_TOKEN, "outbox", &id, SENDER_EMPLOYEE_ID).await;
    let ttl = generated.body["disposeOn"].as_i64().unwrap() - chrono::Utc::now().timestamp();
    assert!((50..=60).contains(&ttl), "{ttl}");
    let (_, content) =
        env.bytes(DEFAULT_TOKEN, generated.body["downloadLink"].as_str().unwrap()).await;
    let blob = env.upload_signature_as(DEFAULT_TOKEN, sign(&content, CmsForm::Detached)).await;
    assert_refused(
        &env.save(DEFAULT_TOKEN, "outbox", &id, SENDER_EMPLOYEE_ID, &blob, None).await,
        "VALIDATION_ERROR",
    );
    assert!(env.control.idocs_set_config(json!({"nope": 1})).await.is_err());
    assert_eq!(env.control.idocs_documents().await.unwrap().len(), 1);
}

#[tokio::test]
async fn faults_and_the_request_log_cover_idocs() {
    let env = Env::start().await;
    let path = format!("/idocs{V3}/sync/references/company-token");
    env.control.add_fault(Fault::status(&path, 503)).await.unwrap();
    let failed = env
        .call_as(
            Some(DEFAULT_TOKEN),
            Method::POST,
            &format!("{V3}/sync/references/company-token"),
            None,
        )
        .await;
    assert_eq!(failed.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(error_code(&failed), "INTERNAL_SERVER_ERROR");
    // Paths match in any casing, as ASP.NET routes them.
    let ok = env
        .call_as(Some(DEFAULT_TOKEN), Method::POST, "/API/V3/Sync/References/Company-Token", None)
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    let log = env.control.requests().await.unwrap();
    let statuses: Vec<Option<u16>> = log.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [Some(503), Some(200)]);
    assert!(log[0].fault.is_some());
}

#[tokio::test]
async fn the_control_sign_route_can_record_a_real_cms() {
    let env = Env::start().await;
    let id = env.routed().await;
    env.sender_signs(&id, CmsForm::Attached).await;
    let url =
        format!("{}/__sandbox/idocs/documents/{id}/counterparty-sign", env.sandbox.base_url());
    let b64 =
        |bytes: Vec<u8>| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes);

    let not_base64 = env.http.post(&url).json(&json!({"cms": "***"})).send().await.unwrap();
    assert_eq!(not_base64.status(), StatusCode::BAD_REQUEST);
    let over_the_pdf = sign(&sample_pdf("Договор 1", 1), CmsForm::Detached);
    let refused =
        env.http.post(&url).json(&json!({"cms": b64(over_the_pdf)})).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let unknown_bin =
        env.http.post(&url).json(&json!({"bin": "999999999999"})).send().await.unwrap();
    assert_eq!(unknown_bin.status(), StatusCode::NOT_FOUND);

    let archive_path = format!("{V3}/sync/single/document/GetDocumentArchiveByDocumentId/{id}");
    let generated = env.generate(DEFAULT_TOKEN, "outbox", &id, SENDER_EMPLOYEE_ID).await;
    let (_, to_sign) =
        env.bytes(DEFAULT_TOKEN, generated.body["downloadLink"].as_str().unwrap()).await;
    let signed = env
        .http
        .post(&url)
        .json(&json!({"cms": b64(sign(&to_sign, CmsForm::Detached))}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), StatusCode::OK);
    let state: Value = signed.json().await.unwrap();
    assert_eq!(state["stage"], "finished");
    assert_eq!(
        (state["signatures"][1]["form"].as_str(), state["signatures"][1]["simulated"].as_bool()),
        (Some("detached"), Some(false))
    );
    let (_, archive) = env.bytes(DEFAULT_TOKEN, &env.url(&archive_path)).await;
    let cms_files = unzip(&archive).into_iter().filter(|(name, _)| name.ends_with(".cms")).count();
    assert_eq!(cms_files, 2);
}

// ---- webhooks (§5) ---------------------------------------------------------------------------

mod webhooks {
    use std::time::Duration;

    use signbridge_sandbox::{CaptureReceiver, SenderId};

    use super::*;

    const SUBSCRIBE: &str = "/webhooks/document-events/subscription/document-status-changed-event";

    impl Env {
        async fn subscribe(&self, token: &str, url: &str) -> Answer {
            let path = format!("{}/idocs-webhooks/api/1{SUBSCRIBE}", self.sandbox.base_url());
            let request = self.http.post(path).bearer_auth(token);
            Env::answer(request.json(&json!({"subscriptionUrl": url})).send().await.unwrap()).await
        }
    }

    /// (document id, status) of each delivery received, in no particular order.
    fn statuses(receiver: &CaptureReceiver) -> Vec<(String, String)> {
        let mut seen: Vec<(String, String)> = receiver
            .received()
            .iter()
            .map(|c| {
                let body = c.json();
                assert!(body["eventId"].is_string() && body["createdOn"].is_string(), "{body}");
                (
                    body["documentId"].as_str().unwrap().into(),
                    body["documentStatus"].as_str().unwrap().into(),
                )
            })
            .collect();
        seen.sort();
        seen
    }

    #[tokio::test]
    async fn each_subscriber_gets_the_status_changes_it_sees() {
        let env = Env::start().await;
        let sender = CaptureReceiver::start().await.unwrap();
        let recipient = CaptureReceiver::start().await.unwrap();
        let unauthenticated = env
            .http
            .post(format!("{}/idocs-webhooks/api/1{SUBSCRIBE}", env.sandbox.base_url()))
            .json(&json!({"subscriptionUrl": sender.url("/x")}))
            .send()
            .await
            .unwrap();
        assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(env.subscribe(DEFAULT_TOKEN, "not a url").await.status, StatusCode::BAD_REQUEST);
        // An upsert: the second URL replaces the first.
        assert_eq!(
            env.subscribe(DEFAULT_TOKEN, &recipient.url("/old")).await.status,
            StatusCode::OK
        );
        assert_eq!(env.subscribe(DEFAULT_TOKEN, &sender.url("/a")).await.status, StatusCode::OK);
        assert_eq!(
            env.subscribe(COUNTERPARTY_TOKEN, &recipient.url("/b")).await.status,
            StatusCode::OK
        );

        let id = env.routed().await;
        env.sender_signs(&id, CmsForm::Attached).await;
        env.control.settle(SenderId::Idocs, Duration::from_secs(20)).await.unwrap();
        assert_eq!(statuses(&sender), vec![(id.clone(), "SENT_BY_SENDER".to_owned())]);
        assert_eq!(statuses(&recipient), vec![(id.clone(), "IN_NEW".to_owned())]);

        env.control.idocs_counterparty_sign(&id).await.unwrap();
        env.control.settle(SenderId::Idocs, Duration::from_secs(20)).await.unwrap();
        assert!(statuses(&sender).contains(&(id.clone(), "FINISHED".to_owned())));
        assert!(statuses(&recipient).contains(&(id.clone(), "FINISHED".to_owned())));
        assert!(recipient.received().iter().all(|c| c.target == "/b"));
        assert_eq!(sender.count(), 2, "one delivery per change, none for reads");

        // [I] simulator-only history: the caller's events of that document.
        let path = format!(
            "{}/idocs-webhooks/api/1/webhooks/document-events/history/{id}",
            env.sandbox.base_url()
        );
        let request = env.http.get(path).bearer_auth(DEFAULT_TOKEN);
        let history: Value = request.send().await.unwrap().json().await.unwrap();
        let shown: Vec<&str> = history
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["documentStatus"].as_str().unwrap())
            .collect();
        assert_eq!(shown, ["SENT_BY_SENDER", "FINISHED"]);
    }

    #[tokio::test]
    async fn deliveries_retry_on_5xx_until_success() {
        let env = Env::start().await;
        let receiver = CaptureReceiver::start().await.unwrap();
        let policy = json!({"backoff_ms": [5]});
        env.control.set_delivery_policy(SenderId::Idocs, policy).await.unwrap();
        env.subscribe(DEFAULT_TOKEN, &receiver.url("/a")).await;
        receiver.answer_next([503, 500]);
        let id = env.routed().await;
        env.sender_signs(&id, CmsForm::Attached).await;
        env.control.settle(SenderId::Idocs, Duration::from_secs(20)).await.unwrap();
        assert_eq!(receiver.count(), 3);
        let deliveries = env.control.deliveries(SenderId::Idocs).await.unwrap();
        assert_eq!(deliveries.len(), 1);
        assert_eq!(deliveries[0].attempts, 3);
        assert_eq!(deliveries[0].last_answer.as_ref().unwrap().status, Some(200));
    }
}
