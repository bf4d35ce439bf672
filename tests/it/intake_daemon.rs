//! The daemon's intake through its real entry points: `app::run` with an injected
//! shutdown, and the `voicecast run` binary killed with SIGKILL. A call list is imported
//! once and whole, however it arrives and whatever interrupts it.

use std::io::Write;
use std::time::Duration;

use callcenter_openapi::{ClientSettings, VendorClient};
use callcenter_simulator::{
    EXAMPLE_CUSTOMER, EXAMPLE_PASSWORD, SimulatorOptions, TemplateReview, example_credentials,
};
use voicecast::domain::{CampaignState, RowState};
use voicecast::store::Store;

use crate::site::{Site, TEMPLATE, call_list, files_in, wait_for_folders};
use crate::support::{LogSink, eventually, quick_calls};

/// Waits until the store lists `name` as accepted; returns its state and row count.
async fn accepted(store: &Store, name: &str, within: Duration) -> (CampaignState, u64) {
    eventually(within, &format!("campaign {name} accepted"), || async {
        let campaigns = store.campaigns().unwrap();
        campaigns
            .iter()
            .find(|c| c.name == name)
            .map(|c| (c.state, c.rows))
    })
    .await
}

/// Waits until an import is under way: its campaign is in the store, still `importing`.
async fn import_begun(store: &Store) {
    eventually(Duration::from_secs(20), "the import to begin", || async {
        (!store.unfinished_imports().unwrap().is_empty()).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_file_copied_in_slowly_is_imported_once_and_whole() {
    let (log, _guard) = LogSink::capture(tracing::Level::DEBUG);
    let site = Site::new();
    let daemon = site.start().await;
    let inbox = site.folder("inbox");
    std::fs::write(inbox.join("slow.toml"), TEMPLATE).unwrap();
    let text = call_list(2_000);
    // Four parts cut anywhere, even inside a character, as a copy in progress leaves it.
    let mut chunks = text.as_bytes().chunks(text.len() / 4 + 1);
    let mut file = std::fs::File::create(inbox.join("slow.csv")).unwrap();
    file.write_all(chunks.next().unwrap()).unwrap();
    file.flush().unwrap();
    // The daemon has seen the file while it holds only its first part; the rest comes
    // well within `settle_secs` (0.5 s), and the file must be read whole, once.
    eventually(
        Duration::from_secs(20),
        "intake to see the partial file",
        || async {
            let text = log.text();
            (text.contains("slow.csv") && text.contains("is being written")).then_some(())
        },
    )
    .await;
    for chunk in chunks {
        file.write_all(chunk).unwrap();
        file.flush().unwrap();
    }
    drop(file);
    let store = site.store();
    let (state, rows) = accepted(&store, "slow", Duration::from_secs(20)).await;
    assert_eq!((state, rows), (CampaignState::Running, 2_000));
    assert_eq!(store.row_counts("slow").unwrap()[&RowState::Pending], 2_000);
    assert_eq!(files_in(&site.folder("active")), ["slow.csv", "slow.toml"]);
    assert!(files_in(&inbox).is_empty());
    assert_eq!(store.campaigns().unwrap().len(), 1);
    daemon.stop().await;
}

#[tokio::test]
async fn a_shutdown_during_an_import_leaves_no_half_campaign() {
    let site = Site::new();
    let daemon = site.start().await;
    site.drop_in("big", 60_000);
    let store = site.store();
    import_begun(&store).await;
    daemon.stop().await;
    assert!(store.campaigns().unwrap().is_empty());
    assert!(store.unfinished_imports().unwrap().is_empty());
    assert_eq!(files_in(&site.folder("inbox")), ["big.csv", "big.toml"]);
}

#[tokio::test]
async fn a_file_replaced_during_its_import_is_read_again_as_it_is_now() {
    let site = Site::new();
    let daemon = site.start().await;
    site.drop_in("big", 60_000);
    let store = site.store();
    import_begun(&store).await;
    site.drop_file("big", None, call_list(5));
    let (_, rows) = accepted(&store, "big", Duration::from_secs(30)).await;
    assert_eq!(rows, 5);
    assert_eq!(store.campaigns().unwrap().len(), 1);
    assert!(store.unfinished_imports().unwrap().is_empty());
    daemon.stop().await;
}

#[tokio::test]
async fn a_daemon_killed_during_an_import_neither_loses_nor_doubles_the_campaign() {
    let site = Site::new();
    let mut daemon = site.spawn();
    wait_for_folders(&site).await;
    site.drop_in("big", 60_000);
    let store = site.store();
    import_begun(&store).await;
    daemon.kill().unwrap();
    daemon.wait().unwrap();
    assert!(store.campaigns().unwrap().is_empty());

    let mut daemon = site.spawn();
    let (state, rows) = accepted(&store, "big", Duration::from_secs(60)).await;
    assert_eq!((state, rows), (CampaignState::Running, 60_000));
    assert_eq!(store.row_counts("big").unwrap()[&RowState::Pending], 60_000);
    assert!(store.unfinished_imports().unwrap().is_empty());
    daemon.kill().unwrap();
    daemon.wait().unwrap();
    assert_eq!(store.campaigns().unwrap().len(), 1);
    assert_eq!(files_in(&site.folder("active")), ["big.csv", "big.toml"]);
}

/// Puts the store and the folder back as a stop between the accepting commit and the
/// end of the move would have left them: the campaign not marked moved, and the files
/// named in the inbox again.
fn cut_off_move(site: &Site, name: &str, back_to_inbox: &[&str]) {
    let db = rusqlite::Connection::open(site.database()).unwrap();
    db.execute(
        "UPDATE campaigns SET moved_at = NULL WHERE name = ?1",
        [name],
    )
    .unwrap();
    for file in back_to_inbox {
        std::fs::rename(
            site.folder("active").join(file),
            site.folder("inbox").join(file),
        )
        .unwrap();
    }
}

#[tokio::test]
async fn a_move_cut_off_after_the_commit_is_completed_not_imported_again() {
    let site = Site::new();
    let daemon = site.start().await;
    site.drop_in("june", 10);
    site.drop_in("july", 11);
    let store = site.store();
    accepted(&store, "june", Duration::from_secs(20)).await;
    accepted(&store, "july", Duration::from_secs(20)).await;
    daemon.stop().await;
    cut_off_move(&site, "june", &["june.csv", "june.toml"]);
    // Stopped between the two renames: the list moved, its settings not yet.
    cut_off_move(&site, "july", &["july.toml"]);

    let daemon = site.start().await;
    eventually(
        Duration::from_secs(20),
        "the moves to be completed and recorded",
        // The files are renamed first and the move recorded after, so both are awaited.
        || async {
            (files_in(&site.folder("inbox")).is_empty()
                && store.campaigns_awaiting_move().unwrap().is_empty())
            .then_some(())
        },
    )
    .await;
    assert_eq!(
        files_in(&site.folder("active")),
        ["july.csv", "july.toml", "june.csv", "june.toml"]
    );

    // Moved, the same content dropped again is a new drop: with the flag, a new campaign.
    let settings = format!("{TEMPLATE}allow_duplicate_file = true\n");
    site.drop_file("june", Some(&settings), call_list(10));
    let (_, rows) = accepted(&store, "june-2", Duration::from_secs(20)).await;
    assert_eq!(rows, 10);
    daemon.stop().await;
    assert_eq!(store.campaigns().unwrap().len(), 3);
    assert!(files_in(&site.folder("rejected")).is_empty());
}

#[tokio::test]
async fn the_same_content_again_is_rejected_and_a_taken_name_becomes_name_2() {
    let site = Site::new();
    let daemon = site.start().await;
    site.drop_in("july", 5);
    let store = site.store();
    accepted(&store, "july", Duration::from_secs(20)).await;
    site.drop_in("july", 5);
    // The note is written first, then the files are moved beside it.
    eventually(
        Duration::from_secs(20),
        "the duplicate file rejected",
        || async {
            (files_in(&site.folder("rejected")) == ["july.csv", "july.error.txt", "july.toml"])
                .then_some(())
        },
    )
    .await;
    let note = std::fs::read_to_string(site.folder("rejected").join("july.error.txt")).unwrap();
    assert!(note.contains("the same as campaign \"july\""), "{note}");
    assert!(note.contains("allow_duplicate_file = true"), "{note}");

    site.drop_in("july", 6);
    let (_, rows) = accepted(&store, "july-2", Duration::from_secs(20)).await;
    assert_eq!(rows, 6);
    assert_eq!(
        files_in(&site.folder("active")),
        ["july-2.csv", "july-2.toml", "july.csv", "july.toml"]
    );
    daemon.stop().await;
}

#[tokio::test]
async fn a_file_with_no_usable_row_is_rejected_with_the_first_reasons() {
    let site = Site::new();
    let daemon = site.start().await;
    let mut text = String::from("callee,1\n");
    for n in 0..30 {
        text.push_str(&format!("1.38{n}E+10,x\n"));
    }
    text.push_str("12345,x\n");
    site.drop_file("bad", Some(TEMPLATE), &text);
    let note_path = site.folder("rejected").join("bad.error.txt");
    // The note is written first, then the files are moved beside it.
    eventually(Duration::from_secs(20), "the file rejected", || async {
        (files_in(&site.folder("rejected")) == ["bad.csv", "bad.error.txt", "bad.toml"])
            .then_some(())
    })
    .await;
    let note = std::fs::read_to_string(&note_path).unwrap();
    assert!(
        note.contains("no usable row: all 31 rows were skipped"),
        "{note}"
    );
    assert!(note.contains("scientific_notation  30"), "{note}");
    assert!(note.contains("bad_number           1"), "{note}");
    assert!(note.contains("The first 20 skipped rows:"), "{note}");
    assert!(note.contains("line 2 "), "{note}");
    assert!(!note.contains("line 22 "), "{note}");
    assert!(store_is_empty(&site));
    daemon.stop().await;
}

#[tokio::test]
async fn a_vendor_template_is_used_once_approved_and_a_rejected_one_rejects_the_file() {
    let simulator = crate::support::simulator(SimulatorOptions {
        templates: TemplateReview::Hold,
        cdr_delay: Duration::ZERO,
        ..quick_calls()
    })
    .await;
    let client = VendorClient::new(
        ClientSettings::new(simulator.base_url()),
        example_credentials(),
    )
    .unwrap();
    let held = client
        .upload_template("取件", "{1}您好，快递到了。")
        .await
        .unwrap();
    let doomed = client
        .upload_template("促销", "{1}您好，大促开始。")
        .await
        .unwrap();
    let site = Site::new();
    let config = std::fs::read_to_string(site.config_file()).unwrap();
    std::fs::write(
        site.config_file(),
        format!(
            "[api]\nbase_url = \"{}\"\ncustomer = \"{EXAMPLE_CUSTOMER}\"\n{config}",
            simulator.base_url()
        ),
    )
    .unwrap();
    let env = vec![(
        "VOICECAST_API__PASSWORD".to_string(),
        EXAMPLE_PASSWORD.to_string(),
    )];
    let daemon = site.start_with_env(env).await;
    let inbox = site.folder("inbox");
    for (name, id) in [("held", &held), ("doomed", &doomed)] {
        let settings = format!("template_id = \"{id}\"\n");
        site.drop_file(name, Some(&settings), call_list(3));
    }
    let store = site.store();
    // Pending review: both wait in the inbox, looked at again at every rescan.
    let asked = simulator.requests("getTTSTemplateList");
    eventually(
        Duration::from_secs(20),
        "two more looks at both templates",
        || async { (simulator.requests("getTTSTemplateList") >= asked + 4).then_some(()) },
    )
    .await;
    assert!(store.campaigns().unwrap().is_empty());
    assert_eq!(files_in(&inbox).len(), 4);

    simulator
        .review_template(held.parse().unwrap(), true, "")
        .unwrap();
    simulator
        .review_template(doomed.parse().unwrap(), false, "含营销内容")
        .unwrap();
    let (_, rows) = accepted(&store, "held", Duration::from_secs(20)).await;
    assert_eq!(rows, 3);
    let note_path = site.folder("rejected").join("doomed.error.txt");
    eventually(
        Duration::from_secs(20),
        "the rejected template's note",
        || async { note_path.is_file().then_some(()) },
    )
    .await;
    let note = std::fs::read_to_string(&note_path).unwrap();
    assert!(
        note.contains(&format!(
            "the vendor rejected template {doomed}: 含营销内容"
        )),
        "{note}"
    );
    daemon.stop().await;
    simulator.stop().await;
}

fn store_is_empty(site: &Site) -> bool {
    site.store().campaigns().unwrap().is_empty()
}
