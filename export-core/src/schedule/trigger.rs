//! Triggers: when a schedule fires (a cron expression in a time zone, or a fixed interval).

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Offset, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::cron_expr::CronExpr;
use crate::error::{ExportError, Result};
use crate::temporal::{DEFAULT_TIME_ZONE, parse_time_zone};

/// When a schedule fires.
///
/// Both kinds are validated when built, by [`Trigger::cron`], [`Trigger::interval`],
/// [`Trigger::every_minutes`] or deserialisation, so a `Trigger` always fires again.
///
/// Serialised as a tagged object:
///
/// ```json
/// {"kind": "cron", "expression": "0 2 * * *", "time_zone": "Europe/Paris"}
/// {"kind": "interval", "every_seconds": 900, "anchor": "2026-01-01T00:00:00Z"}
/// ```
///
/// On input, `time_zone` defaults to `Europe/Paris`; an interval may be given in
/// `every_minutes` instead of `every_seconds` (exactly one of them), and `anchor` defaults to
/// 1970-01-01T00:00:00Z (so that `every_minutes: 15` fires at :00, :15, :30 and :45 UTC).
///
/// # Examples
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use export_core::schedule::Trigger;
///
/// let nightly = Trigger::cron("0 2 * * *", "Europe/Paris").unwrap();
/// let after = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap();
/// // 02:00 in Paris in June is 00:00 UTC.
/// let next = nightly.next_after(after).unwrap().unwrap();
/// assert_eq!(next, Utc.with_ymd_and_hms(2026, 6, 2, 0, 0, 0).unwrap());
///
/// let json = serde_json::to_string(&nightly).unwrap();
/// assert_eq!(json, r#"{"kind":"cron","expression":"0 2 * * *","time_zone":"Europe/Paris"}"#);
/// let back: Trigger = serde_json::from_str(&json).unwrap();
/// assert_eq!(back, nightly);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "TriggerRepr", into = "TriggerRepr")]
pub enum Trigger {
    /// A cron expression evaluated on local wall-clock time in an IANA time zone.
    Cron(CronTrigger),
    /// A fixed duration between fire times, counted from an anchor instant.
    Interval(IntervalTrigger),
}

impl Trigger {
    /// A cron trigger: `expression` (see the [`schedule`](super) module for the syntax)
    /// evaluated in the IANA time zone `time_zone`.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] on `expression` when the expression is invalid or never
    /// fires (the message quotes the bad field), on `time_zone` when the zone is unknown.
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::schedule::Trigger;
    /// assert!(Trigger::cron("30 6 * * MON-FRI", "Europe/Paris").is_ok());
    /// assert!(Trigger::cron("0 2 * * *", "Mars/Olympus").is_err());
    /// assert!(Trigger::cron("0 0 30 2 *", "UTC").is_err());
    /// ```
    pub fn cron(expression: &str, time_zone: &str) -> Result<Trigger> {
        Ok(Trigger::Cron(CronTrigger::new(expression, time_zone)?))
    }

    /// An interval trigger firing at `anchor`, `anchor + every`, `anchor + 2 × every`, ...
    ///
    /// Intervals are absolute durations: they ignore time zones and DST.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] on `every` when it is shorter than one second or not a
    /// whole number of seconds.
    ///
    /// # Examples
    ///
    /// ```
    /// use chrono::{Duration, TimeZone, Utc};
    /// use export_core::schedule::Trigger;
    /// let anchor = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    /// let t = Trigger::interval(Duration::minutes(15), anchor).unwrap();
    /// let next = t.next_after(Utc.with_ymd_and_hms(2026, 1, 1, 0, 7, 0).unwrap()).unwrap();
    /// assert_eq!(next, Some(Utc.with_ymd_and_hms(2026, 1, 1, 0, 15, 0).unwrap()));
    /// assert!(Trigger::interval(Duration::zero(), anchor).is_err());
    /// ```
    pub fn interval(every: Duration, anchor: DateTime<Utc>) -> Result<Trigger> {
        Ok(Trigger::Interval(IntervalTrigger::new(every, anchor)?))
    }

    /// An interval trigger given in minutes (the catalogue's "intervalle en minutes").
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] on `every_minutes` when `minutes` is 0 or too large.
    ///
    /// # Examples
    ///
    /// ```
    /// use chrono::{Duration, TimeZone, Utc};
    /// use export_core::schedule::Trigger;
    /// let anchor = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    /// assert_eq!(
    ///     Trigger::every_minutes(15, anchor).unwrap(),
    ///     Trigger::interval(Duration::seconds(900), anchor).unwrap(),
    /// );
    /// assert!(Trigger::every_minutes(0, anchor).is_err());
    /// ```
    pub fn every_minutes(minutes: u64, anchor: DateTime<Utc>) -> Result<Trigger> {
        let every = minutes
            .checked_mul(60)
            .and_then(|s| i64::try_from(s).ok())
            .and_then(Duration::try_seconds)
            .ok_or_else(|| {
                ExportError::request("every_minutes", format!("{minutes} minutes is too long"))
            })?;
        IntervalTrigger::new(every, anchor)
            .map(Trigger::Interval)
            .map_err(|_| {
                ExportError::request(
                    "every_minutes",
                    format!("{minutes} is not a valid interval (at least 1 minute)"),
                )
            })
    }

    /// `"cron"` or `"interval"`, as in the serialised `kind`.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = export_core::schedule::Trigger::cron("@daily", "UTC").unwrap();
    /// assert_eq!(t.kind(), "cron");
    /// ```
    pub fn kind(&self) -> &'static str {
        match self {
            Trigger::Cron(_) => "cron",
            Trigger::Interval(_) => "interval",
        }
    }

    /// The first fire time strictly after `after`.
    ///
    /// `Ok(None)` only when that time would lie beyond the dates chrono can represent (year
    /// 262,142): every trigger that can be built fires again (expressions that never fire are
    /// refused at construction).
    ///
    /// # Errors
    ///
    /// None today for a trigger built by this module's constructors or by deserialisation; the
    /// `Result` leaves room for triggers whose evaluation can fail.
    ///
    /// # Examples
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use export_core::schedule::Trigger;
    /// let t = Trigger::cron("0 30 2 * * *", "Europe/Paris").unwrap();
    /// // 2026-03-29 is the spring-forward day: 02:30 does not exist, the schedule fires at 03:00
    /// // local time (01:00 UTC), the first valid instant after the gap.
    /// let after = Utc.with_ymd_and_hms(2026, 3, 28, 12, 0, 0).unwrap();
    /// assert_eq!(
    ///     t.next_after(after).unwrap(),
    ///     Some(Utc.with_ymd_and_hms(2026, 3, 29, 1, 0, 0).unwrap()),
    /// );
    /// ```
    pub fn next_after(&self, after: DateTime<Utc>) -> Result<Option<DateTime<Utc>>> {
        Ok(match self {
            Trigger::Cron(cron) => cron.next_after(after),
            Trigger::Interval(interval) => interval.next_after(after),
        })
    }

    /// The next `n` fire times strictly after `after`, in order (fewer only at the end of
    /// representable time). Used by `schedules next`.
    ///
    /// # Examples
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use export_core::schedule::Trigger;
    /// let t = Trigger::cron("*/15 * * * *", "UTC").unwrap();
    /// let after = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    /// let times: Vec<String> = t.upcoming(after, 3).iter().map(|t| t.to_rfc3339()).collect();
    /// assert_eq!(
    ///     times,
    ///     ["2026-01-01T00:15:00+00:00", "2026-01-01T00:30:00+00:00", "2026-01-01T00:45:00+00:00"],
    /// );
    /// ```
    pub fn upcoming(&self, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        let mut times = Vec::with_capacity(n.min(1024));
        let mut cursor = after;
        while times.len() < n {
            match self.next_after(cursor) {
                Ok(Some(next)) => {
                    times.push(next);
                    cursor = next;
                }
                Ok(None) | Err(_) => break,
            }
        }
        times
    }
}

/// A validated cron expression and the time zone it is evaluated in.
///
/// # Examples
///
/// ```
/// use export_core::schedule::CronTrigger;
/// let t = CronTrigger::new("0 2 * * *", "Europe/Paris").unwrap();
/// assert_eq!(t.expression(), "0 2 * * *");
/// assert_eq!(t.time_zone().name(), "Europe/Paris");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronTrigger {
    expr: CronExpr,
    time_zone: Tz,
}

impl CronTrigger {
    /// Parses `expression` and the IANA zone name `time_zone`.
    ///
    /// # Errors
    ///
    /// As [`Trigger::cron`].
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(export_core::schedule::CronTrigger::new("@hourly", "UTC").is_ok());
    /// ```
    pub fn new(expression: &str, time_zone: &str) -> Result<CronTrigger> {
        let expr = CronExpr::parse(expression)?;
        let time_zone = parse_time_zone(time_zone)?;
        Ok(CronTrigger::from_parts(expr, time_zone))
    }

    /// A trigger from an already parsed expression and zone.
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::schedule::{CronExpr, CronTrigger};
    /// let t = CronTrigger::from_parts(CronExpr::parse("@daily").unwrap(), chrono_tz::UTC);
    /// assert_eq!(t.expression(), "@daily");
    /// ```
    pub fn from_parts(expr: CronExpr, time_zone: Tz) -> CronTrigger {
        CronTrigger { expr, time_zone }
    }

    /// The expression as written.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = export_core::schedule::CronTrigger::new("@daily", "UTC").unwrap();
    /// assert_eq!(t.expression(), "@daily");
    /// ```
    pub fn expression(&self) -> &str {
        self.expr.as_str()
    }

    /// The parsed expression.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = export_core::schedule::CronTrigger::new("0 30 2 * * *", "UTC").unwrap();
    /// assert!(t.cron_expr().has_seconds());
    /// ```
    pub fn cron_expr(&self) -> &CronExpr {
        &self.expr
    }

    /// The zone the expression is evaluated in.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = export_core::schedule::CronTrigger::new("@daily", "America/New_York").unwrap();
    /// assert_eq!(t.time_zone(), chrono_tz::America::New_York);
    /// ```
    pub fn time_zone(&self) -> Tz {
        self.time_zone
    }

    /// The first fire time strictly after `after`; `None` only past the end of representable
    /// time. See the [`schedule`](super) module for the DST rules.
    ///
    /// # Examples
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use export_core::schedule::CronTrigger;
    /// let t = CronTrigger::new("30 2 * * *", "Europe/Paris").unwrap();
    /// // Fall-back day 2026-10-25: 02:30 happens twice; the schedule fires at the first one only.
    /// let after = Utc.with_ymd_and_hms(2026, 10, 24, 12, 0, 0).unwrap();
    /// let first = t.next_after(after).unwrap();
    /// assert_eq!(first, Utc.with_ymd_and_hms(2026, 10, 25, 0, 30, 0).unwrap());
    /// let second = t.next_after(first).unwrap();
    /// assert_eq!(second, Utc.with_ymd_and_hms(2026, 10, 26, 1, 30, 0).unwrap());
    /// ```
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let first = self.next_first_occurrence(after);
        if !self.expr.fires_every_hour() {
            return first;
        }
        match self.next_second_occurrence(after, first) {
            Some(second) if first.is_none_or(|f| second < f) => Some(second),
            _ => first,
        }
    }

    /// The first fire time after `after` among matching local times taken at their first
    /// occurrence (or, for fixed-hour expressions, at the end of a DST gap they fall in).
    ///
    /// The map from local time to that instant is non-decreasing, so scanning matching local
    /// times upwards from the local time of `after` finds the smallest one.
    fn next_first_occurrence(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let tz = self.time_zone;
        let every_hour = self.expr.fires_every_hour();
        let mut from = tz.from_utc_datetime(&after.naive_utc()).naive_local();
        loop {
            let local = self.expr.next_match(from)?;
            match tz.from_local_datetime(&local) {
                chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => {
                    let t = t.with_timezone(&Utc);
                    if t > after {
                        return Some(t);
                    }
                    from = local.checked_add_signed(Duration::seconds(1))?;
                }
                chrono::LocalResult::None => {
                    let end = gap_end(local, tz)?;
                    if !every_hour && end > after {
                        return Some(end);
                    }
                    // Every local time left in this gap maps to the same instant (or to none).
                    let end_local = tz.from_utc_datetime(&end.naive_utc()).naive_local();
                    from = end_local.max(local.checked_add_signed(Duration::seconds(1))?);
                }
            }
        }
    }

    /// For expressions that fire every hour: the first fire time after `after` (and before
    /// `bound`) that is the second occurrence of a repeated local time (DST fall-back).
    ///
    /// Walks the local days from the day before `after`, looks for a day whose UTC offset
    /// decreases, and scans the repeated local times of that change.
    fn next_second_occurrence(
        &self,
        after: DateTime<Utc>,
        bound: Option<DateTime<Utc>>,
    ) -> Option<DateTime<Utc>> {
        let tz = self.time_zone;
        let bound = bound?;
        let mut day = tz
            .from_utc_datetime(&after.naive_utc())
            .date_naive()
            .pred_opt()?;
        loop {
            let start = day_start(day, tz)?;
            if start > bound {
                return None;
            }
            let next_day = day.succ_opt()?;
            let near_match = self.expr.matches_date(day)
                || self.expr.matches_date(next_day)
                || day.pred_opt().is_some_and(|d| self.expr.matches_date(d));
            if !near_match {
                // Jump to the day before the next matching day.
                let next = self
                    .expr
                    .next_match(next_day.succ_opt()?.and_hms_opt(0, 0, 0)?)?;
                day = next.date().pred_opt()?.max(next_day);
                continue;
            }
            let end = day_start(next_day, tz)?;
            let last = end.checked_sub_signed(Duration::seconds(1))?;
            if last > start {
                let before = offset_seconds(tz, start);
                let after_change = offset_seconds(tz, last);
                if after_change < before
                    && let Some(t) = self.second_occurrence_in(tz, start, last, before, after)
                {
                    return Some(t);
                }
            }
            day = next_day;
        }
    }

    /// The first matching second occurrence after `after`, for the offset decrease between
    /// `start` (offset `before` seconds) and `last`.
    fn second_occurrence_in(
        &self,
        tz: Tz,
        start: DateTime<Utc>,
        last: DateTime<Utc>,
        before: i32,
        after: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        // Bisect for the first instant with the new offset.
        let (mut lo, mut hi) = (start.timestamp(), last.timestamp());
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if offset_seconds(tz, DateTime::from_timestamp(mid, 0)?) == before {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let change = DateTime::from_timestamp(hi, 0)?;
        let new = offset_seconds(tz, change);
        let repeat = i64::from(before - new);
        // Second occurrences are the instants [change, change + repeat), local time = t + new.
        let window_end = change.checked_add_signed(Duration::seconds(repeat))?;
        let from = change.max(after.checked_add_signed(Duration::seconds(1))?);
        if from >= window_end {
            return None;
        }
        let shift = Duration::seconds(i64::from(new));
        let from_local = from.naive_utc().checked_add_signed(shift)?;
        // `after + 1s` may carry a fraction: round down so `t > after` decides.
        let from_local = from_local.with_nanosecond(0)?;
        let local = self.expr.next_match(from_local)?;
        let t = DateTime::from_naive_utc_and_offset(local.checked_sub_signed(shift)?, Utc);
        (t < window_end && t > after).then_some(t)
    }
}

/// The UTC offset of `tz` at `instant`, in seconds.
fn offset_seconds(tz: Tz, instant: DateTime<Utc>) -> i32 {
    tz.offset_from_utc_datetime(&instant.naive_utc())
        .fix()
        .local_minus_utc()
}

/// The first valid instant after the DST gap `local` falls in.
///
/// chrono-tz knows the exact end of the gap; [`crate::request::resolve_local`] (minute steps)
/// is the fallback, as it would miss the exact instant for a local time with seconds.
fn gap_end(local: NaiveDateTime, tz: Tz) -> Option<DateTime<Utc>> {
    let end = chrono_tz::GapInfo::new(&local, &tz)
        .and_then(|gap| gap.end)
        .map(|end| end.with_timezone(&Utc))
        .unwrap_or_else(|| crate::request::resolve_local(local, tz));
    Some(end)
}

/// The instant local `day` starts (midnight, or the end of a gap at midnight).
fn day_start(day: NaiveDate, tz: Tz) -> Option<DateTime<Utc>> {
    let midnight = day.and_hms_opt(0, 0, 0)?;
    match tz.from_local_datetime(&midnight) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => {
            Some(t.with_timezone(&Utc))
        }
        chrono::LocalResult::None => gap_end(midnight, tz),
    }
}

/// A validated interval: fire times are `anchor + k × every` for k = 0, 1, 2, ...
///
/// # Examples
///
/// ```
/// use chrono::{Duration, TimeZone, Utc};
/// use export_core::schedule::IntervalTrigger;
/// let anchor = Utc.with_ymd_and_hms(2026, 1, 1, 0, 5, 0).unwrap();
/// let t = IntervalTrigger::new(Duration::hours(1), anchor).unwrap();
/// assert_eq!(t.every(), Duration::hours(1));
/// // Before the anchor, the first fire time is the anchor itself.
/// assert_eq!(t.next_after(anchor - Duration::days(3)), Some(anchor));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntervalTrigger {
    every: Duration,
    anchor: DateTime<Utc>,
}

impl IntervalTrigger {
    /// Validates `every` (a whole number of seconds, at least one).
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] on `every` otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// use chrono::{Duration, Utc};
    /// use export_core::schedule::IntervalTrigger;
    /// assert!(IntervalTrigger::new(Duration::seconds(1), Utc::now()).is_ok());
    /// assert!(IntervalTrigger::new(Duration::milliseconds(1500), Utc::now()).is_err());
    /// ```
    pub fn new(every: Duration, anchor: DateTime<Utc>) -> Result<IntervalTrigger> {
        if every < Duration::seconds(1) {
            return Err(ExportError::request(
                "every",
                format!("the interval must be at least 1 second, got {every}"),
            ));
        }
        if every.subsec_nanos() != 0 {
            return Err(ExportError::request(
                "every",
                format!("the interval must be a whole number of seconds, got {every}"),
            ));
        }
        Ok(IntervalTrigger { every, anchor })
    }

    /// The duration between fire times.
    ///
    /// # Examples
    ///
    /// ```
    /// use chrono::{Duration, Utc};
    /// let t = export_core::schedule::IntervalTrigger::new(Duration::minutes(5), Utc::now()).unwrap();
    /// assert_eq!(t.every().num_seconds(), 300);
    /// ```
    pub fn every(&self) -> Duration {
        self.every
    }

    /// The first fire time; the others follow every [`every`](Self::every).
    ///
    /// # Examples
    ///
    /// ```
    /// use chrono::{Duration, TimeZone, Utc};
    /// let anchor = Utc.with_ymd_and_hms(2026, 1, 1, 6, 0, 0).unwrap();
    /// let t = export_core::schedule::IntervalTrigger::new(Duration::hours(6), anchor).unwrap();
    /// assert_eq!(t.anchor(), anchor);
    /// ```
    pub fn anchor(&self) -> DateTime<Utc> {
        self.anchor
    }

    /// The first fire time strictly after `after`; `None` past the end of representable time.
    ///
    /// # Examples
    ///
    /// ```
    /// use chrono::{Duration, TimeZone, Utc};
    /// use export_core::schedule::IntervalTrigger;
    /// let anchor = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    /// let t = IntervalTrigger::new(Duration::minutes(15), anchor).unwrap();
    /// assert_eq!(t.next_after(anchor), Some(anchor + Duration::minutes(15)));
    /// ```
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if after < self.anchor {
            return Some(self.anchor);
        }
        let every = self.every.num_seconds();
        let elapsed = (after - self.anchor).num_seconds();
        let periods = elapsed / every;
        let mut next = self
            .anchor
            .checked_add_signed(Duration::try_seconds(periods.checked_mul(every)?)?)?;
        while next <= after {
            next = next.checked_add_signed(self.every)?;
        }
        Some(next)
    }
}

/// The serialised form of [`Trigger`].
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum TriggerRepr {
    Cron {
        expression: String,
        #[serde(default = "default_time_zone")]
        time_zone: String,
    },
    Interval {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        every_seconds: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        every_minutes: Option<u64>,
        #[serde(default = "unix_epoch")]
        anchor: DateTime<Utc>,
    },
}

fn default_time_zone() -> String {
    DEFAULT_TIME_ZONE.name().to_string()
}

fn unix_epoch() -> DateTime<Utc> {
    DateTime::UNIX_EPOCH
}

impl TryFrom<TriggerRepr> for Trigger {
    type Error = ExportError;

    fn try_from(repr: TriggerRepr) -> Result<Trigger> {
        match repr {
            TriggerRepr::Cron {
                expression,
                time_zone,
            } => Trigger::cron(&expression, &time_zone),
            TriggerRepr::Interval {
                every_seconds,
                every_minutes,
                anchor,
            } => match (every_seconds, every_minutes) {
                (Some(seconds), None) => {
                    let every = i64::try_from(seconds)
                        .ok()
                        .and_then(Duration::try_seconds)
                        .ok_or_else(|| {
                            ExportError::request(
                                "every_seconds",
                                format!("{seconds} seconds is too long"),
                            )
                        })?;
                    Trigger::interval(every, anchor).map_err(|_| {
                        ExportError::request(
                            "every_seconds",
                            format!("{seconds} is not a valid interval (at least 1 second)"),
                        )
                    })
                }
                (None, Some(minutes)) => Trigger::every_minutes(minutes, anchor),
                _ => Err(ExportError::request(
                    "every_seconds",
                    "an interval trigger needs exactly one of `every_seconds` and `every_minutes`",
                )),
            },
        }
    }
}

impl From<Trigger> for TriggerRepr {
    fn from(trigger: Trigger) -> TriggerRepr {
        match trigger {
            Trigger::Cron(cron) => TriggerRepr::Cron {
                expression: cron.expression().to_string(),
                time_zone: cron.time_zone().name().to_string(),
            },
            Trigger::Interval(interval) => TriggerRepr::Interval {
                every_seconds: u64::try_from(interval.every.num_seconds()).ok(),
                every_minutes: None,
                anchor: interval.anchor,
            },
        }
    }
}
