//! The push receiver (`[push] listen` and `path`): the vendor's TTSVoiceNotifyBilling
//! pushes applied through the same idempotent path as polling. A push is applied only
//! when its digest checks out, its timestamp is at most ten minutes old, and its `seq`
//! was not seen in that time. Bodies are capped at 1 MiB, headers must arrive within
//! 10 s, a request is answered within 30 s, and at most 64 connections are open at once.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use jiff::tz::TimeZone;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{Applier, settle};
use callcenter_openapi::push::{self as wire_push, Notify};
use callcenter_openapi::wire::VendorResult;
use callcenter_openapi::{Authentication, Credentials};

/// The largest body accepted.
pub const MAX_BODY: usize = 1024 * 1024;
/// How old a push's timestamp may be.
pub const MAX_AGE: Duration = Duration::from_secs(600);
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_CONNECTIONS: usize = 64;

struct Receiver {
    credentials: Credentials,
    applier: Applier,
    zone: TimeZone,
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
    shutdown: CancellationToken,
) {
    let receiver = Arc::new(Receiver {
        credentials,
        applier,
        zone,
        seen: Mutex::new(HashMap::new()),
    });
    let app = Router::new()
        .route(&path, post(receive))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(receiver);
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let connections = TaskTracker::new();
    while let Some(slot) = tokio::select! {
        slot = slots.clone().acquire_owned() => slot.ok(),
        _ = shutdown.cancelled() => None,
    } {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "The push receiver cannot accept a connection.");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        let service = TowerToHyperService::new(app.clone());
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            let serving = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            let mut serving = std::pin::pin!(serving);
            tokio::select! {
                _ = serving.as_mut() => {}
                _ = shutdown.cancelled() => {
                    serving.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(5), serving).await;
                }
            }
            drop(slot);
        });
    }
    connections.close();
    connections.wait().await;
}

/// Binds `listen` and serves; logs where.
pub async fn bind(listen: SocketAddr) -> std::io::Result<TcpListener> {
    let listener = TcpListener::bind(listen).await?;
    tracing::info!(listen = %listener.local_addr()?, "The push receiver is listening.");
    Ok(listener)
}

async fn receive(State(receiver): State<Arc<Receiver>>, body: Bytes) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, receiver.handle(&body)).await {
        Ok(response) => response,
        Err(_) => answer(StatusCode::SERVICE_UNAVAILABLE, 1, "timed out"),
    }
}

impl Receiver {
    async fn handle(&self, body: &[u8]) -> Response {
        let push = match self.admit(body, callcenter_openapi::auth::now_ms()) {
            Ok(push) => push,
            Err(refusal) => {
                tracing::warn!(?refusal, "A push was refused.");
                let (status, msg) = match refusal {
                    Refusal::Unreadable(_) => (StatusCode::BAD_REQUEST, "unreadable push"),
                    Refusal::Digest => (StatusCode::UNAUTHORIZED, "digest check failed"),
                    Refusal::Stale => (StatusCode::UNAUTHORIZED, "timestamp too old"),
                    Refusal::Replayed => (StatusCode::UNAUTHORIZED, "seq replayed"),
                };
                return answer(status, 1, msg);
            }
        };
        let answered = match &push.notify {
            Notify::Cdr(notify) => {
                let Some(settlement) = settle::from_push(notify, &self.zone) else {
                    return answer(StatusCode::BAD_REQUEST, 5, "the record has no session");
                };
                match self.applier.apply(vec![settlement]).await {
                    Ok(_) => answer(StatusCode::OK, 0, ""),
                    Err(error) => {
                        tracing::error!(
                            error = format!("{error:#}"),
                            "A pushed record could not be applied; polling will bring it again."
                        );
                        answer(
                            StatusCode::SERVICE_UNAVAILABLE,
                            4,
                            "not stored; send it again",
                        )
                    }
                }
            }
            Notify::TemplateAudit(audit) => {
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
