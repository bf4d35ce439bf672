//! The simulator's world: the calls it placed, the call records they leave, the templates
//! and their review. Synchronous and clock-driven, so the HTTP layer only translates.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use serde::Serialize;
use tokio::time::Instant;

use super::cdr::{RING_AFTER_START, StoredCdr, fee_fen};
use super::{CdrOrder, Outcome, SimulatorOptions, TemplateReview};
use callcenter_openapi::client::MAX_USER_DATA;
use callcenter_openapi::wire::{
    CdrRecord, Review, TemplateAuditNotify, TemplateRow, VoiceNotifyCommand,
};

/// The first record key, as in the original's samples; calls are numbered from it too.
const FIRST_KEY: u64 = 573_264;
/// The first template id handed out.
const FIRST_TEMPLATE_ID: u64 = 63;

/// One call the simulator placed: the log a test counts duplicates in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlacedCall {
    /// Milliseconds since the epoch when it was placed.
    pub placed_at_ms: u64,
    pub session: String,
    pub seq: String,
    pub user_data: String,
    pub caller: String,
    pub callee: String,
    pub content: String,
    pub cycle_play_times: String,
    pub outcome: Outcome,
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
    next_template: u64,
    pub calls: Vec<PlacedCall>,
    /// How many well-formed, authenticated requests each API has answered.
    pub requests: BTreeMap<String, u64>,
    /// How many requests each API refused for their digest.
    pub refused: BTreeMap<String, u64>,
    /// The record of each call in `calls`, at the same index. In placement order, start
    /// times ascend, so a time window is found by binary search.
    pub cdrs: Vec<StoredCdr>,
    /// The records that exist, by index, in the order they came into being (when their
    /// calls ended): a record's key is `FIRST_KEY` plus its place here, so keys ascend
    /// as a call center's record ids do, and a long call's record gets a higher key than
    /// the short calls that ended before it.
    written: Vec<usize>,
    /// The records of calls not yet ended, by when they will be written.
    unwritten: BinaryHeap<Reverse<(Instant, usize)>>,
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
            next_template: FIRST_TEMPLATE_ID,
            calls: Vec::new(),
            requests: BTreeMap::new(),
            refused: BTreeMap::new(),
            cdrs: Vec::new(),
            written: Vec::new(),
            unwritten: BinaryHeap::new(),
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

    /// Places one call: logs it, draws its outcome, and stores the record it will leave
    /// when it ends; returns its index in `calls` (and its record's in `cdrs`).
    pub fn place(&mut self, command: VoiceNotifyCommand, now: Timestamp, clock: Instant) -> usize {
        let number = FIRST_KEY + self.calls.len() as u64;
        // A clock step back never puts a call before the one placed ahead of it.
        let now = self.cdrs.last().map_or(now, |last| now.max(last.start));
        let outcome = self.draw_outcome();
        let session = format!("{}-{:04}-{number}", now.as_second(), number % 10_000);
        let user_data = kept_user_data(&command.user_data);
        let call = PlacedCall {
            placed_at_ms: now.as_millisecond() as u64,
            session,
            seq: command.seq,
            user_data,
            caller: command.caller,
            callee: command.callee,
            content: command.content,
            cycle_play_times: command.cycle_play_times,
            outcome,
        };
        let cdr = self.record_of(outcome, now, clock);
        let index = self.calls.len();
        self.unwritten.push(Reverse((cdr.visible_at, index)));
        self.calls.push(call);
        self.cdrs.push(cdr);
        index
    }

    /// Writes the records of the calls that have ended by `now`, in the order they
    /// ended, each under the next key.
    fn write_records(&mut self, now: Instant) {
        while let Some(Reverse((at, index))) = self.unwritten.peek().copied() {
            if at > now {
                break;
            }
            self.unwritten.pop();
            self.cdrs[index].key = Some(FIRST_KEY + self.written.len() as u64);
            self.written.push(index);
        }
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

    fn record_of(&mut self, outcome: Outcome, start: Timestamp, clock: Instant) -> StoredCdr {
        let (result, cause, talk_secs) = match outcome {
            Outcome::Answered => {
                let (lo, hi) = self.options.talk_secs;
                (1, 0, self.rng.random_range(lo..=hi.max(lo)))
            }
            Outcome::NoAnswer => (2, if self.rng.random_bool(0.8) { 305 } else { 303 }, 0),
            Outcome::Busy => (2, 306, 0),
            Outcome::Empty => (3, 304, 0),
            Outcome::Failed => (2, 401, 0),
            Outcome::CalleeFrequency => (2, 409, 0),
            Outcome::CallerFrequency => (2, 410, 0),
            Outcome::ServiceHours => (2, 429, 0),
        };
        let answered = talk_secs > 0;
        let (answer_after_ring, bye_after_ring) = if answered {
            let answer = self.rng.random_range(2..=8);
            (answer, answer + talk_secs)
        } else {
            (0, self.rng.random_range(5..=40))
        };
        // The record is written when the call ends, as a call center writes it: after the
        // ring, the talk and the hang-up, then the delay.
        let call_time = (RING_AFTER_START + Duration::from_secs(bye_after_ring))
            .mul_f64(self.options.call_time_scale);
        StoredCdr {
            key: None,
            visible_at: clock + call_time + self.options.cdr_delay,
            start,
            result,
            cause,
            talk_secs,
            answer_after_ring,
            bye_after_ring,
            // Nothing to bill for an unanswered call: no talk time, no started minute.
            fee_fen: fee_fen(talk_secs, self.options.fee_per_minute_fen),
        }
    }

    /// getCdrList: the matching records written by now with the lowest `page_size` keys
    /// from `start_key` on (inclusive), in the configured order; and how many matched in
    /// all.
    pub fn cdr_page(&mut self, filter: &CdrFilter, now: Instant) -> (Vec<CdrRecord>, usize) {
        self.write_records(now);
        let cdrs = &self.cdrs;
        let calls = &self.calls;
        let in_window = |c: &StoredCdr| {
            filter.from.is_none_or(|f| c.start >= f) && filter.until.is_none_or(|u| c.start <= u)
        };
        let matches = |i: usize| {
            let (call, c) = (&calls[i], &cdrs[i]);
            in_window(c)
                && (filter.caller.is_empty() || call.caller == filter.caller)
                && (filter.callee.is_empty() || call.callee == filter.callee)
                && filter.min_secs.is_none_or(|m| c.talk_secs >= m)
                && filter.max_secs.is_none_or(|m| c.talk_secs <= m)
        };
        let unfiltered = filter.caller.is_empty()
            && filter.callee.is_empty()
            && filter.min_secs.is_none()
            && filter.max_secs.is_none();
        let total = if unfiltered {
            // The calls placed in the window (start times ascend in placement order),
            // less those whose records are not written yet.
            let from = filter
                .from
                .map_or(0, |f| cdrs.partition_point(|c| c.start < f));
            let until = filter
                .until
                .map_or(cdrs.len(), |u| cdrs.partition_point(|c| c.start <= u));
            let unwritten = self
                .unwritten
                .iter()
                .filter(|Reverse((_, i))| in_window(&cdrs[*i]))
                .count();
            until.saturating_sub(from) - unwritten
        } else {
            self.written.iter().filter(|i| matches(**i)).count()
        };
        let first = filter.start_key.map_or(0, |k| {
            usize::try_from(k.saturating_sub(FIRST_KEY)).unwrap_or(usize::MAX)
        });
        let mut page: Vec<CdrRecord> = self
            .written
            .iter()
            .skip(first)
            .filter(|i| matches(**i))
            .take(self.options.page_size)
            .map(|i| cdrs[*i].record(&calls[*i], &self.zone))
            .collect();
        match self.options.cdr_order {
            CdrOrder::Ascending => {}
            CdrOrder::Descending => page.reverse(),
            CdrOrder::Shuffled => page.shuffle(&mut self.rng),
        }
        (page, total)
    }

    /// getOneCdr: written records by session or userData, in getOneCdr's own field
    /// names.
    pub fn one_cdr(&mut self, session: &str, user_data: &str, now: Instant) -> Vec<CdrRecord> {
        self.write_records(now);
        self.calls
            .iter()
            .zip(&self.cdrs)
            .filter(|(call, c)| {
                c.key.is_some()
                    && ((!session.is_empty() && call.session == session)
                        || (!user_data.is_empty() && call.user_data == user_data))
            })
            .map(|(call, c)| {
                let record = c.record(call, &self.zone);
                CdrRecord {
                    time_len: record.time_length,
                    time_length: None,
                    voice_sign: record.session.clone(),
                    session: String::new(),
                    release_cause: None,
                    record_name: record.filename.rsplit('/').next().unwrap_or("").to_string(),
                    ..record
                }
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

/// The part of a `userData` the vendor keeps: its first 40 characters.
pub fn kept_user_data(user_data: &str) -> String {
    match user_data.char_indices().nth(MAX_USER_DATA) {
        Some((end, _)) => user_data[..end].to_string(),
        None => user_data.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OutcomeWeights;

    fn command(callee: &str) -> VoiceNotifyCommand {
        VoiceNotifyCommand {
            seq: "1".into(),
            user_data: format!("u-{callee}"),
            caller: String::new(),
            callee: callee.into(),
            content: "hello".into(),
            cycle_play_times: "1".into(),
        }
    }

    #[test]
    fn a_record_is_written_when_its_call_ends_and_keys_follow_the_ends() {
        let mut state = State::new(SimulatorOptions {
            outcomes: OutcomeWeights::parse("answered=1").unwrap(),
            talk_secs: (60, 60),
            cdr_delay: Duration::from_secs(2),
            ..SimulatorOptions::default()
        });
        let (now, clock) = (Timestamp::now(), Instant::now());
        let long = state.place(command("13800138000"), now, clock);
        state.options.talk_secs = (1, 1);
        let short = state.place(command("13800138001"), now, clock);
        let listed = |state: &mut State, after: u64| {
            let at = clock + Duration::from_secs(after);
            let (page, total) = state.cdr_page(&CdrFilter::default(), at);
            let keys: Vec<(String, String)> = page.into_iter().map(|r| (r.callee, r.key)).collect();
            (keys, total)
        };
        // The ring comes a second after the start, the answer 2 to 8 s later, the talk
        // lasts its time, and the record follows 2 s after the hang-up.
        assert_eq!(listed(&mut state, 3), (vec![], 0));
        assert_eq!(
            listed(&mut state, 13),
            (vec![("13800138001".into(), FIRST_KEY.to_string())], 1)
        );
        assert!(
            state
                .one_cdr("", "u-13800138000", clock + Duration::from_secs(63))
                .is_empty()
        );
        let (mut page, total) = listed(&mut state, 72);
        page.sort();
        assert_eq!(
            (page, total),
            (
                vec![
                    ("13800138000".into(), (FIRST_KEY + 1).to_string()),
                    ("13800138001".into(), FIRST_KEY.to_string()),
                ],
                2
            )
        );
        assert_eq!((long, short), (0, 1));
        // Read from a key, the page holds that key and the ones above it.
        let (page, _) = state.cdr_page(
            &CdrFilter {
                start_key: Some(FIRST_KEY + 1),
                ..CdrFilter::default()
            },
            clock + Duration::from_secs(72),
        );
        assert_eq!(page.len(), 1);
        assert_eq!(page[0].callee, "13800138000");
    }

    #[test]
    fn a_call_time_scale_shortens_the_call_but_not_its_record() {
        let mut state = State::new(SimulatorOptions {
            outcomes: OutcomeWeights::parse("answered=1").unwrap(),
            talk_secs: (60, 60),
            cdr_delay: Duration::ZERO,
            call_time_scale: 0.01,
            ..SimulatorOptions::default()
        });
        let (now, clock) = (Timestamp::now(), Instant::now());
        state.place(command("13800138000"), now, clock);
        let at = |ms| clock + Duration::from_millis(ms);
        assert_eq!(state.cdr_page(&CdrFilter::default(), at(600)).1, 0);
        let (page, _) = state.cdr_page(&CdrFilter::default(), at(700));
        assert_eq!(page[0].time_length, Some(60));
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
