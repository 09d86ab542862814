//! `export-core schedules ...`: recurring exports, administered through `ScheduleManager`
//! (validated, audited) in the SQLite default database or PostgreSQL.

use chrono::{DateTime, Duration, Utc};
use clap::{Args, Subcommand};
use export_core::job::Owner;
use export_core::schedule::{
    MisfirePolicy, NewSchedule, PeriodRule, RetryPolicy, Schedule, ScheduleChanges,
    ScheduleManager, ScheduleQuery, ScheduleTarget, Trigger,
};
use export_core::service::{Principal, Scope};
use export_core::{ExportError, Result};

use crate::backend::BackendArgs;
use crate::jobs_cmd::{PrincipalArgs, print_json, read_request};
use crate::request_args::RequestArgs;

/// Who acts (checked by `ScheduleManager`, recorded in the audit log), shared by `schedules`
/// and `platforms`.
#[derive(Args, Clone)]
pub struct AdminArgs {
    #[command(flatten)]
    pub backend: BackendArgs,
    /// Act as this user, with --scopes (and --admin). Without it, the console's administrator:
    /// user `admin` with every scope, `export.admin` included.
    #[arg(long = "as", global = true, value_name = "USER")]
    pub as_user: Option<String>,
    #[command(flatten)]
    pub who: PrincipalArgs,
    /// Scopes of the acting user given with --as (comma-separated; READ_EXPORTS and
    /// WRITE_EXPORTS accepted).
    #[arg(long, global = true, default_value = "READ_EXPORTS,WRITE_EXPORTS")]
    pub scopes: String,
}

impl AdminArgs {
    /// The acting principal.
    pub fn principal(&self) -> Result<Principal> {
        match self.as_user.as_deref().map(str::trim) {
            Some("") => Err(ExportError::request("as", "--as USER must not be empty")),
            Some(user) => self.who.principal(user, &self.scopes),
            None => Ok(self
                .who
                .principal("admin", &self.scopes)?
                .with_all_scopes()
                .with_scope(Scope::Admin)),
        }
    }

    pub fn manager(&self) -> Result<ScheduleManager> {
        Ok(self.backend.open()?.schedules())
    }
}

#[derive(Args)]
pub struct SchedulesArgs {
    #[command(flatten)]
    admin: AdminArgs,
    #[command(subcommand)]
    command: SchedulesCommand,
}

#[derive(Subcommand)]
enum SchedulesCommand {
    /// Create a schedule on a platform (--platform) or an inline request (flags or --request-json);
    /// --tz is the zone of the cron expression and of each run's period.
    Create(Box<CreateArgs>),
    /// List schedules with their next run and statistics.
    List(ListArgs),
    /// Print a schedule and its recent runs as JSON.
    Show(ShowArgs),
    /// Change a schedule: only the flags given change (the next run is recomputed when the
    /// trigger changes).
    Update(Box<UpdateArgs>),
    /// Enable or disable a schedule (flips it without --on/--off).
    Toggle(ToggleArgs),
    /// Delete a schedule and its run history (its jobs stay).
    Delete(IdArg),
    /// Print the next fire times of an expression (nothing is stored).
    Next(NextArgs),
    /// Install the built-in monthly opendata export (platforms and schedules; idempotent).
    InstallOpendata,
}

#[derive(Args)]
struct TriggerArgs {
    /// Cron expression: 5 fields (minute hour day-of-month month day-of-week), 6 with seconds
    /// first, or @daily, @monthly...
    #[arg(long, conflicts_with = "every_minutes")]
    cron: Option<String>,
    /// Fire every N minutes instead of a cron expression.
    #[arg(long)]
    every_minutes: Option<u64>,
    /// First fire time of an interval (RFC 3339; default 1970-01-01T00:00:00Z).
    #[arg(long, requires = "every_minutes")]
    anchor: Option<String>,
}

impl TriggerArgs {
    /// The trigger, a cron expression being read in zone `tz`.
    fn trigger(&self, tz: &str) -> Result<Trigger> {
        match (&self.cron, self.every_minutes) {
            (Some(expr), None) => Trigger::cron(expr, tz),
            (None, Some(minutes)) => {
                let anchor = match &self.anchor {
                    Some(text) => parse_instant("anchor", text)?,
                    None => DateTime::UNIX_EPOCH,
                };
                Trigger::every_minutes(minutes, anchor)
            }
            _ => Err(ExportError::request(
                "trigger",
                "give --cron EXPRESSION or --every-minutes N",
            )),
        }
    }
}

#[derive(Args)]
struct CreateArgs {
    /// The schedule id (a-z, 0-9, `-`, `_`, `.`).
    id: String,
    /// Display name (default: the id).
    #[arg(long)]
    name: Option<String>,
    /// Owner of the jobs it creates (default: the acting user).
    #[arg(long)]
    owner: Option<String>,
    /// The owner's organisation.
    #[arg(long)]
    owner_org: Option<String>,
    #[command(flatten)]
    trigger: TriggerArgs,
    /// Export this platform (preset).
    #[arg(long, conflicts_with = "request_json")]
    platform: Option<String>,
    /// JSON merge patch applied to the platform's request, e.g. '{"options":{"bom":true}}'.
    #[arg(long, requires = "platform")]
    overrides: Option<String>,
    /// The request as JSON (inline, from a file or `-`) (instead of --platform or the request flags).
    #[arg(long, value_name = "JSON|FILE|-")]
    request_json: Option<String>,
    /// Period of each run: as-requested, previous-day, previous-week or previous-month.
    #[arg(long, default_value = "as-requested")]
    period: String,
    /// Jobs per run (1: no retry).
    #[arg(long, default_value_t = 3)]
    max_attempts: u32,
    /// Seconds before the first retry.
    #[arg(long, default_value_t = 300)]
    retry_delay: i64,
    /// Multiply the delay by this for each further retry.
    #[arg(long)]
    backoff: Option<f64>,
    /// Seconds a fire time may be late and still run (else it is skipped as a misfire).
    #[arg(long, default_value_t = 300)]
    grace: i64,
    /// Create it disabled.
    #[arg(long)]
    disabled: bool,
    #[command(flatten)]
    request: RequestArgs,
}

#[derive(Args)]
struct UpdateArgs {
    /// The schedule id.
    id: String,
    /// New display name.
    #[arg(long)]
    name: Option<String>,
    #[command(flatten)]
    trigger: TriggerArgs,
    /// New time zone of the cron expression and of each run's period (alone, it keeps the
    /// expression).
    #[arg(long)]
    tz: Option<String>,
    /// Export this platform from now on.
    #[arg(long, conflicts_with = "request_json")]
    platform: Option<String>,
    /// New JSON merge patch on the platform's request (`null` for none).
    #[arg(long, conflicts_with = "request_json")]
    overrides: Option<String>,
    /// Export this inline request from now on (JSON inline, from a file or `-`).
    #[arg(long, value_name = "JSON|FILE|-")]
    request_json: Option<String>,
    /// Period of each run: as-requested, previous-day, previous-week or previous-month.
    #[arg(long)]
    period: Option<String>,
    /// Jobs per run (1: no retry).
    #[arg(long)]
    max_attempts: Option<u32>,
    /// Seconds before the first retry.
    #[arg(long)]
    retry_delay: Option<i64>,
    /// Multiply the delay by this for each further retry.
    #[arg(long, conflicts_with = "no_backoff")]
    backoff: Option<f64>,
    /// Keep the delay between retries fixed.
    #[arg(long)]
    no_backoff: bool,
    /// Seconds a fire time may be late and still run.
    #[arg(long)]
    grace: Option<i64>,
}

#[derive(Args)]
struct ListArgs {
    /// Only this owner's schedules.
    #[arg(long)]
    owner: Option<String>,
    /// Only schedules on this platform.
    #[arg(long)]
    platform: Option<String>,
}

#[derive(Args)]
struct ShowArgs {
    /// The schedule id.
    id: String,
    /// Runs to show, newest first.
    #[arg(long, default_value_t = 10)]
    runs: u32,
}

#[derive(Args)]
struct ToggleArgs {
    /// The schedule id.
    id: String,
    /// Enable it.
    #[arg(long, conflicts_with = "off")]
    on: bool,
    /// Disable it.
    #[arg(long)]
    off: bool,
}

#[derive(Args)]
struct IdArg {
    /// The schedule id.
    id: String,
}

#[derive(Args)]
struct NextArgs {
    #[command(flatten)]
    trigger: TriggerArgs,
    /// Time zone of the cron expression (IANA name).
    #[arg(long, default_value = "Europe/Paris")]
    tz: String,
    /// How many fire times.
    #[arg(long, short = 'n', default_value_t = 5)]
    count: usize,
    /// Start after this instant (RFC 3339; default now).
    #[arg(long)]
    after: Option<String>,
}

pub fn run(mut args: SchedulesArgs) -> Result<()> {
    if let SchedulesCommand::Next(next) = &args.command {
        return print_next(next);
    }
    // Only creations may start a new database.
    args.admin.backend.must_exist = !matches!(
        args.command,
        SchedulesCommand::Create(_) | SchedulesCommand::InstallOpendata
    );
    let manager = args.admin.manager()?;
    let actor = args.admin.principal()?;
    match args.command {
        SchedulesCommand::Next(_) => Ok(()),
        SchedulesCommand::Create(create) => {
            let new = new_schedule(&create, &actor.owner())?;
            let schedule = manager.create_schedule(&actor, new)?;
            println!("{} next run {}", schedule.id, next_run(&schedule));
            Ok(())
        }
        SchedulesCommand::List(list) => {
            let query = ScheduleQuery {
                owner_user_id: list.owner,
                platform: list.platform,
                ..ScheduleQuery::default()
            };
            let schedules = manager.list_schedules(&actor, &query)?;
            println!(
                "{:<24}  {:<8}  {:<28}  {:<20}  {:>5}  {:>4}  {:>4}  LAST",
                "ID", "ENABLED", "TRIGGER", "NEXT RUN (UTC)", "RUNS", "OK", "FAIL"
            );
            for s in &schedules {
                println!(
                    "{:<24}  {:<8}  {:<28}  {:<20}  {:>5}  {:>4}  {:>4}  {}",
                    s.id,
                    if s.enabled { "yes" } else { "no" },
                    describe(&s.trigger),
                    next_run(s),
                    s.stats.runs,
                    s.stats.successes,
                    s.stats.failures,
                    s.stats.last_status.map_or("-", |st| st.as_str())
                );
            }
            Ok(())
        }
        SchedulesCommand::Show(show) => {
            let schedule = manager.get_schedule(&actor, &show.id)?;
            let runs = manager.schedule_runs(&actor, &show.id, show.runs)?;
            print_json(&serde_json::json!({ "schedule": schedule, "runs": runs }))
        }
        SchedulesCommand::Update(update) => {
            let current = manager.get_schedule(&actor, &update.id)?;
            let changes = schedule_changes(&update, &current)?;
            if changes == ScheduleChanges::default() {
                return Err(ExportError::request(
                    "update",
                    "nothing to change; give at least one of the flags (see --help)",
                ));
            }
            let schedule = manager.update_schedule(&actor, &update.id, &changes)?;
            println!(
                "{} updated ({}), next run {}",
                schedule.id,
                changes.changed_fields().join(", "),
                next_run(&schedule)
            );
            Ok(())
        }
        SchedulesCommand::Toggle(toggle) => {
            let schedule = if toggle.on || toggle.off {
                manager.set_enabled(&actor, &toggle.id, toggle.on)?
            } else {
                manager.toggle(&actor, &toggle.id)?
            };
            let state = if schedule.enabled {
                "enabled"
            } else {
                "disabled"
            };
            println!("{} {state}, next run {}", schedule.id, next_run(&schedule));
            Ok(())
        }
        SchedulesCommand::Delete(id) => {
            manager.delete_schedule(&actor, &id.id)?;
            println!("{} deleted", id.id);
            Ok(())
        }
        SchedulesCommand::InstallOpendata => {
            let created = manager.install_monthly_opendata(&actor)?;
            if created.is_empty() {
                println!("monthly opendata export already installed");
            }
            for s in &created {
                println!("{} next run {}", s.id, next_run(s));
            }
            Ok(())
        }
    }
}

fn new_schedule(args: &CreateArgs, actor: &Owner) -> Result<NewSchedule> {
    let target = match (&args.platform, &args.request_json) {
        (Some(platform), _) => ScheduleTarget::Platform {
            platform: platform.clone(),
            overrides: match &args.overrides {
                Some(text) => parse_overrides(text)?,
                None => serde_json::Value::Null,
            },
        },
        (None, Some(source)) => ScheduleTarget::request(read_request(source)?),
        // Without --start/--end, each run's period comes from --period (or the default).
        (None, None) => ScheduleTarget::request(args.request.to_request(None)?),
    };
    let owner = Owner {
        user_id: args.owner.clone().unwrap_or_else(|| actor.user_id.clone()),
        organisation_id: args.owner_org.clone().or_else(|| {
            args.owner
                .is_none()
                .then(|| actor.organisation_id.clone())
                .flatten()
        }),
    };
    Ok(NewSchedule::new(
        args.id.clone(),
        owner,
        target,
        args.trigger.trigger(&args.request.tz)?,
    )
    .name(args.name.clone().unwrap_or_else(|| args.id.clone()))
    .period(parse_period(&args.period)?)
    .retry(RetryPolicy {
        max_attempts: args.max_attempts,
        delay: seconds("retry-delay", args.retry_delay)?,
        backoff: args.backoff,
        ..RetryPolicy::default()
    })
    .misfire(MisfirePolicy {
        grace: seconds("grace", args.grace)?,
    })
    .enabled(!args.disabled))
}

/// The changes the flags of `schedules update` ask for, on top of `current`.
fn schedule_changes(args: &UpdateArgs, current: &Schedule) -> Result<ScheduleChanges> {
    let trigger = if args.trigger.cron.is_some() || args.trigger.every_minutes.is_some() {
        let tz = match (&args.tz, &current.trigger) {
            (Some(tz), _) => tz.clone(),
            (None, Trigger::Cron(cron)) => cron.time_zone().name().to_string(),
            (None, Trigger::Interval(_)) => {
                export_core::temporal::DEFAULT_TIME_ZONE.name().to_string()
            }
        };
        Some(args.trigger.trigger(&tz)?)
    } else if let Some(tz) = &args.tz {
        match &current.trigger {
            Trigger::Cron(cron) => Some(Trigger::cron(cron.expression(), tz)?),
            Trigger::Interval(_) => {
                return Err(ExportError::request(
                    "tz",
                    "an interval has no time zone; give --cron with --tz",
                ));
            }
        }
    } else {
        None
    };
    let target = match (&args.platform, &args.overrides, &args.request_json) {
        (_, _, Some(source)) => Some(ScheduleTarget::request(read_request(source)?)),
        (None, None, None) => None,
        (platform, overrides, None) => {
            let (current_platform, current_overrides) = match &current.target {
                ScheduleTarget::Platform {
                    platform,
                    overrides,
                } => (Some(platform.clone()), overrides.clone()),
                ScheduleTarget::Request { .. } => (None, serde_json::Value::Null),
            };
            let platform = platform.clone().or(current_platform).ok_or_else(|| {
                ExportError::request(
                    "overrides",
                    "this schedule exports an inline request; give --platform too",
                )
            })?;
            let overrides = match overrides {
                Some(text) => parse_overrides(text)?,
                None => current_overrides,
            };
            Some(ScheduleTarget::Platform {
                platform,
                overrides,
            })
        }
    };
    let retry_changed = args.max_attempts.is_some()
        || args.retry_delay.is_some()
        || args.backoff.is_some()
        || args.no_backoff;
    let retry = if retry_changed {
        let mut retry = current.retry;
        if let Some(max) = args.max_attempts {
            retry.max_attempts = max;
        }
        if let Some(delay) = args.retry_delay {
            retry.delay = seconds("retry-delay", delay)?;
        }
        if args.backoff.is_some() || args.no_backoff {
            retry.backoff = args.backoff;
        }
        Some(retry)
    } else {
        None
    };
    Ok(ScheduleChanges {
        name: args.name.clone(),
        target,
        period: args.period.as_deref().map(parse_period).transpose()?,
        trigger,
        retry,
        misfire: args
            .grace
            .map(|grace| seconds("grace", grace).map(|grace| MisfirePolicy { grace }))
            .transpose()?,
        retention: None,
    })
}

fn parse_overrides(text: &str) -> Result<serde_json::Value> {
    serde_json::from_str(text)
        .map_err(|e| ExportError::request("overrides", format!("not JSON: {e}")))
}

fn seconds(field: &str, secs: i64) -> Result<Duration> {
    Duration::try_seconds(secs)
        .filter(|d| *d >= Duration::zero())
        .ok_or_else(|| ExportError::request(field, format!("{secs} is not a number of seconds")))
}

fn parse_period(text: &str) -> Result<PeriodRule> {
    match text {
        "as-requested" => Ok(PeriodRule::AsRequested),
        "previous-day" => Ok(PeriodRule::PreviousDay),
        "previous-week" => Ok(PeriodRule::PreviousWeek),
        "previous-month" => Ok(PeriodRule::PreviousMonth),
        _ => Err(ExportError::request(
            "period",
            format!(
                "unknown period `{text}`; expected as-requested, previous-day, previous-week or previous-month"
            ),
        )),
    }
}

fn print_next(args: &NextArgs) -> Result<()> {
    let trigger = args.trigger.trigger(&args.tz)?;
    let after = match &args.after {
        Some(text) => parse_instant("after", text)?,
        None => Utc::now(),
    };
    let zone = match &trigger {
        Trigger::Cron(cron) => Some(cron.time_zone()),
        Trigger::Interval(_) => None,
    };
    for t in trigger.upcoming(after, args.count.clamp(1, 1000)) {
        match zone {
            Some(tz) => println!(
                "{}  ({} {})",
                t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S %Z"),
                tz.name()
            ),
            None => println!("{}", t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        }
    }
    Ok(())
}

fn parse_instant(field: &str, text: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            ExportError::request(field, format!("`{text}` is not an RFC 3339 instant: {e}"))
        })
}

fn describe(trigger: &Trigger) -> String {
    match trigger {
        Trigger::Cron(cron) => format!("{} {}", cron.expression(), cron.time_zone().name()),
        Trigger::Interval(interval) => {
            format!("every {} min", interval.every().num_minutes())
        }
    }
}

fn next_run(schedule: &Schedule) -> String {
    schedule.next_run.map_or_else(
        || "-".to_string(),
        |t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    )
}
