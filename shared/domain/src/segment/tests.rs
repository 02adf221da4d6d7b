//! The filter language's unit tests.

use super::*;
use crate::money::Fen;
use crate::projection::{MemberInfo, Scope, ScopeStats};
use crate::time::{Millis, Zone, DAY_MS};
use crate::value::{Thresholds, Tier};
use crate::view::CustomerView;
use crate::{Identifier, IdentifierType, StoreId};
use chrono::NaiveDate;
use serde_json::{json, Value};

fn store(s: &str) -> StoreId {
    StoreId::parse(s).unwrap()
}

/// A seed-like customer with every figure present.
fn rich() -> SegmentFigures {
    SegmentFigures {
        rfm_score: Some(72.5),
        customer_tier: Some(Tier::High),
        tags: vec!["高价值".into(), "高频消费".into(), "活跃用户".into()],
        total_spent: Some(Fen(528_000)),
        total_orders: Some(24),
        avg_order_value: Some(Fen(22_000)),
        days_since_last_order: Some(2),
        days_since_last_activity: Some(1),
        member_level: Some("金卡".into()),
        churn_probability: Some(0.12),
        predicted_clv_12m: Some(Fen(310_050)),
        expected_orders_90d: Some(3.5),
        days_until_birthday: Some(6),
        store_id: Some(store("s1")),
    }
}

fn quiet() -> SegmentFigures {
    SegmentFigures {
        rfm_score: Some(31.0),
        customer_tier: Some(Tier::ChurnRisk),
        tags: vec!["流失风险".into(), "流失用户".into()],
        total_spent: Some(Fen(150_000)),
        total_orders: Some(6),
        avg_order_value: Some(Fen(25_000)),
        days_since_last_order: Some(120),
        days_since_last_activity: Some(120),
        ..SegmentFigures::default()
    }
}

fn json(text: &str) -> Filter {
    Filter::parse_json(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn json_err(text: &str) -> String {
    match Filter::parse_json(text) {
        Ok(f) => panic!("{text} parsed as {f:?}"),
        Err(e) => e.to_string(),
    }
}

fn query(pairs: &[(&str, &str)]) -> Result<Filter, FilterError> {
    Filter::from_query(pairs)
}

fn cmp(field: &str, op: &str, value: Value) -> Filter {
    Filter::from_json(&json!({"field": field, "op": op, "value": value})).unwrap()
}

#[test]
fn segment_seed_examples_in_both_spellings() {
    let active_high = json(
        r#"{"and":[{"field":"rfm_score","op":"gte","value":70},{"field":"tags","op":"contains_all","value":["活跃用户"]}]}"#,
    );
    let from_query = query(&[("rfm_score_gte", "70"), ("tag", "活跃用户")]).unwrap();
    assert!(active_high.matches(&rich()));
    assert!(from_query.matches(&rich()));
    assert!(!active_high.matches(&quiet()));
    assert!(!from_query.matches(&quiet()));
    // Score high enough but not active, active but score too low.
    let mut f = rich();
    f.tags = vec!["沉睡用户".into()];
    assert!(!active_high.matches(&f) && !from_query.matches(&f));
    f = rich();
    f.rfm_score = Some(69.9);
    assert!(!active_high.matches(&f) && !from_query.matches(&f));
    f.rfm_score = Some(70.0);
    assert!(active_high.matches(&f) && from_query.matches(&f));

    let churn = json(r#"{"field":"tags","op":"contains_all","value":["流失风险"]}"#);
    let churn_q = query(&[("tag", "流失风险")]).unwrap();
    for f in [&churn, &churn_q] {
        assert!(f.matches(&quiet()));
        assert!(!f.matches(&rich()));
    }
}

/// Field report: `rfm_score_gte=70&rfm_score_gte=80` was accepted and ANDed both, while every
/// other endpoint refuses a repeated parameter. Only `tag` repeats (each adds tags).
#[test]
fn a_repeated_filter_parameter_is_refused_except_tag() {
    for name in ["rfm_score_gte", "tag_any", "customer_tier", "missing"] {
        let v = if name == "missing" {
            "days_until_birthday"
        } else if name == "rfm_score_gte" {
            "70"
        } else {
            "高价值"
        };
        assert_eq!(
            query(&[(name, v), ("total_orders_gte", "1"), (name, v)]).unwrap_err(),
            FilterError::RepeatedParameter(name.to_string()),
            "{name}"
        );
    }
    assert!(query(&[("tag", "活跃用户"), ("tag", "高价值")]).is_ok());
}

#[test]
fn segment_query_parameters_cover_suffixes_tags_and_lists() {
    let q = query(&[
        ("rfm_score_gt", "72"),
        ("total_spent_gte", "5280"),
        ("total_orders_lte", "24"),
        ("days_since_last_order_lt", "3"),
        ("customer_tier", "高价值"),
        ("member_level_ne", "银卡"),
        ("store_id_eq", "s1"),
        ("customer_tier_in", "VIP, 高价值"),
        ("tag", "高价值"),
        ("tag", "活跃用户,高频消费"),
        ("tag_any", "VIP,高频消费"),
        ("tag_none", "流失风险"),
        ("exists", "churn_probability,days_until_birthday"),
        ("avg_order_value_eq", "220.00"),
    ])
    .unwrap();
    assert!(q.matches(&rich()), "{q:?}");
    let Filter::And(parts) = &q else {
        panic!("{q:?}")
    };
    // One contains_all for every `tag`, first; two `exists`.
    assert_eq!(parts.len(), 14);
    assert_eq!(
        parts[0],
        cmp(
            "tags",
            "contains_all",
            json!(["高价值", "活跃用户", "高频消费"])
        )
    );
    assert!(!query(&[("missing", "churn_probability")])
        .unwrap()
        .matches(&rich()));
    assert!(query(&[("missing", "churn_probability")])
        .unwrap()
        .matches(&quiet()));
    assert_eq!(query(&[]).unwrap(), Filter::all());
    assert!(Filter::all().matches(&SegmentFigures::default()));
    for (name, ok) in [
        ("rfm_score_gte", true),
        ("tag", true),
        ("store_id", true),
        ("limit", false),
        ("cursor", false),
        ("tags", false),
        ("rfm_score_ge", false),
    ] {
        assert_eq!(is_query_parameter(name), ok, "{name}");
    }
}

#[test]
fn segment_every_operator_on_numbers_integers_and_money() {
    let f = rich();
    for (op, value, want) in [
        ("eq", 72.5, true),
        ("eq", 72.0, false),
        ("ne", 72.0, true),
        ("ne", 72.5, false),
        ("gt", 72.5, false),
        ("gt", 72.4, true),
        ("gte", 72.5, true),
        ("lt", 72.5, false),
        ("lt", 72.6, true),
        ("lte", 72.5, true),
        ("lte", 72.4, false),
    ] {
        assert_eq!(
            cmp("rfm_score", op, json!(value)).matches(&f),
            want,
            "{op} {value}"
        );
    }
    assert!(cmp("rfm_score", "in", json!([10, 72.5])).matches(&f));
    assert!(!cmp("rfm_score", "in", json!([10, 72])).matches(&f));
    assert!(cmp("total_orders", "gte", json!(24)).matches(&f));
    assert!(!cmp("total_orders", "gt", json!(24)).matches(&f));
    assert!(cmp("total_orders", "in", json!([1, 24])).matches(&f));
    assert!(cmp("days_since_last_activity", "lte", json!(1)).matches(&f));
    assert!(cmp("churn_probability", "lt", json!(0.2)).matches(&f));
    assert!(cmp("expected_orders_90d", "gte", json!(3.5)).matches(&f));
    assert!(cmp("days_until_birthday", "lte", json!(7)).matches(&f));
}

#[test]
fn segment_money_is_compared_exactly_in_fen() {
    let mut f = rich();
    f.total_spent = Some(Fen(10)); // 0.10 yuan
    for (value, op, want) in [
        (json!(0.1), "eq", true),
        (json!("0.10"), "eq", true),
        (json!(0.09), "gt", true),
        (json!(0.11), "lt", true),
        (json!("0.1"), "gte", true),
        (json!(0.1), "gt", false),
        (json!(1e-1), "lte", true),
    ] {
        assert_eq!(
            cmp("total_spent", op, value.clone()).matches(&f),
            want,
            "{op} {value}"
        );
    }
    assert!(cmp("predicted_clv_12m", "eq", json!(3100.5)).matches(&rich()));
    assert!(cmp("avg_order_value", "in", json!(["220", 100])).matches(&rich()));
    assert!(query(&[("total_spent_eq", "0.1")]).unwrap().matches(&f));
    for bad in [
        json!(1.001),
        json!("1.001"),
        json!(-1),
        json!("abc"),
        json!(true),
    ] {
        let err =
            Filter::from_json(&json!({"field":"total_spent","op":"gte","value":bad})).unwrap_err();
        assert!(
            matches!(
                err,
                FilterError::InvalidValue {
                    field: Field::TotalSpent,
                    ..
                }
            ),
            "{bad}: {err}"
        );
    }
}

#[test]
fn segment_text_tier_store_and_tag_operators() {
    let f = rich();
    assert!(cmp("customer_tier", "eq", json!("高价值")).matches(&f));
    assert!(cmp("customer_tier", "ne", json!("VIP")).matches(&f));
    assert!(cmp("customer_tier", "in", json!(["VIP", "高价值"])).matches(&f));
    assert!(!cmp("customer_tier", "in", json!(["VIP", "流失风险"])).matches(&f));
    assert!(cmp("member_level", "eq", json!("金卡")).matches(&f));
    assert!(cmp("member_level", "in", json!(["银卡", "金卡"])).matches(&f));
    assert!(!cmp("member_level", "ne", json!("金卡")).matches(&f));
    assert!(cmp("store_id", "eq", json!(" s1 ")).matches(&f));
    assert!(cmp("store_id", "ne", json!("s2")).matches(&f));
    assert!(cmp("store_id", "in", json!(["s2", "s1"])).matches(&f));

    assert!(cmp("tags", "contains_all", json!(["高价值", "活跃用户"])).matches(&f));
    assert!(!cmp("tags", "contains_all", json!(["高价值", "VIP"])).matches(&f));
    assert!(cmp("tags", "contains_any", json!(["VIP", "活跃用户"])).matches(&f));
    assert!(!cmp("tags", "contains_any", json!(["VIP", "沉睡用户"])).matches(&f));
    assert!(cmp("tags", "contains_none", json!(["VIP", "沉睡用户"])).matches(&f));
    assert!(!cmp("tags", "contains_none", json!(["VIP", "高价值"])).matches(&f));
    // A customer without tags has none of any list.
    let bare = SegmentFigures::default();
    assert!(cmp("tags", "contains_none", json!(["VIP"])).matches(&bare));
    assert!(!cmp("tags", "contains_any", json!(["VIP"])).matches(&bare));
    assert!(!cmp("tags", "contains_all", json!(["VIP"])).matches(&bare));
}

#[test]
fn segment_and_or_not_combine() {
    let vip_or_churn = json(
        r#"{"or":[{"field":"customer_tier","op":"eq","value":"VIP"},{"field":"tags","op":"contains_any","value":["流失风险"]}]}"#,
    );
    assert!(vip_or_churn.matches(&quiet()));
    assert!(!vip_or_churn.matches(&rich()));
    let not_it = json(
        r#"{"not":{"or":[{"field":"customer_tier","op":"eq","value":"VIP"},{"field":"tags","op":"contains_any","value":["流失风险"]}]}}"#,
    );
    assert!(not_it.matches(&rich()));
    assert!(!not_it.matches(&quiet()));
    let nested = json(
        r#"{"and":[{"field":"total_orders","op":"gte","value":5},{"or":[{"field":"days_since_last_order","op":"gt","value":90},{"not":{"field":"rfm_score","op":"lt","value":50}}]}]}"#,
    );
    assert!(nested.matches(&rich()));
    assert!(nested.matches(&quiet()));
    let mut few = rich();
    few.total_orders = Some(3);
    assert!(!nested.matches(&few));
    assert!(json(r#"{"and":[]}"#).matches(&rich()));
    assert!(!json(r#"{"or":[]}"#).matches(&rich()));
}

/// A missing figure satisfies no comparison, `ne` included; `not` flips that to true;
/// `exists` and `missing` test the absence itself.
#[test]
fn segment_missing_figures_satisfy_no_comparison_and_not_is_plain_negation() {
    let none = quiet(); // no prediction, birthday, member level or store
    for (field, value) in [
        ("churn_probability", json!(0.5)),
        ("predicted_clv_12m", json!(100)),
        ("expected_orders_90d", json!(1)),
        ("days_until_birthday", json!(3)),
        ("member_level", json!("金卡")),
        ("store_id", json!("s1")),
    ] {
        for op in ["eq", "ne", "gt", "gte", "lt", "lte"] {
            if !Field::parse(field)
                .unwrap()
                .operators()
                .contains(&Op::parse(op).unwrap())
            {
                continue;
            }
            let c = cmp(field, op, value.clone());
            assert!(!c.matches(&none), "{field} {op} {value}");
            assert!(
                Filter::Not(Box::new(c)).matches(&none),
                "not {field} {op} {value}"
            );
        }
        let f = Field::parse(field).unwrap();
        let exists = Filter::Compare(Comparison::new(f, Test::Exists).unwrap());
        let missing = Filter::Compare(Comparison::new(f, Test::Missing).unwrap());
        assert!(!exists.matches(&none) && missing.matches(&none), "{field}");
        assert!(
            exists.matches(&rich()) && !missing.matches(&rich()),
            "{field}"
        );
    }
    assert!(!cmp("churn_probability", "in", json!([0.5])).matches(&none));
    // "Predicted to churn below 0.5", and "no prediction or below 0.5".
    let below = json(r#"{"field":"churn_probability","op":"lt","value":0.5}"#);
    let not_above = json(r#"{"not":{"field":"churn_probability","op":"gte","value":0.5}}"#);
    assert!(!below.matches(&none) && not_above.matches(&none));
    assert!(below.matches(&rich()) && not_above.matches(&rich()));
    // exists/missing in JSON take no value.
    assert!(json(r#"{"field":"days_until_birthday","op":"missing"}"#).matches(&none));
    // A NaN figure is missing, not a number.
    let mut nan = rich();
    nan.rfm_score = Some(f64::NAN);
    assert!(!cmp("rfm_score", "ne", json!(1)).matches(&nan));
}

#[test]
fn segment_errors_name_their_offender() {
    for (text, want) in [
        (
            r#"{"field":"rfm","op":"gte","value":70}"#,
            r#"unknown field "rfm" (fields: rfm_score, customer_tier"#,
        ),
        (
            r#"{"field":"rfm_score","op":"like","value":70}"#,
            r#"unknown operator "like" (operators: eq, ne"#,
        ),
        (
            r#"{"field":"rfm_score","op":"contains_all","value":[70]}"#,
            r#"operator "contains_all" does not apply to rfm_score (rfm_score takes eq, ne, gt, gte, lt, lte, in, exists, missing)"#,
        ),
        (
            r#"{"field":"customer_tier","op":"gt","value":"VIP"}"#,
            r#"operator "gt" does not apply to customer_tier"#,
        ),
        (
            r#"{"field":"tags","op":"eq","value":"VIP"}"#,
            r#"operator "eq" does not apply to tags"#,
        ),
        (
            r#"{"field":"rfm_score","op":"gte","value":"high"}"#,
            r#"value "high" for rfm_score gte must be a number from 0 to 100"#,
        ),
        (
            r#"{"field":"rfm_score","op":"gte","value":170}"#,
            r#"value 170 for rfm_score gte must be a number from 0 to 100"#,
        ),
        (
            r#"{"field":"churn_probability","op":"gte","value":70}"#,
            r#"value 70 for churn_probability gte must be a number from 0 to 1"#,
        ),
        (
            r#"{"field":"total_orders","op":"gte","value":2.5}"#,
            r#"value 2.5 for total_orders gte must be a whole number"#,
        ),
        (
            r#"{"field":"total_orders","op":"gte","value":"3"}"#,
            r#"value "3" for total_orders gte must be a whole number"#,
        ),
        (
            r#"{"field":"customer_tier","op":"eq","value":"金卡"}"#,
            r#"value "金卡" for customer_tier eq must be one of VIP, 高价值, 中价值, 低价值, 流失风险"#,
        ),
        (
            r#"{"field":"store_id","op":"eq","value":"s 1"}"#,
            r#"value "s 1" for store_id eq must be a store id"#,
        ),
        (
            r#"{"field":"tags","op":"contains_any","value":"VIP"}"#,
            r#"value "VIP" for tags contains_any must be a list of a tag"#,
        ),
        (
            r#"{"field":"tags","op":"contains_any","value":["VIP",3]}"#,
            r#"value 3 for tags contains_any must be a tag"#,
        ),
        (
            r#"{"field":"rfm_score","op":"in","value":70}"#,
            r#"value 70 for rfm_score in must be a list of a number"#,
        ),
        (
            r#"{"field":"rfm_score","op":"in","value":[]}"#,
            "rfm_score in needs a value",
        ),
        (
            r#"{"field":"rfm_score","op":"gte"}"#,
            "rfm_score gte needs a value",
        ),
        (
            r#"{"field":"rfm_score","op":"exists","value":true}"#,
            "rfm_score exists takes no value",
        ),
        (
            r#"{"field":"rfm_score","value":1}"#,
            r#"the comparison on rfm_score needs "op""#,
        ),
        (r#"{"op":"eq","value":1}"#, r#"a comparison needs "field""#),
        (
            r#"{"field":"rfm_score","op":"gte","value":70,"vaule":1}"#,
            r#"unknown key "vaule" in a filter"#,
        ),
        (
            r#"{"and":[],"or":[]}"#,
            r#"a filter with "and" has no other key, got "or""#,
        ),
        (r#"{"and":{}}"#, r#""and" takes a list of filters, got {}"#),
        (r#"[1]"#, r#"a filter must be an object"#),
        ("{", "filter is not valid JSON"),
    ] {
        let got = json_err(text);
        assert!(got.starts_with(want), "{text}\n got: {got}\nwant: {want}");
    }
    for (pairs, want) in [
        (
            vec![("rfm_gte", "70")],
            r#"unknown query parameter "rfm_gte""#,
        ),
        (vec![("tags", "VIP")], r#"unknown query parameter "tags""#),
        (
            vec![("rfm_score_ge", "70")],
            r#"unknown query parameter "rfm_score_ge""#,
        ),
        (
            vec![("customer_tier_gte", "VIP")],
            r#"operator "gte" does not apply to customer_tier"#,
        ),
        (
            vec![("rfm_score_gte", "seventy")],
            r#"value "seventy" for rfm_score gte must be a number"#,
        ),
        (
            vec![("rfm_score_gte", "NaN")],
            r#"value "NaN" for rfm_score gte"#,
        ),
        (
            vec![("total_spent_gte", "1.001")],
            r#"value "1.001" for total_spent gte must be an amount in yuan with at most 2 decimals"#,
        ),
        (
            vec![("days_until_birthday_lte", "")],
            r#"value "" for days_until_birthday lte must be a whole number"#,
        ),
        (
            vec![("customer_tier_in", "VIP,gold")],
            r#"value "gold" for customer_tier in"#,
        ),
        (vec![("tag", "")], "tags contains_all needs a value"),
        (vec![("tag_any", " , ")], "tags contains_any needs a value"),
        (vec![("missing", "rfm")], r#"unknown field "rfm""#),
        (
            vec![("exists", "tags")],
            r#"operator "exists" does not apply to tags"#,
        ),
    ] {
        let got = query(&pairs).unwrap_err().to_string();
        assert!(
            got.starts_with(want),
            "{pairs:?}\n got: {got}\nwant: {want}"
        );
    }
    // Long values are shortened in messages.
    let long = "x".repeat(500);
    let got = query(&[("rfm_score_gte", long.as_str())])
        .unwrap_err()
        .to_string();
    assert!(got.len() < 200, "{got}");
}

#[test]
fn segment_depth_and_size_are_bounded() {
    let leaf = json!({"field":"rfm_score","op":"gte","value":1});
    let nest = |levels: usize| (1..levels).fold(leaf.clone(), |inner, _| json!({ "not": inner }));
    assert!(Filter::from_json(&nest(MAX_DEPTH)).is_ok());
    assert_eq!(
        Filter::from_json(&nest(MAX_DEPTH + 1)),
        Err(FilterError::TooDeep)
    );
    // A hostile depth is refused without recursing through it.
    assert_eq!(Filter::from_json(&nest(100)), Err(FilterError::TooDeep));

    let wide = |n: usize| json!({ "and": vec![leaf.clone(); n] });
    assert!(Filter::from_json(&wide(MAX_NODES - 1)).is_ok());
    assert_eq!(
        Filter::from_json(&wide(MAX_NODES)),
        Err(FilterError::TooLarge)
    );
    // The query's comparisons sit under one `and`, which counts too.
    let exists = |n: usize| vec!["rfm_score"; n].join(",");
    assert_eq!(
        query(&[("exists", exists(MAX_NODES).as_str())]),
        Err(FilterError::TooLarge)
    );
    assert!(query(&[("exists", exists(MAX_NODES - 1).as_str())]).is_ok());

    let values: Vec<i64> = (0..=MAX_VALUES as i64).collect();
    assert_eq!(
        Filter::from_json(&json!({"field":"total_orders","op":"in","value":values})),
        Err(FilterError::TooManyValues {
            field: Field::TotalOrders,
            op: Op::In
        })
    );
    assert!(Filter::from_json(
        &json!({"field":"total_orders","op":"in","value":&values[..MAX_VALUES]})
    )
    .is_ok());
    assert!(FilterError::TooDeep.to_string().contains('8'));
    assert!(FilterError::TooLarge.to_string().contains("100"));
}

#[test]
fn segment_json_round_trips_and_serde_reads_it() {
    let text = r#"{"and":[{"field":"rfm_score","op":"gte","value":70},{"not":{"field":"tags","op":"contains_any","value":["流失风险","沉睡用户"]}},{"or":[{"field":"total_spent","op":"lt","value":"1000.50"},{"field":"customer_tier","op":"in","value":["VIP","高价值"]},{"field":"store_id","op":"eq","value":"s1"},{"field":"member_level","op":"ne","value":"金卡"},{"field":"days_until_birthday","op":"missing"},{"field":"total_orders","op":"eq","value":3}]}]}"#;
    let f = json(text);
    assert_eq!(Filter::from_json(&f.to_json()).unwrap(), f);
    #[derive(Deserialize, Serialize)]
    struct Body {
        filter: Filter,
    }
    let body: Body = serde_json::from_str(&format!(r#"{{"filter":{text}}}"#)).unwrap();
    assert_eq!(body.filter, f);
    let again: Body = serde_json::from_str(&serde_json::to_string(&body).unwrap()).unwrap();
    assert_eq!(again.filter, f);
    let err = serde_json::from_str::<Body>(r#"{"filter":{"field":"rfm","op":"eq","value":1}}"#)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains(r#"unknown field "rfm""#), "{err}");
}

#[test]
fn segment_fields_and_time_dependence() {
    let f = json(
        r#"{"and":[{"field":"total_spent","op":"gte","value":100},{"not":{"field":"member_level","op":"eq","value":"金卡"}}]}"#,
    );
    assert_eq!(
        f.fields().into_iter().collect::<Vec<_>>(),
        [Field::TotalSpent, Field::MemberLevel]
    );
    assert!(!f.time_dependent() && !f.needs_predictions());
    for field in Field::ALL {
        let moving = matches!(
            field,
            Field::RfmScore
                | Field::CustomerTier
                | Field::Tags
                | Field::DaysSinceLastOrder
                | Field::DaysSinceLastActivity
                | Field::DaysUntilBirthday
                | Field::ChurnProbability
                | Field::PredictedClv12m
                | Field::ExpectedOrders90d
        );
        assert_eq!(field.time_dependent(), moving, "{field}");
        assert_eq!(Field::parse(field.name()), Some(field));
    }
    let g = query(&[("total_orders_gte", "2"), ("churn_probability_gte", "0.5")]).unwrap();
    assert!(g.time_dependent() && g.needs_predictions());
    assert!(query(&[("tag", "VIP")]).unwrap().time_dependent());
    assert!(!Filter::all().time_dependent());
    for op in Op::ALL {
        assert_eq!(Op::parse(op.name()), Some(op));
    }
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

#[test]
fn segment_birthdays_count_days_in_the_zone_and_keep_29_february() {
    let zone = Zone::default();
    let march_1 = Birthday::parse("--03-01").unwrap();
    let leap_day = Birthday::parse("2000-02-29").unwrap();
    // 00:30 on 22 February in +08:00 is still the 21st in UTC.
    let now = zone.parse_time("2027-02-22T00:30:00+08:00").unwrap();
    let today = local_date(now, &zone);
    assert_eq!(today, date("2027-02-22"));
    assert_eq!(days_until_birthday(march_1, today), 7);
    assert_eq!(days_until_birthday(leap_day, today), 6); // 28 February 2027
                                                         // Just past both: the next ones are almost a year away.
    let today = local_date(zone.parse_time("2027-03-02T12:00:00+08:00").unwrap(), &zone);
    assert!(days_until_birthday(march_1, today) > 7);
    assert!(days_until_birthday(leap_day, today) > 7);
    assert_eq!(days_until_birthday(march_1, today), 365);
    assert_eq!(days_until_birthday(leap_day, today), 364); // 29 February 2028
                                                           // A leap year has 29 February.
    assert_eq!(days_until_birthday(leap_day, date("2028-02-28")), 1);
    assert_eq!(days_until_birthday(leap_day, date("2028-02-29")), 0);
    assert_eq!(days_until_birthday(leap_day, date("2027-02-28")), 0);
    assert_eq!(days_until_birthday(leap_day, date("2027-03-01")), 365);
    assert_eq!(days_until_birthday(march_1, date("2028-02-29")), 1);
    let new_year = Birthday::new(1, 1).unwrap();
    assert_eq!(days_until_birthday(new_year, date("2027-12-31")), 1);
    assert_eq!(days_until_birthday(new_year, date("2027-01-01")), 0);

    for bad in [
        "2001-02-29",
        "--13-01",
        "--02-30",
        "03-01",
        "--3-1",
        "",
        "yesterday",
    ] {
        assert_eq!(Birthday::parse(bad), None, "{bad}");
    }
    assert_eq!(Birthday::parse("--02-29"), Birthday::new(2, 29));
    assert_eq!(Birthday::new(4, 31), None);
    // What a masked role sees of a birthday.
    assert_eq!(leap_day.to_string(), "--02-29");
    assert_eq!(
        Birthday::parse("1990-03-01").unwrap().to_string(),
        "--03-01"
    );

    // In a filter: within a week.
    let soon = query(&[("days_until_birthday_lte", "7")]).unwrap();
    let figures = |d| SegmentFigures {
        days_until_birthday: Some(d),
        ..SegmentFigures::default()
    };
    assert!(soon.matches(&figures(7)) && soon.matches(&figures(0)));
    assert!(!soon.matches(&figures(8)));
    assert!(!soon.matches(&SegmentFigures::default()));
}

#[test]
fn segment_figures_of_a_view_follow_the_profile() {
    let zone = Zone::default();
    let now = Millis(zone.parse_time("2027-02-22T10:00:00+08:00").unwrap().0);
    let stats = ScopeStats {
        order_records: 24,
        counted_orders: 24,
        spend_fen: 528_000,
        first_counted_at: Some(Millis(now.0 - 180 * DAY_MS)),
        last_counted_at: Some(Millis(now.0 - 2 * DAY_MS)),
        last_event_at: Some(Millis(now.0 - DAY_MS)),
        ..ScopeStats::default()
    };
    let member = MemberInfo {
        member_id: "M1".into(),
        name: None,
        phone: None,
        email: None,
        level: Some("金卡".into()),
        points: None,
        balance_fen: None,
        store_id: None,
        birthday: Some("1990-03-01".into()),
        registered_at: Millis(0),
        synced_at: None,
    };
    let id = Identifier::parse(IdentifierType::Phone, "13800138000").unwrap();
    let thresholds = Thresholds::default();
    let view = CustomerView {
        identifier: &id,
        stats: &stats,
        member: Some(&member),
        now,
        zone: &zone,
        thresholds: &thresholds,
        model: None,
        monthly_discount_rate: 0.01,
    };
    let scope = Scope::Store(store("s1"));
    let f = SegmentFigures::of_view(&view, &scope, member.birthday_month_day(), true);
    assert_eq!(f.customer_tier, Some(Tier::High));
    assert_eq!(f.tags, view.tags());
    assert!(f.tags.contains(&"会员等级:金卡".to_string()));
    assert_eq!(f.total_spent, Some(Fen(528_000)));
    assert_eq!(f.avg_order_value, Some(Fen(22_000)));
    assert_eq!(f.days_since_last_order, Some(2));
    assert_eq!(f.days_since_last_activity, Some(1));
    assert_eq!(f.member_level.as_deref(), Some("金卡"));
    assert_eq!(f.days_until_birthday, Some(7));
    assert_eq!(f.store_id, Some(store("s1")));
    // No model: no prediction, whatever was asked.
    assert_eq!(f.churn_probability, None);
    assert!(json(r#"{"and":[{"field":"rfm_score","op":"gte","value":70},{"field":"tags","op":"contains_all","value":["活跃用户"]}]}"#).matches(&f));

    let empty = ScopeStats {
        reservation_records: 1,
        last_event_at: Some(now),
        ..ScopeStats::default()
    };
    let view = CustomerView {
        stats: &empty,
        member: None,
        ..view
    };
    let f = SegmentFigures::of_view(&view, &Scope::AllStores, None, false);
    assert_eq!(f.total_orders, Some(0));
    assert_eq!(f.avg_order_value, None);
    assert_eq!(f.days_since_last_order, None);
    assert_eq!(f.days_since_last_activity, Some(0));
    assert_eq!(
        (f.member_level, f.days_until_birthday, f.store_id),
        (None, None, None)
    );
}
