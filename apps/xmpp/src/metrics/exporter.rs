//! The Prometheus listener (`[listen.prometheus]`): metrics and health checks over HTTP.
//!
//! - `GET /metrics`: every metric of [`crate::metrics`] in the Prometheus text format.
//! - `GET /health/live`: 200 `ok` while the node runs (the listener answering is the proof).
//! - `GET /health/ready`: 200 `ready` when the readiness watch given to [`serve`] holds
//!   `true`, else 503 `not ready`. The server sets it once its listeners are up; clustering
//!   may take it back while the node is not joined. After the sender is dropped the last
//!   value stays in force.
//!
//! No authentication, as MongooseIM's `mongoose_prometheus_handler`: bind it where only the
//! scraper and the orchestrator reach it if the numbers are sensitive.
//!
//! The Prometheus recorder is rendered through its handle into an axum route; its own HTTP
//! listener (a feature of `metrics-exporter-prometheus`) is not used, so every listener of
//! the node is started, stopped and logged the same way ([`crate::api::listener`]).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::sync::watch;

use crate::api::listener::HttpListener;
use crate::config::Config;

/// How often histograms are compacted between scrapes (the recorder's upkeep).
pub const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// The path of the metrics.
pub const METRICS_PATH: &str = "/metrics";
/// The path of the liveness check.
pub const LIVE_PATH: &str = "/health/live";
/// The path of the readiness check.
pub const READY_PATH: &str = "/health/ready";

/// Where the listener listens. [`Default`] is 0.0.0.0:9091.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrometheusSettings {
    /// Default `0.0.0.0:9091`. Port 0 lets the system pick one.
    pub bind: SocketAddr,
}

impl Default for PrometheusSettings {
    fn default() -> Self {
        PrometheusSettings {
            bind: SocketAddr::new(
                IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                crate::config::listen::PROMETHEUS_PORT_DEFAULT,
            ),
        }
    }
}

impl PrometheusSettings {
    /// `[listen.prometheus]`'s settings; `None` when it is disabled.
    pub fn from_config(config: &Config) -> Option<PrometheusSettings> {
        let section = &config.listen.prometheus;
        section.enabled.then(|| PrometheusSettings {
            bind: SocketAddr::new(section.ip_address, section.port),
        })
    }
}

/// Why the listener did not start.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// The address could not be bound.
    #[error("cannot listen for Prometheus on {address}: {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
}

#[derive(Clone)]
struct Exporter {
    handle: PrometheusHandle,
    ready: watch::Receiver<bool>,
}

/// The running listener. Dropping it leaves it running; stop it with
/// [`MetricsHandle::shutdown`].
#[derive(Debug)]
pub struct MetricsHandle {
    listener: HttpListener,
    upkeep: tokio::task::JoinHandle<()>,
}

impl MetricsHandle {
    /// The address it listens on (with the real port where port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr()
    }

    /// Stops the listener and the upkeep.
    pub async fn shutdown(self) {
        self.upkeep.abort();
        self.listener.shutdown().await;
    }
}

/// Installs the recorder ([`crate::metrics::install`]) and starts the listener; `ready` drives
/// `/health/ready`.
///
/// Errors: [`MetricsError::Bind`].
pub async fn serve(
    settings: PrometheusSettings,
    ready: watch::Receiver<bool>,
) -> Result<MetricsHandle, MetricsError> {
    let handle = crate::metrics::install();
    let app = axum::Router::new()
        .route(METRICS_PATH, get(metrics))
        .route(LIVE_PATH, get(live))
        .route(READY_PATH, get(readiness))
        .with_state(Exporter {
            handle: handle.clone(),
            ready,
        });
    let listener = HttpListener::bind(settings.bind, app, "prometheus")
        .await
        .map_err(|source| MetricsError::Bind {
            address: settings.bind,
            source,
        })?;
    let upkeep = tokio::spawn(async move {
        let mut interval = tokio::time::interval(UPKEEP_INTERVAL);
        loop {
            interval.tick().await;
            handle.run_upkeep();
        }
    });
    Ok(MetricsHandle { listener, upkeep })
}

/// Starts the listener as `[listen.prometheus]` says; `Ok(None)` when it is disabled.
///
/// Errors: as [`serve`].
pub async fn start_from_config(
    config: &Config,
    ready: watch::Receiver<bool>,
) -> Result<Option<MetricsHandle>, MetricsError> {
    match PrometheusSettings::from_config(config) {
        Some(settings) => serve(settings, ready).await.map(Some),
        None => {
            tracing::info!("Prometheus listener disabled (listen.prometheus.enabled = false)");
            Ok(None)
        }
    }
}

async fn metrics(State(exporter): State<Exporter>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        exporter.handle.render(),
    )
}

async fn live() -> &'static str {
    "ok"
}

async fn readiness(State(exporter): State<Exporter>) -> impl IntoResponse {
    if *exporter.ready.borrow() {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    }
}
