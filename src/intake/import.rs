//! One complete call list taken from the inbox: checked, committed to the store as a
//! campaign, and only then moved to `active/`; or moved to `rejected/` with a note saying
//! why. Blocking: runs on a blocking thread.
//!
//! Crash safety: the campaign's rows are written while it is `importing` (invisible, and
//! discarded at the next start), the one durable commit that accepts it comes next, the
//! move after it, and a mark that the move is done last. A crash before the commit leaves
//! the file in the inbox to be read again; a crash after it leaves an accepted campaign
//! not marked moved, whose files [`complete_moves`] moves instead of importing them again.

use std::fmt::Write as _;
use std::fs::File;
use std::path::Path;

use tokio_util::sync::CancellationToken;

use super::campaign::Plan;
use super::list::{self, ListError};
use super::rows::{Tally, Verdict, reason_lines, skipped_row_lines};
use crate::domain::{RowState, SkipReason};
use crate::fields;
use crate::layout::{self, Layout, ListFormat};
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
    Rejected {
        reason: String,
    },
    /// The file changed while it was read; it stays in the inbox to settle again.
    Changed,
    /// Shutdown came first; the file stays in the inbox.
    Interrupted,
}

/// Why a call list could be neither accepted nor rejected: the store or the folder
/// failed. The file stays in the inbox and is tried again.
#[derive(Debug, thiserror::Error)]
pub enum TakeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file or folder operation failed: `doing` says what, naming the paths, and
    /// `cause` is the system's error, kept whole.
    #[error("cannot {doing}: {cause}")]
    Folder {
        doing: String,
        cause: std::io::Error,
    },
}

impl TakeError {
    /// The error for `doing` failing, for `map_err`.
    fn folder(doing: impl FnOnce() -> String) -> impl FnOnce(std::io::Error) -> TakeError {
        move |cause| TakeError::Folder {
            doing: doing(),
            cause,
        }
    }
}

/// Takes the call list at `list` (in the inbox) under `plan`.
pub fn take(
    layout: &Layout,
    store: &Store,
    list: &Path,
    plan: Plan,
    cancel: &CancellationToken,
) -> Result<Taken, TakeError> {
    let file = match File::open(list) {
        Ok(file) => file,
        Err(e) => return reject(layout, list, &format!("cannot open the file: {e}"), None),
    };
    // Taken before the first read, so the hash and the rows are of the file it names.
    let identity = match Identity::of(&file) {
        Ok(identity) => identity,
        Err(e) => return reject(layout, list, &format!("cannot read the file: {e}"), None),
    };
    let name = free_name(&layout::campaign_name(list), |n| {
        Ok(store.campaign_name_taken(n)? || layout::holds_call_list(&layout.active(), n))
    })?;
    let source = Source {
        list,
        format: ListFormat::of_list(list),
        file,
        identity,
        name: &name,
    };
    import(layout, store, source, plan, cancel)
}

/// The file, opened, and where it goes.
struct Source<'a> {
    list: &'a Path,
    format: ListFormat,
    file: File,
    identity: Identity,
    name: &'a str,
}

/// Which file a path named when it was opened, and its size and mtime then: if the path
/// names another file by the end of the import, or this one changed, the rows read may
/// not be the file's.
struct Identity {
    opened: File,
    seen: (u64, u64, u64, i64, i64),
}

impl Identity {
    fn of(file: &File) -> std::io::Result<Identity> {
        let opened = file.try_clone()?;
        let seen = Identity::facts(&opened.metadata()?);
        Ok(Identity { opened, seen })
    }

    fn facts(meta: &std::fs::Metadata) -> (u64, u64, u64, i64, i64) {
        use std::os::unix::fs::MetadataExt;
        (
            meta.dev(),
            meta.ino(),
            meta.size(),
            meta.mtime(),
            meta.mtime_nsec(),
        )
    }

    /// Returns true if and only if `path` still names the opened file, unchanged.
    fn still(&self, path: &Path) -> bool {
        let now = |meta: std::io::Result<std::fs::Metadata>| meta.ok().map(|m| Identity::facts(&m));
        now(self.opened.metadata()) == Some(self.seen)
            && now(std::fs::metadata(path)) == Some(self.seen)
    }
}

fn import(
    layout: &Layout,
    store: &Store,
    source: Source<'_>,
    plan: Plan,
    cancel: &CancellationToken,
) -> Result<Taken, TakeError> {
    let Source {
        list,
        format,
        file,
        identity,
        name,
    } = source;
    let template = plan.rules.template.as_ref().map(ToString::to_string);
    // The campaign is begun with the first row, when the header is known.
    let mut import = None;
    let read = list::read(
        file,
        format,
        plan.settings.sheet.as_ref(),
        &plan.rules,
        |row| {
            if cancel.is_cancelled() {
                return Err(None);
            }
            let import = match &mut import {
                Some(import) => import,
                None => import.insert(
                    store
                        .begin_import(&NewCampaign {
                            name,
                            source_file: &file_name(list),
                            settings: &plan.settings_toml,
                            template: template.as_deref(),
                            header: &fields::to_json(row.columns.header.iter().map(String::as_str)),
                            encoding: row.shape.encoding(),
                            delimiter: row.shape.delimiter().unwrap_or(""),
                            now_ms: now_ms(),
                        })
                        .map_err(Some)?,
                ),
            };
            let fields = fields::to_json(row.record.iter());
            import.push(&import_row(&row, &fields)).map_err(Some)
        },
    );
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
            return reject(layout, list, &e.to_string(), None);
        }
    };
    let tally = &checked.tally;
    if let Some(reason) = tally.rejection() {
        abandon(import);
        return reject(layout, list, &reason, Some(tally));
    }
    let Some(import) = import else {
        return reject(layout, list, "the file has a header but no rows", None);
    };
    // A workbook's hash is of its cells, so it is known only now that they are read.
    if let Some(reason) = duplicate_of(store, &checked.hash, &plan)? {
        abandon(Some(import));
        return reject(layout, list, &reason, None);
    }
    let skips: Vec<(u64, SkipReason, String)> = checked
        .duplicates
        .iter()
        .map(|d| (d.ordinal, SkipReason::Duplicate, d.skip().detail))
        .collect();
    if !identity.still(list) {
        abandon(Some(import));
        return Ok(Taken::Changed);
    }
    import.finish(&skips, &checked.hash, now_ms())?;
    move_with_settings(list, &layout.active(), name)?;
    store.mark_moved(name, now_ms())?;
    Ok(Taken::Accepted {
        name: name.to_string(),
        rows: tally.rows,
        good: tally.good,
        skipped: tally.skipped_total(),
    })
}

/// Why a list whose content hashes to `hash` is refused as one already accepted, unless
/// its settings allow that.
fn duplicate_of(store: &Store, hash: &str, plan: &Plan) -> Result<Option<String>, StoreError> {
    if plan.settings.allow_duplicate_file {
        return Ok(None);
    }
    let earlier = store.campaigns_with_hash(hash)?;
    Ok(earlier.first().map(|first| {
        format!(
            "the file's content is the same as campaign {:?} (accepted {}); to call these \
             numbers again, set allow_duplicate_file = true in its settings file",
            first.name,
            jiff::Timestamp::from_millisecond(first.created_at_ms)
                .map_or_else(|_| "earlier".to_string(), |t| t.to_string())
        )
    }))
}

fn abandon(import: Option<crate::store::Import<'_>>) {
    if let Some(import) = import {
        if let Err(error) = import.abandon() {
            // Left `importing`, the campaign is discarded at the next start.
            tracing::warn!(%error, "An abandoned import could not be deleted yet.");
        }
    }
}

/// The row as the store keeps it; `fields` is its record as a JSON array.
fn import_row<'a>(row: &'a list::Row<'_>, fields: &'a str) -> ImportRow<'a> {
    match row.verdict {
        Verdict::Good(good) => ImportRow {
            line: row.line,
            callee: Some(&good.callee),
            caller: good.caller.as_deref(),
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
            detail: Some(&skip.detail),
        },
    }
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

/// Moves the call list `list` and its `NAME.toml`, if any, into `folder` as `name.csv`
/// (or `name.xlsx`, ...) and `name.toml`.
///
/// The list goes first: a stop between the two leaves the settings in the inbox, where
/// [`complete_moves`] (for an accepted campaign) or the next look at the file finds them,
/// never a call list without its settings. Both folders are synced, so a power loss
/// cannot undo the move.
fn move_with_settings(list: &Path, folder: &Path, name: &str) -> Result<(), TakeError> {
    let settings = layout::settings_beside(list);
    let format = ListFormat::of_list(list);
    let moved = folder.join(layout::call_list_file(name, format));
    rename(list, &moved)?;
    if settings.is_file() {
        rename(&settings, &layout::settings_beside(&moved))?;
    }
    for dir in [folder, list.parent().unwrap_or(Path::new("."))] {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(TakeError::folder(|| {
                format!("sync the folder {}", dir.display())
            }))?;
    }
    Ok(())
}

/// Moves the files of every accepted campaign whose move a stop or a failure cut off
/// (they are still in the inbox under their old names) to `active/`; returns the
/// campaigns' names.
pub fn complete_moves(layout: &Layout, store: &Store) -> Result<Vec<String>, TakeError> {
    let mut completed = Vec::new();
    for campaign in store.campaigns_awaiting_move()? {
        let list = layout.inbox().join(&campaign.source_file);
        let settings = layout::settings_beside(&list);
        let format = ListFormat::of_list(&list);
        let active = layout
            .active()
            .join(layout::call_list_file(&campaign.name, format));
        if list.is_file() {
            move_with_settings(&list, &layout.active(), &campaign.name)?;
        } else if settings.is_file() && active.is_file() {
            rename(&settings, &layout::settings_beside(&active))?;
        }
        store.mark_moved(&campaign.name, now_ms())?;
        completed.push(campaign.name);
    }
    Ok(completed)
}

fn rename(from: &Path, to: &Path) -> Result<(), TakeError> {
    std::fs::rename(from, to).map_err(TakeError::folder(|| {
        format!("move {} to {}", from.display(), to.display())
    }))
}

/// Moves the file (and its settings) to `rejected/` under a free name, beside a
/// `NAME.error.txt` saying why.
pub fn reject(
    layout: &Layout,
    list: &Path,
    reason: &str,
    tally: Option<&Tally>,
) -> Result<Taken, TakeError> {
    let rejected = layout.rejected();
    let name = free_name(&layout::campaign_name(list), |n| {
        Ok(layout::holds_call_list(&rejected, n) || layout.rejection_note(n).exists())
    })?;
    let note = rejection_note(&file_name(list), reason, tally);
    let path = layout.rejection_note(&name);
    crate::atomic::write(&path, note.as_bytes())
        .map_err(TakeError::folder(|| format!("write {}", path.display())))?;
    move_with_settings(list, &rejected, &name)?;
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
        note.push_str(&reason_lines(&tally.skipped, "  "));
        let _ = writeln!(
            note,
            "\nThe first {} skipped rows:",
            tally.skipped_rows.len()
        );
        note.push_str(&skipped_row_lines(&tally.skipped_rows, "  "));
    }
    let _ = writeln!(
        note,
        "\nFix the file (or its settings) and put it in inbox/ again; `voicecast check FILE` \
         shows what intake will say."
    );
    note
}
