//! Delivers the simulator's pushes (call records, template audits) to the configured URL,
//! signed with the account's digest, as the vendor does.

use std::sync::Arc;
use std::time::Duration;

use tracing::{debug, warn};

use callcenter_openapi::Credentials;
use callcenter_openapi::auth::{SeqGenerator, now_ms};
use callcenter_openapi::push::{self, Notify};

/// Tries per push before giving it up.
const TRIES: u32 = 3;

#[derive(Clone)]
pub struct Pusher {
    url: Arc<str>,
    credentials: Arc<Credentials>,
    http: reqwest::Client,
    seqs: Arc<SeqGenerator>,
}

impl Pusher {
    pub fn new(url: String, credentials: Credentials) -> Pusher {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("a plain HTTP client builds");
        Pusher {
            url: url.into(),
            credentials: Arc::new(credentials),
            http,
            seqs: Arc::default(),
        }
    }

    /// Sends one push, retrying a few times a second apart.
    pub async fn send(&self, notify: Notify) {
        let body = push::build(&self.credentials, now_ms(), &self.seqs.next(), &notify);
        for attempt in 1..=TRIES {
            let sent = self
                .http
                .post(&*self.url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone())
                .send()
                .await;
            match sent {
                Ok(response) if response.status().is_success() => {
                    debug!(url = %self.url, "Simulator pushed.");
                    return;
                }
                Ok(response) => {
                    warn!(url = %self.url, status = response.status().as_u16(), attempt, "Push refused.")
                }
                Err(e) => warn!(url = %self.url, error = %e, attempt, "Push failed."),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}
