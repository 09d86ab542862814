//! Byte-level writers of JSON text: strings, numbers, dates, base64.
//!
//! Every function appends to a `Vec<u8>` that the sink reuses between rows, so no value allocates.

/// What a byte needs when it appears in a JSON string: 0 = copy as is, `b'u'` = `\u00XX`,
/// another byte = a two-character escape (`\n` for b'n'), `b'?'` = maybe U+2028/U+2029 (0xE2).
static ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = b'u';
        b += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0A] = b'n';
    table[0x0C] = b'f';
    table[0x0D] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table[0xE2] = b'?';
    table
};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `s` as a quoted JSON string.
///
/// Quotes, backslashes and control characters are escaped (`\n`, `\t`, `\r`, `\b`, `\f`, else
/// `\u00XX`), as are U+2028 and U+2029 so the output is also valid JavaScript; everything else,
/// including non-ASCII text, is copied as is. Runs of plain bytes are copied in one go.
#[inline]
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    write_str_body(out, s.as_bytes());
    out.push(b'"');
}

#[inline]
fn write_str_body(out: &mut Vec<u8>, bytes: &[u8]) {
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let action = ESCAPE[b as usize];
        if action == 0 {
            i += 1;
            continue;
        }
        if action == b'?' {
            // 0xE2 0x80 0xA8 is U+2028, 0xE2 0x80 0xA9 is U+2029; other 0xE2 sequences pass.
            if bytes.get(i + 1) == Some(&0x80) && matches!(bytes.get(i + 2), Some(0xA8 | 0xA9)) {
                out.extend_from_slice(&bytes[start..i]);
                out.extend_from_slice(if bytes[i + 2] == 0xA8 {
                    b"\\u2028"
                } else {
                    b"\\u2029"
                });
                i += 3;
                start = i;
            } else {
                i += 1;
            }
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        if action == b'u' {
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 0xF) as usize],
            ]);
        } else {
            out.extend_from_slice(&[b'\\', action]);
        }
        i += 1;
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Appends an integer with `itoa`.
#[inline]
pub(crate) fn write_int<I: itoa::Integer>(out: &mut Vec<u8>, value: I) {
    let mut buf = itoa::Buffer::new();
    out.extend_from_slice(buf.format(value).as_bytes());
}

/// Appends a float with `zmij` (shortest representation that reads back to the same value);
/// NaN and infinities, which JSON cannot hold, are written as `null`.
#[inline]
pub(crate) fn write_f64(out: &mut Vec<u8>, value: f64) {
    if value.is_finite() {
        let mut buf = zmij::Buffer::new();
        push_shortest(out, buf.format_finite(value).as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

/// As [`write_f64`] for `f32`, shortest for single precision (`0.1f32` is `0.1`).
#[inline]
pub(crate) fn write_f32(out: &mut Vec<u8>, value: f32) {
    if value.is_finite() {
        let mut buf = zmij::Buffer::new();
        push_shortest(out, buf.format_finite(value).as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

/// Appends zmij's text without the `+` it writes in positive exponents, so the output stays
/// ryu's (`1e300`, not `1e+300`).
#[inline]
pub(crate) fn push_shortest(out: &mut Vec<u8>, text: &[u8]) {
    match text.iter().position(|b| *b == b'+') {
        Some(plus) => {
            out.extend_from_slice(&text[..plus]);
            out.extend_from_slice(&text[plus + 1..]);
        }
        None => out.extend_from_slice(text),
    }
}

/// Appends an integer `digits` scaled by `10^-scale` as an exact decimal number: `1250` with
/// scale 2 is `12.50`, `-5` with scale 3 is `-0.005`, `12` with scale -2 is `1200`.
pub(crate) fn write_scaled(out: &mut Vec<u8>, digits: &str, scale: i8) {
    let (negative, magnitude) = match digits.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, digits),
    };
    if negative {
        out.push(b'-');
    }
    if scale <= 0 {
        out.extend_from_slice(magnitude.as_bytes());
        if magnitude != "0" {
            out.resize(out.len() + scale.unsigned_abs() as usize, b'0');
        }
        return;
    }
    let scale = scale as usize;
    if magnitude.len() > scale {
        let (int, frac) = magnitude.as_bytes().split_at(magnitude.len() - scale);
        out.extend_from_slice(int);
        out.push(b'.');
        out.extend_from_slice(frac);
    } else {
        out.extend_from_slice(b"0.");
        out.resize(out.len() + scale - magnitude.len(), b'0');
        out.extend_from_slice(magnitude.as_bytes());
    }
}

/// Appends an exact decimal number of seconds: `whole` seconds plus `nanos` (0..1e9), with the
/// fraction's trailing zeros removed (`1.5`, `-0.001`, `60`).
pub(crate) fn write_seconds(out: &mut Vec<u8>, total_nanos: i128) {
    if total_nanos < 0 {
        out.push(b'-');
    }
    let magnitude = total_nanos.unsigned_abs();
    write_int(out, magnitude / 1_000_000_000);
    let nanos = (magnitude % 1_000_000_000) as u32;
    if nanos != 0 {
        let mut digits = [b'0'; 9];
        write_padded(&mut digits, nanos);
        let mut len = 9;
        while digits[len - 1] == b'0' {
            len -= 1;
        }
        out.push(b'.');
        out.extend_from_slice(&digits[..len]);
    }
}

/// Fills `dst` with the decimal digits of `value`, zero-padded on the left.
#[inline]
fn write_padded(dst: &mut [u8], mut value: u32) {
    for slot in dst.iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

#[inline]
fn push2(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&[b'0' + (value / 10) as u8, b'0' + (value % 10) as u8]);
}

/// The proleptic Gregorian (year, month, day) of a count of days since 1970-01-01
/// (Howard Hinnant's `civil_from_days`).
#[inline]
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Appends `YYYY-MM-DD` (unquoted) for a day count since 1970-01-01. Years outside 0..=9999 use
/// ISO 8601's expanded form with a sign (`+10000-01-01`, `-0001-12-31`).
#[inline]
pub(crate) fn write_date(out: &mut Vec<u8>, days: i64) {
    let (year, month, day) = civil_from_days(days);
    if (0..=9999).contains(&year) {
        let mut digits = [0u8; 4];
        write_padded(&mut digits, year as u32);
        out.extend_from_slice(&digits);
    } else {
        out.push(if year < 0 { b'-' } else { b'+' });
        let magnitude = year.unsigned_abs();
        if magnitude < 10_000 {
            let mut digits = [0u8; 4];
            write_padded(&mut digits, magnitude as u32);
            out.extend_from_slice(&digits);
        } else {
            write_int(out, magnitude);
        }
    }
    out.push(b'-');
    push2(out, month);
    out.push(b'-');
    push2(out, day);
}

/// Appends `HH:MM:SS` and, when `nanos` is not zero, a fraction of 3, 6 or 9 digits (the
/// fewest that hold it exactly).
#[inline]
pub(crate) fn write_time(out: &mut Vec<u8>, secs_of_day: u32, nanos: u32) {
    push2(out, secs_of_day / 3600);
    out.push(b':');
    push2(out, secs_of_day / 60 % 60);
    out.push(b':');
    push2(out, secs_of_day % 60);
    if nanos != 0 {
        out.push(b'.');
        let mut digits = [0u8; 9];
        write_padded(&mut digits, nanos);
        let len = if nanos.is_multiple_of(1_000_000) {
            3
        } else if nanos.is_multiple_of(1_000) {
            6
        } else {
            9
        };
        out.extend_from_slice(&digits[..len]);
    }
}

/// Appends a UTC offset `+HH:MM` (or `+HH:MM:SS` for the rare historical offsets with seconds).
#[inline]
pub(crate) fn write_offset(out: &mut Vec<u8>, offset_secs: i32) {
    out.push(if offset_secs < 0 { b'-' } else { b'+' });
    let magnitude = offset_secs.unsigned_abs();
    push2(out, magnitude / 3600);
    out.push(b':');
    push2(out, magnitude / 60 % 60);
    if !magnitude.is_multiple_of(60) {
        out.push(b':');
        push2(out, magnitude % 60);
    }
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Appends `bytes` as a quoted standard base64 string (RFC 4648 §4, with `=` padding).
pub(crate) fn write_base64(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(bytes.len().div_ceil(3) * 4 + 2);
    out.push(b'"');
    let mut chunks = bytes.chunks_exact(3);
    for chunk in &mut chunks {
        let n = u32::from(chunk[0]) << 16 | u32::from(chunk[1]) << 8 | u32::from(chunk[2]);
        out.extend_from_slice(&[
            BASE64[(n >> 18) as usize & 63],
            BASE64[(n >> 12) as usize & 63],
            BASE64[(n >> 6) as usize & 63],
            BASE64[n as usize & 63],
        ]);
    }
    match *chunks.remainder() {
        [a] => {
            let n = u32::from(a) << 16;
            out.extend_from_slice(&[
                BASE64[(n >> 18) as usize & 63],
                BASE64[(n >> 12) as usize & 63],
                b'=',
                b'=',
            ]);
        }
        [a, b] => {
            let n = u32::from(a) << 16 | u32::from(b) << 8;
            out.extend_from_slice(&[
                BASE64[(n >> 18) as usize & 63],
                BASE64[(n >> 12) as usize & 63],
                BASE64[(n >> 6) as usize & 63],
                b'=',
            ]);
        }
        _ => {}
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn strings_escape_like_serde_json_plus_line_separators() {
        let cases = [
            "",
            "plain",
            "quote \" backslash \\ slash /",
            "nl\ncr\rtab\tbs\u{8}ff\u{c}nul\u{0}us\u{1f}del\u{7f}",
            "émoji 🎉 日本語 €",
            "\u{2027}\u{2028}\u{2029}\u{202a}",
        ];
        for case in cases {
            let ours = s(|o| write_str(o, case));
            let back: String = serde_json::from_str(&ours).expect("parses");
            assert_eq!(back, case);
            let expected = serde_json::to_string(case)
                .expect("serialises")
                .replace('\u{2028}', "\\u2028")
                .replace('\u{2029}', "\\u2029");
            assert_eq!(ours, expected);
        }
    }

    #[test]
    fn scaled_decimals_are_exact() {
        assert_eq!(s(|o| write_scaled(o, "1250", 2)), "12.50");
        assert_eq!(s(|o| write_scaled(o, "-5", 3)), "-0.005");
        assert_eq!(s(|o| write_scaled(o, "0", 2)), "0.00");
        assert_eq!(s(|o| write_scaled(o, "12", -2)), "1200");
        assert_eq!(s(|o| write_scaled(o, "0", -2)), "0");
        assert_eq!(s(|o| write_scaled(o, "-123", 0)), "-123");
        assert_eq!(s(|o| write_scaled(o, "100", 3)), "0.100");
    }

    #[test]
    fn seconds_trim_trailing_zeros() {
        assert_eq!(s(|o| write_seconds(o, 1_500_000_000)), "1.5");
        assert_eq!(s(|o| write_seconds(o, -1_000_000)), "-0.001");
        assert_eq!(s(|o| write_seconds(o, 60_000_000_000)), "60");
        assert_eq!(s(|o| write_seconds(o, 0)), "0");
    }

    #[test]
    fn dates_match_chrono() {
        for days in (-800_000i64..800_000)
            .step_by(997)
            .chain([0, -1, 59, 60, 11_016])
        {
            let expected = chrono::NaiveDate::from_ymd_opt(1970, 1, 1)
                .and_then(|d| d.checked_add_signed(chrono::Duration::days(days)))
                .expect("in range");
            // chrono's `%Y` also signs years outside 0..=9999.
            assert_eq!(
                s(|o| write_date(o, days)),
                expected.format("%Y-%m-%d").to_string()
            );
        }
    }

    #[test]
    fn times_offsets_and_base64() {
        assert_eq!(s(|o| write_time(o, 3_723, 0)), "01:02:03");
        assert_eq!(s(|o| write_time(o, 86_399, 120_000_000)), "23:59:59.120");
        assert_eq!(s(|o| write_time(o, 0, 1_000)), "00:00:00.000001");
        assert_eq!(s(|o| write_time(o, 0, 1)), "00:00:00.000000001");
        assert_eq!(s(|o| write_offset(o, 7_200)), "+02:00");
        assert_eq!(s(|o| write_offset(o, -34_200)), "-09:30");
        assert_eq!(s(|o| write_offset(o, 561)), "+00:09:21");
        assert_eq!(s(|o| write_base64(o, b"")), "\"\"");
        assert_eq!(s(|o| write_base64(o, b"f")), "\"Zg==\"");
        assert_eq!(s(|o| write_base64(o, b"fo")), "\"Zm8=\"");
        assert_eq!(s(|o| write_base64(o, b"foo")), "\"Zm9v\"");
        assert_eq!(s(|o| write_base64(o, b"foobar")), "\"Zm9vYmFy\"");
        assert_eq!(s(|o| write_base64(o, &[0xff, 0xfe])), "\"//4=\"");
    }
}
