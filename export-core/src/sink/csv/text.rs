//! Allocation-free formatting of scalar values into a byte buffer: decimals, dates, times,
//! date-times with offsets, durations and hex. The default formats are written by hand (they
//! dominate CSV time); custom strftime formats go through chrono's pre-parsed items.

use std::io::Write;

use chrono::format::Item;
use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

/// Appends a two-digit, zero-padded number (`v < 100`).
#[inline]
fn push2(out: &mut Vec<u8>, v: u32) {
    out.push(b'0' + (v / 10) as u8);
    out.push(b'0' + (v % 10) as u8);
}

/// Appends the year as chrono's `%Y` does: four digits, with a sign outside 0..=9999.
#[inline]
fn push_year(out: &mut Vec<u8>, year: i32) {
    if (0..=9999).contains(&year) {
        let y = year as u32;
        push2(out, y / 100);
        push2(out, y % 100);
    } else {
        // `write!` to a Vec cannot fail.
        let _ = write!(out, "{year:+05}");
    }
}

/// `%Y-%m-%d`.
#[inline]
pub(crate) fn push_date(out: &mut Vec<u8>, date: NaiveDate) {
    push_year(out, date.year());
    out.push(b'-');
    push2(out, date.month());
    out.push(b'-');
    push2(out, date.day());
}

/// chrono's `%.f`: nothing when zero, else a dot and 3, 6 or 9 digits.
#[inline]
pub(crate) fn push_fraction(out: &mut Vec<u8>, nanos: u32) {
    let nanos = nanos % 1_000_000_000;
    if nanos == 0 {
        return;
    }
    let (value, digits) = if nanos.is_multiple_of(1_000_000) {
        (nanos / 1_000_000, 3)
    } else if nanos.is_multiple_of(1_000) {
        (nanos / 1_000, 6)
    } else {
        (nanos, 9)
    };
    out.push(b'.');
    let mut tmp = [b'0'; 9];
    let mut v = value;
    for slot in tmp[..digits].iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out.extend_from_slice(&tmp[..digits]);
}

/// `%H:%M:%S%.f`.
#[inline]
pub(crate) fn push_time(out: &mut Vec<u8>, time: NaiveTime) {
    push2(out, time.hour());
    out.push(b':');
    push2(out, time.minute());
    out.push(b':');
    push2(out, time.second());
    push_fraction(out, time.nanosecond());
}

/// `%Y-%m-%dT%H:%M:%S%.f`.
#[inline]
pub(crate) fn push_datetime(out: &mut Vec<u8>, dt: NaiveDateTime) {
    push_date(out, dt.date());
    out.push(b'T');
    push_time(out, dt.time());
}

/// `%Y-%m-%dT%H:%M:%S%.f` of `secs` seconds and `nanos` nanoseconds after the Unix epoch, without
/// chrono (the JSON sink's civil-date arithmetic). Returns false, writing nothing,
/// when the year is outside 0000-9999: the caller then takes chrono's path.
#[inline]
pub(crate) fn push_epoch_datetime(out: &mut Vec<u8>, secs: i64, nanos: u32) -> bool {
    let of_day = secs.rem_euclid(86_400) as u32;
    let (year, month, day) = crate::sink::json::civil_from_days(secs.div_euclid(86_400));
    if !(0..=9999).contains(&year) {
        return false;
    }
    let y = year as u32;
    push2(out, y / 100);
    push2(out, y % 100);
    out.push(b'-');
    push2(out, month);
    out.push(b'-');
    push2(out, day);
    out.push(b'T');
    push2(out, of_day / 3600);
    out.push(b':');
    push2(out, of_day / 60 % 60);
    out.push(b':');
    push2(out, of_day % 60);
    push_fraction(out, nanos);
    true
}

/// An RFC 3339 offset: `+02:00`, `-05:00`, `+00:00` (with `:SS` when the offset has seconds,
/// as historical local mean times do).
#[inline]
pub(crate) fn push_offset(out: &mut Vec<u8>, seconds_east: i32) {
    out.push(if seconds_east < 0 { b'-' } else { b'+' });
    let abs = seconds_east.unsigned_abs();
    push2(out, abs / 3600);
    out.push(b':');
    push2(out, abs / 60 % 60);
    if !abs.is_multiple_of(60) {
        out.push(b':');
        push2(out, abs % 60);
    }
}

/// A duration of `nanos` nanoseconds as `H:MM:SS` (hours unbounded), with chrono-style
/// fractional seconds when not whole and a leading `-` when negative.
pub(crate) fn push_duration(out: &mut Vec<u8>, nanos: i128) {
    if nanos < 0 {
        out.push(b'-');
    }
    let abs = nanos.unsigned_abs();
    let secs = abs / 1_000_000_000;
    let frac = (abs % 1_000_000_000) as u32;
    let mut buf = itoa::Buffer::new();
    out.extend_from_slice(buf.format(secs / 3600).as_bytes());
    out.push(b':');
    push2(out, (secs / 60 % 60) as u32);
    out.push(b':');
    push2(out, (secs % 60) as u32);
    push_fraction(out, frac);
}

/// A scaled integer (`digits` is the absolute value's decimal digits) as a decimal number with
/// `scale` fractional digits and `separator`; a negative scale appends zeros.
pub(crate) fn push_scaled(
    out: &mut Vec<u8>,
    negative: bool,
    digits: &[u8],
    scale: i8,
    separator: u8,
) {
    if negative && digits != b"0" {
        out.push(b'-');
    }
    if scale <= 0 {
        out.extend_from_slice(digits);
        if digits != b"0" {
            out.resize(out.len() + scale.unsigned_abs() as usize, b'0');
        }
        return;
    }
    let scale = scale as usize;
    if digits.len() > scale {
        let (int, frac) = digits.split_at(digits.len() - scale);
        out.extend_from_slice(int);
        out.push(separator);
        out.extend_from_slice(frac);
    } else {
        out.push(b'0');
        out.push(separator);
        out.resize(out.len() + scale - digits.len(), b'0');
        out.extend_from_slice(digits);
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Lower-case hex of `bytes`.
#[inline]
pub(crate) fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(bytes.len() * 2);
    for &b in bytes {
        out.push(HEX[(b >> 4) as usize]);
        out.push(HEX[(b & 0x0f) as usize]);
    }
}

/// Formats `value` (a chrono `DelayedFormat`) into `out`; false, with `out` unchanged, when
/// chrono cannot render it (for example `%z` on a value without offset).
pub(crate) fn push_items<T: std::fmt::Display>(out: &mut Vec<u8>, value: T) -> bool {
    struct Adapter<'a>(&'a mut Vec<u8>);
    impl std::fmt::Write for Adapter<'_> {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.0.extend_from_slice(s.as_bytes());
            Ok(())
        }
    }
    let start = out.len();
    // Through `fmt::Write`, not `io::Write::write_fmt`, which panics on a Display error.
    if std::fmt::write(&mut Adapter(out), format_args!("{value}")).is_err() {
        out.truncate(start);
        return false;
    }
    true
}

/// Parses a strftime format once, so each cell only walks the items.
pub(crate) fn parse_format(format: &str) -> Result<Vec<Item<'static>>, String> {
    chrono::format::StrftimeItems::new(format)
        .parse_to_owned()
        .map_err(|e| format!("`{format}` is not a valid strftime format: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut v = Vec::new();
        f(&mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn scaled() {
        assert_eq!(s(|o| push_scaled(o, false, b"1250", 2, b'.')), "12.50");
        assert_eq!(s(|o| push_scaled(o, true, b"5", 3, b',')), "-0,005");
        assert_eq!(s(|o| push_scaled(o, false, b"12", -2, b'.')), "1200");
        assert_eq!(s(|o| push_scaled(o, true, b"0", 2, b'.')), "0.00");
        assert_eq!(s(|o| push_scaled(o, false, b"0", -2, b'.')), "0");
    }

    #[test]
    fn durations() {
        assert_eq!(s(|o| push_duration(o, 3_723_000_000_000)), "1:02:03");
        assert_eq!(s(|o| push_duration(o, -1_500_000_000)), "-0:00:01.500");
        assert_eq!(
            s(|o| push_duration(o, 100 * 3600 * 1_000_000_000)),
            "100:00:00"
        );
    }

    #[test]
    fn years_and_fractions() {
        let d = NaiveDate::from_ymd_opt(-44, 3, 15).unwrap();
        assert_eq!(s(|o| push_date(o, d)), d.format("%Y-%m-%d").to_string());
        let d = NaiveDate::from_ymd_opt(12345, 1, 2).unwrap();
        assert_eq!(s(|o| push_date(o, d)), d.format("%Y-%m-%d").to_string());
        let t = NaiveTime::from_hms_nano_opt(1, 2, 3, 120_000_000).unwrap();
        assert_eq!(s(|o| push_time(o, t)), "01:02:03.120");
        let t = NaiveTime::from_hms_nano_opt(1, 2, 3, 1_000).unwrap();
        assert_eq!(s(|o| push_time(o, t)), "01:02:03.000001");
        let t = NaiveTime::from_hms_nano_opt(1, 2, 3, 7).unwrap();
        assert_eq!(s(|o| push_time(o, t)), t.format("%H:%M:%S%.f").to_string());
    }

    #[test]
    fn epoch_datetimes_match_chrono() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut values: Vec<i64> =
            vec![0, -1, 86_399, 86_400, -86_400, 951_782_400, 253_402_300_799];
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Years 0000-9999.
            values.push((x % 315_537_897_600) as i64 - 62_167_219_200);
        }
        for secs in values {
            for nanos in [0, 1_000_000, 123_456_000, 999_999_999] {
                let dt = chrono::DateTime::from_timestamp(secs, nanos)
                    .unwrap()
                    .naive_utc();
                let mut fast = Vec::new();
                assert!(push_epoch_datetime(&mut fast, secs, nanos));
                assert_eq!(
                    String::from_utf8(fast).unwrap(),
                    s(|o| push_datetime(o, dt)),
                    "{secs}"
                );
            }
        }
        let mut out = Vec::new();
        assert!(!push_epoch_datetime(&mut out, -62_167_219_201, 0)); // year -1
        assert!(!push_epoch_datetime(&mut out, 253_402_300_800, 0)); // year 10000
        assert!(out.is_empty());
    }

    #[test]
    fn offsets() {
        assert_eq!(s(|o| push_offset(o, 7200)), "+02:00");
        assert_eq!(s(|o| push_offset(o, -18000)), "-05:00");
        assert_eq!(s(|o| push_offset(o, 561)), "+00:09:21");
    }
}
