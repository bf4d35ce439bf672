//! The vendor's error codes and the one classification a dispatcher branches on: halt the
//! account, give the command up, retry it later (it was not placed), or wait for its
//! record (it may have been placed).

use std::fmt;

use super::wire::VendorResult;

pub const E_SUCC: u64 = 0;
pub const E_S_AUTH_FAIL: u64 = 1;
pub const E_W_DB_OPT_FAIL: u64 = 4;
pub const E_C_INVALID_PARAM: u64 = 5;
pub const E_C_INVALID_MSG: u64 = 8;
pub const E_C_UNSUPPORT_API_VERSION: u64 = 10;
pub const E_C_UNSUPPORT_API_REQUEST: u64 = 11;
pub const E_G_RES_NOT_EXIST: u64 = 0xF100_0008;
pub const E_G_STAFF_NO_EXIST: u64 = 0xF100_0013;
pub const E_G_DATASYN_FAIL: u64 = 0xF100_0016;

/// How a result code must be treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    Success,
    /// The account or its configuration is wrong: stop all sending.
    AccountHalt,
    /// Wrong for this command: give it up.
    Permanent,
    /// The vendor says it failed and nothing was placed: retry with back-off.
    NotPlaced,
}

/// A documented code: its name, the original's Chinese text, an English meaning, and
/// its class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodeInfo {
    pub name: &'static str,
    pub zh: &'static str,
    pub en: &'static str,
    pub class: ErrorClass,
}

/// The table row of a documented code.
pub fn describe_code(code: u64) -> Option<CodeInfo> {
    use ErrorClass::*;
    let (name, zh, en, class) = match code {
        E_SUCC => ("E_SUCC", "成功", "success", Success),
        E_S_AUTH_FAIL => (
            "E_S_AUTH_FAIL",
            "认证失败",
            "digest check failed",
            AccountHalt,
        ),
        E_W_DB_OPT_FAIL => (
            "E_W_DB_OPT_FAIL",
            "数据库操作失败",
            "vendor database failure",
            NotPlaced,
        ),
        E_C_INVALID_PARAM => (
            "E_C_INVALID_PARAM",
            "参数错误",
            "bad value in request",
            Permanent,
        ),
        E_C_INVALID_MSG => (
            "E_C_INVALID_MSG",
            "请求数据格式错误",
            "body is not a valid message",
            Permanent,
        ),
        E_C_UNSUPPORT_API_VERSION => (
            "E_C_UNSUPPORT_API_VERSION",
            "不支持的API版本",
            "API version in the URL unknown",
            AccountHalt,
        ),
        E_C_UNSUPPORT_API_REQUEST => (
            "E_C_UNSUPPORT_API_REQUEST",
            "不支持的API请求",
            "API name unknown or URL malformed",
            AccountHalt,
        ),
        E_G_RES_NOT_EXIST => (
            "E_G_RES_NOT_EXIST",
            "资源不存在",
            "resource missing",
            Permanent,
        ),
        E_G_STAFF_NO_EXIST => (
            "E_G_STAFF_NO_EXIST",
            "指定工号不存在",
            "agent id missing",
            Permanent,
        ),
        E_G_DATASYN_FAIL => (
            "E_G_DATASYN_FAIL",
            "数据同步失败",
            "vendor module sync failure",
            NotPlaced,
        ),
        _ => return None,
    };
    Some(CodeInfo {
        name,
        zh,
        en,
        class,
    })
}

/// The class of any code. A code the vendor does not document is an answer that says the
/// command failed without saying why: it is given up (and shown with its number) rather
/// than retried, since a retry could call the person twice and a wait could last forever.
pub fn class_of(code: u64) -> ErrorClass {
    describe_code(code).map_or(ErrorClass::Permanent, |info| info.class)
}

/// Why a request or command did not simply succeed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The vendor answered with an error code.
    Vendor { code: u64, msg: String },
    /// The HTTP status was not 2xx (a proxy, or the vendor's server failing).
    Http { status: u16 },
    /// The connection failed, or the answer could not be read.
    Transport(String),
    /// The body that came back is not a readable answer.
    Unreadable(String),
    /// We refused to send it: a field breaks the vendor's limits.
    NotSent(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Vendor { code, msg } => {
                let shown = if *code > 0xFFFF {
                    format!("{code:#X}")
                } else {
                    code.to_string()
                };
                write!(f, "vendor error {shown}")?;
                if let Some(info) = describe_code(*code) {
                    write!(f, " ({}: {})", info.name, info.en)?;
                }
                if !msg.is_empty() {
                    write!(f, ": {msg}")?;
                }
                Ok(())
            }
            Failure::Http { status } => write!(f, "HTTP status {status}"),
            Failure::Transport(reason) => write!(f, "transport failure: {reason}"),
            Failure::Unreadable(reason) => write!(f, "unreadable answer: {reason}"),
            Failure::NotSent(reason) => write!(f, "not sent: {reason}"),
        }
    }
}

/// A request's or command's failure, by what the dispatcher must do about it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VendorError {
    /// Stop all dialling: the account or configuration is refused.
    #[error("account halted: {0}")]
    AccountHalt(Failure),
    /// Give this command up; sending it again would fail the same way.
    #[error("refused: {0}")]
    Permanent(Failure),
    /// Nothing was placed: return it to the queue with back-off.
    #[error("not placed, retry later: {0}")]
    NotPlaced(Failure),
    /// It may have been placed: never resend it blindly; wait for its record.
    #[error("may have been placed: {0}")]
    MayHaveBeenPlaced(Failure),
}

impl VendorError {
    /// The error a vendor `result` stands for, or `None` for success.
    pub fn from_result(result: &VendorResult) -> Option<VendorError> {
        let failure = || Failure::Vendor {
            code: result.error,
            msg: result.msg.clone(),
        };
        match class_of(result.error) {
            ErrorClass::Success => None,
            ErrorClass::AccountHalt => Some(VendorError::AccountHalt(failure())),
            ErrorClass::Permanent => Some(VendorError::Permanent(failure())),
            ErrorClass::NotPlaced => Some(VendorError::NotPlaced(failure())),
        }
    }

    /// The error for an HTTP status that is not a success. 5xx may come from a proxy
    /// after the vendor acted; 429 asks us to slow down; any other status means the
    /// request never reached the API (a wrong `base_url`, a refusing proxy): a
    /// configuration problem that must stop sending rather than burn through the rows.
    pub fn from_status(status: u16) -> VendorError {
        let failure = Failure::Http { status };
        match status {
            500..=599 => VendorError::MayHaveBeenPlaced(failure),
            429 => VendorError::NotPlaced(failure),
            _ => VendorError::AccountHalt(failure),
        }
    }

    /// The error for a failed HTTP exchange: only a failure to connect (refused, DNS,
    /// connect timeout) proves nothing left; anything later may have reached the vendor.
    pub fn from_transport(error: &reqwest::Error) -> VendorError {
        let failure = Failure::Transport(error_chain(error));
        if error.is_connect() {
            VendorError::NotPlaced(failure)
        } else if error.is_builder() {
            VendorError::Permanent(failure)
        } else {
            VendorError::MayHaveBeenPlaced(failure)
        }
    }

    pub fn failure(&self) -> &Failure {
        match self {
            VendorError::AccountHalt(f)
            | VendorError::Permanent(f)
            | VendorError::NotPlaced(f)
            | VendorError::MayHaveBeenPlaced(f) => f,
        }
    }

    /// The vendor's code, when the vendor gave one.
    pub fn code(&self) -> Option<u64> {
        match self.failure() {
            Failure::Vendor { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// An error and its sources on one line ("error sending request: connection refused").
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let inner_text = inner.to_string();
        if !text.contains(&inner_text) {
            text.push_str(": ");
            text.push_str(&inner_text);
        }
        source = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_code_has_its_class() {
        let cases = [
            (0, ErrorClass::Success),
            (1, ErrorClass::AccountHalt),
            (10, ErrorClass::AccountHalt),
            (11, ErrorClass::AccountHalt),
            (5, ErrorClass::Permanent),
            (8, ErrorClass::Permanent),
            (0xF100_0008, ErrorClass::Permanent),
            (0xF100_0013, ErrorClass::Permanent),
            (4, ErrorClass::NotPlaced),
            (0xF100_0016, ErrorClass::NotPlaced),
            (77, ErrorClass::Permanent),
        ];
        for (code, class) in cases {
            assert_eq!(class_of(code), class, "code {code}");
        }
    }

    #[test]
    fn statuses_are_classified() {
        assert!(matches!(
            VendorError::from_status(502),
            VendorError::MayHaveBeenPlaced(_)
        ));
        assert!(matches!(
            VendorError::from_status(429),
            VendorError::NotPlaced(_)
        ));
        assert!(matches!(
            VendorError::from_status(404),
            VendorError::AccountHalt(_)
        ));
    }

    #[test]
    fn failures_read_well() {
        let e = VendorError::from_result(&VendorResult::error(0xF100_0008, "模板不存在")).unwrap();
        assert_eq!(
            e.to_string(),
            "refused: vendor error 0xF1000008 (E_G_RES_NOT_EXIST: resource missing): 模板不存在"
        );
        assert_eq!(VendorError::from_result(&VendorResult::ok()), None);
    }
}
