//! The engine's async API: each call runs the blocking component on the engine runtime's
//! blocking pool ([`IoRuntime::spawn_blocking`](crate::runtime::IoRuntime::spawn_blocking)) and
//! awaits it, so an async host's threads never block. Works from any tokio runtime, current-thread
//! ones included, since the work never runs on the caller's threads.
//!
//! Long-running loops (a worker, the scheduler) run on their own threads instead, behind a
//! [`WorkerHandle`] that stops them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use uuid::Uuid;

use super::Engine;
use crate::error::{ExportError, Result};
use crate::job::{ExportJob, ListQuery, Page};
use crate::request::ExportRequest;
use crate::retention::PurgeReport;
use crate::schedule::TickReport;
use crate::service::{ExportDownload, JobStatusView, Principal};
use crate::worker::JobOutcome;

impl Engine {
    /// Runs `work` with this engine on the engine runtime's blocking pool and awaits its
    /// result: the general form of every async method below.
    ///
    /// # Errors
    ///
    /// What `work` returns, or [`ExportError::Config`] if the runtime is shutting down.
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::engine::{Engine, EngineConfig};
    /// let mut config = EngineConfig::default();
    /// config.job_store.url = "sqlite://:memory:".into();
    /// config.storage.url = "memory://".into();
    /// let engine = Engine::open(config)?;
    /// let host = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// let backend = host.block_on(engine.run_blocking(|e| Ok(e.job_store().backend())))?;
    /// assert_eq!(backend, "sqlite");
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    pub async fn run_blocking<T, W>(&self, work: W) -> Result<T>
    where
        W: FnOnce(&Engine) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let engine = self.clone();
        self.io().spawn_blocking(move || work(&engine)).await?
    }

    /// [`ExportService::create`](crate::service::ExportService::create), async.
    ///
    /// # Errors
    ///
    /// As `ExportService::create`.
    pub async fn create_job(
        &self,
        principal: Principal,
        request: ExportRequest,
    ) -> Result<ExportJob> {
        self.run_blocking(move |e| e.service().create(&principal, request))
            .await
    }

    /// [`ExportService::get`](crate::service::ExportService::get), async.
    ///
    /// # Errors
    ///
    /// As `ExportService::get`.
    pub async fn get_job(&self, principal: Principal, id: Uuid) -> Result<ExportJob> {
        self.run_blocking(move |e| e.service().get(&principal, id))
            .await
    }

    /// [`ExportService::status`](crate::service::ExportService::status), async.
    ///
    /// # Errors
    ///
    /// As `ExportService::status`.
    pub async fn job_status(&self, principal: Principal, id: Uuid) -> Result<JobStatusView> {
        self.run_blocking(move |e| e.service().status(&principal, id))
            .await
    }

    /// [`ExportService::list`](crate::service::ExportService::list), async.
    ///
    /// # Errors
    ///
    /// As `ExportService::list`.
    pub async fn list_jobs(&self, principal: Principal, query: ListQuery) -> Result<Page> {
        self.run_blocking(move |e| e.service().list(&principal, &query))
            .await
    }

    /// [`ExportService::cancel`](crate::service::ExportService::cancel), async.
    ///
    /// # Errors
    ///
    /// As `ExportService::cancel`.
    pub async fn cancel_job(&self, principal: Principal, id: Uuid) -> Result<ExportJob> {
        self.run_blocking(move |e| e.service().cancel(&principal, id))
            .await
    }

    /// [`ExportService::delete`](crate::service::ExportService::delete), async.
    ///
    /// # Errors
    ///
    /// As `ExportService::delete`.
    pub async fn delete_job(&self, principal: Principal, id: Uuid) -> Result<()> {
        self.run_blocking(move |e| e.service().delete(&principal, id))
            .await
    }

    /// [`ExportService::download`](crate::service::ExportService::download), async: the
    /// file's metadata and its reader.
    ///
    /// # Errors
    ///
    /// As `ExportService::download`.
    pub async fn download(&self, principal: Principal, id: Uuid) -> Result<ExportDownload> {
        self.run_blocking(move |e| e.service().download(&principal, id))
            .await
    }

    /// Runs at most one pending job with a fresh [`Engine::worker`], async (see
    /// [`Worker::run_once`](crate::worker::Worker::run_once)).
    ///
    /// # Errors
    ///
    /// As `Worker::run_once`.
    pub async fn work_once(&self) -> Result<Option<JobOutcome>> {
        self.run_blocking(|e| e.worker().run_once()).await
    }

    /// One scheduler tick at the engine clock's now, async (see
    /// [`Scheduler::tick`](crate::schedule::Scheduler::tick)).
    ///
    /// # Errors
    ///
    /// As `Scheduler::tick`.
    pub async fn tick_scheduler(&self) -> Result<TickReport> {
        self.run_blocking(|e| e.scheduler().tick(e.clock().now()))
            .await
    }

    /// One purge, async (see [`Purger::purge`](crate::retention::Purger::purge)).
    ///
    /// # Errors
    ///
    /// As [`Engine::purger`] and `Purger::purge`.
    pub async fn purge(&self) -> Result<PurgeReport> {
        self.run_blocking(|e| e.purger()?.purge()).await
    }

    /// Starts a worker on its own thread, running jobs until [`WorkerHandle::stop`]: the way a
    /// host without a queue of its own runs exports in the background.
    ///
    /// # Errors
    ///
    /// [`ExportError::Io`] if the thread cannot be started.
    pub fn start_worker(&self) -> Result<WorkerHandle> {
        let worker = self.worker();
        let id = worker.config().id.clone();
        let shutdown = Arc::new(AtomicBool::new(false));
        let flag = shutdown.clone();
        let thread = std::thread::Builder::new()
            .name(format!("export-core-worker-{id}"))
            .spawn(move || worker.run_forever(&flag))
            .map_err(ExportError::from)?;
        Ok(WorkerHandle {
            id,
            shutdown,
            thread: Some(thread),
        })
    }
}

/// A worker running on its own thread, from [`Engine::start_worker`]. Dropping the handle stops
/// the worker and waits for it.
#[derive(Debug)]
pub struct WorkerHandle {
    id: String,
    shutdown: Arc<AtomicBool>,
    thread: Option<JoinHandle<u64>>,
}

impl WorkerHandle {
    /// The worker's id, as recorded in its leases.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Asks the worker to stop and waits for it; returns the number of jobs it ran.
    pub fn stop(mut self) -> u64 {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> u64 {
        self.shutdown.store(true, Ordering::SeqCst);
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            None => 0,
        }
    }
}

impl Drop for WorkerHandle {
    fn drop(&mut self) {
        if self.thread.is_some() && !std::thread::panicking() {
            self.stop_and_join();
        }
    }
}
