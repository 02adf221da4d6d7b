//! Money as integer fen. Sources send yuan as DynamoDB Numbers (decimal strings); they are
//! parsed exactly, never through a float.

use serde::{Deserialize, Serialize};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Fen(pub i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("`{0}` is not an amount in yuan with at most 2 decimals")]
    Format(String),
    #[error("`{0}` is negative; amounts must be zero or more")]
    Negative(String),
    #[error("`{0}` is too large")]
    Overflow(String),
}

/// A DynamoDB Number that cannot be read at the precision asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    #[error("`{0}` is not a number")]
    Format(String),
    #[error("`{0}` has more decimals than allowed")]
    Fraction(String),
    #[error("`{0}` is too large")]
    Overflow(String),
}

/// Reads a DynamoDB Number in any spelling DynamoDB accepts (`1500`, `1.5E3`, `1500.000`,
/// `+1.5e+3`, `-2`) as the integer `value × 10^scale`, exactly: no float on the way.
///
/// # Errors
/// [`NumberError::Fraction`] when the value has non-zero digits below `10^-scale` (`2.5` at
/// scale 0), [`NumberError::Format`] when it is not a number, [`NumberError::Overflow`] past
/// `i64`.
pub fn parse_scaled(raw: &str, scale: u32) -> Result<i64, NumberError> {
    let format = || NumberError::Format(raw.to_string());
    let s = raw.trim();
    let (negative, s) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (mantissa, exp) = match s.find(['e', 'E']) {
        Some(i) => {
            let e: i32 = s[i + 1..].parse().map_err(|_| format())?;
            (&s[..i], e)
        }
        None => (s, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if (int_part.is_empty() && frac_part.is_empty())
        || !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(format());
    }
    // Value = digits × 10^(exp − frac_len); scaled, digits × 10^(exp − frac_len + scale).
    let digits = format!("{int_part}{frac_part}");
    let digits = digits.trim_start_matches('0');
    let frac_len = i32::try_from(frac_part.len()).map_err(|_| format())?;
    let scale = i32::try_from(scale).map_err(|_| format())?;
    let shift = exp
        .checked_sub(frac_len)
        .and_then(|v| v.checked_add(scale))
        .ok_or_else(format)?;
    let (digits, shift) = if shift < 0 {
        let drop = shift.unsigned_abs() as usize;
        if digits.len() < drop {
            if digits.is_empty() {
                return Ok(0);
            }
            return Err(NumberError::Fraction(raw.to_string()));
        }
        let (keep, dropped) = digits.split_at(digits.len() - drop);
        if dropped.bytes().any(|b| b != b'0') {
            return Err(NumberError::Fraction(raw.to_string()));
        }
        (keep, 0)
    } else {
        (digits, shift.unsigned_abs())
    };
    if digits.is_empty() {
        return Ok(0);
    }
    let overflow = || NumberError::Overflow(raw.to_string());
    if digits.len() > 19 || shift > 18 {
        return Err(overflow());
    }
    let base: i64 = digits.parse().map_err(|_| overflow())?;
    let value = base.checked_mul(10i64.pow(shift)).ok_or_else(overflow)?;
    Ok(if negative { -value } else { value })
}

impl Fen {
    /// Parses a non-negative yuan amount such as `280`, `280.5` or `280.00`.
    /// DynamoDB may normalize `280.00` to `280` or send `2.8E2`; any spelling of a DynamoDB
    /// Number is read by value (`1E+2` is 100 yuan, `200.000` is 200 yuan).
    ///
    /// # Errors
    /// [`MoneyError::Negative`] below zero, [`MoneyError::Format`] for anything that is not a
    /// number or has non-zero digits below the fen (`1.001`), [`MoneyError::Overflow`] past
    /// `i64` fen.
    pub fn parse_yuan(raw: &str) -> Result<Fen, MoneyError> {
        if raw.trim().starts_with('-') {
            return Err(MoneyError::Negative(raw.to_string()));
        }
        parse_scaled(raw, 2).map(Fen).map_err(|e| match e {
            NumberError::Overflow(_) => MoneyError::Overflow(raw.to_string()),
            NumberError::Format(_) | NumberError::Fraction(_) => {
                MoneyError::Format(raw.to_string())
            }
        })
    }

    /// `self / n`, rounded half-up to the fen once, in integers (`28915 / 2` is `14458`: a
    /// cashier's 144.575 → 144.58). `None` when `n` is not positive.
    ///
    /// Half-up means away from zero for the non-negative amounts the sources carry; a
    /// negative sum rounds half toward zero (−0.5 fen → 0), as `floor(x + 0.5)` does.
    pub fn div_round_half_up(self, n: i64) -> Option<Fen> {
        if n <= 0 {
            return None;
        }
        // floor((2a + n) / 2n) without a float; i128 so that no sum of fen can overflow.
        let (a, n) = (i128::from(self.0), i128::from(n));
        let q = (2 * a + n).div_euclid(2 * n);
        i64::try_from(q).ok().map(Fen)
    }

    /// Yuan as a JSON number (at most 2 decimals once printed).
    pub fn yuan(self) -> f64 {
        self.0 as f64 / 100.0
    }

    /// `280.00`, for people.
    pub fn display_yuan(self) -> String {
        format!("{}.{:02}", self.0 / 100, (self.0 % 100).abs())
    }
}

/// Rounds a yuan value to 2 decimals for output (averages are not whole fen).
pub fn round_yuan(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exact_yuan_amounts() {
        for (raw, fen) in [
            ("280.00", 28000),
            ("280", 28000),
            ("0.1", 10),
            ("0.01", 1),
            ("2.8E2", 28000),
            ("2.805e2", 28050),
            ("0", 0),
            ("12345.6", 1234560),
            ("1E-2", 1),
            ("100.00E-2", 100),
        ] {
            assert_eq!(Fen::parse_yuan(raw), Ok(Fen(fen)), "{raw}");
        }
    }

    #[test]
    fn rejects_bad_amounts() {
        assert!(matches!(
            Fen::parse_yuan("-1"),
            Err(MoneyError::Negative(_))
        ));
        for raw in ["", "abc", "1.001", "1.2.3", "1e-3", "."] {
            assert!(Fen::parse_yuan(raw).is_err(), "{raw}");
        }
        assert!(matches!(
            Fen::parse_yuan("1e30"),
            Err(MoneyError::Overflow(_))
        ));
    }

    /// Issue 11, item 6: half a fen rounds up, as a cashier would, never through a float.
    #[test]
    fn averages_round_half_up_to_the_fen() {
        assert_eq!(Fen(14457 + 14458).div_round_half_up(2), Some(Fen(14458)));
        assert_eq!(Fen(57 + 58).div_round_half_up(2), Some(Fen(58)));
        assert_eq!(Fen(22000).div_round_half_up(3), Some(Fen(7333)));
        assert_eq!(Fen(20000).div_round_half_up(3), Some(Fen(6667)));
        assert_eq!(Fen(1).div_round_half_up(2), Some(Fen(1)));
        assert_eq!(Fen(1).div_round_half_up(3), Some(Fen(0)));
        assert_eq!(Fen(0).div_round_half_up(5), Some(Fen(0)));
        assert_eq!(Fen(i64::MAX).div_round_half_up(1), Some(Fen(i64::MAX)));
        assert_eq!(Fen(100).div_round_half_up(0), None);
    }

    /// Issue 11, item 7: every spelling of a DynamoDB Number is read by value.
    #[test]
    fn dynamodb_numbers_are_read_by_value_in_any_spelling() {
        for (raw, want) in [
            ("1.5E3", 1500),
            ("4.0", 4),
            ("2.0", 2),
            ("1E+2", 100),
            ("+7", 7),
            ("-3", -3),
            ("0.0e5", 0),
            ("1500.000", 1500),
            ("9223372036854775807", i64::MAX),
        ] {
            assert_eq!(parse_scaled(raw, 0), Ok(want), "{raw}");
        }
        assert!(matches!(
            parse_scaled("2.5", 0),
            Err(NumberError::Fraction(_))
        ));
        assert!(matches!(
            parse_scaled("1.5E0", 0),
            Err(NumberError::Fraction(_))
        ));
        assert!(matches!(
            parse_scaled("1e19", 0),
            Err(NumberError::Overflow(_))
        ));
        assert!(matches!(
            parse_scaled("1e99999", 0),
            Err(NumberError::Overflow(_))
        ));
        for raw in ["", "x", "1..2", "--1", "1e", "e5"] {
            assert!(
                matches!(parse_scaled(raw, 0), Err(NumberError::Format(_))),
                "{raw}"
            );
        }
        assert_eq!(Fen::parse_yuan("200.000"), Ok(Fen(20000)));
        assert_eq!(Fen::parse_yuan("1E+2"), Ok(Fen(10000)));
        assert!(matches!(
            Fen::parse_yuan("1.005"),
            Err(MoneyError::Format(_))
        ));
    }

    #[test]
    fn displays_two_decimals() {
        assert_eq!(Fen(28000).display_yuan(), "280.00");
        assert_eq!(Fen(5).display_yuan(), "0.05");
        assert_eq!(round_yuan(220.0 / 3.0), 73.33);
    }
}
