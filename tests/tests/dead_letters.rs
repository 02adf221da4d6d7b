//! Poison records and dead letters end to end: the stream poller (Lambda's event source
//! mapping locally) with the real ingest handler gives up on a record after its retries and
//! writes it, whole, to the dead-letter file; `replay_dead_letters` (`c360-dev
//! replay-dead-letters`) feeds it through the same handler once fixed, and replaying again
//! changes nothing.

use c360_api::http::Endpoint;
use c360_devkit::poller::{read_dead_letters, replay_dead_letters, ReplayStats};
use c360_domain::SourceKind;
use c360_e2e::faults::Phase;
use c360_e2e::items::{self, Order};
use c360_e2e::TestEnv;
use serde_json::{json, Value};

fn order(id: &str, total: &str) -> Value {
    items::order(&Order {
        id,
        phone: Some("13700000007"),
        total,
        at: "2026-04-01T12:00:00+08:00",
        ..Order::default()
    })
}

async fn spent(env: &TestEnv) -> Value {
    env.ok(Endpoint::Value, &[("customer_identifier", "13700000007")])
        .await["customer_value"]["total_spent"]
        .clone()
}

fn dead_ids(env: &TestEnv) -> Vec<String> {
    let path = env
        .dead_letter_dir()
        .join(format!("{}.jsonl", env.table(SourceKind::Orders)));
    if !path.exists() {
        return Vec::new();
    }
    read_dead_letters(&path)
        .expect("dead-letter file")
        .iter()
        .map(|d| match d.record.change.keys.get("order_id") {
            Some(serde_dynamo::AttributeValue::S(id)) => id.clone(),
            other => panic!("an order key, got {other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn a_poison_record_is_dead_lettered_alone_and_replayed_once_fixed() {
    let logs = c360_runtime::telemetry::captured();
    let env = TestEnv::new().await;
    let kind = SourceKind::Orders;
    let path = env
        .dead_letter_dir()
        .join(format!("{}.jsonl", env.table(kind)));

    // One batch: a good order, one that cannot be decoded (negative total), a good order.
    let mut poison = order("bad", "1.00");
    poison["total"] = json!({"N": "-5.00"});
    env.put(kind, order("g1", "10.00")).await;
    env.put(kind, poison).await;
    env.put(kind, order("g2", "20.00")).await;
    env.sync().await;
    assert_eq!(
        spent(&env).await,
        json!(30.0),
        "the records around it apply"
    );
    assert_eq!(
        dead_ids(&env),
        ["bad"],
        "after the retries, only it is dead-lettered"
    );
    // Field report: on call, the log lines named a sequence number, not the order, so finding
    // the item meant reading the dead-letter file. Both lines now carry its key.
    let text = String::from_utf8_lossy(&logs.lock().expect("logs")).to_string();
    let line = |what: &str| {
        text.lines()
            .find(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no `{what}` line:\n{text}"))
            .to_string()
    };
    let failed = line("record reported as failed");
    assert!(failed.contains(r#""source_id":"bad""#), "{failed}");
    let dead = line("record dead-lettered");
    assert!(dead.contains(r#""key":"bad""#), "{dead}");
    let letter = read_dead_letters(&path).expect("dead letters").remove(0);
    assert!(
        letter.record.change.new_image.contains_key("total"),
        "the dead letter holds the whole record"
    );
    let delivered: Vec<usize> = env
        .delivered
        .lock()
        .unwrap()
        .iter()
        .map(|(_, e)| e.records.len())
        .collect();
    assert!(
        delivered.len() >= 4,
        "delivered, then retried three times from the failed record: {delivered:?}"
    );

    // An outage of the table: a good order fails every attempt and is dead-lettered too.
    env.faults
        .fail_every("TransactWriteItems", Phase::BeforeSend);
    env.put(kind, order("t1", "40.00")).await;
    env.sync().await;
    env.faults.disarm();
    assert!(
        env.faults.fired() >= 4,
        "the first delivery and three retries"
    );
    assert_eq!(dead_ids(&env), ["bad", "t1"]);
    assert_eq!(spent(&env).await, json!(30.0));

    // The outage is over: replaying applies t1 and keeps the record that still cannot be decoded.
    let handler = env.handler(kind);
    let stats = replay_dead_letters(&path, &handler).await.expect("replay");
    assert_eq!(
        stats,
        ReplayStats {
            replayed: 2,
            succeeded: 1,
            still_failing: 1
        }
    );
    assert_eq!(spent(&env).await, json!(70.0));
    assert_eq!(dead_ids(&env), ["bad"]);

    // Replaying again changes nothing.
    let table = env.dump().await;
    let stats = replay_dead_letters(&path, &handler).await.expect("replay");
    assert_eq!((stats.succeeded, stats.still_failing), (0, 1));
    assert_eq!(env.dump().await, table);

    // A record dead-lettered although it was applied (a function error gives up on a whole
    // batch) replays as already applied: it leaves the file, nothing is counted twice.
    let mut again = read_dead_letters(&path).expect("dead letters").remove(0);
    again.record = env.delivered.lock().unwrap()[0].1.records[0].clone();
    std::fs::write(
        &path,
        format!(
            "{}\n{}\n",
            std::fs::read_to_string(&path).expect("file").trim_end(),
            serde_json::to_string(&again).expect("json")
        ),
    )
    .expect("append");
    let stats = replay_dead_letters(&path, &handler).await.expect("replay");
    assert_eq!(
        stats,
        ReplayStats {
            replayed: 2,
            succeeded: 1,
            still_failing: 1
        }
    );
    assert_eq!(env.dump().await, table);
    assert_eq!(spent(&env).await, json!(70.0));
    assert_eq!(dead_ids(&env), ["bad"]);

    // The poison record fixed at the source arrives as a new change and applies.
    env.put(kind, order("bad", "5.00")).await;
    env.sync().await;
    assert_eq!(spent(&env).await, json!(75.0));
    let _ = std::fs::remove_dir_all(env.dead_letter_dir());
}
