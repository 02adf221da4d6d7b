//! The ranking's unit tests: each stage, its parameters and the request time.

use super::*;

fn basket(id: &str, at: &str, dishes: &[&str]) -> Basket {
    Basket {
        order_id: id.into(),
        ordered_at: at.into(),
        dishes: dishes.iter().map(|d| d.to_string()).collect(),
    }
}

fn dishes(recs: &[Recommendation]) -> Vec<&str> {
    recs.iter().map(|r| r.dish_id.as_str()).collect()
}

/// The order decay alone: no store prior, no day decay, no basket-size discount.
fn no_prior() -> Params {
    Params {
        prior_exponent: 0.0,
        day_weight: 0.0,
        basket_size_exponent: 0.0,
        ..Params::default()
    }
}

#[test]
fn recent_dishes_outrank_an_old_habit_of_equal_count() {
    // Old habit: noodles in the first two orders; new habit: rice in the last two.
    let history = [
        basket("o1", "2024-01-01T12:00:00Z", &["noodles"]),
        basket("o2", "2024-01-08T12:00:00Z", &["noodles"]),
        basket("o3", "2024-02-01T12:00:00Z", &["rice"]),
        basket("o4", "2024-02-08T12:00:00Z", &["rice"]),
    ];
    let recs = rank(&history, None, 5, &no_prior());
    assert_eq!(dishes(&recs), ["rice", "noodles"]);
    assert!(recs.iter().all(|r| r.reason == Reason::Repeat));
    // rice: ages 0 and 1, noodles: ages 2 and 3 at h = 3, λ = 0.
    let w = |age: f64| (-age / 3.0).exp2();
    assert!((recs[0].score - (w(0.0) + w(1.0))).abs() < 1e-12);
    assert!((recs[1].score - (w(2.0) + w(3.0))).abs() < 1e-12);
}

#[test]
fn baskets_are_ordered_by_time_not_by_position() {
    let history = [
        basket("o4", "0004", &["rice"]),
        basket("o1", "0001", &["noodles"]),
    ];
    let recs = rank(&history, None, 1, &no_prior());
    assert_eq!(dishes(&recs), ["rice"]);
}

#[test]
fn frequency_beats_a_single_recent_try() {
    let history = [
        basket("o1", "1", &["tea", "cake"]),
        basket("o2", "2", &["tea"]),
        basket("o3", "3", &["tea"]),
        basket("o4", "4", &["soup"]),
    ];
    let recs = rank(&history, None, 3, &no_prior());
    assert_eq!(dishes(&recs), ["tea", "soup", "cake"]);
}

#[test]
fn a_dish_twice_in_one_basket_counts_once() {
    let history = [basket("o1", "1", &["tea", "tea", "tea", "cake"])];
    let recs = rank(&history, None, 2, &no_prior());
    // One basket, one weight each: the tie goes by dish id.
    assert_eq!(dishes(&recs), ["cake", "tea"]);
    assert_eq!(recs[0].score, recs[1].score);
}

#[test]
fn the_reorder_prior_prefers_habits_over_one_off_tries() {
    let mut stats = StoreStats::new();
    // Across the store tea comes back, the tasting menu does not.
    for c in 0..20 {
        let id = format!("c{c}");
        stats.add_customer(&[
            basket(&format!("{id}a"), "1", &["tea", "tasting_menu"]),
            basket(&format!("{id}b"), "2", &["tea"]),
        ]);
    }
    let history = [basket("o1", "1", &["tasting_menu", "tea"])];
    let recs = rank(&history, Some(&stats), 2, &Params::default());
    assert_eq!(dishes(&recs), ["tea", "tasting_menu"]);
    // Without the prior, the tie goes by popularity: tea (40 baskets) over the menu (20).
    let recs = rank(&history, Some(&stats), 2, &no_prior());
    assert_eq!(recs[0].score, recs[1].score);
}

#[test]
fn fills_with_paired_dishes_then_popular_ones() {
    let mut stats = StoreStats::new();
    for c in 0..10 {
        let id = format!("c{c}");
        stats.add_customer(&[basket(&id, "1", &["noodles", "chili_oil"])]);
    }
    for c in 0..30 {
        let id = format!("d{c}");
        stats.add_customer(&[basket(&id, "1", &["rice", "tea"])]);
    }
    let history = [basket("o1", "1", &["noodles"])];
    let recs = rank(&history, Some(&stats), 4, &Params::default());
    assert_eq!(dishes(&recs), ["noodles", "chili_oil", "rice", "tea"]);
    assert_eq!(recs[0].reason, Reason::Repeat);
    assert_eq!(recs[1].reason, Reason::PairedWith("noodles".into()));
    // chili_oil is in every noodles basket: confidence 10/10 (lift N / n(chili_oil) = 4).
    assert!((recs[1].score - 1.0).abs() < 1e-12);
    assert_eq!(recs[2].reason, Reason::Popular);
    assert_eq!(recs[2].reason.as_str(), "popular");
}

#[test]
fn pairs_go_by_how_often_guests_add_them_not_by_a_rare_dishs_lift() {
    let mut stats = StoreStats::new();
    // 460 baskets, 100 of noodles: 40 add dumplings (also in 60 other baskets), 3 add the
    // banquet fish (on no other basket), 90 add rice, which is on nearly every basket.
    for c in 0..100 {
        let mut dishes = vec!["noodles", "rice"];
        if c < 40 {
            dishes.push("dumplings");
        }
        if c < 3 {
            dishes.push("banquet_fish");
        }
        if c >= 90 {
            dishes.retain(|d| *d != "rice");
        }
        stats.add_customer(&[basket(&format!("n{c}"), "1", &dishes)]);
    }
    for c in 0..60 {
        stats.add_customer(&[basket(&format!("d{c}"), "1", &["dumplings", "rice"])]);
    }
    for c in 0..300 {
        stats.add_customer(&[basket(&format!("r{c}"), "1", &["rice"])]);
    }
    let lift = |b| stats.lift("noodles", b, 3).expect("enough support");
    // The banquet fish has by far the largest lift, rice hardly any ...
    assert!(
        lift("banquet_fish") > 2.0 * lift("dumplings"),
        "{}",
        lift("banquet_fish")
    );
    assert!(lift("rice") < 1.2, "{}", lift("rice"));
    let history = [basket("o1", "1", &["noodles"])];
    let params = Params {
        pair_anchors: 1,
        ..Params::default()
    };
    let paired: Vec<Recommendation> = rank(&history, Some(&stats), 10, &params)
        .into_iter()
        .filter(|r| matches!(r.reason, Reason::PairedWith(_)))
        .collect();
    // ... but 40 in 100 noodle orders add dumplings, 3 the fish: only dumplings is a pairing,
    // and rice (at a lift of about 1) is not one at all.
    assert_eq!(dishes(&paired), ["dumplings"]);
    assert!((paired[0].score - 0.4).abs() < 1e-12, "{}", paired[0].score);
}

#[test]
fn a_new_store_without_any_reorder_still_ranks_a_guests_own_dishes() {
    let mut stats = StoreStats::new();
    // Every customer has ordered once: the store's base reorder rate is 0.
    for c in 0..5 {
        stats.add_customer(&[basket(&format!("c{c}"), "1", &["tea", "cake"])]);
    }
    assert_eq!(stats.base_reorder_rate(), 0.0);
    let history = [
        basket("o1", "1", &["tea", "cake"]),
        basket("o2", "2", &["tea"]),
    ];
    let recs = rank(&history, Some(&stats), 2, &Params::default());
    assert_eq!(dishes(&recs), ["tea", "cake"]);
    assert!(
        recs.iter()
            .all(|r| r.reason == Reason::Repeat && r.score > 0.0),
        "{recs:?}"
    );
}

#[test]
fn pairs_below_the_support_threshold_are_not_recommended() {
    let mut stats = StoreStats::new();
    stats.add_customer(&[basket("a", "1", &["noodles", "truffle"])]);
    stats.add_customer(&[basket("b", "1", &["rice"])]);
    let history = [basket("o1", "1", &["noodles"])];
    let recs = rank(&history, Some(&stats), 3, &Params::default());
    assert!(recs
        .iter()
        .all(|r| !matches!(r.reason, Reason::PairedWith(_))));
}

#[test]
fn a_new_guest_gets_the_store_favourites() {
    let mut stats = StoreStats::new();
    stats.add_customer(&[
        basket("a", "1", &["tea", "rice"]),
        basket("b", "2", &["tea"]),
    ]);
    let recs = rank(&[], Some(&stats), 5, &Params::default());
    assert_eq!(dishes(&recs), ["tea", "rice"]);
    assert!(recs.iter().all(|r| r.reason == Reason::Popular));
    assert!(rank(&[], None, 5, &Params::default()).is_empty());
    assert!(rank(
        &[basket("a", "1", &["tea"])],
        Some(&stats),
        0,
        &Params::default()
    )
    .is_empty());
}

#[test]
fn only_the_last_max_baskets_count() {
    let mut history = vec![basket("o000", "000", &["old"])];
    for i in 1..=5 {
        history.push(basket(&format!("o{i:03}"), &format!("{i:03}"), &["new"]));
    }
    let params = Params {
        max_baskets: 5,
        ..no_prior()
    };
    assert_eq!(dishes(&rank(&history, None, 5, &params)), ["new"]);
    let params = Params {
        max_baskets: 6,
        ..no_prior()
    };
    assert_eq!(dishes(&rank(&history, None, 5, &params)), ["new", "old"]);
}

#[test]
fn the_day_decay_adds_to_the_order_decay_when_times_are_rfc_3339() {
    let history = [
        basket("o1", "2024-01-01T12:00:00Z", &["noodles"]),
        basket("o2", "2024-01-31T12:00:00Z", &["rice"]),
    ];
    let params = Params {
        day_weight: 0.5,
        half_life_days: 30.0,
        ..no_prior()
    };
    let recs = rank(&history, None, 2, &params);
    assert_eq!(dishes(&recs), ["rice", "noodles"]);
    // rice: age 0, 0 days: 1 + 0.5; noodles: age 1, 30 days: 2^(-1/3) + 0.5 · 2^(-1).
    assert!((recs[0].score - 1.5).abs() < 1e-12);
    assert!((recs[1].score - ((-1.0f64 / 3.0).exp2() + 0.25)).abs() < 1e-12);
}

#[test]
fn the_day_decay_separates_equal_order_ages_by_real_time() {
    // Same order counts and ages for both customers' tea; only the days differ.
    let soon = [
        basket("o1", "2024-01-01T12:00:00Z", &["tea"]),
        basket("o2", "2024-01-02T12:00:00Z", &["rice"]),
    ];
    let late = [
        basket("o1", "2023-01-01T12:00:00Z", &["tea"]),
        basket("o2", "2024-01-02T12:00:00Z", &["rice"]),
    ];
    let params = Params {
        day_weight: 0.5,
        ..no_prior()
    };
    let tea = |h: &[Basket]| {
        rank(h, None, 2, &params)
            .into_iter()
            .find(|r| r.dish_id == "tea")
            .map(|r| r.score)
            .unwrap_or_default()
    };
    assert!(tea(&soon) > tea(&late) + 0.4);
}

#[test]
fn without_rfc_3339_times_the_day_decay_is_left_out() {
    let history = [
        basket("o1", "0001", &["noodles"]),
        basket("o2", "0002", &["rice"]),
    ];
    let with_days = Params {
        day_weight: 0.5,
        ..no_prior()
    };
    assert_eq!(
        rank(&history, None, 2, &with_days),
        rank(&history, None, 2, &no_prior())
    );
    // One unparsable time drops the day term for the whole customer.
    let mixed = [
        basket("o1", "2024-01-01T12:00:00Z", &["noodles"]),
        basket("o2", "2024-02-01 noon", &["rice"]),
    ];
    let recs = rank(&mixed, None, 2, &with_days);
    assert!((recs[0].score - 1.0).abs() < 1e-12);
}

#[test]
fn a_dish_from_a_small_basket_counts_more_than_one_from_a_big_shop() {
    let history = [
        basket("o1", "1", &["tea"]),
        basket(
            "o2",
            "1",
            &[
                "cake", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o",
            ],
        ),
    ];
    let params = Params {
        basket_size_exponent: 0.25,
        half_life_orders: 1e9,
        ..no_prior()
    };
    let recs = rank(&history, None, 17, &params);
    assert_eq!(recs[0].dish_id, "tea");
    // tea: 1^(-1/4) = 1; cake: 16^(-1/4) = 1/2 (the same age, in effect).
    assert!((recs[0].score - 1.0).abs() < 1e-9);
    let cake = recs.iter().find(|r| r.dish_id == "cake").map(|r| r.score);
    assert!(cake.is_some_and(|s| (s - 0.5).abs() < 1e-9), "{cake:?}");
    // A repeated line does not make a basket bigger.
    let doubled = [basket("o1", "1", &["tea", "tea", "tea", "tea"])];
    assert!((rank(&doubled, None, 1, &params)[0].score - 1.0).abs() < 1e-12);
}

fn at(s: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(s).ok()
}

#[test]
fn the_due_again_factor_peaks_when_the_interval_has_passed() {
    // Ordered 3 times, 7 days apart (first 21 days, last 7 days before the request).
    assert!((due_again(3, 21.0, 7.0, 1.0) - 1.0).abs() < 1e-12);
    // Half the interval: x = log2((3.5 + 1)/(7 + 1)), w = 1.
    let x: f64 = (4.5f64 / 8.0).log2();
    assert!((due_again(3, 17.5, 3.5, 1.0) - (-0.5 * x * x).exp()).abs() < 1e-12);
    // Just bought and long overdue both score below due.
    assert!(due_again(3, 14.0, 0.0, 1.0) < 0.4);
    assert!(due_again(3, 74.0, 60.0, 1.0) < 0.02);
    // Once ordered: no interval, no boost.
    assert_eq!(due_again(1, 5.0, 5.0, 1.0), 0.0);
}

#[test]
fn without_a_request_time_rank_at_is_rank() {
    let history = [
        basket("o1", "2024-01-01T12:00:00Z", &["noodles", "tea"]),
        basket("o2", "2024-01-08T12:00:00Z", &["tea"]),
        basket("o3", "2024-01-15T12:00:00Z", &["rice"]),
    ];
    let p = Params::default();
    assert_eq!(
        rank_at(&history, None, 3, &p, None),
        rank(&history, None, 3, &p)
    );
    // Times that are not RFC 3339: the request time is ignored.
    let numbered = [
        basket("o1", "0001", &["noodles", "tea"]),
        basket("o2", "0002", &["tea"]),
    ];
    assert_eq!(
        rank_at(&numbered, None, 2, &p, at("2024-02-01T12:00:00Z")),
        rank(&numbered, None, 2, &p)
    );
}

#[test]
fn a_dish_that_is_due_moves_up_at_the_request_time() {
    // Milk every 14 days (last 14 days before the first request), coffee every 2 days
    // (last 2 days before it); equal counts and positions otherwise.
    let history = [
        basket("o1", "2024-01-01T12:00:00Z", &["milk"]),
        basket("o2", "2024-01-11T12:00:00Z", &["coffee"]),
        basket("o3", "2024-01-13T12:00:00Z", &["coffee"]),
        basket("o4", "2024-01-15T12:00:00Z", &["milk"]),
    ];
    let params = Params {
        due_weight: 0.5,
        due_width: 1.0,
        day_weight: 0.0,
        ..no_prior()
    };
    let score = |when: &str, dish: &str| {
        rank_at(&history, None, 2, &params, at(when))
            .into_iter()
            .find(|r| r.dish_id == dish)
            .map(|r| r.score)
            .unwrap_or_default()
    };
    let plain = |dish: &str| {
        rank(&history, None, 2, &params)
            .into_iter()
            .find(|r| r.dish_id == dish)
            .map(|r| r.score)
            .unwrap_or_default()
    };
    // Request on 2024-01-15T12:00 + 2 days: coffee (interval 2, 4 days since) is nearer
    // due than milk (interval 14, 2 days since); the exact factors follow the formula.
    let t = "2024-01-17T12:00:00Z";
    let f = |s: f64, i: f64| {
        let x = ((s + 1.0) / (i + 1.0)).log2();
        1.0 + 0.5 * (-0.5 * x * x).exp()
    };
    assert!((score(t, "coffee") - plain("coffee") * f(4.0, 2.0)).abs() < 1e-9);
    assert!((score(t, "milk") - plain("milk") * f(2.0, 14.0)).abs() < 1e-9);
    // Two weeks after the last milk order, milk is due and gets the full boost.
    let t = "2024-01-29T12:00:00Z";
    assert!((score(t, "milk") - plain("milk") * 1.5).abs() < 1e-9);
}

#[test]
fn with_a_request_time_the_day_decay_runs_to_it() {
    let history = [basket("o1", "2024-01-01T12:00:00Z", &["tea"])];
    let params = Params {
        day_weight: 0.5,
        half_life_days: 30.0,
        ..no_prior()
    };
    // Thirty days later: 1 (order age 0) + 0.5 · 2^(-30/30); once ordered, no boost.
    let recs = rank_at(&history, None, 1, &params, at("2024-01-31T12:00:00Z"));
    assert!((recs[0].score - 1.25).abs() < 1e-12);
    // A request time before the last order counts as no time at all.
    let recs = rank_at(&history, None, 1, &params, at("2023-12-01T12:00:00Z"));
    assert!((recs[0].score - 1.5).abs() < 1e-12);
}
