//! The send request body, streamed: ArqSign wants every PDF as a base64 string inside one JSON
//! document (up to 25 files, 100 MB), so the body is written piece by piece — the JSON around
//! the files, then each file read and base64-encoded chunk by chunk — and never held whole.
//! Its exact length is known up front, so it goes out with a `Content-Length`.

use base64::Engine as _;
use bytes::Bytes;
use futures::stream::{self, StreamExt as _};

use super::wire;
use crate::provider::OutgoingDocument;

/// A multiple of 3, so that chunks encode to base64 that concatenates without padding; about
/// 64 KiB once encoded.
const CHUNK: usize = 3 * 16 * 1024;

/// The body and its length in bytes.
pub fn build(head: &wire::EnviarProcesso, documents: &[OutgoingDocument]) -> (reqwest::Body, u64) {
    let head = json(head);
    // `{…}` → `{…,"documentos":[`: the documents go where the closing brace was.
    let open = format!("{},\"documentos\":[", &head[..head.len() - 1]);
    let mut length = open.len() as u64;
    let mut pieces = vec![stream::once(async move { Ok(Bytes::from(open)) }).boxed()];
    for (i, doc) in documents.iter().enumerate() {
        let header = json(&wire::DocumentoCabecalho {
            ordem_documento: i + 1,
            nome_com_extensao: &doc.name,
        });
        let separator = if i == 0 { "" } else { "," };
        let before =
            Bytes::from(format!("{separator}{},\"arquivo\":\"", &header[..header.len() - 1]));
        length += before.len() as u64 + base64_len(doc.len) + 2;
        pieces.push(stream::once(async move { Ok(before) }).boxed());
        pieces.push(doc.chunks(CHUNK).map(|chunk| chunk.map(|c| encode(&c))).boxed());
        pieces.push(stream::once(async { Ok(Bytes::from_static(b"\"}")) }).boxed());
    }
    pieces.push(stream::once(async { Ok(Bytes::from_static(b"]}")) }).boxed());
    length += 2;
    (reqwest::Body::wrap_stream(stream::iter(pieces).flatten()), length)
}

fn base64_len(len: u64) -> u64 {
    len.div_ceil(3) * 4
}

fn encode(chunk: &[u8]) -> Bytes {
    base64::engine::general_purpose::STANDARD.encode(chunk).into()
}

fn json(value: &impl serde::Serialize) -> String {
    // Plain structs of strings, numbers and booleans: serializing them cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DocumentContent;
    use futures::TryStreamExt as _;

    fn head() -> wire::EnviarProcesso {
        wire::EnviarProcesso {
            id_responsavel: "u1".into(),
            nome_processo: "Contrato nº 1".into(),
            id_pasta: "p1".into(),
            configuracoes_avancadas: None,
            mensagem_padrao: None,
            usar_ordem_assinatura: false,
            usar_posicao_assinatura_automatica: true,
            destinatarios: vec![],
        }
    }

    fn document(name: String, content: DocumentContent, len: u64) -> OutgoingDocument {
        OutgoingDocument {
            index: 0,
            name,
            media_type: "application/pdf".into(),
            len,
            head: Vec::new(),
            content,
        }
    }

    async fn collect(body: reqwest::Body) -> Vec<u8> {
        let stream = http_body_util::BodyDataStream::new(body);
        let chunks: Vec<Bytes> = stream.try_collect().await.unwrap();
        chunks.concat()
    }

    #[tokio::test]
    async fn the_streamed_body_is_the_json_it_stands_for() {
        let dir = tempfile::tempdir().unwrap();
        // Sizes around the chunk boundary, so padding and partial chunks are exercised.
        let contents: Vec<Vec<u8>> = [0usize, 1, 2, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 7]
            .iter()
            .map(|&n| (0..n).map(|i| (i * 7 % 251) as u8).collect())
            .collect();
        let mut files = Vec::new();
        for (i, c) in contents.iter().enumerate() {
            let content = if i % 2 == 0 {
                let path = dir.path().join(format!("{i}.pdf"));
                std::fs::write(&path, c).unwrap();
                DocumentContent::Path(path)
            } else {
                DocumentContent::Bytes(Bytes::from(c.clone()))
            };
            files.push(document(format!("doc \"{i}\".pdf"), content, c.len() as u64));
        }
        let (body, length) = build(&head(), &files);
        let bytes = collect(body).await;
        assert_eq!(bytes.len() as u64, length, "Content-Length must match");
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(json["nomeProcesso"], "Contrato nº 1");
        let docs = json["documentos"].as_array().unwrap();
        assert_eq!(docs.len(), contents.len());
        for (i, (doc, content)) in docs.iter().zip(&contents).enumerate() {
            assert_eq!(doc["ordemDocumento"], i + 1);
            assert_eq!(doc["nomeComExtensao"], format!("doc \"{i}\".pdf"));
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(doc["arquivo"].as_str().unwrap())
                .unwrap();
            assert_eq!(&decoded, content, "document {i}");
        }
    }

    #[tokio::test]
    async fn a_vanished_file_fails_the_stream() {
        let files =
            vec![document("a.pdf".into(), DocumentContent::Path("/nonexistent/a.pdf".into()), 4)];
        let (body, _) = build(&head(), &files);
        let stream = http_body_util::BodyDataStream::new(body);
        assert!(stream.try_collect::<Vec<Bytes>>().await.is_err());
    }
}
