//! End-to-end tests of the `c360-fit` binary.

use std::io::Write;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_c360-fit");
const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data");

fn run(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn c360-fit");
    {
        let mut input = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            // A usage error exits before reading its input: the pipe may then be closed,
            // which is the binary's answer, not the test's failure (what it said is asserted).
            if let Err(e) = input.write_all(s.as_bytes()) {
                assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
            }
        }
    }
    child.wait_with_output().unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "exit {:?}, stderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

fn r(v: &serde_json::Value, digits: i32) -> f64 {
    let s = 10f64.powi(digits);
    (v.as_f64().unwrap() * s).round() / s
}

#[test]
fn cdnow_raw_format() {
    let path = format!("{DATA}/CDNOW_sample.txt");
    let out = run(
        &[
            &path,
            "--format",
            "cdnow",
            "--calibration-end",
            "1997-09-30",
            "--time-unit",
            "weeks",
        ],
        None,
    );
    let v = json(&out);
    assert_eq!(v["customers"], 2357);
    assert_eq!(v["repeat_customers"], 946);
    let bg = &v["bg_nbd"];
    assert_eq!(
        [
            r(&bg["r"], 3),
            r(&bg["alpha"], 3),
            r(&bg["a"], 3),
            r(&bg["b"], 3)
        ],
        [0.243, 4.414, 0.793, 2.426]
    );
    assert_eq!(r(&bg["log_likelihood"], 1), -9582.4);
    let gg = &v["gamma_gamma"];
    assert_eq!(
        [r(&gg["p"], 2), r(&gg["q"], 2), r(&gg["v"], 2)],
        [6.25, 3.74, 15.44]
    );
}

#[test]
fn csv_transaction_log_from_stdin_matches_cdnow_format() {
    // Convert the raw CDNOW file to the documented CSV form.
    let raw = std::fs::read_to_string(format!("{DATA}/CDNOW_sample.txt")).unwrap();
    let mut csv = String::from("customer_id,date,amount\n");
    for line in raw.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let d = f[2];
        csv.push_str(&format!(
            "{},{}-{}-{},{}\n",
            f[0],
            &d[..4],
            &d[4..6],
            &d[6..],
            f[4]
        ));
    }
    let v = json(&run(&["-", "--calibration-end", "19970930"], Some(&csv)));
    let v2 = json(&run(
        &[
            &format!("{DATA}/CDNOW_sample.txt"),
            "--format",
            "cdnow",
            "--calibration-end",
            "1997-09-30",
        ],
        None,
    ));
    assert_eq!(v, v2);
}

#[test]
fn summary_mode() {
    let path = format!("{DATA}/cdnow_customers_summary_with_transactions.csv");
    let v = json(&run(&["--summary", &path], None));
    assert_eq!(v["customers"], 2357);
    assert_eq!(v["repeat_customers"], 946);
    assert_eq!(r(&v["bg_nbd"]["r"], 3), 0.243);
    assert_eq!(r(&v["gamma_gamma"]["q"], 2), 3.74);
}

#[test]
fn days_unit_scales_alpha_only() {
    let path = format!("{DATA}/CDNOW_sample.txt");
    let w = json(&run(
        &[
            &path,
            "--format",
            "cdnow",
            "--calibration-end",
            "1997-09-30",
        ],
        None,
    ));
    let d = json(&run(
        &[
            &path,
            "--format",
            "cdnow",
            "--calibration-end",
            "1997-09-30",
            "--time-unit",
            "days",
        ],
        None,
    ));
    let rel = |a: f64, b: f64| ((a - b) / b).abs();
    let f = |v: &serde_json::Value, k: &str| v["bg_nbd"][k].as_f64().unwrap();
    assert!(rel(f(&d, "alpha"), 7.0 * f(&w, "alpha")) < 1e-4);
    assert!(rel(f(&d, "r"), f(&w, "r")) < 1e-4);
    assert!(rel(f(&d, "a"), f(&w, "a")) < 1e-4);
}

fn expect_input_error(out: &Output, needle: &str) {
    assert_eq!(
        out.status.code(),
        Some(2),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(needle), "stderr {err:?} lacks {needle:?}");
    assert!(out.stdout.is_empty());
}

#[test]
fn bad_input_exits_2_with_line_number() {
    let csv = "customer_id,date,amount\nc1,1997-01-01,10\nc1,1997-02-31,5\n";
    expect_input_error(
        &run(&["-", "--calibration-end", "1997-09-30"], Some(csv)),
        "line 3: invalid date",
    );
    let csv = "c1,1997-01-01,10\nc1,1997-01-05,ten\n";
    expect_input_error(
        &run(&["-", "--calibration-end", "1997-09-30"], Some(csv)),
        "line 2: amount",
    );
    let summary = "id,frequency,recency,T,monetary_value\n1,2,30,38,10\n2,1,40,38,10\n";
    expect_input_error(&run(&["--summary", "-"], Some(summary)), "line 3: recency");
    expect_input_error(
        &run(
            &["-", "--format", "cdnow", "--calibration-end", "1997-09-30"],
            Some(" 1 1 19970101 1\n"),
        ),
        "line 1: expected 5",
    );
}

#[test]
fn usage_and_data_errors_exit_2() {
    expect_input_error(&run(&["-"], Some("c1,1997-01-01,1\n")), "--calibration-end");
    expect_input_error(
        &run(&["-", "--calibration-end", "1997-13-01"], Some("")),
        "invalid --calibration-end",
    );
    expect_input_error(
        &run(
            &["/nonexistent/file.csv", "--calibration-end", "1997-09-30"],
            None,
        ),
        "cannot read /nonexistent/file.csv",
    );
    // Too few customers / no repeat customers.
    let csv = "c1,1997-01-01,10\nc2,1997-01-02,5\n";
    expect_input_error(
        &run(&["-", "--calibration-end", "1997-09-30"], Some(csv)),
        "insufficient data",
    );
    // clap usage errors also exit 2.
    let out = run(&["--summary", "x", "--format", "cdnow"], None);
    assert_eq!(out.status.code(), Some(2));
}

/// The issue's smallest case (`a`, `b` whose repeat meal was free, `c`) with more customers
/// like `a`, as `customer_id,date,amount`.
fn comped_log(with_b: bool) -> String {
    let mut csv = String::from("customer_id,date,amount\na,2024-01-02,30\na,2024-02-02,40\n");
    if with_b {
        csv.push_str("b,2024-01-05,20\nb,2024-03-01,0\n");
    }
    csv.push_str("c,2024-01-09,15\n");
    let jan1 = c360_predict::date::days_from_civil(2024, 1, 1);
    for k in 0..24i64 {
        let first = jan1 + (k * 5) % 40;
        let (visits, gap) = (1 + (k * 7) % 6, 5 + (k * 11) % 20);
        for j in 0..visits {
            let (y, m, d) = c360_predict::date::civil_from_days(first + j * gap);
            let amount = 20 + (k * 13 + j * 7) % 60;
            csv.push_str(&format!("a{k:02},{y}-{m:02}-{d:02},{amount}\n"));
        }
    }
    csv
}

#[test]
fn a_repeat_customer_whose_repeat_meals_were_free_is_left_out_of_the_spend_fit_only() {
    let args = [
        "-",
        "--calibration-end",
        "2024-06-30",
        "--penalizer",
        "0.0001",
    ];
    let with_b = json(&run(&args, Some(&comped_log(true))));
    let without_b = json(&run(&args, Some(&comped_log(false))));
    assert_eq!(with_b["customers"], 27);
    assert_eq!(with_b["repeat_customers"], 22);
    assert_eq!(with_b["excluded_zero_spend"], 1);
    assert_eq!(without_b["excluded_zero_spend"], 0);
    // b carries no spend information: the spend model is the one fitted without b at all,
    // while b's visits still count for purchases and dropout.
    assert_eq!(with_b["gamma_gamma"], without_b["gamma_gamma"]);
    assert_ne!(with_b["bg_nbd"], without_b["bg_nbd"]);
    assert_eq!(
        [
            r(&with_b["gamma_gamma"]["p"], 2),
            r(&with_b["gamma_gamma"]["q"], 2),
            r(&with_b["gamma_gamma"]["v"], 2)
        ],
        [26.09, 12.94, 23.39]
    );
}

#[test]
fn a_negative_penalizer_is_a_usage_error() {
    let out = run(
        &["-", "--calibration-end", "2024-06-30", "--penalizer=-1"],
        Some(&comped_log(true)),
    );
    expect_input_error(&out, "--penalizer");
}
