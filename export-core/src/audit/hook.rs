//! [`ExportAudit`]: the audit hook of a direct [`Exporter`](crate::export::Exporter) run.

use std::fmt;
use std::sync::Arc;

use uuid::Uuid;

use super::{AuditAction, AuditEvent, AuditLog};
use crate::clock::{Clock, SystemClock};
use crate::error::Result;
use crate::job::Owner;
use crate::request::ExportRequest;

/// Where an export's [`AuditAction::Export`] event goes and whom it names: given to
/// [`ExporterBuilder::audit`](crate::export::ExporterBuilder::audit), it records, when the
/// export finishes, the actor, the request's format, schema, audience, filters and risk level,
/// and the rows written. The worker uses one per job run (with the job's id).
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use export_core::audit::{AuditAction, AuditLog, AuditQuery, ExportAudit, MemoryAuditLog, RiskLevel};
/// use export_core::export::Exporter;
/// use export_core::job::Owner;
/// use export_core::request::{Audience, ExportRequest, Format, Period};
/// use export_core::source::{SampleConfig, SampleTrips};
///
/// let log = Arc::new(MemoryAuditLog::new());
/// let mut request = ExportRequest::new("trip", Format::Csv);
/// request.audience = Some(Audience::Operator);
/// let period = Period::parse("2026-10-01", "2026-10-02", None)?;
/// request.period = Some(period);
/// let exporter = Exporter::builder(request)
///     .now("2026-11-23T00:00:00Z".parse().unwrap())
///     .audit(ExportAudit::new(log.clone(), Owner::in_organisation("ada", "op-7")))
///     .build()?;
/// let config = SampleConfig { rows: 50, seed: 1, start: period.start, end: period.end, ..Default::default() };
/// let (report, _) = exporter.run(&mut SampleTrips::new(config)?, Vec::new())?;
/// let events = log.list(&AuditQuery::default().actor("ada"))?;
/// assert_eq!(events[0].action, AuditAction::Export);
/// assert_eq!(events[0].row_count, Some(report.rows_written));
/// assert_eq!(events[0].risk, RiskLevel::Medium);
/// # Ok::<(), export_core::ExportError>(())
/// ```
#[derive(Clone)]
pub struct ExportAudit {
    log: Arc<dyn AuditLog>,
    actor: Owner,
    job_id: Option<Uuid>,
    detail: Option<String>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for ExportAudit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExportAudit")
            .field("actor", &self.actor)
            .field("job_id", &self.job_id)
            .field("detail", &self.detail)
            .finish_non_exhaustive()
    }
}

impl ExportAudit {
    /// Events into `log`, naming `actor`, stamped with the system clock.
    pub fn new(log: Arc<dyn AuditLog>, actor: Owner) -> ExportAudit {
        ExportAudit {
            log,
            actor,
            job_id: None,
            detail: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// The job the export runs for.
    pub fn job(mut self, id: Uuid) -> ExportAudit {
        self.job_id = Some(id);
        self
    }

    /// A detail for the event (`worker host-1`, `cli export to trips.csv`).
    pub fn detail(mut self, detail: impl Into<String>) -> ExportAudit {
        self.detail = Some(detail.into());
        self
    }

    /// The clock stamping the event (default the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> ExportAudit {
        self.clock = clock;
        self
    }

    /// Records that `request` exported `rows` rows.
    pub(crate) fn record_export(&self, request: &ExportRequest, rows: u64) -> Result<()> {
        let mut event = AuditEvent::new(
            AuditAction::Export,
            self.actor.user_id.clone(),
            self.actor.organisation_id.clone(),
            self.clock.now(),
        )
        .with_request(request)
        .with_row_count(rows);
        event.job_id = self.job_id;
        event.detail.clone_from(&self.detail);
        self.log
            .record(&event)
            .inspect_err(|e| super::trace_failure(&event, e))
    }
}
