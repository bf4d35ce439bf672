//! What a call record means for its row: the product's policy over the protocol's neutral
//! categories (the spec notes' "Classifying a record" table), and the retry decision
//! reconcile makes when a record settles a row's latest attempt. Pure.

use callcenter_openapi::causes::{CallCategory, Refusal};
use serde::{Deserialize, Serialize};

use super::RowState;

/// The final outcome of a placed call, as a row state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Answered,
    NoAnswer,
    Busy,
    InvalidNumber,
    Failed,
}

impl Outcome {
    /// The row state this outcome leaves a row in.
    pub fn row_state(self) -> RowState {
        match self {
            Outcome::Answered => RowState::Answered,
            Outcome::NoAnswer => RowState::NoAnswer,
            Outcome::Busy => RowState::Busy,
            Outcome::InvalidNumber => RowState::InvalidNumber,
            Outcome::Failed => RowState::Failed,
        }
    }
}

/// The classes `retry_on` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryClass {
    NoAnswer,
    Busy,
    VendorFault,
}

/// What a call record means for its row and for the account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordClass {
    /// The call was placed and ended this way; `retry_class` is `None` for outcomes that
    /// are never retried.
    Outcome {
        outcome: Outcome,
        retry_class: Option<RetryClass>,
    },
    /// An account-level cause: stop all dialling; the row goes back to `pending` and the
    /// attempt does not count.
    AccountHalt { cause: u32 },
    /// A concurrency cause: slow down; the row goes back to `pending` and the attempt
    /// does not count.
    SlowDown { cause: u32 },
    /// Refused for frequency or time (409, 410, 429): not a failure, and the attempt
    /// does not count; PRODUCT.md section 4 says what follows each.
    Refused(Refusal),
}

impl RecordClass {
    /// The class of a record in `category`.
    pub fn of(category: CallCategory) -> RecordClass {
        use CallCategory::*;
        let outcome = |outcome, retry_class| RecordClass::Outcome {
            outcome,
            retry_class,
        };
        match category {
            Connected => outcome(Outcome::Answered, None),
            NoSuchNumber => outcome(Outcome::InvalidNumber, None),
            Barred => outcome(Outcome::Failed, None),
            AccountLevel { cause } => RecordClass::AccountHalt { cause },
            Concurrency { cause } => RecordClass::SlowDown { cause },
            Busy => outcome(Outcome::Busy, Some(RetryClass::Busy)),
            NoAnswer => outcome(Outcome::NoAnswer, Some(RetryClass::NoAnswer)),
            Refused(refusal) => RecordClass::Refused(refusal),
            Other { .. } => outcome(Outcome::Failed, Some(RetryClass::VendorFault)),
        }
    }

    /// The name `voicecast cdr list` prints for the class.
    pub fn name(self) -> &'static str {
        match self {
            RecordClass::Outcome { outcome, .. } => outcome.row_state().as_str(),
            RecordClass::AccountHalt { .. } => "account_halt",
            RecordClass::SlowDown { .. } => "slow_down",
            RecordClass::Refused(_) => "refused",
        }
    }
}

/// What a campaign allows after an outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub retry_after_ms: i64,
    pub retry_on: Vec<RetryClass>,
}

/// How many call records (answered, no_answer or busy) the answer-rate guard waits for
/// before it judges a campaign.
pub const GUARD_MIN_RECORDS: u64 = 200;

/// The answer-rate guard: the answer rate of `records` call records of which `answered`
/// were answered, when there are enough of them and it is below `floor`.
pub fn answer_rate_below(floor: f64, records: u64, answered: u64) -> Option<f64> {
    let rate = answered as f64 / records as f64;
    (records >= GUARD_MIN_RECORDS && rate < floor).then_some(rate)
}

impl RecordClass {
    /// Whether the record counts for the answer-rate guard, and if so, whether it was
    /// answered: only outcomes `answered`, `no_answer` and `busy` do.
    pub fn guard_count(self) -> Option<bool> {
        match self {
            RecordClass::Outcome { outcome, .. } => match outcome {
                Outcome::Answered => Some(true),
                Outcome::NoAnswer | Outcome::Busy => Some(false),
                Outcome::InvalidNumber | Outcome::Failed => None,
            },
            _ => None,
        }
    }
}

/// How often the vendor may refuse a row for its callee's frequency (409) and send it
/// back: the next refusal makes it `failed`.
pub const MAX_CALLEE_REFUSALS: u32 = 3;

/// What a refusal for the callee's frequency (409) needs besides the record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CalleeRefusals {
    /// How many times the row was refused so before this record.
    pub so_far: u32,
    /// How long the row then waits: the longest per-number cap window, or an hour
    /// without caps.
    pub wait_ms: i64,
}

/// What a row becomes when a call record settles its latest attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowVerdict {
    /// The row is final in this state, and the call counts as an attempt.
    Final(RowState),
    /// The row is `pending` again, due after `after_ms`; `counted` says whether the call
    /// counts as an attempt against `max_attempts`.
    Again { after_ms: i64, counted: bool },
}

/// The retry decision. `placed` is how many calls of the row were placed, this one
/// included; `policy` is the row's campaign's (none when the campaign is gone, which
/// retries nothing). An outcome whose class the policy retries sends the row back while
/// it has attempts left; an account-level or concurrency cause, or a refusal of the
/// caller's frequency (410) or outside service hours (429), sends it back at once,
/// uncounted, since the call center never tried the number; a refusal of the callee's
/// frequency (409) sends it back uncounted after `refusals.wait_ms`, up to
/// [`MAX_CALLEE_REFUSALS`] times, then it is `failed`.
pub fn verdict(
    class: RecordClass,
    placed: u32,
    policy: Option<&RetryPolicy>,
    refusals: CalleeRefusals,
) -> RowVerdict {
    let back = |after_ms| RowVerdict::Again {
        after_ms,
        counted: false,
    };
    match class {
        RecordClass::Outcome {
            outcome,
            retry_class,
        } => {
            let retried = retry_class.zip(policy).filter(|(class, policy)| {
                policy.retry_on.contains(class) && placed < policy.max_attempts
            });
            match retried {
                Some((_, policy)) => RowVerdict::Again {
                    after_ms: policy.retry_after_ms,
                    counted: true,
                },
                None => RowVerdict::Final(outcome.row_state()),
            }
        }
        RecordClass::Refused(Refusal::CalleeFrequency) => {
            if refusals.so_far < MAX_CALLEE_REFUSALS {
                back(refusals.wait_ms)
            } else {
                RowVerdict::Final(RowState::Failed)
            }
        }
        RecordClass::AccountHalt { .. }
        | RecordClass::SlowDown { .. }
        | RecordClass::Refused(Refusal::CallerFrequency | Refusal::OutsideServiceHours) => back(0),
    }
}

#[cfg(test)]
mod tests {
    use callcenter_openapi::causes::{CallResult, RecordFacts, all_causes, categorize};

    use super::*;

    fn class_of(
        connected: Option<CallResult>,
        talk: Option<u64>,
        cause: Option<u32>,
    ) -> RecordClass {
        RecordClass::of(categorize(RecordFacts {
            connected,
            talk_secs: talk,
            release_cause: cause,
        }))
    }

    fn outcome(outcome: Outcome, retry_class: Option<RetryClass>) -> RecordClass {
        RecordClass::Outcome {
            outcome,
            retry_class,
        }
    }

    /// The spec notes' table, row by row: the first matching rule wins, `result` (or a
    /// push's talk time) before the cause.
    #[test]
    fn every_documented_cause_classifies_as_the_spec_notes_table_says() {
        use Outcome::*;
        for c in all_causes() {
            let got = class_of(Some(CallResult::NotConnected), Some(0), Some(c.code));
            let want = match c.code {
                304 | 311 => outcome(InvalidNumber, None),
                302 | 428 => outcome(Failed, None),
                100 | 101 | 103 | 200 | 201 | 202 => RecordClass::AccountHalt { cause: c.code },
                102 | 407 => RecordClass::SlowDown { cause: c.code },
                306 | 309 => outcome(Busy, Some(RetryClass::Busy)),
                0 | 1 | 303 | 305 | 308 => outcome(NoAnswer, Some(RetryClass::NoAnswer)),
                409 => RecordClass::Refused(Refusal::CalleeFrequency),
                410 => RecordClass::Refused(Refusal::CallerFrequency),
                429 => RecordClass::Refused(Refusal::OutsideServiceHours),
                _ => outcome(Failed, Some(RetryClass::VendorFault)),
            };
            assert_eq!(got, want, "cause {}", c.code);
        }
        let answered = outcome(Answered, None);
        assert_eq!(
            class_of(Some(CallResult::Connected), None, Some(302)),
            answered
        );
        assert_eq!(class_of(None, Some(12), Some(0)), answered);
        assert_eq!(
            class_of(Some(CallResult::NoSuchNumber), None, Some(0)),
            outcome(InvalidNumber, None)
        );
        assert_eq!(
            class_of(None, None, None),
            outcome(NoAnswer, Some(RetryClass::NoAnswer))
        );
        assert_eq!(
            class_of(None, Some(0), Some(999)),
            outcome(Failed, Some(RetryClass::VendorFault))
        );
    }

    /// A row never refused before, which waits an hour after a refusal.
    const NONE_REFUSED: CalleeRefusals = CalleeRefusals {
        so_far: 0,
        wait_ms: 3_600_000,
    };

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 2,
            retry_after_ms: 1_800_000,
            retry_on: vec![RetryClass::NoAnswer, RetryClass::Busy],
        }
    }

    #[test]
    fn a_retried_class_comes_back_while_attempts_are_left() {
        let busy = outcome(Outcome::Busy, Some(RetryClass::Busy));
        let again = RowVerdict::Again {
            after_ms: 1_800_000,
            counted: true,
        };
        assert_eq!(verdict(busy, 1, Some(&policy()), NONE_REFUSED), again);
        assert_eq!(
            verdict(busy, 2, Some(&policy()), NONE_REFUSED),
            RowVerdict::Final(RowState::Busy)
        );
        let fault = outcome(Outcome::Failed, Some(RetryClass::VendorFault));
        assert_eq!(
            verdict(fault, 1, Some(&policy()), NONE_REFUSED),
            RowVerdict::Final(RowState::Failed)
        );
        let answered = outcome(Outcome::Answered, None);
        assert_eq!(
            verdict(answered, 1, Some(&policy()), NONE_REFUSED),
            RowVerdict::Final(RowState::Answered)
        );
        // A campaign that is gone retries nothing.
        assert_eq!(
            verdict(busy, 1, None, NONE_REFUSED),
            RowVerdict::Final(RowState::Busy)
        );
    }

    #[test]
    fn account_and_concurrency_causes_send_the_row_back_uncounted() {
        let back = RowVerdict::Again {
            after_ms: 0,
            counted: false,
        };
        for class in [
            RecordClass::AccountHalt { cause: 201 },
            RecordClass::SlowDown { cause: 407 },
        ] {
            assert_eq!(verdict(class, 2, Some(&policy()), NONE_REFUSED), back);
            assert_eq!(verdict(class, 5, None, NONE_REFUSED), back);
        }
    }

    #[test]
    fn the_guard_waits_for_two_hundred_records_and_counts_only_three_outcomes() {
        assert_eq!(answer_rate_below(0.3, 199, 0), None);
        assert_eq!(answer_rate_below(0.3, 200, 50), Some(0.25));
        assert_eq!(answer_rate_below(0.3, 200, 60), None);
        let of = |o| outcome(o, None).guard_count();
        assert_eq!(of(Outcome::Answered), Some(true));
        assert_eq!(of(Outcome::NoAnswer), Some(false));
        assert_eq!(of(Outcome::Busy), Some(false));
        assert_eq!(of(Outcome::Failed), None);
        assert_eq!(of(Outcome::InvalidNumber), None);
        assert_eq!(RecordClass::SlowDown { cause: 407 }.guard_count(), None);
    }

    #[test]
    fn refusals_send_the_row_back_uncounted_and_the_callee_refusal_only_three_times() {
        let callee = RecordClass::Refused(Refusal::CalleeFrequency);
        for so_far in 0..MAX_CALLEE_REFUSALS {
            let refusals = CalleeRefusals {
                so_far,
                wait_ms: 60_000,
            };
            assert_eq!(
                verdict(callee, 1, Some(&policy()), refusals),
                RowVerdict::Again {
                    after_ms: 60_000,
                    counted: false
                }
            );
        }
        let fourth = CalleeRefusals {
            so_far: MAX_CALLEE_REFUSALS,
            wait_ms: 60_000,
        };
        assert_eq!(
            verdict(callee, 1, Some(&policy()), fourth),
            RowVerdict::Final(RowState::Failed)
        );
        for refusal in [Refusal::CallerFrequency, Refusal::OutsideServiceHours] {
            // Never counted, and never failed, however often.
            assert_eq!(
                verdict(RecordClass::Refused(refusal), 2, Some(&policy()), fourth),
                RowVerdict::Again {
                    after_ms: 0,
                    counted: false
                }
            );
        }
    }
}
