//! The push receiver (`[push] listen` and `path`): the vendor's TTSVoiceNotifyBilling
//! pushes applied through the same idempotent path as polling. A push is applied only
//! when its digest checks out, its timestamp is at most ten minutes old, and its `seq`
//! was not seen in that time.
//!
//! Nobody can hold it up without authenticating: it is served by [`crate::listener`]
//! (connections capped, headers within 5 s), a body must arrive within 10 s, and a
//! request is answered within 30 s. Every refusal is answered in the vendor's JSON form
//! (`{"result": {"error": N, "msg": ...}}`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use jiff::tz::TimeZone;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use super::{Applier, settle};
use crate::metrics::{Metrics, PushResult};
use callcenter_openapi::push::{self as wire_push, Notify};
use callcenter_openapi::wire::VendorResult;
use callcenter_openapi::{Authentication, Credentials};

/// The largest body accepted.
pub const MAX_BODY: usize = 1024 * 1024;
/// How old a push's timestamp may be.
pub const MAX_AGE: Duration = Duration::from_secs(600);
const BODY_TIMEOUT: Duration = Duration::from_secs(10);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The vendor's error codes a refusal answers with.
const E_AUTH: u64 = 1;
const E_NOT_STORED: u64 = 4;
const E_INVALID_PARAM: u64 = 5;
const E_INVALID_MSG: u64 = 8;
const E_UNKNOWN_API: u64 = 11;

struct Receiver {
    credentials: Credentials,
    applier: Applier,
    zone: TimeZone,
    metrics: Arc<Metrics>,
    /// `seq`s seen, with their timestamps: a replay within [`MAX_AGE`] is refused.
    seen: Mutex<HashMap<String, u64>>,
}

/// Why a push was refused.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    Unreadable(String),
    Digest,
    Stale,
    Replayed,
}

/// Serves pushes on `listener` at `path` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    path: String,
    credentials: Credentials,
    applier: Applier,
    zone: TimeZone,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) {
    let receiver = Arc::new(Receiver {
        credentials,
        applier,
        zone,
        metrics,
        seen: Mutex::new(HashMap::new()),
    });
    let app = Router::new()
        .route(&path, post(receive).fallback(wrong_method))
        .fallback(wrong_path)
        .with_state(receiver);
    crate::listener::serve("push receiver", listener, app, refuse_busy, shutdown).await;
}

/// Answers a connection that came while every other one is in a request: 503 in the
/// vendor's form, written at once if the socket takes it, then closed.
fn refuse_busy(stream: TcpStream) {
    let body = wire_push::answer(VendorResult::error(
        E_NOT_STORED,
        "too many connections; send it again",
    ));
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.try_write(&[head.as_bytes(), &body].concat());
    tracing::warn!("A push connection was refused: every connection is in a request.");
}

/// Binds `listen` and serves; logs where.
pub async fn bind(listen: SocketAddr) -> std::io::Result<TcpListener> {
    let listener = TcpListener::bind(listen).await?;
    tracing::info!(listen = %listener.local_addr()?, "The push receiver is listening.");
    Ok(listener)
}

async fn receive(State(receiver): State<Arc<Receiver>>, body: Body) -> Response {
    let body = match tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, MAX_BODY)).await
    {
        Ok(Ok(body)) => body,
        Ok(Err(error)) if is_too_large(&error) => {
            return answer(
                StatusCode::PAYLOAD_TOO_LARGE,
                E_INVALID_MSG,
                "body too large",
            );
        }
        Ok(Err(_)) => return answer(StatusCode::BAD_REQUEST, E_INVALID_MSG, "unreadable body"),
        Err(_) => return answer(StatusCode::REQUEST_TIMEOUT, E_INVALID_MSG, "body too slow"),
    };
    match tokio::time::timeout(REQUEST_TIMEOUT, receiver.handle(&body)).await {
        Ok(response) => response,
        Err(_) => answer(StatusCode::SERVICE_UNAVAILABLE, E_NOT_STORED, "timed out"),
    }
}

/// Whether reading a body failed because it passed [`MAX_BODY`].
fn is_too_large(error: &axum::Error) -> bool {
    std::iter::successors(Some(error as &dyn std::error::Error), |e| e.source())
        .any(|e| e.is::<http_body_util::LengthLimitError>())
}

async fn wrong_path() -> Response {
    answer(StatusCode::NOT_FOUND, E_UNKNOWN_API, "no such path")
}

async fn wrong_method() -> Response {
    answer(
        StatusCode::METHOD_NOT_ALLOWED,
        E_UNKNOWN_API,
        "pushes are POSTed",
    )
}

impl Receiver {
    async fn handle(&self, body: &[u8]) -> Response {
        let push = match self.admit(body, callcenter_openapi::auth::now_ms()) {
            Ok(push) => push,
            Err(refusal) => {
                tracing::warn!(?refusal, "A push was refused.");
                self.metrics.push(match refusal {
                    Refusal::Unreadable(_) => PushResult::Unreadable,
                    Refusal::Digest => PushResult::Digest,
                    Refusal::Stale => PushResult::Stale,
                    Refusal::Replayed => PushResult::Replayed,
                });
                let (status, code, msg) = match refusal {
                    Refusal::Unreadable(_) => {
                        (StatusCode::BAD_REQUEST, E_INVALID_MSG, "unreadable push")
                    }
                    Refusal::Digest => (StatusCode::UNAUTHORIZED, E_AUTH, "digest check failed"),
                    Refusal::Stale => (StatusCode::UNAUTHORIZED, E_AUTH, "timestamp too old"),
                    Refusal::Replayed => (StatusCode::UNAUTHORIZED, E_AUTH, "seq replayed"),
                };
                return answer(status, code, msg);
            }
        };
        let answered = match &push.notify {
            Notify::Cdr(notify) => {
                let Some(settlement) = settle::from_push(notify, &self.zone) else {
                    self.metrics.push(PushResult::Unreadable);
                    return answer(
                        StatusCode::BAD_REQUEST,
                        E_INVALID_PARAM,
                        "the record has no session",
                    );
                };
                match self.applier.apply(vec![settlement]).await {
                    Ok(_) => {
                        self.metrics.push(PushResult::Applied);
                        answer(StatusCode::OK, 0, "")
                    }
                    Err(error) => {
                        self.metrics.push(PushResult::NotStored);
                        tracing::error!(
                            error = format!("{error:#}"),
                            "A pushed record could not be applied; polling will bring it again."
                        );
                        answer(
                            StatusCode::SERVICE_UNAVAILABLE,
                            E_NOT_STORED,
                            "not stored; send it again",
                        )
                    }
                }
            }
            Notify::TemplateAudit(audit) => {
                self.metrics.push(PushResult::TemplateAudit);
                tracing::info!(template = %audit.id, status = %audit.status, remark = %audit.remark, "Template audit result pushed.");
                answer(StatusCode::OK, 0, "")
            }
        };
        if answered.status() == StatusCode::OK {
            self.remember(&push.authentication);
        }
        answered
    }

    /// The push, if its digest, age and `seq` allow it; the digest is checked before
    /// anything in the body is looked at.
    fn admit(&self, body: &[u8], now_ms: u64) -> Result<wire_push::Push, Refusal> {
        #[derive(serde::Deserialize)]
        struct AuthOnly {
            authentication: Authentication,
        }
        let auth: AuthOnly =
            serde_json::from_slice(body).map_err(|e| Refusal::Unreadable(e.to_string()))?;
        let authentication = auth.authentication;
        if !authentication.verify(&self.credentials) {
            return Err(Refusal::Digest);
        }
        let stamped = authentication.timestamp_ms().ok_or(Refusal::Stale)?;
        let max_age = MAX_AGE.as_millis() as u64;
        if now_ms.saturating_sub(stamped) > max_age || stamped > now_ms + max_age {
            return Err(Refusal::Stale);
        }
        {
            let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            seen.retain(|_, at| now_ms.saturating_sub(*at) <= max_age);
            if seen.contains_key(&authentication.seq) {
                return Err(Refusal::Replayed);
            }
        }
        wire_push::parse(body).map_err(|e| Refusal::Unreadable(e.to_string()))
    }

    /// Remembers a push's `seq` once it is applied: the vendor may resend one we could
    /// not store, never one we did.
    fn remember(&self, authentication: &Authentication) {
        if let Some(stamped) = authentication.timestamp_ms() {
            let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            seen.insert(authentication.seq.clone(), stamped);
        }
    }
}

fn answer(status: StatusCode, code: u64, msg: &str) -> Response {
    let result = if code == 0 {
        VendorResult::ok()
    } else {
        VendorResult::error(code, msg)
    };
    (
        status,
        [("content-type", "application/json")],
        wire_push::answer(result),
    )
        .into_response()
}
