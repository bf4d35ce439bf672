//! Retention (PRODUCT.md section 9): an ended campaign's rows, attempts, fields and
//! counted calls removed in small transactions, its figures kept first; and the pages
//! they took given back to the file system, a few at a time. Each transaction holds the
//! writer for a few milliseconds, so a write-ahead never waits long behind one.

use std::time::{Duration, Instant};

use rusqlite::params;

use super::reports::{KeptFigures, facts_of};
use super::{Checkpoint, Store, StoreError};

/// The rows one purge transaction removes, with their fields, attempts and counted calls,
/// and the free pages one step gives back to the file system (16 KiB each): each takes
/// about a millisecond of the writer's time (`cargo bench --bench maintenance` measures the
/// waits it causes).
const PURGE_ROWS: i64 = 100;
const VACUUM_PAGES: u32 = 8;

/// How many of retention's transactions go by between two checkpoints of its own.
const CHECKPOINT_EVERY: u32 = 10;

/// A campaign whose rows retention removes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expired {
    pub id: i64,
    pub name: String,
}

impl Store {
    /// The campaigns that ended (finished, or cancelled with their calls settled) before
    /// `ended_before_ms` and still have their rows, or some of them: oldest first.
    pub fn expired_campaigns(&self, ended_before_ms: i64) -> Result<Vec<Expired>, StoreError> {
        self.read("read the campaigns past their keep time", |tx| {
            tx.prepare(
                "SELECT id, name FROM campaigns
                 WHERE finished_at < ?1 AND archived_at IS NULL
                   AND state IN ('finished', 'cancelled')
                 ORDER BY id",
            )?
            .query_map([ended_before_ms], |r| {
                Ok(Expired {
                    id: r.get(0)?,
                    name: r.get(1)?,
                })
            })?
            .collect()
        })
    }

    /// Archives campaign `id`: keeps its figures, then removes its rows, [`PURGE_ROWS`]
    /// a transaction, and marks it archived at `now_ms`. After each transaction,
    /// `pause` is told how long it held the writer and says whether to go on; when it
    /// says no, this returns `false` and the next call goes on where this one stopped.
    pub fn archive(
        &self,
        id: i64,
        now_ms: i64,
        mut pause: impl FnMut(Duration) -> bool,
    ) -> Result<bool, StoreError> {
        let (first, count, kept): (i64, i64, bool) =
            self.read("read a campaign to archive", |tx| {
                tx.query_row(
                    "SELECT first_row, row_count, archived_figures IS NOT NULL
                     FROM campaigns WHERE id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
            })?;
        if !kept {
            // Summed on the reader: an ended campaign's rows no longer change, and a
            // million of them take a while to read.
            let facts = self.read("sum an ended campaign's rows", |tx| facts_of(tx, id))?;
            let figures =
                serde_json::to_string(&KeptFigures::of(&facts)).expect("figures serialize to JSON");
            self.write("keep an ended campaign's figures", |tx| {
                tx.execute(
                    "UPDATE campaigns SET archived_figures = ?2
                     WHERE id = ?1 AND archived_figures IS NULL",
                    params![id, figures],
                )
                .map(drop)
            })?;
        }
        let last = first + count - 1;
        let (mut from, mut transactions) = (first, 0);
        while from <= last {
            let to = (from + PURGE_ROWS - 1).min(last);
            let started = Instant::now();
            // Synced at its own commit, so a write-ahead's sync, which follows, carries
            // no page of the purge to the disk.
            self.write_durably("remove an ended campaign's rows", |tx| {
                for sql in [
                    "DELETE FROM number_calls
                     WHERE attempt IN (SELECT id FROM attempts WHERE row BETWEEN ?1 AND ?2)",
                    "DELETE FROM attempts WHERE row BETWEEN ?1 AND ?2",
                    "DELETE FROM row_fields WHERE row BETWEEN ?1 AND ?2",
                    "DELETE FROM rows WHERE id BETWEEN ?1 AND ?2",
                ] {
                    tx.prepare_cached(sql)?.execute([from, to])?;
                }
                Ok(())
            })?;
            from = to + 1;
            if !self.between(&mut transactions, started.elapsed(), &mut pause)? {
                return Ok(false);
            }
        }
        self.write("mark a campaign archived", |tx| {
            tx.execute(
                "UPDATE campaigns SET archived_at = ?2, updated_at = ?2 WHERE id = ?1",
                params![id, now_ms],
            )
            .map(drop)
        })?;
        Ok(true)
    }

    /// The archived campaigns that ended before `ended_before_ms`: their names.
    pub fn archived_campaigns(&self, ended_before_ms: i64) -> Result<Vec<String>, StoreError> {
        self.read("read the archived campaigns", |tx| {
            tx.prepare(
                "SELECT name FROM campaigns
                 WHERE archived_at IS NOT NULL AND finished_at < ?1 ORDER BY id",
            )?
            .query_map([ended_before_ms], |r| r.get(0))?
            .collect()
        })
    }

    /// Gives the store's free pages back to the file system, [`VACUUM_PAGES`] a
    /// transaction, with `pause` between them as for [`Store::archive`]; returns the
    /// pages given back. A store made before voicecast did this (whose `auto_vacuum` is
    /// off) reuses its free pages instead; the README says how to compact one.
    pub fn give_back_space(
        &self,
        mut pause: impl FnMut(Duration) -> bool,
    ) -> Result<u64, StoreError> {
        const INCREMENTAL: i64 = 2;
        let mode: i64 = self.read("read the store's vacuum mode", |tx| {
            tx.query_row("PRAGMA auto_vacuum", [], |r| r.get(0))
        })?;
        if mode != INCREMENTAL {
            return Ok(0);
        }
        let free_pages = || {
            self.read("count the store's free pages", |tx| {
                tx.query_row("PRAGMA freelist_count", [], |r| r.get::<_, u64>(0))
            })
        };
        let (mut given, mut free, mut transactions) = (0, free_pages()?, 0);
        while free > 0 {
            let started = Instant::now();
            self.write("give free pages back to the file system", |tx| {
                // Each step of the statement gives one page back.
                let mut statement =
                    tx.prepare(&format!("PRAGMA incremental_vacuum({VACUUM_PAGES})"))?;
                let mut steps = statement.query([])?;
                while steps.next()?.is_some() {}
                Ok(())
            })?;
            let went_on = self.between(&mut transactions, started.elapsed(), &mut pause)?;
            let left = free_pages()?;
            given += free.saturating_sub(left);
            free = left;
            if !went_on {
                break;
            }
        }
        Ok(given)
    }

    /// What comes after the `transactions`-th of retention's transactions, which took
    /// `took`: every [`CHECKPOINT_EVERY`] transactions, the write-ahead log is copied
    /// into the database on a connection of its own, which holds no write up, so that
    /// no commit (a write-ahead's least of all) finds the log full and copies it while
    /// it holds the writer; then `pause`, which says whether to go on.
    fn between(
        &self,
        transactions: &mut u32,
        took: Duration,
        pause: &mut impl FnMut(Duration) -> bool,
    ) -> Result<bool, StoreError> {
        *transactions += 1;
        if *transactions % CHECKPOINT_EVERY == 0 {
            self.checkpoint(Checkpoint::Passive)?;
        }
        Ok(pause(took))
    }
}
