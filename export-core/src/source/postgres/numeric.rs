//! PostgreSQL's binary `numeric`, printed as the server prints it or converted to a 128-bit
//! decimal.

use tokio_postgres::types::{FromSql, Type};

use super::BoxError;

/// A `numeric` in PostgreSQL's binary form: base-10000 digits, the weight of the first, the
/// sign and the display scale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Numeric {
    digits: Vec<i16>,
    weight: i16,
    sign: u16,
    dscale: u16,
}

const NUMERIC_NEG: u16 = 0x4000;
const NUMERIC_NAN: u16 = 0xC000;
const NUMERIC_PINF: u16 = 0xD000;
const NUMERIC_NINF: u16 = 0xF000;

impl<'a> FromSql<'a> for Numeric {
    fn from_sql(_: &Type, raw: &'a [u8]) -> std::result::Result<Self, BoxError> {
        let word = |i: usize| -> std::result::Result<u16, BoxError> {
            raw.get(i * 2..i * 2 + 2)
                .map(|b| u16::from_be_bytes([b[0], b[1]]))
                .ok_or_else(|| "truncated numeric".into())
        };
        let ndigits = word(0)? as usize;
        let weight = word(1)? as i16;
        let sign = word(2)?;
        let dscale = word(3)?;
        let digits = (0..ndigits)
            .map(|i| word(4 + i).map(|d| d as i16))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        if digits.iter().any(|d| !(0..10_000).contains(d)) {
            return Err("numeric digit out of range".into());
        }
        Ok(Numeric {
            digits,
            weight,
            sign,
            dscale,
        })
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }
}

impl Numeric {
    /// The value times 10^`scale`, as a `Decimal128`'s integer.
    pub(super) fn scaled(&self, scale: i8) -> std::result::Result<i128, String> {
        if matches!(self.sign, NUMERIC_NAN | NUMERIC_PINF | NUMERIC_NINF) {
            return Err(format!("{self} has no decimal value"));
        }
        let mut acc: i128 = 0;
        for (i, &d) in self.digits.iter().enumerate() {
            let exponent = 4 * (i32::from(self.weight) - i as i32) + i32::from(scale);
            let term = if exponent >= 0 {
                10i128
                    .checked_pow(exponent as u32)
                    .and_then(|p| p.checked_mul(i128::from(d)))
            } else if exponent > -4 {
                Some(i128::from(d) / 10i128.pow((-exponent) as u32))
            } else {
                Some(0)
            };
            acc = term
                .and_then(|t| acc.checked_add(t))
                .ok_or_else(|| format!("{self} does not fit a 128-bit decimal"))?;
        }
        Ok(if self.sign == NUMERIC_NEG { -acc } else { acc })
    }
}

impl std::fmt::Display for Numeric {
    /// The text PostgreSQL prints: `-12.340`, `0.05`, `NaN`, `Infinity`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.sign {
            NUMERIC_NAN => return f.write_str("NaN"),
            NUMERIC_PINF => return f.write_str("Infinity"),
            NUMERIC_NINF => return f.write_str("-Infinity"),
            _ => {}
        }
        let digit = |i: i32| -> i16 {
            usize::try_from(i)
                .ok()
                .and_then(|i| self.digits.get(i).copied())
                .unwrap_or(0)
        };
        let mut text = String::new();
        if self.sign == NUMERIC_NEG && !self.digits.is_empty() {
            text.push('-');
        }
        if self.weight < 0 || self.digits.is_empty() {
            text.push('0');
        } else {
            for i in 0..=i32::from(self.weight) {
                if i == 0 {
                    text.push_str(&digit(i).to_string());
                } else {
                    text.push_str(&format!("{:04}", digit(i)));
                }
            }
        }
        if self.dscale > 0 {
            text.push('.');
            let mut fraction = String::new();
            let mut j = 1;
            while fraction.len() < usize::from(self.dscale) {
                fraction.push_str(&format!("{:04}", digit(i32::from(self.weight) + j)));
                j += 1;
            }
            fraction.truncate(usize::from(self.dscale));
            text.push_str(&fraction);
        }
        f.write_str(&text)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_schema::{DataType, Field};
    use chrono::Utc;
    use tokio_postgres::types::Type;

    use super::super::PgParam;
    use super::super::layout::ReadType;
    use super::*;

    fn numeric(digits: &[i16], weight: i16, sign: u16, dscale: u16) -> Numeric {
        Numeric {
            digits: digits.to_vec(),
            weight,
            sign,
            dscale,
        }
    }

    #[test]
    fn numerics_print_as_postgresql_does() {
        assert_eq!(numeric(&[12, 3400], 0, 0, 3).to_string(), "12.340");
        assert_eq!(
            numeric(&[12, 3400], 0, NUMERIC_NEG, 2).to_string(),
            "-12.34"
        );
        assert_eq!(numeric(&[500], -1, 0, 2).to_string(), "0.05");
        assert_eq!(numeric(&[1, 0, 5], 2, 0, 0).to_string(), "100000005");
        assert_eq!(numeric(&[], 0, 0, 2).to_string(), "0.00");
        assert_eq!(numeric(&[], 0, NUMERIC_NAN, 0).to_string(), "NaN");
        assert_eq!(numeric(&[1], -2, 0, 8).to_string(), "0.00000001");
    }

    #[test]
    fn numerics_scale_into_decimal128() {
        assert_eq!(numeric(&[12, 3400], 0, 0, 2).scaled(2), Ok(1234));
        assert_eq!(
            numeric(&[12, 3400], 0, NUMERIC_NEG, 2).scaled(3),
            Ok(-12340)
        );
        assert_eq!(numeric(&[1, 0, 5], 2, 0, 0).scaled(0), Ok(100_000_005));
        assert_eq!(numeric(&[500], -1, 0, 2).scaled(2), Ok(5));
        assert!(numeric(&[], 0, NUMERIC_NAN, 0).scaled(2).is_err());
        let huge = numeric(&[9999; 12], 11, 0, 0);
        assert!(huge.scaled(0).unwrap_err().contains("does not fit"));
    }

    #[test]
    fn types_map_as_documented() {
        let numeric_10_2 = ((10 << 16) | 2) + 4;
        assert_eq!(
            ReadType::of(&Type::NUMERIC, numeric_10_2)
                .unwrap()
                .data_type(),
            DataType::Decimal128(10, 2)
        );
        assert_eq!(
            ReadType::of(&Type::NUMERIC, -1).unwrap().data_type(),
            DataType::Utf8
        );
        assert_eq!(
            ReadType::of(&Type::INT8_ARRAY, -1).unwrap().data_type(),
            DataType::List(Arc::new(Field::new("item", DataType::Int64, true)))
        );
        assert!(ReadType::of(&Type::INTERVAL, -1).is_none());
        assert!(ReadType::of(&Type::JSONB_ARRAY, -1).is_none());
    }

    #[test]
    fn params_fit_their_types_only() {
        assert!(PgParam::Int(1).fits(&Type::INT4));
        assert!(!PgParam::Int(1).fits(&Type::TEXT));
        assert!(PgParam::Timestamp(Utc::now()).fits(&Type::DATE));
        assert!(PgParam::IntList(vec![1]).fits(&Type::INT8_ARRAY));
        assert!(!PgParam::IntList(vec![1]).fits(&Type::TEXT_ARRAY));
        assert!(PgParam::Null.fits(&Type::JSONB));
    }
}
