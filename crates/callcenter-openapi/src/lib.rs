//! A client for the call center's OpenAPI (V2.0.6): text-to-speech notification calls
//! (voiceNotify, one command a request or batches on the high-performance endpoint), TTS
//! templates, call records (getOneCdr, getCdrList walked by `startKey`) and the pushes
//! the call center sends back, parsed and verified.
//!
//! The vendor's document is loose in places; this crate reads it the way its spec notes
//! decide (`VENDOR-API.md` in the repository): every scalar may arrive as a number or a
//! string, error codes in three forms, a `result` as an object or `""`, and a failure is
//! classified by what a caller must do about it ([`VendorError`]): halt the account, give
//! the command up, retry it (nothing was placed), or wait for its record (a call may have
//! been placed). Call records are sorted into neutral categories
//! ([`causes::categorize`]); what a category means for a caller's own data is the
//! caller's policy.
//!
//! It knows no database, no campaigns and no rows.
//!
//! # Signing
//!
//! Every request and every push carries an `authentication` block whose digest is
//! `md5(customer@timestamp@seq@password)` in lowercase hex. The document's own example:
//!
//! ```
//! use callcenter_openapi::{Authentication, Credentials, Password, digest};
//!
//! let password = Password::new("E416D0F85DC0CB67C85E070A32D9F0123AFF4762");
//! assert_eq!(
//!     digest("C2", "1471918933001", "5271", &password),
//!     "ae62e11cab746436b64a26f4ed8e41a3"
//! );
//!
//! let credentials = Credentials { customer: "C2".into(), password };
//! let block = Authentication::sign(&credentials, 1471918933001, "5271");
//! assert_eq!(block.digest, "ae62e11cab746436b64a26f4ed8e41a3");
//! assert!(block.verify(&credentials));
//! ```
//!
//! # Placing a call and reading its record
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use callcenter_openapi::wire::VoiceNotifyCommand;
//! use callcenter_openapi::{
//!     CdrLookup, ClientSettings, Credentials, NotifyEndpoint, Password, VendorClient,
//!     VendorError,
//! };
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let client = VendorClient::new(
//!     ClientSettings::new("http://123.57.254.226"),
//!     Credentials { customer: "C2".into(), password: Password::new("...") },
//! )?;
//! let call = VoiceNotifyCommand {
//!     seq: "1".into(),
//!     user_data: "order-1001".into(),
//!     caller: String::new(),
//!     callee: "13800138000".into(),
//!     content: "您好，您的快递已到，请及时领取。".into(),
//!     cycle_play_times: "1".into(),
//! };
//! match client.voice_notify(NotifyEndpoint::Standard, &[call]).await.remove(0) {
//!     Ok(()) => println!("accepted"),
//!     // Never send it again blindly: look for its record first.
//!     Err(VendorError::MayHaveBeenPlaced(why)) => println!("fate unknown: {why}"),
//!     Err(other) => println!("not placed: {other}"),
//! }
//! // A call's record exists once the call has ended.
//! let records = client.one_cdr(&CdrLookup::UserData("order-1001".into())).await?;
//! for record in records {
//!     println!("{} talked {:?} s", record.callee, record.talk_secs());
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Receiving a push
//!
//! ```
//! use callcenter_openapi::push::{self, Notify};
//! use callcenter_openapi::wire::{CDR_NOTIFY_TYPE, CdrNotify, VendorResult};
//! use callcenter_openapi::{Credentials, Password};
//!
//! let account = Credentials { customer: "C2".into(), password: Password::new("secret") };
//! # let record = CdrNotify {
//! #     kind: CDR_NOTIFY_TYPE.into(),
//! #     session: "1633767017-0045-567389".into(),
//! #     ..CdrNotify::default()
//! # };
//! # let body = push::build(&account, 1_700_000_000_000, "7", &Notify::Cdr(Box::new(record)));
//! let received = push::parse(&body).expect("a push");
//! assert!(received.authentication.verify(&account), "a forged push");
//! if let Notify::Cdr(record) = received.notify {
//!     println!("call {} ended, cause {}", record.session, record.release_cause);
//! }
//! let answer = push::answer(VendorResult::ok());
//! # assert_eq!(answer, br#"{"result":{"error":0,"msg":""}}"#);
//! ```
//!
//! Modules, in reading order:
//! - [`auth`]: credentials, the digest, the `authentication` block and request seqs.
//! - [`wire`]: the JSON shapes of every request, answer and push.
//! - [`lenient`]: decoding of the vendor's loose scalars.
//! - [`answer`]: which result applies to which command of a request.
//! - [`error`]: the code table and [`VendorError`], the classification a caller branches on.
//! - [`causes`]: the releaseCause table and the neutral categories of a call record.
//! - [`client`]: [`VendorClient`], one method per API, and [`CdrPager`].
//! - [`push`]: pushes parsed and verified (a receiver), built and signed (a stand-in).
//! - [`template`]: TTS templates under the vendor's rules, parsed and rendered.
//! - [`time`]: the vendor's wall-clock time format in its zone.

pub mod answer;
pub mod auth;
pub mod causes;
pub mod client;
pub mod error;
pub mod lenient;
pub mod push;
pub mod template;
pub mod time;
pub mod wire;

pub use auth::{Authentication, Credentials, Password, digest};
pub use client::{
    CdrLookup, CdrPage, CdrPager, CdrQuery, ClientSettings, NotifyEndpoint, RequestObserver,
    VendorClient,
};
pub use error::{Failure, VendorError};

/// The README's examples, compiled and run by `cargo test --doc`.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;
