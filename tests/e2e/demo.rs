//! `voicecast demo` on a clean folder: the example campaign runs to `finished` against the
//! built-in simulator, the summary and report paths are printed, and `report.html`
//! renders in headless Chromium into a screenshot that is not blank.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde_json::Value;

use crate::support::voicecast;

/// Where the screenshot is kept for people to look at.
fn screenshot_path() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("demo-report.png")
}

#[test]
fn the_demo_runs_the_example_campaign_to_finished_and_its_report_renders() {
    let folder = tempfile::tempdir().unwrap();
    // A file of an earlier run that the demo must wipe.
    let root = folder.path().join("demo-run");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("left-over"), "old").unwrap();

    let started = Instant::now();
    let output = voicecast()
        .arg("demo")
        .current_dir(folder.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "demo failed:\n{stdout}\n{stderr}");
    println!(
        "voicecast demo took {:.1} s",
        started.elapsed().as_secs_f64()
    );

    assert!(
        !root.join("left-over").exists(),
        "the demo wipes its folder"
    );
    let reports = root.join("campaigns/reports/delivery-reminder");
    assert!(
        stdout.contains("Campaign delivery-reminder: finished"),
        "{stdout}"
    );
    for file in [
        "report.html",
        "results.xlsx",
        "results.csv",
        "skipped.csv",
        "summary.txt",
        "status.json",
    ] {
        let path = reports.join(file);
        assert!(path.is_file(), "{} is missing", path.display());
        assert!(stdout.contains(&path.display().to_string()), "{stdout}");
    }
    let status: Value =
        serde_json::from_slice(&std::fs::read(reports.join("status.json")).unwrap()).unwrap();
    assert_eq!(status["state"], "finished");
    assert_eq!(status["rows"]["total"], 200);
    assert_eq!(status["rows"]["skipped"], 7);
    let open: u64 = ["pending", "sending", "accepted", "unknown"]
        .iter()
        .map(|s| status["rows"][s].as_u64().unwrap())
        .sum();
    assert_eq!(open, 0, "every row is final");
    // The summary printed is the one on disk.
    let summary = std::fs::read_to_string(reports.join("summary.txt")).unwrap();
    assert!(stdout.contains(&summary));

    render_in_chromium(&reports.join("report.html"));
}

/// Headless Chromium, where it is installed (`.ci/run` installs Debian's `chromium` and
/// sets `VOICECAST_REQUIRE_CHROMIUM=1`, so CI never skips this).
fn chromium() -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .map(|name| Path::new("/usr/bin").join(name))
        .find(|path| path.is_file());
    if found.is_none() {
        assert!(
            std::env::var_os("VOICECAST_REQUIRE_CHROMIUM").is_none(),
            "VOICECAST_REQUIRE_CHROMIUM is set but no Chromium is installed"
        );
        eprintln!("report.html not rendered: no Chromium here (`bash .ci/run` installs Debian's)");
    }
    found
}

fn render_in_chromium(page: &Path) {
    let Some(chromium) = chromium() else {
        return;
    };
    let profile = tempfile::tempdir().unwrap();
    let png = screenshot_path();
    let _ = std::fs::remove_file(&png);
    let output = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=1100,2200",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(
        png.is_file(),
        "Chromium wrote no screenshot:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let (width, height, pixels) = decode(&png);
    assert_eq!((width, height), (1100, 2200));
    // The page's background is one colour; a rendered report covers a good part of the
    // screen with text, tiles and charts in many colours.
    let background = pixels[0];
    let drawn = pixels.iter().filter(|p| **p != background).count();
    let colours: std::collections::HashSet<_> = pixels.iter().collect();
    println!(
        "report.html screenshot: {} ({drawn} of {} pixels drawn, {} colours)",
        png.display(),
        pixels.len(),
        colours.len()
    );
    assert!(
        drawn * 4 > pixels.len(),
        "the screenshot is nearly blank: {drawn} of {} pixels differ from the background",
        pixels.len()
    );
    assert!(colours.len() > 50, "only {} colours", colours.len());
    // The progress bar and the outcome bars are drawn in the answered rows' green.
    let green = pixels.iter().filter(|p| **p == [0x2e, 0x9d, 0x5b]).count();
    assert!(green > 5_000, "only {green} pixels of the answered green");
}

/// The screenshot's size and RGB pixels.
fn decode(png: &Path) -> (u32, u32, Vec<[u8; 3]>) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut buffer).unwrap();
    let channels = frame.color_type.samples();
    assert_eq!(frame.bit_depth, png::BitDepth::Eight);
    let pixels = buffer[..frame.buffer_size()]
        .chunks(channels)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    (frame.width, frame.height, pixels)
}
