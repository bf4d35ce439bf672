//! What the reports read: each campaign's facts (counts, talk time, fees, causes) and its
//! rows in file order, on a read-only connection of their own, so writing a big
//! `results.csv` never holds up dispatch.

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::{Connection, params};

use super::campaigns::parse_state;
use super::number_calls::HELD_BY_CAP;
use super::{Store, StoreError};
use crate::domain::{AttemptState, CampaignState, RowState};

/// A campaign as the reports show it: what the store knows, summed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CampaignFacts {
    pub id: i64,
    pub name: String,
    pub source_file: String,
    pub state: CampaignState,
    pub state_reason: Option<String>,
    /// The settings layer the store keeps (`PartialSettings::to_keep`), as TOML.
    pub settings: String,
    /// The original header, as a JSON array of strings.
    pub header: String,
    pub created_at_ms: i64,
    pub started_at_ms: Option<i64>,
    pub finished_at_ms: Option<i64>,
    pub updated_at_ms: i64,
    /// When retention removed its rows; its figures are those kept then.
    pub archived_at_ms: Option<i64>,
    pub rows: BTreeMap<RowState, u64>,
    /// Calls placed (accepted attempts), summed over the rows.
    pub attempts: u64,
    pub talk_secs: u64,
    /// Each distinct fee text with how many rows carry it: summed exactly by the caller.
    pub fees: Vec<(String, u64)>,
    /// Hang-up causes of settled rows with their counts, most frequent first.
    pub causes: Vec<(u32, u64)>,
    /// Rows `pending` because a per-number cap held them at their last turn.
    pub held_by_cap: u64,
}

/// One row for `results.csv` and `skipped.csv`, in file order, borrowed from the store's
/// read of it: writing a million rows copies no text on the way to the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResultRow<'a> {
    pub line: u64,
    /// The row's original fields, as a JSON array of strings.
    pub fields: &'a [u8],
    pub state: RowState,
    pub attempts: u64,
    pub reason: Option<&'a str>,
    pub detail: Option<&'a str>,
    pub cause: Option<u32>,
    /// RFC 3339, UTC.
    pub answer_time: Option<&'a str>,
    pub end_time: Option<&'a str>,
    pub talk_secs: Option<u64>,
    pub fee: Option<&'a str>,
    pub session: Option<&'a str>,
    pub recording: Option<&'a str>,
}

/// The query of campaigns' facts, read by [`facts_of_row`].
macro_rules! facts_query {
    () => {
        "SELECT id, name, source_file, state, state_reason, settings, header, created_at,
                started_at, finished_at, updated_at, first_row, row_count, archived_figures,
                archived_at
         FROM campaigns"
    };
}

/// A query of rows for [`result_row`], in file order, with `$where` (and `?1`, `?2`).
macro_rules! result_rows {
    ($where:literal) => {
        concat!(
            "SELECT line, fields, state, attempts, reason, detail, cause, answer_time,
                    end_time, talk_secs, fee, session, recording
             FROM rows JOIN row_fields ON row_fields.row = rows.id WHERE ",
            $where,
            " ORDER BY id"
        )
    };
}

/// A campaign's rows: those with ids from `?1` to `?2`.
const ALL_ROWS: &str = result_rows!("id BETWEEN ?1 AND ?2");

/// Campaign `?1`'s skipped rows, through the `rows_skipped` index: a few rows of what
/// may be a million.
pub(super) const SKIPPED_ROWS: &str = result_rows!("campaign = ?1 AND state = 'skipped'");

/// Which of a campaign's rows [`Reader::each_row`] reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    All,
    Skipped,
}

/// A read-only connection to the store's database.
pub struct Reader {
    conn: Connection,
}

impl Reader {
    /// Opens a read-only connection beside `store`'s writer.
    pub fn open(store: &Store) -> Result<Reader, StoreError> {
        Reader::open_path(store.path())
    }

    /// Opens the database at `path` read-only (it must exist: `voicecast status` reads a
    /// daemon's store this way).
    pub fn open_path(path: &Path) -> Result<Reader, StoreError> {
        Ok(Reader {
            conn: super::open_read_only(path)?,
        })
    }

    /// Every campaign past its import, oldest first, with its facts; all read in one
    /// snapshot.
    pub fn campaigns(&mut self) -> Result<Vec<CampaignFacts>, StoreError> {
        self.campaign_facts()
            .map_err(super::failed("read the campaigns' facts"))
    }

    fn campaign_facts(&mut self) -> rusqlite::Result<Vec<CampaignFacts>> {
        let tx = self.conn.transaction()?;
        let mut campaigns = Vec::new();
        {
            let mut statement =
                tx.prepare(concat!(facts_query!(), " WHERE state != ?1 ORDER BY id"))?;
            let read = statement.query_map([CampaignState::Importing.as_str()], facts_of_row)?;
            for campaign in read {
                let (mut facts, range) = campaign?;
                sum_rows(&tx, &mut facts, range)?;
                campaigns.push(facts);
            }
        }
        Ok(campaigns)
    }

    /// The call records applied to each campaign's rows, by what they said
    /// (`RecordClass::name`): campaign id to (outcome, records).
    pub fn record_outcomes(&mut self) -> Result<BTreeMap<i64, Vec<(String, u64)>>, StoreError> {
        let read = |conn: &mut Connection| -> rusqlite::Result<_> {
            let tx = conn.transaction()?;
            let mut outcomes: BTreeMap<i64, Vec<(String, u64)>> = BTreeMap::new();
            let mut statement = tx.prepare(
                "SELECT campaign, outcome, records FROM record_outcomes
                 ORDER BY campaign, outcome",
            )?;
            let mut rows = statement.query([])?;
            while let Some(r) = rows.next()? {
                outcomes
                    .entry(r.get(0)?)
                    .or_default()
                    .push((r.get(1)?, r.get(2)?));
            }
            Ok(outcomes)
        };
        read(&mut self.conn).map_err(super::failed("read the call records' outcomes"))
    }

    /// How many of the campaign's `pending` rows are due by `now_ms`.
    pub fn rows_due(&mut self, campaign: i64, now_ms: i64) -> Result<u64, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT count(*) FROM rows
                 WHERE campaign = ?1 AND state = 'pending' AND due_at <= ?2",
            )
            .and_then(|mut s| s.query_row(params![campaign, now_ms], |r| r.get(0)))
            .map_err(super::failed("count the rows due"))
    }

    /// Calls `each` with the campaign's rows (`which` of them) in file order.
    pub fn each_row(
        &mut self,
        campaign: i64,
        which: Which,
        mut each: impl FnMut(&ResultRow<'_>) -> std::io::Result<()>,
    ) -> Result<(), ReportReadError> {
        let tx = self.conn.transaction()?;
        let (first, count): (i64, i64) = tx.query_row(
            "SELECT first_row, row_count FROM campaigns WHERE id = ?1",
            [campaign],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let mut statement;
        let mut rows = match which {
            Which::All => {
                statement = tx.prepare(ALL_ROWS)?;
                statement.query([first, first + count - 1])?
            }
            Which::Skipped => {
                statement = tx.prepare(SKIPPED_ROWS)?;
                statement.query([campaign])?
            }
        };
        while let Some(r) = rows.next()? {
            let row = result_row(r)?;
            each(&row).map_err(ReportReadError::Write)?;
        }
        Ok(())
    }

    /// The calls sent for a campaign's rows, counted per second they were sent (Unix
    /// seconds, oldest first). Commands that were never placed (`not_placed`), never sent
    /// (`withdrawn`) or that the vendor refused (`rejected`) are not calls.
    pub fn calls_per_second(&mut self, campaign: i64) -> Result<Vec<(i64, u64)>, StoreError> {
        let count = |conn: &mut Connection| -> rusqlite::Result<Vec<(i64, u64)>> {
            let tx = conn.transaction()?;
            tx.prepare(
                "SELECT attempts.sent_at / 1000 AS second, count(*)
                 FROM campaigns JOIN attempts
                   ON attempts.row BETWEEN campaigns.first_row
                                       AND campaigns.first_row + campaigns.row_count - 1
                 WHERE campaigns.id = ?1 AND attempts.state NOT IN (?2, ?3, ?4)
                 GROUP BY second ORDER BY second",
            )?
            .query_map(
                params![
                    campaign,
                    AttemptState::NotPlaced.as_str(),
                    AttemptState::Withdrawn.as_str(),
                    AttemptState::Rejected.as_str()
                ],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?
            .collect()
        };
        count(&mut self.conn).map_err(super::failed("count a campaign's calls per second"))
    }
}

/// A campaign's facts as [`facts_query`] reads them, with the ids of its rows: the sums
/// are still to come from [`sum_rows`] (which an archived campaign's kept figures spare).
fn facts_of_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(CampaignFacts, Sums)> {
    let first: i64 = r.get(11)?;
    let count: i64 = r.get(12)?;
    let mut facts = CampaignFacts {
        id: r.get(0)?,
        name: r.get(1)?,
        source_file: r.get(2)?,
        state: parse_state(r.get_ref(3)?.as_str()?)?,
        state_reason: r.get(4)?,
        settings: r.get(5)?,
        header: r.get(6)?,
        created_at_ms: r.get(7)?,
        started_at_ms: r.get(8)?,
        finished_at_ms: r.get(9)?,
        updated_at_ms: r.get(10)?,
        archived_at_ms: r.get(14)?,
        rows: BTreeMap::new(),
        attempts: 0,
        talk_secs: 0,
        fees: Vec::new(),
        causes: Vec::new(),
        held_by_cap: 0,
    };
    match r.get_ref(13)?.as_str_or_null()? {
        Some(kept) => {
            let kept: KeptFigures = serde_json::from_str(kept).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(13, rusqlite::types::Type::Text, e.into())
            })?;
            kept.put_into(&mut facts)?;
            Ok((facts, Sums::Kept))
        }
        None => Ok((facts, Sums::Rows(first, first + count - 1))),
    }
}

/// Where a campaign's sums come from.
#[derive(Clone, Copy, Debug)]
enum Sums {
    /// Its rows, with these ids.
    Rows(i64, i64),
    /// The figures kept when its rows were removed.
    Kept,
}

/// The facts of campaign `id`, summed from its rows (or its kept figures).
pub(super) fn facts_of(tx: &rusqlite::Transaction<'_>, id: i64) -> rusqlite::Result<CampaignFacts> {
    let (mut facts, sums) = tx.query_row(
        concat!(facts_query!(), " WHERE id = ?1"),
        [id],
        facts_of_row,
    )?;
    sum_rows(tx, &mut facts, sums)?;
    Ok(facts)
}

/// The figures of a campaign that retention keeps when its rows go: what the reports sum
/// from its rows (`campaigns.archived_figures`, as JSON).
#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub(super) struct KeptFigures {
    rows: BTreeMap<String, u64>,
    attempts: u64,
    talk_secs: u64,
    fees: Vec<(String, u64)>,
    causes: Vec<(u32, u64)>,
}

impl KeptFigures {
    pub(super) fn of(facts: &CampaignFacts) -> KeptFigures {
        KeptFigures {
            rows: facts
                .rows
                .iter()
                .map(|(state, n)| (state.as_str().to_string(), *n))
                .collect(),
            attempts: facts.attempts,
            talk_secs: facts.talk_secs,
            fees: facts.fees.clone(),
            causes: facts.causes.clone(),
        }
    }

    fn put_into(self, facts: &mut CampaignFacts) -> rusqlite::Result<()> {
        for (state, n) in self.rows {
            facts.rows.insert(parse_state(&state)?, n);
        }
        facts.attempts = self.attempts;
        facts.talk_secs = self.talk_secs;
        facts.fees = self.fees;
        facts.causes = self.causes;
        Ok(())
    }
}

/// A row as the reports' query reads it.
fn result_row<'r>(r: &'r rusqlite::Row<'_>) -> rusqlite::Result<ResultRow<'r>> {
    let text = |i| -> rusqlite::Result<Option<&'r str>> { Ok(r.get_ref(i)?.as_str_or_null()?) };
    Ok(ResultRow {
        line: r.get(0)?,
        fields: r.get_ref(1)?.as_bytes()?,
        state: parse_state(r.get_ref(2)?.as_str()?)?,
        attempts: r.get(3)?,
        reason: text(4)?,
        detail: text(5)?,
        cause: r.get(6)?,
        answer_time: text(7)?,
        end_time: text(8)?,
        talk_secs: r.get(9)?,
        fee: text(10)?,
        session: text(11)?,
        recording: text(12)?,
    })
}

/// Reading rows for a report failed in the store, or writing them out failed.
#[derive(Debug, thiserror::Error)]
pub enum ReportReadError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write the report: {0}")]
    Write(std::io::Error),
}

impl From<std::io::Error> for ReportReadError {
    fn from(error: std::io::Error) -> ReportReadError {
        ReportReadError::Write(error)
    }
}

impl From<rusqlite::Error> for ReportReadError {
    fn from(cause: rusqlite::Error) -> ReportReadError {
        ReportReadError::Store(StoreError::Sqlite {
            operation: "read a campaign's rows for its report",
            cause,
        })
    }
}

/// Counts, attempts, talk time, fees and causes of the campaign's rows, unless its
/// figures were kept when they went.
fn sum_rows(
    tx: &rusqlite::Transaction<'_>,
    facts: &mut CampaignFacts,
    sums: Sums,
) -> rusqlite::Result<()> {
    let Sums::Rows(first, last) = sums else {
        return Ok(());
    };
    // One pass over the rows, summed here: three GROUP BY queries read (and sorted) a
    // big campaign's rows three times a round.
    let mut scan = tx.prepare_cached(
        "SELECT state, attempts, talk_secs, fee, cause, reason FROM rows WHERE id BETWEEN ?1 AND ?2",
    )?;
    let mut fees: BTreeMap<String, u64> = BTreeMap::new();
    let mut causes: BTreeMap<u32, u64> = BTreeMap::new();
    let mut rows = scan.query([first, last])?;
    while let Some(r) = rows.next()? {
        let state = parse_state(r.get_ref(0)?.as_str()?)?;
        *facts.rows.entry(state).or_default() += 1;
        facts.attempts += r.get::<_, u64>(1)?;
        facts.talk_secs += r.get::<_, Option<u64>>(2)?.unwrap_or(0);
        if let Some(fee) = r.get_ref(3)?.as_str_or_null()? {
            match fees.get_mut(fee) {
                Some(n) => *n += 1,
                None => {
                    fees.insert(fee.to_owned(), 1);
                }
            }
        }
        if let Some(cause) = r.get::<_, Option<u32>>(4)? {
            *causes.entry(cause).or_default() += 1;
        }
        if state == RowState::Pending && r.get_ref(5)?.as_str_or_null()? == Some(HELD_BY_CAP) {
            facts.held_by_cap += 1;
        }
    }
    facts.fees = fees.into_iter().collect();
    facts.causes = causes.into_iter().collect();
    // The most frequent first; equal counts by cause.
    facts
        .causes
        .sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(())
}
