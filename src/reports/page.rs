//! `report.html`: one self-contained page a campaign's readers can open offline, print or
//! forward: progress, outcomes, calls per minute over time, hang-up causes and cost, drawn
//! as inline SVG. No script, no external asset, no web font. Pure: the stage gives the
//! figures. The layout is `templates/report.html`; askama escapes every text put into it.

use askama::Template;
use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::figures::{CampaignStatus, fees_micro, parse_micro, yuan};
use super::summary::duration;
use crate::domain::{CampaignState, RowState};
use crate::settings::CampaignSettings;
use crate::store::CampaignFacts;
use crate::vendor::causes::cause;

/// How many hang-up causes the page lists.
const CAUSES_SHOWN: usize = 10;
/// The calls chart has at most this many columns; their width is the first step of
/// [`STEPS`] that fits the campaign's span.
const MAX_COLUMNS: i64 = 90;
const STEPS: [i64; 18] = [
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
];
/// The calls chart's drawing area inside its 800 × 220 view box.
const PLOT_LEFT: f64 = 56.0;
const PLOT_RIGHT: f64 = 790.0;
const PLOT_TOP: f64 = 12.0;
const PLOT_BOTTOM: f64 = 190.0;

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

struct Timeline {
    columns: Vec<Column>,
    y_ticks: Vec<Tick>,
    x_ticks: Vec<Tick>,
    step: String,
    peak: String,
}

struct Column {
    x: f64,
    y: f64,
    width: f64,
    height: f64,
    title: String,
}

struct Tick {
    at: f64,
    label: String,
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

/// Calls per minute over the campaign's span, in columns of one step each.
fn timeline(calls: &[(i64, u64)], zone: &TimeZone) -> Option<Timeline> {
    let (first, last) = (calls.first()?.0, calls.last()?.0);
    let span = last - first + 1;
    let step = STEPS
        .iter()
        .copied()
        .find(|s| (span + s - 1) / s <= MAX_COLUMNS)
        .unwrap_or(86400 * ((span + 86400 * MAX_COLUMNS - 1) / (86400 * MAX_COLUMNS)));
    let start = first.div_euclid(step) * step;
    let count = (last.div_euclid(step) * step - start) / step + 1;
    let mut buckets = vec![0u64; count as usize];
    for (second, n) in calls {
        buckets[((second - start) / step) as usize] += n;
    }
    let per_minute = |n: u64| n as f64 * 60.0 / step as f64;
    let peak_index = (0..buckets.len()).max_by_key(|i| buckets[*i])?;
    let peak = per_minute(buckets[peak_index]);
    let (top, tick) = axis(peak);
    let width = (PLOT_RIGHT - PLOT_LEFT) / count as f64;
    let y = |v: f64| PLOT_BOTTOM - (PLOT_BOTTOM - PLOT_TOP) * v / top;
    let format = if span > 86400 {
        "%m-%d %H:%M"
    } else if step < 60 {
        "%H:%M:%S"
    } else {
        "%H:%M"
    };
    let label = |i: usize| clock(start + i as i64 * step, zone, format);
    let columns = buckets
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(i, n)| {
            let value = per_minute(*n);
            Column {
                x: round1(PLOT_LEFT + i as f64 * width + width * 0.1),
                y: round1(y(value)),
                width: round1((width * 0.8).max(0.5)),
                height: round1(PLOT_BOTTOM - y(value)),
                title: format!("{}: {} calls ({} a minute)", label(i), n, number(value)),
            }
        })
        .collect();
    let ticks = (top / tick).round() as usize;
    let y_ticks = (0..=ticks)
        .map(|k| Tick {
            at: round1(y(k as f64 * tick)),
            label: number(k as f64 * tick),
        })
        .collect();
    let every = (count as usize).div_ceil(6).max(1);
    let x_ticks = (0..count as usize)
        .step_by(every)
        .map(|i| Tick {
            at: round1(PLOT_LEFT + i as f64 * width),
            label: label(i),
        })
        .collect();
    Some(Timeline {
        columns,
        y_ticks,
        x_ticks,
        step: step_name(step),
        peak: format!(
            "peak {} calls a minute at {}",
            number(peak),
            label(peak_index)
        ),
    })
}

/// The axis top and its tick step for values up to `peak`: 1, 2 or 5 times a power of
/// ten, three to five ticks above zero.
fn axis(peak: f64) -> (f64, f64) {
    let raw = (peak / 5.0).max(0.1);
    let magnitude = 10f64.powf(raw.log10().floor());
    let tick = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|t| *t >= raw)
        .unwrap_or(10.0 * magnitude);
    ((peak / tick).ceil().max(1.0) * tick, tick)
}

fn step_name(step: i64) -> String {
    match step {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s / 60),
        s if s < 86400 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86400),
    }
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
    Timestamp::from_millisecond(ms)
        .unwrap_or(Timestamp::UNIX_EPOCH)
        .to_zoned_datetime(zone.clone())
        .strftime("%Y-%m-%d %H:%M:%S")
        .to_string()
}

fn clock(second: i64, zone: &TimeZone, format: &str) -> String {
    Timestamp::from_second(second)
        .unwrap_or(Timestamp::UNIX_EPOCH)
        .to_zoned_datetime(zone.clone())
        .strftime(format)
        .to_string()
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

/// `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A chart value: whole when it is, else one decimal.
fn number(v: f64) -> String {
    if (v - v.round()).abs() < 0.05 {
        thousands(v.round() as u64)
    } else {
        format!("{v:.1}")
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_end_on_round_numbers() {
        assert_eq!(axis(87.0), (100.0, 20.0));
        assert_eq!(axis(600.0), (600.0, 200.0));
        assert_eq!(axis(3.0), (3.0, 1.0));
        assert_eq!(axis(0.2), (0.2, 0.1));
    }

    #[test]
    fn the_timeline_steps_to_fit_the_span() {
        let zone = TimeZone::UTC;
        // Ten minutes of calls, one a second: 10-second columns, 600 a minute.
        let calls: Vec<(i64, u64)> = (0..600).map(|s| (1_800_000_000 + s, 1)).collect();
        let ten_minutes = timeline(&calls, &zone).unwrap();
        assert_eq!(ten_minutes.step, "10 s");
        assert_eq!(ten_minutes.columns.len(), 60);
        assert!(ten_minutes.peak.starts_with("peak 60 calls a minute"));
        // Two days: hour-long columns, labelled with the date.
        let calls = [(1_800_000_000, 5), (1_800_000_000 + 2 * 86400, 1)];
        let two_days = timeline(&calls, &zone).unwrap();
        assert_eq!(two_days.step, "1 h");
        assert_eq!(two_days.columns.len(), 2);
        assert_eq!(two_days.x_ticks[0].label.len(), "01-15 08:00".len());
        assert!(timeline(&[], &zone).is_none());
    }

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
            rows: [(RowState::Answered, 3), (RowState::Pending, 1)].into(),
            attempts: 3,
            talk_secs: 90,
            fees: vec![("0.06".into(), 3)],
            causes: vec![(0, 3)],
        }
    }

    #[test]
    fn the_page_is_self_contained_and_escapes_every_text() {
        let facts = facts();
        let account = super::super::figures::AccountStatus::of(None);
        let context = super::super::figures::Context {
            now: Timestamp::from_second(1_800_000_100).unwrap(),
            account_rate: 10,
            account: &account,
            calls_per_sec_1m: 0.5,
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
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(percent(1, 3), "33.3%");
        assert_eq!(percent(1, 10_000), "<0.1%");
        assert_eq!(number(2.5), "2.5");
        assert_eq!(number(1500.0), "1,500");
    }
}
