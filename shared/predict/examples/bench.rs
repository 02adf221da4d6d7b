//! Timing note for PERFORMANCE.md (no assertions):
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-predict cargo run --release --example bench
//! ```
//!
//! Fits BG/NBD + Gamma-Gamma to 10,000 synthetic customers (drawn from the
//! models at the CDNOW parameters, ages 27–39 weeks, continuous times so
//! almost no two customers share a history) and times one
//! `p_alive` + `expected_purchases` + `clv` evaluation.

use std::hint::black_box;
use std::time::{Duration, Instant};

use c360_predict::simulate::simulate_customers;
use c360_predict::{
    clv, fit_bg_nbd, fit_gamma_gamma, BgNbdParams, ClvOptions, CustomerSummary, GammaGammaParams,
    TimeUnit,
};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let n = 10_000;
    let customers = simulate_customers(
        &BgNbdParams::CDNOW_PAPER,
        &GammaGammaParams::CDNOW_PAPER,
        n,
        27.0,
        39.0,
        20_250_101,
    );
    let repeat = customers.iter().filter(|c| c.frequency > 0.0).count();
    println!("{n} synthetic customers, {repeat} with repeat purchases");

    let runs = 5;
    let mut bg_times = Vec::new();
    let mut gg_times = Vec::new();
    let mut last = None;
    for _ in 0..runs {
        let t0 = Instant::now();
        let bg = fit_bg_nbd(&customers).expect("BG/NBD fit");
        let t1 = Instant::now();
        let gg = fit_gamma_gamma(&customers).expect("Gamma-Gamma fit");
        let t2 = Instant::now();
        bg_times.push(t1 - t0);
        gg_times.push(t2 - t1);
        last = Some((bg, gg));
    }
    let (bg, gg) = last.unwrap();
    let (bgt, ggt) = (median(bg_times), median(gg_times));
    println!(
        "fit_bg_nbd:      {:>8.1} ms (median of {runs}; {} evaluations) -> r={:.4} alpha={:.4} a={:.4} b={:.4} ll={:.2}",
        bgt.as_secs_f64() * 1e3,
        bg.evaluations,
        bg.params.r,
        bg.params.alpha,
        bg.params.a,
        bg.params.b,
        bg.log_likelihood
    );
    println!(
        "fit_gamma_gamma: {:>8.1} ms (median of {runs}; {} evaluations) -> p={:.4} q={:.4} v={:.4}",
        ggt.as_secs_f64() * 1e3,
        gg.evaluations,
        gg.params.p,
        gg.params.q,
        gg.params.v
    );
    println!(
        "both fits:       {:>8.1} ms",
        (bgt + ggt).as_secs_f64() * 1e3
    );

    // Scoring: p_alive, E[Y(39 weeks)], 12-month CLV (1 %/month), each timed
    // alone and together, per customer, median of `runs` passes over all customers.
    let opts = ClvOptions::new(12, 0.01, TimeUnit::Weeks);
    let (bgp, ggp) = (bg.params, gg.params);
    let time_per_customer = |f: &dyn Fn(&CustomerSummary) -> f64| -> f64 {
        let mut per = Vec::new();
        let mut sink = 0.0;
        for _ in 0..runs {
            let t0 = Instant::now();
            for c in &customers {
                sink += f(black_box(c));
            }
            per.push(t0.elapsed() / n as u32);
        }
        black_box(sink);
        median(per).as_secs_f64() * 1e6
    };
    let pa = time_per_customer(&|c| bgp.p_alive(c.frequency, c.recency, c.t));
    let ep = time_per_customer(&|c| bgp.expected_purchases(39.0, c.frequency, c.recency, c.t));
    let cl = time_per_customer(&|c| clv(&bgp, &ggp, c, &opts));
    let all = time_per_customer(&|c| {
        bgp.p_alive(c.frequency, c.recency, c.t)
            + bgp.expected_purchases(39.0, c.frequency, c.recency, c.t)
            + clv(&bgp, &ggp, c, &opts)
    });
    println!("p_alive:                      {pa:>8.3} µs per customer");
    println!("expected_purchases(39 weeks): {ep:>8.3} µs per customer");
    println!("clv(12 months, 1 %/month):    {cl:>8.3} µs per customer");
    println!("all three:                    {all:>8.3} µs per customer");
}
