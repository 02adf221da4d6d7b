//! Fit behaviour beyond CDNOW: parameter recovery on synthetic data and the
//! documented error cases.

use c360_predict::simulate::simulate_customers;
use c360_predict::{
    fit_bg_nbd, fit_bg_nbd_with, fit_gamma_gamma, fit_gamma_gamma_with, BgNbdParams,
    CustomerSummary, FitError, FitOptions, GammaGammaParams,
};

fn within(got: f64, want: f64, rel: f64) -> bool {
    ((got - want) / want).abs() <= rel
}

#[test]
fn recovers_parameters_from_synthetic_customers() {
    let bg = BgNbdParams {
        r: 0.8,
        alpha: 6.0,
        a: 1.5,
        b: 4.0,
    };
    let gg = GammaGammaParams {
        p: 4.0,
        q: 5.0,
        v: 20.0,
    };
    let cs = simulate_customers(&bg, &gg, 20_000, 20.0, 80.0, 42);
    let fit = fit_bg_nbd(&cs).unwrap();
    let p = fit.params;
    assert!(within(p.r, bg.r, 0.05), "{p:?}");
    assert!(within(p.alpha, bg.alpha, 0.05), "{p:?}");
    assert!(within(p.a, bg.a, 0.1), "{p:?}");
    assert!(within(p.b, bg.b, 0.1), "{p:?}");
    // The maximum beats the generating parameters on the sample.
    assert!(fit.log_likelihood >= bg.log_likelihood(&cs));
    let g = fit_gamma_gamma(&cs).unwrap();
    assert!(within(g.params.p, gg.p, 0.05), "{:?}", g.params);
    assert!(within(g.params.q, gg.q, 0.1), "{:?}", g.params);
    assert!(within(g.params.v, gg.v, 0.1), "{:?}", g.params);
    assert!(g.log_likelihood >= gg.log_likelihood(&cs));
}

#[test]
fn fit_is_independent_of_input_order() {
    let cs = simulate_customers(
        &BgNbdParams::CDNOW_PAPER,
        &GammaGammaParams::CDNOW_PAPER,
        500,
        27.0,
        39.0,
        3,
    );
    let mut rev = cs.clone();
    rev.reverse();
    assert_eq!(fit_bg_nbd(&cs).unwrap(), fit_bg_nbd(&rev).unwrap());
    assert_eq!(
        fit_gamma_gamma(&cs).unwrap(),
        fit_gamma_gamma(&rev).unwrap()
    );
}

fn c(x: f64, t_x: f64, t: f64, m: f64) -> CustomerSummary {
    CustomerSummary {
        frequency: x,
        recency: t_x,
        t,
        monetary_value: m,
    }
}

#[test]
fn insufficient_data() {
    assert_eq!(
        fit_bg_nbd(&[]),
        Err(FitError::InsufficientData {
            what: "customers",
            required: 10,
            found: 0
        })
    );
    let few = vec![c(1.0, 2.0, 3.0, 1.0); 9];
    assert!(matches!(
        fit_bg_nbd(&few),
        Err(FitError::InsufficientData {
            required: 10,
            found: 9,
            ..
        })
    ));
    let no_repeat = vec![c(0.0, 0.0, 30.0, 0.0); 100];
    let err = fit_bg_nbd(&no_repeat).unwrap_err();
    assert_eq!(
        err.to_string(),
        "insufficient data: need at least 1 repeat customers (frequency > 0), found 0"
    );
    assert!(matches!(
        fit_gamma_gamma(&no_repeat),
        Err(FitError::InsufficientData { found: 0, .. })
    ));
    // The threshold is configurable.
    let opts = FitOptions {
        min_customers: 200,
        ..FitOptions::default()
    };
    let cs = simulate_customers(
        &BgNbdParams::CDNOW_PAPER,
        &GammaGammaParams::CDNOW_PAPER,
        150,
        27.0,
        39.0,
        9,
    );
    assert!(matches!(
        fit_bg_nbd_with(&cs, &opts),
        Err(FitError::InsufficientData {
            required: 200,
            found: 150,
            ..
        })
    ));
    assert!(matches!(
        fit_gamma_gamma_with(&cs, &opts),
        Err(FitError::InsufficientData { required: 200, .. })
    ));
}

#[test]
fn invalid_data_names_the_customer_index() {
    let mut cs = vec![c(1.0, 2.0, 3.0, 1.0); 20];
    cs[7] = c(1.0, 5.0, 3.0, 1.0);
    match fit_bg_nbd(&cs) {
        Err(FitError::InvalidData { index, reason }) => {
            assert_eq!(index, 7);
            assert!(reason.contains("larger than T"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn evaluation_budget_exhaustion_is_reported() {
    let cs = simulate_customers(
        &BgNbdParams::CDNOW_PAPER,
        &GammaGammaParams::CDNOW_PAPER,
        300,
        27.0,
        39.0,
        5,
    );
    let opts = FitOptions {
        max_evaluations: 25,
        ..FitOptions::default()
    };
    match fit_bg_nbd_with(&cs, &opts) {
        Err(FitError::NotConverged {
            iterations,
            evaluations,
            reason,
            best_log_likelihood,
        }) => {
            assert!(iterations > 0 && evaluations >= 25);
            assert!(reason.contains("budget"), "{reason}");
            assert!(best_log_likelihood.is_finite());
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        fit_gamma_gamma_with(&cs, &opts),
        Err(FitError::NotConverged { .. })
    ));
}

#[test]
fn boundary_maximum_is_reported_as_not_converged() {
    // Everyone buys steadily right up to the end of the calibration period:
    // no evidence of dropout, so the likelihood keeps rising as the dropout
    // probability goes to 0 (a → 0 or b → ∞).
    let cs: Vec<CustomerSummary> = (0..200)
        .map(|i| {
            let t = 30.0 + (i % 10) as f64;
            c(10.0 + (i % 3) as f64, t, t, 5.0)
        })
        .collect();
    match fit_bg_nbd(&cs) {
        Err(FitError::NotConverged { reason, .. }) => {
            assert!(reason.contains("boundary"), "{reason}");
        }
        other => panic!("expected a boundary failure, got {other:?}"),
    }
}
