//! Coupon rules' unit tests.

use super::*;
use crate::value::Tier;
use serde_json::json;

fn store(s: &str) -> StoreId {
    StoreId::parse(s).unwrap()
}

fn defaults() -> CouponConfig {
    CouponConfig::load(None).unwrap_or_else(|e| panic!("the built-in rules: {e}"))
}

fn parse_err(text: &str) -> String {
    match CouponConfig::parse(text) {
        Ok(c) => panic!("{text} parsed as {c:?}"),
        Err(e) => e.to_string(),
    }
}

/// A configuration of the given defaults' JSON.
fn with_defaults(rules: Value) -> String {
    json!({ "defaults": rules }).to_string()
}

fn rule(id: &str, priority: i64, filter: Value) -> Value {
    json!({
        "id": id,
        "offer": {"title": "测试", "kind": "perk"},
        "priority": priority,
        "filter": filter,
    })
}

fn ids(matches: &[Match]) -> Vec<&str> {
    matches.iter().map(|m| m.rule_id.as_str()).collect()
}

/// An active VIP in store s1, with a prediction, no birthday soon.
fn active_vip() -> SegmentFigures {
    SegmentFigures {
        rfm_score: Some(90.0),
        customer_tier: Some(Tier::Vip),
        tags: vec![
            "会员".into(),
            "VIP".into(),
            "高频消费".into(),
            "活跃用户".into(),
        ],
        total_spent: Some(Fen(1_200_000)),
        total_orders: Some(40),
        avg_order_value: Some(Fen(30_000)),
        days_since_last_order: Some(3),
        days_since_last_activity: Some(1),
        churn_probability: Some(0.05),
        days_until_birthday: Some(120),
        store_id: Some(store("s1")),
        ..SegmentFigures::default()
    }
}

/// A customer gone quiet: tier and tag 流失风险, no prediction computed.
fn churned() -> SegmentFigures {
    SegmentFigures {
        rfm_score: Some(31.0),
        customer_tier: Some(Tier::ChurnRisk),
        tags: vec!["流失风险".into(), "流失用户".into()],
        total_spent: Some(Fen(150_000)),
        total_orders: Some(6),
        avg_order_value: Some(Fen(25_000)),
        days_since_last_order: Some(120),
        days_since_last_activity: Some(120),
        store_id: Some(store("s1")),
        ..SegmentFigures::default()
    }
}

fn baseline(avg_fen: i64) -> Baseline {
    Baseline {
        avg_order_value: Some(Fen(avg_fen)),
        total_spent: Some(Fen(100_000)),
        total_orders: Some(5),
        computed_at: Millis(1_700_000_000_000),
    }
}

#[test]
fn the_built_in_rules_parse() {
    let c = defaults();
    let got: Vec<&str> = c.defaults.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        got,
        ["win_back", "birthday_week", "vip_perk", "basket_builder"]
    );
    assert!(c.stores.is_empty());
    let win_back = &c.defaults[0];
    assert_eq!(win_back.offer.title, "回归礼: 满200减50");
    assert_eq!(win_back.offer.kind, OfferKind::AmountOff);
    assert_eq!(win_back.offer.value_yuan, Some(Fen(5000)));
    assert_eq!(win_back.offer.min_spend_yuan, Some(Fen(20000)));
    assert_eq!(win_back.priority, 80);
    assert!(win_back.needs_predictions());
    assert_eq!(c.defaults[2].offer.percent, Some(10.0));
    let basket = &c.defaults[3];
    assert_eq!(
        basket.filter.medians().iter().collect::<Vec<_>>(),
        [&Median::AvgOrderValue]
    );
    assert!(!basket.needs_predictions());
    // Blank text is no configuration.
    assert_eq!(CouponConfig::load(Some("  ")).unwrap(), c);
    // serde reads the same JSON.
    let via_serde: CouponConfig = serde_json::from_str(DEFAULT_RULES_JSON).unwrap();
    assert_eq!(via_serde, c);
}

#[test]
fn the_issue_example_rule_parses() {
    let text = r#"{"defaults":[{"id":"win_back","offer":{"title":"回归礼: 满200减50","kind":"amount_off","value_yuan":"50","min_spend_yuan":"200"},"priority":80,"filter":{"or":[{"field":"tags","op":"contains_any","value":["流失风险"]},{"field":"churn_probability","op":"gte","value":0.6}]}}]}"#;
    let c = CouponConfig::parse(text).unwrap();
    assert_eq!(c.defaults.len(), 1);
    assert_eq!(c.defaults[0].offer.valid_days, None);
}

#[test]
fn unknown_keys_are_refused_at_every_level() {
    let e = parse_err(r#"{"defaults":[],"store":{}}"#);
    assert!(e.contains("unknown key \"store\""), "{e}");

    let mut r = rule(
        "vip",
        1,
        json!({"field":"customer_tier","op":"eq","value":"VIP"}),
    );
    r["colour"] = json!("red");
    let e = parse_err(&with_defaults(json!([r])));
    assert!(
        e.contains("\"vip\" in defaults") && e.contains("unknown field `colour`"),
        "{e}"
    );

    let mut r = rule(
        "vip",
        1,
        json!({"field":"customer_tier","op":"eq","value":"VIP"}),
    );
    r["offer"]["value"] = json!(5);
    let e = parse_err(&with_defaults(json!([r])));
    assert!(
        e.contains("\"vip\"") && e.contains("offer: unknown field `value`"),
        "{e}"
    );

    // In the filter too (the segment language's own check).
    let r = rule(
        "vip",
        1,
        json!({"field":"customer_tier","op":"eq","value":"VIP","x":1}),
    );
    let e = parse_err(&with_defaults(json!([r])));
    assert!(
        e.contains("\"vip\"") && e.contains("unknown key \"x\""),
        "{e}"
    );

    let e = parse_err(r#"{"stores":{}}"#);
    assert!(e.contains("\"defaults\" is required"), "{e}");
    assert!(parse_err("not json").starts_with("coupon rules are not valid JSON"));
}

#[test]
fn money_must_be_exact_yuan() {
    let amount = |v: Value| {
        let mut r = rule("money", 1, json!({"and":[]}));
        r["offer"] = json!({"title":"满减","kind":"amount_off","value_yuan":v});
        with_defaults(json!([r]))
    };
    for bad in [
        json!("1.001"),
        json!(1.001),
        json!("-5"),
        json!("abc"),
        json!(true),
        json!(0),
    ] {
        let e = parse_err(&amount(bad.clone()));
        assert!(
            e.contains("\"money\" in defaults") && e.contains("value_yuan"),
            "{bad}: {e}"
        );
    }
    for (good, fen) in [
        (json!("50"), 5000),
        (json!(50), 5000),
        (json!(0.1), 10),
        (json!("12.5"), 1250),
    ] {
        let c = CouponConfig::parse(&amount(good.clone())).unwrap();
        assert_eq!(c.defaults[0].offer.value_yuan, Some(Fen(fen)), "{good}");
    }
    let mut r = rule("spend", 1, json!({"and":[]}));
    r["offer"]["min_spend_yuan"] = json!("199.999");
    let e = parse_err(&with_defaults(json!([r])));
    assert!(
        e.contains("\"spend\"") && e.contains("min_spend_yuan") && e.contains("199.999"),
        "{e}"
    );
}

#[test]
fn each_kind_needs_its_value() {
    let offer = |o: Value| {
        let mut r = rule("o", 1, json!({"and":[]}));
        r["offer"] = o;
        CouponConfig::parse(&with_defaults(json!([r]))).map_err(|e| e.to_string())
    };
    let e = offer(json!({"title":"满减","kind":"amount_off"})).unwrap_err();
    assert!(e.contains("needs value_yuan"), "{e}");
    let e = offer(json!({"title":"折扣","kind":"percent_off"})).unwrap_err();
    assert!(e.contains("needs percent"), "{e}");
    for p in [0.0, -5.0, 100.5] {
        let e = offer(json!({"title":"折扣","kind":"percent_off","percent":p})).unwrap_err();
        assert!(e.contains("percent must be"), "{p}: {e}");
    }
    assert!(offer(json!({"title":"免单","kind":"percent_off","percent":100})).is_ok());
    let e = offer(json!({"title":"折扣","kind":"percent_off","percent":10,"value_yuan":5}))
        .unwrap_err();
    assert!(e.contains("not value_yuan"), "{e}");
    let e =
        offer(json!({"title":"满减","kind":"amount_off","value_yuan":5,"percent":10})).unwrap_err();
    assert!(
        e.contains("percent applies to percent_off offers only"),
        "{e}"
    );
    let e = offer(json!({"title":"礼","kind":"gift"})).unwrap_err();
    assert!(e.contains("unknown variant `gift`"), "{e}");
    let e = offer(json!({"title":"  ","kind":"perk"})).unwrap_err();
    assert!(e.contains("title must have"), "{e}");
    for d in [json!(0), json!(1.5), json!("7")] {
        let e = offer(json!({"title":"礼","kind":"perk","valid_days":d})).unwrap_err();
        assert!(
            e.contains("valid_days") || e.contains("invalid type"),
            "{d}: {e}"
        );
    }
    let ok =
        offer(json!({"title":"赠菜","kind":"free_item","value_yuan":"38","valid_days":7})).unwrap();
    assert_eq!(ok.defaults[0].offer.value_yuan, Some(Fen(3800)));
    assert_eq!(ok.defaults[0].offer.valid_days, Some(7));
}

#[test]
fn ids_are_checked_and_unique_within_a_list() {
    let all = json!({"and":[]});
    let e = parse_err(&with_defaults(json!([
        rule("a", 1, all.clone()),
        rule("a", 2, all.clone())
    ])));
    assert!(
        e.contains("\"a\" in defaults") && e.contains("used twice"),
        "{e}"
    );

    let text = json!({"defaults":[rule("a", 1, all.clone())], "stores":{"s1":[rule("b", 1, all.clone()), rule("b", 1, all.clone())]}});
    let e = parse_err(&text.to_string());
    assert!(
        e.contains("\"b\" in stores.s1") && e.contains("used twice"),
        "{e}"
    );

    for bad in ["", "Win_Back", "win back", "满减", "a".repeat(65).as_str()] {
        let e = parse_err(&with_defaults(json!([rule(bad, 1, all.clone())])));
        assert!(e.contains("the id must be"), "{bad}: {e}");
    }
    assert!(is_rule_id(&"a".repeat(64)));
    assert!(is_rule_id("win-back_2"));

    // A rule without a readable id is named by its position.
    let e = parse_err(&with_defaults(
        json!([rule("a", 1, all.clone()), {"offer":{}}]),
    ));
    assert!(
        e.contains("#2 in defaults") && e.contains("missing field"),
        "{e}"
    );
}

#[test]
fn a_bad_filter_is_refused_at_load_naming_the_rule() {
    let e = parse_err(&with_defaults(json!([rule(
        "vip_perk",
        60,
        json!({"field":"customer_tier","op":"eq","value":"VVIP"})
    )])));
    assert!(
        e.starts_with("coupon rule \"vip_perk\" in defaults: filter:"),
        "{e}"
    );
    assert!(e.contains("VVIP"), "{e}");

    let e = parse_err(&with_defaults(json!([rule(
        "r",
        1,
        json!({"field":"rfm","op":"gte","value":1})
    )])));
    assert!(
        e.contains("\"r\"") && e.contains("unknown field \"rfm\""),
        "{e}"
    );

    let median = |name: Value, field: &str, op: &str| {
        parse_err(&with_defaults(json!([rule(
            "m",
            1,
            json!({"and":[{"field":field,"op":op,"value":{"store_median":name}}]})
        )])))
    };
    let e = median(json!("rfm_score"), "avg_order_value", "lt");
    assert!(
        e.contains("\"m\"") && e.contains("unknown store median \"rfm_score\""),
        "{e}"
    );
    let e = median(json!("total_orders"), "avg_order_value", "lt");
    assert!(e.contains("compares with total_orders only"), "{e}");
    let e = median(json!("avg_order_value"), "rfm_score", "lt");
    assert!(e.contains("not with rfm_score"), "{e}");
    let e = median(json!("avg_order_value"), "avg_order_value", "in");
    assert!(e.contains("eq, ne, gt, gte, lt or lte"), "{e}");
    let e = median(json!("avg_order_value"), "avg_order_value", "exists");
    assert!(e.contains("eq, ne, gt, gte, lt or lte"), "{e}");

    let r = rule(
        "m",
        1,
        json!({"field":"total_spent","op":"gt","value":{"store_median":"total_spent","x":1}}),
    );
    let e = parse_err(&with_defaults(json!([r])));
    assert!(e.contains("has no other key"), "{e}");

    // Medians compare across money fields, and orders with orders.
    let ok = CouponConfig::parse(&with_defaults(json!([
        rule("clv", 1, json!({"field":"predicted_clv_12m","op":"gte","value":{"store_median":"total_spent"}})),
        rule("orders", 1, json!({"not":{"field":"total_orders","op":"lt","value":{"store_median":"total_orders"}}})),
    ])))
    .unwrap();
    assert!(ok.defaults[0].needs_predictions());
    assert!(!ok.defaults[1].needs_predictions());
}

#[test]
fn store_rules_come_first_and_replace_a_default_by_id() {
    let all = json!({"and":[]});
    let text = json!({
        "defaults": [
            rule("win_back", 80, all.clone()),
            rule("vip_perk", 60, all.clone()),
            {"id":"sh_only","offer":{"title":"上海专享","kind":"perk"},"priority":5,"filter":all.clone(),"stores":["s1","s2"]},
        ],
        "stores": {
            "s1": [
                {"id":"win_back","offer":{"title":"回归礼: 满100减30","kind":"amount_off","value_yuan":30,"min_spend_yuan":100},"priority":90,"filter":all.clone()},
                rule("s1_lunch", 10, all.clone()),
            ]
        }
    });
    let c = CouponConfig::parse(&text.to_string()).unwrap();
    let names = |scope: &Scope| -> Vec<(String, i64)> {
        c.rules_for(scope)
            .iter()
            .map(|r| (r.id.clone(), r.priority))
            .collect()
    };
    let s1 = names(&Scope::Store(store("s1")));
    assert_eq!(
        s1,
        [
            ("win_back".to_string(), 90),
            ("s1_lunch".to_string(), 10),
            ("vip_perk".to_string(), 60),
            ("sh_only".to_string(), 5)
        ]
    );
    assert_eq!(
        c.rules_for(&Scope::Store(store("s1")))[0].offer.value_yuan,
        Some(Fen(3000))
    );
    let s2: Vec<String> = names(&Scope::Store(store("s2")))
        .into_iter()
        .map(|x| x.0)
        .collect();
    assert_eq!(s2, ["win_back", "vip_perk", "sh_only"]);
    let s3: Vec<String> = names(&Scope::Store(store("s3")))
        .into_iter()
        .map(|x| x.0)
        .collect();
    assert_eq!(s3, ["win_back", "vip_perk"]);
    let everywhere: Vec<String> = names(&Scope::AllStores).into_iter().map(|x| x.0).collect();
    assert_eq!(everywhere, ["win_back", "vip_perk"]);

    // The answer in s1 uses the store's win_back.
    let rules = c.rules_for(&Scope::Store(store("s1")));
    let got = applicable(rules, &churned(), &Baseline::unknown());
    assert_eq!(ids(&got), ["win_back", "vip_perk", "s1_lunch", "sh_only"]);
    assert_eq!(got[0].offer.title, "回归礼: 满100减30");

    // `stores` is for the defaults; store keys are store ids.
    let mut r = rule("x", 1, all.clone());
    r["stores"] = json!(["s1"]);
    let e = parse_err(&json!({"defaults":[], "stores":{"s1":[r]}}).to_string());
    assert!(
        e.contains("\"x\" in stores.s1") && e.contains("\"stores\" is for the defaults"),
        "{e}"
    );
    let mut r = rule("x", 1, all.clone());
    r["stores"] = json!([]);
    assert!(parse_err(&with_defaults(json!([r]))).contains("lists no store"));
    let mut r = rule("x", 1, all.clone());
    r["stores"] = json!(["a#b"]);
    assert!(parse_err(&with_defaults(json!([r]))).contains("\"a#b\" is not a store id"));
    let e = parse_err(&json!({"defaults":[], "stores":{"a#b":[]}}).to_string());
    assert!(e.contains("\"a#b\" is not a store id"), "{e}");
}

#[test]
fn a_churned_customer_gets_win_back_and_an_active_vip_the_vip_perk() {
    let c = defaults();
    let rules = c.rules_for(&Scope::Store(store("s1")));
    let b = baseline(20_000);

    let got = applicable(rules.iter().copied(), &churned(), &b);
    assert_eq!(ids(&got), ["win_back"]);
    assert_eq!(got[0].offer.value_yuan, Some(Fen(5000)));
    assert_eq!(
        got[0].reason,
        r#"win_back: {"field":"tags","op":"contains_any","value":["流失风险"]}"#
    );

    let got = applicable(rules.iter().copied(), &active_vip(), &b);
    assert_eq!(ids(&got), ["vip_perk"]);
    assert_eq!(got[0].offer.percent, Some(10.0));
}

#[test]
fn the_reason_names_the_branch_that_matched_not_the_whole_or() {
    let d = defaults();
    let rules = d.rules_for(&Scope::AllStores);
    let reason = |f: &SegmentFigures| {
        let got = applicable(rules.iter().copied(), f, &Baseline::unknown());
        assert_eq!(ids(&got), ["win_back"], "{f:?}");
        got[0].reason.clone()
    };
    let tag = r#"win_back: {"field":"tags","op":"contains_any","value":["流失风险"]}"#;
    let prediction = r#"win_back: {"field":"churn_probability","op":"gte","value":0.6}"#;
    // Not tagged, but predicted to churn: the prediction, not the tag it lacks.
    let predicted = SegmentFigures {
        customer_tier: Some(Tier::Low),
        tags: vec!["低价值".into()],
        churn_probability: Some(0.8),
        ..churned()
    };
    assert_eq!(reason(&predicted), prediction);
    // Both: the first branch that holds.
    let both = SegmentFigures {
        churn_probability: Some(0.8),
        ..churned()
    };
    assert_eq!(reason(&both), tag);

    // An `and` keeps every part, each narrowed in turn; only the medians of what matched.
    let c = CouponConfig::parse(&with_defaults(json!([rule(
        "big_vip",
        10,
        json!({"and": [
            {"field": "customer_tier", "op": "eq", "value": "VIP"},
            {"or": [
                {"field": "total_orders", "op": "gte", "value": {"store_median": "total_orders"}},
                {"field": "total_spent", "op": "gte", "value": {"store_median": "total_spent"}}
            ]},
            {"not": {"field": "tags", "op": "contains_any", "value": ["流失风险"]}}
        ]}),
    )])))
    .unwrap();
    let reason_of = |f: &SegmentFigures| {
        let got = applicable(c.rules_for(&Scope::AllStores), f, &baseline(20_000));
        assert_eq!(ids(&got), ["big_vip"], "{f:?}");
        got[0].reason.clone()
    };
    // 40 orders, 12,000 yuan: above both medians (5 orders, 1,000 yuan); the first counts.
    assert_eq!(
        reason_of(&active_vip()),
        r#"big_vip: {"and":[{"field":"customer_tier","op":"eq","value":"VIP"},{"field":"total_orders","op":"gte","value":5},{"not":{"field":"tags","op":"contains_any","value":["流失风险"]}}]}; store median of total_orders: 5 orders"#
    );
    // Few orders but a big spender: the second branch, and its median.
    let few = SegmentFigures {
        total_orders: Some(2),
        ..active_vip()
    };
    assert_eq!(
        reason_of(&few),
        r#"big_vip: {"and":[{"field":"customer_tier","op":"eq","value":"VIP"},{"field":"total_spent","op":"gte","value":1000.0},{"not":{"field":"tags","op":"contains_any","value":["流失风险"]}}]}; store median of total_spent: 1000.00 yuan"#
    );
}

#[test]
fn a_birthday_within_a_week_gets_the_birthday_perk() {
    let c = defaults();
    let rules = c.rules_for(&Scope::AllStores);
    let b = Baseline::unknown();
    for (days, want) in [(0, true), (3, true), (7, true), (8, false), (30, false)] {
        let f = SegmentFigures {
            days_until_birthday: Some(days),
            ..active_vip()
        };
        let got = applicable(rules.iter().copied(), &f, &b);
        assert_eq!(ids(&got).contains(&"birthday_week"), want, "{days} days");
    }
    // No birthday known: no birthday perk.
    let f = SegmentFigures {
        days_until_birthday: None,
        ..active_vip()
    };
    assert!(!ids(&applicable(rules.iter().copied(), &f, &b)).contains(&"birthday_week"));
}

#[test]
fn the_basket_builder_applies_below_the_median_only_and_needs_a_baseline() {
    let c = defaults();
    let rules = c.rules_for(&Scope::Store(store("s1")));
    // An active 中价值 customer with a 250-yuan average.
    let f = SegmentFigures {
        customer_tier: Some(Tier::Mid),
        tags: vec!["中价值".into(), "活跃用户".into()],
        ..churned()
    };
    let basket =
        |b: &Baseline| ids(&applicable(rules.iter().copied(), &f, b)).contains(&"basket_builder");
    assert!(basket(&baseline(25_001)));
    assert!(!basket(&baseline(25_000)), "at the median");
    assert!(!basket(&baseline(24_999)), "above the median");
    assert!(!basket(&Baseline::unknown()), "without a baseline");
    let no_avg = Baseline {
        avg_order_value: None,
        ..baseline(30_000)
    };
    assert!(!basket(&no_avg));

    let got = applicable(rules.iter().copied(), &f, &baseline(30_050));
    assert_eq!(ids(&got), ["basket_builder"]);
    assert_eq!(
        got[0].reason,
        "basket_builder: {\"field\":\"avg_order_value\",\"op\":\"lt\",\"value\":300.5}; store median of avg_order_value: 300.50 yuan"
    );

    // Without a counted order there is no average: no basket builder.
    let never = SegmentFigures {
        avg_order_value: None,
        ..f.clone()
    };
    assert!(applicable(rules.iter().copied(), &never, &baseline(30_000)).is_empty());

    // bind: Ok(None) without the median, the bound filter with it.
    let filter = &c.defaults[3].filter;
    assert_eq!(filter.bind(&Baseline::unknown()), Ok(None));
    let bound = filter.bind(&baseline(8_550)).unwrap().unwrap();
    assert_eq!(
        bound.to_json(),
        json!({"field":"avg_order_value","op":"lt","value":85.5})
    );
    // A negative median (a hand-built baseline) cannot be compared: an error, and the rule
    // does not apply.
    let negative = baseline(-5);
    assert!(matches!(
        filter.bind(&negative),
        Err(CouponError::UnusableMedian { .. })
    ));
    assert!(!basket(&negative));
}

#[test]
fn offers_are_ordered_by_priority_then_id() {
    let all = json!({"and":[]});
    let c = CouponConfig::parse(&with_defaults(json!([
        rule("b", 10, all.clone()),
        rule("z", 50, all.clone()),
        rule("a", 10, all.clone()),
        rule("neg", -1, all.clone()),
        rule("m", 50, all.clone()),
        rule("none", 99, json!({"or":[]})),
    ])))
    .unwrap();
    let got = applicable(
        c.rules_for(&Scope::AllStores),
        &SegmentFigures::default(),
        &Baseline::unknown(),
    );
    assert_eq!(ids(&got), ["m", "z", "a", "b", "neg"]);

    // The built-ins: a churned customer in birthday week, below the median.
    let d = defaults();
    let f = SegmentFigures {
        days_until_birthday: Some(2),
        ..churned()
    };
    let got = applicable(
        d.rules_for(&Scope::Store(store("s1"))),
        &f,
        &baseline(40_000),
    );
    assert_eq!(ids(&got), ["win_back", "birthday_week", "basket_builder"]);
}

#[test]
fn a_missing_prediction_does_not_match_churn_probability() {
    let d = defaults();
    let rules = d.rules_for(&Scope::AllStores);
    assert!(needs_predictions(rules.iter().copied()));
    // Quiet but not (yet) tagged 流失风险, without a prediction: no win-back.
    let f = SegmentFigures {
        customer_tier: Some(Tier::Low),
        tags: vec!["低价值".into(), "沉睡用户".into()],
        churn_probability: None,
        ..churned()
    };
    assert!(
        !ids(&applicable(rules.iter().copied(), &f, &Baseline::unknown())).contains(&"win_back")
    );
    // With a prediction of 0.6 or more: win-back.
    for (p, want) in [(0.59, false), (0.6, true), (0.9, true)] {
        let f = SegmentFigures {
            churn_probability: Some(p),
            ..f.clone()
        };
        let got = applicable(rules.iter().copied(), &f, &Baseline::unknown());
        assert_eq!(ids(&got).contains(&"win_back"), want, "{p}");
    }
    // Rules that read no prediction do not ask for one.
    let only_vip: Vec<&CouponRule> = rules
        .iter()
        .copied()
        .filter(|r| r.id == "vip_perk")
        .collect();
    assert!(!needs_predictions(only_vip));
}

#[test]
fn a_match_answers_in_yuan() {
    let d = defaults();
    let got = applicable(
        d.rules_for(&Scope::AllStores),
        &churned(),
        &Baseline::unknown(),
    );
    let v = serde_json::to_value(&got[0]).unwrap();
    assert_eq!(v, got[0].json());
    assert_eq!(
        v,
        json!({
            "rule_id": "win_back",
            "title": "回归礼: 满200减50",
            "kind": "amount_off",
            "value": 50.0,
            "percent": null,
            "min_spend": 200.0,
            "valid_days": 14,
            "priority": 80,
            "reason": got[0].reason,
        })
    );
    let vip = applicable(
        d.rules_for(&Scope::AllStores),
        &active_vip(),
        &Baseline::unknown(),
    );
    let v = vip[0].json();
    assert_eq!(v["kind"], "percent_off");
    assert_eq!(v["percent"], 10.0);
    assert_eq!(v["value"], Value::Null);
    assert_eq!(v["min_spend"], Value::Null);
}

#[test]
fn baselines_are_medians_of_the_scope_figures() {
    let fig = |avg: Option<i64>, spent: i64, orders: i64| SegmentFigures {
        avg_order_value: avg.map(Fen),
        total_spent: Some(Fen(spent)),
        total_orders: Some(orders),
        ..SegmentFigures::default()
    };
    let figures = [
        fig(Some(10_000), 30_000, 3),
        fig(None, 0, 0),
        fig(Some(20_001), 40_002, 2),
        fig(Some(5_000), 5_000, 1),
        fig(Some(30_000), 90_000, 3),
    ];
    let b = Baseline::of_figures(&figures, Millis(42));
    // Averages (the customer without an order left out): 5000, 10000, 20001, 30000.
    assert_eq!(b.avg_order_value, Some(Fen(15_001)));
    assert_eq!(b.total_spent, Some(Fen(30_000)));
    assert_eq!(b.total_orders, Some(2));
    assert_eq!(b.computed_at, Millis(42));
    let empty = Baseline::of_figures(&[], Millis(42));
    assert_eq!(
        (empty.avg_order_value, empty.total_spent, empty.total_orders),
        (None, None, None)
    );
    // Stored and read back as JSON, refusing unknown keys.
    let text = serde_json::to_string(&b).unwrap();
    assert_eq!(serde_json::from_str::<Baseline>(&text).unwrap(), b);
    assert!(serde_json::from_str::<Baseline>(
        r#"{"avg_order_value":1,"total_spent":1,"total_orders":1,"computed_at":0,"x":1}"#
    )
    .is_err());
}
