//! A stand-in for the call center's OpenAPI, for trials, demos and tests of anything that
//! talks to it. It serves every API of the spec with the spec's error codes, places
//! "calls" whose outcomes follow a seeded distribution, writes their records after a
//! delay, pushes them if asked, and injects faults. With no options it accepts the spec's
//! example account.
//!
//! It speaks the wire format of `callcenter-openapi` (the codes, the record and push
//! shapes, the digest and the time format come from there), so a client built on that
//! crate is tested against it as against the vendor:
//!
//! ```
//! use callcenter_openapi::{ClientSettings, VendorClient};
//! use callcenter_simulator::{Simulator, SimulatorOptions, example_credentials};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let simulator = Simulator::on_loopback(SimulatorOptions::default()).await.unwrap();
//! let client = VendorClient::new(
//!     ClientSettings::new(simulator.base_url()),
//!     example_credentials(),
//! )
//! .unwrap();
//! let id = client.upload_template("greeting", "{1}您好").await.unwrap();
//! assert!(client.templates().await.unwrap().iter().any(|t| t.id == id));
//! simulator.stop().await;
//! # }
//! ```

mod api;
mod cdr;
mod lookups;
mod notify;
mod pusher;
mod server;
mod state;

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use callcenter_openapi::wire::TemplateRow;
use callcenter_openapi::{Credentials, Password};
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use state::PlacedCall;

/// The spec's example account, accepted when no other is given.
pub const EXAMPLE_CUSTOMER: &str = "C2";
pub const EXAMPLE_PASSWORD: &str = "E416D0F85DC0CB67C85E070A32D9F0123AFF4762";

/// The spec's example account, as a client signs with it.
pub fn example_credentials() -> Credentials {
    Credentials {
        customer: EXAMPLE_CUSTOMER.into(),
        password: Password::new(EXAMPLE_PASSWORD),
    }
}

/// Why a simulator did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Faults(String),
    #[error("the call time scale {0} is not a number of 0 or more")]
    CallTimeScale(f64),
    #[error("cannot open the call log {}: {source}", path.display())]
    CallLog { path: PathBuf, source: io::Error },
    #[error("cannot listen: {0}")]
    Listen(io::Error),
}

/// The value of `all` (pairs of a value and its name) that `text` names.
fn named<T: Copy>(all: &[(T, &str)], kind: &str, text: &str) -> Result<T, String> {
    all.iter()
        .find(|(_, name)| *name == text.trim())
        .map(|(value, _)| *value)
        .ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|(_, name)| *name).collect();
            format!("{text:?} is not {kind} ({})", names.join(", "))
        })
}

/// How a placed call ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Answered,
    NoAnswer,
    Busy,
    /// The number does not exist (`result` 3, cause 304).
    Empty,
    /// A call-center fault (cause 401).
    Failed,
    /// Refused: the callee was called too often (cause 409).
    CalleeFrequency,
    /// Refused: the caller number calls too often (cause 410).
    CallerFrequency,
    /// Refused: outside the call center's service hours (cause 429).
    ServiceHours,
}

/// Relative weights of the outcomes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutcomeWeights {
    pub answered: u32,
    pub no_answer: u32,
    pub busy: u32,
    pub empty: u32,
    pub failed: u32,
    pub callee_frequency: u32,
    pub caller_frequency: u32,
    pub service_hours: u32,
}

/// The names `--outcomes` gives the outcomes.
const OUTCOME_NAMES: [(Outcome, &str); 8] = [
    (Outcome::Answered, "answered"),
    (Outcome::NoAnswer, "no_answer"),
    (Outcome::Busy, "busy"),
    (Outcome::Empty, "empty"),
    (Outcome::Failed, "failed"),
    (Outcome::CalleeFrequency, "callee_frequency"),
    (Outcome::CallerFrequency, "caller_frequency"),
    (Outcome::ServiceHours, "service_hours"),
];

impl Default for OutcomeWeights {
    fn default() -> OutcomeWeights {
        OutcomeWeights {
            answered: 60,
            no_answer: 20,
            busy: 10,
            empty: 5,
            failed: 5,
            callee_frequency: 0,
            caller_frequency: 0,
            service_hours: 0,
        }
    }
}

impl OutcomeWeights {
    pub fn weights(&self) -> [(Outcome, u32); 8] {
        [
            (Outcome::Answered, self.answered),
            (Outcome::NoAnswer, self.no_answer),
            (Outcome::Busy, self.busy),
            (Outcome::Empty, self.empty),
            (Outcome::Failed, self.failed),
            (Outcome::CalleeFrequency, self.callee_frequency),
            (Outcome::CallerFrequency, self.caller_frequency),
            (Outcome::ServiceHours, self.service_hours),
        ]
    }

    /// Reads `answered=60,no_answer=20,busy=10,empty=5,failed=5` (and the refusals
    /// `callee_frequency`, `caller_frequency`, `service_hours`); outcomes not named
    /// weigh 0.
    pub fn parse(text: &str) -> Result<OutcomeWeights, String> {
        let mut weights = OutcomeWeights {
            answered: 0,
            no_answer: 0,
            busy: 0,
            empty: 0,
            failed: 0,
            callee_frequency: 0,
            caller_frequency: 0,
            service_hours: 0,
        };
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, weight) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?} is not NAME=WEIGHT"))?;
            let weight: u32 = weight
                .trim()
                .parse()
                .map_err(|_| format!("{part:?}: the weight is not a whole number"))?;
            let outcome = named(&OUTCOME_NAMES, "an outcome", name)?;
            let slot = match outcome {
                Outcome::Answered => &mut weights.answered,
                Outcome::NoAnswer => &mut weights.no_answer,
                Outcome::Busy => &mut weights.busy,
                Outcome::Empty => &mut weights.empty,
                Outcome::Failed => &mut weights.failed,
                Outcome::CalleeFrequency => &mut weights.callee_frequency,
                Outcome::CallerFrequency => &mut weights.caller_frequency,
                Outcome::ServiceHours => &mut weights.service_hours,
            };
            *slot = weight;
        }
        if weights.weights().iter().all(|(_, w)| *w == 0) {
            return Err("give at least one outcome a weight above 0".into());
        }
        Ok(weights)
    }
}

/// A fault injected into voiceNotify requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Fault {
    /// HTTP 503 before anything is placed.
    ServerErrorBefore,
    /// The calls are placed, then HTTP 502.
    ServerErrorAfter,
    /// Vendor error 4 (database failure): nothing placed.
    VendorError4,
    /// Vendor error 0xF1000016 (module sync failure): nothing placed.
    SyncFail,
    /// The calls are placed and no answer ever comes.
    Hang,
    /// The calls are placed and the answer is not JSON.
    Garbage,
    /// The calls are placed and the connection is reset.
    Reset,
}

impl Fault {
    pub const ALL: [(Fault, &'static str); 7] = [
        (Fault::ServerErrorBefore, "5xx-before"),
        (Fault::ServerErrorAfter, "5xx-after"),
        (Fault::VendorError4, "error-4"),
        (Fault::SyncFail, "sync-fail"),
        (Fault::Hang, "hang"),
        (Fault::Garbage, "garbage"),
        (Fault::Reset, "reset"),
    ];
}

/// Fault rates: each voiceNotify request draws at most one fault.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Faults {
    pub rates: Vec<(Fault, f64)>,
}

impl Faults {
    /// Every request gets `fault`.
    pub fn always(fault: Fault) -> Faults {
        Faults {
            rates: vec![(fault, 1.0)],
        }
    }

    /// Reads `KIND=RATE` (rate from 0 to 1), as `--fault` takes it.
    pub fn parse_one(text: &str) -> Result<(Fault, f64), String> {
        let (kind, rate) = text.split_once('=').ok_or_else(|| {
            let names = Fault::ALL.map(|(_, n)| n).join(", ");
            format!("{text:?} is not KIND=RATE ({names})")
        })?;
        let fault = named(&Fault::ALL, "a fault", kind)?;
        let rate: f64 = rate
            .trim()
            .parse()
            .map_err(|_| format!("{text:?}: the rate is not a number"))?;
        if !(0.0..=1.0).contains(&rate) {
            return Err(format!("{text:?}: the rate must be between 0 and 1"));
        }
        Ok((fault, rate))
    }

    /// Checks that the rates add up to at most 1.
    pub fn check(&self) -> Result<(), String> {
        let sum: f64 = self.rates.iter().map(|(_, r)| r).sum();
        if sum > 1.0 + 1e-9 {
            return Err(format!("the fault rates add up to {sum}, more than 1"));
        }
        Ok(())
    }

    /// The fault a draw in `[0, 1)` lands on.
    fn pick(&self, roll: f64) -> Option<Fault> {
        let mut edge = 0.0;
        for (fault, rate) in &self.rates {
            edge += rate;
            if roll < edge {
                return Some(*fault);
            }
        }
        None
    }
}

/// The order getCdrList lists a page in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CdrOrder {
    Ascending,
    /// As in the original's sample.
    #[default]
    Descending,
    Shuffled,
}

impl CdrOrder {
    pub const ALL: [(CdrOrder, &'static str); 3] = [
        (CdrOrder::Ascending, "ascending"),
        (CdrOrder::Descending, "descending"),
        (CdrOrder::Shuffled, "shuffled"),
    ];
}

impl FromStr for CdrOrder {
    type Err = String;
    fn from_str(text: &str) -> Result<CdrOrder, String> {
        named(&CdrOrder::ALL, "an order", text)
    }
}

/// Whether new and edited templates wait for a review.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TemplateReview {
    #[default]
    AutoApprove,
    Hold,
}

impl TemplateReview {
    pub const ALL: [(TemplateReview, &'static str); 2] = [
        (TemplateReview::AutoApprove, "auto-approve"),
        (TemplateReview::Hold, "hold"),
    ];
}

impl FromStr for TemplateReview {
    type Err = String;
    fn from_str(text: &str) -> Result<TemplateReview, String> {
        named(&TemplateReview::ALL, "a review mode", text)
    }
}

/// Everything the simulator can be told.
#[derive(Clone, Debug)]
pub struct SimulatorOptions {
    pub customer: String,
    pub password: Password,
    /// The API version it serves (others get error 10).
    pub version: String,
    pub seed: u64,
    pub outcomes: OutcomeWeights,
    /// Talk time of answered calls, seconds, inclusive.
    pub talk_secs: (u64, u64),
    /// Price per started minute, in fen (0.01 yuan).
    pub fee_per_minute_fen: u64,
    /// How long after a call ends its record appears.
    pub cdr_delay: Duration,
    /// How much real time a second of a call takes: 1.0 as on a real line, 0.01 to end
    /// a minute's call in 0.6 s. A call lasts its ring (from a second after it starts)
    /// and its talk time or ringing until the hang-up; its record's times are the
    /// call's own, unscaled.
    pub call_time_scale: f64,
    pub cdr_order: CdrOrder,
    pub page_size: usize,
    pub templates: TemplateReview,
    /// Where to push call records and template audits, if anywhere.
    pub push_url: Option<String>,
    pub faults: Faults,
    /// Added to every answer, drawn from this range.
    pub latency: (Duration, Duration),
    /// Answer a batch's `responses` in random order.
    pub shuffle_responses: bool,
    /// Append every placed call to this file, one JSON object a line.
    pub call_log: Option<PathBuf>,
}

impl Default for SimulatorOptions {
    fn default() -> SimulatorOptions {
        SimulatorOptions {
            customer: EXAMPLE_CUSTOMER.into(),
            password: Password::new(EXAMPLE_PASSWORD),
            version: "V2.0.6".into(),
            seed: 1,
            outcomes: OutcomeWeights::default(),
            talk_secs: (5, 60),
            fee_per_minute_fen: 6,
            cdr_delay: Duration::from_secs(2),
            call_time_scale: 1.0,
            cdr_order: CdrOrder::Descending,
            page_size: 500,
            templates: TemplateReview::AutoApprove,
            push_url: None,
            faults: Faults::default(),
            latency: (Duration::ZERO, Duration::ZERO),
            shuffle_responses: false,
            call_log: None,
        }
    }
}

/// A running simulator.
pub struct Simulator {
    addr: SocketAddr,
    shared: Arc<api::Shared>,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

impl Simulator {
    /// Starts serving on `listener` in the background.
    pub fn start(
        listener: TcpListener,
        options: SimulatorOptions,
    ) -> Result<Simulator, StartError> {
        options.faults.check().map_err(StartError::Faults)?;
        let scale = options.call_time_scale;
        if !(scale.is_finite() && scale >= 0.0) {
            return Err(StartError::CallTimeScale(scale));
        }
        let addr = listener.local_addr().map_err(StartError::Listen)?;
        let shutdown = CancellationToken::new();
        let shared = Arc::new(api::Shared::new(options, shutdown.clone())?);
        let app = server::router(shared.clone());
        let task = tokio::spawn(server::serve(listener, app, shutdown.clone()));
        Ok(Simulator {
            addr,
            shared,
            shutdown,
            task,
        })
    }

    /// Starts serving on a loopback port the system chooses, as tests want it.
    pub async fn on_loopback(options: SimulatorOptions) -> Result<Simulator, StartError> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(StartError::Listen)?;
        Simulator::start(listener, options)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`, the `base_url` a client needs.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every call placed so far.
    pub fn calls(&self) -> Vec<PlacedCall> {
        self.shared.lock().calls.clone()
    }

    /// How many authenticated requests `api` (like `"getTTSTemplateList"`) has had.
    pub fn requests(&self, api: &str) -> u64 {
        self.shared.lock().requests.get(api).copied().unwrap_or(0)
    }

    /// How many requests to `api` were refused for their digest (error 1).
    pub fn refused(&self, api: &str) -> u64 {
        self.shared.lock().refused.get(api).copied().unwrap_or(0)
    }

    /// Changes the account's password: requests signed with the old one get error 1.
    pub fn set_password(&self, password: Password) {
        self.shared.lock().options.password = password;
    }

    pub fn set_faults(&self, faults: Faults) {
        self.shared.lock().options.faults = faults;
    }

    /// Changes how the calls placed from now on end.
    pub fn set_outcomes(&self, outcomes: OutcomeWeights) {
        self.shared.lock().options.outcomes = outcomes;
    }

    /// Approves or rejects a template and pushes the audit result; `None` if it does not exist.
    pub fn review_template(&self, id: u64, approve: bool, remark: &str) -> Option<TemplateRow> {
        self.shared.review_template(id, approve, remark)
    }

    /// Stops serving and waits for in-flight work (pushes included) to end.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.task.await;
        self.shared.pushes.close();
        self.shared.pushes.wait().await;
    }

    /// Serves until `shutdown` is cancelled.
    pub async fn run(self, shutdown: CancellationToken) {
        shutdown.cancelled().await;
        self.stop().await;
    }
}

/// The README's examples, compiled and run by `cargo test --doc`.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_and_outcome_options_parse() {
        assert_eq!(Faults::parse_one("reset=0.25"), Ok((Fault::Reset, 0.25)));
        assert!(Faults::parse_one("reset=2").is_err());
        assert!(Faults::parse_one("explode=0.1").is_err());
        let faults = Faults {
            rates: vec![(Fault::Hang, 0.2), (Fault::Garbage, 0.3)],
        };
        assert_eq!(faults.pick(0.1), Some(Fault::Hang));
        assert_eq!(faults.pick(0.4), Some(Fault::Garbage));
        assert_eq!(faults.pick(0.6), None);
        assert!(
            Faults {
                rates: vec![(Fault::Hang, 0.7), (Fault::Reset, 0.7)]
            }
            .check()
            .is_err()
        );
        let w = OutcomeWeights::parse("answered=1,busy=3").unwrap();
        assert_eq!((w.answered, w.busy, w.no_answer), (1, 3, 0));
        assert!(OutcomeWeights::parse("answered=0").is_err());
        assert!(OutcomeWeights::parse("hung=1").is_err());
    }
}
