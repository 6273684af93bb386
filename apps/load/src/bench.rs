//! `bream-load bench-bream`: issue 6's single-node benchmark, packaged. It writes a config with
//! a free loopback port into a work directory, registers the accounts with the server's own
//! CLI (straight on its database, before the start), then for each scenario starts
//! `bream-xmpp start` afresh (so memory and CPU figures belong to that scenario alone), runs
//! the scenario against it with its pid, and stops it. One table at the end.
//!
//! Scenarios (each can be picked with `--scenarios`):
//! - `login-tls`: logins/s with SCRAM-SHA-256 over STARTTLS (after a warm-up pass that fills
//!   the client's SCRAM cache, so the client's PBKDF2 is not what is measured);
//! - `login-plain`: logins/s with PLAIN, no TLS (the server runs PBKDF2 per login);
//! - `msg-rate`: one-to-one messages at `--message-rate` between random pairs of
//!   `--message-sessions` sessions;
//! - `msg-max`: the same as fast as a window of in-flight messages allows;
//! - `idle-plain`, `idle-tls`: `--idle-sessions` bound sessions held idle, memory per session.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use clap::Args;

use crate::client::Mechanism;
use crate::register::{self, RegisterCommand};
use crate::report::{millis, Report};
use crate::run::{self, MessageRate, Scenario, Shared};
use crate::scram::ScramHash;

/// How long the server may take to accept connections after its start.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the server may take to stop after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

const ALL_SCENARIOS: [&str; 6] = [
    "login-tls",
    "login-plain",
    "msg-rate",
    "msg-max",
    "idle-plain",
    "idle-tls",
];

/// `bench-bream` options.
#[derive(Clone, Debug, Args)]
pub struct BenchArgs {
    /// The bream-xmpp binary (a release build).
    #[arg(long, value_name = "PATH")]
    pub server_binary: PathBuf,
    /// Where the config, database and logs go (default: a new directory under /tmp). Reusing
    /// one skips registering accounts that exist.
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// Scenarios to run, comma-separated: login-tls, login-plain, msg-rate, msg-max,
    /// idle-plain, idle-tls.
    #[arg(
        long,
        default_value = "login-tls,login-plain,msg-rate,msg-max,idle-plain,idle-tls"
    )]
    pub scenarios: String,
    /// Sessions in each login scenario.
    #[arg(long, default_value_t = 1000)]
    pub login_sessions: u64,
    /// Logins in flight at most in the login scenarios.
    #[arg(long, default_value_t = 50)]
    pub login_concurrency: usize,
    /// Sessions exchanging messages.
    #[arg(long, default_value_t = 1000)]
    pub message_sessions: u64,
    /// Messages per second in `msg-rate`.
    #[arg(long, default_value_t = 2000.0)]
    pub message_rate: f64,
    /// Messages in flight at most in `msg-max`.
    #[arg(long, default_value_t = 2000)]
    pub window: u64,
    /// Seconds of each message phase.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Sessions held idle for the memory figure.
    #[arg(long, default_value_t = 5000)]
    pub idle_sessions: u64,
    /// Seconds to let the server settle before reading its memory.
    #[arg(long, default_value_t = 5.0)]
    pub settle: f64,
    /// Source addresses (see the scenario option).
    #[arg(long, default_value = "127.0.0.1-127.0.0.4")]
    pub source_ips: String,
    /// Registration commands run at once.
    #[arg(long, default_value_t = 2)]
    pub register_concurrency: usize,
    /// Print the reports as one JSON array instead of the table.
    #[arg(long)]
    pub json: bool,
}

const PASSWORD: &str = "bench-password";
const DOMAIN: &str = "localhost";
const PREFIX: &str = "user";

/// A running bream-xmpp.
struct Server {
    child: Child,
}

impl Server {
    fn start(
        binary: &Path,
        config: &Path,
        address: SocketAddr,
        log: &Path,
    ) -> anyhow::Result<Server> {
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening {}", log.display()))?;
        let child = Command::new(binary)
            .arg("--config")
            .arg(config)
            .arg("start")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut server = Server { child };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
                return Ok(server);
            }
            if let Some(status) = server.child.try_wait()? {
                bail!(
                    "bream-xmpp exited with {status} before listening; see {}",
                    log.display()
                );
            }
            if Instant::now() >= deadline {
                server.stop();
                bail!("bream-xmpp did not listen on {address} within {START_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then SIGKILL after [`STOP_TIMEOUT`].
    fn stop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status();
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        tracing::warn!(pid = self.pid(), "bream-xmpp ignored SIGTERM; killing it");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stop();
        }
    }
}

fn free_loopback_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// The config: one c2s listener on `port`, and (when `admin_off`) the admin API, the user API
/// and the Prometheus listener switched off, so that a bench server never competes for their
/// fixed default ports (nor listens beyond loopback: the last two default to 0.0.0.0).
fn write_config(dir: &Path, port: u16, admin_off: bool) -> anyhow::Result<PathBuf> {
    let mut config = format!(
        "# Written by bream-load bench-bream.\n\
         [general]\nhosts = [\"{DOMAIN}\"]\ndata_dir = \"{}\"\nloglevel = \"warning\"\n\n\
         [[listen.c2s]]\nport = {port}\nip_address = \"127.0.0.1\"\n",
        dir.join("data").display()
    );
    if admin_off {
        config.push_str(
            "\n[listen.graphql_admin]\nenabled = false\n\n[listen.graphql_user]\nenabled = false\n\n\
             [listen.prometheus]\nenabled = false\n",
        );
    }
    let path = dir.join("bream.toml");
    std::fs::write(&path, config).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Writes the config, leaving out the `[listen.*]` API sections for a server too old to know
/// them.
fn write_config_for(binary: &Path, dir: &Path, port: u16) -> anyhow::Result<PathBuf> {
    let path = write_config(dir, port, true)?;
    let output = Command::new(binary)
        .arg("--config")
        .arg(&path)
        .args(["ctl", "account", "countUsers", "--domain", DOMAIN])
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {}", binary.display()))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if ["graphql_admin", "graphql_user", "prometheus"]
        .iter()
        .any(|section| text.contains(section))
    {
        return write_config(dir, port, false);
    }
    Ok(path)
}

/// How many accounts the database has, by the server's CLI (`None` if it cannot tell).
fn count_users(binary: &Path, config: &Path) -> Option<u64> {
    let output = Command::new(binary)
        .arg("--config")
        .arg(config)
        .args(["ctl", "account", "countUsers", "--domain", DOMAIN])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
    // `countUsers` prints a bare number; accept an object with `count` too.
    value
        .as_u64()
        .or_else(|| value.get("count").and_then(serde_json::Value::as_u64))
}

/// Runs the benchmark and prints its table (or JSON).
pub async fn bench_bream(args: &BenchArgs) -> anyhow::Result<Vec<Report>> {
    let selected: Vec<&str> = args.scenarios.split(',').map(str::trim).collect();
    if let Some(unknown) = selected.iter().find(|name| !ALL_SCENARIOS.contains(name)) {
        bail!(
            "--scenarios: unknown scenario {unknown:?}; known: {}",
            ALL_SCENARIOS.join(",")
        );
    }
    let binary = args
        .server_binary
        .canonicalize()
        .with_context(|| format!("--server-binary {}", args.server_binary.display()))?;
    let dir = match &args.work_dir {
        Some(dir) => dir.clone(),
        None => std::env::temp_dir().join(format!("bream-bench-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let port = free_loopback_port()?;
    let config = write_config_for(&binary, &dir, port)?;
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let log = dir.join("bream-xmpp.log");
    tracing::info!(dir = %dir.display(), %address, "bench-bream");

    let users = [
        args.login_sessions,
        args.message_sessions,
        if selected.iter().any(|name| name.starts_with("idle")) {
            args.idle_sessions
        } else {
            0
        },
    ]
    .into_iter()
    .max()
    .unwrap_or(0)
    .max(2);
    let existing = count_users(&binary, &config).unwrap_or(0);
    if existing < users {
        let started = Instant::now();
        let command = RegisterCommand::bream_ctl(&binary, Some(&config));
        let outcome = register::register(
            &command,
            PREFIX,
            1..=users,
            PASSWORD,
            DOMAIN,
            args.register_concurrency,
        )
        .await;
        tracing::info!(?outcome, elapsed = ?started.elapsed(), "accounts registered");
        if outcome.failed > 0 {
            bail!(
                "{} of {users} registrations failed; see the log above",
                outcome.failed
            );
        }
    }

    let base = crate::args::RunArgs {
        host: "127.0.0.1".into(),
        port,
        domain: DOMAIN.into(),
        users,
        user_prefix: PREFIX.into(),
        password: PASSWORD.into(),
        sessions: None,
        rate: 1_000_000.0,
        login_concurrency: args.login_concurrency,
        login_timeout: 60.0,
        source_ips: args.source_ips.clone(),
        starttls: false,
        mechanism: Mechanism::Scram(ScramHash::Sha256),
        messages_per_second: MessageRate::None,
        window: args.window,
        duration: 0.0,
        idle: false,
        settle: 0.0,
        drain: 5.0,
        warmup: false,
        server: Vec::new(),
        cross_server: false,
        server_pid: Vec::new(),
        resource: "load".into(),
        seed: 1,
        keepalive: 60.0,
        stream_management: false,
        carbons: false,
        register_with_ctl: None,
        config: None,
        register_cmd: None,
        register_ibr: false,
        register_only: false,
        register_concurrency: args.register_concurrency,
        json: false,
    };
    let shared = Shared::new()?;
    let mut reports = Vec::new();
    for name in ALL_SCENARIOS.iter().filter(|name| selected.contains(name)) {
        let mut run_args = base.clone();
        match *name {
            "login-tls" => {
                run_args.sessions = Some(args.login_sessions);
                run_args.users = args.login_sessions;
                run_args.starttls = true;
                run_args.warmup = true;
            }
            "login-plain" => {
                run_args.sessions = Some(args.login_sessions);
                run_args.users = args.login_sessions;
                run_args.mechanism = Mechanism::Plain;
            }
            "msg-rate" | "msg-max" => {
                run_args.sessions = Some(args.message_sessions);
                run_args.users = args.message_sessions;
                // SCRAM logins are cheap for the server; warm the client's cache once.
                run_args.warmup = shared.scram_cache.len() < args.message_sessions as usize;
                run_args.messages_per_second = if *name == "msg-max" {
                    MessageRate::Max
                } else {
                    MessageRate::PerSecond(args.message_rate)
                };
                run_args.rate = 500.0;
                run_args.duration = args.duration;
                run_args.window = if *name == "msg-max" {
                    args.window
                } else {
                    1_000_000
                };
            }
            "idle-plain" | "idle-tls" => {
                run_args.sessions = Some(args.idle_sessions);
                run_args.users = args.idle_sessions;
                run_args.mechanism = Mechanism::Plain;
                run_args.starttls = *name == "idle-tls";
                run_args.idle = true;
                run_args.rate = 500.0;
                run_args.settle = args.settle;
            }
            _ => continue,
        }
        let mut server = Server::start(&binary, &config, address, &log)?;
        run_args.server_pid = vec![server.pid()];
        let scenario: Scenario = run_args
            .scenario(name)
            .map_err(|message| anyhow::anyhow!("scenario {name}: {message}"))?;
        tracing::info!(scenario = name, "running");
        let report = run::run(&scenario, &shared).await;
        server.stop();
        tracing::info!(
            scenario = name,
            logins_per_s = report.login_rate_per_s,
            delivered_per_s = report.delivered_per_s,
            errors = report.error_total(),
            "done"
        );
        reports.push(report);
    }
    Ok(reports)
}

/// The benchmark's summary: one row per scenario.
pub fn summary_table(reports: &[Report]) -> String {
    let header = [
        "scenario",
        "sessions",
        "logins/s",
        "login p50",
        "login p99",
        "msg/s",
        "lat p50",
        "lat p90",
        "lat p99",
        "lat max",
        "RSS/session",
        "CPU/login",
        "CPU/msg",
        "errors",
    ];
    let mut rows = vec![header
        .iter()
        .map(|cell| cell.to_string())
        .collect::<Vec<_>>()];
    for report in reports {
        let server = report.server.clone().unwrap_or_default();
        let messages = report.messages_delivered > 0;
        let message_cell = |micros: u64| if messages { millis(micros) } else { "-".into() };
        let is_login = report.name.starts_with("login");
        let is_idle = report.message_rate == "idle";
        rows.push(vec![
            report.name.clone(),
            format!("{}/{}", report.logins_ok, report.sessions),
            format!("{:.0}", report.login_rate_per_s),
            millis(report.login_latency_us.p50_us),
            millis(report.login_latency_us.p99_us),
            if messages {
                format!("{:.0}", report.delivered_per_s)
            } else {
                "-".into()
            },
            message_cell(report.message_latency_us.p50_us),
            message_cell(report.message_latency_us.p90_us),
            message_cell(report.message_latency_us.p99_us),
            message_cell(report.message_latency_us.max_us),
            match server.rss_per_session_bytes {
                Some(bytes) if is_idle => format!("{:.1} KB", bytes / 1000.0),
                _ => "-".into(),
            },
            match server.cpu_per_login_ms {
                Some(ms) if is_login || is_idle => format!("{ms:.3} ms"),
                _ => "-".into(),
            },
            match server.cpu_per_message_us {
                Some(us) if messages => format!("{us:.1} µs"),
                _ => "-".into(),
            },
            report.error_total().to_string(),
        ]);
    }
    let columns = header.len();
    let widths: Vec<usize> = (0..columns)
        .map(|column| {
            rows.iter()
                .map(|row| row[column].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut table = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        table.push_str(cells.join("  ").trim_end());
        table.push('\n');
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_has_a_row_per_report() {
        let reports = [
            Report {
                name: "login-tls".into(),
                ..Report::default()
            },
            Report {
                name: "msg-rate".into(),
                messages_delivered: 5,
                delivered_per_s: 2000.0,
                ..Report::default()
            },
        ];
        let table = summary_table(&reports);
        assert_eq!(table.lines().count(), 3);
        assert!(table.contains("2000"), "{table}");
    }

    #[test]
    fn config_names_the_port_and_data_dir() {
        let dir = std::env::temp_dir().join(format!("bream-load-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = write_config(&dir, 4242, true).unwrap();
        let text = std::fs::read_to_string(path).unwrap();
        assert!(text.contains("port = 4242"));
        assert!(text.contains("data_dir"));
        assert!(text.contains("graphql_admin"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
