//! `Engine`, `Principal` and `Download`: the job service, workers, the scheduler, platforms
//! and retention of [`export_core::engine::Engine`], with the GIL released while they work.

use std::io::Read;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use export_core::engine::{Engine, EngineConfig};
use export_core::job::{ExportJob, JobStatus, ListQuery};
use export_core::platform::Platform;
use export_core::request::ExportRequest;
use export_core::schedule::{ScheduleQuery, ScheduleSpec};
use export_core::service::{ExportDownload, Principal, parse_job_id};
use export_core::source::Source;
use export_core::worker::{JobOutcome, ProgressSources, SourceProvider};
use export_core::{ExportError, Result};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};

use crate::convert::{to_json, to_py, type_name};
use crate::errors::{HostError, attached, detached, panic_error, settle, to_py as to_py_err};
use crate::input::{RowOptions, source};

/// Who calls: a user, their organisation and the scopes they hold.
#[pyclass(module = "export_core._native", name = "Principal", frozen)]
#[derive(Clone)]
pub struct PyPrincipal {
    inner: Principal,
}

#[pymethods]
impl PyPrincipal {
    #[new]
    #[pyo3(signature = (user_id, organisation=None, scopes="READ_EXPORTS,WRITE_EXPORTS", operator=None, territory=None))]
    fn new(
        py: Python<'_>,
        user_id: &str,
        organisation: Option<&str>,
        scopes: &str,
        operator: Option<i64>,
        territory: Option<&str>,
    ) -> PyResult<Self> {
        let host = HostError::default();
        let inner = attached(py, &host, || {
            if user_id.trim().is_empty() {
                return Err(ExportError::request("user_id", "must not be empty"));
            }
            let mut p = Principal::new(user_id, organisation).with_scopes(scopes)?;
            if let Some(op) = operator {
                p = p.operator(op);
            }
            if let Some(t) = territory {
                p = p.territory(t);
            }
            Ok(p)
        })?;
        Ok(PyPrincipal { inner })
    }

    /// The user.
    #[getter]
    fn user_id(&self) -> &str {
        &self.inner.user_id
    }

    /// The organisation, when there is one.
    #[getter]
    fn organisation(&self) -> Option<&str> {
        self.inner.organisation_id.as_deref()
    }

    /// The scopes held, by dotted name.
    #[getter]
    fn scopes(&self) -> Vec<&'static str> {
        self.inner.scopes.iter().map(|s| s.as_str()).collect()
    }

    fn __repr__(&self) -> String {
        format!(
            "Principal(user_id={:?}, organisation={:?}, scopes={:?})",
            self.inner.user_id,
            self.inner.organisation_id,
            self.scopes()
        )
    }
}

/// The engine: job store, storage, audit log, schemas and policies, opened from a
/// configuration.
#[pyclass(module = "export_core._native", name = "Engine", frozen)]
pub struct PyEngine {
    engine: Engine,
}

fn config_from(config: Option<&Bound<'_, PyAny>>) -> PyResult<Result<EngineConfig>> {
    let Some(config) = config.filter(|c| !c.is_none()) else {
        return Ok(Ok(EngineConfig::default()));
    };
    if let Ok(dict) = config.cast::<PyDict>() {
        let json = to_json(dict.as_any(), "config")?;
        return Ok(EngineConfig::from_json_str(&json.to_string()));
    }
    let py = config.py();
    if config.is_instance_of::<PyString>()
        || config.is_instance(&py.import("os")?.getattr("PathLike")?)?
    {
        let path: std::path::PathBuf = py
            .import("os")?
            .call_method1("fspath", (config,))?
            .extract()?;
        return Ok(EngineConfig::from_file(path));
    }
    Err(PyTypeError::new_err(format!(
        "config must be a dict, a path to a TOML or JSON file, or None, got a {}",
        type_name(config)
    )))
}

fn job_id(text: &str) -> Result<uuid::Uuid> {
    parse_job_id(text)
}

/// The data of each job from a Python callable: `data(request)` returns any input `write_csv`
/// takes (a list of rows included), or one per sheet: a list of them, or a dict of sheet name
/// to data.
struct CallableSources {
    callable: Py<PyAny>,
    host: HostError,
}

impl SourceProvider for CallableSources {
    fn open(&self, job: &ExportJob) -> Result<Vec<Box<dyn Source>>> {
        Python::attach(|py| {
            let request = to_py(py, &job.request).map_err(|e| self.host.keep(e))?;
            let data = self
                .callable
                .call1(py, (request,))
                .map_err(|e| self.host.keep(e))?;
            let data = data.bind(py);
            // A list of rows (dicts or tuples) is one sheet's data; a list of anything else
            // holds one input per sheet.
            let rows_list = data.cast::<pyo3::types::PyList>().is_ok_and(|list| {
                list.is_empty()
                    || list.get_item(0).is_ok_and(|first| {
                        first.is_instance_of::<PyDict>()
                            || first.is_instance_of::<pyo3::types::PyTuple>()
                    })
            });
            let parts: Vec<Bound<'_, PyAny>> = if let Ok(dict) = data.cast::<PyDict>() {
                dict.values().iter().collect()
            } else if data.is_instance_of::<pyo3::types::PyList>() && !rows_list {
                data.try_iter()
                    .and_then(|it| it.collect::<PyResult<Vec<_>>>())
                    .map_err(|e| self.host.keep(e))?
            } else {
                vec![data.clone()]
            };
            parts
                .iter()
                .map(|part| {
                    source(part, &RowOptions::default(), &self.host).map_err(|e| self.host.keep(e))
                })
                .collect()
        })
    }
}

/// Runs `work` without the GIL and converts what it returns: the shape of most engine calls.
fn returned<T: serde::Serialize + Send>(
    py: Python<'_>,
    work: impl FnOnce() -> Result<T> + Send,
) -> PyResult<Py<PyAny>> {
    let value = detached(py, &HostError::default(), work)?;
    Ok(to_py(py, &value)?.unbind())
}

fn outcome(py: Python<'_>, o: &JobOutcome) -> PyResult<Py<PyAny>> {
    let dict = PyDict::new(py);
    dict.set_item("job_id", o.job_id.to_string())?;
    dict.set_item("status", to_py(py, &o.status)?)?;
    dict.set_item("rows", o.rows)?;
    dict.set_item("error", to_py(py, &o.error)?)?;
    dict.set_item("lease_lost", o.lease_lost)?;
    dict.set_item("released", o.released)?;
    Ok(dict.into_any().unbind())
}

#[pymethods]
impl PyEngine {
    #[new]
    #[pyo3(signature = (config=None))]
    fn new(py: Python<'_>, config: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let host = HostError::default();
        let config = config_from(config)?;
        let engine = detached(py, &host, move || Engine::open(config?))?;
        Ok(PyEngine { engine })
    }

    /// Creates an export job for `principal` from a request dict.
    fn create(
        &self,
        py: Python<'_>,
        principal: &PyPrincipal,
        request: &Bound<'_, PyDict>,
    ) -> PyResult<Py<PyAny>> {
        let json = to_json(request.as_any(), "request")?;
        returned(py, || {
            let request: ExportRequest = export_core::error::from_json_value("request", json)?;
            self.engine.service().create(&principal.inner, request)
        })
    }

    /// The principal's own jobs, newest first: `{"jobs": [...], "next_cursor": str | None}`.
    #[pyo3(signature = (principal, status=None, limit=None, cursor=None))]
    fn list(
        &self,
        py: Python<'_>,
        principal: &PyPrincipal,
        status: Option<&str>,
        limit: Option<u32>,
        cursor: Option<String>,
    ) -> PyResult<Py<PyAny>> {
        let host = HostError::default();
        let status = status.map(str::to_owned);
        let page = detached(py, &host, || {
            let mut query = ListQuery::default();
            if let Some(s) = &status {
                let s: JobStatus = export_core::error::from_json_value(
                    "status",
                    serde_json::Value::String(s.clone()),
                )?;
                query = query.status(s);
            }
            if let Some(l) = limit {
                query.limit = l;
            }
            query.cursor = cursor;
            self.engine.service().list(&principal.inner, &query)
        })?;
        let dict = PyDict::new(py);
        dict.set_item("jobs", to_py(py, &page.jobs)?)?;
        dict.set_item("next_cursor", page.next_cursor)?;
        Ok(dict.into_any().unbind())
    }

    /// One of the principal's jobs.
    fn get(&self, py: Python<'_>, principal: &PyPrincipal, id: &str) -> PyResult<Py<PyAny>> {
        returned(py, || {
            self.engine.service().get(&principal.inner, job_id(id)?)
        })
    }

    /// Where a job is: status, progress, percent, error, times.
    fn status(&self, py: Python<'_>, principal: &PyPrincipal, id: &str) -> PyResult<Py<PyAny>> {
        returned(py, || {
            self.engine.service().status(&principal.inner, job_id(id)?)
        })
    }

    /// Cancels a pending job, or asks a running one to stop at its next batch.
    fn cancel(&self, py: Python<'_>, principal: &PyPrincipal, id: &str) -> PyResult<Py<PyAny>> {
        returned(py, || {
            self.engine.service().cancel(&principal.inner, job_id(id)?)
        })
    }

    /// Deletes a finished job and its file.
    fn delete(&self, py: Python<'_>, principal: &PyPrincipal, id: &str) -> PyResult<()> {
        let host = HostError::default();
        detached(py, &host, || {
            self.engine.service().delete(&principal.inner, job_id(id)?)
        })
    }

    /// The finished file of a job, as a binary file object.
    fn download(&self, py: Python<'_>, principal: &PyPrincipal, id: &str) -> PyResult<PyDownload> {
        let host = HostError::default();
        let download = detached(py, &host, || {
            self.engine
                .service()
                .download(&principal.inner, job_id(id)?)
        })?;
        Ok(PyDownload::new(download))
    }

    /// Runs one pending job, if any, and returns its outcome (`None` when nothing was
    /// pending). Its data comes from `data(request)` or the engine's sources; `on_progress(job_id,
    /// rows, rows_expected)` is called after each batch. A signal handler's exception
    /// (KeyboardInterrupt, Celery's soft time limit) stops the run before its next batch: the
    /// job is released (pending again, nothing published) and the exception raised. So does
    /// `stop` once set (a `threading.Event`, for a worker on a thread of its own), with the
    /// outcome saying `released`. With `job_id`, runs that job only (`None` when it is not
    /// pending: running elsewhere, finished, cancelled), as a task queue naming the job wants.
    #[pyo3(signature = (data=None, on_progress=None, stop=None, job_id=None))]
    fn run_once(
        &self,
        py: Python<'_>,
        data: Option<Py<PyAny>>,
        on_progress: Option<Py<PyAny>>,
        stop: Option<Py<PyAny>>,
        job_id: Option<&str>,
    ) -> PyResult<Option<Py<PyAny>>> {
        let only = match job_id {
            Some(text) => Some(attached(py, &HostError::default(), || parse_job_id(text))?),
            None => None,
        };
        let outcomes = self.run_worker(py, data, on_progress, stop, Run::Once(only))?;
        outcomes.first().map(|o| outcome(py, o)).transpose()
    }

    /// Runs pending jobs until none is left, as [`run_once`] does each; their outcomes.
    #[pyo3(signature = (data=None, on_progress=None, stop=None))]
    fn run_until_idle(
        &self,
        py: Python<'_>,
        data: Option<Py<PyAny>>,
        on_progress: Option<Py<PyAny>>,
        stop: Option<Py<PyAny>>,
    ) -> PyResult<Vec<Py<PyAny>>> {
        let outcomes = self.run_worker(py, data, on_progress, stop, Run::UntilIdle)?;
        outcomes.iter().map(|o| outcome(py, o)).collect()
    }

    /// One scheduler tick now: fires due schedules, follows their runs.
    fn tick_scheduler(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        returned(py, || {
            self.engine.scheduler().tick(self.engine.clock().now())
        })
    }

    /// Expires what retention says is due (files deleted, jobs anonymised); `dry_run` only
    /// reports.
    #[pyo3(signature = (dry_run=false))]
    fn purge(&self, py: Python<'_>, dry_run: bool) -> PyResult<Py<PyAny>> {
        let host = HostError::default();
        let report = detached(py, &host, || {
            let purger = self.engine.purger()?;
            if dry_run {
                purger.dry_run()
            } else {
                purger.purge()
            }
        })?;
        let dict = PyDict::new(py);
        dict.set_item(
            "jobs",
            report
                .jobs
                .iter()
                .map(|j| j.to_string())
                .collect::<Vec<_>>(),
        )?;
        dict.set_item("files_deleted", report.files_deleted)?;
        dict.set_item("files_missing", report.files_missing)?;
        dict.set_item("retention_assigned", report.retention_assigned)?;
        dict.set_item("audit_pseudonymised", report.audit_pseudonymised)?;
        dict.set_item("audit_deleted", report.audit_deleted)?;
        dict.set_item("abandoned_uploads", report.abandoned_uploads)?;
        dict.set_item("dry_run", report.dry_run)?;
        Ok(dict.into_any().unbind())
    }

    /// The principal's schedules.
    fn list_schedules(&self, py: Python<'_>, principal: &PyPrincipal) -> PyResult<Py<PyAny>> {
        returned(py, || {
            self.engine
                .schedules()
                .list_schedules(&principal.inner, &ScheduleQuery::default())
        })
    }

    /// Creates a schedule from a dict (`export_core::schedule::ScheduleSpec`: `id`, `target`,
    /// `trigger`, optional `name`, `owner`, `period`, `enabled`, `retry`, `misfire`,
    /// `retention_seconds`), owned by `principal` unless it names an owner.
    fn create_schedule(
        &self,
        py: Python<'_>,
        principal: &PyPrincipal,
        spec: &Bound<'_, PyDict>,
    ) -> PyResult<Py<PyAny>> {
        let json = to_json(spec.as_any(), "schedule")?;
        returned(py, || {
            let spec: ScheduleSpec = export_core::error::from_json_value("schedule", json)?;
            let new = spec.into_new(&principal.inner.owner());
            self.engine
                .schedules()
                .create_schedule(&principal.inner, new)
        })
    }

    /// One schedule, with its next run and statistics.
    fn get_schedule(
        &self,
        py: Python<'_>,
        principal: &PyPrincipal,
        id: &str,
    ) -> PyResult<Py<PyAny>> {
        returned(py, || {
            self.engine.schedules().get_schedule(&principal.inner, id)
        })
    }

    /// A schedule's recent runs, newest first.
    #[pyo3(signature = (principal, id, limit=20))]
    fn schedule_runs(
        &self,
        py: Python<'_>,
        principal: &PyPrincipal,
        id: &str,
        limit: u32,
    ) -> PyResult<Py<PyAny>> {
        returned(py, || {
            self.engine
                .schedules()
                .schedule_runs(&principal.inner, id, limit)
        })
    }

    /// Enables or disables a schedule.
    fn set_schedule_enabled(
        &self,
        py: Python<'_>,
        principal: &PyPrincipal,
        id: &str,
        enabled: bool,
    ) -> PyResult<Py<PyAny>> {
        returned(py, || {
            self.engine
                .schedules()
                .set_enabled(&principal.inner, id, enabled)
        })
    }

    /// Deletes a schedule.
    fn delete_schedule(
        &self,
        py: Python<'_>,
        principal: &PyPrincipal,
        id: &str,
    ) -> PyResult<Py<PyAny>> {
        returned(py, || {
            self.engine
                .schedules()
                .delete_schedule(&principal.inner, id)
        })
    }

    /// Installs the registry's monthly opendata exports (admin).
    fn install_monthly_opendata(
        &self,
        py: Python<'_>,
        principal: &PyPrincipal,
    ) -> PyResult<Py<PyAny>> {
        returned(py, || {
            self.engine
                .schedules()
                .install_monthly_opendata(&principal.inner)
        })
    }

    /// Saves a platform (a named, reusable request).
    #[pyo3(signature = (principal, name, request, description=""))]
    fn create_platform(
        &self,
        py: Python<'_>,
        principal: &PyPrincipal,
        name: &str,
        request: &Bound<'_, PyDict>,
        description: &str,
    ) -> PyResult<Py<PyAny>> {
        let json = to_json(request.as_any(), "request")?;
        returned(py, || {
            let request: ExportRequest = export_core::error::from_json_value("request", json)?;
            let platform =
                Platform::new(name, request, self.engine.clock().now()).description(description);
            self.engine
                .schedules()
                .create_platform(&principal.inner, platform)
        })
    }

    /// The platforms the principal sees.
    fn list_platforms(&self, py: Python<'_>, principal: &PyPrincipal) -> PyResult<Py<PyAny>> {
        returned(py, || {
            self.engine.schedules().list_platforms(&principal.inner)
        })
    }

    /// One platform.
    fn get_platform(
        &self,
        py: Python<'_>,
        principal: &PyPrincipal,
        name: &str,
    ) -> PyResult<Py<PyAny>> {
        returned(py, || {
            self.engine.schedules().get_platform(&principal.inner, name)
        })
    }

    /// Deletes a platform.
    fn delete_platform(
        &self,
        py: Python<'_>,
        principal: &PyPrincipal,
        name: &str,
    ) -> PyResult<Py<PyAny>> {
        returned(py, || {
            self.engine
                .schedules()
                .delete_platform(&principal.inner, name)
        })
    }
}

impl PyEngine {
    /// Runs the worker on its own thread while this one waits without the GIL, waking up to
    /// run Python's signal handlers: a handler's exception sets the worker's shutdown flag
    /// (the job is released) and is raised once the worker has stopped.
    fn run_worker(
        &self,
        py: Python<'_>,
        data: Option<Py<PyAny>>,
        on_progress: Option<Py<PyAny>>,
        stop: Option<Py<PyAny>>,
        run: Run,
    ) -> PyResult<Vec<JobOutcome>> {
        let host = HostError::default();
        let mut provider: Arc<dyn SourceProvider> = match data {
            Some(callable) => Arc::new(CallableSources {
                callable,
                host: host.clone(),
            }),
            None => self.engine.sources().clone(),
        };
        if let Some(callback) = on_progress {
            let host = host.clone();
            provider = Arc::new(ProgressSources::new(
                provider,
                Arc::new(move |job: &str, rows, expected| {
                    Python::attach(|py| {
                        callback
                            .call1(py, (job, rows, expected))
                            .map(drop)
                            .map_err(|e| host.keep(e))
                    })
                }),
            ));
        }
        let worker = self.engine.worker_with_sources(provider);
        let shutdown = Arc::new(AtomicBool::new(false));
        let flag = shutdown.clone();
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("export-core-worker".into())
            .spawn(move || {
                let run = catch_unwind(AssertUnwindSafe(|| -> Result<Vec<JobOutcome>> {
                    let mut outcomes = Vec::new();
                    match run {
                        Run::Once(Some(id)) => outcomes.extend(worker.run_job(id, Some(&flag))?),
                        Run::Once(None) => outcomes.extend(worker.run_once_until_shutdown(&flag)?),
                        Run::UntilIdle => {
                            while let Some(o) = worker.run_once_until_shutdown(&flag)? {
                                outcomes.push(o);
                                if flag.load(Ordering::SeqCst) {
                                    break;
                                }
                            }
                        }
                    }
                    Ok(outcomes)
                }));
                let _ = tx.send(run);
            })
            .map_err(|e| to_py_err(py, ExportError::from(e)))?;
        // Locked only by this thread: the Mutex makes the receiver shareable with `detach`.
        let rx = Mutex::new(rx);
        let recv = |wait: Option<Duration>| {
            let rx = rx.lock().unwrap_or_else(|p| p.into_inner());
            match wait {
                Some(wait) => rx.recv_timeout(wait),
                None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            }
        };
        loop {
            match py.detach(|| recv(Some(Duration::from_millis(50)))) {
                Ok(run) => return settle(py, &host, run),
                Err(RecvTimeoutError::Timeout) => {
                    if let Some(stop) = &stop {
                        match stop
                            .call_method0(py, "is_set")
                            .and_then(|v| v.extract::<bool>(py))
                        {
                            Ok(true) => shutdown.store(true, Ordering::SeqCst),
                            Ok(false) => {}
                            Err(err) => {
                                shutdown.store(true, Ordering::SeqCst);
                                let _ = py.detach(|| recv(None));
                                return Err(err);
                            }
                        }
                    }
                    if let Err(err) = py.check_signals() {
                        shutdown.store(true, Ordering::SeqCst);
                        // Wait for the release, so that the job is pending when this raises.
                        let _ = py.detach(|| recv(None));
                        return Err(err);
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(panic_error(
                        py,
                        Box::new("the worker thread ended without an outcome"),
                    ));
                }
            }
        }
    }
}

/// What a worker call runs.
#[derive(Clone, Copy)]
enum Run {
    /// The next pending job, or the one named.
    Once(Option<uuid::Uuid>),
    /// Pending jobs until there is none.
    UntilIdle,
}

/// A finished export's file: a read-only binary file object (`read`, `readinto`, iteration
/// by chunks, a context manager), with its name, type, size, SHA-256 and row count.
#[pyclass(module = "export_core._native", name = "Download")]
pub struct PyDownload {
    // A Mutex only to make the class `Sync`; reads hold the object's borrow anyway.
    reader: Mutex<Option<export_core::storage::Download>>,
    #[pyo3(get)]
    file_name: String,
    #[pyo3(get)]
    content_type: String,
    #[pyo3(get)]
    size: u64,
    #[pyo3(get)]
    sha256: String,
    #[pyo3(get)]
    rows: u64,
}

impl PyDownload {
    fn new(d: ExportDownload) -> PyDownload {
        PyDownload {
            file_name: d.file_name,
            content_type: d.content_type,
            size: d.size,
            sha256: d.sha256,
            rows: d.rows,
            reader: Mutex::new(Some(d.reader)),
        }
    }

    fn read_some(&mut self, py: Python<'_>, limit: Option<usize>) -> PyResult<Vec<u8>> {
        let mut guard = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        let Some(reader) = guard.as_mut() else {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "read of a closed download",
            ));
        };
        let host = HostError::default();
        detached(py, &host, move || {
            let mut buf = Vec::new();
            match limit {
                Some(n) => {
                    buf.resize(n, 0);
                    let mut filled = 0;
                    while filled < n {
                        let got = reader.read(&mut buf[filled..])?;
                        if got == 0 {
                            break;
                        }
                        filled += got;
                    }
                    buf.truncate(filled);
                }
                None => {
                    reader.read_to_end(&mut buf)?;
                }
            }
            Ok(buf)
        })
    }
}

#[pymethods]
impl PyDownload {
    /// Up to `size` bytes (all that is left when `size` is negative or omitted).
    #[pyo3(signature = (size=-1), text_signature = "(self, size=-1)")]
    fn read(&mut self, py: Python<'_>, size: i64) -> PyResult<Py<PyBytes>> {
        let bytes = self.read_some(py, usize::try_from(size).ok())?;
        Ok(PyBytes::new(py, &bytes).unbind())
    }

    fn readable(&self) -> bool {
        true
    }

    /// Closes the download (further reads fail).
    fn close(&mut self) {
        *self.reader.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    #[getter]
    fn closed(&self) -> bool {
        self.reader.lock().map(|r| r.is_none()).unwrap_or(true)
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&mut self, _args: &Bound<'_, pyo3::types::PyTuple>) {
        self.close();
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// Chunks of 256 KiB.
    fn __next__(&mut self, py: Python<'_>) -> PyResult<Option<Py<PyBytes>>> {
        let bytes = self.read_some(py, Some(crate::output::CHUNK_BYTES))?;
        if bytes.is_empty() {
            return Ok(None);
        }
        Ok(Some(PyBytes::new(py, &bytes).unbind()))
    }

    fn __repr__(&self) -> String {
        format!(
            "Download(file_name={:?}, size={}, rows={})",
            self.file_name, self.size, self.rows
        )
    }
}
