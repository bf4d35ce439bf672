//! voicecast turns CSV call lists into text-to-speech notification calls through the
//! vendor's call-center OpenAPI, and the vendor's call records back into per-number
//! results. See `ARCHITECTURE.md` for the bird's-eye view.
//!
//! Modules, in reading order:
//! - [`account`]: the account's state (active, halted, breaker), shared by the stages.
//! - [`app`]: the daemon: the store, the campaign folder and the stages under one shutdown.
//! - [`cli`]: the command line: arguments, subcommands, exit codes.
//! - [`clock`]: the injectable wall clock calling hours are judged by.
//! - [`config`]: the only reader of configuration files and the environment.
//! - [`dispatch`]: pending rows out as calls: fair share, write-ahead, pacing, halts.
//! - [`domain`]: the states of rows and campaigns, and skip reasons, as PRODUCT.md names them.
//! - [`intake`]: the inbox folder and CSV call lists, checked and committed as campaigns.
//! - [`layout`]: the campaign folder: its sub-folders and file names, in one place.
//! - [`limiter`]: the account's rate limit, counting calls.
//! - [`logging`]: `tracing` to stderr, text or JSON.
//! - [`reconcile`]: call records (polled, looked up) back onto attempts and rows.
//! - [`settings`]: campaign settings (the keys of `NAME.toml`), merged and checked.
//! - [`shutdown`]: SIGTERM/SIGINT as the one shutdown trigger.
//! - [`simulator`]: the built-in vendor stand-in, for trials, demos and tests.
//! - [`store`]: the SQLite database: campaigns, rows, attempts; the only SQL.
//! - [`template`]: TTS templates under the vendor's rules, parsed and rendered.
//! - [`vendor`]: the vendor's wire format, digest, error classification and HTTP client.

pub mod account;
pub mod app;
pub mod atomic;
pub mod cli;
pub mod clock;
pub mod config;
pub mod dispatch;
pub mod domain;
pub mod intake;
pub mod layout;
pub mod limiter;
pub mod logging;
pub mod reconcile;
pub mod reload;
pub mod reports;
pub mod service;
pub mod settings;
pub mod shutdown;
pub mod simulator;
pub mod store;
pub mod template;
pub mod vendor;
