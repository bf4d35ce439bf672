//! Adoption and restores (PRODUCT.md section 9). A store restored from a copy has
//! forgotten the calls placed after the copy was taken; their call records still name
//! its rows. Such a record is adopted: it becomes its row's attempt and is applied as any
//! record is, so the call counts toward the row's attempts and its number's caps, and the
//! row is not dialled again for it. A record naming a row the store does not know is kept
//! as an orphan. A restore gives the store a new instance id, so its new calls never
//! share a `userData` with a forgotten one; records of the instances it had before are
//! still its own for the rows the copy knew.

use rusqlite::{OptionalExtension, Transaction, params};

use super::campaigns::raise_row_floor;
use super::dispatch::user_data_parts;
use super::records::{Rules, settle_row};
use super::{Applied, Settlement, Store, StoreError};
use crate::domain::{AttemptState, RecordClass};

/// The meta keys of a restore: when `voicecast restore` put the copy in place, the
/// instances the store had before (`INSTANCE:FLOOR` each, FLOOR the first row id the
/// copy did not know), and, once the first start after it began the hold, when the hold
/// ends and the store's newest activity it adopts records from.
const RESTORED_AT: &str = "restored_at";
pub(super) const FORMER_INSTANCES: &str = "former_instances";
const HOLD_UNTIL: &str = "restore_hold_until";
const ADOPT_SINCE: &str = "restore_adopt_since";

/// The hold on dialling after a restore.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RestoreHold {
    /// When `voicecast restore` put the copy in place (milliseconds since the epoch).
    pub restored_at_ms: i64,
    /// The newest activity the copy knew: records of calls since then (less a margin)
    /// are adopted.
    pub since_ms: Option<i64>,
    /// When dialling may begin.
    pub until_ms: i64,
}

/// Whose `userData` a record carries: this store's instance, or one it had before a
/// restore (with the first row id the copy did not know).
pub(super) struct Ours {
    current: Option<String>,
    former: Vec<(String, i64)>,
}

/// What a record of ours names.
struct Named {
    row: i64,
    attempt: i64,
    /// Whether the row is one this store may have: any row of its current instance, and
    /// the rows a former instance's copy knew.
    may_be_known: bool,
}

impl Ours {
    pub(super) fn load(tx: &Transaction<'_>) -> rusqlite::Result<Ours> {
        let current = meta(tx, "instance")?;
        let former = meta(tx, FORMER_INSTANCES)?
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|entry| {
                let (instance, floor) = entry.split_once(':')?;
                Some((instance.to_string(), floor.parse().ok()?))
            })
            .collect();
        Ok(Ours { current, former })
    }

    fn names(&self, user_data: &str) -> Option<Named> {
        let (instance, row, attempt) = user_data_parts(user_data)?;
        let may_be_known = if self.current.as_deref() == Some(instance) {
            true
        } else {
            let (_, floor) = self.former.iter().find(|(former, _)| former == instance)?;
            row < *floor
        };
        Some(Named {
            row,
            attempt,
            may_be_known,
        })
    }
}

/// Applies a record of a call the store has no attempt for, when its `userData` is
/// ours: the row-id floor rises past the row it names; a row the store does not know
/// keeps the record as an orphan; a row whose attempts have gone past the record's
/// counts the call; any other row takes it as a new attempt, settled by the record, and
/// moves on as the record says. A record of another system's call changes nothing.
pub(super) fn adopt(
    tx: &Transaction<'_>,
    record: &Settlement,
    ours: &Ours,
    rules: &Rules<'_>,
    applied: &mut Applied,
) -> rusqlite::Result<()> {
    let Some(user_data) = &record.user_data else {
        return Ok(());
    };
    let Some(named) = ours.names(user_data) else {
        return Ok(());
    };
    raise_row_floor(tx, named.row + 1)?;
    let row: Option<(i64, String)> = if named.may_be_known {
        tx.prepare_cached("SELECT tries, callee FROM rows WHERE id = ?1")?
            .query_row([named.row], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?
    } else {
        None
    };
    let Some((tries, callee)) = row else {
        keep_orphan(tx, record, user_data, rules.now_ms)?;
        applied.orphans.push(user_data.clone());
        return Ok(());
    };
    applied.adopted += 1;
    if named.attempt <= tries {
        // Older than the row's latest attempt (a push came before the list brought this
        // one): the call happened, so it counts on the row; the latest attempt decides
        // the row. Kept like an orphan, so that it counts once.
        keep_orphan(tx, record, user_data, rules.now_ms)?;
        if let RecordClass::Outcome { .. } = record.class {
            tx.prepare_cached("UPDATE rows SET attempts = attempts + 1 WHERE id = ?1")?
                .execute([named.row])?;
        }
        return Ok(());
    }
    let attempt: i64 = tx.query_row("SELECT coalesce(max(id), 0) + 1 FROM attempts", [], |r| {
        r.get(0)
    })?;
    let started = record.start_ms.unwrap_or(rules.now_ms);
    let state = match record.fee {
        Some(_) => AttemptState::Settled,
        None => AttemptState::Pushed,
    };
    tx.prepare_cached(
        "INSERT INTO attempts (id, row, seq, user_data, written_at, sent_at, state, session,
                               settled_at)
         VALUES (?1, ?2, ?1, ?3, ?4, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        attempt,
        named.row,
        user_data,
        started,
        state.as_str(),
        record.session,
        rules.now_ms
    ])?;
    // The call counts for its number from when it started: the vendor saw it then.
    tx.prepare_cached("INSERT INTO number_calls (attempt, callee, at) VALUES (?1, ?2, ?3)")?
        .execute(params![attempt, callee, started])?;
    tx.prepare_cached("UPDATE rows SET tries = ?2 WHERE id = ?1")?
        .execute(params![named.row, named.attempt])?;
    applied.settled += 1;
    settle_row(tx, record, (attempt, named.row, false), rules, applied)
}

/// Keeps a record no row takes, once by its `session`.
fn keep_orphan(
    tx: &Transaction<'_>,
    record: &Settlement,
    user_data: &str,
    now_ms: i64,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO orphan_records (session, user_data, callee, start_ms, cause, end_time,
                                     talk_secs, fee, seen_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT DO NOTHING",
    )?
    .execute(params![
        record.session,
        user_data,
        record.callee,
        record.start_ms,
        record.cause,
        record.end_time,
        record.talk_secs.map(|s| s as i64),
        record.fee,
        now_ms
    ])
    .map(drop)
}

/// Returns true if and only if a record of `session` was kept as an orphan before.
pub(super) fn kept_as_orphan(tx: &Transaction<'_>, session: &str) -> rusqlite::Result<bool> {
    tx.prepare_cached("SELECT 1 FROM orphan_records WHERE session = ?1")?
        .query_row([session], |_| Ok(()))
        .optional()
        .map(|found| found.is_some())
}

fn meta(tx: &Transaction<'_>, key: &str) -> rusqlite::Result<Option<String>> {
    tx.prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()
}

fn set_meta(tx: &Transaction<'_>, key: &str, value: &str) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [key, value],
    )
    .map(drop)
}

impl Store {
    /// Marks this store (a copy about to replace the store) restored at `now_ms`: it
    /// takes a new instance id, keeps the old one with the first row id it does not
    /// know, and the next start holds dialling (see [`Store::begin_restore_hold`]).
    pub fn mark_restored(&self, now_ms: i64) -> Result<(), StoreError> {
        self.write("mark the store restored", |tx| {
            if let Some(instance) = meta(tx, "instance")? {
                let floor = super::campaigns::next_row_id(tx)?;
                let former = meta(tx, FORMER_INSTANCES)?.unwrap_or_default();
                let former = format!("{former} {instance}:{floor}");
                set_meta(tx, FORMER_INSTANCES, former.trim())?;
                tx.execute("DELETE FROM meta WHERE key = 'instance'", [])?;
            }
            set_meta(tx, RESTORED_AT, &now_ms.to_string())?;
            tx.execute(
                "DELETE FROM meta WHERE key IN (?1, ?2)",
                [HOLD_UNTIL, ADOPT_SINCE],
            )?;
            Ok(())
        })
    }

    /// At the first start after a restore, begins its hold: dialling waits until
    /// `now_ms + hold_ms` while records since the copy's newest activity are adopted.
    /// Returns the hold (the one begun before, at a later start) if it has time left.
    pub fn begin_restore_hold(
        &self,
        now_ms: i64,
        hold_ms: i64,
    ) -> Result<Option<RestoreHold>, StoreError> {
        self.write("begin the hold after a restore", |tx| {
            if meta(tx, RESTORED_AT)?.is_some() && meta(tx, HOLD_UNTIL)?.is_none() {
                set_meta(tx, HOLD_UNTIL, &(now_ms + hold_ms).to_string())?;
                if let Some(since) = newest_activity(tx)? {
                    set_meta(tx, ADOPT_SINCE, &since.to_string())?;
                }
            }
            Ok(())
        })?;
        Ok(self.restore_hold()?.filter(|hold| hold.until_ms > now_ms))
    }

    /// The hold after the last restore, once a start has begun it.
    pub fn restore_hold(&self) -> Result<Option<RestoreHold>, StoreError> {
        self.read("read the hold after a restore", |tx| {
            let number = |key| -> rusqlite::Result<Option<i64>> {
                Ok(meta(tx, key)?.and_then(|v| v.parse().ok()))
            };
            let (Some(restored_at_ms), Some(until_ms)) =
                (number(RESTORED_AT)?, number(HOLD_UNTIL)?)
            else {
                return Ok(None);
            };
            Ok(Some(RestoreHold {
                restored_at_ms,
                since_ms: number(ADOPT_SINCE)?,
                until_ms,
            }))
        })
    }

    /// The newest thing the store knows to have happened: its latest call written
    /// ahead, or its latest change of a campaign. Records of calls since then (less a
    /// margin) are the ones a start adopts.
    pub fn newest_activity(&self) -> Result<Option<i64>, StoreError> {
        self.read("read the store's newest activity", newest_activity)
    }
}

fn newest_activity(tx: &Transaction<'_>) -> rusqlite::Result<Option<i64>> {
    tx.query_row(
        "SELECT max(coalesce((SELECT written_at FROM attempts ORDER BY id DESC LIMIT 1), 0),
                    coalesce((SELECT max(updated_at) FROM campaigns), 0))",
        [],
        |r| r.get::<_, i64>(0),
    )
    .map(|newest| (newest > 0).then_some(newest))
}
