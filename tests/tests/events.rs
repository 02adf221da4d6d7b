//! The files in `events/` through the real handlers against the emulator: the stream events
//! first (the seed customer's records), then the API Gateway events.

use c360_api::auth::Authenticator;
use c360_api::http::{handle, Endpoint};
use c360_domain::SourceKind;
use c360_e2e::TestEnv;
use serde_json::Value;

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/../events/{path}", env!("CARGO_MANIFEST_DIR")))
        .expect("fixture file")
}

#[tokio::test]
async fn every_fixture_event_is_handled_as_the_lambda_would() {
    let env = TestEnv::new().await.with_segments();
    for (kind, file) in [
        (SourceKind::MemberSync, "streams/member_sync.json"),
        (SourceKind::Orders, "streams/orders.json"),
        (SourceKind::Reservations, "streams/reservations.json"),
        (SourceKind::PosTransactions, "streams/pos_transactions.json"),
        (SourceKind::Activity, "streams/audit_log.json"),
    ] {
        let (failures, report) = env
            .ingest(
                kind,
                serde_json::from_str(&read(file)).expect("stream event"),
            )
            .await;
        assert!(failures.is_empty(), "{file}");
        assert_eq!(report.applied, 1, "{file}");
    }
    let (failures, _) = env
        .ingest(
            SourceKind::Orders,
            serde_json::from_str(&read("streams/orders-with-bad-record.json")).unwrap(),
        )
        .await;
    assert_eq!(failures, ["1000000000000000000112"]);

    // As behind API Gateway: the caller comes from the events' authorizer claims.
    let app = env.app_with(Authenticator::api_gateway());
    for (endpoint, file, status) in [
        (Endpoint::Profile, "apigw/profile.json", 200),
        (Endpoint::Timeline, "apigw/timeline.json", 200),
        (Endpoint::Value, "apigw/value.json", 200),
        (Endpoint::Search, "apigw/search.json", 200),
        (Endpoint::Profile, "apigw/profile-invalid-phone.json", 400),
        (Endpoint::Profile, "apigw/profile-unauthenticated.json", 401),
        (Endpoint::Profile, "apigw/profile-other-store.json", 403),
        (Endpoint::Audit, "apigw/audit.json", 200),
    ] {
        let req = lambda_http::request::from_str(&read(file)).expect("API Gateway v2 event");
        let resp = handle(&app, endpoint, req).await;
        assert_eq!(resp.status().as_u16(), status, "{file}");
        if status == 200 {
            let body: Value = match resp.body() {
                lambda_http::Body::Text(t) => serde_json::from_str(t).unwrap(),
                _ => panic!("text body"),
            };
            assert_eq!(body["success"], Value::Bool(true));
        }
    }
    // The three good orders of the two order events: 280.00 + 128.00 + 96.50.
    let value = env
        .ok(Endpoint::Value, &[("customer_identifier", "13800138000")])
        .await;
    assert_eq!(
        value["customer_value"]["total_spent"],
        serde_json::json!(504.5)
    );
    // Last, as in scripts/invoke-events: the erasure fixture removes the seed customer.
    let req = lambda_http::request::from_str(&read("apigw/erase.json")).expect("event");
    assert_eq!(
        handle(&app, Endpoint::Erase, req).await.status().as_u16(),
        200
    );
    let (status, _) = env
        .get(Endpoint::Value, &[("customer_identifier", "13800138000")])
        .await;
    assert_eq!(status, 404);
}
