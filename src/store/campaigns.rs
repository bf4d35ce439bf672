//! Campaigns and their rows: the import (a campaign written in chunks, committed as a
//! whole by its last transaction) and the look-ups intake needs.

use std::collections::BTreeMap;

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError};
use crate::domain::{CampaignState, RowState, SkipReason};

/// What the store keeps of a campaign when its import begins.
#[derive(Clone, Debug)]
pub struct NewCampaign<'a> {
    pub name: &'a str,
    /// The call list's name in `inbox/`, where it came from.
    pub source_file: &'a str,
    /// The settings layer the store keeps (`PartialSettings::to_keep`), as TOML.
    pub settings: &'a str,
    /// The template text, when known.
    pub template: Option<&'a str>,
    /// The original header, as a JSON array of strings.
    pub header: &'a str,
    /// A CSV file's text encoding, or a workbook's format (`xlsx`).
    pub encoding: &'a str,
    /// A CSV file's delimiter; empty for a workbook.
    pub delimiter: &'a str,
    pub now_ms: i64,
}

/// One input row as intake leaves it: `pending` with its number, or `skipped` with its
/// reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImportRow<'a> {
    pub line: u64,
    pub callee: Option<&'a str>,
    pub caller: Option<&'a str>,
    pub cycle_play_times: Option<u32>,
    /// The row's original fields, as a JSON array of strings. The text to speak is not
    /// kept: it is the campaign's template rendered from these fields, every time alike.
    pub fields: &'a str,
    pub state: RowState,
    pub reason: Option<SkipReason>,
    pub detail: Option<&'a str>,
}

/// Rows on their way to the writer thread: their text in one buffer, so a chunk is a few
/// allocations rather than a few per row.
#[derive(Debug, Default)]
struct Chunk {
    text: String,
    rows: Vec<Held>,
}

type Span = std::ops::Range<usize>;

#[derive(Debug)]
struct Held {
    line: u64,
    callee: Option<Span>,
    caller: Option<Span>,
    cycle_play_times: Option<u32>,
    fields: Span,
    state: RowState,
    reason: Option<SkipReason>,
    detail: Option<Span>,
}

impl Chunk {
    fn with_capacity(rows: usize) -> Chunk {
        Chunk {
            text: String::with_capacity(rows * 192),
            rows: Vec::with_capacity(rows),
        }
    }

    fn hold(&mut self, text: &str) -> Span {
        let start = self.text.len();
        self.text.push_str(text);
        start..self.text.len()
    }

    fn add(&mut self, row: &ImportRow<'_>) {
        let held = Held {
            line: row.line,
            callee: row.callee.map(|t| self.hold(t)),
            caller: row.caller.map(|t| self.hold(t)),
            cycle_play_times: row.cycle_play_times,
            fields: self.hold(row.fields),
            state: row.state,
            reason: row.reason,
            detail: row.detail.map(|t| self.hold(t)),
        };
        self.rows.push(held);
    }

    fn get(&self, span: &Option<Span>) -> Option<&str> {
        span.clone().map(|s| &self.text[s])
    }

    fn len(&self) -> usize {
        self.rows.len()
    }
}

/// A campaign as lists show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CampaignSummary {
    pub name: String,
    pub source_file: String,
    pub state: CampaignState,
    pub state_reason: Option<String>,
    pub rows: u64,
    pub created_at_ms: i64,
}

/// Rows written per transaction, so an import never holds the writer for long.
const CHUNK_ROWS: usize = 5_000;

/// A campaign being imported. Its rows take the ids `first_row..` in file order, so the
/// n-th row pushed is `first_row + n`. Until [`Import::finish`] commits, the campaign is
/// `importing`: invisible to every other stage, and discarded if the process dies.
///
/// Rows are written in chunks by a thread of the import's own, so reading the file and
/// writing the rows overlap.
pub struct Import<'s> {
    store: &'s Store,
    campaign: i64,
    first_row: i64,
    pushed: u64,
    chunk: Chunk,
    writer: Option<Writer>,
}

struct Writer {
    chunks: std::sync::mpsc::SyncSender<Chunk>,
    thread: std::thread::JoinHandle<Result<(), StoreError>>,
}

impl Writer {
    fn start(store: Store, campaign: i64, first_row: i64) -> Writer {
        let (chunks, arriving) = std::sync::mpsc::sync_channel::<Chunk>(2);
        let thread = std::thread::spawn(move || {
            let mut next = first_row;
            for chunk in arriving {
                write_rows(&store, campaign, next, &chunk)?;
                next += chunk.len() as i64;
            }
            Ok(())
        });
        Writer { chunks, thread }
    }

    /// Waits for every chunk sent to be written.
    fn finish(self) -> Result<(), StoreError> {
        drop(self.chunks);
        self.thread
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }
}

impl Store {
    /// Commits the campaign as `importing` and returns the writer for its rows. Its
    /// content hash is set when it is accepted: a workbook's is known only once read.
    pub fn begin_import(&self, c: &NewCampaign<'_>) -> Result<Import<'_>, StoreError> {
        let (campaign, first_row) = self.write("begin an import", |tx| {
            let first_row = next_row_id(tx)?;
            tx.execute(
                "INSERT INTO campaigns (name, file_hash, settings, template, header, encoding,
                     delimiter, first_row, state, created_at, updated_at, source_file)
                 VALUES (?1, '', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10)",
                params![
                    c.name,
                    c.settings,
                    c.template,
                    c.header,
                    c.encoding,
                    c.delimiter,
                    first_row,
                    CampaignState::Importing.as_str(),
                    c.now_ms,
                    c.source_file
                ],
            )?;
            Ok((tx.last_insert_rowid(), first_row))
        })?;
        self.set_importing(true)?;
        Ok(Import {
            store: self,
            campaign,
            first_row,
            pushed: 0,
            chunk: Chunk::with_capacity(CHUNK_ROWS),
            writer: Some(Writer::start(self.clone(), campaign, first_row)),
        })
    }

    /// Deletes every campaign left `importing` by a process that died, with its rows;
    /// returns their names. Their files are still in the inbox and will be read again.
    pub fn discard_unfinished_imports(&self) -> Result<Vec<String>, StoreError> {
        self.write("discard unfinished imports", |tx| {
            let unfinished: Vec<(i64, i64, String)> = tx
                .prepare("SELECT id, first_row, name FROM campaigns WHERE state = ?1")?
                .query_map([CampaignState::Importing.as_str()], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?
                .collect::<Result<_, _>>()?;
            for (id, first_row, _) in &unfinished {
                delete_campaign(tx, *id, *first_row)?;
            }
            Ok(unfinished.into_iter().map(|(_, _, name)| name).collect())
        })
    }

    /// The accepted campaigns whose files are not yet in `active/` (a stop or a failure
    /// came between the commit and the move), oldest first.
    pub fn campaigns_awaiting_move(&self) -> Result<Vec<CampaignSummary>, StoreError> {
        self.read("list campaigns whose files were not moved", |tx| {
            let mut statement = tx.prepare(&format!(
                "{SUMMARY} WHERE state != ?1 AND moved_at IS NULL ORDER BY id"
            ))?;
            let rows = statement.query_map([CampaignState::Importing.as_str()], summary)?;
            rows.collect()
        })
    }

    /// Notes that the campaign's files are in `active/`.
    pub fn mark_moved(&self, name: &str, now_ms: i64) -> Result<(), StoreError> {
        self.write("mark a campaign's files moved", |tx| {
            tx.execute(
                "UPDATE campaigns SET moved_at = ?2 WHERE name = ?1",
                params![name, now_ms],
            )
            .map(drop)
        })
    }

    /// The campaigns whose import is under way (or was cut off by a crash).
    pub fn unfinished_imports(&self) -> Result<Vec<String>, StoreError> {
        self.read("list unfinished imports", |tx| {
            let mut statement =
                tx.prepare("SELECT name FROM campaigns WHERE state = ?1 ORDER BY id")?;
            let names = statement.query_map([CampaignState::Importing.as_str()], |r| r.get(0))?;
            names.collect()
        })
    }

    /// The accepted campaigns whose file had this content hash, oldest first.
    pub fn campaigns_with_hash(&self, file_hash: &str) -> Result<Vec<CampaignSummary>, StoreError> {
        self.read("look up a file's content hash", |tx| {
            let mut statement = tx.prepare(&format!(
                "{SUMMARY} WHERE file_hash = ?1 AND state != ?2 ORDER BY id"
            ))?;
            let rows = statement.query_map(
                params![file_hash, CampaignState::Importing.as_str()],
                summary,
            )?;
            rows.collect()
        })
    }

    /// Returns true if and only if a campaign (of any state) has this name.
    pub fn campaign_name_taken(&self, name: &str) -> Result<bool, StoreError> {
        self.read("look up a campaign name", |tx| {
            tx.query_row(
                "SELECT 1 FROM campaigns WHERE name = ?1",
                [name],
                |_| Ok(()),
            )
            .optional()
            .map(|found| found.is_some())
        })
    }

    /// Every campaign past its import, oldest first.
    pub fn campaigns(&self) -> Result<Vec<CampaignSummary>, StoreError> {
        self.read("list the campaigns", |tx| {
            let mut statement = tx.prepare(&format!("{SUMMARY} WHERE state != ?1 ORDER BY id"))?;
            let rows = statement.query_map([CampaignState::Importing.as_str()], summary)?;
            rows.collect()
        })
    }

    /// How many of the campaign's rows are in each state.
    pub fn row_counts(&self, name: &str) -> Result<BTreeMap<RowState, u64>, StoreError> {
        self.read("count a campaign's rows", |tx| {
            let mut statement = tx.prepare(
                "SELECT rows.state, count(*) FROM campaigns
                 JOIN rows ON rows.id BETWEEN campaigns.first_row
                     AND campaigns.first_row + campaigns.row_count - 1
                 WHERE campaigns.name = ?1 AND rows.campaign = campaigns.id
                 GROUP BY rows.state",
            )?;
            let counts = statement.query_map([name], |r| {
                Ok((parse_state(r.get_ref(0)?.as_str()?)?, r.get(1)?))
            })?;
            counts.collect()
        })
    }
}

const SUMMARY: &str =
    "SELECT name, source_file, state, state_reason, row_count, created_at FROM campaigns";

fn summary(r: &rusqlite::Row<'_>) -> rusqlite::Result<CampaignSummary> {
    Ok(CampaignSummary {
        name: r.get(0)?,
        source_file: r.get(1)?,
        state: parse_state(r.get_ref(2)?.as_str()?)?,
        state_reason: r.get(3)?,
        rows: r.get(4)?,
        created_at_ms: r.get(5)?,
    })
}

pub(super) fn parse_state<T: std::str::FromStr<Err = String>>(text: &str) -> rusqlite::Result<T> {
    text.parse().map_err(|e: String| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
    })
}

fn delete_campaign(
    tx: &rusqlite::Transaction<'_>,
    id: i64,
    first_row: i64,
) -> rusqlite::Result<()> {
    tx.execute(
        "DELETE FROM row_fields
         WHERE row IN (SELECT id FROM rows WHERE id >= ?1 AND campaign = ?2)",
        params![first_row, id],
    )?;
    tx.execute(
        "DELETE FROM rows WHERE id >= ?1 AND campaign = ?2",
        params![first_row, id],
    )?;
    tx.execute("DELETE FROM campaigns WHERE id = ?1", [id])?;
    Ok(())
}

fn write_rows(store: &Store, campaign: i64, first: i64, chunk: &Chunk) -> Result<(), StoreError> {
    store.write_durably("write an import's rows", |tx| {
        let mut insert = tx.prepare_cached(
            "INSERT INTO rows (id, campaign, line, callee, caller, cycle_play_times, state,
                 reason, detail)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        let mut fields =
            tx.prepare_cached("INSERT INTO row_fields (row, fields) VALUES (?1, ?2)")?;
        for (n, row) in chunk.rows.iter().enumerate() {
            let id = first + n as i64;
            insert.execute(params![
                id,
                campaign,
                row.line,
                chunk.get(&row.callee),
                chunk.get(&row.caller),
                row.cycle_play_times,
                row.state.as_str(),
                row.reason.map(SkipReason::as_str),
                chunk.get(&row.detail)
            ])?;
            fields.execute(params![id, &chunk.text[row.fields.clone()]])?;
        }
        Ok(())
    })
}

impl Import<'_> {
    /// Adds the next row. Rows are written in chunks; none is visible to other stages
    /// before [`Import::finish`].
    pub fn push(&mut self, row: &ImportRow<'_>) -> Result<(), StoreError> {
        self.chunk.add(row);
        self.pushed += 1;
        if self.chunk.len() == CHUNK_ROWS {
            self.send_chunk()?;
        }
        Ok(())
    }

    fn send_chunk(&mut self) -> Result<(), StoreError> {
        let chunk = std::mem::replace(&mut self.chunk, Chunk::with_capacity(CHUNK_ROWS));
        let writer = self
            .writer
            .as_ref()
            .expect("the writer runs until finish or abandon");
        if writer.chunks.send(chunk).is_err() {
            // The writer stopped: its error says why.
            let writer = self.writer.take().expect("checked");
            writer.finish()?;
        }
        Ok(())
    }

    /// Writes the last rows, marks the rows pushed `n`-th (counting from 0) as skipped
    /// with their reason and detail, and makes the campaign `running` with its content
    /// hash: the one commit that accepts it.
    pub fn finish(
        mut self,
        skips: &[(u64, SkipReason, String)],
        file_hash: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.send_chunk()?;
        if let Some(writer) = self.writer.take() {
            writer.finish()?;
        }
        let (campaign, first_row, rows) = (self.campaign, self.first_row, self.pushed);
        let accepted = self.store.write_durably("accept an import", |tx| {
            let mut skip =
                tx.prepare("UPDATE rows SET state = ?2, reason = ?3, detail = ?4 WHERE id = ?1")?;
            for (n, reason, detail) in skips {
                skip.execute(params![
                    first_row + *n as i64,
                    RowState::Skipped.as_str(),
                    reason.as_str(),
                    detail
                ])?;
            }
            raise_row_floor(tx, first_row + rows as i64)?;
            tx.execute(
                "UPDATE campaigns SET state = ?2, row_count = ?3, updated_at = ?4, file_hash = ?5
                 WHERE id = ?1",
                params![
                    campaign,
                    CampaignState::Running.as_str(),
                    rows,
                    now_ms,
                    file_hash
                ],
            )?;
            Ok(())
        });
        self.resume_checkpoints();
        if accepted.is_ok() {
            self.store.accepted.send_replace(());
        }
        accepted
    }

    /// Sets the writer back from the import (automatic checkpoints, the full page cache)
    /// and checkpoints what the import wrote, on a thread of its own.
    fn resume_checkpoints(&self) {
        if let Err(error) = self.store.set_importing(false) {
            tracing::warn!(%error, "Cannot set the writer back from the import.");
        }
        let store = self.store.clone();
        std::thread::spawn(move || {
            if let Err(error) = store.checkpoint(super::Checkpoint::Passive) {
                tracing::warn!(%error, "The checkpoint after an import failed; the next commit retries it.");
            }
        });
    }

    /// Deletes what was written: the campaign was not accepted after all.
    pub fn abandon(mut self) -> Result<(), StoreError> {
        if let Some(writer) = self.writer.take() {
            // Whatever it managed to write is deleted below.
            let _ = writer.finish();
        }
        self.resume_checkpoints();
        let (campaign, first_row) = (self.campaign, self.first_row);
        self.store.write("delete an abandoned import", |tx| {
            delete_campaign(tx, campaign, first_row)
        })
    }
}

impl Drop for Import<'_> {
    /// An import dropped half-way waits for its writer; the campaign stays `importing`
    /// until the next start discards it.
    fn drop(&mut self) {
        if let Some(writer) = self.writer.take() {
            let _ = writer.finish();
            self.resume_checkpoints();
        }
    }
}

/// The id the next imported row takes: past every row in the store and past the floor,
/// which never goes down, so no row ever takes the id (and with it the `userData`) of a
/// row that is gone, whose calls the vendor may still have records of.
pub(super) fn next_row_id(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<i64> {
    tx.query_row(
        "SELECT max(coalesce((SELECT max(id) FROM rows), 0) + 1,
                    coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key = ?1), 1))",
        [ROW_FLOOR],
        |r| r.get(0),
    )
}

/// The meta key of the lowest id a new row may take.
const ROW_FLOOR: &str = "row_floor";

/// Raises the floor of new rows' ids to `floor`, unless it is already higher.
pub(super) fn raise_row_floor(tx: &rusqlite::Transaction<'_>, floor: i64) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE
             SET value = max(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER))",
        params![ROW_FLOOR, floor],
    )
    .map(drop)
}
