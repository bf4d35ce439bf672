//! One complete call list taken from the inbox: checked, committed to the store as a
//! campaign, and only then moved to `active/`; or moved to `rejected/` with a note saying
//! why. Blocking: runs on a blocking thread.
//!
//! Crash safety: the campaign's rows are written while it is `importing` (invisible, and
//! discarded at the next start), the one commit that accepts it comes next, and the move
//! last. A crash before the commit leaves the file in the inbox to be read again; a crash
//! after it leaves a file whose content hash and name match the accepted campaign, and
//! the next look at the inbox completes the move instead of importing it twice.

use std::fmt::Write as _;
use std::fs::File;
use std::path::Path;

use tokio_util::sync::CancellationToken;

use super::campaign::Plan;
use super::decode::FileFacts;
use super::list::{self, ListError, delimiter_name};
use super::rows::{Tally, Verdict};
use crate::domain::{RowState, SkipReason};
use crate::layout::{self, Layout};
use crate::store::{ImportRow, NewCampaign, Store, StoreError, now_ms};

/// What became of a call list.
#[derive(Debug, PartialEq, Eq)]
pub enum Taken {
    Accepted {
        name: String,
        rows: u64,
        good: u64,
        skipped: u64,
    },
    /// An accepted campaign whose move to `active/` a crash interrupted; now moved.
    MoveCompleted {
        name: String,
    },
    Rejected {
        reason: String,
    },
    /// Shutdown came first; the file stays in the inbox.
    Interrupted,
}

/// Why a call list could be neither accepted nor rejected: the store or the folder
/// failed. The file stays in the inbox and is tried again.
#[derive(Debug, thiserror::Error)]
pub enum TakeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Folder(String),
}

/// Takes the call list at `csv` (in the inbox) under `plan`.
pub fn take(
    layout: &Layout,
    store: &Store,
    csv: &Path,
    plan: Plan,
    cancel: &CancellationToken,
) -> Result<Taken, TakeError> {
    let source_file = file_name(csv);
    let mut file = match File::open(csv) {
        Ok(file) => file,
        Err(e) => return reject(layout, csv, &format!("cannot open the file: {e}"), None),
    };
    let facts = match list::facts(&mut file) {
        Ok(facts) => facts,
        Err(e) => return reject(layout, csv, &e.to_string(), None),
    };
    let earlier = store.campaigns_with_hash(&facts.hash)?;
    let in_place =
        |file: &str| layout.active().join(file).exists() || layout.done().join(file).exists();
    if let Some(campaign) = earlier
        .iter()
        .find(|c| c.source_file == source_file && !in_place(&c.file_name))
    {
        move_with_settings(csv, &layout.active(), &campaign.name)?;
        return Ok(Taken::MoveCompleted {
            name: campaign.name.clone(),
        });
    }
    if let Some(first) = earlier
        .first()
        .filter(|_| !plan.settings.allow_duplicate_file)
    {
        let reason = format!(
            "the file's content is the same as campaign {:?} (accepted {}); to call these \
             numbers again, set allow_duplicate_file = true in its settings file",
            first.name,
            jiff::Timestamp::from_millisecond(first.created_at_ms)
                .map_or_else(|_| "earlier".to_string(), |t| t.to_string())
        );
        return reject(layout, csv, &reason, None);
    }
    let name = free_name(&layout::campaign_name(csv), |n| {
        Ok(store.campaign_name_taken(n)? || layout.active().join(format!("{n}.csv")).exists())
    })?;
    let source = Source {
        csv,
        file,
        facts,
        name: &name,
    };
    import(layout, store, source, plan, cancel)
}

/// The file, opened and scanned, and where it goes.
struct Source<'a> {
    csv: &'a Path,
    file: File,
    facts: FileFacts,
    name: &'a str,
}

fn import(
    layout: &Layout,
    store: &Store,
    source: Source<'_>,
    plan: Plan,
    cancel: &CancellationToken,
) -> Result<Taken, TakeError> {
    let Source {
        csv,
        file,
        facts,
        name,
    } = source;
    let template = plan.rules.template.as_ref().map(ToString::to_string);
    // The campaign is begun with the first row, when the header is known.
    let mut import = None;
    let read = list::read(file, facts.clone(), &plan.rules, |row| {
        if cancel.is_cancelled() {
            return Err(None);
        }
        let import = match &mut import {
            Some(import) => import,
            None => import.insert(
                store
                    .begin_import(&NewCampaign {
                        name,
                        source_file: &file_name(csv),
                        file_name: &format!("{name}.csv"),
                        file_hash: &facts.hash,
                        settings: &plan.settings_toml,
                        template: template.as_deref(),
                        header: &json_array(row.columns.header.iter().map(String::as_str)),
                        encoding: facts.encoding.label(),
                        delimiter: delimiter_name(row.delimiter),
                        now_ms: now_ms(),
                    })
                    .map_err(Some)?,
            ),
        };
        import.push(import_row(&row)).map_err(Some)
    });
    let checked = match read {
        Ok(checked) => checked,
        Err(ListError::Sink(None)) => {
            abandon(import);
            return Ok(Taken::Interrupted);
        }
        Err(ListError::Sink(Some(e))) => {
            abandon(import);
            return Err(e.into());
        }
        Err(ListError::Unreadable(e)) => {
            abandon(import);
            return reject(layout, csv, &e.to_string(), None);
        }
    };
    let tally = &checked.tally;
    let (Some(import), None) = (import, tally.rejection()) else {
        let reason = tally.rejection().unwrap_or_default();
        return reject(layout, csv, &reason, Some(tally));
    };
    let skips: Vec<(u64, SkipReason, String)> = checked
        .duplicates
        .iter()
        .map(|d| (d.ordinal, SkipReason::Duplicate, d.skip().detail))
        .collect();
    import.finish(&skips, now_ms())?;
    move_with_settings(csv, &layout.active(), name)?;
    Ok(Taken::Accepted {
        name: name.to_string(),
        rows: tally.rows,
        good: tally.good,
        skipped: tally.skipped_total(),
    })
}

fn abandon(import: Option<crate::store::Import<'_>>) {
    if let Some(import) = import {
        if let Err(error) = import.abandon() {
            // Left `importing`, the campaign is discarded at the next start.
            tracing::warn!(%error, "An abandoned import could not be deleted yet.");
        }
    }
}

fn import_row(row: &list::Row<'_>) -> ImportRow {
    let fields = json_array(row.record.iter());
    match row.verdict {
        Verdict::Good(good) => ImportRow {
            line: row.line,
            callee: Some(good.callee.clone()),
            caller: good.caller.clone(),
            cycle_play_times: good.cycle_play_times,
            fields,
            state: RowState::Pending,
            reason: None,
            detail: None,
        },
        Verdict::Skip(skip) => ImportRow {
            line: row.line,
            callee: None,
            caller: None,
            cycle_play_times: None,
            fields,
            state: RowState::Skipped,
            reason: Some(skip.reason),
            detail: Some(skip.detail.clone()),
        },
    }
}

fn json_array<'a>(fields: impl Iterator<Item = &'a str>) -> String {
    serde_json::to_string(&fields.collect::<Vec<_>>()).expect("strings serialize")
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `stem`, else `stem-2`, `stem-3`, ...: the first that `taken` says is free.
fn free_name(
    stem: &str,
    mut taken: impl FnMut(&str) -> Result<bool, StoreError>,
) -> Result<String, StoreError> {
    let mut candidate = stem.to_string();
    let mut n = 1;
    while taken(&candidate)? {
        n += 1;
        candidate = format!("{stem}-{n}");
    }
    Ok(candidate)
}

/// Moves `csv` and its `NAME.toml`, if any, into `folder` as `name.csv` and `name.toml`.
fn move_with_settings(csv: &Path, folder: &Path, name: &str) -> Result<(), TakeError> {
    let settings = layout::settings_beside(csv);
    if settings.is_file() {
        rename(&settings, &folder.join(format!("{name}.toml")))?;
    }
    rename(csv, &folder.join(format!("{name}.csv")))
}

fn rename(from: &Path, to: &Path) -> Result<(), TakeError> {
    std::fs::rename(from, to).map_err(|e| {
        TakeError::Folder(format!(
            "cannot move {} to {}: {e}",
            from.display(),
            to.display()
        ))
    })
}

/// Moves the file (and its settings) to `rejected/` under a free name, beside a
/// `NAME.error.txt` saying why.
pub fn reject(
    layout: &Layout,
    csv: &Path,
    reason: &str,
    tally: Option<&Tally>,
) -> Result<Taken, TakeError> {
    let rejected = layout.rejected();
    let name = free_name(&layout::campaign_name(csv), |n| {
        Ok(rejected.join(format!("{n}.csv")).exists() || layout.rejection_note(n).exists())
    })?;
    let note = rejection_note(&file_name(csv), reason, tally);
    let path = layout.rejection_note(&name);
    let temporary = path.with_extension("txt.tmp");
    std::fs::write(&temporary, note)
        .and_then(|()| std::fs::rename(&temporary, &path))
        .map_err(|e| TakeError::Folder(format!("cannot write {}: {e}", path.display())))?;
    move_with_settings(csv, &rejected, &name)?;
    Ok(Taken::Rejected {
        reason: reason.to_string(),
    })
}

/// The text of `NAME.error.txt`: why, then for row problems the counts per reason and the
/// first skipped rows with their lines.
pub fn rejection_note(file: &str, reason: &str, tally: Option<&Tally>) -> String {
    let mut note = format!("{file} was rejected: {reason}\n");
    if let Some(tally) = tally.filter(|t| t.rows > 0) {
        let _ = writeln!(
            note,
            "\n{} rows, {} good. Skipped rows per reason:",
            tally.rows, tally.good
        );
        for (reason, count) in &tally.skipped {
            let _ = writeln!(note, "  {reason:<20} {count}");
        }
        let _ = writeln!(
            note,
            "\nThe first {} skipped rows:",
            tally.skipped_rows.len()
        );
        for s in &tally.skipped_rows {
            let _ = writeln!(note, "  line {:<7} {:<20} {}", s.line, s.reason, s.detail);
        }
    }
    let _ = writeln!(
        note,
        "\nFix the file (or its settings) and put it in inbox/ again; `voicecast check FILE.csv` \
         shows what intake will say."
    );
    note
}
