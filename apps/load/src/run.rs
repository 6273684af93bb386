//! One scenario run: (warm-up), log in `sessions` sessions at a rate, then send messages
//! between random pairs (or hold the sessions idle), then close everything and report.
//!
//! # Phases and what each measures
//!
//! 1. Baseline: the server's RSS and CPU time (with `server_pids`).
//! 2. Warm-up (optional): every account logs in once and out again, which fills the SCRAM
//!    salted-password cache so the measured logins cost the client no PBKDF2.
//! 3. Logins: session *i* starts at `i / login_rate` s, at most `login_concurrency` in flight,
//!    each with its own deadline, to server `i % servers` (see [`server_of_session`]). Measures logins/s (successes over the phase's wall time),
//!    login latency (TCP connect to initial presence written), server CPU per login.
//! 4. Settle, then RSS again: (after − baseline) / sessions is the server's memory per session.
//! 5. Messages (unless idle): a scheduler dispatches to random (sender, receiver) pairs (with
//!    `cross_server`, pairs on different servers only) at the target rate (or, at `max`, as fast as the in-flight window allows); each body carries the
//!    send time, so the receiver computes the latency. The phase ends with a drain (waiting for
//!    in-flight messages, bounded); what never arrived is `lost`. Server CPU over the phase is
//!    divided by messages delivered.
//! 6. Close: every session sends `</stream:stream>` and waits for the server's, bounded.
//!
//! With several server pids (a cluster's nodes), the server figures are their sums.
//!
//! Every wait has a deadline, every loop a bound in time or count; the only sockets opened go
//! to `servers`.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::{mpsc, Notify, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;

use crate::client::{Account, Connection, LoginSettings, Mechanism};
use crate::probe;
use crate::report::{Report, ServerFigures};
use crate::scram::SaltedPasswordCache;
use crate::stats::{Errors, Histogram};
use crate::xml::{self, Event};

/// Commands queued for one session, at most. A full queue means this client cannot write as
/// fast as it is asked to: the message is skipped and counted as `send_backlog`.
pub const SESSION_QUEUE_MAX: usize = 64;
/// Messages the scheduler dispatches without yielding.
const SCHEDULER_BURST_MAX: u64 = 2000;
/// How long one write to the server may take once logged in.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long closing all sessions may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(20);
/// The scheduler's tick.
const TICK: Duration = Duration::from_millis(1);
/// Draws of a receiver on another server before the pair picker settles for any receiver.
const CROSS_SERVER_DRAWS_MAX: usize = 64;

/// The message load.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MessageRate {
    /// No messages.
    None,
    /// This many messages per second in all.
    PerSecond(f64),
    /// As fast as the in-flight window allows.
    Max,
}

impl std::str::FromStr for MessageRate {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        if text.eq_ignore_ascii_case("max") {
            return Ok(MessageRate::Max);
        }
        match text.parse::<f64>() {
            Ok(0.0) => Ok(MessageRate::None),
            Ok(rate) if rate > 0.0 && rate.is_finite() => Ok(MessageRate::PerSecond(rate)),
            _ => Err(format!(
                "{text:?} is not a rate: give messages/s (>= 0) or max"
            )),
        }
    }
}

impl std::fmt::Display for MessageRate {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MessageRate::None => formatter.write_str("0"),
            MessageRate::PerSecond(rate) => write!(formatter, "{rate}"),
            MessageRate::Max => formatter.write_str("max"),
        }
    }
}

/// A validated scenario (see `args` for each option's meaning and default).
#[derive(Clone, Debug)]
pub struct Scenario {
    /// A name for reports.
    pub name: String,
    /// The servers (one, or the nodes of a cluster); session `i` logs in to
    /// `servers[server_of_session(i, servers.len())]`.
    pub servers: Vec<SocketAddr>,
    /// Send messages only between sessions on different servers.
    pub cross_server: bool,
    /// The XMPP domain.
    pub domain: String,
    /// Accounts `{user_prefix}1..={users}`.
    pub users: u64,
    /// Account name prefix.
    pub user_prefix: String,
    /// Every account's password.
    pub password: String,
    /// Sessions to open; session `i` uses account `i % users + 1`.
    pub sessions: u64,
    /// Logins started per second.
    pub login_rate: f64,
    /// Logins in flight at most.
    pub login_concurrency: usize,
    /// How long one login may take.
    pub login_timeout: Duration,
    /// Source addresses, used in turn.
    pub source_ips: Vec<IpAddr>,
    /// STARTTLS before authenticating.
    pub starttls: bool,
    /// The SASL mechanism.
    pub mechanism: Mechanism,
    /// The message load.
    pub messages: MessageRate,
    /// Messages dispatched but not yet delivered, at most.
    pub window: u64,
    /// How long the message (or idle) phase lasts.
    pub duration: Duration,
    /// Hold the sessions without messages.
    pub idle: bool,
    /// Wait after logins before reading memory.
    pub settle: Duration,
    /// How long to wait for messages in flight after the message phase.
    pub drain: Duration,
    /// Log every account in and out once before measuring.
    pub warmup: bool,
    /// The servers' pids, for memory and CPU figures (summed).
    pub server_pids: Vec<u32>,
    /// The resource bound (suffixed with the session index when sessions share accounts).
    pub resource: String,
    /// Seed of the pair picker.
    pub seed: u64,
    /// Whitespace keepalive interval.
    pub keepalive: Duration,
    /// Enable stream management on every session.
    pub stream_management: bool,
    /// Enable carbons on every session.
    pub carbons: bool,
}

/// What a run's sessions share.
struct RunContext {
    epoch: Instant,
    /// `bl:RUN:`, the body prefix; bodies without it (offline messages of an earlier run) are
    /// counted as stale and not timed.
    tag: String,
    latency: Histogram,
    sent: AtomicU64,
    delivered: AtomicU64,
    stale: AtomicU64,
    errors: Errors,
    delivered_notify: Notify,
}

enum Command {
    Send { to: Arc<str> },
    Close,
}

struct SessionHandle {
    commands: mpsc::Sender<Command>,
    jid: Arc<str>,
    /// The index of its server in `Scenario::servers`.
    server: usize,
}

/// The server session `index` logs in to, of `servers`: round-robin, so that `n` consecutive
/// sessions cover `n` servers and the counts differ by at most one.
pub fn server_of_session(index: u64, servers: usize) -> usize {
    (index % servers.max(1) as u64) as usize
}

/// A receiver for `from` among `count` sessions, never `from` itself; with `cross_server`,
/// one on another server than `from`'s (by `server_of`) unless
/// [`CROSS_SERVER_DRAWS_MAX`] draws found none.
fn pick_receiver(
    rng: &mut impl Rng,
    from: usize,
    count: usize,
    cross_server: bool,
    server_of: impl Fn(usize) -> usize,
) -> usize {
    let mut draw = || {
        let to = rng.random_range(0..count - 1);
        if to >= from {
            to + 1
        } else {
            to
        }
    };
    let mut to = draw();
    if cross_server {
        for _ in 0..CROSS_SERVER_DRAWS_MAX {
            if server_of(to) != server_of(from) {
                break;
            }
            to = draw();
        }
    }
    to
}

/// Shared across the runs of one process: the TLS connector and the SCRAM cache.
pub struct Shared {
    /// Built once (peers/README.md pitfall 8).
    pub connector: TlsConnector,
    /// Salted passwords.
    pub scram_cache: Arc<SaltedPasswordCache>,
}

impl Shared {
    /// Builds the TLS connector and an empty cache.
    pub fn new() -> anyhow::Result<Shared> {
        Ok(Shared {
            connector: crate::tls::connector()?,
            scram_cache: Arc::new(SaltedPasswordCache::new(SCRAM_CACHE_ENTRIES_MAX)),
        })
    }
}

/// Salted passwords kept (one per account and hash: ~100 bytes each).
pub const SCRAM_CACHE_ENTRIES_MAX: usize = 1_000_000;

/// The sum of `read` over `pids`; `None` without pids or when one reading fails.
fn server_reading(pids: &[u32], read: impl Fn(u32) -> std::io::Result<u64>) -> Option<u64> {
    if pids.is_empty() {
        return None;
    }
    let mut total = 0;
    for &pid in pids {
        match read(pid) {
            Ok(value) => total += value,
            Err(error) => {
                tracing::warn!(pid, %error, "cannot read the server's /proc figures");
                return None;
            }
        }
    }
    Some(total)
}

/// Runs `scenario` to the end and reports. Errors of single sessions are counted in the
/// report, not returned.
pub async fn run(scenario: &Scenario, shared: &Shared) -> Report {
    let settings: Vec<Arc<LoginSettings>> = scenario
        .servers
        .iter()
        .map(|&server| {
            Arc::new(LoginSettings {
                server,
                domain: scenario.domain.clone(),
                starttls: scenario.starttls,
                mechanism: scenario.mechanism,
                connector: Some(shared.connector.clone()),
                scram_cache: shared.scram_cache.clone(),
                stream_management: scenario.stream_management,
                carbons: scenario.carbons,
            })
        })
        .collect();
    let mut report = Report::new(scenario);
    let pid = scenario.server_pids.as_slice();
    let rss_before = server_reading(pid, probe::resident_bytes);

    if scenario.warmup {
        let warmup = Scenario {
            sessions: scenario.sessions.min(scenario.users),
            ..scenario.clone()
        };
        let context = new_context(scenario.seed);
        let (handles, _, _) = open_sessions(&warmup, &settings, &context).await;
        close_sessions(handles).await;
        report.warmup_errors = context.errors.snapshot().values().sum();
        tracing::info!(errors = report.warmup_errors, "warm-up done");
    }

    let context = new_context(scenario.seed);
    let cpu_before_logins = server_reading(pid, probe::cpu_micros);
    let (handles, login_latency, login_elapsed) =
        open_sessions(scenario, &settings, &context).await;
    let cpu_after_logins = server_reading(pid, probe::cpu_micros);
    report.logins_ok = handles.len() as u64;
    report.logins_failed = scenario.sessions - report.logins_ok;
    report.login_elapsed_s = login_elapsed.as_secs_f64();
    report.login_rate_per_s = rate(report.logins_ok, login_elapsed);
    report.login_latency_us = login_latency.summary();
    tracing::info!(
        ok = report.logins_ok,
        failed = report.logins_failed,
        per_second = report.login_rate_per_s,
        "logins done"
    );

    tokio::time::sleep(scenario.settle).await;
    let rss_after = server_reading(pid, probe::resident_bytes);

    let cpu_before_messages = server_reading(pid, probe::cpu_micros);
    let client_cpu_before = probe::cpu_micros(std::process::id()).ok();
    let message_started = Instant::now();
    if scenario.idle || scenario.messages == MessageRate::None {
        tokio::time::sleep(if scenario.idle {
            scenario.duration
        } else {
            Duration::ZERO
        })
        .await;
    } else {
        let (dispatched, cross_server) = send_messages(scenario, &handles, &context).await;
        report.messages_cross_server = cross_server;
        let drain_deadline = Instant::now() + scenario.drain;
        while context.delivered.load(Ordering::Relaxed) < dispatched
            && Instant::now() < drain_deadline
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        report.messages_dispatched = dispatched;
    }
    let message_elapsed = message_started.elapsed();
    let cpu_after_messages = server_reading(pid, probe::cpu_micros);
    let client_cpu_after = probe::cpu_micros(std::process::id()).ok();

    report.messages_sent = context.sent.load(Ordering::Relaxed);
    report.messages_delivered = context.delivered.load(Ordering::Relaxed);
    report.messages_stale = context.stale.load(Ordering::Relaxed);
    report.messages_lost = report
        .messages_dispatched
        .saturating_sub(report.messages_delivered);
    report.message_phase_s = message_elapsed.as_secs_f64();
    report.delivered_per_s = rate(report.messages_delivered, message_elapsed);
    report.message_latency_us = context.latency.summary();
    if let (Some(before), Some(after)) = (client_cpu_before, client_cpu_after) {
        if report.messages_delivered > 0 {
            report.client_cpu_per_message_us =
                Some((after - before) as f64 / report.messages_delivered as f64);
        }
    }

    report.sessions_at_end = handles
        .iter()
        .filter(|handle| !handle.commands.is_closed())
        .count() as u64;
    close_sessions(handles).await;
    context
        .errors
        .add_many("lost_messages", report.messages_lost);
    report.errors = context.errors.snapshot();

    if !pid.is_empty() {
        let mut server = ServerFigures {
            rss_before_bytes: rss_before,
            rss_after_bytes: rss_after,
            ..ServerFigures::default()
        };
        if let (Some(before), Some(after)) = (rss_before, rss_after) {
            if report.logins_ok > 0 {
                server.rss_per_session_bytes =
                    Some((after as f64 - before as f64) / report.logins_ok as f64);
            }
        }
        if let (Some(before), Some(after)) = (cpu_before_logins, cpu_after_logins) {
            server.cpu_logins_ms = Some((after - before) as f64 / 1000.0);
            if report.logins_ok > 0 {
                server.cpu_per_login_ms =
                    Some((after - before) as f64 / 1000.0 / report.logins_ok as f64);
            }
        }
        if let (Some(before), Some(after)) = (cpu_before_messages, cpu_after_messages) {
            server.cpu_messages_ms = Some((after - before) as f64 / 1000.0);
            if report.messages_delivered > 0 {
                server.cpu_per_message_us =
                    Some((after - before) as f64 / report.messages_delivered as f64);
            }
        }
        report.server = Some(server);
    }
    report
}

fn rate(count: u64, elapsed: Duration) -> f64 {
    if elapsed.is_zero() {
        return 0.0;
    }
    count as f64 / elapsed.as_secs_f64()
}

fn new_context(seed: u64) -> Arc<RunContext> {
    let run_id: u32 = StdRng::seed_from_u64(seed ^ u64::from(std::process::id())).random::<u32>()
        ^ rand::random::<u32>();
    Arc::new(RunContext {
        epoch: Instant::now(),
        tag: format!("bl:{run_id:08x}:"),
        latency: Histogram::new(),
        sent: AtomicU64::new(0),
        delivered: AtomicU64::new(0),
        stale: AtomicU64::new(0),
        errors: Errors::default(),
        delivered_notify: Notify::new(),
    })
}

/// Logs the scenario's sessions in; returns the live ones, the login latency histogram and
/// the phase's wall time (first start to last finish).
async fn open_sessions(
    scenario: &Scenario,
    settings: &[Arc<LoginSettings>],
    context: &Arc<RunContext>,
) -> (Vec<SessionHandle>, Arc<Histogram>, Duration) {
    let latency = Arc::new(Histogram::new());
    let semaphore = Arc::new(Semaphore::new(scenario.login_concurrency.max(1)));
    let started = Instant::now();
    let mut logins = JoinSet::new();
    let shared_accounts = scenario.sessions > scenario.users;
    for index in 0..scenario.sessions {
        let start_at = started + Duration::from_secs_f64(index as f64 / scenario.login_rate);
        tokio::time::sleep_until(start_at).await;
        // Waits at most one login deadline: every login in flight ends by its own.
        let Ok(permit) = semaphore.clone().acquire_owned().await else {
            break;
        };
        let user = format!("{}{}", scenario.user_prefix, index % scenario.users + 1);
        let resource = if shared_accounts {
            format!("{}{index}", scenario.resource)
        } else {
            scenario.resource.clone()
        };
        let source = scenario.source_ips[index as usize % scenario.source_ips.len()];
        let password = scenario.password.clone();
        let server = server_of_session(index, settings.len());
        let settings = settings[server].clone();
        let context = context.clone();
        let latency = latency.clone();
        let login_timeout = scenario.login_timeout;
        let keepalive = scenario.keepalive;
        let domain = scenario.domain.clone();
        logins.spawn(async move {
            let begun = Instant::now();
            let account = Account {
                username: &user,
                password: &password,
                resource: &resource,
                source,
            };
            let result = Connection::login(&settings, &account, begun + login_timeout).await;
            drop(permit);
            match result {
                Ok(connection) => {
                    latency.record(begun.elapsed().as_micros() as u64);
                    let jid: Arc<str> = if connection.jid.is_empty() {
                        format!("{user}@{domain}/{resource}").into()
                    } else {
                        connection.jid.clone().into()
                    };
                    let (commands, receiver) = mpsc::channel(SESSION_QUEUE_MAX);
                    tokio::spawn(session_loop(connection, receiver, context, keepalive));
                    Some(SessionHandle {
                        commands,
                        jid,
                        server,
                    })
                }
                Err(error) => {
                    tracing::debug!(%user, %error, "login failed");
                    context.errors.add(&error.kind());
                    None
                }
            }
        });
    }
    let mut handles = Vec::with_capacity(scenario.sessions as usize);
    while let Some(joined) = logins.join_next().await {
        match joined {
            Ok(Some(handle)) => handles.push(handle),
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(%error, "login task failed");
                context.errors.add("task");
            }
        }
    }
    let elapsed = started.elapsed();
    (handles, latency, elapsed)
}

/// Dispatches messages until the scenario's duration has passed; returns how many were queued
/// to a session, and how many of those to a session on another server.
async fn send_messages(
    scenario: &Scenario,
    handles: &[SessionHandle],
    context: &RunContext,
) -> (u64, u64) {
    if handles.len() < 2 {
        context.errors.add("too_few_sessions_for_messages");
        return (0, 0);
    }
    let cross_server = scenario.cross_server && scenario.servers.len() > 1;
    let mut dispatched_cross = 0u64;
    let mut rng = StdRng::seed_from_u64(scenario.seed);
    let started = Instant::now();
    let end = started + scenario.duration;
    let mut scheduled = 0u64;
    let mut dispatched = 0u64;
    let mut skipped_backlog = 0u64;
    let mut skipped_closed = 0u64;
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        let target = match scenario.messages {
            MessageRate::PerSecond(rate) => (rate * (now - started).as_secs_f64()) as u64,
            MessageRate::Max | MessageRate::None => u64::MAX,
        };
        let mut burst = 0;
        let mut window_full = false;
        while scheduled < target && burst < SCHEDULER_BURST_MAX {
            let in_flight = dispatched.saturating_sub(context.delivered.load(Ordering::Relaxed));
            if in_flight >= scenario.window {
                window_full = true;
                break;
            }
            let from = rng.random_range(0..handles.len());
            let to = pick_receiver(&mut rng, from, handles.len(), cross_server, |index| {
                handles[index].server
            });
            let command = Command::Send {
                to: handles[to].jid.clone(),
            };
            match handles[from].commands.try_send(command) {
                Ok(()) => {
                    dispatched += 1;
                    if handles[to].server != handles[from].server {
                        dispatched_cross += 1;
                    }
                }
                Err(mpsc::error::TrySendError::Full(_)) => skipped_backlog += 1,
                Err(mpsc::error::TrySendError::Closed(_)) => skipped_closed += 1,
            }
            scheduled += 1;
            burst += 1;
        }
        if window_full {
            let _ = tokio::time::timeout(TICK, context.delivered_notify.notified()).await;
        } else if burst < SCHEDULER_BURST_MAX {
            tokio::time::sleep(TICK).await;
        } else {
            tokio::task::yield_now().await;
        }
    }
    context.errors.add_many("send_backlog", skipped_backlog);
    context
        .errors
        .add_many("send_to_closed_session", skipped_closed);
    (dispatched, dispatched_cross)
}

/// Asks every session to close and waits for them (bounded by [`CLOSE_TIMEOUT`]).
async fn close_sessions(handles: Vec<SessionHandle>) {
    let deadline = Instant::now() + CLOSE_TIMEOUT;
    for handle in &handles {
        let _ = tokio::time::timeout_at(deadline, handle.commands.send(Command::Close)).await;
    }
    for handle in handles {
        let _ = tokio::time::timeout_at(deadline, handle.commands.closed()).await;
    }
}

/// One logged-in session: reads (timing messages, answering pings), writes what the scheduler
/// asks, sends keepalives, and closes on request. It ends on close, on a server error or when
/// the connection drops, counting the last two as errors.
async fn session_loop(
    mut connection: Connection,
    mut commands: mpsc::Receiver<Command>,
    context: Arc<RunContext>,
    keepalive: Duration,
) {
    let mut keepalive_timer = tokio::time::interval_at(Instant::now() + keepalive, keepalive);
    let mut next_id = 0u64;
    loop {
        loop {
            match connection.take_event() {
                Ok(Some(event)) => {
                    if let Some(reply) = handle_event(event, &context, connection.handled()) {
                        match reply {
                            Reply::Send(text) => {
                                if !write(&mut connection, &text, &context).await {
                                    return;
                                }
                            }
                            Reply::End => return,
                        }
                    }
                }
                Ok(None) => break,
                Err(error) => {
                    tracing::debug!(%error, "bad XML from the server");
                    context.errors.add("protocol");
                    return;
                }
            }
        }
        tokio::select! {
            read = connection.fill() => match read {
                Ok(true) => {}
                Ok(false) => {
                    context.errors.add("closed:session");
                    return;
                }
                Err(_) => {
                    context.errors.add("io:session");
                    return;
                }
            },
            command = commands.recv() => match command {
                Some(Command::Send { to }) => {
                    next_id += 1;
                    let sent_at = context.epoch.elapsed().as_micros();
                    let text = format!(
                        "<message to='{}' type='chat' id='m{next_id}'><body>{}{sent_at}</body></message>",
                        xml::escape(&to),
                        context.tag
                    );
                    if !write(&mut connection, &text, &context).await {
                        return;
                    }
                    context.sent.fetch_add(1, Ordering::Relaxed);
                }
                Some(Command::Close) | None => {
                    commands.close();
                    connection.close(Instant::now() + CLOSE_TIMEOUT).await;
                    return;
                }
            },
            _ = keepalive_timer.tick() => {
                if !write(&mut connection, " ", &context).await {
                    return;
                }
            }
        }
    }
}

async fn write(connection: &mut Connection, text: &str, context: &RunContext) -> bool {
    match tokio::time::timeout(WRITE_TIMEOUT, connection.send(text)).await {
        Ok(Ok(())) => true,
        Ok(Err(_)) => {
            context.errors.add("io:session");
            false
        }
        Err(_) => {
            context.errors.add("timeout:write");
            false
        }
    }
}

enum Reply {
    Send(String),
    End,
}

/// What one event from the server asks of the session; `handled` is the stream management
/// count (with SM enabled), which answers an `<r/>`.
fn handle_event(event: Event, context: &RunContext, handled: Option<u32>) -> Option<Reply> {
    let stanza = match event {
        Event::Stanza(stanza) => stanza,
        Event::StreamEnd => {
            context.errors.add("closed:session");
            return Some(Reply::End);
        }
        Event::StreamStart(_) => return None,
    };
    match xml::root_name(&stanza) {
        "message" => {
            if xml::attribute(&stanza, "type").as_deref() == Some("error") {
                context.errors.add("message_error");
                return None;
            }
            let body = xml::child_text(&stanza, "body")?;
            match body
                .strip_prefix(context.tag.as_str())
                .and_then(|micros| micros.parse::<u64>().ok())
            {
                Some(sent_at) => {
                    let now = context.epoch.elapsed().as_micros() as u64;
                    context.latency.record(now.saturating_sub(sent_at));
                    context.delivered.fetch_add(1, Ordering::Relaxed);
                    context.delivered_notify.notify_one();
                }
                None => {
                    context.stale.fetch_add(1, Ordering::Relaxed);
                }
            }
            None
        }
        "iq" => {
            let kind = xml::attribute(&stanza, "type");
            if !matches!(kind.as_deref(), Some("get" | "set")) {
                return None;
            }
            let id = xml::attribute(&stanza, "id").unwrap_or_default();
            let id = xml::escape(&id);
            let to = xml::attribute(&stanza, "from")
                .map(|from| format!(" to='{}'", xml::escape(&from)))
                .unwrap_or_default();
            if xml::has_child(&stanza, "ping") {
                Some(Reply::Send(format!("<iq type='result' id='{id}'{to}/>")))
            } else {
                Some(Reply::Send(format!(
                    "<iq type='error' id='{id}'{to}><error type='cancel'>\
                     <service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"
                )))
            }
        }
        "r" => handled.map(|h| Reply::Send(format!("<a xmlns='urn:xmpp:sm:3' h='{h}'/>"))),
        "error" => {
            let condition = crate::client::stream_error_condition(&stanza);
            context.errors.add(&format!("stream_error:{condition}"));
            Some(Reply::End)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_rates_parse() {
        assert_eq!("max".parse(), Ok(MessageRate::Max));
        assert_eq!("0".parse(), Ok(MessageRate::None));
        assert_eq!("2000".parse(), Ok(MessageRate::PerSecond(2000.0)));
        assert!("-1".parse::<MessageRate>().is_err());
        assert!("fast".parse::<MessageRate>().is_err());
        assert!("inf".parse::<MessageRate>().is_err());
    }

    #[test]
    fn sessions_spread_round_robin_over_servers() {
        assert_eq!(server_of_session(0, 1), 0);
        assert_eq!(server_of_session(41, 1), 0);
        let assigned: Vec<usize> = (0..7).map(|index| server_of_session(index, 3)).collect();
        assert_eq!(assigned, [0, 1, 2, 0, 1, 2, 0]);
        for (sessions, servers) in [(1000u64, 3usize), (10, 4), (2, 3), (100_000, 7)] {
            let mut counts = vec![0u64; servers];
            for index in 0..sessions {
                counts[server_of_session(index, servers)] += 1;
            }
            let (low, high) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
            assert!(high - low <= 1, "{sessions} over {servers}: {counts:?}");
            assert_eq!(counts.iter().sum::<u64>(), sessions);
        }
        // No server at all is treated as one rather than dividing by zero.
        assert_eq!(server_of_session(5, 0), 0);
    }

    #[test]
    fn receivers_are_others_and_cross_servers_when_asked() {
        let mut rng = StdRng::seed_from_u64(3);
        let server_of = |index: usize| server_of_session(index as u64, 3);
        let (mut same, mut cross) = (0, 0);
        for draw in 0..3000 {
            let from = draw % 999;
            let to = pick_receiver(&mut rng, from, 999, false, server_of);
            assert_ne!(to, from);
            assert!(to < 999);
            if server_of(to) == server_of(from) {
                same += 1;
            } else {
                cross += 1;
            }
            let to = pick_receiver(&mut rng, from, 999, true, server_of);
            assert_ne!(to, from);
            assert_ne!(server_of(to), server_of(from));
        }
        // Random pairs over 3 servers: about two thirds cross.
        assert!(cross > 1800 && same > 800, "cross {cross}, same {same}");
        // Two sessions: the only receiver is the other one.
        assert_eq!(pick_receiver(&mut rng, 0, 2, true, |_| 0), 1);
    }

    #[test]
    fn receiver_times_its_own_messages_only() {
        let context = new_context(7);
        let body = format!("{}{}", context.tag, 0);
        let message = format!("<message from='a@x/r' type='chat'><body>{body}</body></message>");
        assert!(handle_event(Event::Stanza(message), &context, None).is_none());
        assert_eq!(context.delivered.load(Ordering::Relaxed), 1);
        let stale = "<message type='chat'><body>bl:00000000:5</body></message>".to_string();
        handle_event(Event::Stanza(stale), &context, None);
        assert_eq!(context.stale.load(Ordering::Relaxed), 1);
        let ping = "<iq type='get' id='p1' from='localhost'><ping xmlns='urn:xmpp:ping'/></iq>";
        let Some(Reply::Send(reply)) = handle_event(Event::Stanza(ping.into()), &context, None)
        else {
            panic!("a ping is answered")
        };
        assert_eq!(reply, "<iq type='result' id='p1' to='localhost'/>");
        let error =
            "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>";
        assert!(matches!(
            handle_event(Event::Stanza(error.into()), &context, None),
            Some(Reply::End)
        ));
        assert_eq!(context.errors.snapshot()["stream_error:conflict"], 1);
        // With stream management, an <r/> is answered with the count.
        let request = "<r xmlns='urn:xmpp:sm:3'/>".to_string();
        let Some(Reply::Send(answer)) =
            handle_event(Event::Stanza(request.clone()), &context, Some(7))
        else {
            panic!("an <r/> is answered")
        };
        assert_eq!(answer, "<a xmlns='urn:xmpp:sm:3' h='7'/>");
        assert!(handle_event(Event::Stanza(request), &context, None).is_none());
    }
}
