//! TAE request and response bodies, spelled as in `contracts/tae.md`.
//!
//! Requests are bound like ASP.NET does (see [`crate::aspnet`]): property names in any casing,
//! numbers and booleans also as strings (`"1"`, `"true"`). The request structs use
//! all-lowercase field names (`iddocumento` stands for `idDocumento`, `IdDocumento`, …).
//!
//! Responses serialise with the exact camelCase names of the contract.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::aspnet::{self, BindError, lenient};

/// Parses a JSON body with case-insensitive property names; the error is a message for the
/// client.
pub(crate) fn bind<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    aspnet::bind(body).map_err(|e| match e {
        BindError::Syntax(message) => {
            format!("O corpo da requisição não é um JSON válido: {message}")
        }
        other => format!("O corpo da requisição é inválido: {other}"),
    })
}

// ---- requests (lowercase names: see `bind`) -------------------------------------------------

#[derive(Debug, Default, Deserialize)]
pub(crate) struct LoginRequest {
    pub username: Option<String>,
    pub password: Option<String>,
}

/// `POST /signintegration/v2/Publicacoes` and `POST /documents/v1/publicacoes`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct PublishRequest {
    #[serde(default, deserialize_with = "lenient::int")]
    pub iddocumento: Option<i64>,
    pub destinatarios: Option<Vec<Recipient>>,
    pub observadores: Option<Vec<Observer>>,
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub utilizaworkflow: Option<bool>,
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub responsavelassinadocumento: Option<bool>,
    pub enderecoip: Option<String>,
    pub dataexpiracao: Option<String>,
    pub publicacaoopcoes: Option<PublishOptions>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct PublishOptions {
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub solicitaassinaturamanuscrita: Option<bool>,
    pub assuntomensagem: Option<String>,
    pub corpomensagem: Option<String>,
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub permiterejeitardocumento: Option<bool>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub intervalolembrete: Option<i64>,
    pub dataexpiracao: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub(crate) struct Recipient {
    pub email: Option<String>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub acao: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub workflow: Option<i64>,
    pub papelassinante: Option<String>,
    pub nomecompleto: Option<String>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub tipoautenticacao: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub tipoidentificacao: Option<i64>,
    pub identificacao: Option<String>,
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub notificaenvio: Option<bool>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub tipoenviodocumento: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub tipoenviocodigo: Option<i64>,
    pub telefone: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Observer {
    pub email: Option<String>,
}

/// `POST /documents/v{1,2}/publicacoes/pesquisas`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct SearchRequest {
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub pesquisaremtodaempresa: Option<bool>,
    pub email: Option<String>,
}

/// `POST /documents/v1/publicacoes/pesquisas/destinatario`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RecipientSearchRequest {
    pub destinatarioemail: Option<String>,
    pub status: Option<Vec<i64>>,
}

// ---- responses ------------------------------------------------------------------------------

/// Identity-service wrapper.
#[derive(Debug, Serialize)]
pub(crate) struct IdentityResponse<T> {
    pub succeeded: bool,
    pub description: String,
    pub data: Option<T>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LoginV3 {
    pub token: String,
    /// UTC without an offset, e.g. `2025-06-01T23:59:59.123`.
    pub expiration_date: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LoginV2 {
    pub token: String,
    pub refresh_token: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct LoginApi {
    pub token: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Profile {
    pub email: String,
    pub user_name: String,
    pub full_name: String,
}

/// Documents/signintegration success wrapper.
#[derive(Debug, Serialize)]
pub(crate) struct Success<T> {
    pub success: bool,
    pub data: T,
}

/// Documents/signintegration failure wrapper.
#[derive(Debug, Serialize)]
pub(crate) struct Failure {
    pub success: bool,
    pub errors: Vec<String>,
    pub code: u16,
    pub message: String,
}

/// `data` of `GET /documents/v{1,2}/publicacoes/{id}`. Dates are UTC without an offset.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Publication {
    pub id: i64,
    pub nome_arquivo: String,
    pub status: i64,
    pub rec_created_on: String,
    pub rec_modified_on: String,
    pub motivo_rejeicao: Option<String>,
    pub publicacao_opcoes: Option<OptionsEcho>,
    pub assinantes: Vec<Signer>,
    pub pendentes: Vec<Pending>,
    pub observadores: Vec<ObserverEcho>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OptionsEcho {
    pub data_expiracao: Option<String>,
    pub assunto_mensagem: Option<String>,
    pub corpo_mensagem: Option<String>,
    pub permite_rejeitar_documento: bool,
    pub intervalo_lembrete: i64,
    pub solicita_assinatura_manuscrita: bool,
}

/// One entry of `assinantes`: someone who already acted.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Signer {
    pub email: String,
    pub nome: String,
    pub cpf_cnpj: String,
    pub data: String,
    pub acao: i64,
    pub status_tipo_assinatura: i64,
}

/// One entry of `pendentes`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Pending {
    pub email: String,
    pub nome: String,
    pub cpf_cnpj: String,
    pub acao: i64,
    pub pendente: bool,
    pub participante_sem_cadastro: Unregistered,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Unregistered {
    pub tipo_identificacao: i64,
    pub identificacao: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct ObserverEcho {
    pub email: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct SearchPage<T> {
    pub total: usize,
    pub registro: Vec<T>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SearchRow {
    pub id: i64,
    pub status: i64,
    pub nome_arquivo: String,
    pub data_criacao: String,
    pub data_ultima_alteracao: String,
    pub usuario: UserRef,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RecipientSearchRow {
    pub id: i64,
    pub nome_arquivo: String,
    pub data_criacao: String,
    pub data_expiracao: Option<String>,
    pub data_ultima_alteracao: String,
    pub status: i64,
    pub autor: UserRef,
    pub destinatario: RecipientRef,
}

#[derive(Debug, Serialize)]
pub(crate) struct UserRef {
    pub email: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RecipientRef {
    pub public_key: String,
}

/// One entry of `POST /documents/v1/publicacoes/{id}/destinatarios`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RecipientKey {
    pub email: String,
    pub public_key: String,
}

/// `data` of the v1 download.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FileContent {
    pub file_name: String,
    /// Standard base64.
    pub file_bytes: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn binds_any_casing_and_string_forms() {
        let body = json!({
            "IDDOCUMENTO": "12978325",
            "Destinatarios": [{"EMAIL": "a@b.c", "Acao": 1, "workFLOW": "2"}],
            "utilizaworkflow": "true",
            "PublicacaoOpcoes": {"PermiteRejeitarDocumento": true, "DataExpiracao": "2026-04-30"}
        });
        let publish: PublishRequest = bind(body.to_string().as_bytes()).unwrap();
        assert_eq!(publish.iddocumento, Some(12978325));
        assert_eq!(publish.utilizaworkflow, Some(true));
        let recipient = &publish.destinatarios.unwrap()[0];
        assert_eq!(recipient.email.as_deref(), Some("a@b.c"));
        assert_eq!((recipient.acao, recipient.workflow), (Some(1), Some(2)));
        let options = publish.publicacaoopcoes.unwrap();
        assert_eq!(options.permiterejeitardocumento, Some(true));
        assert_eq!(options.dataexpiracao.as_deref(), Some("2026-04-30"));
    }

    #[test]
    fn bad_bodies_give_messages() {
        assert!(bind::<LoginRequest>(b"{not json").unwrap_err().contains("JSON"));
        let err = bind::<PublishRequest>(br#"{"idDocumento":"abc"}"#).unwrap_err();
        assert!(err.contains("inteiro"), "{err}");
    }

    #[test]
    fn responses_use_contract_names() {
        let value = serde_json::to_value(Pending {
            email: "g@e.com".into(),
            nome: "João".into(),
            cpf_cnpj: String::new(),
            acao: 1,
            pendente: true,
            participante_sem_cadastro: Unregistered {
                tipo_identificacao: 1,
                identificacao: String::new(),
            },
        })
        .unwrap();
        assert_eq!(
            value,
            json!({"email": "g@e.com", "nome": "João", "cpfCnpj": "", "acao": 1, "pendente": true,
                   "participanteSemCadastro": {"tipoIdentificacao": 1, "identificacao": ""}})
        );
        let login = serde_json::to_value(LoginV3 {
            token: "t".into(),
            expiration_date: "2025-06-01T23:59:59.123".into(),
        })
        .unwrap();
        assert_eq!(login, json!({"token": "t", "expirationDate": "2025-06-01T23:59:59.123"}));
    }
}
