//! The product's plain facts, which every stage shares: the states of rows, campaigns and
//! attempts and the skip reasons, as PRODUCT.md names them, (in [`outcome`]) what a call
//! record means for its row, and (in [`caps`]) whether a number's calls leave room for
//! one more. No I/O.

use std::fmt;
use std::str::FromStr;

pub mod caps;
pub mod outcome;

pub use caps::NumberCap;
pub use outcome::{
    CalleeRefusals, GUARD_MIN_RECORDS, Outcome, RecordClass, RetryClass, RetryPolicy, RowVerdict,
    answer_rate_below, verdict,
};

macro_rules! named_states {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The name PRODUCT.md gives this state, as stored and reported.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<$name, String> {
                match s {
                    $($text => Ok($name::$variant),)*
                    other => Err(format!("{other:?} is not a {}", stringify!($name))),
                }
            }
        }
    };
}

named_states! {
    /// Where a row is on its way (PRODUCT.md section 4).
    RowState {
        Pending => "pending",
        Sending => "sending",
        Accepted => "accepted",
        Rejected => "rejected",
        Unknown => "unknown",
        Answered => "answered",
        NoAnswer => "no_answer",
        Busy => "busy",
        InvalidNumber => "invalid_number",
        Failed => "failed",
        Skipped => "skipped",
        Cancelled => "cancelled",
        Unresolved => "unresolved",
    }
}

named_states! {
    /// Where a campaign is. `Importing` is the store's own: a campaign whose rows are still
    /// being written, never shown, and discarded when the daemon starts.
    CampaignState {
        Importing => "importing",
        Waiting => "waiting",
        Running => "running",
        Paused => "paused",
        Halted => "halted",
        Finished => "finished",
        Cancelled => "cancelled",
    }
}

named_states! {
    /// Where one attempt (one command sent for a row) is. `Sending`, `Accepted` and
    /// `Unknown` are open: a call record may still come for them. `Pushed` is settled
    /// by a push, which carries no fee: the list still brings it.
    AttemptState {
        Sending => "sending",
        Accepted => "accepted",
        Unknown => "unknown",
        Settled => "settled",
        Pushed => "pushed",
        Rejected => "rejected",
        NotPlaced => "not_placed",
        Withdrawn => "withdrawn",
        Expired => "expired",
    }
}

named_states! {
    /// Why intake skipped a row (PRODUCT.md section 2), plus `bad_field` for a per-row
    /// `caller` or `cycle_play_times` the vendor would refuse.
    SkipReason {
        BadNumber => "bad_number",
        ScientificNotation => "scientific_notation",
        FieldCount => "field_count",
        MissingVariable => "missing_variable",
        TextTooLong => "text_too_long",
        Duplicate => "duplicate",
        DoNotCall => "do_not_call",
        BadField => "bad_field",
    }
}

impl RowState {
    /// Returns true if and only if nothing more will happen to a row in this state.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RowState::Answered
                | RowState::NoAnswer
                | RowState::Busy
                | RowState::InvalidNumber
                | RowState::Failed
                | RowState::Skipped
                | RowState::Rejected
                | RowState::Cancelled
                | RowState::Unresolved
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in RowState::ALL {
            assert_eq!(s.as_str().parse::<RowState>(), Ok(*s));
        }
        for s in CampaignState::ALL {
            assert_eq!(s.as_str().parse::<CampaignState>(), Ok(*s));
        }
        for s in AttemptState::ALL {
            assert_eq!(s.as_str().parse::<AttemptState>(), Ok(*s));
        }
        for s in SkipReason::ALL {
            assert_eq!(s.as_str().parse::<SkipReason>(), Ok(*s));
        }
        assert!("done".parse::<RowState>().is_err());
    }
}
