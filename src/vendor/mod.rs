//! The vendor's call-center OpenAPI: the only code that knows its wire format (JSON
//! shapes, digest, URLs, codes). Everything else speaks in the typed answers and the
//! [`VendorError`] classification this module gives.

pub mod answer;
pub mod auth;
pub mod causes;
pub mod client;
pub mod error;
pub mod lenient;
pub mod push;
pub mod time;
pub mod wire;

pub use auth::{Authentication, Credentials, Password, digest};
pub use client::{
    CdrLookup, CdrPage, CdrPager, CdrQuery, ClientSettings, NotifyEndpoint, VendorClient,
};
pub use error::{Failure, VendorError};
