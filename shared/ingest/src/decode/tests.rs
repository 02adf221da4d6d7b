use super::*;

fn image(json: serde_json::Value) -> HashMap<String, Av> {
    let item: serde_dynamo::Item = serde_json::from_value(json).expect("fixture is DynamoDB JSON");
    item.into_inner()
}

#[test]
fn decodes_an_order_with_any_phone_spelling() {
    let im = image(serde_json::json!({
        "order_id": {"S": "o1"}, "order_number": {"S": "ORD20260218001"}, "store_id": {"S": "store_sh_001"},
        "customer_phone": {"S": "+86 138-0013-8000"}, "order_type": {"S": "dine_in"}, "status": {"S": "completed"},
        "total": {"N": "280.00"}, "created_at": {"S": "2026-02-18T19:30:00"}, "unknown_extra": {"S": "ignored"},
        "items": {"L": [{"M": {"dish_id": {"S": "d1"}, "name": {"S": "宫保鸡丁"}, "quantity": {"N": "2"}, "price": {"N": "48"}}}]}
    }));
    let (rec, dropped) = decode(SourceKind::Orders, &im, &Zone::default()).unwrap();
    assert!(dropped.0.is_empty());
    let SourceRecord::Order(o) = rec else {
        panic!("an order")
    };
    assert_eq!(o.ids.phone.unwrap().as_str(), "13800138000");
    assert_eq!(o.total, Fen(28000));
    assert_eq!(o.items[0].price, Some(Fen(4800)));
}

#[test]
fn bad_values_name_the_attribute() {
    let base = serde_json::json!({"order_id": {"S": "o1"}, "store_id": {"S": "s1"}, "status": {"S": "paid"}, "total": {"N": "1"}, "created_at": {"S": "2026-01-01T00:00:00Z"}});
    for (attr, value, expect) in [
        ("total", serde_json::json!({"N": "-1"}), "total"),
        ("total", serde_json::json!({"S": "1"}), "total"),
        (
            "created_at",
            serde_json::json!({"S": "yesterday"}),
            "created_at",
        ),
        ("store_id", serde_json::json!({"NULL": true}), "store_id"),
    ] {
        let mut j = base.clone();
        j[attr] = value;
        let err = decode(SourceKind::Orders, &image(j), &Zone::default()).unwrap_err();
        assert!(err.to_string().contains(expect), "{err}");
    }
}

#[test]
fn an_implausible_phone_is_dropped_not_fatal() {
    let im = image(
        serde_json::json!({"log_id": {"S": "l1"}, "customer_phone": {"S": "021-1234"}, "member_id": {"S": "M1"}, "action": {"S": "login"}, "created_at": {"S": "2026-01-01T00:00:00+08:00"}}),
    );
    let (rec, dropped) = decode(SourceKind::Activity, &im, &Zone::default()).unwrap();
    assert_eq!(dropped.0, vec!["customer_phone"]);
    assert_eq!(rec.identities().member.unwrap().as_str(), "M1");
}

/// Issue 11, item 2: phone spellings from the field are the customer's phone, not dropped;
/// a phone that truly cannot be parsed is reported masked and the member id still applies.
#[test]
fn field_phone_spellings_are_read_and_a_bad_one_is_reported_masked() {
    for raw in [
        "１９９１１１１０００３",
        "(+86)199 1111 0003",
        "199\u{a0}1111\u{a0}0003",
    ] {
        let im = image(serde_json::json!({
            "order_id": {"S": "o1"}, "store_id": {"S": "store_sh_001"}, "customer_phone": {"S": raw},
            "status": {"S": "paid"}, "total": {"N": "10"}, "created_at": {"S": "2026-01-01T12:00:00+08:00"}
        }));
        let (rec, dropped) = decode(SourceKind::Orders, &im, &Zone::default()).unwrap();
        assert!(dropped.0.is_empty(), "{raw:?}");
        assert_eq!(
            rec.identities().phone.map(|p| p.as_str().to_string()),
            Some("19911110003".into())
        );
    }
    let im = image(serde_json::json!({
        "order_id": {"S": "o1"}, "store_id": {"S": "store_sh_001"}, "customer_phone": {"S": "199 1111 000"},
        "member_id": {"S": "M7"}, "status": {"S": "paid"}, "total": {"N": "10"}, "created_at": {"S": "2026-01-01T12:00:00+08:00"}
    }));
    let (rec, dropped) = decode(SourceKind::Orders, &im, &Zone::default()).unwrap();
    assert_eq!(
        dropped,
        Dropped(vec!["customer_phone"], vec!["**** 000".to_string()])
    );
    assert_eq!(
        rec.identities().member.map(|m| m.as_str().to_string()),
        Some("M7".into())
    );
}

/// Issue 11, item 7: DynamoDB Numbers in other spellings are read by value; a fraction
/// where a whole number belongs, or below the fen, fails that record naming the attribute.
#[test]
fn numbers_in_any_dynamodb_spelling_are_read_by_value() {
    let member = |points: &str, balance: &str| {
        image(serde_json::json!({
            "member_id": {"S": "M1"}, "phone": {"S": "13800138000"}, "points": {"N": points},
            "balance": {"N": balance}, "registered_at": {"S": "2025-01-01T00:00:00+08:00"}
        }))
    };
    let (rec, _) = decode(
        SourceKind::MemberSync,
        &member("1.5E3", "200.000"),
        &Zone::default(),
    )
    .unwrap();
    let SourceRecord::Member(m) = rec else {
        panic!("a member")
    };
    assert_eq!((m.points, m.balance), (Some(1500), Some(Fen(20000))));
    let err = decode(
        SourceKind::MemberSync,
        &member("2.5", "1"),
        &Zone::default(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "attribute `points`: `2.5` is not a whole number"
    );
    let err = decode(
        SourceKind::MemberSync,
        &member("1", "1.005"),
        &Zone::default(),
    )
    .unwrap_err();
    assert!(err.to_string().starts_with("attribute `balance`"), "{err}");

    let im = image(serde_json::json!({
        "reservation_id": {"S": "r1"}, "store_id": {"S": "s1"}, "customer_phone": {"S": "13800138000"},
        "party_size": {"N": "4.0"}, "reserved_for": {"S": "2026-01-01T18:00:00+08:00"}, "status": {"S": "confirmed"}
    }));
    let (rec, _) = decode(SourceKind::Reservations, &im, &Zone::default()).unwrap();
    let SourceRecord::Reservation(r) = rec else {
        panic!("a reservation")
    };
    assert_eq!(r.party_size, Some(4));

    let im = image(serde_json::json!({
        "order_id": {"S": "o1"}, "store_id": {"S": "s1"}, "customer_phone": {"S": "13800138000"}, "status": {"S": "paid"},
        "total": {"N": "1E+2"}, "created_at": {"S": "2026-01-01T12:00:00+08:00"},
        "items": {"L": [{"M": {"dish_id": {"S": "d1"}, "quantity": {"N": "2.0"}, "price": {"N": "5E1"}}}]}
    }));
    let (rec, _) = decode(SourceKind::Orders, &im, &Zone::default()).unwrap();
    let SourceRecord::Order(o) = rec else {
        panic!("an order")
    };
    assert_eq!(
        (o.total, o.items[0].quantity, o.items[0].price),
        (Fen(10000), Some(2), Some(Fen(5000)))
    );
}

/// `spec/sources.md`: `birthday` is `YYYY-MM-DD`, or `--MM-DD` when the member gave no year.
#[test]
fn a_member_birthday_is_read_as_given() {
    let member = |birthday: serde_json::Value| {
        let mut j = serde_json::json!({
            "member_id": {"S": "M1"}, "phone": {"S": "13800138000"},
            "registered_at": {"S": "2025-01-01T00:00:00+08:00"}
        });
        if !birthday.is_null() {
            j["birthday"] = birthday;
        }
        decode(SourceKind::MemberSync, &image(j), &Zone::default())
    };
    let birthday = |v: serde_json::Value| match member(v).expect("decodes").0 {
        SourceRecord::Member(m) => m.birthday,
        other => panic!("a member: {other:?}"),
    };
    use serde_json::json;
    assert_eq!(
        birthday(json!({"S": "1990-03-01"})).as_deref(),
        Some("1990-03-01")
    );
    assert_eq!(
        birthday(json!({"S": " --02-29 "})).as_deref(),
        Some("--02-29")
    );
    assert_eq!(
        birthday(json!({"S": "2000-02-29"})).as_deref(),
        Some("2000-02-29")
    );
    for absent in [json!(null), json!({"NULL": true}), json!({"S": " "})] {
        assert_eq!(birthday(absent.clone()), None, "{absent}");
    }
}

/// A bad birthday fails the member record as any unreadable attribute does, naming the
/// attribute but never showing the birthday.
#[test]
fn a_bad_birthday_fails_the_record_naming_the_attribute_not_the_date() {
    use serde_json::json;
    for (value, message) in [
        (
            json!({"S": "1990-02-30"}),
            "attribute `birthday`: not a real date",
        ),
        (
            json!({"S": "2001-02-29"}),
            "attribute `birthday`: not a real date",
        ),
        (
            json!({"S": "--13-01"}),
            "attribute `birthday`: not a real date",
        ),
        (
            json!({"S": "1990-3-1"}),
            "attribute `birthday`: `####-#-#` is not `YYYY-MM-DD` or `--MM-DD`",
        ),
        (
            json!({"S": "1990/03/01"}),
            "attribute `birthday`: `####/##/##` is not `YYYY-MM-DD` or `--MM-DD`",
        ),
        (
            json!({"N": "19900301"}),
            "attribute `birthday` must be a string (S)",
        ),
    ] {
        let im = image(json!({
            "member_id": {"S": "M1"}, "phone": {"S": "13800138000"}, "birthday": value,
            "registered_at": {"S": "2025-01-01T00:00:00+08:00"}
        }));
        let err = decode(SourceKind::MemberSync, &im, &Zone::default()).unwrap_err();
        assert_eq!(err.to_string(), message, "{value}");
    }
}
