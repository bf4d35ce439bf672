//! Helpers the workspace's integration tests share (the daemon's and the simulator's):
//! waits for an event with a deadline instead of fixed sleeps, an in-memory log sink to
//! read what code under test logged, and a raw POST for what a client never sends.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

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

/// Posts `body` to `url` as it is, for what a client never sends; returns the answer's
/// body.
pub async fn post_bytes(url: &str, body: impl Into<reqwest::Body>) -> Vec<u8> {
    let response = reqwest::Client::new()
        .post(url)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    response.bytes().await.unwrap().to_vec()
}

/// An in-memory log sink for `tracing`, to read what was logged.
#[derive(Clone, Default)]
pub struct LogSink(Arc<Mutex<Vec<u8>>>);

impl LogSink {
    /// A sink that takes what this thread logs at `level` and above, until the guard
    /// returned with it is dropped (after [`tracing_baseline`]).
    pub fn capture(level: tracing::Level) -> (LogSink, tracing::subscriber::DefaultGuard) {
        tracing_baseline();
        let log = LogSink::default();
        let guard = tracing::subscriber::set_default(
            tracing_subscriber::fmt()
                .with_max_level(level)
                .with_writer(log.clone())
                .finish(),
        );
        (log, guard)
    }

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
