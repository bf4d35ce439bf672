//! Helpers shared by the integration tests: the real binary, a simulator on port 0,
//! deadline-bounded waiting, a log sink, and signals to a child process.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use callcenter_simulator::{Simulator, SimulatorOptions};

/// The real binary, with no configuration from the environment: the one this test run
/// built, or the one `VOICECAST_TEST_BINARY` names (CI's release build).
pub fn voicecast() -> std::process::Command {
    let binary = std::env::var_os("VOICECAST_TEST_BINARY")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_voicecast").into());
    let mut command = std::process::Command::new(binary);
    command
        .env_remove("VOICECAST_CONFIG")
        .env_remove("VOICECAST_API__PASSWORD")
        .env_remove("RUST_LOG");
    command
}

/// Simulator options for tests: records appear at once.
pub fn fast_options() -> SimulatorOptions {
    SimulatorOptions {
        cdr_delay: Duration::ZERO,
        ..SimulatorOptions::default()
    }
}

pub async fn simulator(options: SimulatorOptions) -> Simulator {
    Simulator::on_loopback(options).await.unwrap()
}

/// Polls `check` until it returns `Some`, failing the test after `within`.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    eventually_explained(within, what, String::new, check).await
}

/// [`eventually`], and on a timeout the failure also says what `explain` says then.
pub async fn eventually_explained<T, F, Fut>(
    within: Duration,
    what: &str,
    explain: impl Fn() -> String,
    mut check: F,
) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}{}",
            explain()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Posts `body` to `url` as it is, for what the client never sends; returns the answer's body.
pub async fn post_bytes(url: &str, body: impl Into<reqwest::Body>) -> Bytes {
    let response = reqwest::Client::new()
        .post(url)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    response.bytes().await.unwrap()
}

/// An in-memory log sink for `tracing`, to read what a daemon in this process logged.
#[derive(Clone, Default)]
pub struct LogSink(Arc<Mutex<Vec<u8>>>);

impl LogSink {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogSink {
    type Writer = LogSink;

    fn make_writer(&'a self) -> LogSink {
        self.clone()
    }
}

/// Installs a do-nothing global subscriber once per process. `tracing` caches each
/// callsite's interest process-wide, computed on whichever thread hits it first: without
/// a global subscriber a sibling test's thread caches `never`, and a test's scoped
/// subscriber (`set_default`) then sees nothing. With this baseline every callsite stays
/// enabled and the scoped subscriber gets its thread's events.
pub fn tracing_baseline() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry());
    });
}

/// Sends `signal` (`TERM`, `HUP`, ...) to a child process, as `kill -SIGNAL` would.
pub fn signal(child: &std::process::Child, signal: &str) {
    let sent = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(sent.success(), "kill -{signal} failed");
}

/// Waits up to `within` for a child process to exit, and returns how it did.
pub async fn exited(child: &mut std::process::Child, within: Duration) -> std::process::ExitStatus {
    eventually(within, "the daemon to exit", || {
        let exited = child.try_wait().unwrap();
        async move { exited }
    })
    .await
}
