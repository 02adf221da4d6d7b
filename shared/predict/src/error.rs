//! Error types and fit options.

use thiserror::Error;

/// Why a model fit failed.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum FitError {
    /// Too little data to identify the model: fewer than
    /// [`FitOptions::min_customers`] customers (BG/NBD) or repeat customers
    /// (Gamma-Gamma), or no repeat customer at all (BG/NBD cannot separate
    /// purchase rate from dropout without one).
    #[error("insufficient data: need at least {required} {what}, found {found}")]
    InsufficientData {
        /// What was counted, e.g. `"customers"` or `"repeat customers (frequency > 0)"`.
        what: &'static str,
        /// The minimum needed.
        required: usize,
        /// How many the input had.
        found: usize,
    },
    /// A customer summary is not valid input for the model (index into the
    /// slice passed to the fit).
    #[error("invalid customer summary at index {index}: {reason}")]
    InvalidData {
        /// Position in the input slice.
        index: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The optimiser stopped without a trustworthy maximum: the evaluation
    /// budget ran out, or a parameter ran off towards 0 or ∞ (the likelihood
    /// has no interior maximum for this data).
    #[error("fit did not converge after {iterations} iterations ({evaluations} likelihood evaluations): {reason}")]
    NotConverged {
        /// Nelder–Mead iterations performed.
        iterations: usize,
        /// Log-likelihood evaluations performed.
        evaluations: usize,
        /// Human-readable cause.
        reason: String,
        /// Best log-likelihood reached (sum over customers).
        best_log_likelihood: f64,
    },
}

/// Knobs for [`crate::fit_bg_nbd_with`] and [`crate::fit_gamma_gamma_with`].
/// [`Default`] is what [`crate::fit_bg_nbd`] / [`crate::fit_gamma_gamma`] use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitOptions {
    /// Cap on log-likelihood evaluations (all Nelder–Mead restarts together).
    pub max_evaluations: usize,
    /// Relative tolerance on the negative log-likelihood across the simplex:
    /// `f_worst - f_best <= tolerance * (1 + |f_best|)`.
    pub tolerance: f64,
    /// Tolerance on the log-parameters (max-norm distance of the simplex vertices).
    pub parameter_tolerance: f64,
    /// Minimum number of customers (BG/NBD) or repeat customers (Gamma-Gamma).
    pub min_customers: usize,
    /// A fitted parameter whose natural log exceeds this in absolute value
    /// (default 20, i.e. outside `[2e-9, 5e8]`) is reported as
    /// [`FitError::NotConverged`]: the maximum is at the boundary.
    pub max_abs_log_parameter: f64,
    /// L2 penalty on the parameters, as `lifetimes`' `penalizer_coef`: the fit minimises
    /// `−LL / n + penalizer · Σ θ²` (n customers, θ the natural parameters). 0 (the default)
    /// is plain maximum likelihood, which reproduces the papers. A small value (1e-4) keeps a
    /// small sample's fit off the boundary (for example a, b → ∞ when dropout looks
    /// homogeneous) at the cost of a slight shrinkage. The reported log-likelihood is the
    /// unpenalized one.
    pub penalizer: f64,
}

impl Default for FitOptions {
    fn default() -> Self {
        Self {
            max_evaluations: 20_000,
            tolerance: 1e-13,
            parameter_tolerance: 1e-8,
            min_customers: 10,
            max_abs_log_parameter: 20.0,
            penalizer: 0.0,
        }
    }
}
