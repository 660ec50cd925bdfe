//! The control side of the sandbox: routes under `/__sandbox/` that tests use to drive a
//! simulator (a party signs, a document expires), arm faults and read the request log, and
//! [`Control`], a small async client for them.
//!
//! Control routes are never recorded in the request log, never faulted and never touched by
//! chaos. They answer JSON; errors are 4xx with `{"error": "…"}`.
//!
//! | Route | Body | Answer |
//! |---|---|---|
//! | `GET /__sandbox/requests` | | `[RecordedRequest]`, in arrival order |
//! | `DELETE /__sandbox/requests` | | `{}` |
//! | `POST /__sandbox/faults` | [`Fault`] | `{"id": n}` |
//! | `GET /__sandbox/faults` | | armed faults, each with `id` and `remaining` |
//! | `DELETE /__sandbox/faults` | | `{}` |
//! | `POST /__sandbox/chaos` | [`Chaos`] | [`ChaosReport`] (counts start at 0; replaces any chaos in force) |
//! | `GET /__sandbox/chaos` | | [`ChaosReport`]: what fired so far, per kind |
//! | `DELETE /__sandbox/chaos` | | `{}` (no more chaos, counts cleared) |
//! | `/__sandbox/tae/…` | | see [`crate::tae`] |
//! | `/__sandbox/arqsign/…` | | see [`crate::arqsign`] |
//! | `/__sandbox/idocs/…` | | see [`crate::idocs`] |
//! | `/__sandbox/sbis/…` | | see [`crate::sbis`] |
//! | `/__sandbox/<sender>/deliveries…` | | webhook deliveries of each sender: see [`crate::senders`] |

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::chaos::ChaosStore;
use crate::faults::FaultStore;
pub use crate::model::{Chaos, ChaosKind, ChaosReport, Fault, RecordedRequest, Reset, When};
use crate::requests::RequestLog;
use crate::senders::{DeliveryChaos, DeliveryPolicy, DeliverySummary, DeliveryView, SenderId};

/// Why a control call failed: the HTTP status (when the sandbox answered) and its message.
#[derive(Debug, Clone)]
pub struct Error {
    status: Option<u16>,
    message: String,
}

impl Error {
    /// HTTP status of the sandbox's answer; `None` when the request did not get one.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.status {
            Some(status) => write!(f, "sandbox control: HTTP {status}: {}", self.message),
            None => write!(f, "sandbox control: {}", self.message),
        }
    }
}

impl std::error::Error for Error {}

/// Client for the control routes of one running sandbox.
#[derive(Debug, Clone)]
pub struct Control {
    http: reqwest::Client,
    base_url: String,
}

impl Control {
    /// `base_url` is the sandbox root, e.g. `http://127.0.0.1:40123` (a trailing `/` is fine).
    pub fn new(base_url: impl Into<String>) -> Control {
        let base_url = base_url.into().trim_end_matches('/').to_owned();
        // Control traffic always stays on loopback: a proxy from the environment must not
        // capture it.
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Control { http, base_url }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Recipient `email` signs (or validates/witnesses, per its `acao`) TAE document `doc_id`.
    /// Returns the document's internal state afterwards.
    pub async fn tae_sign(&self, doc_id: i64, email: &str) -> Result<Value, Error> {
        self.send(
            reqwest::Method::POST,
            &format!("/__sandbox/tae/documents/{doc_id}/sign"),
            Some(json!({ "email": email })),
        )
        .await
    }

    /// Recipient `email` rejects TAE document `doc_id` with `reason`.
    pub async fn tae_reject(&self, doc_id: i64, email: &str, reason: &str) -> Result<Value, Error> {
        self.send(
            reqwest::Method::POST,
            &format!("/__sandbox/tae/documents/{doc_id}/reject"),
            Some(json!({ "email": email, "reason": reason })),
        )
        .await
    }

    /// Moves the document's expiry date into the past: it keeps its status, but nobody can
    /// sign or reject any more.
    pub async fn tae_expire(&self, doc_id: i64) -> Result<Value, Error> {
        self.send(reqwest::Method::POST, &format!("/__sandbox/tae/documents/{doc_id}/expire"), None)
            .await
    }

    /// Full internal state of one TAE document, including the publish body as received.
    pub async fn tae_document(&self, doc_id: i64) -> Result<Value, Error> {
        self.send(reqwest::Method::GET, &format!("/__sandbox/tae/documents/{doc_id}"), None).await
    }

    /// Internal state of every TAE document, in id order.
    pub async fn tae_documents(&self) -> Result<Vec<Value>, Error> {
        let value = self.send(reqwest::Method::GET, "/__sandbox/tae/documents", None).await?;
        decode(value)
    }

    /// Every TAE token issued so far is expired from now on (answers 401).
    pub async fn tae_expire_tokens(&self) -> Result<(), Error> {
        self.send(reqwest::Method::POST, "/__sandbox/tae/tokens/expire", None).await.map(drop)
    }

    /// Changes TAE settings at run time; see [`crate::tae`] for the keys. Returns the settings
    /// now in force.
    pub async fn tae_set_config(&self, config: Value) -> Result<Value, Error> {
        self.send(reqwest::Method::POST, "/__sandbox/tae/config", Some(config)).await
    }

    /// Signer `email` signs ArqSign process `process_id` (it must be their turn). Returns the
    /// process's internal state afterwards.
    pub async fn arqsign_sign(&self, process_id: &str, email: &str) -> Result<Value, Error> {
        self.send(
            reqwest::Method::POST,
            &format!("/__sandbox/arqsign/processes/{process_id}/sign"),
            Some(json!({ "email": email })),
        )
        .await
    }

    /// Signer `email` refuses ArqSign process `process_id` with `reason`: the process is
    /// cancelled (status 5).
    pub async fn arqsign_refuse(
        &self,
        process_id: &str,
        email: &str,
        reason: &str,
    ) -> Result<Value, Error> {
        self.send(
            reqwest::Method::POST,
            &format!("/__sandbox/arqsign/processes/{process_id}/refuse"),
            Some(json!({ "email": email, "reason": reason })),
        )
        .await
    }

    /// Moves the process's expiry date into the past: it keeps its status, shows `expirado`
    /// and nobody can sign until it is resent.
    pub async fn arqsign_expire(&self, process_id: &str) -> Result<Value, Error> {
        self.send(
            reqwest::Method::POST,
            &format!("/__sandbox/arqsign/processes/{process_id}/expire"),
            None,
        )
        .await
    }

    /// Delivery to recipient `email` failed (`falhaEnvio`) until the process is resent.
    pub async fn arqsign_fail_delivery(
        &self,
        process_id: &str,
        email: &str,
    ) -> Result<Value, Error> {
        self.send(
            reqwest::Method::POST,
            &format!("/__sandbox/arqsign/processes/{process_id}/fail-delivery"),
            Some(json!({ "email": email })),
        )
        .await
    }

    /// Full internal state of one ArqSign process (documents by size and hash, not bytes).
    pub async fn arqsign_process(&self, process_id: &str) -> Result<Value, Error> {
        self.send(reqwest::Method::GET, &format!("/__sandbox/arqsign/processes/{process_id}"), None)
            .await
    }

    /// Internal state of every ArqSign process, in sending order.
    pub async fn arqsign_processes(&self) -> Result<Vec<Value>, Error> {
        let value = self.send(reqwest::Method::GET, "/__sandbox/arqsign/processes", None).await?;
        decode(value)
    }

    /// Changes ArqSign settings at run time; see [`crate::arqsign`] for the keys. Returns the
    /// settings now in force.
    pub async fn arqsign_set_config(&self, config: Value) -> Result<Value, Error> {
        self.send(reqwest::Method::POST, "/__sandbox/arqsign/config", Some(config)).await
    }

    /// Company B (the counterparty, [`crate::idocs::COUNTERPARTY_BIN`]) signs iDocs document
    /// `document_id` through the UI: a simulated signature without CMS. Returns the
    /// document's internal state afterwards.
    pub async fn idocs_counterparty_sign(&self, document_id: &str) -> Result<Value, Error> {
        self.send(
            reqwest::Method::POST,
            &format!("/__sandbox/idocs/documents/{document_id}/counterparty-sign"),
            Some(json!({})),
        )
        .await
    }

    /// Company B rejects iDocs document `document_id` with `reason`: the document is
    /// `REJECTED_BY_RECIPIENT` for both sides.
    pub async fn idocs_counterparty_reject(
        &self,
        document_id: &str,
        reason: &str,
    ) -> Result<Value, Error> {
        self.send(
            reqwest::Method::POST,
            &format!("/__sandbox/idocs/documents/{document_id}/counterparty-reject"),
            Some(json!({ "reason": reason })),
        )
        .await
    }

    /// The sender recalls sent iDocs document `document_id`: `RECALLED_BY_SENDER`.
    pub async fn idocs_recall(&self, document_id: &str) -> Result<Value, Error> {
        self.send(
            reqwest::Method::POST,
            &format!("/__sandbox/idocs/documents/{document_id}/recall"),
            None,
        )
        .await
    }

    /// Every iDocs idempotency ticket issued so far expires now, and so do their
    /// content-to-sign links.
    pub async fn idocs_expire_tickets(&self) -> Result<(), Error> {
        self.send(reqwest::Method::POST, "/__sandbox/idocs/tickets/expire", None).await.map(drop)
    }

    /// Runs every pending iDocs async operation now, whatever its delay; returns how many ran.
    pub async fn idocs_complete_operations(&self) -> Result<u64, Error> {
        let answer =
            self.send(reqwest::Method::POST, "/__sandbox/idocs/operations/complete", None).await?;
        answer
            .get("completed")
            .and_then(Value::as_u64)
            .ok_or_else(|| Error { status: None, message: format!("unexpected answer: {answer}") })
    }

    /// Full internal state of one iDocs document: stage, statuses, route, signatures received
    /// (form, signer subject, ticket used) and tickets.
    pub async fn idocs_document(&self, id: &str) -> Result<Value, Error> {
        self.send(reqwest::Method::GET, &format!("/__sandbox/idocs/documents/{id}"), None).await
    }

    /// Internal state of every iDocs document, in creation order.
    pub async fn idocs_documents(&self) -> Result<Vec<Value>, Error> {
        let value = self.send(reqwest::Method::GET, "/__sandbox/idocs/documents", None).await?;
        decode(value)
    }

    /// Changes iDocs settings at run time; see [`crate::idocs`] for the keys. Returns the
    /// settings now in force.
    pub async fn idocs_set_config(&self, config: Value) -> Result<Value, Error> {
        self.send(reqwest::Method::POST, "/__sandbox/idocs/config", Some(config)).await
    }

    /// The counterparty's operator delivers SBIS document `id` (state "4"); returns the
    /// document as `СБИС.ПрочитатьДокумент` shows it.
    pub async fn sbis_deliver(&self, id: &str) -> Result<Value, Error> {
        let path = format!("/__sandbox/sbis/documents/{id}/deliver");
        self.send(reqwest::Method::POST, &path, None).await
    }

    /// The counterparty approves SBIS document `id` (state "7"), its signature being `cms`
    /// (DER bytes) when given, else a simulated one; returns the document.
    pub async fn sbis_counterparty_sign(
        &self,
        id: &str,
        cms: Option<&[u8]>,
    ) -> Result<Value, Error> {
        use base64::Engine;
        let path = format!("/__sandbox/sbis/documents/{id}/counterparty-sign");
        let body = match cms {
            Some(cms) => json!({ "cms": base64::engine::general_purpose::STANDARD.encode(cms) }),
            None => json!({}),
        };
        self.send(reqwest::Method::POST, &path, Some(body)).await
    }

    /// The counterparty rejects SBIS document `id` with `reason` (state "9"); returns the
    /// document.
    pub async fn sbis_counterparty_reject(&self, id: &str, reason: &str) -> Result<Value, Error> {
        let path = format!("/__sandbox/sbis/documents/{id}/counterparty-reject");
        self.send(reqwest::Method::POST, &path, Some(json!({ "reason": reason }))).await
    }

    /// A document from the SBIS counterparty arrives (`{"id"?, "type"?, "number"?, "files"?:
    /// [{"name", "base64"}]}`): incoming, state "4", event "Получение"; returns the document.
    pub async fn sbis_incoming(&self, document: Value) -> Result<Value, Error> {
        self.send(reqwest::Method::POST, "/__sandbox/sbis/incoming", Some(document)).await
    }

    /// Every SBIS service stage so far (`document`, `stage`, `name`, `cause`, `since`,
    /// `processed`: when the host processed it, or null).
    pub async fn sbis_service_stages(&self) -> Result<Vec<Value>, Error> {
        decode(self.send(reqwest::Method::GET, "/__sandbox/sbis/service-stages", None).await?)
    }

    /// Ends SBIS session `sid`, or every session when `None`; returns how many ended. The next
    /// call with an ended session is refused with HTTP 401 "Сессия не найдена".
    pub async fn sbis_expire_sessions(&self, sid: Option<&str>) -> Result<u64, Error> {
        let body = match sid {
            Some(sid) => json!({ "sid": sid }),
            None => json!({}),
        };
        let answer =
            self.send(reqwest::Method::POST, "/__sandbox/sbis/sessions/expire", Some(body)).await?;
        answer
            .get("expired")
            .and_then(Value::as_u64)
            .ok_or_else(|| Error { status: None, message: format!("unexpected answer: {answer}") })
    }

    /// Holds SBIS work calls once they took their session's place (`true`), or releases them;
    /// returns how many are in flight.
    pub async fn sbis_hold_calls(&self, hold: bool) -> Result<u64, Error> {
        let body = json!({ "hold": hold });
        let answer =
            self.send(reqwest::Method::POST, "/__sandbox/sbis/calls/hold", Some(body)).await?;
        answer
            .get("in_flight")
            .and_then(Value::as_u64)
            .ok_or_else(|| Error { status: None, message: format!("unexpected answer: {answer}") })
    }

    /// SBIS work calls in flight now.
    pub async fn sbis_calls_in_flight(&self) -> Result<u64, Error> {
        let answer = self.send(reqwest::Method::GET, "/__sandbox/sbis/calls", None).await?;
        answer
            .get("in_flight")
            .and_then(Value::as_u64)
            .ok_or_else(|| Error { status: None, message: format!("unexpected answer: {answer}") })
    }

    /// SBIS document `id` as `СБИС.ПрочитатьДокумент` shows it.
    pub async fn sbis_document(&self, id: &str) -> Result<Value, Error> {
        self.send(reqwest::Method::GET, &format!("/__sandbox/sbis/documents/{id}"), None).await
    }

    /// Every SBIS document, in creation order.
    pub async fn sbis_documents(&self) -> Result<Vec<Value>, Error> {
        decode(self.send(reqwest::Method::GET, "/__sandbox/sbis/documents", None).await?)
    }

    /// Changes SBIS settings at run time (`session_idle_secs`, `verify_signatures`,
    /// `service_stages`, `max_calls_in_flight`, `max_logins_per_minute`); returns
    /// the settings now in force.
    pub async fn sbis_set_config(&self, config: Value) -> Result<Value, Error> {
        self.send(reqwest::Method::POST, "/__sandbox/sbis/config", Some(config)).await
    }

    /// Adds a SINtegre product (`{"nome", "processo", "macroProcesso"}`); returns it with its
    /// `id`.
    pub async fn sintegre_add_product(&self, product: Value) -> Result<Value, Error> {
        self.send(reqwest::Method::POST, "/__sandbox/sintegre/products", Some(product)).await
    }

    /// Publishes a version of SINtegre product `product_id` (see [`crate::sintegre`] for the
    /// body): it is sent at once to every integration listing the product.
    pub async fn sintegre_publish(
        &self,
        product_id: u64,
        publication: Value,
    ) -> Result<Value, Error> {
        let path = format!("/__sandbox/sintegre/products/{product_id}/publications");
        self.send(reqwest::Method::POST, &path, Some(publication)).await
    }

    /// Adds a SINtegre integration (`{"url", "auth", "produtos", "casing"}`); returns it with
    /// its `id` and slots.
    pub async fn sintegre_add_integration(&self, integration: Value) -> Result<Value, Error> {
        self.send(reqwest::Method::POST, "/__sandbox/sintegre/integrations", Some(integration))
            .await
    }

    /// SINtegre integration `id` with its slots ("Exibir Detalhes").
    pub async fn sintegre_integration(&self, id: u64) -> Result<Value, Error> {
        let path = format!("/__sandbox/sintegre/integrations/{id}");
        self.send(reqwest::Method::GET, &path, None).await
    }

    /// Presses a portal button of SINtegre integration `id`: `enviar`, `enviar-tudo` or
    /// `reenviar-pendentes`.
    pub async fn sintegre_press(&self, id: u64, button: &str) -> Result<Value, Error> {
        let path = format!("/__sandbox/sintegre/integrations/{id}/{button}");
        self.send(reqwest::Method::POST, &path, Some(json!({}))).await
    }

    /// Changes SINtegre settings (`token_ttl_secs`, `expired_status`, `expired_body`,
    /// `content_disposition`, `truncate_downloads`); returns those in force.
    pub async fn sintegre_set_config(&self, config: Value) -> Result<Value, Error> {
        self.send(reqwest::Method::POST, "/__sandbox/sintegre/config", Some(config)).await
    }

    /// Moves SINtegre's clock forward by `secs` (links expire early).
    pub async fn sintegre_advance_clock(&self, secs: i64) -> Result<Value, Error> {
        let body = json!({ "secs": secs });
        self.send(reqwest::Method::POST, "/__sandbox/sintegre/clock/advance", Some(body)).await
    }

    /// Registers a receiver of TAE's made-up webhooks (`{"url", "secret"?, "secret_in"?,
    /// "casing"?}`); returns its `id`.
    pub async fn tae_add_webhook(&self, receiver: Value) -> Result<Value, Error> {
        self.send(reqwest::Method::POST, "/__sandbox/tae/webhooks", Some(receiver)).await
    }

    /// Every delivery of webhook sender `sender`, in queueing order.
    pub async fn deliveries(&self, sender: SenderId) -> Result<Vec<DeliveryView>, Error> {
        let value = self.send(reqwest::Method::GET, &deliveries_path(sender, ""), None).await?;
        decode(value)
    }

    /// One delivery of `sender`.
    pub async fn delivery(&self, sender: SenderId, id: u64) -> Result<DeliveryView, Error> {
        let path = deliveries_path(sender, &format!("/{id}"));
        decode(self.send(reqwest::Method::GET, &path, None).await?)
    }

    /// Sends delivery `id` of `sender` once now (again, if it was delivered) and returns it
    /// after the answer.
    pub async fn fire_delivery(&self, sender: SenderId, id: u64) -> Result<DeliveryView, Error> {
        let path = deliveries_path(sender, &format!("/{id}/fire"));
        decode(self.send(reqwest::Method::POST, &path, None).await?)
    }

    /// Every pending delivery of `sender` (held or backing off) is due now; returns how many.
    pub async fn run_deliveries(&self, sender: SenderId) -> Result<u64, Error> {
        let path = deliveries_path(sender, "/run");
        let answer = self.send(reqwest::Method::POST, &path, None).await?;
        answer
            .get("started")
            .and_then(Value::as_u64)
            .ok_or_else(|| Error { status: None, message: format!("unexpected answer: {answer}") })
    }

    /// Waits until `sender` has no delivery being sent or due (held ones aside); an error
    /// (HTTP 408) if it still has after `timeout`.
    pub async fn settle(
        &self,
        sender: SenderId,
        timeout: std::time::Duration,
    ) -> Result<DeliverySummary, Error> {
        let body = json!({ "timeout_ms": u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX) });
        let path = deliveries_path(sender, "/settle");
        decode(self.send(reqwest::Method::POST, &path, Some(body)).await?)
    }

    /// Forgets every delivery of `sender` not being sent.
    pub async fn clear_deliveries(&self, sender: SenderId) -> Result<(), Error> {
        self.send(reqwest::Method::DELETE, &deliveries_path(sender, ""), None).await.map(drop)
    }

    /// The delivery policy of `sender`.
    pub async fn delivery_policy(&self, sender: SenderId) -> Result<DeliveryPolicy, Error> {
        let path = deliveries_path(sender, "/policy");
        decode(self.send(reqwest::Method::GET, &path, None).await?)
    }

    /// Changes the fields of `sender`'s delivery policy that `patch` names (`timeout_ms`,
    /// `max_attempts`, `backoff_ms`, `success`, `give_up_statuses`, `concurrency`, `hold`);
    /// returns the policy now in force.
    pub async fn set_delivery_policy(
        &self,
        sender: SenderId,
        patch: Value,
    ) -> Result<DeliveryPolicy, Error> {
        let path = deliveries_path(sender, "/policy");
        decode(self.send(reqwest::Method::POST, &path, Some(patch)).await?)
    }

    /// Puts delivery chaos in force for `sender` (`None` ends it).
    pub async fn set_delivery_chaos(
        &self,
        sender: SenderId,
        chaos: Option<&DeliveryChaos>,
    ) -> Result<(), Error> {
        let path = deliveries_path(sender, "/chaos");
        match chaos {
            Some(chaos) => {
                let body = serde_json::to_value(chaos)
                    .map_err(|e| Error { status: None, message: e.to_string() })?;
                self.send(reqwest::Method::POST, &path, Some(body)).await.map(drop)
            }
            None => self.send(reqwest::Method::DELETE, &path, None).await.map(drop),
        }
    }

    /// `POST /__sandbox/sintegre/{path}` with `body`: the SINtegre portal (products,
    /// publications, integrations, its buttons; see [`crate::sintegre`]).
    pub async fn sintegre(&self, path: &str, body: Value) -> Result<Value, Error> {
        let path = format!("/__sandbox/sintegre/{}", path.trim_start_matches('/'));
        self.send(reqwest::Method::POST, &path, Some(body)).await
    }

    /// Arms a fault; returns its id.
    pub async fn add_fault(&self, fault: Fault) -> Result<u64, Error> {
        let body = serde_json::to_value(&fault)
            .map_err(|e| Error { status: None, message: e.to_string() })?;
        let answer = self.send(reqwest::Method::POST, "/__sandbox/faults", Some(body)).await?;
        answer.get("id").and_then(Value::as_u64).ok_or_else(|| Error {
            status: None,
            message: format!("fault answer without an id: {answer}"),
        })
    }

    /// Faults still armed, each with its `id` and `remaining` shots.
    pub async fn faults(&self) -> Result<Vec<Value>, Error> {
        let value = self.send(reqwest::Method::GET, "/__sandbox/faults", None).await?;
        decode(value)
    }

    pub async fn clear_faults(&self) -> Result<(), Error> {
        self.send(reqwest::Method::DELETE, "/__sandbox/faults", None).await.map(drop)
    }

    /// Puts `chaos` in force (replacing any before it, counts from 0); returns it as the
    /// sandbox keeps it, with the default methods filled in.
    pub async fn set_chaos(&self, chaos: &Chaos) -> Result<ChaosReport, Error> {
        let body = serde_json::to_value(chaos)
            .map_err(|e| Error { status: None, message: e.to_string() })?;
        let value = self.send(reqwest::Method::POST, "/__sandbox/chaos", Some(body)).await?;
        decode(value)
    }

    /// The chaos in force and what it fired so far, per kind.
    pub async fn chaos(&self) -> Result<ChaosReport, Error> {
        let value = self.send(reqwest::Method::GET, "/__sandbox/chaos", None).await?;
        decode(value)
    }

    /// Ends chaos and clears its counts.
    pub async fn clear_chaos(&self) -> Result<(), Error> {
        self.send(reqwest::Method::DELETE, "/__sandbox/chaos", None).await.map(drop)
    }

    /// Every provider request received so far, in arrival order.
    pub async fn requests(&self) -> Result<Vec<RecordedRequest>, Error> {
        let value = self.send(reqwest::Method::GET, "/__sandbox/requests", None).await?;
        decode(value)
    }

    pub async fn clear_requests(&self) -> Result<(), Error> {
        self.send(reqwest::Method::DELETE, "/__sandbox/requests", None).await.map(drop)
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, Error> {
        let what = format!("{method} {path}");
        let mut request = self.http.request(method, format!("{}{path}", self.base_url));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| Error { status: None, message: format!("{what}: {e}") })?;
        let status = response.status();
        let text = response.text().await.map_err(|e| Error {
            status: Some(status.as_u16()),
            message: format!("{what}: reading the answer: {e}"),
        })?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status.is_success() {
            return Ok(value);
        }
        let message = value
            .get("error")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| value.to_string());
        Err(Error { status: Some(status.as_u16()), message: format!("{what}: {message}") })
    }
}

fn deliveries_path(sender: SenderId, rest: &str) -> String {
    format!("/__sandbox/{}/deliveries{rest}", sender.as_str())
}

fn decode<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, Error> {
    serde_json::from_value(value)
        .map_err(|e| Error { status: None, message: format!("unexpected answer shape: {e}") })
}

/// The request log, armed faults and chaos: the server consults them on every provider
/// request, the control routes below drive them.
#[derive(Default)]
pub(crate) struct Instruments {
    pub faults: FaultStore,
    pub chaos: ChaosStore,
    pub requests: RequestLog,
}

/// A control-route error, answered as `{"error": message}` with a 4xx status.
#[derive(Debug)]
pub(crate) struct ControlError {
    status: StatusCode,
    message: String,
}

impl ControlError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ControlError {
        ControlError { status, message: message.into() }
    }
}

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

async fn list_requests(State(instruments): State<Arc<Instruments>>) -> Json<Vec<RecordedRequest>> {
    Json(instruments.requests.snapshot())
}

async fn clear_requests(State(instruments): State<Arc<Instruments>>) -> Json<Value> {
    instruments.requests.clear();
    Json(json!({}))
}

async fn list_faults(State(instruments): State<Arc<Instruments>>) -> Json<Vec<Value>> {
    Json(instruments.faults.list())
}

async fn add_fault(
    State(instruments): State<Arc<Instruments>>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ControlError> {
    let fault: Fault = serde_json::from_slice(&body)
        .map_err(|e| ControlError::new(StatusCode::BAD_REQUEST, format!("invalid fault: {e}")))?;
    let id = instruments
        .faults
        .add(fault)
        .map_err(|message| ControlError::new(StatusCode::BAD_REQUEST, message))?;
    Ok(Json(json!({ "id": id })))
}

async fn clear_faults(State(instruments): State<Arc<Instruments>>) -> Json<Value> {
    instruments.faults.clear();
    Json(json!({}))
}

/// The provider-independent control routes (request log, faults and chaos).
pub(crate) fn routes(instruments: Arc<Instruments>) -> Router {
    Router::new()
        .route("/__sandbox/requests", get(list_requests).delete(clear_requests))
        .route("/__sandbox/faults", get(list_faults).post(add_fault).delete(clear_faults))
        .route("/__sandbox/chaos", get(chaos_report).post(set_chaos).delete(clear_chaos))
        .with_state(instruments)
}

async fn chaos_report(State(instruments): State<Arc<Instruments>>) -> Json<ChaosReport> {
    Json(instruments.chaos.report())
}

async fn set_chaos(
    State(instruments): State<Arc<Instruments>>,
    body: axum::body::Bytes,
) -> Result<Json<ChaosReport>, ControlError> {
    let chaos: Chaos = serde_json::from_slice(&body)
        .map_err(|e| ControlError::new(StatusCode::BAD_REQUEST, format!("invalid chaos: {e}")))?;
    let report = instruments
        .chaos
        .set(chaos)
        .map_err(|message| ControlError::new(StatusCode::BAD_REQUEST, message))?;
    Ok(Json(report))
}

async fn clear_chaos(State(instruments): State<Arc<Instruments>>) -> Json<Value> {
    instruments.chaos.clear();
    Json(json!({}))
}
