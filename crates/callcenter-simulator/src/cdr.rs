//! The call records the simulator keeps: the facts each call's outcome was drawn with,
//! under a hundred bytes a call, written out in the vendor's shapes (a listed record, a
//! push) only when asked for. A million placed calls keep their records in under a
//! hundred megabytes, not the gigabyte that ready-made records of two dozen strings each
//! would take.

use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use tokio::time::Instant;

use super::state::PlacedCall;
use callcenter_openapi::time as vendor_time;
use callcenter_openapi::wire::{CDR_NOTIFY_TYPE, CdrNotify, CdrRecord};

/// One call's record, as drawn when the call was placed.
#[derive(Clone, Copy, Debug)]
pub struct StoredCdr {
    /// The record's key, given when it is written (the call ended).
    pub key: Option<u64>,
    /// When the record is written: the call's ring and talk time, then the delay.
    pub visible_at: Instant,
    pub start: Timestamp,
    /// The record's `result`: 1 connected, 2 not connected, 3 empty number.
    pub result: u8,
    pub cause: u64,
    pub talk_secs: u64,
    /// Seconds from ringing to the answer (0 when not answered) and to the hang-up.
    pub answer_after_ring: u64,
    pub bye_after_ring: u64,
    /// The call's fee, in fen (0.01 yuan).
    pub fee_fen: u64,
}

/// A record's ring time: a second after the call starts.
pub const RING_AFTER_START: Duration = Duration::from_secs(1);

impl StoredCdr {
    /// The record as getCdrList lists it, in the vendor's zone (with an empty key until
    /// it is written).
    pub fn record(&self, call: &PlacedCall, zone: &TimeZone) -> CdrRecord {
        let ring = self.start + RING_AFTER_START;
        let at = |t: Timestamp| vendor_time::format(t, zone);
        let filename = if self.talk_secs > 0 {
            let local = self.start.to_zoned_datetime(zone.clone());
            format!(
                "/data/voicerecord/3/{}/{}-{}-{}.mp3",
                local.strftime("%Y%m%d"),
                local.strftime("%Y%m%d-%H%M%S"),
                call.callee,
                call.session
            )
        } else {
            String::new()
        };
        CdrRecord {
            key: self.key.map(|k| k.to_string()).unwrap_or_default(),
            service_type: "21".into(),
            start_time: at(self.start),
            ring_time: at(ring),
            answer_time: at(ring + Duration::from_secs(self.answer_after_ring)),
            bye_time: at(ring + Duration::from_secs(self.bye_after_ring)),
            caller: call.caller.clone(),
            callee: call.callee.clone(),
            time_length: Some(self.talk_secs),
            fee: fee_text(self.fee_fen),
            release_cause: Some(self.cause),
            filename,
            session: call.session.clone(),
            user_data: call.user_data.clone(),
            task_id: "0".into(),
            result: self.result.to_string(),
            ..CdrRecord::default()
        }
    }

    /// The push this record makes.
    pub fn notify(&self, call: &PlacedCall, zone: &TimeZone) -> CdrNotify {
        let r = self.record(call, zone);
        CdrNotify {
            kind: CDR_NOTIFY_TYPE.into(),
            start_time: r.start_time,
            ring_time: r.ring_time,
            answer_time: r.answer_time,
            bye_time: r.bye_time,
            callee: r.callee,
            caller: r.caller,
            key_press: String::new(),
            record_file: r.filename,
            service: "21".into(),
            session: r.session,
            seq: call.seq.clone(),
            user_data: r.user_data,
            result_code: "0".into(),
            time_length: self.talk_secs.to_string(),
            release_cause: self.cause.to_string(),
        }
    }
}

/// The fee of a call of `talk_secs`, billed per started minute at `fen_per_minute`.
pub fn fee_fen(talk_secs: u64, fen_per_minute: u64) -> u64 {
    talk_secs.div_ceil(60) * fen_per_minute
}

/// `fen` as an exact decimal of yuan, as the vendor writes fees: "0.06", "1", "0".
fn fee_text(fen: u64) -> String {
    let text = format!("{}.{:02}", fen / 100, fen % 100);
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fees_are_exact_per_started_minute() {
        let fee = |talk, rate| fee_text(fee_fen(talk, rate));
        assert_eq!(fee(9, 6), "0.06");
        assert_eq!(fee(61, 6), "0.12");
        assert_eq!(fee(3 * 60, 6), "0.18");
        assert_eq!(fee(10 * 60, 10), "1");
        assert_eq!(fee(0, 6), "0");
    }
}
