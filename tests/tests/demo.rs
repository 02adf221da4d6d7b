//! The demo dataset through the real ingest handler: the seed customer answers as the README
//! promises, and after calibration every store serves predictions.

use c360_api::http::Endpoint;
use c360_devkit::demo::{generate, DemoConfig};
use c360_domain::{Millis, Scope};
use c360_e2e::TestEnv;
use c360_ingest::calibrate::{calibrate, ScopeFit};
use serde_json::json;

#[tokio::test]
async fn on_demo_data_every_calibrated_store_serves_predictions() {
    // In memory: the subject is the demo data's answers, not stream delivery or the emulator
    // (the calibration through the emulator is `predictions.rs`'s); through the emulator the
    // 90 customers took almost 4 of the test phase's minutes.
    let env = TestEnv::in_memory().await;
    let now = chrono::Utc::now();
    let mut config = DemoConfig::new(
        7,
        now.with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap()),
    );
    config.customers = 90;
    let data = generate(&config);
    env.ingest_demo(&data, &mut 0).await;

    let profile = env
        .ok(Endpoint::Profile, &[("customer_identifier", "13800138000")])
        .await;
    assert_eq!(profile["member_info"]["member_id"], json!("M123456"));
    assert_eq!(profile["member_info"]["level"], json!("金卡"));

    let outcomes = calibrate(&env.store, Millis(now.timestamp_millis()))
        .await
        .expect("calibration");
    let stores: Vec<&Scope> = outcomes
        .keys()
        .filter(|s| matches!(s, Scope::Store(_)))
        .collect();
    assert_eq!(stores.len(), config.stores.len(), "{outcomes:?}");
    for (scope, outcome) in &outcomes {
        let ScopeFit::Fitted(model) = outcome else {
            panic!("{scope:?} not fitted: {outcome:?}")
        };
        assert!(
            model.gamma_gamma.is_some(),
            "{scope:?}: {:?}",
            model.spend_fit_error
        );
    }
    // One customer of each store, found by searching that store for their number's tail.
    for store in &config.stores {
        let order = data
            .orders
            .iter()
            .find(|o| {
                o.get("store_id").and_then(|v| v.as_s().ok()) == Some(store)
                    && o.get("customer_phone").is_some()
                    && o.get("status").and_then(|v| v.as_s().ok()) == Some(&"completed".to_string())
            })
            .expect("a completed order in the store");
        let phone = order["customer_phone"].as_s().unwrap().clone();
        let value = env
            .ok(
                Endpoint::Value,
                &[
                    ("customer_identifier", phone.as_str()),
                    ("store_id", store.as_str()),
                ],
            )
            .await;
        assert!(
            value["predictions"]["churn_probability"].is_number(),
            "{store}: {value}"
        );
        assert!(
            value["predictions"]["predicted_clv_12m"].is_number(),
            "{store}: {value}"
        );
    }
}
