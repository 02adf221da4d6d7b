//! Reproduces the published CDNOW numbers:
//!
//! * BG/NBD — Fader, Hardie & Lee (2005), "Counting your customers the easy
//!   way": r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = −9582.4;
//!   E[Y(39) | x = 2, t_x = 30.43, T = 38.86] = 1.226.
//! * Gamma-Gamma — Fader, Hardie & Lee (2005), "RFM and CLV": p = 6.25,
//!   q = 3.74, v (γ) = 15.44 on the 946 repeat customers.
//!
//! From the raw transaction log `data/CDNOW_sample.txt`, calibration through
//! 1997-09-30 (inclusive), weeks.

use c360_predict::{
    date::parse_date, fit_bg_nbd, fit_gamma_gamma, input, summarize, BgNbdParams, CustomerSummary,
    GammaGammaParams, TimeUnit,
};

const RAW: &str = include_str!("../data/CDNOW_sample.txt");
const SUMMARY: &str = include_str!("../data/cdnow_customers_summary_with_transactions.csv");

/// Rounds to `digits` decimals, as the paper reports.
fn round(v: f64, digits: i32) -> f64 {
    let s = 10f64.powi(digits);
    (v * s).round() / s
}

fn raw_summaries() -> Vec<(String, CustomerSummary)> {
    let tx = input::parse_cdnow(RAW).expect("CDNOW sample parses");
    assert_eq!(tx.len(), 6919);
    let end = parse_date("1997-09-30").unwrap();
    summarize(&tx, end, TimeUnit::Weeks).unwrap()
}

fn published_summaries() -> Vec<CustomerSummary> {
    input::parse_summary_csv(SUMMARY)
        .unwrap()
        .into_iter()
        .map(|(_, s)| s)
        .collect()
}

#[test]
fn raw_log_reproduces_published_summary() {
    // Customer ids are the sample ids 0001..2357, the published file's ID
    // column, so the sorted summaries line up with its rows. x, t_x, T match exactly (after
    // rounding to 2 decimals) and the average repeat spend to the cent.
    let raw = raw_summaries();
    let published = published_summaries();
    assert_eq!(raw.len(), 2357);
    assert_eq!(published.len(), 2357);
    for (i, ((id, r), p)) in raw.iter().zip(&published).enumerate() {
        assert_eq!(id.parse::<usize>().unwrap(), i + 1);
        assert_eq!(r.frequency, p.frequency, "customer {id}");
        assert_eq!(round(r.recency, 2), p.recency, "customer {id}");
        assert_eq!(round(r.t, 2), p.t, "customer {id}");
        assert!(
            (r.monetary_value - p.monetary_value).abs() <= 0.005 + 1e-9,
            "customer {id}: {} vs {}",
            r.monetary_value,
            p.monetary_value
        );
    }
    assert_eq!(raw.iter().filter(|(_, c)| c.frequency > 0.0).count(), 946);
    // The paper's 2,457 repeat transactions in the calibration period.
    let repeat: f64 = raw.iter().map(|(_, c)| c.frequency).sum();
    assert_eq!(repeat, 2457.0);
}

#[test]
fn bg_nbd_fit_matches_paper() {
    let s: Vec<CustomerSummary> = raw_summaries().into_iter().map(|(_, c)| c).collect();
    let fit = fit_bg_nbd(&s).unwrap();
    let p = fit.params;
    assert_eq!(round(p.r, 3), 0.243, "{p:?}");
    assert_eq!(round(p.alpha, 3), 4.414, "{p:?}");
    assert_eq!(round(p.a, 3), 0.793, "{p:?}");
    assert_eq!(round(p.b, 3), 2.426, "{p:?}");
    assert_eq!(round(fit.log_likelihood, 1), -9582.4, "{fit:?}");
    assert_eq!(fit.customers, 2357);
}

#[test]
fn bg_nbd_fit_on_published_summary_matches_paper() {
    let fit = fit_bg_nbd(&published_summaries()).unwrap();
    let p = fit.params;
    assert_eq!(
        [
            round(p.r, 3),
            round(p.alpha, 3),
            round(p.a, 3),
            round(p.b, 3)
        ],
        [0.243, 4.414, 0.793, 2.426],
        "{p:?}"
    );
    assert_eq!(round(fit.log_likelihood, 1), -9582.4);
}

#[test]
fn log_likelihood_at_paper_parameters() {
    let s: Vec<CustomerSummary> = raw_summaries().into_iter().map(|(_, c)| c).collect();
    let ll = BgNbdParams::CDNOW_PAPER.log_likelihood(&s);
    assert_eq!(round(ll, 1), -9582.4, "{ll}");
    // The fitted maximum is at least as high as the rounded published point.
    let fit = fit_bg_nbd(&s).unwrap();
    assert!(fit.log_likelihood >= ll);
}

#[test]
fn gamma_gamma_fit_matches_paper() {
    let s: Vec<CustomerSummary> = raw_summaries().into_iter().map(|(_, c)| c).collect();
    let fit = fit_gamma_gamma(&s).unwrap();
    let g = fit.params;
    assert_eq!(fit.customers, 946);
    assert_eq!(round(g.p, 2), 6.25, "{g:?}");
    assert_eq!(round(g.q, 2), 3.74, "{g:?}");
    assert_eq!(round(g.v, 2), 15.44, "{g:?}");
    assert!(fit.log_likelihood >= GammaGammaParams::CDNOW_PAPER.log_likelihood(&s));
}

#[test]
fn gamma_gamma_on_cent_rounded_summary_gives_lifetimes_numbers() {
    // The published summary rounds the average spend to cents; that alone
    // moves v to 15.45 (what the lifetimes docs print), p and q unchanged.
    let fit = fit_gamma_gamma(&published_summaries()).unwrap();
    let g = fit.params;
    assert_eq!(
        [round(g.p, 2), round(g.q, 2), round(g.v, 2)],
        [6.25, 3.74, 15.45],
        "{g:?}"
    );
}

#[test]
fn paper_conditional_expectation_and_p_alive() {
    let p = BgNbdParams::CDNOW_PAPER;
    let e = p.expected_purchases(39.0, 2.0, 30.43, 38.86);
    assert_eq!(round(e, 3), 1.226, "{e}");
    assert_eq!(p.p_alive(0.0, 0.0, 38.86), 1.0);
    // Every x = 0 customer of the sample is alive with probability 1.
    for (_, c) in raw_summaries() {
        let pa = p.p_alive(c.frequency, c.recency, c.t);
        if c.frequency == 0.0 {
            assert_eq!(pa, 1.0);
        } else {
            assert!(pa > 0.0 && pa < 1.0);
        }
    }
}
