//! Call records (from the list, from getOneCdr, from a push) reduced to the
//! [`Settlement`] the store applies: classified by the spec notes' table, times read in
//! the vendor's zone. Pure.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use callcenter_openapi::causes::{RecordFacts, categorize};
use callcenter_openapi::time as vendor_time;
use callcenter_openapi::wire::{CdrNotify, CdrRecord};

use crate::domain::RecordClass;
use crate::store::Settlement;

/// A listed or looked-up record; `None` without a session (it could not be applied once
/// and only once).
pub fn from_record(record: &CdrRecord, zone: &TimeZone) -> Option<Settlement> {
    settlement(
        Fields {
            session: record.session_id(),
            user_data: &record.user_data,
            callee: &record.callee,
            start: &record.start_time,
            answer: &record.answer_time,
            bye: &record.bye_time,
            fee: Some(&record.fee),
            recording: &record.filename,
        },
        record.facts(),
        zone,
    )
}

/// A pushed record (no `result`, no fee: the talk time and the cause decide).
pub fn from_push(notify: &CdrNotify, zone: &TimeZone) -> Option<Settlement> {
    settlement(
        Fields {
            session: &notify.session,
            user_data: &notify.user_data,
            callee: &notify.callee,
            start: &notify.start_time,
            answer: &notify.answer_time,
            bye: &notify.bye_time,
            fee: None,
            recording: &notify.record_file,
        },
        notify.facts(),
        zone,
    )
}

struct Fields<'a> {
    session: &'a str,
    user_data: &'a str,
    callee: &'a str,
    start: &'a str,
    answer: &'a str,
    bye: &'a str,
    fee: Option<&'a str>,
    recording: &'a str,
}

fn settlement(fields: Fields<'_>, facts: RecordFacts, zone: &TimeZone) -> Option<Settlement> {
    let session = fields.session.trim();
    if session.is_empty() {
        return None;
    }
    let time = |text: &str| vendor_time::parse(text, zone);
    let text = |t: Option<Timestamp>| t.map(|t| t.to_string());
    let non_empty = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let talked = facts.talk_secs.unwrap_or(0) > 0;
    Some(Settlement {
        user_data: non_empty(fields.user_data),
        session: session.to_string(),
        callee: fields.callee.trim().to_string(),
        start_ms: time(fields.start).map(|t| t.as_millisecond()),
        class: RecordClass::of(categorize(facts)),
        cause: facts.release_cause,
        // The vendor writes the ring time as the answer time of a call nobody answered.
        answer_time: if talked {
            text(time(fields.answer))
        } else {
            None
        },
        end_time: text(time(fields.bye)),
        talk_secs: facts.talk_secs,
        fee: fields.fee.and_then(non_empty),
        recording: non_empty(fields.recording),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Outcome, RecordClass, RetryClass};

    fn shanghai() -> TimeZone {
        TimeZone::get("Asia/Shanghai").unwrap()
    }

    #[test]
    fn a_listed_record_reads_its_times_in_the_vendor_zone() {
        let record = CdrRecord {
            key: "573263".into(),
            start_time: "2021-10-09 16:10:17".into(),
            answer_time: "2021-10-09 16:10:20".into(),
            bye_time: "2021-10-09 16:10:29".into(),
            callee: "13800138000".into(),
            time_length: Some(9),
            fee: "0.06".into(),
            release_cause: Some(0),
            filename: "/data/voicerecord/3/x.mp3".into(),
            session: "1633767017-0045-567389".into(),
            user_data: "vc-abc123-7-1".into(),
            result: "1".into(),
            ..CdrRecord::default()
        };
        let s = from_record(&record, &shanghai()).unwrap();
        assert_eq!(s.start_ms, Some(1_633_767_017_000));
        assert_eq!(s.answer_time.as_deref(), Some("2021-10-09T08:10:20Z"));
        assert_eq!(s.user_data.as_deref(), Some("vc-abc123-7-1"));
        assert_eq!(s.fee.as_deref(), Some("0.06"));
        assert_eq!(
            s.class,
            RecordClass::Outcome {
                outcome: Outcome::Answered,
                retry_class: None
            }
        );
        // In UTC the same text is eight hours later: a wrong zone misses the window.
        let utc = from_record(&record, &TimeZone::UTC).unwrap();
        assert_eq!(utc.start_ms, Some(1_633_767_017_000 + 8 * 3_600_000));
    }

    #[test]
    fn a_push_without_talk_time_is_classified_by_its_cause() {
        let notify = CdrNotify {
            session: "s-1".into(),
            user_data: "".into(),
            callee: "13800138000".into(),
            time_length: "0".into(),
            release_cause: "306".into(),
            ..CdrNotify::default()
        };
        let s = from_push(&notify, &shanghai()).unwrap();
        assert_eq!(s.user_data, None);
        assert_eq!(s.fee, None);
        assert_eq!(s.answer_time, None);
        assert_eq!(
            s.class,
            RecordClass::Outcome {
                outcome: Outcome::Busy,
                retry_class: Some(RetryClass::Busy)
            }
        );
        let no_session = CdrNotify::default();
        assert_eq!(from_push(&no_session, &shanghai()), None);
    }
}
