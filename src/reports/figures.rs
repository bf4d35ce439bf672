//! The figures people read, computed from a campaign's facts: `status.json`'s fields
//! (PRODUCT.md section 5), and the daemon's own `status.json`. Pure: the stage gives the
//! time, the account and the rate.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::account::AccountState;
use crate::calendar::Calendar;
use crate::domain::{CampaignState, RowState};
use crate::settings::CampaignSettings;
use crate::settings::{DialTime, dial_time, dialling_ends};
use crate::store::CampaignFacts;
use callcenter_openapi::causes::cause;

/// The version of both `status.json` layouts; raised when a field changes meaning or goes.
pub const SCHEMA_VERSION: u32 = 1;
/// How many hang-up causes the reports list.
const TOP_CAUSES: usize = 5;

/// `reports/NAME/status.json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CampaignStatus {
    pub schema_version: u32,
    pub campaign: String,
    pub state: CampaignState,
    pub state_reason: Option<String>,
    pub file: String,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub updated_at: String,
    pub rows: RowCounts,
    pub attempts: u64,
    pub calls_per_sec_1m: f64,
    pub eta: Option<String>,
    pub next_window: Option<String>,
    pub answer_rate: Option<f64>,
    pub talk_secs_total: u64,
    pub fee_total: String,
    pub top_causes: Vec<TopCause>,
    pub account: AccountStatus,
    /// Rows pending only because a per-number cap holds them.
    pub held_by_cap: u64,
    pub warnings: Vec<String>,
}

/// A count for every row state, in PRODUCT.md's order, and `total`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RowCounts(pub BTreeMap<RowState, u64>);

impl RowCounts {
    pub fn get(&self, state: RowState) -> u64 {
        self.0.get(&state).copied().unwrap_or(0)
    }

    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    /// Rows not final yet.
    pub fn open(&self) -> u64 {
        self.0
            .iter()
            .filter(|(s, _)| !s.is_final())
            .map(|(_, n)| n)
            .sum()
    }
}

impl Serialize for RowCounts {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(RowState::ALL.len() + 1))?;
        for state in RowState::ALL {
            map.serialize_entry(state.as_str(), &self.get(*state))?;
        }
        map.serialize_entry("total", &self.total())?;
        map.end()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TopCause {
    pub cause: u32,
    pub count: u64,
    pub zh: String,
    pub en: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AccountStatus {
    /// `active`, `halted`, `waiting`, `breaker`, or `none` when no account is configured.
    pub state: &'static str,
    pub reason: Option<String>,
}

impl AccountStatus {
    pub fn of(account: Option<&AccountState>) -> AccountStatus {
        match account {
            None => AccountStatus {
                state: "none",
                reason: Some("no vendor account is configured".into()),
            },
            Some(AccountState::Active) => AccountStatus {
                state: "active",
                reason: None,
            },
            Some(AccountState::Halted { reason }) => AccountStatus {
                state: "halted",
                reason: Some(reason.clone()),
            },
            Some(AccountState::Breaker { reason, .. }) => AccountStatus {
                state: "breaker",
                reason: Some(reason.clone()),
            },
            Some(AccountState::Waiting { reason, .. } | AccountState::Adopting { reason, .. }) => {
                AccountStatus {
                    state: "waiting",
                    reason: Some(reason.clone()),
                }
            }
        }
    }
}

/// What the figures need beside the facts.
pub struct Context<'a> {
    pub now: Timestamp,
    /// What calling days are judged by.
    pub calendar: &'a Calendar,
    /// The account's calls a second.
    pub account_rate: u32,
    pub account: &'a AccountStatus,
    /// Calls a second over the last minute, as the stage measured it.
    pub calls_per_sec_1m: f64,
    /// What is wrong with the daemon now, in words (the store cannot be written).
    pub warnings: &'a [String],
}

/// A campaign's `status.json`. `settings` are its stored settings, when they still read.
pub fn campaign_status(
    facts: &CampaignFacts,
    settings: Option<&CampaignSettings>,
    context: &Context<'_>,
) -> CampaignStatus {
    let zone = settings.map_or(TimeZone::UTC, |s| s.timezone.clone());
    let at = |ms: i64| rfc3339(ms, &zone);
    let rows = RowCounts(facts.rows.clone());
    let outcomes: u64 = [
        RowState::Answered,
        RowState::NoAnswer,
        RowState::Busy,
        RowState::InvalidNumber,
        RowState::Failed,
    ]
    .iter()
    .map(|s| rows.get(*s))
    .sum();
    let answer_rate = (outcomes > 0).then(|| rows.get(RowState::Answered) as f64 / outcomes as f64);
    let dialling = matches!(facts.state, CampaignState::Waiting | CampaignState::Running);
    let next_window = settings
        .filter(|_| dialling)
        .and_then(|s| match dial_time(s, context.calendar, context.now) {
            DialTime::Wait { until, .. } => until,
            DialTime::Now => None,
        })
        .map(|t| rfc3339(t.as_millisecond(), &zone));
    let eta = settings
        .filter(|_| dialling)
        .and_then(|s| eta(&rows, s, context))
        .map(|t| rfc3339(t.as_millisecond(), &zone));
    CampaignStatus {
        schema_version: SCHEMA_VERSION,
        campaign: facts.name.clone(),
        state: facts.state,
        state_reason: facts.state_reason.clone(),
        file: facts.source_file.clone(),
        created_at: at(facts.created_at_ms),
        started_at: facts.started_at_ms.map(at),
        finished_at: facts.finished_at_ms.map(at),
        updated_at: at(facts.updated_at_ms),
        rows,
        attempts: facts.attempts,
        calls_per_sec_1m: round2(context.calls_per_sec_1m),
        eta,
        next_window,
        answer_rate: answer_rate.map(round4),
        talk_secs_total: facts.talk_secs,
        fee_total: sum_fees(&facts.fees),
        top_causes: facts
            .causes
            .iter()
            .take(TOP_CAUSES)
            .map(|(code, count)| {
                let text = cause(*code);
                TopCause {
                    cause: *code,
                    count: *count,
                    zh: text.map_or("", |c| c.zh).to_string(),
                    en: text.map_or("", |c| c.en).to_string(),
                }
            })
            .collect(),
        account: context.account.clone(),
        held_by_cap: facts.held_by_cap,
        warnings: context.warnings.to_vec(),
    }
}

/// When the rows still to dial will have been dialled: at the campaign's rate (within the
/// account's), counted inside its calling hours from `start_at` or now. `None` while
/// nothing is left to dial (the rest wait for their records).
fn eta(rows: &RowCounts, settings: &CampaignSettings, context: &Context<'_>) -> Option<Timestamp> {
    let to_dial = rows.get(RowState::Pending) + rows.get(RowState::Sending);
    if to_dial == 0 {
        return None;
    }
    let rate = settings
        .rate
        .map_or(context.account_rate, |r| r.get().min(context.account_rate))
        .max(1);
    let dialling = Duration::from_secs_f64(to_dial as f64 / f64::from(rate));
    dialling_ends(settings, context.calendar, context.now, dialling)
}

/// RFC 3339 with the zone's offset, to the second.
pub fn rfc3339(ms: i64, zone: &TimeZone) -> String {
    local_time(ms, zone, "%Y-%m-%dT%H:%M:%S%:z")
}

/// How the reports show a time to people: `2026-11-24 10:32:05`, in the campaign's zone.
pub const LOCAL: &str = "%Y-%m-%d %H:%M:%S";

/// `ms` since the epoch in `zone`, as the strftime `format` says.
pub fn local_time(ms: i64, zone: &TimeZone, format: &str) -> String {
    Timestamp::from_millisecond(ms)
        .unwrap_or(Timestamp::UNIX_EPOCH)
        .to_zoned_datetime(zone.clone())
        .strftime(format)
        .to_string()
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// Millionths of a yuan: fees are summed exactly.
const MICRO: i128 = 1_000_000;

/// The exact sum of fee texts (yuan, like `0.06`), each counted `n` times, as yuan with
/// at least two decimals. A text that is not a decimal of at most six places adds nothing.
pub fn sum_fees(fees: &[(String, u64)]) -> String {
    yuan(fees_micro(fees))
}

/// The exact sum of fee texts, each counted `n` times, in millionths of a yuan.
pub fn fees_micro(fees: &[(String, u64)]) -> i128 {
    fees.iter()
        .filter_map(|(text, n)| parse_micro(text).map(|m| m * i128::from(*n)))
        .sum()
}

/// A fee text (yuan, like `0.06`) in millionths of a yuan; `None` when it is not a
/// decimal of at most six places.
pub fn parse_micro(text: &str) -> Option<i128> {
    let text = text.trim();
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || (!fraction.is_empty() && !digits(fraction)) || fraction.len() > 6 {
        return None;
    }
    let whole: i128 = whole.parse().ok()?;
    let fraction: i128 = format!("{fraction:0<6}").parse().ok()?;
    let value = whole * MICRO + fraction;
    Some(if negative { -value } else { value })
}

/// Millionths of a yuan as yuan, with at least two decimals: `0.06`, `2.0005`.
pub fn yuan(value: i128) -> String {
    let sign = if value < 0 { "-" } else { "" };
    let value = value.abs();
    let fraction = format!("{:06}", value % MICRO);
    let fraction = fraction.trim_end_matches('0');
    let fraction = format!("{fraction:0<2}");
    format!("{sign}{}.{fraction}", value / MICRO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fees_add_up_exactly() {
        let fees = [("0.06".to_string(), 3), ("0.12".to_string(), 1)];
        assert_eq!(sum_fees(&fees), "0.30");
        // 0.1 + 0.2 is 0.3 exactly, not 0.30000000000000004.
        assert_eq!(sum_fees(&[("0.1".into(), 1), ("0.2".into(), 1)]), "0.30");
        assert_eq!(sum_fees(&[("1".into(), 2), ("0.0005".into(), 1)]), "2.0005");
        assert_eq!(sum_fees(&[("abc".into(), 1)]), "0.00");
        assert_eq!(sum_fees(&[]), "0.00");
    }

    #[test]
    fn row_counts_list_every_state_and_the_total() {
        let counts = RowCounts(BTreeMap::from([
            (RowState::Answered, 3),
            (RowState::Pending, 2),
        ]));
        let json = serde_json::to_value(&counts).unwrap();
        assert_eq!(json["answered"], 3);
        assert_eq!(json["unresolved"], 0);
        assert_eq!(json["total"], 5);
        assert_eq!(counts.open(), 2);
        let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), RowState::ALL.len() + 1);
    }
}
