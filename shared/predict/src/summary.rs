//! Customer summaries (frequency / recency / age / monetary value) and the
//! transaction-log → summary conversion.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The time unit of `recency` and `t` (and of the fitted `alpha`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeUnit {
    /// One period = 1 day.
    Days,
    /// One period = 7 days (the BG/NBD paper's unit).
    Weeks,
}

impl TimeUnit {
    /// Days in one period.
    pub fn days(self) -> f64 {
        match self {
            TimeUnit::Days => 1.0,
            TimeUnit::Weeks => 7.0,
        }
    }

    /// Periods in an average calendar month (`365.25 / 12` days): 30.4375
    /// days or about 4.348 weeks. Used by [`crate::ClvOptions::new`].
    pub fn periods_per_month(self) -> f64 {
        365.25 / 12.0 / self.days()
    }
}

/// What the BG/NBD and Gamma-Gamma models need to know about one customer,
/// in the lifetimes / Fader–Hardie convention.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CustomerSummary {
    /// `x`: number of *repeat* purchase periods (distinct purchase days after
    /// the first). A non-negative integer stored as `f64`.
    pub frequency: f64,
    /// `t_x`: time from the first to the last purchase (0 when `frequency == 0`).
    pub recency: f64,
    /// `T`: time from the first purchase to the end of the calibration period.
    pub t: f64,
    /// `m_x`: mean spend of the repeat purchases (the first purchase is
    /// excluded); 0 when `frequency == 0`.
    pub monetary_value: f64,
}

impl CustomerSummary {
    /// Checks the BG/NBD requirements: finite values, `frequency` a
    /// non-negative integer, `0 <= recency <= t`. (Values rounded to a few
    /// decimals, as in published summaries, are accepted: `recency` may exceed
    /// `t` by `1e-9` relative.)
    pub fn validate(&self) -> Result<(), String> {
        let CustomerSummary {
            frequency,
            recency,
            t,
            monetary_value,
        } = *self;
        for (name, v) in [
            ("frequency", frequency),
            ("recency", recency),
            ("T", t),
            ("monetary_value", monetary_value),
        ] {
            if !v.is_finite() {
                return Err(format!("{name} is not a finite number ({v})"));
            }
        }
        if frequency < 0.0 || frequency.fract() != 0.0 {
            return Err(format!(
                "frequency must be a non-negative integer, got {frequency}"
            ));
        }
        if t < 0.0 {
            return Err(format!("T must be >= 0, got {t}"));
        }
        if recency < 0.0 {
            return Err(format!("recency must be >= 0, got {recency}"));
        }
        if recency > t * (1.0 + 1e-9) + 1e-9 {
            return Err(format!("recency ({recency}) is larger than T ({t})"));
        }
        Ok(())
    }
}

/// Why [`summarize`] rejected a transaction log.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SummaryError {
    /// An amount is NaN or infinite (index into the transaction slice).
    #[error("transaction {index}: amount is not a finite number")]
    NonFiniteAmount {
        /// Position in the input slice.
        index: usize,
    },
}

/// Turns a transaction log into per-customer summaries.
///
/// Each transaction is `(customer_id, day_number, amount)`, where
/// `day_number` is any integer day count (e.g. days since 1970-01-01, see
/// [`crate::date::days_from_civil`]; convert timestamps to the business's
/// local calendar day first). Same-day purchases of a customer are summed
/// into one purchase occasion and each customer is summarized by
/// [`summarize_occasions`], the one rule the Customer360 service also uses.
///
/// Customers whose first purchase is after `calibration_end` are omitted.
/// The output is sorted by customer id.
pub fn summarize<K: Ord + Clone>(
    transactions: &[(K, i64, f64)],
    calibration_end: i64,
    time_unit: TimeUnit,
) -> Result<Vec<(K, CustomerSummary)>, SummaryError> {
    let mut by_customer: BTreeMap<&K, BTreeMap<i64, f64>> = BTreeMap::new();
    for (index, (id, day, amount)) in transactions.iter().enumerate() {
        if !amount.is_finite() {
            return Err(SummaryError::NonFiniteAmount { index });
        }
        *by_customer
            .entry(id)
            .or_default()
            .entry(*day)
            .or_insert(0.0) += amount;
    }
    Ok(by_customer
        .into_iter()
        .filter_map(|(id, days)| {
            summarize_occasions(&days, calibration_end, time_unit).map(|s| (id.clone(), s))
        })
        .collect())
}

/// One customer's summary from their purchase occasions: `occasions` maps a
/// day number (any integer day count, e.g. days since 1970-01-01 in the
/// business's local calendar) to the amount spent that day, all purchases of
/// the day together. Conventions (Fader, Hardie & Lee 2005; the `lifetimes`
/// package), which reproduce the published CDNOW summaries exactly:
///
/// * Only days `<= calibration_end` are used (the calibration end day is
///   *inclusive*); later ones are the hold-out period.
/// * `frequency` = occasions after the first;
///   `recency` = (last day − first day) / unit;
///   `t` = (calibration_end − first day) / unit, with `unit` = 1 or 7 days;
/// * `monetary_value` = mean spend per repeat occasion (the first occasion
///   excluded), 0 for customers without a repeat occasion. It is 0 as well
///   for a repeat customer whose repeat occasions cost nothing; the
///   Gamma-Gamma fit leaves such customers out (see
///   [`crate::fit_gamma_gamma_with`]).
///
/// `None` when no occasion is on or before `calibration_end`.
pub fn summarize_occasions(
    occasions: &BTreeMap<i64, f64>,
    calibration_end: i64,
    time_unit: TimeUnit,
) -> Option<CustomerSummary> {
    let mut days = occasions.range(..=calibration_end);
    let (&first, _) = days.next()?;
    let (mut last, mut repeat, mut repeat_spend) = (first, 0usize, 0.0);
    for (&day, &amount) in days {
        last = day;
        repeat += 1;
        repeat_spend += amount;
    }
    let unit = time_unit.days();
    Some(CustomerSummary {
        frequency: repeat as f64,
        recency: (last - first) as f64 / unit,
        t: (calibration_end - first) as f64 / unit,
        monetary_value: if repeat == 0 {
            0.0
        } else {
            repeat_spend / repeat as f64
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregates_same_day_and_excludes_first_purchase_from_spend() {
        let tx = vec![
            ("a", 0, 10.0),
            ("a", 0, 5.0), // same day: one purchase of 15
            ("a", 7, 20.0),
            ("a", 14, 4.0),
            ("a", 14, 6.0),  // same day: 10
            ("a", 30, 99.0), // after calibration end
            ("b", 21, 3.0),
            ("c", 29, 1.0), // first purchase after the end: omitted
        ];
        let s = summarize(&tx, 28, TimeUnit::Weeks).unwrap();
        assert_eq!(s.len(), 2);
        let (id, a) = s[0];
        assert_eq!(id, "a");
        assert_eq!(a.frequency, 2.0);
        assert_eq!(a.recency, 2.0);
        assert_eq!(a.t, 4.0);
        assert_eq!(a.monetary_value, 15.0);
        let (id, b) = s[1];
        assert_eq!(id, "b");
        assert_eq!(
            b,
            CustomerSummary {
                frequency: 0.0,
                recency: 0.0,
                t: 1.0,
                monetary_value: 0.0
            }
        );
    }

    #[test]
    fn occasions_are_days_and_spend_averages_the_repeat_days_only() {
        // Three orders on one day 200 days ago and nothing since: one occasion,
        // no repeat purchase (not x = 2, which made the customer look long gone).
        let one_day = BTreeMap::from([(0, 30.0 + 45.5 + 12.0)]);
        assert_eq!(
            summarize_occasions(&one_day, 200, TimeUnit::Weeks),
            Some(CustomerSummary {
                frequency: 0.0,
                recency: 0.0,
                t: 200.0 / 7.0,
                monetary_value: 0.0
            })
        );
        // The first day's spend is not in the average; later days after the end are ignored.
        let days = BTreeMap::from([(10, 1000.0), (17, 40.0), (31, 20.0), (60, 5.0)]);
        let s = summarize_occasions(&days, 31, TimeUnit::Days).unwrap();
        assert_eq!((s.frequency, s.recency, s.t), (2.0, 21.0, 21.0));
        assert_eq!(s.monetary_value, 30.0);
        assert_eq!(summarize_occasions(&days, 9, TimeUnit::Days), None);
        // Free repeat meals: a repeat customer with an average of 0.
        let comped = BTreeMap::from([(0, 20.0), (56, 0.0)]);
        let s = summarize_occasions(&comped, 60, TimeUnit::Weeks).unwrap();
        assert_eq!((s.frequency, s.monetary_value), (1.0, 0.0));
    }

    #[test]
    fn calibration_end_day_is_inclusive_and_days_unit() {
        let tx = vec![(1u32, 100, 1.0), (1, 110, 2.0)];
        let s = summarize(&tx, 110, TimeUnit::Days).unwrap();
        assert_eq!(s[0].1.frequency, 1.0);
        assert_eq!(s[0].1.recency, 10.0);
        assert_eq!(s[0].1.t, 10.0);
        assert_eq!(s[0].1.monetary_value, 2.0);
    }

    #[test]
    fn rejects_non_finite_amounts() {
        let tx = vec![(1u32, 1, 1.0), (1, 2, f64::NAN)];
        assert_eq!(
            summarize(&tx, 10, TimeUnit::Days),
            Err(SummaryError::NonFiniteAmount { index: 1 })
        );
    }

    #[test]
    fn validate_rules() {
        let ok = CustomerSummary {
            frequency: 2.0,
            recency: 30.43,
            t: 38.86,
            monetary_value: 22.35,
        };
        assert!(ok.validate().is_ok());
        let bad = |f: fn(&mut CustomerSummary)| {
            let mut c = ok;
            f(&mut c);
            c.validate().unwrap_err()
        };
        assert!(bad(|c| c.frequency = 1.5).contains("integer"));
        assert!(bad(|c| c.frequency = -1.0).contains("integer"));
        assert!(bad(|c| c.recency = 40.0).contains("larger than T"));
        assert!(bad(|c| c.t = f64::NAN).contains("finite"));
        assert!(bad(|c| c.recency = -0.1).contains(">= 0"));
    }

    #[test]
    fn periods_per_month() {
        assert!((TimeUnit::Days.periods_per_month() - 30.4375).abs() < 1e-12);
        assert!((TimeUnit::Weeks.periods_per_month() - 30.4375 / 7.0).abs() < 1e-12);
    }
}
