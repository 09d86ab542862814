//! Built-in presets and schedules: the registry's monthly opendata export.

use chrono::{DateTime, Duration, Utc};

use super::misfire::MisfirePolicy;
use super::model::{NewSchedule, PeriodRule, RetryPolicy, ScheduleTarget};
use super::trigger::Trigger;
use crate::error::Result;
use crate::job::Owner;
use crate::platform::Platform;
use crate::request::{Audience, ExportRequest, Format, SchemaVersion};

/// When the monthly opendata export fires: 05:00 on the 1st, in [`MONTHLY_OPENDATA_ZONE`].
pub const MONTHLY_OPENDATA_CRON: &str = "0 5 1 * *";

/// The time zone of the monthly opendata schedule and of its periods.
pub const MONTHLY_OPENDATA_ZONE: &str = "Europe/Paris";

/// The names of the built-in platforms and schedules: V3 XLSX, then V2 CSV.
pub const MONTHLY_OPENDATA: [&str; 2] = ["opendata-monthly-xlsx", "opendata-monthly-csv"];

fn opendata(version: SchemaVersion, format: Format) -> ExportRequest {
    let mut request = ExportRequest::new("trip", format);
    request.version = Some(version);
    request.audience = Some(Audience::Opendata);
    request
}

/// The two opendata platforms, created at `now`.
///
/// # Examples
///
/// ```
/// use chrono::Utc;
/// use export_core::request::{Format, SchemaVersion};
/// use export_core::schedule::monthly_opendata_platforms;
/// let [xlsx, csv] = monthly_opendata_platforms(Utc::now());
/// assert_eq!((xlsx.request.version, xlsx.request.format), (Some(SchemaVersion::V3), Format::Xlsx));
/// assert_eq!((csv.request.version, csv.request.format), (Some(SchemaVersion::V2), Format::Csv));
/// ```
pub fn monthly_opendata_platforms(now: DateTime<Utc>) -> [Platform; 2] {
    [
        Platform::new(
            MONTHLY_OPENDATA[0],
            opendata(SchemaVersion::V3, Format::Xlsx),
            now,
        )
        .description("Monthly opendata trips, schema V3, Excel workbook with data dictionary"),
        Platform::new(
            MONTHLY_OPENDATA[1],
            opendata(SchemaVersion::V2, Format::Csv),
            now,
        )
        .description("Monthly opendata trips, schema V2, CSV"),
    ]
}

/// The two monthly schedules, owned by `owner`, on the platforms of
/// [`monthly_opendata_platforms`].
///
/// # Errors
///
/// None in practice (the expression and zone are constants); the signature carries the
/// trigger's `Result`.
///
/// The registry publishes its trips as open data every month. Two files are produced for the
/// previous calendar month (computed in `Europe/Paris`), each by its own platform and
/// schedule, so each is retried and followed on its own:
///
/// | platform and schedule | export |
/// |---|---|
/// | `opendata-monthly-xlsx` | trip schema V3, audience opendata, XLSX (with the data dictionary sheet) |
/// | `opendata-monthly-csv` | trip schema V2, audience opendata, CSV |
///
/// Both schedules fire at 05:00 Paris time on the 1st of each month ([`MONTHLY_OPENDATA_CRON`]),
/// with [`PeriodRule::PreviousMonth`], 3 attempts 30 minutes apart, and a 6-hour misfire grace
/// (a scheduler restarted in the morning still publishes). Operators may send trips up to 5
/// days late: a registry that wants those in the file moves the cron to the 6th
/// (`0 5 6 * *`) with [`ScheduleManager::update_schedule`](super::ScheduleManager::update_schedule).
///
/// Install them with [`ScheduleManager::install_monthly_opendata`](super::ScheduleManager::install_monthly_opendata)
/// or `export-core schedules install-opendata`.
pub fn monthly_opendata_schedules(owner: Owner) -> Result<Vec<NewSchedule>> {
    let trigger = Trigger::cron(MONTHLY_OPENDATA_CRON, MONTHLY_OPENDATA_ZONE)?;
    let retry = RetryPolicy {
        max_attempts: 3,
        delay: Duration::minutes(30),
        backoff: None,
        max_delay: Duration::hours(1),
    };
    Ok(MONTHLY_OPENDATA
        .iter()
        .zip(["V3 XLSX", "V2 CSV"])
        .map(|(name, label)| {
            NewSchedule::new(
                *name,
                owner.clone(),
                ScheduleTarget::platform(*name),
                trigger.clone(),
            )
            .name(format!("Monthly opendata export ({label})"))
            .period(PeriodRule::PreviousMonth)
            .retry(retry)
            .misfire(MisfirePolicy {
                grace: Duration::hours(6),
            })
        })
        .collect())
}
