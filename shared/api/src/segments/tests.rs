use super::ops::{to_csv, CSV_COLUMNS};
use super::*;

#[test]
fn routes_are_read_from_method_and_path_and_a_wrong_one_says_what_exists() {
    let r = |m: &str, p: &str| Route::parse(m, &format!("{PATH}{p}"));
    assert_eq!(r("GET", "").unwrap(), Route::List);
    assert_eq!(r("POST", "/").unwrap(), Route::Create);
    assert_eq!(
        r("GET", "/seg_ab12").unwrap(),
        Route::Get("seg_ab12".into())
    );
    assert_eq!(
        r("PUT", "/seg_ab12").unwrap(),
        Route::Update("seg_ab12".into())
    );
    assert_eq!(
        r("DELETE", "/seg_ab12").unwrap(),
        Route::Delete("seg_ab12".into())
    );
    assert_eq!(
        r("GET", "/seg_ab12/members").unwrap(),
        Route::Members(Target::Saved("seg_ab12".into()))
    );
    assert_eq!(r("POST", "/count").unwrap(), Route::Count(Target::Inline));
    assert_eq!(r("GET", "/check").unwrap(), Route::Check(Target::Inline));
    assert_eq!(
        r("GET", "/seg_ab12/export").unwrap(),
        Route::Export(Target::Saved("seg_ab12".into()))
    );
    let e = r("DELETE", "").unwrap_err();
    assert_eq!((e.status(), e.code()), (405, "METHOD_NOT_ALLOWED"));
    let resp = crate::http::error_response(&e);
    assert_eq!(
        resp.headers().get("allow").and_then(|v| v.to_str().ok()),
        Some("GET, POST")
    );
    let e = r("GET", "/seg_ab12/nope").unwrap_err();
    assert_eq!((e.status(), e.code()), (404, "NOT_FOUND"));
    assert!(e.to_string().contains("members"));
    // Not an id: refused before it could reach a key.
    let e = r("GET", "/seg_a%23b").unwrap_err();
    assert_eq!(e.status(), 400);
    let e = r("GET", "/a/b/c").unwrap_err();
    assert_eq!(e.status(), 404);
    // An empty id is not the inline filter, nor is a path that only starts like ours.
    for p in ["//members", "/seg_ab12//members", "x"] {
        let e = r("GET", p).unwrap_err();
        assert_eq!((e.status(), e.code()), (404, "NOT_FOUND"), "{p}");
    }
}

#[test]
fn only_writes_and_exports_need_an_admin() {
    assert!(Route::Create.admins_only());
    assert!(Route::Export(Target::Inline).admins_only());
    assert!(!Route::Members(Target::Inline).admins_only());
    assert!(!Route::Check(Target::Saved("seg_1".into())).admins_only());
}

#[test]
fn an_inline_filter_comes_from_the_body_or_the_query_and_names_an_unknown_field() {
    let pairs = vec![
        ("store_id".to_string(), "s1".to_string()),
        ("rfm_score_gte".to_string(), "70".to_string()),
        ("tag".to_string(), "活跃用户".to_string()),
    ];
    let f = inline_filter(&pairs, &Value::Null, &["store_id"]).unwrap();
    assert_eq!(f, Filter::from_query(&pairs[1..]).unwrap());
    let body = json!({"filter": {"field": "rfm_score", "op": "gte", "value": 70}});
    assert!(inline_filter(&[], &body, &[]).is_ok());
    let e = inline_filter(&[("rfm_scor_gte".into(), "1".into())], &Value::Null, &[]).unwrap_err();
    assert_eq!(e.status(), 400);
    assert!(e.to_string().contains("rfm_scor_gte"), "{e}");
}

#[test]
fn csv_columns_are_the_member_hit_fields() {
    assert_eq!(CSV_COLUMNS[0], "customer_identifier");
    assert!(CSV_COLUMNS.contains(&"rfm_score"));
}

#[test]
fn a_member_page_limit_is_digits_only() {
    let pairs = |v: &str| vec![("limit".to_string(), v.to_string())];
    let none = serde_json::Value::Null;
    assert_eq!(input::limit_of(&[], &none).unwrap(), input::DEFAULT_LIMIT);
    assert_eq!(input::limit_of(&pairs("7"), &none).unwrap(), 7);
    assert_eq!(
        input::limit_of(&[], &serde_json::json!({"limit": 7})).unwrap(),
        7
    );
    for bad in ["+7", " 7", "7 ", "-7", "0", "201", "7.0"] {
        let e = input::limit_of(&pairs(bad), &none).unwrap_err();
        assert_eq!((e.status(), e.code()), (400, "INVALID_PARAMETER"), "{bad}");
    }
    let e = input::limit_of(&[], &serde_json::json!({"limit": "+7"})).unwrap_err();
    assert_eq!(e.status(), 400);
}

#[test]
fn a_long_bad_value_is_echoed_cut_at_32_characters() {
    let long = format!("{}y{}", "x".repeat(31), "z".repeat(200));
    let echoed = format!("`{}y`", "x".repeat(31));
    let none = serde_json::Value::Null;
    let errors = [
        input::limit_of(&[("limit".to_string(), long.clone())], &none).unwrap_err(),
        input::only_known(&[(long.clone(), "1".to_string())], &["limit"]).unwrap_err(),
        input::asked_identifiers(
            &[
                ("customer_identifier".to_string(), "13800138000".to_string()),
                ("identifier_type".to_string(), long.clone()),
            ],
            &none,
        )
        .unwrap_err(),
        input::asked_identifiers(
            &[
                ("customer_identifier".to_string(), long.clone()),
                ("identifier_type".to_string(), "member_id".to_string()),
            ],
            &none,
        )
        .unwrap_err(),
    ];
    for e in errors {
        let message = e.to_string();
        assert_eq!(e.status(), 400, "{message}");
        assert!(message.contains(&echoed), "{message}");
        assert!(!message.contains('z'), "{message}");
    }
}

/// CSV injection: a name a guest chose (`=HYPERLINK(...)`, `@SUM(...)`) reaches the marketer's
/// spreadsheet as text, not as a formula; ordinary names and identifiers are unchanged.
#[test]
fn an_export_cell_a_spreadsheet_would_run_is_written_as_text() {
    let hits = serde_json::json!([
        {"customer_identifier": "13800138000", "identifier_type": "phone", "name": "=HYPERLINK(\"http://x\")", "member_level": "@SUM(A1)"},
        {"customer_identifier": "13800138001", "identifier_type": "phone", "name": "张三", "member_level": "-金卡"}
    ]);
    let csv = to_csv(&hits).expect("csv");
    // Field report: without a byte order mark Excel on a Chinese Windows garbled the names.
    assert!(csv.starts_with("\u{feff}customer_identifier,"), "{csv}");
    let mut lines = csv.lines().skip(1);
    let first = lines.next().expect("a row");
    assert!(first.starts_with("13800138000,phone,"), "{first}");
    assert!(
        first.contains("\"'=HYPERLINK(\"\"http://x\"\")\""),
        "{first}"
    );
    assert!(first.contains(",'@SUM(A1),"), "{first}");
    let second = lines.next().expect("a row");
    assert!(
        second.starts_with("13800138001,phone,张三,,,'-金卡,"),
        "{second}"
    );
}

/// Field report: `GET /segments/?x=1` answered "this route accepts: ." (an empty list).
#[test]
fn a_route_without_parameters_says_so() {
    let pairs = vec![("x".to_string(), "1".to_string())];
    let err = super::input::only_known(&pairs, &[]).expect_err("x is unknown");
    assert_eq!(
        err.to_string(),
        "Unknown parameter `x`; this route takes no query parameters."
    );
    let err = super::input::only_known(&pairs, &["limit"]).expect_err("x is unknown");
    assert_eq!(
        err.to_string(),
        "Unknown parameter `x`; this route accepts: limit."
    );
}
