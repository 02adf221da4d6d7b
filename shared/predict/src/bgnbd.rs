//! The BG/NBD model (Fader, Hardie & Lee 2005, "Counting your customers the
//! easy way: an alternative to the Pareto/NBD model", Marketing Science 24(2)).
//!
//! While alive, a customer buys as a Poisson process with rate
//! `λ ~ Gamma(shape r, rate α)`; after each repeat purchase they drop out
//! with probability `p ~ Beta(a, b)`.

use serde::{Deserialize, Serialize};

use crate::error::{FitError, FitOptions};
use crate::optimize::{nelder_mead, NmOptions};
use crate::special::{hyp2f1_signed_log, ln_gamma, log_add_exp, Hyp2f1Error, HYP2F1_MAX_TERMS};
use crate::summary::CustomerSummary;

/// BG/NBD parameters: `r`, `alpha` (purchase-rate heterogeneity, `alpha` in
/// the summaries' time unit) and `a`, `b` (dropout heterogeneity). All > 0.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BgNbdParams {
    /// Shape of the Gamma mixing distribution of the purchase rate.
    pub r: f64,
    /// Rate (inverse scale) of the Gamma mixing distribution, in time units.
    pub alpha: f64,
    /// First Beta shape of the dropout probability.
    pub a: f64,
    /// Second Beta shape of the dropout probability.
    pub b: f64,
}

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

impl BgNbdParams {
    /// The parameters published for the CDNOW sample (weeks), Fader, Hardie & Lee (2005), Table/§4.
    pub const CDNOW_PAPER: BgNbdParams = BgNbdParams {
        r: 0.243,
        alpha: 4.414,
        a: 0.793,
        b: 2.426,
    };

    /// Log-likelihood of one customer with `x` repeat purchases, last at
    /// `t_x`, observed for `big_t` (equation 6 of the paper, in log space):
    ///
    /// `ln[ B(a,b+x)/B(a,b) · Γ(r+x)αʳ/(Γ(r)(α+T)^(r+x))
    ///      + δ(x>0) B(a+1,b+x-1)/B(a,b) · Γ(r+x)αʳ/(Γ(r)(α+t_x)^(r+x)) ]`.
    pub fn customer_log_likelihood(&self, x: f64, t_x: f64, big_t: f64) -> f64 {
        let BgNbdParams { r, alpha, a, b } = *self;
        let a1 = ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln();
        let a2 = ln_gamma(a + b) + ln_gamma(b + x) - ln_gamma(b) - ln_gamma(a + b + x);
        let a3 = -(r + x) * (alpha + big_t).ln();
        let tail = if x > 0.0 {
            log_add_exp(
                a3,
                a.ln() - (b + x - 1.0).ln() - (r + x) * (alpha + t_x).ln(),
            )
        } else {
            a3
        };
        a1 + a2 + tail
    }

    /// Total log-likelihood of `customers` (sum of
    /// [`customer_log_likelihood`](Self::customer_log_likelihood)); the
    /// paper reports −9582.4 for CDNOW at [`Self::CDNOW_PAPER`].
    pub fn log_likelihood(&self, customers: &[CustomerSummary]) -> f64 {
        customers
            .iter()
            .map(|c| self.customer_log_likelihood(c.frequency, c.recency, c.t))
            .sum()
    }

    /// Probability that a customer with history `(x, t_x, T)` is still alive
    /// at `T` (Fader, Hardie & Lee 2008 note, eq. 2):
    /// `1 / (1 + δ(x>0) · a/(b+x−1) · ((α+T)/(α+t_x))^(r+x))`.
    ///
    /// Exactly 1 for `x = 0`: in the BG/NBD model dropout can only happen
    /// right after a repeat purchase.
    pub fn p_alive(&self, x: f64, t_x: f64, big_t: f64) -> f64 {
        if x <= 0.0 {
            return 1.0;
        }
        let BgNbdParams { r, alpha, a, b } = *self;
        let u = a.ln() - (b + x - 1.0).ln() + (r + x) * ((alpha + big_t).ln() - (alpha + t_x).ln());
        // 1 / (1 + e^u), without overflow for large u.
        if u > 0.0 {
            let e = (-u).exp();
            e / (1.0 + e)
        } else {
            1.0 / (1.0 + u.exp())
        }
    }

    /// Expected number of purchases in the next `t` periods for a customer
    /// with history `(x, t_x, T)`, `E[Y(t) | x, t_x, T]` (paper, eq. 10):
    ///
    /// `(a+b+x−1)/(a−1) · [1 − ((α+T)/(α+T+t))^(r+x) ₂F₁(r+x, b+x; a+b+x−1; t/(α+T+t))] · P(alive)`.
    ///
    /// Returns `NaN` where the formula is undefined (`a+b+x−1` a non-positive
    /// integer, invalid inputs) or the series fails; use
    /// [`try_expected_purchases`](Self::try_expected_purchases) for the reason.
    pub fn expected_purchases(&self, t: f64, x: f64, t_x: f64, big_t: f64) -> f64 {
        self.try_expected_purchases(t, x, t_x, big_t)
            .unwrap_or(f64::NAN)
    }

    /// Expected purchases in `(0, t]` for a customer just acquired (paper,
    /// eq. 9): the conditional expectation with `x = t_x = T = 0`.
    pub fn expected_purchases_new_customer(&self, t: f64) -> f64 {
        self.expected_purchases(t, 0.0, 0.0, 0.0)
    }

    /// [`expected_purchases`](Self::expected_purchases) with the failure reason.
    ///
    /// Numerics: the bracket is computed as `−expm1(ln term)` with the
    /// `₂F₁` in log space, so large `x` cannot overflow. When `|a − 1| < 0.01`
    /// the ratio `[1 − …]/(a − 1)` is a 0/0 form; it is then evaluated from
    /// the Euler-transformed series
    /// `(1−z)^(r+x) ₂F₁(r+x,b+x;c;z) = (1−z)^(a−1) ₂F₁(a+b−1−r, a−1; c; z)`
    /// with the factor `(a−1)` divided out analytically (falling back to the
    /// direct form if that series cancels badly).
    pub fn try_expected_purchases(
        &self,
        t: f64,
        x: f64,
        t_x: f64,
        big_t: f64,
    ) -> Result<f64, Hyp2f1Error> {
        let BgNbdParams { r, alpha, a, b } = *self;
        let c = a + b + x - 1.0;
        let z = t / (alpha + big_t + t);
        if t == 0.0 && c != 0.0 {
            return Ok(0.0);
        }
        let ln_one_minus_z = (alpha + big_t).ln() - (alpha + big_t + t).ln();
        let direct = || -> Result<f64, Hyp2f1Error> {
            let f = hyp2f1_signed_log(r + x, b + x, c, z)?;
            let ln_term = (r + x) * ln_one_minus_z + f.ln_abs;
            // 1 - sign·e^ln_term
            let bracket = if f.sign > 0.0 {
                -ln_term.exp_m1()
            } else {
                1.0 + ln_term.exp()
            };
            Ok(bracket / (a - 1.0))
        };
        let ratio = if (a - 1.0).abs() < 0.01 {
            match near_one_ratio(r, a, b, c, z, ln_one_minus_z) {
                Ok(v) => v,
                Err(_) => direct()?,
            }
        } else {
            direct()?
        };
        Ok(c * ratio * self.p_alive(x, t_x, big_t))
    }
}

/// `[1 − (1−z)^(a−1) ₂F₁(A, a−1; c; z)] / (a−1)` with `A = a+b−1−r`, stable as `a → 1`:
/// `= −expm1((a−1)L)/(a−1) − e^((a−1)L) · S`, `S = Σₙ≥1 (a)ₙ₋₁ (A)ₙ / ((c)ₙ n!) zⁿ`.
fn near_one_ratio(
    r: f64,
    a: f64,
    b: f64,
    c: f64,
    z: f64,
    ln_one_minus_z: f64,
) -> Result<f64, Hyp2f1Error> {
    let big_a = a + b - 1.0 - r;
    let am1 = a - 1.0;
    let u = am1 * ln_one_minus_z;
    let first = if am1 == 0.0 {
        -ln_one_minus_z
    } else {
        -u.exp_m1() / am1
    };
    // Series S, same stopping rule as the general 2F1 series.
    if c <= 0.0 && c == c.floor() {
        return Err(Hyp2f1Error::OutOfDomain {
            a: big_a,
            b: am1,
            c,
            z,
        });
    }
    let warmup = 2.0 * (big_a.abs() + a.abs() + c.abs()) + 2.0;
    let mut term = big_a / c * z; // n = 1: (a)_0 (A)_1 / ((c)_1 1!) z
    let mut sum = term;
    let mut max_abs = term.abs();
    let mut n = 1usize;
    while term != 0.0 {
        let nf = n as f64;
        term *= (a + nf - 1.0) * (big_a + nf) / ((c + nf) * (nf + 1.0)) * z;
        sum += term;
        max_abs = max_abs.max(term.abs());
        n += 1;
        if nf > warmup {
            let next = ((a + nf) * (big_a + nf + 1.0) / ((c + nf + 1.0) * (nf + 2.0))).abs();
            let rr = z.abs() * next.max(1.0);
            if rr < 1.0 && term.abs() * rr / (1.0 - rr) <= 1e-17 * sum.abs().max(1e-300) {
                break;
            }
        }
        if n >= HYP2F1_MAX_TERMS {
            return Err(Hyp2f1Error::NotConverged { terms: n });
        }
    }
    let total = first - u.exp() * sum;
    if max_abs > 1e8 * total.abs().max(1e-300) {
        return Err(Hyp2f1Error::LossOfPrecision {
            ratio: max_abs / total.abs(),
        });
    }
    Ok(total)
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
    fn paper_conditional_expectation() {
        // Fader, Hardie & Lee (2005), §5: customer 1 of the CDNOW sample.
        let e = P.expected_purchases(39.0, 2.0, 30.43, 38.86);
        assert_eq!((e * 1000.0).round() / 1000.0, 1.226, "got {e}");
    }

    #[test]
    fn p_alive_is_one_without_repeat_purchase() {
        assert_eq!(P.p_alive(0.0, 0.0, 38.86), 1.0);
        assert_eq!(P.p_alive(0.0, 0.0, 1e6), 1.0);
        let p = P.p_alive(2.0, 30.43, 38.86);
        assert!(p > 0.0 && p < 1.0);
        // Recent purchasers are more likely alive than lapsed ones.
        assert!(P.p_alive(2.0, 38.0, 38.86) > P.p_alive(2.0, 5.0, 38.86));
        // No overflow for extreme histories.
        let q = P.p_alive(500.0, 1.0, 1000.0);
        assert!((0.0..1e-10).contains(&q));
    }

    #[test]
    fn log_likelihood_matches_direct_formula() {
        // Direct (non-log) evaluation of eq. 6 for a small case.
        let (x, t_x, big_t) = (3.0, 20.0, 35.0);
        let BgNbdParams { r, alpha, a, b } = P;
        let beta = |p: f64, q: f64| (ln_gamma(p) + ln_gamma(q) - ln_gamma(p + q)).exp();
        let g = (ln_gamma(r + x) - ln_gamma(r)).exp() * alpha.powf(r);
        let l = beta(a, b + x) / beta(a, b) * g / (alpha + big_t).powf(r + x)
            + beta(a + 1.0, b + x - 1.0) / beta(a, b) * g / (alpha + t_x).powf(r + x);
        let ll = P.customer_log_likelihood(x, t_x, big_t);
        assert!((ll - l.ln()).abs() < 1e-12, "{ll} vs {}", l.ln());
        // x = 0: only the first term.
        let l0 = (alpha / (alpha + big_t)).powf(r);
        assert!((P.customer_log_likelihood(0.0, 0.0, big_t) - l0.ln()).abs() < 1e-12);
    }

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

    #[test]
    fn expected_purchases_near_a_equal_one_is_continuous() {
        // Either side of the |a-1| < 0.01 switch and right at a = 1 the value is smooth.
        let at = |a: f64| BgNbdParams { a, ..P }.expected_purchases(39.0, 2.0, 30.43, 38.86);
        let vals = [
            at(0.985),
            at(0.995),
            at(0.999_999_9),
            at(1.0),
            at(1.000_000_1),
            at(1.005),
            at(1.015),
        ];
        for v in vals {
            assert!(v.is_finite() && v > 0.0);
        }
        assert!((vals[2] - vals[3]).abs() < 1e-6);
        assert!((vals[3] - vals[4]).abs() < 1e-6);
        // Switch points agree with the direct formula to high accuracy.
        let direct_side = at(1.0100001);
        let series_side = at(1.0099999);
        assert!((direct_side - series_side).abs() < 1e-6);
    }

    #[test]
    fn expected_purchases_reference_values() {
        // (params, t, x, t_x, T, value) with values from the closed form
        // evaluated by mpmath at 50 digits.
        let with = |r: f64, alpha: f64, a: f64| BgNbdParams { r, alpha, a, ..P };
        let cases = [
            (P, 39.0, 2.0, 30.43, 38.86, 1.226_028_174_767_144_4),
            (P, 39.0, 0.0, 0.0, 0.0, 1.196_723_193_320_817),
            (P, 52.0, 300.0, 38.0, 38.86, 123.343_961_452_586_63),
            (P, 520.0, 1.0, 5.0, 38.86, 1.940_381_015_292_929_6),
            (P, 5000.0, 3.0, 30.0, 38.86, 25.747_438_914_123_767),
            (
                with(0.243, 4.414, 1.005),
                39.0,
                2.0,
                30.43,
                38.86,
                1.099_411_431_039_505_6,
            ),
            (
                with(0.243, 4.414, 0.995),
                39.0,
                2.0,
                30.43,
                38.86,
                1.104_873_758_721_097_5,
            ),
            (
                with(0.243, 4.414, 1.0 + 1e-7),
                39.0,
                2.0,
                30.43,
                38.86,
                1.102_136_731_416_906_8,
            ),
            (
                with(50.0, 4.414, 0.793),
                39.0,
                5.0,
                20.0,
                38.86,
                3.270_903_362_720_624e-12,
            ),
            // near a = 1 with r large: the transformed series cancels, fallback path.
            (
                with(50.0, 20.0, 1.005),
                39.0,
                1.0,
                30.0,
                38.86,
                0.005_014_492_599_072_931,
            ),
        ];
        for (p, t, x, t_x, big_t, want) in cases {
            let got = p.expected_purchases(t, x, t_x, big_t);
            assert!(
                (got - want).abs() <= 1e-9 * want,
                "{p:?} t={t} x={x}: got {got}, want {want}"
            );
        }
    }

    #[test]
    fn expected_purchases_basic_properties() {
        assert_eq!(P.expected_purchases(0.0, 2.0, 30.43, 38.86), 0.0);
        let e1 = P.expected_purchases(10.0, 2.0, 30.43, 38.86);
        let e2 = P.expected_purchases(20.0, 2.0, 30.43, 38.86);
        assert!(e2 > e1 && e1 > 0.0);
        assert_eq!(
            P.expected_purchases_new_customer(39.0),
            P.expected_purchases(39.0, 0.0, 0.0, 0.0)
        );
        // Outside the domain: NaN, with the reason available.
        let bad = BgNbdParams {
            a: 0.5,
            b: 0.5,
            ..P
        };
        assert!(bad.expected_purchases(10.0, 0.0, 0.0, 5.0).is_nan());
        assert!(bad.try_expected_purchases(10.0, 0.0, 0.0, 5.0).is_err());
    }
}
