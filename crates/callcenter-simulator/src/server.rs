//! The simulator's HTTP server: its own accept loop, so a fault can reset the very
//! connection a request came on (SO_LINGER 0, then close), and the admin routes.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::warn;

use super::api::{self, ConnectionKill, Shared};

/// The vendor's APIs (every path not an admin route) and the admin routes:
/// `GET /simulator/calls` (every call placed, for counting duplicates) and
/// `POST /simulator/templates/{id}/approve` or `/reject` (a review, pushed).
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/simulator/calls", get(calls))
        .route("/simulator/templates/{id}/{verdict}", post(review))
        .fallback(api::vendor_api)
        .with_state(shared)
}

async fn calls(State(shared): State<Arc<Shared>>) -> Json<Vec<super::PlacedCall>> {
    Json(shared.lock().calls.clone())
}

async fn review(
    State(shared): State<Arc<Shared>>,
    Path((id, verdict)): Path<(u64, String)>,
) -> Response {
    let approve = match verdict.as_str() {
        "approve" => true,
        "reject" => false,
        _ => return (StatusCode::NOT_FOUND, "use /approve or /reject").into_response(),
    };
    match shared.review_template(
        id,
        approve,
        if approve {
            ""
        } else {
            "rejected in the simulator"
        },
    ) {
        Some(row) => Json(row).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            format!("template {id} does not exist"),
        )
            .into_response(),
    }
}

/// Accepts connections until `shutdown`, then waits for them to finish.
pub async fn serve(listener: TcpListener, app: Router, shutdown: CancellationToken) {
    let connections = TaskTracker::new();
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    warn!(error = %e, "Simulator cannot accept a connection.");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        match connection(stream, app.clone(), shutdown.clone()) {
            Ok(task) => {
                connections.spawn(task);
            }
            Err(e) => warn!(error = %e, "Simulator cannot serve a connection."),
        }
    }
    connections.close();
    connections.wait().await;
}

fn connection(
    stream: TcpStream,
    app: Router,
    shutdown: CancellationToken,
) -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    let std_stream = stream.into_std()?;
    // A second handle on the same socket, to set SO_LINGER 0 when a fault resets it.
    let twin = std_stream.try_clone()?;
    let stream = TcpStream::from_std(std_stream)?;
    let kill = CancellationToken::new();
    let service = TowerToHyperService::new(app.layer(Extension(ConnectionKill(kill.clone()))));
    Ok(async move {
        let serving = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
        let mut serving = std::pin::pin!(serving);
        tokio::select! {
            _ = serving.as_mut() => {}
            _ = kill.cancelled() => {
                if let Err(e) = socket2::SockRef::from(&twin).set_linger(Some(Duration::ZERO)) {
                    warn!(error = %e, "Simulator cannot reset a connection.");
                }
            }
            _ = shutdown.cancelled() => {
                serving.as_mut().graceful_shutdown();
                let _ = tokio::time::timeout(Duration::from_secs(5), serving).await;
            }
        }
    })
}
