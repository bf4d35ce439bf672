//! What dispatch reads and writes: the campaigns to dial and their ready rows, each
//! attempt from its write-ahead `sending` to what the vendor answered, and the campaign
//! states dispatch and the control files set.

use rusqlite::params;

use super::campaigns::parse_state;
use super::number_calls;
use super::schema::OPEN_ATTEMPT;
use super::{Store, StoreError};
use crate::domain::caps::NumberCap;
use crate::domain::{AttemptState, CampaignState, RowState};

/// A campaign dispatch may have work for, with what it needs to dial its rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DialCampaign {
    pub id: i64,
    pub name: String,
    pub state: CampaignState,
    pub state_reason: Option<String>,
    /// The settings layer the store keeps (`PartialSettings::to_keep`), as TOML.
    pub settings: String,
    pub template: Option<String>,
    /// The original header, as a JSON array of strings.
    pub header: String,
    /// Whether it has been `running` (dialling) yet: `started_at` is set.
    pub started: bool,
    /// The answer-rate guard's count since the campaign started or was last resumed:
    /// call records that count, and how many of them were answered.
    pub guard_records: u64,
    pub guard_answered: u64,
}

/// A `pending` row whose time has come.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadyRow {
    pub id: i64,
    pub due_at: i64,
    pub callee: String,
    pub caller: Option<String>,
    pub cycle_play_times: Option<u32>,
    /// The row's original fields, as a JSON array of strings.
    pub fields: String,
    /// The attempts made for the row so far.
    pub tries: i64,
}

/// Where a read of ready rows goes on from: past this `(due_at, id)`.
pub type ReadyAfter = (i64, i64);

/// A row to write ahead: its id, the attempts it had when it was read, and its
/// normalised callee (what the per-number caps count by).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    pub row: i64,
    pub tries: i64,
    pub callee: String,
}

/// An attempt written ahead of its request: the ids its command carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAttempt {
    pub id: i64,
    pub row: i64,
    /// The command's `seq`: the attempt's id.
    pub seq: String,
    pub user_data: String,
}

/// What became of an attempt's request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sent {
    Accepted,
    /// Refused for good: the row is `rejected` with this detail.
    Rejected {
        code: Option<u64>,
        detail: String,
    },
    /// It may have been placed: the row is `unknown` until a record or the grace settles it.
    Unknown {
        detail: String,
    },
    /// It was not placed: the row is `pending` again from `retry_at_ms`, no attempt counted.
    NotPlaced {
        code: Option<u64>,
        detail: String,
        retry_at_ms: i64,
    },
    /// It was never sent (a halt or a stop came first): the row is `pending` again.
    Withdrawn,
}

impl Sent {
    /// The states the attempt and its row take.
    fn states(&self) -> (AttemptState, RowState) {
        match self {
            Sent::Accepted => (AttemptState::Accepted, RowState::Accepted),
            Sent::Rejected { .. } => (AttemptState::Rejected, RowState::Rejected),
            Sent::Unknown { .. } => (AttemptState::Unknown, RowState::Unknown),
            Sent::NotPlaced { .. } => (AttemptState::NotPlaced, RowState::Pending),
            Sent::Withdrawn => (AttemptState::Withdrawn, RowState::Pending),
        }
    }

    fn code(&self) -> Option<u64> {
        match self {
            Sent::Rejected { code, .. } | Sent::NotPlaced { code, .. } => *code,
            _ => None,
        }
    }

    fn detail(&self) -> Option<&str> {
        match self {
            Sent::Rejected { detail, .. }
            | Sent::Unknown { detail }
            | Sent::NotPlaced { detail, .. } => Some(detail),
            Sent::Accepted | Sent::Withdrawn => None,
        }
    }

    /// When the row may be dialled again (0: as soon as it is `pending`).
    fn retry_at_ms(&self) -> i64 {
        match self {
            Sent::NotPlaced { retry_at_ms, .. } => *retry_at_ms,
            _ => 0,
        }
    }
}

/// One attempt's result: what became of it, and when its request left (`None` for
/// one never sent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendResult {
    pub attempt: i64,
    /// The attempt's row.
    pub row: i64,
    pub sent_at_ms: Option<i64>,
    pub sent: Sent,
}

impl SendResult {
    pub fn withdrawn(attempt: i64, row: i64) -> SendResult {
        SendResult {
            attempt,
            row,
            sent_at_ms: None,
            sent: Sent::Withdrawn,
        }
    }
}

/// The `userData` of a row's attempt number `n` (from 1): `vc-INSTANCE-ROW-N`.
fn user_data(instance: &str, row: i64, n: i64) -> String {
    format!("vc-{instance}-{row}-{n}")
}

/// The row a `userData` of ours names; `None` for one that is not of [`user_data`]'s
/// form (another system's call on the account).
pub(super) fn row_named_by(user_data: &str) -> Option<i64> {
    user_data_parts(user_data).map(|(_, row, _)| row)
}

/// The instance, row and attempt number a `userData` of [`user_data`]'s form names.
pub(super) fn user_data_parts(user_data: &str) -> Option<(&str, i64, i64)> {
    let mut parts = user_data.strip_prefix("vc-")?.rsplitn(3, '-');
    let (n, row, instance) = (parts.next()?, parts.next()?, parts.next()?);
    let numeral = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if instance.is_empty() || !numeral(n) || !numeral(row) {
        return None;
    }
    Some((instance, row.parse().ok()?, n.parse().ok()?))
}

/// [`Store::ready_rows`]'s two reads, each one seek in `rows_ready`: past `(?3, ?4)`
/// within `due_at = ?3`, then `due_at` from past `?3` to `?2` (now). `?1` is the
/// campaign, `?5` the rows still wanted.
pub(super) const READY_ROWS: [&str; 2] = [
    "SELECT id, due_at, callee, caller, cycle_play_times, fields, tries
     FROM rows JOIN row_fields ON row_fields.row = rows.id
     WHERE campaign = ?1 AND state = 'pending' AND due_at = ?3 AND due_at <= ?2 AND id > ?4
     ORDER BY id LIMIT ?5",
    "SELECT id, due_at, callee, caller, cycle_play_times, fields, tries
     FROM rows JOIN row_fields ON row_fields.row = rows.id
     WHERE campaign = ?1 AND state = 'pending' AND due_at > ?3 AND due_at <= ?2
     ORDER BY due_at, id LIMIT ?5",
];

/// Rows in these states have work left; a campaign with none of them is done.
const OPEN_ROWS: &str = "'pending', 'sending', 'accepted', 'unknown'";

impl Store {
    /// Campaigns that are not finished: waiting, running, paused, halted, and cancelled
    /// ones whose calls in flight have not all settled.
    pub fn dial_campaigns(&self) -> Result<Vec<DialCampaign>, StoreError> {
        self.read("read the campaigns that may dial", |tx| {
            let mut statement = tx.prepare(
                "SELECT id, name, state, state_reason, settings, template, header,
                        started_at IS NOT NULL, guard_records, guard_answered
                 FROM campaigns
                 WHERE state IN ('waiting', 'running', 'paused', 'halted')
                    OR (state = 'cancelled' AND finished_at IS NULL)
                 ORDER BY id",
            )?;
            let campaigns = statement.query_map([], |r| {
                Ok(DialCampaign {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    state: parse_state(r.get_ref(2)?.as_str()?)?,
                    state_reason: r.get(3)?,
                    settings: r.get(4)?,
                    template: r.get(5)?,
                    header: r.get(6)?,
                    started: r.get(7)?,
                    guard_records: r.get(8)?,
                    guard_answered: r.get(9)?,
                })
            })?;
            campaigns.collect()
        })
    }

    /// Up to `limit` of the campaign's `pending` rows due by `now_ms`, oldest due first,
    /// from just past `after` (from the first when `None`).
    ///
    /// Two seeks in the `rows_ready` index, the rest of `after`'s `due_at` and then the
    /// later ones: SQLite seeks a row value `(due_at, id) > (?, ?)` by `due_at` alone, so
    /// one query would step over every row still pending before `after` (those handed on
    /// and not yet written ahead) at every read.
    pub fn ready_rows(
        &self,
        campaign: i64,
        now_ms: i64,
        after: Option<ReadyAfter>,
        limit: usize,
    ) -> Result<Vec<ReadyRow>, StoreError> {
        let (due_at, id) = after.unwrap_or((i64::MIN, i64::MIN));
        self.read("read ready rows", |tx| {
            let mut rows = Vec::with_capacity(limit);
            for sql in READY_ROWS {
                let left = limit - rows.len();
                if left == 0 {
                    break;
                }
                let mut statement = tx.prepare_cached(sql)?;
                let more = statement.query_map(
                    params![campaign, now_ms, due_at, id, left as i64],
                    |r| {
                        Ok(ReadyRow {
                            id: r.get(0)?,
                            due_at: r.get(1)?,
                            callee: r.get(2)?,
                            caller: r.get(3)?,
                            cycle_play_times: r.get(4)?,
                            fields: r.get(5)?,
                            tries: r.get(6)?,
                        })
                    },
                )?;
                for row in more {
                    rows.push(row?);
                }
            }
            Ok(rows)
        })
    }

    /// The write-ahead step: the rows among `rows` that are still `pending` and have had
    /// no attempt since they were read, and whose numbers are under every one of `caps`,
    /// become `sending`, each with a new attempt counted for its number, in one commit
    /// that reaches the disk before this returns. Only the attempts returned (in the order
    /// of `rows`) may be sent. A row at a cap stays `pending`, due when the cap lets it
    /// through, with [`HELD_BY_CAP`] and why. `userData` is `vc-INSTANCE-ROW-N`, N
    /// counting the row's attempts from 1.
    ///
    /// The caps are judged here, in the one transaction that writes every call ahead,
    /// so two campaigns that carry a number and dial at once never both pass: the first
    /// call's entry, in flight, counts for the second.
    pub fn begin_attempts(
        &self,
        rows: &[Claim],
        caps: &[NumberCap],
        instance: &str,
        now_ms: i64,
    ) -> Result<Vec<NewAttempt>, StoreError> {
        self.write_durably("write rows ahead", |tx| {
            let mut next: i64 =
                tx.query_row("SELECT coalesce(max(id), 0) + 1 FROM attempts", [], |r| {
                    r.get(0)
                })?;
            let mut claim = tx.prepare_cached(
                "UPDATE rows SET state = 'sending', tries = tries + 1, reason = NULL
                 WHERE id = ?1 AND state = 'pending' AND tries = ?2",
            )?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO attempts (id, row, seq, user_data, written_at, sent_at, state)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5, 'sending')",
            )?;
            let mut begun = Vec::with_capacity(rows.len());
            for Claim { row, tries, callee } in rows {
                let (row, tries) = (*row, *tries);
                if let Some(held) = number_calls::held(tx, callee, caps, now_ms)? {
                    number_calls::hold(tx, row, tries, &held, now_ms)?;
                    continue;
                }
                if claim.execute([row, tries])? == 0 {
                    continue;
                }
                let attempt = NewAttempt {
                    id: next,
                    row,
                    seq: next.to_string(),
                    user_data: user_data(instance, row, tries + 1),
                };
                insert.execute(params![
                    attempt.id,
                    row,
                    attempt.seq,
                    attempt.user_data,
                    now_ms
                ])?;
                number_calls::in_flight(tx, attempt.id, callee)?;
                next += 1;
                begun.push(attempt);
            }
            Ok(begun)
        })
    }

    /// Records what became of sent attempts, and when each request left. Each applies
    /// only while its attempt is still `sending`: a call record that came first has
    /// already settled it.
    pub fn record_sends(&self, results: &[SendResult], now_ms: i64) -> Result<(), StoreError> {
        self.write("record the vendor's answers", |tx| {
            // An attempt still open (accepted, unknown) keeps its `settled_at` NULL, and
            // a statement that does not set it leaves the open-attempt index alone.
            let mut still_open = tx.prepare_cached(
                "UPDATE attempts SET state = ?2, error_code = ?3, error_message = ?4,
                     sent_at = coalesce(?5, sent_at)
                 WHERE id = ?1 AND state = 'sending'",
            )?;
            let mut settled = tx.prepare_cached(
                "UPDATE attempts SET state = ?2, error_code = ?3, error_message = ?4,
                     sent_at = coalesce(?5, sent_at), settled_at = ?6
                 WHERE id = ?1 AND state = 'sending'",
            )?;
            let mut row = tx.prepare_cached(
                "UPDATE rows SET state = ?2, attempts = attempts + ?3, due_at = ?4, detail = ?5
                 WHERE id = ?1 AND state = 'sending'",
            )?;
            for result in results {
                let sent = &result.sent;
                let (attempt_state, row_state) = sent.states();
                let counted = i64::from(*sent == Sent::Accepted);
                let open = matches!(
                    attempt_state,
                    AttemptState::Accepted | AttemptState::Unknown
                );
                let code = sent.code().map(|c| c as i64);
                let detail = sent.detail();
                let fields = params![
                    result.attempt,
                    attempt_state.as_str(),
                    code,
                    detail,
                    result.sent_at_ms
                ];
                let changed = if open {
                    still_open.execute(fields)?
                } else {
                    settled.execute([fields, params![now_ms]].concat().as_slice())?
                };
                if changed == 1 {
                    row.execute(params![
                        result.row,
                        row_state.as_str(),
                        counted,
                        sent.retry_at_ms(),
                        detail
                    ])?;
                    // A call the vendor accepted, or that may have been placed, counts for
                    // its number from now, when its answer came; one not placed counts
                    // for nothing.
                    match attempt_state {
                        AttemptState::Accepted | AttemptState::Unknown => {
                            number_calls::counts_from(tx, result.attempt, now_ms)?
                        }
                        _ => number_calls::forget(tx, result.attempt)?,
                    }
                }
            }
            Ok(())
        })
    }

    /// Rejects a `pending` row that cannot be sent at all (its stored fields no longer
    /// render).
    pub fn reject_row(&self, row: i64, detail: &str) -> Result<(), StoreError> {
        self.write("reject a row", |tx| {
            tx.execute(
                "UPDATE rows SET state = 'rejected', detail = ?2 WHERE id = ?1 AND state = 'pending'",
                params![row, detail],
            )
            .map(drop)
        })
    }

    /// At start-up: attempts a stop left `sending` may have been sent, so they and their
    /// rows become `unknown`. Returns how many rows there were.
    ///
    /// A row is `sending` only while its latest attempt is (the write-ahead makes both in
    /// one commit, and whatever moves the attempt on moves the row or finds it moved), so
    /// the rows are found through their attempts: one scan of the attempts, not of every
    /// row of every campaign.
    pub fn sending_to_unknown(&self, now_ms: i64) -> Result<usize, StoreError> {
        const STOPPED: &str = "the daemon stopped while the request was being sent";
        self.write("make rows left sending unknown", |tx| {
            number_calls::stranded_count_from(tx, now_ms)?;
            let rows: Vec<i64> = tx
                .prepare(
                    "UPDATE attempts SET state = 'unknown', error_message = ?1
                     WHERE state = 'sending' RETURNING row",
                )?
                .query_map([STOPPED], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let mut row = tx.prepare(
                "UPDATE rows SET state = 'unknown', detail = ?2 WHERE id = ?1 AND state = 'sending'",
            )?;
            let mut stranded = 0;
            for id in rows {
                stranded += row.execute(params![id, STOPPED])?;
            }
            Ok(stranded)
        })
    }

    /// The send times of the newest `limit` attempts whose requests left (or may have),
    /// so a restart can keep the rate across it. Requests leave in the order their
    /// attempts were written, so the newest attempts by id are the newest sends, and the
    /// query reads no more of the table than that.
    pub fn recent_send_times(&self, limit: u32) -> Result<Vec<i64>, StoreError> {
        self.read("read the newest send times", |tx| {
            tx.prepare("SELECT sent_at FROM attempts WHERE state != ?1 ORDER BY id DESC LIMIT ?2")?
                .query_map(params![AttemptState::Withdrawn.as_str(), limit], |r| {
                    r.get(0)
                })?
                .collect()
        })
    }

    /// Sets a campaign's state and why; the first `running` sets `started_at`, and
    /// `finished` sets `finished_at`.
    pub fn set_campaign_state(
        &self,
        campaign: i64,
        state: CampaignState,
        reason: Option<&str>,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.write("set a campaign's state", |tx| {
            tx.execute(
                "UPDATE campaigns SET state = ?2, state_reason = ?3, updated_at = ?4,
                     started_at = CASE WHEN ?2 = 'running' THEN coalesce(started_at, ?4)
                                       ELSE started_at END,
                     finished_at = CASE WHEN ?2 = 'finished' THEN ?4 ELSE finished_at END
                 WHERE id = ?1",
                params![campaign, state.as_str(), reason, now_ms],
            )
            .map(drop)
        })
    }

    /// Resumes a paused campaign: `running` until the next look at it, and the
    /// answer-rate guard's count starts over from now.
    pub fn resume_campaign(&self, campaign: i64, now_ms: i64) -> Result<(), StoreError> {
        self.write("resume a campaign", |tx| {
            tx.execute(
                "UPDATE campaigns SET state = 'running', state_reason = NULL, updated_at = ?2,
                     started_at = coalesce(started_at, ?2),
                     guard_since = ?2, guard_records = 0, guard_answered = 0
                 WHERE id = ?1",
                params![campaign, now_ms],
            )
            .map(drop)
        })
    }

    /// Cancels a campaign: its `pending` rows become `cancelled`; rows in flight settle.
    pub fn cancel_campaign(
        &self,
        campaign: i64,
        reason: &str,
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        self.write("cancel a campaign", |tx| {
            let cancelled = tx.execute(
                "UPDATE rows SET state = 'cancelled', detail = ?2
                 WHERE campaign = ?1 AND state = 'pending'",
                params![campaign, reason],
            )?;
            tx.execute(
                "UPDATE campaigns SET state = 'cancelled', state_reason = ?2, updated_at = ?3
                 WHERE id = ?1",
                params![campaign, reason, now_ms],
            )?;
            Ok(cancelled as u64)
        })
    }

    /// Returns true if and only if some row of the campaign still has work left.
    pub fn has_open_rows(&self, campaign: i64) -> Result<bool, StoreError> {
        self.read("look for open rows", |tx| {
            let pending: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM rows WHERE campaign = ?1 AND state = 'pending')",
                [campaign],
                |r| r.get(0),
            )?;
            if pending {
                return Ok(true);
            }
            tx.query_row(
                &format!(
                    "SELECT EXISTS (SELECT 1 FROM attempts JOIN rows ON rows.id = attempts.row
                     WHERE {OPEN_ATTEMPT}
                       AND rows.campaign = ?1 AND rows.state IN ({OPEN_ROWS}))"
                ),
                [campaign],
                |r| r.get(0),
            )
        })
    }

    /// Marks a cancelled campaign whose last calls have settled as complete.
    pub fn close_cancelled(&self, campaign: i64, now_ms: i64) -> Result<(), StoreError> {
        self.write("close a cancelled campaign", |tx| {
            tx.execute(
                "UPDATE campaigns SET finished_at = ?2, updated_at = ?2 WHERE id = ?1",
                params![campaign, now_ms],
            )
            .map(drop)
        })
    }

    /// This database's instance id, made at first use (and after a restore): six hex
    /// digits that tell its `userData` from another installation's on the same
    /// account, and from the instances it had before a restore.
    pub fn instance_id(&self) -> Result<String, StoreError> {
        if let Some(id) = self.meta("instance")? {
            return Ok(id);
        }
        let former = self
            .meta(super::adoption::FORMER_INSTANCES)?
            .unwrap_or_default();
        let id = std::iter::repeat_with(|| format!("{:06x}", rand::random::<u32>() & 0xFF_FFFF))
            .find(|id| !former.contains(id.as_str()))
            .expect("an endless supply of ids holds a new one");
        self.write("read the instance id", |tx| {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('instance', ?1) ON CONFLICT DO NOTHING",
                [&id],
            )
        })?;
        Ok(self.meta("instance")?.unwrap_or(id))
    }
}
