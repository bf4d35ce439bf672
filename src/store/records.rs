//! What reconcile reads and writes: call records applied to their attempts and rows
//! (each record once, by its `session`), the attempts still waiting for one, and the
//! getCdrList cursor.

use rusqlite::{OptionalExtension, params};

use super::adoption::{self, Ours};
use super::dispatch::{row_named_by, user_data_parts};
use super::schema::OPEN_ATTEMPT;
use super::{Store, StoreError};
use callcenter_openapi::causes::Refusal;

use crate::domain::{
    AttemptState, CalleeRefusals, RecordClass, RetryPolicy, RowState, RowVerdict, verdict,
};

/// A call record, reduced to what settles its attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settlement {
    pub user_data: Option<String>,
    pub session: String,
    pub callee: String,
    /// When the call started, milliseconds since the epoch (for records without
    /// `userData`, matched by callee and time).
    pub start_ms: Option<i64>,
    pub class: RecordClass,
    pub cause: Option<u32>,
    /// RFC 3339 timestamps.
    pub answer_time: Option<String>,
    pub end_time: Option<String>,
    pub talk_secs: Option<u64>,
    /// Exact yuan; pushes carry none (the list does).
    pub fee: Option<String>,
    pub recording: Option<String>,
}

/// What applying a batch of records did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// Records that settled an attempt.
    pub settled: usize,
    /// Records applied before (by `session`).
    pub repeated: usize,
    /// Account-level causes seen.
    pub halts: Vec<u32>,
    /// Concurrency causes seen, and refusals of the caller's frequency (410).
    pub slowdowns: Vec<u32>,
    /// Whether a record said the call came outside the vendor's service hours (429).
    pub outside_service_hours: bool,
    /// Records of calls the store had no attempt for, taken by their rows (see
    /// [`adoption`]).
    pub adopted: usize,
    /// The `userData` of records naming rows the store does not know, kept as orphans.
    pub orphans: Vec<String>,
}

/// An attempt still waiting for its record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenAttempt {
    pub id: i64,
    pub user_data: String,
    pub accepted: bool,
    /// When it was written ahead (milliseconds since the epoch).
    pub written_at: i64,
}

/// How far back a record without `userData` may have started before its attempt was
/// written, and how long after.
const MATCH_BEFORE_MS: i64 = 120_000;
const MATCH_AFTER_MS: i64 = 600_000;

impl Store {
    /// Applies call records in one transaction. A record settles the attempt its
    /// `userData` names (or, without one, the open attempt for its callee closest before
    /// it) and, when that attempt is its row's latest, the row, as [`verdict`] decides
    /// under `policy` of the row's campaign: an outcome, or `pending` again for a retry,
    /// or back to `pending` uncounted for an account-level or concurrency cause or a
    /// refusal (after `callee_refusal_wait_ms` for the callee's frequency). A `session`
    /// already applied changes nothing but a missing fee.
    pub fn apply_records(
        &self,
        records: &[Settlement],
        policy: &dyn Fn(i64) -> Option<RetryPolicy>,
        callee_refusal_wait_ms: i64,
        now_ms: i64,
    ) -> Result<Applied, StoreError> {
        self.write("apply call records", |tx| {
            let mut applied = Applied::default();
            let rules = Rules {
                policy,
                callee_refusal_wait_ms,
                now_ms,
            };
            let ours = Ours::load(tx)?;
            // A row's records in the order of its attempts, so that records of attempts
            // the store forgot are adopted oldest first (a page lists in any order).
            let mut in_order: Vec<&Settlement> = records.iter().collect();
            in_order.sort_by_key(|r| {
                r.user_data
                    .as_deref()
                    .and_then(user_data_parts)
                    .map(|(_, _, attempt)| attempt)
            });
            for record in in_order {
                apply_one(tx, record, &ours, &rules, &mut applied)?;
            }
            Ok(applied)
        })
    }

    /// When the oldest attempt still waiting for the list was written ahead (its request
    /// left then or later): open, or settled by a push that carried no fee. Where the
    /// getCdrList window must start.
    pub fn oldest_open_written_at(&self) -> Result<Option<i64>, StoreError> {
        self.read("read the oldest open attempt", |tx| {
            let open: Option<i64> = tx.query_row(
                &format!("SELECT min(written_at) FROM attempts WHERE {OPEN_ATTEMPT}"),
                [],
                |r| r.get(0),
            )?;
            let pushed: Option<i64> = tx.query_row(
                "SELECT min(written_at) FROM attempts WHERE state = 'pushed'",
                [],
                |r| r.get(0),
            )?;
            Ok(open.into_iter().chain(pushed).min())
        })
    }

    /// Stops waiting for the fee of attempts a push settled that were written ahead before
    /// `written_before_ms`: the list never brought their record. Returns how many.
    pub fn stop_waiting_for_fees(&self, written_before_ms: i64) -> Result<usize, StoreError> {
        self.write("stop waiting for fees", |tx| {
            tx.execute(
                "UPDATE attempts SET state = 'settled'
                 WHERE state = 'pushed' AND written_at < ?1",
                [written_before_ms],
            )
        })
    }

    /// Attempts in `state` (accepted or unknown) written ahead before `written_before_ms`
    /// and not looked up since `looked_before_ms`, oldest first.
    pub fn attempts_waiting(
        &self,
        state: AttemptState,
        written_before_ms: i64,
        looked_before_ms: i64,
        limit: usize,
    ) -> Result<Vec<OpenAttempt>, StoreError> {
        self.read("read the attempts waiting for a record", |tx| {
            let mut statement = tx.prepare_cached(&format!(
                "SELECT id, user_data, state = 'accepted', written_at FROM attempts
                 WHERE {OPEN_ATTEMPT} AND state = ?1
                   AND written_at < ?2 AND coalesce(looked_up_at, 0) < ?3
                 ORDER BY written_at LIMIT ?4"
            ))?;
            let rows = statement.query_map(
                params![
                    state.as_str(),
                    written_before_ms,
                    looked_before_ms,
                    limit as i64
                ],
                |r| {
                    Ok(OpenAttempt {
                        id: r.get(0)?,
                        user_data: r.get(1)?,
                        accepted: r.get(2)?,
                        written_at: r.get(3)?,
                    })
                },
            )?;
            rows.collect()
        })
    }

    pub fn mark_looked_up(&self, attempt: i64, now_ms: i64) -> Result<(), StoreError> {
        self.write("mark an attempt looked up", |tx| {
            tx.execute(
                "UPDATE attempts SET looked_up_at = ?2 WHERE id = ?1",
                params![attempt, now_ms],
            )
            .map(drop)
        })
    }

    /// Gives up waiting for attempts' records, in one transaction: each attempt is
    /// `expired`, and its row, if this is its latest attempt, becomes the row state given
    /// (`pending` again, uncounted, or `unresolved`) with its detail. An attempt a record
    /// settled meanwhile is left alone. Returns the attempts expired.
    pub fn expire_attempts(
        &self,
        attempts: &[(i64, RowState, String)],
        now_ms: i64,
    ) -> Result<Vec<i64>, StoreError> {
        self.write("give up on attempts' records", |tx| {
            let mut attempt = tx.prepare_cached(
                "UPDATE attempts SET state = 'expired', settled_at = ?2
                 WHERE id = ?1 AND state IN ('accepted', 'unknown')
                 RETURNING row",
            )?;
            let mut row = tx.prepare_cached(
                "UPDATE rows SET state = ?2, detail = ?3, due_at = ?4
                 WHERE id = ?1 AND state IN ('accepted', 'unknown')
                   AND (SELECT max(id) FROM attempts WHERE attempts.row = rows.id) = ?5",
            )?;
            let mut expired = Vec::new();
            for (id, row_state, detail) in attempts {
                let Some(row_id) = attempt
                    .query_row(params![id, now_ms], |r| r.get::<_, i64>(0))
                    .optional()?
                else {
                    continue;
                };
                row.execute(params![row_id, row_state.as_str(), detail, now_ms, id])?;
                expired.push(*id);
            }
            Ok(expired)
        })
    }

    /// The getCdrList cursor: the next `startKey`.
    pub fn cdr_cursor(&self) -> Result<Option<String>, StoreError> {
        self.meta("cdr_start_key")
    }

    pub fn set_cdr_cursor(&self, key: &str) -> Result<(), StoreError> {
        self.set_meta("cdr_start_key", key)
    }
}

/// What a record's row becomes by: its campaign's retry policy, how long a refusal of the
/// callee's frequency sends it back for, and the time.
pub(super) struct Rules<'a> {
    policy: &'a dyn Fn(i64) -> Option<RetryPolicy>,
    callee_refusal_wait_ms: i64,
    pub(super) now_ms: i64,
}

/// Applies one record: once per `session`, to the attempt it names, and to that
/// attempt's row when it is the row's latest.
fn apply_one(
    tx: &rusqlite::Transaction<'_>,
    record: &Settlement,
    ours: &Ours,
    rules: &Rules<'_>,
    applied: &mut Applied,
) -> rusqlite::Result<()> {
    let now_ms = rules.now_ms;
    if complete_a_repeat(tx, record)? || adoption::kept_as_orphan(tx, &record.session)? {
        applied.repeated += 1;
        return Ok(());
    }
    // A record of no attempt the store knows: a call it forgot, or another system's.
    let Some((attempt, row, attempt_state)) = attempt_of(tx, record)? else {
        return adoption::adopt(tx, record, ours, rules, applied);
    };
    if attempt_state == "settled" || attempt_state == "pushed" {
        // A second record for one attempt: the first stands.
        applied.repeated += 1;
        return Ok(());
    }
    let settled = match record.fee {
        Some(_) => AttemptState::Settled,
        None => AttemptState::Pushed,
    };
    tx.prepare_cached(
        "UPDATE attempts SET state = ?4, session = ?2, settled_at = ?3 WHERE id = ?1",
    )?
    .execute(params![attempt, record.session, now_ms, settled.as_str()])?;
    // A record that came before the request's answer starts the call's count for its
    // number.
    super::number_calls::counts_from(tx, attempt, now_ms)?;
    applied.settled += 1;
    let counted_before = attempt_state == "accepted";
    settle_row(tx, record, (attempt, row, counted_before), rules, applied)
}

/// Returns true if and only if the record's `session` was applied before; then the only
/// thing it may bring is the fee a push lacked.
fn complete_a_repeat(
    tx: &rusqlite::Transaction<'_>,
    record: &Settlement,
) -> rusqlite::Result<bool> {
    let seen: Option<i64> = tx
        .prepare_cached("SELECT row FROM attempts WHERE session = ?1")?
        .query_row([&record.session], |r| r.get(0))
        .optional()?;
    let Some(row) = seen else {
        return Ok(false);
    };
    if record.fee.is_some() {
        tx.prepare_cached(
            "UPDATE rows SET fee = ?2 WHERE id = ?1 AND session = ?3 AND fee IS NULL",
        )?
        .execute(params![row, record.fee, record.session])?;
        tx.prepare_cached(
            "UPDATE attempts SET state = 'settled' WHERE session = ?1 AND state = 'pushed'",
        )?
        .execute([&record.session])?;
    }
    Ok(true)
}

/// The attempt a record settles, with its row and state: the one its `userData` names,
/// or without one, the open attempt for its callee written closest before it started.
fn attempt_of(
    tx: &rusqlite::Transaction<'_>,
    record: &Settlement,
) -> rusqlite::Result<Option<(i64, i64, String)>> {
    let found = |r: &rusqlite::Row<'_>| Ok((r.get(0)?, r.get(1)?, r.get(2)?));
    match (&record.user_data, record.start_ms) {
        // A `userData` names its row: looked up among that row's attempts.
        (Some(user_data), _) => match row_named_by(user_data) {
            Some(row) => tx
                .prepare_cached(
                    "SELECT id, row, state FROM attempts WHERE row = ?1 AND user_data = ?2",
                )?
                .query_row(params![row, user_data], found)
                .optional(),
            None => Ok(None),
        },
        (None, Some(start)) => tx
            .prepare_cached(&format!(
                "SELECT attempts.id, attempts.row, attempts.state FROM attempts
                 JOIN rows ON rows.id = attempts.row
                 WHERE {OPEN_ATTEMPT}
                   AND rows.callee = ?1 AND attempts.written_at BETWEEN ?2 AND ?3
                 ORDER BY attempts.written_at DESC LIMIT 1"
            ))?
            .query_row(
                params![
                    record.callee,
                    start - MATCH_AFTER_MS,
                    start + MATCH_BEFORE_MS
                ],
                found,
            )
            .optional(),
        (None, None) => Ok(None),
    }
}

/// Moves the row of a settled attempt on, as [`verdict`] decides, when the attempt is
/// its latest and the row still open; a late record of an earlier attempt only counts
/// the call. `counted_before` says the attempt was counted when it was accepted.
pub(super) fn settle_row(
    tx: &rusqlite::Transaction<'_>,
    record: &Settlement,
    (attempt, row, counted_before): (i64, i64, bool),
    rules: &Rules<'_>,
    applied: &mut Applied,
) -> rusqlite::Result<()> {
    let (campaign, row_state, attempts, latest, refusals): (i64, String, i64, i64, u32) = tx
        .prepare_cached(
            "SELECT campaign, state, attempts,
                    (SELECT max(id) FROM attempts WHERE attempts.row = rows.id), refusals
             FROM rows WHERE id = ?1",
        )?
        .query_row([row], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?;
    let row_open = matches!(
        row_state.as_str(),
        "pending" | "sending" | "accepted" | "unknown" | "unresolved"
    );
    let placed = attempts + 1 - i64::from(counted_before);
    tx.prepare_cached(
        "INSERT INTO record_outcomes (campaign, outcome, records) VALUES (?1, ?2, 1)
         ON CONFLICT DO UPDATE SET records = records + 1",
    )?
    .execute(params![campaign, record.class.name()])?;
    if let Some(answered) = record.class.guard_count() {
        tx.prepare_cached(
            "UPDATE campaigns SET guard_records = guard_records + 1,
                 guard_answered = guard_answered + ?2
             WHERE id = ?1",
        )?
        .execute(params![campaign, i64::from(answered)])?;
    }
    if latest != attempt || !row_open {
        // A late record of an earlier attempt: the call happened; the row has moved on.
        if let RecordClass::Outcome { .. } = record.class {
            tx.prepare_cached("UPDATE rows SET attempts = ?2 WHERE id = ?1")?
                .execute(params![row, placed])?;
        }
        return Ok(());
    }
    let refused_callee = record.class == RecordClass::Refused(Refusal::CalleeFrequency);
    match record.class {
        RecordClass::AccountHalt { cause } => applied.halts.push(cause),
        RecordClass::SlowDown { cause } => applied.slowdowns.push(cause),
        RecordClass::Refused(Refusal::CallerFrequency) => {
            applied.slowdowns.push(Refusal::CallerFrequency.cause())
        }
        RecordClass::Refused(Refusal::OutsideServiceHours) => applied.outside_service_hours = true,
        RecordClass::Refused(Refusal::CalleeFrequency) | RecordClass::Outcome { .. } => {}
    }
    let placed_count = u32::try_from(placed).unwrap_or(u32::MAX);
    let refusals = CalleeRefusals {
        so_far: refusals,
        wait_ms: rules.callee_refusal_wait_ms,
    };
    let policy = (rules.policy)(campaign);
    let (state, counted, due_at) =
        match verdict(record.class, placed_count, policy.as_ref(), refusals) {
            RowVerdict::Final(state) => (state, placed, 0),
            RowVerdict::Again { after_ms, counted } => (
                RowState::Pending,
                if counted { placed } else { placed - 1 },
                rules.now_ms + after_ms,
            ),
        };
    tx.prepare_cached(
        "UPDATE rows SET state = ?2, attempts = ?3, due_at = ?4, cause = ?5, answer_time = ?6,
             end_time = ?7, talk_secs = ?8, fee = ?9, session = ?10, recording = ?11,
             detail = NULL, refusals = refusals + ?12
         WHERE id = ?1",
    )?
    .execute(params![
        row,
        state.as_str(),
        counted,
        due_at,
        record.cause,
        record.answer_time,
        record.end_time,
        record.talk_secs.map(|s| s as i64),
        record.fee,
        record.session,
        record.recording,
        i64::from(refused_callee)
    ])?;
    Ok(())
}
