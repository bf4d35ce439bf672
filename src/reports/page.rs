//! `report.html`: one self-contained page a campaign's readers can open offline, print or
//! forward: progress, outcomes, calls per minute over time, hang-up causes and cost, drawn
//! as inline SVG. No script, no external asset, no web font. Pure: the stage gives the
//! figures. The layout is `templates/report.html`; askama escapes every text put into it.

use askama::Template;
use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::chart::{Timeline, round1, thousands, timeline};
use super::figures::{CampaignStatus, LOCAL, fees_micro, local_time, parse_micro, yuan};
use super::summary::duration;
use crate::domain::{CampaignState, RowState};
use crate::settings::CampaignSettings;
use crate::store::CampaignFacts;
use callcenter_openapi::causes::cause;

/// How many hang-up causes the page lists.
const CAUSES_SHOWN: usize = 10;
/// What the page shows beside the campaign's status.
pub struct PageInput<'a> {
    pub status: &'a CampaignStatus,
    pub facts: &'a CampaignFacts,
    pub settings: Option<&'a CampaignSettings>,
    /// Calls sent per second (Unix seconds, oldest first).
    pub calls: &'a [(i64, u64)],
    pub zone: &'a TimeZone,
    pub now: Timestamp,
    /// The account's calls a second.
    pub account_rate: u32,
}

/// The page, ready to write.
pub fn render(input: &PageInput<'_>) -> Result<String, askama::Error> {
    let status = input.status;
    let rows = &status.rows;
    let total = rows.total();
    let open = rows.open();
    let at = |ms: i64| local(ms, input.zone);
    let page = Page {
        s: status,
        version: env!("CARGO_PKG_VERSION"),
        zone: input.zone.iana_name().unwrap_or("UTC").to_string(),
        generated: at(input.now.as_millisecond()),
        state_class: state_class(status.state),
        tiles: tiles(input),
        final_pct: percent(total - open, total),
        progress: progress(input),
        outcomes: outcomes(input),
        timeline: timeline(input.calls, input.zone),
        causes: causes(input.facts),
        cost: cost(input),
        details: details(input),
    };
    page.render()
}

#[derive(Template)]
#[template(path = "report.html")]
struct Page<'a> {
    s: &'a CampaignStatus,
    version: &'static str,
    zone: String,
    generated: String,
    state_class: &'static str,
    tiles: Vec<Tile>,
    final_pct: String,
    progress: Vec<Segment>,
    outcomes: Vec<Bar>,
    timeline: Option<Timeline>,
    causes: Vec<CauseLine>,
    cost: Cost,
    details: Vec<(&'static str, String)>,
}

struct Tile {
    label: &'static str,
    value: String,
    note: String,
}

/// A row state's share of the progress bar (x and width in a 1000-wide view box).
struct Segment {
    x: f64,
    width: f64,
    look: Look,
    count: u64,
    pct: String,
}

/// A final outcome's bar (width in percent of the track).
struct Bar {
    look: Look,
    count: u64,
    pct: String,
    width: f64,
}

struct CauseLine {
    code: u32,
    zh: &'static str,
    en: &'static str,
    count: u64,
    pct: String,
    width: f64,
}

struct Cost {
    total: String,
    billed: u64,
    per_answered: String,
    per_minute: String,
    prices: Vec<Price>,
}

struct Price {
    fee: String,
    count: u64,
    subtotal: String,
}

/// How a row state is shown: its name in English and Chinese, and its colour.
#[derive(Clone, Copy)]
struct Look {
    en: &'static str,
    zh: &'static str,
    color: &'static str,
}

fn look(state: RowState) -> Look {
    let (en, zh, color) = match state {
        RowState::Answered => ("Answered", "已接听", "#2e9d5b"),
        RowState::NoAnswer => ("No answer", "未接听", "#e6a23c"),
        RowState::Busy => ("Busy", "占线", "#f07f3c"),
        RowState::InvalidNumber => ("Invalid number", "空号", "#9b59b6"),
        RowState::Failed => ("Failed", "呼叫失败", "#d64545"),
        RowState::Rejected => ("Rejected by the vendor", "被拒绝", "#a83232"),
        RowState::Unresolved => ("Unresolved", "结果不明", "#7f8c8d"),
        RowState::Cancelled => ("Cancelled", "已取消", "#b8bfc6"),
        RowState::Skipped => ("Skipped", "已跳过", "#5d6d7e"),
        RowState::Unknown => ("Awaiting confirmation", "待确认", "#8fb3de"),
        RowState::Accepted => ("Awaiting the call record", "等待话单", "#5b8fd1"),
        RowState::Sending => ("Sending", "发送中", "#3c6fb5"),
        RowState::Pending => ("Not yet dialled", "待呼叫", "#dde5ee"),
    };
    Look { en, zh, color }
}

/// Outcomes first, then the rows still on their way.
const PROGRESS_ORDER: [RowState; 13] = [
    RowState::Answered,
    RowState::NoAnswer,
    RowState::Busy,
    RowState::InvalidNumber,
    RowState::Failed,
    RowState::Rejected,
    RowState::Unresolved,
    RowState::Cancelled,
    RowState::Skipped,
    RowState::Unknown,
    RowState::Accepted,
    RowState::Sending,
    RowState::Pending,
];

fn state_class(state: CampaignState) -> &'static str {
    match state {
        CampaignState::Finished => "good",
        CampaignState::Running => "busy",
        CampaignState::Halted | CampaignState::Cancelled => "bad",
        CampaignState::Waiting | CampaignState::Paused | CampaignState::Importing => "idle",
    }
}

fn tiles(input: &PageInput<'_>) -> Vec<Tile> {
    let status = input.status;
    let rows = &status.rows;
    let answered = rows.get(RowState::Answered);
    let per_answered = match answered {
        0 => String::new(),
        n => format!("{} per answered call", duration(status.talk_secs_total / n)),
    };
    let mut tiles = vec![
        Tile {
            label: "Rows",
            value: thousands(rows.total()),
            note: format!(
                "{} final, {} skipped",
                thousands(rows.total() - rows.open()),
                thousands(rows.get(RowState::Skipped))
            ),
        },
        Tile {
            label: "Answered",
            value: thousands(answered),
            note: status.answer_rate.map_or_else(
                || "no outcome yet".into(),
                |r| format!("{:.1}% answer rate", r * 100.0),
            ),
        },
        Tile {
            label: "Calls placed",
            value: thousands(status.attempts),
            note: format!(
                "{:.2} calls/s over the last minute",
                status.calls_per_sec_1m
            ),
        },
        Tile {
            label: "Talk time",
            value: duration(status.talk_secs_total),
            note: per_answered,
        },
        Tile {
            label: "Cost",
            value: format!("¥{}", status.fee_total),
            note: "yuan, as the vendor billed".into(),
        },
    ];
    let at = |ms: i64| local(ms, input.zone);
    let when = match (status.state, input.facts.finished_at_ms) {
        (CampaignState::Finished | CampaignState::Cancelled, Some(end)) => Tile {
            label: "Took",
            value: input.facts.started_at_ms.map_or_else(
                || "-".into(),
                |start| duration(((end - start).max(0) / 1000) as u64),
            ),
            note: format!("ended {}", at(end)),
        },
        _ => match (&status.eta, &status.next_window) {
            (Some(eta), _) => Tile {
                label: "Dialling done by",
                value: short(eta),
                note: "at the rate limit, inside calling hours".into(),
            },
            (None, Some(window)) => Tile {
                label: "Next calling window",
                value: short(window),
                note: "nothing is dialled before it".into(),
            },
            (None, None) => Tile {
                label: "Still open",
                value: thousands(rows.open()),
                note: "rows waiting for their outcome".into(),
            },
        },
    };
    tiles.push(when);
    tiles
}

fn progress(input: &PageInput<'_>) -> Vec<Segment> {
    let rows = &input.status.rows;
    let total = rows.total();
    let mut x = 0.0;
    PROGRESS_ORDER
        .iter()
        .filter(|s| rows.get(**s) > 0)
        .map(|state| {
            let count = rows.get(*state);
            let width = 1000.0 * count as f64 / total as f64;
            let segment = Segment {
                x: round1(x),
                width: round1(width),
                look: look(*state),
                count,
                pct: percent(count, total),
            };
            x += width;
            segment
        })
        .collect()
}

fn outcomes(input: &PageInput<'_>) -> Vec<Bar> {
    let rows = &input.status.rows;
    let finals: Vec<RowState> = PROGRESS_ORDER
        .iter()
        .copied()
        .filter(|s| s.is_final() && rows.get(*s) > 0)
        .collect();
    let most = finals.iter().map(|s| rows.get(*s)).max().unwrap_or(0);
    finals
        .into_iter()
        .map(|state| {
            let count = rows.get(state);
            Bar {
                look: look(state),
                count,
                pct: percent(count, rows.total()),
                width: round1(100.0 * count as f64 / most as f64),
            }
        })
        .collect()
}

fn causes(facts: &CampaignFacts) -> Vec<CauseLine> {
    let total: u64 = facts.causes.iter().map(|(_, n)| n).sum();
    let most = facts.causes.first().map_or(1, |(_, n)| *n);
    facts
        .causes
        .iter()
        .take(CAUSES_SHOWN)
        .map(|(code, count)| {
            let text = cause(*code);
            CauseLine {
                code: *code,
                zh: text.map_or("未知原因", |c| c.zh),
                en: text.map_or("undocumented cause", |c| c.en),
                count: *count,
                pct: percent(*count, total),
                width: round1(100.0 * *count as f64 / most as f64),
            }
        })
        .collect()
}

fn cost(input: &PageInput<'_>) -> Cost {
    let fees = &input.facts.fees;
    let total = fees_micro(fees);
    let answered = i128::from(input.status.rows.get(RowState::Answered));
    let talk = i128::from(input.status.talk_secs_total);
    let average = |total: i128, n: i128| match n {
        0 => "-".to_string(),
        // To a ten-thousandth of a yuan, rounded.
        n => format!("¥{}", yuan((total + n * 50) / (n * 100) * 100)),
    };
    let mut prices: Vec<Price> = fees
        .iter()
        .map(|(fee, count)| Price {
            fee: parse_micro(fee).map_or_else(|| fee.clone(), yuan),
            count: *count,
            subtotal: parse_micro(fee).map_or_else(|| "-".into(), |m| yuan(m * i128::from(*count))),
        })
        .collect();
    prices.sort_by(|a, b| b.count.cmp(&a.count).then(a.fee.cmp(&b.fee)));
    Cost {
        total: yuan(total),
        billed: fees
            .iter()
            .filter(|(fee, _)| parse_micro(fee).is_some_and(|m| m > 0))
            .map(|(_, n)| n)
            .sum(),
        per_answered: average(total, answered),
        per_minute: average(total * 60, talk),
        prices,
    }
}

fn details(input: &PageInput<'_>) -> Vec<(&'static str, String)> {
    let facts = input.facts;
    let at = |ms: i64| local(ms, input.zone);
    let mut details = vec![("List", facts.source_file.clone())];
    if let Some(settings) = input.settings {
        let hours: Vec<String> = settings
            .calling_hours
            .iter()
            .map(|w| w.to_string())
            .collect();
        details.push(("Calling hours", hours.join(", ")));
        details.push((
            "Rate",
            match settings.rate {
                Some(rate) if rate.get() < input.account_rate => format!("{rate} calls/s"),
                _ => format!("{} calls/s, the account's", input.account_rate),
            },
        ));
        details.push((
            "Attempts per number",
            format!("at most {}", settings.max_attempts),
        ));
    }
    details.push(("Created", at(facts.created_at_ms)));
    if let Some(ms) = facts.started_at_ms {
        details.push(("Started", at(ms)));
    }
    if let Some(ms) = facts.finished_at_ms {
        details.push(("Ended", at(ms)));
    }
    let account = &input.status.account;
    details.push((
        "Vendor account",
        match &account.reason {
            Some(reason) => format!("{} ({reason})", account.state),
            None => account.state.to_string(),
        },
    ));
    details
}

/// `2026-11-24 10:32:05` in `zone`.
fn local(ms: i64, zone: &TimeZone) -> String {
    local_time(ms, zone, LOCAL)
}

/// An RFC 3339 time of the status without its offset: `2026-11-24 10:32`.
fn short(rfc3339: &str) -> String {
    rfc3339.get(..16).unwrap_or(rfc3339).replace('T', " ")
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "0%".into();
    }
    let pct = 100.0 * part as f64 / whole as f64;
    if pct > 0.0 && pct < 0.1 {
        "<0.1%".into()
    } else {
        format!("{pct:.1}%")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> CampaignFacts {
        CampaignFacts {
            id: 1,
            name: "<b>list</b>".into(),
            source_file: "a&b.csv".into(),
            state: CampaignState::Halted,
            state_reason: Some("vendor said <script>alert(1)</script>".into()),
            settings: String::new(),
            header: "[]".into(),
            created_at_ms: 1_800_000_000_000,
            started_at_ms: Some(1_800_000_001_000),
            finished_at_ms: None,
            updated_at_ms: 1_800_000_100_000,
            archived_at_ms: None,
            rows: [(RowState::Answered, 3), (RowState::Pending, 1)].into(),
            attempts: 3,
            talk_secs: 90,
            fees: vec![("0.06".into(), 3)],
            causes: vec![(0, 3)],
            held_by_cap: 0,
        }
    }

    #[test]
    fn the_page_is_self_contained_and_escapes_every_text() {
        let facts = facts();
        let account = super::super::figures::AccountStatus::of(None);
        let context = super::super::figures::Context {
            now: Timestamp::from_second(1_800_000_100).unwrap(),
            calendar: &crate::calendar::Calendar::built_in(),
            account_rate: 10,
            account: &account,
            calls_per_sec_1m: 0.5,
            warnings: &[],
        };
        let status = super::super::figures::campaign_status(&facts, None, &context);
        let html = render(&PageInput {
            status: &status,
            facts: &facts,
            settings: None,
            calls: &[(1_800_000_001, 2), (1_800_000_030, 1)],
            zone: &TimeZone::UTC,
            now: context.now,
            account_rate: 10,
        })
        .unwrap();
        assert!(html.contains("alert(1)") && html.contains("list"));
        assert!(!html.contains("<b>list") && !html.contains("a&b.csv"));
        for external in [
            "<script", "<link", "<img", "@import", "url(", "http:", "https:",
        ] {
            assert!(!html.contains(external), "{external} in the page");
        }
        assert!(html.contains("¥0.18"));
        assert!(html.contains("<svg"));
    }

    #[test]
    fn numbers_read_naturally() {
        assert_eq!(percent(1, 3), "33.3%");
        assert_eq!(percent(1, 10_000), "<0.1%");
    }
}
