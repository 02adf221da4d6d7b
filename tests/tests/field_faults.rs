//! Issue 11: faults found by trying the service with inputs from the field, each as it crosses
//! the stream or the HTTP layer. Source items go into the emulator's source tables, through
//! the streams and the real ingest handlers, and are read back through the real HTTP handler.
//! Expected values are written out here, from the items, not computed by the service's code.

use c360_api::auth::{sign_hs256, Authenticator};
use c360_api::http::{handle, Endpoint};
use c360_domain::access::Role;
use c360_domain::SourceKind;
use c360_e2e::items::{self, Order};
use c360_e2e::{days_ago, token, TestEnv, TEST_JWT_SECRET};
use chrono::Utc;
use serde_json::{json, Value};

async fn put_order(env: &TestEnv, id: &str, phone: Option<&str>, total: &str, ago: i64) {
    env.put(
        SourceKind::Orders,
        items::order(&Order {
            id,
            store: "store_sh_001",
            phone,
            status: "completed",
            total,
            at: &days_ago(ago),
            ..Order::default()
        }),
    )
    .await;
}

/// Item 2: full-width digits, a bracketed country code and non-breaking spaces in source
/// records are the customer's phone, every order counted; the same spellings as queries reach
/// her. Before: the query was 400 and those orders belonged to no one.
#[tokio::test]
async fn every_phone_spelling_reaches_one_customer_with_every_order_counted() {
    let env = TestEnv::new().await;
    let spellings = [
        "19911110003",
        "１９９１１１１０００３",
        "(+86)199 1111 0003",
        "199\u{a0}1111\u{a0}0003",
    ];
    for (i, phone) in spellings.iter().enumerate() {
        put_order(&env, &format!("o{i}"), Some(phone), "10.00", 5 + i as i64).await;
    }
    env.sync().await;
    for query in spellings {
        let value = env
            .ok(Endpoint::Value, &[("customer_identifier", query)])
            .await;
        assert_eq!(
            value["customer_value"]["total_orders"],
            json!(4),
            "{query:?}"
        );
        assert_eq!(
            value["customer_value"]["total_spent"],
            json!(40.0),
            "{query:?}"
        );
    }
}

/// Item 3: an activity's free text with the phone in three spellings reaches a `staff` token
/// masked in every spelling, in the profile and in the timeline.
#[tokio::test]
async fn phones_in_free_text_are_masked_in_every_spelling_for_staff() {
    let env = TestEnv::new().await;
    put_order(&env, "o1", Some("19911110004"), "50.00", 3).await;
    let mut activity = items::activity("a1", Some("store_sh_001"), "M9004", "call", &days_ago(1));
    // The activity carries the phone alone (no member record links a member id to it).
    if let Some(m) = activity.as_object_mut() {
        m.remove("member_id");
    }
    activity["customer_phone"] = json!({"S": "19911110004"});
    activity["detail"] = json!({"S": "来电 199 1111 0004 改约，备用 +86-199-1111-0004，短信１９９１１１１０００４；邮件 zhang.san@example.com"});
    env.put(SourceKind::Activity, activity).await;
    env.sync().await;

    let staff = token(Role::Staff, Some("store_sh_001"));
    let want = "来电 199 **** 0004 改约，备用 +86-199-****-0004，短信１９９****０００４；邮件 z***@example.com";
    let q = [("customer_identifier", "19911110004")];
    let (status, profile) = env.get_as(Some(&staff), Endpoint::Profile, &q).await;
    assert_eq!(status, 200, "{profile}");
    let (status, timeline) = env.get_as(Some(&staff), Endpoint::Timeline, &q).await;
    assert_eq!(status, 200, "{timeline}");
    for answer in [&profile, &timeline] {
        let entry = answer["data"]["timeline"]
            .as_array()
            .and_then(|t| t.iter().find(|e| e["event_type"] == "activity"))
            .unwrap_or_else(|| panic!("an activity entry in {answer}"));
        assert_eq!(entry["description"], want);
        let text = answer.to_string();
        assert!(!text.contains("1111"), "a phone in clear: {text}");
    }
    // An admin sees the text as it was written.
    let admin = token(Role::StoreAdmin, Some("store_sh_001"));
    let (_, timeline) = env.get_as(Some(&admin), Endpoint::Timeline, &q).await;
    assert!(timeline.to_string().contains("199 1111 0004"));
}

/// Item 6: 144.57 and 144.58 average 144.58 (half-up to the fen).
#[tokio::test]
async fn the_average_order_rounds_half_a_fen_up() {
    let env = TestEnv::new().await;
    put_order(&env, "o1", Some("19911110006"), "144.57", 3).await;
    put_order(&env, "o2", Some("19911110006"), "144.58", 2).await;
    put_order(&env, "o3", Some("19911110016"), "0.57", 3).await;
    put_order(&env, "o4", Some("19911110016"), "0.58", 2).await;
    env.sync().await;
    for (phone, avg) in [("19911110006", 144.58), ("19911110016", 0.58)] {
        let value = env
            .ok(Endpoint::Value, &[("customer_identifier", phone)])
            .await;
        assert_eq!(value["customer_value"]["avg_order_value"], json!(avg));
    }
}

/// Item 7: numbers in other DynamoDB spellings are read by value: the member record (and
/// with it the identity link) is not lost, nor the reservation or the order.
#[tokio::test]
async fn numbers_in_other_spellings_lose_no_record() {
    let env = TestEnv::new().await;
    let mut member = items::member(
        "M7007",
        Some("19911110007"),
        None,
        "李七",
        "银卡",
        "1.5E3",
        "200.000",
        "store_sh_001",
        &days_ago(100),
    );
    member["synced_at"] = json!({"S": days_ago(1)});
    env.put(SourceKind::MemberSync, member).await;
    env.put(
        SourceKind::Reservations,
        items::reservation(
            "r1",
            "store_sh_001",
            "19911110007",
            "4.0",
            &days_ago(4),
            "completed",
        ),
    )
    .await;
    let mut order = items::order(&Order {
        id: "o1",
        store: "store_sh_001",
        member: Some("M7007"),
        total: "1E+2",
        at: &days_ago(4),
        ..Order::default()
    });
    order["items"] = json!({"L": [{"M": {"dish_id": {"S": "d1"}, "name": {"S": "小笼包"},
        "quantity": {"N": "2.0"}, "price": {"N": "5E1"}}}]});
    env.put(SourceKind::Orders, order).await;
    env.sync().await;

    // By phone: the member record linked it to M7007, whose order carries no phone.
    let profile = env
        .ok(Endpoint::Profile, &[("customer_identifier", "19911110007")])
        .await;
    assert_eq!(profile["member_info"]["points"], json!(1500));
    assert_eq!(profile["member_info"]["balance"], json!(200.0));
    assert_eq!(profile["customer_value"]["total_spent"], json!(100.0));
    assert_eq!(profile["statistics"]["total_reservations"], json!(1));
    let timeline = env
        .ok(
            Endpoint::Timeline,
            &[("customer_identifier", "19911110007")],
        )
        .await;
    let order = timeline["timeline"]
        .as_array()
        .and_then(|t| t.iter().find(|e| e["event_type"] == "order"))
        .unwrap_or_else(|| panic!("the order in {timeline}"));
    assert_eq!(order["data"]["items"][0]["quantity"], json!(2));
    assert_eq!(order["data"]["total"], json!(100.0));
    let reservation = profile["recent_reservations"]
        .as_array()
        .and_then(|r| r.first())
        .unwrap_or_else(|| panic!("a recent reservation in {profile}"));
    assert_eq!(reservation["party_size"], json!(4));
}

/// Item 1, over the Lambda event API Gateway sends (raw query string): a repeated parameter
/// is a 400 naming it, a staff token's second `store_id` included; stray separators are fine.
#[tokio::test]
async fn a_repeated_parameter_is_refused_and_stray_separators_are_not() {
    let env = TestEnv::new().await;
    put_order(&env, "o1", Some("19911110001"), "30.00", 3).await;
    put_order(&env, "o2", Some("19911110002"), "40.00", 3).await;
    env.sync().await;
    // The fixture's claims: staff of store_sh_001, as API Gateway's JWT authorizer passes them.
    let app = env.app_with(Authenticator::api_gateway());
    let fixture: Value = serde_json::from_str(include_str!("../../events/apigw/value.json"))
        .expect("the value fixture");
    let call = |raw: &'static str| {
        let mut event = fixture.clone();
        event["rawQueryString"] = json!(raw);
        let app = &app;
        async move {
            let req = lambda_http::request::from_str(&event.to_string()).expect("an event");
            let resp = handle(app, Endpoint::Value, req).await;
            let body: Value = match resp.body() {
                lambda_http::Body::Text(t) => serde_json::from_str(t).expect("JSON"),
                other => panic!("a text body, got {other:?}"),
            };
            (resp.status().as_u16(), body)
        }
    };
    for (raw, param) in [
        (
            "customer_identifier=19911110001&customer_identifier=19911110002",
            "customer_identifier",
        ),
        (
            "customer_identifier=19911110001&store_id=store_sh_001&store_id=store_bj_001",
            "store_id",
        ),
        (
            "customer_identifier=19911110001&store_id=store_bj_001&store_id=store_sh_001",
            "store_id",
        ),
    ] {
        let (status, body) = call(raw).await;
        assert_eq!(status, 400, "{raw}: {body}");
        assert_eq!(body["error"]["code"], "INVALID_PARAMETER");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(&format!("`{param}`")), "{message}");
    }
    let (status, body) = call("&customer_identifier=19911110001&").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["customer_value"]["total_spent"], json!(30.0));
}

/// Item 10: a token signed with the right secret but not valid for another hour is 401.
#[tokio::test]
async fn a_token_that_is_not_valid_yet_is_401() {
    let env = TestEnv::new().await;
    put_order(&env, "o1", Some("19911110010"), "30.00", 3).await;
    env.sync().await;
    let now = Utc::now().timestamp();
    let sign = |claims: Value| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(TEST_JWT_SECRET.as_bytes()),
        )
        .expect("sign")
    };
    let q = [("customer_identifier", "19911110010")];
    for claims in [
        json!({"sub": "early", "role": "super_admin", "exp": now + 7200, "nbf": now + 3600}),
        json!({"sub": "early", "role": "super_admin", "exp": now + 7200, "iat": now + 86400}),
    ] {
        let (status, body) = env
            .get_as(Some(&sign(claims.clone())), Endpoint::Value, &q)
            .await;
        assert_eq!(status, 401, "{claims}: {body}");
        assert_eq!(body["error"]["code"], "UNAUTHENTICATED");
    }
    // The same token without the future times is accepted.
    let valid = sign_hs256(
        TEST_JWT_SECRET.as_bytes(),
        "on-time",
        Role::SuperAdmin,
        None,
        now + 600,
    )
    .expect("sign");
    let (status, _) = env.get_as(Some(&valid), Endpoint::Value, &q).await;
    assert_eq!(status, 200);
}
