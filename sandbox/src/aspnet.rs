//! Conventions of the ASP.NET services the sandbox simulates (TAE, ArqSign, iDocs): how they
//! bind JSON bodies and query strings, how they write dates, and how their JwtBearer handler
//! reads and refuses bearer tokens.
//!
//! Binding is as lenient as ASP.NET's: property names match in any casing, and the helpers in
//! [`lenient`] accept numbers and booleans in their string forms. It happens in one pass over the
//! body, without an intermediate `serde_json::Value`, so a large upload (base64 files inside the
//! JSON) is never copied: a field can decode its string straight from the request bytes.

use std::cell::RefCell;
use std::fmt;

use axum::extract::Query;
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::response::Response;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor,
};

/// Why a body could not be bound.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum BindError {
    /// Not JSON at all: bad syntax, truncated or empty.
    Syntax(String),
    /// A property the target does not have (or one given twice).
    UnknownField(String),
    /// A value of the wrong type or out of range. `field` is the innermost property that held
    /// it, spelled as the target declares it; `None` when the body as a whole has the wrong
    /// shape (an array where an object was expected…).
    Invalid { field: Option<String>, message: String },
}

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BindError::Syntax(message)
            | BindError::UnknownField(message)
            | BindError::Invalid { message, .. } => f.write_str(message),
        }
    }
}

/// Parses a JSON body into `T`, matching property names case-insensitively against the names
/// `T` declares (ASCII case folding, as .NET's `OrdinalIgnoreCase`).
pub(crate) fn bind<T: DeserializeOwned>(body: &[u8]) -> Result<T, BindError> {
    let track = Track::default();
    let mut json = serde_json::Deserializer::from_slice(body);
    let bound = T::deserialize(CaseInsensitive { inner: &mut json, track: &track })
        .and_then(|value| json.end().map(|()| value));
    bound.map_err(|e| {
        let message = e.to_string();
        match e.classify() {
            serde_json::error::Category::Data => {
                // serde's own wording for `deny_unknown_fields` and repeated keys.
                if message.starts_with("unknown field") || message.starts_with("duplicate field") {
                    BindError::UnknownField(message)
                } else {
                    BindError::Invalid { field: track.failed.into_inner(), message }
                }
            }
            _ => BindError::Syntax(message),
        }
    })
}

/// Where a data error happened: the innermost property whose value failed.
#[derive(Default)]
struct Track {
    failed: RefCell<Option<String>>,
}

impl Track {
    fn note(&self, key: Option<&str>) {
        let mut failed = self.failed.borrow_mut();
        // Errors travel outwards, so the first note is the innermost property.
        if failed.is_none() {
            *failed = key.map(str::to_owned);
        }
    }
}

/// The declared field name matching `key` in any casing, or `key` itself.
fn canonical<'k>(
    fields: Option<&'static [&'static str]>,
    key: &'k str,
) -> Result<&'static str, &'k str> {
    fields
        .and_then(|fields| fields.iter().find(|f| f.eq_ignore_ascii_case(key)).copied())
        .ok_or(key)
}

/// Forwards every `deserialize_*` method of a wrapper to `self.inner`, wrapping the visitor.
macro_rules! forward_deserializer {
    ($wrap:ident; $($method:ident),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
                let wrapped = self.$wrap(visitor);
                self.inner.$method(wrapped)
            }
        )*
    };
}

/// Declares the `deserialize_*` methods that take extra arguments, forwarding them too.
macro_rules! forward_deserializer_with_args {
    ($wrap:ident) => {
        fn deserialize_unit_struct<V: Visitor<'de>>(
            self,
            name: &'static str,
            visitor: V,
        ) -> Result<V::Value, Self::Error> {
            let wrapped = self.$wrap(visitor);
            self.inner.deserialize_unit_struct(name, wrapped)
        }

        fn deserialize_newtype_struct<V: Visitor<'de>>(
            self,
            name: &'static str,
            visitor: V,
        ) -> Result<V::Value, Self::Error> {
            let wrapped = self.$wrap(visitor);
            self.inner.deserialize_newtype_struct(name, wrapped)
        }

        fn deserialize_tuple<V: Visitor<'de>>(
            self,
            len: usize,
            visitor: V,
        ) -> Result<V::Value, Self::Error> {
            let wrapped = self.$wrap(visitor);
            self.inner.deserialize_tuple(len, wrapped)
        }

        fn deserialize_tuple_struct<V: Visitor<'de>>(
            self,
            name: &'static str,
            len: usize,
            visitor: V,
        ) -> Result<V::Value, Self::Error> {
            let wrapped = self.$wrap(visitor);
            self.inner.deserialize_tuple_struct(name, len, wrapped)
        }

        fn deserialize_enum<V: Visitor<'de>>(
            self,
            name: &'static str,
            variants: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, Self::Error> {
            let wrapped = self.$wrap(visitor);
            self.inner.deserialize_enum(name, variants, wrapped)
        }

        fn is_human_readable(&self) -> bool {
            self.inner.is_human_readable()
        }
    };
}

/// A deserializer whose structs match property names in any casing.
struct CaseInsensitive<'t, D> {
    inner: D,
    track: &'t Track,
}

impl<'t, D> CaseInsensitive<'t, D> {
    fn wrap<V>(&self, visitor: V) -> CiVisitor<'t, V> {
        CiVisitor { inner: visitor, fields: None, track: self.track }
    }
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for CaseInsensitive<'_, D> {
    type Error = D::Error;

    forward_deserializer!(wrap;
        deserialize_any, deserialize_bool, deserialize_i8, deserialize_i16, deserialize_i32,
        deserialize_i64, deserialize_i128, deserialize_u8, deserialize_u16, deserialize_u32,
        deserialize_u64, deserialize_u128, deserialize_f32, deserialize_f64, deserialize_char,
        deserialize_str, deserialize_string, deserialize_bytes, deserialize_byte_buf,
        deserialize_option, deserialize_unit, deserialize_seq, deserialize_map,
        deserialize_identifier, deserialize_ignored_any,
    );
    forward_deserializer_with_args!(wrap);

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        let wrapped = CiVisitor { inner: visitor, fields: Some(fields), track: self.track };
        self.inner.deserialize_struct(name, fields, wrapped)
    }
}

/// Forwards every `visit_*` method unchanged (the ones a wrapper does not override).
macro_rules! forward_visits {
    ($($method:ident($ty:ty)),* $(,)?) => {
        $(
            fn $method<E: de::Error>(self, value: $ty) -> Result<Self::Value, E> {
                self.inner.$method(value)
            }
        )*
    };
}

struct CiVisitor<'t, V> {
    inner: V,
    /// The target's field names when it is a struct.
    fields: Option<&'static [&'static str]>,
    track: &'t Track,
}

impl<'de, V: Visitor<'de>> Visitor<'de> for CiVisitor<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    forward_visits!(
        visit_bool(bool),
        visit_i8(i8),
        visit_i16(i16),
        visit_i32(i32),
        visit_i64(i64),
        visit_i128(i128),
        visit_u8(u8),
        visit_u16(u16),
        visit_u32(u32),
        visit_u64(u64),
        visit_u128(u128),
        visit_f32(f32),
        visit_f64(f64),
        visit_char(char),
        visit_str(&str),
        visit_borrowed_str(&'de str),
        visit_string(String),
        visit_bytes(&[u8]),
        visit_borrowed_bytes(&'de [u8]),
        visit_byte_buf(Vec<u8>),
    );

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.inner.visit_some(CaseInsensitive { inner: d, track: self.track })
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.inner.visit_newtype_struct(CaseInsensitive { inner: d, track: self.track })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        self.inner.visit_seq(CiSeq { inner: seq, track: self.track })
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.inner.visit_map(CiMap {
            inner: map,
            fields: self.fields,
            track: self.track,
            key: None,
        })
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        self.inner.visit_enum(data)
    }
}

struct CiSeed<'t, S> {
    inner: S,
    track: &'t Track,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for CiSeed<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.inner.deserialize(CaseInsensitive { inner: d, track: self.track })
    }
}

struct CiSeq<'t, A> {
    inner: A,
    track: &'t Track,
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for CiSeq<'_, A> {
    type Error = A::Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, A::Error> {
        self.inner.next_element_seed(CiSeed { inner: seed, track: self.track })
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

struct CiMap<'t, A> {
    inner: A,
    fields: Option<&'static [&'static str]>,
    track: &'t Track,
    /// The key of the value being read, as the target names it.
    key: Option<String>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for CiMap<'_, A> {
    type Error = A::Error;

    fn next_key_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, A::Error> {
        let key_seed = KeySeed { inner: seed, fields: self.fields, slot: &mut self.key };
        self.inner.next_key_seed(key_seed)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        self.inner.next_value_seed(CiSeed { inner: seed, track: self.track }).inspect_err(|_| {
            self.track.note(self.key.as_deref());
        })
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

/// Reads one property name, handing the target its declared spelling.
struct KeySeed<'s, S> {
    inner: S,
    fields: Option<&'static [&'static str]>,
    slot: &'s mut Option<String>,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for KeySeed<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.inner.deserialize(KeyDeserializer { inner: d, fields: self.fields, slot: self.slot })
    }
}

struct KeyDeserializer<'s, D> {
    inner: D,
    fields: Option<&'static [&'static str]>,
    slot: &'s mut Option<String>,
}

impl<'s, D> KeyDeserializer<'s, D> {
    /// For keys that are not strings (integer map keys): not property names, so neither
    /// folded nor remembered.
    fn wrap<V>(&self, visitor: V) -> KeyVisitor<'s, V> {
        KeyVisitor { inner: visitor, fields: None, slot: None }
    }
}

impl<'de, 's, D: Deserializer<'de>> Deserializer<'de> for KeyDeserializer<'s, D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        let visitor = KeyVisitor { inner: visitor, fields: self.fields, slot: Some(self.slot) };
        self.inner.deserialize_any(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        let visitor = KeyVisitor { inner: visitor, fields: self.fields, slot: Some(self.slot) };
        self.inner.deserialize_str(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        let visitor = KeyVisitor { inner: visitor, fields: self.fields, slot: Some(self.slot) };
        self.inner.deserialize_string(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        let visitor = KeyVisitor { inner: visitor, fields: self.fields, slot: Some(self.slot) };
        self.inner.deserialize_identifier(visitor)
    }

    forward_deserializer!(wrap;
        deserialize_bool, deserialize_i8, deserialize_i16, deserialize_i32, deserialize_i64,
        deserialize_i128, deserialize_u8, deserialize_u16, deserialize_u32, deserialize_u64,
        deserialize_u128, deserialize_f32, deserialize_f64, deserialize_char, deserialize_bytes,
        deserialize_byte_buf, deserialize_option, deserialize_unit, deserialize_seq,
        deserialize_map, deserialize_ignored_any,
    );
    forward_deserializer_with_args!(wrap);

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        let wrapped = self.wrap(visitor);
        self.inner.deserialize_struct(name, fields, wrapped)
    }
}

struct KeyVisitor<'s, V> {
    inner: V,
    fields: Option<&'static [&'static str]>,
    slot: Option<&'s mut Option<String>>,
}

impl<V> KeyVisitor<'_, V> {
    fn remember(&mut self, name: &str) {
        if let Some(slot) = self.slot.as_deref_mut() {
            *slot = Some(name.to_owned());
        }
    }
}

impl<'de, V: Visitor<'de>> Visitor<'de> for KeyVisitor<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    fn visit_str<E: de::Error>(mut self, key: &str) -> Result<Self::Value, E> {
        match canonical(self.fields, key) {
            Ok(name) => {
                self.remember(name);
                self.inner.visit_borrowed_str(name)
            }
            Err(key) => {
                self.remember(key);
                self.inner.visit_str(key)
            }
        }
    }

    fn visit_borrowed_str<E: de::Error>(mut self, key: &'de str) -> Result<Self::Value, E> {
        let name = canonical(self.fields, key).unwrap_or_else(|key| key);
        self.remember(name);
        self.inner.visit_borrowed_str(name)
    }

    fn visit_string<E: de::Error>(self, key: String) -> Result<Self::Value, E> {
        self.visit_str(&key)
    }

    forward_visits!(
        visit_bool(bool),
        visit_i8(i8),
        visit_i16(i16),
        visit_i32(i32),
        visit_i64(i64),
        visit_i128(i128),
        visit_u8(u8),
        visit_u16(u16),
        visit_u32(u32),
        visit_u64(u64),
        visit_u128(u128),
        visit_f32(f32),
        visit_f64(f64),
        visit_char(char),
        visit_bytes(&[u8]),
        visit_borrowed_bytes(&'de [u8]),
        visit_byte_buf(Vec<u8>),
    );

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.inner.visit_some(d)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.inner.visit_newtype_struct(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        self.inner.visit_seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.inner.visit_map(map)
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        self.inner.visit_enum(data)
    }
}

/// Field deserialisers that accept what ASP.NET's binders accept: a value or its string form.
/// Use them as `#[serde(default, deserialize_with = "lenient::int")]`.
pub(crate) mod lenient {
    use serde::de::Error;
    use serde::{Deserialize, Deserializer};
    use serde_json::Value;

    /// An integer: a JSON number (a float only when whole), or its text; `null` and `""` are
    /// absent.
    pub fn int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        match Value::deserialize(d)? {
            Value::Null => Ok(None),
            Value::Number(n) => n
                .as_i64()
                .or_else(|| {
                    // Truncation is exact here: the value is whole and within i64's range.
                    n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15).map(|f| f as i64)
                })
                .map(Some)
                .ok_or_else(|| D::Error::custom(format!("{n} não é um inteiro"))),
            Value::String(s) if s.trim().is_empty() => Ok(None),
            Value::String(s) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| D::Error::custom(format!("\"{s}\" não é um inteiro"))),
            other => Err(D::Error::custom(format!("{other} não é um inteiro"))),
        }
    }

    /// Text that clients also send as a number (a phone, a code, a tax id); `null` is absent.
    pub fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        match Value::deserialize(d)? {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s)),
            Value::Number(n) => Ok(Some(n.to_string())),
            other => Err(D::Error::custom(format!("{other} não é um texto"))),
        }
    }

    /// A decimal: a JSON number or its text, with `.` or `,` as the separator; `null` and `""`
    /// are absent.
    pub fn decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        match Value::deserialize(d)? {
            Value::Null => Ok(None),
            Value::Number(n) => {
                n.as_f64().map(Some).ok_or_else(|| D::Error::custom(format!("{n} não é um número")))
            }
            Value::String(s) if s.trim().is_empty() => Ok(None),
            Value::String(s) => s
                .trim()
                .replace(',', ".")
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(Some)
                .ok_or_else(|| D::Error::custom(format!("\"{s}\" não é um número"))),
            other => Err(D::Error::custom(format!("{other} não é um número"))),
        }
    }

    /// A "bit": `true`/`false`, `0`/`1`, or those as text (any casing); `null` and `""` are
    /// absent.
    pub fn boolean<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        let invalid =
            |shown: &dyn std::fmt::Display| D::Error::custom(format!("{shown} não é um booleano"));
        match Value::deserialize(d)? {
            Value::Null => Ok(None),
            Value::Bool(b) => Ok(Some(b)),
            Value::Number(n) => match n.as_i64() {
                Some(0) => Ok(Some(false)),
                Some(1) => Ok(Some(true)),
                _ => Err(invalid(&n)),
            },
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "" => Ok(None),
                "true" | "1" => Ok(Some(true)),
                "false" | "0" => Ok(Some(false)),
                _ => Err(invalid(&format!("\"{s}\""))),
            },
            other => Err(invalid(&other)),
        }
    }
}

/// A query parameter by name in any casing (ASP.NET binding).
pub(crate) fn query_param(uri: &Uri, name: &str) -> Option<String> {
    let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(uri).ok()?;
    pairs.into_iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value)
}

/// The token of an `Authorization: Bearer <token>` header (the scheme in any casing).
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// A 401 with the challenge ASP.NET's JwtBearer handler sends (`WWW-Authenticate: Bearer`).
pub(crate) fn bearer_challenge(mut response: Response) -> Response {
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// A path routed the way ASP.NET routes it: any casing, a trailing slash ignored.
pub(crate) fn route_path(path: &str) -> String {
    let lower = path.to_ascii_lowercase();
    match lower.strip_suffix('/') {
        Some(trimmed) if !trimmed.is_empty() => trimmed.to_owned(),
        _ => lower,
    }
}

/// Dates as .NET writes a UTC `DateTime`: no offset, the fraction trimmed of trailing zeros
/// (`2025-06-01T12:00:00.123456`, `2025-06-02T09:30:00.5`, `2025-07-01T23:59:59`).
pub(crate) fn wire_time(at: NaiveDateTime) -> String {
    let text = at.format("%Y-%m-%dT%H:%M:%S%.6f").to_string();
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

pub(crate) fn wire_utc(at: DateTime<Utc>) -> String {
    wire_time(at.naive_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Outer {
        id_processo: Option<String>,
        #[serde(default, deserialize_with = "lenient::int")]
        ordem_documento: Option<i64>,
        #[serde(default, deserialize_with = "lenient::boolean")]
        usar_ordem: Option<bool>,
        itens: Option<Vec<Inner>>,
        extra: Option<std::collections::BTreeMap<String, i64>>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Inner {
        #[serde(default, deserialize_with = "lenient::int")]
        id_tipo_acao: Option<i64>,
    }

    #[test]
    fn names_match_in_any_casing_at_any_depth() {
        let body = br#"{"IDPROCESSO": "g", "OrdemDocumento": "2", "usarordem": 1,
                        "Itens": [{"IdTipoAcao": 1}, {"idtipoacao": "2"}], "extra": {"KeepMe": 3}}"#;
        let outer: Outer = bind(body).unwrap();
        assert_eq!(outer.id_processo.as_deref(), Some("g"));
        assert_eq!((outer.ordem_documento, outer.usar_ordem), (Some(2), Some(true)));
        let kinds: Vec<_> = outer.itens.unwrap().iter().map(|i| i.id_tipo_acao).collect();
        assert_eq!(kinds, [Some(1), Some(2)]);
        // Map keys are data, not property names: kept as sent.
        assert_eq!(outer.extra.unwrap().keys().collect::<Vec<_>>(), ["KeepMe"]);
    }

    #[test]
    fn errors_are_classified_with_the_innermost_field() {
        assert!(matches!(bind::<Outer>(b"{not json"), Err(BindError::Syntax(_))));
        assert!(matches!(bind::<Outer>(b""), Err(BindError::Syntax(_))));
        assert!(matches!(bind::<Outer>(b"{} trailing"), Err(BindError::Syntax(_))));
        assert!(matches!(bind::<Outer>(br#"{"nope": 1}"#), Err(BindError::UnknownField(_))));
        assert!(matches!(
            bind::<Outer>(br#"{"itens": [{"idTipoAcao": 1, "Nope": 2}]}"#),
            Err(BindError::UnknownField(_))
        ));
        match bind::<Outer>(br#"{"ordemDocumento": 1, "itens": [{"IDTIPOACAO": "x"}]}"#) {
            Err(BindError::Invalid { field, message }) => {
                assert_eq!(field.as_deref(), Some("idTipoAcao"));
                assert!(message.contains("inteiro"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(bind::<Outer>(b"[1]"), Err(BindError::Invalid { field: None, .. })));
    }

    #[test]
    fn lenient_bits() {
        #[derive(Deserialize)]
        struct Bit {
            #[serde(default, deserialize_with = "lenient::boolean")]
            b: Option<bool>,
        }
        let bit = |json: &str| bind::<Bit>(json.as_bytes()).map(|b| b.b);
        assert_eq!(bit(r#"{"b": true}"#), Ok(Some(true)));
        assert_eq!(bit(r#"{"b": 0}"#), Ok(Some(false)));
        assert_eq!(bit(r#"{"b": "1"}"#), Ok(Some(true)));
        assert_eq!(bit(r#"{"b": "False"}"#), Ok(Some(false)));
        assert_eq!(bit(r#"{"b": null}"#), Ok(None));
        assert_eq!(bit(r#"{}"#), Ok(None));
        assert!(bit(r#"{"b": 2}"#).is_err());
        assert!(bit(r#"{"b": "yes"}"#).is_err());
    }

    #[test]
    fn lenient_text_and_decimals() {
        #[derive(Deserialize)]
        struct Both {
            #[serde(default, deserialize_with = "lenient::text")]
            t: Option<String>,
            #[serde(default, deserialize_with = "lenient::decimal")]
            d: Option<f64>,
        }
        let both = |json: &str| bind::<Both>(json.as_bytes()).map(|b| (b.t, b.d));
        assert_eq!(
            both(r#"{"t": 5511987654321, "d": "12,5"}"#),
            Ok((Some("5511987654321".into()), Some(12.5)))
        );
        assert_eq!(both(r#"{"t": "0123", "d": 3}"#), Ok((Some("0123".into()), Some(3.0))));
        assert!(both(r#"{"t": [1]}"#).is_err());
        assert!(both(r#"{"d": "abc"}"#).is_err());
    }

    #[test]
    fn dates_have_no_offset_and_trimmed_fractions() {
        let at = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").unwrap();
        assert_eq!(wire_time(at("2025-06-01T12:00:00.123456")), "2025-06-01T12:00:00.123456");
        assert_eq!(wire_time(at("2025-06-02T09:30:00.5")), "2025-06-02T09:30:00.5");
        assert_eq!(wire_time(at("2025-07-01T23:59:59")), "2025-07-01T23:59:59");
    }

    #[test]
    fn bearer_tokens_are_read_in_any_scheme_casing() {
        let headers = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
            headers
        };
        assert_eq!(bearer_token(&headers("Bearer abc")), Some("abc"));
        assert_eq!(bearer_token(&headers("bearer  abc ")), Some("abc"));
        assert_eq!(bearer_token(&headers("Basic abc")), None);
        assert_eq!(bearer_token(&headers("Bearer")), None);
        assert_eq!(bearer_token(&HeaderMap::new()), None);
    }

    #[test]
    fn routes_ignore_case_and_a_trailing_slash() {
        assert_eq!(route_path("/TAE/Documents/"), "/tae/documents");
        assert_eq!(route_path("/"), "/");
    }
}
