//! Churn and lifetime value end to end: a store's customers projected, the calibration
//! fitting the models from the projection, and the reads serving predictions.

use c360_adapters::calibrate::{calibrate, ScopeFit};
use c360_adapters::http::Endpoint;
use c360_domain::{Millis, Scope, SourceKind, StoreId};
use c360_e2e::items::{self, Order};
use c360_e2e::{stream_event, TestEnv};
use chrono::{Duration, FixedOffset, Utc};
use serde_json::{json, Value};

fn at(days_ago: i64) -> String {
    (Utc::now() - Duration::days(days_ago))
        .with_timezone(&FixedOffset::east_opt(8 * 3600).unwrap())
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// Writes one customer's orders (days ago) through the real ingest handler.
async fn customer(
    env: &TestEnv,
    phone: &str,
    store: &str,
    days_ago: &[i64],
    ticket: i64,
    seq: &mut u64,
) {
    let orders: Vec<(String, Value)> = days_ago
        .iter()
        .enumerate()
        .map(|(i, d)| {
            *seq += 1;
            (
                seq.to_string(),
                items::order(&Order {
                    id: &format!("{phone}-{i}"),
                    store,
                    phone: Some(phone),
                    total: &format!("{}.00", ticket + (i as i64 * 37) % (ticket / 2 + 1)),
                    at: &at(*d),
                    ..Order::default()
                }),
            )
        })
        .collect();
    let batch: Vec<(&str, Option<Value>, Option<Value>, &str)> = orders
        .iter()
        .map(|(s, o)| ("INSERT", Some(o.clone()), None, s.as_str()))
        .collect();
    let (failures, _) = env
        .ingest(SourceKind::Orders, stream_event(SourceKind::Orders, &batch))
        .await;
    assert!(failures.is_empty());
}

#[tokio::test]
async fn a_calibrated_store_serves_predictions_and_a_lapsed_regular_is_more_likely_gone() {
    let env = TestEnv::new().await;
    let mut seq = 0;
    // A population for store s1: customers with different rhythms and ages.
    for c in 0..40i64 {
        let every = 3 + (c * 7) % 40;
        let start = 60 + (c * 13) % 300;
        let stop = (c * 17) % 120;
        let days: Vec<i64> = (0..)
            .map(|k| start - k * every)
            .take_while(|d| *d >= stop)
            .collect();
        // Average tickets differ between customers, as they do between a student and a family.
        customer(
            &env,
            &format!("137{:08}", c),
            "s1",
            &days,
            40 + (c * 53) % 400,
            &mut seq,
        )
        .await;
    }
    // Weekly for a year, stopped 6 months ago; weekly until last week.
    let lapsed: Vec<i64> = (0..26).map(|k| 365 - 7 * k).collect();
    let regular: Vec<i64> = (0..52).map(|k| 365 - 7 * k).filter(|d| *d >= 7).collect();
    customer(&env, "13811110001", "s1", &lapsed, 120, &mut seq).await;
    customer(&env, "13811110002", "s1", &regular, 120, &mut seq).await;
    // A store with a single customer cannot be fitted.
    customer(&env, "13811110003", "s9", &[10, 5], 80, &mut seq).await;

    let (status, before) = env
        .get(
            Endpoint::Value,
            &[("customer_identifier", "13811110001"), ("store_id", "s1")],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(before["data"]["predictions"], Value::Null);
    assert!(before["data"]["predictions_unavailable_reason"]
        .as_str()
        .unwrap()
        .contains("no model"));

    let outcomes = calibrate(&env.store, Millis(Utc::now().timestamp_millis()))
        .await
        .expect("calibration");
    let s1 = Scope::Store(StoreId::parse("s1").unwrap());
    let ScopeFit::Fitted(model) = &outcomes[&s1] else {
        panic!("s1 fitted: {:?}", outcomes[&s1])
    };
    assert_eq!(model.customers, 42);
    assert!(
        model.gamma_gamma.is_some(),
        "spend fitted: {:?}",
        model.spend_fit_error
    );
    assert!(matches!(outcomes[&Scope::AllStores], ScopeFit::Fitted(_)));
    assert!(matches!(
        outcomes[&Scope::Store(StoreId::parse("s9").unwrap())],
        ScopeFit::Skipped { .. }
    ));

    let predictions = |phone: &'static str| {
        let env = &env;
        async move {
            let value = env
                .ok(
                    Endpoint::Value,
                    &[("customer_identifier", phone), ("store_id", "s1")],
                )
                .await;
            let profile = env
                .ok(
                    Endpoint::Profile,
                    &[("customer_identifier", phone), ("store_id", "s1")],
                )
                .await;
            assert_eq!(value["predictions"], profile["predictions"]);
            value["predictions"].clone()
        }
    };
    let gone = predictions("13811110001").await;
    let here = predictions("13811110002").await;
    for p in [&gone, &here] {
        for field in [
            "p_alive",
            "churn_probability",
            "expected_orders_90d",
            "predicted_clv_12m",
        ] {
            assert!(p[field].is_number(), "{field} in {p}");
        }
        assert!(p["model_fitted_at"].as_str().unwrap().ends_with("+08:00"));
        let (alive, churn) = (
            p["p_alive"].as_f64().unwrap(),
            p["churn_probability"].as_f64().unwrap(),
        );
        assert!((alive + churn - 1.0).abs() < 1e-3);
    }
    assert!(
        gone["churn_probability"].as_f64() > here["churn_probability"].as_f64(),
        "lapsed {gone} vs regular {here}"
    );
    assert!(here["expected_orders_90d"].as_f64() > gone["expected_orders_90d"].as_f64());

    let s9 = env
        .ok(
            Endpoint::Value,
            &[("customer_identifier", "13811110003"), ("store_id", "s9")],
        )
        .await;
    assert_eq!(s9["predictions"], json!(null));
}
