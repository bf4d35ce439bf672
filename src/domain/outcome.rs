//! What a call record means for its row: the product's policy over the protocol's neutral
//! categories (the spec notes' "Classifying a record" table), and the retry decision
//! reconcile makes when a record settles a row's latest attempt. Pure.

use callcenter_openapi::causes::CallCategory;
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
}

impl RecordClass {
    /// The class of a record in `category`. A refusal for frequency or time (409, 410,
    /// 429) is still a `failed` call of class `vendor_fault`, as every other cause of
    /// the call center's: PRODUCT.md section 4's handling of refusals is issue 22's.
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
            Refused(_) | Other { .. } => outcome(Outcome::Failed, Some(RetryClass::VendorFault)),
        }
    }

    /// The name `voicecast cdr list` prints for the class.
    pub fn name(self) -> &'static str {
        match self {
            RecordClass::Outcome { outcome, .. } => outcome.row_state().as_str(),
            RecordClass::AccountHalt { .. } => "account_halt",
            RecordClass::SlowDown { .. } => "slow_down",
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
/// it has attempts left; an account-level or concurrency cause sends it back at once,
/// uncounted, since the call center never tried the number.
pub fn verdict(class: RecordClass, placed: u32, policy: Option<&RetryPolicy>) -> RowVerdict {
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
        RecordClass::AccountHalt { .. } | RecordClass::SlowDown { .. } => RowVerdict::Again {
            after_ms: 0,
            counted: false,
        },
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
                // The refusals (409, 410, 429) stay `failed` until issue 22.
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
        assert_eq!(verdict(busy, 1, Some(&policy())), again);
        assert_eq!(
            verdict(busy, 2, Some(&policy())),
            RowVerdict::Final(RowState::Busy)
        );
        let fault = outcome(Outcome::Failed, Some(RetryClass::VendorFault));
        assert_eq!(
            verdict(fault, 1, Some(&policy())),
            RowVerdict::Final(RowState::Failed)
        );
        let answered = outcome(Outcome::Answered, None);
        assert_eq!(
            verdict(answered, 1, Some(&policy())),
            RowVerdict::Final(RowState::Answered)
        );
        // A campaign that is gone retries nothing.
        assert_eq!(verdict(busy, 1, None), RowVerdict::Final(RowState::Busy));
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
            assert_eq!(verdict(class, 2, Some(&policy())), back);
            assert_eq!(verdict(class, 5, None), back);
        }
    }
}
