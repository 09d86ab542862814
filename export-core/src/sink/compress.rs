//! Compression wrapped around a sink's output: none, gzip, or a zip archive holding one entry.
//!
//! [`CompressedWriter`] is an [`io::Write`] that any sink (CSV, JSON) or the pipeline puts between
//! its formatted bytes and the final output. It streams: nothing is held back beyond the
//! compressor's own window, and zip archives are written in streaming mode (a data descriptor
//! after the entry, no seeking), so the output may be a pipe, an HTTP body or an object-store
//! upload.
//!
//! Call [`CompressedWriter::finish`] once at the end: it writes the gzip trailer or the zip
//! central directory and hands the inner writer back. A writer dropped without `finish` (an
//! export that failed or was cancelled) writes nothing more: the stream stays truncated, without
//! trailer or directory, so that a reader (an HTTP client, say) sees a broken file rather than a
//! complete-looking one with missing rows.

use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use flate2::GzBuilder;
use flate2::write::GzEncoder;
use zip::write::{SimpleFileOptions, StreamWriter};
use zip::{CompressionMethod, ZipWriter};

use crate::request::Compression;

/// An [`io::Write`] that compresses what it is given according to a [`Compression`].
///
/// - [`Compression::None`]: bytes pass through unchanged.
/// - [`Compression::Gzip`]: a gzip stream (flate2, default level 6); the entry name, when not
///   empty, is stored as the gzip header's original file name.
/// - [`Compression::Zip`]: a zip archive with a single deflated entry of the given name, written
///   in streaming mode (sizes and CRC in a data descriptor after the data). The entry's
///   modification time is the current UTC time.
///
/// Without zip64 (the default, readable by every unzip tool), a zip entry is limited to 4 GiB;
/// writing more fails with an [`io::Error`]. Use [`CompressedWriter::zip`] with `zip64 = true`
/// for larger outputs.
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use export_core::request::Compression;
/// use export_core::sink::compress::CompressedWriter;
///
/// let mut w = CompressedWriter::new(Vec::new(), Compression::Gzip, "data.csv")?;
/// w.write_all(b"a,b\n1,2\n")?;
/// let gz: Vec<u8> = w.finish()?;
///
/// let mut text = String::new();
/// flate2::read::GzDecoder::new(&gz[..]).read_to_string(&mut text)?;
/// assert_eq!(text, "a,b\n1,2\n");
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct CompressedWriter<W: Write> {
    /// `None` only once `finish` has taken it.
    inner: Option<Inner<W>>,
    /// Set on drop: the encoders' own drop-time finalisation then goes nowhere.
    abandoned: Arc<AtomicBool>,
}

enum Inner<W: Write> {
    Plain(W),
    Gzip(GzEncoder<Gate<W>>),
    Zip(Box<ZipWriter<StreamWriter<Gate<W>>>>),
}

/// Passes writes through until the [`CompressedWriter`] is dropped unfinished; then discards
/// them. flate2 and zip both finalise their stream when dropped, which would make an abandoned
/// export look complete (and zip reports a failure on stderr).
struct Gate<W> {
    inner: W,
    abandoned: Arc<AtomicBool>,
}

impl<W: Write> Write for Gate<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.abandoned.load(Ordering::Relaxed) {
            return Ok(buf.len());
        }
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        if self.abandoned.load(Ordering::Relaxed) {
            return Ok(());
        }
        self.inner.flush()
    }
}

impl<W: Write> Drop for CompressedWriter<W> {
    fn drop(&mut self) {
        self.abandoned.store(true, Ordering::Relaxed);
    }
}

fn finished() -> io::Error {
    io::Error::other("the compressed stream is already finished")
}

impl<W: Write> std::fmt::Debug for CompressedWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompressedWriter")
            .field("compression", &self.compression())
            .finish_non_exhaustive()
    }
}

impl<W: Write> CompressedWriter<W> {
    /// Wraps `inner` with `compression`; `entry_name` names the zip entry (and the gzip header's
    /// file name; ignored without compression). Zip entries are written without zip64.
    ///
    /// # Errors
    ///
    /// For zip, an [`io::Error`] when the entry name is empty or writing the entry's local
    /// header to `inner` fails.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    /// use export_core::request::Compression;
    /// use export_core::sink::compress::CompressedWriter;
    ///
    /// let mut w = CompressedWriter::new(Vec::new(), Compression::None, "ignored.csv")?;
    /// w.write_all(b"plain")?;
    /// assert_eq!(w.finish()?, b"plain");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(inner: W, compression: Compression, entry_name: &str) -> io::Result<Self> {
        match compression {
            Compression::None => Ok(Self::plain(inner)),
            Compression::Gzip => Ok(Self::gzip(inner, entry_name)),
            Compression::Zip => Self::zip(inner, entry_name, false),
        }
    }

    /// Passes bytes through unchanged.
    pub fn plain(inner: W) -> Self {
        Self::wrap(|_| Inner::Plain(inner))
    }

    fn wrap(make: impl FnOnce(&Arc<AtomicBool>) -> Inner<W>) -> Self {
        let abandoned = Arc::new(AtomicBool::new(false));
        CompressedWriter {
            inner: Some(make(&abandoned)),
            abandoned,
        }
    }

    fn gate(inner: W, abandoned: &Arc<AtomicBool>) -> Gate<W> {
        Gate {
            inner,
            abandoned: Arc::clone(abandoned),
        }
    }

    /// A gzip stream at the default level; `file_name`, when not empty, is stored in the header
    /// (what `gunzip -N` restores).
    pub fn gzip(inner: W, file_name: &str) -> Self {
        let mut builder = GzBuilder::new();
        if !file_name.is_empty() {
            builder = builder.filename(file_name.as_bytes());
        }
        Self::wrap(|abandoned| {
            Inner::Gzip(builder.write(Self::gate(inner, abandoned), flate2::Compression::default()))
        })
    }

    /// A zip archive holding one deflated entry named `entry_name`, written in streaming mode.
    /// With `zip64`, the entry may exceed 4 GiB (readers then need zip64 support, which every
    /// current tool has); without it, such an entry fails when it passes 4 GiB.
    ///
    /// # Errors
    ///
    /// An [`io::Error`] of kind `InvalidInput` when `entry_name` is empty, or the error of
    /// writing the entry's local header to `inner`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{Cursor, Read, Write};
    /// use export_core::sink::compress::CompressedWriter;
    ///
    /// let mut w = CompressedWriter::zip(Vec::new(), "trips.csv", false)?;
    /// w.write_all(b"a;b\n")?;
    /// let bytes = w.finish()?;
    ///
    /// let mut archive = zip::ZipArchive::new(Cursor::new(bytes))?;
    /// let mut text = String::new();
    /// archive.by_name("trips.csv")?.read_to_string(&mut text)?;
    /// assert_eq!(text, "a;b\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn zip(inner: W, entry_name: &str, zip64: bool) -> io::Result<Self> {
        if entry_name.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a zip entry needs a name",
            ));
        }
        let mut options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .unix_permissions(0o644)
            .large_file(zip64);
        if let Some(now) = zip_now() {
            options = options.last_modified_time(now);
        }
        let abandoned = Arc::new(AtomicBool::new(false));
        let mut zip = ZipWriter::new_stream(Self::gate(inner, &abandoned));
        if let Err(err) = zip.start_file(entry_name, options) {
            abandoned.store(true, Ordering::Relaxed);
            return Err(io::Error::from(err));
        }
        Ok(CompressedWriter {
            inner: Some(Inner::Zip(Box::new(zip))),
            abandoned,
        })
    }

    /// The compression this writer applies.
    pub fn compression(&self) -> Compression {
        match self.inner {
            Some(Inner::Gzip(_)) => Compression::Gzip,
            Some(Inner::Zip(_)) => Compression::Zip,
            Some(Inner::Plain(_)) | None => Compression::None,
        }
    }

    /// Completes the stream (gzip trailer, zip data descriptor and central directory), flushes,
    /// and returns the inner writer.
    ///
    /// # Errors
    ///
    /// The [`io::Error`] of the final writes or flush (zip errors are converted to `io::Error`).
    pub fn finish(mut self) -> io::Result<W> {
        let mut inner = match self.inner.take().ok_or_else(finished)? {
            Inner::Plain(w) => w,
            Inner::Gzip(gz) => gz.finish()?.inner,
            Inner::Zip(zip) => zip.finish().map_err(io::Error::from)?.into_inner().inner,
        };
        inner.flush()?;
        Ok(inner)
    }
}

impl<W: Write> Write for CompressedWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.inner.as_mut().ok_or_else(finished)? {
            Inner::Plain(w) => w.write(buf),
            Inner::Gzip(w) => w.write(buf),
            Inner::Zip(w) => w.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self.inner.as_mut().ok_or_else(finished)? {
            Inner::Plain(w) => w.write_all(buf),
            Inner::Gzip(w) => w.write_all(buf),
            Inner::Zip(w) => w.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.inner.as_mut().ok_or_else(finished)? {
            Inner::Plain(w) => w.flush(),
            Inner::Gzip(w) => w.flush(),
            Inner::Zip(w) => w.flush(),
        }
    }
}

/// The current UTC time as a zip (DOS) timestamp, when it is representable (1980..=2107).
fn zip_now() -> Option<zip::DateTime> {
    use chrono::{Datelike, Timelike};
    let now = chrono::Utc::now().naive_utc();
    zip::DateTime::from_date_and_time(
        u16::try_from(now.year()).ok()?,
        now.month() as u8,
        now.day() as u8,
        now.hour() as u8,
        now.minute() as u8,
        now.second() as u8,
    )
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn empty_zip_entry_name_is_rejected() {
        let err = CompressedWriter::zip(Vec::new(), "", false).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn gzip_round_trip_and_name() {
        let mut w = CompressedWriter::new(Vec::new(), Compression::Gzip, "x.csv").unwrap();
        assert_eq!(w.compression(), Compression::Gzip);
        w.write_all(b"hello").unwrap();
        let bytes = w.finish().unwrap();
        let mut d = flate2::read::GzDecoder::new(&bytes[..]);
        let mut s = String::new();
        d.read_to_string(&mut s).unwrap();
        assert_eq!(s, "hello");
        assert_eq!(d.header().and_then(|h| h.filename()), Some(&b"x.csv"[..]));
    }

    #[test]
    fn dropped_unfinished_streams_are_left_truncated() {
        for compression in [Compression::Gzip, Compression::Zip] {
            let mut out = Vec::new();
            {
                let mut w = CompressedWriter::new(&mut out, compression, "x.csv").unwrap();
                w.write_all(&[b'x'; 1000]).unwrap();
            }
            let len = out.len();
            let mut text = Vec::new();
            let complete = match compression {
                Compression::Gzip => flate2::read::GzDecoder::new(&out[..])
                    .read_to_end(&mut text)
                    .is_ok(),
                _ => zip::ZipArchive::new(io::Cursor::new(out)).is_ok(),
            };
            assert!(!complete, "{compression:?}: {len} bytes read as complete");
        }
    }

    #[test]
    fn zip64_entry_reads_back() {
        let mut w = CompressedWriter::zip(Vec::new(), "big.csv", true).unwrap();
        w.write_all(b"data").unwrap();
        let bytes = w.finish().unwrap();
        let mut archive = zip::ZipArchive::new(io::Cursor::new(bytes)).unwrap();
        assert_eq!(archive.len(), 1);
        let mut s = String::new();
        archive.by_index(0).unwrap().read_to_string(&mut s).unwrap();
        assert_eq!(s, "data");
    }
}
