//! End-to-end tests of the `c360-recommend` binary on CSV files written by the tests.

use std::path::PathBuf;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_c360-recommend");

/// A file under the target directory's temp folder, unique per test.
fn write_input(name: &str, contents: &[u8]) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("c360-recommend-cli");
    std::fs::create_dir_all(&dir).expect("create the test directory");
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write the test input");
    path
}

fn run(path: &PathBuf, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg(path)
        .args(args)
        .output()
        .expect("run c360-recommend")
}

#[test]
fn ranks_every_customers_next_order_from_a_csv_file() {
    let input = "customer_id,order_id,ordered_at,dish_id\n\
        alice,a1,2024-03-01T12:00:00+08:00,noodles\n\
        alice,a1,2024-03-01T12:00:00+08:00,dumplings\n\
        alice,a2,2024-03-08T12:00:00+08:00,noodles\n\
        alice,a3,2024-03-15T12:00:00+08:00,noodles\n\
        alice,a3,2024-03-15T12:00:00+08:00,tea\n\
        bob,b1,2024-03-02T19:00:00+08:00,rice\n\
        bob,b1,2024-03-02T19:00:00+08:00,tea\n\
        bob,b2,2024-03-09T19:00:00+08:00,rice\n\
        bob,b2,2024-03-09T19:00:00+08:00,tea\n\
        bob,b3,2024-03-16T19:00:00+08:00,rice\n";
    let path = write_input("tiny.csv", input.as_bytes());
    let out = run(&path, &["--k", "3"]);
    assert!(
        out.status.success(),
        "exit {:?}, stderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    // alice: noodles in all three orders, tea in the latest, dumplings in the first.
    // bob: rice in all three, tea in two; the third slot is the store's most popular dish
    // bob never ordered (noodles, 3 baskets).
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "customer_id,rank,dish_id\n\
         alice,1,noodles\nalice,2,tea\nalice,3,dumplings\n\
         bob,1,rice\nbob,2,tea\nbob,3,noodles\n"
    );
}

#[test]
fn bad_input_exits_2_naming_the_line_and_column() {
    let input = "customer_id,order_id,ordered_at,dish_id\nc1,o1,2024-03-01,tea\nc1,o2,,rice\n";
    let path = write_input("bad.csv", input.as_bytes());
    let out = run(&path, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 3, column 3 (ordered_at): empty"),
        "{stderr}"
    );

    let path = write_input("header.csv", b"user_id,order_id,product_id\n1,2,3\n");
    let out = run(&path, &["--k", "5"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 1: the header must be"));

    let out = run(&PathBuf::from("/nonexistent/orders.csv"), &[]);
    assert_eq!(out.status.code(), Some(2));

    let path = write_input("ok.csv", b"customer_id,order_id,ordered_at,dish_id\n");
    let out = run(&path, &["--k", "many"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_request_time_reorders_by_what_is_due() {
    // Milk every 14 days, last on 03-15; coffee every 2 days, last on 03-13.
    let input = "customer_id,order_id,ordered_at,dish_id\n\
        c1,o1,2024-03-01T12:00:00Z,milk\n\
        c1,o2,2024-03-11T12:00:00Z,coffee\n\
        c1,o3,2024-03-13T12:00:00Z,coffee\n\
        c1,o4,2024-03-15T12:00:00Z,milk\n";
    let path = write_input("due.csv", input.as_bytes());
    let ranked = |args: &[&str]| {
        let out = run(&path, args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let milk_first = "customer_id,rank,dish_id\nc1,1,milk\nc1,2,coffee\n";
    let coffee_first = "customer_id,rank,dish_id\nc1,1,coffee\nc1,2,milk\n";
    let flags = ["--k", "2", "--prior-exponent", "0", "--day-weight", "0"];
    // Without a time: milk is in the latest order.
    assert_eq!(ranked(&flags), milk_first);
    // The day after milk was bought, coffee (every 2 days, 3 days since) is due and moves
    // up; two weeks after it, milk is due again (a large boost to show it).
    let mut with = flags.to_vec();
    with.extend(["--due-weight", "2", "--as-of", "2024-03-16T12:00:00Z"]);
    assert_eq!(ranked(&with), coffee_first);
    with.pop();
    with.push("2024-03-29T12:00:00Z");
    assert_eq!(ranked(&with), milk_first);
    // The file wins over --as-of for the customers it lists.
    let file = write_input("as_of.csv", b"customer_id,as_of\nc1,2024-03-16T12:00:00Z\n");
    let file = file.to_string_lossy().into_owned();
    with.extend(["--as-of-file", &file]);
    assert_eq!(ranked(&with), coffee_first);
}

#[test]
fn a_bad_request_time_exits_2() {
    let path = write_input(
        "ok2.csv",
        b"customer_id,order_id,ordered_at,dish_id\nc1,o1,2024-03-01T12:00:00Z,tea\n",
    );
    let out = run(&path, &["--as-of", "tomorrow"]);
    assert_eq!(out.status.code(), Some(2));
    let file = write_input("bad_as_of.csv", b"customer_id,as_of\nc1,2024-03-01\n");
    let out = run(&path, &["--as-of-file", &file.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 2, column 2 (as_of): `2024-03-01` is not an RFC 3339 time"),
        "{stderr}"
    );
}
