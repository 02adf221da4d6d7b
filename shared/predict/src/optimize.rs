//! A small, deterministic Nelder–Mead minimiser.
//!
//! Used on the *logarithms* of the (strictly positive) model parameters, so
//! the search is unconstrained and scale-free. Classic coefficients
//! (reflection 1, expansion 2, contraction ½, shrink ½). When the simplex has
//! collapsed (function spread and vertex spread below tolerance) the search
//! is restarted from the best vertex with a fresh simplex; it stops when a
//! restart no longer improves the objective. This guards against the
//! well-known false convergence of Nelder–Mead on a degenerate simplex.

/// Options for [`nelder_mead`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct NmOptions {
    /// Cap on objective evaluations (all restarts together).
    pub max_evaluations: usize,
    /// Convergence when `f_worst - f_best <= f_tol * (1 + |f_best|)`...
    pub f_tol: f64,
    /// ...and every vertex is within `x_tol` (max-norm) of the best one.
    pub x_tol: f64,
    /// Edge length of the initial simplex (in log-parameter units).
    pub initial_step: f64,
    /// Restarts allowed after the first convergence.
    pub max_restarts: usize,
}

/// Result of a minimisation.
#[derive(Debug, Clone)]
pub(crate) struct NmResult {
    pub x: Vec<f64>,
    pub f: f64,
    pub iterations: usize,
    pub evaluations: usize,
    pub converged: bool,
}

/// Minimise `f` from `x0`. Non-finite objective values are treated as `+∞`
/// (the simplex moves away from them).
pub(crate) fn nelder_mead<F>(mut f: F, x0: &[f64], opts: &NmOptions) -> NmResult
where
    F: FnMut(&[f64]) -> f64,
{
    let n = x0.len();
    let mut evals = 0usize;
    let mut eval = |x: &[f64], evals: &mut usize| -> f64 {
        *evals += 1;
        let v = f(x);
        if v.is_finite() {
            v
        } else {
            f64::INFINITY
        }
    };

    let mut best_x = x0.to_vec();
    let mut best_f = eval(&best_x, &mut evals);
    let mut iterations = 0usize;
    let mut restarts = 0usize;
    let mut step = opts.initial_step;

    loop {
        // Build the simplex around best_x.
        let mut simplex: Vec<(Vec<f64>, f64)> = Vec::with_capacity(n + 1);
        simplex.push((best_x.clone(), best_f));
        for i in 0..n {
            let mut v = best_x.clone();
            v[i] += step;
            let fv = eval(&v, &mut evals);
            simplex.push((v, fv));
        }

        let converged = run_simplex(&mut simplex, &mut eval, &mut evals, &mut iterations, opts);
        let (x_new, f_new) = simplex[0].clone();
        let improvement = best_f - f_new;
        let improved_much = improvement > opts.f_tol * (1.0 + f_new.abs());
        if f_new <= best_f {
            best_x = x_new;
            best_f = f_new;
        }
        if !converged {
            return NmResult {
                x: best_x,
                f: best_f,
                iterations,
                evaluations: evals,
                converged: false,
            };
        }
        if (restarts > 0 && !improved_much) || restarts >= opts.max_restarts {
            return NmResult {
                x: best_x,
                f: best_f,
                iterations,
                evaluations: evals,
                converged: true,
            };
        }
        restarts += 1;
        // Smaller restart simplex: we are near the optimum.
        step = (opts.initial_step * 0.1).max(100.0 * opts.x_tol);
    }
}

/// Runs Nelder–Mead iterations on `simplex` until convergence (returns
/// `true`) or the evaluation budget is spent (returns `false`). On return
/// `simplex[0]` is the best vertex.
fn run_simplex<E>(
    simplex: &mut [(Vec<f64>, f64)],
    eval: &mut E,
    evals: &mut usize,
    iterations: &mut usize,
    opts: &NmOptions,
) -> bool
where
    E: FnMut(&[f64], &mut usize) -> f64,
{
    const ALPHA: f64 = 1.0;
    const GAMMA: f64 = 2.0;
    const RHO: f64 = 0.5;
    const SIGMA: f64 = 0.5;
    let n = simplex.len() - 1;
    let sort = |s: &mut [(Vec<f64>, f64)]| {
        s.sort_by(|a, b| a.1.total_cmp(&b.1));
    };
    sort(simplex);
    loop {
        // Convergence test.
        let f_best = simplex[0].1;
        let f_worst = simplex[n].1;
        let f_spread_ok =
            f_worst.is_finite() && (f_worst - f_best) <= opts.f_tol * (1.0 + f_best.abs());
        let x_spread = simplex[1..]
            .iter()
            .flat_map(|(v, _)| v.iter().zip(&simplex[0].0).map(|(a, b)| (a - b).abs()))
            .fold(0.0_f64, f64::max);
        if f_spread_ok && x_spread <= opts.x_tol {
            return true;
        }
        if *evals >= opts.max_evaluations {
            return false;
        }
        *iterations += 1;

        // Centroid of all but the worst.
        let mut centroid = vec![0.0; n];
        for (v, _) in &simplex[..n] {
            for (c, x) in centroid.iter_mut().zip(v) {
                *c += x / n as f64;
            }
        }
        let worst = simplex[n].0.clone();
        let along = |t: f64| -> Vec<f64> {
            centroid
                .iter()
                .zip(&worst)
                .map(|(c, w)| c + t * (c - w))
                .collect()
        };

        let xr = along(ALPHA);
        let fr = eval(&xr, evals);
        if fr < simplex[0].1 {
            let xe = along(GAMMA);
            let fe = eval(&xe, evals);
            simplex[n] = if fe < fr { (xe, fe) } else { (xr, fr) };
        } else if fr < simplex[n - 1].1 {
            simplex[n] = (xr, fr);
        } else {
            // Contraction: outside if the reflection beat the worst, else inside.
            let (xc, fc) = if fr < simplex[n].1 {
                let xc = along(RHO);
                let fc = eval(&xc, evals);
                (xc, fc)
            } else {
                let xc = along(-RHO);
                let fc = eval(&xc, evals);
                (xc, fc)
            };
            if fc < simplex[n].1.min(fr) {
                simplex[n] = (xc, fc);
            } else {
                // Shrink towards the best vertex.
                let best = simplex[0].0.clone();
                for vertex in simplex.iter_mut().skip(1) {
                    let v: Vec<f64> = best
                        .iter()
                        .zip(&vertex.0)
                        .map(|(b, x)| b + SIGMA * (x - b))
                        .collect();
                    let fv = eval(&v, evals);
                    *vertex = (v, fv);
                }
            }
        }
        sort(simplex);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> NmOptions {
        NmOptions {
            max_evaluations: 20_000,
            f_tol: 1e-14,
            x_tol: 1e-9,
            initial_step: 0.5,
            max_restarts: 5,
        }
    }

    #[test]
    fn minimises_rosenbrock() {
        let rosen = |x: &[f64]| (1.0 - x[0]).powi(2) + 100.0 * (x[1] - x[0] * x[0]).powi(2);
        let r = nelder_mead(rosen, &[-1.2, 1.0], &opts());
        assert!(r.converged);
        assert!(
            (r.x[0] - 1.0).abs() < 1e-6 && (r.x[1] - 1.0).abs() < 1e-6,
            "{:?}",
            r.x
        );
    }

    #[test]
    fn minimises_shifted_quadratic_4d() {
        let target = [0.3, -1.2, 2.0, 0.01];
        let q = |x: &[f64]| {
            x.iter()
                .zip(&target)
                .enumerate()
                .map(|(i, (a, b))| (i as f64 + 1.0) * (a - b).powi(2))
                .sum::<f64>()
        };
        let r = nelder_mead(q, &[0.0; 4], &opts());
        assert!(r.converged);
        for (a, b) in r.x.iter().zip(&target) {
            assert!((a - b).abs() < 1e-6);
        }
    }

    #[test]
    fn reports_budget_exhaustion() {
        let mut o = opts();
        o.max_evaluations = 20;
        let rosen = |x: &[f64]| (1.0 - x[0]).powi(2) + 100.0 * (x[1] - x[0] * x[0]).powi(2);
        let r = nelder_mead(rosen, &[-1.2, 1.0], &o);
        assert!(!r.converged);
        assert!(r.evaluations >= 20);
    }

    #[test]
    fn avoids_non_finite_regions() {
        // Defined only for x > 0; minimum at x = 2.
        let f = |x: &[f64]| {
            if x[0] <= 0.0 {
                f64::NAN
            } else {
                (x[0] - 2.0).powi(2)
            }
        };
        let r = nelder_mead(f, &[0.1], &opts());
        assert!(r.converged);
        assert!((r.x[0] - 2.0).abs() < 1e-6);
    }
}
