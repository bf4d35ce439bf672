//! voicecast turns call lists (CSV files, Excel workbooks) into text-to-speech
//! notification calls through the vendor's call-center OpenAPI, and the vendor's call
//! records back into per-number results. See `ARCHITECTURE.md` for the bird's-eye view.
//!
//! The call center's protocol lives in the `callcenter-openapi` crate and its stand-in in
//! `callcenter-simulator`; this crate is the daemon and its command line.
//!
//! Modules, in reading order (data flows intake -> store -> dispatch -> reconcile ->
//! reports; the stages meet only in the store, and only `app` knows them all):
//! - [`domain`]: the states of rows, campaigns and attempts, skip reasons, and what a
//!   call record means for its row (outcomes, retry classes, the retry decision).
//! - [`config`]: the only reader of configuration files and the environment.
//! - [`settings`]: campaign settings (the keys of `NAME.toml`), merged and checked.
//! - [`calendar`]: China's official holidays and make-up workdays, by date.
//! - [`layout`]: the campaign folder: its sub-folders and file names, in one place.
//! - [`columns`]: a call list's columns and their roles (callee, variables, caller).
//! - [`fields`]: a row's fields as the store keeps them, written once, read back.
//! - [`store`]: the SQLite database: campaigns, rows, attempts; the only SQL.
//! - [`intake`]: the inbox folder and CSV call lists, checked and committed as campaigns.
//! - [`dispatch`]: pending rows out as calls: fair share, write-ahead, pacing, halts.
//! - [`reconcile`]: call records (polled, looked up, pushed) back onto attempts and rows.
//! - [`reports`]: what people read under `reports/`, rewritten as the store changes.
//! - [`retention`]: ended campaigns' rows removed after `keep_days`, their files later.
//! - [`account`]: the account's state (active, halted, breaker), shared by the stages.
//! - [`metrics`]: `/metrics` (Prometheus) and `/healthz`, fed by the stages.
//! - [`listener`]: the HTTP listeners' connection cap and timeouts (pushes, metrics).
//! - [`limiter`]: the account's rate limit, counting calls.
//! - [`clock`]: the injectable wall clock calling hours are judged by.
//! - [`atomic`]: files written whole or not at all.
//! - [`trouble`]: back-off and a throttled log for loops whose work keeps failing.
//! - [`app`]: the daemon: the store, the campaign folder and the stages under one shutdown.
//! - [`reload`]: SIGHUP: a configuration read again, applied whole or not at all.
//! - [`service`]: systemd's notify socket: ready, status, watchdog, stopping.
//! - [`logging`]: `tracing` to stderr, text or JSON.
//! - [`shutdown`]: SIGTERM/SIGINT as the one shutdown trigger.
//! - [`cli`]: the command line: arguments, subcommands, exit codes.

pub mod account;
pub mod app;
pub mod atomic;
pub mod calendar;
pub mod cli;
pub mod clock;
pub mod columns;
pub mod config;
pub mod dispatch;
pub mod domain;
pub mod fields;
pub mod intake;
pub mod layout;
pub mod limiter;
pub mod listener;
pub mod logging;
pub mod metrics;
pub mod reconcile;
pub mod reload;
pub mod reports;
pub mod retention;
pub mod service;
pub mod settings;
pub mod shutdown;
pub mod store;
pub mod trouble;
