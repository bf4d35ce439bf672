//! voicecast turns CSV call lists into text-to-speech notification calls through the
//! vendor's call-center OpenAPI, and the vendor's call records back into per-number
//! results. See `ARCHITECTURE.md` for the bird's-eye view.
//!
//! Modules, in reading order:
//! - [`config`]: the only reader of configuration files and the environment.
//! - [`settings`]: campaign settings (the keys of `NAME.toml`), merged and checked.
//! - [`vendor`]: the vendor's wire format, digest, error classification and HTTP client.

pub mod config;
pub mod settings;
pub mod vendor;
