use std::num::NonZeroU32;

use callcenter_openapi::{ClientSettings, Credentials, Failure, Password, VendorClient};

use super::*;
use crate::account::{Account, AccountState};
use crate::limiter::AccountLimiter;

/// An account on a store of its own; its client is never used by `judge`.
fn vendor(dir: &std::path::Path) -> Vendor {
    let credentials = Credentials {
        customer: "C2".into(),
        password: Password::new("unused"),
    };
    let store = Store::open(&dir.join("voicecast.db")).unwrap();
    Vendor {
        client: Arc::new(
            VendorClient::new(ClientSettings::new("http://127.0.0.1:9"), credentials).unwrap(),
        ),
        limiter: Arc::new(AccountLimiter::new(
            NonZeroU32::new(10).unwrap(),
            NonZeroU32::MIN,
        )),
        account: Arc::new(Account::load(store).unwrap()),
    }
}

fn vendor_error(code: u64) -> Failure {
    Failure::Vendor {
        code,
        msg: String::new(),
    }
}

#[test]
fn each_answer_becomes_what_its_class_says_of_the_call() {
    let dir = tempfile::tempdir().unwrap();
    let vendor = vendor(dir.path());
    let before = now_ms();
    let sent = judge(
        &vendor,
        &Breaker::default(),
        &[
            Ok(()),
            Err(VendorError::Permanent(vendor_error(5))),
            Err(VendorError::MayHaveBeenPlaced(Failure::Http {
                status: 502,
            })),
            Err(VendorError::NotPlaced(vendor_error(4))),
        ],
    );
    assert_eq!(sent[0], Sent::Accepted);
    assert!(matches!(sent[1], Sent::Rejected { code: Some(5), .. }));
    assert!(matches!(&sent[2], Sent::Unknown { detail } if detail == "HTTP status 502"));
    let Sent::NotPlaced {
        code, retry_at_ms, ..
    } = sent[3]
    else {
        panic!("{:?}", sent[3]);
    };
    assert_eq!(code, Some(4));
    let backoff = NOT_PLACED_BACKOFF.as_millis() as i64;
    assert!((before + backoff..=now_ms() + backoff).contains(&retry_at_ms));
    assert_eq!(vendor.account.state(), AccountState::Active);
}

#[test]
fn an_account_halt_halts_at_once_and_its_calls_wait_for_no_backoff() {
    let dir = tempfile::tempdir().unwrap();
    let vendor = vendor(dir.path());
    let sent = judge(
        &vendor,
        &Breaker::default(),
        &[Err(VendorError::AccountHalt(vendor_error(1)))],
    );
    let Sent::NotPlaced { retry_at_ms, .. } = sent[0] else {
        panic!("{:?}", sent[0]);
    };
    assert!(retry_at_ms <= now_ms());
    let AccountState::Halted { reason } = vendor.account.state() else {
        panic!("{:?}", vendor.account.state());
    };
    assert!(reason.starts_with("vendor error 1"), "{reason}");
}

#[test]
fn a_run_of_requests_not_placed_trips_the_breaker_and_a_placed_one_resets_it() {
    let dir = tempfile::tempdir().unwrap();
    let vendor = vendor(dir.path());
    let breaker = Breaker::default();
    let not_placed = [Err(VendorError::NotPlaced(vendor_error(4)))];
    for _ in 1..BREAKER_RUN {
        judge(&vendor, &breaker, &not_placed);
    }
    // A request that may have reached the vendor ends the run.
    judge(
        &vendor,
        &breaker,
        &[Err(VendorError::MayHaveBeenPlaced(Failure::Http {
            status: 504,
        }))],
    );
    judge(&vendor, &breaker, &not_placed);
    assert_eq!(vendor.account.state(), AccountState::Active);
    for _ in 1..BREAKER_RUN {
        judge(&vendor, &breaker, &not_placed);
    }
    let AccountState::Breaker { reason, .. } = vendor.account.state() else {
        panic!("{:?}", vendor.account.state());
    };
    assert!(
        reason.starts_with("10 requests in a row were not placed"),
        "{reason}"
    );
}

#[test]
fn the_breakers_pause_doubles_from_5_s_to_at_most_5_min() {
    let breaker = Breaker::default();
    let mut pauses = Vec::new();
    for _ in 0..9 * BREAKER_RUN {
        pauses.extend(breaker.failed());
    }
    let secs: Vec<u64> = pauses.iter().map(Duration::as_secs).collect();
    assert_eq!(secs, [5, 10, 20, 40, 80, 160, 300, 300, 300]);
    breaker.reset();
    let first = (0..BREAKER_RUN).filter_map(|_| breaker.failed()).next();
    assert_eq!(first, Some(Duration::from_secs(5)));
}
