//! [`TripRules`]: the trip schema's [`SchemaRules`]: its request defaults, the 5-day
//! consolidation rule, personal data per audience, the registry's access table, and its
//! pipeline ([`TripPlan`]: filter, opendata rare zones, derive, the V3 `Aide` sheet).

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;

use super::{
    DictionaryParams, TripContext, conform_input, default_period, derive, dictionary_batch,
    input_schema, validate_period, validate_run_period,
};
use crate::error::{ExportError, Result};
use crate::principal::{Organisation, Principal, forbidden};
use crate::request::{Audience, ExportRequest, Format, Period, SchemaVersion};
use crate::schema::ExportSchema;
use crate::schema::rules::{CsvDialect, RunFacts, RunSettings, SchemaPlan, SchemaRules};
use crate::temporal::DEFAULT_TIME_ZONE;

/// The trip schema's rules. See [`crate::schema::rules`] for what each hook decides, and
/// [`crate::access`] for the access table.
///
/// # Examples
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use export_core::request::{Audience, ExportRequest, Format, SchemaVersion};
/// use export_core::schema::rules::SchemaRules;
/// use export_core::schema::trip::TripRules;
///
/// let now = Utc.with_ymd_and_hms(2026, 12, 3, 12, 0, 0).unwrap();
/// let mut request = ExportRequest::new("trip", Format::Xlsx);
/// request.audience = Some(Audience::Opendata);
/// TripRules.fill_defaults(&mut request, now, chrono_tz::Europe::Paris);
/// assert_eq!(request.version, Some(SchemaVersion::V3));
/// assert!(request.period.is_some());
/// assert!(!TripRules.holds_personal_data(&request));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TripRules;

impl SchemaRules for TripRules {
    /// A request without period gets [`default_period`] in `tz`; without version, V3.
    fn fill_defaults(&self, request: &mut ExportRequest, now: DateTime<Utc>, tz: Tz) {
        if request.period.is_none() {
            request.period = Some(default_period(now, tz));
        }
        if request.version.is_none() {
            request.version = Some(SchemaVersion::V3);
        }
    }

    /// Users may not export days operators are still sending trips for: [`validate_period`].
    fn validate(&self, request: &ExportRequest, now: DateTime<Utc>) -> Result<()> {
        match &request.period {
            Some(period) => validate_period(period, now),
            None => Ok(()),
        }
    }

    /// Every audience but `opendata` (and a request without audience).
    fn holds_personal_data(&self, request: &ExportRequest) -> bool {
        request.audience.is_none_or(Audience::is_personal)
    }

    /// The registry's table (see [`crate::access`]): admins export as asked; opendata is for
    /// everyone; operators export their operator's trips, territories their territory's.
    fn authorize(&self, principal: &Principal, request: ExportRequest) -> Result<ExportRequest> {
        if principal.is_admin() {
            return Ok(request);
        }
        // A missing audience is left to validation, which refuses it.
        let Some(audience) = request.audience else {
            return Ok(request);
        };
        let mut request = request;
        match (audience, &principal.organisation) {
            (Audience::Opendata, _) => {}
            (Audience::Operator, Organisation::Operator(own)) => {
                let filter = &mut request.filters.operators;
                if let Some(other) = filter.iter().find(|id| *id != own) {
                    return Err(forbidden(format!(
                        "user `{}` of operator {own} may not export the trips of operator {other}",
                        principal.user_id
                    )));
                }
                if filter.is_empty() {
                    filter.push(*own);
                }
            }
            (Audience::Territory, Organisation::Territory(own)) => {
                let filter = &mut request.filters.territories;
                if let Some(other) = filter.iter().find(|id| *id != own) {
                    return Err(forbidden(format!(
                        "user `{}` of territory `{own}` may not export the trips of territory `{other}`",
                        principal.user_id
                    )));
                }
                if filter.is_empty() {
                    filter.push(own.clone());
                }
            }
            (audience, organisation) => {
                return Err(forbidden(format!(
                    "audience `{audience}` is not allowed for user `{}` ({organisation}): \
                     operators export their operator's trips, territories their territory's, \
                     opendata is for everyone",
                    principal.user_id
                )));
            }
        }
        Ok(request)
    }

    /// [`input_schema`].
    fn input_schema(&self) -> Option<SchemaRef> {
        Some(input_schema())
    }

    /// Checks the version, audience, format, filters and [`validate_run_period`] (a request
    /// without period exports the previous month), and plans the run: filter, opendata rare zones,
    /// derive, the V3 XLSX `Aide` sheet.
    fn plan(
        &self,
        request: &ExportRequest,
        run: &RunSettings,
    ) -> Result<Option<Box<dyn SchemaPlan>>> {
        let version = request.version.unwrap_or(SchemaVersion::V3);
        let audience = request.audience.ok_or_else(|| {
            ExportError::request(
                "audience",
                "the trip schema needs an audience: opendata, operator or territory",
            )
        })?;
        check_format(version, request.format)?;
        request.filters.validate_for_trip()?;
        let period = match request.period {
            Some(p) => p,
            None => Period::previous_month(run.now, DEFAULT_TIME_ZONE),
        };
        validate_run_period(&period, run.now)?;
        let key = run
            .hash_key
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().as_bytes().to_vec());
        let ctx = TripContext::new(version, audience)
            .with_time_zone(period.time_zone)
            .with_hash_key(key);
        Ok(Some(Box::new(TripPlan {
            ctx,
            period,
            format: request.format,
        })))
    }
}

/// Trip V2 is a CSV format; V3 is made for XLSX and also written as CSV or JSON.
fn check_format(version: SchemaVersion, format: Format) -> Result<()> {
    if version == SchemaVersion::V2 && format != Format::Csv {
        return Err(ExportError::request(
            "format",
            format!("trip schema v2 is written as csv only, not {format}"),
        ));
    }
    Ok(())
}

/// One trip export, planned by [`TripRules`]: its [`TripContext`], period and format.
#[derive(Debug, Clone)]
pub(crate) struct TripPlan {
    ctx: TripContext,
    period: Period,
    format: Format,
}

impl SchemaPlan for TripPlan {
    fn schema(&self) -> ExportSchema {
        self.ctx.schema()
    }

    fn period(&self) -> Option<&Period> {
        Some(&self.period)
    }

    /// `trips-v3-opendata-2026-10` for a calendar month, `trips-v2-operator-2026-10-01_2026-10-15`
    /// otherwise.
    fn file_stem(&self) -> String {
        let period = &self.period;
        let start = period.start.with_timezone(&period.time_zone).date_naive();
        let end = period.end.with_timezone(&period.time_zone).date_naive();
        let whole_month = start.day() == 1 && end.day() == 1 && {
            let next = start + chrono::Months::new(1);
            next == end
        };
        let when = if whole_month {
            format!("{:04}-{:02}", start.year(), start.month())
        } else {
            let last = end.pred_opt().unwrap_or(end);
            format!("{start}_{last}")
        };
        format!("trips-{}-{}-{when}", self.ctx.version, self.ctx.audience)
    }

    /// The registry's V2 dialect: `;`, every field quoted, OUI/NON, decimal comma.
    fn csv_dialect(&self) -> Option<CsvDialect> {
        (self.ctx.version == SchemaVersion::V2).then_some(CsvDialect {
            delimiter: b';',
            quote_all: true,
            bool_values: ("OUI", "NON"),
            decimal_separator: b',',
        })
    }

    /// [`crate::filter::Filters::apply_trip`] with the period and audience.
    fn filter(&self, request: &ExportRequest, batch: &RecordBatch) -> Result<RecordBatch> {
        request
            .filters
            .apply_trip(batch, Some(&self.period), self.ctx.audience)
    }

    /// Opendata: the input spool in [`input_schema`].
    fn rare_zones(&self) -> Option<SchemaRef> {
        (self.ctx.audience == Audience::Opendata).then(input_schema)
    }

    /// [`conform_input`], lenient.
    fn conform(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        conform_input(batch, false)
    }

    /// [`derive()`].
    fn derive(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        derive(&self.ctx, batch)
    }

    /// V3 XLSX: the `Aide` sheet ([`dictionary_batch`]).
    fn extra_sheet(
        &self,
        selected: &ExportSchema,
        facts: &RunFacts,
    ) -> Result<Option<RecordBatch>> {
        if self.ctx.version != SchemaVersion::V3 || self.format != Format::Xlsx {
            return Ok(None);
        }
        let mut params = DictionaryParams::new(self.ctx.version, self.ctx.audience)
            .with_period(self.period)
            .with_time_zone(self.period.time_zone)
            .with_rows(facts.rows_written)
            .with_generated_at(facts.generated_at);
        if let Some(report) = facts.privacy {
            params = params.with_privacy(report);
        }
        dictionary_batch(selected, &params).map(Some)
    }
}
