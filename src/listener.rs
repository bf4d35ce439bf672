//! The daemon's HTTP listeners (the push receiver, the metrics): an axum router served
//! over HTTP/1 that nobody can hold up by opening connections. At most
//! [`MAX_CONNECTIONS`] are open, and a new one takes the place of the oldest that is not
//! in a request (still waiting for its headers, or idle between requests); headers must
//! arrive within 5 s. A connection that comes while every other one is in a request gets
//! the refusal its listener gives, and is closed.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The most connections open at once: well inside the open-file limit the unit sets
/// (`LimitNOFILE=`), beside the store's files and the vendor client's connections.
pub const MAX_CONNECTIONS: usize = 256;
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

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

/// Serves `app` on `listener` until `shutdown`; a connection that finds every other one
/// in a request is handed to `refuse`. `what` names the listener in the log.
pub async fn serve(
    what: &'static str,
    listener: TcpListener,
    app: Router,
    refuse: fn(TcpStream),
    shutdown: CancellationToken,
) {
    let connections: Arc<Mutex<Connections>> = Arc::default();
    let tasks = TaskTracker::new();
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(%error, listener = what, "Cannot accept a connection.");
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
            refuse(stream);
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
