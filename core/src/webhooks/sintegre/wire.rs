//! What SINtegre posts (`sintegre.md` §1.3–§1.5) and the claims of its link's token (§1.7),
//! spelled as sent. Member names arrive in camelCase (every real payload) or in the guide's
//! PascalCase with `Uri`; the body's keys are made camelCase before these structs read them,
//! and `uri` is an alias of `url`.

use serde::Deserialize;

/// One notification: seven strings, no id, no publication time (§1.3).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Notification {
    #[serde(deserialize_with = "crate::webhooks::text")]
    pub nome: Option<String>,
    #[serde(deserialize_with = "crate::webhooks::text")]
    pub processo: Option<String>,
    #[serde(rename = "macroProcesso", deserialize_with = "crate::webhooks::text")]
    pub macro_processo: Option<String>,
    #[serde(rename = "dataProduto", deserialize_with = "crate::webhooks::text")]
    pub data_produto: Option<String>,
    #[serde(deserialize_with = "crate::webhooks::text")]
    pub periodicidade: Option<String>,
    #[serde(rename = "periodicidadeFinal", deserialize_with = "crate::webhooks::text")]
    pub periodicidade_final: Option<String>,
    #[serde(alias = "uri", deserialize_with = "crate::webhooks::text")]
    pub url: Option<String>,
}

/// The claims of the `token` in `url` (HS256 with ONS's key: read, never verified). The
/// subscriber's login (`username`) is personal data and deliberately not read.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Claims {
    #[serde(rename = "URL")]
    pub url: Option<String>,
    #[serde(rename = "nomeProduto")]
    pub nome_produto: Option<String>,
    /// `"True"` / `"False"`: a string, not a boolean.
    #[serde(rename = "IsFile")]
    pub is_file: Option<String>,
    pub nbf: Option<i64>,
    pub exp: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_examples_decode() {
        let weekly = r#"{"dataProduto":"25/10/2025 - 31/10/2025","macroProcesso":"Programação da Operação",
 "nome":"Resultados preliminares consistidos (vazões semanais - PMO)",
 "periodicidade":"2025-10-25T00:00:00","periodicidadeFinal":"2025-10-31T23:59:59",
 "processo":"Previsão de Vazões e Geração de Cenários - PMO",
 "url":"https://apps08.ons.org.br/ONS.Sintegre.Proxy/webhook?token=<JWT>"}"#;
        let n: Notification = serde_json::from_str(weekly).unwrap();
        assert_eq!(n.data_produto.as_deref(), Some("25/10/2025 - 31/10/2025"));
        assert_eq!(n.periodicidade_final.as_deref(), Some("2025-10-31T23:59:59"));
        assert!(n.url.unwrap().ends_with("token=<JWT>"));
        let alias: Notification = serde_json::from_str(r#"{"uri":"https://x/y"}"#).unwrap();
        assert_eq!(alias.url.as_deref(), Some("https://x/y"));
    }
}
