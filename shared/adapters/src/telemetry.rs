//! Logs and metrics. Logs are JSON (CloudWatch-friendly) unless `C360_LOG_FORMAT=text`;
//! metrics are CloudWatch Embedded Metric Format lines on stdout.

use std::time::{SystemTime, UNIX_EPOCH};

pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let text = std::env::var("C360_LOG_FORMAT").is_ok_and(|v| v == "text");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let _ = if text {
        builder.try_init()
    } else {
        builder
            .json()
            .with_current_span(false)
            .flatten_event(true)
            .without_time()
            .try_init()
    };
}

/// Writes one EMF record (counts with dimensions) to stdout, where Lambda hands it to
/// CloudWatch. `C360_EMF=0` silences it (tests and local runs, to keep the output readable);
/// so does this crate's own unit tests.
pub fn emit_metrics(namespace: &str, dimensions: &[(&str, &str)], counts: &[(&str, u64)]) {
    if cfg!(test) || std::env::var("C360_EMF").is_ok_and(|v| v == "0") {
        return;
    }
    let ts = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let mut root = serde_json::Map::new();
    root.insert(
        "_aws".into(),
        serde_json::json!({
            "Timestamp": ts,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [dimensions.iter().map(|(k, _)| *k).collect::<Vec<_>>()],
                "Metrics": counts.iter().map(|(name, _)| serde_json::json!({"Name": name, "Unit": "Count"})).collect::<Vec<_>>(),
            }],
        }),
    );
    for (k, v) in dimensions {
        root.insert((*k).into(), serde_json::json!(v));
    }
    for (k, v) in counts {
        root.insert((*k).into(), serde_json::json!(v));
    }
    println!("{}", serde_json::Value::Object(root));
}
