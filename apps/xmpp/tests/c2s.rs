//! The c2s listeners over real sockets: a server started in this process on
//! a free port, with in-memory accounts, and raw XMPP clients written here.
//!
//! Nothing waits a fixed time: every wait is for a read, an event or a
//! condition, with a deadline ([`DEADLINE`]).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use bream_xmpp::c2s::{self, C2sServer, C2sSettings, ListenerSettings, MemoryAccounts, TlsMode};
use bream_xmpp::router::NoOfflineStorage;
use bream_xmpp::sasl::secret::{PassDetails, ScramHash};
use bream_xmpp::stanza::error::{StanzaError, StreamError};
use bream_xmpp::xml::{Element, StreamEvent, StreamParser, NS_CLIENT, NS_STREAMS};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use tempfile::TempDir;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::rustls::crypto::aws_lc_rs;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

/// How long any one wait may take.
const DEADLINE: Duration = Duration::from_secs(20);
const DOMAIN: &str = "localhost";
const PASSWORD: &str = "secret";
/// Users `user0` .. for the crowd test.
const CROWD: usize = 1000;
const NS_SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";
const NS_TLS: &str = "urn:ietf:params:xml:ns:xmpp-tls";
const NS_BIND: &str = "urn:ietf:params:xml:ns:xmpp-bind";

// ---- the server ---------------------------------------------------------------

struct Server {
    server: C2sServer,
    data_dir: TempDir,
}

impl Server {
    async fn start(configure: impl FnOnce(&mut C2sSettings)) -> Server {
        // Logs with RUST_LOG=bream_xmpp=debug, captured per test.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
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
        let server = c2s::serve(settings, accounts, Arc::new(NoOfflineStorage))
            .await
            .expect("server starts");
        Server { server, data_dir }
    }

    /// The first listener's address.
    fn addr(&self) -> SocketAddr {
        self.server.local_addrs()[0]
    }

    fn connector(&self) -> TlsConnector {
        tls_connector(self.data_dir.path())
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

/// A TLS client that trusts exactly the server's self-signed certificate,
/// read from the data directory where the server made it.
fn tls_connector(data_dir: &Path) -> TlsConnector {
    let pem = std::fs::read(data_dir.join("tls").join("cert.pem")).expect("certificate made");
    let mut roots = RootCertStore::empty();
    for certificate in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots.add(certificate.expect("PEM")).expect("trust anchor");
    }
    let config = ClientConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("protocols")
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

// ---- the client ---------------------------------------------------------------

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A raw XMPP client: writes strings, parses what comes back.
struct Client {
    io: Option<Box<dyn Io>>,
    tcp: Option<TcpStream>,
    parser: StreamParser,
    buffer: Vec<u8>,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Client {
        let tcp = tokio::time::timeout(DEADLINE, TcpStream::connect(addr))
            .await
            .expect("connect in time")
            .expect("connect");
        Client::over(tcp)
    }

    /// A client with a tiny receive buffer, so that not reading fills the
    /// server's queue sooner.
    async fn connect_small_buffer(addr: SocketAddr) -> Client {
        let socket = TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(4096).expect("buffer size");
        let tcp = socket.connect(addr).await.expect("connect");
        Client::over(tcp)
    }

    fn over(tcp: TcpStream) -> Client {
        Client {
            io: None,
            tcp: Some(tcp),
            parser: StreamParser::new(),
            buffer: vec![0; 4096],
        }
    }

    async fn connect_direct_tls(addr: SocketAddr, connector: &TlsConnector) -> Client {
        let tcp = TcpStream::connect(addr).await.expect("connect");
        let name = ServerName::try_from(DOMAIN).expect("name");
        let tls = tokio::time::timeout(DEADLINE, connector.connect(name, tcp))
            .await
            .expect("handshake in time")
            .expect("handshake");
        Client {
            io: Some(Box::new(tls)),
            tcp: None,
            parser: StreamParser::new(),
            buffer: vec![0; 4096],
        }
    }

    fn io(&mut self) -> &mut (dyn Io + '_) {
        match (&mut self.io, &mut self.tcp) {
            (Some(io), _) => io.as_mut(),
            (None, Some(tcp)) => tcp,
            (None, None) => panic!("no connection"),
        }
    }

    async fn send(&mut self, xml: &str) {
        let io = self.io();
        io.write_all(xml.as_bytes()).await.expect("write");
        io.flush().await.expect("flush");
    }

    /// Reads until the next stream event; `None` at end of connection.
    async fn event(&mut self) -> Option<StreamEvent> {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            match self.parser.next_event() {
                Ok(Some(event)) => return Some(event),
                Ok(None) => {}
                Err(error) => panic!("server sent bad XML: {error}"),
            }
            let mut buffer = std::mem::take(&mut self.buffer);
            let read = tokio::time::timeout_at(deadline, self.io().read(&mut buffer))
                .await
                .expect("a read within the deadline");
            self.buffer = buffer;
            match read {
                Ok(0) | Err(_) => return None,
                Ok(count) => self.parser.feed(&self.buffer[..count]),
            }
        }
    }

    async fn element(&mut self) -> Element {
        match self.event().await {
            Some(StreamEvent::Stanza(element)) => element,
            other => panic!("expected an element, got {other:?}"),
        }
    }

    /// Sends a stream header; returns the features.
    async fn open(&mut self) -> Element {
        self.send(&format!(
            "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='{NS_STREAMS}' to='{DOMAIN}' version='1.0'>"
        ))
        .await;
        match self.event().await {
            Some(StreamEvent::StreamStart(header)) => {
                assert_eq!(header.from(), Some(DOMAIN));
                assert!(header.id().is_some());
            }
            other => panic!("expected a stream header, got {other:?}"),
        }
        let features = self.element().await;
        assert!(features.is("features", NS_STREAMS), "{features}");
        features
    }

    async fn starttls(&mut self, connector: &TlsConnector) {
        self.send(&format!("<starttls xmlns='{NS_TLS}'/>")).await;
        let proceed = self.element().await;
        assert!(proceed.is("proceed", NS_TLS), "{proceed}");
        let tcp = self.tcp.take().expect("plain connection");
        let name = ServerName::try_from(DOMAIN).expect("name");
        let tls = tokio::time::timeout(DEADLINE, connector.connect(name, tcp))
            .await
            .expect("handshake in time")
            .expect("handshake");
        self.io = Some(Box::new(tls));
        self.parser = StreamParser::new();
    }

    /// PLAIN; returns the `<success/>` or `<failure/>`.
    async fn auth_plain(&mut self, username: &str, password: &str) -> Element {
        let response = BASE64.encode(format!("\0{username}\0{password}"));
        self.send(&format!(
            "<auth xmlns='{NS_SASL}' mechanism='PLAIN'>{response}</auth>"
        ))
        .await;
        let outcome = self.element().await;
        if outcome.is("success", NS_SASL) {
            self.parser.reset();
        }
        outcome
    }

    /// SCRAM-SHA-256, checking the server's signature.
    async fn auth_scram_sha256(&mut self, username: &str, password: &str) {
        let client_first_bare = format!("n={username},r=fyko+d2lbbFgONRv9qkxdawL");
        self.send(&format!(
            "<auth xmlns='{NS_SASL}' mechanism='SCRAM-SHA-256'>{}</auth>",
            BASE64.encode(format!("n,,{client_first_bare}"))
        ))
        .await;
        let challenge = self.element().await;
        assert!(challenge.is("challenge", NS_SASL), "{challenge}");
        let server_first =
            String::from_utf8(BASE64.decode(challenge.text()).expect("base64")).expect("UTF-8");
        let (client_final, server_signature) =
            scram_sha256_final(&client_first_bare, &server_first, password);
        self.send(&format!(
            "<response xmlns='{NS_SASL}'>{}</response>",
            BASE64.encode(client_final)
        ))
        .await;
        let success = self.element().await;
        assert!(success.is("success", NS_SASL), "{success}");
        let server_final = BASE64.decode(success.text()).expect("base64");
        assert_eq!(
            server_final,
            format!("v={}", BASE64.encode(server_signature)).into_bytes(),
            "the server proves it knows the password"
        );
        self.parser.reset();
    }

    /// Binds `resource`; returns the full JID.
    async fn bind(&mut self, resource: &str) -> String {
        self.send(&format!(
            "<iq type='set' id='bind'><bind xmlns='{NS_BIND}'><resource>{resource}</resource></bind></iq>"
        ))
        .await;
        let result = self.element().await;
        assert_eq!(result.attr("type"), Some("result"), "{result}");
        result
            .child("bind", NS_BIND)
            .and_then(|bind| bind.child("jid", NS_BIND))
            .map(Element::text)
            .expect("a bound JID")
    }

    /// Connects and logs in with PLAIN without TLS, then binds.
    async fn login(addr: SocketAddr, username: &str, resource: &str) -> Client {
        let mut client = Client::connect(addr).await;
        client.open().await;
        let success = client.auth_plain(username, PASSWORD).await;
        assert!(success.is("success", NS_SASL), "{success}");
        let features = client.open().await;
        assert!(features.child("bind", NS_BIND).is_some());
        let jid = client.bind(resource).await;
        assert_eq!(jid, format!("{username}@{DOMAIN}/{resource}"));
        client
    }

    /// Expects `<stream:error>` with `condition`, then the end of the stream
    /// and of the connection.
    async fn expect_stream_error(&mut self, condition: &str) {
        loop {
            match self.event().await {
                Some(StreamEvent::Stanza(element)) if element.is("error", NS_STREAMS) => {
                    let error = StreamError::from_element(&element).expect("a stream error");
                    assert_eq!(error.condition.to_string(), condition, "{element}");
                    break;
                }
                // Stanzas queued before the error are fine.
                Some(StreamEvent::Stanza(_)) => continue,
                other => panic!("expected a {condition} stream error, got {other:?}"),
            }
        }
        assert_eq!(self.event().await, Some(StreamEvent::StreamEnd));
        assert_eq!(self.event().await, None, "the connection is closed");
    }

    /// Pings the server and expects the result.
    async fn ping(&mut self, id: &str) {
        self.send(&format!(
            "<iq type='get' id='{id}' to='{DOMAIN}'><ping xmlns='urn:xmpp:ping'/></iq>"
        ))
        .await;
        let result = self.element().await;
        assert_eq!(result.attr("type"), Some("result"), "{result}");
        assert_eq!(result.attr("id"), Some(id));
    }
}

/// The SCRAM-SHA-256 client-final message and the server signature to
/// expect (RFC 5802 §3, RFC 7677).
fn scram_sha256_final(
    client_first_bare: &str,
    server_first: &str,
    password: &str,
) -> (String, Vec<u8>) {
    let mut nonce = "";
    let mut salt = Vec::new();
    let mut iterations = 0;
    for attribute in server_first.split(',') {
        match attribute.split_at(2) {
            ("r=", value) => nonce = value,
            ("s=", value) => salt = BASE64.decode(value).expect("salt"),
            ("i=", value) => iterations = value.parse().expect("count"),
            _ => {}
        }
    }
    let mut salted = [0u8; 32];
    pbkdf2::pbkdf2::<Hmac<Sha256>>(password.as_bytes(), &salt, iterations, &mut salted)
        .expect("pbkdf2");
    let hmac = |key: &[u8], data: &[u8]| {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length");
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    };
    let client_key = hmac(&salted, b"Client Key");
    let stored_key = Sha256::digest(&client_key);
    let without_proof = format!("c=biws,r={nonce}");
    let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
    let signature = hmac(&stored_key, auth_message.as_bytes());
    let proof: Vec<u8> = client_key
        .iter()
        .zip(&signature)
        .map(|(a, b)| a ^ b)
        .collect();
    let server_key = hmac(&salted, b"Server Key");
    (
        format!("{without_proof},p={}", BASE64.encode(proof)),
        hmac(&server_key, auth_message.as_bytes()),
    )
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
    let mut alice = Client::connect(server.addr()).await;
    let features = alice.open().await;
    assert!(features.child("starttls", NS_TLS).is_some());
    assert!(features.child("mechanisms", NS_SASL).is_some());
    let success = alice.auth_plain("alice", PASSWORD).await;
    assert!(success.is("success", NS_SASL));
    alice.open().await;
    assert_eq!(alice.bind("phone").await, "alice@localhost/phone");
    let mut bob = Client::login(server.addr(), "bob", "desk").await;

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
    let mut client = Client::connect(server.addr()).await;
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
    let mut client = Client::connect(server.addr()).await;
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
    let mut client = Client::connect_direct_tls(addr, &server.connector()).await;
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
    let again = c2s::serve(
        settings,
        Arc::new(MemoryAccounts::new()),
        Arc::new(NoOfflineStorage),
    )
    .await
    .expect("restarts");
    assert_eq!(std::fs::read(&certificate).expect("kept"), first);
    again.shutdown().await;
}

// ---- errors ---------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_not_authorized_and_the_cap_closes_the_stream() {
    let server = Server::start(|_| {}).await;
    let mut client = Client::connect(server.addr()).await;
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
    let mut bystander = Client::login(server.addr(), "bob", "desk").await;
    let mut broken = Client::login(server.addr(), "alice", "phone").await;
    broken.send("<message><body>oops</message>").await;
    broken.expect_stream_error("not-well-formed").await;
    bystander.ping("still-here").await;
    server.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_stanza_is_policy_violation() {
    let server = Server::start(|settings| listener(settings).stanza_bytes_max = 4096).await;
    let mut client = Client::login(server.addr(), "alice", "phone").await;
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
    let mut client = Client::connect(server.addr()).await;
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
    let mut client = Client::login(server.addr(), "alice", "phone").await;
    client.send("<message><body>&lol2;</body></message>").await;
    client.expect_stream_error("restricted-xml").await;
    server.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stanzas_before_authentication_are_not_authorized() {
    let server = Server::start(|_| {}).await;
    let mut client = Client::connect(server.addr()).await;
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
    let mut client = Client::connect(server.addr()).await;
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
    let mut client = Client::login(server.addr(), "alice", "phone").await;
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
    let mut silent = Client::connect(server.addr()).await;
    assert!(matches!(
        silent.event().await,
        Some(StreamEvent::StreamStart(_))
    ));
    silent.expect_stream_error("connection-timeout").await;
    // Stops after the header.
    let mut stalled = Client::connect(server.addr()).await;
    stalled.open().await;
    stalled.expect_stream_error("connection-timeout").await;
    server.server.shutdown().await;
}

// ---- sessions -------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binding_a_taken_resource_replaces_the_old_session_with_conflict() {
    let server = Server::start(|_| {}).await;
    let mut old = Client::login(server.addr(), "alice", "phone").await;
    let mut new = Client::login(server.addr(), "alice", "phone").await;
    old.expect_stream_error("conflict").await;
    let mut bob = Client::login(server.addr(), "bob", "desk").await;
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
    let mut victim = Client::connect_small_buffer(addr).await;
    victim.open().await;
    victim.auth_plain("mallory", PASSWORD).await;
    victim.open().await;
    victim.bind("deaf").await;

    // Bob floods it; once it is gone, his messages bounce (no offline
    // storage). Bob's own queue has the same small bound, so he sends in
    // batches of 4 and reads the replies (bounces, then a pong) after each:
    // never more than 5 stanzas are on their way to him.
    let mut bob = Client::login(addr, "bob", "desk").await;
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
    let mut buffer = vec![0; 4096];

    // The victim's connection was closed by the server: reading what is
    // left ends in end-of-file (or a reset), not in a wait.
    let mut drained = 0usize;
    loop {
        match tokio::time::timeout(DEADLINE, victim.io().read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(count)) => drained += count,
            Err(_) => panic!("the victim's connection is still open"),
        }
    }
    eprintln!("victim's socket held {drained} bytes");
    server.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashing_session_leaves_the_others_alone() {
    let server = Server::start(|_| {}).await;
    let mut crashing = Client::login(server.addr(), "alice", "phone").await;
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
    let mut bystander = Client::login(server.addr(), "bob", "desk").await;

    bream_runtime::fault::panic_next(&alice_cell).expect("injectable");
    crashing.send("<presence/>").await;
    // The crashed session's connection is dropped with it.
    assert_eq!(crashing.event().await, None);
    bystander.ping("alive").await;
    // And its entry leaves the session table.
    let router = Arc::clone(server.server.router());
    let alice: bream_xmpp::jid::BareJid = "alice@localhost".parse().expect("jid");
    let gone = bream_runtime::testkit::eventually(DEADLINE, || {
        let router = Arc::clone(&router);
        let alice = alice.clone();
        async move {
            router
                .sessions()
                .user_sessions(&alice)
                .map(|s| s.is_empty())
                .unwrap_or(false)
        }
    })
    .await;
    assert!(gone, "the crashed session was removed from the table");
    server.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_sessions_with_system_shutdown() {
    let server = Server::start(|_| {}).await;
    let mut client = Client::login(server.addr(), "alice", "phone").await;
    let mut unbound = Client::connect(server.addr()).await;
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
        logins.spawn(async move { Client::login(addr, &format!("user{index}"), "crowd").await });
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
