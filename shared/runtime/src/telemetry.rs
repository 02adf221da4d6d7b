//! Logs and metrics. Logs are JSON (CloudWatch-friendly) unless `C360_LOG_FORMAT=text`;
//! metrics are CloudWatch Embedded Metric Format lines on stdout.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};
use tracing_subscriber::fmt::MakeWriter;

/// Masks phone numbers and emails in every log line before it leaves the process, whatever
/// a field or an error message carried (`spec/api.md`: logs never hold a clear phone or email).
pub struct Redacting<M>(pub M);

pub struct RedactingWriter<W>(W);

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // The formatter hands over one whole event per write, so a number is never split.
        let text = String::from_utf8_lossy(buf);
        let clean = c360_domain::access::redact_text(&text, true, true);
        self.0.write_all(clean.as_bytes())?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Redacting<M> {
    type Writer = RedactingWriter<M::Writer>;
    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter(self.0.make_writer())
    }
}

/// An identifier as a log line may show it: masked like a staff answer (`phone#138****8000`,
/// `email#z***@example.com`); a member id in clear, as staff see it.
pub fn masked(id: &c360_domain::Identifier) -> String {
    use c360_domain::access::{mask_email, mask_phone};
    use c360_domain::Identifier;
    match id {
        Identifier::Phone(p) => format!("phone#{}", mask_phone(p.as_str())),
        Identifier::Email(e) => format!("email#{}", mask_email(e.as_str())),
        other => other.key(),
    }
}

pub fn init() {
    // Colours only for a person at a terminal: in a file (`scripts/dev > dev.log`, the console
    // test's server log) or CloudWatch the escape codes are noise.
    use std::io::IsTerminal;
    init_inner(std::io::stdout, std::io::stdout().is_terminal());
}

/// [`init`], writing somewhere else (tests capture the logs this way), without colours.
pub fn init_with_writer<M>(writer: M)
where
    M: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    init_inner(writer, false);
}

/// The logs of this process in memory, for tests that assert what was logged: the first call
/// installs the subscriber ([`init_with_writer`], through the same redacting writer the
/// functions use) into a buffer, and every call returns that buffer. Nothing else in the
/// process may install a subscriber first.
pub fn captured() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        init_with_writer(move || Capture(sink.clone()));
        buffer
    })
    .clone()
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn init_inner<M>(writer: M, ansi: bool)
where
    M: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let text = std::env::var("C360_LOG_FORMAT").is_ok_and(|v| v == "text");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Redacting(writer))
        .with_ansi(ansi)
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
