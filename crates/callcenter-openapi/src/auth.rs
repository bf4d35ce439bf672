//! The `authentication` block every request and push carries: credentials, the digest, and
//! the request `seq` numbers that make each digest unique.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

use super::lenient;

/// The account password. It is only ever fed into the digest: it has no `Display`, no
/// `Serialize`, and its `Debug` is redacted, so it cannot reach a log line, an error, a
/// report or a request body by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn new(password: impl Into<String>) -> Password {
        Password(password.into())
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// A customer name (`C` + digits) with its password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub customer: String,
    pub password: Password,
}

/// Lowercase hex of `md5(customer@timestamp@seq@password)`, as the vendor defines it.
pub fn digest(customer: &str, timestamp: &str, seq: &str, password: &Password) -> String {
    let mut md5 = Md5::new();
    for (i, part) in [customer, timestamp, seq, &password.0].iter().enumerate() {
        if i > 0 {
            md5.update(b"@");
        }
        md5.update(part.as_bytes());
    }
    hex::encode(md5.finalize())
}

/// The `authentication` block, as sent and as received.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authentication {
    #[serde(deserialize_with = "lenient::string")]
    pub customer: String,
    #[serde(deserialize_with = "lenient::string")]
    pub timestamp: String,
    #[serde(deserialize_with = "lenient::string")]
    pub seq: String,
    #[serde(deserialize_with = "lenient::string")]
    pub digest: String,
}

impl Authentication {
    /// Signs a new block for `seq` at `timestamp_ms` (milliseconds since the epoch).
    pub fn sign(credentials: &Credentials, timestamp_ms: u64, seq: &str) -> Authentication {
        let timestamp = timestamp_ms.to_string();
        let digest = digest(
            &credentials.customer,
            &timestamp,
            seq,
            &credentials.password,
        );
        Authentication {
            customer: credentials.customer.clone(),
            timestamp,
            seq: seq.to_string(),
            digest,
        }
    }

    /// Returns true if and only if the block names `credentials.customer` and its digest
    /// is the one `credentials.password` gives.
    pub fn verify(&self, credentials: &Credentials) -> bool {
        let expected = digest(
            &self.customer,
            &self.timestamp,
            &self.seq,
            &credentials.password,
        );
        self.customer == credentials.customer
            && constant_time_eq(
                expected.as_bytes(),
                self.digest.to_ascii_lowercase().as_bytes(),
            )
    }

    /// The block's timestamp in milliseconds since the epoch, if it is a number.
    pub fn timestamp_ms(&self) -> Option<u64> {
        self.timestamp.parse().ok()
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Request `seq` numbers: unique over "a period", as the vendor asks, and across restarts
/// of this process: each starts above `now_ms * 1000` and then counts up, so a restart
/// always starts past every seq the previous run could have used (it would need over a
/// thousand requests a millisecond to catch up). 16 digits, within the 20 allowed.
#[derive(Debug)]
pub struct SeqGenerator {
    last: AtomicU64,
}

impl Default for SeqGenerator {
    fn default() -> SeqGenerator {
        SeqGenerator {
            last: AtomicU64::new(0),
        }
    }
}

impl SeqGenerator {
    pub fn next(&self) -> String {
        let floor = now_ms().saturating_mul(1000);
        let mut last = self.last.load(Ordering::Relaxed);
        loop {
            let next = (last + 1).max(floor);
            match self
                .last
                .compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return next.to_string(),
                Err(actual) => last = actual,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> Credentials {
        Credentials {
            customer: "C2".into(),
            password: Password::new("E416D0F85DC0CB67C85E070A32D9F0123AFF4762"),
        }
    }

    #[test]
    fn digest_matches_the_vendor_test_vector() {
        let c = example();
        assert_eq!(
            digest("C2", "1471918933001", "5271", &c.password),
            "ae62e11cab746436b64a26f4ed8e41a3"
        );
        let auth = Authentication::sign(&c, 1471918933001, "5271");
        assert_eq!(auth.digest, "ae62e11cab746436b64a26f4ed8e41a3");
        assert!(auth.verify(&c));
    }

    #[test]
    fn verify_refuses_a_wrong_password_or_customer() {
        let auth = Authentication::sign(&example(), 1471918933001, "5271");
        let wrong = Credentials {
            customer: "C2".into(),
            password: Password::new("nope"),
        };
        assert!(!auth.verify(&wrong));
        let other = Credentials {
            customer: "C3".into(),
            ..example()
        };
        assert!(!auth.verify(&other));
    }

    #[test]
    fn password_debug_is_redacted() {
        let shown = format!("{:?}", example());
        assert!(!shown.contains("E416D0F8"), "{shown}");
    }

    #[test]
    fn seqs_are_unique_increasing_and_short() {
        let seqs = SeqGenerator::default();
        let a: u64 = seqs.next().parse().unwrap();
        let b: u64 = seqs.next().parse().unwrap();
        assert!(b > a);
        assert!(a >= now_ms().saturating_sub(60_000) * 1000);
        assert!(seqs.next().len() <= 20);
    }
}
