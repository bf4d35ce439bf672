//! Helpers of these tests: a simulator on port 0 and clients for it, and a stand-in
//! receiver, beside the workspace's shared `test_support` (waits with a deadline, a log
//! sink, raw posts).

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Bytes;
use axum::routing::post;
use callcenter_openapi::wire::VoiceNotifyCommand;
use callcenter_openapi::{ClientSettings, VendorClient};
pub use callcenter_simulator::example_credentials;
use callcenter_simulator::{Simulator, SimulatorOptions};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

pub use test_support::{LogSink, eventually, post_bytes, tracing_baseline};

/// Simulator options for tests: calls end, and their records appear, at once.
pub fn fast_options() -> SimulatorOptions {
    SimulatorOptions {
        cdr_delay: Duration::ZERO,
        call_time_scale: 0.0,
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
