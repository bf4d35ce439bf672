//! China's official calendar as people meet it: `voicecast windows` lists exactly the
//! windows the holiday data implies, and the daemon on an injected clock keeps a
//! `workdays` campaign quiet through National Day, dials on the make-up Saturday, and
//! waits out a year the calendar does not know until its file comes with a reload.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use jiff::ToSpan;
use jiff::civil::{Date, Time};
use voicecast::clock::{Clock, ManualClock};
use voicecast::domain::CampaignState;

use crate::site::{
    Site, TEMPLATE, answering, call_list, calls_per_number, campaign_state, config, finished,
    password_env,
};
use crate::support::{eventually_explained, simulator, voicecast};

/// Calls on workdays, in two windows a day.
const WORKDAYS: &str =
    "calling_days = \"workdays\"\ncalling_hours = [\"09:00-12:00\", \"14:00-18:00\"]\n";

/// What the holiday data says of each day it lists (off or not), read here from the
/// files with no help from the code under test.
fn listed_days() -> BTreeMap<Date, bool> {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/holiday-cn");
    let mut listed = BTreeMap::new();
    for year in 2019..=2027 {
        let text = std::fs::read_to_string(folder.join(format!("{year}.json"))).unwrap();
        let file: serde_json::Value = serde_json::from_str(&text).unwrap();
        for day in file["days"].as_array().unwrap() {
            let date: Date = day["date"].as_str().unwrap().parse().unwrap();
            listed.insert(date, day["isOffDay"].as_bool().unwrap());
        }
    }
    listed
}

/// The windows 09:00-12:00 and 14:00-18:00 (Shanghai) on the days from `from` that
/// `calls_on` allows, the first clipped at `from`, as RFC 3339.
fn expected_windows(
    from: &str,
    days: i64,
    calls_on: impl Fn(Date) -> bool,
) -> Vec<(String, String)> {
    let from: jiff::civil::DateTime = from.parse().unwrap();
    let mut windows = Vec::new();
    for day in 0..days {
        let date = from.date().checked_add(day.days()).unwrap();
        if !calls_on(date) {
            continue;
        }
        for (start, end) in [("09:00", "12:00"), ("14:00", "18:00")] {
            let start = date.to_datetime(start.parse::<Time>().unwrap());
            let end = date.to_datetime(end.parse::<Time>().unwrap());
            if end > from {
                let shown =
                    |t: jiff::civil::DateTime| t.strftime("%Y-%m-%dT%H:%M:%S+08:00").to_string();
                windows.push((shown(start.max(from)), shown(end)));
            }
        }
    }
    windows
}

/// `voicecast windows` run to its end on a settings file of the template and `settings`,
/// with `args` after it; panics unless it succeeds.
fn windows(settings: &str, args: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("campaign.toml");
    std::fs::write(&file, format!("{TEMPLATE}{settings}")).unwrap();
    let out = voicecast()
        .current_dir(dir.path())
        .arg("windows")
        .arg(&file)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    out
}

/// `voicecast windows SETTINGS --from FROM --days DAYS --json`, as (start, end) pairs.
fn listed_windows(settings: &str, from: &str, days: u32) -> Vec<(String, String)> {
    let out = windows(
        settings,
        &["--from", from, "--days", &days.to_string(), "--json"],
    );
    let listing: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listing["timezone"], "Asia/Shanghai");
    assert_eq!(listing["warnings"], serde_json::json!([]));
    listing["windows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["start"].as_str().unwrap().into(),
                w["end"].as_str().unwrap().into(),
            )
        })
        .collect()
}

fn is_weekend(date: Date) -> bool {
    date.weekday().to_monday_one_offset() >= 6
}

#[test]
fn windows_list_exactly_the_days_the_holiday_data_allows() {
    let listed = listed_days();
    let workday = |date: Date| listed.get(&date).map_or(!is_weekend(date), |off| !off);
    let not_holiday = |date: Date| listed.get(&date) != Some(&true);

    let national_day = listed_windows(WORKDAYS, "2026-09-30 08:00", 14);
    assert_eq!(
        national_day,
        expected_windows("2026-09-30T08:00", 14, workday)
    );
    let days: Vec<&str> = national_day.iter().map(|(start, _)| &start[..10]).collect();
    assert!(
        !days
            .iter()
            .any(|d| ("2026-10-01"..="2026-10-07").contains(d)),
        "{days:?}"
    );
    assert!(
        days.contains(&"2026-10-10"),
        "the make-up Saturday: {days:?}"
    );
    assert!(!days.contains(&"2026-10-11"), "a plain Sunday: {days:?}");

    let not_holidays =
        "calling_days = \"not_holidays\"\ncalling_hours = [\"09:00-12:00\", \"14:00-18:00\"]\n";
    let listed_not_holidays = listed_windows(not_holidays, "2026-09-30 08:00", 14);
    assert_eq!(
        listed_not_holidays,
        expected_windows("2026-09-30T08:00", 14, not_holiday)
    );
    assert!(
        listed_not_holidays
            .iter()
            .any(|(s, _)| s.starts_with("2026-10-11"))
    );

    // New Year 2025/2026: 01-01 to 01-03 off, Sunday 01-04 a make-up workday; the first
    // window clipped at --from.
    let new_year = listed_windows(WORKDAYS, "2025-12-29 10:30", 10);
    assert_eq!(new_year, expected_windows("2025-12-29T10:30", 10, workday));
    assert_eq!(new_year[0].0, "2025-12-29T10:30:00+08:00");
    assert!(new_year.iter().any(|(s, _)| s.starts_with("2026-01-04")));
    assert!(!new_year.iter().any(|(s, _)| s.starts_with("2026-01-02")));
    assert_eq!(
        listed_windows(not_holidays, "2025-12-29 10:30", 10),
        expected_windows("2025-12-29T10:30", 10, not_holiday)
    );
}

#[test]
fn windows_warn_of_a_year_the_calendar_does_not_know() {
    let out = windows(WORKDAYS, &["--from", "2026-12-28 08:00", "--days", "10"]);
    let lines = String::from_utf8(out.stdout).unwrap();
    // Monday 12-28 to Thursday 12-31, two windows each, and nothing in 2027.
    assert_eq!(lines.lines().count(), 8, "{lines}");
    assert!(
        lines.starts_with("2026-12-28 Mon 09:00-12:00 CST\n"),
        "{lines}"
    );
    let warnings = String::from_utf8(out.stderr).unwrap();
    assert!(
        warnings.contains("warning: the calendar does not know 2027"),
        "{warnings}"
    );
}

/// Whether campaign `name` is waiting for exactly `reason` (after the picker has looked
/// at it on the clock as it reads now).
async fn waits_for(store: &voicecast::store::Store, name: &str, reason: &str) {
    let expected = Some((CampaignState::Waiting, Some(reason.to_string())));
    eventually_explained(
        Duration::from_secs(20),
        &format!("{name} to wait: {reason}"),
        || format!(": it is {:?}", campaign_state(store, name)),
        || async { (campaign_state(store, name) == expected).then_some(()) },
    )
    .await;
}

fn status_json(site: &Site, name: &str) -> serde_json::Value {
    let path = site.folder("reports").join(name).join("status.json");
    std::fs::read(&path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn national_day_holds_a_workdays_campaign_and_the_make_up_saturday_dials() {
    let sim = simulator(answering(Duration::ZERO)).await;
    let site = Site::with_config(&config(&sim, "v1", "[limits]\nrate = 200"));
    // 2026-10-01 00:00 in Shanghai, the start of the holiday.
    let clock = Arc::new(ManualClock::new("2026-09-30T16:00:00Z".parse().unwrap()));
    let (daemon, _reload) = site
        .start_reloading(password_env(), clock.clone() as Arc<dyn Clock>)
        .await;
    site.drop_file(
        "holiday",
        Some(&format!(
            "{TEMPLATE}{WORKDAYS}start_at = \"2026-10-01 00:00\"\n"
        )),
        call_list(20),
    );
    let store = site.store();
    waits_for(
        &store,
        "holiday",
        "holiday: 国庆节 until 2026-10-08 09:00 CST",
    )
    .await;
    // The reports ask the same settings code: the next window is after the holiday.
    eventually_explained(
        Duration::from_secs(20),
        "status.json to show the next window",
        || format!(": {}", status_json(&site, "holiday")),
        || async {
            (status_json(&site, "holiday")["next_window"] == "2026-10-08T09:00:00+08:00")
                .then_some(())
        },
    )
    .await;
    // 2026-10-08 08:59: the holiday is over, the first window a minute away.
    clock.advance(Duration::from_secs(7 * 86_400 + 8 * 3600 + 59 * 60));
    waits_for(
        &store,
        "holiday",
        "outside calling hours until 2026-10-08 09:00 CST",
    )
    .await;
    assert!(
        sim.calls().is_empty(),
        "nothing dialled before 2026-10-08 09:00"
    );
    // Moved on to Saturday 2026-10-10 10:00, a make-up workday, with every row left.
    clock.advance(Duration::from_secs(2 * 86_400 + 61 * 60));
    finished(&store, "holiday", Duration::from_secs(30)).await;
    daemon.stop().await;
    assert_eq!(calls_per_number(&sim).len(), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_year_the_calendar_does_not_know_waits_until_its_file_and_a_reload() {
    let sim = simulator(answering(Duration::ZERO)).await;
    let site = Site::with_config(&config(
        &sim,
        "v1",
        "[limits]\nrate = 200\n[calendar]\ndir = \"calendar\"\nunknown_year = \"wait\"",
    ));
    let calendar_dir = site.config_file().parent().unwrap().join("calendar");
    std::fs::create_dir(&calendar_dir).unwrap();
    // Monday 2027-01-04 10:00 in Shanghai.
    let clock = Arc::new(ManualClock::new("2027-01-04T02:00:00Z".parse().unwrap()));
    let (daemon, reload) = site
        .start_reloading(password_env(), clock as Arc<dyn Clock>)
        .await;
    site.drop_file(
        "new-year",
        Some(&format!("{TEMPLATE}{WORKDAYS}")),
        call_list(20),
    );
    let store = site.store();
    waits_for(
        &store,
        "new-year",
        "the calendar does not know 2027 (unknown_year = \"wait\"): no call until its holidays are put in [calendar] dir",
    )
    .await;
    let warned = |status: &serde_json::Value| {
        status["warnings"].as_array().is_some_and(|w| {
            w.iter()
                .any(|w| w.as_str().unwrap_or("").contains("does not know 2027"))
        })
    };
    eventually_explained(
        Duration::from_secs(20),
        "the warning in status.json",
        || format!(": {}", status_json(&site, "new-year")),
        || async { warned(&status_json(&site, "new-year")).then_some(()) },
    )
    .await;
    assert!(status_json(&site, "new-year")["next_window"].is_null());
    assert!(sim.calls().is_empty(), "nothing dialled in an unknown year");

    std::fs::write(
        calendar_dir.join("2027.json"),
        r#"{"year": 2027, "days": [{"name": "元旦", "date": "2027-01-01", "isOffDay": true}]}"#,
    )
    .unwrap();
    reload.send(site.config(password_env())).await.unwrap();
    finished(&store, "new-year", Duration::from_secs(30)).await;
    eventually_explained(
        Duration::from_secs(20),
        "the warning to go",
        || format!(": {}", status_json(&site, "new-year")),
        || async { (!warned(&status_json(&site, "new-year"))).then_some(()) },
    )
    .await;
    daemon.stop().await;
    assert_eq!(calls_per_number(&sim).len(), 20);
}
