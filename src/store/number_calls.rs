//! The calls the per-number caps count (`number_calls`): one entry a call, whatever
//! campaign made it, in flight (`at` NULL) until its answer, its record or the next start
//! gives it the instant it counts from; and whether a number is at a cap, which the
//! write-ahead asks before it claims a row.

use rusqlite::{Transaction, params};

use super::{Store, StoreError};
use crate::domain::caps::{self, Held, NumberCap};

/// The `reason` of a `pending` row whose last turn was held by a per-number cap (its
/// `detail` says which, and until when); cleared when it is written ahead.
pub const HELD_BY_CAP: &str = "per_number_cap";

/// How soon a row held only by calls to its number still in flight is tried again:
/// their answers, which start their count, come within a request's timeout.
const IN_FLIGHT_RECHECK_MS: i64 = 1_000;

/// A call written ahead to `callee`: in flight, counted in every window until it counts
/// from its answer.
pub(super) fn in_flight(tx: &Transaction<'_>, attempt: i64, callee: &str) -> rusqlite::Result<()> {
    tx.prepare_cached("INSERT INTO number_calls (attempt, callee, at) VALUES (?1, ?2, NULL)")?
        .execute(params![attempt, callee])
        .map(drop)
}

/// The call of `attempt` counts from `now_ms` (its answer or record came), unless it
/// already counts from earlier.
pub(super) fn counts_from(tx: &Transaction<'_>, attempt: i64, now_ms: i64) -> rusqlite::Result<()> {
    tx.prepare_cached("UPDATE number_calls SET at = ?2 WHERE attempt = ?1 AND at IS NULL")?
        .execute(params![attempt, now_ms])
        .map(drop)
}

/// The call of `attempt` was not placed: it counts for nothing.
pub(super) fn forget(tx: &Transaction<'_>, attempt: i64) -> rusqlite::Result<()> {
    tx.prepare_cached("DELETE FROM number_calls WHERE attempt = ?1")?
        .execute([attempt])
        .map(drop)
}

/// At start-up: the calls a stop left in flight count from now, when they became
/// unknown.
pub(super) fn stranded_count_from(tx: &Transaction<'_>, now_ms: i64) -> rusqlite::Result<()> {
    tx.execute("UPDATE number_calls SET at = ?1 WHERE at IS NULL", [now_ms])
        .map(drop)
}

impl Store {
    /// Forgets the calls to numbers counted from before `before_ms`: no cap looks that
    /// far back. Returns how many.
    pub fn forget_number_calls(&self, before_ms: i64) -> Result<usize, StoreError> {
        self.write("forget old calls to numbers", |tx| {
            tx.execute("DELETE FROM number_calls WHERE at < ?1", [before_ms])
        })
    }
}

/// Whether `callee` is at one of `caps` at `now_ms`, by the calls to it in flight and
/// those counted within the longest cap's window.
pub(super) fn held(
    tx: &Transaction<'_>,
    callee: &str,
    caps: &[NumberCap],
    now_ms: i64,
) -> rusqlite::Result<Option<Held>> {
    let Some(longest) = caps::longest_window(caps) else {
        return Ok(None);
    };
    let since = now_ms.saturating_sub(i64::try_from(longest.as_millis()).unwrap_or(i64::MAX));
    let mut calls = tx.prepare_cached(
        "SELECT at FROM number_calls WHERE callee = ?1 AND (at IS NULL OR at > ?2)",
    )?;
    let mut in_flight = 0;
    let mut counted = Vec::new();
    for at in calls.query_map(params![callee, since], |r| r.get::<_, Option<i64>>(0))? {
        match at? {
            Some(at) => counted.push(at),
            None => in_flight += 1,
        }
    }
    Ok(caps::held(caps, in_flight, &counted, now_ms))
}

/// Leaves a row `pending`, held by a cap: due when the cap lets it through, saying why.
pub(super) fn hold(
    tx: &Transaction<'_>,
    row: i64,
    tries: i64,
    held: &Held,
    now_ms: i64,
) -> rusqlite::Result<()> {
    let (due_at, detail) = match held.until_ms {
        Some(until) => (
            until,
            format!(
                "at the cap {} on calls to this number until {}",
                held.cap,
                jiff::Timestamp::from_millisecond(until)
                    .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
                    .to_zoned_datetime(jiff::tz::TimeZone::system())
                    .strftime("%Y-%m-%d %H:%M:%S %Z")
            ),
        ),
        None => (
            now_ms + IN_FLIGHT_RECHECK_MS,
            format!(
                "at the cap {} on calls to this number: one is under way, and counts once it is answered",
                held.cap
            ),
        ),
    };
    tx.prepare_cached(
        "UPDATE rows SET due_at = ?3, reason = ?4, detail = ?5
         WHERE id = ?1 AND state = 'pending' AND tries = ?2",
    )?
    .execute(params![row, tries, due_at, HELD_BY_CAP, detail])?;
    Ok(())
}
