//! Reading what providers (and environment variables) actually send, rather than what their
//! documentation promises: booleans as `true`, `1` or `"true"`, numbers as strings, and keys
//! whose first letter's case varies between endpoints (`IdProcesso` / `idProcesso`).

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer};

/// A UTC instant from the shapes providers send: RFC 3339; ISO without an offset
/// (`2022-12-05T17:27:35.146479`, meaning UTC); `dd/mm/yyyy hh:mm:ss`; or a bare date.
pub fn utc_date(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(text) {
        return Some(d.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%d/%m/%Y %H:%M:%S"] {
        if let Ok(d) = NaiveDateTime::parse_from_str(text, format) {
            return Some(d.and_utc());
        }
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(text, "%d/%m/%Y"))
        .ok()?;
    date.and_hms_opt(0, 0, 0).map(|d| d.and_utc())
}

/// A boolean given as a JSON bool, 0/1, or a string ("true", "1", "yes", any case).
pub fn bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::Bool(b) => Ok(b),
        serde_json::Value::Number(n) => Ok(n.as_f64().is_some_and(|n| n != 0.0)),
        serde_json::Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "sim" => Ok(true),
            "false" | "0" | "no" | "não" | "nao" | "" => Ok(false),
            _ => Err(serde::de::Error::custom(format!("expected true or false, got {s:?}"))),
        },
        other => Err(serde::de::Error::custom(format!("expected true or false, got {other}"))),
    }
}

/// Like [`bool`], with null or absent as None.
pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    struct Wrap(#[serde(deserialize_with = "bool")] bool);
    Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
}

/// An unsigned integer given as a number or as a string of digits.
pub fn u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| serde::de::Error::custom(format!("expected a whole number, got {n}"))),
        serde_json::Value::String(s) => s.trim().parse().map_err(serde::de::Error::custom),
        other => Err(serde::de::Error::custom(format!("expected a whole number, got {other}"))),
    }
}

/// A scalar as text: SBIS sends every scalar as a string, but some of its clients see numbers
/// and booleans in the same places; null or absent is empty.
pub fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => Ok(String::new()),
        Some(serde_json::Value::String(s)) => Ok(s),
        Some(serde_json::Value::Number(n)) => Ok(n.to_string()),
        Some(serde_json::Value::Bool(b)) => Ok(b.to_string()),
        Some(other) => Err(serde::de::Error::custom(format!("expected text, got {other}"))),
    }
}

/// A list given as an array, as one bare element, or as null (SBIS answers `Этап`, `Действие`,
/// `Подпись`… as either, depending on the method).
pub fn one_or_many<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => Ok(Vec::new()),
        Some(serde_json::Value::Array(items)) => {
            items.into_iter().map(|v| T::deserialize(v).map_err(serde::de::Error::custom)).collect()
        }
        Some(one) => T::deserialize(one).map(|t| vec![t]).map_err(serde::de::Error::custom),
    }
}

/// Rewrites every object key to start with a lowercase letter and drops stray surrounding
/// spaces, so `IdProcesso`, `"ordemDocumento "` and `Conta` meet the camelCase wire structs.
pub fn camel_keys(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => map
            .into_iter()
            .map(|(k, v)| {
                let k = k.trim();
                let mut chars = k.chars();
                let key = match chars.next() {
                    Some(first) => first.to_lowercase().chain(chars).collect(),
                    None => String::new(),
                };
                (key, camel_keys(v))
            })
            .collect(),
        serde_json::Value::Array(items) => items.into_iter().map(camel_keys).collect(),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Flags {
        #[serde(deserialize_with = "bool")]
        a: bool,
        #[serde(default, deserialize_with = "opt_bool")]
        b: Option<bool>,
        #[serde(deserialize_with = "u64")]
        n: u64,
    }

    #[test]
    fn booleans_and_numbers_in_any_clothing() {
        for (json, a, b, n) in [
            (r#"{"a":true,"b":null,"n":1}"#, true, None, 1),
            (r#"{"a":1,"b":"false","n":"42"}"#, true, Some(false), 42),
            (r#"{"a":"True","n":0}"#, true, None, 0),
            (r#"{"a":"0","b":0,"n":"7"}"#, false, Some(false), 7),
        ] {
            let f: Flags = serde_json::from_str(json).unwrap();
            assert_eq!((f.a, f.b, f.n), (a, b, n), "{json}");
        }
        assert!(serde_json::from_str::<Flags>(r#"{"a":"maybe","n":1}"#).is_err());
        assert!(serde_json::from_str::<Flags>(r#"{"a":true,"n":"x"}"#).is_err());
    }

    #[test]
    fn dates_without_offset_are_utc() {
        for (text, expected) in [
            ("2022-12-05T17:27:35.146479", "2022-12-05T17:27:35.146479+00:00"),
            ("2025-06-01T23:59:59", "2025-06-01T23:59:59+00:00"),
            ("2025-06-01T23:59:59.123Z", "2025-06-01T23:59:59.123+00:00"),
            ("2025-06-01T20:59:59-03:00", "2025-06-01T23:59:59+00:00"),
            ("2025-06-01 23:59:59", "2025-06-01T23:59:59+00:00"),
            ("25/12/2024 08:30:00", "2024-12-25T08:30:00+00:00"),
            ("2026-04-30", "2026-04-30T00:00:00+00:00"),
            ("30/04/2026", "2026-04-30T00:00:00+00:00"),
        ] {
            assert_eq!(utc_date(text).unwrap().to_rfc3339(), expected, "{text}");
        }
        assert_eq!(utc_date("ontem"), None);
    }

    #[test]
    fn texts_and_lists_in_any_clothing() {
        #[derive(Deserialize)]
        struct S {
            #[serde(default, deserialize_with = "text")]
            t: String,
            #[serde(default, deserialize_with = "one_or_many")]
            l: Vec<u8>,
        }
        for (json, t, l) in [
            (r#"{"t":"3","l":[1,2]}"#, "3", vec![1, 2]),
            (r#"{"t":3,"l":7}"#, "3", vec![7]),
            (r#"{"t":null,"l":null}"#, "", vec![]),
            (r#"{}"#, "", vec![]),
        ] {
            let s: S = serde_json::from_str(json).unwrap();
            assert_eq!((s.t.as_str(), s.l), (t, l), "{json}");
        }
        assert!(serde_json::from_str::<S>(r#"{"t":{"a":1}}"#).is_err());
    }

    #[test]
    fn keys_become_camel_case() {
        let v = serde_json::json!({"IdProcesso": "g", "Conta": {"Id": 1},
            "documentos": [{"ordemDocumento ": 1, "Nome": "a.pdf"}], "": 0});
        assert_eq!(
            camel_keys(v),
            serde_json::json!({"idProcesso": "g", "conta": {"id": 1},
                "documentos": [{"ordemDocumento": 1, "nome": "a.pdf"}], "": 0})
        );
    }
}
