//! An ArqSign webhook body → its dedupe key and event (`arqsign.md` §6.3).

use chrono::{DateTime, Utc};

use super::wire::Notificacao;
use crate::model::EventKind;
use crate::webhooks::{Delivery, event, unreadable};

/// The key is the process, the event and the signers it names: §6.3 "the receiver should
/// de-duplicate on (`IdProcesso`, `Evento`, signer id)"; `dataHoraAtual` is left out, as a
/// retry is sent at another time.
pub fn delivery(
    account: &str,
    n: Notificacao,
    body: &[u8],
    mut flags: Vec<String>,
    received: DateTime<Utc>,
) -> Delivery {
    let (Some(process), Some(evento)) = (n.id_processo.clone(), n.evento.clone()) else {
        flags.push("missing:idProcesso_or_evento".into());
        return unreadable("arqsign", account, body, flags, received);
    };
    let mut signers: Vec<&str> = n.signatarios.iter().filter_map(|s| s.id.as_deref()).collect();
    signers.sort_unstable();
    let key = format!("{process}:{evento}:{}", signers.join(","));
    let at = n.data_hora_atual.as_deref().and_then(crate::providers::lenient::utc_date);
    // Only trigger 8's name is known (§6.3); the others stay open strings for the host.
    let (kind, state) = match evento.as_str() {
        "ProcessoConcluido" => (EventKind::StateChanged, Some("completed")),
        _ => (EventKind::Other, None),
    };
    let raw = serde_json::json!({
        "evento": evento, "idProcesso": process, "idConta": n.id_conta,
        "idWebhook": n.id_webhook, "dataHoraAtual": n.data_hora_atual, "state": state,
        "signatarios": n.signatarios.iter()
            .map(|s| serde_json::json!({"id": s.id, "nome": s.nome,
                "assinaturaRecusada": s.assinatura_recusada}))
            .collect::<Vec<_>>(),
        "flags": flags,
    });
    let text = crate::webhooks::body_text(body, &mut flags);
    let e = event("arqsign", account, &process, &key, kind, at.unwrap_or(received), raw);
    Delivery { key, events: vec![e], flags, body: text, link: None }
}
