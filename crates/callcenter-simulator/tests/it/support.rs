//! Helpers of these tests: a simulator on port 0 and clients for it, a stand-in receiver,
//! a log sink, and deadline-bounded waiting.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::routing::post;
use callcenter_openapi::wire::VoiceNotifyCommand;
use callcenter_openapi::{ClientSettings, VendorClient};
pub use callcenter_simulator::example_credentials;
use callcenter_simulator::{Simulator, SimulatorOptions};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

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

pub fn settings(base_url: &str) -> ClientSettings {
    ClientSettings {
        timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(2),
        ..ClientSettings::new(base_url)
    }
}

pub fn client(simulator: &Simulator) -> VendorClient {
    VendorClient::new(settings(&simulator.base_url()), example_credentials()).unwrap()
}

/// A valid voiceNotify command for row `n`.
pub fn command(n: usize) -> VoiceNotifyCommand {
    VoiceNotifyCommand {
        seq: format!("{}", 1000 + n),
        user_data: format!("vc-test-{n}-1"),
        caller: String::new(),
        callee: format!("138{:08}", n),
        content: format!("您好，第{n}号快递已到。"),
        cycle_play_times: "1".into(),
    }
}

/// Polls `check` until it returns `Some`, failing the test after `within`.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut check: F) -> T
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
            "timed out waiting for {what}"
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

/// An HTTP receiver on port 0 that hands every body posted to it to a channel, and
/// answers as a push receiver does.
pub async fn receiver() -> (SocketAddr, mpsc::UnboundedReceiver<Bytes>) {
    let (sender, bodies) = mpsc::unbounded_channel();
    let app = axum::Router::new().fallback(post(move |body: Bytes| {
        let sender = sender.clone();
        async move {
            let _ = sender.send(body);
            r#"{"result":{"error":0,"msg":""}}"#
        }
    }));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, bodies)
}

/// An in-memory log sink for `tracing`, to read what was logged.
#[derive(Clone, Default)]
pub struct LogSink(pub Arc<Mutex<Vec<u8>>>);

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
