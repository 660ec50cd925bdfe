//! The send request body, streamed: ArqSign wants every PDF as a base64 string inside one JSON
//! document (up to 25 files, 100 MB), so the body is written piece by piece — the JSON around
//! the files, then each file read and base64-encoded chunk by chunk — and never held whole.
//! Its exact length is known up front, so it goes out with a `Content-Length`.

use std::path::PathBuf;

use base64::Engine as _;
use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt as _};
use tokio::io::AsyncReadExt as _;

use super::wire;

/// A multiple of 3, so that chunks encode to base64 that concatenates without padding.
const CHUNK: usize = 3 * 16 * 1024;

#[derive(Clone)]
pub enum Source {
    Path(PathBuf),
    Bytes(Bytes),
}

#[derive(Clone)]
pub struct File {
    pub name: String,
    pub source: Source,
    pub len: u64,
}

enum Piece {
    Text(Bytes),
    Base64(Source),
}

/// The body and its length in bytes.
pub fn build(head: &wire::EnviarProcesso, files: Vec<File>) -> (reqwest::Body, u64) {
    let head = json(head);
    // `{…}` → `{…,"documentos":[`: the documents go where the closing brace was.
    let open = format!("{},\"documentos\":[", &head[..head.len() - 1]);
    let mut length = open.len() as u64;
    let mut pieces = vec![Piece::Text(open.into())];
    for (i, file) in files.into_iter().enumerate() {
        let header = json(&wire::DocumentoCabecalho {
            ordem_documento: i + 1,
            nome_com_extensao: &file.name,
        });
        let separator = if i == 0 { "" } else { "," };
        let before = format!("{separator}{},\"arquivo\":\"", &header[..header.len() - 1]);
        length += before.len() as u64 + base64_len(file.len) + 2;
        pieces.push(Piece::Text(before.into()));
        pieces.push(Piece::Base64(file.source));
        pieces.push(Piece::Text(Bytes::from_static(b"\"}")));
    }
    pieces.push(Piece::Text(Bytes::from_static(b"]}")));
    length += 2;
    let body = stream::iter(pieces).flat_map(|piece| match piece {
        Piece::Text(text) => stream::once(async move { Ok(text) }).boxed(),
        Piece::Base64(source) => base64_stream(source),
    });
    (reqwest::Body::wrap_stream(body), length)
}

fn base64_len(len: u64) -> u64 {
    len.div_ceil(3) * 4
}

fn encode(chunk: &[u8]) -> Bytes {
    base64::engine::general_purpose::STANDARD.encode(chunk).into()
}

fn base64_stream(source: Source) -> BoxStream<'static, std::io::Result<Bytes>> {
    match source {
        Source::Bytes(bytes) => {
            let chunks: Vec<Bytes> = (0..bytes.len())
                .step_by(CHUNK)
                .map(|i| bytes.slice(i..(i + CHUNK).min(bytes.len())))
                .collect();
            stream::iter(chunks).map(|c| Ok(encode(&c))).boxed()
        }
        Source::Path(path) => stream::unfold(Some((path, None)), |state| async move {
            let (path, file) = state?;
            let mut file = match file {
                Some(f) => f,
                None => match tokio::fs::File::open(&path).await {
                    Ok(f) => f,
                    Err(e) => return Some((Err(e), None)),
                },
            };
            let mut buf = vec![0u8; CHUNK];
            let mut filled = 0;
            // Fill the whole chunk (short reads happen) so only the last one is partial.
            while filled < CHUNK {
                match file.read(&mut buf[filled..]).await {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) => return Some((Err(e), None)),
                }
            }
            match filled {
                0 => None,
                n if n < CHUNK => Some((Ok(encode(&buf[..n])), None)),
                n => Some((Ok(encode(&buf[..n])), Some((path, Some(file))))),
            }
        })
        .boxed(),
    }
}

fn json(value: &impl serde::Serialize) -> String {
    // Plain structs of strings, numbers and booleans: serializing them cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
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
            let source = if i % 2 == 0 {
                let path = dir.path().join(format!("{i}.pdf"));
                std::fs::write(&path, c).unwrap();
                Source::Path(path)
            } else {
                Source::Bytes(Bytes::from(c.clone()))
            };
            files.push(File { name: format!("doc \"{i}\".pdf"), source, len: c.len() as u64 });
        }
        let (body, length) = build(&head(), files);
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
        let files = vec![File {
            name: "a.pdf".into(),
            source: Source::Path("/nonexistent/a.pdf".into()),
            len: 4,
        }];
        let (body, _) = build(&head(), files);
        let stream = http_body_util::BodyDataStream::new(body);
        assert!(stream.try_collect::<Vec<Bytes>>().await.is_err());
    }
}
