//! `startWrite` and `startTrips`: the arguments converted on the main thread, the work
//! started as an [`ExportTask`] (on a thread of its own), which the package's JS layer turns
//! into `writeCsv`, `writeXlsx`, `writeJson` and `exportTrips` with their Promises, streams and
//! `AbortSignal`.

use std::io::Write;
use std::path::PathBuf;
use std::str::FromStr;

use export_core::export::{ExportReport, ExporterBuilder};
use export_core::registry::SchemaRegistry;
use export_core::request::{ExportRequest, Format, Period};
use export_core::source::{SampleConfig, SampleTrips, Source};
use export_core::write::{Sheet, WriteOptions, WriteSummary, write_path, write_to};
use napi::bindgen_prelude::{Array, ClassInstance, Unknown};
use napi_derive::napi;
use serde_json::{Map, Value as Json};

use crate::convert::{camel_message, snake_keys, to_json};
use crate::errors::{Failure, guarded};
use crate::feed::{Feed, Inlet};
use crate::task::{ExportTask, Hooks, Output, ProgressFn, Work};

/// What a write produced.
#[napi(object)]
pub struct Summary {
    /// Data rows written.
    pub rows: i64,
    /// Bytes of the file (after compression).
    pub bytes: i64,
    /// XLSX sheet names, in order (empty for other formats).
    pub sheets: Vec<String>,
    /// The file's name: the path's for a path, the export's suggested name for trip exports.
    pub file_name: Option<String>,
    /// Rows read from the source (trip exports drop some: rare zones, out-of-period trips).
    pub rows_read: i64,
}

/// A finished write, before it becomes a [`Summary`] on the main thread.
pub struct Done {
    rows: u64,
    bytes: u64,
    sheets: Vec<String>,
    file_name: Option<String>,
    rows_read: u64,
}

impl Done {
    fn write(s: WriteSummary) -> Done {
        Done {
            rows: s.rows,
            bytes: s.bytes,
            sheets: s.sheets,
            file_name: s.file_name,
            rows_read: s.rows,
        }
    }

    fn export(r: ExportReport) -> Done {
        Done {
            rows: r.rows_written,
            bytes: r.bytes,
            sheets: r.sheets,
            file_name: Some(r.file_name),
            rows_read: r.rows_read,
        }
    }

    /// The JS summary (built on the main thread).
    pub fn into_summary(self) -> Summary {
        Summary {
            rows: self.rows as i64,
            bytes: self.bytes as i64,
            sheets: self.sheets,
            file_name: self.file_name,
            rows_read: self.rows_read as i64,
        }
    }
}

/// Writes `sheets` to `output`: the plain writers' work.
fn write_sheets(
    format: Format,
    sheets: Vec<(Option<String>, Inlet)>,
    options: &WriteOptions,
    output: Output,
    hooks: &Hooks,
) -> Result<Done, Failure> {
    let control = &hooks.control();
    let sheets = sheets
        .into_iter()
        .map(|(name, inlet)| {
            Ok(Sheet {
                name,
                source: inlet.open()?,
            })
        })
        .collect::<export_core::Result<Vec<_>>>()?;
    Ok(match output {
        Output::Path(path) => Done::write(write_path(format, sheets, options, control, &path)?),
        Output::Chunks(writer) => {
            let (summary, mut writer) = write_to(format, sheets, options, control, writer)?;
            writer.flush()?;
            Done::write(summary)
        }
    })
}

/// Runs a trip export of `input` to `output`, its progress and cancellation the task's.
fn export_trips_to(
    builder: ExporterBuilder,
    mut input: Box<dyn Source>,
    output: Output,
    hooks: &Hooks,
) -> Result<Done, Failure> {
    let progress = hooks.progress_fn();
    let exporter = builder
        .cancel_flag(hooks.cancelled.clone())
        .progress(progress)
        .build()?;
    Ok(match output {
        Output::Path(path) => Done::export(exporter.run_to_path(input.as_mut(), &path)?),
        Output::Chunks(writer) => {
            let (report, mut writer) = exporter.run(input.as_mut(), writer)?;
            writer.flush()?;
            Done::export(report)
        }
    })
}

/// The options object as JSON with snake_case keys (`undefined` -> `{}`).
fn options_json(options: Option<&Unknown<'_>>) -> Result<Map<String, Json>, Failure> {
    let json = match options {
        Some(o) => to_json(o, "options").map_err(|r| Failure::argument("options", r))?,
        None => Json::Null,
    };
    match snake_keys(json) {
        Json::Null => Ok(Map::new()),
        Json::Object(map) => Ok(map),
        _ => Err(Failure::argument("options", "expected an object")),
    }
}

/// `WriteOptions::from_json`, its messages naming the options in camelCase.
fn write_options(map: Map<String, Json>) -> Result<WriteOptions, Failure> {
    WriteOptions::from_json(Json::Object(map)).map_err(camel_failure)
}

/// An error about the options, naming them in camelCase as JS gives them.
fn camel_failure(e: export_core::ExportError) -> Failure {
    let mut failure = Failure::from(e);
    failure.message = camel_message(&failure.message);
    failure
}

/// Starts a write of `sheets` (a list of `[name, feed]`; one with a `null` name for a single
/// sheet) as `format` to the path `out`, or in chunks (`out` null). The options are checked
/// now: a bad one makes `done()` reject before any row is read.
#[napi(
    ts_args_type = "format: 'csv' | 'xlsx' | 'json' | 'jsonl', sheets: Array<[string | null, Feed]>, out: string | null, options: Record<string, unknown> | null | undefined, onProgress?: ((rows: number) => void) | null"
)]
pub fn start_write(
    format: String,
    sheets: Array<'_>,
    out: Option<String>,
    options: Option<Unknown<'_>>,
    on_progress: Option<ProgressFn>,
) -> ExportTask {
    let work = guarded(|| -> Result<Work, Failure> {
        // The feeds first: should anything below fail, their inlets are dropped with the
        // closure and the JS side stops pushing (`push` resolves false) instead of waiting.
        let mut inlets = Vec::with_capacity(sheets.len() as usize);
        for i in 0..sheets.len() {
            let pair: Array = sheets
                .get(i)
                .map_err(|e| Failure::argument("sheets", e.reason))?
                .ok_or_else(|| Failure::argument("sheets", format!("no sheet {i}")))?;
            let name: Option<String> = pair
                .get(0)
                .map_err(|e| Failure::argument("sheets", e.reason))?
                .flatten();
            let feed: ClassInstance<Feed> = pair
                .get(1)
                .map_err(|e| Failure::argument("sheets", e.reason))?
                .ok_or_else(|| Failure::argument("sheets", format!("sheet {i} has no feed")))?;
            let inlet = feed.take_inlet().ok_or_else(|| {
                Failure::argument("sheets", format!("the feed of sheet {i} is used already"))
            })?;
            inlets.push((name, inlet));
        }
        let mut map = options_json(options.as_ref())?;
        // The feed's own options, read by the JS layer.
        map.remove("columns");
        map.remove("batch_rows");
        map.remove("float_columns");
        let format = Format::from_str(&format)?;
        let options = write_options(map)?;
        options.check(format).map_err(camel_failure)?;
        Ok(Box::new(move |output, hooks| {
            write_sheets(format, inlets, &options, output, hooks)
        }))
    });
    ExportTask::start(work, out.map(PathBuf::from), on_progress)
}

/// Takes a string member of the export's arguments.
fn text(map: &mut Map<String, Json>, key: &str) -> Result<Option<String>, Failure> {
    match map.remove(key) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) => Ok(Some(s)),
        Some(_) => Err(Failure::argument(
            &crate::convert::camel(key),
            "expected a string",
        )),
    }
}

/// Takes a non-negative integer member of the export's arguments.
fn count(map: &mut Map<String, Json>, key: &str, default: u64) -> Result<u64, Failure> {
    match map.remove(key) {
        None | Some(Json::Null) => Ok(default),
        Some(Json::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64().unwrap_or(default)),
        Some(_) => Err(Failure::argument(key, "expected a non-negative integer")),
    }
}

/// Starts the trip schema's export (the privacy rules of the audience) over `[start, end)` in
/// `tz` of the trips of `source` (a feed of trip rows), or of `rows` sample trips (`seed`), to
/// the path `out` or in chunks.
#[napi(
    ts_args_type = "out: string | null, args: Record<string, unknown>, source?: Feed | null, onProgress?: ((rows: number) => void) | null"
)]
pub fn start_trips(
    out: Option<String>,
    args: Unknown<'_>,
    source: Option<ClassInstance<'_, Feed>>,
    on_progress: Option<ProgressFn>,
) -> ExportTask {
    let work = guarded(|| -> Result<Work, Failure> {
        // The feed first: should anything below fail, its inlet is dropped and the JS side
        // stops pushing.
        let inlet = match source {
            Some(feed) => Some(
                feed.take_inlet()
                    .ok_or_else(|| Failure::argument("source", "this feed is used already"))?,
            ),
            None => None,
        };
        let mut map = options_json(Some(&args))?;
        map.remove("source");
        let start =
            text(&mut map, "start")?.ok_or_else(|| Failure::argument("start", "required"))?;
        let end = text(&mut map, "end")?.ok_or_else(|| Failure::argument("end", "required"))?;
        let tz = text(&mut map, "tz")?.unwrap_or_else(|| "Europe/Paris".into());
        let rows = count(&mut map, "rows", 100_000)?;
        let seed = count(&mut map, "seed", 42)?;
        let version = text(&mut map, "version")?.unwrap_or_else(|| "v3".into());
        let audience = text(&mut map, "audience")?;
        let format = text(&mut map, "format")?.unwrap_or_else(|| {
            if version.eq_ignore_ascii_case("v2") {
                "csv"
            } else {
                "xlsx"
            }
            .into()
        });
        let mut fields = Map::new();
        for (from, to) in [
            ("fields", "include"),
            ("exclude", "exclude"),
            ("rename", "rename"),
        ] {
            if let Some(v) = map.remove(from) {
                fields.insert(to.into(), v);
            }
        }
        let mut request = Map::new();
        request.insert("schema".into(), "trip".into());
        request.insert("version".into(), version.into());
        if let Some(audience) = audience {
            request.insert("audience".into(), audience.into());
        }
        request.insert("format".into(), format.into());
        request.insert("fields".into(), Json::Object(fields));
        // What is left are the request's file options (`bom`, `delimiter`, ...).
        request.insert("options".into(), Json::Object(map));
        let mut request: ExportRequest =
            export_core::error::from_json_value("request", Json::Object(request)).map_err(|e| {
                let mut failure = Failure::from(e);
                failure.message = camel_message(&failure.message);
                failure
            })?;
        let period = Period::parse(&start, &end, Some(&tz))?;
        request.period = Some(period);
        let builder = SchemaRegistry::new().builder(request, chrono::Utc::now())?;
        let input = match inlet {
            Some(inlet) => Input::Feed(inlet),
            None => Input::Sample(Box::new(SampleTrips::new(SampleConfig {
                rows,
                seed,
                start: period.start,
                end: period.end,
                ..Default::default()
            })?)),
        };
        Ok(Box::new(move |output, hooks| {
            let input: Box<dyn Source> = match input {
                Input::Feed(inlet) => inlet.open()?,
                Input::Sample(sample) => sample,
            };
            export_trips_to(builder, input, output, hooks)
        }))
    });
    ExportTask::start(work, out.map(PathBuf::from), on_progress)
}

/// The trips of a trip export.
enum Input {
    Feed(Inlet),
    Sample(Box<SampleTrips>),
}

/// Sample trips in the trip input schema, as Arrow IPC stream bytes: what a host's own query
/// would return, for demos and tests (`{ start, end, tz?, rows?, seed? }`).
#[napi(
    ts_args_type = "args: { start: string, end: string, tz?: string, rows?: number, seed?: number }",
    ts_return_type = "Promise<Buffer>"
)]
pub fn sample_trips<'env>(
    env: &'env napi::Env,
    args: Unknown<'env>,
) -> napi::Result<napi::bindgen_prelude::PromiseRaw<'env, napi::bindgen_prelude::Buffer>> {
    let parsed = guarded(|| {
        let mut map = options_json(Some(&args))?;
        let start =
            text(&mut map, "start")?.ok_or_else(|| Failure::argument("start", "required"))?;
        let end = text(&mut map, "end")?.ok_or_else(|| Failure::argument("end", "required"))?;
        let tz = text(&mut map, "tz")?.unwrap_or_else(|| "Europe/Paris".into());
        let rows = count(&mut map, "rows", 1000)?;
        let seed = count(&mut map, "seed", 42)?;
        if let Some(key) = map.keys().next() {
            return Err(Failure::argument(
                &crate::convert::camel(key),
                "unknown key (expected start, end, tz, rows, seed)",
            ));
        }
        let period = Period::parse(&start, &end, Some(&tz))?;
        Ok(SampleTrips::new(SampleConfig {
            rows,
            seed,
            start: period.start,
            end: period.end,
            ..Default::default()
        })?)
    });
    env.spawn_future_with_callback(
        async move {
            Ok(tokio::task::spawn_blocking(move || {
                guarded(|| {
                    let mut trips = parsed?;
                    let mut out = Vec::new();
                    let mut writer =
                        arrow_ipc::writer::StreamWriter::try_new(&mut out, &trips.schema())
                            .map_err(export_core::ExportError::from)?;
                    while let Some(batch) = trips.next_batch()? {
                        writer
                            .write(&batch)
                            .map_err(export_core::ExportError::from)?;
                    }
                    writer.finish().map_err(export_core::ExportError::from)?;
                    drop(writer);
                    Ok(out)
                })
            })
            .await
            .unwrap_or_else(|e| Err(Failure::new("INTERNAL", e.to_string()))))
        },
        |env, outcome| match outcome {
            Ok(bytes) => Ok(napi::bindgen_prelude::Buffer::from(bytes)),
            Err(failure) => Err(crate::errors::to_js(env, failure)),
        },
    )
}

/// Starts a write whose work panics, for the test that a panic never crashes Node: `done()`
/// rejects with `EXPORT_INTERNAL`.
#[napi(js_name = "_panicForTests")]
pub fn panic_for_tests(message: String) -> ExportTask {
    ExportTask::start(Ok(Box::new(move |_, _| panic!("{message}"))), None, None)
}
