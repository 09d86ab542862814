//! Arrow IPC input: files written by pyarrow, polars, DuckDB or arrow-rs, and a temporary spool.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use arrow_ipc::reader::{FileReader, StreamReader};
use arrow_ipc::writer::FileWriter;
use arrow_schema::{ArrowError, SchemaRef};

use crate::error::{ExportError, Result};
use crate::source::Source;
use crate::source::iter::conform;

/// The magic bytes at the start and end of an Arrow IPC file.
const ARROW_MAGIC: &[u8; 6] = b"ARROW1";

enum Reader {
    File(FileReader<BufReader<Box<dyn Input>>>),
    Stream(StreamReader<BufReader<Box<dyn Input>>>),
}

/// What an [`IpcSource`] reads from: a file, or bytes in memory.
trait Input: Read + Seek + Send {}

impl<T: Read + Seek + Send> Input for T {}

/// A [`Source`] reading an Arrow IPC file, in the file or the stream format.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{Int64Array, RecordBatch};
/// use arrow_ipc::writer::FileWriter;
/// use export_core::source::{Source, IpcSource};
///
/// let batch = RecordBatch::try_from_iter([
///     ("n", Arc::new(Int64Array::from(vec![1, 2, 3])) as _),
/// ]).unwrap();
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("trips.arrow");
/// let mut writer = FileWriter::try_new(std::fs::File::create(&path).unwrap(), &batch.schema()).unwrap();
/// writer.write(&batch).unwrap();
/// writer.finish().unwrap();
///
/// let mut source = IpcSource::open(&path).unwrap();
/// assert_eq!(source.rows_hint(), Some(3)); // from the file's footer
/// assert_eq!(source.next_batch().unwrap().unwrap().num_rows(), 3);
/// assert!(source.next_batch().unwrap().is_none());
/// ```
///
/// [`IpcSource`] reads both IPC formats: the **file** format (`.arrow`, Feather v2; it starts
/// with the `ARROW1` magic and ends with a footer indexing the batches) and the **stream**
/// format (`.arrows`; a schema message then batch messages, no footer). Either way batches are
/// decoded one at a time, so memory holds one batch, not the file.
///
/// [`IpcSpool`] is a temporary IPC file the pipeline writes batches into and reads back in the
/// same order: the opendata rare-zone rule needs a first pass over the period (counting trips
/// per zone) before the second pass writes the file, and a source such as a database cursor or
/// a channel cannot be replayed. The spool lives on disk (an unnamed temporary file removed when
/// dropped), so memory stays bounded whatever the row count.
pub struct IpcSource {
    name: String,
    reader: Reader,
    schema: SchemaRef,
    rows_hint: Option<u64>,
}

impl std::fmt::Debug for IpcSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IpcSource")
            .field("name", &self.name)
            .field("format", &self.format())
            .field("rows_hint", &self.rows_hint)
            .finish_non_exhaustive()
    }
}

impl IpcSource {
    /// Opens an Arrow IPC file; the format (file or stream) is detected from the `ARROW1` magic.
    ///
    /// The rows hint is read from the footer of the file format (one small read per batch);
    /// the stream format has no footer, so no hint.
    ///
    /// # Errors
    ///
    /// - [`ExportError::Io`] with the path when the file cannot be opened or read;
    /// - [`ExportError::InvalidInput`] naming the path when it does not exist, is empty or is
    ///   not Arrow IPC.
    pub fn open(path: impl AsRef<Path>) -> Result<IpcSource> {
        let path = path.as_ref();
        let file = super::open_input_file(path)?;
        Self::from_input(Box::new(file), path, path.display().to_string())
    }

    /// Reads Arrow IPC bytes already in memory (a binding's `Buffer`, an HTTP body), in either
    /// format; `name` names them in errors.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidInput`] naming `name` when the bytes are empty or not Arrow IPC.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow_array::{Int64Array, RecordBatch};
    /// use arrow_ipc::writer::StreamWriter;
    /// use export_core::source::{IpcSource, Source};
    ///
    /// let batch = RecordBatch::try_from_iter([("n", Arc::new(Int64Array::from(vec![1, 2])) as _)])?;
    /// let mut writer = StreamWriter::try_new(Vec::new(), &batch.schema())?;
    /// writer.write(&batch)?;
    /// let bytes = writer.into_inner()?;
    /// let mut source = IpcSource::from_bytes("upload", bytes)?;
    /// assert_eq!(source.format(), "stream");
    /// assert_eq!(source.next_batch()?.unwrap().num_rows(), 2);
    /// assert!(IpcSource::from_bytes("upload", b"not arrow".to_vec()).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_bytes(name: impl Into<String>, bytes: Vec<u8>) -> Result<IpcSource> {
        let name = name.into();
        Self::from_input(
            Box::new(std::io::Cursor::new(bytes)),
            Path::new(&name.clone()),
            name,
        )
    }

    /// Builds the source from an input positioned anywhere.
    fn from_input(mut file: Box<dyn Input>, path: &Path, name: String) -> Result<IpcSource> {
        let invalid = |reason: String| ExportError::InvalidInput {
            source_name: name.clone(),
            line: None,
            reason,
        };
        let len = file
            .seek(SeekFrom::End(0))
            .map_err(|e| ExportError::io(path, e))?;
        if len == 0 {
            return Err(invalid("empty input, expected Arrow IPC".into()));
        }
        file.seek(SeekFrom::Start(0))
            .map_err(|e| ExportError::io(path, e))?;
        let mut magic = [0u8; 6];
        let is_file_format = len >= 6 && {
            file.read_exact(&mut magic)
                .map_err(|e| ExportError::io(path, e))?;
            &magic == ARROW_MAGIC
        };
        let rows_hint = if is_file_format {
            footer_row_count(file.as_mut())
        } else {
            None
        };
        file.seek(SeekFrom::Start(0))
            .map_err(|e| ExportError::io(path, e))?;
        let buffered = BufReader::new(file);
        let map = |e: ArrowError| arrow_error(&name, path, e);
        let reader = if is_file_format {
            Reader::File(FileReader::try_new(buffered, None).map_err(map)?)
        } else {
            Reader::Stream(StreamReader::try_new(buffered, None).map_err(map)?)
        };
        let schema = match &reader {
            Reader::File(r) => r.schema(),
            Reader::Stream(r) => r.schema(),
        };
        Ok(IpcSource {
            name,
            reader,
            schema,
            rows_hint,
        })
    }

    /// `"file"` or `"stream"`: the IPC format detected.
    pub fn format(&self) -> &'static str {
        match self.reader {
            Reader::File(_) => "file",
            Reader::Stream(_) => "stream",
        }
    }
}

impl Source for IpcSource {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// # Errors
    ///
    /// [`ExportError::InvalidInput`] naming the file when a batch cannot be decoded (truncated
    /// or corrupt file); [`ExportError::Io`] with the path when reading fails.
    fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        let next = match &mut self.reader {
            Reader::File(r) => r.next(),
            Reader::Stream(r) => r.next(),
        };
        match next {
            None => Ok(None),
            Some(Ok(batch)) => Ok(Some(conform(&self.schema, &batch, &self.name)?)),
            Some(Err(e)) => Err(arrow_error(&self.name, Path::new(&self.name), e)),
        }
    }

    fn rows_hint(&self) -> Option<u64> {
        self.rows_hint
    }
}

/// Maps an arrow-ipc error: I/O failures keep their kind and the path, the rest are invalid
/// input naming the file.
fn arrow_error(name: &str, path: &Path, error: ArrowError) -> ExportError {
    match error {
        ArrowError::IoError(_, source) => ExportError::io(path, source),
        other => ExportError::InvalidInput {
            source_name: name.to_string(),
            line: None,
            reason: format!("not a readable Arrow IPC file: {other}"),
        },
    }
}

/// Sums the row counts of the record batches listed in an IPC file's footer, reading only each
/// batch's metadata. `None` when anything looks wrong (the reader then reports the real error).
fn footer_row_count(file: &mut dyn Input) -> Option<u64> {
    let len = file.seek(SeekFrom::End(0)).ok()?;
    if len < 6 + 10 {
        return None;
    }
    file.seek(SeekFrom::End(-10)).ok()?;
    let mut tail = [0u8; 10];
    file.read_exact(&mut tail).ok()?;
    let footer_len = arrow_ipc::reader::read_footer_length(tail).ok()? as u64;
    if footer_len + 10 > len {
        return None;
    }
    file.seek(SeekFrom::End(-10 - footer_len as i64)).ok()?;
    let mut footer_bytes = vec![0u8; footer_len as usize];
    file.read_exact(&mut footer_bytes).ok()?;
    let footer = arrow_ipc::root_as_footer(&footer_bytes).ok()?;
    let mut rows = 0u64;
    let mut meta = Vec::new();
    for block in footer.recordBatches()?.iter() {
        let meta_len = usize::try_from(block.metaDataLength()).ok()?;
        let offset = u64::try_from(block.offset()).ok()?;
        if meta_len < 8 || offset + meta_len as u64 > len {
            return None;
        }
        file.seek(SeekFrom::Start(offset)).ok()?;
        meta.resize(meta_len, 0);
        file.read_exact(&mut meta).ok()?;
        // A message is `0xFFFFFFFF`, a 4-byte length, then the flatbuffer (older writers omit
        // the continuation marker).
        let start = if meta[..4] == [0xFF; 4] { 8 } else { 4 };
        let message = arrow_ipc::root_as_message(&meta[start..]).ok()?;
        rows += u64::try_from(message.header_as_record_batch()?.length()).ok()?;
    }
    Some(rows)
}

/// A temporary Arrow IPC file that batches are pushed into, then read back in order.
///
/// Memory stays bounded: batches go to an unnamed temporary file (removed by the operating
/// system when the spool or its source is dropped, even after a crash) through a buffered
/// writer, and [`IpcSpool::into_source`] reads them back one at a time.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{Int64Array, RecordBatch};
/// use export_core::source::{Source, IpcSpool};
///
/// let batch = RecordBatch::try_from_iter([
///     ("n", Arc::new(Int64Array::from(vec![1, 2])) as _),
/// ]).unwrap();
/// let mut spool = IpcSpool::new(batch.schema()).unwrap();
/// spool.push(&batch).unwrap();
/// spool.push(&batch).unwrap();
/// assert_eq!(spool.rows(), 4);
/// let mut source = spool.into_source().unwrap();
/// assert_eq!(source.rows_hint(), Some(4));
/// assert_eq!(source.next_batch().unwrap().unwrap(), batch);
/// ```
pub struct IpcSpool {
    schema: SchemaRef,
    writer: FileWriter<BufWriter<File>>,
    rows: u64,
    batches: u64,
}

impl std::fmt::Debug for IpcSpool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IpcSpool")
            .field("rows", &self.rows)
            .field("batches", &self.batches)
            .finish_non_exhaustive()
    }
}

impl IpcSpool {
    /// Creates an empty spool for batches of `schema`, in the system's temporary directory.
    ///
    /// # Errors
    ///
    /// [`ExportError::Io`] when the temporary file cannot be created.
    pub fn new(schema: SchemaRef) -> Result<IpcSpool> {
        Self::new_in(std::env::temp_dir(), schema)
    }

    /// Creates an empty spool whose temporary file lives in `dir` (pick a disk with room for
    /// the whole period).
    ///
    /// # Errors
    ///
    /// [`ExportError::Io`] with `dir` when the temporary file cannot be created there.
    pub fn new_in(dir: impl AsRef<Path>, schema: SchemaRef) -> Result<IpcSpool> {
        let dir = dir.as_ref();
        let file = tempfile::tempfile_in(dir).map_err(|e| ExportError::io(dir, e))?;
        let writer = FileWriter::try_new(BufWriter::with_capacity(1 << 20, file), &schema)
            .map_err(|e| spool_error(e, "create"))?;
        Ok(IpcSpool {
            schema,
            writer,
            rows: 0,
            batches: 0,
        })
    }

    /// Appends a batch (checked against the spool's schema, see [`conform`]).
    ///
    /// # Errors
    ///
    /// The schema errors of [`conform`]; [`ExportError::Io`] when the disk is full or failing.
    pub fn push(&mut self, batch: &RecordBatch) -> Result<()> {
        let batch = conform(&self.schema, batch, "spool")?;
        self.writer
            .write(&batch)
            .map_err(|e| spool_error(e, "write"))?;
        self.rows += batch.num_rows() as u64;
        self.batches += 1;
        Ok(())
    }

    /// Rows pushed so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The schema of the spooled batches.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Finishes the file and returns a source yielding the pushed batches in order, with the
    /// pushed row count as hint. The temporary file is removed when the source is dropped.
    ///
    /// # Errors
    ///
    /// [`ExportError::Io`] when flushing or rewinding the temporary file fails.
    pub fn into_source(mut self) -> Result<IpcSource> {
        self.writer.finish().map_err(|e| spool_error(e, "finish"))?;
        let buffered = self
            .writer
            .into_inner()
            .map_err(|e| spool_error(e, "flush"))?;
        let file = buffered
            .into_inner()
            .map_err(|e| spool_error(ArrowError::from(e.into_error()), "flush"))?;
        let path = PathBuf::from("<spool>");
        let mut source = IpcSource::from_input(Box::new(file), &path, "spool".to_string())?;
        source.rows_hint = Some(self.rows);
        Ok(source)
    }
}

fn spool_error(error: ArrowError, action: &str) -> ExportError {
    match error {
        ArrowError::IoError(message, source) => ExportError::Io {
            path: None,
            source: std::io::Error::new(source.kind(), format!("spool {action}: {message}")),
        },
        other => ExportError::InvalidInput {
            source_name: "spool".into(),
            line: None,
            reason: format!("{action}: {other}"),
        },
    }
}
