//! Test support for this crate's own tests: a `moto_server` on a free port, killed on drop.

use std::time::Duration;

pub struct MotoServer {
    child: std::process::Child,
    endpoint: String,
}

/// Under the project's test command (or CI) a missing emulator is a failure, not a skip:
/// a test that quietly does not run proves nothing.
fn must_run() -> bool {
    std::env::var_os("C360_TEST_DYNAMODB_ENDPOINT").is_some() || std::env::var_os("CI").is_some()
}

fn skip(why: String) -> anyhow::Result<Option<MotoServer>> {
    if must_run() {
        anyhow::bail!("{why}; scripts/test puts the project's .venv/bin (with moto) on PATH");
    }
    eprintln!("SKIPPED: {why}; `pip install 'moto[server]'` or run scripts/test");
    Ok(None)
}

impl MotoServer {
    /// `None` (after printing why) when moto_server is not installed, outside the test command.
    pub fn start() -> anyhow::Result<Option<Self>> {
        use std::net::{TcpListener, TcpStream};
        use std::process::{Command, Stdio};
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match child {
            Ok(child) => child,
            Err(err) => return skip(format!("moto_server not on PATH ({err})")),
        };
        let mut server = MotoServer {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(Some(server));
            }
            if let Some(status) = server.child.try_wait()? {
                if status.code() == Some(127) {
                    return skip(format!("moto_server is not installed ({status})"));
                }
                anyhow::bail!("moto_server exited before answering: {status}");
            }
            if std::time::Instant::now() > deadline {
                anyhow::bail!("moto_server did not answer on port {port} within 60s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn clients(&self) -> (aws_sdk_dynamodb::Client, aws_sdk_dynamodbstreams::Client) {
        let region = aws_sdk_dynamodb::config::Region::new("us-east-1");
        let credentials =
            aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "static");
        let ddb = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(region.clone())
            .credentials_provider(credentials.clone())
            .build();
        let streams = aws_sdk_dynamodbstreams::Config::builder()
            .behavior_version(aws_sdk_dynamodbstreams::config::BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(region)
            .credentials_provider(credentials)
            .build();
        (
            aws_sdk_dynamodb::Client::from_conf(ddb),
            aws_sdk_dynamodbstreams::Client::from_conf(streams),
        )
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
