//! The real binary: the simulator answers the README's curl example and logs in the format
//! asked for, the vendor commands work against it, and configuration mistakes exit with
//! code 2.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};

use callcenter_openapi::Password;
use callcenter_simulator::{EXAMPLE_CUSTOMER, EXAMPLE_PASSWORD};
use serde_json::json;

use crate::support::{post_bytes, voicecast};
use callcenter_openapi::answer::decode;
use callcenter_openapi::digest;

/// The simulator binary on a free port; returns it with its base URL.
fn start_simulator() -> (Child, String) {
    start_simulator_with(
        &["--cdr-delay-ms", "0", "--call-time-scale", "0"],
        Stdio::null(),
    )
}

/// The simulator binary on a free port with `args` added and its log going to `stderr`;
/// returns it with its base URL.
fn start_simulator_with(args: &[&str], stderr: Stdio) -> (Child, String) {
    let mut child = voicecast()
        .args(["simulator", "--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_string();
    (child, url)
}

struct Stop(Child);

impl Drop for Stop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_simulator_answers_the_readme_example_with_a_spec_shaped_body() {
    let (child, url) = start_simulator();
    let _stop = Stop(child);
    // The README's curl example: the digest computed from the example account.
    let (timestamp, seq) = ("1700000000000", "1");
    let digest = digest(
        EXAMPLE_CUSTOMER,
        timestamp,
        seq,
        &Password::new(EXAMPLE_PASSWORD),
    );
    let body = json!({
        "authentication": {"customer": EXAMPLE_CUSTOMER, "timestamp": timestamp, "seq": seq, "digest": digest},
        "request": {"seq": "1", "userData": "readme-1", "callee": "13800138000",
                    "content": "您好，您的快递已到。", "cyclePlayTimes": "1"}
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let answer = runtime.block_on(post_bytes(
        &format!("{url}/openapi/V2.0.6/voiceNotify"),
        body.to_string(),
    ));
    let raw: serde_json::Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(raw["result"]["error"], json!(0));
    assert_eq!(raw["data"]["seq"], json!("1"));
    assert_eq!(raw["data"]["response"]["userData"], json!("readme-1"));
    assert_eq!(raw["data"]["response"]["result"]["error"], json!(0));
    assert!(raw.get("logs").is_some());
    assert!(decode(&answer).is_ok());

    // The spec's own signed examples work unchanged (their 2016 timestamp included).
    let spec = |name: &str| {
        std::fs::read(format!(
            "{}/crates/callcenter-openapi/tests/fixtures/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    };
    for (name, api, code) in [
        ("09-templatelist-request.json", "getTTSTemplateList", 0),
        ("15-getonecdr-request.json", "getOneCdr", 0),
        ("17-getcdrlist-request.json", "getCdrList", 0),
        (
            "05-edittemplate-request.json",
            "editTTSTemplate",
            0xF100_0008,
        ),
        ("03-voicenotify-request.json", "voiceNotify", 1),
    ] {
        let answer = runtime.block_on(post_bytes(
            &format!("{url}/openapi/V2.0.6/{api}"),
            spec(name),
        ));
        assert_eq!(
            decode(&answer).unwrap().result.unwrap().error,
            code,
            "{name}"
        );
    }
}

#[test]
fn the_simulator_logs_in_the_format_asked_for() {
    let (mut child, url) = start_simulator_with(&["--log-format", "json"], Stdio::piped());
    // The spec's voiceNotify example is signed for another password: refused, and logged.
    let request = std::fs::read(format!(
        "{}/crates/callcenter-openapi/tests/fixtures/03-voicenotify-request.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(post_bytes(
        &format!("{url}/openapi/V2.0.6/voiceNotify"),
        request,
    ));
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    let log = String::from_utf8(output.stderr).unwrap();
    let refused = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .any(|l| l["fields"]["message"] == "Simulator refused a digest.");
    assert!(refused, "no JSON line for the refusal in: {log}");
}

#[test]
fn templates_and_cdr_commands_work_against_the_simulator() {
    let (child, url) = start_simulator();
    let _stop = Stop(child);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("voicecast.toml");
    std::fs::write(
        &config,
        format!("[api]\nbase_url = \"{url}\"\ncustomer = \"C2\"\n"),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = voicecast()
            .arg("--config")
            .arg(&config)
            .args(args)
            .env("VOICECAST_API__PASSWORD", EXAMPLE_PASSWORD)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, id, _) = run(&[
        "templates",
        "upload",
        "--name",
        "提醒",
        "--content",
        "{1}您好",
    ]);
    assert_eq!(code, Some(0));
    let id = id.trim().to_string();
    let (code, listed, _) = run(&["templates", "list"]);
    assert_eq!(code, Some(0));
    assert!(listed.starts_with(&format!("{id}\tapproved\t")), "{listed}");
    let (code, _, err) = run(&["templates", "upload", "--name", "x", "--content", "a@b"]);
    assert_eq!(code, Some(1), "{err}");
    let (code, _, err) = run(&["templates", "edit", "--id", "999", "--name", "x"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("0xF1000008"), "{err}");

    let (code, out, err) = run(&["cdr", "list", "--since", "2020-01-01 00:00:00"]);
    assert_eq!((code, out.as_str()), (Some(0), ""), "{err}");
    let (code, _, err) = run(&["cdr", "list", "--since", "yesterday"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("--since"), "{err}");
    let (code, _, err) = run(&["cdr", "get", "--user-data", "vc-missing"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("no call record"), "{err}");
}

fn list_templates(config: &std::path::Path) -> std::process::Output {
    voicecast()
        .arg("--config")
        .arg(config)
        .args(["templates", "list"])
        .output()
        .unwrap()
}

#[test]
fn configuration_mistakes_exit_with_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("voicecast.toml");
    std::fs::write(&config, "[api]\npassword = \"secret-in-file\"\n").unwrap();
    let out = list_templates(&config);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("api.password") && !err.contains("secret-in-file"),
        "{err}"
    );

    std::fs::write(&config, "[api]\ncustomer = \"C2\"\n").unwrap();
    let out = list_templates(&config);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("VOICECAST_API__PASSWORD"));

    let out = voicecast().args(["templates", "launch"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "usage errors exit 2");
}
