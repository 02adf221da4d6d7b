use super::errors::*;
use super::*;
use crate::audit::{AuditLog, AuditRecord, SubjectHasher};
use crate::auth::Authenticator;
use crate::reads::Reads;
use c360_domain::access::MaskingConfig;
use c360_dynamodb::store::Store;
use c360_runtime::config::Config;
use serde_json::Value;
use std::sync::Arc;

fn unreachable_client() -> aws_sdk_dynamodb::Client {
    let conf = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .endpoint_url("http://127.0.0.1:9")
        .build();
    aws_sdk_dynamodb::Client::from_conf(conf)
}

/// An app whose store points nowhere, auditing into memory: the requests here must be
/// answered before any DynamoDB call (authentication, validation, scope).
fn offline_app(audit: AuditLog) -> App {
    let store = Store::new(unreachable_client(), "unused");
    App::new(
        Reads::new(store, Config::from_env().expect("default config")),
        Access {
            auth: Authenticator::api_gateway(),
            masking: MaskingConfig::default(),
            audit,
            hasher: SubjectHasher::new(b"unit-test-key-0123456789"),
        },
    )
}

fn memory() -> (AuditLog, Arc<std::sync::Mutex<Vec<AuditRecord>>>) {
    let records = Arc::new(std::sync::Mutex::new(Vec::new()));
    (AuditLog::Memory(records.clone()), records)
}

async fn answer_of(endpoint: Endpoint, fixture: &str) -> (u16, Value) {
    answer_with(&offline_app(memory().0), endpoint, fixture).await
}

/// `fixture` as asked with `method` instead of its own.
fn with_method(fixture: &str, method: &str) -> String {
    let mut event: Value = serde_json::from_str(fixture).expect("fixture");
    event["requestContext"]["http"]["method"] = Value::from(method);
    event.to_string()
}

async fn answer_with(app: &App, endpoint: Endpoint, fixture: &str) -> (u16, Value) {
    let req = lambda_http::request::from_str(fixture).expect("an API Gateway v2 event");
    let resp = handle(app, endpoint, req).await;
    let body = match resp.body() {
        Body::Text(t) => serde_json::from_str(t).expect("JSON"),
        _ => Value::Null,
    };
    (resp.status().as_u16(), body)
}

#[tokio::test]
async fn the_invalid_phone_fixture_is_a_400_naming_the_parameter() {
    let (status, body) = answer_of(
        Endpoint::Profile,
        include_str!("../../../../events/apigw/profile-invalid-phone.json"),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "INVALID_PARAMETER");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("`customer_identifier`"));
}

#[tokio::test]
async fn fixtures_with_bad_parameters_never_reach_the_store() {
    let fixture: Value =
        serde_json::from_str(include_str!("../../../../events/apigw/timeline.json"))
            .expect("fixture");
    for (param, value) in [
        ("limit", "0"),
        ("limit", "201"),
        ("identifier_type", "foo"),
        ("store_id", "x y"),
    ] {
        let mut event = fixture.clone();
        event["queryStringParameters"][param] = Value::from(value);
        // API Gateway v2 sends both; lambda_http reads the raw one.
        let raw: Vec<String> = event["queryStringParameters"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default().replace(' ', "%20")))
            .collect();
        event["rawQueryString"] = Value::from(raw.join("&"));
        let (status, body) = answer_of(Endpoint::Timeline, &event.to_string()).await;
        assert_eq!(status, 400, "{param}={value}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains(&format!("`{param}`")),
            "{body}"
        );
    }
}

/// Issue 11, item 1: a parameter given twice is a 400 naming it, on every endpoint, before
/// any read (a staff token's second `store_id` must not pick the store).
#[tokio::test]
async fn a_parameter_given_twice_is_a_400_naming_it() {
    let fixture: Value =
        serde_json::from_str(include_str!("../../../../events/apigw/value.json")).expect("fixture");
    for raw in [
        "customer_identifier=19911110001&customer_identifier=19911110002",
        "customer_identifier=19911110001&store_id=store_sh_001&store_id=store_bj_001",
        "customer_identifier=19911110001&identifier_type=phone&identifier_type=phone",
    ] {
        let mut event = fixture.clone();
        event["rawQueryString"] = Value::from(raw);
        let (status, body) = answer_of(Endpoint::Value, &event.to_string()).await;
        assert_eq!(status, 400, "{raw}: {body}");
        assert_eq!(body["error"]["code"], "INVALID_PARAMETER");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        let repeated = if raw.contains("store_id=store_bj") {
            "`store_id`"
        } else if raw.contains("identifier_type=phone&") {
            "`identifier_type`"
        } else {
            "`customer_identifier`"
        };
        assert!(
            message.contains(repeated) && message.contains("more than once"),
            "{message}"
        );
    }
    for (endpoint, raw) in [
        (Endpoint::Search, "query=8000&query=8001"),
        (
            Endpoint::Timeline,
            "customer_identifier=13800138000&limit=5&limit=6",
        ),
        (
            Endpoint::Profile,
            "customer_identifier=13800138000&store_id=store_sh_001&store_id=store_sh_001",
        ),
    ] {
        let mut event = fixture.clone();
        event["rawQueryString"] = Value::from(raw);
        let (status, body) = answer_of(endpoint, &event.to_string()).await;
        assert_eq!(status, 400, "{raw}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("more than once"),
            "{body}"
        );
    }
}

/// The recommendations fixture with its query string replaced by `raw` (as sent, encoded).
fn recommendations_with_query(raw: &str) -> String {
    let mut event: Value = serde_json::from_str(include_str!(
        "../../../../events/apigw/recommendations-dishes.json"
    ))
    .expect("fixture");
    event["rawQueryString"] = Value::from(raw);
    event.to_string()
}

#[tokio::test]
async fn a_signed_or_spaced_limit_is_refused_like_any_other_non_number() {
    let base = "customer_identifier=13800138000&kind=dishes";
    // `%2B5` is a literal `+5`; `+5` in a URL is ` 5`.
    for limit in ["%2B5", "+5", "%205", "5%20", "-5", "5.0", "five"] {
        let (status, body) = answer_of(
            Endpoint::Recommendations,
            &recommendations_with_query(&format!("{base}&limit={limit}")),
        )
        .await;
        assert_eq!(status, 400, "limit={limit}: {body}");
        assert_eq!(body["error"]["code"], "INVALID_PARAMETER", "{limit}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("`limit` must be a whole number from 1 to 50"),
            "{message}"
        );
    }
    // A plain number passes validation and goes on to the store (unreachable here: 503).
    let (status, body) = answer_of(
        Endpoint::Recommendations,
        &recommendations_with_query(&format!("{base}&limit=5")),
    )
    .await;
    assert_eq!(status, 503, "{body}");
}

#[tokio::test]
async fn a_long_bad_value_is_echoed_cut_at_32_characters() {
    // 31 x, then y, then z: the message shows up to the y and no z.
    let long = format!("{}y{}", "x".repeat(31), "z".repeat(200));
    let shown = format!("got `{}y`", "x".repeat(31));
    let base = "customer_identifier=13800138000";
    for query in [
        format!("{base}&limit={long}"),
        format!("{base}&kind={long}"),
        format!("{base}&identifier_type={long}"),
        format!("{base}&{long}=1"),
    ] {
        let (status, body) = answer_of(
            Endpoint::Recommendations,
            &recommendations_with_query(&query),
        )
        .await;
        assert_eq!(status, 400, "{body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        let echoed = format!("`{}y`", "x".repeat(31));
        assert!(message.contains(&echoed), "{message}");
        assert!(!message.contains('z'), "{message}");
        if !query.ends_with("=1") {
            assert!(message.contains(&shown), "{message}");
        }
    }
}

#[test]
fn error_messages_never_echo_a_phone_number_in_clear() {
    let resp = error_response(&ApiError::InvalidParameter(
        "Parameter `limit` must be a whole number from 1 to 200; got `13800138000`.".into(),
    ));
    let Body::Text(text) = resp.body() else {
        panic!("text body")
    };
    assert!(text.contains("got `138****8000`"), "{text}");
}

#[tokio::test]
async fn requests_without_verified_claims_are_401_and_audited() {
    let (log, records) = memory();
    let app = offline_app(log);
    let (status, body) = answer_with(
        &app,
        Endpoint::Profile,
        include_str!("../../../../events/apigw/profile-unauthenticated.json"),
    )
    .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "UNAUTHENTICATED");
    let records = records.lock().expect("records").clone();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].status, 401);
    assert_eq!(records[0].sub, None);
    assert!(
        records[0].subject.is_some(),
        "who was asked about is kept, hashed"
    );
    assert!(!format!("{records:?}").contains("13800138000"));
}

#[tokio::test]
async fn a_method_the_endpoint_does_not_take_is_a_405_before_authentication() {
    let (log, records) = memory();
    let app = offline_app(log);
    for (endpoint, fixture, method) in [
        (
            Endpoint::Recommendations,
            include_str!("../../../../events/apigw/recommendations-dishes.json"),
            "POST",
        ),
        // A super_admin's GET on the erasure path erases nothing.
        (
            Endpoint::Erase,
            include_str!("../../../../events/apigw/erase.json"),
            "GET",
        ),
        // Without credentials: still the 405, as the segments routes answer.
        (
            Endpoint::Profile,
            include_str!("../../../../events/apigw/profile-unauthenticated.json"),
            "PUT",
        ),
    ] {
        let req = lambda_http::request::from_str(&with_method(fixture, method))
            .expect("an API Gateway v2 event");
        let resp = handle(&app, endpoint, req).await;
        // RFC 9110: a 405 lists what the path takes, for a client to correct itself.
        assert_eq!(
            resp.headers().get("allow").and_then(|v| v.to_str().ok()),
            Some(endpoint.method()),
            "{endpoint:?} {method}"
        );
        let status = resp.status().as_u16();
        let body: Value = match resp.body() {
            Body::Text(t) => serde_json::from_str(t).expect("JSON"),
            _ => Value::Null,
        };
        assert_eq!(status, 405, "{endpoint:?} {method}: {body}");
        assert_eq!(body["error"]["code"], "METHOD_NOT_ALLOWED", "{body}");
        let want = format!(
            "{} accepts {}, not {method}.",
            endpoint.path(),
            endpoint.method()
        );
        assert_eq!(body["error"]["message"], want.as_str());
    }
    // Each refusal is audited, with no caller (not authenticated).
    let records = records.lock().expect("records").clone();
    let got: Vec<(u16, Option<String>)> =
        records.iter().map(|r| (r.status, r.sub.clone())).collect();
    assert_eq!(got, vec![(405, None); 3]);
}

#[tokio::test]
async fn staff_asking_for_another_store_is_403_before_any_read() {
    let (log, records) = memory();
    let app = offline_app(log);
    let (status, body) = answer_with(
        &app,
        Endpoint::Profile,
        include_str!("../../../../events/apigw/profile-other-store.json"),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "FORBIDDEN");
    let records = records.lock().expect("records").clone();
    assert_eq!(
        (records[0].status, records[0].role.as_deref()),
        (403, Some("staff"))
    );
}

#[tokio::test]
async fn staff_may_not_read_the_audit_log_nor_erase() {
    for (endpoint, fixture) in [
        (
            Endpoint::Audit,
            include_str!("../../../../events/apigw/profile-invalid-phone.json"),
        ),
        (
            Endpoint::Erase,
            &with_method(
                include_str!("../../../../events/apigw/profile.json"),
                "DELETE",
            ),
        ),
    ] {
        let (status, body) = answer_of(endpoint, fixture).await;
        assert_eq!(status, 403, "{endpoint:?}: {body}");
    }
}

#[tokio::test]
async fn without_an_audit_record_there_is_no_answer() {
    let app = offline_app(AuditLog::DynamoDb {
        client: unreachable_client(),
        table: "audit".into(),
        retention_days: 180,
    });
    let (status, body) = answer_with(
        &app,
        Endpoint::Profile,
        include_str!("../../../../events/apigw/profile-invalid-phone.json"),
    )
    .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "UNAVAILABLE");
    assert!(body.get("data").is_none());
}

#[test]
fn paths_map_to_endpoints() {
    assert_eq!(
        Endpoint::from_path("/api/v1/customer360/customer"),
        Some(Endpoint::Erase)
    );
    assert_eq!(Endpoint::Erase.method(), "DELETE");
    assert_eq!(
        Endpoint::from_path("/api/v1/customer360/profile"),
        Some(Endpoint::Profile)
    );
    assert_eq!(
        Endpoint::from_path("/api/v1/customer360/search/"),
        Some(Endpoint::Search)
    );
    assert_eq!(Endpoint::from_path("/api/v1/customer360/other"), None);
}

#[test]
fn a_profile_is_cached_per_local_month() {
    use c360_domain::access::{Masking, Role};
    use c360_domain::ids::Phone;
    use c360_domain::projection::Scope;
    use c360_domain::time::Zone;
    use c360_domain::Identifier;
    let zone = Zone::default();
    let slot = |t: &str| {
        let id = Identifier::Phone(Phone::parse("13800138000").expect("a phone"));
        let intent = Intent::Profile(id, Scope::AllStores);
        let at = zone.parse_time(t).expect("a local time");
        request::cache_slot(&intent, Role::Staff, Masking::default(), at, &zone)
    };
    // monthly_spend's last month changes at local midnight on the 1st.
    assert_eq!(slot("2026-11-02T10:00:00"), slot("2026-11-30T23:50:00"));
    assert_ne!(slot("2026-11-30T23:50:00"), slot("2026-12-01T00:10:00"));
}

#[test]
fn a_dish_recommendation_is_cached_per_daypart_and_a_coupon_per_day() {
    use crate::recommend::RecommendationKind;
    use c360_domain::access::{Masking, Role};
    use c360_domain::ids::Phone;
    use c360_domain::projection::Scope;
    use c360_domain::time::Zone;
    use c360_domain::Identifier;
    let zone = Zone::default();
    let at = |t: &str| zone.parse_time(t).expect("a local time");
    let slot = |kind, t: &str| {
        let intent = Intent::Recommendations {
            id: Identifier::Phone(Phone::parse("13800138000").expect("a phone")),
            scope: Scope::AllStores,
            kind,
            limit: 10,
        };
        request::cache_slot(&intent, Role::Staff, Masking::default(), at(t), &zone)
    };
    let dishes = RecommendationKind::Dishes;
    // 12:00 and 13:50 are lunch, 14:10 is the afternoon: the lunch answer must not be served.
    assert_eq!(
        slot(dishes, "2026-03-02T12:00:00"),
        slot(dishes, "2026-03-02T13:50:00")
    );
    assert_ne!(
        slot(dishes, "2026-03-02T13:50:00"),
        slot(dishes, "2026-03-02T14:10:00")
    );
    // Lunch tomorrow is another day (the days since each order moved on).
    assert_ne!(
        slot(dishes, "2026-03-02T12:00:00"),
        slot(dishes, "2026-03-03T12:00:00")
    );
    let coupons = RecommendationKind::Coupons;
    assert_eq!(
        slot(coupons, "2026-03-02T09:00:00"),
        slot(coupons, "2026-03-02T21:00:00")
    );
    // After midnight a birthday week can begin or end.
    assert_ne!(
        slot(coupons, "2026-03-02T23:50:00"),
        slot(coupons, "2026-03-03T00:10:00")
    );
}

/// Field report: ingest logged "DynamoDB is unavailable: still conflicting after 12 attempts"
/// for what was contention on one customer. It has its own error now; a request that meets it
/// is a 503 to retry, not a 500.
#[test]
fn contention_is_its_own_error_and_a_retryable_503() {
    let e = c360_dynamodb::store::StoreError::Contended(12);
    let text = e.to_string();
    assert!(
        text.contains("12 attempts") && !text.contains("unavailable"),
        "{text}"
    );
    let api = store_error(e);
    assert_eq!((api.status(), api.code()), (503, "UNAVAILABLE"));
}
