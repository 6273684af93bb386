//! A run's figures: one JSON object (`--json`) or a human table. Printing to stdout is the
//! program's output, so it lives here and in `main`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::run::Scenario;
use crate::stats::LatencySummary;

/// Everything a run measured.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// The scenario's name.
    pub name: String,
    /// The server's `host:port` (several, comma-separated, for a cluster).
    pub target: String,
    /// Servers the sessions were spread over.
    pub servers: usize,
    /// Sessions asked for.
    pub sessions: u64,
    /// Accounts used.
    pub users: u64,
    /// SASL mechanism.
    pub mechanism: String,
    /// STARTTLS used.
    pub starttls: bool,
    /// Target message rate (`0`, a number, or `max`).
    pub message_rate: String,
    /// Message or idle phase, seconds.
    pub duration_s: f64,
    /// Source addresses used.
    pub source_ips: usize,
    /// Errors during the warm-up pass.
    pub warmup_errors: u64,
    /// Sessions logged in.
    pub logins_ok: u64,
    /// Sessions that failed to log in.
    pub logins_failed: u64,
    /// Wall time of the login phase.
    pub login_elapsed_s: f64,
    /// Successful logins per second of the login phase.
    pub login_rate_per_s: f64,
    /// TCP connect to initial presence written.
    pub login_latency_us: LatencySummary,
    /// Messages queued to a sender.
    pub messages_dispatched: u64,
    /// Messages dispatched to a session on another server than the sender's.
    pub messages_cross_server: u64,
    /// Messages written to the server.
    pub messages_sent: u64,
    /// Messages received and timed.
    pub messages_delivered: u64,
    /// Dispatched but never received (by the end of the drain).
    pub messages_lost: u64,
    /// Messages received from an earlier run (offline storage), not timed.
    pub messages_stale: u64,
    /// Wall time of the message phase, drain included.
    pub message_phase_s: f64,
    /// Messages delivered per second of the message phase.
    pub delivered_per_s: f64,
    /// Send to receive.
    pub message_latency_us: LatencySummary,
    /// Sessions still connected when the run ended.
    pub sessions_at_end: u64,
    /// The load generator's CPU per delivered message, µs.
    pub client_cpu_per_message_us: Option<f64>,
    /// Errors by kind.
    pub errors: BTreeMap<String, u64>,
    /// Server figures, with a server pid.
    pub server: Option<ServerFigures>,
}

/// What `/proc` says about the server.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ServerFigures {
    /// RSS before any session.
    pub rss_before_bytes: Option<u64>,
    /// RSS after the sessions logged in and settled.
    pub rss_after_bytes: Option<u64>,
    /// (after − before) / sessions logged in.
    pub rss_per_session_bytes: Option<f64>,
    /// CPU time during the login phase.
    pub cpu_logins_ms: Option<f64>,
    /// CPU time per login.
    pub cpu_per_login_ms: Option<f64>,
    /// CPU time during the message phase.
    pub cpu_messages_ms: Option<f64>,
    /// CPU time per delivered message.
    pub cpu_per_message_us: Option<f64>,
}

impl Report {
    /// An empty report naming `scenario`.
    pub fn new(scenario: &Scenario) -> Self {
        Report {
            name: scenario.name.clone(),
            target: scenario
                .servers
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(","),
            servers: scenario.servers.len(),
            sessions: scenario.sessions,
            users: scenario.users,
            mechanism: scenario.mechanism.name().to_string(),
            starttls: scenario.starttls,
            message_rate: if scenario.idle {
                "idle".to_string()
            } else {
                scenario.messages.to_string()
            },
            duration_s: scenario.duration.as_secs_f64(),
            source_ips: scenario.source_ips.len(),
            ..Report::default()
        }
    }

    /// The total of every error kind.
    pub fn error_total(&self) -> u64 {
        self.errors.values().sum()
    }

    /// The report as one JSON object.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|error| format!("{{\"error\":\"{error}\"}}"))
    }

    /// The report as a two-column table.
    pub fn to_table(&self) -> String {
        let mut rows: Vec<(String, String)> = vec![
            ("scenario".into(), self.name.clone()),
            (
                "server".into(),
                format!(
                    "{} ({}{}, {} source ips)",
                    self.target,
                    self.mechanism,
                    if self.starttls { " over STARTTLS" } else { "" },
                    self.source_ips
                ),
            ),
            (
                "sessions".into(),
                format!(
                    "{} asked, {} logged in, {} failed ({} users)",
                    self.sessions, self.logins_ok, self.logins_failed, self.users
                ),
            ),
            (
                "login rate".into(),
                format!(
                    "{:.0}/s over {:.2} s",
                    self.login_rate_per_s, self.login_elapsed_s
                ),
            ),
            (
                "login latency".into(),
                format!(
                    "p50 {} p99 {} max {}",
                    millis(self.login_latency_us.p50_us),
                    millis(self.login_latency_us.p99_us),
                    millis(self.login_latency_us.max_us)
                ),
            ),
        ];
        if self.messages_dispatched > 0 || self.messages_delivered > 0 {
            rows.push((
                "messages".into(),
                format!(
                    "rate {} for {:.1} s: {} dispatched, {} sent, {} delivered, {} lost",
                    self.message_rate,
                    self.duration_s,
                    self.messages_dispatched,
                    self.messages_sent,
                    self.messages_delivered,
                    self.messages_lost
                ),
            ));
            if self.servers > 1 {
                rows.push((
                    "across servers".into(),
                    format!(
                        "{} of {} dispatched ({:.0} %)",
                        self.messages_cross_server,
                        self.messages_dispatched,
                        100.0 * self.messages_cross_server as f64
                            / self.messages_dispatched.max(1) as f64
                    ),
                ));
            }
            rows.push((
                "delivered".into(),
                format!("{:.0} msg/s", self.delivered_per_s),
            ));
            rows.push((
                "message latency".into(),
                format!(
                    "p50 {} p90 {} p99 {} max {}",
                    millis(self.message_latency_us.p50_us),
                    millis(self.message_latency_us.p90_us),
                    millis(self.message_latency_us.p99_us),
                    millis(self.message_latency_us.max_us)
                ),
            ));
            if let Some(client) = self.client_cpu_per_message_us {
                rows.push(("client CPU/message".into(), format!("{client:.1} µs")));
            }
        }
        if let Some(server) = &self.server {
            rows.push((
                "server RSS".into(),
                format!(
                    "{} before, {} after, {} per session",
                    optional_mib(server.rss_before_bytes),
                    optional_mib(server.rss_after_bytes),
                    server
                        .rss_per_session_bytes
                        .map(|bytes| format!("{:.1} KB", bytes / 1000.0))
                        .unwrap_or_else(|| "-".into())
                ),
            ));
            rows.push((
                "server CPU/login".into(),
                optional(server.cpu_per_login_ms, "ms", 3),
            ));
            rows.push((
                "server CPU/message".into(),
                optional(server.cpu_per_message_us, "µs", 1),
            ));
        }
        let errors = if self.errors.is_empty() {
            "none".to_string()
        } else {
            self.errors
                .iter()
                .map(|(kind, count)| format!("{kind}={count}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        rows.push(("errors".into(), errors));
        let width = rows
            .iter()
            .map(|(key, _)| key.chars().count())
            .max()
            .unwrap_or(0);
        let mut table = String::new();
        for (key, value) in rows {
            let _ = writeln!(table, "{key:<width$}  {value}");
        }
        table
    }
}

/// µs as milliseconds with three decimals.
pub fn millis(micros: u64) -> String {
    format!("{:.3} ms", micros as f64 / 1000.0)
}

fn optional(value: Option<f64>, unit: &str, decimals: usize) -> String {
    match value {
        Some(value) => format!("{value:.decimals$} {unit}"),
        None => "-".into(),
    }
}

fn optional_mib(bytes: Option<u64>) -> String {
    match bytes {
        Some(bytes) => format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0)),
        None => "-".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_and_json_hold_the_figures() {
        let mut report = Report {
            name: "t".into(),
            logins_ok: 3,
            messages_delivered: 10,
            ..Report::default()
        };
        report.errors.insert("auth".into(), 2);
        report.server = Some(ServerFigures {
            cpu_per_message_us: Some(4.25),
            ..ServerFigures::default()
        });
        let table = report.to_table();
        assert!(table.contains("auth=2"), "{table}");
        assert!(
            table.contains("4.2 µs") || table.contains("4.3 µs"),
            "{table}"
        );
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(json["logins_ok"], 3);
        assert_eq!(json["server"]["cpu_per_message_us"], 4.25);
        assert_eq!(report.error_total(), 2);
    }
}
