//! Direct exports: a request run straight into the caller's writer, with no job and no stored
//! file, under the same rules as a job (scopes, access policy, schema defaults and rules,
//! audit). What an HTTP "export now" or streaming route, or a CLI piping to stdout, runs.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Engine;
use crate::audit::ExportAudit;
use crate::error::{ExportError, Result};
use crate::export::{ExportReport, Exporter};
use crate::job::{ExportJob, JobStatus, Progress};
use crate::principal::{Principal, Scope};
use crate::request::ExportRequest;
use crate::source::Source;

/// A validated export with its sources open, ready to run into a writer: from
/// [`Engine::direct_export`].
pub struct DirectExport {
    exporter: Exporter,
    sources: Vec<Box<dyn Source>>,
}

impl std::fmt::Debug for DirectExport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectExport")
            .field("file_name", &self.exporter.file_name())
            .field("sources", &self.sources.len())
            .finish_non_exhaustive()
    }
}

impl DirectExport {
    /// The file name the export suggests (`products.csv`).
    pub fn file_name(&self) -> String {
        self.exporter.file_name()
    }

    /// The MIME type of the output.
    pub fn content_type(&self) -> &'static str {
        self.exporter.content_type()
    }

    /// The request as authorised and completed (the access policy may have narrowed it; the
    /// schema's defaults filled it).
    pub fn request(&self) -> &ExportRequest {
        self.exporter.request()
    }

    /// How many rows the sources expect, when they know.
    pub fn rows_hint(&self) -> Option<u64> {
        self.sources
            .iter()
            .map(|s| s.rows_hint())
            .try_fold(0u64, |sum, n| n.map(|n| sum + n))
    }

    /// Runs the export into `out`, blocking (call it on a thread of its own or the engine's
    /// blocking pool: see [`Engine::run_blocking`]).
    ///
    /// # Errors
    ///
    /// As [`Exporter::run`]: a writer that fails (a client gone: `BrokenPipe`) stops the
    /// export with [`ExportError::Io`]; the cancel flag given to [`Engine::direct_export`]
    /// stops it with [`ExportError::Cancelled`].
    pub fn run<W: Write + Send>(mut self, out: W) -> Result<(ExportReport, W)> {
        if let [source] = self.sources.as_mut_slice() {
            return self.exporter.run(source.as_mut(), out);
        }
        let sources: Vec<&mut dyn Source> =
            self.sources.iter_mut().map(|s| s.as_mut() as _).collect();
        self.exporter.run_sheets(sources, out)
    }
}

impl Engine {
    /// Prepares `request` for `principal` as a direct export: it needs `export.download`
    /// (the data goes straight to the caller), then passes the access policy, the schema's
    /// defaults and rules exactly as a job would, is audited as an `export` event by the
    /// principal when it runs, and reads its data where a worker would (a dataset's source, or
    /// the engine's source provider).
    ///
    /// # Errors
    ///
    /// [`ExportError::Forbidden`] without `export.download` or when the access policy refuses;
    /// the request's validation errors ([`ExportError::InvalidRequest`],
    /// [`ExportError::UnknownField`], [`ExportError::InvalidPeriod`], ...); the source's
    /// errors when it cannot be opened. Nothing is read before these checks pass.
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::dataset::Datasets;
    /// use export_core::engine::{Engine, EngineConfig};
    /// use export_core::request::{ExportRequest, Format};
    /// use export_core::service::Principal;
    ///
    /// let mut config = EngineConfig::default();
    /// config.job_store.url = "sqlite://:memory:".into();
    /// config.storage.url = "memory://".into();
    /// let engine = Engine::builder(config).datasets(Datasets::sample_catalog(3, 1)).open()?;
    /// let alice = Principal::new("alice", Some("shop-1")).with_all_scopes();
    /// let mut request = ExportRequest::new("products", Format::Csv);
    /// request.fields.include = vec!["id".into(), "sku".into()];
    /// let export = engine.direct_export(&alice, request, None)?;
    /// assert_eq!(export.file_name(), "products.csv");
    /// let (report, bytes) = export.run(Vec::new())?;
    /// assert_eq!(report.rows_written, 3);
    /// assert_eq!(String::from_utf8(bytes).unwrap(), "id,sku\n1,SKU-00000001\n2,SKU-00000002\n3,SKU-00000003\n");
    ///
    /// let reader = Principal::new("bob", None).with_scopes("export.list")?;
    /// let err = engine.direct_export(&reader, ExportRequest::new("products", Format::Csv), None).unwrap_err();
    /// assert_eq!(err.code(), "FORBIDDEN");
    /// # Ok::<(), export_core::ExportError>(())
    /// ```
    pub fn direct_export(
        &self,
        principal: &Principal,
        request: ExportRequest,
        cancel: Option<Arc<AtomicBool>>,
    ) -> Result<DirectExport> {
        principal.require(Scope::Download)?;
        let now = self.clock().now();
        let (request, _rules) = self.service().authorized(principal, request, now)?;
        let audit = ExportAudit::new(self.audit_log().clone(), principal.owner())
            .detail("direct export")
            .clock(self.clock().clone());
        let mut builder = self.registry().builder(request, now)?.audit(audit);
        if let Some(flag) = cancel {
            builder = builder.cancel_flag(flag);
        }
        let exporter = builder.build()?;
        let mut request = exporter.request().clone();
        if request.period.is_none() {
            request.period = exporter.period().copied();
        }
        let job = transient_job(principal, request, now);
        let sources = self.inner.sources.open(&job)?;
        if sources.is_empty() {
            return Err(ExportError::config(
                "sources",
                "the source provider opened no source",
            ));
        }
        Ok(DirectExport { exporter, sources })
    }
}

/// The job a source provider sees for a direct export: never stored, running, owned by the
/// principal (providers read its request and owner).
fn transient_job(principal: &Principal, request: ExportRequest, now: DateTime<Utc>) -> ExportJob {
    ExportJob {
        id: Uuid::new_v4(),
        owner: principal.owner(),
        request,
        status: JobStatus::Running,
        progress: Progress::new(0, None),
        created_at: now,
        started_at: Some(now),
        heartbeat_at: None,
        finished_at: None,
        expires_at: None,
        not_before: None,
        attempts: 1,
        max_attempts: 1,
        retention: None,
        lease: None,
        cancel_requested: false,
        result: None,
        error: None,
        schedule_id: None,
    }
}
