//! TAE's JSON, spelled exactly as TAE spells it (`contracts/tae.md`). No logic here.

use serde::{Deserialize, Serialize};

/// The identity service's wrapper (`/identityintegration`): `succeeded` + `description`.
#[derive(Debug, Deserialize)]
pub struct IdentityResponse<T> {
    #[serde(default)]
    pub succeeded: bool,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default = "none")]
    pub data: Option<T>,
    /// v3 may put the failure text here instead of `description`.
    #[serde(default)]
    pub messages: Option<Vec<IdentityMessage>>,
}

#[derive(Debug, Deserialize)]
pub struct IdentityMessage {
    #[serde(default)]
    pub description: Option<String>,
}

/// `POST {auth}/v3/auth/login` (and v2, api): the SDK sends `userName`/`password`.
#[derive(Serialize)]
pub struct LoginRequest<'a> {
    #[serde(rename = "userName")]
    pub user_name: &'a str,
    pub password: &'a str,
}

#[derive(Debug, Deserialize)]
pub struct LoginData {
    pub token: String,
    /// v3 only: UTC, often without an offset.
    #[serde(rename = "expirationDate", default)]
    pub expiration_date: Option<String>,
}

/// The documents/signintegration wrapper: `success` + `data`, or `errors` / `message`.
/// `success` may be missing (TecTAE checks only the HTTP status, contract §4.2): only
/// `false` says the call failed.
#[derive(Debug, Deserialize)]
pub struct DocumentsResponse<T> {
    #[serde(default)]
    pub success: Option<bool>,
    #[serde(default = "none")]
    pub data: Option<T>,
    #[serde(default)]
    pub errors: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    pub message: Option<String>,
}

fn none<T>() -> Option<T> {
    None
}

/// Body of `POST /signintegration/v2/Publicacoes` and `POST /documents/v1/publicacoes`.
#[derive(Debug, Serialize)]
pub struct Publicacao {
    #[serde(rename = "idDocumento")]
    pub id_documento: i64,
    pub destinatarios: Vec<Destinatario>,
    pub observadores: Vec<Observador>,
    #[serde(rename = "utilizaWorkflow")]
    pub utiliza_workflow: bool,
    #[serde(rename = "responsavelAssinaDocumento")]
    pub responsavel_assina_documento: bool,
    #[serde(rename = "enderecoIp")]
    pub endereco_ip: String,
    /// Sources put the expiry at the top level or inside `publicacaoOpcoes`; both are sent.
    #[serde(rename = "dataExpiracao")]
    pub data_expiracao: Option<String>,
    #[serde(rename = "publicacaoOpcoes")]
    pub publicacao_opcoes: PublicacaoOpcoes,
}

#[derive(Debug, Serialize)]
pub struct Destinatario {
    pub email: String,
    pub acao: i32,
    pub workflow: u32,
    #[serde(rename = "papelAssinante")]
    pub papel_assinante: String,
    #[serde(rename = "nomeCompleto", skip_serializing_if = "Option::is_none")]
    pub nome_completo: Option<String>,
    #[serde(rename = "tipoAutenticacao")]
    pub tipo_autenticacao: i32,
    #[serde(rename = "tipoIdentificacao")]
    pub tipo_identificacao: i32,
    #[serde(rename = "identificacao", skip_serializing_if = "Option::is_none")]
    pub identificacao: Option<String>,
    #[serde(rename = "notificaEnvio")]
    pub notifica_envio: bool,
    #[serde(rename = "tipoEnvioDocumento")]
    pub tipo_envio_documento: i32,
    #[serde(rename = "tipoEnvioCodigo")]
    pub tipo_envio_codigo: Option<i32>,
    pub telefone: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Observador {
    pub email: String,
}

#[derive(Debug, Serialize)]
pub struct PublicacaoOpcoes {
    #[serde(rename = "idDocumento")]
    pub id_documento: i64,
    #[serde(rename = "solicitaAssinaturaManuscrita")]
    pub solicita_assinatura_manuscrita: bool,
    #[serde(rename = "assuntoMensagem")]
    pub assunto_mensagem: String,
    #[serde(rename = "corpoMensagem")]
    pub corpo_mensagem: String,
    #[serde(rename = "permiteRejeitarDocumento")]
    pub permite_rejeitar_documento: bool,
    #[serde(rename = "intervaloLembrete")]
    pub intervalo_lembrete: u32,
    #[serde(rename = "dataExpiracao")]
    pub data_expiracao: Option<String>,
}

/// `data` of `GET /documents/v2/publicacoes/{id}`.
#[derive(Debug, Deserialize)]
pub struct PublicacaoDetalhe {
    pub status: i64,
    #[serde(rename = "recModifiedOn", default)]
    pub rec_modified_on: Option<String>,
    #[serde(rename = "motivoRejeicao", default)]
    pub motivo_rejeicao: Option<String>,
    #[serde(rename = "publicacaoOpcoes", default)]
    pub publicacao_opcoes: Option<OpcoesPublicadas>,
    #[serde(default)]
    pub assinantes: Option<Vec<Assinante>>,
    #[serde(default)]
    pub pendentes: Option<Vec<Pendente>>,
}

#[derive(Debug, Deserialize)]
pub struct OpcoesPublicadas {
    #[serde(rename = "dataExpiracao", default)]
    pub data_expiracao: Option<String>,
}

/// Someone who already acted.
#[derive(Debug, Deserialize)]
pub struct Assinante {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub nome: Option<String>,
    #[serde(default)]
    pub data: Option<String>,
    #[serde(default)]
    pub acao: Option<i64>,
}

/// Someone still to act. (`pendente` is ignored: sources report it stopped being reliable.)
#[derive(Debug, Deserialize)]
pub struct Pendente {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub nome: Option<String>,
    #[serde(default)]
    pub acao: Option<i64>,
}

/// `data` of the v1 download: the file in base64.
#[derive(Debug, Deserialize)]
pub struct Arquivo {
    #[serde(rename = "fileName", default)]
    pub file_name: Option<String>,
    // `fileBytes` is decoded into the sink as the reply streams in (see
    // `providers::base64_json`), and so is not read here.
}

/// Body of `POST /documents/v1/publicacoes/pesquisas` (contract §4.4).
#[derive(Debug, Serialize)]
pub struct Pesquisa {
    #[serde(rename = "pesquisarEmTodaEmpresa")]
    pub pesquisar_em_toda_empresa: bool,
}

/// `data` of a search: one page of rows and the total.
#[derive(Debug, Deserialize)]
pub struct PaginaPesquisa {
    #[serde(default, deserialize_with = "crate::providers::lenient::u64")]
    pub total: u64,
    #[serde(default)]
    pub registro: Vec<LinhaPesquisa>,
}

#[derive(Debug, Deserialize)]
pub struct LinhaPesquisa {
    pub id: i64,
    #[serde(default)]
    pub status: Option<i64>,
    #[serde(rename = "nomeArquivo", default)]
    pub nome_arquivo: Option<String>,
}

/// `data` of the v2 download: a URL, bare or under one of several keys (sources disagree).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum LinkArquivo {
    Url(String),
    Object {
        #[serde(rename = "fileUrl", default)]
        file_url: Option<String>,
        #[serde(default)]
        url: Option<String>,
        #[serde(rename = "signedURL", default)]
        signed_url: Option<String>,
        #[serde(rename = "fileName", default)]
        file_name: Option<String>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_v3_and_failure_decode() {
        let ok: IdentityResponse<LoginData> = serde_json::from_str(
            r#"{"succeeded": true, "description": "Login realizado com sucesso.",
                "data": {"token": "eyJ.x.y.z.w", "expirationDate": "2025-06-01T23:59:59.123"}}"#,
        )
        .unwrap();
        assert!(ok.succeeded);
        let data = ok.data.unwrap();
        assert_eq!(data.expiration_date.as_deref(), Some("2025-06-01T23:59:59.123"));
        let v2: IdentityResponse<LoginData> = serde_json::from_str(
            r#"{"succeeded": true, "data": {"token": "t", "refreshToken": "r"}}"#,
        )
        .unwrap();
        assert_eq!(v2.data.unwrap().expiration_date, None);
        let bad: IdentityResponse<LoginData> = serde_json::from_str(
            r#"{"succeeded": false, "description": "Usuário ou senha inválidos.", "data": null}"#,
        )
        .unwrap();
        assert!(!bad.succeeded && bad.data.is_none());
    }

    #[test]
    fn publish_body_uses_tae_names() {
        let body = Publicacao {
            id_documento: 12978325,
            destinatarios: vec![Destinatario {
                email: "cliente@exemplo.com".into(),
                acao: 0,
                workflow: 1,
                papel_assinante: "como contratante".into(),
                nome_completo: Some("Maria da Silva".into()),
                tipo_autenticacao: 2,
                tipo_identificacao: 1,
                identificacao: Some("11111111111".into()),
                notifica_envio: true,
                tipo_envio_documento: 1,
                tipo_envio_codigo: Some(1),
                telefone: None,
            }],
            observadores: vec![Observador { email: "juridico@empresa.com.br".into() }],
            utiliza_workflow: true,
            responsavel_assina_documento: false,
            endereco_ip: String::new(),
            data_expiracao: Some("2025-07-01T23:59:59.000Z".into()),
            publicacao_opcoes: PublicacaoOpcoes {
                id_documento: 12978325,
                solicita_assinatura_manuscrita: false,
                assunto_mensagem: "Contrato 000123".into(),
                corpo_mensagem: "Prezado(a)".into(),
                permite_rejeitar_documento: true,
                intervalo_lembrete: 0,
                data_expiracao: Some("2025-07-01T23:59:59.000Z".into()),
            },
        };
        // The contract's example (§9.3), field for field.
        let expected = serde_json::json!({
          "idDocumento": 12978325,
          "destinatarios": [
            {"email": "cliente@exemplo.com", "acao": 0, "workflow": 1, "papelAssinante": "como contratante",
             "nomeCompleto": "Maria da Silva", "tipoAutenticacao": 2, "tipoIdentificacao": 1,
             "identificacao": "11111111111", "notificaEnvio": true, "tipoEnvioDocumento": 1,
             "tipoEnvioCodigo": 1, "telefone": null}],
          "observadores": [{"email": "juridico@empresa.com.br"}],
          "utilizaWorkflow": true, "responsavelAssinaDocumento": false, "enderecoIp": "",
          "dataExpiracao": "2025-07-01T23:59:59.000Z",
          "publicacaoOpcoes": {"idDocumento": 12978325, "solicitaAssinaturaManuscrita": false,
            "assuntoMensagem": "Contrato 000123", "corpoMensagem": "Prezado(a)",
            "permiteRejeitarDocumento": true, "intervaloLembrete": 0,
            "dataExpiracao": "2025-07-01T23:59:59.000Z"}
        });
        assert_eq!(serde_json::to_value(&body).unwrap(), expected);
    }

    #[test]
    fn status_example_decodes() {
        let r: DocumentsResponse<PublicacaoDetalhe> = serde_json::from_str(
            r#"{"success": true, "data": {
  "id": 12978325, "nomeArquivo": "contrato.pdf", "status": 1,
  "recCreatedOn": "2025-06-01T12:00:00.123456", "recModifiedOn": "2025-06-02T09:30:00.5",
  "motivoRejeicao": null,
  "publicacaoOpcoes": {"dataExpiracao": "2025-07-01T23:59:59", "assuntoMensagem": "Contrato 000123",
                       "corpoMensagem": "Prezado(a), ...", "permiteRejeitarDocumento": true, "intervaloLembrete": 0},
  "assinantes": [{"email": "cliente@exemplo.com", "nome": "Maria da Silva", "cpfCnpj": "11111111111",
                  "data": "2025-06-02T09:30:00.5", "acao": 0, "statusTipoAssinatura": 0}],
  "pendentes":  [{"email": "gestor@empresa.com.br", "nome": "João", "cpfCnpj": "", "acao": 1, "pendente": true,
                  "participanteSemCadastro": {"tipoIdentificacao": 1, "identificacao": ""}}]
}}"#,
        )
        .unwrap();
        let d = r.data.unwrap();
        assert_eq!(d.status, 1);
        assert_eq!(d.assinantes.unwrap()[0].email.as_deref(), Some("cliente@exemplo.com"));
        assert_eq!(d.pendentes.unwrap()[0].acao, Some(1));
        assert_eq!(
            d.publicacao_opcoes.unwrap().data_expiracao.as_deref(),
            Some("2025-07-01T23:59:59")
        );
    }

    #[test]
    fn not_found_and_null_lists_decode() {
        let r: DocumentsResponse<PublicacaoDetalhe> = serde_json::from_str(
            r#"{"success": false, "message": "Documento não encontrado.", "errors": ["Documento não encontrado."]}"#,
        )
        .unwrap();
        assert!(r.success == Some(false) && r.data.is_none());
        assert_eq!(r.message.as_deref(), Some("Documento não encontrado."));
        let r: DocumentsResponse<PublicacaoDetalhe> = serde_json::from_str(
            r#"{"success": true, "data": {"status": 5, "assinantes": null, "pendentes": null}}"#,
        )
        .unwrap();
        assert!(r.data.unwrap().assinantes.is_none());
    }

    #[test]
    fn download_shapes_decode() {
        let r: DocumentsResponse<Arquivo> = serde_json::from_str(
            r#"{"success": true, "data": {"fileName": "contrato.pdf", "fileBytes": "JVBERi0xLjcK"}}"#,
        )
        .unwrap();
        assert_eq!(r.data.unwrap().file_name.as_deref(), Some("contrato.pdf"));
        for body in [
            r#"{"success":true,"data":"https://x/f"}"#,
            r#"{"success":true,"data":{"fileUrl":"https://x/f"}}"#,
            r#"{"success":true,"data":{"url":"https://x/f"}}"#,
            r#"{"success":true,"data":{"signedURL":"https://x/f"}}"#,
        ] {
            let r: DocumentsResponse<LinkArquivo> = serde_json::from_str(body).unwrap();
            assert!(r.data.is_some(), "{body}");
        }
    }
}
