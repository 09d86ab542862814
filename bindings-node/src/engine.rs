//! `Engine`: the job service, workers, the scheduler, platforms and retention of
//! [`export_core::engine::Engine`]. Every call converts its arguments on the main thread and
//! runs on tokio's blocking pool (a worker on a thread of its own); records come back as the
//! same JSON the HTTP API answers with.

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use export_core::engine::{Engine as CoreEngine, EngineConfig};
use export_core::job::{ExportJob, JobStatus, ListQuery};
use export_core::platform::Platform;
use export_core::request::ExportRequest;
use export_core::schedule::{ScheduleQuery, ScheduleSpec};
use export_core::service::{Principal, parse_job_id};
use export_core::source::Source;
use export_core::worker::{JobOutcome, ProgressSources, SourceProvider};
use export_core::{ExportError, Result};
use napi::bindgen_prelude::{Buffer, PromiseRaw, Unknown};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, Status, ValueType};
use napi_derive::napi;
use serde::Deserialize;
use serde_json::{Value as Json, json};
use tokio::sync::oneshot;

use crate::convert::{camel_message, snake_keys, to_json, type_name};
use crate::errors::{Failure, guarded, to_js};
use crate::feed;
use crate::task::CHUNK_BYTES;

/// Runs `work` on tokio's blocking pool; the promise settles with its JSON or its error.
fn blocking<'env, T: serde::Serialize + Send + 'static>(
    env: &'env Env,
    work: impl FnOnce() -> std::result::Result<T, Failure> + Send + 'static,
) -> napi::Result<PromiseRaw<'env, Json>> {
    env.spawn_future_with_callback(
        async move {
            Ok(tokio::task::spawn_blocking(move || guarded(work))
                .await
                .unwrap_or_else(|e| Err(Failure::new("INTERNAL", e.to_string()))))
        },
        |env, outcome| match outcome {
            Ok(value) => serde_json::to_value(value)
                .map_err(|e| to_js(env, Failure::new("INTERNAL", e.to_string()))),
            Err(failure) => Err(to_js(env, failure)),
        },
    )
}

/// A JS value as the core's JSON input, or the failure naming it.
fn json_arg(value: &Unknown<'_>, what: &str) -> std::result::Result<Json, Failure> {
    to_json(value, what).map_err(|r| Failure::argument(what, r))
}

/// Parses `json` as `T`: a request or schedule in the core's own (snake_case) keys, so its
/// errors name them as given.
fn parse_wire<T: serde::de::DeserializeOwned>(
    what: &str,
    json: Json,
) -> std::result::Result<T, Failure> {
    Ok(export_core::error::from_json_value(what, json)?)
}

/// Parses `json` as `T`, the error naming the path from `what` in camelCase.
fn parse<T: serde::de::DeserializeOwned>(
    what: &str,
    json: Json,
) -> std::result::Result<T, Failure> {
    export_core::error::from_json_value(what, json).map_err(|e| {
        let mut failure = Failure::from(e);
        failure.message = camel_message(&failure.message);
        failure
    })
}

/// Who calls, as JS gives it: `{ userId, organisation?, scopes?, operator?, territory? }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PrincipalArgs {
    user_id: String,
    #[serde(default)]
    organisation: Option<String>,
    #[serde(default)]
    scopes: Option<Scopes>,
    #[serde(default)]
    operator: Option<i64>,
    #[serde(default)]
    territory: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Scopes {
    Text(String),
    List(Vec<String>),
}

fn principal(value: &Unknown<'_>) -> std::result::Result<Principal, Failure> {
    let args: PrincipalArgs = parse("principal", snake_keys(json_arg(value, "principal")?))?;
    if args.user_id.trim().is_empty() {
        return Err(Failure::argument("principal.userId", "must not be empty"));
    }
    let scopes = match args.scopes {
        None => "READ_EXPORTS,WRITE_EXPORTS".to_string(),
        Some(Scopes::Text(s)) => s,
        Some(Scopes::List(list)) => list.join(","),
    };
    let mut p = Principal::new(&args.user_id, args.organisation.as_deref()).with_scopes(&scopes)?;
    if let Some(op) = args.operator {
        p = p.operator(op);
    }
    if let Some(t) = args.territory {
        p = p.territory(t);
    }
    Ok(p)
}

/// The principal and a JSON argument, converted together.
fn with_json(
    principal: &Unknown<'_>,
    value: &Unknown<'_>,
    what: &str,
) -> std::result::Result<(Principal, Json), Failure> {
    Ok((self::principal(principal)?, json_arg(value, what)?))
}

/// `data(requestJson, feedId)`: the JS layer's side of a job's data function.
type DataFn = ThreadsafeFunction<(String, u32), (), (String, u32), Status, false, true>;
/// `onProgress(jobId, rows, rowsExpected)`.
type JobProgressFn = ThreadsafeFunction<
    (String, f64, Option<f64>),
    (),
    (String, f64, Option<f64>),
    Status,
    false,
    true,
>;

/// The data of each job from JS: the export's thread waits on a feed the JS layer fills.
struct JsSources {
    data: Arc<DataFn>,
}

impl SourceProvider for JsSources {
    fn open(&self, job: &ExportJob) -> Result<Vec<Box<dyn Source>>> {
        let request = serde_json::to_string(&job.request)
            .map_err(|e| ExportError::request("request", e.to_string()))?;
        let (id, inlet) = feed::waiting();
        let status = self
            .data
            .call((request, id), ThreadsafeFunctionCallMode::NonBlocking);
        if status != Status::Ok {
            feed::forget(id);
            return Err(ExportError::InvalidInput {
                source_name: "data".into(),
                line: None,
                reason: format!("the job's data function could not be called ({status})"),
            });
        }
        Ok(vec![inlet.open()?])
    }
}

fn outcome_json(o: &JobOutcome) -> Json {
    json!({
        "job_id": o.job_id.to_string(),
        "status": o.status,
        "rows": o.rows,
        "error": o.error,
        "lease_lost": o.lease_lost,
        "released": o.released,
    })
}

/// The engine: job store, storage, audit log, schemas and policies, opened from a
/// configuration (an object, or the path of a TOML or JSON file; none: the embedded defaults).
#[napi]
pub struct Engine {
    engine: CoreEngine,
}

#[napi]
impl Engine {
    /// Opens the engine (creating its SQLite store and file directory when they are missing).
    #[napi(
        constructor,
        ts_args_type = "config?: Record<string, unknown> | string | null"
    )]
    pub fn new(env: Env, config: Option<Unknown<'_>>) -> napi::Result<Engine> {
        let opened = guarded(|| {
            let config = match config {
                None => EngineConfig::default(),
                Some(c) => match c.get_type()? {
                    ValueType::Undefined | ValueType::Null => EngineConfig::default(),
                    ValueType::String => EngineConfig::from_file(unsafe { c.cast::<String>() }?)?,
                    ValueType::Object => {
                        EngineConfig::from_json_str(&json_arg(&c, "config")?.to_string())?
                    }
                    _ => {
                        return Err(Failure::argument(
                            "config",
                            format!(
                                "expected an object, a path to a TOML or JSON file, or nothing, got a {}",
                                type_name(&c)
                            ),
                        ));
                    }
                },
            };
            Ok(CoreEngine::open(config)?)
        });
        opened
            .map(|engine| Engine { engine })
            .map_err(|f| to_js(&env, f))
    }

    /// Creates an export job for `principal` from a request (the HTTP API's JSON body).
    #[napi(
        ts_args_type = "principal: Principal, request: Record<string, unknown>",
        ts_return_type = "Promise<Job>"
    )]
    pub fn create<'env>(
        &self,
        env: &'env Env,
        principal: Unknown<'env>,
        request: Unknown<'env>,
    ) -> napi::Result<PromiseRaw<'env, Json>> {
        let engine = self.engine.clone();
        let args = with_json(&principal, &request, "request");
        blocking(env, move || {
            let (principal, json) = args?;
            let request: ExportRequest = parse_wire("request", json)?;
            Ok(engine.service().create(&principal, request)?)
        })
    }

    /// The principal's own jobs, newest first: `{ jobs, next_cursor }`; `query` may give a
    /// `status`, a `limit` and the `cursor` of the previous page.
    #[napi(
        ts_args_type = "principal: Principal, query?: ListQuery | null",
        ts_return_type = "Promise<JobPage>"
    )]
    pub fn list<'env>(
        &self,
        env: &'env Env,
        principal: Unknown<'env>,
        query: Option<Unknown<'env>>,
    ) -> napi::Result<PromiseRaw<'env, Json>> {
        #[derive(Deserialize, Default)]
        #[serde(deny_unknown_fields)]
        struct Query {
            status: Option<JobStatus>,
            limit: Option<u32>,
            cursor: Option<String>,
        }
        let engine = self.engine.clone();
        let args = (|| -> std::result::Result<_, Failure> {
            let query: Query = match &query {
                Some(q) => match snake_keys(json_arg(q, "query")?) {
                    Json::Null => Query::default(),
                    json => parse("query", json)?,
                },
                None => Query::default(),
            };
            Ok((self::principal(&principal)?, query))
        })();
        blocking(env, move || {
            let (principal, q) = args?;
            let mut query = ListQuery::default();
            if let Some(s) = q.status {
                query = query.status(s);
            }
            if let Some(l) = q.limit {
                query.limit = l;
            }
            query.cursor = q.cursor;
            let page = engine.service().list(&principal, &query)?;
            Ok(json!({ "jobs": page.jobs, "next_cursor": page.next_cursor }))
        })
    }

    /// One of the principal's jobs (`EXPORT_NOT_FOUND` for anybody else's).
    #[napi(
        ts_args_type = "principal: Principal, id: string",
        ts_return_type = "Promise<Job>"
    )]
    pub fn get<'env>(
        &self,
        env: &'env Env,
        principal: Unknown<'env>,
        id: String,
    ) -> napi::Result<PromiseRaw<'env, Json>> {
        self.for_principal(env, &principal, move |engine, who| {
            engine.service().get(who, parse_job_id(&id)?)
        })
    }

    /// Where a job is: status, progress, percent, error, times.
    #[napi(
        ts_args_type = "principal: Principal, id: string",
        ts_return_type = "Promise<JobStatusView>"
    )]
    pub fn status<'env>(
        &self,
        env: &'env Env,
        principal: Unknown<'env>,
        id: String,
    ) -> napi::Result<PromiseRaw<'env, Json>> {
        self.for_principal(env, &principal, move |engine, who| {
            engine.service().status(who, parse_job_id(&id)?)
        })
    }

    /// Cancels a pending job, or asks a running one to stop at its next batch.
    #[napi(
        ts_args_type = "principal: Principal, id: string",
        ts_return_type = "Promise<Job>"
    )]
    pub fn cancel<'env>(
        &self,
        env: &'env Env,
        principal: Unknown<'env>,
        id: String,
    ) -> napi::Result<PromiseRaw<'env, Json>> {
        self.for_principal(env, &principal, move |engine, who| {
            engine.service().cancel(who, parse_job_id(&id)?)
        })
    }

    /// Deletes a job and its file (the core cancels a running one first).
    #[napi(
        ts_args_type = "principal: Principal, id: string",
        ts_return_type = "Promise<void>"
    )]
    pub fn delete<'env>(
        &self,
        env: &'env Env,
        principal: Unknown<'env>,
        id: String,
    ) -> napi::Result<PromiseRaw<'env, Json>> {
        self.for_principal(env, &principal, move |engine, who| {
            engine.service().delete(who, parse_job_id(&id)?)
        })
    }

    /// The finished file of a job, read in chunks (the JS layer makes it a `Readable`).
    #[napi(
        ts_args_type = "principal: Principal, id: string",
        ts_return_type = "Promise<Download>"
    )]
    pub fn download<'env>(
        &self,
        env: &'env Env,
        principal: Unknown<'env>,
        id: String,
    ) -> napi::Result<PromiseRaw<'env, Download>> {
        let engine = self.engine.clone();
        let who = self::principal(&principal);
        env.spawn_future_with_callback(
            async move {
                Ok(tokio::task::spawn_blocking(move || {
                    guarded(|| Ok(engine.service().download(&who?, parse_job_id(&id)?)?))
                })
                .await
                .unwrap_or_else(|e| Err(Failure::new("INTERNAL", e.to_string()))))
            },
            |env, outcome| match outcome {
                Ok(d) => Ok(Download {
                    file_name: d.file_name,
                    content_type: d.content_type,
                    size: d.size as i64,
                    sha256: d.sha256,
                    rows: d.rows as i64,
                    reader: Arc::new(Mutex::new(Some(d.reader))),
                }),
                Err(failure) => Err(to_js(env, failure)),
            },
        )
    }

    /// Starts a worker run: the next pending job (or the one `jobId` names, when it is
    /// pending), or, with `untilIdle`, pending jobs until none is left. Its data comes from the
    /// JS layer's `data(requestJson, feedId)` or the engine's sources.
    #[napi(
        ts_args_type = "options: { jobId?: string | null, untilIdle?: boolean }, data?: ((request: string, feed: number) => void) | null, onProgress?: ((jobId: string, rows: number, rowsExpected: number | null) => void) | null"
    )]
    pub fn start_worker(
        &self,
        env: Env,
        options: Unknown<'_>,
        data: Option<DataFn>,
        on_progress: Option<JobProgressFn>,
    ) -> napi::Result<WorkerRun> {
        #[derive(Deserialize, Default)]
        #[serde(deny_unknown_fields)]
        struct Options {
            job_id: Option<String>,
            #[serde(default)]
            until_idle: bool,
        }
        let options: Options = (|| parse("options", snake_keys(json_arg(&options, "options")?)))()
            .map_err(|f| to_js(&env, f))?;
        let only = options
            .job_id
            .as_deref()
            .map(parse_job_id)
            .transpose()
            .map_err(|e| to_js(&env, e.into()))?;
        let mut provider: Arc<dyn SourceProvider> = match data {
            Some(data) => Arc::new(JsSources {
                data: Arc::new(data),
            }),
            None => self.engine.sources().clone(),
        };
        if let Some(callback) = on_progress {
            provider = Arc::new(ProgressSources::new(
                provider,
                Arc::new(move |job: &str, rows, expected| {
                    callback.call(
                        (job.to_string(), rows as f64, expected.map(|n| n as f64)),
                        ThreadsafeFunctionCallMode::NonBlocking,
                    );
                    Ok(())
                }),
            ));
        }
        let worker = self.engine.worker_with_sources(provider);
        let shutdown = Arc::new(AtomicBool::new(false));
        let flag = shutdown.clone();
        let (tx, rx) = oneshot::channel();
        let until_idle = options.until_idle;
        let _ = std::thread::Builder::new()
            .name("export-core-worker".into())
            .spawn(move || {
                let outcomes = guarded(|| -> std::result::Result<Vec<Json>, Failure> {
                    let mut outcomes = Vec::new();
                    if let Some(id) = only {
                        outcomes.extend(worker.run_job(id, Some(&flag))?);
                    } else if until_idle {
                        while let Some(o) = worker.run_once_until_shutdown(&flag)? {
                            outcomes.push(o);
                            if flag.load(Ordering::SeqCst) {
                                break;
                            }
                        }
                    } else {
                        outcomes.extend(worker.run_once_until_shutdown(&flag)?);
                    }
                    Ok(outcomes.iter().map(outcome_json).collect())
                });
                let _ = tx.send(outcomes);
            });
        Ok(WorkerRun {
            shutdown,
            outcome: Mutex::new(Some(rx)),
        })
    }

    /// One scheduler tick now: fires due schedules, follows their runs.
    #[napi(ts_return_type = "Promise<Record<string, unknown>>")]
    pub fn tick_scheduler<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Json>> {
        let engine = self.engine.clone();
        blocking(env, move || {
            Ok(engine.scheduler().tick(engine.clock().now())?)
        })
    }

    /// Expires what retention says is due (files deleted, jobs anonymised); `dryRun` only
    /// reports.
    #[napi(ts_return_type = "Promise<PurgeReport>")]
    pub fn purge<'env>(
        &self,
        env: &'env Env,
        dry_run: Option<bool>,
    ) -> napi::Result<PromiseRaw<'env, Json>> {
        let engine = self.engine.clone();
        blocking(env, move || {
            let purger = engine.purger()?;
            let r = if dry_run.unwrap_or(false) {
                purger.dry_run()?
            } else {
                purger.purge()?
            };
            Ok(json!({
                "jobs": r.jobs.iter().map(|j| j.to_string()).collect::<Vec<_>>(),
                "files_deleted": r.files_deleted,
                "files_missing": r.files_missing,
                "retention_assigned": r.retention_assigned,
                "audit_pseudonymised": r.audit_pseudonymised,
                "audit_deleted": r.audit_deleted,
                "abandoned_uploads": r.abandoned_uploads,
                "dry_run": r.dry_run,
            }))
        })
    }

    /// The principal's schedules.
    #[napi(
        ts_args_type = "principal: Principal",
        ts_return_type = "Promise<Schedule[]>"
    )]
    pub fn list_schedules<'env>(
        &self,
        env: &'env Env,
        principal: Unknown<'env>,
    ) -> napi::Result<PromiseRaw<'env, Json>> {
        self.for_principal(env, &principal, move |engine, who| {
            engine
                .schedules()
                .list_schedules(who, &ScheduleQuery::default())
        })
    }

    /// Creates a schedule (`id`, `target`, `trigger`; optional `name`, `owner`, `period`,
    /// `enabled`, `retry`, `misfire`, `retention_seconds`), owned by `principal` unless it
    /// names an owner.
    #[napi(
        ts_args_type = "principal: Principal, spec: Record<string, unknown>",
        ts_return_type = "Promise<Schedule>"
    )]
    pub fn create_schedule<'env>(
        &self,
        env: &'env Env,
        principal: Unknown<'env>,
        spec: Unknown<'env>,
    ) -> napi::Result<PromiseRaw<'env, Json>> {
        let engine = self.engine.clone();
        let args = with_json(&principal, &spec, "schedule");
        blocking(env, move || {
            let (who, json) = args?;
            let spec: ScheduleSpec = parse_wire("schedule", json)?;
            let new = spec.into_new(&who.owner());
            Ok(engine.schedules().create_schedule(&who, new)?)
        })
    }

    /// One schedule, with its next run and statistics.
    #[napi(
        ts_args_type = "principal: Principal, id: string",
        ts_return_type = "Promise<Schedule>"
    )]
    pub fn get_schedule<'env>(
        &self,
        env: &'env Env,
        principal: Unknown<'env>,
        id: String,
    ) -> napi::Result<PromiseRaw<'env, Json>> {
        self.for_principal(env, &principal, move |engine, who| {
            engine.schedules().get_schedule(who, &id)
        })
    }

    /// A schedule's recent runs, newest first.
    #[napi(
        ts_args_type = "principal: Principal, id: string, limit?: number",
        ts_return_type = "Promise<Record<string, unknown>[]>"
    )]
    pub fn schedule_runs<'env>(
        &self,
        env: &'env Env,
        principal: Unknown<'env>,
        id: String,
        limit: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, Json>> {
        self.for_principal(env, &principal, move |engine, who| {
            engine
                .schedules()
                .schedule_runs(who, &id, limit.unwrap_or(20))
        })
    }

    /// Enables or disables a schedule.
    #[napi(
        ts_args_type = "principal: Principal, id: string, enabled: boolean",
        ts_return_type = "Promise<Schedule>"
    )]
    pub fn set_schedule_enabled<'env>(
        &self,
        env: &'env Env,
        principal: Unknown<'env>,
        id: String,
        enabled: bool,
    ) -> napi::Result<PromiseRaw<'env, Json>> {
        self.for_principal(env, &principal, move |engine, who| {
            engine.schedules().set_enabled(who, &id, enabled)
        })
    }

    /// Deletes a schedule.
    #[napi(
        ts_args_type = "principal: Principal, id: string",
        ts_return_type = "Promise<unknown>"
    )]
    pub fn delete_schedule<'env>(
        &self,
        env: &'env Env,
        principal: Unknown<'env>,
        id: String,
    ) -> napi::Result<PromiseRaw<'env, Json>> {
        self.for_principal(env, &principal, move |engine, who| {
            engine.schedules().delete_schedule(who, &id)
        })
    }

    /// Installs the registry's monthly opendata exports (administrators).
    #[napi(
        ts_args_type = "principal: Principal",
        ts_return_type = "Promise<unknown>"
    )]
    pub fn install_monthly_opendata<'env>(
        &self,
        env: &'env Env,
        principal: Unknown<'env>,
    ) -> napi::Result<PromiseRaw<'env, Json>> {
        self.for_principal(env, &principal, move |engine, who| {
            engine.schedules().install_monthly_opendata(who)
        })
    }

    /// Saves a platform: a named, reusable request.
    #[napi(
        ts_args_type = "principal: Principal, name: string, request: Record<string, unknown>, description?: string",
        ts_return_type = "Promise<Platform>"
    )]
    pub fn create_platform<'env>(
        &self,
        env: &'env Env,
        principal: Unknown<'env>,
        name: String,
        request: Unknown<'env>,
        description: Option<String>,
    ) -> napi::Result<PromiseRaw<'env, Json>> {
        let engine = self.engine.clone();
        let args = with_json(&principal, &request, "request");
        blocking(env, move || {
            let (who, json) = args?;
            let request: ExportRequest = parse_wire("request", json)?;
            let platform = Platform::new(&name, request, engine.clock().now())
                .description(description.unwrap_or_default());
            Ok(engine.schedules().create_platform(&who, platform)?)
        })
    }

    /// The platforms the principal sees.
    #[napi(
        ts_args_type = "principal: Principal",
        ts_return_type = "Promise<Platform[]>"
    )]
    pub fn list_platforms<'env>(
        &self,
        env: &'env Env,
        principal: Unknown<'env>,
    ) -> napi::Result<PromiseRaw<'env, Json>> {
        self.for_principal(env, &principal, move |engine, who| {
            engine.schedules().list_platforms(who)
        })
    }

    /// One platform.
    #[napi(
        ts_args_type = "principal: Principal, name: string",
        ts_return_type = "Promise<Platform>"
    )]
    pub fn get_platform<'env>(
        &self,
        env: &'env Env,
        principal: Unknown<'env>,
        name: String,
    ) -> napi::Result<PromiseRaw<'env, Json>> {
        self.for_principal(env, &principal, move |engine, who| {
            engine.schedules().get_platform(who, &name)
        })
    }

    /// Deletes a platform.
    #[napi(
        ts_args_type = "principal: Principal, name: string",
        ts_return_type = "Promise<unknown>"
    )]
    pub fn delete_platform<'env>(
        &self,
        env: &'env Env,
        principal: Unknown<'env>,
        name: String,
    ) -> napi::Result<PromiseRaw<'env, Json>> {
        self.for_principal(env, &principal, move |engine, who| {
            engine.schedules().delete_platform(who, &name)
        })
    }
}

/// What a worker run resolves with: one outcome per job run.
type Outcomes = std::result::Result<Vec<Json>, Failure>;

impl Engine {
    /// Runs `work` for the principal on tokio's blocking pool: the shape of most calls.
    fn for_principal<'env, T: serde::Serialize + Send + 'static>(
        &self,
        env: &'env Env,
        principal: &Unknown<'_>,
        work: impl FnOnce(&CoreEngine, &Principal) -> Result<T> + Send + 'static,
    ) -> napi::Result<PromiseRaw<'env, Json>> {
        let engine = self.engine.clone();
        let who = self::principal(principal);
        blocking(env, move || Ok(work(&engine, &who?)?))
    }
}

/// A running worker: `stop()` asks it to release its job before the next batch (the job is
/// pending again, nothing published); `done()` gives the outcomes, one per job run.
#[napi]
pub struct WorkerRun {
    shutdown: Arc<AtomicBool>,
    outcome: Mutex<Option<oneshot::Receiver<Outcomes>>>,
}

#[napi]
impl WorkerRun {
    /// Asks the worker to stop before its next batch.
    #[napi]
    pub fn stop(&self) {
        self.shutdown.store(true, Ordering::SeqCst);
    }

    /// The outcomes of the jobs run (empty when none was pending). Once per run.
    #[napi(ts_return_type = "Promise<JobOutcome[]>")]
    pub fn done<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Json>> {
        let rx = self
            .outcome
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        env.spawn_future_with_callback(
            async move {
                Ok(match rx {
                    Some(rx) => rx.await.unwrap_or_else(|_| {
                        Err(Failure::new(
                            "INTERNAL",
                            "the worker ended without an outcome",
                        ))
                    }),
                    None => Err(Failure::new("INTERNAL", "done() was called twice")),
                })
            },
            |env, outcome| match outcome {
                Ok(list) => Ok(Json::Array(list)),
                Err(failure) => Err(to_js(env, failure)),
            },
        )
    }
}

/// A finished export's file: its name, type, size, SHA-256 and rows, read with `next()`.
#[napi]
pub struct Download {
    file_name: String,
    content_type: String,
    size: i64,
    sha256: String,
    rows: i64,
    reader: Arc<Mutex<Option<export_core::storage::Download>>>,
}

#[napi]
impl Download {
    /// The name to offer (`trips-v3-opendata-2026-10.xlsx`).
    #[napi(getter)]
    pub fn file_name(&self) -> String {
        self.file_name.clone()
    }

    /// Its MIME type.
    #[napi(getter)]
    pub fn content_type(&self) -> String {
        self.content_type.clone()
    }

    /// Its size in bytes.
    #[napi(getter)]
    pub fn size(&self) -> i64 {
        self.size
    }

    /// Its SHA-256 recorded at publication (lower-case hex).
    #[napi(getter)]
    pub fn sha256(&self) -> String {
        self.sha256.clone()
    }

    /// Data rows in the file.
    #[napi(getter)]
    pub fn rows(&self) -> i64 {
        self.rows
    }

    /// The next chunk of the file, or `null` at its end.
    #[napi(ts_return_type = "Promise<Buffer | null>")]
    pub fn next<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Option<Buffer>>> {
        let reader = self.reader.clone();
        env.spawn_future_with_callback(
            async move {
                Ok(tokio::task::spawn_blocking(move || {
                    guarded(|| {
                        let mut guard = reader.lock().unwrap_or_else(|p| p.into_inner());
                        let Some(r) = guard.as_mut() else {
                            return Ok(None);
                        };
                        let mut buf = vec![0; CHUNK_BYTES];
                        let mut filled = 0;
                        while filled < buf.len() {
                            let got = r.read(&mut buf[filled..]).map_err(ExportError::from)?;
                            if got == 0 {
                                break;
                            }
                            filled += got;
                        }
                        if filled == 0 {
                            *guard = None;
                            return Ok(None);
                        }
                        buf.truncate(filled);
                        Ok(Some(buf))
                    })
                })
                .await
                .unwrap_or_else(|e| Err(Failure::new("INTERNAL", e.to_string()))))
            },
            |env, outcome| match outcome {
                Ok(chunk) => Ok(chunk.map(Buffer::from)),
                Err(failure) => Err(to_js(env, failure)),
            },
        )
    }

    /// Closes the file (further reads give `null`).
    #[napi]
    pub fn close(&self) {
        *self.reader.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}
