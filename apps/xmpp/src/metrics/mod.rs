//! The server's metrics: their names, and the small helpers the rest of the server calls to
//! record them (one line at each place something happens). [`exporter`] serves them to
//! Prometheus with the health checks.
//!
//! | name | type | labels | what |
//! | --- | --- | --- | --- |
//! | [`SESSIONS`] | gauge | | bound client sessions on this node |
//! | [`LOGINS`] | counter | `mechanism` | successful SASL authentications |
//! | [`LOGINS_FAILED`] | counter | `mechanism` | failed SASL authentications |
//! | [`STANZAS_IN`] | counter | `kind` | stanzas clients sent that were routed (`message`, `presence`, `iq`) |
//! | [`STANZAS_OUT`] | counter | `kind` | stanzas routed to client sessions |
//! | [`ROUTING_SECONDS`] | histogram | | time in [`Router::route`](crate::router::Router::route), hooks and storage included |
//! | [`OFFLINE_QUEUE`] | histogram | | messages a user has stored offline, observed at each store |
//! | [`DATABASE_QUERY_SECONDS`] | histogram | `operation` | time of each storage operation (`store_offline`, `roster_items`, ...) |
//!
//! Recording goes through the [`metrics`] facade: until [`install`] sets the process's
//! recorder, every helper is a no-op costing an atomic load, so library users and unit tests
//! pay nothing. The recorder is process-global (one per OS process, like the node); several
//! servers in one test process share it, so tests compare values before and after rather than
//! expecting zero.
//!
//! The protocol state machines stay free of I/O: recording a counter is not I/O, and the SASL
//! outcome is counted where the mechanism is known, in the stream state machine.
//!
//! Where Bream differs from MongooseIM: MongooseIM's Prometheus names come from its
//! `instrument` events (`c2s_message_processed`, `sm_session`, ...); Bream uses its own
//! `bream_xmpp_` names, listed above, with Prometheus' conventions (`_total`, `_seconds`).

pub mod exporter;

use std::sync::OnceLock;
use std::time::Instant;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Gauge: bound client sessions on this node.
pub const SESSIONS: &str = "bream_xmpp_sessions";
/// Counter by `mechanism`: successful SASL authentications.
pub const LOGINS: &str = "bream_xmpp_logins_total";
/// Counter by `mechanism`: failed SASL authentications (wrong password, unknown user, aborted,
/// malformed, database unavailable).
pub const LOGINS_FAILED: &str = "bream_xmpp_logins_failed_total";
/// Counter by `kind`: stanzas clients sent that were routed.
pub const STANZAS_IN: &str = "bream_xmpp_stanzas_in_total";
/// Counter by `kind`: stanzas routed to client sessions.
pub const STANZAS_OUT: &str = "bream_xmpp_stanzas_out_total";
/// Histogram, seconds: one [`Router::route`](crate::router::Router::route).
pub const ROUTING_SECONDS: &str = "bream_xmpp_routing_seconds";
/// Histogram, messages: a user's offline queue length after each message stored.
pub const OFFLINE_QUEUE: &str = "bream_xmpp_offline_queue_messages";
/// Histogram by `operation`, seconds: one storage operation, transaction and retries included.
pub const DATABASE_QUERY_SECONDS: &str = "bream_xmpp_database_query_seconds";

/// Bucket bounds for the latency histograms, seconds: 50 µs to 5 s (the storage timeout).
const LATENCY_BUCKETS: [f64; 14] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
    5.0,
];

/// Bucket bounds for offline queue lengths (MongooseIM's default limit is 100).
const QUEUE_BUCKETS: [f64; 9] = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 500.0, 1000.0];

/// The kind label of a stanza name; `None` for anything that is not a stanza.
fn kind(name: &str) -> Option<&'static str> {
    match name {
        "message" => Some("message"),
        "presence" => Some("presence"),
        "iq" => Some("iq"),
        _ => None,
    }
}

/// A client session was bound.
pub fn session_opened() {
    metrics::gauge!(SESSIONS).increment(1.0);
}

/// A bound client session ended.
pub fn session_closed() {
    metrics::gauge!(SESSIONS).decrement(1.0);
}

/// A client authenticated with `mechanism` (`PLAIN`, `SCRAM-SHA-256`, ...).
pub fn login(mechanism: &'static str) {
    metrics::counter!(LOGINS, "mechanism" => mechanism).increment(1);
}

/// A client failed to authenticate with `mechanism`.
pub fn login_failed(mechanism: &'static str) {
    metrics::counter!(LOGINS_FAILED, "mechanism" => mechanism).increment(1);
}

/// A client sent a stanza named `name` that goes to the router.
pub fn stanza_in(name: &str) {
    if let Some(kind) = kind(name) {
        metrics::counter!(STANZAS_IN, "kind" => kind).increment(1);
    }
}

/// A stanza named `name` was handed to a client session.
pub fn stanza_out(name: &str) {
    if let Some(kind) = kind(name) {
        metrics::counter!(STANZAS_OUT, "kind" => kind).increment(1);
    }
}

/// A user's offline queue holds `messages` after a store.
pub fn offline_queue(messages: i64) {
    metrics::histogram!(OFFLINE_QUEUE).record(messages as f64);
}

/// Records the time from its start to its drop in a latency histogram, so a function with
/// several returns needs one line: `let _timer = metrics::Timer::routing();`.
#[derive(Debug)]
#[must_use = "the time is recorded when the timer is dropped"]
pub struct Timer {
    started: Instant,
    histogram: metrics::Histogram,
}

impl Timer {
    /// Times one routing ([`ROUTING_SECONDS`]).
    pub fn routing() -> Timer {
        Timer {
            started: Instant::now(),
            histogram: metrics::histogram!(ROUTING_SECONDS),
        }
    }

    /// Times one storage operation ([`DATABASE_QUERY_SECONDS`]).
    pub fn database(operation: &'static str) -> Timer {
        Timer {
            started: Instant::now(),
            histogram: metrics::histogram!(DATABASE_QUERY_SECONDS, "operation" => operation),
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        self.histogram.record(self.started.elapsed().as_secs_f64());
    }
}

/// Installs the Prometheus recorder as the process's metrics recorder, once, and returns the
/// handle that renders it. Later calls return the same handle. If another recorder was
/// installed first (an embedding application's), a warning is logged and the handle renders
/// only what reaches it: nothing.
pub fn install() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".to_string()), &LATENCY_BUCKETS)
                .and_then(|builder| {
                    builder.set_buckets_for_metric(
                        Matcher::Full(OFFLINE_QUEUE.to_string()),
                        &QUEUE_BUCKETS,
                    )
                });
            let recorder = match builder {
                Ok(builder) => builder.build_recorder(),
                Err(error) => {
                    // Only empty bucket lists fail, and ours are constants.
                    tracing::error!(%error, "metric buckets refused: histograms become summaries");
                    PrometheusBuilder::new().build_recorder()
                }
            };
            let handle = recorder.handle();
            if let Err(error) = metrics::set_global_recorder(recorder) {
                tracing::warn!(%error, "another metrics recorder is installed: /metrics stays empty");
            }
            handle
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_stanzas_have_a_kind() {
        assert_eq!(kind("message"), Some("message"));
        assert_eq!(kind("iq"), Some("iq"));
        assert_eq!(kind("presence"), Some("presence"));
        assert_eq!(kind("stream:features"), None);
    }

    #[test]
    fn buckets_are_sorted() {
        assert!(LATENCY_BUCKETS.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(QUEUE_BUCKETS.windows(2).all(|pair| pair[0] < pair[1]));
    }
}
