//! Cron expressions: parsing and matching on local calendar fields.

use std::fmt;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Timelike};

use crate::error::{ExportError, Result};

/// The longest expression accepted, in bytes (a list of every minute is about 170).
const MAX_EXPRESSION_LEN: usize = 1024;

/// How many years [`CronExpr::next_match`] looks ahead before giving up. Every accepted
/// expression fires at least once every 8 years (29 February); this is a safety net only.
const SEARCH_YEARS: i32 = 410;

const MONTH_NAMES: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// One of the fields of a cron expression, used to parse it and to name it in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Second,
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::Second => "second",
            Field::Minute => "minute",
            Field::Hour => "hour",
            Field::DayOfMonth => "day-of-month",
            Field::Month => "month",
            Field::DayOfWeek => "day-of-week",
        }
    }

    /// Smallest and largest value written in the expression (day-of-week accepts 7 for Sunday).
    fn bounds(self) -> (u32, u32) {
        match self {
            Field::Second | Field::Minute => (0, 59),
            Field::Hour => (0, 23),
            Field::DayOfMonth => (1, 31),
            Field::Month => (1, 12),
            Field::DayOfWeek => (0, 7),
        }
    }

    fn names(self) -> Option<&'static [&'static str]> {
        match self {
            Field::Month => Some(&MONTH_NAMES),
            Field::DayOfWeek => Some(&DAY_NAMES),
            _ => None,
        }
    }
}

/// A parsed cron expression (5 fields, 6 fields with seconds first, or an `@` shortcut).
///
/// Build it with [`CronExpr::parse`] (or [`str::parse`]); it is then guaranteed to fire at least
/// once in the future from any date (an expression that can never fire, such as `0 0 30 2 *`, is
/// refused).
///
/// # Examples
///
/// ```
/// use chrono::NaiveDate;
/// use export_core::schedule::CronExpr;
///
/// let expr = CronExpr::parse("30 6 * * MON-FRI").unwrap();
/// // Saturday 2026-03-28 07:00 → Monday 2026-03-30 06:30 (local wall-clock time).
/// let from = NaiveDate::from_ymd_opt(2026, 3, 28).unwrap().and_hms_opt(7, 0, 0).unwrap();
/// let next = expr.next_match(from).unwrap();
/// assert_eq!(next.to_string(), "2026-03-30 06:30:00");
/// assert!(expr.matches(next));
/// ```
///
/// A [`CronExpr`] knows nothing about time zones: it answers "does this local wall-clock time
/// match?" ([`CronExpr::matches`]) and "what is the first matching local time at or after this
/// one?" ([`CronExpr::next_match`]). Turning local times into instants, with the DST rules, is
/// the job of [`CronTrigger`](super::CronTrigger). The accepted syntax is described in the
/// [module documentation of `schedule`](super).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronExpr {
    source: String,
    has_seconds: bool,
    seconds: u64,
    minutes: u64,
    hours: u32,
    /// Bits 1..=31.
    days_of_month: u32,
    /// `L` in the day-of-month field: the last day of the month.
    last_day_of_month: bool,
    /// Bits 1..=12.
    months: u16,
    /// Bits 0..=6, Sunday = 0.
    days_of_week: u8,
    /// The day-of-month field starts with `*` or `?` (it does not restrict the day).
    dom_star: bool,
    /// The day-of-week field starts with `*` or `?`.
    dow_star: bool,
}

impl CronExpr {
    /// Parses a cron expression.
    ///
    /// Accepted forms: 5 fields `minute hour day-of-month month day-of-week`, 6 fields with a
    /// leading `second`, and the shortcuts `@yearly`, `@annually`, `@monthly`, `@weekly`,
    /// `@daily`, `@midnight` and `@hourly`. See the [`schedule`](super) module for the syntax.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] on field `expression`, quoting the offending field, when
    /// the expression has the wrong number of fields, a value out of range, an unknown name, a
    /// malformed range or step, an unsupported feature (`W`, `#`, `L` outside day-of-month), or
    /// can never fire (`0 0 30 2 *`).
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::schedule::CronExpr;
    ///
    /// assert!(CronExpr::parse("*/15 * * * *").is_ok());
    /// assert!(CronExpr::parse("0 30 2 * * *").unwrap().has_seconds());
    /// let err = CronExpr::parse("61 * * * *").unwrap_err();
    /// assert!(err.to_string().contains(r#"minute field "61""#));
    /// let err = CronExpr::parse("0 0 30 2 *").unwrap_err();
    /// assert!(err.to_string().contains("never fires"));
    /// ```
    pub fn parse(expression: &str) -> Result<CronExpr> {
        let text = expression.trim();
        if text.is_empty() {
            return Err(invalid("the cron expression is empty"));
        }
        if text.len() > MAX_EXPRESSION_LEN {
            return Err(invalid(format!(
                "the cron expression is longer than {MAX_EXPRESSION_LEN} bytes"
            )));
        }
        let expanded = if let Some(shortcut) = text.strip_prefix('@') {
            match shortcut.to_ascii_lowercase().as_str() {
                "yearly" | "annually" => "0 0 1 1 *",
                "monthly" => "0 0 1 * *",
                "weekly" => "0 0 * * 0",
                "daily" | "midnight" => "0 0 * * *",
                "hourly" => "0 * * * *",
                _ => {
                    return Err(invalid(format!(
                        "unknown shortcut \"{text}\" (use @yearly, @annually, @monthly, @weekly, \
                         @daily, @midnight or @hourly)"
                    )));
                }
            }
        } else {
            text
        };
        let fields: Vec<&str> = expanded.split_ascii_whitespace().collect();
        let (has_seconds, second_text, rest) = match fields.as_slice() {
            [m, h, dom, mon, dow] => (false, "0", [*m, *h, *dom, *mon, *dow]),
            [s, m, h, dom, mon, dow] => (true, *s, [*m, *h, *dom, *mon, *dow]),
            _ => {
                return Err(invalid(format!(
                    "expected 5 fields (minute hour day-of-month month day-of-week) or 6 (second \
                     minute hour day-of-month month day-of-week), found {} in \"{text}\"",
                    fields.len()
                )));
            }
        };
        let [minute_text, hour_text, dom_text, month_text, dow_text] = rest;
        let seconds = parse_field(Field::Second, second_text)?.bits;
        let minutes = parse_field(Field::Minute, minute_text)?.bits;
        let hours = parse_field(Field::Hour, hour_text)?.bits as u32;
        let dom = parse_field(Field::DayOfMonth, dom_text)?;
        let months = parse_field(Field::Month, month_text)?.bits as u16;
        let dow = parse_field(Field::DayOfWeek, dow_text)?;
        // 7 is another name for Sunday.
        let mut days_of_week = (dow.bits & 0x7f) as u8;
        if dow.bits & (1 << 7) != 0 {
            days_of_week |= 1;
        }
        let expr = CronExpr {
            source: text.to_string(),
            has_seconds,
            seconds,
            minutes,
            hours,
            days_of_month: dom.bits as u32,
            last_day_of_month: dom.last,
            months,
            days_of_week,
            dom_star: dom.star,
            dow_star: dow.star,
        };
        expr.check_fires(dom_text, month_text)?;
        Ok(expr)
    }

    /// The expression as written (trimmed).
    ///
    /// # Examples
    ///
    /// ```
    /// let expr = export_core::schedule::CronExpr::parse(" @daily ").unwrap();
    /// assert_eq!(expr.as_str(), "@daily");
    /// ```
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the expression was written with a seconds field (6 fields).
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::schedule::CronExpr;
    /// assert!(!CronExpr::parse("0 2 * * *").unwrap().has_seconds());
    /// assert!(CronExpr::parse("0 0 2 * * *").unwrap().has_seconds());
    /// ```
    pub fn has_seconds(&self) -> bool {
        self.has_seconds
    }

    /// Whether the hour field matches all 24 hours (`*`, `*/1`, `0-23`).
    ///
    /// Such expressions follow real instants across DST changes (see the [`schedule`](super)
    /// module): they fire in both occurrences of a repeated hour and skip local times that do
    /// not exist. Other expressions fire once per matching local date-time.
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::schedule::CronExpr;
    /// assert!(CronExpr::parse("*/15 * * * *").unwrap().fires_every_hour());
    /// assert!(!CronExpr::parse("30 2 * * *").unwrap().fires_every_hour());
    /// ```
    pub fn fires_every_hour(&self) -> bool {
        self.hours == (1 << 24) - 1
    }

    /// Whether a local calendar date is one the expression fires on (month, day-of-month and
    /// day-of-week fields).
    ///
    /// When both day-of-month and day-of-week are restricted (neither starts with `*` or `?`),
    /// a date matches if **either** matches, as in Vixie cron; otherwise both must match.
    ///
    /// # Examples
    ///
    /// ```
    /// use chrono::NaiveDate;
    /// use export_core::schedule::CronExpr;
    /// let expr = CronExpr::parse("0 9 1 * MON").unwrap();
    /// // 2026-06-01 is a Monday and the 1st, 2026-06-08 a Monday, 2026-07-01 a Wednesday.
    /// for day in [(6, 1), (6, 8), (7, 1)] {
    ///     assert!(expr.matches_date(NaiveDate::from_ymd_opt(2026, day.0, day.1).unwrap()));
    /// }
    /// assert!(!expr.matches_date(NaiveDate::from_ymd_opt(2026, 6, 2).unwrap()));
    /// ```
    pub fn matches_date(&self, date: NaiveDate) -> bool {
        if self.months & (1 << date.month()) == 0 {
            return false;
        }
        let dom = self.days_of_month & (1 << date.day()) != 0
            || (self.last_day_of_month && date.day() == days_in_month(date.year(), date.month()));
        let dow = self.days_of_week & (1 << date.weekday().num_days_from_sunday()) != 0;
        if self.dom_star || self.dow_star {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// Whether a local wall-clock time matches every field (fractions of a second are ignored).
    ///
    /// # Examples
    ///
    /// ```
    /// use chrono::NaiveDate;
    /// use export_core::schedule::CronExpr;
    /// let at = |h, m| NaiveDate::from_ymd_opt(2026, 1, 1).unwrap().and_hms_opt(h, m, 0).unwrap();
    /// let expr = CronExpr::parse("*/15 9-17 * * *").unwrap();
    /// assert!(expr.matches(at(9, 45)));
    /// assert!(!expr.matches(at(9, 50)));
    /// assert!(!expr.matches(at(18, 0)));
    /// ```
    pub fn matches(&self, local: NaiveDateTime) -> bool {
        self.matches_date(local.date())
            && self.hours & (1 << local.hour()) != 0
            && self.minutes & (1 << local.minute()) != 0
            && self.seconds & (1 << local.second()) != 0
    }

    /// The first matching local wall-clock time at or after `from` (rounded up to a whole
    /// second); `None` only past the last date chrono can represent.
    ///
    /// # Examples
    ///
    /// ```
    /// use chrono::NaiveDate;
    /// use export_core::schedule::CronExpr;
    /// let expr = CronExpr::parse("0 0 29 2 *").unwrap();
    /// let from = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap();
    /// assert_eq!(expr.next_match(from).unwrap().to_string(), "2028-02-29 00:00:00");
    /// ```
    pub fn next_match(&self, from: NaiveDateTime) -> Option<NaiveDateTime> {
        let mut t = from.with_nanosecond(0)?;
        if from.nanosecond() != 0 {
            t = t.checked_add_signed(Duration::seconds(1))?;
        }
        let limit = t.year().saturating_add(SEARCH_YEARS);
        loop {
            if t.year() > limit {
                return None;
            }
            let date = t.date();
            if self.months & (1 << date.month()) == 0 {
                t = match next_bit(u64::from(self.months), date.month() + 1) {
                    Some(m) if m <= 12 => date.with_day(1)?.with_month(m)?,
                    _ => NaiveDate::from_ymd_opt(date.year().checked_add(1)?, 1, 1)?,
                }
                .and_hms_opt(0, 0, 0)?;
                continue;
            }
            if !self.matches_date(date) {
                t = date.succ_opt()?.and_hms_opt(0, 0, 0)?;
                continue;
            }
            let (h, m, s) = (t.hour(), t.minute(), t.second());
            let Some(nh) = next_bit(u64::from(self.hours), h) else {
                t = date.succ_opt()?.and_hms_opt(0, 0, 0)?;
                continue;
            };
            if nh != h {
                t = date.and_hms_opt(nh, 0, 0)?;
                continue;
            }
            let Some(nm) = next_bit(self.minutes, m) else {
                t = date
                    .and_hms_opt(h, 0, 0)?
                    .checked_add_signed(Duration::hours(1))?;
                continue;
            };
            if nm != m {
                t = date.and_hms_opt(h, nm, 0)?;
                continue;
            }
            let Some(ns) = next_bit(self.seconds, s) else {
                t = date
                    .and_hms_opt(h, m, 0)?
                    .checked_add_signed(Duration::minutes(1))?;
                continue;
            };
            return date.and_hms_opt(h, m, ns);
        }
    }

    /// Refuses expressions whose day fields can never match (`0 0 30 2 *`, `0 0 31 4,6 *`).
    fn check_fires(&self, dom_text: &str, month_text: &str) -> Result<()> {
        // With a restricted day-of-week, some day of every month matches.
        if !self.dow_star || self.dom_star || self.last_day_of_month {
            return Ok(());
        }
        let possible = (1..=12u32).any(|month| {
            self.months & (1 << month) != 0
                && (1..=max_days_in_month(month)).any(|day| self.days_of_month & (1 << day) != 0)
        });
        if possible {
            Ok(())
        } else {
            Err(invalid(format!(
                "\"{}\" never fires: day-of-month field \"{dom_text}\" does not exist in month \
                 field \"{month_text}\"",
                self.source
            )))
        }
    }
}

impl std::str::FromStr for CronExpr {
    type Err = ExportError;

    fn from_str(s: &str) -> Result<Self> {
        CronExpr::parse(s)
    }
}

impl fmt::Display for CronExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// One parsed field: the set of values, and the markers the day fields need.
struct ParsedField {
    bits: u64,
    /// The field starts with `*` or `?`.
    star: bool,
    /// `L` appeared (day-of-month only).
    last: bool,
}

fn invalid(reason: impl Into<String>) -> ExportError {
    ExportError::request("expression", reason)
}

fn field_error(field: Field, text: &str, why: impl fmt::Display) -> ExportError {
    invalid(format!("{} field \"{text}\": {why}", field.name()))
}

fn parse_field(field: Field, text: &str) -> Result<ParsedField> {
    let star = text.starts_with('*') || text.starts_with('?');
    let mut parsed = ParsedField {
        bits: 0,
        star,
        last: false,
    };
    for element in text.split(',') {
        parse_element(field, text, element, &mut parsed)?;
    }
    Ok(parsed)
}

fn parse_element(field: Field, text: &str, element: &str, out: &mut ParsedField) -> Result<()> {
    let (min, max) = field.bounds();
    if element.is_empty() {
        return Err(field_error(field, text, "empty list element"));
    }
    let upper = element.to_ascii_uppercase();
    if upper == "L" {
        if field == Field::DayOfMonth {
            out.last = true;
            return Ok(());
        }
        return Err(field_error(
            field,
            text,
            "`L` (last) is only supported in the day-of-month field",
        ));
    }
    if field == Field::DayOfMonth && upper.contains('W') {
        return Err(field_error(
            field,
            text,
            "`W` (nearest weekday) is not supported",
        ));
    }
    if upper.contains('#') {
        return Err(field_error(
            field,
            text,
            "`#` (nth weekday of the month) is not supported",
        ));
    }
    // No day name ends in L, so `5L` / `FRIL` is the Quartz "last Friday of the month".
    if field == Field::DayOfWeek && upper.ends_with('L') {
        return Err(field_error(
            field,
            text,
            "`L` (last weekday of the month) is not supported in the day-of-week field",
        ));
    }

    let (range, step) = match element.split_once('/') {
        Some((range, step)) => {
            let step = parse_number(step).ok_or_else(|| {
                field_error(field, text, format!("step \"{step}\" is not a number"))
            })?;
            let span = max - min + 1;
            if step == 0 || step > span {
                return Err(field_error(
                    field,
                    text,
                    format!("step {step} is out of range 1-{span}"),
                ));
            }
            (range, Some(step))
        }
        None => (element, None),
    };

    let (start, end) = if range == "*" || range == "?" {
        if range == "?" && !matches!(field, Field::DayOfMonth | Field::DayOfWeek) {
            return Err(field_error(
                field,
                text,
                "`?` is only allowed in the day-of-month and day-of-week fields",
            ));
        }
        // `*` in day-of-week is 0-6 (7 would duplicate Sunday).
        (min, if field == Field::DayOfWeek { 6 } else { max })
    } else if let Some((a, b)) = range.split_once('-') {
        let a = parse_value(field, text, a)?;
        let mut b = parse_value(field, text, b)?;
        // `FRI-SUN` / `5-0`: Sunday at the end of a range is 7.
        if field == Field::DayOfWeek && b == 0 && a > 0 {
            b = 7;
        }
        if a > b {
            return Err(field_error(
                field,
                text,
                format!("range \"{range}\" starts after it ends"),
            ));
        }
        (a, b)
    } else {
        let a = parse_value(field, text, range)?;
        // `a/n` means from `a` to the end of the field, every `n`.
        let end = if step.is_some() {
            if field == Field::DayOfWeek {
                6.max(a)
            } else {
                max
            }
        } else {
            a
        };
        (a, end)
    };

    let step = step.unwrap_or(1);
    let mut value = start;
    while value <= end {
        out.bits |= 1 << value;
        value += step;
    }
    Ok(())
}

/// A number or (for months and days of the week) a three-letter English name.
fn parse_value(field: Field, text: &str, value: &str) -> Result<u32> {
    let (min, max) = field.bounds();
    if let Some(n) = parse_number(value) {
        if n < min || n > max {
            return Err(field_error(
                field,
                text,
                format!("{value} is out of range {min}-{max}"),
            ));
        }
        return Ok(n);
    }
    if value.is_empty() {
        return Err(field_error(field, text, "missing value in range"));
    }
    if let Some(names) = field.names() {
        let upper = value.to_ascii_uppercase();
        if let Some(index) = names.iter().position(|n| *n == upper) {
            let index = index as u32;
            return Ok(if field == Field::Month {
                index + 1
            } else {
                index
            });
        }
        return Err(field_error(
            field,
            text,
            format!("unknown name \"{value}\" (use {})", names.join(", ")),
        ));
    }
    if value.chars().all(|c| c.is_ascii_digit()) {
        return Err(field_error(
            field,
            text,
            format!("{value} is out of range {min}-{max}"),
        ));
    }
    Err(field_error(
        field,
        text,
        format!("\"{value}\" is not a number"),
    ))
}

/// A small decimal number (at most 4 digits, so that nothing overflows).
fn parse_number(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() > 4 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// The lowest set bit of `mask` at or above `from`.
fn next_bit(mask: u64, from: u32) -> Option<u32> {
    if from >= 64 {
        return None;
    }
    let rest = mask >> from;
    if rest == 0 {
        None
    } else {
        Some(from + rest.trailing_zeros())
    }
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn max_days_in_month(month: u32) -> u32 {
    if month == 2 {
        29
    } else {
        days_in_month(2001, month)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d)
            .and_then(|d| d.and_hms_opt(h, mi, s))
            .expect("valid test date")
    }

    #[test]
    fn day_of_week_numbering() {
        let sun = CronExpr::parse("0 0 * * 0").unwrap();
        for other in ["0 0 * * 7", "0 0 * * SUN", "0 0 * * sun", "0 0 * * 7-7"] {
            assert_eq!(
                sun.days_of_week,
                CronExpr::parse(other).unwrap().days_of_week
            );
        }
        assert_eq!(
            CronExpr::parse("0 0 * * 1-5").unwrap().days_of_week,
            0b0011_1110
        );
        assert_eq!(
            CronExpr::parse("0 0 * * MON-FRI").unwrap().days_of_week,
            0b0011_1110
        );
        assert_eq!(
            CronExpr::parse("0 0 * * FRI-SUN").unwrap().days_of_week,
            0b0110_0001
        );
        assert_eq!(
            CronExpr::parse("0 0 * * 5-7").unwrap().days_of_week,
            0b0110_0001
        );
        assert_eq!(CronExpr::parse("0 0 * * 0-7").unwrap().days_of_week, 0x7f);
        assert_eq!(
            CronExpr::parse("0 0 * * */2").unwrap().days_of_week,
            0b0101_0101
        );
        assert_eq!(
            CronExpr::parse("0 0 * * 1/2").unwrap().days_of_week,
            0b0010_1010
        );
    }

    #[test]
    fn steps_lists_and_ranges() {
        let e = CronExpr::parse("*/15 1,3-5,20-23/2 * * *").unwrap();
        assert_eq!(e.minutes, 1 | 1 << 15 | 1 << 30 | 1 << 45);
        assert_eq!(
            e.hours,
            1 << 1 | 1 << 3 | 1 << 4 | 1 << 5 | 1 << 20 | 1 << 22
        );
        let e = CronExpr::parse("5/20 * * * *").unwrap();
        assert_eq!(e.minutes, 1 << 5 | 1 << 25 | 1 << 45);
        let e = CronExpr::parse("0 0 1 jan,Jul-dec/3 *").unwrap();
        assert_eq!(e.months, 1 << 1 | 1 << 7 | 1 << 10);
    }

    #[test]
    fn next_match_carries() {
        let e = CronExpr::parse("59 59 23 31 12 *").unwrap();
        assert_eq!(
            e.next_match(at(2026, 1, 1, 0, 0, 0)),
            Some(at(2026, 12, 31, 23, 59, 59))
        );
        let e = CronExpr::parse("0 0 L * *").unwrap();
        assert_eq!(
            e.next_match(at(2028, 2, 1, 0, 0, 1)),
            Some(at(2028, 2, 29, 0, 0, 0))
        );
        assert_eq!(
            e.next_match(at(2027, 2, 1, 0, 0, 1)),
            Some(at(2027, 2, 28, 0, 0, 0))
        );
        let e = CronExpr::parse("* * * * * *").unwrap();
        let from = at(2026, 1, 1, 0, 0, 0) + Duration::milliseconds(1);
        assert_eq!(e.next_match(from), Some(at(2026, 1, 1, 0, 0, 1)));
    }

    #[test]
    fn next_match_at_the_end_of_time() {
        let e = CronExpr::parse("0 0 1 1 *").unwrap();
        assert_eq!(e.next_match(NaiveDateTime::MAX), None);
    }

    #[test]
    fn errors_quote_the_field() {
        let cases = [
            (
                "61 * * * *",
                r#"minute field "61": 61 is out of range 0-59"#,
            ),
            ("0 24 * * *", r#"hour field "24""#),
            ("0 0 0 * *", r#"day-of-month field "0""#),
            ("0 0 * 13 *", r#"month field "13""#),
            ("0 0 * * 8", r#"day-of-week field "8""#),
            ("0 0 * FOO *", r#"unknown name "FOO""#),
            ("0 0 * * MONDAY", r#"unknown name "MONDAY""#),
            ("*/0 * * * *", "step 0"),
            ("5-1 * * * *", r#"range "5-1" starts after it ends"#),
            ("0 0 15W * *", "`W`"),
            ("0 0 * * 5#2", "`#`"),
            ("0 0 * * 5L", "`L`"),
            ("0 L * * *", "`L`"),
            ("0 0 1,,2 * *", "empty list element"),
            ("? * * * *", "`?`"),
            ("0 0 * * * * *", "found 7"),
            ("@reboot", "unknown shortcut"),
            ("99999 * * * *", r#"minute field "99999""#),
            ("", "empty"),
        ];
        for (expr, needle) in cases {
            let err = CronExpr::parse(expr).expect_err(expr).to_string();
            assert!(err.contains(needle), "{expr}: {err}");
            assert!(err.starts_with("invalid `expression`"), "{expr}: {err}");
        }
    }
}
