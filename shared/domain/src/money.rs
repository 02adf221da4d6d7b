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

impl Fen {
    /// Parses a non-negative yuan amount such as `280`, `280.5` or `280.00`.
    /// DynamoDB may normalize `280.00` to `280` or send `2.8E2`; both are accepted.
    pub fn parse_yuan(raw: &str) -> Result<Fen, MoneyError> {
        let s = raw.trim();
        if s.starts_with('-') {
            return Err(MoneyError::Negative(raw.to_string()));
        }
        let s = s.strip_prefix('+').unwrap_or(s);
        let (mantissa, exp) = match s.find(['e', 'E']) {
            Some(i) => {
                let e: i32 = s[i + 1..]
                    .parse()
                    .map_err(|_| MoneyError::Format(raw.to_string()))?;
                (&s[..i], e)
            }
            None => (s, 0),
        };
        let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if (int_part.is_empty() && frac_part.is_empty())
            || !int_part.bytes().all(|b| b.is_ascii_digit())
            || !frac_part.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(MoneyError::Format(raw.to_string()));
        }
        // Value = digits * 10^(exp - frac_len); in fen that is digits * 10^(exp - frac_len + 2).
        let digits = format!("{int_part}{frac_part}");
        let digits = digits.trim_start_matches('0');
        let shift = exp - frac_part.len() as i32 + 2;
        let (digits, shift) = if shift < 0 {
            let drop = (-shift) as usize;
            if digits.len() < drop {
                if digits.is_empty() {
                    return Ok(Fen(0));
                }
                return Err(MoneyError::Format(raw.to_string()));
            }
            let (keep, dropped) = digits.split_at(digits.len() - drop);
            if dropped.bytes().any(|b| b != b'0') {
                return Err(MoneyError::Format(raw.to_string()));
            }
            (keep, 0)
        } else {
            (digits, shift as u32)
        };
        if digits.is_empty() {
            return Ok(Fen(0));
        }
        if digits.len() > 17 || shift > 17 {
            return Err(MoneyError::Overflow(raw.to_string()));
        }
        let base: i64 = digits
            .parse()
            .map_err(|_| MoneyError::Overflow(raw.to_string()))?;
        base.checked_mul(10i64.pow(shift))
            .map(Fen)
            .ok_or_else(|| MoneyError::Overflow(raw.to_string()))
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

    #[test]
    fn displays_two_decimals() {
        assert_eq!(Fen(28000).display_yuan(), "280.00");
        assert_eq!(Fen(5).display_yuan(), "0.05");
        assert_eq!(round_yuan(220.0 / 3.0), 73.33);
    }
}
