//! Helpers of the daemon's integration tests: the real binary, a simulator on port 0,
//! and signals to a child process, beside the workspace's shared `test_support` (waits
//! with a deadline, a log sink, raw posts).

use std::os::unix::net::UnixDatagram;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use callcenter_simulator::{Simulator, SimulatorOptions};
pub use test_support::{LogSink, eventually, eventually_explained, post_bytes};

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

/// Runs `voicecast check FILE --json ARGS` in `dir`; returns the exit code and the report.
pub fn check_json(dir: &std::path::Path, file: &str, args: &[&str]) -> (i32, serde_json::Value) {
    let output = voicecast()
        .current_dir(dir)
        .args(["check", file, "--json"])
        .args(args)
        .output()
        .unwrap();
    let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{file}: {e}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code().unwrap(), report)
}

/// A loopback port free a moment ago, for a listener a child process binds.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The simulator's defaults, with calls that end as soon as they are placed: their
/// records come after `cdr_delay` alone. A test of what happens while calls are under
/// way sets `call_time_scale` itself.
pub fn quick_calls() -> SimulatorOptions {
    SimulatorOptions {
        call_time_scale: 0.0,
        ..SimulatorOptions::default()
    }
}

pub async fn simulator(options: SimulatorOptions) -> Simulator {
    Simulator::on_loopback(options).await.unwrap()
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

/// Every datagram the daemon sent, with when it came.
pub type Received = Arc<Mutex<Vec<(Instant, String)>>>;

pub fn listen(socket: UnixDatagram) -> Received {
    let received: Received = Arc::default();
    let sink = received.clone();
    std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        while let Ok(n) = socket.recv(&mut buffer) {
            let text = String::from_utf8_lossy(&buffer[..n]).into_owned();
            sink.lock().unwrap().push((Instant::now(), text));
        }
    });
    received
}

pub fn lines_with(received: &Received, prefix: &str) -> Vec<(Instant, String)> {
    received
        .lock()
        .unwrap()
        .iter()
        .flat_map(|(at, text)| {
            text.lines()
                .map(|l| (*at, l.to_string()))
                .collect::<Vec<_>>()
        })
        .filter(|(_, line)| line.starts_with(prefix))
        .collect()
}
