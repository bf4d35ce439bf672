//! Metrics (PRODUCT.md section 9): `/metrics` in Prometheus' text format and `/healthz`
//! on `[metrics] listen`, for operators who watch the daemon through Prometheus and page
//! on alert rules.
//!
//! Counters of what the store keeps (calls placed, call records by outcome) are read
//! from the store by the reports stage at each round and published here, so they equal
//! the store's counts and survive a restart; a campaign's series go when it is archived.
//! The vendor's requests, their durations and the pushes are counted here as they
//! happen. The account's state and rate are read when a scrape comes. No label carries a
//! phone number, a text or the password: campaigns are named by their file's name, or by
//! `#ID` when that name holds a run of seven digits or more.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, prometheus_text};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::account::{Account, AccountState};
use crate::domain::RowState;
use crate::limiter::AccountLimiter;
use crate::service::Heartbeat;
use callcenter_openapi::{RequestObserver, VendorError};

/// A label set: pairs of a label's name and its value.
type Labels = Vec<(&'static str, String)>;

/// The series of one campaign, as the reports stage read them from the store.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CampaignSeries {
    pub id: i64,
    pub name: String,
    /// Calls placed.
    pub calls: u64,
    /// Call records applied, by what they said.
    pub outcomes: Vec<(String, u64)>,
    pub rows: Vec<(RowState, u64)>,
    /// `pending` rows due now, in a campaign that may dial now (0 otherwise).
    pub dialable: u64,
    pub held_by_cap: u64,
}

/// What became of a push.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushResult {
    Applied,
    TemplateAudit,
    /// Refused: its digest, its age, a `seq` seen before, or a body that does not read.
    Digest,
    Stale,
    Replayed,
    Unreadable,
    /// Checked but not stored (the store refused): the vendor sends it again.
    NotStored,
}

impl PushResult {
    fn label(self) -> &'static str {
        match self {
            PushResult::Applied => "applied",
            PushResult::TemplateAudit => "template_audit",
            PushResult::Digest => "refused_digest",
            PushResult::Stale => "refused_stale",
            PushResult::Replayed => "refused_replayed",
            PushResult::Unreadable => "refused_unreadable",
            PushResult::NotStored => "not_stored",
        }
    }
}

/// The daemon's metrics, shared by the stages that count something.
#[derive(Debug)]
pub struct Metrics {
    requests: Family<Labels, Counter>,
    request_seconds: Family<Labels, Histogram, fn() -> Histogram>,
    pushes: Family<Labels, Counter>,
    campaigns: Mutex<Vec<CampaignSeries>>,
    /// When getCdrList was last read to its last page.
    polled: Mutex<Option<Instant>>,
    account: OnceLock<(Arc<Account>, Arc<AccountLimiter>, Heartbeat)>,
}

/// Buckets of the vendor's answer times: 5 ms to about 20 s.
fn request_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 13))
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics {
            requests: Family::default(),
            request_seconds: Family::new_with_constructor(request_histogram),
            pushes: Family::default(),
            campaigns: Mutex::default(),
            polled: Mutex::default(),
            account: OnceLock::new(),
        }
    }
}

impl Metrics {
    /// From now on, the account's state, its rate and dispatch's heartbeat are read at
    /// each scrape (and `/healthz` follows the heartbeat).
    pub fn watch_account(
        &self,
        account: Arc<Account>,
        limiter: Arc<AccountLimiter>,
        heartbeat: Heartbeat,
    ) {
        let _ = self.account.set((account, limiter, heartbeat));
    }

    /// The campaigns' series as the store has them now; a campaign left out (archived)
    /// loses its series.
    pub fn publish_campaigns(&self, campaigns: Vec<CampaignSeries>) {
        *self.campaigns.lock().unwrap_or_else(|p| p.into_inner()) = campaigns;
    }

    /// getCdrList was read to its last page.
    pub fn polled(&self) {
        *self.polled.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
    }

    pub fn push(&self, result: PushResult) {
        self.pushes
            .get_or_create(&vec![("result", result.label().to_string())])
            .inc();
    }

    /// The text `/metrics` serves, in Prometheus' text format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut registry = Registry::with_prefix("voicecast");
        registry.register(
            "vendor_requests",
            "Requests to the vendor's API, by API and result (ok, or the class of failure)",
            self.requests.clone(),
        );
        registry.register_with_unit(
            "vendor_request_duration",
            "How long the vendor took to answer a request (or to fail), by API",
            Unit::Seconds,
            self.request_seconds.clone(),
        );
        registry.register(
            "pushes",
            "Pushes received by the push receiver, by what became of them",
            self.pushes.clone(),
        );
        let campaigns = self
            .campaigns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let polled = *self.polled.lock().unwrap_or_else(|p| p.into_inner());
        registry.register_collector(Box::new(Snapshot {
            campaigns,
            account: self.account.get().map(|(account, limiter, _)| {
                (
                    matches!(account.state(), AccountState::Halted { .. }),
                    limiter.rate().get(),
                )
            }),
            record_lag: polled.map(|at| at.elapsed()),
        }));
        let mut text = String::new();
        prometheus_text::encode(&mut text, &registry).expect("writing to a String does not fail");
        text
    }

    /// Why the daemon is not well, if it is not: dispatch's loop has stopped beating.
    /// A halted account is no illness.
    pub fn unwell(&self) -> Option<String> {
        let (_, _, heartbeat) = self.account.get()?;
        let age = heartbeat.age();
        (age > crate::service::stall_limit()).then(|| {
            format!(
                "dispatch's loop has made no progress for {} s",
                age.as_secs()
            )
        })
    }
}

impl RequestObserver for Metrics {
    fn observed(&self, api: &str, result: Result<(), &VendorError>, took: Duration) {
        let result = match result {
            Ok(()) => "ok",
            Err(VendorError::AccountHalt(_)) => "account_halt",
            Err(VendorError::Permanent(_)) => "permanent",
            Err(VendorError::NotPlaced(_)) => "not_placed",
            Err(VendorError::MayHaveBeenPlaced(_)) => "may_have_been_placed",
        };
        self.requests
            .get_or_create(&vec![
                ("api", api.to_string()),
                ("result", result.to_string()),
            ])
            .inc();
        self.request_seconds
            .get_or_create(&vec![("api", api.to_string())])
            .observe(took.as_secs_f64());
    }
}

/// The values read at a scrape: the campaigns' series, the account's, the poll's age.
#[derive(Debug)]
struct Snapshot {
    campaigns: Vec<CampaignSeries>,
    /// Whether the account is halted, and its rate.
    account: Option<(bool, u32)>,
    record_lag: Option<Duration>,
}

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let labelled = |c: &CampaignSeries| vec![("campaign", campaign_label(c))];
        family(
            &mut encoder,
            ("calls", "Calls placed, by campaign.", None),
            self.campaigns
                .iter()
                .map(|c| (labelled(c), ConstCounter::new(c.calls))),
        )?;
        family(
            &mut encoder,
            (
                "call_outcomes",
                "Call records applied, by campaign and what they said.",
                None,
            ),
            self.campaigns.iter().flat_map(|c| {
                c.outcomes.iter().map(move |(outcome, n)| {
                    let mut labels = labelled(c);
                    labels.push(("outcome", outcome.clone()));
                    (labels, ConstCounter::new(*n))
                })
            }),
        )?;
        family(
            &mut encoder,
            ("rows", "Rows, by campaign and state.", None),
            self.campaigns.iter().flat_map(|c| {
                c.rows.iter().map(move |(state, n)| {
                    let mut labels = labelled(c);
                    labels.push(("state", state.as_str().to_string()));
                    (labels, ConstGauge::new(*n as i64))
                })
            }),
        )?;
        family(
            &mut encoder,
            (
                "rows_dialable",
                "Rows due now in campaigns that may dial now.",
                None,
            ),
            self.campaigns
                .iter()
                .map(|c| (labelled(c), ConstGauge::new(c.dialable as i64))),
        )?;
        family(
            &mut encoder,
            (
                "rows_held_by_cap",
                "Pending rows a per-number cap held at their last turn.",
                None,
            ),
            self.campaigns
                .iter()
                .map(|c| (labelled(c), ConstGauge::new(c.held_by_cap as i64))),
        )?;
        if let Some((halted, rate)) = self.account {
            single(
                &mut encoder,
                ("account_halted", "1 while the account is halted.", None),
                ConstGauge::new(i64::from(halted)),
            )?;
            single(
                &mut encoder,
                (
                    "rate_limit_calls_per_second",
                    "The account's rate now (halved for a while after a concurrency cause).",
                    None,
                ),
                ConstGauge::new(i64::from(rate)),
            )?;
        }
        if let Some(lag) = self.record_lag {
            single(
                &mut encoder,
                (
                    "call_record_cursor_lag",
                    "How long ago getCdrList was last read to its last page.",
                    Some(&Unit::Seconds),
                ),
                ConstGauge::new(lag.as_secs_f64()),
            )?;
        }
        Ok(())
    }
}

/// A metric's name, help and unit.
type Descriptor<'a> = (&'a str, &'a str, Option<&'a Unit>);

/// Encodes one metric family of labelled values (nothing when there are none).
fn family<M: EncodeMetric>(
    encoder: &mut DescriptorEncoder<'_>,
    (name, help, unit): Descriptor<'_>,
    series: impl Iterator<Item = (Labels, M)>,
) -> Result<(), std::fmt::Error> {
    let mut series = series.peekable();
    let Some((_, first)) = series.peek() else {
        return Ok(());
    };
    let mut metric = encoder.encode_descriptor(name, help, unit, first.metric_type())?;
    for (labels, value) in series {
        value.encode(metric.encode_family(&labels)?)?;
    }
    Ok(())
}

/// Encodes one metric without labels.
fn single<M: EncodeMetric>(
    encoder: &mut DescriptorEncoder<'_>,
    (name, help, unit): Descriptor<'_>,
    value: M,
) -> Result<(), std::fmt::Error> {
    value.encode(encoder.encode_descriptor(name, help, unit, value.metric_type())?)
}

/// A campaign's `campaign` label: its name, or `#ID` when the name holds a run of seven
/// digits or more, which could be a phone number.
fn campaign_label(campaign: &CampaignSeries) -> String {
    let longest_run = campaign
        .name
        .split(|c: char| !c.is_ascii_digit())
        .map(str::len)
        .max()
        .unwrap_or(0);
    if longest_run >= 7 {
        format!("#{}", campaign.id)
    } else {
        campaign.name.clone()
    }
}

/// Binds `listen`; logs where.
pub async fn bind(listen: SocketAddr) -> std::io::Result<TcpListener> {
    let listener = TcpListener::bind(listen).await?;
    tracing::info!(listen = %listener.local_addr()?, "Metrics are served at /metrics, liveness at /healthz.");
    Ok(listener)
}

/// Serves `/metrics` and `/healthz` on `listener` until `shutdown`; every other path is
/// 404.
pub async fn serve(listener: TcpListener, metrics: Arc<Metrics>, shutdown: CancellationToken) {
    let app = Router::new()
        .route("/metrics", get(scrape))
        .route("/healthz", get(health))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") })
        .with_state(metrics);
    crate::listener::serve("metrics", listener, app, refuse_busy, shutdown).await;
}

async fn scrape(State(metrics): State<Arc<Metrics>>) -> Response {
    let text = tokio::task::spawn_blocking(move || metrics.render()).await;
    match text {
        Ok(text) => ([("content-type", prometheus_text::CONTENT_TYPE)], text).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn health(State(metrics): State<Arc<Metrics>>) -> Response {
    match metrics.unwell() {
        None => (StatusCode::OK, "ok\n").into_response(),
        Some(reason) => (StatusCode::SERVICE_UNAVAILABLE, format!("{reason}\n")).into_response(),
    }
}

/// Answers a connection that came while every other one is in a request: 503, then
/// closed.
fn refuse_busy(stream: TcpStream) {
    let _ = stream.try_write(
        b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_campaign_named_like_a_phone_number_is_labelled_by_its_id() {
        let series = |name: &str| CampaignSeries {
            id: 7,
            name: name.into(),
            ..CampaignSeries::default()
        };
        assert_eq!(campaign_label(&series("june-2026")), "june-2026");
        assert_eq!(campaign_label(&series("call-123456")), "call-123456");
        assert_eq!(campaign_label(&series("13800138000")), "#7");
        assert_eq!(campaign_label(&series("list 010-6234567")), "#7");
    }

    #[test]
    fn the_text_names_every_metric_the_prometheus_way() {
        let metrics = Metrics::default();
        metrics.publish_campaigns(vec![CampaignSeries {
            id: 1,
            name: "june".into(),
            calls: 3,
            outcomes: vec![("answered".into(), 2), ("busy".into(), 1)],
            rows: vec![(RowState::Answered, 2), (RowState::Pending, 1)],
            dialable: 1,
            held_by_cap: 0,
        }]);
        metrics.push(PushResult::Applied);
        metrics.observed("voiceNotify", Ok(()), Duration::from_millis(12));
        metrics.polled();
        let text = metrics.render();
        for line in [
            "voicecast_calls_total{campaign=\"june\"} 3",
            "voicecast_call_outcomes_total{campaign=\"june\",outcome=\"answered\"} 2",
            "voicecast_rows{campaign=\"june\",state=\"pending\"} 1",
            "voicecast_rows_dialable{campaign=\"june\"} 1",
            "voicecast_pushes_total{result=\"applied\"} 1",
            "voicecast_vendor_requests_total{api=\"voiceNotify\",result=\"ok\"} 1",
            "voicecast_vendor_request_duration_seconds_count{api=\"voiceNotify\"} 1",
            "# TYPE voicecast_call_record_cursor_lag_seconds gauge",
        ] {
            assert!(text.contains(line), "{line} in:\n{text}");
        }
        // An archived campaign's series go.
        metrics.publish_campaigns(Vec::new());
        assert!(!metrics.render().contains("june"));
    }
}
