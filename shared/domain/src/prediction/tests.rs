//! The predictions' unit tests: a customer's summary from their order days in the models'
//! zone, what is predicted or why not, and models stored by older versions.

use super::*;
use crate::money::Fen;
use crate::projection::Contribution;
use crate::source::SourceKind;

const NOW: Millis = Millis(1_000 * DAY_MS);

fn counted_order(at: Millis, fen: i64, zone: &Zone) -> Contribution {
    Contribution {
        kind: SourceKind::Orders,
        at,
        counted_spend: Some(Fen(fen)),
        counted_day: Some(local_day(at, zone)),
        fulfilled: false,
        name: None,
        member: None,
        habits: Default::default(),
    }
}

/// A customer's figures as the projection keeps them after these counted orders.
fn stats_of(orders: &[(Millis, i64)]) -> ScopeStats {
    let mut s = ScopeStats::default();
    for &(at, fen) in orders {
        s.replace(None, Some(&counted_order(at, fen, &Zone::default())));
    }
    s
}

fn weekly(weeks: i64, stopped_weeks_ago: i64) -> ScopeStats {
    let last = NOW.0 - stopped_weeks_ago * 7 * DAY_MS;
    let orders: Vec<(Millis, i64)> = (0..weeks)
        .map(|k| (Millis(last - k * 7 * DAY_MS), 10_000))
        .collect();
    stats_of(&orders)
}

fn model() -> StoreModel {
    StoreModel {
        bg_nbd: BgNbdParams {
            r: 0.243,
            alpha: 4.414,
            a: 0.793,
            b: 2.426,
        },
        gamma_gamma: Some(GammaGammaParams {
            p: 6.25,
            q: 3.74,
            v: 15.44,
        }),
        fitted_at: NOW,
        customers: 100,
        repeat_customers: 50,
        spend_fit_error: None,
        excluded_zero_spend: 0,
        utc_offset_seconds: 8 * 3600,
    }
}

fn local(zone: &Zone, t: &str) -> Millis {
    zone.parse_time(t).expect("a valid time")
}

#[test]
fn a_regular_who_stopped_is_more_likely_gone_than_one_who_did_not() {
    let m = model();
    let stopped = predict(&weekly(26, 26), Some(&m), NOW, 0.01).unwrap();
    let active = predict(&weekly(52, 1), Some(&m), NOW, 0.01).unwrap();
    assert!(
        stopped.churn_probability > active.churn_probability,
        "{stopped:?} vs {active:?}"
    );
    assert!(active.expected_orders_90d > stopped.expected_orders_90d);
    assert!(active.predicted_clv_12m > stopped.predicted_clv_12m);
    assert!((active.p_alive + active.churn_probability - 1.0).abs() < 1e-9);
}

#[test]
fn one_purchase_is_alive_by_definition_and_no_purchase_has_no_prediction() {
    let one = predict(&weekly(1, 3), Some(&model()), NOW, 0.01).unwrap();
    assert_eq!(one.p_alive, 1.0);
    assert_eq!(
        predict(&ScopeStats::default(), Some(&model()), NOW, 0.01),
        Err(NoPrediction::NoCountedOrder)
    );
    assert_eq!(
        predict(&weekly(3, 1), None, NOW, 0.01),
        Err(NoPrediction::NoModel)
    );
}

#[test]
fn the_summary_follows_the_papers_convention_in_weeks() {
    let s = summary(&weekly(3, 1), NOW, &Zone::default()).unwrap();
    assert_eq!(s.frequency, 2.0);
    assert!((s.recency - 2.0).abs() < 1e-9 && (s.t - 3.0).abs() < 1e-9);
    assert_eq!(s.monetary_value, 100.0);
}

#[test]
fn three_orders_on_one_day_200_days_ago_are_one_occasion_and_the_guest_is_alive() {
    let day = NOW.0 - 200 * DAY_MS;
    let guest = stats_of(&[
        (Millis(day + 3_600_000), 4_500),
        (Millis(day + 4 * 3_600_000), 12_000),
        (Millis(day + 9 * 3_600_000), 3_050),
    ]);
    assert_eq!(
        summary(&guest, NOW, &Zone::default()),
        Ok(CustomerSummary {
            frequency: 0.0,
            recency: 0.0,
            t: 200.0 / 7.0,
            monetary_value: 0.0,
        })
    );
    // Counting orders (x = 2 at 0 and 0.02 weeks) made this guest look gone: 0.31.
    let p = predict(&guest, Some(&model()), NOW, 0.01).unwrap();
    assert_eq!((p.p_alive, p.churn_probability), (1.0, 0.0));
}

#[test]
fn the_service_summarizes_a_customer_exactly_as_c360_fit_does() {
    let zone = Zone::default();
    // Local dates in the deployment's zone: 23:30 and 00:30 are two days (one UTC day);
    // two orders on 03-02 are one occasion of 30.50 + 45.25; the first day's spend is not
    // in the average.
    let orders = [
        ("2024-03-01T23:30:00", "2024-03-01", 8_800),
        ("2024-03-02T00:30:00", "2024-03-02", 3_050),
        ("2024-03-02T19:00:00", "2024-03-02", 4_525),
        ("2024-04-15T12:00:00", "2024-04-15", 0),
        ("2024-06-30T21:00:00", "2024-06-30", 16_001),
    ];
    let now = local(&zone, "2024-07-01T09:00:00");
    let service = summary(
        &stats_of(
            &orders
                .iter()
                .map(|(t, _, fen)| (local(&zone, t), *fen))
                .collect::<Vec<_>>(),
        ),
        now,
        &zone,
    )
    .unwrap();
    let log: Vec<(&str, i64, f64)> = orders
        .iter()
        .map(|(_, date, fen)| {
            let day = c360_predict::date::parse_date(date).unwrap();
            ("c", day, *fen as f64 / 100.0)
        })
        .collect();
    let end = c360_predict::date::parse_date("2024-07-01").unwrap();
    let cli = c360_predict::summarize(&log, end, UNIT).unwrap();
    assert_eq!(cli.len(), 1);
    assert_eq!(service.frequency, 3.0);
    assert_eq!(service.frequency, cli[0].1.frequency);
    assert_eq!(service.recency, cli[0].1.recency);
    assert_eq!(service.t, cli[0].1.t);
    assert!((service.monetary_value - (75.75 + 0.0 + 160.01) / 3.0).abs() < 1e-9);
    assert!((service.monetary_value - cli[0].1.monetary_value).abs() < 1e-9);
}

#[test]
fn days_are_counted_in_the_models_zone() {
    let new_york = Zone::parse("-05:00").unwrap();
    // 2024-03-02T03:00Z is 03-01 in New York and 03-02 in Shanghai.
    let t = local(&new_york, "2024-03-01T22:00:00");
    assert_eq!(local_day(t, &new_york), days(2024, 3, 1));
    assert_eq!(local_day(t, &Zone::default()), days(2024, 3, 2));
    assert_eq!(local_day(Millis(-1), &Zone::parse("Z").unwrap()), -1);
    let mut m = model();
    m.utc_offset_seconds = -5 * 3600;
    assert_eq!(m.zone(), new_york);
    m.utc_offset_seconds = i32::MAX;
    assert_eq!(m.zone(), Zone::default());
}

fn days(y: i64, m: u32, d: u32) -> i64 {
    c360_predict::date::days_from_civil(y, m, d)
}

#[test]
fn a_repeat_customer_whose_repeat_meal_was_free_still_gets_a_clv() {
    let zone = Zone::default();
    let b = stats_of(&[
        (local(&zone, "2024-01-05T12:00:00"), 2_000),
        (local(&zone, "2024-03-01T12:00:00"), 0),
    ]);
    let now = local(&zone, "2024-06-30T12:00:00");
    let s = summary(&b, now, &zone).unwrap();
    assert_eq!((s.frequency, s.monetary_value), (1.0, 0.0));
    let p = predict(&b, Some(&model()), now, 0.01).unwrap();
    let clv = p.predicted_clv_12m.expect("a CLV");
    assert!(clv > 0.0, "{p:?}");
}

#[test]
fn orders_stored_before_days_were_recorded_have_no_prediction_until_a_rebuild() {
    let mut legacy = weekly(3, 1);
    let mut old = counted_order(Millis(NOW.0 - DAY_MS), 5_000, &Zone::default());
    old.counted_day = None;
    legacy.replace(None, Some(&old));
    assert_eq!(
        predict(&legacy, Some(&model()), NOW, 0.01),
        Err(NoPrediction::DaysNotRecorded)
    );
}

#[test]
fn models_stored_before_the_zone_and_exclusions_were_recorded_still_read() {
    let mut v = serde_json::to_value(model()).unwrap();
    let m = v.as_object_mut().unwrap();
    m.remove("utc_offset_seconds");
    m.remove("excluded_zero_spend");
    let old: StoreModel = serde_json::from_value(v).unwrap();
    assert_eq!((old.zone(), old.excluded_zero_spend), (Zone::default(), 0));
}
