//! The integration tests: one binary, through the public API and the real binary, on
//! loopback ports chosen by the OS.

mod backup;
mod boundaries;
mod calendar;
mod calling_rules;
mod cli;
mod dispatch;
mod dispatch_survival;
mod excel;
mod full_disk;
mod intake_check;
mod intake_daemon;
mod metrics;
mod push_receiver;
mod reports;
mod restore;
mod retention;
mod scenarios;
mod service;
mod site;
mod startup;
mod support;
