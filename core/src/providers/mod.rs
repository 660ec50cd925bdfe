//! The providers signbridge knows. Adding one is one folder plus one line in the list below.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::provider::{Capability, Provider};
use crate::signing::SignerSlot;
use crate::transport::TransportConfig;

pub(crate) mod http;
pub(crate) mod lenient;

// Declared here, not inside `declare_providers!`: rustfmt does not format modules declared
// inside a macro.
pub mod arqsign;
pub mod idocs;
pub mod tae;

/// What a provider needs to build one account's instance.
pub struct BuildContext {
    pub account: String,
    /// The provider's own settings (`settings` in the client configuration).
    pub settings: serde_json::Value,
    pub transport: TransportConfig,
    /// The client's host signer, for providers whose flow needs the host to sign.
    pub signer: SignerSlot,
}

/// Implemented by every provider type; the registry calls it.
pub trait Build: Provider + Sized {
    fn build(ctx: BuildContext) -> Result<Self>;
}

/// Decodes a provider's settings, naming the provider when a field is wrong or missing.
pub(crate) fn settings<T: serde::de::DeserializeOwned>(id: &str, ctx: &BuildContext) -> Result<T> {
    serde_json::from_value(ctx.settings.clone())
        .map_err(|e| Error::config(format!("settings for provider {id}: {e}")))
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
                other => Err(Error::config(format!(
                    "unknown provider {other:?}; known: {}", PROVIDERS.join(", ")
                ))),
            }
        }
    };
}

declare_providers! {
    tae => tae::Tae,
    arqsign => arqsign::ArqSign,
    idocs => idocs::IDocs,
}
