//! Deterministic synthetic customers drawn from the BG/NBD and Gamma-Gamma
//! generative processes, for tests and benchmarks. Pure: the random stream
//! is a seeded SplitMix64, so the same seed gives the same customers.

use crate::bgnbd::BgNbdParams;
use crate::gamma_gamma::GammaGammaParams;
use crate::summary::CustomerSummary;

/// SplitMix64 pseudo-random generator (not cryptographic).
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in the open interval (0, 1).
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.uniform(), self.uniform());
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// `Gamma(shape, rate)` (Marsaglia–Tsang, with the `shape < 1` boost).
    pub fn gamma(&mut self, shape: f64, rate: f64) -> f64 {
        if shape < 1.0 {
            let u = self.uniform();
            return self.gamma(shape + 1.0, rate) * u.powf(1.0 / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = (1.0 + c * x).powi(3);
            if v <= 0.0 {
                continue;
            }
            let u = self.uniform();
            if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
                return d * v / rate;
            }
        }
    }

    /// `Beta(a, b)`.
    pub fn beta(&mut self, a: f64, b: f64) -> f64 {
        let x = self.gamma(a, 1.0);
        let y = self.gamma(b, 1.0);
        x / (x + y)
    }
}

/// `n` customers from the BG/NBD process (ages `T` uniform in
/// `[t_min, t_max]`) with Gamma-Gamma spend; recency/T in the time unit of
/// `bg.alpha`. `monetary_value` is the mean of the repeat transactions.
pub fn simulate_customers(
    bg: &BgNbdParams,
    gg: &GammaGammaParams,
    n: usize,
    t_min: f64,
    t_max: f64,
    seed: u64,
) -> Vec<CustomerSummary> {
    let mut rng = SplitMix64::new(seed);
    (0..n)
        .map(|_| {
            let big_t = t_min + (t_max - t_min) * rng.uniform();
            let lambda = rng.gamma(bg.r, bg.alpha);
            let p = rng.beta(bg.a, bg.b);
            let nu = rng.gamma(gg.q, gg.v);
            let (mut t, mut x, mut t_x, mut spend) = (0.0, 0u32, 0.0, 0.0);
            loop {
                t += -rng.uniform().ln() / lambda;
                if t > big_t {
                    break;
                }
                x += 1;
                t_x = t;
                spend += rng.gamma(gg.p, nu);
                if rng.uniform() < p {
                    break;
                }
            }
            CustomerSummary {
                frequency: f64::from(x),
                recency: t_x,
                t: big_t,
                monetary_value: if x > 0 { spend / f64::from(x) } else { 0.0 },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gamma_moments() {
        let mut rng = SplitMix64::new(7);
        for &(shape, rate) in &[(0.3, 2.0), (2.5, 0.5), (6.25, 1.0)] {
            let n = 200_000;
            let xs: Vec<f64> = (0..n).map(|_| rng.gamma(shape, rate)).collect();
            let mean = xs.iter().sum::<f64>() / n as f64;
            let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
            assert!(
                (mean - shape / rate).abs() < 0.02 * shape / rate + 0.01,
                "{shape} {mean}"
            );
            let want_var = shape / (rate * rate);
            assert!((var - want_var).abs() < 0.05 * want_var, "{shape} {var}");
        }
    }

    #[test]
    fn deterministic() {
        let a = simulate_customers(
            &BgNbdParams::CDNOW_PAPER,
            &GammaGammaParams::CDNOW_PAPER,
            100,
            20.0,
            40.0,
            1,
        );
        let b = simulate_customers(
            &BgNbdParams::CDNOW_PAPER,
            &GammaGammaParams::CDNOW_PAPER,
            100,
            20.0,
            40.0,
            1,
        );
        assert_eq!(a, b);
        assert!(a.iter().all(|c| c.validate().is_ok()));
    }
}
