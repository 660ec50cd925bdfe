//! The JSON-RPC 2.0 envelope of SBIS (contract §1.3–§1.5): lenient reading of requests, strict
//! writing of answers, and the errors in the shape SBIS sends them.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// Classid of a fatal error: fix the request or the state (contract §1.5, prefix `1FA`).
/// The suffix is the sandbox's own [I]: the contract knows no official one for these cases.
pub(crate) const FATAL_CLASSID: &str = "{00000000-0000-0000-0000-1fa000000001}";
/// Classid of a refused session (missing, unknown, expired or ended) [I: §14.17 shows only the
/// `1fa0000…` prefix].
pub(crate) const SESSION_CLASSID: &str = "{00000000-0000-0000-0000-1fa000000401}";
/// Classid of a non-fatal error: the same request may succeed later (contract §1.5, `1AA`).
pub(crate) const TEMPORARY_CLASSID: &str = "{00000000-0000-0000-0000-1aa000000001}";

/// The message of a refused session (contract §14.17 [I body]).
pub(crate) const SESSION_NOT_FOUND: &str = "Сессия не найдена";

/// One JSON-RPC call as the client sent it.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub method: String,
    /// Always an object (an absent `params` reads as `{}`).
    pub params: Map<String, Value>,
    /// Echoed as received: a number, a string, or `null` when absent.
    pub id: Value,
}

/// An error answered in the JSON-RPC error envelope.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RpcError {
    pub status: StatusCode,
    pub code: i64,
    pub message: String,
    /// `details` when it differs from `message` (contract §1.5: it often equals it).
    pub details: Option<String>,
    /// `"type": "warning"` instead of `"error"`.
    pub warning: bool,
    pub classid: Option<&'static str>,
    pub addinfo: Option<Box<Value>>,
}

impl RpcError {
    /// A business error the client must fix (HTTP 500, code -32000, fatal classid), as the
    /// contract's simulator mapping proposes (§1.5 [I]).
    pub fn fatal(message: impl Into<String>) -> RpcError {
        RpcError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: -32000,
            message: message.into(),
            details: None,
            warning: false,
            classid: Some(FATAL_CLASSID),
            addinfo: None,
        }
    }

    /// A temporary failure (HTTP 500, non-fatal `1AA` classid): retry the same call later.
    pub fn temporary(message: impl Into<String>, details: impl Into<String>) -> RpcError {
        RpcError {
            details: Some(details.into()),
            classid: Some(TEMPORARY_CLASSID),
            ..RpcError::fatal(message)
        }
    }

    /// A refused session: HTTP 401 with the §14.17 body; the client logs in again once.
    pub fn session_refused() -> RpcError {
        RpcError {
            status: StatusCode::UNAUTHORIZED,
            classid: Some(SESSION_CLASSID),
            ..RpcError::fatal(SESSION_NOT_FOUND)
        }
    }

    /// The body could not be read as a JSON-RPC call: JSON-RPC's own codes [I].
    pub fn invalid_request(code: i64, message: impl Into<String>) -> RpcError {
        RpcError { status: StatusCode::BAD_REQUEST, code, ..RpcError::fatal(message) }
    }

    /// An unknown method (HTTP 404, contract §1.5 "404 unknown method"; code -32601 [I]).
    pub fn unknown_method(method: &str, endpoint: &str) -> RpcError {
        RpcError {
            status: StatusCode::NOT_FOUND,
            code: -32601,
            ..RpcError::fatal(format!("Метод {method} не найден на {endpoint}"))
        }
    }

    pub fn with_status(mut self, status: StatusCode) -> RpcError {
        self.status = status;
        self
    }

    fn kind(&self) -> &'static str {
        if self.warning { "warning" } else { "error" }
    }

    /// The `error` member of the envelope.
    pub fn body(&self) -> Value {
        let mut error = json!({
            "code": self.code,
            "message": self.message,
            "details": self.details.as_deref().unwrap_or(&self.message),
            "type": self.kind(),
        });
        if self.classid.is_some() || self.addinfo.is_some() {
            let mut data = Map::new();
            if let Some(classid) = self.classid {
                data.insert("classid".into(), json!(classid));
            }
            if let Some(addinfo) = &self.addinfo {
                data.insert("addinfo".into(), Value::clone(addinfo));
            }
            error["data"] = Value::Object(data);
        }
        error
    }

    /// The whole answer, echoing `id`.
    pub fn response(&self, id: &Value) -> Response {
        let body = json!({ "jsonrpc": "2.0", "error": self.body(), "id": id });
        let mut response = json_response(self.status, &body);
        // Contract §1.2: failures carry `X-ExceptionType`.
        response.headers_mut().insert("x-exceptiontype", HeaderValue::from_static(self.kind()));
        response
    }
}

/// A success answer echoing `id`.
pub(crate) fn success(result: Value, id: &Value) -> Response {
    json_response(StatusCode::OK, &json!({ "jsonrpc": "2.0", "result": result, "id": id }))
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, "application/json; charset=utf-8")], bytes).into_response()
}

/// Reads a call leniently (contract §1.3): any content type, `id` a number or a string (or
/// absent), an optional `protocol` member ignored, `jsonrpc` "2.0" when present, `params` an
/// object when present. Errors carry the `id` when it could be read.
pub(crate) fn parse(body: &[u8]) -> Result<Call, (RpcError, Value)> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        (RpcError::invalid_request(-32700, format!("Тело запроса не JSON: {e}")), Value::Null)
    })?;
    let Value::Object(mut object) = value else {
        let error = RpcError::invalid_request(-32600, "Запрос JSON-RPC должен быть объектом");
        return Err((error, Value::Null));
    };
    let id = match object.remove("id") {
        None | Some(Value::Null) => Value::Null,
        Some(id @ (Value::Number(_) | Value::String(_))) => id,
        Some(other) => {
            let message = format!("id должен быть числом или строкой, получено {other}");
            return Err((RpcError::invalid_request(-32600, message), Value::Null));
        }
    };
    let refuse = |message: String| (RpcError::invalid_request(-32600, message), id.clone());
    match object.get("jsonrpc") {
        None => {}
        Some(Value::String(version)) if version == "2.0" => {}
        Some(other) => {
            return Err(refuse(format!("jsonrpc должен быть \"2.0\", получено {other}")));
        }
    }
    let method = match object.remove("method") {
        Some(Value::String(method)) if !method.is_empty() => method,
        _ => return Err(refuse("Не передано имя метода (method)".into())),
    };
    let params = match object.remove("params") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(params)) => params,
        Some(other) => {
            return Err(refuse(format!("params должен быть объектом, получено {other}")));
        }
    };
    Ok(Call { method, params, id })
}

// ---- lenient reading of SBIS objects -----------------------------------------------------------

/// A scalar as SBIS sends it: a string, or a number or boolean some clients send instead
/// (contract: "every scalar is a string"; lenient on input).
pub(crate) fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(true) => Some("Да".into()),
        Value::Bool(false) => Some("Нет".into()),
        _ => None,
    }
}

/// A non-empty scalar, trimmed.
pub(crate) fn non_empty(value: Option<&Value>) -> Option<String> {
    text(value).map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
}

/// An object, or the first element of a one-element array (contract §0: `Этап`, `Действие`,
/// `Подпись`, `Редакция` come both ways).
pub(crate) fn one(value: Option<&Value>) -> Option<&Map<String, Value>> {
    match value? {
        Value::Object(object) => Some(object),
        Value::Array(items) => items.first().and_then(Value::as_object),
        _ => None,
    }
}

/// Every object of an array, or the object itself.
pub(crate) fn many(value: Option<&Value>) -> Vec<&Map<String, Value>> {
    match value {
        Some(Value::Object(object)) => vec![object],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_object).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_read_leniently() {
        let call = parse(
            r#"{"jsonrpc":"2.0","method":"СБИС.Выход","params":{},"id":"0","protocol":4}"#
                .as_bytes(),
        )
        .unwrap();
        assert_eq!((call.method.as_str(), call.id), ("СБИС.Выход", json!("0")));
        let call = parse(r#"{"method":"СБИС.Выход","id":1}"#.as_bytes()).unwrap();
        assert_eq!((call.params.len(), call.id), (0, json!(1)));
    }

    #[test]
    fn malformed_calls_are_refused_with_their_id() {
        let (error, id) = parse(b"{").unwrap_err();
        assert_eq!((error.code, error.status, id), (-32700, StatusCode::BAD_REQUEST, Value::Null));
        let (error, id) = parse(br#"{"jsonrpc":"2.0","id":7}"#).unwrap_err();
        assert_eq!((error.code, id), (-32600, json!(7)));
        let (error, _) = parse(br#"{"method":"x","params":[1],"id":7}"#).unwrap_err();
        assert!(error.message.contains("params"));
        assert!(parse(br#"{"jsonrpc":"1.0","method":"x"}"#).is_err());
        assert!(parse(br#"{"method":"x","id":{}}"#).is_err());
    }

    #[test]
    fn errors_have_the_contract_shape() {
        let body = RpcError::session_refused().body();
        assert_eq!(
            body,
            json!({"code": -32000, "message": SESSION_NOT_FOUND, "details": SESSION_NOT_FOUND,
                   "type": "error", "data": {"classid": SESSION_CLASSID}})
        );
        assert_eq!(RpcError::temporary("a", "b").classid, Some(TEMPORARY_CLASSID));
    }

    #[test]
    fn objects_and_one_element_arrays_read_alike() {
        let object = json!({"Название": "Отправка"});
        let array = json!([{"Название": "Отправка"}]);
        assert_eq!(one(Some(&object)), one(Some(&array)));
        assert_eq!(many(Some(&object)).len(), 1);
        assert_eq!(text(Some(&json!(17))), Some("17".into()));
        assert_eq!(non_empty(Some(&json!("  "))), None);
    }
}
