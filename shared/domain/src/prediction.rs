//! Churn and lifetime-value predictions for one customer, from a store's fitted models
//! (BG/NBD for purchases and dropout, Gamma-Gamma for spend; see the `c360-predict` crate).
//!
//! The projection keeps counters, not a purchase log, so a customer's summary is built from
//! them: `x` = counted orders − 1 (the paper counts distinct purchase days; two counted orders
//! on one day count twice here), `t_x` and `T` in weeks from the first counted order, and the
//! average spend over all counted orders standing in for the average of the repeat ones.

pub use c360_predict::{BgNbdParams, ClvOptions, CustomerSummary, GammaGammaParams, TimeUnit};

use crate::money::round_yuan;
use crate::projection::ScopeStats;
use crate::time::{Millis, DAY_MS};
use serde::{Deserialize, Serialize};

/// A store's (or all stores') fitted models, as stored by the calibration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreModel {
    pub bg_nbd: BgNbdParams,
    /// Absent when the store had too few repeat customers to fit spend.
    pub gamma_gamma: Option<GammaGammaParams>,
    pub fitted_at: Millis,
    pub customers: usize,
    pub repeat_customers: usize,
    /// Why spend was not fitted, when it was not.
    #[serde(default)]
    pub spend_fit_error: Option<String>,
}

/// The models' time unit: weeks, as in the paper.
pub const UNIT: TimeUnit = TimeUnit::Weeks;
const WEEK_MS: f64 = 7.0 * DAY_MS as f64;

/// The model's view of a customer; `None` without a counted order (the models start at a
/// customer's first purchase).
pub fn summary(stats: &ScopeStats, now: Millis) -> Option<CustomerSummary> {
    let (first, last) = (stats.first_counted_at?, stats.last_counted_at?);
    if stats.counted_orders < 1 {
        return None;
    }
    let weeks = |from: Millis, to: Millis| ((to.0 - from.0).max(0) as f64) / WEEK_MS;
    let frequency = (stats.counted_orders - 1) as f64;
    Some(CustomerSummary {
        frequency,
        recency: if frequency > 0.0 {
            weeks(first, last)
        } else {
            0.0
        },
        t: weeks(first, now),
        monetary_value: if frequency > 0.0 {
            stats.spend_fen as f64 / 100.0 / stats.counted_orders as f64
        } else {
            0.0
        },
    })
}

/// The L2 penalty used by the calibration (see `c360_predict::FitOptions::penalizer`): a
/// store's sample is small next to the papers', and without it dropout often fits at the
/// boundary.
pub const CALIBRATION_PENALIZER: f64 = 1e-4;

/// Fits both models to a scope's customers. Fails when there are too few customers or repeat
/// customers for purchases (`c360_predict::FitError` says which); spend is left out, rather
/// than failing the whole fit, when it alone cannot be fitted.
pub fn fit(
    customers: &[CustomerSummary],
    now: Millis,
) -> Result<StoreModel, c360_predict::FitError> {
    let options = c360_predict::FitOptions {
        penalizer: CALIBRATION_PENALIZER,
        ..c360_predict::FitOptions::default()
    };
    let bg = c360_predict::fit_bg_nbd_with(customers, &options)?;
    let gg = c360_predict::fit_gamma_gamma_with(customers, &options);
    Ok(StoreModel {
        bg_nbd: bg.params,
        gamma_gamma: gg.as_ref().ok().map(|g| g.params),
        spend_fit_error: gg.err().map(|e| e.to_string()),
        fitted_at: now,
        customers: customers.len(),
        repeat_customers: customers.iter().filter(|c| c.frequency > 0.0).count(),
    })
}

#[derive(Debug, Clone, PartialEq)]
pub struct Predictions {
    pub p_alive: f64,
    pub churn_probability: f64,
    pub expected_orders_90d: f64,
    /// Yuan; `None` when the store has no spend model.
    pub predicted_clv_12m: Option<f64>,
    pub model_fitted_at: Millis,
}

/// Why there is no prediction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoPrediction {
    NoModel,
    NoCountedOrder,
    OutsideModel,
}

impl NoPrediction {
    pub fn reason(self) -> &'static str {
        match self {
            NoPrediction::NoModel => {
                "no model has been fitted for this scope yet (the calibration runs weekly)"
            }
            NoPrediction::NoCountedOrder => "the customer has no paid or completed order yet",
            NoPrediction::OutsideModel => {
                "the customer's history is outside what the fitted model can evaluate"
            }
        }
    }
}

/// Predictions at `now`, with future spend discounted at `monthly_discount_rate`.
pub fn predict(
    stats: &ScopeStats,
    model: Option<&StoreModel>,
    now: Millis,
    monthly_discount_rate: f64,
) -> Result<Predictions, NoPrediction> {
    let model = model.ok_or(NoPrediction::NoModel)?;
    let c = summary(stats, now).ok_or(NoPrediction::NoCountedOrder)?;
    let p_alive = model.bg_nbd.p_alive(c.frequency, c.recency, c.t);
    let expected = model
        .bg_nbd
        .expected_purchases(90.0 / 7.0, c.frequency, c.recency, c.t);
    if !p_alive.is_finite() || !expected.is_finite() {
        return Err(NoPrediction::OutsideModel);
    }
    let clv = model
        .gamma_gamma
        .map(|gg| {
            c360_predict::clv(
                &model.bg_nbd,
                &gg,
                &c,
                &ClvOptions::new(12, monthly_discount_rate, UNIT),
            )
        })
        .filter(|v| v.is_finite());
    let round4 = |v: f64| (v * 10_000.0).round() / 10_000.0;
    Ok(Predictions {
        p_alive: round4(p_alive),
        churn_probability: round4(1.0 - p_alive),
        expected_orders_90d: round4(expected),
        predicted_clv_12m: clv.map(round_yuan),
        model_fitted_at: model.fitted_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Millis = Millis(1_000 * DAY_MS);

    fn weekly(weeks: i64, stopped_weeks_ago: i64) -> ScopeStats {
        let last = NOW.0 - stopped_weeks_ago * 7 * DAY_MS;
        ScopeStats {
            order_records: weeks,
            counted_orders: weeks,
            spend_fen: weeks * 10_000,
            first_counted_at: Some(Millis(last - (weeks - 1) * 7 * DAY_MS)),
            last_counted_at: Some(Millis(last)),
            ..ScopeStats::default()
        }
    }

    fn model() -> StoreModel {
        StoreModel {
            bg_nbd: BgNbdParams {
                r: 0.243,
                alpha: 4.414,
                a: 0.793,
                b: 2.426,
            },
            gamma_gamma: Some(GammaGammaParams {
                p: 6.25,
                q: 3.74,
                v: 15.44,
            }),
            fitted_at: NOW,
            customers: 100,
            repeat_customers: 50,
            spend_fit_error: None,
        }
    }

    #[test]
    fn a_regular_who_stopped_is_more_likely_gone_than_one_who_did_not() {
        let m = model();
        let stopped = predict(&weekly(26, 26), Some(&m), NOW, 0.01).unwrap();
        let active = predict(&weekly(52, 1), Some(&m), NOW, 0.01).unwrap();
        assert!(
            stopped.churn_probability > active.churn_probability,
            "{stopped:?} vs {active:?}"
        );
        assert!(active.expected_orders_90d > stopped.expected_orders_90d);
        assert!(active.predicted_clv_12m > stopped.predicted_clv_12m);
        assert!((active.p_alive + active.churn_probability - 1.0).abs() < 1e-9);
    }

    #[test]
    fn one_purchase_is_alive_by_definition_and_no_purchase_has_no_prediction() {
        let one = predict(&weekly(1, 3), Some(&model()), NOW, 0.01).unwrap();
        assert_eq!(one.p_alive, 1.0);
        assert_eq!(
            predict(&ScopeStats::default(), Some(&model()), NOW, 0.01),
            Err(NoPrediction::NoCountedOrder)
        );
        assert_eq!(
            predict(&weekly(3, 1), None, NOW, 0.01),
            Err(NoPrediction::NoModel)
        );
    }

    #[test]
    fn the_summary_follows_the_papers_convention_in_weeks() {
        let s = summary(&weekly(3, 1), NOW).unwrap();
        assert_eq!(s.frequency, 2.0);
        assert!((s.recency - 2.0).abs() < 1e-9 && (s.t - 3.0).abs() < 1e-9);
        assert_eq!(s.monetary_value, 100.0);
    }
}
