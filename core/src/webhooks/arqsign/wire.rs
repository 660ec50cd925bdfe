//! ArqSign's webhook body (`arqsign.md` §6.3). The manual's sample is camelCase and the one
//! working receiver expects PascalCase; keys are made camelCase before these structs read
//! them. Only what the key and the event need is read; the body is kept whole.

use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Notificacao {
    /// Only `ProcessoConcluido` (trigger 8) is evidenced; kept as an open string.
    #[serde(deserialize_with = "crate::webhooks::text")]
    pub evento: Option<String>,
    #[serde(rename = "idProcesso", deserialize_with = "crate::webhooks::text")]
    pub id_processo: Option<String>,
    #[serde(rename = "idConta", deserialize_with = "crate::webhooks::text")]
    pub id_conta: Option<String>,
    #[serde(rename = "idWebhook", deserialize_with = "crate::webhooks::text")]
    pub id_webhook: Option<String>,
    /// "dd/mm/aaaa hh:mm:ss" per the manual (maybe ISO in practice).
    #[serde(rename = "dataHoraAtual", deserialize_with = "crate::webhooks::text")]
    pub data_hora_atual: Option<String>,
    pub signatarios: Vec<Signatario>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Signatario {
    #[serde(deserialize_with = "crate::webhooks::text")]
    pub id: Option<String>,
    #[serde(deserialize_with = "crate::webhooks::text")]
    pub nome: Option<String>,
    #[serde(rename = "assinaturaRecusada")]
    pub assinatura_recusada: Option<serde_json::Value>,
}
