//! The retention benchmark: how long a write-ahead waits while retention removes an
//! ended campaign of 1,000,000 rows (or a count given) with an attempt each. It fills a
//! fresh store, then writes calls ahead for a running campaign at 1,000 calls a second, 20
//! a commit as dispatch does, first alone and then while the campaign is archived with
//! the stage's own pacing,
//! and prints the write-ahead commits' durations (median, 99th percentile, longest) in
//! each run, and how long the removal and the space given back took.
//!
//! `cargo bench --bench purge` or `cargo bench --bench purge -- 200000`.

use std::time::{Duration, Instant};

mod common;

use tokio_util::sync::CancellationToken;
use voicecast::domain::CampaignState;
use voicecast::retention::pace;
use voicecast::store::{Claim, ImportRow, NewCampaign, ReadyAfter, Store};

/// The calls one write-ahead commit takes, and the commits a second: dispatch at 1,000
/// calls a second.
const CALLS_A_COMMIT: usize = 20;
const COMMIT_EVERY: Duration = Duration::from_millis(20);

fn main() -> anyhow::Result<()> {
    let rows = common::count_argument(1_000_000);
    let dir = tempfile::tempdir()?;
    let store = Store::open(&dir.path().join("voicecast.db"))?;
    let started = Instant::now();
    let old = import(&store, "old", rows)?;
    let sql = rusqlite::Connection::open(store.path())?;
    sql.execute_batch(
        "INSERT INTO attempts (row, seq, user_data, written_at, sent_at, state, session,
                               settled_at)
             SELECT id, '1', 'u' || id, 1000, 1000, 'answered', 's' || id, 2000 FROM rows;
         INSERT INTO number_calls (attempt, callee, at)
             SELECT id, 'n' || row, 2000 FROM attempts;",
    )?;
    store.set_campaign_state(old, CampaignState::Finished, None, 3_000)?;
    let live = import(&store, "live", 200_000)?;
    store.set_campaign_state(live, CampaignState::Running, None, 3_000)?;
    println!(
        "store            {rows} ended rows with an attempt each, filled in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let mut dialling = Dialling {
        store: &store,
        campaign: live,
        after: None,
    };
    let alone = dialling.for_a_while(Duration::from_secs(10))?;
    print_waits("alone", &alone);

    let copy = dir.path().join("copy.db");
    let backing_up = {
        let (database, copy) = (store.path().to_path_buf(), copy.clone());
        std::thread::spawn(move || voicecast::store::backup(&database, &copy))
    };
    let mut during = Vec::new();
    while !backing_up.is_finished() {
        during.extend(dialling.for_a_while(Duration::from_millis(200))?);
    }
    let backup = backing_up.join().expect("the backup thread")?;
    print_waits("while backing up", &during);
    let integrity: String =
        rusqlite::Connection::open(&copy)?.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    println!(
        "backup           {:.0} MB in {:.1} s; integrity check: {integrity}",
        backup.bytes as f64 / 1e6,
        backup.took.as_secs_f64()
    );
    std::fs::remove_file(&copy)?;

    let purging = {
        let store = store.clone();
        std::thread::spawn(
            move || -> anyhow::Result<(Duration, Duration, u64, Duration)> {
                let cancel = CancellationToken::new();
                let mut longest = Duration::ZERO;
                let mut paced = |took: Duration| {
                    longest = longest.max(took);
                    pace(took, &cancel)
                };
                let started = Instant::now();
                store.archive(old, 4_000, &mut paced)?;
                let removed = started.elapsed();
                let started = Instant::now();
                let pages = store.give_back_space(&mut paced)?;
                Ok((removed, started.elapsed(), pages, longest))
            },
        )
    };
    let mut during = Vec::new();
    while !purging.is_finished() {
        during.extend(dialling.for_a_while(Duration::from_millis(200))?);
    }
    let (removed, given_back, pages, longest) = purging.join().expect("the purge thread")?;
    print_waits("while purging", &during);
    println!(
        "purge            {rows} rows removed in {:.1} s; {pages} pages ({:.0} MB) given back in {:.1} s; its longest transaction {:.2} ms",
        removed.as_secs_f64(),
        pages as f64 * 16_384.0 / 1e6,
        given_back.as_secs_f64(),
        longest.as_secs_f64() * 1e3
    );
    Ok(())
}

/// Imports `rows` rows as campaign `name`; returns its id.
fn import(store: &Store, name: &str, rows: usize) -> anyhow::Result<i64> {
    let mut import = store.begin_import(&NewCampaign {
        name,
        source_file: name,
        settings: "template = \"{1}\"",
        template: Some("{1}"),
        header: "[\"callee\",\"1\"]",
        encoding: "utf-8",
        delimiter: ",",
        now_ms: 1,
    })?;
    for n in 0..rows {
        let callee = format!("138{n:08}");
        let fields = format!("[\"{callee}\",\"客户{n}\"]");
        import.push(&ImportRow {
            line: n as u64 + 2,
            callee: Some(&callee),
            caller: None,
            cycle_play_times: None,
            fields: &fields,
            state: voicecast::domain::RowState::Pending,
            reason: None,
            detail: None,
        })?;
    }
    import.finish(&[], name, 2)?;
    let campaigns = voicecast::store::Reader::open(store)?.campaigns()?;
    let campaign = campaigns.iter().find(|c| c.name == name);
    Ok(campaign.expect("the campaign just imported").id)
}

/// Calls written ahead for a running campaign, a commit at a time.
struct Dialling<'a> {
    store: &'a Store,
    campaign: i64,
    after: Option<ReadyAfter>,
}

impl Dialling<'_> {
    /// Writes calls ahead for `how_long`; returns each commit's duration.
    fn for_a_while(&mut self, how_long: Duration) -> anyhow::Result<Vec<Duration>> {
        let mut waits = Vec::new();
        let started = Instant::now();
        let mut next = started;
        while started.elapsed() < how_long {
            next += COMMIT_EVERY;
            std::thread::sleep(next.saturating_duration_since(Instant::now()));
            let ready = self
                .store
                .ready_rows(self.campaign, 5_000, self.after, CALLS_A_COMMIT)?;
            let Some(last) = ready.last() else {
                anyhow::bail!("the live campaign ran out of rows: give it more");
            };
            self.after = Some((last.due_at, last.id));
            let claims: Vec<Claim> = ready
                .iter()
                .map(|r| Claim {
                    row: r.id,
                    tries: r.tries,
                    callee: r.callee.clone(),
                })
                .collect();
            let began = Instant::now();
            self.store.begin_attempts(&claims, &[], "bench", 5_000)?;
            waits.push(began.elapsed());
        }
        Ok(waits)
    }
}

fn print_waits(what: &str, waits: &[Duration]) {
    let mut sorted = waits.to_vec();
    sorted.sort();
    let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e3;
    println!(
        "write-ahead      {what}: {} commits, median {:.2} ms, 99th percentile {:.2} ms, longest {:.2} ms",
        sorted.len(),
        at(0.5),
        at(0.99),
        at(1.0)
    );
}
