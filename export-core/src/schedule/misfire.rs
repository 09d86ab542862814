//! Misfires: what to do when the scheduler looks at a schedule after its fire time.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::trigger::Trigger;
use crate::error::Result;

/// How late a fire time may still be run.
///
/// A fire time noticed at most `grace` after it was due runs once; a later one is skipped
/// (recorded as a misfire). Either way the next run is the first fire time after *now*, so a
/// scheduler that was down for a day never fires a burst of catch-up runs.
///
/// # Examples
///
/// ```
/// use chrono::Duration;
/// use export_core::schedule::MisfirePolicy;
/// assert_eq!(MisfirePolicy::default().grace, Duration::minutes(5));
/// let strict = MisfirePolicy { grace: Duration::seconds(30) };
/// assert!(strict.grace < MisfirePolicy::default().grace);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MisfirePolicy {
    /// How long after its fire time a run may still start (serialised in whole seconds as
    /// `grace_seconds`).
    #[serde(rename = "grace_seconds", with = "duration_seconds")]
    pub grace: Duration,
}

impl Default for MisfirePolicy {
    /// A grace of 5 minutes: longer than any sensible scheduler tick, short enough that a
    /// nightly export does not start in the middle of the working day after an outage.
    fn default() -> Self {
        MisfirePolicy {
            grace: Duration::minutes(5),
        }
    }
}

/// What the scheduler should do with a schedule now. See [`due_fire`].
///
/// Serialised with a `decision` tag, for logs and the CLI.
///
/// # Examples
///
/// ```
/// use export_core::schedule::Decision;
/// assert_eq!(serde_json::to_string(&Decision::Wait).unwrap(), r#"{"decision":"wait"}"#);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Run once for `fire_time` (the schedule's `next_run`, on time or late within the grace),
    /// then wait for `next_run`.
    RunNow {
        /// The fire time this run stands for (the job's identity for "once per fire time").
        fire_time: DateTime<Utc>,
        /// The first fire time strictly after now; `None` only at the end of representable time.
        next_run: Option<DateTime<Utc>>,
    },
    /// The fire time was missed by more than the grace: do not run, record a misfire, and
    /// wait for `next_run`.
    Skip {
        /// The missed fire time (the schedule's previous `next_run`).
        missed: DateTime<Utc>,
        /// The first fire time strictly after now.
        next_run: Option<DateTime<Utc>>,
    },
    /// Not due yet: nothing to do before `next_run`.
    Wait,
}

/// Decides what to do with a schedule whose next fire time is `next_run`, at `now`.
///
/// - `now < next_run`: [`Decision::Wait`].
/// - `next_run <= now <= next_run + grace`: [`Decision::RunNow`] for `next_run`.
/// - `now > next_run + grace`: [`Decision::Skip`] (a misfire).
///
/// In both latter cases the new `next_run` is the first fire time strictly after `now`: fire
/// times between `next_run` and `now` are dropped, never run in a burst.
///
/// # Errors
///
/// Those of [`Trigger::next_after`].
///
/// # Examples
///
/// ```
/// use chrono::{Duration, TimeZone, Utc};
/// use export_core::schedule::{Decision, MisfirePolicy, Trigger, due_fire};
///
/// let hourly = Trigger::cron("0 * * * *", "UTC").unwrap();
/// let policy = MisfirePolicy { grace: Duration::minutes(5) };
/// let due = Utc.with_ymd_and_hms(2026, 1, 1, 10, 0, 0).unwrap();
///
/// // Two minutes late: run for 10:00, next at 11:00.
/// let now = due + Duration::minutes(2);
/// assert_eq!(
///     due_fire(&hourly, due, now, policy).unwrap(),
///     Decision::RunNow { fire_time: due, next_run: Some(due + Duration::hours(1)) },
/// );
///
/// // Three hours late: skip 10:00 (and 11:00, 12:00), next at 14:00.
/// let now = due + Duration::minutes(190);
/// assert_eq!(
///     due_fire(&hourly, due, now, policy).unwrap(),
///     Decision::Skip { missed: due, next_run: Some(due + Duration::hours(4)) },
/// );
///
/// assert_eq!(due_fire(&hourly, due, due - Duration::seconds(1), policy).unwrap(), Decision::Wait);
/// ```
pub fn due_fire(
    trigger: &Trigger,
    next_run: DateTime<Utc>,
    now: DateTime<Utc>,
    policy: MisfirePolicy,
) -> Result<Decision> {
    if now < next_run {
        return Ok(Decision::Wait);
    }
    let following = trigger.next_after(now)?;
    let late = now - next_run;
    Ok(if late <= policy.grace {
        Decision::RunNow {
            fire_time: next_run,
            next_run: following,
        }
    } else {
        Decision::Skip {
            missed: next_run,
            next_run: following,
        }
    })
}

/// Serde for a [`Duration`] as whole seconds.
mod duration_seconds {
    use chrono::Duration;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(value.num_seconds())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let seconds = i64::deserialize(deserializer)?;
        if seconds < 0 {
            return Err(D::Error::custom("grace_seconds must not be negative"));
        }
        Duration::try_seconds(seconds).ok_or_else(|| D::Error::custom("grace_seconds is too large"))
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn utc(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, h, m, s).unwrap()
    }

    #[test]
    fn on_time_late_and_too_late() {
        let every_15 = Trigger::cron("*/15 * * * *", "Europe/Paris").unwrap();
        let policy = MisfirePolicy {
            grace: Duration::minutes(5),
        };
        let due = utc(10, 0, 0);
        assert_eq!(
            due_fire(&every_15, due, utc(9, 59, 59), policy).unwrap(),
            Decision::Wait
        );
        // Exactly on time.
        assert_eq!(
            due_fire(&every_15, due, due, policy).unwrap(),
            Decision::RunNow {
                fire_time: due,
                next_run: Some(utc(10, 15, 0))
            }
        );
        // Late by exactly the grace: still runs.
        assert_eq!(
            due_fire(&every_15, due, utc(10, 5, 0), policy).unwrap(),
            Decision::RunNow {
                fire_time: due,
                next_run: Some(utc(10, 15, 0))
            }
        );
        // One second more: skipped.
        assert_eq!(
            due_fire(&every_15, due, utc(10, 5, 1), policy).unwrap(),
            Decision::Skip {
                missed: due,
                next_run: Some(utc(10, 15, 0))
            }
        );
        // Down for 2 hours: one skip, next run after now, no burst.
        assert_eq!(
            due_fire(&every_15, due, utc(12, 7, 0), policy).unwrap(),
            Decision::Skip {
                missed: due,
                next_run: Some(utc(12, 15, 0))
            }
        );
        // Late within the grace while the next fire time has already passed: one run, and the
        // fire time that passed meanwhile is dropped.
        let wide = MisfirePolicy {
            grace: Duration::minutes(30),
        };
        assert_eq!(
            due_fire(&every_15, due, utc(10, 20, 0), wide).unwrap(),
            Decision::RunNow {
                fire_time: due,
                next_run: Some(utc(10, 30, 0))
            }
        );
        // Now exactly on a later fire time: that one becomes the next run's successor too.
        assert_eq!(
            due_fire(&every_15, due, utc(10, 15, 0), wide).unwrap(),
            Decision::RunNow {
                fire_time: due,
                next_run: Some(utc(10, 30, 0))
            }
        );
    }

    #[test]
    fn zero_grace_and_intervals() {
        let anchor = utc(0, 0, 0);
        let t = Trigger::interval(Duration::hours(1), anchor).unwrap();
        let none = MisfirePolicy {
            grace: Duration::zero(),
        };
        assert_eq!(
            due_fire(&t, utc(3, 0, 0), utc(3, 0, 0), none).unwrap(),
            Decision::RunNow {
                fire_time: utc(3, 0, 0),
                next_run: Some(utc(4, 0, 0))
            }
        );
        assert_eq!(
            due_fire(&t, utc(3, 0, 0), utc(3, 0, 1), none).unwrap(),
            Decision::Skip {
                missed: utc(3, 0, 0),
                next_run: Some(utc(4, 0, 0))
            }
        );
    }

    #[test]
    fn policy_serde() {
        let policy: MisfirePolicy = serde_json::from_str(r#"{"grace_seconds":90}"#).unwrap();
        assert_eq!(policy.grace, Duration::seconds(90));
        assert_eq!(
            serde_json::to_string(&policy).unwrap(),
            r#"{"grace_seconds":90}"#
        );
        assert!(serde_json::from_str::<MisfirePolicy>(r#"{"grace_seconds":-1}"#).is_err());
    }
}
