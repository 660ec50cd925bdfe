//! ArqSign's JSON, spelled as its manual spells it (`contracts/arqsign.md`). No logic here.
//!
//! Responses are read after [`super::super::lenient::camel_keys`], because the same field comes
//! as `IdProcesso` from one endpoint and `idProcesso` from another.

use serde::{Deserialize, Serialize};

use crate::providers::lenient;

/// `POST /api/v2|v3/processo/enviar-documento-para-assinar`, without `documentos`: those are
/// streamed after it (see `body.rs`).
#[derive(Debug, Serialize)]
pub struct EnviarProcesso {
    #[serde(rename = "idResponsavel")]
    pub id_responsavel: String,
    #[serde(rename = "nomeProcesso")]
    pub nome_processo: String,
    #[serde(rename = "idPasta")]
    pub id_pasta: String,
    #[serde(rename = "configuracoesAvancadas", skip_serializing_if = "Option::is_none")]
    pub configuracoes_avancadas: Option<ConfiguracoesAvancadas>,
    #[serde(rename = "mensagemPadrao", skip_serializing_if = "Option::is_none")]
    pub mensagem_padrao: Option<Mensagem>,
    #[serde(rename = "usarOrdemAssinatura")]
    pub usar_ordem_assinatura: bool,
    #[serde(rename = "usarPosicaoAssinaturaAutomatica")]
    pub usar_posicao_assinatura_automatica: bool,
    pub destinatarios: Vec<Destinatario>,
}

#[derive(Debug, Serialize)]
pub struct ConfiguracoesAvancadas {
    #[serde(rename = "tempoExpiracaoDocumentoDias", skip_serializing_if = "Option::is_none")]
    pub tempo_expiracao_documento_dias: Option<u32>,
    #[serde(rename = "frequenciaLembretesDias", skip_serializing_if = "Option::is_none")]
    pub frequencia_lembretes_dias: Option<u32>,
}

#[derive(Debug, Serialize)]
pub struct Mensagem {
    pub titulo: String,
    pub texto: String,
}

#[derive(Debug, Serialize)]
pub struct Destinatario {
    /// 1 Assinar Online, 2 Receber uma cópia.
    #[serde(rename = "idTipoAcao")]
    pub id_tipo_acao: u8,
    #[serde(rename = "ordemAssinatura", skip_serializing_if = "Option::is_none")]
    pub ordem_assinatura: Option<u32>,
    pub nome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// A phone means delivery by WhatsApp.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub telefone: Option<String>,
    #[serde(rename = "assinarOnline", skip_serializing_if = "Option::is_none")]
    pub assinar_online: Option<AssinarOnline>,
}

#[derive(Debug, Serialize)]
pub struct AssinarOnline {
    /// 1 Pessoa Física, 2 Pessoa Jurídica, 3 both.
    #[serde(rename = "assinarComo")]
    pub assinar_como: u8,
    /// 1 electronic, 3 (or 2, see the contract's [X]) ICP-Brasil, 4 other certificate.
    #[serde(rename = "idTipoAssinatura")]
    pub id_tipo_assinatura: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seguranca: Option<Seguranca>,
    #[serde(rename = "assinaturaEletronica", skip_serializing_if = "Option::is_none")]
    pub assinatura_eletronica: Option<AssinaturaEletronica>,
    #[serde(rename = "dadosAssinatura", skip_serializing_if = "Option::is_none")]
    pub dados_assinatura: Option<DadosAssinatura>,
}

#[derive(Debug, Serialize)]
pub struct Seguranca {
    #[serde(rename = "codigoSeguranca")]
    pub codigo_seguranca: String,
    /// 1 SMS, 2 WhatsApp, 3 Email, 4 Não enviar.
    #[serde(rename = "idMeioEnvio")]
    pub id_meio_envio: u8,
    #[serde(rename = "codigoSegurancaEmail", skip_serializing_if = "Option::is_none")]
    pub codigo_seguranca_email: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct AssinaturaEletronica {
    #[serde(rename = "obrigarSignatarioInformarNome")]
    pub obrigar_signatario_informar_nome: bool,
    #[serde(rename = "obrigarSignatarioInformarNumeroDocumento")]
    pub obrigar_signatario_informar_numero_documento: bool,
    /// 1 CPF, 2 CNH, 3 RG, 4 Outro.
    #[serde(rename = "tipoDocumentoAInformar")]
    pub tipo_documento_a_informar: u8,
    #[serde(
        rename = "obrigarSignatarioInformarNomeEmpresa",
        skip_serializing_if = "Option::is_none"
    )]
    pub obrigar_signatario_informar_nome_empresa: Option<bool>,
    #[serde(
        rename = "obrigarSignatarioInformarNumeroDocumentoEmpresa",
        skip_serializing_if = "Option::is_none"
    )]
    pub obrigar_signatario_informar_numero_documento_empresa: Option<bool>,
    /// 4 Outro, 5 CNPJ.
    #[serde(rename = "tipoDocumentoEmpresaAInformar", skip_serializing_if = "Option::is_none")]
    pub tipo_documento_empresa_a_informar: Option<u8>,
}

#[derive(Debug, Serialize)]
pub struct DadosAssinatura {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signatario: Option<DadosPessoa>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub empresa: Option<DadosPessoa>,
}

#[derive(Debug, Serialize)]
pub struct DadosPessoa {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nome: Option<String>,
    #[serde(rename = "numeroDocumento")]
    pub numero_documento: String,
    /// True: ArqSign enforces this number at signing; false only pre-fills it.
    #[serde(rename = "validarDocumento")]
    pub validar_documento: bool,
}

/// One entry of `documentos[]`, without `arquivo` (streamed).
#[derive(Debug, Serialize)]
pub struct DocumentoCabecalho<'a> {
    #[serde(rename = "ordemDocumento")]
    pub ordem_documento: usize,
    #[serde(rename = "nomeComExtensao")]
    pub nome_com_extensao: &'a str,
}

/// The send response (keys camel-cased first).
#[derive(Debug, Deserialize)]
pub struct ProcessoEnviado {
    #[serde(rename = "idProcesso")]
    pub id_processo: String,
}

/// `GET /api/v1/processo/{id}/status-do-processo`.
#[derive(Debug, Deserialize)]
pub struct StatusProcesso {
    #[serde(rename = "idStatus", deserialize_with = "lenient::u64")]
    pub id_status: u64,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub expirado: Option<bool>,
    #[serde(rename = "dataConclusao", default)]
    pub data_conclusao: Option<String>,
    #[serde(rename = "dataCancelamento", default)]
    pub data_cancelamento: Option<String>,
    #[serde(rename = "dataExpiracao", default)]
    pub data_expiracao: Option<String>,
}

/// `GET /api/v1/processo/{id}/dados-signatarios`.
#[derive(Debug, Deserialize)]
pub struct DadosSignatarios {
    #[serde(default)]
    pub signatarios: Vec<Signatario>,
}

#[derive(Debug, Deserialize)]
pub struct Signatario {
    #[serde(default)]
    pub nome: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub telefone: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub assinado: Option<bool>,
    #[serde(rename = "dataAssinatura", default)]
    pub data_assinatura: Option<String>,
    #[serde(rename = "assinaturaRecusada", default, deserialize_with = "lenient::opt_bool")]
    pub assinatura_recusada: Option<bool>,
    #[serde(rename = "motivoRecusa", default)]
    pub motivo_recusa: Option<String>,
}

/// `GET /api/v2/processo/{id}`: the documents part.
#[derive(Debug, Deserialize)]
pub struct Processo {
    #[serde(default)]
    pub documentos: Vec<DocumentoProcesso>,
}

#[derive(Debug, Deserialize)]
pub struct DocumentoProcesso {
    /// The `idArquivoProcesso` of the evidence report endpoint.
    pub id: String,
    #[serde(rename = "nomeDocumento", default)]
    pub nome_documento: Option<String>,
    #[serde(rename = "base64Documento", default)]
    pub base64_documento: Option<String>,
    #[serde(rename = "linkParaBaixarDocumento", default)]
    pub link_para_baixar_documento: Option<String>,
}

/// `GET /api/v1/processo/{idArquivoProcesso}/registro-assinaturas`.
#[derive(Debug, Deserialize)]
pub struct RegistroAssinaturas {
    #[serde(default)]
    pub nome: Option<String>,
    pub base64: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read<T: serde::de::DeserializeOwned>(json: &str) -> T {
        serde_json::from_value(lenient::camel_keys(serde_json::from_str(json).unwrap())).unwrap()
    }

    #[test]
    fn send_response_in_either_casing() {
        let a: ProcessoEnviado = read(
            r#"{"IdProcesso": "6f1c", "documentos": [{"id": "d1", "ordem": 1, "nome": "contrato.pdf"}],
                "destinatarios": [{"idProcessoDestinatario": "r1", "ordem": 1, "formaEnvio": "ana@example.com",
                "nomeSignatario": "Ana", "configuracoesAnexos": null}]}"#,
        );
        let b: ProcessoEnviado = read(r#"{"idProcesso": "6f1c"}"#);
        assert_eq!((a.id_processo.as_str(), b.id_processo.as_str()), ("6f1c", "6f1c"));
    }

    #[test]
    fn status_poll_with_string_bits() {
        let s: StatusProcesso = read(
            r#"{"nomeProcesso": "Contrato", "status": "Aguardando", "idStatus": "2", "expirado": "false",
                "dataConclusao": null, "dataCancelamento": null, "dataExpiracao": "2025-07-01T00:00:00"}"#,
        );
        assert_eq!((s.id_status, s.expirado), (2, Some(false)));
        assert_eq!(s.data_expiracao.as_deref(), Some("2025-07-01T00:00:00"));
    }

    #[test]
    fn signer_data_with_pascal_case_ids() {
        let d: DadosSignatarios = read(
            r#"{"signatarios": [{"ordem": 1, "IdProcessoDestinatario": "r1", "nome": "Ana", "email": "ana@example.com",
                "assinado": 0, "assinaturaRecusada": 1, "motivoRecusa": "valor errado"}]}"#,
        );
        let s = &d.signatarios[0];
        assert_eq!((s.assinado, s.assinatura_recusada), (Some(false), Some(true)));
        assert_eq!(s.motivo_recusa.as_deref(), Some("valor errado"));
    }

    #[test]
    fn process_documents_in_both_forms_and_a_stray_space() {
        let p: Processo = read(
            r#"{"documentos": [{"id": "d1", "ordemDocumento ": 1, "nomeDocumento": "contrato.pdf",
                "base64Documento": "JVBERg==", "registroAssinaturas": {"nome": "x", "base64": "JVBERg=="}},
                {"id": "d2", "nomeDocumento": "b.pdf", "linkParaBaixarDocumento": "https://x/d2"}]}"#,
        );
        assert_eq!(p.documentos[0].base64_documento.as_deref(), Some("JVBERg=="));
        assert_eq!(p.documentos[1].link_para_baixar_documento.as_deref(), Some("https://x/d2"));
    }

    #[test]
    fn send_body_spelling() {
        let body = EnviarProcesso {
            id_responsavel: "u1".into(),
            nome_processo: "Contrato".into(),
            id_pasta: "p1".into(),
            configuracoes_avancadas: None,
            mensagem_padrao: None,
            usar_ordem_assinatura: true,
            usar_posicao_assinatura_automatica: true,
            destinatarios: vec![Destinatario {
                id_tipo_acao: 1,
                ordem_assinatura: Some(1),
                nome: "Ana".into(),
                email: Some("ana@example.com".into()),
                telefone: None,
                assinar_online: Some(AssinarOnline {
                    assinar_como: 1,
                    id_tipo_assinatura: 1,
                    seguranca: None,
                    assinatura_eletronica: Some(AssinaturaEletronica {
                        obrigar_signatario_informar_nome: true,
                        obrigar_signatario_informar_numero_documento: true,
                        tipo_documento_a_informar: 1,
                        obrigar_signatario_informar_nome_empresa: None,
                        obrigar_signatario_informar_numero_documento_empresa: None,
                        tipo_documento_empresa_a_informar: None,
                    }),
                    dados_assinatura: None,
                }),
            }],
        };
        // The contract's "minimal signer" (§7.3), field for field.
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({"idResponsavel": "u1", "nomeProcesso": "Contrato", "idPasta": "p1",
                "usarOrdemAssinatura": true, "usarPosicaoAssinaturaAutomatica": true,
                "destinatarios": [{"idTipoAcao": 1, "ordemAssinatura": 1, "nome": "Ana", "email": "ana@example.com",
                  "assinarOnline": {"assinarComo": 1, "idTipoAssinatura": 1,
                    "assinaturaEletronica": {"obrigarSignatarioInformarNome": true,
                      "obrigarSignatarioInformarNumeroDocumento": true, "tipoDocumentoAInformar": 1}}}]})
        );
    }
}

/// `POST /api/v1/confwebhook` (§6.1), the members the SDK sets.
#[derive(Debug, Serialize)]
pub struct ConfWebhook {
    pub nome: String,
    /// 1 Ativo, 2 Inativo.
    pub status: u8,
    #[serde(rename = "urlPublicar")]
    pub url_publicar: String,
    #[serde(rename = "aguardarRetorno")]
    pub aguardar_retorno: u8,
    pub gatilhos: Vec<u8>,
    #[serde(rename = "dadosRetorno")]
    pub dados_retorno: DadosRetorno,
}

#[derive(Debug, Serialize)]
pub struct DadosRetorno {
    pub processo: u8,
    pub signatarios: u8,
    pub documentos: u8,
}

/// Its answer, `{id, nome, chaveHMAC}` (keys camel-cased first).
#[derive(Debug, Deserialize)]
pub struct ConfWebhookCriada {
    pub id: String,
    #[serde(rename = "chaveHMAC")]
    pub chave_hmac: String,
}
