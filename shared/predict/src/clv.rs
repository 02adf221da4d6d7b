//! Customer lifetime value from BG/NBD expected transactions and Gamma-Gamma spend.

use serde::{Deserialize, Serialize};

use crate::bgnbd::BgNbdParams;
use crate::gamma_gamma::GammaGammaParams;
use crate::summary::{CustomerSummary, TimeUnit};

/// Horizon and discounting for [`clv`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClvOptions {
    /// Number of months to sum over.
    pub horizon_months: u32,
    /// Discount rate per month, e.g. `0.01` (≈ 12.7 % a year). Must be > −1.
    pub monthly_discount_rate: f64,
    /// Length of a month in the model's time unit.
    pub periods_per_month: f64,
}

impl ClvOptions {
    /// Options for summaries in `time_unit`, with a month of `365.25 / 12` days.
    pub fn new(horizon_months: u32, monthly_discount_rate: f64, time_unit: TimeUnit) -> Self {
        Self {
            horizon_months,
            monthly_discount_rate,
            periods_per_month: time_unit.periods_per_month(),
        }
    }
}

/// Discounted expected revenue from `customer` over the horizon.
///
/// The discounted expected-transactions approach (the same scheme as the
/// `lifetimes` package's `customer_lifetime_value`, which uses a month of
/// 4.345 weeks or 30 days; set `periods_per_month` to match it): with `E(t) = E[Y(t) | x, t_x, T]`
/// from the BG/NBD model, `M = E[M | x, m_x]` from the Gamma-Gamma model,
/// `P` = `options.periods_per_month` and `d` = `options.monthly_discount_rate`,
///
/// `CLV = Σ_{k=1..H} (E(k·P) − E((k−1)·P)) · M / (1 + d)^k`,
///
/// i.e. the purchases expected in month `k` are valued at the expected
/// spend and discounted as if they all happened at the end of that month.
/// `M` is the *conditional* spend estimate, which for a customer without
/// repeat purchases is the population mean `p v / (q − 1)`.
///
/// Returns `NaN` when an input is outside the models' domain (for example
/// `q <= 1` with `x = 0`, a discount rate `<= −1`, or a failing `₂F₁`
/// series; see [`BgNbdParams::try_expected_purchases`]).
pub fn clv(
    bg_nbd: &BgNbdParams,
    gamma_gamma: &GammaGammaParams,
    customer: &CustomerSummary,
    options: &ClvOptions,
) -> f64 {
    if options.monthly_discount_rate <= -1.0
        || !options.monthly_discount_rate.is_finite()
        || options.periods_per_month.is_nan()
        || options.periods_per_month <= 0.0
    {
        return f64::NAN;
    }
    let CustomerSummary {
        frequency: x,
        recency: t_x,
        t: big_t,
        monetary_value,
    } = *customer;
    let spend = gamma_gamma.expected_average_spend(x, monetary_value);
    let discount = 1.0 + options.monthly_discount_rate;
    let mut previous = 0.0;
    let mut factor = 1.0;
    let mut total = 0.0;
    for k in 1..=options.horizon_months {
        let e = bg_nbd.expected_purchases(f64::from(k) * options.periods_per_month, x, t_x, big_t);
        factor /= discount;
        total += (e - previous) * factor;
        previous = e;
    }
    total * spend
}

#[cfg(test)]
mod tests {
    use super::*;

    const BG: BgNbdParams = BgNbdParams::CDNOW_PAPER;
    const GG: GammaGammaParams = GammaGammaParams::CDNOW_PAPER;

    fn cust() -> CustomerSummary {
        CustomerSummary {
            frequency: 2.0,
            recency: 30.43,
            t: 38.86,
            monetary_value: 22.35,
        }
    }

    #[test]
    fn undiscounted_clv_is_expected_purchases_times_spend() {
        let c = cust();
        let o = ClvOptions::new(9, 0.0, TimeUnit::Weeks);
        let v = clv(&BG, &GG, &c, &o);
        let want = BG.expected_purchases(9.0 * o.periods_per_month, 2.0, 30.43, 38.86)
            * GG.expected_average_spend(2.0, 22.35);
        assert!((v - want).abs() < 1e-9 * want, "{v} vs {want}");
    }

    #[test]
    fn discounting_lowers_value_and_horizon_raises_it() {
        let c = cust();
        let v0 = clv(&BG, &GG, &c, &ClvOptions::new(12, 0.0, TimeUnit::Weeks));
        let v1 = clv(&BG, &GG, &c, &ClvOptions::new(12, 0.01, TimeUnit::Weeks));
        let v2 = clv(&BG, &GG, &c, &ClvOptions::new(24, 0.01, TimeUnit::Weeks));
        assert!(v1 < v0 && v1 > 0.0 && v2 > v1);
        assert_eq!(
            clv(&BG, &GG, &c, &ClvOptions::new(0, 0.01, TimeUnit::Weeks)),
            0.0
        );
    }

    #[test]
    fn time_unit_invariance() {
        // The same customer in days, with alpha scaled by 7, has the same CLV.
        let c = cust();
        let days = CustomerSummary {
            recency: c.recency * 7.0,
            t: c.t * 7.0,
            ..c
        };
        let bg_days = BgNbdParams {
            alpha: BG.alpha * 7.0,
            ..BG
        };
        let w = clv(&BG, &GG, &c, &ClvOptions::new(12, 0.01, TimeUnit::Weeks));
        let d = clv(
            &bg_days,
            &GG,
            &days,
            &ClvOptions::new(12, 0.01, TimeUnit::Days),
        );
        assert!((w - d).abs() < 1e-9 * w, "{w} vs {d}");
    }

    #[test]
    fn invalid_discount_is_nan() {
        let o = ClvOptions::new(12, -1.0, TimeUnit::Weeks);
        assert!(clv(&BG, &GG, &cust(), &o).is_nan());
    }
}
