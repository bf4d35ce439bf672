//! The push receiver (`[push] listen` and `path`): the vendor's TTSVoiceNotifyBilling
//! pushes applied through the same idempotent path as polling. A push is applied only
//! when its digest checks out, its timestamp is at most ten minutes old, and its `seq`
//! was not seen in that time.
//!
//! Nobody can hold it up without authenticating: at most [`MAX_CONNECTIONS`] connections
//! are open, and a new one takes the place of the oldest that is not in a request (still
//! waiting for its headers, or idle between requests); headers must arrive within 5 s,
//! a body within 10 s, and a request is answered within 30 s. Every refusal is answered
//! in the vendor's JSON form (`{"result": {"error": N, "msg": ...}}`).

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use jiff::tz::TimeZone;
use tokio::net::{TcpListener, TcpStream};
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
/// The most connections open at once: well inside the open-file limit the unit sets
/// (`LimitNOFILE=`), beside the store's files and the vendor client's connections.
pub const MAX_CONNECTIONS: usize = 256;
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
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

/// The open connections, oldest first.
#[derive(Default)]
struct Connections {
    next: u64,
    open: BTreeMap<u64, Connection>,
}

struct Connection {
    /// Set while a request is handled: such a connection is never evicted.
    busy: Arc<AtomicBool>,
    evict: CancellationToken,
}

impl Connections {
    /// Makes room for a new connection, evicting the oldest one not in a request when
    /// all [`MAX_CONNECTIONS`] are taken; `None` when every one is in a request.
    fn admit(&mut self) -> Option<(u64, Arc<AtomicBool>, CancellationToken)> {
        if self.open.len() >= MAX_CONNECTIONS {
            let oldest_idle = self
                .open
                .iter()
                .find(|(_, c)| !c.busy.load(Ordering::Acquire))
                .map(|(id, _)| *id)?;
            if let Some(evicted) = self.open.remove(&oldest_idle) {
                evicted.evict.cancel();
            }
        }
        let id = self.next;
        self.next += 1;
        let connection = Connection {
            busy: Arc::default(),
            evict: CancellationToken::new(),
        };
        let admitted = (id, connection.busy.clone(), connection.evict.clone());
        self.open.insert(id, connection);
        Some(admitted)
    }
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
        .route(&path, post(receive).fallback(wrong_method))
        .fallback(wrong_path)
        .with_state(receiver);
    let connections: Arc<Mutex<Connections>> = Arc::default();
    let tasks = TaskTracker::new();
    loop {
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
        let admitted = connections
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .admit();
        let Some((id, busy, evict)) = admitted else {
            refuse_busy(stream);
            continue;
        };
        let inner = TowerToHyperService::new(app.clone());
        let in_request = busy.clone();
        let service = hyper::service::service_fn(move |request| {
            in_request.store(true, Ordering::Release);
            let handled = hyper::service::Service::call(&inner, request);
            let in_request = in_request.clone();
            async move {
                let response = handled.await;
                in_request.store(false, Ordering::Release);
                response
            }
        });
        let (shutdown, connections) = (shutdown.clone(), connections.clone());
        tasks.spawn(async move {
            let serving = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            let mut serving = std::pin::pin!(serving);
            tokio::select! {
                _ = serving.as_mut() => {}
                _ = evict.cancelled() => {}
                _ = shutdown.cancelled() => {
                    serving.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(5), serving).await;
                }
            }
            drop(busy);
            let mut connections = connections.lock().unwrap_or_else(|p| p.into_inner());
            connections.open.remove(&id);
        });
    }
    tasks.close();
    tasks.wait().await;
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
                    return answer(
                        StatusCode::BAD_REQUEST,
                        E_INVALID_PARAM,
                        "the record has no session",
                    );
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
                            E_NOT_STORED,
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
