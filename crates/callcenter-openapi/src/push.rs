//! The vendor's pushes (to us): parsed and verified for the receiver, built and signed for
//! the simulator.

use serde::{Deserialize, Serialize};

use super::auth::{Authentication, Credentials};
use super::wire::{CDR_NOTIFY_TYPE, CdrNotify, ResultOnly, TemplateAuditNotify, VendorResult};

/// What a push carries, told apart by shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notify {
    Cdr(Box<CdrNotify>),
    TemplateAudit(TemplateAuditNotify),
}

/// A received push: its authentication block and what it notifies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Push {
    pub authentication: Authentication,
    pub notify: Notify,
}

/// Why a push was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    #[error("the push is not a readable message: {0}")]
    Unreadable(String),
    #[error("the push is neither a call record nor a template audit result")]
    UnknownKind,
}

#[derive(Deserialize)]
struct RawPush {
    authentication: Authentication,
    notify: serde_json::Map<String, serde_json::Value>,
}

/// Parses a push body. A `notify` with `type` TTSVoiceNotifyBilling is a call record; one
/// with `id` and `status` and no `type` is a template audit result.
pub fn parse(body: &[u8]) -> Result<Push, PushError> {
    let raw: RawPush =
        serde_json::from_slice(body).map_err(|e| PushError::Unreadable(e.to_string()))?;
    let kind = raw
        .notify
        .get("type")
        .and_then(|t| t.as_str())
        .map(str::to_string);
    let fields = serde_json::Value::Object(raw.notify.clone());
    let notify = match kind.as_deref() {
        Some(CDR_NOTIFY_TYPE) => Notify::Cdr(Box::new(
            serde_json::from_value(fields).map_err(|e| PushError::Unreadable(e.to_string()))?,
        )),
        None if raw.notify.contains_key("id") && raw.notify.contains_key("status") => {
            Notify::TemplateAudit(
                serde_json::from_value(fields).map_err(|e| PushError::Unreadable(e.to_string()))?,
            )
        }
        _ => return Err(PushError::UnknownKind),
    };
    Ok(Push {
        authentication: raw.authentication,
        notify,
    })
}

#[derive(Serialize)]
struct OutgoingPush<'a, T: Serialize> {
    authentication: Authentication,
    notify: &'a T,
}

/// Builds a signed push body, as the vendor sends it.
pub fn build(credentials: &Credentials, timestamp_ms: u64, seq: &str, notify: &Notify) -> Vec<u8> {
    let authentication = Authentication::sign(credentials, timestamp_ms, seq);
    let encoded = match notify {
        Notify::Cdr(cdr) => serde_json::to_vec(&OutgoingPush {
            authentication,
            notify: cdr,
        }),
        Notify::TemplateAudit(audit) => serde_json::to_vec(&OutgoingPush {
            authentication,
            notify: audit,
        }),
    };
    encoded.expect("push bodies are plain strings")
}

/// The answer a push receiver sends back.
pub fn answer(result: VendorResult) -> Vec<u8> {
    serde_json::to_vec(&ResultOnly { result }).expect("a result is plain data")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Password;

    fn credentials() -> Credentials {
        Credentials {
            customer: "C2".into(),
            password: Password::new("secret-pass"),
        }
    }

    #[test]
    fn a_built_push_parses_back_and_verifies() {
        let cdr = CdrNotify {
            kind: CDR_NOTIFY_TYPE.into(),
            session: "1633767017-0045-567389".into(),
            time_length: "9".into(),
            ..CdrNotify::default()
        };
        let body = build(
            &credentials(),
            1_700_000_000_000,
            "42",
            &Notify::Cdr(Box::new(cdr.clone())),
        );
        assert!(!String::from_utf8_lossy(&body).contains("secret-pass"));
        let push = parse(&body).unwrap();
        assert_eq!(push.notify, Notify::Cdr(Box::new(cdr)));
        assert!(push.authentication.verify(&credentials()));
    }

    #[test]
    fn pushes_are_told_apart_by_shape() {
        let audit = br#"{"authentication":{"customer":"C2","timestamp":"1","seq":"1","digest":"x"},
            "notify":{"id":"1","content":"c","remark":"r","status":"1"}}"#;
        assert!(matches!(
            parse(audit).unwrap().notify,
            Notify::TemplateAudit(_)
        ));
        let other = br#"{"authentication":{"customer":"C2","timestamp":"1","seq":"1","digest":"x"},
            "notify":{"type":"Other"}}"#;
        assert_eq!(parse(other), Err(PushError::UnknownKind));
        assert!(matches!(parse(b"nope"), Err(PushError::Unreadable(_))));
    }
}
