//! Response bodies that stream: a direct export produced while the client reads it, and a
//! stored file, whole or one byte range of it.
//!
//! A direct export runs on a blocking thread and writes into a bounded channel of 256 KiB
//! chunks, so a slow client slows the export down (back-pressure) and memory stays flat. When
//! the client goes away the channel closes, the next write fails with `BrokenPipe`, and the
//! export stops and frees its sources. A failure after the first byte can no longer become a
//! problem response: the body is cut short, which tells the client the file is not whole.

use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::{Body, Bytes};
use axum::http::header::{
    ACCEPT_RANGES, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG,
    HeaderValue,
};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use tokio::sync::mpsc;

use super::problem::Problem;
use crate::engine::DirectExport;
use crate::service::ExportDownload;

/// Bytes per chunk sent to the client.
const CHUNK: usize = 256 * 1024;
/// Chunks queued between the export and the client: the most memory a slow client costs.
const QUEUED: usize = 4;

/// `attachment` with an ASCII fallback name and the exact UTF-8 one (RFC 6266).
///
/// # Examples
///
/// ```
/// use export_core::http::content_disposition;
/// assert_eq!(content_disposition("trips.csv"), r#"attachment; filename="trips.csv"; filename*=UTF-8''trips.csv"#);
/// assert_eq!(content_disposition("é\".csv"), r#"attachment; filename="__.csv"; filename*=UTF-8''%C3%A9%22.csv"#);
/// ```
pub fn content_disposition(file_name: &str) -> String {
    let fallback: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = url::form_urlencoded::byte_serialize(file_name.as_bytes())
        .collect::<String>()
        .replace('+', "%20");
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

fn header(value: &str) -> HeaderValue {
    HeaderValue::from_str(value)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"))
}

/// The writer a direct export runs into: chunks on a bounded channel.
struct ChannelWriter {
    tx: mpsc::Sender<io::Result<Bytes>>,
    buf: Vec<u8>,
}

impl ChannelWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.tx.is_closed() {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the client went away",
            ));
        }
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        // Chunks go out when full or at the end: a flush per row would send tiny frames.
        Ok(())
    }
}

/// A response streaming `export` as it runs, with `Content-Disposition` and the export's
/// content type; `cancel` is set when the client goes away before the end.
pub(crate) fn stream_export(export: DirectExport, cancel: Arc<AtomicBool>) -> Response {
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(QUEUED);
    let file_name = export.file_name();
    let content_type = export.content_type();
    let error_tx = tx.clone();
    tokio::task::spawn_blocking(move || {
        let writer = ChannelWriter {
            tx,
            buf: Vec::with_capacity(CHUNK),
        };
        let outcome = export.run(writer).and_then(|(report, mut writer)| {
            writer.send()?;
            Ok(report)
        });
        match outcome {
            Ok(report) => tracing::info!(
                rows = report.rows_written,
                bytes = report.bytes,
                "direct export streamed"
            ),
            Err(e) => {
                tracing::info!(error = %e, "direct export stopped");
                // Cut the body short: the client must not take a partial file as whole.
                let _ = error_tx.blocking_send(Err(io::Error::other(e.to_string())));
            }
        }
    });
    let guard = CancelOnDrop {
        flag: cancel,
        finished: false,
    };
    let stream = futures::stream::unfold((rx, guard), |(mut rx, mut guard)| async move {
        match rx.recv().await {
            Some(item) => {
                let last = item.is_err();
                if last {
                    rx.close();
                }
                Some((item, (rx, guard)))
            }
            None => {
                guard.finish();
                None
            }
        }
    });
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, header(content_type));
    headers.insert(
        CONTENT_DISPOSITION,
        header(&content_disposition(&file_name)),
    );
    (StatusCode::OK, headers, Body::from_stream(stream)).into_response()
}

/// Sets the export's cancel flag if the body is dropped before its end (the client left).
struct CancelOnDrop {
    flag: Arc<AtomicBool>,
    finished: bool,
}

impl CancelOnDrop {
    /// The body reached its end: nothing to cancel.
    fn finish(&mut self) {
        self.finished = true;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if !self.finished {
            self.flag.store(true, Ordering::SeqCst);
        }
    }
}

/// One satisfiable byte range of a file of `size` bytes: `[start, end]` inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ByteRange {
    pub(crate) start: u64,
    pub(crate) end: u64,
}

/// What a `Range` header asks of a file of `size` bytes: `Ok(None)` for the whole file (no
/// header, another unit, several ranges: served whole, as RFC 9110 allows), `Err` when the
/// one range asked lies outside the file.
pub(crate) fn parse_range(value: &str, size: u64) -> Result<Option<ByteRange>, ()> {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Ok(None);
    };
    let (first, last) = (first.trim(), last.trim());
    let range = if first.is_empty() {
        // The last `n` bytes.
        let n: u64 = last.parse().map_err(|_| ())?;
        if n == 0 || size == 0 {
            return Err(());
        }
        ByteRange {
            start: size.saturating_sub(n),
            end: size - 1,
        }
    } else {
        let start: u64 = first.parse().map_err(|_| ())?;
        let end = if last.is_empty() {
            size.saturating_sub(1)
        } else {
            let end: u64 = last.parse().map_err(|_| ())?;
            if end < start {
                return Err(());
            }
            end.min(size.saturating_sub(1))
        };
        if start >= size {
            return Err(());
        }
        ByteRange { start, end }
    };
    Ok(Some(range))
}

/// Keeps bytes `[start, start + len)` of a stream of chunks.
fn slice<S>(stream: S, start: u64, len: u64) -> impl Stream<Item = io::Result<Bytes>> + Send
where
    S: Stream<Item = crate::Result<Bytes>> + Send + Unpin + 'static,
{
    futures::stream::unfold(
        (stream, 0u64, 0u64),
        move |(mut stream, mut offset, mut sent)| async move {
            while sent < len {
                let chunk = match stream.next().await? {
                    Ok(chunk) => chunk,
                    Err(e) => {
                        return Some((Err(io::Error::other(e.to_string())), (stream, offset, len)));
                    }
                };
                let (lo, hi) = (offset, offset + chunk.len() as u64);
                offset = hi;
                if hi <= start {
                    continue;
                }
                let from = start.saturating_sub(lo) as usize;
                let want = (len - sent) as usize;
                let piece = chunk.slice(from..(from + want).min(chunk.len()));
                sent += piece.len() as u64;
                return Some((Ok(piece), (stream, offset, sent)));
            }
            None
        },
    )
}

/// A response with a stored file: `200` whole, `206` for one satisfiable `Range` (unless an
/// `If-Range` names another version), `416` for an unsatisfiable one.
pub(crate) fn download_response(
    download: ExportDownload,
    range: Option<&str>,
    if_range: Option<&str>,
    head: bool,
) -> Response {
    let size = download.size;
    let etag = format!("\"{}\"", download.sha256);
    let range = match (range, if_range) {
        (Some(_), Some(tag)) if tag.trim() != etag => None,
        (Some(value), _) => match parse_range(value, size) {
            Ok(r) => r,
            Err(()) => {
                return Problem::new(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    "RANGE_NOT_SATISFIABLE",
                    format!("the file has {size} bytes"),
                )
                .header(CONTENT_RANGE, &format!("bytes */{size}"))
                .into_response();
            }
        },
        (None, _) => None,
    };
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, header(&download.content_type));
    headers.insert(
        CONTENT_DISPOSITION,
        header(&content_disposition(&download.file_name)),
    );
    headers.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(ETAG, header(&etag));
    headers.insert("x-export-rows", header(&download.rows.to_string()));
    headers.insert("x-export-sha256", header(&download.sha256));
    let (status, start, len) = match range {
        Some(r) => {
            headers.insert(
                CONTENT_RANGE,
                header(&format!("bytes {}-{}/{size}", r.start, r.end)),
            );
            (StatusCode::PARTIAL_CONTENT, r.start, r.end - r.start + 1)
        }
        None => (StatusCode::OK, 0, size),
    };
    headers.insert(CONTENT_LENGTH, header(&len.to_string()));
    if head {
        return (status, headers).into_response();
    }
    let stream = download.reader.into_async_stream();
    (
        status,
        headers,
        Body::from_stream(slice(stream, start, len)),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let r = |v| parse_range(v, 100);
        assert_eq!(r("bytes=0-9"), Ok(Some(ByteRange { start: 0, end: 9 })));
        assert_eq!(r("bytes=90-"), Ok(Some(ByteRange { start: 90, end: 99 })));
        assert_eq!(r("bytes=-10"), Ok(Some(ByteRange { start: 90, end: 99 })));
        assert_eq!(r("bytes=-1000"), Ok(Some(ByteRange { start: 0, end: 99 })));
        assert_eq!(
            r("bytes=50-5000"),
            Ok(Some(ByteRange { start: 50, end: 99 }))
        );
        assert_eq!(r("bytes=100-"), Err(()));
        assert_eq!(r("bytes=9-3"), Err(()));
        assert_eq!(r("bytes=-0"), Err(()));
        assert_eq!(r("bytes=x-3"), Err(()));
        assert_eq!(r("items=0-3"), Ok(None));
        assert_eq!(r("bytes=0-1,5-6"), Ok(None));
        assert_eq!(parse_range("bytes=0-", 0), Err(()));
    }

    #[tokio::test]
    async fn slices_cross_chunk_bounds() {
        let data: Vec<u8> = (0..=255u8).collect();
        for (start, len) in [(0, 256), (0, 1), (10, 100), (255, 1), (63, 2), (64, 64)] {
            let chunks: Vec<crate::Result<Bytes>> = data
                .chunks(64)
                .map(|c| Ok(Bytes::copy_from_slice(c)))
                .collect();
            let got: Vec<u8> = slice(futures::stream::iter(chunks), start, len)
                .map(|c| c.unwrap().to_vec())
                .concat()
                .await;
            assert_eq!(
                got,
                &data[start as usize..(start + len) as usize],
                "{start}+{len}"
            );
        }
    }
}
