//! voicecast turns CSV call lists into text-to-speech notification calls through the
//! vendor's call-center OpenAPI, and the vendor's call records back into per-number
//! results. See `ARCHITECTURE.md` for the bird's-eye view.
//!
//! Modules, in reading order:
//! - [`vendor`]: the vendor's wire format, digest, error classification and HTTP client.

pub mod vendor;
