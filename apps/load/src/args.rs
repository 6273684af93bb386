//! Command-line options: raw flags (clap), then [`RunArgs::scenario`] turns them into a
//! validated [`Scenario`]. Each option's default is in its help.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::client::Mechanism;
use crate::run::{MessageRate, Scenario};

/// Source addresses in one run, at most (a /24 of loopback).
pub const SOURCE_IPS_MAX: usize = 254;

/// `bream-load`: an XMPP load generator (plain XMPP over TCP, any server).
#[derive(Debug, Parser)]
#[command(
    name = "bream-load",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// A packaged benchmark instead of one scenario.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// One scenario (the default).
    #[command(flatten)]
    pub run: RunArgs,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start bream-xmpp on free loopback ports and run issue 6's benchmark (logins/s with
    /// SCRAM-SHA-256 over STARTTLS and PLAIN without TLS, message throughput and latency,
    /// memory per idle session), printing one table.
    BenchBream(crate::bench::BenchArgs),
}

/// One scenario's options.
#[derive(Clone, Debug, Args)]
pub struct RunArgs {
    /// The server's address: a loopback IP or `localhost` (traffic goes nowhere else).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// The server's client port.
    #[arg(long, default_value_t = 5222)]
    pub port: u16,
    /// Servers as `HOST:PORT`, a comma list or the flag repeated, instead of --host/--port
    /// (the nodes of a cluster): session `i` logs in to server `i % count`.
    #[arg(long, value_name = "HOST:PORT", value_delimiter = ',', conflicts_with_all = ["host", "port"])]
    pub server: Vec<String>,
    /// With several servers, send messages only between sessions on different servers
    /// (default: random pairs, of which `1 - 1/count` cross servers).
    #[arg(long)]
    pub cross_server: bool,
    /// The XMPP domain.
    #[arg(long, default_value = "localhost")]
    pub domain: String,
    /// Accounts `{user-prefix}1..={users}`, which must exist (or see --register-with-ctl).
    #[arg(long, default_value_t = 100)]
    pub users: u64,
    /// Account name prefix.
    #[arg(long, default_value = "user")]
    pub user_prefix: String,
    /// Every account's password.
    #[arg(long, default_value = "password")]
    pub password: String,
    /// Concurrent sessions to open (default: one per account). More sessions than accounts
    /// share accounts, with resources `{resource}{index}`.
    #[arg(long)]
    pub sessions: Option<u64>,
    /// Logins started per second.
    #[arg(long, default_value_t = 200.0)]
    pub rate: f64,
    /// Logins in flight at most.
    #[arg(long, default_value_t = 100)]
    pub login_concurrency: usize,
    /// Seconds one login (connect to initial presence) may take.
    #[arg(long, default_value_t = 30.0)]
    pub login_timeout: f64,
    /// Source addresses, a range `127.0.0.1-127.0.0.8` or a comma list; ~28 k connections
    /// each.
    #[arg(long, default_value = "127.0.0.1")]
    pub source_ips: String,
    /// STARTTLS before authenticating (any certificate is accepted).
    #[arg(long)]
    pub starttls: bool,
    /// SASL mechanism: plain, scram-sha-1 or scram-sha-256.
    #[arg(long, default_value = "scram-sha-256")]
    pub mechanism: Mechanism,
    /// Messages per second between random pairs: a number, 0 for none, or `max`.
    #[arg(long, default_value = "0")]
    pub messages_per_second: MessageRate,
    /// Messages in flight (dispatched, not yet delivered) at most.
    #[arg(long, default_value_t = 5000)]
    pub window: u64,
    /// Seconds of the message phase (or of holding idle sessions).
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Hold the sessions without messages (memory figures).
    #[arg(long)]
    pub idle: bool,
    /// Seconds to wait after logins before reading the server's memory.
    #[arg(long, default_value_t = 2.0)]
    pub settle: f64,
    /// Seconds to wait for messages in flight after the message phase.
    #[arg(long, default_value_t = 5.0)]
    pub drain: f64,
    /// Log every account in and out once first (fills the SCRAM cache, so measured logins
    /// cost this client no PBKDF2).
    #[arg(long)]
    pub warmup: bool,
    /// The server's pid: memory per session and CPU per login and per message from /proc.
    /// Several (a comma list or the flag repeated, e.g. a cluster's nodes) are summed.
    #[arg(long, value_delimiter = ',')]
    pub server_pid: Vec<u32>,
    /// The resource to bind.
    #[arg(long, default_value = "load")]
    pub resource: String,
    /// Seed of the random pair picker.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Seconds between whitespace keepalives.
    #[arg(long, default_value_t = 60.0)]
    pub keepalive: f64,
    /// Enable resumable stream management (XEP-0198) on every session and answer the
    /// server's `<r/>`, as a phone client does.
    #[arg(long)]
    pub stream_management: bool,
    /// Enable message carbons (XEP-0280) on every session.
    #[arg(long)]
    pub carbons: bool,
    /// Register the accounts first with `PATH [--config FILE] ctl account registerUser ...`
    /// (a bream-xmpp binary); existing accounts are fine.
    #[arg(long, value_name = "PATH")]
    pub register_with_ctl: Option<PathBuf>,
    /// The bream-xmpp config for --register-with-ctl.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Register the accounts first with this command; `{user}`, `{password}` and `{domain}`
    /// are replaced in each word (no shell), e.g. `ejabberdctl register {user} {domain}
    /// {password}`.
    #[arg(long, value_name = "TEMPLATE", conflicts_with = "register_with_ctl")]
    pub register_cmd: Option<String>,
    /// Register the accounts first in-band (XEP-0077), as ejabberd and Prosody allow from
    /// loopback here; existing accounts are fine.
    #[arg(long, conflicts_with_all = ["register_with_ctl", "register_cmd"])]
    pub register_ibr: bool,
    /// Register the accounts (with one of the options above) and stop there.
    #[arg(long)]
    pub register_only: bool,
    /// Registration commands (or in-band registrations) run at once.
    #[arg(long, default_value_t = 2)]
    pub register_concurrency: usize,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
}

fn seconds(name: &str, value: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(value).map_err(|_| format!("--{name} {value}: give seconds >= 0"))
}

/// Resolves `host` and insists on loopback.
pub fn loopback_address(host: &str, port: u16) -> Result<SocketAddr, String> {
    let addresses: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|error| format!("--host {host}: {error}"))?
        .collect();
    addresses
        .iter()
        .find(|address| address.ip().is_loopback() && address.is_ipv4())
        .or_else(|| addresses.iter().find(|address| address.ip().is_loopback()))
        .copied()
        .ok_or_else(|| {
            format!("--host {host}: not a loopback address; bream-load only loads this machine")
        })
}

/// Parses `--server` entries (`HOST:PORT`, `[::1]:PORT`); every one must be loopback.
pub fn parse_servers(entries: &[String]) -> Result<Vec<SocketAddr>, String> {
    let mut servers = Vec::with_capacity(entries.len());
    for entry in entries
        .iter()
        .map(|entry| entry.trim())
        .filter(|entry| !entry.is_empty())
    {
        let (host, port) = entry
            .rsplit_once(':')
            .ok_or_else(|| format!("--server {entry}: give HOST:PORT"))?;
        let port: u16 = port
            .parse()
            .map_err(|_| format!("--server {entry}: bad port {port:?}"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        servers.push(
            loopback_address(host, port).map_err(|error| format!("--server {entry}: {error}"))?,
        );
    }
    if servers.is_empty() {
        return Err("--server names no address".into());
    }
    Ok(servers)
}

/// Parses `127.0.0.1-127.0.0.8` or `127.0.0.1,127.0.0.3`; every address must be loopback.
pub fn parse_source_ips(text: &str) -> Result<Vec<IpAddr>, String> {
    let mut addresses = Vec::new();
    for part in text
        .split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
    {
        match part.split_once('-') {
            Some((first, last)) => {
                let first: Ipv4Addr = first
                    .trim()
                    .parse()
                    .map_err(|_| format!("bad address {first:?}"))?;
                let last: Ipv4Addr = last
                    .trim()
                    .parse()
                    .map_err(|_| format!("bad address {last:?}"))?;
                let (low, high) = (u32::from(first), u32::from(last));
                if low > high {
                    return Err(format!("range {part} runs backwards"));
                }
                if (high - low) as usize >= SOURCE_IPS_MAX {
                    return Err(format!(
                        "range {part} holds more than {SOURCE_IPS_MAX} addresses"
                    ));
                }
                addresses.extend((low..=high).map(|address| IpAddr::V4(Ipv4Addr::from(address))));
            }
            None => addresses.push(part.parse().map_err(|_| format!("bad address {part:?}"))?),
        }
    }
    if addresses.is_empty() {
        return Err("--source-ips names no address".into());
    }
    if addresses.len() > SOURCE_IPS_MAX {
        return Err(format!(
            "--source-ips: more than {SOURCE_IPS_MAX} addresses"
        ));
    }
    if let Some(address) = addresses.iter().find(|address| !address.is_loopback()) {
        return Err(format!("--source-ips: {address} is not a loopback address"));
    }
    Ok(addresses)
}

impl RunArgs {
    /// The validated scenario, or a message naming the bad option.
    pub fn scenario(&self, name: &str) -> Result<Scenario, String> {
        if self.users == 0 {
            return Err("--users must be at least 1".into());
        }
        let sessions = self.sessions.unwrap_or(self.users);
        if sessions == 0 {
            return Err("--sessions must be at least 1".into());
        }
        if !(self.rate > 0.0 && self.rate.is_finite()) {
            return Err(format!("--rate {}: give logins/s > 0", self.rate));
        }
        if self.login_concurrency == 0 {
            return Err("--login-concurrency must be at least 1".into());
        }
        if self.window == 0 {
            return Err("--window must be at least 1".into());
        }
        let keepalive = seconds("keepalive", self.keepalive)?;
        if keepalive.is_zero() {
            return Err("--keepalive must be above 0".into());
        }
        let login_timeout = seconds("login-timeout", self.login_timeout)?;
        if login_timeout.is_zero() {
            return Err("--login-timeout must be above 0".into());
        }
        let source_ips = parse_source_ips(&self.source_ips)?;
        // Each source address gives about 28 k ephemeral ports (32768..60999).
        let connections_max = source_ips.len() as u64 * 28_000;
        if sessions > connections_max {
            return Err(format!(
                "--sessions {sessions} needs more source addresses: {} give about {connections_max}",
                source_ips.len()
            ));
        }
        Ok(Scenario {
            name: name.to_string(),
            servers: if self.server.is_empty() {
                vec![loopback_address(&self.host, self.port)?]
            } else {
                parse_servers(&self.server)?
            },
            cross_server: self.cross_server,
            domain: self.domain.clone(),
            users: self.users,
            user_prefix: self.user_prefix.clone(),
            password: self.password.clone(),
            sessions,
            login_rate: self.rate,
            login_concurrency: self.login_concurrency,
            login_timeout,
            source_ips,
            starttls: self.starttls,
            mechanism: self.mechanism,
            messages: self.messages_per_second,
            window: self.window,
            duration: seconds("duration", self.duration)?,
            idle: self.idle,
            settle: seconds("settle", self.settle)?,
            drain: seconds("drain", self.drain)?,
            warmup: self.warmup,
            server_pids: self.server_pid.clone(),
            resource: self.resource.clone(),
            seed: self.seed,
            keepalive,
            stream_management: self.stream_management,
            carbons: self.carbons,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scram::ScramHash;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("bream-load").chain(args.iter().copied()))
    }

    #[test]
    fn defaults_make_a_valid_scenario() {
        let cli = parse(&[]).unwrap();
        assert!(cli.command.is_none());
        let scenario = cli.run.scenario("default").unwrap();
        assert_eq!(scenario.servers, vec!["127.0.0.1:5222".parse().unwrap()]);
        assert_eq!(scenario.sessions, 100);
        assert_eq!(scenario.mechanism, Mechanism::Scram(ScramHash::Sha256));
        assert_eq!(scenario.messages, MessageRate::None);
    }

    #[test]
    fn full_scenario() {
        let cli = parse(&[
            "--host",
            "localhost",
            "--port",
            "5223",
            "--users",
            "10",
            "--sessions",
            "40",
            "--rate",
            "500",
            "--source-ips",
            "127.0.0.1-127.0.0.8",
            "--starttls",
            "--mechanism",
            "plain",
            "--messages-per-second",
            "max",
            "--duration",
            "2.5",
            "--server-pid",
            "42",
            "--json",
        ])
        .unwrap();
        assert!(cli.run.json);
        let scenario = cli.run.scenario("x").unwrap();
        assert_eq!(scenario.servers.len(), 1);
        assert_eq!(scenario.servers[0].port(), 5223);
        assert!(scenario.servers[0].ip().is_loopback());
        assert_eq!(scenario.sessions, 40);
        assert_eq!(scenario.source_ips.len(), 8);
        assert_eq!(
            scenario.source_ips[7],
            "127.0.0.8".parse::<IpAddr>().unwrap()
        );
        assert!(scenario.starttls);
        assert_eq!(scenario.mechanism, Mechanism::Plain);
        assert_eq!(scenario.messages, MessageRate::Max);
        assert_eq!(scenario.duration, Duration::from_millis(2500));
        assert_eq!(scenario.server_pids, vec![42]);
    }

    #[test]
    fn several_servers() {
        let scenario = |args: &[&str]| parse(args).map(|cli| cli.run.scenario("x"));
        let listed = scenario(&[
            "--server",
            "127.0.0.1:5222,127.0.0.1:5322",
            "--server",
            "localhost:5422",
            "--server-pid",
            "7,8",
            "--server-pid",
            "9",
        ])
        .unwrap()
        .unwrap();
        let ports: Vec<u16> = listed.servers.iter().map(SocketAddr::port).collect();
        assert_eq!(ports, [5222, 5322, 5422]);
        assert!(listed
            .servers
            .iter()
            .all(|server| server.ip().is_loopback()));
        assert_eq!(listed.server_pids, [7, 8, 9]);
        assert!(scenario(&["--server", "[::1]:5222"])
            .unwrap()
            .unwrap()
            .servers[0]
            .ip()
            .is_loopback());
        assert!(scenario(&["--server", "127.0.0.1"])
            .unwrap()
            .unwrap_err()
            .contains("HOST:PORT"));
        assert!(scenario(&["--server", "127.0.0.1:x"])
            .unwrap()
            .unwrap_err()
            .contains("port"));
        assert!(scenario(&["--server", "192.0.2.1:5222"])
            .unwrap()
            .unwrap_err()
            .contains("loopback"));
        // The old single-server form and the list do not mix.
        assert!(scenario(&["--server", "127.0.0.1:5222", "--port", "5223"]).is_err());
    }

    #[test]
    fn bad_values_name_the_option() {
        assert!(parse(&["--mechanism", "digest-md5"]).is_err());
        assert!(parse(&["--messages-per-second", "lots"]).is_err());
        let scenario = |args: &[&str]| parse(args).unwrap().run.scenario("x");
        assert!(scenario(&["--users", "0"]).unwrap_err().contains("--users"));
        assert!(scenario(&["--rate", "0"]).unwrap_err().contains("--rate"));
        assert!(scenario(&["--duration=-1"])
            .unwrap_err()
            .contains("--duration"));
        assert!(scenario(&["--host", "192.0.2.1"])
            .unwrap_err()
            .contains("loopback"));
        assert!(scenario(&["--source-ips", "10.0.0.1"])
            .unwrap_err()
            .contains("loopback"));
        assert!(scenario(&["--source-ips", "127.0.0.9-127.0.0.1"]).is_err());
        assert!(scenario(&["--sessions", "30000"])
            .unwrap_err()
            .contains("source addresses"));
        assert!(parse(&["--register-with-ctl", "x", "--register-cmd", "y"]).is_err());
    }

    #[test]
    fn bench_subcommand() {
        let cli = parse(&["bench-bream", "--server-binary", "/bin/true"]).unwrap();
        assert!(matches!(cli.command, Some(Command::BenchBream(_))));
    }
}
