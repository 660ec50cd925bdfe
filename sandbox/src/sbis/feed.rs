//! Lists: the change feed `СБИС.СписокИзменений` with its event cursor (contract §6.1–§6.3)
//! and `СБИС.СписокДокументов` (§6.5), paged per `Навигация` (§11).

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde_json::{Map, Value, json};

use super::rpc::{RpcError, non_empty, one};
use super::state::State;

/// Page size when `Навигация.РазмерСтраницы` is absent, and the largest one (contract §11 [I]).
const DEFAULT_PAGE: usize = 25;
const MAX_PAGE: usize = 200;

/// `Навигация` of a list call: inside `Фильтр`, or beside it as one client sends it (§6.5).
struct Navigation {
    page: usize,
    size: usize,
}

fn navigation(
    params: &Map<String, Value>,
    filter: &Map<String, Value>,
) -> Result<Navigation, RpcError> {
    let given = one(filter.get("Навигация")).or_else(|| one(params.get("Навигация")));
    let number = |key: &str, default: usize| -> Result<usize, RpcError> {
        match given.and_then(|n| non_empty(n.get(key))) {
            None => Ok(default),
            Some(text) => text.parse::<usize>().map_err(|_| {
                RpcError::fatal(format!("Навигация.{key}: ожидается число, получено «{text}»"))
            }),
        }
    };
    let size = number("РазмерСтраницы", DEFAULT_PAGE)?.clamp(1, MAX_PAGE);
    Ok(Navigation { page: number("Страница", 0)?, size })
}

fn navigation_view(navigation: &Navigation, more: bool) -> Value {
    json!({
        "ЕстьЕще": if more { "Да" } else { "Нет" },
        "РазмерСтраницы": navigation.size.to_string(),
        "Страница": navigation.page.to_string(),
    })
}

fn filter(params: &Map<String, Value>) -> Result<&Map<String, Value>, RpcError> {
    one(params.get("Фильтр")).ok_or_else(|| RpcError::fatal("Не передан параметр Фильтр"))
}

/// A filter time: `ДД.ММ.ГГГГ ЧЧ.ММ.СС`, with colons as some clients send (contract §0), or a
/// bare date; Moscow time.
pub(crate) fn parse_time(text: &str, field: &str) -> Result<DateTime<Utc>, RpcError> {
    let text = text.trim();
    let naive = NaiveDateTime::parse_from_str(text, "%d.%m.%Y %H.%M.%S")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%d.%m.%Y %H:%M:%S"))
        .or_else(|_| {
            NaiveDate::parse_from_str(text, "%d.%m.%Y")
                .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default())
        })
        .map_err(|_| {
            RpcError::fatal(format!("{field}: ожидается «ДД.ММ.ГГГГ ЧЧ.ММ.СС», получено «{text}»"))
        })?;
    let moscow = chrono::FixedOffset::east_opt(3 * 3600)
        .unwrap_or_else(|| chrono::FixedOffset::east_opt(0).unwrap());
    moscow
        .from_local_datetime(&naive)
        .single()
        .map(|at| at.with_timezone(&Utc))
        .ok_or_else(|| RpcError::fatal(format!("{field}: время «{text}» не существует")))
}

/// Whether document `index` passes the filter keys both lists share: `Тип`, `Направление`,
/// `ИдентификаторДокумента` / `Документ.Идентификатор`.
fn document_matches(state: &State, index: usize, filter: &Map<String, Value>) -> bool {
    let doc = &state.documents[index];
    let kind = non_empty(filter.get("Тип"));
    let direction = non_empty(filter.get("Направление"));
    let id = non_empty(filter.get("ИдентификаторДокумента"))
        .or_else(|| one(filter.get("Документ")).and_then(|d| non_empty(d.get("Идентификатор"))));
    kind.is_none_or(|kind| kind == doc.kind)
        && direction.is_none_or(|direction| direction == doc.direction.wire())
        && id.is_none_or(|id| super::model::same_id(&id, &doc.id))
}

impl State {
    /// `СБИС.СписокИзменений` (contract §6): the events strictly after `ИдентификаторСобытия`, or
    /// from `ДатаВремяС` (up to `ДатаВремяПо`), in the order they happened, at most
    /// `РазмерСтраницы` of them; each document with the events of the page (a document comes
    /// again when other documents' events sit between its own), `ЕстьЕще` when more follow. An
    /// unknown event id is a fatal error, so the client falls back to `ДатаВремяС` (§6.2 step 4).
    pub fn changes(&self, params: &Map<String, Value>, origin: &str) -> Result<Value, RpcError> {
        let filter = filter(params)?;
        let navigation = navigation(params, filter)?;
        let start = match non_empty(filter.get("ИдентификаторСобытия")) {
            Some(id) => match self.feed_index.get(&id) {
                Some(position) => position + 1,
                None => {
                    return Err(RpcError::fatal(format!(
                        "Событие {id} не найдено: повторите запрос с ДатаВремяС"
                    )));
                }
            },
            None => 0,
        };
        let from = non_empty(filter.get("ДатаВремяС"))
            .map(|t| parse_time(&t, "Фильтр.ДатаВремяС"))
            .transpose()?;
        let to = non_empty(filter.get("ДатаВремяПо"))
            .map(|t| parse_time(&t, "Фильтр.ДатаВремяПо"))
            .transpose()?;
        let mut matching = self.feed[start.min(self.feed.len())..].iter().filter(|(d, e)| {
            let at = self.documents[*d].events[*e].at;
            from.is_none_or(|from| at >= from)
                && to.is_none_or(|to| at <= to)
                && document_matches(self, *d, filter)
        });
        // `Страница` is optional here (cursor paging, §11); honoured when given [I].
        let skip = navigation.page.saturating_mul(navigation.size);
        let page: Vec<&(usize, usize)> =
            matching.by_ref().skip(skip).take(navigation.size).collect();
        let more = matching.next().is_some();
        let mut documents: Vec<(usize, Vec<usize>)> = Vec::new();
        for &(d, e) in page {
            match documents.last_mut() {
                Some((last, events)) if *last == d => events.push(e),
                _ => documents.push((d, vec![e])),
            }
        }
        let views: Vec<Value> = documents
            .iter()
            .map(|(d, events)| self.documents[*d].view_with_events(origin, events))
            .collect();
        Ok(json!({ "Документ": views, "Навигация": navigation_view(&navigation, more) }))
    }

    /// `СБИС.СписокДокументов` (contract §6.5): documents by `Тип` (required), `ДатаС` /
    /// `ДатаПо` on the document date, `Направление`, newest first [I], paged by `Страница`.
    pub fn list_documents(
        &self,
        params: &Map<String, Value>,
        origin: &str,
    ) -> Result<Value, RpcError> {
        let filter = filter(params)?;
        let navigation = navigation(params, filter)?;
        if non_empty(filter.get("Тип")).is_none() {
            return Err(RpcError::fatal("Фильтр.Тип обязателен"));
        }
        let date = |key: &str| {
            non_empty(filter.get(key)).map(|t| parse_time(&t, &format!("Фильтр.{key}"))).transpose()
        };
        let (from, to) = (date("ДатаС")?, date("ДатаПо")?);
        let mut matching = (0..self.documents.len()).rev().filter(|&d| {
            let doc = &self.documents[d];
            let day = parse_time(&doc.date, "Дата").unwrap_or(doc.created);
            document_matches(self, d, filter)
                && from.is_none_or(|from| day >= from)
                && to.is_none_or(|to| day <= to)
        });
        let skip = navigation.page.saturating_mul(navigation.size);
        let page: Vec<Value> = matching
            .by_ref()
            .skip(skip)
            .take(navigation.size)
            .map(|d| self.documents[d].view(origin))
            .collect();
        let more = matching.next().is_some();
        Ok(json!({ "Документ": page, "Навигация": navigation_view(&navigation, more) }))
    }

    /// `СБИС.СписокНашихОрганизаций` (contract §4.1, §14.5): the account's one organisation.
    pub fn our_organisations(&self, params: &Map<String, Value>) -> Result<Value, RpcError> {
        let empty = Map::new();
        let filter = one(params.get("Фильтр")).unwrap_or(&empty);
        let navigation = navigation(params, filter)?;
        let ours = super::account::our_org();
        let mut org = ours.view(false);
        org["ДокументооборотПодключен"] = json!("Да");
        let list = if navigation.page == 0 { vec![org] } else { Vec::new() };
        Ok(json!({ "НашаОрганизация": list, "Навигация": navigation_view(&navigation, false) }))
    }
}

impl State {
    /// Documents with unprocessed service stages, filtered by `ИдентификаторДокумента`.
    fn pending_service(&self, filter: &Map<String, Value>) -> Vec<usize> {
        let id = non_empty(filter.get("ИдентификаторДокумента"));
        (0..self.documents.len())
            .filter(|&d| {
                let doc = &self.documents[d];
                id.as_deref().is_none_or(|id| super::model::same_id(id, &doc.id))
                    && doc.service.iter().any(|s| s.processed.is_none())
            })
            .collect()
    }

    /// `СБИС.ИнформацияОСлужебныхЭтапах` (contract §8, §14.15): how many service stages wait.
    pub fn service_info(&self, params: &Map<String, Value>) -> Result<Value, RpcError> {
        let empty = Map::new();
        let filter = one(params.get("Фильтр")).unwrap_or(&empty);
        let count: usize = self
            .pending_service(filter)
            .iter()
            .map(|&d| self.documents[d].service.iter().filter(|s| s.processed.is_none()).count())
            .sum();
        Ok(json!({ "ЧислоНеобработанныхЭтапов": count.to_string() }))
    }

    /// `СБИС.СписокСлужебныхЭтапов` (contract §8, §14.15): the documents with service stages
    /// waiting, each with those stages only. `Блокировать` is accepted and ignored [I].
    pub fn service_list(&self, params: &Map<String, Value>) -> Result<Value, RpcError> {
        let empty = Map::new();
        let filter = one(params.get("Фильтр")).unwrap_or(&empty);
        let navigation = navigation(params, filter)?;
        let mut pending = self.pending_service(filter).into_iter();
        let skip = navigation.page.saturating_mul(navigation.size);
        let page: Vec<Value> = pending
            .by_ref()
            .skip(skip)
            .take(navigation.size)
            .map(|d| {
                let doc = &self.documents[d];
                let stages: Vec<Value> = doc
                    .stages()
                    .into_iter()
                    .filter(|stage| matches!(stage, super::model::Stage::Service(_)))
                    .map(|stage| doc.stage_view(stage))
                    .collect();
                json!({
                    "Идентификатор": doc.id,
                    "Тип": doc.kind,
                    "Направление": doc.direction.wire(),
                    "Состояние": doc.state_view(),
                    "Редакция": [{"Идентификатор": doc.edition_id,
                                  "ДатаВремя": super::model::wire_time(doc.created)}],
                    "Этап": stages,
                })
            })
            .collect();
        let more = pending.next().is_some();
        Ok(json!({ "Документ": page, "Навигация": navigation_view(&navigation, more) }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_times_read_with_dots_colons_or_as_a_date() {
        let dots = parse_time("01.06.2026 10.00.05", "x").unwrap();
        assert_eq!(dots, parse_time("01.06.2026 10:00:05", "x").unwrap());
        assert_eq!(dots.to_rfc3339(), "2026-06-01T07:00:05+00:00");
        assert_eq!(
            parse_time("01.06.2026", "x").unwrap().to_rfc3339(),
            "2026-05-31T21:00:00+00:00"
        );
        assert!(
            parse_time("2026-06-01", "Фильтр.ДатаВремяС")
                .unwrap_err()
                .message
                .contains("ДатаВремяС")
        );
    }
}
