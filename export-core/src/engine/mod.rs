//! [`Engine`]: one owned object, built from an [`EngineConfig`], that wires the job store, the
//! storage, the audit log, the policies and the I/O runtime, and hands out the exporter, the
//! service, workers, the scheduler, the schedule and platform manager and the purger.
//!
//! Every front end (the CLI, the Python and Node bindings, an HTTP layer) wraps one `Engine`;
//! none of them opens a store itself. An `Engine` is `Send + Sync + 'static` and cheap to clone
//! (an [`Arc`] inside): clones share the stores, the pool, the runtime and the service's rate
//! limits.
//!
//! Two ways to call it:
//!
//! - **Blocking**, for the CLI, the bindings' worker threads, and plain Rust programs:
//!   [`Engine::service`], [`Engine::worker`], [`Engine::scheduler`], [`Engine::schedules`],
//!   [`Engine::purger`] return the synchronous components. Call them from any thread that is not
//!   an async runtime's (see [`crate::runtime`]).
//! - **Async**, for tokio hosts (an axum handler, a napi async function): the `async fn`s of
//!   this type ([`Engine::create_job`], [`Engine::work_once`], ...) and the general
//!   [`Engine::run_blocking`] move the work to the engine runtime's blocking pool, so the host's
//!   threads, even a current-thread runtime's only one, keep running its timers and I/O.
//!
//! # Examples
//!
//! The whole job lifecycle on the embedded defaults, in a scratch directory:
//!
//! ```
//! use export_core::engine::{Engine, EngineConfig};
//! use export_core::request::{Audience, ExportRequest, Format, Period};
//! use export_core::service::Principal;
//!
//! let dir = tempfile::tempdir()?;
//! let mut config = EngineConfig::default();
//! config.job_store.url = format!("sqlite://{}", dir.path().join("jobs.db").display());
//! config.storage.url = format!("file://{}", dir.path().join("files").display());
//! config.sources.sample_rows = 100;
//! let engine = Engine::open(config)?;
//!
//! let alice = Principal::new("alice", Some("42")).operator(42).with_all_scopes();
//! let mut request = ExportRequest::new("trip", Format::Csv);
//! request.audience = Some(Audience::Operator);
//! request.period = Some(Period::parse("2026-10-01", "2026-10-02", None)?);
//! let job = engine.service().create(&alice, request)?;
//!
//! let outcome = engine.worker().run_once()?.expect("one job is pending");
//! assert_eq!(outcome.job_id, job.id);
//! let status = engine.service().status(&alice, job.id)?;
//! assert_eq!(status.status.to_string(), "succeeded");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod asynchronous;
mod config;
mod direct;
pub(crate) mod duration;
mod open;

use std::fmt;
use std::sync::Arc;

use chrono_tz::Tz;

pub use asynchronous::WorkerHandle;
pub use config::{
    AccessConfig, AccessPolicyName, AuditConfig, ENV_PREFIX, EngineConfig, JobStoreConfig,
    LimitsConfig, PrivacyConfig, RetentionConfig, RuntimeConfig, SchedulerSettings, SourcesConfig,
    StorageConfig, StoreLocation, WorkerSettings,
};
pub use direct::DirectExport;

use crate::access::{AccessPolicy, AllowAll};
use crate::audit::{AuditLog, ExportAudit};
use crate::clock::{Clock, SystemClock};
use crate::dataset::{Dataset, DatasetProvider, Datasets, build_datasets};
use crate::error::{ExportError, Result};
use crate::export::ExporterBuilder;
use crate::job::{JobStore, Owner};
use crate::platform::PlatformStore;
use crate::registry::SchemaRegistry;
use crate::request::ExportRequest;
use crate::retention::{DefaultRetention, Purger, RetentionPolicy};
use crate::runtime::IoRuntime;
use crate::schedule::{ScheduleManager, ScheduleStore, Scheduler, SchedulerConfig};
use crate::service::{ExportService, ServiceConfig};
use crate::storage::Storage;
use crate::worker::{SampleTripsProvider, SourceProvider, Worker, WorkerConfig};

/// The export engine: stores, storage, audit, policies and runtime, wired once from an
/// [`EngineConfig`]. See the [module documentation](self).
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    config: EngineConfig,
    time_zone: Tz,
    io: IoRuntime,
    clock: Arc<dyn Clock>,
    registry: Arc<SchemaRegistry>,
    jobs: Arc<dyn JobStore>,
    schedules: Arc<dyn ScheduleStore>,
    platforms: Arc<dyn PlatformStore>,
    audit: Arc<dyn AuditLog>,
    storage: Arc<dyn Storage>,
    retention: Arc<dyn RetentionPolicy>,
    access: Arc<dyn AccessPolicy>,
    sources: Arc<dyn SourceProvider>,
    datasets: Arc<Datasets>,
    service: ExportService,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("job_store", &self.inner.jobs.backend())
            .field("storage", &self.inner.storage.url())
            .field("io", &self.inner.io)
            .finish_non_exhaustive()
    }
}

/// Builds an [`Engine`] from an [`EngineConfig`] and what a host plugs in code: its own clock,
/// runtime, data sources, schemas and policies.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use export_core::access::AllowAll;
/// use export_core::engine::{Engine, EngineConfig};
/// let mut config = EngineConfig::default();
/// config.job_store.url = "sqlite://:memory:".into();
/// config.storage.url = "memory://".into();
/// let engine = Engine::builder(config).access_policy(Arc::new(AllowAll)).open()?;
/// assert_eq!(engine.job_store().backend(), "sqlite");
/// # Ok::<(), export_core::ExportError>(())
/// ```
pub struct EngineBuilder {
    config: EngineConfig,
    clock: Option<Arc<dyn Clock>>,
    runtime: Option<tokio::runtime::Handle>,
    registry: Option<Arc<SchemaRegistry>>,
    sources: Option<Arc<dyn SourceProvider>>,
    access: Option<Arc<dyn AccessPolicy>>,
    retention: Option<Arc<dyn RetentionPolicy>>,
    datasets: Datasets,
    duplicate: Option<String>,
}

impl EngineBuilder {
    /// Adds named datasets (a schema plus its source each): their schemas join the registry,
    /// and jobs and direct exports of them read their source; every other job still goes to
    /// the source provider. Adds to those of [`SourcesConfig::catalog_products`].
    ///
    /// # Examples
    ///
    /// See [`Engine::direct_export`].
    pub fn datasets(mut self, datasets: Datasets) -> Self {
        for dataset in datasets.iter() {
            // A name given twice is refused when the engine opens.
            if self.datasets.add(dataset.clone()).is_err() {
                self.duplicate = Some(dataset.name().to_string());
            }
        }
        self
    }

    /// Reads time from `clock` (default [`SystemClock`]; a [`crate::clock::ManualClock`] in
    /// tests).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Drives I/O on the host's multi-thread tokio runtime instead of starting one.
    pub fn runtime(mut self, handle: tokio::runtime::Handle) -> Self {
        self.runtime = Some(handle);
        self
    }

    /// Validates requests against `registry` (default: the built-in schemas only).
    pub fn registry(mut self, registry: Arc<SchemaRegistry>) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Where workers read each job's data (default: the built-in sample trips of
    /// [`EngineConfig::sources`]).
    pub fn sources(mut self, sources: Arc<dyn SourceProvider>) -> Self {
        self.sources = Some(sources);
        self
    }

    /// Decides what each principal may export (default: [`EngineConfig::access`]).
    pub fn access_policy(mut self, policy: Arc<dyn AccessPolicy>) -> Self {
        self.access = Some(policy);
        self
    }

    /// Decides how long files are kept (default: [`DefaultRetention`] from
    /// [`EngineConfig::retention`]). The service, the scheduler and the purger all use it.
    pub fn retention_policy(mut self, policy: Arc<dyn RetentionPolicy>) -> Self {
        self.retention = Some(policy);
        self
    }

    /// Opens the stores and the storage.
    ///
    /// # Errors
    ///
    /// [`ExportError::Config`] naming the setting for a bad time zone, store URL, storage URL
    /// or runtime; [`ExportError::Store`] or [`ExportError::Storage`] when the database or the
    /// storage cannot be opened.
    pub fn open(self) -> Result<Engine> {
        let config = self.config;
        let time_zone: Tz = config.time_zone.parse().map_err(|_| {
            ExportError::config(
                "time_zone",
                format!("`{}` is not an IANA time zone", config.time_zone),
            )
        })?;
        let io = match self.runtime {
            Some(handle) => IoRuntime::from_handle(handle)?,
            None => IoRuntime::new(config.runtime.io_threads)?,
        };
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let mut datasets = self.datasets;
        if let Some(name) = self.duplicate {
            return Err(ExportError::config(
                "datasets",
                format!("dataset `{name}` is given twice"),
            ));
        }
        for dataset in build_datasets(&config.datasets, &config.databases, &io)?.iter() {
            datasets.add(dataset.clone()).map_err(|_| {
                ExportError::config(
                    format!("datasets.{}", dataset.name()),
                    "the dataset is also given by the host",
                )
            })?;
        }
        if self.sources.is_none() && datasets.get(crate::registry::TRIP_SCHEMA).is_none() {
            // The built-in sample trips: the trip schema's data when nothing else gives it.
            let sample = SampleTripsProvider {
                rows: config.sources.sample_rows,
                seed: config.sources.sample_seed,
            };
            datasets.add(Dataset::trips(Arc::new(sample)).description(format!(
                "{} sample trips per export (seed {}), spread over the request's period",
                config.sources.sample_rows, config.sources.sample_seed
            )))?;
        }
        if let Some(products) = config.sources.catalog_products {
            for dataset in Datasets::sample_catalog(products, config.sources.sample_seed).iter() {
                datasets.add(dataset.clone()).map_err(|_| {
                    ExportError::config(
                        "sources.catalog_products",
                        format!(
                            "the sample dataset `{}` is also given by the host",
                            dataset.name()
                        ),
                    )
                })?;
            }
        }
        let mut registry = self
            .registry
            .unwrap_or_else(|| Arc::new(SchemaRegistry::new()));
        if !datasets.is_empty() {
            let mut with_datasets = (*registry).clone();
            for dataset in datasets.iter().filter(|d| !d.is_builtin()) {
                let registered = match dataset.schema_rules() {
                    Some(rules) => {
                        with_datasets.register_with_rules(dataset.schema().clone(), rules)
                    }
                    None => with_datasets.register(dataset.schema().clone()),
                };
                registered.map_err(|e| {
                    ExportError::config(format!("datasets.{}", dataset.name()), e.to_string())
                })?;
            }
            registry = Arc::new(with_datasets);
        }
        if let Some(key) = &config.privacy.trip_id_key {
            if key.len() < 16 {
                return Err(ExportError::config(
                    "privacy.trip_id_key",
                    format!("must be at least 16 bytes, not {}", key.len()),
                ));
            }
            let mut keyed = (*registry).clone();
            keyed.set_trip_id_key(key.as_bytes().to_vec());
            registry = Arc::new(keyed);
        }
        let datasets = Arc::new(datasets);
        let backend = open::open_backend(&config, &io)?;
        let storage = open::open_storage(&config.storage, &io)?;
        let retention = self.retention.unwrap_or_else(|| {
            Arc::new(DefaultRetention {
                personal: chrono_duration(config.retention.personal),
                opendata: config.retention.opendata.map(chrono_duration),
            })
        });
        let access = self.access.unwrap_or_else(|| match config.access.policy {
            // The registry applies each registered schema's own access rule.
            AccessPolicyName::Registry => registry.clone() as Arc<dyn AccessPolicy>,
            AccessPolicyName::AllowAll => Arc::new(AllowAll),
        });
        let mut sources = self.sources.unwrap_or_else(|| {
            Arc::new(SampleTripsProvider {
                rows: config.sources.sample_rows,
                seed: config.sources.sample_seed,
            })
        });
        if !datasets.is_empty() {
            sources = Arc::new(DatasetProvider {
                datasets: datasets.clone(),
                fallback: sources,
            });
        }
        let service = ExportService::new(
            backend.jobs.clone(),
            storage.clone(),
            backend.audit.clone(),
            registry.clone(),
            clock.clone(),
        )
        .with_config(ServiceConfig {
            personal_retention: chrono_duration(config.retention.personal),
            opendata_retention: config.retention.opendata.map(chrono_duration),
            max_attempts: config.limits.max_attempts,
            create_rate_limit: config
                .limits
                .creates_per_user
                .map(|n| (n, chrono_duration(config.limits.window))),
            time_zone,
        })
        .with_retention_policy(retention.clone())
        .with_access_policy(access.clone());
        Ok(Engine {
            inner: Arc::new(Inner {
                config,
                time_zone,
                io,
                clock,
                registry,
                jobs: backend.jobs,
                schedules: backend.schedules,
                platforms: backend.platforms,
                audit: backend.audit,
                storage,
                retention,
                access,
                sources,
                datasets,
                service,
            }),
        })
    }
}

fn chrono_duration(d: std::time::Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

impl Engine {
    /// Opens an engine on `config` with the defaults for everything plugged in code.
    ///
    /// # Errors
    ///
    /// As [`EngineBuilder::open`].
    pub fn open(config: EngineConfig) -> Result<Engine> {
        Engine::builder(config).open()
    }

    /// A builder, to plug a clock, a runtime, data sources, schemas or policies.
    pub fn builder(config: EngineConfig) -> EngineBuilder {
        EngineBuilder {
            config,
            clock: None,
            runtime: None,
            registry: None,
            sources: None,
            access: None,
            retention: None,
            datasets: Datasets::new(),
            duplicate: None,
        }
    }

    /// The configuration the engine was opened with.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// The default time zone ([`EngineConfig::time_zone`]).
    pub fn time_zone(&self) -> Tz {
        self.inner.time_zone
    }

    /// The runtime that drives the engine's I/O.
    pub fn io(&self) -> &IoRuntime {
        &self.inner.io
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// The schemas requests are validated against.
    pub fn registry(&self) -> &Arc<SchemaRegistry> {
        &self.inner.registry
    }

    /// The job store.
    pub fn job_store(&self) -> &Arc<dyn JobStore> {
        &self.inner.jobs
    }

    /// The schedule store.
    pub fn schedule_store(&self) -> &Arc<dyn ScheduleStore> {
        &self.inner.schedules
    }

    /// The platform store.
    pub fn platform_store(&self) -> &Arc<dyn PlatformStore> {
        &self.inner.platforms
    }

    /// The audit log.
    pub fn audit_log(&self) -> &Arc<dyn AuditLog> {
        &self.inner.audit
    }

    /// The storage of finished files.
    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.inner.storage
    }

    /// The retention policy the service, the scheduler and the purger share.
    pub fn retention_policy(&self) -> &Arc<dyn RetentionPolicy> {
        &self.inner.retention
    }

    /// The access policy the service and the schedule manager share.
    pub fn access_policy(&self) -> &Arc<dyn AccessPolicy> {
        &self.inner.access
    }

    /// Where [`Engine::worker`]'s workers get each job's data (the configured sample trips
    /// unless [`EngineBuilder::sources`] gave others); a host wraps it to observe or extend it
    /// before handing it to [`Engine::worker_with_sources`].
    pub fn sources(&self) -> &Arc<dyn SourceProvider> {
        &self.inner.sources
    }

    /// The named datasets ([`EngineBuilder::datasets`], [`SourcesConfig::catalog_products`]).
    pub fn datasets(&self) -> &Arc<Datasets> {
        &self.inner.datasets
    }

    /// The export API over a principal's scopes (one per engine: its rate limits are shared
    /// by every clone).
    pub fn service(&self) -> &ExportService {
        &self.inner.service
    }

    /// A direct export of `request` (no job), audited as an `export` event by `actor` before
    /// its file appears.
    ///
    /// # Errors
    ///
    /// As [`SchemaRegistry::builder`]: the request is validated against the engine's schemas.
    pub fn exporter(&self, actor: Owner, request: ExportRequest) -> Result<ExporterBuilder> {
        let audit =
            ExportAudit::new(self.inner.audit.clone(), actor).clock(self.inner.clock.clone());
        Ok(self
            .inner
            .registry
            .builder(request, self.inner.clock.now())?
            .audit(audit))
    }

    /// A worker with the engine's [`WorkerSettings`] (a fresh id unless one is configured),
    /// auditing its runs.
    pub fn worker(&self) -> Worker {
        self.worker_with_sources(self.inner.sources.clone())
    }

    /// A worker like [`Engine::worker`] that exports the data `sources` opens for each job: how
    /// a binding lets its host supply the rows (a Python callable, a JavaScript function), or a
    /// Rust service its own database.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use export_core::engine::{Engine, EngineConfig};
    /// use export_core::job::ExportJob;
    /// use export_core::source::Source;
    /// use export_core::worker::SourceProvider;
    ///
    /// struct NoData;
    /// impl SourceProvider for NoData {
    ///     fn open(&self, _: &ExportJob) -> export_core::Result<Vec<Box<dyn Source>>> {
    ///         Err(export_core::ExportError::request("data", "this host has no data"))
    ///     }
    /// }
    /// let mut config = EngineConfig::default();
    /// config.job_store.url = "sqlite://:memory:".into();
    /// config.storage.url = "memory://".into();
    /// let engine = Engine::open(config)?;
    /// let worker = engine.worker_with_sources(Arc::new(NoData));
    /// // Nothing pending: nothing is opened.
    /// assert!(worker.run_once()?.is_none());
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    pub fn worker_with_sources(&self, sources: Arc<dyn SourceProvider>) -> Worker {
        let s = &self.inner.config.worker;
        let mut config = WorkerConfig {
            lease: chrono_duration(s.lease),
            poll_interval: s.poll_interval,
            retry_delay: chrono_duration(s.retry_delay),
            max_retry_delay: chrono_duration(s.max_retry_delay),
            ..WorkerConfig::default()
        };
        if let Some(id) = &s.id {
            config.id = id.clone();
        }
        Worker::new(
            config,
            self.inner.jobs.clone(),
            self.inner.storage.clone(),
            sources,
            self.inner.registry.clone(),
            self.inner.clock.clone(),
        )
        .with_audit(self.inner.audit.clone())
    }

    /// The scheduler, with the engine's [`SchedulerSettings`], retention policy and audit log.
    pub fn scheduler(&self) -> Scheduler {
        let s = &self.inner.config.scheduler;
        let mut config = SchedulerConfig {
            batch: s.batch,
            poll_interval: chrono_duration(s.poll_interval),
            ..SchedulerConfig::default()
        };
        if let Some(id) = &s.id {
            config.id = id.clone();
        }
        Scheduler::new(
            config,
            self.inner.schedules.clone(),
            self.inner.platforms.clone(),
            self.inner.jobs.clone(),
            self.inner.clock.clone(),
        )
        .with_retention_policy(self.inner.retention.clone())
        .with_audit(self.inner.audit.clone())
    }

    /// Schedules and platforms as a principal sees them, with the engine's access policy.
    pub fn schedules(&self) -> ScheduleManager {
        ScheduleManager::new(
            self.inner.schedules.clone(),
            self.inner.platforms.clone(),
            self.inner.audit.clone(),
            self.inner.registry.clone(),
            self.inner.clock.clone(),
        )
        .with_access_policy(self.inner.access.clone())
    }

    /// The purge, with the engine's retention policy, audit secret and audit retention.
    ///
    /// # Errors
    ///
    /// [`ExportError::Config`] on `audit.secret` for a secret shorter than 16 bytes.
    pub fn purger(&self) -> Result<Purger> {
        let c = &self.inner.config;
        let mut purger = Purger::new(
            self.inner.jobs.clone(),
            self.inner.storage.clone(),
            self.inner.audit.clone(),
            self.inner.clock.clone(),
        )
        .with_retention_policy(self.inner.retention.clone())
        .with_abandoned_after(chrono_duration(c.retention.abandoned_uploads));
        if let Some(secret) = &c.audit.secret {
            purger = purger.with_audit_secret(secret).map_err(|e| match e {
                ExportError::InvalidRequest { reason, .. } => {
                    ExportError::config("audit.secret", reason)
                }
                e => e,
            })?;
        }
        if let Some(keep) = c.audit.keep_for {
            purger = purger.with_audit_retention(chrono_duration(keep));
        }
        Ok(purger)
    }
}
