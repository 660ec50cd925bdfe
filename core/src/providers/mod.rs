//! The providers signbridge knows. Adding one is one folder plus one line in the list below.

use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::journal::Window;
use crate::model::{Envelope, Handle};
use crate::provider::{Capability, Provider};
use crate::signing::SignerSlot;
use crate::transport::{Transport, TransportConfig};

pub(crate) mod base64_json;
pub(crate) mod http;
pub(crate) mod lenient;
pub(crate) mod webhook_subscribe;

// Declared here, not inside `declare_providers!`: rustfmt does not format modules declared
// inside a macro.
pub mod arqsign;
pub mod idocs;
pub mod sbis;
pub mod tae;

/// What a provider needs to build one account's instance.
pub struct BuildContext {
    pub account: String,
    /// The provider's own settings (`settings` in the client configuration).
    pub settings: serde_json::Value,
    pub transport: TransportConfig,
    /// The client's host signer, for providers whose flow needs the host to sign.
    pub signer: SignerSlot,
    /// The client's journal: sessions and rate budgets shared with every process.
    pub journal: crate::journal::Journal,
}

/// What every provider account has and does the same way: its ids, its capability record, its
/// transport, the handles it gives out, and its envelopes' `provider_options`.
#[derive(Debug)]
pub struct Base {
    pub provider: &'static str,
    pub account: String,
    pub capability: &'static Capability,
    pub transport: Transport,
}

impl Base {
    /// `base_urls` are the account's configured endpoints: the only origins its credentials
    /// go to.
    /// `windows` are the provider's rate limits for this account (from its contract): every
    /// request of every process using the account counts against them.
    pub fn new(
        provider: &'static str,
        capability: &'static Capability,
        ctx: &BuildContext,
        base_urls: &[&str],
        windows: Vec<Window>,
    ) -> Result<Base> {
        let transport = Transport::new(provider, &ctx.transport, base_urls)?.with_budget(
            ctx.journal.clone(),
            &ctx.account,
            windows,
        );
        Ok(Base { provider, account: ctx.account.clone(), capability, transport })
    }

    /// The handle of the provider's document `id`, sent for `env`.
    pub fn handle(&self, id: impl Into<String>, env: &Envelope) -> Handle {
        Handle {
            provider: self.provider.into(),
            account: self.account.clone(),
            id: id.into(),
            reference: Some(env.reference.clone()),
        }
    }

    /// The envelope's `provider_options.<provider>`, or the default when absent; a field that
    /// does not fit is a validation error naming it.
    pub fn options<T: DeserializeOwned + Default>(&self, env: &Envelope) -> Result<T> {
        match env.options_for(self.provider) {
            serde_json::Value::Null => Ok(T::default()),
            v => T::deserialize(v)
                .map_err(|e| Error::validation(format!("provider_options.{}", self.provider), e)),
        }
    }
}

/// Implemented by every provider type; the registry calls it.
pub trait Build: Provider + Sized {
    fn build(ctx: BuildContext) -> Result<Self>;
}

impl Drop for BuildContext {
    fn drop(&mut self) {
        crate::wipe_strings(&mut self.settings);
    }
}

/// Decodes a provider's settings, naming the provider when a field is wrong or missing.
pub(crate) fn settings<T: serde::de::DeserializeOwned>(id: &str, ctx: &BuildContext) -> Result<T> {
    T::deserialize(&ctx.settings)
        .map_err(|e| Error::config(format!("settings for provider {id}: {e}")))
}

/// Checks `id` names a provider, before anything (such as opening a journal) touches the disk.
pub(crate) fn check_known(id: &str) -> Result<()> {
    match capability(id) {
        Some(_) => Ok(()),
        None => Err(unknown(id)),
    }
}

fn unknown(id: &str) -> Error {
    Error::config(format!("unknown provider {id:?}; known: {}", PROVIDERS.join(", ")))
}

macro_rules! declare_providers {
    ($($id:ident => $ty:ty),* $(,)?) => {
        /// Every provider id, in registry order.
        pub const PROVIDERS: &[&str] = &[$(stringify!($id)),*];

        /// The capability record of provider `id`, without building an account.
        pub fn capability(id: &str) -> Option<&'static Capability> {
            match id {
                $(stringify!($id) => Some(&$id::CAPABILITY),)*
                _ => None,
            }
        }

        pub(crate) fn build(id: &str, ctx: BuildContext) -> Result<Arc<dyn Provider>> {
            match id {
                $(stringify!($id) => Ok(Arc::new(<$ty as Build>::build(ctx)?)),)*
                other => Err(unknown(other)),
            }
        }
    };
}

declare_providers! {
    tae => tae::Tae,
    arqsign => arqsign::ArqSign,
    idocs => idocs::IDocs,
    sbis => sbis::Sbis,
}
