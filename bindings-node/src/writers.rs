//! `writeCsv`, `writeXlsx`, `writeJson` and `exportTrips`: the arguments converted on the main
//! thread, the work done by the core on libuv's pool, the promise settled with a summary or an
//! `Error` carrying the core's code.

use std::path::PathBuf;
use std::str::FromStr;

use export_core::export::{ExportReport, Exporter};
use export_core::registry::SchemaRegistry;
use export_core::request::{ExportRequest, Format, Period};
use export_core::source::{SampleConfig, SampleTrips, Source};
use export_core::write::{
    Control, Sheet, WriteOptions, WriteSummary, validate, write_path, write_to,
};
use napi::bindgen_prelude::{AsyncTask, Buffer, Unknown};
use napi::{Env, Task, ValueType};
use napi_derive::napi;
use serde_json::{Map, Value as Json};

use crate::convert::{camel_message, snake_keys, to_json, type_name};
use crate::errors::{Failure, guarded, to_js};
use crate::input::{RowOptions, source};

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
    /// The file, when no `out` path was given.
    pub data: Option<Buffer>,
}

/// A finished write, before it becomes a [`Summary`] on the main thread.
pub struct Done {
    rows: u64,
    bytes: u64,
    sheets: Vec<String>,
    file_name: Option<String>,
    rows_read: u64,
    data: Option<Vec<u8>>,
}

impl Done {
    fn write(s: WriteSummary, data: Option<Vec<u8>>) -> Done {
        Done {
            rows: s.rows,
            bytes: s.bytes,
            sheets: s.sheets,
            file_name: s.file_name,
            rows_read: s.rows,
            data,
        }
    }

    fn export(r: ExportReport, data: Option<Vec<u8>>) -> Done {
        Done {
            rows: r.rows_written,
            bytes: r.bytes,
            sheets: r.sheets,
            file_name: Some(r.file_name),
            rows_read: r.rows_read,
            data,
        }
    }
}

/// The work of one call.
pub enum Job {
    /// A plain write of the data's own columns.
    Write {
        format: Format,
        sheets: Vec<Sheet>,
        options: Box<WriteOptions>,
        out: Option<PathBuf>,
    },
    /// A trip export over a source.
    Trips {
        exporter: Box<Exporter>,
        input: Box<dyn Source>,
        out: Option<PathBuf>,
    },
}

impl Job {
    fn run(self) -> Result<Done, Failure> {
        match self {
            Job::Write {
                format,
                sheets,
                options,
                out,
            } => {
                let control = Control::default();
                Ok(match out {
                    Some(path) => {
                        Done::write(write_path(format, sheets, &options, &control, &path)?, None)
                    }
                    None => {
                        let (summary, data) =
                            write_to(format, sheets, &options, &control, Vec::new())?;
                        Done::write(summary, Some(data))
                    }
                })
            }
            Job::Trips {
                exporter,
                mut input,
                out,
            } => Ok(match out {
                Some(path) => Done::export(exporter.run_to_path(input.as_mut(), &path)?, None),
                None => {
                    let (report, data) = exporter.run(input.as_mut(), Vec::new())?;
                    Done::export(report, Some(data))
                }
            }),
        }
    }
}

/// The task behind each promise: a job, or the failure found while converting the arguments
/// (so bad arguments reject the promise too, rather than throw).
pub struct WriteTask(Option<Result<Job, Failure>>);

impl Task for WriteTask {
    type Output = Result<Done, Failure>;
    type JsValue = Summary;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let job = self
            .0
            .take()
            .unwrap_or_else(|| Err(Failure::new("INTERNAL", "the task ran twice")));
        Ok(job.and_then(|job| guarded(|| job.run())))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Summary> {
        match output {
            Ok(done) => Ok(Summary {
                rows: done.rows as i64,
                bytes: done.bytes as i64,
                sheets: done.sheets,
                file_name: done.file_name,
                rows_read: done.rows_read as i64,
                data: done.data.map(Buffer::from),
            }),
            Err(failure) => Err(to_js(&env, failure)),
        }
    }
}

/// `out`: a path string, or `undefined`/`null` for the bytes in the summary.
fn out_path(out: Option<&Unknown<'_>>) -> Result<Option<PathBuf>, Failure> {
    let Some(out) = out else { return Ok(None) };
    match out.get_type() {
        Ok(ValueType::Undefined | ValueType::Null) => Ok(None),
        Ok(ValueType::String) => Ok(Some(PathBuf::from(
            unsafe { out.cast::<String>() }.map_err(|e| Failure::argument("out", e.reason))?,
        ))),
        _ => Err(Failure::argument(
            "out",
            format!(
                "expected a path string, null or undefined, got a {}",
                type_name(out)
            ),
        )),
    }
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
    WriteOptions::from_json(Json::Object(map)).map_err(|e| {
        let mut failure = Failure::from(e);
        failure.message = camel_message(&failure.message);
        failure
    })
}

/// Takes the binding's own row options (`columns`, `batchRows`) out of `map`.
fn row_options(map: &mut Map<String, Json>) -> Result<RowOptions, Failure> {
    let columns = match map.remove("columns") {
        None | Some(Json::Null) => None,
        Some(Json::Array(items)) => Some(
            items
                .into_iter()
                .map(|c| match c {
                    Json::String(s) => Ok(s),
                    _ => Err(Failure::argument("columns", "expected an array of strings")),
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Some(_) => return Err(Failure::argument("columns", "expected an array of strings")),
    };
    let batch_rows = match map.remove("batch_rows") {
        None | Some(Json::Null) => None,
        Some(Json::Number(n)) if n.as_u64().is_some_and(|n| n > 0) => {
            n.as_u64().map(|n| n as usize)
        }
        Some(_) => {
            return Err(Failure::argument(
                "batchRows",
                "expected a positive integer",
            ));
        }
    };
    Ok(RowOptions {
        columns,
        batch_rows,
    })
}

fn write(
    format: &str,
    data: Unknown<'_>,
    out: Option<Unknown<'_>>,
    options: Option<Unknown<'_>>,
) -> AsyncTask<WriteTask> {
    let job = guarded(|| {
        let out = out_path(out.as_ref())?;
        let mut map = options_json(options.as_ref())?;
        let rows = row_options(&mut map)?;
        let format = if format == "json" {
            match map.remove("lines") {
                None | Some(Json::Null) | Some(Json::Bool(false)) => "json",
                Some(Json::Bool(true)) => "jsonl",
                Some(_) => return Err(Failure::argument("lines", "expected a boolean")),
            }
        } else {
            format
        };
        let format = Format::from_str(format)?;
        let options = write_options(map)?;
        let sheets = vec![Sheet {
            name: None,
            source: source(&data, &rows)?,
        }];
        // Before the work starts: a bad column name rejects with nothing written.
        validate(format, &sheets, &options)?;
        Ok(Job::Write {
            format,
            sheets,
            options: Box::new(options),
            out,
        })
    });
    AsyncTask::new(WriteTask(Some(job)))
}

/// Writes `data` as CSV to the path `out` (the file appears only once complete), or into the
/// summary's `data` when `out` is omitted or null.
#[napi(
    ts_args_type = "data: Data, out?: string | null, options?: CsvOptions",
    ts_return_type = "Promise<Summary>"
)]
pub fn write_csv(
    data: Unknown<'_>,
    out: Option<Unknown<'_>>,
    options: Option<Unknown<'_>>,
) -> AsyncTask<WriteTask> {
    write("csv", data, out, options)
}

/// Writes `data` as an XLSX workbook; see `writeCsv`.
#[napi(
    ts_args_type = "data: Data, out?: string | null, options?: XlsxOptions",
    ts_return_type = "Promise<Summary>"
)]
pub fn write_xlsx(
    data: Unknown<'_>,
    out: Option<Unknown<'_>>,
    options: Option<Unknown<'_>>,
) -> AsyncTask<WriteTask> {
    write("xlsx", data, out, options)
}

/// Writes `data` as a JSON array of objects, or JSON Lines with `lines: true`; see `writeCsv`.
#[napi(
    ts_args_type = "data: Data, out?: string | null, options?: JsonOptions",
    ts_return_type = "Promise<Summary>"
)]
pub fn write_json(
    data: Unknown<'_>,
    out: Option<Unknown<'_>>,
    options: Option<Unknown<'_>>,
) -> AsyncTask<WriteTask> {
    write("json", data, out, options)
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

/// The trip schema's export (privacy rules of the audience) of `rows` sample trips (`seed`)
/// over `[start, end)` in `tz`, to the path `out` or into the summary's `data`.
#[napi(
    ts_args_type = "out: string | null | undefined, args: ExportTripsArgs",
    ts_return_type = "Promise<Summary>"
)]
pub fn export_trips(out: Option<Unknown<'_>>, args: Unknown<'_>) -> AsyncTask<WriteTask> {
    let job = guarded(|| {
        let out = out_path(out.as_ref())?;
        let mut map = options_json(Some(&args))?;
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
        request.period = Some(Period::parse(&start, &end, Some(&tz))?);
        let exporter = SchemaRegistry::new()
            .builder(request, chrono::Utc::now())?
            .build()?;
        let period = *exporter.period().expect("trip exports have a period");
        let input = SampleTrips::new(SampleConfig {
            rows,
            seed,
            start: period.start,
            end: period.end,
            ..Default::default()
        })?;
        Ok(Job::Trips {
            exporter: Box::new(exporter),
            input: Box::new(input),
            out,
        })
    });
    AsyncTask::new(WriteTask(Some(job)))
}

/// Rejects with `EXPORT_INTERNAL`, for the test that a panic in the work never crashes Node.
#[napi(js_name = "_panicForTests", ts_return_type = "Promise<Summary>")]
pub fn panic_for_tests(message: String) -> AsyncTask<WriteTask> {
    struct Panics(String);
    impl Source for Panics {
        fn schema(&self) -> arrow_schema::SchemaRef {
            std::sync::Arc::new(arrow_schema::Schema::empty())
        }
        fn next_batch(&mut self) -> export_core::Result<Option<arrow_array::RecordBatch>> {
            panic!("{}", self.0)
        }
    }
    AsyncTask::new(WriteTask(Some(Ok(Job::Write {
        format: Format::Csv,
        sheets: vec![Sheet {
            name: None,
            source: Box::new(Panics(message)),
        }],
        options: Box::default(),
        out: None,
    }))))
}
