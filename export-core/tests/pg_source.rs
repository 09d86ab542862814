//! The PostgreSQL source and the datasets built on it, against the real server the test script
//! starts: the type mapping table, bound parameters and their typed errors, a dropped source or
//! a cancelled job freeing its connection (read in `pg_stat_activity`), trip rows loaded with
//! `COPY` and exported as V2 CSV and V3 XLSX for every audience from PostgreSQL, from Parquet
//! and from the generator (identical files), and a PostgreSQL table exported through a job, a
//! schedule and the HTTP API of a fresh `export-core`.
//!
//! `EXPORT_CORE_PG_TRIP_ROWS` sets the trip rows (default 20 000; `scripts/test` runs the trip
//! test again in release with 1 000 000).

#[path = "common/services.rs"]
mod services;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::{Array, RecordBatch};
use arrow_cast::display::array_value_to_string;
use arrow_schema::DataType;
use chrono::{Duration as ChronoDuration, TimeZone, Utc};
use export_core::clock::{Clock, ManualClock};
use export_core::engine::{Engine, EngineConfig};
use export_core::job::JobStatus;
use export_core::request::{Audience, ExportRequest, Format, Period, SchemaVersion};
use export_core::runtime::IoRuntime;
use export_core::schedule::{NewSchedule, ScheduleTarget, Trigger};
use export_core::service::{Principal, Scope};
use export_core::source::{PgParam, PgSource, SampleConfig, SampleTrips, Source};
use futures::SinkExt;
use tokio_postgres::NoTls;

// ---------------------------------------------------------------------------------------------
// Set-up: a plain client, a fresh schema per test, dropped at the end.

/// A blocking client on the shared runtime, for the tests' own set-up and checks.
struct Admin {
    client: tokio_postgres::Client,
    io: IoRuntime,
}

impl Admin {
    fn connect(url: &str) -> Admin {
        let io = IoRuntime::shared();
        let url = url.to_owned();
        let client = io
            .block_on(async move {
                let (client, connection) = tokio_postgres::connect(&url, NoTls).await?;
                tokio::spawn(connection);
                Ok::<_, tokio_postgres::Error>(client)
            })
            .expect("connect to the test PostgreSQL");
        Admin { client, io }
    }

    fn run(&self, sql: &str) {
        self.io
            .block_on(self.client.batch_execute(sql))
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    fn count(&self, sql: &str, param: &str) -> i64 {
        let row = self
            .io
            .block_on(self.client.query_one(sql, &[&param]))
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        row.get(0)
    }

    /// Connections whose `application_name` is `name`, other than the asking one.
    fn connections_named(&self, name: &str) -> i64 {
        self.count(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE application_name = $1 AND pid <> pg_backend_pid()",
            name,
        )
    }

    /// Waits until no connection is named `name`; false after 15 s.
    fn wait_gone(&self, name: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if self.connections_named(name) == 0 {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// `COPY`s lines of text into `table`'s one column, each line one value as it is.
    fn copy_lines(&self, table: &str, lines: impl Iterator<Item = Vec<u8>>) {
        // CSV with a quote and a delimiter that JSON text never holds: each line is one value.
        let sql =
            format!("COPY {table} FROM STDIN (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')");
        let fail = |e: tokio_postgres::Error| -> ! { panic!("{sql}: {e}") };
        let mut sink = Box::pin(
            self.io
                .block_on(self.client.copy_in::<_, bytes::Bytes>(&sql))
                .unwrap_or_else(|e| fail(e)),
        );
        for chunk in lines {
            self.io
                .block_on(sink.send(bytes::Bytes::from(chunk)))
                .unwrap_or_else(|e| fail(e));
        }
        self.io
            .block_on(sink.as_mut().finish())
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

/// A schema of the test's own, dropped (with its tables) when the test ends.
struct TestSchema {
    url: String,
    name: String,
}

impl TestSchema {
    fn new(url: &str) -> TestSchema {
        let name = format!("src_{}", uuid::Uuid::new_v4().simple());
        Admin::connect(url).run(&format!("CREATE SCHEMA {name}"));
        TestSchema {
            url: url.to_owned(),
            name,
        }
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        Admin::connect(&self.url).run(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
    }
}

/// `url` with `application_name` set, so a test finds its own connections.
fn named(url: &str, application_name: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}application_name={application_name}")
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

fn read_all(mut source: impl Source) -> Vec<RecordBatch> {
    let mut batches = Vec::new();
    while let Some(batch) = source.next_batch().unwrap() {
        batches.push(batch);
    }
    batches
}

/// One value as text; instants in UTC end in `Z` (arrow-cast without chrono-tz cannot name
/// the `UTC` zone, so the zone is dropped before formatting).
fn text(batch: &RecordBatch, column: &str, row: usize) -> String {
    let array = batch.column_by_name(column).unwrap();
    if array.is_null(row) {
        return "NULL".into();
    }
    fn naive(data_type: &DataType) -> Option<DataType> {
        match data_type {
            DataType::Timestamp(unit, Some(_)) => Some(DataType::Timestamp(*unit, None)),
            DataType::List(item) => naive(item.data_type())
                .map(|t| DataType::List(Arc::new(item.as_ref().clone().with_data_type(t)))),
            _ => None,
        }
    }
    match naive(array.data_type()) {
        Some(t) => {
            let cast = arrow_cast::cast(array, &t).unwrap();
            let text = array_value_to_string(&cast, row).unwrap();
            match text.strip_prefix('[') {
                Some(inner) => format!(
                    "[{}]",
                    inner
                        .trim_end_matches(']')
                        .split(", ")
                        .map(|v| format!("{v}Z"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                None => format!("{text}Z"),
            }
        }
        None => array_value_to_string(array, row).unwrap(),
    }
}

// ---------------------------------------------------------------------------------------------
// Type mapping

#[test]
fn every_documented_type_maps_to_its_arrow_type_with_values_and_nulls() {
    let Some(url) = services::pg_url() else {
        return;
    };
    let schema = TestSchema::new(&url);
    let s = &schema.name;
    Admin::connect(&url).run(&format!(
        "CREATE TABLE {s}.t (
            k int, b boolean, i2 smallint, i4 integer, i8 bigint, f4 real, f8 double precision,
            n_fixed numeric(10, 3), n_free numeric, t text, vc varchar(5), ch char(3), nm name,
            u uuid, jb jsonb, js json, by bytea, d date, tm time, ts timestamp, tstz timestamptz,
            ai integer[], at text[], ab boolean[], ats timestamptz[]
        );
        INSERT INTO {s}.t VALUES (
            1, true, -32768, 2147483647, -9223372036854775808, 1.5, 2.25,
            -12.345, 12345678901234567890.123456789, 'tekst ✓', 'v', 'c', 'nom',
            'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', '{{\"b\": [1, 2], \"a\": null}}', '{{\"b\":1}}',
            '\\x00ff', '2026-03-01', '12:34:56.789', '2026-03-01 10:00:00.123456',
            '2026-03-01 10:00:00.5+02', '{{1,NULL,3}}', '{{x,\"y z\"}}', '{{true}}',
            '{{\"2026-01-01 00:00:00+00\"}}'
        );
        INSERT INTO {s}.t (k) VALUES (2);"
    ));
    let source = PgSource::builder(&url, format!("SELECT * FROM {s}.t ORDER BY k"))
        .batch_rows(1)
        .open(&IoRuntime::shared())
        .unwrap();
    let types: Vec<(String, DataType)> = source
        .schema()
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone()))
        .collect();
    let list = |t: DataType| DataType::List(Arc::new(arrow_schema::Field::new("item", t, true)));
    let utc = DataType::Timestamp(arrow_schema::TimeUnit::Microsecond, Some("UTC".into()));
    let expected: Vec<(&str, DataType)> = vec![
        ("k", DataType::Int32),
        ("b", DataType::Boolean),
        ("i2", DataType::Int16),
        ("i4", DataType::Int32),
        ("i8", DataType::Int64),
        ("f4", DataType::Float32),
        ("f8", DataType::Float64),
        ("n_fixed", DataType::Decimal128(10, 3)),
        ("n_free", DataType::Utf8),
        ("t", DataType::Utf8),
        ("vc", DataType::Utf8),
        ("ch", DataType::Utf8),
        ("nm", DataType::Utf8),
        ("u", DataType::Utf8),
        ("jb", DataType::Utf8),
        ("js", DataType::Utf8),
        ("by", DataType::Binary),
        ("d", DataType::Date32),
        ("tm", DataType::Time64(arrow_schema::TimeUnit::Microsecond)),
        (
            "ts",
            DataType::Timestamp(arrow_schema::TimeUnit::Microsecond, None),
        ),
        ("tstz", utc.clone()),
        ("ai", list(DataType::Int32)),
        ("at", list(DataType::Utf8)),
        ("ab", list(DataType::Boolean)),
        ("ats", list(utc)),
    ];
    let expected: Vec<(String, DataType)> = expected
        .into_iter()
        .map(|(n, t)| (n.to_string(), t))
        .collect();
    assert_eq!(types, expected);

    let batches = read_all(source);
    assert_eq!(batches.len(), 2, "one row per batch at batch_rows(1)");
    let (full, empty) = (&batches[0], &batches[1]);
    let values: Vec<(&str, &str)> = vec![
        ("b", "true"),
        ("i2", "-32768"),
        ("i4", "2147483647"),
        ("i8", "-9223372036854775808"),
        ("f4", "1.5"),
        ("f8", "2.25"),
        ("n_fixed", "-12.345"),
        ("n_free", "12345678901234567890.123456789"),
        ("t", "tekst ✓"),
        ("vc", "v"),
        ("ch", "c  "),
        ("nm", "nom"),
        ("u", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
        ("jb", r#"{"a": null, "b": [1, 2]}"#),
        ("js", r#"{"b":1}"#),
        ("by", "00ff"),
        ("d", "2026-03-01"),
        ("tm", "12:34:56.789"),
        ("ts", "2026-03-01T10:00:00.123456"),
        ("tstz", "2026-03-01T08:00:00.500Z"),
        ("ai", "[1, , 3]"),
        ("at", "[x, y z]"),
        ("ab", "[true]"),
        ("ats", "[2026-01-01T00:00:00Z]"),
    ];
    for (column, want) in values {
        assert_eq!(text(full, column, 0), want, "column {column}");
        assert_eq!(
            text(empty, column, 0),
            "NULL",
            "column {column} of the empty row"
        );
    }
}

#[test]
fn a_type_without_a_mapping_is_refused_naming_the_column_and_the_cast() {
    let Some(url) = services::pg_url() else {
        return;
    };
    let io = IoRuntime::shared();
    let err = PgSource::builder(&url, "SELECT 1 AS n, interval '1 day' AS waited")
        .open(&io)
        .unwrap_err();
    assert_eq!(err.code(), "INVALID_INPUT", "{err}");
    let message = err.to_string();
    assert!(
        message.contains("column `waited` is of type interval")
            && message.contains("`waited::text`"),
        "{message}"
    );
    // The cast it suggests works.
    let batches = read_all(
        PgSource::builder(&url, "SELECT interval '1 day'::text AS waited")
            .open(&io)
            .unwrap(),
    );
    assert_eq!(text(&batches[0], "waited", 0), "1 day");
}

// ---------------------------------------------------------------------------------------------
// Parameters

#[test]
fn parameters_are_bound_by_the_server_with_their_declared_types() {
    let Some(url) = services::pg_url() else {
        return;
    };
    let io = IoRuntime::shared();
    let sql = "SELECT g FROM generate_series(1, 100) g \
               WHERE g >= $1 AND ($2::int4[] IS NULL OR g = ANY($2)) \
               AND $3::date <= date '2026-03-01' AND $4::text = 'x'' OR 1=1 --' ORDER BY g";
    let start = Utc.with_ymd_and_hms(2026, 2, 1, 23, 0, 0).unwrap();
    let rows = |params: Vec<PgParam>| -> Vec<String> {
        let batches = read_all(
            PgSource::builder(&url, sql)
                .params(params)
                .open(&io)
                .unwrap(),
        );
        batches
            .iter()
            .flat_map(|b| (0..b.num_rows()).map(move |r| text(b, "g", r)))
            .collect()
    };
    let text_param = PgParam::Text("x' OR 1=1 --".into());
    assert_eq!(
        rows(vec![
            PgParam::Int(98),
            PgParam::Null,
            PgParam::Timestamp(start),
            text_param.clone()
        ]),
        ["98", "99", "100"]
    );
    assert_eq!(
        rows(vec![
            PgParam::Int(1),
            PgParam::IntList(vec![3, 5, 500]),
            PgParam::Timestamp(start),
            text_param.clone()
        ]),
        ["3", "5"]
    );
    // A text that looks like SQL is a value: the filter sees it as the text it is.
    assert!(
        rows(vec![
            PgParam::Int(1),
            PgParam::Null,
            PgParam::Timestamp(start),
            PgParam::Text("' OR 1=1 --".into())
        ])
        .is_empty()
    );
}

#[test]
fn a_wrong_number_or_kind_of_parameter_is_a_typed_error_naming_it() {
    let Some(url) = services::pg_url() else {
        return;
    };
    let io = IoRuntime::shared();
    let err = PgSource::builder(&url, "SELECT $1::int8 AS a, $2::text AS b")
        .param(PgParam::Int(1))
        .open(&io)
        .unwrap_err();
    assert_eq!(err.code(), "INVALID_INPUT");
    assert!(
        err.to_string()
            .contains("the query has 2 parameters, 1 values are bound"),
        "{err}"
    );

    let err = PgSource::builder(&url, "SELECT $1::int8 AS a")
        .param(PgParam::Text("seven".into()))
        .open(&io)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("parameter $1 is of type int8: a text cannot be bound to it"),
        "{err}"
    );

    let err = PgSource::builder(&url, "SELEC 1").open(&io).unwrap_err();
    assert!(
        err.to_string().contains("the query was refused") && err.to_string().contains("42601"),
        "{err}"
    );

    // The query runs read-only: a statement that writes is refused, and writes nothing.
    let schema = TestSchema::new(&url);
    let admin = Admin::connect(&url);
    admin.run(&format!(
        "CREATE TABLE {0}.kept (k int); INSERT INTO {0}.kept VALUES (1), (2);",
        schema.name
    ));
    let attempt = PgSource::builder(
        &url,
        format!("DELETE FROM {}.kept RETURNING k", schema.name),
    )
    .open(&io)
    .and_then(|mut source| source.next_batch());
    let err = attempt.unwrap_err();
    assert!(err.to_string().contains("read-only transaction"), "{err}");
    assert_eq!(
        admin.count(
            &format!("SELECT count(*) FROM {}.kept WHERE $1 <> ''", schema.name),
            "x"
        ),
        2
    );

    // An error the server finds while rows stream (division by zero at row 3) ends the source
    // with a typed error, not a short file.
    let mut source = PgSource::builder(
        &url,
        "SELECT 10 / (3 - g) AS q FROM generate_series(1, 5) g",
    )
    .batch_rows(1)
    .open(&io)
    .unwrap();
    let mut seen = 0;
    let err = loop {
        match source.next_batch() {
            Ok(Some(_)) => seen += 1,
            Ok(None) => panic!("the failing query ended without an error"),
            Err(e) => break e,
        }
    };
    assert_eq!(seen, 2);
    assert!(
        err.to_string()
            .contains("the query failed: division by zero"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// Connections

#[test]
fn a_source_dropped_mid_query_cancels_it_and_frees_its_connection() {
    let Some(url) = services::pg_url() else {
        return;
    };
    let admin = Admin::connect(&url);
    let app = unique("drop");
    let mut source = PgSource::builder(
        named(&url, &app),
        // A query that would run for minutes: each row waits 10 ms.
        "SELECT g, pg_sleep(0.01)::text AS slept FROM generate_series(1, 100000) g",
    )
    .batch_rows(5)
    .open(&IoRuntime::shared())
    .unwrap();
    assert_eq!(source.next_batch().unwrap().unwrap().num_rows(), 5);
    assert_eq!(
        admin.connections_named(&app),
        1,
        "the source holds one connection"
    );
    drop(source);
    assert!(
        admin.wait_gone(&app),
        "the dropped source's connection is still open"
    );
}

fn trip_period() -> Period {
    Period::parse("2026-10-01", "2026-11-01", None).unwrap()
}

fn admin_principal() -> Principal {
    Principal::new("root", Some("registry"))
        .with_all_scopes()
        .with_scope(Scope::Admin)
}

/// An engine on SQLite and local files in `dir`, with `extra` TOML (datasets, databases).
fn engine(dir: &Path, extra: &str, clock: Arc<ManualClock>) -> Engine {
    std::fs::create_dir_all(dir).unwrap();
    // A stable opendata key: the same trip has the same pseudonymous id whatever the source.
    let mut config = EngineConfig::from_toml_str(extra).unwrap();
    config.privacy.trip_id_key = Some("pg-source tests' opendata key".into());
    config.job_store.url = format!("sqlite://{}", dir.join("jobs.db").display());
    config.storage.url = format!("file://{}", dir.join("files").display());
    config.limits.creates_per_user = None;
    Engine::builder(config).clock(clock).open().unwrap()
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap(),
    ))
}

#[test]
fn a_cancelled_job_stops_its_query_and_frees_the_connection() {
    let Some(url) = services::pg_url() else {
        return;
    };
    let admin = Admin::connect(&url);
    let app = unique("cancel");
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        r#"
        [databases.slow]
        url = "{}"
        tls = "disable"

        [datasets.slow_rows]
        database = "slow"
        query = "SELECT g AS n, pg_sleep(0.005)::text AS slept FROM generate_series(1, 1000000) g"
        batch_rows = 20
        "#,
        named(&url, &app)
    );
    let engine = engine(dir.path(), &config, clock());
    let job = engine
        .service()
        .create(
            &admin_principal(),
            ExportRequest::new("slow_rows", Format::Csv),
        )
        .unwrap();
    let worker = {
        let engine = engine.clone();
        std::thread::spawn(move || engine.worker().run_once())
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while admin.connections_named(&app) == 0 {
        assert!(Instant::now() < deadline, "the job never opened its query");
        std::thread::sleep(Duration::from_millis(20));
    }
    // A running job is asked to stop; the worker ends it as cancelled.
    engine.service().cancel(&admin_principal(), job.id).unwrap();
    let outcome = worker.join().unwrap().unwrap().expect("the job ran");
    assert_eq!(outcome.status, JobStatus::Cancelled);
    assert!(
        admin.wait_gone(&app),
        "the cancelled job's query still holds its connection"
    );
    assert!(
        engine.storage().list("").unwrap().is_empty(),
        "a cancelled job leaves no file"
    );
}

// ---------------------------------------------------------------------------------------------
// Trips: PostgreSQL, Parquet and the generator give the same files.

fn trip_rows() -> u64 {
    std::env::var("EXPORT_CORE_PG_TRIP_ROWS")
        .ok()
        .map(|v| {
            v.trim()
                .parse()
                .expect("EXPORT_CORE_PG_TRIP_ROWS is a number")
        })
        .unwrap_or(20_000)
}

const TRIP_SEED: u64 = 7;

fn sample_trips(rows: u64, period: &Period) -> SampleTrips {
    SampleTrips::new(SampleConfig {
        rows,
        seed: TRIP_SEED,
        start: period.start,
        end: period.end,
        ..SampleConfig::default()
    })
    .unwrap()
}

/// The PostgreSQL type a trip input column is stored as.
fn pg_type(data_type: &DataType) -> &'static str {
    match data_type {
        DataType::Int64 => "bigint",
        DataType::Int32 => "integer",
        DataType::Float64 => "double precision",
        DataType::Utf8 => "text",
        DataType::Boolean => "boolean",
        DataType::Timestamp(_, Some(_)) => "timestamptz",
        // Incentives: lists of structs, stored as the registry does, in JSON.
        DataType::List(_) => "jsonb",
        other => panic!("no PostgreSQL type for trip input type {other}"),
    }
}

/// Creates `{schema}.trips` shaped like the trip input and loads `rows` generated trips with
/// `COPY` (JSON lines into a staging table, then typed by `jsonb_populate_record`); writes the
/// same trips to `parquet`. Returns the row count the table holds.
fn load_trips(url: &str, schema: &str, rows: u64, period: &Period, parquet: &Path) -> i64 {
    let input = export_core::schema::trip::input_schema();
    let columns: Vec<String> = input
        .fields()
        .iter()
        .map(|f| format!("\"{}\" {}", f.name(), pg_type(f.data_type())))
        .collect();
    let admin = Admin::connect(url);
    admin.run(&format!(
        "CREATE TABLE {schema}.trips ({}); CREATE UNLOGGED TABLE {schema}.raw (j jsonb);",
        columns.join(", ")
    ));
    let file = std::fs::File::create(parquet).unwrap();
    let mut parquet_writer =
        parquet::arrow::ArrowWriter::try_new(file, input.clone(), None).unwrap();
    let mut trips = sample_trips(rows, period);
    let batches = std::iter::from_fn(move || trips.next_batch().unwrap());
    let to_parquet = &mut parquet_writer;
    let lines = batches.map(|batch| {
        to_parquet.write(&batch).unwrap();
        // arrow-json cannot name the `UTC` zone: instants go as UTC wall times, read back in
        // a UTC session below.
        let naive: Vec<arrow_array::ArrayRef> = batch
            .columns()
            .iter()
            .map(|c| match c.data_type() {
                DataType::Timestamp(unit, Some(_)) => {
                    arrow_cast::cast(c, &DataType::Timestamp(*unit, None)).unwrap()
                }
                _ => c.clone(),
            })
            .collect();
        let fields: Vec<arrow_schema::Field> = batch
            .schema()
            .fields()
            .iter()
            .zip(&naive)
            .map(|(f, c)| f.as_ref().clone().with_data_type(c.data_type().clone()))
            .collect();
        let naive =
            RecordBatch::try_new(Arc::new(arrow_schema::Schema::new(fields)), naive).unwrap();
        let mut json = arrow_json::LineDelimitedWriter::new(Vec::new());
        json.write(&naive).unwrap();
        json.finish().unwrap();
        json.into_inner()
    });
    admin.copy_lines(&format!("{schema}.raw"), lines);
    parquet_writer.close().unwrap();
    admin.run(&format!(
        "SET TIME ZONE 'UTC'; INSERT INTO {schema}.trips SELECT r.* FROM {schema}.raw, \
         jsonb_populate_record(NULL::{schema}.trips, raw.j) r; DROP TABLE {schema}.raw; \
         ANALYZE {schema}.trips;"
    ));
    admin.count(
        &format!("SELECT count(*) FROM {schema}.trips WHERE $1 <> ''"),
        "x",
    )
}

fn trip_request(version: SchemaVersion, audience: Audience, period: &Period) -> ExportRequest {
    let format = match version {
        SchemaVersion::V2 => Format::Csv,
        _ => Format::Xlsx,
    };
    let mut request = ExportRequest::new("trip", format);
    request.version = Some(version);
    request.audience = Some(audience);
    request.period = Some(*period);
    request
}

fn export(engine: &Engine, request: ExportRequest) -> (u64, Vec<u8>) {
    let export = engine
        .direct_export(&admin_principal(), request, None)
        .unwrap();
    let (report, bytes) = export.run(Vec::new()).unwrap();
    (report.rows_written, bytes)
}

#[test]
fn trips_from_postgres_parquet_and_the_generator_export_identical_files() {
    let Some(url) = services::pg_url() else {
        return;
    };
    let rows = trip_rows();
    let period = trip_period();
    let schema = TestSchema::new(&url);
    let dir = tempfile::tempdir().unwrap();
    let parquet = dir.path().join("trips.parquet");
    let loaded = load_trips(&url, &schema.name, rows, &period, &parquet);
    assert_eq!(loaded as u64, rows);

    let clock = clock();
    let from_pg = engine(
        &dir.path().join("pg"),
        &format!(
            r#"
            [databases.registry]
            url = "{url}"
            tls = "disable"

            [datasets.trip]
            database = "registry"
            query = """SELECT * FROM {s}.trips WHERE start_at >= $1 AND start_at < $2
                       ORDER BY start_at, journey_id"""
            params = ["period.start", "period.end"]
            "#,
            s = schema.name
        ),
        clock.clone(),
    );
    let from_parquet = engine(
        &dir.path().join("parquet"),
        &format!("[datasets.trip]\nparquet = \"{}\"", parquet.display()),
        clock.clone(),
    );
    // The generator, only where its rows are cheap to make again (debug runs).
    let generator = (rows <= 100_000).then(|| {
        engine(
            &dir.path().join("sample"),
            &format!("[sources]\nsample_rows = {rows}\nsample_seed = {TRIP_SEED}"),
            clock.clone(),
        )
    });
    for version in [SchemaVersion::V2, SchemaVersion::V3] {
        for audience in [Audience::Opendata, Audience::Operator, Audience::Territory] {
            let label = format!("{version:?} {audience:?}");
            let request = trip_request(version, audience, &period);
            let (pg_rows, pg_bytes) = export(&from_pg, request.clone());
            let (pq_rows, pq_bytes) = export(&from_parquet, request.clone());
            assert!(pg_rows > 0, "{label}: no rows");
            assert_eq!(pg_rows, pq_rows, "{label}: rows");
            same_file(
                &format!("{label}, PostgreSQL and Parquet"),
                &pg_bytes,
                &pq_bytes,
            );
            if let Some(generator) = &generator {
                let (_, gen_bytes) = export(generator, request);
                same_file(
                    &format!("{label}, PostgreSQL and generator"),
                    &pg_bytes,
                    &gen_bytes,
                );
            }
            if audience == Audience::Operator {
                // Opendata drops rare zones and territory trips outside every territory; the
                // operator audience exports every trip.
                assert_eq!(pg_rows, rows, "{label}: rows written");
            }
            read_back(version, &pg_bytes, pg_rows, &label);
        }
    }
}

/// Asserts two exports are the same bytes, showing the first line that differs.
fn same_file(label: &str, a: &[u8], b: &[u8]) {
    if a == b {
        return;
    }
    let line = a
        .split(|&c| c == b'\n')
        .zip(b.split(|&c| c == b'\n'))
        .enumerate()
        .find(|(_, (x, y))| x != y);
    match line {
        Some((n, (x, y))) => panic!(
            "{label}: files differ at line {}:\n{}\n{}",
            n + 1,
            String::from_utf8_lossy(x),
            String::from_utf8_lossy(y)
        ),
        None => panic!(
            "{label}: files differ in length ({} and {} bytes)",
            a.len(),
            b.len()
        ),
    }
}

/// Reads a trip export back: its data rows and that its header names columns.
fn read_back(version: SchemaVersion, bytes: &[u8], rows: u64, label: &str) {
    if version == SchemaVersion::V2 {
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(detect_delimiter(bytes))
            .from_reader(bytes);
        let headers = reader.headers().unwrap().clone();
        assert!(
            headers.iter().any(|h| h == "journey_id"),
            "{label}: {headers:?}"
        );
        let mut count = 0u64;
        for record in reader.records() {
            let record = record.unwrap();
            assert_eq!(record.len(), headers.len(), "{label}: a short record");
            count += 1;
        }
        assert_eq!(count, rows, "{label}: CSV data rows");
    } else if rows <= 100_000 {
        // calamine reads a whole sheet into memory: checked on the debug-size runs.
        use calamine::Reader as _;
        let mut book = calamine::Xlsx::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
        let sheet = book.sheet_names()[0].clone();
        let range = book.worksheet_range(&sheet).unwrap();
        assert_eq!(range.height() as u64, rows + 1, "{label}: XLSX rows");
    } else {
        assert!(bytes.starts_with(b"PK"), "{label}: not a zip");
    }
}

fn detect_delimiter(bytes: &[u8]) -> u8 {
    let first_line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    if first_line.contains(&b';') {
        b';'
    } else {
        b','
    }
}

// ---------------------------------------------------------------------------------------------
// A fresh engine pointed at PostgreSQL: a job, a schedule and the HTTP API export a real table.

fn create_products(url: &str, schema: &str) {
    Admin::connect(url).run(&format!(
        "CREATE TABLE {schema}.products (id bigint, sku text, price numeric(10, 2), tags text[], \
         owner text, added timestamptz);
         INSERT INTO {schema}.products
         SELECT g, 'SKU-' || g, g * 1.25, ARRAY['t' || (g % 3)], CASE WHEN g % 2 = 0 THEN 'shop-a' ELSE 'shop-b' END,
                timestamptz '2026-01-01 00:00:00+00' + g * interval '1 hour'
         FROM generate_series(1, 500) g;"
    ));
}

fn products_config(url: &str, schema: &str) -> String {
    format!(
        r#"
        [databases.shop]
        url = "{url}"
        tls = "disable"

        [datasets.pg_products]
        description = "products from PostgreSQL"
        database = "shop"
        query = "SELECT id, sku, price, tags, added FROM {schema}.products ORDER BY id"
        headers = {{ sku = "SKU" }}
        batch_rows = 64
        "#
    )
}

/// The ids of a products CSV, checking its header.
fn product_ids(bytes: &[u8]) -> Vec<i64> {
    let mut reader = csv::Reader::from_reader(bytes);
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        ["id", "SKU", "price", "tags", "added"]
    );
    reader
        .records()
        .map(|r| r.unwrap()[0].parse().unwrap())
        .collect()
}

#[test]
fn a_job_and_a_schedule_export_a_postgres_table() {
    let Some(url) = services::pg_url() else {
        return;
    };
    let schema = TestSchema::new(&url);
    create_products(&url, &schema.name);
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let engine = engine(
        dir.path(),
        &products_config(&url, &schema.name),
        clock.clone(),
    );
    assert!(engine.datasets().get("pg_products").is_some());

    let service = engine.service();
    let job = service
        .create(
            &admin_principal(),
            ExportRequest::new("pg_products", Format::Csv),
        )
        .unwrap();
    let outcome = engine.worker().run_once().unwrap().expect("a pending job");
    assert_eq!(outcome.status, JobStatus::Succeeded, "{outcome:?}");
    let mut bytes = Vec::new();
    service
        .download(&admin_principal(), job.id)
        .unwrap()
        .reader
        .read_to_end(&mut bytes)
        .unwrap();
    let ids = product_ids(&bytes);
    assert_eq!(ids, (1..=500).collect::<Vec<i64>>());
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.contains("\n2,SKU-2,2.50,"), "{}", &text[..200]);

    let anchor = clock.now() - ChronoDuration::hours(1);
    let mut request = ExportRequest::new("pg_products", Format::JsonLines);
    request.fields.include = vec!["id".into(), "price".into()];
    engine
        .schedules()
        .create_schedule(
            &admin_principal(),
            NewSchedule::new(
                "nightly-products",
                admin_principal().owner(),
                ScheduleTarget::request(request),
                Trigger::every_minutes(30, anchor).unwrap(),
            ),
        )
        .unwrap();
    clock.advance(ChronoDuration::minutes(31));
    let tick = engine.scheduler().tick(clock.now()).unwrap();
    assert_eq!(tick.fired.len(), 1, "{tick:?}");
    let outcome = engine
        .worker()
        .run_once()
        .unwrap()
        .expect("the scheduled job");
    assert_eq!(outcome.status, JobStatus::Succeeded, "{outcome:?}");
    let mut lines = Vec::new();
    service
        .download(&admin_principal(), outcome.job_id)
        .unwrap()
        .reader
        .read_to_end(&mut lines)
        .unwrap();
    let lines = String::from_utf8(lines).unwrap();
    assert_eq!(lines.lines().count(), 500);
    assert_eq!(lines.lines().nth(1).unwrap(), r#"{"id":2,"price":2.50}"#);
}

#[test]
fn a_fresh_export_core_serves_a_postgres_table_over_http() {
    let Some(url) = services::pg_url() else {
        return;
    };
    let schema = TestSchema::new(&url);
    create_products(&url, &schema.name);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("export-core.toml");
    std::fs::write(
        &config,
        format!(
            "[job_store]\nurl = \"sqlite://{}\"\n[storage]\nurl = \"file://{}\"\n{}",
            dir.path().join("jobs.db").display(),
            dir.path().join("files").display(),
            products_config(&url, &schema.name)
        ),
    )
    .unwrap();
    let tokens = dir.path().join("tokens.json");
    std::fs::write(
        &tokens,
        r#"{"t-shop": {"user": "sam", "organisation": "shop-a", "scopes": "READ_EXPORTS,WRITE_EXPORTS"}}"#,
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_export-core"))
        .args(["serve", "--config"])
        .arg(&config)
        .args(["--listen", "127.0.0.1:0", "--tokens"])
        .arg(&tokens)
        .env_remove("EXPORT_CORE_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _guard = Kill(child);
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    let call = |method: &str, path: &str, body: Option<&str>| -> (u16, Vec<u8>) {
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{base}{path}"))
            .header("authorization", "Bearer t-shop")
            .header("content-type", "application/json");
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent();
        let response = match body {
            Some(body) => agent.run(request.body(body.to_string()).unwrap()),
            None => agent.run(request.body(()).unwrap()),
        }
        .unwrap();
        let status = response.status().as_u16();
        let mut body = Vec::new();
        response
            .into_body()
            .into_reader()
            .read_to_end(&mut body)
            .unwrap();
        (status, body)
    };
    let get = |path: &str| call("GET", path, None);
    let (status, body) = get("/api/v1/exports/datasets");
    assert_eq!(status, 200);
    let listed: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"pg_products"), "{names:?}");

    let (status, body) = call("POST", "/api/v1/exports/csv/pg_products", Some("{}"));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(product_ids(&body), (1..=500).collect::<Vec<i64>>());

    let (status, body) = get("/api/v1/exports/stream/json/pg_products?lines=true&fields=id,tags");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let body = String::from_utf8(body).unwrap();
    assert_eq!(body.lines().count(), 500);
    assert_eq!(body.lines().next().unwrap(), r#"{"id":1,"tags":["t1"]}"#);
}

/// Runs the `export-core` binary in `dir` with `args`.
fn cli(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_export-core"))
        .current_dir(dir)
        .args(args)
        .env_remove("EXPORT_CORE_CONFIG")
        .output()
        .unwrap()
}

fn ok(output: std::process::Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn the_command_line_lists_shows_exports_and_queues_a_postgres_dataset() {
    let Some(url) = services::pg_url() else {
        return;
    };
    let schema = TestSchema::new(&url);
    create_products(&url, &schema.name);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("export-core.toml"),
        products_config(&url, &schema.name),
    )
    .unwrap();
    let config = ["--config", "export-core.toml"];

    let listed = ok(cli(d, &[&["datasets", "list"][..], &config].concat()));
    assert!(
        listed.contains("pg_products\t1 sheet(s)\t5 columns\tproducts from PostgreSQL"),
        "{listed}"
    );
    let shown: serde_json::Value = serde_json::from_str(&ok(cli(
        d,
        &[&["datasets", "show", "pg_products", "--json"][..], &config].concat(),
    )))
    .unwrap();
    let shown = shown.to_string();
    assert!(
        shown.contains(r#""header":"SKU""#) && shown.contains("Decimal128(10, 2)"),
        "{shown}"
    );
    let unknown = cli(
        d,
        &[&["datasets", "show", "pg_prodcts"][..], &config].concat(),
    );
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("no dataset `pg_prodcts`"),
        "{}",
        String::from_utf8_lossy(&unknown.stderr)
    );

    // An immediate export, then one with a trip-only flag: refused by name, no file.
    ok(cli(
        d,
        &[
            &[
                "export",
                "--dataset",
                "pg_products",
                "--format",
                "csv",
                "--out",
                "p.csv",
                "--quiet",
            ][..],
            &config,
        ]
        .concat(),
    ));
    assert_eq!(
        product_ids(&std::fs::read(d.join("p.csv")).unwrap()),
        (1..=500).collect::<Vec<i64>>()
    );
    let refused = cli(
        d,
        &[
            &[
                "export",
                "--dataset",
                "pg_products",
                "--format",
                "csv",
                "--audience",
                "operator",
            ][..],
            &["--out", "q.csv", "--quiet"],
            &config,
        ]
        .concat(),
    );
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("invalid `audience`"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(!d.join("q.csv").exists());

    // A job queued from the command line and run by a worker process.
    let user = ["--as", "ada", "--org", "shop-a"];
    let id = ok(cli(
        d,
        &[
            &[
                "jobs",
                "create",
                "--dataset",
                "pg_products",
                "--format",
                "jsonl",
            ][..],
            &user,
            &config,
        ]
        .concat(),
    ));
    let id = id.trim();
    ok(cli(d, &[&["worker", "--once"][..], &config].concat()));
    ok(cli(
        d,
        &[
            &["jobs", "download", id, "--out", "p.jsonl"][..],
            &user,
            &config,
        ]
        .concat(),
    ));
    let lines = std::fs::read_to_string(d.join("p.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 500);
    assert!(
        lines.starts_with(
            r#"{"id":1,"SKU":"SKU-1","price":1.25,"tags":["t1"],"added":"2026-01-01T01:00:00Z"}"#
        ),
        "{}",
        &lines[..120]
    );
}
