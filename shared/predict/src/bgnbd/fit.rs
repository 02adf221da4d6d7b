//! The maximum-likelihood fit of the BG/NBD parameters to a set of customer summaries.

use serde::{Deserialize, Serialize};

use super::BgNbdParams;
use crate::error::{FitError, FitOptions};
use crate::optimize::{nelder_mead, NmOptions};
use crate::special::{ln_gamma, log_add_exp};
use crate::summary::CustomerSummary;

/// Result of [`fit_bg_nbd`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BgNbdFit {
    /// Maximum-likelihood parameters.
    pub params: BgNbdParams,
    /// Log-likelihood at `params`, summed over all customers (the paper's scale).
    pub log_likelihood: f64,
    /// Nelder–Mead iterations.
    pub iterations: usize,
    /// Log-likelihood evaluations.
    pub evaluations: usize,
    /// Customers used.
    pub customers: usize,
}

/// Customers with identical `(x, t_x, T)` collapsed into weights, grouped by
/// distinct `x` so the `ln Γ` terms are computed once per distinct frequency.
struct Prepared {
    /// Distinct frequencies.
    xs: Vec<f64>,
    /// `(index into xs, t_x, T, weight)`.
    rows: Vec<(usize, f64, f64, f64)>,
}

impl Prepared {
    fn new(customers: &[CustomerSummary]) -> Self {
        let mut keyed: Vec<(u64, u64, u64)> = customers
            .iter()
            .map(|c| {
                let t_x = if c.frequency > 0.0 { c.recency } else { 0.0 };
                // +0.0 normalises -0.0.
                (
                    (c.frequency + 0.0).to_bits(),
                    (t_x + 0.0).to_bits(),
                    (c.t + 0.0).to_bits(),
                )
            })
            .collect();
        // Non-negative finite f64s sort like their bit patterns.
        keyed.sort_unstable();
        let mut xs: Vec<f64> = Vec::new();
        let mut rows: Vec<(usize, f64, f64, f64)> = Vec::new();
        let mut prev: Option<(u64, u64, u64)> = None;
        for k in keyed {
            if prev == Some(k) {
                if let Some(last) = rows.last_mut() {
                    last.3 += 1.0;
                }
                continue;
            }
            let x = f64::from_bits(k.0);
            if xs.last() != Some(&x) {
                xs.push(x);
            }
            rows.push((xs.len() - 1, f64::from_bits(k.1), f64::from_bits(k.2), 1.0));
            prev = Some(k);
        }
        Prepared { xs, rows }
    }

    fn log_likelihood(&self, p: &BgNbdParams, scratch: &mut Vec<[f64; 3]>) -> f64 {
        let BgNbdParams { r, alpha, a, b } = *p;
        let ln_alpha = alpha.ln();
        let lg_r = ln_gamma(r);
        let lg_ab = ln_gamma(a + b);
        let lg_b = ln_gamma(b);
        let ln_a = a.ln();
        scratch.clear();
        scratch.extend(self.xs.iter().map(|&x| {
            let a1 = ln_gamma(r + x) - lg_r + r * ln_alpha;
            let a2 = lg_ab + ln_gamma(b + x) - lg_b - ln_gamma(a + b + x);
            let a4 = if x > 0.0 {
                ln_a - (b + x - 1.0).ln()
            } else {
                f64::NEG_INFINITY
            };
            [a1 + a2, a4, r + x]
        }));
        let mut total = 0.0;
        for &(xi, t_x, big_t, w) in &self.rows {
            let [head, a4, rx] = scratch[xi];
            let a3 = -rx * (alpha + big_t).ln();
            let ll = if a4 == f64::NEG_INFINITY {
                head + a3
            } else {
                head + log_add_exp(a3, a4 - rx * (alpha + t_x).ln())
            };
            total += w * ll;
        }
        total
    }
}

/// Maximum-likelihood BG/NBD fit with [`FitOptions::default`].
pub fn fit_bg_nbd(customers: &[CustomerSummary]) -> Result<BgNbdFit, FitError> {
    fit_bg_nbd_with(customers, &FitOptions::default())
}

/// Maximum-likelihood BG/NBD fit.
///
/// Maximises the summed log-likelihood over `ln r, ln α, ln a, ln b` with
/// Nelder–Mead (restarted from the best vertex until a restart no longer
/// improves), starting from `r = a = b = 1`, `α = mean(T) / mean(x)`.
///
/// Errors: [`FitError::InvalidData`] for a summary failing
/// [`CustomerSummary::validate`]; [`FitError::InsufficientData`] for fewer
/// than `options.min_customers` customers or no repeat customer;
/// [`FitError::NotConverged`] when the evaluation budget runs out or a
/// parameter runs to the boundary (|ln θ| > `options.max_abs_log_parameter`).
pub fn fit_bg_nbd_with(
    customers: &[CustomerSummary],
    options: &FitOptions,
) -> Result<BgNbdFit, FitError> {
    for (index, c) in customers.iter().enumerate() {
        c.validate()
            .map_err(|reason| FitError::InvalidData { index, reason })?;
    }
    let required = options.min_customers.max(1);
    if customers.len() < required {
        return Err(FitError::InsufficientData {
            what: "customers",
            required,
            found: customers.len(),
        });
    }
    let repeat = customers.iter().filter(|c| c.frequency > 0.0).count();
    if repeat == 0 {
        return Err(FitError::InsufficientData {
            what: "repeat customers (frequency > 0)",
            required: 1,
            found: 0,
        });
    }
    // Everything below works on the sorted, de-duplicated rows, so the fit
    // does not depend on the order of `customers` (not even in the last bit).
    let prepared = Prepared::new(customers);
    let n = customers.len() as f64;
    let mean_x = prepared
        .rows
        .iter()
        .map(|&(xi, _, _, w)| w * prepared.xs[xi])
        .sum::<f64>()
        / n;
    let mean_t = prepared.rows.iter().map(|&(_, _, t, w)| w * t).sum::<f64>() / n;
    let alpha0 = (mean_t / mean_x).clamp(1e-3, 1e6);

    let wall = options.max_abs_log_parameter + 10.0;
    let mut scratch = Vec::with_capacity(prepared.xs.len());
    let penalty =
        |theta: &[f64]| n * options.penalizer * theta.iter().map(|t| t.exp().powi(2)).sum::<f64>();
    let objective = |theta: &[f64]| -> f64 {
        if theta.iter().any(|v| v.abs() > wall) {
            return f64::INFINITY;
        }
        let p = BgNbdParams {
            r: theta[0].exp(),
            alpha: theta[1].exp(),
            a: theta[2].exp(),
            b: theta[3].exp(),
        };
        -prepared.log_likelihood(&p, &mut scratch) + penalty(theta)
    };
    let nm = nelder_mead(
        objective,
        &[0.0, alpha0.ln(), 0.0, 0.0],
        &NmOptions {
            max_evaluations: options.max_evaluations,
            f_tol: options.tolerance,
            x_tol: options.parameter_tolerance,
            initial_step: 0.5,
            max_restarts: 10,
        },
    );
    let params = BgNbdParams {
        r: nm.x[0].exp(),
        alpha: nm.x[1].exp(),
        a: nm.x[2].exp(),
        b: nm.x[3].exp(),
    };
    if !nm.converged {
        return Err(FitError::NotConverged {
            iterations: nm.iterations,
            evaluations: nm.evaluations,
            reason: format!(
                "evaluation budget of {} exhausted (best r={}, alpha={}, a={}, b={})",
                options.max_evaluations, params.r, params.alpha, params.a, params.b
            ),
            best_log_likelihood: -nm.f,
        });
    }
    if let Some((name, v)) = ["r", "alpha", "a", "b"]
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
    Ok(BgNbdFit {
        params,
        log_likelihood: -(nm.f - penalty(&nm.x)),
        iterations: nm.iterations,
        evaluations: nm.evaluations,
        customers: customers.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: BgNbdParams = BgNbdParams::CDNOW_PAPER;

    #[test]
    fn grouped_likelihood_equals_plain_sum() {
        let cs: Vec<CustomerSummary> = (0..50)
            .map(|i| {
                let x = (i % 5) as f64;
                CustomerSummary {
                    frequency: x,
                    recency: if x > 0.0 { (i % 7) as f64 * 3.0 } else { 0.0 },
                    t: 30.0 + (i % 3) as f64,
                    monetary_value: 0.0,
                }
            })
            .collect();
        let prep = Prepared::new(&cs);
        assert!(prep.rows.len() < cs.len());
        let mut scratch = Vec::new();
        let a = prep.log_likelihood(&P, &mut scratch);
        let b = P.log_likelihood(&cs);
        assert!((a - b).abs() < 1e-9 * b.abs());
    }
}
