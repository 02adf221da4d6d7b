use super::*;
use crate::ids::{Email, MemberId};

fn named(name: &str) -> ScopeStats {
    let mut stats = ScopeStats {
        order_records: 1,
        ..ScopeStats::default()
    };
    stats.names.insert(name.into(), 1);
    stats
}

#[test]
fn a_phone_node_is_found_by_number_tail_and_name_prefixes() {
    let node = Identifier::Phone(Phone::parse("13800138000").unwrap());
    let stats = named("张三");
    let t = tokens(&node, &[], &stats);
    for want in ["p:13800138000", "l4:8000", "n:张", "n:张三"] {
        assert!(t.contains(want), "{want} in {t:?}");
    }
    assert!(tokens(&node, &[], &ScopeStats::default()).is_empty());
}

#[test]
fn queries_map_to_the_tokens_they_can_match() {
    assert_eq!(query_tokens("+86 138 0013 8000"), vec!["p:13800138000"]);
    // Digits are a phone's tail or a member id, never a name: two Queries, not three.
    assert_eq!(query_tokens("8000"), vec!["l4:8000", "m:8000"]);
    assert_eq!(query_tokens("123456"), vec!["m:123456"]);
    assert_eq!(query_tokens("M123456"), vec!["m:m123456", "n:m123456"]);
    assert_eq!(query_tokens("张"), vec!["n:张"]);
    let node = Identifier::Member(MemberId::parse("M123456").unwrap());
    let stats = ScopeStats {
        member_records: 1,
        ..ScopeStats::default()
    };
    assert!(tokens(&node, &[], &stats).contains("m:m123456"));
}

#[test]
fn initials_read_surnames_as_surnames() {
    assert_eq!(initials("张三").as_deref(), Some("zs"));
    assert_eq!(initials("曾小明").as_deref(), Some("zxm"));
    assert_eq!(initials("单雨").as_deref(), Some("sy"));
    assert_eq!(initials("解东").as_deref(), Some("xd"));
    assert_eq!(initials("欧阳文").as_deref(), Some("oyw"));
    assert_eq!(initials("单于飞").as_deref(), Some("cyf"));
    assert_eq!(initials("尉迟恭").as_deref(), Some("ycg"));
    assert_eq!(initials(" 王 芳 ").as_deref(), Some("wf"));
    assert_eq!(initials("阿卜杜·热合曼").as_deref(), Some("abdrhm"));
    assert_eq!(initials("Alice"), None);
    assert_eq!(initials("张A"), None);
    assert_eq!(initials(""), None);
}

#[test]
fn a_name_is_found_by_its_initials_and_their_prefixes() {
    let node = Identifier::Phone(Phone::parse("13800138000").unwrap());
    for (name, want) in [
        ("张三", "i:zs"),
        ("曾小明", "i:zxm"),
        ("单雨", "i:sy"),
        ("解东", "i:xd"),
        ("欧阳文", "i:oyw"),
    ] {
        let t = tokens(&node, &[], &named(name));
        assert!(t.contains(want), "{want} in {t:?}");
    }
    let t = tokens(&node, &[], &named("曾小明"));
    for want in ["i:z", "i:zx", "i:zxm"] {
        assert!(t.contains(want), "{want} in {t:?}");
    }
    assert!(!t.contains("i:cxm"), "曾 as a surname is zēng: {t:?}");
}

#[test]
fn letters_only_queries_also_look_up_initials() {
    assert_eq!(query_tokens("zs"), vec!["m:zs", "n:zs", "i:zs"]);
    assert_eq!(query_tokens("ZXM"), vec!["m:zxm", "n:zxm", "i:zxm"]);
    assert_eq!(query_tokens("oyw"), vec!["m:oyw", "n:oyw", "i:oyw"]);
    for q in ["8000", "M123456", "张", "z s", "a@b.cn"] {
        assert!(
            query_tokens(q)
                .iter()
                .all(|t| !t.as_str().starts_with("i:")),
            "{q}: {:?}",
            query_tokens(q)
        );
    }
    assert!(query_tokens("zs").len() <= 3);
}

#[test]
fn full_width_queries_find_what_their_plain_spelling_finds() {
    assert_eq!(query_tokens("０００５"), query_tokens("0005"));
    assert_eq!(query_tokens("ＺＳ"), query_tokens("zs"));
    assert_eq!(query_tokens("Ｍ５００００５"), query_tokens("M500005"));
    assert_eq!(
        query_tokens("ｗｕ．ｗｕ＠ｅｘａｍｐｌｅ．ｃｏｍ"),
        vec!["e:wu.wu@example.com"]
    );
    assert_eq!(initials("曾小明"), initials("曾小明 "));
}

#[test]
fn a_node_carries_the_tokens_of_every_identifier_of_its_customer() {
    let member = Identifier::Member(MemberId::parse("M500005").unwrap());
    let phone = Identifier::Phone(Phone::parse("19911110005").unwrap());
    let email = Identifier::Email(Email::parse("wu@example.com").unwrap());
    let cluster = vec![member.clone(), phone.clone(), email.clone()];
    let stats = ScopeStats {
        order_records: 1,
        ..ScopeStats::default()
    };
    let t = tokens(&member, &cluster, &stats);
    for want in ["m:m500005", "p:19911110005", "l4:0005", "e:wu@example.com"] {
        assert!(t.contains(want), "{want} in {t:?}");
    }
    // Where the node has no records, it holds no tokens, whoever it is linked to.
    assert!(tokens(&member, &cluster, &ScopeStats::default()).is_empty());
}

#[test]
fn a_customers_tokens_are_the_union_of_its_nodes_tokens_once() {
    let phone = Identifier::Phone(Phone::parse("13800138000").unwrap());
    let member = Identifier::Member(MemberId::parse("M1").unwrap());
    let email = Identifier::Email(Email::parse("zs@example.com").unwrap());
    let cluster = vec![email.clone(), member.clone(), phone.clone()];
    // The phone's orders carry 张三, the member's 张小三; the email has no records here.
    let by_phone = named("张三");
    let by_member = named("张小三");
    let mut summed = by_phone.clone();
    summed.merge(&by_member);
    let union: BTreeSet<Token> = tokens(&phone, &cluster, &by_phone)
        .union(&tokens(&member, &cluster, &by_member))
        .cloned()
        .collect();
    assert_eq!(customer_tokens(&cluster, &summed), union);
    for want in [
        "p:13800138000",
        "l4:8000",
        "m:m1",
        "e:zs@example.com",
        "n:张小",
        "i:zxs",
    ] {
        assert!(union.contains(want), "{want} in {union:?}");
    }
    // No records in the scope: not found there, whatever its identifiers.
    assert!(customer_tokens(&cluster, &ScopeStats::default()).is_empty());
    assert!(customer_tokens(&[], &summed).is_empty());
}
