//! Churn and lifetime-value predictions for one customer, from a store's fitted models
//! (BG/NBD for purchases and dropout, Fader, Hardie & Lee 2005 "Counting your customers the
//! easy way"; Gamma-Gamma for spend, Fader, Hardie & Lee 2005 "RFM and CLV"; see the
//! `c360-predict` crate).
//!
//! A customer's summary is the papers', computed by the same function as `c360-fit`
//! ([`c360_predict::summarize_occasions`]): purchase occasions are calendar days in the
//! deployment's zone (several counted orders on one day are one occasion whose spend is their
//! sum), `x` = occasions after the first, `t_x` and `T` in weeks from the first occasion's day
//! (`T` to today, inclusive), and the spend is the average over the repeat occasions, the first
//! excluded. The occasions come from [`ScopeStats::order_days`], which sums exactly across a
//! customer's identity nodes.

pub use c360_predict::{BgNbdParams, ClvOptions, CustomerSummary, GammaGammaParams, TimeUnit};

use crate::money::round_yuan;
use crate::projection::ScopeStats;
use crate::time::{Millis, Zone, DAY_MS};
use chrono::FixedOffset;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A store's (or all stores') fitted models, as stored by the calibration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreModel {
    pub bg_nbd: BgNbdParams,
    /// Absent when the store had too few repeat customers to fit spend.
    pub gamma_gamma: Option<GammaGammaParams>,
    pub fitted_at: Millis,
    /// Customers with a counted order on or before the fit's day.
    pub customers: usize,
    /// Customers with at least one repeat occasion.
    pub repeat_customers: usize,
    /// Why spend was not fitted, when it was not.
    #[serde(default)]
    pub spend_fit_error: Option<String>,
    /// Repeat customers whose repeat occasions total 0 yuan (comped meals), left out of the
    /// spend fit (the Gamma density has no mass at 0); they still get a CLV.
    #[serde(default)]
    pub excluded_zero_spend: usize,
    /// The zone whose calendar days the model counted occasions in, as seconds east of UTC
    /// (the deployment's zone at the fit; models stored before it was recorded: +08:00). A
    /// read measures `T` to today in the same zone, so it agrees with the fit.
    #[serde(default = "default_utc_offset_seconds")]
    pub utc_offset_seconds: i32,
}

fn default_utc_offset_seconds() -> i32 {
    Zone::default().0.local_minus_utc()
}

impl StoreModel {
    /// The zone of [`StoreModel::utc_offset_seconds`] (the default zone if the stored
    /// offset is not a valid one).
    pub fn zone(&self) -> Zone {
        FixedOffset::east_opt(self.utc_offset_seconds)
            .map(Zone)
            .unwrap_or_default()
    }
}

/// The models' time unit: weeks, as in the paper.
pub const UNIT: TimeUnit = TimeUnit::Weeks;

/// The calendar day of `t` in `zone`, as days since 1970-01-01 (the day numbers of
/// `c360_predict::date`, so a local date `YYYY-MM-DD` is
/// `c360_predict::date::days_from_civil(Y, M, D)`).
pub fn local_day(t: Millis, zone: &Zone) -> i64 {
    (t.0 + i64::from(zone.0.local_minus_utc()) * 1000).div_euclid(DAY_MS)
}

/// The model's view of a customer at `now`, with days counted in `zone`.
///
/// Errors: [`NoPrediction::NoCountedOrder`] without a counted order on or before today (the
/// models start at a customer's first purchase); [`NoPrediction::DaysNotRecorded`] when
/// some counted orders were stored before the projection recorded their day.
pub fn summary(
    stats: &ScopeStats,
    now: Millis,
    zone: &Zone,
) -> Result<CustomerSummary, NoPrediction> {
    if stats.counted_orders < 1 {
        return Err(NoPrediction::NoCountedOrder);
    }
    let recorded: i64 = stats.order_days.values().map(|d| d.orders).sum();
    if recorded != stats.counted_orders {
        return Err(NoPrediction::DaysNotRecorded);
    }
    let occasions: BTreeMap<i64, f64> = stats
        .order_days
        .iter()
        .map(|(&day, d)| (day, d.spend_fen as f64 / 100.0))
        .collect();
    c360_predict::summarize_occasions(&occasions, local_day(now, zone), UNIT)
        .ok_or(NoPrediction::NoCountedOrder)
}

/// The L2 penalty used by the calibration (see `c360_predict::FitOptions::penalizer`): a
/// store's sample is small next to the papers', and without it dropout often fits at the
/// boundary.
pub const CALIBRATION_PENALIZER: f64 = 1e-4;

/// Fits both models to a scope's customers (their [`summary`] at `now` in `zone`). Fails when
/// there are too few customers or repeat customers for purchases (`c360_predict::FitError`
/// says which); spend is left out, rather than failing the whole fit, when it alone cannot be
/// fitted. Repeat customers with zero repeat spend are left out of the spend fit and counted.
pub fn fit(
    customers: &[CustomerSummary],
    now: Millis,
    zone: &Zone,
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
        excluded_zero_spend: gg.as_ref().map_or(0, |g| g.excluded_zero_spend),
        spend_fit_error: gg.err().map(|e| e.to_string()),
        fitted_at: now,
        customers: customers.len(),
        repeat_customers: customers.iter().filter(|c| c.frequency > 0.0).count(),
        utc_offset_seconds: zone.0.local_minus_utc(),
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
    /// Counted orders stored before the projection recorded each order's day.
    DaysNotRecorded,
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
            NoPrediction::DaysNotRecorded => {
                "some of the customer's orders were projected before order days were recorded; a rebuild into a new table restores them"
            }
        }
    }
}

/// Predictions at `now`, with future spend discounted at `monthly_discount_rate`. Days are
/// counted in the model's zone ([`StoreModel::zone`]), as the calibration counted them.
pub fn predict(
    stats: &ScopeStats,
    model: Option<&StoreModel>,
    now: Millis,
    monthly_discount_rate: f64,
) -> Result<Predictions, NoPrediction> {
    let model = model.ok_or(NoPrediction::NoModel)?;
    let c = summary(stats, now, &model.zone())?;
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
mod tests;
