//! SBIS ↔ the neutral model: replies classified into errors, `Состояние` codes into states,
//! change-list events into neutral events, parties into `Контрагент`.

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone as _, Utc};
use reqwest::StatusCode;

use super::wire;
use crate::error::{Error, ErrorKind};
use crate::model::{Event, EventKind, Handle, Party, PartyState, PartyStatus, Role, State, Status};
use crate::providers::http;
use crate::transport::Reply;

/// "{00000000-0000-0000-0000-1AA…": a non-fatal error, the same request may succeed later
/// (contract §1.5: Tensor's client compares the first 28 characters).
const NON_FATAL: &str = "{00000000-0000-0000-0000-1aa";
/// The 2FA classid: "SMS confirmation required at login" (§1.5, §3.1).
const SECOND_FACTOR: &str = "{00000000-0000-0000-0000-1fa000001002}";

/// The neutral state of a `Состояние.Код` (contract §10.1):
///
/// | `Код` | SBIS name | state |
/// |---|---|---|
/// | `0`, `10` | Документ редактируется (draft, loaded) | `draft` |
/// | `23` | Ожидает подписания | `draft` |
/// | `2` | Отослано приглашение (counterparty not in EDO yet) | `sent` |
/// | `3` | Отправлен | `sent` |
/// | `4` | Доставлен / На утверждении | `sent` |
/// | `6` | Ошибка (delivery problems) | `failed` |
/// | `7` | Выполнение завершено успешно (approved) | `completed` |
/// | `9` | Выполнение завершено с проблемами (rejected; reason in `Примечание`) | `rejected` |
/// | `20` | Удален / Аннулирован | `cancelled` |
/// | anything else | | `unknown` |
pub fn state(code: &str) -> State {
    match code.trim() {
        "0" | "10" | "23" => State::Draft,
        "2" | "3" | "4" => State::Sent,
        "6" => State::Failed,
        "7" => State::Completed,
        "9" => State::Rejected,
        "20" => State::Cancelled,
        _ => State::Unknown,
    }
}

/// Whether a document in this state went out (a draft, or a send never executed, did not).
pub fn was_sent(doc: &wire::Document) -> bool {
    let code = doc.state.as_ref().map_or("0", |s| s.code.as_str());
    !matches!(state(code), State::Draft)
}

/// A read document as a neutral status; the counterparty is the one party.
pub fn status(doc: &wire::Document, raw: serde_json::Value) -> Status {
    let code = doc.state.as_ref().map(|s| s.code.clone()).unwrap_or_default();
    let state = state(&code);
    let updated_at = doc.events.iter().filter_map(|e| moscow_time(&e.at)).max();
    let reason = doc
        .state
        .as_ref()
        .filter(|_| matches!(state, State::Rejected | State::Failed))
        .map(|s| if s.note.is_empty() { s.name.clone() } else { s.note.clone() })
        .filter(|r| !r.is_empty());
    let party_state = match state {
        State::Completed => PartyState::Signed,
        State::Rejected => PartyState::Rejected,
        _ => PartyState::Pending,
    };
    let parties = doc
        .counterparty
        .as_ref()
        .map(|c| PartyStatus {
            email: c.email.clone(),
            name: counterparty_name(c),
            role: Some(Role::Sign),
            state: party_state,
            acted_at: (party_state != PartyState::Pending).then_some(updated_at).flatten(),
        })
        .into_iter()
        .collect();
    let provider_status = match doc.state.as_ref() {
        Some(s) if !s.name.is_empty() => format!("{} {}", s.code, s.name),
        _ => code,
    };
    Status { state, provider_status, parties, reason, updated_at, expires_at: None, raw }
}

fn counterparty_name(c: &wire::Organization) -> Option<String> {
    if let Some(l) = &c.legal {
        return l.name.clone().or_else(|| Some(l.inn.clone()));
    }
    let i = c.individual.as_ref()?;
    let name: Vec<&str> = [&i.surname, &i.first_name, &i.patronymic]
        .into_iter()
        .filter_map(|p| p.as_deref())
        .collect();
    Some(if name.is_empty() { i.inn.clone() } else { name.join(" ") })
}

/// `ДД.ММ.ГГГГ ЧЧ.ММ.СС` (dots, as SBIS writes it) or with colons (as some clients do), in
/// Moscow time (UTC+3, contract §0).
pub fn moscow_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    let naive = ["%d.%m.%Y %H.%M.%S", "%d.%m.%Y %H:%M:%S"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())?;
    let moscow = FixedOffset::east_opt(3 * 3600)?;
    moscow.from_local_datetime(&naive).single().map(|t| t.with_timezone(&Utc))
}

/// An instant as SBIS writes it in filters: Moscow time, dots between the time's parts.
pub fn sbis_time(at: DateTime<Utc>) -> String {
    let moscow = FixedOffset::east_opt(3 * 3600).expect("UTC+3 is a valid offset");
    at.with_timezone(&moscow).format("%d.%m.%Y %H.%M.%S").to_string()
}

/// A date as SBIS writes it: `ДД.ММ.ГГГГ`, Moscow time.
pub fn sbis_date(at: DateTime<Utc>) -> String {
    let moscow = FixedOffset::east_opt(3 * 3600).expect("UTC+3 is a valid offset");
    at.with_timezone(&moscow).format("%d.%m.%Y").to_string()
}

/// What kind of neutral event an SBIS event is, by its name (§6.4, §13) and the document's
/// direction.
pub fn event_kind(name: &str, incoming: bool) -> EventKind {
    match name {
        "Получение" if incoming => EventKind::DocumentReceived,
        "Утверждение" => EventKind::PartySigned,
        "Отклонение" => EventKind::PartyRejected,
        "Отправка"
        | "Доставка"
        | "Аннулирование"
        | "Уведомление об удалении на стороне отправителя" => {
            EventKind::StateChanged
        }
        _ => EventKind::Other,
    }
}

/// The neutral events of one document of a change list (its `Событие[]`, in order). Each
/// event's raw JSON is the document with only that event, so the host sees the state and
/// stages it came with.
pub fn events(
    provider: &str,
    account: &str,
    doc: &wire::Document,
    raw: &serde_json::Value,
) -> Vec<Event> {
    let incoming = doc.direction == "Входящий";
    // Our own documents carry the reference they were sent with in their edition.
    let reference = doc.editions.iter().map(|e| e.is_note.clone()).find(|r| !r.is_empty());
    let handle = Handle {
        provider: provider.into(),
        account: account.into(),
        id: doc.id.clone(),
        reference,
    };
    let raw_events = raw.get("Событие").cloned().unwrap_or_default();
    let raw_events: Vec<serde_json::Value> = match raw_events {
        serde_json::Value::Array(items) => items,
        serde_json::Value::Null => Vec::new(),
        one => vec![one],
    };
    doc.events
        .iter()
        .enumerate()
        .filter(|(_, e)| !e.id.is_empty())
        .map(|(i, e)| {
            let mut raw = raw.clone();
            if let Some(obj) = raw.as_object_mut() {
                obj.insert(
                    "Событие".into(),
                    serde_json::Value::Array(raw_events.get(i).cloned().into_iter().collect()),
                );
            }
            Event {
                id: format!("sbis:{}", e.id),
                handle: handle.clone(),
                kind: event_kind(&e.name, incoming),
                at: moscow_time(&e.at).unwrap_or_else(Utc::now),
                raw,
            }
        })
        .collect()
}

/// Where the change list goes on from: after the event `after` (its id), or from the time `at`
/// (`ДД.ММ.ГГГГ ЧЧ.ММ.СС`) when there is no event yet or SBIS no longer knows it (§6.2). As
/// text, `<event id>|<time>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub after: Option<String>,
    pub at: Option<String>,
}

impl Cursor {
    pub fn parse(text: &str) -> Cursor {
        let (after, at) = text.split_once('|').unwrap_or((text, ""));
        let some = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        Cursor { after: some(after), at: some(at) }
    }

    /// Moves past the last event a page listed; false when it listed none.
    pub fn advance(&mut self, last: Option<(String, String)>) -> bool {
        let Some((id, at)) = last else { return false };
        self.after = Some(id);
        if !at.is_empty() {
            self.at = Some(at);
        }
        true
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let after = self.after.as_deref().unwrap_or_default();
        write!(f, "{after}|{}", self.at.as_deref().unwrap_or_default())
    }
}

/// What one page of the change list holds.
pub struct PageRead {
    pub events: Vec<Event>,
    /// The last event of the last document (id and time): where the next page starts (§6.2).
    pub last: Option<(String, String)>,
    /// `Навигация.ЕстьЕще`.
    pub more: bool,
}

/// One page of `СБИС.СписокИзменений` as neutral events, documents that are neither incoming
/// nor outgoing left out ("ignore documents whose Направление is neither", §6.4).
pub fn page(
    provider: &str,
    account: &str,
    page: &wire::Page,
) -> Result<PageRead, serde_json::Error> {
    let mut events = Vec::new();
    let mut last = None;
    for raw in &page.documents {
        let doc = <wire::Document as serde::Deserialize>::deserialize(raw)?;
        if let Some(e) = doc.events.last().filter(|e| !e.id.is_empty()) {
            last = Some((e.id.clone(), e.at.clone()));
        }
        if matches!(doc.direction.as_str(), "Входящий" | "Исходящий") {
            events.extend(self::events(provider, account, &doc, raw));
        }
    }
    let more = page.navigation.as_ref().is_some_and(|n| n.more.trim() == wire::YES);
    Ok(PageRead { events, last, more })
}

/// `Контрагент` from the envelope's one counterparty. `tax_id` is the ИНН, with the КПП after a
/// slash for a legal entity (`7601000985/760601001`); 12 digits name an individual, whose
/// name is read as `Фамилия Имя Отчество`.
pub fn counterparty(
    party: &Party,
    field: &str,
    participant_id: Option<String>,
) -> Result<wire::Organization, Error> {
    let tax_id = party.tax_id.as_deref().ok_or_else(|| {
        Error::validation(
            format!("{field}.tax_id"),
            "SBIS addresses the counterparty by its ИНН (and КПП)",
        )
    })?;
    let (inn, kpp) = match tax_id.split_once('/') {
        Some((inn, kpp)) => (inn.trim(), Some(kpp.trim())),
        None => (tax_id.trim(), None),
    };
    let digits =
        |s: &str, n: &[usize]| s.bytes().all(|b| b.is_ascii_digit()) && n.contains(&s.len());
    if !digits(inn, &[10, 12]) {
        return Err(Error::validation(
            format!("{field}.tax_id"),
            "an ИНН has 10 digits (a company) or 12 (an individual)",
        ));
    }
    if kpp.is_some_and(|k| !digits(k, &[9])) {
        return Err(Error::validation(format!("{field}.tax_id"), "a КПП has 9 digits"));
    }
    let mut org = wire::Organization {
        participant_id,
        email: party.email.clone(),
        phone: party.phone.clone(),
        ..Default::default()
    };
    if inn.len() == 10 {
        org.legal = Some(wire::Legal {
            inn: inn.into(),
            kpp: kpp.map(str::to_string),
            name: party.name.clone(),
        });
    } else {
        if kpp.is_some() {
            return Err(Error::validation(
                format!("{field}.tax_id"),
                "an individual (12-digit ИНН) has no КПП",
            ));
        }
        let mut names = party.name.as_deref().unwrap_or("").split_whitespace().map(str::to_string);
        org.individual = Some(wire::Individual {
            inn: inn.into(),
            private_person: Some(wire::YES.into()),
            surname: names.next(),
            first_name: names.next(),
            patronymic: names.next(),
        });
    }
    Ok(org)
}

/// The error for a failed reply: the JSON-RPC error's `message` (and `details` when it says
/// more) kept as the provider's message. Kinds:
/// - a refused session (HTTP 401, or an error naming the session, whatever the HTTP status:
///   §3.4, §14.17) → `auth`, session refused (one re-login, one retry);
/// - a non-fatal classid (`…1AA…`) or HTTP 502–504 → `provider`, temporary;
/// - the 2FA classid, 403, 423 (PIN locked) → `auth`;
/// - "… не найден…" → `not_found`;
/// - any other fatal error → `validation` (fix the request or the document's state).
pub fn error(op: &'static str, reply: &Reply) -> Error {
    let parsed: Option<wire::Response<serde_json::Value>> =
        serde_json::from_slice(&reply.body).ok();
    let (message, classid) = match parsed.and_then(|r| r.error) {
        Some(wire::RpcError::Object(e)) => {
            let mut message = e.message.clone();
            if !e.details.is_empty() && e.details != e.message {
                message = if message.is_empty() {
                    e.details
                } else {
                    format!("{message} ({})", e.details)
                };
            }
            (message, e.data.map(|d| d.classid.to_ascii_lowercase()).unwrap_or_default())
        }
        Some(wire::RpcError::Text(t)) => (t, String::new()),
        None => (http::body_excerpt(&reply.body), String::new()),
    };
    let lower = message.to_lowercase();
    let status = reply.status;
    let session = status == StatusCode::UNAUTHORIZED
        || lower.contains("сесси")
        || lower.contains("not authorized");
    let non_fatal = classid.starts_with(NON_FATAL);
    // A 5xx with no JSON-RPC error in it: the server, not the request, failed. A 500 carrying
    // a fatal JSON-RPC error is an ordinary business refusal (§1.5), not a failure to retry.
    let bare_server_error = status.is_server_error() && message_is_bare(reply);
    let (kind, what, temporary) = if session {
        (ErrorKind::Auth, "refused the session", false)
    } else if status.is_redirection() {
        // Only same-origin redirects are followed: one left over went elsewhere.
        (ErrorKind::Provider, "redirected to another origin", false)
    } else if status == StatusCode::TOO_MANY_REQUESTS {
        (ErrorKind::RateLimited, "asked to slow down", true)
    } else if classid == SECOND_FACTOR
        || matches!(status, StatusCode::FORBIDDEN | StatusCode::LOCKED)
    {
        (ErrorKind::Auth, "refused the credentials", false)
    } else if non_fatal
        || bare_server_error
        || matches!(
            status,
            StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT
        )
    {
        (ErrorKind::Provider, "failed for now", true)
    } else if lower.contains("не найден") {
        (ErrorKind::NotFound, "does not know it", false)
    } else {
        (ErrorKind::Validation, "refused the request", false)
    };
    let mut err = Error::new(kind, format!("{op}: SBIS {what}"))
        .with_http_status(status.as_u16())
        .with_provider_message(message)
        .with_context("provider", "sbis")
        .with_context("op", op);
    if temporary {
        err = err.temporary();
    }
    if session {
        err = err.session_refused();
    }
    if let Some(wait) = reply.retry_after() {
        err = err.with_retry_after(wait);
    }
    err
}

/// Whether the reply carries no JSON-RPC error object (an HTML page, an empty body).
fn message_is_bare(reply: &Reply) -> bool {
    serde_json::from_slice::<wire::Response<serde_json::Value>>(&reply.body)
        .map_or(true, |r| r.error.is_none())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_documented_code_has_one_state() {
        for (code, expected) in [
            ("0", State::Draft),
            ("10", State::Draft),
            ("23", State::Draft),
            ("2", State::Sent),
            ("3", State::Sent),
            ("4", State::Sent),
            ("6", State::Failed),
            ("7", State::Completed),
            ("9", State::Rejected),
            ("20", State::Cancelled),
            ("42", State::Unknown),
        ] {
            assert_eq!(state(code), expected, "{code}");
        }
    }

    #[test]
    fn rejected_status_keeps_the_reason_and_the_counterparty() {
        let raw = json!({"Идентификатор":"d","Направление":"Исходящий",
            "Состояние":{"Код":"9","Название":"Выполнение завершено с проблемами",
                "Примечание":"Неверная цена в строке 2"},
            "Контрагент":{"СвЮЛ":{"ИНН":"7601000985","КПП":"760601001","Название":"СК Премьер"}},
            "Событие":[{"Идентификатор":"e1","Название":"Отклонение","ДатаВремя":"01.06.2026 10.00.05"}]});
        let doc: wire::Document = serde_json::from_value(raw.clone()).unwrap();
        let s = status(&doc, raw);
        assert_eq!(s.state, State::Rejected);
        assert_eq!(s.reason.as_deref(), Some("Неверная цена в строке 2"));
        assert_eq!(s.parties.len(), 1);
        assert_eq!(s.parties[0].name.as_deref(), Some("СК Премьер"));
        assert_eq!(s.parties[0].state, PartyState::Rejected);
        assert_eq!(s.updated_at.unwrap().to_rfc3339(), "2026-06-01T07:00:05+00:00");
        assert_eq!(s.provider_status, "9 Выполнение завершено с проблемами");
    }

    #[test]
    fn times_are_moscow_with_dots_or_colons() {
        let a = moscow_time("15.02.2021 00.00.00").unwrap();
        assert_eq!(a.to_rfc3339(), "2021-02-14T21:00:00+00:00");
        assert_eq!(moscow_time("15.02.2021 00:00:00"), Some(a));
        assert_eq!(sbis_time(a), "15.02.2021 00.00.00");
        assert_eq!(sbis_date(a), "15.02.2021");
        assert_eq!(moscow_time("2021-02-15"), None);
    }

    #[test]
    fn change_list_documents_become_events() {
        let raw = json!({"Идентификатор":"in","Направление":"Входящий",
            "Состояние":{"Код":"4"},"Редакция":[{"Идентификатор":"ed","ПримечаниеИС":"ERP-7"}],
            "Событие":[{"Идентификатор":"ev-9","Название":"Получение","ДатаВремя":"01.06.2026 10.01.00"},
                       {"Идентификатор":"ev-10","Название":"Что-то новое","ДатаВремя":"01.06.2026 10.02.00"}]});
        let doc: wire::Document = serde_json::from_value(raw.clone()).unwrap();
        let events = events("sbis", "main", &doc, &raw);
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].id, "sbis:ev-9");
        assert_eq!(events[0].kind, EventKind::DocumentReceived);
        assert_eq!(events[0].handle.id, "in");
        assert_eq!(events[0].handle.reference.as_deref(), Some("ERP-7"));
        assert_eq!(events[0].raw["Событие"][0]["Идентификатор"], "ev-9");
        assert_eq!(events[1].kind, EventKind::Other);
        assert_eq!(events[1].raw["Событие"].as_array().unwrap().len(), 1);
        assert_eq!(event_kind("Получение", false), EventKind::Other);
    }

    /// §14.10's answer, then a last page: the cursor moves to the last event of the last
    /// document, the more flag follows `ЕстьЕще`, and an unknown direction gives no event but
    /// still moves the cursor.
    #[test]
    fn change_list_pages_move_the_cursor() {
        let first: wire::Page = serde_json::from_value(json!({
          "Документ":[
            {"Идентификатор":"out","Направление":"Исходящий","Состояние":{"Код":"3"},
             "Событие":[{"Идентификатор":"ev-1","Название":"Отправка","ДатаВремя":"01.06.2026 10.00.05"}]},
            {"Идентификатор":"in","Направление":"Входящий","Состояние":{"Код":"4"},
             "Событие":[{"Идентификатор":"ev-9","Название":"Получение","ДатаВремя":"01.06.2026 10.01.00"}]}],
          "Навигация":{"ЕстьЕще":"Да","РазмерСтраницы":"2"}})).unwrap();
        let read = page("sbis", "main", &first).unwrap();
        let kinds: Vec<_> = read.events.iter().map(|e| e.kind).collect();
        assert_eq!(kinds, [EventKind::StateChanged, EventKind::DocumentReceived]);
        assert!(read.more);
        let mut cursor = Cursor::parse("|31.05.2026 00.00.00");
        assert_eq!(cursor, Cursor { after: None, at: Some("31.05.2026 00.00.00".into()) });
        assert!(cursor.advance(read.last));
        assert_eq!(cursor.to_string(), "ev-9|01.06.2026 10.01.00");
        assert_eq!(Cursor::parse(&cursor.to_string()), cursor);

        let last: wire::Page = serde_json::from_value(json!({
          "Документ":[{"Идентификатор":"odd","Направление":"Внутренний",
             "Событие":[{"Идентификатор":"ev-10","ДатаВремя":"01.06.2026 10.02.00"}]}],
          "Навигация":{"ЕстьЕще":"Нет"}}))
        .unwrap();
        let read = page("sbis", "main", &last).unwrap();
        assert!(read.events.is_empty() && !read.more);
        assert!(cursor.advance(read.last));
        assert_eq!(cursor.after.as_deref(), Some("ev-10"));
        let empty: wire::Page = serde_json::from_value(json!({"Документ":[]})).unwrap();
        assert!(!cursor.advance(page("sbis", "main", &empty).unwrap().last));
        assert_eq!(cursor.to_string(), "ev-10|01.06.2026 10.02.00", "an empty page keeps it");
    }

    #[test]
    fn counterparties_by_inn_and_kpp() {
        let p = Party {
            tax_id: Some("7601000985/760601001".into()),
            ..Party::signer("СК Премьер", "a@b.ru")
        };
        let org = counterparty(&p, "parties[0]", None).unwrap();
        let legal = org.legal.unwrap();
        assert_eq!((legal.inn.as_str(), legal.kpp.as_deref()), ("7601000985", Some("760601001")));
        let p = Party {
            tax_id: Some("500100732259".into()),
            ..Party::signer("Петров Пётр Петрович", "p@b.ru")
        };
        let i = counterparty(&p, "parties[0]", None).unwrap().individual.unwrap();
        assert_eq!(i.surname.as_deref(), Some("Петров"));
        assert_eq!(i.patronymic.as_deref(), Some("Петрович"));
        for bad in ["123", "7601000985/12", "500100732259/760601001"] {
            let p = Party { tax_id: Some(bad.into()), ..Party::signer("x", "x@y.ru") };
            let e = counterparty(&p, "parties[0]", None).unwrap_err();
            assert_eq!(e.field(), Some("parties[0].tax_id"), "{bad}");
        }
        let e = counterparty(&Party::signer("x", "x@y.ru"), "parties[0]", None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Validation);
    }

    fn classify(status: u16, body: serde_json::Value) -> Error {
        error("op", &Reply::for_test(status, &body.to_string()))
    }

    #[test]
    fn errors_by_classid_message_and_status() {
        // §14.17: an expired session, at 401 or inside a 200.
        let expired = json!({"jsonrpc":"2.0","error":{"code":-32000,"message":"Сессия не найдена",
            "details":"Сессия не найдена","type":"error",
            "data":{"classid":"{00000000-0000-0000-0000-1fa000000001}"}},"id":1});
        for status in [401, 200, 500] {
            let e = classify(status, expired.clone());
            assert!(e.is_session_refused(), "{status}");
            assert_eq!(e.kind(), ErrorKind::Auth);
            assert_eq!(e.provider_message(), Some("Сессия не найдена"));
        }
        // §14.17: non-fatal → temporary, the message and details kept.
        let e = classify(
            500,
            json!({"jsonrpc":"2.0","error":{"code":-32000,
            "message":"Сервис временно недоступен","details":"Повторите попытку позже",
            "type":"error","data":{"classid":"{00000000-0000-0000-0000-1AA0000f1002}"}},"id":1}),
        );
        assert!(e.is_temporary() && !e.is_session_refused());
        assert_eq!(
            e.provider_message(),
            Some("Сервис временно недоступен (Повторите попытку позже)")
        );
        // A fatal business error at 500 is not retried.
        let e = classify(
            500,
            json!({"jsonrpc":"2.0","error":{"code":-32000,
            "message":"КПП должен быть заполнен","type":"error",
            "data":{"classid":"{00000000-0000-0000-0000-1fa0000a0001}"}},"id":1}),
        );
        assert_eq!(e.kind(), ErrorKind::Validation);
        assert!(!e.is_temporary());
        let e = classify(
            500,
            json!({"jsonrpc":"2.0","error":{"code":-32000,
            "message":"Документ не найден"},"id":1}),
        );
        assert_eq!(e.kind(), ErrorKind::NotFound);
        // §14.1: the second factor.
        let e = classify(
            200,
            json!({"jsonrpc":"2.0","error":{"code":-32000,
            "message":"Для входа введите полученный код подтверждения.",
            "data":{"classid":"{00000000-0000-0000-0000-1fa000001002}"}},"id":0}),
        );
        assert_eq!(e.kind(), ErrorKind::Auth);
        assert!(!e.is_session_refused());
        // The legacy bare-string error.
        assert!(classify(200, json!({"error":"Not authorized.","id":-1})).is_session_refused());
        // A gateway's HTML page.
        let e = error("op", &Reply::for_test(502, "<html>Bad Gateway</html>"));
        assert!(e.is_temporary());
        assert_eq!(e.kind(), ErrorKind::Provider);
        let e = error("op", &Reply::for_test(423, "{}"));
        assert_eq!(e.kind(), ErrorKind::Auth);
        let e = error("op", &Reply::for_test(307, ""));
        assert_eq!(e.kind(), ErrorKind::Provider);
    }
}
