//! A start that cannot succeed fails before anything runs: it names what failed, exits
//! with the code systemd's restart policy reads (2 for a configuration error, which a
//! retry cannot cure; 1 for a failure that may pass), never says `READY=1`, and leaves a
//! dropped call list in the inbox with nothing imported.

use std::os::unix::net::UnixDatagram;
use std::process::{Output, Stdio};
use std::time::Instant;

use callcenter_simulator::EXAMPLE_PASSWORD;

use crate::site::{Site, TEMPLATE, files_in};

/// Runs `voicecast run` on `site` to its exit, its notify socket at `socket`.
fn run_to_exit(site: &Site, socket: &std::path::Path, password: Option<&str>) -> Output {
    let mut command = site.command_for_run();
    command
        .env("NOTIFY_SOCKET", socket)
        .stderr(Stdio::piped())
        .stdout(Stdio::piped());
    if let Some(password) = password {
        command.env("VOICECAST_API__PASSWORD", password);
    }
    command.output().unwrap()
}

/// Every datagram waiting on `socket`: the child has exited, so all it sent is there.
fn datagrams(socket: &UnixDatagram) -> Vec<String> {
    socket.set_nonblocking(true).unwrap();
    let mut buffer = [0u8; 4096];
    let mut received = Vec::new();
    while let Ok(n) = socket.recv(&mut buffer) {
        received.push(String::from_utf8_lossy(&buffer[..n]).into_owned());
    }
    received
}

/// A site whose inbox already holds a call list, as an operator leaves one before a
/// start.
fn site_with_a_dropped_list(config: &str) -> Site {
    let site = Site::with_config(config);
    std::fs::create_dir_all(site.folder("inbox")).unwrap();
    site.drop_file("waiting", Some(TEMPLATE), crate::site::call_list(3));
    site
}

fn nothing_started(site: &Site, socket: &UnixDatagram) {
    let sent = datagrams(socket);
    assert!(
        sent.iter().all(|d| !d.contains("READY=1")),
        "a failed start told systemd it was ready: {sent:?}"
    );
    assert_eq!(
        files_in(&site.folder("inbox")),
        ["waiting.csv", "waiting.toml"]
    );
    assert!(!site.database().exists(), "the store was opened");
}

/// Starts the daemon with a listener (`section`'s `listen`) on an address another
/// socket holds: exit 1, naming the address as `says` does, and nothing started.
fn a_port_in_use_fails_the_start(section: &str, says: &str) {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap();
    let site = site_with_a_dropped_list(&format!(
        "[api]\nbase_url = \"http://127.0.0.1:9\"\ncustomer = \"C2\"\n\
         [{section}]\nlisten = \"{address}\"\n"
    ));
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    let started = Instant::now();
    let output = run_to_exit(&site, &path, Some(EXAMPLE_PASSWORD));
    eprintln!("exited in {:.2} s", started.elapsed().as_secs_f64());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("{says} {address}")), "{stderr}");
    assert!(stderr.contains("in use"), "{stderr}");
    assert!(!stderr.contains("voicecast is running"), "{stderr}");
    nothing_started(&site, &socket);
}

#[test]
fn a_push_port_in_use_fails_the_start_with_exit_1_naming_the_address() {
    a_port_in_use_fails_the_start("push", "the push receiver cannot listen on");
}

#[test]
fn a_metrics_port_in_use_fails_the_start_with_exit_1_naming_the_address() {
    a_port_in_use_fails_the_start("metrics", "the metrics cannot be served on");
}

#[test]
fn a_store_another_daemon_holds_fails_the_start_with_exit_1() {
    let site =
        site_with_a_dropped_list("[api]\nbase_url = \"http://127.0.0.1:9\"\ncustomer = \"C2\"\n");
    let other = voicecast::store::lock_store(&site.database()).unwrap();
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    let output = run_to_exit(&site, &path, Some(EXAMPLE_PASSWORD));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("another voicecast daemon uses the store"),
        "{stderr}"
    );
    nothing_started(&site, &socket);
    drop(other);
}

#[test]
fn a_customer_without_a_readable_password_is_a_configuration_error() {
    let site = site_with_a_dropped_list(
        "[api]\ncustomer = \"C2\"\npassword_file = \"secrets/missing-password\"\n",
    );
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    let output = run_to_exit(&site, &path, None);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("secrets/missing-password"), "{stderr}");
    assert!(stderr.contains("api.password_file"), "{stderr}");
    nothing_started(&site, &socket);
}

#[tokio::test]
async fn a_start_removes_the_temporaries_a_crash_left_and_nothing_else() {
    let site = Site::new();
    let campaign = site.folder("reports").join("july");
    std::fs::create_dir_all(&campaign).unwrap();
    std::fs::create_dir_all(site.folder("control")).unwrap();
    // Written by a process that no longer runs (no process has an id above Linux's
    // limit of 4194304), and a file that only looks alike.
    let left = [
        campaign.join(".results.csv.4194305.AbC123.tmp"),
        site.folder("control")
            .join(".july.pause.4194306.XyZ789.tmp"),
    ];
    for path in &left {
        std::fs::write(path, "half").unwrap();
    }
    std::fs::write(campaign.join("results.csv"), "whole").unwrap();
    let daemon = site.start().await;
    daemon.stop().await;
    assert!(left.iter().all(|path| !path.exists()), "{left:?}");
    assert_eq!(files_in(&campaign), ["results.csv"]);
}
