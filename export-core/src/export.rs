//! The export pipeline: source → filter → privacy → derive → select → sink.
//!
//! An [`Exporter`] is built from an [`ExportRequest`] (validated once, before any row is read)
//! and runs it over a [`Source`] into any writer. It reports progress after every batch and
//! checks a cancel flag between batches, so a cancelled export stops within one batch.
//!
//! Given an [`ExportAudit`] ([`ExporterBuilder::audit`]), a run that finishes records an
//! [`AuditAction::Export`](crate::audit::AuditAction::Export) event (actor, format, schema,
//! audience, filters, rows written, risk level) before it returns, and so before
//! [`Exporter::run_to_path`] publishes the file; when the event cannot be recorded the run
//! fails (and `run_to_path` leaves nothing at its path).

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use arrow_array::RecordBatch;
use chrono::{DateTime, Utc};

use crate::audit::ExportAudit;
use crate::error::{ExportError, Result};
use crate::output::{AtomicFile, sweep_abandoned_partials};
use crate::privacy::{self, PrivacyReport, RareZoneFilter, ZoneSpool};
use crate::request::{Compression, ExportRequest, Format, Period};
use crate::schema::ExportSchema;
use crate::schema::builtin::{builtin_or_plain, builtins};
use crate::schema::rules::{RunFacts, RunSettings, SchemaPlan, SchemaRules};
use crate::sink::compress::CompressedWriter;
use crate::sink::csv::{CsvSink, CsvSinkBuilder, QuoteStyle};
use crate::sink::json::{JsonFormat, JsonSink, JsonSinkBuilder};
use crate::sink::xlsx::{XlsxSink, XlsxSinkBuilder};
use crate::sink::{CountingWriter, Sink, Summary};
use crate::source::Source;

/// How far an export has come, passed to the progress callback after every batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Rows read from the source so far.
    pub rows_read: u64,
    /// Rows written to the file so far.
    pub rows_written: u64,
    /// Rows the source expects to yield, when it knows.
    pub rows_expected: Option<u64>,
}

impl Progress {
    /// Percentage of the expected rows read, when the total is known.
    pub fn percent(&self) -> Option<f64> {
        self.rows_expected.map(|total| {
            if total == 0 {
                100.0
            } else {
                (self.rows_read as f64 * 100.0 / total as f64).min(100.0)
            }
        })
    }
}

/// A progress callback.
pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// What an export produced.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportReport {
    /// Rows read from the source(s).
    pub rows_read: u64,
    /// Data rows written (the sink's count; XLSX help sheets not included).
    pub rows_written: u64,
    /// Bytes of the file.
    pub bytes: u64,
    /// XLSX sheet names.
    pub sheets: Vec<String>,
    /// Rare-zone privacy figures (rule 5 of the trip schema), for exports whose schema applies
    /// the rule (trip opendata).
    pub privacy: Option<PrivacyReport>,
    /// The file name the export suggests (`trips-v3-opendata-2026-10.xlsx`).
    pub file_name: String,
    /// The MIME type of the file.
    pub content_type: &'static str,
}

/// Builds an [`Exporter`]: the request plus run-time settings.
pub struct ExporterBuilder {
    request: ExportRequest,
    schema: Option<ExportSchema>,
    rules: Option<Arc<dyn SchemaRules>>,
    now: Option<DateTime<Utc>>,
    hash_key: Option<Vec<u8>>,
    rare_zone_threshold: u64,
    progress: Option<ProgressFn>,
    cancel: Option<Arc<AtomicBool>>,
    audit: Option<ExportAudit>,
}

impl ExporterBuilder {
    /// The schema of a registered export (`products`, `suppliers`, ...). Without it, the
    /// request's schema must be a built-in one (`trip`).
    pub fn schema(mut self, schema: ExportSchema) -> Self {
        self.schema = Some(schema);
        self
    }
    /// The rules of the request's schema (what a [`SchemaRegistry`](crate::registry::SchemaRegistry)
    /// holds for it). Default: the built-in schema's of that name, else [`PlainRules`](crate::schema::rules::PlainRules).
    /// A schema whose rules [plan](SchemaRules::plan) a pipeline of their own runs it; any other
    /// writes the [`schema`](ExporterBuilder::schema)'s columns as read.
    pub fn rules(mut self, rules: Arc<dyn SchemaRules>) -> Self {
        self.rules = Some(rules);
        self
    }
    /// The clock reading used for period checks and the default period (default: now).
    pub fn now(mut self, now: DateTime<Utc>) -> Self {
        self.now = Some(now);
        self
    }
    /// The secret key of the opendata `trip_id` hash. Default: a random key per export, so
    /// identifiers cannot be linked across files; set one to keep them stable.
    pub fn hash_key(mut self, key: impl Into<Vec<u8>>) -> Self {
        self.hash_key = Some(key.into());
        self
    }
    /// Opendata rare-zone threshold: trips whose start or end commune appears in fewer trips
    /// are removed (default 6).
    pub fn rare_zone_threshold(mut self, threshold: u64) -> Self {
        self.rare_zone_threshold = threshold;
        self
    }
    /// A callback called after every batch.
    pub fn progress(mut self, callback: ProgressFn) -> Self {
        self.progress = Some(callback);
        self
    }
    /// A flag that, once set, stops the export before the next batch with [`ExportError::Cancelled`].
    pub fn cancel_flag(mut self, flag: Arc<AtomicBool>) -> Self {
        self.cancel = Some(flag);
        self
    }
    /// Audits each finished run: see the [module documentation](self) and [`ExportAudit`].
    pub fn audit(mut self, audit: ExportAudit) -> Self {
        self.audit = Some(audit);
        self
    }
    /// Sets the detail of the audit event set by [`ExporterBuilder::audit`] (as
    /// [`ExportAudit::detail`]); without an audit it does nothing.
    pub fn audit_detail(mut self, detail: impl Into<String>) -> Self {
        self.audit = self.audit.map(|a| a.detail(detail));
        self
    }

    /// Validates the request and builds the exporter.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] for a missing or unsupported version, audience, format or
    /// option; [`ExportError::UnknownField`] for a selection naming no column;
    /// [`ExportError::InvalidPeriod`] for a period outside the schema's limits.
    pub fn build(self) -> Result<Exporter> {
        let request = self.request;
        request.validate_basic()?;
        let now = self.now.unwrap_or_else(Utc::now);
        let rules = self
            .rules
            .unwrap_or_else(|| builtin_or_plain(&request.schema));
        let run = RunSettings {
            now,
            hash_key: self.hash_key,
        };
        let (full, plan) = match self.schema {
            Some(schema) => {
                if request.schema != schema.name() {
                    return Err(ExportError::request(
                        "schema",
                        format!(
                            "request names schema `{}` but `{}` was given",
                            request.schema,
                            schema.name()
                        ),
                    ));
                }
                match rules.plan(&request, &run)? {
                    Some(plan) => (plan.schema(), Some(plan)),
                    None => {
                        check_generic(&request)?;
                        (schema, None)
                    }
                }
            }
            None => match rules.plan(&request, &run)? {
                Some(plan) => (plan.schema(), Some(plan)),
                None => {
                    let known: Vec<&str> = builtins().iter().map(|(name, _)| *name).collect();
                    return Err(ExportError::request(
                        "schema",
                        format!(
                            "unknown schema `{}`; built in: {} (register others with a schema)",
                            request.schema,
                            known.join(", ")
                        ),
                    ));
                }
            },
        };
        if request.format == Format::Xlsx && request.options.compression != Compression::None {
            return Err(ExportError::request(
                "options.compression",
                "an XLSX file is already compressed",
            ));
        }
        let schema = full.select(&request.fields)?;
        if schema.sheets().len() > 1 && request.format != Format::Xlsx {
            return Err(ExportError::request(
                "format",
                format!(
                    "schema `{}` has {} sheets; only xlsx holds several",
                    schema.name(),
                    schema.sheets().len()
                ),
            ));
        }
        Ok(Exporter {
            request,
            schema,
            plan,
            now,
            rare_zone_threshold: self.rare_zone_threshold,
            progress: self.progress,
            cancel: self.cancel,
            audit: self.audit,
        })
    }
}

/// A schema without a pipeline of its own: no version or audience (those are the trip
/// schema's), predicate filters only.
fn check_generic(request: &ExportRequest) -> Result<()> {
    // The error names the field the request actually gave.
    for (field, given) in [
        ("version", request.version.is_some()),
        ("audience", request.audience.is_some()),
    ] {
        if given {
            return Err(ExportError::request(
                field,
                format!(
                    "`{}` has no {field}: version and audience apply to the trip schema only",
                    request.schema
                ),
            ));
        }
    }
    request.filters.validate_for_generic()
}

/// A validated export, ready to run.
///
/// # Examples
///
/// ```
/// use export_core::export::Exporter;
/// use export_core::request::{Audience, ExportRequest, Format, Period, SchemaVersion};
/// use export_core::source::{SampleConfig, SampleTrips};
///
/// let mut request = ExportRequest::new("trip", Format::Csv);
/// request.version = Some(SchemaVersion::V2);
/// request.audience = Some(Audience::Operator);
/// let period = Period::parse("2026-10-01", "2026-10-02", None).unwrap();
/// request.period = Some(period);
/// let now = "2026-11-23T00:00:00Z".parse().unwrap();
/// let exporter = Exporter::builder(request).now(now).build().unwrap();
///
/// let config = SampleConfig { rows: 500, seed: 7, start: period.start, end: period.end, ..Default::default() };
/// let mut source = SampleTrips::new(config).unwrap();
/// let (report, bytes) = exporter.run(&mut source, std::io::Cursor::new(Vec::new())).unwrap();
/// assert!(report.rows_written > 0);
/// let text = String::from_utf8(bytes.into_inner()).unwrap();
/// assert!(text.starts_with("\"journey_id\";\"trip_id\";"));
/// ```
pub struct Exporter {
    request: ExportRequest,
    schema: ExportSchema,
    /// The schema's own pipeline; `None` writes the columns as read.
    plan: Option<Box<dyn SchemaPlan>>,
    now: DateTime<Utc>,
    rare_zone_threshold: u64,
    progress: Option<ProgressFn>,
    cancel: Option<Arc<AtomicBool>>,
    audit: Option<ExportAudit>,
}

impl Exporter {
    /// Starts building an exporter for `request`.
    pub fn builder(request: ExportRequest) -> ExporterBuilder {
        ExporterBuilder {
            request,
            schema: None,
            rules: None,
            now: None,
            hash_key: None,
            rare_zone_threshold: privacy::DEFAULT_RARE_ZONE_THRESHOLD,
            progress: None,
            cancel: None,
            audit: None,
        }
    }

    /// The request, as validated.
    pub fn request(&self) -> &ExportRequest {
        &self.request
    }

    /// The columns that will be written (after field selection).
    pub fn schema(&self) -> &ExportSchema {
        &self.schema
    }

    /// The period of the export, for schemas that have one (trip: the request's, or the
    /// previous month).
    pub fn period(&self) -> Option<&Period> {
        self.plan.as_ref().and_then(|plan| plan.period())
    }

    /// The suggested file name: `trips-v3-opendata-2026-10.xlsx` for a calendar month,
    /// `trips-v2-operator-2026-10-01_2026-10-15.csv.zip` otherwise, `products.json` for others.
    pub fn file_name(&self) -> String {
        let ext = self.request.format.extension();
        let base = match &self.plan {
            Some(plan) => plan.file_stem(),
            None => self.schema.name().to_string(),
        };
        let suffix = match self.request.options.compression {
            Compression::None => "",
            Compression::Gzip => ".gz",
            Compression::Zip => ".zip",
        };
        format!("{base}.{ext}{suffix}")
    }

    /// The MIME type of the file.
    pub fn content_type(&self) -> &'static str {
        match self.request.options.compression {
            Compression::None => self.request.format.content_type(),
            Compression::Gzip => "application/gzip",
            Compression::Zip => "application/zip",
        }
    }

    /// Runs the export from one source into `out` (a file, a buffer, an HTTP response body, an
    /// object-store upload: every format streams) and returns the report and the writer.
    ///
    /// # Errors
    ///
    /// Errors of the source ([`ExportError::InvalidInput`]), of the input's shape
    /// ([`ExportError::MissingColumn`], [`ExportError::ColumnType`]), of the sink and writer
    /// ([`ExportError::Io`], [`ExportError::Encode`]), [`ExportError::Cancelled`] when the
    /// cancel flag was set, and the audit log's errors when an [`ExportAudit`] cannot record
    /// the run.
    pub fn run<W: Write + Send>(
        &self,
        source: &mut dyn Source,
        out: W,
    ) -> Result<(ExportReport, W)> {
        let sink = self.open_sink(out)?;
        self.run_into(vec![source], sink)
    }

    /// Runs a multi-sheet export (generic schemas): one source per sheet, in sheet order.
    ///
    /// # Errors
    ///
    /// As [`Exporter::run`], and [`ExportError::InvalidRequest`] when the number of sources is
    /// not the number of sheets.
    pub fn run_sheets<W: Write + Send>(
        &self,
        sources: Vec<&mut dyn Source>,
        out: W,
    ) -> Result<(ExportReport, W)> {
        let sink = self.open_sink(out)?;
        self.run_into(sources, sink)
    }

    /// Runs the export into a file that appears at `path` only once complete (an
    /// [`AtomicFile`]). Only a missing path or a regular file is replaced (see
    /// [`crate::output`]). First removes the temporary files that exports to `path` killed more
    /// than [`DEFAULT_ABANDONED_AFTER`](crate::retention::DEFAULT_ABANDONED_AFTER) ago left
    /// beside it ([`sweep_abandoned_partials`]): they hold personal data nobody will publish.
    ///
    /// To stream without any file (standard output, a socket), use [`Exporter::run`].
    ///
    /// # Errors
    ///
    /// As [`Exporter::run`]; [`ExportError::Io`] naming the path when it cannot be created;
    /// [`ExportError::NotARegularFile`] when a FIFO, a device, a directory or a socket is at
    /// `path`. On any error nothing is left at `path` and what was there is untouched.
    pub fn run_to_path(
        &self,
        source: &mut dyn Source,
        path: impl AsRef<Path>,
    ) -> Result<ExportReport> {
        let cut_off = crate::retention::DEFAULT_ABANDONED_AFTER
            .to_std()
            .ok()
            .and_then(|age| SystemTime::now().checked_sub(age));
        if let Some(cut_off) = cut_off {
            sweep_abandoned_partials(path.as_ref(), cut_off);
        }
        let file = AtomicFile::create(path.as_ref())?;
        let (report, file) = self.run(source, file)?;
        file.commit()?;
        Ok(report)
    }

    fn open_sink<W: Write + Send>(&self, out: W) -> Result<AnySink<W>> {
        let options = &self.request.options;
        match self.request.format {
            Format::Xlsx => {
                // The export's clock reading: the same rows give the same bytes.
                let mut builder = XlsxSinkBuilder::new().created(self.now);
                if let Some(rows) = options.sheet_rows {
                    builder = builder.sheet_rows(rows);
                }
                Ok(AnySink::Xlsx(builder.build(out)))
            }
            Format::Csv => {
                let mut builder = CsvSinkBuilder::new();
                builder
                    .has_headers(options.header)
                    .bom(options.bom)
                    .null_value(options.null.clone())
                    .formula_guard(options.formula_guard)
                    .compression(options.compression)
                    .archive_entry_name(self.entry_name());
                if let Some(dialect) = self.plan.as_ref().and_then(|plan| plan.csv_dialect()) {
                    let (yes, no) = dialect.bool_values;
                    builder
                        .delimiter(dialect.delimiter)
                        .bool_values(yes, no)
                        .decimal_separator(dialect.decimal_separator);
                    if dialect.quote_all {
                        builder.quote_style(QuoteStyle::Always);
                    }
                }
                if let Some(d) = options.delimiter {
                    builder.delimiter(d as u8);
                }
                Ok(AnySink::Csv(builder.build(out)))
            }
            Format::Json | Format::JsonLines => {
                let format = if self.request.format == Format::Json {
                    JsonFormat::Array
                } else {
                    JsonFormat::Lines
                };
                let writer = CompressedWriter::new(
                    CountingWriter::new(out),
                    options.compression,
                    &self.entry_name(),
                )?;
                let sink = JsonSinkBuilder::new()
                    .format(format)
                    .pretty(options.pretty && format == JsonFormat::Array)
                    .build(writer);
                Ok(AnySink::Json(sink))
            }
        }
    }

    /// The name of the file inside a zip archive: the file name without `.zip`.
    fn entry_name(&self) -> String {
        let name = self.file_name();
        name.strip_suffix(".zip")
            .or_else(|| name.strip_suffix(".gz"))
            .unwrap_or(&name)
            .to_string()
    }

    fn run_into<W: Write + Send>(
        &self,
        sources: Vec<&mut dyn Source>,
        mut sink: AnySink<W>,
    ) -> Result<(ExportReport, W)> {
        let expected_sheets = self.schema.sheets().len();
        if sources.len() != expected_sheets {
            return Err(ExportError::request(
                "sources",
                format!(
                    "{} source(s) given for {expected_sheets} sheet(s)",
                    sources.len()
                ),
            ));
        }
        let mut state = RunState {
            progress: Progress {
                rows_expected: sum_hints(&sources),
                ..Progress::default()
            },
            privacy: None,
        };
        match &self.plan {
            None => {
                for (index, source) in sources.into_iter().enumerate() {
                    self.start_sheet(&mut sink, index)?;
                    while let Some(batch) = self.next(source, &mut state)? {
                        let kept = self.request.filters.apply_predicates(&batch)?;
                        let out = self.schema.project(index, &kept)?;
                        self.write(&mut sink, &out, &mut state)?;
                    }
                }
            }
            Some(plan) => {
                let source = sources
                    .into_iter()
                    .next()
                    .ok_or_else(|| ExportError::request("sources", "no source"))?;
                self.start_sheet(&mut sink, 0)?;
                if let Some(spool_schema) = plan.rare_zones() {
                    self.run_rare_zones(
                        source,
                        &mut sink,
                        &mut state,
                        plan.as_ref(),
                        spool_schema,
                    )?;
                } else {
                    while let Some(batch) = self.next(source, &mut state)? {
                        let kept = plan.filter(&self.request, &batch)?;
                        self.write_derived(&mut sink, &kept, plan.as_ref(), &mut state)?;
                    }
                }
                let facts = RunFacts {
                    rows_written: state.progress.rows_written,
                    privacy: state.privacy,
                    generated_at: self.now,
                };
                if let Some(extra) = plan.extra_sheet(&self.schema, &facts)? {
                    sink.write_extra(&extra)?;
                }
            }
        }
        let (summary, out) = sink.finish()?;
        let report = ExportReport {
            rows_read: state.progress.rows_read,
            rows_written: state.progress.rows_written,
            bytes: summary.bytes,
            sheets: summary.sheets,
            privacy: state.privacy,
            file_name: self.file_name(),
            content_type: self.content_type(),
        };
        if let Some(audit) = &self.audit {
            audit.record_export(&self.request, report.rows_written)?;
        }
        Ok((report, out))
    }

    /// The rare-zone rule (trip opendata): a first pass filters, counts communes and spools to
    /// a temporary Arrow IPC file; the second pass drops rare zones and writes. Memory is
    /// bounded by the number of distinct communes, not by rows.
    fn run_rare_zones<W: Write + Send>(
        &self,
        source: &mut dyn Source,
        sink: &mut AnySink<W>,
        state: &mut RunState,
        plan: &dyn SchemaPlan,
        spool_schema: arrow_schema::SchemaRef,
    ) -> Result<()> {
        let mut spool = ZoneSpool::new(spool_schema)?;
        while let Some(batch) = self.next(source, state)? {
            let kept = plan.filter(&self.request, &batch)?;
            let kept = plan.conform(&kept)?;
            spool.push(&kept)?;
            // Reported during the first pass too: a worker's heartbeats (which carry the
            // owner's cancel request) follow progress, and this pass reads the whole input.
            if let Some(cb) = &self.progress {
                cb(&state.progress);
            }
        }
        let (counts, replay) = spool.finish()?;
        let mut rare = RareZoneFilter::new(counts, self.rare_zone_threshold);
        for batch in replay {
            self.check_cancel()?;
            let kept = rare.apply(&batch?)?;
            self.write_derived(sink, &kept, plan, state)?;
        }
        state.privacy = Some(rare.report());
        Ok(())
    }

    /// Writes an empty batch of sheet `index`'s columns, so that the sheet (CSV header row,
    /// XLSX sheet with its header) exists even when no row is written.
    fn start_sheet<W: Write + Send>(&self, sink: &mut AnySink<W>, index: usize) -> Result<()> {
        sink.write_extra(&RecordBatch::new_empty(self.schema.output_schema(index)))
    }

    fn write_derived<W: Write + Send>(
        &self,
        sink: &mut AnySink<W>,
        batch: &RecordBatch,
        plan: &dyn SchemaPlan,
        state: &mut RunState,
    ) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let derived = plan.derive(batch)?;
        let out = self.schema.project(0, &derived)?;
        self.write(sink, &out, state)
    }

    fn write<W: Write + Send>(
        &self,
        sink: &mut AnySink<W>,
        batch: &RecordBatch,
        state: &mut RunState,
    ) -> Result<()> {
        sink.write(batch)?;
        state.progress.rows_written += batch.num_rows() as u64;
        if let Some(cb) = &self.progress {
            cb(&state.progress);
        }
        Ok(())
    }

    fn next(&self, source: &mut dyn Source, state: &mut RunState) -> Result<Option<RecordBatch>> {
        self.check_cancel()?;
        let batch = source.next_batch()?;
        if let Some(b) = &batch {
            state.progress.rows_read += b.num_rows() as u64;
        }
        Ok(batch)
    }

    fn check_cancel(&self) -> Result<()> {
        match &self.cancel {
            Some(flag) if flag.load(Ordering::Relaxed) => Err(ExportError::Cancelled),
            _ => Ok(()),
        }
    }
}

struct RunState {
    progress: Progress,
    privacy: Option<PrivacyReport>,
}

fn sum_hints(sources: &[&mut dyn Source]) -> Option<u64> {
    sources.iter().map(|s| s.rows_hint()).sum()
}

/// The three sinks behind one type, so the pipeline can hand the writer back.
/// (One per export: boxing the larger variant would buy nothing.)
#[allow(clippy::large_enum_variant)]
enum AnySink<W: Write + Send> {
    Csv(CsvSink<W>),
    Json(JsonSink<CompressedWriter<CountingWriter<W>>>),
    Xlsx(XlsxSink<W>),
}

impl<W: Write + Send> AnySink<W> {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        match self {
            AnySink::Csv(s) => s.write(batch),
            AnySink::Json(s) => s.write(batch),
            AnySink::Xlsx(s) => s.write(batch),
        }
    }

    /// Writes a batch that is not data (the XLSX help sheet): not counted in progress.
    fn write_extra(&mut self, batch: &RecordBatch) -> Result<()> {
        self.write(batch)
    }

    fn finish(self) -> Result<(Summary, W)> {
        match self {
            AnySink::Csv(mut s) => {
                let summary = s.finish()?;
                Ok((summary, s.into_inner()?))
            }
            AnySink::Json(mut s) => {
                let mut summary = s.finish()?;
                let counted = s.into_inner()?.finish()?;
                // Bytes after compression, as the other sinks report.
                summary.bytes = counted.count();
                Ok((summary, counted.into_inner()))
            }
            AnySink::Xlsx(mut s) => {
                let summary = s.finish()?;
                Ok((summary, s.into_inner()?))
            }
        }
    }
}
