//! ArqSign's error texts, copied verbatim from contract §5.2 (typos and odd quotes included,
//! since clients may match on them). Texts the contract does not give are marked as the
//! sandbox's own.

/// `O(s) item(ns) listado(s) é(são) obrigatório(s): …` with the parameter names.
pub(crate) fn required(fields: &str) -> String {
    format!("O(s) item(ns) listado(s) é(são) obrigatório(s): {fields}.")
}

/// `O(s) item(ns) listado(s) está(ão) com o formato incorreto: …` with the parameter names.
pub(crate) fn malformed(fields: &str) -> String {
    format!("O(s) item(ns) listado(s) está(ão) com o formato incorreto: {fields}.")
}

/// `O(s) id(s) listado(s) não existe(m): …` with the names of the id parameters (the contract's
/// placeholder is "nome dos itens que são Ids de tabela").
pub(crate) fn unknown_ids(fields: &str) -> String {
    format!("O(s) id(s) listado(s) não existe(m): {fields}.")
}

pub(crate) const UNKNOWN_PARAMETER: &str = "Algum parâmetro está incorreto ou é inexistente.";
pub(crate) const DELETED: &str = "Documento excluído.";
/// Malformed JSON, answered with 500 as the manual says (§5.1).
pub(crate) const MALFORMED_JSON: &str = "Formato do JSON incorreto";

pub(crate) const NO_CREDITS: &str = "Saldo de créditos de Envios ou WhatsApp ou SMS insuficiente";
pub(crate) const FOLDER_NOT_FOUND: &str = "idPasta não encontrado.";
pub(crate) const ORDER_REQUIRED: &str = "Quando o parâmetro usarOrdemDeAssinatura for igual a true, é obrigatório definir ordem de assinatura para o(s) signatário(s) com ação de Assinar Online.";
pub(crate) const DUPLICATE_AT_ORDER: &str = "Existem destinatários duplicados na mesma posição de ordem de assinatura. Verifique a lista de destinatários e configure uma ordem de assinatura diferente para os destinatários duplicados ou remova os repetidos";
pub(crate) const VISUAL_REPRESENTATION: &str =
    "O parâmetro representacaoVisualAssinatura permite somente valor 1, 2 ou 3.";
pub(crate) const CONTACT_REQUIRED: &str = "O parâmetro email ou telefone é obrigatório.";
pub(crate) const INVALID_EMAIL: &str = "E-mail inválido.";
pub(crate) const INVALID_PHONE: &str = "Telefone inválido.";
pub(crate) const ONE_CONTACT: &str =
    "Somente é possível enviar o processo para um e-mail ou telefone. Escolha uma forma de envio.";
pub(crate) const WHATSAPP_ONLY_ELECTRONIC: &str = "Somente é possível enviar processos por WhatsApp para signatários com tipo de assinatura eletrônica ou com ação de receber cópia.";
pub(crate) const UNKNOWN_ROLES: &str =
    "O(s) Papel(is) do(s) Signatário(s) informado(s) não existe(m) para a conta.";
pub(crate) const SECURITY_CHANNEL: &str =
    "O parâmetro idMeioEnvio permite somente valores 1, 2, 3 ou 4.";
pub(crate) const SECURITY_EMAIL_REQUIRED: &str =
    "O parâmetro codigoSegurancaEmail é obrigatório quando o parâmetro idMeioEnvio for igual a 3.";
pub(crate) const SECURITY_PHONE_REQUIRED: &str = "O parâmetro codigoSegurancaTelefone é obrigatório quando o parâmetro idMeioEnvio for igual a 1 ou 2.";
pub(crate) const ATTACHMENT_FIELDS: &str = "Os parâmetros contidos em anexos não são obrigatórios, mas quando for enviado pelo menos um parâmetro nesta coleção, os demais se tornam necessários.";
pub(crate) const ATTACHMENT_NAMES: &str = "Não é permitido configurar anexos com mesmo nome.";
pub(crate) const POSITION_OUTSIDE: &str =
    "Posicionamento definirPosicaoAssinaturaManual fora dos limites da página.";
pub(crate) const ONE_POSITION_PER_TYPE: &str =
    "Somente é permitido uma representação por tipo de assinatura.";
pub(crate) const DOCUMENT_ORDER_REQUIRED: &str = "O parâmetro documentoDeOrdem é obrigatório quando no processo possuir mais de um arquivo para assinatura.";
pub(crate) const PERSON_POSITION_REQUIRED: &str = "É necessário enviar os parâmetros pessoaFisica em definirPosicaoAssinaturaManual para os signatários com o parâmetro assinarComo = 1 ou 3 em todos os arquivos do processo.";
pub(crate) const COMPANY_POSITION_REQUIRED: &str = "É necessário enviar os parâmetros pessoaJuridica em definirPosicaoAssinaturaManual para signatários com o parâmetro assinarComo = 2 ou 3 em todos os arquivos do processo.";
pub(crate) const SIGNATURE_TYPE: &str =
    "O parâmetro idTipoAssinatura permite somente valores 1, 3 ou 4.";
pub(crate) const PERSON_DOCUMENT_TYPE: &str =
    "O parâmetro tipoDocumentoAInformar permite somente valores 1, 2, 3 ou 4.";
pub(crate) const PERSON_OTHER_REQUIRED: &str = "O parâmetro configuracaoDocumentoOutro é obrigatório quando tipoDocumentoAInformar for igual a 4.";
pub(crate) const COMPANY_DOCUMENT_TYPE: &str =
    "O parâmetro tipoDocumentoEmpresaAInformar permite somente valores 4 ou 5.";
pub(crate) const COMPANY_OTHER_REQUIRED: &str = "O parâmetro configuracaoDocumentoEmpresaOutro é obrigatório quando tipoDocumentoEmpresaAInformar for igual a 4.";
pub(crate) const NAME_TOO_LONG: &str = "São permitidos até 250 caracteres no parâmetro nome.";
pub(crate) const PERSON_NUMBER_INVALID: &str = "O valor informado no parâmetro numeroDocumento é inválido para o tipo definido no parâmetro tipoDocumentoAInformar.";
pub(crate) const COMPANY_NUMBER_INVALID: &str = "O valor informado no parâmetro numeroDocumento é inválido para o tipo definido no parâmetro tipoDocumentoEmpresaAInformar.";
pub(crate) const LABEL_REQUIRED: &str =
    "O parâmetro label é obrigatório quando informar o parâmetro valor.";
pub(crate) const VALUE_REQUIRED: &str =
    "O parâmetro valor é obrigatório quando informar o parâmetro label.";
pub(crate) const TOO_MANY_FILES: &str =
    "É permitido enviar até 25 arquivos por processo, cujo tamanho não ultrapasse a soma de 100MB.";
pub(crate) const TOO_LARGE: &str =
    "Não é permitido um arquivo ou uma coleção de arquivos que ultrapasse a soma de 100MB.";
pub(crate) const DOCUMENT_ORDER_EACH: &str = "Para processo com mais de um arquivo o parâmetro ordemDocumento é obrigatório em cada documento.";
pub(crate) const SAME_ORDER: &str = "Não é permitido arquivos com a mesma ordem.";
pub(crate) const FILE_NAME_TOO_LONG: &str =
    "O tamanho do nome do arquivo não pode ultrapassar a 150 caracteres.";
pub(crate) const SAME_NAME: &str = "Não é permitido arquivos com mesmo nome.";
pub(crate) const NO_FILE: &str = "É obrigatório enviar ao menos um arquivo do tipo PDF.";
pub(crate) const FILE_TYPE: &str = "O parâmetro arquivoTipo permite somente valores 1 ou 2.";

/// `O arquivo [Nome do arquivo] é inválido. Somente é permitido arquivo do tipo PDF.`
pub(crate) fn not_pdf(name: &str) -> String {
    format!("O arquivo {name} é inválido. Somente é permitido arquivo do tipo PDF.")
}

/// `Não existe o documento na ordem {0} informada no parâmetro “documentoDeOrdem”.`
pub(crate) fn no_document_at(order: i64) -> String {
    format!("Não existe o documento na ordem {order} informada no parâmetro “documentoDeOrdem”.")
}

/// `A página "X” não existe no arquivo.` / `As páginas "X. Y ...” não existem no arquivo.`
/// (the mismatched quotes are the manual's).
pub(crate) fn missing_pages(pages: &[i64]) -> String {
    let list: Vec<String> = pages.iter().map(i64::to_string).collect();
    match list.as_slice() {
        [one] => format!("A página \"{one}” não existe no arquivo."),
        _ => format!("As páginas \"{}” não existem no arquivo.", list.join(". ")),
    }
}

// The sandbox's own texts: the contract gives the situation but not the words.

/// 422 of `cancelar-processo` (contract §2.7 documents only the status).
pub(crate) const CANCEL_NOT_ALLOWED: &str =
    "Somente processos com status Aguardando ou Em processo podem ser cancelados.";
/// 200 of `cancelar-processo`: "mensagem de documento cancelado com sucesso".
pub(crate) const CANCELLED: &str = "Documento cancelado com sucesso.";
/// 422 of `reenviar-processo` outside 2/3 (contract §7.1 suggests 422).
pub(crate) const RESEND_NOT_ALLOWED: &str =
    "Somente processos com status Aguardando ou Em processo podem ser reenviados.";
/// v3 `linkDoArquivo` that the sandbox cannot fetch (contract §2.2: "link inválido ou arquivo
/// não encontrado", exact text not given).
pub(crate) const LINK_UNAVAILABLE: &str = "O link informado no parâmetro linkDoArquivo é inválido ou o arquivo não foi encontrado. (sandbox: somente links data:application/pdf;base64,… são aceitos.)";
/// v3 document with both or neither of `arquivo` and `linkDoArquivo`.
pub(crate) const FILE_OR_LINK: &str =
    "Informe somente um dos parâmetros arquivo ou linkDoArquivo para cada documento.";
/// v3 `alterarNotificacoes` 1 or 3 without `retornarLinkProcesso` (contract §2.2).
pub(crate) const LINK_REQUIRED_FOR_EMBED: &str = "O parâmetro retornarLinkProcesso deve ser igual a true quando o parâmetro alterarNotificacoes for igual a 1 ou 3.";
/// A copy recipient named in a resend (contract §2.6: "copy recipients cannot be resent to").
pub(crate) const RESEND_COPY: &str =
    "Não é possível reenviar o processo para destinatários com ação de receber uma cópia.";
/// A signer who already signed or refused, named in a resend.
pub(crate) const RESEND_NOT_PENDING: &str =
    "Somente é possível reenviar o processo para signatários pendentes.";
/// Security fields in a resend for a signer without a code (contract §2.6).
pub(crate) const RESEND_SECURITY: &str = "Os dados do código de segurança somente podem ser alterados para signatários que possuem código de segurança.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_fill_their_placeholders() {
        assert_eq!(unknown_ids("idProcesso"), "O(s) id(s) listado(s) não existe(m): idProcesso.");
        assert_eq!(
            not_pdf("a.docx"),
            "O arquivo a.docx é inválido. Somente é permitido arquivo do tipo PDF."
        );
        assert_eq!(missing_pages(&[3]), "A página \"3” não existe no arquivo.");
        assert_eq!(missing_pages(&[3, 4]), "As páginas \"3. 4” não existem no arquivo.");
        assert_eq!(
            no_document_at(2),
            "Não existe o documento na ordem 2 informada no parâmetro “documentoDeOrdem”."
        );
    }
}
