//! The SBIS simulator's state and what each method does to it: sessions, documents and the
//! reference state machine of contract §13.

use std::collections::HashMap;

use axum::body::Bytes;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::SbisConfig;
use super::account::{self, CERT_OWNER};
use super::model::{
    Attachment, Code, Direction, Document, Event, Org, ServiceStage, Signature, Stage, same_id,
    wire_date,
};
use super::rpc::{self, RpcError, many, non_empty, one};
use crate::cms_check;
use crate::files::{Blob, mime_type, stem};
use crate::ids::{new_guid, random_segment};

/// The message SBIS answers `СБИС.Выход` without a session with (contract §3.5, §14.3).
pub(crate) const NO_SESSION: &str = "Ошибка входных параметров: не передан идентификатор сессии";

#[derive(Debug, Clone)]
struct Session {
    last_used: DateTime<Utc>,
}

pub(crate) struct State {
    pub config: SbisConfig,
    sessions: HashMap<String, Session>,
    /// Challenges of certificate logins: challenge (base64) → the certificate's subject and
    /// when the challenge stops being accepted.
    pub(super) challenges: HashMap<String, (String, DateTime<Utc>)>,
    /// Access tokens of service logins (`X-SBISAccessToken`) → their session.
    pub(super) tokens: HashMap<String, String>,
    logins: super::limits::Logins,
    pub documents: Vec<Document>,
    /// The account's change feed: `(document, event)` indexes in the order events happened.
    pub(super) feed: Vec<(usize, usize)>,
    /// Position in [`State::feed`] of each event id.
    pub(super) feed_index: HashMap<String, usize>,
}

impl State {
    pub fn new(config: SbisConfig) -> State {
        State {
            config,
            sessions: HashMap::new(),
            challenges: HashMap::new(),
            tokens: HashMap::new(),
            logins: super::limits::Logins::default(),
            documents: Vec::new(),
            feed: Vec::new(),
            feed_index: HashMap::new(),
        }
    }

    // ---- sessions ------------------------------------------------------------------------

    /// `СБИС.Аутентифицировать` (contract §3.1): `{"Параметр": {"Логин", "Пароль"}}` or the
    /// bare `{"Логин", "Пароль"}`; the session id on success.
    pub fn authenticate(
        &mut self,
        params: &Map<String, Value>,
        now: DateTime<Utc>,
    ) -> Result<String, RpcError> {
        self.admit_login(now)?;
        let credentials = params.get("Параметр").and_then(Value::as_object).unwrap_or(params);
        let login = rpc::text(credentials.get("Логин")).unwrap_or_default();
        let password = rpc::text(credentials.get("Пароль")).unwrap_or_default();
        if password.is_empty() {
            // Contract §1.5: a message seen verbatim.
            return Err(RpcError::fatal("Ошибка аутентификации. Пустое значение поля Пароль!"));
        }
        if login != self.config.login || password != self.config.password {
            return Err(RpcError::fatal("Неверный логин или пароль."));
        }
        Ok(self.open_session(now))
    }

    /// A new session, in use from `now`.
    pub(super) fn open_session(&mut self, now: DateTime<Utc>) -> String {
        let sid = session_id();
        self.sessions.insert(sid.clone(), Session { last_used: now });
        sid
    }

    /// Counts a login call against the §12 rate.
    pub(super) fn admit_login(&mut self, now: DateTime<Utc>) -> Result<(), RpcError> {
        self.logins.admit(now, self.config.max_logins_per_minute)
    }

    /// Checks the session of a call and counts the call as activity; a missing, unknown or
    /// idle-expired session is refused with HTTP 401 (contract §1.5, §3.4).
    pub fn touch(&mut self, sid: Option<&str>, now: DateTime<Utc>) -> Result<(), RpcError> {
        let Some(sid) = sid else {
            return Err(RpcError { message: NO_SESSION.into(), ..RpcError::session_refused() });
        };
        let idle =
            chrono::Duration::from_std(self.config.session_idle).unwrap_or(chrono::Duration::MAX);
        match self.sessions.get_mut(sid) {
            Some(session) if now - session.last_used <= idle => {
                session.last_used = now;
                Ok(())
            }
            Some(_) => {
                self.sessions.remove(sid);
                Err(RpcError::session_refused())
            }
            None => Err(RpcError::session_refused()),
        }
    }

    /// `СБИС.Выход` (contract §3.5): without a session, the §14.3 warning; an unknown session
    /// is already gone, so logging it out succeeds [I].
    pub fn logout(&mut self, sid: Option<&str>) -> Result<Value, RpcError> {
        let Some(sid) = sid else {
            return Err(RpcError { warning: true, classid: None, ..RpcError::fatal(NO_SESSION) });
        };
        self.sessions.remove(sid);
        Ok(Value::Null)
    }

    /// `СБИС.ПроверитьСессию` (contract §3.4).
    pub fn check_session(&self, sid: Option<&str>, now: DateTime<Utc>) -> Value {
        let idle =
            chrono::Duration::from_std(self.config.session_idle).unwrap_or(chrono::Duration::MAX);
        let active = sid
            .and_then(|sid| self.sessions.get(sid))
            .is_some_and(|session| now - session.last_used <= idle);
        serde_json::json!({ "СессияАктивна": super::model::yes_no(active) })
    }

    /// Ends `sid`, or every session; returns how many ended.
    pub fn expire_sessions(&mut self, sid: Option<&str>) -> usize {
        match sid {
            Some(sid) => usize::from(self.sessions.remove(sid).is_some()),
            None => {
                let count = self.sessions.len();
                self.sessions.clear();
                count
            }
        }
    }

    // ---- documents -----------------------------------------------------------------------

    pub fn find(&self, id: &str) -> Option<usize> {
        self.documents.iter().position(|d| same_id(&d.id, id))
    }

    /// The document a call's `Документ.Идентификатор` names.
    fn named(&self, document: &Map<String, Value>) -> Result<usize, RpcError> {
        let id = non_empty(document.get("Идентификатор"))
            .ok_or_else(|| RpcError::fatal("Не передан Документ.Идентификатор"))?;
        self.find(&id).ok_or_else(|| RpcError::fatal(format!("Документ {id} не найден")))
    }

    /// `СБИС.ЗаписатьДокумент` (contract §4.2, §4.3): creates a draft, or updates a draft with
    /// the same `Идентификатор`.
    pub fn write_document(
        &mut self,
        params: &Map<String, Value>,
        now: DateTime<Utc>,
    ) -> Result<usize, RpcError> {
        let document = document_param(params)?;
        let id = non_empty(document.get("Идентификатор")).unwrap_or_else(new_guid);
        let existing = self.find(&id);
        if let Some(index) = existing {
            let current = &self.documents[index];
            if current.direction != Direction::Outgoing || current.code != Code::Draft {
                return Err(RpcError::fatal(format!(
                    "Документ {id} уже в документообороте (состояние «{}»): изменить можно только \
                     черновик",
                    current.code.name()
                )));
            }
        }
        let kind = non_empty(document.get("Тип"))
            .or_else(|| existing.map(|i| self.documents[i].kind.clone()))
            .ok_or_else(|| RpcError::fatal("Не указан тип документа (Документ.Тип)"))?;
        let ours = our_organisation(document.get("НашаОрганизация"))?;
        let counterparty = match (document.get("Контрагент"), existing) {
            (Some(value), _) => counterparty(value)?,
            (None, Some(index)) => self.documents[index].counterparty.clone(),
            (None, None) => return Err(RpcError::fatal("Не указан Документ.Контрагент")),
        };
        let doc_index = existing.unwrap_or(self.documents.len());
        let mut attachments = existing.map(|i| self.documents[i].attachments.clone());
        if document.contains_key("Вложение") || attachments.is_none() {
            let previous = attachments.unwrap_or_default();
            attachments = Some(read_attachments(document.get("Вложение"), doc_index, &previous)?);
        }
        let host_id = one(document.get("Редакция")).and_then(|edition| {
            non_empty(edition.get("ИдентификаторИС")).or(non_empty(edition.get("ПримечаниеИС")))
        });
        let written = Document {
            id: existing.map_or(id, |i| self.documents[i].id.clone()),
            direction: Direction::Outgoing,
            kind,
            subtype: non_empty(document.get("Подтип")),
            date: non_empty(document.get("Дата")).unwrap_or_else(|| wire_date(now)),
            number: non_empty(document.get("Номер")),
            note: non_empty(document.get("Примечание")),
            sum: non_empty(document.get("Сумма")),
            ours,
            counterparty,
            responsible: document.get("Ответственный").cloned(),
            regulation: document.get("Регламент").cloned(),
            edition_id: existing.map_or_else(new_guid, |i| self.documents[i].edition_id.clone()),
            host_id: host_id.or_else(|| existing.and_then(|i| self.documents[i].host_id.clone())),
            attachments: attachments.unwrap_or_default(),
            code: Code::Draft,
            reason: None,
            send_stage_id: existing
                .map_or_else(new_guid, |i| self.documents[i].send_stage_id.clone()),
            approve_stage_id: new_guid(),
            title: None,
            service: Vec::new(),
            events: Vec::new(),
            created: existing.map_or(now, |i| self.documents[i].created),
            archive: existing
                .map_or_else(|| link_key(doc_index), |i| self.documents[i].archive.clone()),
        };
        match existing {
            Some(index) => self.documents[index] = written,
            None => self.documents.push(written),
        }
        Ok(doc_index)
    }

    /// `СБИС.ПодготовитьДействие` (contract §5.2, §5.3, §7, §8): the files to sign. When
    /// sending, a formalised XML file is changed first, as SBIS fills in the signer
    /// (`Модифицирован: "Да"`), so the host must sign the bytes behind `Файл.Ссылка`, not its
    /// original [I: what SBIS changes]; approving generates the recipient's title, a service
    /// stage its notice.
    pub fn prepare(
        &mut self,
        params: &Map<String, Value>,
    ) -> Result<(usize, Stage, String), RpcError> {
        let document = document_param(params)?;
        let index = self.named(document)?;
        let (stage, action) = resolve_stage(&self.documents[index], document)?;
        let doc = &mut self.documents[index];
        match stage {
            Stage::Send => {
                if doc.attachments.is_empty() {
                    return Err(RpcError::fatal(format!("В документе {} нет вложений", doc.id)));
                }
                for attachment in &mut doc.attachments {
                    if !attachment.modified && attachment.file_name.to_lowercase().ends_with(".xml")
                    {
                        let mut bytes = attachment.bytes.to_vec();
                        let signer = format!("\n<!-- Подписант: {CERT_OWNER} -->\n");
                        bytes.extend_from_slice(signer.as_bytes());
                        attachment.bytes = Bytes::from(bytes);
                        attachment.modified = true;
                    }
                }
            }
            Stage::Approve if stage.needs_signature(&action) && doc.title.is_none() => {
                let name = format!("ON_NSCHFDOPPOK_{}.xml", doc.id);
                let content = generated_xml("Титул покупателя", &doc.id, CERT_OWNER);
                doc.title = Some(generated(index, name, content, false));
            }
            Stage::Service(i) if doc.service[i].notice.is_none() => {
                let name = format!("DP_IZVPOL_{}.xml", doc.service[i].id);
                let content = generated_xml(doc.service[i].name, &doc.id, &doc.service[i].id);
                doc.service[i].notice = Some(generated(index, name, content, true));
            }
            Stage::Approve | Stage::Service(_) => {}
        }
        Ok((index, stage, action))
    }

    /// `СБИС.ВыполнитьДействие` (contract §5.5, §5.6, §7, §8, §13): every file the action signs
    /// needs a CMS over exactly the bytes `ПодготовитьДействие` handed out (detached, or attached
    /// with that content).
    pub fn execute(
        &mut self,
        params: &Map<String, Value>,
        now: DateTime<Utc>,
    ) -> Result<usize, RpcError> {
        let document = document_param(params)?;
        let index = self.named(document)?;
        let (stage, action) = resolve_stage(&self.documents[index], document)?;
        let doc = &self.documents[index];
        let edition = one(document.get("Редакция")).and_then(|e| non_empty(e.get("Идентификатор")));
        if let Some(edition) = edition.filter(|e| !same_id(e, &doc.edition_id)) {
            return Err(RpcError::fatal(format!(
                "Редакция {edition} документа {} не актуальна",
                doc.id
            )));
        }
        let given_stage = one(document.get("Этап")).cloned().unwrap_or_default();
        let comment =
            one(given_stage.get("Действие")).and_then(|a| non_empty(a.get("Комментарий")));
        let needs_comment = stage.actions().iter().any(|(name, _, c)| *name == action && *c);
        if needs_comment && comment.is_none() {
            // Contract §7: "Отклонить" requires a comment (`ТребуетКомментария: "Да"`) [I: that
            // the server enforces it].
            return Err(RpcError::fatal(format!(
                "Для действия «{action}» необходимо указать комментарий (Действие.Комментарий)"
            )));
        }
        let files = doc.files_to_sign(stage, &action);
        if stage.needs_signature(&action) && files.is_empty() {
            return Err(RpcError::fatal(format!(
                "Действие «{action}» не подготовлено: сначала вызовите СБИС.ПодготовитьДействие"
            )));
        }
        let mut signatures: Vec<Vec<Signature>> = vec![Vec::new(); files.len()];
        for given in many(given_stage.get("Вложение")) {
            let id = non_empty(given.get("Идентификатор"))
                .ok_or_else(|| RpcError::fatal("Этап.Вложение[].Идентификатор не передан"))?;
            let at = files.iter().position(|f| same_id(&f.id, &id)).ok_or_else(|| {
                RpcError::fatal(format!("Вложение {id} не подписывается этим действием"))
            })?;
            for signature in many(given.get("Подпись")) {
                let file = one(signature.get("Файл")).ok_or_else(|| {
                    RpcError::fatal(format!("Подпись вложения {id}: не передан Файл"))
                })?;
                let bytes =
                    base64_field(file.get("ДвоичныеДанные"), "Подпись.Файл.ДвоичныеДанные")?;
                let checked = cms_check::check_signature(
                    &bytes,
                    &files[at].bytes,
                    self.config.verify_signatures,
                )
                .map_err(|e| RpcError::fatal(format!("Подпись вложения {id} неверна: {e}")))?;
                let file_name = non_empty(file.get("Имя"))
                    .unwrap_or_else(|| format!("{}.sgn", stem(&files[at].file_name)));
                signatures[at].push(Signature {
                    file_name,
                    bytes: Bytes::from(bytes),
                    link: link_key(index),
                    direction: Direction::Outgoing,
                    subject: checked.signer_subject,
                });
            }
        }
        if let Some(at) = signatures.iter().position(Vec::is_empty) {
            return Err(RpcError::fatal(format!(
                "Вложение {} не подписано: ключ клиентский, передайте Этап.Вложение[].Подпись",
                files[at].id
            )));
        }
        let mut signatures = signatures.into_iter();
        let doc = &mut self.documents[index];
        match stage {
            Stage::Send => {
                for (attachment, signed) in doc.attachments.iter_mut().zip(signatures) {
                    attachment.signatures.extend(signed);
                }
                doc.code = if doc.counterparty.participant_id.is_some() {
                    Code::Sent
                } else {
                    Code::Invited
                };
                let attachments = doc.attachments.iter().map(|a| a.id.clone()).collect();
                self.event(index, "Отправка", now, None, attachments);
                if self.config.service_stages {
                    // Contract §8: after sending, the operator confirms the date of sending
                    // and the sender owes a notice of receipt of that confirmation.
                    self.event(index, "Подтверждение даты отправки", now, None, Vec::new());
                    self.add_service_stage(index, "Подтверждение даты отправки", now);
                }
            }
            Stage::Approve if action == "Утвердить" => {
                if let Some(mut title) = doc.title.take() {
                    title.signatures.extend(signatures.next().unwrap_or_default());
                    let id = title.id.clone();
                    doc.attachments.push(title);
                    doc.code = Code::Approved;
                    self.event(index, "Утверждение", now, comment, vec![id]);
                }
            }
            Stage::Approve => {
                doc.code = Code::Rejected;
                doc.reason = comment.clone();
                self.event(index, "Отклонение", now, comment, Vec::new());
            }
            Stage::Service(i) => {
                let stage = &mut doc.service[i];
                stage.processed = Some(now);
                if let Some(mut notice) = stage.notice.take() {
                    notice.signatures.extend(signatures.next().unwrap_or_default());
                    let id = notice.id.clone();
                    doc.attachments.push(notice);
                    // [I] the event name: the contract lists none for a processed stage.
                    self.event(index, "Отправка служебного документа", now, None, vec![id]);
                }
            }
        }
        Ok(index)
    }

    /// A service stage appears on document `index` after event `cause` (contract §8).
    pub(super) fn add_service_stage(
        &mut self,
        index: usize,
        cause: &'static str,
        now: DateTime<Utc>,
    ) {
        self.documents[index].service.push(ServiceStage {
            id: new_guid(),
            name: "Извещение о получении",
            cause,
            since: now,
            notice: None,
            processed: None,
        });
    }

    /// Appends an event to document `index` (contract §13 step 6).
    pub(super) fn event(
        &mut self,
        index: usize,
        name: &'static str,
        at: DateTime<Utc>,
        comment: Option<String>,
        attachments: Vec<String>,
    ) {
        let event = Event { id: new_guid(), name, at, comment, attachments };
        self.feed_index.insert(event.id.clone(), self.feed.len());
        self.feed.push((index, self.documents[index].events.len()));
        self.documents[index].events.push(event);
    }

    /// `СБИС.ЗаписатьВложение` (contract §4.4, §14.16): adds attachments to a draft, or
    /// replaces those with the same `Идентификатор` [I: only drafts, the one stage the
    /// simulator lets a host change files in].
    pub fn write_attachments(&mut self, params: &Map<String, Value>) -> Result<usize, RpcError> {
        let document = document_param(params)?;
        let index = self.named(document)?;
        let doc = &self.documents[index];
        if doc.direction != Direction::Outgoing || doc.code != Code::Draft {
            return Err(RpcError::fatal(format!(
                "Документ {} уже в документообороте: вложения меняются только в черновике",
                doc.id
            )));
        }
        if many(document.get("Вложение")).is_empty() {
            return Err(RpcError::fatal("Не передано Документ.Вложение"));
        }
        let given = read_attachments(document.get("Вложение"), index, &doc.attachments)?;
        let attachments = &mut self.documents[index].attachments;
        for attachment in given {
            match attachments.iter().position(|a| same_id(&a.id, &attachment.id)) {
                Some(at) => attachments[at] = attachment,
                None => attachments.push(attachment),
            }
        }
        Ok(index)
    }

    /// `СБИС.ИнформацияОКонтрагенте` (contract §4.1, §14.6): `Идентификатор` is the list of
    /// participant ids with `ДопПоля: "СписокИдентификаторов"`, else the main id as a string;
    /// an organisation outside EDO has none [I: empty list, or no `Идентификатор`].
    pub fn counterparty_info(&self, params: &Map<String, Value>) -> Result<Value, RpcError> {
        let participant = one(params.get("Участник"))
            .ok_or_else(|| RpcError::fatal("Не передан параметр Участник"))?;
        let org = counterparty(&Value::Object(participant.clone()))?;
        let mut view = org.view(false);
        if let Some(details) = view.get_mut("СвЮЛ") {
            details["КодФилиала"] = serde_json::json!("");
        }
        let list = non_empty(participant.get("ДопПоля"))
            .is_some_and(|fields| fields.split(',').any(|f| f.trim() == "СписокИдентификаторов"));
        let ids: Vec<Value> = org
            .participant_id
            .iter()
            .map(|id| {
                serde_json::json!({
                    "ИдентификаторУчастника": id, "Основной": "Да", "Роуминг": "Нет",
                    "Оператор": {"Идентификатор": "2BE", "Название": "Тензор"},
                    "СостояниеПодключения": {"Код": "0", "Описание": ""},
                })
            })
            .collect();
        match (list, &org.participant_id) {
            (true, _) => view["Идентификатор"] = Value::Array(ids),
            (false, Some(id)) => view["Идентификатор"] = serde_json::json!(id),
            (false, None) => {}
        }
        Ok(view)
    }

    /// `СБИС.ПрочитатьДокумент` (contract §6.5).
    pub fn read(&self, params: &Map<String, Value>) -> Result<usize, RpcError> {
        self.named(document_param(params)?)
    }

    /// The file behind a download-link key.
    pub fn file(&self, key: &str) -> Option<Blob> {
        // Keys start with their document's index, so only that document is searched.
        let (index, _) = key.split_once('-')?;
        let document = self.documents.get(index.parse::<usize>().ok()?)?;
        if document.archive == key {
            let bytes = document.archive_zip().ok()?;
            let file_name = format!("{}.zip", document.id);
            let content_type = "application/zip".to_owned();
            return Some(Blob { file_name, content_type, bytes: Bytes::from(bytes) });
        }
        let (file_name, bytes) = document.files().find_map(|attachment| {
            if attachment.link == key {
                return Some((attachment.file_name.clone(), attachment.bytes.clone()));
            }
            let signature = attachment.signatures.iter().find(|s| s.link == key)?;
            Some((signature.file_name.clone(), signature.bytes.clone()))
        })?;
        let content_type = mime_type(&file_name).unwrap_or("application/octet-stream").to_owned();
        Some(Blob { file_name, content_type, bytes })
    }

    // ---- the counterparty (control routes) -------------------------------------------------

    fn outgoing_awaiting(&self, id: &str) -> Result<usize, (u16, String)> {
        let index = self.find(id).ok_or((404, format!("no SBIS document {id}")))?;
        let doc = &self.documents[index];
        if doc.direction != Direction::Outgoing || !doc.code.awaits_counterparty() {
            return Err((
                409,
                format!(
                    "document {id} does not wait for the counterparty (state {})",
                    doc.code.wire()
                ),
            ));
        }
        Ok(index)
    }

    /// A document the counterparty sent arrives (§13, §6.4): incoming, "4", stage
    /// "Утверждение", each file signed by the counterparty, event "Получение", and the notice
    /// of receipt the regulation makes us owe (§8). `files` are `(name, bytes)`.
    pub fn receive(
        &mut self,
        incoming: Incoming,
        now: DateTime<Utc>,
    ) -> Result<usize, (u16, String)> {
        let id = incoming.id.unwrap_or_else(new_guid);
        if self.find(&id).is_some() {
            return Err((409, format!("an SBIS document {id} exists already")));
        }
        let index = self.documents.len();
        let attachments = incoming
            .files
            .into_iter()
            .map(|(file_name, bytes)| {
                let hash = crate::files::sha256_hex(&bytes);
                Attachment {
                    id: new_guid(),
                    signatures: vec![Signature {
                        file_name: format!("{}.sgn", stem(&file_name)),
                        bytes: Bytes::from(format!("simulated signature over sha256:{hash}")),
                        link: link_key(index),
                        direction: Direction::Incoming,
                        subject: Some(format!("{} (simulated)", account::COUNTERPARTY_NAME)),
                    }],
                    file_name,
                    bytes: Bytes::from(bytes),
                    link: link_key(index),
                    direction: Direction::Incoming,
                    modified: false,
                    service: false,
                }
            })
            .collect::<Vec<_>>();
        let counterparty = account::counterparty(account::COUNTERPARTY_INN, None, None);
        self.documents.push(Document {
            id,
            direction: Direction::Incoming,
            kind: incoming.kind,
            subtype: None,
            date: wire_date(now),
            number: incoming.number,
            note: None,
            sum: None,
            ours: account::our_org(),
            counterparty,
            responsible: None,
            regulation: None,
            edition_id: new_guid(),
            host_id: None,
            code: Code::Delivered,
            reason: None,
            send_stage_id: new_guid(),
            approve_stage_id: new_guid(),
            title: None,
            service: Vec::new(),
            events: Vec::new(),
            created: now,
            archive: link_key(index),
            attachments,
        });
        let ids = self.documents[index].attachments.iter().map(|a| a.id.clone()).collect();
        // "Получение" is the official name of a receipt event (contract §6.4).
        self.event(index, "Получение", now, None, ids);
        if self.config.service_stages {
            self.add_service_stage(index, "Получение", now);
        }
        Ok(index)
    }

    /// The counterparty's operator delivers the document (§13 step 4): "4".
    pub fn deliver(&mut self, id: &str, now: DateTime<Utc>) -> Result<usize, (u16, String)> {
        let index = self.outgoing_awaiting(id)?;
        if self.documents[index].code == Code::Delivered {
            return Err((409, format!("document {id} is already delivered")));
        }
        self.documents[index].code = Code::Delivered;
        // [I] the event name: the contract lists no delivery event.
        self.event(index, "Доставка", now, None, Vec::new());
        Ok(index)
    }

    /// The counterparty approves (§13 step 5): "7", with its signature on every attachment;
    /// `cms` is recorded as that signature when given, else a simulated one.
    pub fn counterparty_sign(
        &mut self,
        id: &str,
        cms: Option<Vec<u8>>,
        now: DateTime<Utc>,
    ) -> Result<usize, (u16, String)> {
        let index = self.outgoing_awaiting(id)?;
        let subject = match &cms {
            Some(cms) => cms_check::inspect(cms).map_err(|e| (400, e))?.signer_subject,
            None => Some(format!("{} (simulated)", account::COUNTERPARTY_NAME)),
        };
        let doc = &mut self.documents[index];
        let mut attachments = Vec::new();
        for attachment in &mut doc.attachments {
            let bytes = cms.clone().unwrap_or_else(|| {
                format!("simulated signature over sha256:{}", attachment.hash()).into_bytes()
            });
            attachment.signatures.push(Signature {
                file_name: format!("{}_counterparty.sgn", stem(&attachment.file_name)),
                bytes: Bytes::from(bytes),
                link: link_key(index),
                direction: Direction::Incoming,
                subject: subject.clone(),
            });
            attachments.push(attachment.id.clone());
        }
        doc.code = Code::Approved;
        // "Утверждение" is an event name seen in Tensor's tests (contract §6.4).
        self.event(index, "Утверждение", now, None, attachments);
        Ok(index)
    }

    /// The counterparty rejects with `reason` (§13 step 5): "9", the reason in `Примечание`.
    pub fn counterparty_reject(
        &mut self,
        id: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<usize, (u16, String)> {
        if reason.trim().is_empty() {
            return Err((400, "a rejection needs a reason (Отклонить requires a comment)".into()));
        }
        let index = self.outgoing_awaiting(id)?;
        let doc = &mut self.documents[index];
        doc.code = Code::Rejected;
        doc.reason = Some(reason.to_owned());
        // [I] the event name (contract §6.4 proposes "Отклонение").
        self.event(index, "Отклонение", now, Some(reason.to_owned()), Vec::new());
        Ok(index)
    }
}

/// What a control route says about an arriving document.
pub(crate) struct Incoming {
    pub id: Option<String>,
    pub kind: String,
    pub number: Option<String>,
    pub files: Vec<(String, Vec<u8>)>,
}

/// A file SBIS generated for document `index` (a title, a notice), for the host to sign.
fn generated(index: usize, file_name: String, content: String, service: bool) -> Attachment {
    Attachment {
        id: new_guid(),
        file_name,
        bytes: Bytes::from(content),
        link: link_key(index),
        direction: Direction::Outgoing,
        modified: false,
        service,
        signatures: Vec::new(),
    }
}

/// The XML of a generated file: enough to be told apart and signed [I: not the ФНС format].
fn generated_xml(what: &str, document: &str, detail: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Файл Вид=\"{what}\" Документ=\"{document}\" \
         Сведения=\"{detail}\"/>\n"
    )
}

/// A session id in the observed 8-8-4-16 hex shape (contract §3.1).
fn session_id() -> String {
    let hex = |len: usize| -> String {
        (0..len).map(|_| char::from(b"0123456789abcdef"[fastrand::usize(..16)])).collect()
    };
    format!("{}-{}-{}-{}", hex(8), hex(8), hex(4), hex(16))
}

/// A fresh download-link key of document `index`: its index, then an unguessable part.
fn link_key(index: usize) -> String {
    format!("{index}-{}", random_segment(24))
}

fn document_param(params: &Map<String, Value>) -> Result<&Map<String, Value>, RpcError> {
    one(params.get("Документ")).ok_or_else(|| RpcError::fatal("Не передан параметр Документ"))
}

/// `СвЮЛ` or `СвФЛ` of an organisation value: `(ИНН, КПП, Название)`.
fn org_details(
    value: &Value,
    field: &str,
) -> Result<(String, Option<String>, Option<String>), RpcError> {
    let details = one(value.get("СвЮЛ"))
        .or_else(|| one(value.get("СвФЛ")))
        .ok_or_else(|| RpcError::fatal(format!("{field}: не передан СвЮЛ или СвФЛ")))?;
    let inn = non_empty(details.get("ИНН"))
        .ok_or_else(|| RpcError::fatal(format!("{field}: не передан ИНН")))?;
    if !account::is_inn(&inn) {
        return Err(RpcError::fatal(format!("{field}: ИНН {inn} неверен (10 или 12 цифр)")));
    }
    Ok((inn, non_empty(details.get("КПП")), non_empty(details.get("Название"))))
}

/// Our organisation: the account's own, when named by its ИНН (and КПП); absent means it
/// [I: the account has one organisation].
fn our_organisation(value: Option<&Value>) -> Result<Org, RpcError> {
    let ours = account::our_org();
    let Some(value) = value else { return Ok(ours) };
    let (inn, kpp, _) = org_details(value, "НашаОрганизация")?;
    if inn != ours.inn || kpp.as_ref().is_some_and(|kpp| Some(kpp) != ours.kpp.as_ref()) {
        return Err(RpcError::fatal(format!(
            "НашаОрганизация: организация ИНН {inn} КПП {} не найдена в аккаунте",
            kpp.unwrap_or_default()
        )));
    }
    Ok(ours)
}

fn counterparty(value: &Value) -> Result<Org, RpcError> {
    let (inn, kpp, name) = org_details(value, "Контрагент")?;
    Ok(account::counterparty(&inn, kpp.as_deref(), name.as_deref()))
}

/// Base64 of a `ДвоичныеДанные` field; line breaks are tolerated (contract: "no CR/LF", but
/// lenient on input).
pub(super) fn base64_field(value: Option<&Value>, field: &str) -> Result<Vec<u8>, RpcError> {
    let text = rpc::text(value).ok_or_else(|| RpcError::fatal(format!("Не передан {field}")))?;
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD.decode(compact).map_err(|e| RpcError::fatal(format!("{field} не base64: {e}")))
}

/// The `Вложение` of a write: every one with `Файл{Имя, ДвоичныеДанные}`; an attachment keeping
/// the id of one in `previous` keeps its link.
fn read_attachments(
    value: Option<&Value>,
    doc_index: usize,
    previous: &[Attachment],
) -> Result<Vec<Attachment>, RpcError> {
    let mut attachments: Vec<Attachment> = Vec::new();
    for (n, given) in many(value).into_iter().enumerate() {
        let field = format!("Вложение[{n}]");
        let file = one(given.get("Файл"))
            .ok_or_else(|| RpcError::fatal(format!("{field}: не передан Файл")))?;
        let file_name = non_empty(file.get("Имя"))
            .ok_or_else(|| RpcError::fatal(format!("{field}: не передано Файл.Имя")))?;
        if file.get("ДвоичныеДанные").is_none() && file.contains_key("Ссылка") {
            // [I] the simulator cannot fetch a file from the client's link.
            return Err(RpcError::fatal(format!(
                "{field}: Файл.Ссылка не поддерживается песочницей, передайте ДвоичныеДанные"
            )));
        }
        let bytes =
            base64_field(file.get("ДвоичныеДанные"), &format!("{field}.Файл.ДвоичныеДанные"))?;
        let id = non_empty(given.get("Идентификатор")).unwrap_or_else(new_guid);
        if attachments.iter().any(|a| same_id(&a.id, &id)) {
            return Err(RpcError::fatal(format!("{field}: Идентификатор {id} повторяется")));
        }
        let link = previous
            .iter()
            .find(|a| same_id(&a.id, &id))
            .map_or_else(|| link_key(doc_index), |a| a.link.clone());
        attachments.push(Attachment {
            id,
            file_name,
            bytes: Bytes::from(bytes),
            link,
            direction: Direction::Outgoing,
            modified: false,
            service: false,
            signatures: Vec::new(),
        });
    }
    Ok(attachments)
}

/// The stage and action a prepare or execute names (`Этап` by `Идентификатор` or `Название`,
/// `Действие` by `Название`; a stage with one action may leave it out [I]).
fn resolve_stage(
    doc: &Document,
    document: &Map<String, Value>,
) -> Result<(Stage, String), RpcError> {
    let given =
        one(document.get("Этап")).ok_or_else(|| RpcError::fatal("Не передан Документ.Этап"))?;
    let id = non_empty(given.get("Идентификатор"));
    let name = non_empty(given.get("Название"));
    let available = doc.stages();
    let stage = available
        .iter()
        .copied()
        .find(|stage| {
            id.as_deref().is_none_or(|id| same_id(id, doc.stage_id(*stage)))
                && name.as_deref().is_none_or(|name| name == doc.stage_name(*stage))
                && (id.is_some() || name.is_some())
        })
        .ok_or_else(|| {
            let named = name.or(id).unwrap_or_default();
            RpcError::fatal(format!(
                "Этап «{named}» недоступен для документа {} в состоянии «{}»",
                doc.id,
                doc.code.name()
            ))
        })?;
    let action = one(given.get("Действие")).and_then(|a| non_empty(a.get("Название")));
    let actions = stage.actions();
    let action = match action {
        Some(action) if actions.iter().any(|(name, _, _)| *name == action) => action,
        Some(action) => {
            return Err(RpcError::fatal(format!(
                "Действие «{action}» недоступно на этапе «{}»",
                doc.stage_name(stage)
            )));
        }
        None if actions.len() == 1 => actions[0].0.to_owned(),
        None => return Err(RpcError::fatal("Не передано Этап.Действие.Название")),
    };
    Ok((stage, action))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn login(state: &mut State, now: DateTime<Utc>) -> String {
        let params = json!({"Логин": super::super::LOGIN, "Пароль": super::super::PASSWORD});
        state.authenticate(params.as_object().unwrap(), now).unwrap()
    }

    #[test]
    fn sessions_end_after_the_idle_time_and_calls_keep_them_alive() {
        let mut state = State::new(SbisConfig::default());
        let start = Utc::now();
        let sid = login(&mut state, start);
        let hours = |h| start + chrono::Duration::hours(h);
        // 23 h idle, then a call: the idle clock starts again (contract §3.4: 24 h idle).
        state.touch(Some(&sid), hours(23)).unwrap();
        state.touch(Some(&sid), hours(46)).unwrap();
        let refused = state.touch(Some(&sid), hours(71)).unwrap_err();
        assert_eq!(refused, RpcError::session_refused());
        // Once refused it stays gone.
        assert!(state.touch(Some(&sid), hours(71)).is_err());
        assert_eq!(state.check_session(Some(&sid), hours(71))["СессияАктивна"], json!("Нет"));
    }
}
