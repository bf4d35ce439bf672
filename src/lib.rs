//! voicecast turns CSV call lists into text-to-speech notification calls through the
//! vendor's call-center OpenAPI, and the vendor's call records back into per-number
//! results. See `ARCHITECTURE.md` for the bird's-eye view.
//!
//! Modules, in reading order:
//! - [`app`]: the daemon: the store, the campaign folder and the stages under one shutdown.
//! - [`cli`]: the command line: arguments, subcommands, exit codes.
//! - [`config`]: the only reader of configuration files and the environment.
//! - [`domain`]: the states of rows and campaigns, and skip reasons, as PRODUCT.md names them.
//! - [`intake`]: the inbox folder and CSV call lists, checked and committed as campaigns.
//! - [`layout`]: the campaign folder: its sub-folders and file names, in one place.
//! - [`logging`]: `tracing` to stderr, text or JSON.
//! - [`settings`]: campaign settings (the keys of `NAME.toml`), merged and checked.
//! - [`shutdown`]: SIGTERM/SIGINT as the one shutdown trigger.
//! - [`simulator`]: the built-in vendor stand-in, for trials, demos and tests.
//! - [`store`]: the SQLite database: campaigns, rows, attempts; the only SQL.
//! - [`template`]: TTS templates under the vendor's rules, parsed and rendered.
//! - [`vendor`]: the vendor's wire format, digest, error classification and HTTP client.

pub mod app;
pub mod cli;
pub mod config;
pub mod domain;
pub mod intake;
pub mod layout;
pub mod logging;
pub mod settings;
pub mod shutdown;
pub mod simulator;
pub mod store;
pub mod template;
pub mod vendor;
