//! The in-memory DynamoDB through the real SDK client.

use super::*;
use aws_sdk_dynamodb::types::AttributeValue as Av;

fn client(memory: &MemoryDynamo) -> aws_sdk_dynamodb::Client {
    memory.client()
}

/// Table `t` keyed by `pk` alone.
async fn pk_table(c: &aws_sdk_dynamodb::Client) {
    use aws_sdk_dynamodb::types::{KeySchemaElement, KeyType};
    c.create_table()
        .table_name("t")
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .expect("key"),
        )
        .send()
        .await
        .expect("create");
}

#[tokio::test]
async fn conditions_transactions_and_queries_behave_like_dynamodb() {
    let memory = MemoryDynamo::new();
    let c = client(&memory);
    use aws_sdk_dynamodb::types::*;
    let key = |n: &str| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(if n == "pk" {
                KeyType::Hash
            } else {
                KeyType::Range
            })
            .build()
            .expect("key")
    };
    c.create_table()
        .table_name("t")
        .key_schema(key("pk"))
        .key_schema(key("sk"))
        .send()
        .await
        .expect("create");
    let put = |sk: &str, cond: Option<&str>| {
        let mut p = Put::builder()
            .table_name("t")
            .item("pk", Av::S("a".into()))
            .item("sk", Av::S(sk.into()))
            .item("ver", Av::N("1".into()));
        if let Some(c) = cond {
            p = p.condition_expression(c);
        }
        TransactWriteItem::builder()
            .put(p.build().expect("put"))
            .build()
    };
    c.transact_write_items()
        .transact_items(put("x1", Some("attribute_not_exists(pk)")))
        .transact_items(put("x2", None))
        .send()
        .await
        .expect("first write");
    // The same condition again fails the whole transaction, with a reason per item.
    let err = c
        .transact_write_items()
        .transact_items(put("x3", None))
        .transact_items(put("x1", Some("attribute_not_exists(pk)")))
        .send()
        .await
        .expect_err("conflict");
    let Some(aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(tc)) = err.as_service_error() else {
        panic!("{err:?}")
    };
    let codes: Vec<_> = tc
        .cancellation_reasons()
        .iter()
        .filter_map(|r| r.code())
        .collect();
    assert_eq!(codes, ["None", "ConditionalCheckFailed"]);
    let got = c
        .query()
        .table_name("t")
        .key_condition_expression("pk = :pk AND begins_with(sk, :p)")
        .expression_attribute_values(":pk", Av::S("a".into()))
        .expression_attribute_values(":p", Av::S("x".into()))
        .scan_index_forward(false)
        .limit(1)
        .send()
        .await
        .expect("query");
    assert_eq!(got.items().len(), 1);
    assert_eq!(got.items()[0]["sk"], Av::S("x2".into()));
    assert!(
        got.last_evaluated_key().is_some(),
        "x3 was never written; x1 remains"
    );
    // A projection keeps the attributes it names, by name or placeholder, and nothing else.
    let got = c
        .query()
        .table_name("t")
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", Av::S("a".into()))
        .projection_expression("sk, #v")
        .expression_attribute_names("#v", "ver")
        .send()
        .await
        .expect("query with a projection");
    assert_eq!(got.items().len(), 2);
    for item in got.items() {
        let mut names: Vec<&str> = item.keys().map(String::as_str).collect();
        names.sort();
        assert_eq!(names, ["sk", "ver"]);
    }
    let err = c
        .get_item()
        .table_name("missing")
        .key("pk", Av::S("a".into()))
        .send()
        .await
        .expect_err("no table");
    assert!(err
        .as_service_error()
        .is_some_and(|e| e.is_resource_not_found_exception()));
}

#[tokio::test]
async fn a_transaction_adds_to_a_counter_and_sets_attributes_like_dynamodb() {
    let memory = MemoryDynamo::new();
    let c = client(&memory);
    use aws_sdk_dynamodb::types::*;
    let key = |n: &str, t: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
            .expect("key")
    };
    c.create_table()
        .table_name("t")
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .send()
        .await
        .expect("create");
    let add = |d: i64| {
        TransactWriteItem::builder()
            .update(
                Update::builder()
                    .table_name("t")
                    .key("pk", Av::S("c".into()))
                    .key("sk", Av::S("#COUNT".into()))
                    .update_expression("ADD n :d SET #l = :l")
                    .expression_attribute_names("#l", "label")
                    .expression_attribute_values(":d", Av::N(d.to_string()))
                    .expression_attribute_values(":l", Av::S(format!("by {d}")))
                    .build()
                    .expect("update"),
            )
            .build()
    };
    for d in [1, 1, -1, 5] {
        c.transact_write_items()
            .transact_items(add(d))
            .send()
            .await
            .expect("transaction");
    }
    let item = c
        .get_item()
        .table_name("t")
        .key("pk", Av::S("c".into()))
        .key("sk", Av::S("#COUNT".into()))
        .send()
        .await
        .expect("get")
        .item
        .expect("the counter exists");
    assert_eq!(item.get("n"), Some(&Av::N("6".into())));
    assert_eq!(item.get("label"), Some(&Av::S("by 5".into())));
    // An unsupported expression is refused, not ignored.
    let bad = TransactWriteItem::builder()
        .update(
            Update::builder()
                .table_name("t")
                .key("pk", Av::S("c".into()))
                .key("sk", Av::S("#COUNT".into()))
                .update_expression("REMOVE n")
                .build()
                .expect("update"),
        )
        .build();
    assert!(c
        .transact_write_items()
        .transact_items(bad)
        .send()
        .await
        .is_err());
}

#[tokio::test]
async fn a_parallel_scan_pages_through_each_segment_once() {
    let memory = MemoryDynamo::new();
    let c = client(&memory);
    pk_table(&c).await;
    for i in 0..57 {
        c.put_item()
            .table_name("t")
            .item("pk", Av::S(format!("p{i}")))
            .send()
            .await
            .expect("put");
    }
    let mut seen = Vec::new();
    for segment in 0..3 {
        let mut start = None;
        loop {
            let page = c
                .scan()
                .table_name("t")
                .segment(segment)
                .total_segments(3)
                .limit(5)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scan");
            assert!(page.items().len() <= 5);
            seen.extend(page.items().iter().filter_map(|i| i.get("pk").cloned()));
            match page.last_evaluated_key() {
                Some(k) => start = Some(k.clone()),
                None => break,
            }
        }
    }
    // Every item once: no segment repeats another's.
    assert_eq!(seen.len(), 57);
    seen.sort_by_key(|v| format!("{v:?}"));
    seen.dedup();
    assert_eq!(seen.len(), 57);
}

#[tokio::test]
async fn a_scan_filter_keeps_the_matching_items_of_each_page_like_dynamodb() {
    let memory = MemoryDynamo::new();
    let c = client(&memory);
    pk_table(&c).await;
    // 30 items: pk p00..p29, "kind" alternating stats#/node, every fifth with a "di" set.
    for i in 0..30 {
        let mut put = c
            .put_item()
            .table_name("t")
            .item("pk", Av::S(format!("p{i:02}")))
            .item(
                "kind",
                Av::S(if i % 2 == 0 {
                    format!("stats#{i}")
                } else {
                    "node".into()
                }),
            );
        if i % 5 == 0 {
            put = put.item("di", Av::Ss(vec!["D1".into()]));
        }
        put.send().await.expect("put");
    }
    let (mut kept, mut scanned, mut start) = (Vec::new(), 0, None);
    loop {
        let page = c
            .scan()
            .table_name("t")
            .filter_expression("begins_with(kind, :stats) OR #k = :none or  attribute_exists(di)")
            .expression_attribute_names("#k", "kind")
            .expression_attribute_values(":stats", Av::S("stats#".into()))
            .expression_attribute_values(":none", Av::S("none".into()))
            .limit(7)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan");
        // The limit counts items read, not items kept.
        assert!(page.items().len() as i32 <= page.scanned_count());
        assert!(page.scanned_count() <= 7);
        scanned += page.scanned_count();
        kept.extend(
            page.items()
                .iter()
                .filter_map(|i| i.get("pk")?.as_s().ok().cloned()),
        );
        match page.last_evaluated_key() {
            Some(k) => start = Some(k.clone()),
            None => break,
        }
    }
    assert_eq!(scanned, 30);
    kept.sort();
    // Even numbers (stats#) and the odd multiples of five (a "di" set): 15 + 3.
    let want: Vec<String> = (0..30)
        .filter(|i| i % 2 == 0 || i % 5 == 0)
        .map(|i| format!("p{i:02}"))
        .collect();
    assert_eq!(kept, want);
    // An expression it does not model is refused, never evaluated as something else.
    for refused in [
        "kind > :x",
        "attribute_not_exists(kind) AND attribute_not_exists(di)",
        "attribute_exists(kind) and kind = :x",
        "NOT attribute_exists(di)",
        "(kind = :x)",
        "#undefined = :x",
        "begins_with(kind, :x) OR",
    ] {
        let err = c
            .scan()
            .table_name("t")
            .filter_expression(refused)
            .expression_attribute_values(":x", Av::S("a".into()))
            .send()
            .await;
        assert!(err.is_err(), "{refused}");
    }
}

#[tokio::test]
async fn a_number_below_a_bound_is_a_condition_like_dynamodbs() {
    let memory = MemoryDynamo::new();
    let c = client(&memory);
    use aws_sdk_dynamodb::types::*;
    pk_table(&c).await;
    let bump = || {
        let update = Update::builder()
            .table_name("t")
            .key("pk", Av::S("set".into()))
            .update_expression("ADD n :one")
            .condition_expression("attribute_not_exists(n) OR n < :max")
            .expression_attribute_values(":one", Av::N("1".into()))
            .expression_attribute_values(":max", Av::N("3".into()))
            .build()
            .expect("update");
        c.transact_write_items()
            .transact_items(TransactWriteItem::builder().update(update).build())
            .send()
    };
    for _ in 0..3 {
        bump().await.expect("below the bound");
    }
    assert!(bump().await.is_err(), "3 is not below 3");
}
