//! SBIS JSON-RPC 2.0 as it goes over the wire (contract §1, §4–§10, §14): Cyrillic names kept
//! through serde renames. Every scalar is a string (`"Да"`/`"Нет"` for booleans); answers are
//! read leniently (numbers for strings, one object for a one-element array).

use serde::{Deserialize, Serialize};

use crate::providers::lenient::{one_or_many, text};

/// `"Да"`: yes, in every SBIS flag.
pub const YES: &str = "Да";
/// `"Нет"`.
pub const NO: &str = "Нет";

// ---- envelope (§1.3–§1.5) ----

#[derive(Debug, Serialize)]
pub struct Request<'a, P> {
    pub jsonrpc: &'static str,
    pub method: &'a str,
    pub params: P,
    pub id: u64,
}

/// `{"result": …}` or `{"error": …}`.
#[derive(Debug, Deserialize)]
pub struct Response<T> {
    #[serde(default = "Option::default")]
    pub result: Option<T>,
    #[serde(default)]
    pub error: Option<RpcError>,
}

/// The error member: an object (§1.5), or a bare string from legacy servers
/// (`{"error": "Not authorized.", "id": -1}`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RpcError {
    Object(ErrorObject),
    Text(String),
}

#[derive(Debug, Default, Deserialize)]
pub struct ErrorObject {
    #[serde(default, deserialize_with = "text")]
    pub message: String,
    #[serde(default, deserialize_with = "text")]
    pub details: String,
    #[serde(default)]
    pub data: Option<ErrorData>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ErrorData {
    #[serde(default, deserialize_with = "text")]
    pub classid: String,
}

// ---- auth (§3) ----

#[derive(Debug, Serialize)]
pub struct LoginParams<'a> {
    #[serde(rename = "Параметр")]
    pub parameter: Login<'a>,
}

#[derive(Debug, Serialize)]
pub struct Login<'a> {
    #[serde(rename = "Логин")]
    pub login: &'a str,
    #[serde(rename = "Пароль")]
    pub password: &'a str,
}

/// `СБИС.АутентифицироватьПоСертификату` (§3.2, §14.2), with the signed challenge on the
/// second call.
#[derive(Debug, Serialize)]
pub struct CertificateLogin {
    #[serde(rename = "Сертификат")]
    pub certificate: Binary,
    #[serde(rename = "Подпись", skip_serializing_if = "Option::is_none")]
    pub signature: Option<Binary>,
}

/// `{"ДвоичныеДанные": <base64>}`.
#[derive(Debug, Serialize)]
pub struct Binary {
    #[serde(rename = "ДвоичныеДанные")]
    pub data: String,
}

#[derive(Debug, Serialize)]
pub struct Empty {}

// ---- organisations (§4.2) ----

/// `НашаОрганизация` / `Контрагент`: a legal entity (`СвЮЛ`) or an individual (`СвФЛ`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Organization {
    /// The counterparty's EDO participant id (`Контрагент` only).
    #[serde(rename = "Идентификатор", skip_serializing_if = "Option::is_none", default)]
    pub participant_id: Option<String>,
    #[serde(rename = "СвЮЛ", skip_serializing_if = "Option::is_none", default)]
    pub legal: Option<Legal>,
    #[serde(rename = "СвФЛ", skip_serializing_if = "Option::is_none", default)]
    pub individual: Option<Individual>,
    #[serde(rename = "Email", skip_serializing_if = "Option::is_none", default)]
    pub email: Option<String>,
    #[serde(rename = "Телефон", skip_serializing_if = "Option::is_none", default)]
    pub phone: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Legal {
    #[serde(rename = "ИНН")]
    pub inn: String,
    #[serde(rename = "КПП", skip_serializing_if = "Option::is_none", default)]
    pub kpp: Option<String>,
    #[serde(rename = "Название", skip_serializing_if = "Option::is_none", default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Individual {
    #[serde(rename = "ИНН")]
    pub inn: String,
    #[serde(rename = "ЧастноеЛицо", skip_serializing_if = "Option::is_none", default)]
    pub private_person: Option<String>,
    #[serde(rename = "Фамилия", skip_serializing_if = "Option::is_none", default)]
    pub surname: Option<String>,
    #[serde(rename = "Имя", skip_serializing_if = "Option::is_none", default)]
    pub first_name: Option<String>,
    #[serde(rename = "Отчество", skip_serializing_if = "Option::is_none", default)]
    pub patronymic: Option<String>,
}

/// `Ответственный`: the employee responsible on our side.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Person {
    #[serde(rename = "Фамилия", skip_serializing_if = "Option::is_none", default)]
    pub surname: Option<String>,
    #[serde(rename = "Имя", skip_serializing_if = "Option::is_none", default)]
    pub first_name: Option<String>,
    #[serde(rename = "Отчество", skip_serializing_if = "Option::is_none", default)]
    pub patronymic: Option<String>,
}

// ---- writing (§4.2, §4.4, §14.7, §14.16) ----

#[derive(Debug, Serialize)]
pub struct DocumentParams<T> {
    #[serde(rename = "Документ")]
    pub document: T,
}

/// `СБИС.ЗаписатьДокумент`'s `Документ`.
#[derive(Debug, Serialize)]
pub struct WriteDocument {
    #[serde(rename = "Идентификатор")]
    pub id: String,
    #[serde(rename = "Тип")]
    pub kind: String,
    #[serde(rename = "Подтип", skip_serializing_if = "Option::is_none")]
    pub subtype: Option<String>,
    #[serde(rename = "Дата")]
    pub date: String,
    #[serde(rename = "Номер")]
    pub number: String,
    #[serde(rename = "Сумма", skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    #[serde(rename = "Примечание", skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(rename = "Срок", skip_serializing_if = "Option::is_none")]
    pub deadline: Option<String>,
    #[serde(rename = "НашаОрганизация")]
    pub our_organization: Organization,
    #[serde(rename = "Контрагент")]
    pub counterparty: Organization,
    #[serde(rename = "Ответственный", skip_serializing_if = "Option::is_none")]
    pub responsible: Option<Person>,
    #[serde(rename = "Регламент", skip_serializing_if = "Option::is_none")]
    pub regulation: Option<serde_json::Value>,
    #[serde(rename = "ДокументОснование", skip_serializing_if = "Option::is_none")]
    pub basis: Option<serde_json::Value>,
    #[serde(rename = "Редакция")]
    pub edition: EditionIs,
    #[serde(rename = "ДопПоля")]
    pub extra_fields: &'static str,
    #[serde(rename = "Вложение")]
    pub attachments: Vec<NewAttachment>,
}

/// `Редакция{ИдентификаторИС}`: the host's own id, for feedback.
#[derive(Debug, Serialize)]
pub struct EditionIs {
    #[serde(rename = "ИдентификаторИС")]
    pub is_id: String,
}

#[derive(Debug, Serialize)]
pub struct NewAttachment {
    #[serde(rename = "Идентификатор")]
    pub id: String,
    #[serde(rename = "Файл")]
    pub file: FileOut,
}

#[derive(Debug, Serialize)]
pub struct FileOut {
    #[serde(rename = "Имя")]
    pub name: String,
    /// Base64 without line breaks.
    #[serde(rename = "ДвоичныеДанные")]
    pub data: String,
}

/// `СБИС.ЗаписатьВложение`'s `Документ` (§4.4).
#[derive(Debug, Serialize)]
pub struct WriteAttachment {
    #[serde(rename = "Идентификатор")]
    pub id: String,
    #[serde(rename = "Этап")]
    pub stage: StageName,
    #[serde(rename = "Вложение")]
    pub attachments: Vec<NewAttachment>,
}

#[derive(Debug, Serialize)]
pub struct StageName {
    #[serde(rename = "Название")]
    pub name: String,
    #[serde(rename = "Действие")]
    pub actions: Vec<ActionName>,
}

#[derive(Debug, Serialize)]
pub struct ActionName {
    #[serde(rename = "Название")]
    pub name: String,
}

// ---- acting (§5, §7, §14.8, §14.9, §14.13) ----

/// `СБИС.ПодготовитьДействие`'s and `СБИС.ВыполнитьДействие`'s `Документ`.
#[derive(Debug, Serialize)]
pub struct Act {
    #[serde(rename = "Идентификатор")]
    pub id: String,
    #[serde(rename = "Редакция", skip_serializing_if = "Vec::is_empty")]
    pub editions: Vec<IdOnly>,
    #[serde(rename = "Этап")]
    pub stage: ActStage,
}

#[derive(Debug, Serialize)]
pub struct IdOnly {
    #[serde(rename = "Идентификатор")]
    pub id: String,
}

#[derive(Debug, Serialize)]
pub struct ActStage {
    #[serde(rename = "Идентификатор", skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "Название")]
    pub name: String,
    #[serde(rename = "Действие")]
    pub action: ActAction,
    #[serde(rename = "Вложение", skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<SignedAttachment>,
}

#[derive(Debug, Serialize)]
pub struct ActAction {
    #[serde(rename = "Название")]
    pub name: String,
    #[serde(rename = "Комментарий", skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(rename = "Сертификат", skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<Thumbprint>,
}

#[derive(Debug, Serialize)]
pub struct Thumbprint {
    #[serde(rename = "Отпечаток")]
    pub thumbprint: String,
}

#[derive(Debug, Serialize)]
pub struct SignedAttachment {
    #[serde(rename = "Идентификатор")]
    pub id: String,
    #[serde(rename = "Подпись")]
    pub signatures: Vec<SignatureOut>,
}

#[derive(Debug, Serialize)]
pub struct SignatureOut {
    #[serde(rename = "Файл")]
    pub file: FileOut,
}

/// `СБИС.ПрочитатьДокумент`'s `Документ` (§6.5, §14.11).
#[derive(Debug, Serialize)]
pub struct ReadDocument {
    #[serde(rename = "Идентификатор")]
    pub id: String,
    #[serde(rename = "ДопПоля")]
    pub extra_fields: &'static str,
}

// ---- listing (§6, §8, §11, §14.10, §14.12, §14.15) ----

#[derive(Debug, Serialize)]
pub struct FilterParams<T> {
    #[serde(rename = "Фильтр")]
    pub filter: T,
}

/// `СБИС.СписокИзменений`'s `Фильтр`: after an event id, or from a time when there is none.
#[derive(Debug, Serialize)]
pub struct ChangesFilter {
    #[serde(rename = "ИдентификаторСобытия", skip_serializing_if = "Option::is_none")]
    pub after_event: Option<String>,
    #[serde(rename = "ДатаВремяС", skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    #[serde(rename = "ПолныйСертификатЭП")]
    pub full_certificate: &'static str,
    #[serde(rename = "НашаОрганизация", skip_serializing_if = "Option::is_none")]
    pub our_organization: Option<Organization>,
    #[serde(rename = "Навигация")]
    pub navigation: Navigation,
}

/// `СБИС.СписокДокументов`'s `Фильтр`.
#[derive(Debug, Serialize)]
pub struct ListFilter {
    #[serde(rename = "Тип")]
    pub kind: String,
    #[serde(rename = "Направление", skip_serializing_if = "Option::is_none")]
    pub direction: Option<String>,
    #[serde(rename = "ДатаС", skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(rename = "ДатаПо", skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(rename = "ДопПоля")]
    pub extra_fields: &'static str,
    #[serde(rename = "Навигация")]
    pub navigation: Navigation,
}

/// `СБИС.СписокСлужебныхЭтапов`'s `Фильтр`.
#[derive(Debug, Serialize)]
pub struct ServiceStagesFilter {
    #[serde(rename = "НашаОрганизация")]
    pub our_organization: Organization,
    #[serde(rename = "ДопПоля")]
    pub extra_fields: &'static str,
    #[serde(rename = "Блокировать")]
    pub lock: &'static str,
    #[serde(rename = "Навигация")]
    pub navigation: Navigation,
}

#[derive(Debug, Serialize)]
pub struct Navigation {
    #[serde(rename = "РазмерСтраницы")]
    pub page_size: String,
    #[serde(rename = "Страница", skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
}

/// A list's answer: documents and whether more follow.
#[derive(Debug, Default, Deserialize)]
pub struct Page {
    #[serde(rename = "Документ", default, deserialize_with = "one_or_many")]
    pub documents: Vec<serde_json::Value>,
    #[serde(rename = "Навигация", default)]
    pub navigation: Option<PageNavigation>,
}

#[derive(Debug, Default, Deserialize)]
pub struct PageNavigation {
    #[serde(rename = "ЕстьЕще", default, deserialize_with = "text")]
    pub more: String,
}

// ---- the «Документ» object (§10) ----

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Document {
    #[serde(rename = "Идентификатор", default, deserialize_with = "text")]
    pub id: String,
    /// `Входящий` | `Исходящий`.
    #[serde(rename = "Направление", default, deserialize_with = "text")]
    pub direction: String,
    #[serde(rename = "Тип", default, deserialize_with = "text")]
    pub kind: String,
    #[serde(rename = "Номер", default, deserialize_with = "text")]
    pub number: String,
    #[serde(rename = "Дата", default, deserialize_with = "text")]
    pub date: String,
    #[serde(rename = "Состояние", default)]
    pub state: Option<DocState>,
    #[serde(rename = "Контрагент", default)]
    pub counterparty: Option<Organization>,
    #[serde(rename = "Редакция", default, deserialize_with = "one_or_many")]
    pub editions: Vec<Edition>,
    #[serde(rename = "Этап", default, deserialize_with = "one_or_many")]
    pub stages: Vec<Stage>,
    #[serde(rename = "Вложение", default, deserialize_with = "one_or_many")]
    pub attachments: Vec<Attachment>,
    #[serde(rename = "Событие", default, deserialize_with = "one_or_many")]
    pub events: Vec<DocEvent>,
    #[serde(rename = "СсылкаНаАрхив", default, deserialize_with = "text")]
    pub archive_link: String,
}

/// `Состояние` (§10.1); its `Описание` (a string or a list) stays in the raw reply.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DocState {
    #[serde(rename = "Код", default, deserialize_with = "text")]
    pub code: String,
    #[serde(rename = "Название", default, deserialize_with = "text")]
    pub name: String,
    /// The rejection reason.
    #[serde(rename = "Примечание", default, deserialize_with = "text")]
    pub note: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Edition {
    #[serde(rename = "Идентификатор", default, deserialize_with = "text")]
    pub id: String,
    /// The host's id the edition was written with (`Редакция.ИдентификаторИС` on writing).
    #[serde(rename = "ПримечаниеИС", default, deserialize_with = "text")]
    pub is_note: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Stage {
    #[serde(rename = "Идентификатор", default, deserialize_with = "text")]
    pub id: String,
    #[serde(rename = "Название", default, deserialize_with = "text")]
    pub name: String,
    #[serde(rename = "Служебный", default, deserialize_with = "text")]
    pub service: String,
    #[serde(rename = "Действие", default, deserialize_with = "one_or_many")]
    pub actions: Vec<Action>,
    /// Only in `ПодготовитьДействие`'s answer: the files to sign.
    #[serde(rename = "Вложение", default, deserialize_with = "one_or_many")]
    pub attachments: Vec<Attachment>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Action {
    #[serde(rename = "Название", default, deserialize_with = "text")]
    pub name: String,
    #[serde(rename = "ТребуетПодписания", default, deserialize_with = "text")]
    pub needs_signature: String,
    #[serde(rename = "Сертификат", default, deserialize_with = "one_or_many")]
    pub certificates: Vec<Certificate>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Certificate {
    #[serde(rename = "Отпечаток", default, deserialize_with = "text")]
    pub thumbprint: String,
    #[serde(rename = "Ключ", default)]
    pub key: Option<Key>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Key {
    /// `Клиентский` (the host signs) or `Серверный` / `Отложенный` / … (SBIS signs).
    #[serde(rename = "Тип", default, deserialize_with = "text")]
    pub kind: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Attachment {
    #[serde(rename = "Идентификатор", default, deserialize_with = "text")]
    pub id: String,
    #[serde(rename = "Направление", default, deserialize_with = "text")]
    pub direction: String,
    #[serde(rename = "Служебный", default, deserialize_with = "text")]
    pub service: String,
    #[serde(rename = "Модифицирован", default, deserialize_with = "text")]
    pub modified: String,
    #[serde(rename = "Файл", default)]
    pub file: Option<FileIn>,
    #[serde(rename = "Подпись", default, deserialize_with = "one_or_many")]
    pub signatures: Vec<SignatureIn>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct FileIn {
    #[serde(rename = "Имя", default, deserialize_with = "text")]
    pub name: String,
    #[serde(rename = "Ссылка", default, deserialize_with = "text")]
    pub link: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SignatureIn {
    #[serde(rename = "Файл", default)]
    pub file: Option<FileIn>,
    /// `Исходящий`: ours; `Входящий`: the counterparty's.
    #[serde(rename = "Направление", default, deserialize_with = "text")]
    pub direction: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct DocEvent {
    #[serde(rename = "Идентификатор", default, deserialize_with = "text")]
    pub id: String,
    #[serde(rename = "Название", default, deserialize_with = "text")]
    pub name: String,
    #[serde(rename = "ДатаВремя", default, deserialize_with = "text")]
    pub at: String,
    #[serde(rename = "Вложение", default, deserialize_with = "one_or_many")]
    pub attachments: Vec<Attachment>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// §14.7's request, as the contract writes it.
    #[test]
    fn write_document_is_spelled_as_the_contract() {
        let doc = WriteDocument {
            id: "5f0c1d7e-0000-4000-8000-000000000001".into(),
            kind: "ДокОтгрИсх".into(),
            subtype: None,
            date: "01.06.2026".into(),
            number: "УПД-100".into(),
            amount: None,
            note: Some("ext-100".into()),
            deadline: None,
            our_organization: Organization {
                legal: Some(Legal {
                    inn: "7700000001".into(),
                    kpp: Some("770001001".into()),
                    name: None,
                }),
                ..Default::default()
            },
            counterparty: Organization {
                participant_id: Some("2BE812d49a2f4764a9e8155d95b0ba14708".into()),
                legal: Some(Legal {
                    inn: "7601000985".into(),
                    kpp: Some("760601001".into()),
                    name: Some("СК Премьер, ОАО".into()),
                }),
                ..Default::default()
            },
            responsible: Some(Person {
                surname: Some("Иванов".into()),
                first_name: Some("Иван".into()),
                patronymic: Some("Иванович".into()),
            }),
            regulation: None,
            basis: None,
            edition: EditionIs { is_id: "erp:100".into() },
            extra_fields: "ЭтапВернутьВсеСертификаты",
            attachments: vec![NewAttachment {
                id: "5f0c1d7e-0000-4000-8000-0000000000a1".into(),
                file: FileOut { name: "upd.xml".into(), data: "PD94bWwg".into() },
            }],
        };
        let v = serde_json::to_value(DocumentParams { document: doc }).unwrap();
        assert_eq!(
            v,
            json!({"Документ": {
                "Идентификатор": "5f0c1d7e-0000-4000-8000-000000000001",
                "Тип": "ДокОтгрИсх", "Дата": "01.06.2026", "Номер": "УПД-100",
                "Примечание": "ext-100",
                "НашаОрганизация": {"СвЮЛ": {"ИНН": "7700000001", "КПП": "770001001"}},
                "Контрагент": {"Идентификатор": "2BE812d49a2f4764a9e8155d95b0ba14708",
                    "СвЮЛ": {"ИНН": "7601000985", "КПП": "760601001", "Название": "СК Премьер, ОАО"}},
                "Ответственный": {"Фамилия": "Иванов", "Имя": "Иван", "Отчество": "Иванович"},
                "Редакция": {"ИдентификаторИС": "erp:100"},
                "ДопПоля": "ЭтапВернутьВсеСертификаты",
                "Вложение": [{"Идентификатор": "5f0c1d7e-0000-4000-8000-0000000000a1",
                    "Файл": {"Имя": "upd.xml", "ДвоичныеДанные": "PD94bWwg"}}]}})
        );
    }

    /// §14.9's request.
    #[test]
    fn execute_is_spelled_as_the_contract() {
        let act = Act {
            id: "d".into(),
            editions: vec![IdOnly { id: "ed-1".into() }],
            stage: ActStage {
                id: Some("stage-1".into()),
                name: "Отправка".into(),
                action: ActAction {
                    name: "Отправить".into(),
                    comment: Some(String::new()),
                    certificates: vec![Thumbprint { thumbprint: "t".into() }],
                },
                attachments: vec![SignedAttachment {
                    id: "a".into(),
                    signatures: vec![SignatureOut {
                        file: FileOut { name: "a.sgn".into(), data: "MII".into() },
                    }],
                }],
            },
        };
        assert_eq!(
            serde_json::to_value(DocumentParams { document: act }).unwrap(),
            json!({"Документ": {"Идентификатор": "d", "Редакция": [{"Идентификатор": "ed-1"}],
                "Этап": {"Идентификатор": "stage-1", "Название": "Отправка",
                    "Действие": {"Название": "Отправить", "Комментарий": "",
                        "Сертификат": [{"Отпечаток": "t"}]},
                    "Вложение": [{"Идентификатор": "a",
                        "Подпись": [{"Файл": {"Имя": "a.sgn", "ДвоичныеДанные": "MII"}}]}]}}})
        );
    }

    /// §14.8's answer: the prepared stage with its files.
    #[test]
    fn prepare_answer_reads() {
        let body = json!({"jsonrpc":"2.0","result":{
          "Идентификатор":"5f0c1d7e-0000-4000-8000-000000000001",
          "Редакция":[{"Идентификатор":"ed-1"}],
          "Этап":[{"Идентификатор":"stage-1","Название":"Отправка",
            "Действие":[{"Название":"Отправить","Комментарий":"","ТребуетПодписания":"Да",
                         "Сертификат":[{"Отпечаток":"thumb"}]}],
            "Вложение":[{"Идентификатор":"a1","Название":"УПД № УПД-100",
                         "Модифицирован":"Нет",
                         "Файл":{"Имя":"ON.xml","Хеш":"h","Ссылка":"https://x/f"}}]}]},"id":2});
        let r: Response<Document> = serde_json::from_value(body).unwrap();
        let d = r.result.unwrap();
        assert_eq!(d.editions[0].id, "ed-1");
        let stage = &d.stages[0];
        assert_eq!((stage.id.as_str(), stage.name.as_str()), ("stage-1", "Отправка"));
        assert_eq!(stage.actions[0].needs_signature, YES);
        assert_eq!(stage.actions[0].certificates[0].thumbprint, "thumb");
        let file = stage.attachments[0].file.as_ref().unwrap();
        assert_eq!((file.name.as_str(), file.link.as_str()), ("ON.xml", "https://x/f"));
    }

    /// §14.9's answer and §14.10's change list: states, events, one-object lists.
    #[test]
    fn execute_answer_and_change_list_read() {
        let r: Response<Document> = serde_json::from_value(json!({"jsonrpc":"2.0","result":{
          "Идентификатор":"d","Направление":"Исходящий",
          "Состояние":{"Код":"3","Название":"Отправлен","Описание":[{"Код":"1","Название":"Ожидается доставка"}]},
          "Событие":{"Идентификатор":"ev-1","Название":"Отправка","ДатаВремя":"01.06.2026 10.00.05",
              "Группа":{"Код":"g","Название":"g"},
              "Вложение":[{"Идентификатор":"a","Направление":"Исходящий","Служебный":"Нет"}]}},"id":3}))
        .unwrap();
        let d = r.result.unwrap();
        assert_eq!(d.state.unwrap().code, "3");
        assert_eq!(d.events.len(), 1, "one object reads as a one-element list");
        assert_eq!(d.events[0].at, "01.06.2026 10.00.05");

        let page: Response<Page> = serde_json::from_value(json!({"jsonrpc":"2.0","result":{
          "Документ":[{"Идентификатор":"in","Направление":"Входящий","Тип":"ДокОтгрВх",
            "Состояние":{"Код":4,"Название":"Доставлен"},
            "Этап":[{"Идентификатор":"s","Название":"Утверждение",
                     "Действие":[{"Название":"Утвердить"},{"Название":"Отклонить","ТребуетКомментария":"Да"}]}],
            "Событие":[{"Идентификатор":"ev-9","Название":"Получение","ДатаВремя":"01.06.2026 10.01.00",
              "Вложение":[{"Идентификатор":"att","Направление":"Входящий","Служебный":"Нет",
                "Файл":{"Имя":"f.xml","Ссылка":"u"},
                "Подпись":[{"Файл":{"Имя":"f.sgn","Ссылка":"u2"}}]}]}]}],
          "Навигация":{"ЕстьЕще":"Нет","РазмерСтраницы":"100"}},"id":5}))
        .unwrap();
        let page = page.result.unwrap();
        assert_eq!(page.navigation.unwrap().more, NO);
        let d: Document = serde_json::from_value(page.documents[0].clone()).unwrap();
        assert_eq!(d.state.unwrap().code, "4", "a number reads as text");
        assert_eq!(d.stages[0].actions[1].name, "Отклонить");
        let sig = &d.events[0].attachments[0].signatures[0];
        assert_eq!(sig.file.as_ref().unwrap().link, "u2");
    }

    #[test]
    fn errors_read_as_objects_or_text() {
        let r: Response<serde_json::Value> = serde_json::from_value(json!({"jsonrpc":"2.0",
            "error":{"code":-32000,"message":"Сессия не найдена","details":"Сессия не найдена",
            "type":"error","data":{"classid":"{00000000-0000-0000-0000-1fa000000001}"}},"id":1}))
        .unwrap();
        let Some(RpcError::Object(e)) = r.error else { panic!("an error object") };
        assert_eq!(e.message, "Сессия не найдена");
        assert!(e.data.unwrap().classid.starts_with("{00000000"));
        let r: Response<serde_json::Value> =
            serde_json::from_value(json!({"error": "Not authorized.", "id": -1})).unwrap();
        assert!(matches!(r.error, Some(RpcError::Text(t)) if t == "Not authorized."));
        assert!(r.result.is_none());
    }
}
