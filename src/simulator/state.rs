//! The simulator's world: the calls it placed, the call records they leave, the templates
//! and their review. Synchronous and clock-driven, so the HTTP layer only translates.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use serde::Serialize;
use tokio::time::Instant;

use super::{CdrOrder, Outcome, SimulatorOptions, TemplateReview};
use crate::vendor::time as vendor_time;
use crate::vendor::wire::{
    CDR_NOTIFY_TYPE, CdrNotify, CdrRecord, Review, TemplateAuditNotify, TemplateRow,
    VoiceNotifyCommand,
};

/// The first record key, as in the original's samples.
const FIRST_KEY: u64 = 573_264;
/// The first template id handed out.
const FIRST_TEMPLATE_ID: u64 = 63;

/// One call the simulator placed: the log a test counts duplicates in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlacedCall {
    /// Milliseconds since the epoch when it was placed.
    pub placed_at_ms: u64,
    pub key: u64,
    pub session: String,
    pub seq: String,
    pub user_data: String,
    pub caller: String,
    pub callee: String,
    pub content: String,
    pub cycle_play_times: String,
    pub outcome: Outcome,
}

/// A call record and when it becomes visible.
#[derive(Clone, Debug)]
pub struct StoredCdr {
    pub key: u64,
    pub visible_at: Instant,
    pub start: Timestamp,
    pub record: CdrRecord,
    /// The command's `seq`, which a push carries.
    pub seq: String,
}

impl StoredCdr {
    /// The push this record makes.
    pub fn notify(&self) -> CdrNotify {
        let r = &self.record;
        CdrNotify {
            kind: CDR_NOTIFY_TYPE.into(),
            start_time: r.start_time.clone(),
            ring_time: r.ring_time.clone(),
            answer_time: r.answer_time.clone(),
            bye_time: r.bye_time.clone(),
            callee: r.callee.clone(),
            caller: r.caller.clone(),
            key_press: String::new(),
            record_file: r.filename.clone(),
            service: "21".into(),
            session: r.session.clone(),
            seq: self.seq.clone(),
            user_data: r.user_data.clone(),
            result_code: "0".into(),
            time_length: r.time_length.unwrap_or(0).to_string(),
            release_cause: r.release_cause.unwrap_or(0).to_string(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct SimTemplate {
    pub id: u64,
    pub name: String,
    pub content: String,
    pub submit_time: i64,
    pub status: Review,
    pub remark: String,
}

/// What getCdrList asks for, already parsed.
#[derive(Clone, Debug, Default)]
pub struct CdrFilter {
    pub from: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub start_key: Option<u64>,
    pub caller: String,
    pub callee: String,
    pub min_secs: Option<u64>,
    pub max_secs: Option<u64>,
}

pub struct State {
    pub options: SimulatorOptions,
    rng: StdRng,
    next_key: u64,
    next_template: u64,
    pub calls: Vec<PlacedCall>,
    /// How many well-formed, authenticated requests each API has answered.
    pub requests: BTreeMap<String, u64>,
    /// How many requests each API refused for their digest.
    pub refused: BTreeMap<String, u64>,
    /// In placement order: keys, start times and visibility all ascend, so getCdrList
    /// finds its range by binary search.
    pub cdrs: Vec<StoredCdr>,
    pub templates: BTreeMap<u64, SimTemplate>,
    zone: TimeZone,
}

impl State {
    pub fn new(options: SimulatorOptions) -> State {
        State {
            rng: StdRng::seed_from_u64(options.seed),
            zone: TimeZone::get("Asia/Shanghai")
                .expect("the bundled time zone database has Asia/Shanghai"),
            options,
            next_key: FIRST_KEY,
            next_template: FIRST_TEMPLATE_ID,
            calls: Vec::new(),
            requests: BTreeMap::new(),
            refused: BTreeMap::new(),
            cdrs: Vec::new(),
            templates: BTreeMap::new(),
        }
    }

    pub fn zone(&self) -> &TimeZone {
        &self.zone
    }

    /// A uniform draw in `[0, 1)`, for fault rates.
    pub fn roll(&mut self) -> f64 {
        self.rng.random::<f64>()
    }

    /// The latency to add to an answer, drawn from the configured range.
    pub fn latency(&mut self) -> Duration {
        let (lo, hi) = self.options.latency;
        if hi <= lo {
            return lo;
        }
        lo + (hi - lo).mul_f64(self.rng.random::<f64>())
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        items.shuffle(&mut self.rng);
    }

    /// Places one call: logs it, draws its outcome, and stores the record it will leave;
    /// returns both.
    pub fn place(
        &mut self,
        command: &VoiceNotifyCommand,
        now: Timestamp,
        clock: Instant,
    ) -> (&PlacedCall, &StoredCdr) {
        let key = self.next_key;
        self.next_key += 1;
        // A clock step back never puts a call before the one placed ahead of it.
        let (now, clock) = match self.cdrs.last() {
            Some(last) => (
                now.max(last.start),
                clock.max(last.visible_at - self.options.cdr_delay),
            ),
            None => (now, clock),
        };
        let outcome = self.draw_outcome();
        let session = format!("{}-{:04}-{key}", now.as_second(), key % 10_000);
        let user_data: String = command.user_data.chars().take(40).collect();
        let call = PlacedCall {
            placed_at_ms: now.as_millisecond() as u64,
            key,
            session,
            seq: command.seq.clone(),
            user_data,
            caller: command.caller.clone(),
            callee: command.callee.clone(),
            content: command.content.clone(),
            cycle_play_times: command.cycle_play_times.clone(),
            outcome,
        };
        let cdr = self.record_of(&call, now, clock);
        self.calls.push(call);
        self.cdrs.push(cdr);
        (
            self.calls.last().expect("just pushed"),
            self.cdrs.last().expect("just pushed"),
        )
    }

    fn draw_outcome(&mut self) -> Outcome {
        let weights = self.options.outcomes.weights();
        let total: u32 = weights.iter().map(|(_, w)| w).sum();
        if total == 0 {
            return Outcome::Answered;
        }
        let mut pick = self.rng.random_range(0..total);
        for (outcome, weight) in weights {
            if pick < weight {
                return outcome;
            }
            pick -= weight;
        }
        Outcome::Answered
    }

    fn record_of(&mut self, call: &PlacedCall, start: Timestamp, clock: Instant) -> StoredCdr {
        let ring = start + Duration::from_secs(1);
        let (result, cause, talk) = match call.outcome {
            Outcome::Answered => {
                let (lo, hi) = self.options.talk_secs;
                ("1", 0, self.rng.random_range(lo..=hi.max(lo)))
            }
            Outcome::NoAnswer => ("2", if self.rng.random_bool(0.8) { 305 } else { 303 }, 0),
            Outcome::Busy => ("2", 306, 0),
            Outcome::Empty => ("3", 304, 0),
            Outcome::Failed => ("2", 401, 0),
        };
        let answered = talk > 0;
        let answer = ring
            + Duration::from_secs(if answered {
                self.rng.random_range(2..=8)
            } else {
                0
            });
        let bye = if answered {
            answer + Duration::from_secs(talk)
        } else {
            ring + Duration::from_secs(self.rng.random_range(5..=40))
        };
        let fee = if answered {
            fee_for(talk, self.options.fee_per_minute_fen)
        } else {
            "0".to_string()
        };
        let at = |t: Timestamp| vendor_time::format(t, &self.zone);
        let filename = if answered {
            let local = start.to_zoned_datetime(self.zone.clone());
            format!(
                "/data/voicerecord/3/{}/{}-{}-{}.mp3",
                local.strftime("%Y%m%d"),
                local.strftime("%Y%m%d-%H%M%S"),
                call.callee,
                call.key
            )
        } else {
            String::new()
        };
        let record = CdrRecord {
            key: call.key.to_string(),
            service_type: "21".into(),
            start_time: at(start),
            ring_time: at(ring),
            answer_time: at(answer),
            bye_time: at(bye),
            caller: call.caller.clone(),
            callee: call.callee.clone(),
            time_length: Some(talk),
            fee,
            release_cause: Some(cause),
            filename,
            session: call.session.clone(),
            user_data: call.user_data.clone(),
            task_id: "0".into(),
            result: result.into(),
            ..CdrRecord::default()
        };
        StoredCdr {
            key: call.key,
            visible_at: clock + self.options.cdr_delay,
            start,
            record,
            seq: call.seq.clone(),
        }
    }

    /// getCdrList: the matching records visible now, the lowest `page_size` keys from
    /// `start_key` on (inclusive), in the configured order; and how many matched in all.
    pub fn cdr_page(&mut self, filter: &CdrFilter, now: Instant) -> (Vec<CdrRecord>, usize) {
        let visible = &self.cdrs[..self.cdrs.partition_point(|c| c.visible_at <= now)];
        let from = filter
            .from
            .map_or(0, |f| visible.partition_point(|c| c.start < f));
        let until = filter
            .until
            .map_or(visible.len(), |u| visible.partition_point(|c| c.start <= u));
        let window = &visible[from..until.max(from)];
        let first = filter
            .start_key
            .map_or(0, |k| window.partition_point(|c| c.key < k));
        let matches = |c: &&StoredCdr| {
            let secs = c.record.time_length.unwrap_or(0);
            (filter.caller.is_empty() || c.record.caller == filter.caller)
                && (filter.callee.is_empty() || c.record.callee == filter.callee)
                && filter.min_secs.is_none_or(|m| secs >= m)
                && filter.max_secs.is_none_or(|m| secs <= m)
        };
        let unfiltered = filter.caller.is_empty()
            && filter.callee.is_empty()
            && filter.min_secs.is_none()
            && filter.max_secs.is_none();
        let total = if unfiltered {
            window.len()
        } else {
            window.iter().filter(matches).count()
        };
        let mut page: Vec<CdrRecord> = window[first..]
            .iter()
            .filter(matches)
            .take(self.options.page_size)
            .map(|c| c.record.clone())
            .collect();
        match self.options.cdr_order {
            CdrOrder::Ascending => {}
            CdrOrder::Descending => page.reverse(),
            CdrOrder::Shuffled => page.shuffle(&mut self.rng),
        }
        (page, total)
    }

    /// getOneCdr: visible records by session or userData, in getOneCdr's own field names.
    pub fn one_cdr(&self, session: &str, user_data: &str, now: Instant) -> Vec<CdrRecord> {
        self.cdrs
            .iter()
            .filter(|c| c.visible_at <= now)
            .filter(|c| {
                (!session.is_empty() && c.record.session == session)
                    || (!user_data.is_empty() && c.record.user_data == user_data)
            })
            .map(|c| CdrRecord {
                time_len: c.record.time_length,
                time_length: None,
                voice_sign: c.record.session.clone(),
                session: String::new(),
                release_cause: None,
                record_name: c
                    .record
                    .filename
                    .rsplit('/')
                    .next()
                    .unwrap_or("")
                    .to_string(),
                ..c.record.clone()
            })
            .collect()
    }

    /// Stores a new template, pending or approved as the review mode says.
    pub fn add_template(&mut self, name: &str, content: &str, now: Timestamp) -> SimTemplate {
        let id = self.next_template;
        self.next_template += 1;
        let template = SimTemplate {
            id,
            name: name.into(),
            content: content.into(),
            submit_time: now.as_second(),
            status: self.initial_status(),
            remark: String::new(),
        };
        self.templates.insert(id, template.clone());
        template
    }

    /// Changes a template; an edit goes through review again. `None` if it does not exist.
    pub fn edit_template(
        &mut self,
        id: u64,
        name: Option<&str>,
        content: Option<&str>,
    ) -> Option<SimTemplate> {
        let status = self.initial_status();
        let template = self.templates.get_mut(&id)?;
        if let Some(name) = name {
            template.name = name.into();
        }
        if let Some(content) = content {
            template.content = content.into();
        }
        template.status = status;
        Some(template.clone())
    }

    /// Approves or rejects a template; `None` if it does not exist.
    pub fn review(&mut self, id: u64, approve: bool, remark: &str) -> Option<SimTemplate> {
        let template = self.templates.get_mut(&id)?;
        template.status = if approve {
            Review::Approved
        } else {
            Review::Rejected
        };
        template.remark = remark.into();
        Some(template.clone())
    }

    fn initial_status(&self) -> Review {
        match self.options.templates {
            TemplateReview::AutoApprove => Review::Approved,
            TemplateReview::Hold => Review::Pending,
        }
    }

    pub fn template_rows(&self) -> Vec<TemplateRow> {
        let customer = self.options.customer.clone();
        self.templates
            .values()
            .rev()
            .map(|t| t.row(&customer))
            .collect()
    }
}

impl SimTemplate {
    pub fn row(&self, customer: &str) -> TemplateRow {
        TemplateRow {
            key: self.id.to_string(),
            id: self.id.to_string(),
            name: self.name.clone(),
            submit_time: self.submit_time.to_string(),
            verify_status: self.status.code().into(),
            content: self.content.clone(),
            remark: self.remark.clone(),
            customer: customer.into(),
        }
    }

    pub fn audit(&self) -> TemplateAuditNotify {
        TemplateAuditNotify {
            id: self.id.to_string(),
            content: self.content.clone(),
            remark: self.remark.clone(),
            status: self.status.code().into(),
        }
    }
}

/// The fee of a call of `talk_secs`, billed per started minute at `fen_per_minute`
/// (hundredths of a yuan), as an exact decimal of yuan.
fn fee_for(talk_secs: u64, fen_per_minute: u64) -> String {
    let fen = talk_secs.div_ceil(60) * fen_per_minute;
    let text = format!("{}.{:02}", fen / 100, fen % 100);
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fees_are_exact_per_started_minute() {
        assert_eq!(fee_for(9, 6), "0.06");
        assert_eq!(fee_for(61, 6), "0.12");
        assert_eq!(fee_for(3 * 60, 6), "0.18");
        assert_eq!(fee_for(10 * 60, 10), "1");
    }

    #[test]
    fn outcomes_follow_the_seeded_weights() {
        let options = SimulatorOptions::default();
        let mut a = State::new(options.clone());
        let mut b = State::new(options);
        let draws: Vec<Outcome> = (0..2000).map(|_| a.draw_outcome()).collect();
        assert_eq!(
            draws,
            (0..2000).map(|_| b.draw_outcome()).collect::<Vec<_>>()
        );
        let answered = draws.iter().filter(|o| **o == Outcome::Answered).count();
        assert!(
            (1000..1400).contains(&answered),
            "{answered} of 2000 at weight 60%"
        );
    }
}
