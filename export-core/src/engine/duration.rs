//! Durations in configuration files: `"90s"`, `"5m"`, `"2h"`, `"7d"`, `"250ms"`, or a number of
//! seconds.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// Parses `"90s"`, `"5m"`, `"2h"`, `"7d"`, `"250ms"` or `"30"` (seconds).
pub(crate) fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits.parse().map_err(|_| {
        format!("`{text}` is not a duration (use a number followed by ms, s, m, h or d)")
    })?;
    let secs = |mult: u64| {
        n.checked_mul(mult)
            .map(Duration::from_secs)
            .ok_or_else(|| format!("`{text}` is too long"))
    };
    match unit.trim() {
        "ms" => Ok(Duration::from_millis(n)),
        "" | "s" => secs(1),
        "m" => secs(60),
        "h" => secs(3600),
        "d" => secs(86_400),
        other => Err(format!(
            "`{text}` has the unknown unit `{other}` (use ms, s, m, h or d)"
        )),
    }
}

/// The shortest exact text for `d` in the units [`parse`] reads.
pub(crate) fn format(d: Duration) -> String {
    if d.subsec_nanos() != 0 {
        return format!("{}ms", d.as_millis());
    }
    let s = d.as_secs();
    match s {
        0 => "0s".to_string(),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Text {
    Seconds(u64),
    Text(String),
}

pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format(*d))
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    match Text::deserialize(d)? {
        Text::Seconds(n) => Ok(Duration::from_secs(n)),
        Text::Text(t) => parse(&t).map_err(serde::de::Error::custom),
    }
}

/// The same for `Option<Duration>`: `null` (or absent) is `None`.
pub(crate) mod option {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&super::format(*d)),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        match Option::<super::Text>::deserialize(d)? {
            None => Ok(None),
            Some(super::Text::Seconds(n)) => Ok(Some(Duration::from_secs(n))),
            Some(super::Text::Text(t)) => {
                super::parse(&t).map(Some).map_err(serde::de::Error::custom)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_round_trip() {
        for (text, secs) in [
            ("90s", 90),
            ("5m", 300),
            ("2h", 7200),
            ("7d", 604_800),
            ("30", 30),
        ] {
            assert_eq!(parse(text).unwrap(), Duration::from_secs(secs), "{text}");
        }
        assert_eq!(parse("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(format(Duration::from_secs(604_800)), "7d");
        assert_eq!(format(Duration::from_secs(90)), "90s");
        assert_eq!(format(Duration::from_millis(1500)), "1500ms");
        for d in [1, 60, 61, 3600, 86_400, 86_401] {
            let d = Duration::from_secs(d);
            assert_eq!(parse(&format(d)).unwrap(), d);
        }
    }

    #[test]
    fn bad_text_names_the_value() {
        let err = parse("7 weeks").unwrap_err();
        assert!(
            err.contains("7 weeks") && err.contains("unknown unit"),
            "{err}"
        );
        assert!(parse("d").unwrap_err().contains("not a duration"));
        assert!(
            parse("99999999999999999d")
                .unwrap_err()
                .contains("too long")
        );
    }
}
