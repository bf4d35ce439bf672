//! The integration tests: one binary, through the public API and the real binary, on
//! loopback ports chosen by the OS.

mod cli;
mod demo;
mod dispatch;
mod dispatch_survival;
mod errors;
mod intake_check;
mod intake_daemon;
mod push;
mod push_receiver;
mod reports;
mod round_trip;
mod samples;
mod secrets;
mod service;
mod site;
mod support;
