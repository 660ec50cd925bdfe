//! TAE's webhook body: no source shows it (`tae.md` §7). These are the names the one receiver
//! found reads "in any case" (`idDocumento` / `IdDocumento` / `iddocumento`): keys are made
//! all lowercase before this struct reads them.

use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Aviso {
    /// An event id, if a sender adds one (`id`, `eventId`).
    #[serde(alias = "eventid", deserialize_with = "crate::webhooks::text")]
    pub id: Option<String>,
    #[serde(deserialize_with = "crate::webhooks::text")]
    pub iddocumento: Option<String>,
    #[serde(deserialize_with = "crate::webhooks::text")]
    pub idpublicacao: Option<String>,
    #[serde(deserialize_with = "crate::webhooks::text")]
    pub status: Option<String>,
    #[serde(deserialize_with = "crate::webhooks::text")]
    pub assinante: Option<String>,
    #[serde(deserialize_with = "crate::webhooks::text")]
    pub datafinalizacao: Option<String>,
}
