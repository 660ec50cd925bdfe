//! Every download is checked to be the kind of file asked for before its bytes reach the host:
//! a provider that answers an error page, a JSON error or an empty body with a success status
//! must not leave that behind as the "signed contract".

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::AsyncWrite;

use crate::error::{Error, ErrorKind};
use crate::model::DownloadKind;
use crate::provider::Sink;

/// Enough leading bytes to tell the formats below apart.
const HEAD: usize = 8;

/// A file format recognised by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Pdf,
    /// ZIP, and so DOCX/XLSX too.
    Zip,
    /// The OLE compound file of DOC/XLS.
    Ole,
}

impl Format {
    fn of(head: &[u8]) -> Option<Format> {
        if head.starts_with(b"%PDF-") {
            Some(Format::Pdf)
        } else if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
            Some(Format::Zip)
        } else if head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
            Some(Format::Ole)
        } else {
            None
        }
    }
}

/// Whether `bytes` start as a ZIP archive does.
pub(crate) fn is_zip(bytes: &[u8]) -> bool {
    Format::of(bytes) == Some(Format::Zip)
}

/// Checks a file held whole (one the SDK puts into an archive it builds) as [`Checked`] checks
/// a streamed one.
pub(crate) fn check(provider: &'static str, kind: DownloadKind, bytes: &[u8]) -> Result<(), Error> {
    match Format::of(bytes) {
        Some(format) if accepted(kind).contains(&format) => Ok(()),
        _ => Err(Checked::refuse(provider, kind, &bytes[..bytes.len().min(HEAD)])),
    }
}

/// What each kind may be. Several documents come zipped, so every kind may be a ZIP.
fn accepted(kind: DownloadKind) -> &'static [Format] {
    match kind {
        DownloadKind::Original => &[Format::Pdf, Format::Zip, Format::Ole],
        DownloadKind::Signed | DownloadKind::DigitallySigned | DownloadKind::Evidence => {
            &[Format::Pdf, Format::Zip]
        }
        DownloadKind::Archive => &[Format::Zip],
    }
}

enum State {
    /// Holding the first bytes until the format can be told.
    Head(Vec<u8>),
    /// Accepted: writing the held bytes through, from this offset.
    Release(Vec<u8>, usize),
    /// Everything after the head goes straight through.
    Through,
}

/// A sink that lets bytes through only once their first bytes show the kind asked for.
pub struct Checked<'a> {
    inner: Sink<'a>,
    provider: &'static str,
    kind: DownloadKind,
    state: State,
}

impl<'a> Checked<'a> {
    pub fn new(inner: Sink<'a>, provider: &'static str, kind: DownloadKind) -> Checked<'a> {
        Checked { inner, provider, kind, state: State::Head(Vec::with_capacity(HEAD)) }
    }

    /// The error of a body that is not the kind asked for, with a short excerpt of it.
    fn refuse(provider: &'static str, kind: DownloadKind, head: &[u8]) -> Error {
        let what = if head.is_empty() {
            "the file is empty".to_string()
        } else {
            let shown: String = String::from_utf8_lossy(head)
                .chars()
                .map(|c| if c.is_control() { '.' } else { c })
                .collect();
            format!("the file does not look like one: it starts with {shown:?}")
        };
        Error::new(
            ErrorKind::Provider,
            format!("download: {provider} answered a {kind} download, but {what}"),
        )
        .with_context("provider", provider)
    }

    /// Decides on the head: moves to releasing it, or fails.
    fn decide(&mut self) -> io::Result<()> {
        let State::Head(head) = &mut self.state else { return Ok(()) };
        match Format::of(head) {
            Some(format) if accepted(self.kind).contains(&format) => {
                self.state = State::Release(std::mem::take(head), 0);
                Ok(())
            }
            _ => Err(io::Error::other(Self::refuse(self.provider, self.kind, head))),
        }
    }

    fn poll_release(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let State::Release(held, at) = &mut self.state {
            if *at == held.len() {
                self.state = State::Through;
                break;
            }
            let n = ready!(Pin::new(&mut *self.inner).poll_write(cx, &held[*at..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *at += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Checked<'_> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let State::Head(head) = &mut this.state {
            let take = (HEAD - head.len()).min(buf.len());
            head.extend_from_slice(&buf[..take]);
            if head.len() < HEAD {
                return Poll::Ready(Ok(take));
            }
            this.decide()?;
            // The bytes taken are held; they go out with the next call.
            if take > 0 {
                return Poll::Ready(Ok(take));
            }
        }
        ready!(this.poll_release(cx))?;
        Pin::new(&mut *this.inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // The end of a short file: what was held is all there is.
        this.decide()?;
        ready!(this.poll_release(cx))?;
        Pin::new(&mut *this.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.as_mut().poll_flush(cx))?;
        Pin::new(&mut *self.get_mut().inner).poll_shutdown(cx)
    }
}

/// The signbridge error a sink's I/O error carries, if it is a refusal of [`Checked`];
/// otherwise a write failure.
pub fn sink_error(e: io::Error) -> Error {
    match e.into_inner().map(|inner| inner.downcast::<Error>()) {
        Some(Ok(refused)) => *refused,
        Some(Err(other)) => {
            Error::new(ErrorKind::Internal, format!("writing the download: {other}"))
        }
        None => Error::new(ErrorKind::Internal, "writing the download failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt as _;

    async fn through(kind: DownloadKind, pieces: &[&[u8]]) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        let mut sink = Checked::new(&mut out, "p", kind);
        for piece in pieces {
            sink.write_all(piece).await.map_err(sink_error)?;
        }
        sink.flush().await.map_err(sink_error)?;
        Ok(out)
    }

    #[tokio::test]
    async fn the_right_kind_passes_whole_however_it_is_cut() {
        let pdf: &[u8] = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF";
        for cut in 0..pdf.len() {
            let (a, b) = pdf.split_at(cut);
            assert_eq!(through(DownloadKind::Signed, &[a, b]).await.unwrap(), pdf, "cut {cut}");
        }
        let zip: &[u8] = b"PK\x03\x04rest of the archive";
        assert_eq!(through(DownloadKind::Archive, &[zip]).await.unwrap(), zip);
        assert_eq!(through(DownloadKind::Signed, &[zip]).await.unwrap(), zip, "several, zipped");
    }

    #[tokio::test]
    async fn error_bodies_empty_files_and_wrong_kinds_are_refused() {
        for (kind, body) in [
            (DownloadKind::Signed, &b"{\"success\":false,\"message\":\"erro\"}"[..]),
            (DownloadKind::Signed, b"<html><body>502 Bad Gateway</body></html>"),
            (DownloadKind::Signed, b"{}"),
            (DownloadKind::Signed, b""),
            (DownloadKind::Archive, b"%PDF-1.4 not a zip"),
        ] {
            let err = through(kind, &[body]).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Provider, "{err}");
            assert!(err.to_string().contains(kind.as_str()), "{err}");
        }
    }
}
