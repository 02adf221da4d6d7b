//! Churn and lifetime value end to end: a store's customers projected, the calibration
//! fitting the models from the projection, and the reads serving predictions.

use c360_api::http::Endpoint;
use c360_devkit::demo::{generate, DemoConfig};
use c360_domain::projection::RecordState;
use c360_domain::{Identifier, Millis, Scope, SourceKind, StoreId, Zone};
use c360_dynamodb::keys;
use c360_dynamodb::store::ScanRow;
use c360_e2e::items::{self, Order};
use c360_e2e::{days_ago, TestEnv};
use c360_ingest::calibrate::{calibrate, ScopeFit};
use chrono::{Duration, FixedOffset, Utc};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

#[tokio::test]
async fn a_calibrated_store_serves_predictions_and_a_lapsed_regular_is_more_likely_gone() {
    let env = TestEnv::new().await;
    let mut seq = 0;
    // Average tickets differ between customers, as they do between a student and a family.
    env.populate("s1", &mut seq).await;
    // Weekly for a year, stopped 6 months ago; weekly until last week.
    let lapsed: Vec<i64> = (0..26).map(|k| 365 - 7 * k).collect();
    let regular: Vec<i64> = (0..52).map(|k| 365 - 7 * k).filter(|d| *d >= 7).collect();
    env.order_history("13811110001", "s1", &lapsed, 120, &mut seq)
        .await;
    env.order_history("13811110002", "s1", &regular, 120, &mut seq)
        .await;
    // A store with a single customer cannot be fitted.
    env.order_history("13811110003", "s9", &[10, 5], 80, &mut seq)
        .await;

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

#[tokio::test]
async fn orders_on_one_day_are_one_occasion_and_a_comped_regular_keeps_the_stores_clv() {
    let env = TestEnv::new().await;
    let mut seq = 0;
    env.populate("s1", &mut seq).await;
    // A guest's three orders on one local day 200 days ago, two by phone and one by member id
    // (one customer once the member record links them: two nodes with orders on that day).
    let shanghai = FixedOffset::east_opt(8 * 3600).unwrap();
    let day = (Utc::now().with_timezone(&shanghai) - Duration::days(200)).date_naive();
    let on_day = |hour: u32| format!("{}T{hour:02}:00:00+08:00", day.format("%Y-%m-%d"));
    let (t11, t13, t20) = (on_day(11), on_day(13), on_day(20));
    let guest = [
        ("g-1", Some("13922220001"), None, "58.00", t11.as_str()),
        ("g-2", Some("13922220001"), None, "12.50", t13.as_str()),
        ("g-3", None, Some("M922201"), "233.00", t20.as_str()),
    ];
    // A regular whose repeat meals were comped: 20.00, then 0.00 twice.
    let (b1, b2, b3) = (days_ago(120), days_ago(60), days_ago(30));
    let comped = [
        ("b-1", Some("13922220002"), None, "20.00", b1.as_str()),
        ("b-2", Some("13922220002"), None, "0.00", b2.as_str()),
        ("b-3", Some("13922220002"), None, "0.00", b3.as_str()),
    ];
    let orders: Vec<Value> = guest
        .iter()
        .chain(comped.iter())
        .map(|(id, phone, member, total, at)| {
            items::order(&Order {
                id,
                store: "s1",
                phone: *phone,
                member: *member,
                total,
                at,
                ..Order::default()
            })
        })
        .collect();
    env.ingest_inserts(SourceKind::Orders, &orders, &mut seq)
        .await;
    let member = items::member(
        "M922201",
        Some("13922220001"),
        None,
        "王五",
        "银卡",
        "0",
        "0",
        "s1",
        &t11,
    );
    env.ingest_inserts(SourceKind::MemberSync, &[member], &mut seq)
        .await;

    let outcomes = calibrate(&env.store, Millis(Utc::now().timestamp_millis()))
        .await
        .expect("calibration");
    let s1 = Scope::Store(StoreId::parse("s1").unwrap());
    let ScopeFit::Fitted(model) = &outcomes[&s1] else {
        panic!("s1 fitted: {:?}", outcomes[&s1])
    };
    assert_eq!(model.customers, 42);
    assert_eq!(model.excluded_zero_spend, 1);
    assert!(
        model.gamma_gamma.is_some(),
        "spend fitted: {:?}",
        model.spend_fit_error
    );

    let read = |kind: &'static str, id: &'static str| {
        let env = &env;
        async move {
            env.ok(
                Endpoint::Value,
                &[
                    ("customer_identifier", id),
                    ("identifier_type", kind),
                    ("store_id", "s1"),
                ],
            )
            .await["predictions"]
                .clone()
        }
    };
    // One occasion and nothing since: no repeat purchase, so alive by the model's definition
    // (counting orders said 0.31). Both identifiers read the same customer.
    for (kind, id) in [("phone", "13922220001"), ("member_id", "M922201")] {
        let p = read(kind, id).await;
        assert_eq!(p["p_alive"], json!(1.0), "{id}: {p}");
        assert_eq!(p["churn_probability"], json!(0.0), "{id}: {p}");
    }
    let b = read("phone", "13922220002").await;
    let clv = b["predicted_clv_12m"].as_f64();
    assert!(
        clv.is_some_and(|v| v > 0.0),
        "the comped regular's CLV: {b}"
    );
}

/// The `c360-fit` binary of this build (built on demand: it is another package's binary).
fn c360_fit() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let mut build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    build.args([
        "build",
        "--quiet",
        "-p",
        "c360-predict",
        "--bin",
        "c360-fit",
    ]);
    if profile_dir.ends_with("release") {
        build.arg("--release");
    }
    let status = build
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building c360-fit: {status}");
    profile_dir.join("c360-fit")
}

#[tokio::test]
async fn a_demo_stores_counted_orders_fitted_by_c360_fit_give_the_parameters_the_calibration_stored(
) {
    // In memory: the subject is the fit, not the emulator (the calibration's reads through
    // the emulator are the two tests above); 90 demo customers took 3 minutes through it.
    let env = TestEnv::in_memory().await;
    let zone = Zone::default();
    let now = Utc::now().with_timezone(&FixedOffset::east_opt(8 * 3600).unwrap());
    let mut config = DemoConfig::new(11, now);
    config.customers = 90;
    let data = generate(&config);
    env.ingest_demo(&data, &mut 0).await;
    let now_ms = Millis(now.timestamp_millis());
    let outcomes = calibrate(&env.store, now_ms).await.expect("calibration");
    let store = "store_sh_001";
    let scope = Scope::Store(StoreId::parse(store).unwrap());
    let ScopeFit::Fitted(model) = &outcomes[&scope] else {
        panic!("{store} fitted: {:?}", outcomes[&scope])
    };
    let gg = model.gamma_gamma.expect("spend fitted");

    // The store's counted orders as the projection holds them (one record state per source
    // record), each under its customer: the identity cluster, as the calibration groups them.
    let rows = env.store.scan_nodes_and_stats(1).await.expect("scan");
    let mut cluster_of: BTreeMap<Identifier, Identifier> = BTreeMap::new();
    for row in &rows {
        if let ScanRow::Node { id, links } = row {
            let canonical = links.cluster.first().cloned().unwrap_or_else(|| id.clone());
            cluster_of.insert(id.clone(), canonical);
        }
    }
    let mut csv = String::from("customer_id,date,amount\n");
    let mut counted = 0;
    for line in env.dump().await {
        let item: Value = serde_json::from_str(&line).expect("JSON");
        let is_order_anchor = item["pk"]["S"]
            .as_str()
            .is_some_and(|pk| keys::is_anchor_of(pk, SourceKind::Orders));
        let Some(state) = item["state"]["S"].as_str().filter(|_| is_order_anchor) else {
            continue;
        };
        let state: RecordState = serde_json::from_str(state).expect("a record state");
        let (Some(fen), Some(s)) = (state.contribution.counted_spend, &state.store) else {
            continue;
        };
        if s.as_str() != store {
            continue;
        }
        let customer = cluster_of.get(&state.home).unwrap_or(&state.home);
        let date = &zone.format(state.contribution.at)[..10];
        csv.push_str(&format!(
            "{},{date},{}.{:02}\n",
            customer.key(),
            fen.0 / 100,
            fen.0 % 100
        ));
        counted += 1;
    }
    assert!(
        counted > model.customers,
        "{counted} counted orders in {store}"
    );
    let path = std::env::temp_dir().join(format!("c360-{}-{store}.csv", env.prefix));
    std::fs::write(&path, &csv).expect("CSV written");
    let out = Command::new(c360_fit())
        .arg(&path)
        .args(["--calibration-end", &now.format("%Y-%m-%d").to_string()])
        .args(["--penalizer", "0.0001"])
        .output()
        .expect("c360-fit runs");
    assert!(
        out.status.success(),
        "c360-fit: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fit: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    // Agreement to 4 significant digits (differences are float summation order: yuan
    // parsed and summed by the CLI, integer fen by the service).
    let same = |cli: &Value, service: f64, what: &str| {
        let cli = cli.as_f64().expect("a number");
        assert!(
            ((cli - service) / service).abs() < 1e-4,
            "{what}: c360-fit {cli} vs calibration {service}"
        );
    };
    same(&fit["bg_nbd"]["r"], model.bg_nbd.r, "r");
    same(&fit["bg_nbd"]["alpha"], model.bg_nbd.alpha, "alpha");
    same(&fit["bg_nbd"]["a"], model.bg_nbd.a, "a");
    same(&fit["bg_nbd"]["b"], model.bg_nbd.b, "b");
    same(&fit["gamma_gamma"]["p"], gg.p, "p");
    same(&fit["gamma_gamma"]["q"], gg.q, "q");
    same(&fit["gamma_gamma"]["v"], gg.v, "v");
    assert_eq!(fit["customers"], json!(model.customers));
    assert_eq!(fit["repeat_customers"], json!(model.repeat_customers));
    assert_eq!(fit["excluded_zero_spend"], json!(model.excluded_zero_spend));
    let _ = std::fs::remove_file(&path);
}
