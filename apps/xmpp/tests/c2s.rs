//! The c2s listeners over real sockets: the c2s layer alone (no SQL: in-memory accounts)
//! started in this process on a free port, and the test kit's XMPP client.
//!
//! Nothing waits a fixed time: every wait is for a read, an event or a
//! condition, with a deadline ([`DEADLINE`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bream_testkit::xmpp::{tls_connector, TestClient, DOMAIN, NS_SASL, NS_TLS, PASSWORD};
use bream_testkit::{eventually_sync, init_tracing, DEADLINE};
use bream_xmpp::c2s::{
    self, C2sServer, C2sSettings, ListenerSettings, MemoryAccounts, Services, TlsMode,
};
use bream_xmpp::router::NoOfflineStorage;
use bream_xmpp::sasl::secret::{PassDetails, ScramHash};
use bream_xmpp::stanza::error::StanzaError;
use bream_xmpp::xml::{Element, StreamEvent, NS_CLIENT, NS_STREAMS};
use tempfile::TempDir;
use tokio_rustls::TlsConnector;

/// Users `user0` .. for the crowd test.
const CROWD: usize = 1000;

// ---- the server ---------------------------------------------------------------

struct Server {
    server: C2sServer,
    data_dir: TempDir,
}

impl Server {
    async fn start(configure: impl FnOnce(&mut C2sSettings)) -> Server {
        init_tracing();
        let data_dir = tempfile::tempdir().expect("tempdir");
        let mut settings = C2sSettings::new(DOMAIN);
        settings.listeners = vec![ListenerSettings::new(free_port())];
        settings.data_dir = data_dir.path().to_path_buf();
        configure(&mut settings);
        let accounts = Arc::new(MemoryAccounts::new());
        // One derivation shared by every user keeps start-up fast; a low
        // iteration count keeps PLAIN checks fast.
        let details =
            PassDetails::derive(PASSWORD, &ScramHash::DEFAULT_SET, 64).expect("valid password");
        for user in ["alice", "bob", "carol", "mallory"] {
            accounts.insert(DOMAIN, user, details.clone());
        }
        for index in 0..CROWD {
            accounts.insert(DOMAIN, &format!("user{index}"), details.clone());
        }
        let server = c2s::serve(
            settings,
            Services::new(accounts, Arc::new(NoOfflineStorage)),
        )
        .await
        .expect("server starts");
        Server { server, data_dir }
    }

    /// The first listener's address.
    fn addr(&self) -> SocketAddr {
        self.server.local_addrs()[0]
    }

    fn connector(&self) -> TlsConnector {
        tls_connector(&self.data_dir.path().join("tls").join("cert.pem"))
    }
}

/// Port 0 on loopback: the system picks a free port.
fn free_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// The first listener's settings.
fn listener(settings: &mut C2sSettings) -> &mut ListenerSettings {
    &mut settings.listeners[0]
}

fn stanza_error_condition(stanza: &Element) -> String {
    stanza
        .child("error", NS_CLIENT)
        .and_then(StanzaError::from_element)
        .map(|error| error.condition.to_string())
        .unwrap_or_default()
}

// ---- logging in and talking -------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_login_without_tls_then_messages_and_iqs() {
    let server = Server::start(|_| {}).await;
    let mut alice = TestClient::connect(server.addr()).await;
    let features = alice.open().await;
    assert!(features.child("starttls", NS_TLS).is_some());
    assert!(features.child("mechanisms", NS_SASL).is_some());
    let success = alice.auth_plain("alice", PASSWORD).await;
    assert!(success.is("success", NS_SASL));
    alice.open().await;
    assert_eq!(alice.bind("phone").await, "alice@localhost/phone");
    let mut bob = TestClient::login(server.addr(), "bob", PASSWORD, "desk").await;

    alice
        .send("<message to='bob@localhost/desk' type='chat' id='m1'><body>Hi Bob</body></message>")
        .await;
    let message = bob.element().await;
    assert_eq!(message.attr("from"), Some("alice@localhost/phone"));
    assert_eq!(
        message.child("body", NS_CLIENT).map(Element::text),
        Some("Hi Bob".to_owned())
    );

    alice.ping("p1").await;
    alice
        .send("<iq type='get' id='u1' to='localhost'><query xmlns='urn:example:unknown'/></iq>")
        .await;
    let error = alice.element().await;
    assert_eq!(error.attr("type"), Some("error"));
    assert_eq!(error.attr("id"), Some("u1"));
    assert_eq!(stanza_error_condition(&error), "service-unavailable");

    // Whitespace keepalives are accepted; the closing handshake is answered.
    alice.send("   \n  ").await;
    alice.ping("p2").await;
    alice.send("</stream:stream>").await;
    assert_eq!(alice.event().await, Some(StreamEvent::StreamEnd));
    assert_eq!(alice.event().await, None);
    server.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scram_sha_256_over_required_starttls() {
    let server =
        Server::start(|settings| listener(settings).tls_mode = TlsMode::StarttlsRequired).await;
    let connector = server.connector();
    let mut client = TestClient::connect(server.addr()).await;
    let features = client.open().await;
    let starttls = features
        .child("starttls", NS_TLS)
        .expect("starttls offered");
    assert!(starttls.child("required", NS_TLS).is_some());
    assert!(features.child("mechanisms", NS_SASL).is_none());
    client.starttls(&connector).await;
    let features = client.open().await;
    assert!(features.child("starttls", NS_TLS).is_none());
    let mechanisms: Vec<_> = features
        .child("mechanisms", NS_SASL)
        .expect("mechanisms after TLS")
        .elements()
        .map(Element::text)
        .collect();
    assert!(mechanisms
        .iter()
        .any(|mechanism| mechanism == "SCRAM-SHA-256"));
    client.auth_scram_sha256("carol", PASSWORD).await;
    client.open().await;
    assert_eq!(client.bind("laptop").await, "carol@localhost/laptop");
    client.ping("p1").await;
    server.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_before_required_starttls_is_encryption_required() {
    let server =
        Server::start(|settings| listener(settings).tls_mode = TlsMode::StarttlsRequired).await;
    let mut client = TestClient::connect(server.addr()).await;
    client.open().await;
    let failure = client.auth_plain("alice", PASSWORD).await;
    assert!(failure.is("failure", NS_SASL));
    assert!(
        failure.child("encryption-required", NS_SASL).is_some(),
        "{failure}"
    );
    server.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_tls_on_a_second_listener() {
    let server = Server::start(|settings| {
        let mut direct = ListenerSettings::new(free_port());
        direct.tls_mode = TlsMode::Tls;
        settings.listeners.push(direct);
    })
    .await;
    let addr = server.server.local_addrs()[1];
    let mut client = TestClient::connect_direct_tls(addr, &server.connector()).await;
    let features = client.open().await;
    assert!(features.child("starttls", NS_TLS).is_none());
    let success = client.auth_plain("alice", PASSWORD).await;
    assert!(success.is("success", NS_SASL));
    client.open().await;
    assert_eq!(client.bind("tls").await, "alice@localhost/tls");
    client.ping("p1").await;
    server.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_self_signed_certificate_is_kept_for_the_next_start() {
    let server = Server::start(|_| {}).await;
    let certificate = server.data_dir.path().join("tls").join("cert.pem");
    let first = std::fs::read(&certificate).expect("made");
    let data_dir = server.data_dir.path().to_path_buf();
    server.server.shutdown().await;
    let mut settings = C2sSettings::new(DOMAIN);
    settings.listeners = vec![ListenerSettings::new(free_port())];
    settings.data_dir = data_dir;
    let services = Services::new(Arc::new(MemoryAccounts::new()), Arc::new(NoOfflineStorage));
    let again = c2s::serve(settings, services).await.expect("restarts");
    assert_eq!(std::fs::read(&certificate).expect("kept"), first);
    again.shutdown().await;
}

// ---- errors ---------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_not_authorized_and_the_cap_closes_the_stream() {
    let server = Server::start(|_| {}).await;
    let mut client = TestClient::connect(server.addr()).await;
    client.open().await;
    for _ in 0..2 {
        let failure = client.auth_plain("alice", "wrong").await;
        assert!(failure.is("failure", NS_SASL));
        assert!(
            failure.child("not-authorized", NS_SASL).is_some(),
            "{failure}"
        );
    }
    let failure = client.auth_plain("alice", "wrong").await;
    assert!(
        failure.child("not-authorized", NS_SASL).is_some(),
        "{failure}"
    );
    client.expect_stream_error("policy-violation").await;
    server.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_xml_is_not_well_formed_and_others_are_unaffected() {
    let server = Server::start(|_| {}).await;
    let mut bystander = TestClient::login(server.addr(), "bob", PASSWORD, "desk").await;
    let mut broken = TestClient::login(server.addr(), "alice", PASSWORD, "phone").await;
    broken.send("<message><body>oops</message>").await;
    broken.expect_stream_error("not-well-formed").await;
    bystander.ping("still-here").await;
    server.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_stanza_is_policy_violation() {
    let server = Server::start(|settings| listener(settings).stanza_bytes_max = 4096).await;
    let mut client = TestClient::login(server.addr(), "alice", PASSWORD, "phone").await;
    client
        .send(&format!(
            "<message to='bob@localhost'><body>{}</body></message>",
            "x".repeat(10_000)
        ))
        .await;
    client.expect_stream_error("policy-violation").await;
    server.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entity_bomb_is_restricted_xml() {
    let server = Server::start(|_| {}).await;
    let mut client = TestClient::connect(server.addr()).await;
    client
        .send(concat!(
            "<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'>",
            "<!ENTITY lol2 '&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;'>]>",
            "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>"
        ))
        .await;
    match client.event().await {
        Some(StreamEvent::StreamStart(_)) => {}
        other => panic!("expected the server's header first, got {other:?}"),
    }
    client.expect_stream_error("restricted-xml").await;

    // An entity reference inside a stanza, after login, too.
    let mut client = TestClient::login(server.addr(), "alice", PASSWORD, "phone").await;
    client.send("<message><body>&lol2;</body></message>").await;
    client.expect_stream_error("restricted-xml").await;
    server.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stanzas_before_authentication_are_not_authorized() {
    let server = Server::start(|_| {}).await;
    let mut client = TestClient::connect(server.addr()).await;
    client.open().await;
    client
        .send("<message to='bob@localhost'><body>spam</body></message>")
        .await;
    client.expect_stream_error("not-authorized").await;
    server.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_domain_is_host_unknown() {
    let server = Server::start(|_| {}).await;
    let mut client = TestClient::connect(server.addr()).await;
    client
        .send(&format!(
            "<stream:stream xmlns='jabber:client' xmlns:stream='{NS_STREAMS}' to='elsewhere.example' version='1.0'>"
        ))
        .await;
    assert!(matches!(
        client.event().await,
        Some(StreamEvent::StreamStart(_))
    ));
    client.expect_stream_error("host-unknown").await;
    server.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connection_gets_connection_timeout() {
    let server = Server::start(|settings| {
        listener(settings).idle_timeout = Duration::from_millis(300);
    })
    .await;
    let mut client = TestClient::login(server.addr(), "alice", PASSWORD, "phone").await;
    client.expect_stream_error("connection-timeout").await;
    server.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_negotiation_gets_connection_timeout() {
    let server = Server::start(|settings| {
        listener(settings).negotiation_timeout = Duration::from_millis(300);
    })
    .await;
    // Says nothing at all: our header, then the error.
    let mut silent = TestClient::connect(server.addr()).await;
    assert!(matches!(
        silent.event().await,
        Some(StreamEvent::StreamStart(_))
    ));
    silent.expect_stream_error("connection-timeout").await;
    // Stops after the header.
    let mut stalled = TestClient::connect(server.addr()).await;
    stalled.open().await;
    stalled.expect_stream_error("connection-timeout").await;
    server.server.shutdown().await;
}

// ---- sessions -------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binding_a_taken_resource_replaces_the_old_session_with_conflict() {
    let server = Server::start(|_| {}).await;
    let mut old = TestClient::login(server.addr(), "alice", PASSWORD, "phone").await;
    let mut new = TestClient::login(server.addr(), "alice", PASSWORD, "phone").await;
    old.expect_stream_error("conflict").await;
    let mut bob = TestClient::login(server.addr(), "bob", PASSWORD, "desk").await;
    bob.send("<message to='alice@localhost/phone' type='chat'><body>which one?</body></message>")
        .await;
    let message = new.element().await;
    assert_eq!(message.attr("from"), Some("bob@localhost/desk"));
    server.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_disconnected_at_the_queue_bound() {
    let server = Server::start(|settings| listener(settings).outgoing_queue_max = 8).await;
    let addr = server.addr();
    // The victim binds, then never reads again.
    let mut victim = TestClient::connect_small_buffer(addr).await;
    victim.open().await;
    victim.auth_plain("mallory", PASSWORD).await;
    victim.open().await;
    victim.bind("deaf").await;

    // Bob floods it; once it is gone, his messages bounce (no offline
    // storage). Bob's own queue has the same small bound, so he sends in
    // batches of 4 and reads the replies (bounces, then a pong) after each:
    // never more than 5 stanzas are on their way to him.
    let mut bob = TestClient::login(addr, "bob", PASSWORD, "desk").await;
    let message = format!(
        "<message to='mallory@localhost/deaf' type='chat'><body>{}</body></message>",
        "z".repeat(16 * 1024)
    );
    let started = Instant::now();
    let mut sent = 0usize;
    let mut bounces = Vec::new();
    // At most 16384 × 16 KiB = 256 MiB: far more than socket buffers and the
    // queue hold.
    for batch in 0..4096 {
        for _ in 0..4 {
            bob.send(&message).await;
        }
        sent += 4;
        let id = format!("batch{batch}");
        bob.send(&format!(
            "<iq type='get' id='{id}' to='{DOMAIN}'><ping xmlns='urn:xmpp:ping'/></iq>"
        ))
        .await;
        loop {
            let stanza = bob.element().await;
            if stanza.attr("id") == Some(id.as_str()) {
                break;
            }
            bounces.push(stanza);
        }
        if !bounces.is_empty() {
            break;
        }
    }
    let bounce = bounces.first().expect("the victim was disconnected");
    assert_eq!(bounce.attr("type"), Some("error"), "{bounce}");
    assert_eq!(stanza_error_condition(bounce), "service-unavailable");
    eprintln!(
        "victim disconnected after {sent} messages of 16 KiB, {:?}",
        started.elapsed()
    );
    // The victim's connection was closed by the server: reading what is
    // left ends in end-of-file (or a reset), not in a wait.
    let drained = victim.read_until_closed().await;
    eprintln!("victim's socket held {drained} bytes");
    server.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashing_session_leaves_the_others_alone() {
    let server = Server::start(|_| {}).await;
    let mut crashing = TestClient::login(server.addr(), "alice", PASSWORD, "phone").await;
    // The only session so far is alice's.
    let sessions = server
        .server
        .supervisor()
        .which_children()
        .await
        .expect("children")
        .into_iter()
        .find(|child| child.id == "sessions")
        .and_then(|child| child.actor)
        .expect("sessions supervisor");
    let sessions = bream_runtime::supervisor::SupervisorRef::from_cell(sessions)
        .await
        .expect("a supervisor");
    let children = sessions.which_children().await.expect("children");
    let [alice_session] = &children[..] else {
        panic!("expected one session, got {}", children.len());
    };
    let alice_cell = alice_session.actor.clone().expect("running");
    let mut bystander = TestClient::login(server.addr(), "bob", PASSWORD, "desk").await;

    bream_runtime::fault::panic_next(&alice_cell).expect("injectable");
    crashing.send("<presence/>").await;
    // The crashed session's connection is dropped with it.
    assert_eq!(crashing.event().await, None);
    bystander.ping("alive").await;
    // And its entry leaves the session table.
    let router = Arc::clone(server.server.router());
    let alice: bream_xmpp::jid::BareJid = "alice@localhost".parse().expect("jid");
    eventually_sync(
        "the crashed session was removed from the table",
        DEADLINE,
        || {
            router
                .sessions()
                .user_sessions(&alice)
                .map(|s| s.is_empty())
                .unwrap_or(false)
        },
    )
    .await;
    server.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_sessions_with_system_shutdown() {
    let server = Server::start(|_| {}).await;
    let mut client = TestClient::login(server.addr(), "alice", PASSWORD, "phone").await;
    let mut unbound = TestClient::connect(server.addr()).await;
    unbound.open().await;
    server.server.shutdown().await;
    client.expect_stream_error("system-shutdown").await;
    unbound.expect_stream_error("system-shutdown").await;
}

fn resident_bytes() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kilobytes: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kilobytes * 1024)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_sessions_connecting_at_once_all_bind() {
    let server = Server::start(|_| {}).await;
    let addr = server.addr();
    let before = resident_bytes();
    let started = Instant::now();
    let mut logins = tokio::task::JoinSet::new();
    for index in 0..CROWD {
        logins.spawn(async move {
            TestClient::login(addr, &format!("user{index}"), PASSWORD, "crowd").await
        });
    }
    let mut clients = Vec::with_capacity(CROWD);
    while let Some(client) = logins.join_next().await {
        clients.push(client.expect("login"));
    }
    let elapsed = started.elapsed();
    assert_eq!(clients.len(), CROWD);
    assert_eq!(
        server.server.router().sessions().count().expect("table"),
        CROWD
    );
    assert_eq!(server.server.connection_count().await, CROWD);
    let after = resident_bytes();
    eprintln!(
        "{CROWD} PLAIN logins (no TLS) in {elapsed:?}: {:.0} logins/s",
        CROWD as f64 / elapsed.as_secs_f64()
    );
    if let (Some(before), Some(after)) = (before, after) {
        eprintln!(
            "resident memory grew {} KiB for {CROWD} idle bound sessions: {} bytes each, server and test client together",
            after.saturating_sub(before) / 1024,
            after.saturating_sub(before) / CROWD
        );
    }
    // Every one of them is live.
    let last = clients.last_mut().expect("clients");
    last.ping("last").await;
    server.server.shutdown().await;
}
