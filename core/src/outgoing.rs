//! Documents as a provider's `send` receives them: checked before any request, with their size
//! and first bytes read once, and their content streamed from there (a file is opened anew for
//! each attempt and read in large chunks; bytes in memory are shared, never copied).

use std::path::PathBuf;

use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt as _};
use tokio::io::AsyncReadExt as _;

use crate::model::DocumentContent;

/// Reads of this size keep an upload near the disk's and the socket's speed (a 4 KiB read per
/// chunk costs a wake-up and a syscall for every 4 KiB).
pub const READ_CHUNK: usize = 64 * 1024;

/// How many leading bytes are kept to recognise a file's type.
pub const HEAD_BYTES: usize = 8;

/// One document of an envelope being sent.
#[derive(Clone)]
pub struct OutgoingDocument {
    /// Its position in `Envelope::documents`, for error fields (`documents[2].content`).
    pub index: usize,
    /// The file name shown to the parties, with its extension.
    pub name: String,
    pub media_type: String,
    /// Size in bytes.
    pub len: u64,
    /// The first bytes (fewer when the file is shorter).
    pub head: Vec<u8>,
    pub content: DocumentContent,
}

impl std::fmt::Debug for OutgoingDocument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutgoingDocument")
            .field("index", &self.index)
            .field("name", &self.name)
            .field("len", &self.len)
            .field("content", &self.content)
            .finish()
    }
}

impl OutgoingDocument {
    /// The field of an error about this document's content.
    pub fn field(&self) -> String {
        format!("documents[{}].content", self.index)
    }

    /// Whether the content starts with `magic`.
    pub fn starts_with(&self, magic: &[u8]) -> bool {
        self.head.starts_with(magic)
    }

    /// The content as a request body of known length.
    pub fn body(&self) -> reqwest::Body {
        match &self.content {
            DocumentContent::Bytes(bytes) => reqwest::Body::from(bytes.clone()),
            DocumentContent::Path(_) => reqwest::Body::wrap_stream(self.chunks(READ_CHUNK)),
        }
    }

    /// The content in chunks of exactly `size` bytes, but the last one. A file is opened when
    /// the stream is first polled; an I/O error ends the stream with that error.
    pub fn chunks(&self, size: usize) -> BoxStream<'static, std::io::Result<Bytes>> {
        match &self.content {
            DocumentContent::Bytes(bytes) => {
                let bytes = bytes.clone();
                let chunks: Vec<Bytes> = (0..bytes.len())
                    .step_by(size)
                    .map(|i| bytes.slice(i..(i + size).min(bytes.len())))
                    .collect();
                stream::iter(chunks).map(Ok).boxed()
            }
            DocumentContent::Path(path) => file_chunks(path.clone(), size),
        }
    }

    /// The whole content in memory, for providers that must hand it over in one piece.
    pub async fn bytes(&self) -> std::io::Result<Bytes> {
        match &self.content {
            DocumentContent::Bytes(bytes) => Ok(bytes.clone()),
            DocumentContent::Path(path) => tokio::fs::read(path).await.map(Bytes::from),
        }
    }
}

fn file_chunks(path: PathBuf, size: usize) -> BoxStream<'static, std::io::Result<Bytes>> {
    stream::unfold(Some((path, None)), move |state| async move {
        let (path, file) = state?;
        let mut file = match file {
            Some(f) => f,
            None => match tokio::fs::File::open(&path).await {
                Ok(f) => f,
                Err(e) => return Some((Err(e), None)),
            },
        };
        let mut buf = vec![0u8; size];
        let mut filled = 0;
        // Fill the whole chunk (short reads happen) so that only the last one is partial.
        while filled < size {
            match file.read(&mut buf[filled..]).await {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) => return Some((Err(e), None)),
            }
        }
        buf.truncate(filled);
        match filled {
            0 => None,
            n if n < size => Some((Ok(Bytes::from(buf)), None)),
            _ => Some((Ok(Bytes::from(buf)), Some((path, Some(file))))),
        }
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt as _;

    fn document(content: DocumentContent, len: u64) -> OutgoingDocument {
        OutgoingDocument {
            index: 0,
            name: "a.pdf".into(),
            media_type: "application/pdf".into(),
            len,
            head: Vec::new(),
            content,
        }
    }

    #[tokio::test]
    async fn bytes_and_files_give_the_same_full_chunks() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.pdf");
        std::fs::write(&path, &data).unwrap();
        for content in [DocumentContent::Bytes(data.clone().into()), DocumentContent::Path(path)] {
            let doc = document(content, data.len() as u64);
            let chunks: Vec<Bytes> = doc.chunks(3000).try_collect().await.unwrap();
            let sizes: Vec<usize> = chunks.iter().map(Bytes::len).collect();
            assert_eq!(sizes, [3000, 3000, 3000, 1000]);
            assert_eq!(chunks.concat(), data);
            assert_eq!(doc.bytes().await.unwrap(), data);
        }
    }

    #[tokio::test]
    async fn a_missing_file_ends_the_stream_with_its_error() {
        let doc = document(DocumentContent::Path("/nonexistent/signbridge.pdf".into()), 1);
        let err = doc.chunks(READ_CHUNK).try_collect::<Vec<Bytes>>().await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    }
}
