//! ArqSign request and response bodies, spelled as in `contracts/arqsign.md`.
//!
//! Requests are bound with [`crate::aspnet::bind`]: property names in any casing, "bit" fields
//! as `true`/`false`, `0`/`1` or their text, numbers also as text. Every request struct denies
//! unknown properties, because ArqSign answers `Algum parâmetro está incorreto ou é
//! inexistente.` to them. Request structs also serialise (camelCase) so the control routes can
//! show what a client sent.
//!
//! Responses keep the contract's casing exactly, mixed as it is: `IdProcesso` in the send
//! answer, `IdProcessoDestinatario` in `dados-signatarios`, `Conta` in `dados-assinatura`.

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::aspnet::lenient;

// ---- requests --------------------------------------------------------------------------------

/// `POST /api/v2|v3/processo/enviar-documento-para-assinar`.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct SendRequest {
    pub id_responsavel: Option<String>,
    pub nome_processo: Option<String>,
    pub id_pasta: Option<String>,
    pub configuracoes_avancadas: Option<AdvancedSettings>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub renovacao_meses: Option<i64>,
    pub mensagem_padrao: Option<Message>,
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub usar_ordem_assinatura: Option<bool>,
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub usar_posicao_assinatura_automatica: Option<bool>,
    pub destinatarios: Option<Vec<Recipient>>,
    /// Never shown back: it holds the files.
    #[serde(skip_serializing)]
    pub documentos: Option<Vec<Document>>,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct AdvancedSettings {
    #[serde(default, deserialize_with = "lenient::int")]
    pub tempo_expiracao_documento_dias: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub aviso_antes_expiracao_documento_dias: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub frequencia_lembretes_dias: Option<i64>,
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub gerar_qr_code: Option<bool>,
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub obrigar_leitura: Option<bool>,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Message {
    pub titulo: Option<String>,
    pub texto: Option<String>,
}

/// One of `destinatarios[]`.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Recipient {
    #[serde(default, deserialize_with = "lenient::int")]
    pub id_tipo_acao: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub ordem_assinatura: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub representacao_visual_assinatura: Option<i64>,
    pub nome: Option<String>,
    pub email: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub telefone: Option<String>,
    pub assinar_online: Option<SignOnline>,
    /// v3 only. Outer `None`: not sent; `Some(None)`: sent as null.
    #[serde(default, deserialize_with = "present_int", skip_serializing_if = "Option::is_none")]
    pub alterar_notificacoes: Option<Option<i64>>,
    /// v3 only, as above.
    #[serde(default, deserialize_with = "present_bool", skip_serializing_if = "Option::is_none")]
    pub retornar_link_processo: Option<Option<bool>>,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct SignOnline {
    #[serde(default, deserialize_with = "lenient::int")]
    pub assinar_como: Option<i64>,
    pub papel_pessoa_fisica: Option<Vec<String>>,
    pub papel_pessoa_juridica: Option<Vec<String>>,
    pub seguranca: Option<Security>,
    pub mensagem_personalizada: Option<Message>,
    pub anexos: Option<Vec<Attachment>>,
    pub definir_posicao_assinatura_manual: Option<Vec<ManualPosition>>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub id_tipo_assinatura: Option<i64>,
    pub assinatura_eletronica: Option<Electronic>,
    pub dados_assinatura: Option<SignerData>,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Security {
    #[serde(default, deserialize_with = "lenient::text")]
    pub codigo_seguranca: Option<String>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub id_meio_envio: Option<i64>,
    pub codigo_seguranca_email: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub codigo_seguranca_telefone: Option<String>,
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub reenviar_codigo: Option<bool>,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Attachment {
    pub anexo_documento_nome: Option<String>,
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub anexo_obrigatorio: Option<bool>,
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub anexo_exibir_todos_destinatarios: Option<bool>,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ManualPosition {
    #[serde(default, deserialize_with = "lenient::int")]
    pub documento_de_ordem: Option<i64>,
    pub pessoa_fisica: Option<SignatureBox>,
    pub pessoa_juridica: Option<SignatureBox>,
}

/// A signature box in millimetres: X from the left edge, Y from the top edge.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct SignatureBox {
    #[serde(default, deserialize_with = "lenient::int")]
    pub pagina: Option<i64>,
    #[serde(default, deserialize_with = "lenient::decimal")]
    pub altura: Option<f64>,
    #[serde(default, deserialize_with = "lenient::decimal")]
    pub largura: Option<f64>,
    #[serde(default, deserialize_with = "lenient::decimal")]
    pub posicao_x: Option<f64>,
    #[serde(default, deserialize_with = "lenient::decimal")]
    pub posicao_y: Option<f64>,
}

/// `assinaturaEletronica`: what an electronic signer must type when signing.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Electronic {
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub obrigar_signatario_informar_nome: Option<bool>,
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub obrigar_signatario_informar_numero_documento: Option<bool>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub tipo_documento_a_informar: Option<i64>,
    pub configuracao_documento_outro: Option<OtherDocument>,
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub obrigar_signatario_informar_nome_empresa: Option<bool>,
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub obrigar_signatario_informar_numero_documento_empresa: Option<bool>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub tipo_documento_empresa_a_informar: Option<i64>,
    pub configuracao_documento_empresa_outro: Option<OtherDocument>,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct OtherDocument {
    pub nome_documento: Option<String>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub formato_dados_documento: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub qtde_caracteres_documento: Option<i64>,
}

/// `dadosAssinatura` of the send: data that pre-fills (or, with `validarDocumento`, binds) what
/// the signer types.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct SignerData {
    pub signatario: Option<Party>,
    pub empresa: Option<Party>,
    pub dados_complementares: Option<Vec<ExtraData>>,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Party {
    pub nome: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub numero_documento: Option<String>,
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub validar_documento: Option<bool>,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ExtraData {
    pub label: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub valor: Option<String>,
}

/// One of `documentos[]`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Document {
    #[serde(default, deserialize_with = "lenient::int")]
    pub ordem_documento: Option<i64>,
    pub nome_com_extensao: Option<String>,
    pub arquivo: Option<FileBytes>,
    /// v3 only: the file by link instead of `arquivo`.
    pub link_do_arquivo: Option<FileLink>,
    /// The same, as the v3 changelog names it (contract §2.2 [X]).
    pub link_documento: Option<FileLink>,
}

/// A base64 file as decoded while the body is parsed: the text goes straight from the request
/// bytes into the file's bytes, never copied whole in between.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FileBytes {
    Decoded(Vec<u8>),
    /// Not base64; the send answers that the file is not a valid PDF.
    Invalid,
}

impl FileBytes {
    pub fn decode(text: &str) -> FileBytes {
        // .NET's `Convert.FromBase64String` skips whitespace (line-wrapped base64) and some
        // clients drop the padding.
        const ENGINE: GeneralPurpose = GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            GeneralPurposeConfig::new()
                .with_decode_padding_mode(DecodePaddingMode::Indifferent)
                .with_decode_allow_trailing_bits(true),
        );
        let decoded = if text.bytes().any(|b| b.is_ascii_whitespace()) {
            let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            ENGINE.decode(compact)
        } else {
            ENGINE.decode(text)
        };
        decoded.map_or(FileBytes::Invalid, FileBytes::Decoded)
    }
}

impl<'de> Deserialize<'de> for FileBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<FileBytes, D::Error> {
        struct Base64Text;
        impl Visitor<'_> for Base64Text {
            type Value = FileBytes;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("o conteúdo do arquivo em base64")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<FileBytes, E> {
                Ok(FileBytes::decode(text))
            }
        }
        d.deserialize_str(Base64Text)
    }
}

/// `linkDoArquivo`: the sandbox cannot fetch from the network, so only `data:` URLs carry a
/// file; anything else is kept to be refused with the link message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FileLink {
    Data(FileBytes),
    Remote(String),
}

impl<'de> Deserialize<'de> for FileLink {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<FileLink, D::Error> {
        struct LinkText;
        impl Visitor<'_> for LinkText {
            type Value = FileLink;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("um link para o arquivo")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<FileLink, E> {
                Ok(FileLink::parse(text))
            }
        }
        d.deserialize_str(LinkText)
    }
}

impl FileLink {
    fn parse(text: &str) -> FileLink {
        let trimmed = text.trim_start();
        let is_data = trimmed.get(..5).is_some_and(|scheme| scheme.eq_ignore_ascii_case("data:"));
        if !is_data {
            return FileLink::Remote(text.to_owned());
        }
        // `data:[<type>][;base64],<data>`; only the base64 form can carry a binary file.
        match trimmed[5..].split_once(',') {
            Some((meta, data)) if meta.to_ascii_lowercase().ends_with(";base64") => {
                FileLink::Data(FileBytes::decode(data))
            }
            _ => FileLink::Data(FileBytes::Invalid),
        }
    }
}

/// Distinguishes a property sent as `null` (`Some(None)`) from one not sent (`None`).
fn present_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
    lenient::int(d).map(Some)
}

fn present_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<bool>>, D::Error> {
    lenient::boolean(d).map(Some)
}

/// One item of the `PATCH /api/v2/processo/{id}/reenviar-processo` array.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ResendItem {
    pub id_processo_destinatario: Option<String>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub id_forma_envio_processo: Option<i64>,
    pub nome: Option<String>,
    pub email: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub telefone: Option<String>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub id_meio_envio_codigo_seguranca: Option<i64>,
    pub email_seguranca: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub telefone_seguranca: Option<String>,
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub permitir_reenviar_codigo: Option<bool>,
    pub dados_assinatura: Option<ResendSignerData>,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ResendSignerData {
    pub signatario: Option<ResendParty>,
    pub empresa: Option<ResendParty>,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ResendParty {
    pub nome: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub numero_documento: Option<String>,
    /// The sample's name; the text calls it `validarDocumento` (contract §2.6 [X]): both bind.
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub validar: Option<bool>,
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub validar_documento: Option<bool>,
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub descartar_dados_anteriores: Option<bool>,
}

/// `POST /api/v1/processo/{id}/buscar-anexos-signatarios`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct AttachmentSearch {
    #[serde(default, deserialize_with = "lenient::int")]
    pub arquivo_tipo: Option<i64>,
    pub signatarios: Option<Vec<String>>,
}

/// `POST /api/v1/diretorio/buscar-pastas`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct FolderSearch {
    #[serde(default, deserialize_with = "lenient::int")]
    pub buscar_por: Option<i64>,
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub ativas: Option<bool>,
    pub pastas: Option<Vec<String>>,
}

/// `POST /api/v1/usuarios/buscar-usuarios`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct UserSearch {
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub ativos: Option<bool>,
    pub usuarios: Option<Vec<String>>,
}

// ---- responses -------------------------------------------------------------------------------

/// Every error: `{"codigo": <HTTP status>, "mensagem": "…"}` (the shape is undocumented [I]).
/// The cancel success uses it too.
#[derive(Debug, Serialize)]
pub(crate) struct Reply {
    pub codigo: u16,
    pub mensagem: String,
}

/// `200` of the send.
#[derive(Debug, Serialize)]
pub(crate) struct Sent {
    #[serde(rename = "IdProcesso")]
    pub id_processo: String,
    pub documentos: Vec<SentDocument>,
    pub destinatarios: Vec<SentRecipient>,
}

#[derive(Debug, Serialize)]
pub(crate) struct SentDocument {
    pub id: String,
    pub ordem: i64,
    pub nome: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SentRecipient {
    pub id_processo_destinatario: String,
    pub ordem: i64,
    pub forma_envio: String,
    pub nome_signatario: String,
    pub configuracoes_anexos: Option<Vec<AttachmentRef>>,
    /// v3 only (absent from v2 answers): the signing link, or null.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_processo: Option<Option<String>>,
}

#[derive(Debug, Serialize)]
pub(crate) struct AttachmentRef {
    pub id: String,
    pub nome: String,
}

/// `GET /api/v1/processo/{id}/status-do-processo`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Status {
    pub nome_processo: String,
    pub status: &'static str,
    pub id_status: i64,
    pub expirado: bool,
    pub data_conclusao: Option<String>,
    pub data_cancelamento: Option<String>,
    pub data_expiracao: Option<String>,
}

/// `GET /api/v2/processo/{id}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Process<'a> {
    pub nome_processo: &'a str,
    pub id_pasta: &'a str,
    pub caminho_da_pasta: String,
    pub id_responsavel: &'a str,
    pub nome_responsavel: &'a str,
    pub status: &'static str,
    pub id_status: i64,
    pub data_cadastro: String,
    pub data_envio: Option<String>,
    pub data_conclusao: Option<String>,
    pub data_renovacao: Option<String>,
    pub data_cancelamento: Option<String>,
    pub usuario_cancelamento: Option<&'a str>,
    pub data_reenvio: Option<String>,
    pub data_expiracao: Option<String>,
    pub expiracao_dias: i64,
    pub aviso_expiracao_dias: i64,
    pub lembrete: bool,
    pub frequencia_lembrete: i64,
    pub signatarios: Vec<ProcessSigner<'a>>,
    pub documentos: Vec<ProcessDocument<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ProcessSigner<'a> {
    pub ordem_assinatura: i64,
    pub id: &'a str,
    pub nome: &'a str,
    pub email: Option<&'a str>,
    pub telefone: Option<&'a str>,
    pub aguardando_envio: bool,
    pub falha_envio: bool,
    pub copia_enviada: bool,
    pub remetente: bool,
    pub assinatura_recusada: bool,
    pub motivo_recusa: Option<&'a str>,
    pub tipo_acao: &'static str,
    pub id_tipo_acao: i64,
    pub papel_signatario: Roles<'a>,
    pub seguranca: Option<SecurityEcho<'a>>,
    pub dados_assinatura: Option<SignatureData<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Roles<'a> {
    pub pessoa_fisica: &'a [String],
    pub pessoa_juridica: &'a [String],
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SecurityEcho<'a> {
    pub codigo_seguranca: Option<&'a str>,
    pub codigo_seguranca_email: Option<&'a str>,
    pub codigo_seguranca_telefone: Option<&'a str>,
    pub falha_envio_codigo_seguranca: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SignatureData<'a> {
    pub tipo_assinatura: Option<&'static str>,
    pub id_tipo_assinatura: Option<i64>,
    pub data_assinatura: String,
    pub ip: Option<&'a str>,
    pub geo_localizacao: Option<&'a str>,
    pub dados_certificado: Option<Certificate<'a>>,
    pub dados_pessoa_fisica: Option<Person<'a>>,
    pub dados_pessoa_juridica: Option<Company<'a>>,
    pub anexos: Vec<SignerAttachment<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Certificate<'a> {
    pub nome: &'a str,
    pub emissor: &'a str,
    pub validade_inicio: String,
    pub validade_fim: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct Person<'a> {
    #[serde(rename = "nomePessoaFisica")]
    pub nome: Option<&'a str>,
    #[serde(rename = "tipoDocumentoPessoaFisica")]
    pub tipo_documento: Option<&'static str>,
    /// The manual's spelling, typo included (contract §2.3).
    #[serde(rename = "numeroDocumetoPessoaFisica")]
    pub numero_documento: Option<&'a str>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Company<'a> {
    pub nome_empresa: Option<&'a str>,
    pub tipo_documento_empresa: Option<&'static str>,
    pub numero_documento_empresa: Option<&'a str>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SignerAttachment<'a> {
    pub id: &'a str,
    pub anexo_documento_nome: &'a str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ProcessDocument<'a> {
    pub id: &'a str,
    pub ordem_documento: i64,
    pub nome_documento: &'a str,
    pub link_documento_compartilhado: Option<String>,
    /// With `arquivoTipo=2` (absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_para_baixar_documento: Option<String>,
    /// With `arquivoTipo=1` (absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base64_documento: Option<Base64<'a>>,
    pub registro_assinaturas: Option<Report<'a>>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Report<'a> {
    pub nome: String,
    pub base64: Base64<'a>,
}

/// Bytes written as standard base64 straight into the JSON being serialised, so a large file
/// is never held as a base64 `String` as well.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Base64<'a>(pub &'a [u8]);

impl Serialize for Base64<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let engine = &base64::engine::general_purpose::STANDARD;
        serializer.collect_str(&base64::display::Base64Display::new(self.0, engine))
    }
}

/// `GET /api/v1/processo/{id}/dados-signatarios`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SignersData<'a> {
    pub nome_processo: &'a str,
    pub status: &'static str,
    pub id_status: i64,
    pub data_conclusao: Option<String>,
    pub data_cancelamento: Option<String>,
    pub usuario_cancelamento: Option<&'a str>,
    pub data_expiracao: Option<String>,
    pub signatarios: Vec<SignerRow<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SignerRow<'a> {
    pub ordem: i64,
    #[serde(rename = "IdProcessoDestinatario")]
    pub id_processo_destinatario: &'a str,
    pub nome: &'a str,
    pub id_tipo_assinatura: Option<i64>,
    #[serde(rename = "IdFormaEnvioProcesso")]
    pub id_forma_envio_processo: i64,
    pub email: Option<&'a str>,
    pub telefone: Option<&'a str>,
    pub papel_signatario: Roles<'a>,
    pub tipo_acao: &'static str,
    pub id_tipo_acao: i64,
    #[serde(rename = "IdMeioEnvioCodigoSeguranca")]
    pub id_meio_envio_codigo_seguranca: Option<i64>,
    pub email_seguranca: Option<&'a str>,
    pub telefone_seguranca: Option<&'a str>,
    pub permitir_reenviar_codigo: bool,
    pub falha_envio: bool,
    pub falha_envio_codigo_seguranca: bool,
    pub assinado: bool,
    pub data_assinatura: Option<String>,
    pub assinatura_recusada: bool,
    pub motivo_recusa: Option<&'a str>,
    pub anexos: Vec<SignerAttachment<'a>>,
}

/// One item of the resend answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Resent {
    pub id_processo_destinatario: String,
    pub ordem: i64,
    pub forma_envio_processo: String,
    pub nome: String,
    pub anexos: Option<Vec<ResentAttachment>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ResentAttachment {
    pub id_configuracao_anexo: String,
    pub nome_anexo: String,
}

/// `GET /api/v1/processo/{idArquivoProcesso}/registro-assinaturas`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Evidence<'a> {
    pub id_arquivo_processo: &'a str,
    pub nome: String,
    pub base64: Base64<'a>,
}

/// One item of `buscar-anexos-signatarios`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SignerAttachments {
    pub id_signatario: String,
    pub nome: String,
    pub anexos: Option<Vec<UploadedAttachment>>,
}

#[derive(Debug, Serialize)]
pub(crate) struct UploadedAttachment {
    pub id: String,
    pub nome: String,
    /// base64 (`arquivoTipo` 1) or a download link (2).
    pub arquivo: String,
}

/// One item of `buscar-pastas`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Folder {
    pub id: String,
    pub nome: String,
    pub caminho_completo: String,
    pub status: &'static str,
    pub filhos: Option<Vec<FolderChild>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FolderChild {
    pub id: String,
    pub nome: String,
    pub caminho_completo: String,
    pub status: &'static str,
    pub possui_filhos: bool,
}

/// One item of `buscar-usuarios`.
#[derive(Debug, Serialize)]
pub(crate) struct User {
    pub id: String,
    pub nome: String,
    pub status: &'static str,
    pub remetente: bool,
}

/// One item of `papeis-signatarios`.
#[derive(Debug, Serialize)]
pub(crate) struct Role {
    pub id: String,
    pub nome: String,
    pub padrao: bool,
}

/// `GET /api/v1/conta/dados-assinatura`.
#[derive(Debug, Serialize)]
pub(crate) struct Subscription {
    #[serde(rename = "Conta")]
    pub conta: AccountInfo,
    pub plano: Plan,
    pub assinatura: SubscriptionInfo,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AccountInfo {
    pub id: String,
    pub nome: String,
    pub id_status: i64,
    pub status: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Plan {
    pub id: String,
    pub tipo_plano: &'static str,
    pub nome: String,
    pub periodo: &'static str,
    pub valor: f64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SubscriptionInfo {
    pub id: String,
    pub inicio_vigencia: String,
    pub fim_vigencia: String,
    pub trial: bool,
    pub itens: Vec<CreditItem>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreditItem {
    pub id: i64,
    pub nome: &'static str,
    pub saldo: i64,
    pub permite_excedente: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aspnet::{BindError, bind};
    use serde_json::json;

    #[test]
    fn send_binds_any_casing_lenient_bits_and_decodes_files_in_place() {
        let body = json!({
            "IdResponsavel": "u", "NOMEPROCESSO": "Contrato", "idpasta": "p",
            "usarOrdemAssinatura": "1", "usarPosicaoAssinaturaAutomatica": true,
            "destinatarios": [{"IdTipoAcao": "1", "nome": "Ana", "telefone": 5511987654321_i64,
                               "assinarOnline": {"AssinarComo": 1, "idTipoAssinatura": 1,
                                                 "seguranca": {"codigoSeguranca": 1234}}}],
            "documentos": [{"ordemDocumento": 1, "nomeComExtensao": "a.pdf",
                            "arquivo": "JVBERi0x\r\nLjc="}]
        });
        let request: SendRequest = bind(body.to_string().as_bytes()).unwrap();
        assert_eq!(request.usar_ordem_assinatura, Some(true));
        let recipient = &request.destinatarios.unwrap()[0];
        assert_eq!(recipient.telefone.as_deref(), Some("5511987654321"));
        let online = recipient.assinar_online.as_ref().unwrap();
        assert_eq!(online.seguranca.as_ref().unwrap().codigo_seguranca.as_deref(), Some("1234"));
        let document = &request.documentos.unwrap()[0];
        assert_eq!(document.arquivo, Some(FileBytes::Decoded(b"%PDF-1.7".to_vec())));
    }

    #[test]
    fn unknown_fields_and_v3_presence() {
        let unknown = br#"{"destinatarios": [{"nome": "Ana", "cpf": "1"}]}"#;
        assert!(matches!(bind::<SendRequest>(unknown), Err(BindError::UnknownField(_))));
        let v3: Recipient =
            bind(br#"{"alterarNotificacoes": null, "retornarLinkProcesso": 1}"#).unwrap();
        assert_eq!(
            (v3.alterar_notificacoes, v3.retornar_link_processo),
            (Some(None), Some(Some(true)))
        );
        let v2: Recipient = bind(br#"{"nome": "Ana"}"#).unwrap();
        assert_eq!((v2.alterar_notificacoes, v2.retornar_link_processo), (None, None));
    }

    #[test]
    fn files_and_links() {
        assert_eq!(FileBytes::decode("not base64!"), FileBytes::Invalid);
        assert_eq!(FileBytes::decode("JVBERi0"), FileBytes::Decoded(b"%PDF-".to_vec()));
        assert_eq!(
            FileLink::parse("data:application/pdf;base64,JVBERi0="),
            FileLink::Data(FileBytes::Decoded(b"%PDF-".to_vec()))
        );
        assert_eq!(FileLink::parse("DATA:,hello"), FileLink::Data(FileBytes::Invalid));
        assert_eq!(
            FileLink::parse("https://example.com/a.pdf"),
            FileLink::Remote("https://example.com/a.pdf".into())
        );
    }

    #[test]
    fn responses_keep_the_contract_casing() {
        let sent = Sent {
            id_processo: "g".into(),
            documentos: vec![SentDocument { id: "d".into(), ordem: 1, nome: "c.pdf".into() }],
            destinatarios: vec![SentRecipient {
                id_processo_destinatario: "r".into(),
                ordem: 1,
                forma_envio: "ana@example.com".into(),
                nome_signatario: "Ana".into(),
                configuracoes_anexos: None,
                link_processo: None,
            }],
        };
        assert_eq!(
            serde_json::to_value(&sent).unwrap(),
            json!({"IdProcesso": "g", "documentos": [{"id": "d", "ordem": 1, "nome": "c.pdf"}],
                   "destinatarios": [{"idProcessoDestinatario": "r", "ordem": 1,
                                      "formaEnvio": "ana@example.com", "nomeSignatario": "Ana",
                                      "configuracoesAnexos": null}]})
        );
        let person =
            Person { nome: Some("Ana"), tipo_documento: Some("CPF"), numero_documento: None };
        assert_eq!(
            serde_json::to_value(&person).unwrap(),
            json!({"nomePessoaFisica": "Ana", "tipoDocumentoPessoaFisica": "CPF",
                   "numeroDocumetoPessoaFisica": null})
        );
        assert_eq!(serde_json::to_value(Base64(b"%PDF-")).unwrap(), json!("JVBERi0="));
    }
}
