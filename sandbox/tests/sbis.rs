//! Contract tests: the SBIS simulator answers as `shared/contracts/sbis.md` documents (§1
//! envelope, §3 sessions, the §13 state machine, the §14 examples), driven with plain reqwest.
//! Signatures are real detached CMS made with `signbridge-signer` and a throw-away P-256 key.

mod common;

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::Env;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use signbridge_sandbox::sbis::{
    COUNTERPARTY_INN, COUNTERPARTY_KPP, COUNTERPARTY_PARTICIPANT_ID, LOGIN, OUR_INN, OUR_KPP,
    PASSWORD,
};
use signbridge_sandbox::{Fault, SandboxConfig};
use signbridge_signer::{CmsForm, SoftwareSigner, testkeys};

const FATAL_PREFIX: &str = "{00000000-0000-0000-0000-1fa";
const TEMPORARY_PREFIX: &str = "{00000000-0000-0000-0000-1aa";

/// A JSON-RPC answer: HTTP status, headers and the parsed body.
struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Answer {
    fn result(&self) -> &Value {
        assert_eq!(self.status, StatusCode::OK, "{}", self.body);
        assert!(self.body.get("error").is_none(), "{}", self.body);
        &self.body["result"]
    }

    fn error(&self) -> &Value {
        assert!(self.body.get("result").is_none(), "{}", self.body);
        &self.body["error"]
    }

    fn classid(&self) -> &str {
        self.error()["data"]["classid"].as_str().unwrap_or_default()
    }
}

impl Env {
    async fn start() -> Env {
        Env::new(SandboxConfig::default()).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}/sbis{path}", self.sandbox.base_url())
    }

    /// POSTs `body` as it is to `path`, as `application/json-rpc;charset=utf-8`.
    async fn raw(&self, path: &str, sid: Option<&str>, body: Vec<u8>) -> Answer {
        let mut request = self
            .http
            .post(self.url(path))
            .header("content-type", "application/json-rpc;charset=utf-8")
            .body(body);
        if let Some(sid) = sid {
            request = request.header("X-SBISSessionID", sid);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Answer { status, headers, body }
    }

    async fn rpc(&self, path: &str, sid: Option<&str>, method: &str, params: Value) -> Answer {
        let call = json!({"jsonrpc": "2.0", "method": method, "params": params, "id": 1});
        self.raw(path, sid, serde_json::to_vec(&call).unwrap()).await
    }

    /// A work method on `/service/?srv=1`.
    async fn call(&self, sid: &str, method: &str, params: Value) -> Answer {
        self.rpc("/service/?srv=1", Some(sid), method, params).await
    }

    async fn login(&self) -> String {
        let params = json!({"Параметр": {"Логин": LOGIN, "Пароль": PASSWORD}});
        let answer = self.rpc("/auth/service/", None, "СБИС.Аутентифицировать", params).await;
        answer.result().as_str().unwrap().to_owned()
    }

    async fn download(&self, sid: &str, url: &str) -> (StatusCode, Vec<u8>) {
        let response = self.http.get(url).header("X-SBISSessionID", sid).send().await.unwrap();
        (response.status(), response.bytes().await.unwrap().to_vec())
    }

    /// `ЗаписатьДокумент` of §14.7 with one XML and one PDF attachment.
    async fn write(&self, sid: &str, id: &str, inn: &str) -> Answer {
        let params = json!({"Документ": {
        "Идентификатор": id,
        "Тип": "ДокОтгрИсх", "Дата": "01.06.2026", "Номер": "УПД-100", "Примечание": "ext-100",
        "НашаОрганизация": {"СвЮЛ": {"ИНН": OUR_INN, "КПП": OUR_KPP}},
        "Контрагент": {"СвЮЛ": {"ИНН": inn, "КПП": COUNTERPARTY_KPP, "Название": "СК Премьер, ОАО"}},
        "Ответственный": {"Фамилия": "Иванов", "Имя": "Иван", "Отчество": "Иванович"},
        "Редакция": {"ИдентификаторИС": "erp:100"},
        "ДопПоля": "ЭтапВернутьВсеСертификаты",
        "Вложение": [
            {"Идентификатор": format!("{id}-a1"),
             "Файл": {"Имя": "ON_NSCHFDOPPR_1.xml", "ДвоичныеДанные": STANDARD.encode(XML)}},
            {"Идентификатор": format!("{id}-a2"),
             "Файл": {"Имя": "Счёт.pdf", "ДвоичныеДанные": STANDARD.encode(b"%PDF-1.7 test")}},
        ]}});
        self.call(sid, "СБИС.ЗаписатьДокумент", params).await
    }

    /// Prepares the send of `id`, downloads each file and signs it; returns the execute params.
    async fn prepare_and_sign(&self, sid: &str, id: &str) -> Value {
        let params = json!({"Документ": {"Идентификатор": id, "Этап": {"Название": "Отправка",
            "Действие": {"Название": "Отправить", "Сертификат": {"Отпечаток": "ab"}}}}});
        let prepared = self.call(sid, "СБИС.ПодготовитьДействие", params).await;
        let result = prepared.result();
        let stage = &result["Этап"][0];
        let mut attachments = Vec::new();
        for attachment in stage["Вложение"].as_array().unwrap() {
            let url = attachment["Файл"]["Ссылка"].as_str().unwrap();
            let (status, bytes) = self.download(sid, url).await;
            assert_eq!(status, StatusCode::OK);
            attachments.push(json!({"Идентификатор": attachment["Идентификатор"],
                "Подпись": [{"Файл": {"Имя": "x.sgn", "ДвоичныеДанные": STANDARD.encode(sign(&bytes))}}]}));
        }
        json!({"Документ": {"Идентификатор": id,
            "Редакция": result["Редакция"],
            "Этап": {"Идентификатор": stage["Идентификатор"], "Название": "Отправка",
                "Действие": {"Название": "Отправить", "Комментарий": "",
                             "Сертификат": [{"Отпечаток": "ab"}]},
                "Вложение": attachments}}})
    }

    /// Writes, prepares, signs and executes the send of `id`; returns the execute answer.
    async fn send(&self, sid: &str, id: &str) -> Answer {
        self.write(sid, id, COUNTERPARTY_INN).await.result();
        let params = self.prepare_and_sign(sid, id).await;
        self.call(sid, "СБИС.ВыполнитьДействие", params).await
    }
}

const XML: &[u8] = "<?xml version=\"1.0\" encoding=\"utf-8\"?><Файл ИдФайл=\"1\"/>".as_bytes();

fn signer() -> &'static SoftwareSigner {
    static SIGNER: OnceLock<SoftwareSigner> = OnceLock::new();
    SIGNER.get_or_init(|| {
        let (certificate, key) = testkeys::ecdsa_p256("Иванов Иван Иванович");
        SoftwareSigner::from_pem(certificate.as_bytes(), key.as_bytes()).unwrap()
    })
}

fn sign(content: &[u8]) -> Vec<u8> {
    signer().sign(content, CmsForm::Detached).unwrap()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

// ---- §1, §3: envelope and sessions -----------------------------------------------------------

#[tokio::test]
async fn login_accepts_both_param_shapes_and_echoes_the_id() {
    let env = Env::start().await;
    // §14.1 with `Параметр`, id a number.
    let sid = env.login().await;
    let parts: Vec<usize> = sid.split('-').map(str::len).collect();
    assert_eq!(parts, [8, 8, 4, 16], "{sid}");

    // The bare shape, `id` a string, `protocol`, application/json (Tensor's own client).
    let call = json!({"jsonrpc": "2.0", "protocol": 4, "method": "СБИС.Аутентифицировать",
                      "params": {"Логин": LOGIN, "Пароль": PASSWORD}, "id": "0"});
    let response = env
        .http
        .post(env.url("/auth/service/"))
        .header("content-type", "application/json; charset=utf-8")
        .body(serde_json::to_vec(&call).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/json; charset=utf-8"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["id"], json!("0"));
    assert_eq!(body["jsonrpc"], json!("2.0"));
    assert_ne!(body["result"].as_str().unwrap(), sid);
}

#[tokio::test]
async fn a_bad_login_is_a_fatal_error() {
    let env = Env::start().await;
    let params = json!({"Параметр": {"Логин": LOGIN, "Пароль": "wrong"}});
    let answer = env.rpc("/auth/service/", None, "СБИС.Аутентифицировать", params).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(answer.error()["code"], json!(-32000));
    assert!(answer.classid().starts_with(FATAL_PREFIX));
    assert_eq!(answer.headers["x-exceptiontype"], "error");

    let params = json!({"Логин": LOGIN, "Пароль": ""});
    let answer = env.rpc("/auth/service/", None, "СБИС.Аутентифицировать", params).await;
    assert_eq!(
        answer.error()["message"],
        json!("Ошибка аутентификации. Пустое значение поля Пароль!")
    );
}

#[tokio::test]
async fn work_methods_need_a_live_session() {
    let env = Env::start().await;
    let read = json!({"Документ": {"Идентификатор": "x"}});
    let missing = env.rpc("/service/", None, "СБИС.ПрочитатьДокумент", read.clone()).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        missing.error()["message"],
        json!("Ошибка входных параметров: не передан идентификатор сессии")
    );
    let unknown = env.call("0000-bogus", "СБИС.ПрочитатьДокумент", read.clone()).await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    // §14.17: the refused session, in the JSON-RPC error body.
    assert_eq!(unknown.error()["code"], json!(-32000));
    assert_eq!(unknown.error()["message"], json!("Сессия не найдена"));
    assert_eq!(unknown.error()["details"], json!("Сессия не найдена"));
    assert_eq!(unknown.error()["type"], json!("error"));
    assert!(unknown.classid().starts_with(FATAL_PREFIX));
    assert_eq!(unknown.body["id"], json!(1));

    // A session the control route ended is refused the same way; another one lives on.
    let sid = env.login().await;
    let other = env.login().await;
    assert_eq!(env.control.sbis_expire_sessions(Some(&sid)).await.unwrap(), 1);
    let expired = env.call(&sid, "СБИС.ПрочитатьДокумент", read.clone()).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert_eq!(expired.error()["message"], json!("Сессия не найдена"));
    let alive = env.call(&other, "СБИС.ПрочитатьДокумент", read).await;
    assert_eq!(alive.status, StatusCode::INTERNAL_SERVER_ERROR, "the document is unknown");
    assert_eq!(env.control.sbis_expire_sessions(None).await.unwrap(), 1);
}

#[tokio::test]
async fn logout_ends_the_session_and_needs_the_header() {
    let env = Env::start().await;
    let sid = env.login().await;
    let active = env.rpc("/auth/service/", Some(&sid), "СБИС.ПроверитьСессию", json!({})).await;
    assert_eq!(active.result(), &json!({"СессияАктивна": "Да"}));
    // §14.3
    let answer = env.rpc("/auth/service/", Some(&sid), "СБИС.Выход", json!({})).await;
    assert_eq!(answer.body, json!({"jsonrpc": "2.0", "result": null, "id": 1}));
    let read = json!({"Документ": {"Идентификатор": "x"}});
    assert_eq!(env.call(&sid, "СБИС.ПрочитатьДокумент", read).await.status, 401);
    let active = env.rpc("/auth/service/", Some(&sid), "СБИС.ПроверитьСессию", json!({})).await;
    assert_eq!(active.result(), &json!({"СессияАктивна": "Нет"}));

    let answer = env.rpc("/auth/service/", None, "СБИС.Выход", json!({})).await;
    assert!(!answer.status.is_success());
    let message = "Ошибка входных параметров: не передан идентификатор сессии";
    assert_eq!(
        answer.error(),
        &json!({"code": -32000, "message": message, "details": message, "type": "warning"})
    );
    assert_eq!(answer.headers["x-exceptiontype"], "warning");
}

#[tokio::test]
async fn malformed_calls_and_unknown_methods_are_refused() {
    let env = Env::start().await;
    let answer = env.raw("/service/", None, b"{not json".to_vec()).await;
    assert_eq!(
        (answer.status, answer.error()["code"].clone()),
        (StatusCode::BAD_REQUEST, json!(-32700))
    );
    let answer =
        env.raw("/service/", None, br#"{"jsonrpc":"2.0","params":{},"id":5}"#.to_vec()).await;
    assert_eq!(
        (answer.error()["code"].clone(), answer.body["id"].clone()),
        (json!(-32600), json!(5))
    );

    let sid = env.login().await;
    let answer = env.call(&sid, "СБИС.НетТакогоМетода", json!({})).await;
    assert_eq!(
        (answer.status, answer.error()["code"].clone()),
        (StatusCode::NOT_FOUND, json!(-32601))
    );
    // Login is an auth-endpoint method.
    let params = json!({"Логин": LOGIN, "Пароль": PASSWORD});
    let answer = env.call(&sid, "СБИС.Аутентифицировать", params).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
}

// ---- §4, §5, §10, §13: write, prepare, execute, read ------------------------------------------

#[tokio::test]
async fn write_document_answers_the_draft_as_in_14_7() {
    let env = Env::start().await;
    let sid = env.login().await;
    let id = "5f0c1d7e-0000-4000-8000-000000000001";
    let answer = env.write(&sid, id, COUNTERPARTY_INN).await;
    let doc = answer.result();
    assert_eq!(doc["Идентификатор"], json!(id));
    assert_eq!(doc["Направление"], json!("Исходящий"));
    assert_eq!(doc["Тип"], json!("ДокОтгрИсх"));
    assert_eq!(doc["Номер"], json!("УПД-100"));
    assert_eq!(doc["Удален"], json!("Нет"));
    assert_eq!(doc["Состояние"]["Код"], json!("0"));
    assert_eq!(doc["Состояние"]["Название"], json!("Документ редактируется"));
    assert_eq!(doc["Редакция"][0]["Актуален"], json!("Да"));
    assert_eq!(doc["Редакция"][0]["ПримечаниеИС"], json!("erp:100"));
    assert_eq!(doc["Контрагент"]["Идентификатор"], json!(COUNTERPARTY_PARTICIPANT_ID));
    let stage = &doc["Этап"][0];
    assert_eq!(stage["Название"], json!("Отправка"));
    assert_eq!(stage["Действие"][0]["Название"], json!("Отправить"));
    assert_eq!(stage["Действие"][0]["ТребуетПодписания"], json!("Да"));
    assert_eq!(stage["Действие"][0]["Сертификат"][0]["Ключ"]["Тип"], json!("Клиентский"));
    let attachments = doc["Вложение"].as_array().unwrap();
    assert_eq!(attachments.len(), 2);
    assert_eq!(attachments[0]["Идентификатор"], json!(format!("{id}-a1")));
    assert_eq!(attachments[0]["Файл"]["Имя"], json!("ON_NSCHFDOPPR_1.xml"));
    // The link serves the uploaded bytes, with the session header.
    let url = attachments[0]["Файл"]["Ссылка"].as_str().unwrap();
    assert_eq!(env.download(&sid, url).await, (StatusCode::OK, XML.to_vec()));
    let anonymous = env.http.get(url).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    // The same id again updates the draft.
    let again = env.write(&sid, id, COUNTERPARTY_INN).await;
    assert_eq!(again.result()["Вложение"][0]["Файл"]["Ссылка"], json!(url));
    assert_eq!(env.control.sbis_documents().await.unwrap().len(), 1);
}

#[tokio::test]
async fn write_document_refuses_what_sbis_would() {
    let env = Env::start().await;
    let sid = env.login().await;
    let refused = |answer: Answer| {
        assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", answer.body);
        assert!(answer.classid().starts_with(FATAL_PREFIX));
        answer.error()["message"].as_str().unwrap().to_owned()
    };
    let bad_inn = env.write(&sid, "d1", "12345").await;
    assert!(refused(bad_inn).contains("ИНН 12345"));
    let base = |document: Value| json!({"Документ": document});
    let not_ours = base(json!({"Тип": "ДокОтгрИсх",
        "НашаОрганизация": {"СвЮЛ": {"ИНН": "7700000002"}},
        "Контрагент": {"СвЮЛ": {"ИНН": COUNTERPARTY_INN}}}));
    let message = refused(env.call(&sid, "СБИС.ЗаписатьДокумент", not_ours).await);
    assert!(message.contains("НашаОрганизация"), "{message}");
    let bad_base64 =
        base(json!({"Тип": "ДокОтгрИсх", "Контрагент": {"СвЮЛ": {"ИНН": COUNTERPARTY_INN}},
        "Вложение": [{"Файл": {"Имя": "a.txt", "ДвоичныеДанные": "***"}}]}));
    let message = refused(env.call(&sid, "СБИС.ЗаписатьДокумент", bad_base64).await);
    assert!(message.contains("ДвоичныеДанные"), "{message}");
    let no_type = base(json!({"Контрагент": {"СвЮЛ": {"ИНН": COUNTERPARTY_INN}}}));
    assert!(refused(env.call(&sid, "СБИС.ЗаписатьДокумент", no_type).await).contains("Тип"));
}

#[tokio::test]
async fn prepare_hands_out_the_bytes_to_sign_and_execute_sends() {
    let env = Env::start().await;
    let sid = env.login().await;
    let id = "5f0c1d7e-0000-4000-8000-000000000002";
    env.write(&sid, id, COUNTERPARTY_INN).await.result();

    // §14.8, with `Этап` and `Действие` as objects.
    let params = json!({"Документ": {"Идентификатор": id, "Этап": {"Название": "Отправка",
        "Действие": {"Название": "Отправить", "Сертификат": {"Отпечаток": "ab"}}}}});
    let prepared = env.call(&sid, "СБИС.ПодготовитьДействие", params).await;
    let result = prepared.result();
    assert_eq!(result["Идентификатор"], json!(id));
    let stage = &result["Этап"][0];
    assert_eq!(stage["Название"], json!("Отправка"));
    assert_eq!(stage["Действие"][0]["ТребуетПодписания"], json!("Да"));
    let files = stage["Вложение"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    // The XML was changed by SBIS: the host must sign what the link serves.
    assert_eq!(files[0]["Модифицирован"], json!("Да"));
    assert_eq!(files[1]["Модифицирован"], json!("Нет"));
    let (_, xml) = env.download(&sid, files[0]["Файл"]["Ссылка"].as_str().unwrap()).await;
    assert_ne!(xml, XML);
    assert!(xml.starts_with(XML));
    assert_eq!(files[0]["Файл"]["Хеш"], json!(sha256_hex(&xml)));

    // A signature over the original XML is refused, and so is a missing one.
    let original = json!({"Документ": {"Идентификатор": id, "Этап": {"Название": "Отправка",
        "Действие": {"Название": "Отправить"},
        "Вложение": [{"Идентификатор": format!("{id}-a1"),
            "Подпись": {"Файл": {"Имя": "a.sgn", "ДвоичныеДанные": STANDARD.encode(sign(XML))}}}]}}});
    let refused = env.call(&sid, "СБИС.ВыполнитьДействие", original).await;
    assert_eq!(refused.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(refused.error()["message"].as_str().unwrap().contains("a1"), "{}", refused.body);
    let unsigned = json!({"Документ": {"Идентификатор": id, "Этап": {"Название": "Отправка",
        "Действие": {"Название": "Отправить"}}}});
    let refused = env.call(&sid, "СБИС.ВыполнитьДействие", unsigned).await;
    assert!(refused.error()["message"].as_str().unwrap().contains("не подписано"));
    assert_eq!(env.control.sbis_document(id).await.unwrap()["Состояние"]["Код"], json!("0"));

    // §14.9: signed over the handed-out bytes, `Этап` an object, `Действие` an object.
    let params = env.prepare_and_sign(&sid, id).await;
    let executed = env.call(&sid, "СБИС.ВыполнитьДействие", params.clone()).await;
    let doc = executed.result();
    assert_eq!(doc["Состояние"]["Код"], json!("3"));
    assert_eq!(doc["Состояние"]["Название"], json!("Отправлен"));
    assert_eq!(
        doc["Состояние"]["Описание"],
        json!([{"Код": "1", "Название": "Ожидается доставка"}])
    );
    let event = &doc["Событие"][0];
    assert_eq!(event["Название"], json!("Отправка"));
    assert_eq!(event["Вложение"].as_array().unwrap().len(), 2);
    // Only the service stage the operator's confirmation brings is left (§8).
    let stages = doc["Этап"].as_array().unwrap();
    assert_eq!(stages.len(), 1);
    assert_eq!(stages[0]["Служебный"], json!("Да"));
    assert_eq!(stages[0]["Действие"][0]["Название"], json!("Обработать служебное"));
    let signature = &doc["Вложение"][0]["Подпись"][0];
    assert_eq!(signature["Файл"]["Имя"], json!("x.sgn"));
    assert_eq!(signature["Сертификат"]["ФИО"], json!("CN=Иванов Иван Иванович"));
    let (status, bytes) = env.download(&sid, signature["Файл"]["Ссылка"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(signbridge_signer::verify(&bytes, Some(&xml)).is_ok());

    // Executing again (a lost reply) is refused: the document is no longer a draft.
    let again = env.call(&sid, "СБИС.ВыполнитьДействие", params).await;
    assert_eq!(again.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(again.error()["message"].as_str().unwrap().contains("Отправка"));

    // §14.11
    let read = json!({"Документ": {"Идентификатор": id, "ДопПоля": "ЭтапВернутьВсеСертификаты"}});
    let read = env.call(&sid, "СБИС.ПрочитатьДокумент", read).await;
    assert_eq!(read.result()["Состояние"]["Код"], json!("3"));
    assert_eq!(read.result()["Событие"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn arrays_of_one_work_like_objects_in_execute() {
    let env = Env::start().await;
    let sid = env.login().await;
    let id = "5f0c1d7e-0000-4000-8000-000000000003";
    env.write(&sid, id, COUNTERPARTY_INN).await.result();
    let mut params = env.prepare_and_sign(&sid, id).await;
    let stage = params["Документ"]["Этап"].take();
    let mut stage_array = json!([stage]);
    let action = stage_array[0]["Действие"].take();
    stage_array[0]["Действие"] = json!([action]);
    params["Документ"]["Этап"] = stage_array;
    params["Документ"].as_object_mut().unwrap().remove("Редакция");
    let executed = env.call(&sid, "СБИС.ВыполнитьДействие", params).await;
    assert_eq!(executed.result()["Состояние"]["Код"], json!("3"));
}

#[tokio::test]
async fn a_counterparty_outside_edo_gets_an_invitation() {
    let env = Env::start().await;
    let sid = env.login().await;
    let id = "5f0c1d7e-0000-4000-8000-000000000004";
    env.write(&sid, id, "7702000007").await.result();
    let params = env.prepare_and_sign(&sid, id).await;
    let executed = env.call(&sid, "СБИС.ВыполнитьДействие", params).await;
    assert_eq!(executed.result()["Состояние"]["Код"], json!("2"));
    assert_eq!(executed.result()["Состояние"]["Название"], json!("Отослано приглашение"));
}

#[tokio::test]
async fn the_counterparty_receives_signs_and_rejects() {
    let env = Env::start().await;
    let sid = env.login().await;
    let signed = "5f0c1d7e-0000-4000-8000-00000000000a";
    env.send(&sid, signed).await.result();
    // Not a draft any more, and nothing waits for a control action on a draft.
    let draft = "5f0c1d7e-0000-4000-8000-00000000000c";
    env.write(&sid, draft, COUNTERPARTY_INN).await.result();
    assert_eq!(env.control.sbis_deliver(draft).await.unwrap_err().status(), Some(409));
    assert_eq!(env.control.sbis_deliver("nope").await.unwrap_err().status(), Some(404));

    let delivered = env.control.sbis_deliver(signed).await.unwrap();
    assert_eq!(delivered["Состояние"]["Код"], json!("4"));
    let approved = env.control.sbis_counterparty_sign(signed, None).await.unwrap();
    assert_eq!(approved["Состояние"]["Код"], json!("7"));
    assert_eq!(approved["Состояние"]["Название"], json!("Выполнение завершено успешно"));
    let read = json!({"Документ": {"Идентификатор": signed}});
    let doc = env.call(&sid, "СБИС.ПрочитатьДокумент", read).await.result().clone();
    let events: Vec<&str> = doc["Событие"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["Название"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["Отправка", "Подтверждение даты отправки", "Доставка", "Утверждение"]);
    let signatures = doc["Вложение"][0]["Подпись"].as_array().unwrap();
    assert_eq!(signatures.len(), 2);
    assert_eq!(signatures[1]["Направление"], json!("Входящий"));
    let (status, _) = env.download(&sid, signatures[1]["Файл"]["Ссылка"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        env.control.sbis_counterparty_sign(signed, None).await.unwrap_err().status(),
        Some(409)
    );

    let rejected = "5f0c1d7e-0000-4000-8000-00000000000b";
    env.send(&sid, rejected).await.result();
    let doc =
        env.control.sbis_counterparty_reject(rejected, "Неверная цена в строке 2").await.unwrap();
    assert_eq!(doc["Состояние"]["Код"], json!("9"));
    assert_eq!(doc["Состояние"]["Примечание"], json!("Неверная цена в строке 2"));
    assert_eq!(doc["Событие"][2]["Название"], json!("Отклонение"));
    assert_eq!(doc["Событие"][2]["Комментарий"], json!("Неверная цена в строке 2"));
}

#[tokio::test]
async fn a_status_fault_answers_in_the_json_rpc_envelope() {
    let env = Env::start().await;
    let sid = env.login().await;
    env.control.add_fault(Fault::status("/sbis/service/", 401)).await.unwrap();
    let read = json!({"Документ": {"Идентификатор": "x"}});
    let refused = env.call(&sid, "СБИС.ПрочитатьДокумент", read.clone()).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.error()["message"], json!("Сессия не найдена"));
    // §1.5: the same refusal can come inside an HTTP 200 reply.
    env.control.add_fault(Fault::status("/sbis/service/", 200)).await.unwrap();
    let refused = env.call(&sid, "СБИС.ПрочитатьДокумент", read.clone()).await;
    assert_eq!(refused.status, StatusCode::OK);
    assert_eq!(refused.error()["message"], json!("Сессия не найдена"));
    env.control.add_fault(Fault::status("/sbis/service/", 503)).await.unwrap();
    let unavailable = env.call(&sid, "СБИС.ПрочитатьДокумент", read).await;
    assert_eq!(unavailable.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(unavailable.classid().starts_with(TEMPORARY_PREFIX));
}

// ---- faults per JSON-RPC method ---------------------------------------------------------------

#[tokio::test]
async fn a_fault_can_drop_the_reply_of_one_method_after_applying_it() {
    let env = Env::start().await;
    let sid = env.login().await;
    let id = "5f0c1d7e-0000-4000-8000-000000000010";
    env.write(&sid, id, COUNTERPARTY_INN).await.result();
    let params = env.prepare_and_sign(&sid, id).await;
    let fault = Fault::status("/sbis/service/", 502).on_rpc_method("СБИС.ВыполнитьДействие");
    env.control.add_fault(fault.after_commit()).await.unwrap();
    // Other methods on the same path pass through untouched.
    let read = json!({"Документ": {"Идентификатор": id}});
    assert_eq!(env.call(&sid, "СБИС.ПрочитатьДокумент", read.clone()).await.status, 200);

    let lost = env.call(&sid, "СБИС.ВыполнитьДействие", params.clone()).await;
    assert_eq!(lost.status, StatusCode::BAD_GATEWAY);
    assert!(lost.classid().starts_with(TEMPORARY_PREFIX));
    assert_eq!(lost.body["id"], json!(1));
    // The send happened: reading tells, and executing again is refused.
    let doc = env.call(&sid, "СБИС.ПрочитатьДокумент", read).await;
    assert_eq!(doc.result()["Состояние"]["Код"], json!("3"));
    let again = env.call(&sid, "СБИС.ВыполнитьДействие", params).await;
    assert_eq!(again.status, StatusCode::INTERNAL_SERVER_ERROR);

    let requests = env.control.requests().await.unwrap();
    let calls: Vec<&str> = requests.iter().filter_map(|r| r.rpc_method.as_deref()).collect();
    assert_eq!(calls.iter().filter(|m| **m == "СБИС.ВыполнитьДействие").count(), 2);
    let faulted = requests.iter().find(|r| r.fault.is_some()).unwrap();
    assert_eq!(faulted.rpc_method.as_deref(), Some("СБИС.ВыполнитьДействие"));
}

#[tokio::test]
async fn a_reset_after_execute_loses_the_reply_not_the_send() {
    let env = Env::start().await;
    let sid = env.login().await;
    let id = "5f0c1d7e-0000-4000-8000-000000000011";
    env.write(&sid, id, COUNTERPARTY_INN).await.result();
    let params = env.prepare_and_sign(&sid, id).await;
    let fault = Fault::reset("/sbis/service/", signbridge_sandbox::When::After)
        .on_rpc_method("СБИС.ВыполнитьДействие");
    env.control.add_fault(fault).await.unwrap();
    let call =
        json!({"jsonrpc": "2.0", "method": "СБИС.ВыполнитьДействие", "params": params, "id": 1});
    let sent = env
        .http
        .post(env.url("/service/"))
        .header("X-SBISSessionID", &sid)
        .json(&call)
        .send()
        .await;
    assert!(sent.is_err(), "the connection is dropped without an answer");
    let doc = env.control.sbis_document(id).await.unwrap();
    assert_eq!(doc["Состояние"]["Код"], json!("3"));
}

#[tokio::test]
async fn a_session_can_be_refused_once_for_one_method() {
    let env = Env::start().await;
    let sid = env.login().await;
    let fault = Fault::status("/sbis/service/", 401).on_rpc_method("СБИС.ПрочитатьДокумент");
    env.control.add_fault(fault).await.unwrap();
    let id = "5f0c1d7e-0000-4000-8000-000000000012";
    env.write(&sid, id, COUNTERPARTY_INN).await.result();
    let read = json!({"Документ": {"Идентификатор": id}});
    let refused = env.call(&sid, "СБИС.ПрочитатьДокумент", read.clone()).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.error()["message"], json!("Сессия не найдена"));
    assert_eq!(refused.body["id"], json!(1));
    assert_eq!(env.call(&sid, "СБИС.ПрочитатьДокумент", read.clone()).await.status, 200);

    // The same refusal inside an HTTP 500 body, as a fault's own JSON-RPC error.
    let body = json!({"jsonrpc": "2.0", "id": 1, "error": {"code": -32000,
        "message": "Сессия не найдена", "details": "Сессия не найдена", "type": "error",
        "data": {"classid": "{00000000-0000-0000-0000-1fa000000401}"}}});
    let fault = Fault::status("/sbis/service/", 500).body(body.clone());
    env.control.add_fault(fault.on_rpc_method("СБИС.ПрочитатьДокумент")).await.unwrap();
    let refused = env.call(&sid, "СБИС.ПрочитатьДокумент", read).await;
    assert_eq!((refused.status, refused.body), (StatusCode::INTERNAL_SERVER_ERROR, body));
}

// ---- §6, §11: the change feed and lists ------------------------------------------------------

/// `(document id, event name)` of every event of a change-list page, in order.
fn page_events(result: &Value) -> Vec<(String, String)> {
    let mut events = Vec::new();
    for doc in result["Документ"].as_array().unwrap() {
        for event in doc["Событие"].as_array().unwrap() {
            let id = doc["Идентификатор"].as_str().unwrap().to_owned();
            events.push((id, event["Название"].as_str().unwrap().to_owned()));
        }
    }
    events
}

#[tokio::test]
async fn the_change_list_pages_by_event_cursor() {
    let env = Env::start().await;
    let sid = env.login().await;
    let (a, b) = ("5f0c1d7e-0000-4000-8000-000000000020", "5f0c1d7e-0000-4000-8000-000000000021");
    env.send(&sid, a).await.result();
    env.send(&sid, b).await.result();
    env.control.sbis_deliver(a).await.unwrap();
    env.control.sbis_counterparty_sign(a, None).await.unwrap();
    env.control.sbis_counterparty_reject(b, "Неверная цена").await.unwrap();

    // §14.10 first page: from a time, with our organisation, two events a page.
    let first = json!({"Фильтр": {"ДатаВремяС": "01.01.2020 00.00.00", "ПолныйСертификатЭП": "Нет",
        "НашаОрганизация": {"СвЮЛ": {"ИНН": OUR_INN, "КПП": OUR_KPP}},
        "Навигация": {"РазмерСтраницы": "2"}}});
    let mut answer = env.call(&sid, "СБИС.СписокИзменений", first).await.result().clone();
    let mut seen = Vec::new();
    loop {
        seen.extend(page_events(&answer));
        let navigation = &answer["Навигация"];
        assert_eq!(navigation["РазмерСтраницы"], json!("2"));
        if navigation["ЕстьЕще"] == json!("Нет") {
            break;
        }
        // §6.2 step 2: the last event of the last document is the cursor.
        let docs = answer["Документ"].as_array().unwrap();
        let cursor =
            docs.last().unwrap()["Событие"].as_array().unwrap().last().unwrap()["Идентификатор"]
                .clone();
        let next = json!({"Фильтр": {"ИдентификаторСобытия": cursor, "ПолныйСертификатЭП": "Нет",
            "Навигация": {"РазмерСтраницы": 2}}});
        answer = env.call(&sid, "СБИС.СписокИзменений", next).await.result().clone();
    }
    let expected = [
        (a, "Отправка"),
        (a, "Подтверждение даты отправки"),
        (b, "Отправка"),
        (b, "Подтверждение даты отправки"),
        (a, "Доставка"),
        (a, "Утверждение"),
        (b, "Отклонение"),
    ];
    let expected: Vec<(String, String)> =
        expected.iter().map(|(d, e)| (d.to_string(), e.to_string())).collect();
    assert_eq!(seen, expected);

    // One page of everything: a document comes again when another's event sits between.
    let all = json!({"Фильтр": {"Навигация": {"РазмерСтраницы": "100"}}});
    let answer = env.call(&sid, "СБИС.СписокИзменений", all).await.result().clone();
    let docs: Vec<&str> = answer["Документ"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["Идентификатор"].as_str().unwrap())
        .collect();
    assert_eq!(docs, [a, b, a, b]);
    assert_eq!(answer["Документ"][0]["Событие"].as_array().unwrap().len(), 2);
    assert_eq!(answer["Документ"][2]["Состояние"]["Код"], json!("7"), "the current state");
    assert_eq!(answer["Навигация"]["ЕстьЕще"], json!("Нет"));

    // After the last event there is nothing; an unknown cursor is a fatal error.
    let last = answer["Документ"][3]["Событие"][0]["Идентификатор"].clone();
    let after = json!({"Фильтр": {"ИдентификаторСобытия": last}});
    let empty = env.call(&sid, "СБИС.СписокИзменений", after).await;
    assert_eq!(empty.result()["Документ"], json!([]));
    let unknown =
        json!({"Фильтр": {"ИдентификаторСобытия": "00000000-0000-0000-0000-000000000000"}});
    let refused = env.call(&sid, "СБИС.СписокИзменений", unknown).await;
    assert!(refused.classid().starts_with(FATAL_PREFIX));
    // A window in the future is empty; a non-numeric page size is refused.
    let future = json!({"Фильтр": {"ДатаВремяС": "01.01.2100 00:00:00"}});
    let answer = env.call(&sid, "СБИС.СписокИзменений", future).await;
    assert_eq!(answer.result()["Документ"], json!([]));
    let bad = json!({"Фильтр": {"Навигация": {"РазмерСтраницы": "много"}}});
    assert_eq!(env.call(&sid, "СБИС.СписокИзменений", bad).await.status, 500);
}

#[tokio::test]
async fn documents_and_our_organisations_are_listed() {
    let env = Env::start().await;
    let sid = env.login().await;
    for n in 0..3 {
        env.write(&sid, &format!("5f0c1d7e-0000-4000-8000-00000000003{n}"), COUNTERPARTY_INN)
            .await
            .result();
    }
    // §14.12, two a page.
    let list = json!({"Фильтр": {"Тип": "ДокОтгрИсх", "ДатаС": "01.06.2026", "ДатаПо": "30.06.2026",
        "ДопПоля": "Этап,Лицо2", "Навигация": {"РазмерСтраницы": "2", "Страница": "0"}}});
    let page = env.call(&sid, "СБИС.СписокДокументов", list).await.result().clone();
    assert_eq!(page["Документ"].as_array().unwrap().len(), 2);
    assert_eq!(page["Навигация"], json!({"ЕстьЕще": "Да", "РазмерСтраницы": "2", "Страница": "0"}));
    let next = json!({"Фильтр": {"Тип": "ДокОтгрИсх"}, "Навигация": {"РазмерСтраницы": "2", "Страница": "1"}});
    let page = env.call(&sid, "СБИС.СписокДокументов", next).await.result().clone();
    assert_eq!(page["Документ"].as_array().unwrap().len(), 1);
    assert_eq!(page["Навигация"]["ЕстьЕще"], json!("Нет"));
    let other = json!({"Фильтр": {"Тип": "ДокОтгрВх"}});
    let page = env.call(&sid, "СБИС.СписокДокументов", other).await;
    assert_eq!(page.result()["Документ"], json!([]));
    let untyped = json!({"Фильтр": {}});
    assert_eq!(env.call(&sid, "СБИС.СписокДокументов", untyped).await.status, 500);

    // §14.5
    let params = json!({"Фильтр": {"Навигация": {"Страница": "0"}}});
    let ours = env.call(&sid, "СБИС.СписокНашихОрганизаций", params).await;
    let result = ours.result();
    assert_eq!(result["НашаОрганизация"][0]["СвЮЛ"]["ИНН"], json!(OUR_INN));
    assert_eq!(result["НашаОрганизация"][0]["СвЮЛ"]["КПП"], json!(OUR_KPP));
    assert_eq!(result["Навигация"]["ЕстьЕще"], json!("Нет"));
}

// ---- §7, §8: incoming documents and service stages ---------------------------------------------

impl Env {
    /// Prepares `action` of stage `stage_id` of `doc`, signs every file handed out and executes
    /// it; returns the execute answer.
    async fn act(
        &self,
        sid: &str,
        doc: &str,
        stage_id: &Value,
        stage: &str,
        action: &str,
    ) -> Answer {
        let params = json!({"Документ": {"Идентификатор": doc, "Этап": {"Идентификатор": stage_id,
            "Название": stage, "Действие": {"Название": action, "Сертификат": {"Отпечаток": "ab"}}}}});
        let prepared = env_result(self.call(sid, "СБИС.ПодготовитьДействие", params).await);
        let mut signed = Vec::new();
        for file in prepared["Этап"][0]["Вложение"].as_array().unwrap() {
            let (status, bytes) =
                self.download(sid, file["Файл"]["Ссылка"].as_str().unwrap()).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(file["Файл"]["Хеш"], json!(sha256_hex(&bytes)));
            signed.push(json!({"Идентификатор": file["Идентификатор"],
                "Подпись": [{"Файл": {"Имя": "r.sgn", "ДвоичныеДанные": STANDARD.encode(sign(&bytes))}}]}));
        }
        let params = json!({"Документ": {"Идентификатор": doc, "Этап": {"Идентификатор": stage_id,
            "Название": stage, "Действие": {"Название": action, "Комментарий": ""},
            "Вложение": signed}}});
        self.call(sid, "СБИС.ВыполнитьДействие", params).await
    }
}

fn env_result(answer: Answer) -> Value {
    answer.result().clone()
}

/// The stage named `name` among a document's `Этап`.
fn stage<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["Этап"].as_array().unwrap().iter().find(|s| s["Название"] == json!(name)).unwrap()
}

#[tokio::test]
async fn an_incoming_document_is_approved_through_prepare_and_execute() {
    let env = Env::start().await;
    let sid = env.login().await;
    let arrived = env.control.sbis_incoming(json!({"number": "УПД-7"})).await.unwrap();
    let id = arrived["Идентификатор"].as_str().unwrap().to_owned();

    // §14.10: it arrives in the change feed with "Получение", state "4", stage "Утверждение".
    let changes = json!({"Фильтр": {"Навигация": {"РазмерСтраницы": "100"}}});
    let feed = env_result(env.call(&sid, "СБИС.СписокИзменений", changes).await);
    let doc = &feed["Документ"][0];
    assert_eq!(doc["Направление"], json!("Входящий"));
    assert_eq!(doc["Тип"], json!("ДокОтгрВх"));
    assert_eq!(doc["Состояние"]["Код"], json!("4"));
    let event = &doc["Событие"][0];
    assert_eq!(event["Название"], json!("Получение"));
    let attachment = &event["Вложение"][0];
    assert_eq!(attachment["Направление"], json!("Входящий"));
    let (status, _) = env.download(&sid, attachment["Файл"]["Ссылка"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) =
        env.download(&sid, attachment["Подпись"][0]["Файл"]["Ссылка"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let approval = stage(doc, "Утверждение");
    let actions: Vec<&Value> =
        approval["Действие"].as_array().unwrap().iter().map(|a| &a["Название"]).collect();
    assert_eq!(actions, [&json!("Утвердить"), &json!("Отклонить")]);
    assert_eq!(approval["Действие"][1]["ТребуетКомментария"], json!("Да"));

    // §14.13: SBIS generates the buyer's title, the host signs it.
    let approved = env.act(&sid, &id, &approval["Идентификатор"], "Утверждение", "Утвердить").await;
    let doc = approved.result();
    assert_eq!(doc["Состояние"]["Код"], json!("7"));
    assert_eq!(doc["Состояние"]["Название"], json!("Выполнение завершено успешно"));
    let title = doc["Вложение"].as_array().unwrap().last().unwrap();
    assert_eq!(title["Направление"], json!("Исходящий"));
    assert_eq!(title["Подпись"][0]["Файл"]["Имя"], json!("r.sgn"));
    assert_eq!(
        doc["Событие"].as_array().unwrap().last().unwrap()["Название"],
        json!("Утверждение")
    );
}

#[tokio::test]
async fn an_incoming_document_is_rejected_with_a_comment() {
    let env = Env::start().await;
    let sid = env.login().await;
    let arrived = env.control.sbis_incoming(json!({})).await.unwrap();
    let id = arrived["Идентификатор"].as_str().unwrap().to_owned();
    let stage_id = stage(&arrived, "Утверждение")["Идентификатор"].clone();
    let reject = |comment: &str| {
        json!({"Документ": {"Идентификатор": id, "Этап": {"Идентификатор": stage_id,
            "Название": "Утверждение", "Действие": {"Название": "Отклонить", "Комментарий": comment}}}})
    };
    let refused = env.call(&sid, "СБИС.ВыполнитьДействие", reject("")).await;
    assert!(refused.error()["message"].as_str().unwrap().contains("комментарий"));
    // §14.13
    let rejected =
        env.call(&sid, "СБИС.ВыполнитьДействие", reject("Неверная цена в строке 2")).await;
    let state = &rejected.result()["Состояние"];
    assert_eq!(state["Код"], json!("9"));
    assert_eq!(state["Название"], json!("Выполнение завершено с проблемами"));
    assert_eq!(state["Примечание"], json!("Неверная цена в строке 2"));
    // Nothing is left to approve.
    let again = env.call(&sid, "СБИС.ВыполнитьДействие", reject("снова")).await;
    assert_eq!(again.status, StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn service_stages_appear_and_are_tracked_until_processed() {
    let env = Env::start().await;
    let sid = env.login().await;
    let out = "5f0c1d7e-0000-4000-8000-000000000040";
    env.send(&sid, out).await.result();
    let arrived = env.control.sbis_incoming(json!({})).await.unwrap();
    let incoming = arrived["Идентификатор"].as_str().unwrap().to_owned();

    // §14.15
    let filter = json!({"Фильтр": {"НашаОрганизация": {"СвЮЛ": {"ИНН": OUR_INN, "КПП": OUR_KPP}}}});
    let info = env_result(env.call(&sid, "СБИС.ИнформацияОСлужебныхЭтапах", filter).await);
    assert_eq!(info, json!({"ЧислоНеобработанныхЭтапов": "2"}));
    let list = json!({"Фильтр": {"ДопПоля": "ЭтапВернутьВсеСертификаты", "Блокировать": "Нет",
        "Навигация": {"Страница": "0", "РазмерСтраницы": "150"}}});
    let listed = env_result(env.call(&sid, "СБИС.СписокСлужебныхЭтапов", list.clone()).await);
    let docs = listed["Документ"].as_array().unwrap();
    assert_eq!(docs.len(), 2);
    assert_eq!(listed["Навигация"]["ЕстьЕще"], json!("Нет"));
    let tracked = env.control.sbis_service_stages().await.unwrap();
    assert_eq!(tracked.len(), 2);
    assert!(tracked.iter().all(|s| s["processed"].is_null()));

    for doc in docs {
        let service = &doc["Этап"][0];
        assert_eq!(service["Служебный"], json!("Да"));
        assert_eq!(service["Действие"][0]["Название"], json!("Обработать служебное"));
        let id = doc["Идентификатор"].as_str().unwrap();
        let name = service["Название"].as_str().unwrap();
        let done = env.act(&sid, id, &service["Идентификатор"], name, "Обработать служебное").await;
        let done = done.result();
        let notice = done["Вложение"].as_array().unwrap().last().unwrap();
        assert_eq!(notice["Служебный"], json!("Да"));
        assert_eq!(notice["Подпись"].as_array().unwrap().len(), 1);
    }
    let listed = env_result(env.call(&sid, "СБИС.СписокСлужебныхЭтапов", list).await);
    assert_eq!(listed["Документ"], json!([]));
    let tracked = env.control.sbis_service_stages().await.unwrap();
    assert!(tracked.iter().all(|s| s["processed"].is_string()), "{tracked:?}");
    let causes: Vec<&str> = tracked.iter().map(|s| s["cause"].as_str().unwrap()).collect();
    assert_eq!(causes, ["Подтверждение даты отправки", "Получение"]);
    // The processing shows in the feed after the event that caused it.
    let read = json!({"Документ": {"Идентификатор": incoming}});
    let doc = env_result(env.call(&sid, "СБИС.ПрочитатьДокумент", read).await);
    let events: Vec<&str> = doc["Событие"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["Название"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["Получение", "Отправка служебного документа"]);
    // The incoming document still waits for approval.
    assert_eq!(doc["Этап"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn service_stages_can_be_switched_off() {
    let env = Env::start().await;
    let sid = env.login().await;
    env.control.sbis_set_config(json!({"service_stages": false})).await.unwrap();
    env.send(&sid, "5f0c1d7e-0000-4000-8000-000000000041").await.result();
    env.control.sbis_incoming(json!({})).await.unwrap();
    let info = env_result(env.call(&sid, "СБИС.ИнформацияОСлужебныхЭтапах", json!({})).await);
    assert_eq!(info, json!({"ЧислоНеобработанныхЭтапов": "0"}));
}

// ---- §4: attachments and counterparties --------------------------------------------------------

#[tokio::test]
async fn write_attachment_adds_and_replaces_files_of_a_draft() {
    let env = Env::start().await;
    let sid = env.login().await;
    let id = "049ee2fe-2fe9-11e8-95a0-005056b7582b";
    env.write(&sid, id, COUNTERPARTY_INN).await.result();
    // §14.16
    let params = json!({"Документ": {"Идентификатор": id,
        "Этап": {"Название": "Отправка", "Действие": [{"Название": "Отправить"}]},
        "Вложение": [{"Файл": {"Имя": "Договор.txt", "ДвоичныеДанные": "MTIz"}},
                     {"Идентификатор": format!("{id}-a2"), "Файл": {"Имя": "Счёт.pdf", "ДвоичныеДанные": "NDU2"}}]}});
    let doc = env_result(env.call(&sid, "СБИС.ЗаписатьВложение", params.clone()).await);
    let files = doc["Вложение"].as_array().unwrap();
    assert_eq!(files.len(), 3);
    assert_eq!(files[2]["Файл"]["Имя"], json!("Договор.txt"));
    let (_, bytes) = env.download(&sid, files[2]["Файл"]["Ссылка"].as_str().unwrap()).await;
    assert_eq!(bytes, b"123");
    let (_, bytes) = env.download(&sid, files[1]["Файл"]["Ссылка"].as_str().unwrap()).await;
    assert_eq!(bytes, b"456");
    // Sent documents keep their files.
    let params2 = env.prepare_and_sign(&sid, id).await;
    env.call(&sid, "СБИС.ВыполнитьДействие", params2).await.result();
    let refused = env.call(&sid, "СБИС.ЗаписатьВложение", params).await;
    assert_eq!(refused.status, StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn counterparty_info_answers_as_in_14_6() {
    let env = Env::start().await;
    let sid = env.login().await;
    let params = json!({"Участник": {"СвЮЛ": {"ИНН": COUNTERPARTY_INN, "КПП": COUNTERPARTY_KPP,
        "Название": "СК Премьер, ОАО"}, "ДопПоля": "СписокИдентификаторов"}});
    let info = env_result(env.call(&sid, "СБИС.ИнформацияОКонтрагенте", params).await);
    assert_eq!(info["СвЮЛ"]["ИНН"], json!(COUNTERPARTY_INN));
    assert_eq!(info["СвЮЛ"]["КодФилиала"], json!(""));
    let ids = info["Идентификатор"].as_array().unwrap();
    assert_eq!(ids[0]["ИдентификаторУчастника"], json!(COUNTERPARTY_PARTICIPANT_ID));
    assert_eq!(ids[0]["Основной"], json!("Да"));
    let params = json!({"Участник": {"СвЮЛ": {"ИНН": COUNTERPARTY_INN}}});
    let info = env_result(env.call(&sid, "СБИС.ИнформацияОКонтрагенте", params).await);
    assert_eq!(info["Идентификатор"], json!(COUNTERPARTY_PARTICIPANT_ID));
    let params =
        json!({"Участник": {"СвЮЛ": {"ИНН": "7702000007"}, "ДопПоля": "СписокИдентификаторов"}});
    let info = env_result(env.call(&sid, "СБИС.ИнформацияОКонтрагенте", params).await);
    assert_eq!(info["Идентификатор"], json!([]));
}

// ---- §12: limits -------------------------------------------------------------------------------

#[tokio::test]
async fn a_session_has_at_most_five_calls_in_flight() {
    let env = Env::start().await;
    let sid = env.login().await;
    let other = env.login().await;
    env.control.sbis_hold_calls(true).await.unwrap();
    let (done, mut answers) = tokio::sync::mpsc::unbounded_channel();
    for _ in 0..6 {
        let (http, url, sid, done) =
            (env.http.clone(), env.url("/service/"), sid.clone(), done.clone());
        tokio::spawn(async move {
            let call = json!({"jsonrpc": "2.0", "method": "СБИС.СписокНашихОрганизаций",
                              "params": {"Фильтр": {}}, "id": 1});
            let response =
                http.post(url).header("X-SBISSessionID", sid).json(&call).send().await.unwrap();
            let status = response.status();
            let body: Value = response.json().await.unwrap();
            done.send((status, body)).unwrap();
        });
    }
    // Held calls cannot answer: the first answer is the sixth call, refused at once.
    let (status, body) = answers.recv().await.unwrap();
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let classid = body["error"]["data"]["classid"].as_str().unwrap();
    assert!(classid.starts_with(TEMPORARY_PREFIX), "{body}");
    assert_eq!(env.control.sbis_calls_in_flight().await.unwrap(), 5);
    // Another session is not limited by this one's calls (it waits with them, then answers).
    let (http, url, other_done) = (env.http.clone(), env.url("/service/"), done.clone());
    tokio::spawn(async move {
        let call = json!({"jsonrpc": "2.0", "method": "СБИС.СписокНашихОрганизаций", "params": {}, "id": 2});
        let response =
            http.post(url).header("X-SBISSessionID", other).json(&call).send().await.unwrap();
        let status = response.status();
        other_done.send((status, response.json().await.unwrap())).unwrap();
    });
    drop(done);
    env.control.sbis_hold_calls(false).await.unwrap();
    let mut statuses = Vec::new();
    while let Some((status, _)) = answers.recv().await {
        statuses.push(status);
    }
    assert_eq!(statuses, vec![StatusCode::OK; 6]);
    assert_eq!(env.control.sbis_calls_in_flight().await.unwrap(), 0);
}

#[tokio::test]
async fn logins_are_limited_per_minute() {
    let env = Env::start().await;
    env.control.sbis_set_config(json!({"max_logins_per_minute": 2})).await.unwrap();
    env.login().await;
    env.login().await;
    let params = json!({"Параметр": {"Логин": LOGIN, "Пароль": PASSWORD}});
    let refused = env.rpc("/auth/service/", None, "СБИС.Аутентифицировать", params).await;
    assert_eq!(refused.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(refused.classid().starts_with(TEMPORARY_PREFIX));
}

// ---- §3.2, §3.3: certificate login and access tokens ------------------------------------------

#[tokio::test]
async fn a_certificate_login_signs_the_challenge() {
    let env = Env::start().await;
    let certificate = json!({"ДвоичныеДанные": STANDARD.encode(signer().certificate_der())});
    // §14.2: the first call answers a base64 challenge.
    let first = json!({"Сертификат": certificate});
    let answer =
        env.rpc("/auth/service/", None, "СБИС.АутентифицироватьПоСертификату", first.clone()).await;
    let challenge = STANDARD.decode(answer.result().as_str().unwrap()).unwrap();

    // A signature over something else, or by another key, is refused.
    let wrong = json!({"Сертификат": certificate, "Подпись": {"ДвоичныеДанные": STANDARD.encode(sign(b"other"))}});
    let refused =
        env.rpc("/auth/service/", None, "СБИС.АутентифицироватьПоСертификату", wrong).await;
    assert!(refused.classid().starts_with(FATAL_PREFIX), "{}", refused.body);
    let (other_cert, other_key) = testkeys::ecdsa_p256("Петров Пётр");
    let other = SoftwareSigner::from_pem(other_cert.as_bytes(), other_key.as_bytes()).unwrap();
    let foreign = other.sign(&challenge, CmsForm::Detached).unwrap();
    let foreign =
        json!({"Сертификат": certificate, "Подпись": {"ДвоичныеДанные": STANDARD.encode(foreign)}});
    let refused =
        env.rpc("/auth/service/", None, "СБИС.АутентифицироватьПоСертификату", foreign).await;
    assert_eq!(refused.status, StatusCode::INTERNAL_SERVER_ERROR);

    let signed = json!({"Сертификат": certificate,
                        "Подпись": {"ДвоичныеДанные": STANDARD.encode(sign(&challenge))}});
    let answer = env
        .rpc("/auth/service/", None, "СБИС.АутентифицироватьПоСертификату", signed.clone())
        .await;
    let sid = answer.result().as_str().unwrap().to_owned();
    let ours = env.call(&sid, "СБИС.СписокНашихОрганизаций", json!({"Фильтр": {}})).await;
    assert_eq!(ours.status, StatusCode::OK);
    // A challenge works once.
    let again =
        env.rpc("/auth/service/", None, "СБИС.АутентифицироватьПоСертификату", signed).await;
    assert_eq!(again.status, StatusCode::INTERNAL_SERVER_ERROR);
    let garbage = json!({"Сертификат": {"ДвоичныеДанные": "MTIz"}});
    let refused =
        env.rpc("/auth/service/", None, "СБИС.АутентифицироватьПоСертификату", garbage).await;
    assert!(refused.error()["message"].as_str().unwrap().contains("Сертификат"));
}

#[tokio::test]
async fn an_access_token_stands_for_its_session() {
    use signbridge_sandbox::sbis::{APP_CLIENT_ID, APP_SECRET, SECRET_KEY};
    let env = Env::start().await;
    let oauth = env.url("/oauth/service/");
    let bad = json!({"app_client_id": APP_CLIENT_ID, "app_secret": "x", "secret_key": SECRET_KEY});
    let response = env.http.post(&oauth).json(&bad).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let login =
        json!({"app_client_id": APP_CLIENT_ID, "app_secret": APP_SECRET, "secret_key": SECRET_KEY});
    let answer: Value =
        env.http.post(&oauth).json(&login).send().await.unwrap().json().await.unwrap();
    let token = answer["token"].as_str().unwrap().to_owned();
    assert!(answer["sid"].is_string());

    let call = |token: String| {
        let body = json!({"jsonrpc": "2.0", "method": "СБИС.ЗаписатьДокумент", "id": 1, "params":
            {"Документ": {"Тип": "ДокОтгрИсх", "Контрагент": {"СвЮЛ": {"ИНН": COUNTERPARTY_INN}},
                "Вложение": [{"Файл": {"Имя": "a.txt", "ДвоичныеДанные": "MTIz"}}]}}});
        env.http.post(env.url("/service/")).header("X-SBISAccessToken", token).json(&body).send()
    };
    let response = call(token.clone()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let doc: Value = response.json().await.unwrap();
    let link = doc["result"]["Вложение"][0]["Файл"]["Ссылка"].as_str().unwrap().to_owned();
    let file = env.http.get(&link).header("X-SBISAccessToken", &token).send().await.unwrap();
    assert_eq!(file.bytes().await.unwrap().as_ref(), b"123");

    // Revoked, the token is refused like an ended session; an unknown one too.
    let revoke = json!({"event": "exit", "token": token});
    assert_eq!(env.http.post(&oauth).json(&revoke).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(call(token).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(call("nope".into()).await.unwrap().status(), StatusCode::UNAUTHORIZED);
}

// ---- §9: the archive --------------------------------------------------------------------------

#[tokio::test]
async fn the_archive_link_serves_every_file_and_signature() {
    let env = Env::start().await;
    let sid = env.login().await;
    let id = "5f0c1d7e-0000-4000-8000-000000000050";
    env.send(&sid, id).await.result();
    let doc = env.control.sbis_counterparty_sign(id, None).await.unwrap();
    let (status, bytes) = env.download(&sid, doc["СсылкаНаАрхив"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut names: Vec<String> = archive.file_names().map(|n| n.unwrap().into_owned()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "ON_NSCHFDOPPR_1.xml",
            "ON_NSCHFDOPPR_1.xml.1.x.sgn",
            "ON_NSCHFDOPPR_1.xml.2.ON_NSCHFDOPPR_1_counterparty.sgn",
            "Счёт.pdf",
            "Счёт.pdf.1.x.sgn",
            "Счёт.pdf.2.Счёт_counterparty.sgn",
        ]
    );
    let mut xml = Vec::new();
    std::io::Read::read_to_end(&mut archive.by_name("ON_NSCHFDOPPR_1.xml").unwrap(), &mut xml)
        .unwrap();
    assert!(xml.starts_with(XML));
}
