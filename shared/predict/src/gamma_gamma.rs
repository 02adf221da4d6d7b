//! The Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV:
//! using iso-value curves for customer base analysis", JMR 42(4); Fader &
//! Hardie 2013, "The Gamma-Gamma model of monetary value").
//!
//! A customer's transaction values are `Gamma(p, ν)` with `ν ~ Gamma(q, v)`
//! across customers; spend is assumed independent of the purchase process.
//! Fitted on repeat customers only, with `x` = number of repeat transactions
//! and `m_x` = their mean value.

use serde::{Deserialize, Serialize};

use crate::error::{FitError, FitOptions};
use crate::optimize::{nelder_mead, NmOptions};
use crate::special::ln_gamma;
use crate::summary::CustomerSummary;

/// Gamma-Gamma parameters `p` (shape of transaction values), `q`, `v`
/// (shape and rate of the customers' `ν`). All > 0.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GammaGammaParams {
    /// Shape of an individual's transaction-value distribution.
    pub p: f64,
    /// Shape of the mixing distribution of the individual rate `ν`.
    pub q: f64,
    /// Rate of the mixing distribution of `ν` (the paper's `γ`).
    pub v: f64,
}

/// Result of [`fit_gamma_gamma`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GammaGammaFit {
    /// Maximum-likelihood parameters.
    pub params: GammaGammaParams,
    /// Log-likelihood at `params`, summed over the repeat customers.
    pub log_likelihood: f64,
    /// Nelder–Mead iterations.
    pub iterations: usize,
    /// Log-likelihood evaluations.
    pub evaluations: usize,
    /// Repeat customers used (those with `frequency > 0` and `monetary_value > 0`).
    pub customers: usize,
    /// Repeat customers left out because their repeat purchases total 0
    /// (`monetary_value == 0`, e.g. comped meals): the Gamma density has no
    /// mass at 0, so one such customer would otherwise make the whole fit
    /// fail. [`GammaGammaParams::expected_average_spend`] is still defined for
    /// them.
    pub excluded_zero_spend: usize,
}

impl GammaGammaParams {
    /// The parameters published for the CDNOW sample (946 repeat customers).
    pub const CDNOW_PAPER: GammaGammaParams = GammaGammaParams {
        p: 6.25,
        q: 3.74,
        v: 15.44,
    };

    /// `E[M | x, m_x] = p (v + x m_x) / (p x + q − 1)`: the posterior mean of
    /// a customer's expected transaction value, a weighted average of the
    /// population mean `p v / (q − 1)` and the observed mean `m_x`.
    ///
    /// For `x = 0` this is the population mean, finite only when `q > 1`;
    /// `NaN` is returned when `p x + q − 1 <= 0`. `m_x = 0` (repeat purchases
    /// that cost nothing) is allowed: the estimate is then `p v / (p x + q − 1)`,
    /// shrunk towards 0 as `x` grows.
    pub fn expected_average_spend(&self, x: f64, m_x: f64) -> f64 {
        let GammaGammaParams { p, q, v } = *self;
        let den = p * x + q - 1.0;
        if den <= 0.0 {
            return f64::NAN;
        }
        p * (v + x * m_x) / den
    }

    /// Population mean transaction value `p v / (q − 1)` (`NaN` if `q <= 1`).
    pub fn population_mean_spend(&self) -> f64 {
        self.expected_average_spend(0.0, 0.0)
    }

    /// Log-likelihood of one repeat customer's mean spend `m_x` over `x` transactions:
    /// `ln Γ(px+q) − ln Γ(px) − ln Γ(q) + q ln v + (px−1) ln m_x + px ln x − (px+q) ln(v + x m_x)`.
    pub fn customer_log_likelihood(&self, x: f64, m_x: f64) -> f64 {
        let GammaGammaParams { p, q, v } = *self;
        let px = p * x;
        ln_gamma(px + q) - ln_gamma(px) - ln_gamma(q)
            + q * v.ln()
            + (px - 1.0) * m_x.ln()
            + px * x.ln()
            - (px + q) * (v + x * m_x).ln()
    }

    /// Summed log-likelihood over the customers the fit uses: `frequency > 0`
    /// and `monetary_value > 0` (others carry no spend information the model
    /// can evaluate and are skipped).
    pub fn log_likelihood(&self, customers: &[CustomerSummary]) -> f64 {
        customers
            .iter()
            .filter(|c| c.frequency > 0.0 && c.monetary_value > 0.0)
            .map(|c| self.customer_log_likelihood(c.frequency, c.monetary_value))
            .sum()
    }
}

/// Maximum-likelihood Gamma-Gamma fit with [`FitOptions::default`].
pub fn fit_gamma_gamma(customers: &[CustomerSummary]) -> Result<GammaGammaFit, FitError> {
    fit_gamma_gamma_with(customers, &FitOptions::default())
}

/// Maximum-likelihood Gamma-Gamma fit on the repeat customers
/// (`frequency > 0`) of `customers`; the others are ignored, so the same
/// slice as for [`crate::fit_bg_nbd`] can be passed. Repeat customers whose
/// `monetary_value` is exactly 0 are left out and counted in
/// [`GammaGammaFit::excluded_zero_spend`] (the model's spend is Gamma
/// distributed, with no mass at 0).
///
/// Nelder–Mead over `ln p, ln q, ln v` from `p = 1, q = 2, v = mean(m_x)`.
///
/// Errors: [`FitError::InvalidData`] when a summary is invalid or a repeat
/// customer's `monetary_value` is negative; [`FitError::InsufficientData`]
/// with fewer than `options.min_customers` repeat customers with spend;
/// [`FitError::NotConverged`] as for the BG/NBD fit.
pub fn fit_gamma_gamma_with(
    customers: &[CustomerSummary],
    options: &FitOptions,
) -> Result<GammaGammaFit, FitError> {
    let mut rows: Vec<(f64, f64)> = Vec::new();
    let mut excluded_zero_spend = 0;
    for (index, c) in customers.iter().enumerate() {
        c.validate()
            .map_err(|reason| FitError::InvalidData { index, reason })?;
        if c.frequency > 0.0 {
            if c.monetary_value < 0.0 {
                return Err(FitError::InvalidData {
                    index,
                    reason: format!(
                        "monetary_value must be >= 0 for a repeat customer, got {}",
                        c.monetary_value
                    ),
                });
            }
            if c.monetary_value == 0.0 {
                excluded_zero_spend += 1;
                continue;
            }
            rows.push((c.frequency, c.monetary_value));
        }
    }
    let required = options.min_customers.max(1);
    if rows.len() < required {
        return Err(FitError::InsufficientData {
            what: "repeat customers with spend (frequency > 0, monetary_value > 0)",
            required,
            found: rows.len(),
        });
    }
    // Group the ln Γ terms by distinct x. Sorting by (x, m) also makes the
    // fit independent of the input order, to the last bit.
    rows.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let mut xs: Vec<f64> = Vec::new();
    // (index into xs, ln m, x·m, ln x)
    let mut prepared: Vec<(usize, f64, f64, f64)> = Vec::with_capacity(rows.len());
    for &(x, m) in &rows {
        if xs.last() != Some(&x) {
            xs.push(x);
        }
        prepared.push((xs.len() - 1, m.ln(), x * m, x.ln()));
    }
    let mean_m = rows.iter().map(|r| r.1).sum::<f64>() / rows.len() as f64;

    let wall = options.max_abs_log_parameter + 10.0;
    let mut per_x: Vec<f64> = Vec::with_capacity(xs.len());
    let n = rows.len() as f64;
    let penalty =
        |theta: &[f64]| n * options.penalizer * theta.iter().map(|t| t.exp().powi(2)).sum::<f64>();
    let objective = |theta: &[f64]| -> f64 {
        if theta.iter().any(|v| v.abs() > wall) {
            return f64::INFINITY;
        }
        let (p, q, v) = (theta[0].exp(), theta[1].exp(), theta[2].exp());
        let lg_q = ln_gamma(q);
        let q_ln_v = q * theta[2];
        per_x.clear();
        per_x.extend(
            xs.iter()
                .map(|&x| ln_gamma(p * x + q) - ln_gamma(p * x) - lg_q + q_ln_v),
        );
        let mut ll = 0.0;
        for &(xi, ln_m, xm, ln_x) in &prepared {
            let px = p * xs[xi];
            ll += per_x[xi] + (px - 1.0) * ln_m + px * ln_x - (px + q) * (v + xm).ln();
        }
        -ll + penalty(theta)
    };
    let nm = nelder_mead(
        objective,
        &[0.0, 2f64.ln(), mean_m.ln()],
        &NmOptions {
            max_evaluations: options.max_evaluations,
            f_tol: options.tolerance,
            x_tol: options.parameter_tolerance,
            initial_step: 0.5,
            max_restarts: 10,
        },
    );
    let params = GammaGammaParams {
        p: nm.x[0].exp(),
        q: nm.x[1].exp(),
        v: nm.x[2].exp(),
    };
    if !nm.converged {
        return Err(FitError::NotConverged {
            iterations: nm.iterations,
            evaluations: nm.evaluations,
            reason: format!(
                "evaluation budget of {} exhausted (best p={}, q={}, v={})",
                options.max_evaluations, params.p, params.q, params.v
            ),
            best_log_likelihood: -nm.f,
        });
    }
    if let Some((name, v)) = ["p", "q", "v"]
        .iter()
        .zip(&nm.x)
        .find(|(_, v)| v.abs() > options.max_abs_log_parameter)
    {
        return Err(FitError::NotConverged {
            iterations: nm.iterations,
            evaluations: nm.evaluations,
            reason: format!(
                "parameter {name} ran to the boundary ({}): the likelihood has no interior maximum for this data",
                v.exp()
            ),
            best_log_likelihood: -nm.f,
        });
    }
    Ok(GammaGammaFit {
        params,
        log_likelihood: -(nm.f - penalty(&nm.x)),
        iterations: nm.iterations,
        evaluations: nm.evaluations,
        customers: rows.len(),
        excluded_zero_spend,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: GammaGammaParams = GammaGammaParams::CDNOW_PAPER;

    #[test]
    fn expected_spend_is_shrunk_mean() {
        // Population mean p v / (q - 1).
        let pop = P.population_mean_spend();
        assert!((pop - 6.25 * 15.44 / 2.74).abs() < 1e-12);
        assert_eq!(P.expected_average_spend(0.0, 0.0), pop);
        // Lies between the population mean and the observed mean, closer to the
        // observed one as x grows.
        let e1 = P.expected_average_spend(1.0, 100.0);
        let e10 = P.expected_average_spend(10.0, 100.0);
        assert!(pop < e1 && e1 < e10 && e10 < 100.0);
        assert!(GammaGammaParams { q: 0.9, ..P }
            .expected_average_spend(0.0, 0.0)
            .is_nan());
    }

    #[test]
    fn customer_log_likelihood_is_a_density_in_m() {
        // ∫ f(m | x) dm = 1: integrate numerically (trapezoid on a log grid).
        let x = 3.0;
        let mut total = 0.0;
        let (lo, hi, n) = (1e-3_f64.ln(), 1e5_f64.ln(), 200_000);
        let h = (hi - lo) / n as f64;
        for i in 0..=n {
            let u = lo + i as f64 * h;
            let m = u.exp();
            let w = if i == 0 || i == n { 0.5 } else { 1.0 };
            total += w * (P.customer_log_likelihood(x, m)).exp() * m * h;
        }
        assert!((total - 1.0).abs() < 1e-6, "{total}");
    }

    #[test]
    fn insufficient_and_invalid_data() {
        let c = |f: f64, m: f64| CustomerSummary {
            frequency: f,
            recency: f,
            t: 40.0,
            monetary_value: m,
        };
        let none = vec![c(0.0, 0.0); 20];
        assert!(matches!(
            fit_gamma_gamma(&none),
            Err(FitError::InsufficientData { found: 0, .. })
        ));
        let mut bad = vec![c(1.0, 10.0); 20];
        bad[3] = c(2.0, -5.0);
        assert!(matches!(
            fit_gamma_gamma(&bad),
            Err(FitError::InvalidData { index: 3, .. })
        ));
    }

    #[test]
    fn a_repeat_customer_with_zero_spend_is_left_out_and_counted() {
        let c = |f: f64, m: f64| CustomerSummary {
            frequency: f,
            recency: f,
            t: 40.0,
            monetary_value: m,
        };
        let paying: Vec<CustomerSummary> = crate::simulate::simulate_customers(
            &crate::BgNbdParams::CDNOW_PAPER,
            &P,
            300,
            27.0,
            39.0,
            5,
        )
        .into_iter()
        .filter(|c| c.frequency > 0.0)
        .collect();
        let without = fit_gamma_gamma(&paying).unwrap();
        let mut with_comped = paying.clone();
        with_comped.insert(7, c(1.0, 0.0));
        with_comped.push(c(3.0, 0.0));
        let with = fit_gamma_gamma(&with_comped).unwrap();
        assert_eq!(
            (with.customers, with.excluded_zero_spend),
            (paying.len(), 2)
        );
        assert_eq!(without.excluded_zero_spend, 0);
        assert_eq!(with.params, without.params);
        assert_eq!(
            with.params.log_likelihood(&with_comped),
            with.params.log_likelihood(&paying)
        );
        // They still have an expected spend: p v / (p x + q - 1), below the population mean.
        let g = with.params;
        let e = g.expected_average_spend(1.0, 0.0);
        assert!((e - g.p * g.v / (g.p + g.q - 1.0)).abs() < 1e-12);
        assert!(e > 0.0 && e < g.population_mean_spend());
    }
}
