//! How records and templates print: one line each, tab-separated for people and `cut`,
//! or one JSON object a line.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use callcenter_openapi::causes::{self, categorize};
use callcenter_openapi::wire::{CdrRecord, TemplateRow};

use crate::domain::RecordClass;

/// `key, start, callee, outcome, talk, fee, cause, session, userData`.
pub fn record_line(record: &CdrRecord, json: bool) -> String {
    if json {
        return serde_json::to_string(record).expect("a record is plain data");
    }
    let facts = record.facts();
    let cause = facts.release_cause;
    let outcome = RecordClass::of(categorize(facts)).name();
    let cause_text = match cause {
        Some(code) => match causes::cause(code) {
            Some(c) => format!("{code} {}", c.en),
            None => code.to_string(),
        },
        None => "-".into(),
    };
    let fee = if record.fee.is_empty() {
        "0"
    } else {
        &record.fee
    };
    [
        record.key.as_str(),
        &record.start_time,
        &record.callee,
        outcome,
        &format!("{}s", record.talk_secs().unwrap_or(0)),
        fee,
        &cause_text,
        record.session_id(),
        &record.user_data,
    ]
    .join("\t")
}

/// `ID, status, submitted, name, content`.
pub fn template_line(row: &TemplateRow, zone: &TimeZone) -> String {
    let status = row.review().map_or(row.verify_status.trim(), |r| r.name());
    let submitted = row
        .submit_time
        .trim()
        .parse::<i64>()
        .ok()
        .and_then(|s| Timestamp::from_second(s).ok())
        .map(|t| callcenter_openapi::time::format(t, zone))
        .unwrap_or_else(|| row.submit_time.clone());
    [row.id.as_str(), status, &submitted, &row.name, &row.content].join("\t")
}
