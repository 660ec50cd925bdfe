//! What the SBIS simulator keeps: documents with their attachments, signatures, stages and
//! events, and how each is shown on the wire (contract §10).

use axum::body::Bytes;
use chrono::{DateTime, FixedOffset, Utc};
use serde_json::{Map, Value, json};

use super::account::{CERT_OWNER, CERT_THUMBPRINT};
use crate::files::sha256_hex;

/// Moscow time, in which SBIS writes every date (contract §0: "Server time zone is Moscow").
fn moscow(at: DateTime<Utc>) -> DateTime<FixedOffset> {
    let offset =
        FixedOffset::east_opt(3 * 3600).unwrap_or_else(|| FixedOffset::east_opt(0).unwrap());
    at.with_timezone(&offset)
}

/// `ДД.ММ.ГГГГ ЧЧ.ММ.СС`, dots between the time parts (contract §0).
pub(crate) fn wire_time(at: DateTime<Utc>) -> String {
    moscow(at).format("%d.%m.%Y %H.%M.%S").to_string()
}

/// `ДД.ММ.ГГГГ`.
pub(crate) fn wire_date(at: DateTime<Utc>) -> String {
    moscow(at).format("%d.%m.%Y").to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Outgoing,
    Incoming,
}

impl Direction {
    pub fn wire(self) -> &'static str {
        match self {
            Direction::Outgoing => "Исходящий",
            Direction::Incoming => "Входящий",
        }
    }
}

/// `Состояние.Код` values (contract §10.1) the simulator's state machine (§13) goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Code {
    /// "0": written, not sent.
    Draft,
    /// "2": sent as an invitation, the counterparty has no EDO participant id.
    Invited,
    /// "3": sent, waiting for delivery.
    Sent,
    /// "4": delivered to the counterparty (for an incoming document: waiting for our answer).
    Delivered,
    /// "7": approved; the workflow completed.
    Approved,
    /// "9": rejected; `Примечание` holds the reason.
    Rejected,
}

impl Code {
    pub fn wire(self) -> &'static str {
        match self {
            Code::Draft => "0",
            Code::Invited => "2",
            Code::Sent => "3",
            Code::Delivered => "4",
            Code::Approved => "7",
            Code::Rejected => "9",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Code::Draft => "Документ редактируется",
            Code::Invited => "Отослано приглашение",
            Code::Sent => "Отправлен",
            Code::Delivered => "Доставлен",
            Code::Approved => "Выполнение завершено успешно",
            Code::Rejected => "Выполнение завершено с проблемами",
        }
    }

    /// Whether the counterparty can still answer.
    pub fn awaits_counterparty(self) -> bool {
        matches!(self, Code::Invited | Code::Sent | Code::Delivered)
    }
}

/// An organisation as `СвЮЛ` (10-digit ИНН) or `СвФЛ` (12-digit ИНН).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Org {
    pub inn: String,
    pub kpp: Option<String>,
    pub name: Option<String>,
    /// EDO participant id; `None` for an organisation not connected to EDO.
    pub participant_id: Option<String>,
}

impl Org {
    pub fn view(&self, with_participant: bool) -> Value {
        let mut details = Map::new();
        details.insert("ИНН".into(), json!(self.inn));
        if let Some(kpp) = &self.kpp {
            details.insert("КПП".into(), json!(kpp));
        }
        if let Some(name) = &self.name {
            details.insert("Название".into(), json!(name));
        }
        let key = if self.inn.len() == 12 { "СвФЛ" } else { "СвЮЛ" };
        let mut org = Map::new();
        if let (true, Some(id)) = (with_participant, &self.participant_id) {
            org.insert("Идентификатор".into(), json!(id));
        }
        org.insert(key.into(), Value::Object(details));
        Value::Object(org)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Signature {
    pub file_name: String,
    pub bytes: Bytes,
    /// Download-link key.
    pub link: String,
    pub direction: Direction,
    /// The signing certificate's subject, when the CMS was read.
    pub subject: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Attachment {
    pub id: String,
    pub file_name: String,
    pub bytes: Bytes,
    /// Download-link key; the link always serves the current bytes.
    pub link: String,
    pub direction: Direction,
    /// SBIS changed the file when preparing it (contract §5.3 `Модифицирован`).
    pub modified: bool,
    /// A service document (извещение, подтверждение): `Служебный: "Да"`.
    pub service: bool,
    pub signatures: Vec<Signature>,
}

impl Attachment {
    pub fn hash(&self) -> String {
        // Contract §5.3: the algorithm is not documented [?]; SHA-256 hex of the bytes behind
        // `Ссылка`, as the contract proposes [I].
        sha256_hex(&self.bytes)
    }

    fn file(&self, origin: &str) -> Value {
        json!({"Имя": self.file_name, "Хеш": self.hash(), "Ссылка": link(origin, &self.link)})
    }

    pub fn view(&self, origin: &str) -> Value {
        let signatures: Vec<Value> = self.signatures.iter().map(|s| s.view(origin)).collect();
        json!({
            "Идентификатор": self.id,
            "Название": self.file_name,
            "Направление": self.direction.wire(),
            "Служебный": yes_no(self.service),
            "Модифицирован": yes_no(self.modified),
            "Удален": "Нет",
            "Файл": self.file(origin),
            "Подпись": signatures,
        })
    }

    /// As `ПодготовитьДействие` hands it out (contract §5.3).
    pub fn prepared_view(&self, origin: &str) -> Value {
        json!({
            "Идентификатор": self.id,
            "Название": self.file_name,
            "Модифицирован": yes_no(self.modified),
            "Файл": self.file(origin),
        })
    }
}

impl Signature {
    pub fn view(&self, origin: &str) -> Value {
        let mut view = json!({
            "Файл": {"Имя": self.file_name, "Ссылка": link(origin, &self.link)},
            "Направление": self.direction.wire(),
        });
        if let Some(subject) = &self.subject {
            view["Сертификат"] = json!({"ФИО": subject});
        }
        view
    }
}

/// One event of a document's history (contract §10 `Событие`).
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub id: String,
    pub name: &'static str,
    pub at: DateTime<Utc>,
    pub comment: Option<String>,
    /// Ids of the attachments the event carries.
    pub attachments: Vec<String>,
}

/// A stage the document can go through now, with its actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// "Отправка" / "Отправить": our outgoing draft.
    Send,
    /// "Утверждение" / "Утвердить" or "Отклонить": an incoming document (contract §7).
    Approve,
    /// A service stage of the document (`Document::service[i]`), "Обработать служебное" (§8).
    Service(usize),
}

/// The action of every service stage (contract §8).
pub(crate) const PROCESS_SERVICE: &str = "Обработать служебное";

impl Stage {
    /// `(action, needs a signature, needs a comment)`. Rejecting needs a comment; whether it
    /// needs a signed notice depends on the regulation (§14.13): here it does not [I].
    pub fn actions(self) -> &'static [(&'static str, bool, bool)] {
        match self {
            Stage::Send => &[("Отправить", true, false)],
            Stage::Approve => &[("Утвердить", true, false), ("Отклонить", false, true)],
            Stage::Service(_) => &[(PROCESS_SERVICE, true, false)],
        }
    }

    pub fn needs_signature(self, action: &str) -> bool {
        self.actions().iter().any(|(name, sign, _)| *name == action && *sign)
    }
}

/// A service stage SBIS generated for a document: the host must process it (sign the notice
/// SBIS generates) as the regulation requires (contract §8).
#[derive(Debug, Clone)]
pub(crate) struct ServiceStage {
    pub id: String,
    /// E.g. "Извещение о получении" (contract §14.15, the value illustrative [I]).
    pub name: &'static str,
    /// The event that made the stage appear.
    pub cause: &'static str,
    pub since: DateTime<Utc>,
    /// The notice generated by `ПодготовитьДействие`, to be signed.
    pub notice: Option<Attachment>,
    pub processed: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub(crate) struct Document {
    pub id: String,
    pub direction: Direction,
    pub kind: String,
    pub subtype: Option<String>,
    pub date: String,
    pub number: Option<String>,
    pub note: Option<String>,
    pub sum: Option<String>,
    pub ours: Org,
    pub counterparty: Org,
    /// `Ответственный`, `Регламент` and `ДокументОснование` as the client sent them.
    pub responsible: Option<Value>,
    pub regulation: Option<Value>,
    pub edition_id: String,
    /// `Редакция.ИдентификаторИС` / `ПримечаниеИС`: the host's own id of the document.
    pub host_id: Option<String>,
    pub attachments: Vec<Attachment>,
    pub code: Code,
    /// The rejection reason (`Состояние.Примечание`).
    pub reason: Option<String>,
    /// Id of each stage, stable over the document's life.
    pub send_stage_id: String,
    pub approve_stage_id: String,
    /// The recipient's title SBIS generated when approval was prepared (§7), to be signed.
    pub title: Option<Attachment>,
    pub service: Vec<ServiceStage>,
    pub events: Vec<Event>,
    pub created: DateTime<Utc>,
    /// Download-link key of the ZIP of every file and signature (`СсылкаНаАрхив`, §9).
    pub archive: String,
}

impl Document {
    /// The stages the caller can act on now.
    pub fn stages(&self) -> Vec<Stage> {
        let mut stages = match (self.direction, self.code) {
            (Direction::Outgoing, Code::Draft) => vec![Stage::Send],
            (Direction::Incoming, Code::Delivered) => vec![Stage::Approve],
            _ => Vec::new(),
        };
        let pending = self.service.iter().enumerate().filter(|(_, s)| s.processed.is_none());
        stages.extend(pending.map(|(i, _)| Stage::Service(i)));
        stages
    }

    pub fn stage_id(&self, stage: Stage) -> &str {
        match stage {
            Stage::Send => &self.send_stage_id,
            Stage::Approve => &self.approve_stage_id,
            Stage::Service(i) => &self.service[i].id,
        }
    }

    pub fn stage_name(&self, stage: Stage) -> &'static str {
        match stage {
            Stage::Send => "Отправка",
            Stage::Approve => "Утверждение",
            Stage::Service(i) => self.service[i].name,
        }
    }

    /// The files a stage's action signs: the primary attachments when sending, the generated
    /// title when approving, the generated notice of a service stage, nothing when rejecting.
    pub fn files_to_sign(&self, stage: Stage, action: &str) -> Vec<&Attachment> {
        if !stage.needs_signature(action) {
            return Vec::new();
        }
        match stage {
            Stage::Send => self.attachments.iter().collect(),
            Stage::Approve => self.title.iter().collect(),
            Stage::Service(i) => self.service[i].notice.iter().collect(),
        }
    }

    /// The ZIP behind `СсылкаНаАрхив`: every attachment under its name, each signature as
    /// `<attachment>.<n>.<signature name>` [I: SBIS's archive layout is not in the contract].
    pub fn archive_zip(&self) -> Result<Vec<u8>, String> {
        let mut names: Vec<String> = Vec::new();
        let mut contents: Vec<&[u8]> = Vec::new();
        for attachment in &self.attachments {
            names.push(attachment.file_name.clone());
            contents.push(&attachment.bytes);
            for (n, signature) in attachment.signatures.iter().enumerate() {
                names.push(format!("{}.{}.{}", attachment.file_name, n + 1, signature.file_name));
                contents.push(&signature.bytes);
            }
        }
        let entries: Vec<(&str, &[u8])> = names.iter().map(String::as_str).zip(contents).collect();
        crate::files::zip(&entries).map_err(|e| format!("the archive cannot be built: {e}"))
    }

    /// Every file of the document, the generated ones still waiting for a signature included.
    pub fn files(&self) -> impl Iterator<Item = &Attachment> {
        let notices = self.service.iter().filter_map(|s| s.notice.as_ref());
        self.attachments.iter().chain(self.title.as_ref()).chain(notices)
    }

    pub fn attachment(&self, id: &str) -> Option<usize> {
        self.attachments.iter().position(|a| same_id(&a.id, id))
    }

    pub fn state_view(&self) -> Value {
        let description = match self.code {
            Code::Sent => json!([{"Код": "1", "Название": "Ожидается доставка"}]),
            _ => json!(""),
        };
        let mut state = json!({
            "Код": self.code.wire(),
            "Название": self.code.name(),
            "Описание": description,
        });
        if let Some(reason) = &self.reason {
            state["Примечание"] = json!(reason);
        }
        state
    }

    pub fn stage_view(&self, stage: Stage) -> Value {
        let actions: Vec<Value> = stage
            .actions()
            .iter()
            .map(|(name, sign, comment)| {
                json!({
                    "Название": name,
                    "ТребуетПодписания": yes_no(*sign),
                    "ТребуетКомментария": yes_no(*comment),
                    "ТребуетРасшифровки": "Нет",
                    "Сертификат": [certificate()],
                })
            })
            .collect();
        json!({
            "Идентификатор": self.stage_id(stage),
            "Название": self.stage_name(stage),
            "Служебный": yes_no(matches!(stage, Stage::Service(_))),
            "Действие": actions,
        })
    }

    fn edition_view(&self) -> Value {
        let mut edition = json!({
            "Идентификатор": self.edition_id,
            "Актуален": "Да",
            "ДатаВремя": wire_time(self.created),
        });
        if let Some(host_id) = &self.host_id {
            edition["ПримечаниеИС"] = json!(host_id);
        }
        json!([edition])
    }

    pub fn event_view(&self, event: &Event, origin: &str) -> Value {
        let attachments: Vec<Value> = event
            .attachments
            .iter()
            .filter_map(|id| self.attachment(id))
            .map(|index| {
                let attachment = &self.attachments[index];
                let mut view = attachment.view(origin);
                if let Value::Object(map) = &mut view {
                    map.remove("Модифицирован");
                    map.remove("Удален");
                }
                view
            })
            .collect();
        let mut view = json!({
            "Идентификатор": event.id,
            "Название": event.name,
            "ДатаВремя": wire_time(event.at),
            "Вложение": attachments,
        });
        if let Some(comment) = &event.comment {
            view["Комментарий"] = json!(comment);
        }
        view
    }

    /// The whole document (contract §10), as `ПрочитатьДокумент` and `ЗаписатьДокумент` answer.
    pub fn view(&self, origin: &str) -> Value {
        let mut view = Map::new();
        view.insert("Идентификатор".into(), json!(self.id));
        view.insert("Направление".into(), json!(self.direction.wire()));
        view.insert("Тип".into(), json!(self.kind));
        if let Some(subtype) = &self.subtype {
            view.insert("Подтип".into(), json!(subtype));
        }
        view.insert("Дата".into(), json!(self.date));
        view.insert("ДатаВремяСоздания".into(), json!(wire_time(self.created)));
        for (key, value) in
            [("Номер", &self.number), ("Примечание", &self.note), ("Сумма", &self.sum)]
        {
            if let Some(value) = value {
                view.insert(key.into(), json!(value));
            }
        }
        view.insert("Удален".into(), json!("Нет"));
        view.insert("НашаОрганизация".into(), self.ours.view(false));
        view.insert("Контрагент".into(), self.counterparty.view(true));
        if let Some(responsible) = &self.responsible {
            view.insert("Ответственный".into(), responsible.clone());
        }
        if let Some(regulation) = &self.regulation {
            view.insert("Регламент".into(), regulation.clone());
        }
        view.insert("Редакция".into(), self.edition_view());
        view.insert("Состояние".into(), self.state_view());
        let stages: Vec<Value> = self.stages().into_iter().map(|s| self.stage_view(s)).collect();
        view.insert("Этап".into(), json!(stages));
        let attachments: Vec<Value> = self.attachments.iter().map(|a| a.view(origin)).collect();
        view.insert("Вложение".into(), json!(attachments));
        let events: Vec<Value> = self.events.iter().map(|e| self.event_view(e, origin)).collect();
        view.insert("Событие".into(), json!(events));
        view.insert("СсылкаНаАрхив".into(), json!(link(origin, &self.archive)));
        view.insert(
            "СсылкаДляНашаОрганизация".into(),
            json!(format!("{origin}/sbis/opendoc.html?guid={}", self.id)),
        );
        Value::Object(view)
    }

    /// The document with only the events at `events` (indexes into its history), as the
    /// change feed shows it.
    pub fn view_with_events(&self, origin: &str, events: &[usize]) -> Value {
        let mut view = self.view(origin);
        let shown: Vec<Value> = events
            .iter()
            .filter_map(|&e| self.events.get(e))
            .map(|e| self.event_view(e, origin))
            .collect();
        view["Событие"] = json!(shown);
        view
    }

    /// The prepared stage (contract §5.3): the files to sign, each with the link to the exact
    /// bytes to sign.
    pub fn prepared_view(&self, stage: Stage, action: &str, origin: &str) -> Value {
        let attachments: Vec<Value> =
            self.files_to_sign(stage, action).iter().map(|a| a.prepared_view(origin)).collect();
        let needs_signature = stage.needs_signature(action);
        json!({
            "Идентификатор": self.id,
            "Редакция": [{"Идентификатор": self.edition_id}],
            "Этап": [{
                "Идентификатор": self.stage_id(stage),
                "Название": self.stage_name(stage),
                "Действие": [{
                    "Название": action,
                    "Комментарий": "",
                    "ТребуетПодписания": yes_no(needs_signature),
                    "Сертификат": [{"Отпечаток": CERT_THUMBPRINT}],
                }],
                "Вложение": attachments,
            }],
        })
    }
}

/// The fixture signer's certificate as stages list it (contract §5.4), a client key: the host
/// signs.
pub(crate) fn certificate() -> Value {
    json!({
        "Отпечаток": CERT_THUMBPRINT,
        "ФИО": CERT_OWNER,
        "Ключ": {"Тип": "Клиентский", "Активирован": "Да"},
    })
}

pub(crate) fn yes_no(flag: bool) -> &'static str {
    if flag { "Да" } else { "Нет" }
}

/// A download link of this simulator.
pub(crate) fn link(origin: &str, key: &str) -> String {
    format!("{origin}/sbis/files/{key}")
}

/// Ids compare as GUIDs do: any casing, with or without braces.
pub(crate) fn same_id(a: &str, b: &str) -> bool {
    crate::ids::normalize_guid(a) == crate::ids::normalize_guid(b)
}
