//! The BG/NBD model (Fader, Hardie & Lee 2005, "Counting your customers the
//! easy way: an alternative to the Pareto/NBD model", Marketing Science 24(2)).
//!
//! While alive, a customer buys as a Poisson process with rate
//! `λ ~ Gamma(shape r, rate α)`; after each repeat purchase they drop out
//! with probability `p ~ Beta(a, b)`.
//!
//! This file evaluates the model for given parameters; `fit.rs` estimates them
//! ([`fit_bg_nbd`]).

mod fit;

use serde::{Deserialize, Serialize};

use crate::special::{hyp2f1_signed_log, ln_gamma, log_add_exp, Hyp2f1Error, HYP2F1_MAX_TERMS};
use crate::summary::CustomerSummary;

pub use fit::{fit_bg_nbd, fit_bg_nbd_with, BgNbdFit};

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
