//! Offers: what a coupon gives, checked when the rules are read.

use super::*;

/// What an offer gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfferKind {
    /// `value_yuan` off the bill (required), from `min_spend_yuan` when given.
    AmountOff,
    /// `percent` off the bill (required).
    PercentOff,
    /// An item for free (named in the title); `value_yuan`, if given, is its worth.
    FreeItem,
    /// A privilege that is not money (a private room, priority seating); `value_yuan`, if
    /// given, is its worth.
    Perk,
}

impl OfferKind {
    /// The name in the configuration and in the answers (`amount_off`).
    pub fn name(self) -> &'static str {
        match self {
            OfferKind::AmountOff => "amount_off",
            OfferKind::PercentOff => "percent_off",
            OfferKind::FreeItem => "free_item",
            OfferKind::Perk => "perk",
        }
    }
}

impl fmt::Display for OfferKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An offer, as configured:
/// `{"title":"回归礼: 满200减50","kind":"amount_off","value_yuan":"50","min_spend_yuan":"200","valid_days":14}`.
///
/// - `title` (required): the text staff and guests see, 1 to [`MAX_TITLE_CHARS`] characters
///   (trimmed).
/// - `kind` (required): [`OfferKind`], one of `amount_off`, `percent_off`, `free_item`,
///   `perk`.
/// - `value_yuan`: yuan, more than 0 (number or decimal string, at most 2 decimals).
///   Required for `amount_off`; refused for `percent_off`; for `free_item` and `perk` the
///   worth, optional.
/// - `percent`: more than 0, at most 100 (10 is 九折). Required for `percent_off`, refused
///   for the other kinds.
/// - `min_spend_yuan`: the bill the offer needs, yuan, 0 or more; optional.
/// - `valid_days`: whole days the offer is valid once given, at least 1; optional.
#[derive(Debug, Clone, PartialEq)]
pub struct Offer {
    pub title: String,
    pub kind: OfferKind,
    pub value_yuan: Option<Fen>,
    pub percent: Option<f64>,
    pub min_spend_yuan: Option<Fen>,
    pub valid_days: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOffer {
    title: String,
    kind: OfferKind,
    value_yuan: Option<Value>,
    percent: Option<f64>,
    min_spend_yuan: Option<Value>,
    valid_days: Option<i64>,
}

impl Offer {
    /// Reads and checks an offer's JSON; the error says what is wrong (the caller names the
    /// rule).
    pub(super) fn from_json(value: &Value) -> Result<Offer, String> {
        let raw: RawOffer = serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
        let title = raw.title.trim().to_string();
        let chars = title.chars().count();
        if chars == 0 || chars > MAX_TITLE_CHARS {
            return Err(format!(
                "title must have 1 to {MAX_TITLE_CHARS} characters, got {chars}"
            ));
        }
        let value_yuan = raw
            .value_yuan
            .as_ref()
            .map(|v| yuan("value_yuan", v))
            .transpose()?;
        if value_yuan == Some(Fen(0)) {
            return Err("value_yuan must be more than 0".to_string());
        }
        let min_spend_yuan = raw
            .min_spend_yuan
            .as_ref()
            .map(|v| yuan("min_spend_yuan", v))
            .transpose()?;
        if let Some(p) = raw.percent {
            if !(p.is_finite() && p > 0.0 && p <= 100.0) {
                return Err(format!(
                    "percent must be more than 0 and at most 100, got {p}"
                ));
            }
        }
        if let Some(d) = raw.valid_days {
            if d < 1 {
                return Err(format!(
                    "valid_days must be a whole number of days, at least 1, got {d}"
                ));
            }
        }
        let kind = raw.kind;
        match kind {
            OfferKind::AmountOff if value_yuan.is_none() => {
                return Err("an amount_off offer needs value_yuan (the yuan off)".to_string())
            }
            OfferKind::PercentOff if raw.percent.is_none() => {
                return Err("a percent_off offer needs percent (10 is 10% off)".to_string())
            }
            OfferKind::PercentOff if value_yuan.is_some() => {
                return Err(
                    "a percent_off offer takes percent, not value_yuan (a cap is not supported)"
                        .to_string(),
                )
            }
            OfferKind::AmountOff | OfferKind::FreeItem | OfferKind::Perk
                if raw.percent.is_some() =>
            {
                return Err(format!(
                    "percent applies to percent_off offers only, not {kind}"
                ))
            }
            _ => {}
        }
        Ok(Offer {
            title,
            kind,
            value_yuan,
            percent: raw.percent,
            min_spend_yuan,
            valid_days: raw.valid_days,
        })
    }

    /// The offer in the answers: `{"title","kind","value","percent","min_spend","valid_days"}`,
    /// money in yuan as numbers ([`Fen::yuan`]), `null` for what the offer does not have.
    pub fn json(&self) -> Value {
        json!({
            "title": self.title,
            "kind": self.kind.name(),
            "value": self.value_yuan.map(Fen::yuan),
            "percent": self.percent,
            "min_spend": self.min_spend_yuan.map(Fen::yuan),
            "valid_days": self.valid_days,
        })
    }
}

/// Yuan as the segment language reads it: a JSON number (printed in its shortest exact form)
/// or a decimal string, exactly, to the fen.
fn yuan(name: &str, v: &Value) -> Result<Fen, String> {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => {
            return Err(format!(
                "{name} must be yuan (a number or a decimal string), got {other}"
            ))
        }
    };
    Fen::parse_yuan(&text).map_err(|e| format!("{name}: {e}"))
}
