//! The `webhook_subscribe` call of providers that push changes: the host registers the URL its
//! receiver answers at (`signbridge serve`, an embedded `Listener`, its own web server calling
//! `Receiver::handle`). Each provider reads its own arguments and speaks its own wire; the call
//! name, the checks of the receiver URL and the neutral answer live here once.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// The call's name in every provider's capability record.
pub const CALL: &str = "webhook_subscribe";

/// A call's arguments as `T`, or a validation error naming the bad field.
pub fn args<T: DeserializeOwned>(args: serde_json::Value) -> Result<T> {
    T::deserialize(args).map_err(|e| Error::validation("args", e))
}

/// The receiver URL the provider will post to, trimmed: an absolute http(s) URL with a host and
/// no fragment (a fragment never reaches the receiver).
pub fn receiver_url(value: &str) -> Result<String> {
    let value = value.trim();
    match url::Url::parse(value) {
        Ok(u)
            if matches!(u.scheme(), "http" | "https")
                && u.host_str().is_some_and(|h| !h.is_empty())
                && u.fragment().is_none() =>
        {
            Ok(value.to_owned())
        }
        _ => Err(Error::validation(
            "args.url",
            format!("{value:?} is not an absolute http(s) URL without a fragment"),
        )),
    }
}

/// What a subscription call answers, whatever the provider.
#[derive(Debug, Serialize)]
pub struct Subscription {
    /// The provider's id of the subscription, when it gives one (to change it later).
    pub id: Option<String>,
    /// The URL the provider now posts to.
    pub url: String,
    /// The key the provider signs its deliveries with, when it makes one: it goes into the
    /// receiver route's settings (ArqSign: `hmac_keys`). Returned to the host, never logged.
    pub secret: Option<String>,
}

impl Subscription {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn only_absolute_http_urls_with_a_host() {
        assert_eq!(
            receiver_url(" https://erp.example/webhooks/idocs/main ").unwrap(),
            "https://erp.example/webhooks/idocs/main"
        );
        receiver_url("http://127.0.0.1:8080/webhooks/arqsign/a").unwrap();
        for bad in
            ["", "erp.example/hook", "ftp://erp.example/", "https://erp.example/#x", "file:///x"]
        {
            let err = receiver_url(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Validation, "{bad}");
            assert_eq!(err.field(), Some("args.url"), "{bad}");
        }
    }
}
