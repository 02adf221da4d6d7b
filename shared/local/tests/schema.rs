//! `c360-dev schema`, what `scripts/check-infra` compares with `infra/template.yaml`: every
//! table the code creates, in CloudFormation's property names. (Its being an integration test
//! also makes `cargo test --workspace` build `c360-dev`, which `scripts/test` then hands to
//! `scripts/check-infra` instead of building it again with other features.)

use serde_json::Value;
use std::process::Command;

#[test]
fn schema_prints_every_table_with_its_keys_and_indexes() {
    let out = Command::new(env!("CARGO_BIN_EXE_c360-dev"))
        .arg("schema")
        .output()
        .expect("c360-dev runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tables: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let names: Vec<&str> = tables
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        names,
        [
            "audit",
            "audit_log",
            "customer360",
            "member_sync",
            "orders",
            "pos_transactions",
            "reservations"
        ]
    );
    let service = &tables["customer360"];
    let indexes: Vec<&str> = ["LocalSecondaryIndexes", "GlobalSecondaryIndexes"]
        .iter()
        .flat_map(|k| service[*k].as_array().into_iter().flatten())
        .filter_map(|i| i["IndexName"].as_str())
        .collect();
    assert_eq!(
        indexes,
        [
            "lsi_counted",
            "lsi_kind",
            "lsi_time",
            "gsi_cluster",
            "gsi_find",
            "gsi_roster",
            "gsi_search"
        ]
    );
    assert_eq!(
        tables["orders"]["StreamSpecification"]["StreamViewType"],
        "NEW_AND_OLD_IMAGES"
    );
}
