//! The one XMPP client of the tests: bream-load's [`Connection`] does the I/O, the framing,
//! TLS and (for mass logins) the whole login; every framed element is parsed with the
//! server's own parser in the context of the stream header, so tests assert on
//! [`Element`]s. The stream steps before binding (header, STARTTLS, SASL, bind) are separate
//! methods so that tests can go wrong at any of them.
//!
//! Every read has the kit's deadline ([`DEADLINE`]); a wait that runs out panics naming what
//! it waited for and what came instead.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use bream_load::client::{Account, Connection, LoginSettings, Mechanism};
use bream_load::scram::{SaltedPasswordCache, ScramClient, ScramHash};
use bream_load::xml::Event;
use bream_xmpp::stanza::error::StreamError;
use bream_xmpp::xml::{Element, StreamEvent, StreamParser, NS_STREAMS};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;

use super::{DOMAIN, NS_BIND, NS_SASL, NS_TLS};
use crate::DEADLINE;

/// RFC 5802's example client nonce: SCRAM exchanges of the tests are reproducible.
const SCRAM_NONCE: &str = "fyko+d2lbbFgONRv9qkxdawL";
/// Salted passwords the kit's SCRAM logins have computed (one per password and salt).
const SCRAM_CACHE_ENTRIES: usize = 64;

/// One client connection.
pub struct TestClient {
    connection: Connection,
    parser: StreamParser,
    /// The domain the stream is opened to.
    pub domain: String,
    /// The full JID once bound; empty before.
    pub jid: String,
    /// Elements read while waiting for another one, kept for later waits.
    backlog: Vec<Element>,
    /// Where the server is (for messages).
    addr: SocketAddr,
}

impl std::fmt::Debug for TestClient {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("TestClient")
            .field("jid", &self.jid)
            .field("server", &self.addr)
            .finish_non_exhaustive()
    }
}

impl TestClient {
    // ---- connecting --------------------------------------------------------------------

    /// A TCP connection to `addr` that has not said anything yet.
    pub async fn connect(addr: SocketAddr) -> TestClient {
        let tcp = tokio::time::timeout(DEADLINE, TcpStream::connect(addr))
            .await
            .unwrap_or_else(|_| panic!("connect to {addr} within {DEADLINE:?}"))
            .unwrap_or_else(|error| panic!("connect to {addr}: {error}"));
        TestClient::over(Connection::over_tcp(tcp), addr)
    }

    /// As [`TestClient::connect`], with a tiny receive buffer, so that not reading fills the
    /// server's outgoing queue sooner.
    pub async fn connect_small_buffer(addr: SocketAddr) -> TestClient {
        let socket = TcpSocket::new_v4().expect("a socket");
        socket.set_recv_buffer_size(4096).expect("a buffer size");
        let tcp = socket.connect(addr).await.expect("connect");
        TestClient::over(Connection::over_tcp(tcp), addr)
    }

    /// A direct TLS connection (XEP-0368) to `addr`, handshake done.
    pub async fn connect_direct_tls(addr: SocketAddr, connector: &TlsConnector) -> TestClient {
        let tcp = TcpStream::connect(addr).await.expect("connect");
        let name = ServerName::try_from(DOMAIN).expect("a server name");
        let tls = tokio::time::timeout(DEADLINE, connector.connect(name, tcp))
            .await
            .expect("the TLS handshake in time")
            .expect("the TLS handshake");
        TestClient::over(Connection::over_tls(tls), addr)
    }

    fn over(connection: Connection, addr: SocketAddr) -> TestClient {
        TestClient {
            connection,
            parser: StreamParser::new(),
            domain: DOMAIN.to_string(),
            jid: String::new(),
            backlog: Vec::new(),
            addr,
        }
    }

    /// Connects, authenticates with PLAIN without TLS and binds `resource`; no presence yet.
    pub async fn login(
        addr: SocketAddr,
        username: &str,
        password: &str,
        resource: &str,
    ) -> TestClient {
        let mut client = TestClient::connect(addr).await;
        client.open().await;
        let success = client.auth_plain(username, password).await;
        assert!(success.is("success", NS_SASL), "{success}");
        let features = client.open().await;
        assert!(features.child("bind", NS_BIND).is_some(), "{features}");
        let jid = client.bind(resource).await;
        assert_eq!(jid, format!("{username}@{}/{resource}", client.domain));
        client
    }

    /// [`TestClient::login`], then initial presence.
    pub async fn login_available(
        addr: SocketAddr,
        username: &str,
        password: &str,
        resource: &str,
    ) -> TestClient {
        let mut client = TestClient::login(addr, username, password, resource).await;
        client.send("<presence/>").await;
        client
    }

    /// The whole login as the load generator does it (STARTTLS and SCRAM as `settings` say,
    /// bind, initial presence), by `deadline`; for many clients at once.
    pub async fn login_as_load(
        settings: &LoginSettings,
        account: &Account<'_>,
        deadline: tokio::time::Instant,
    ) -> Result<TestClient, bream_load::client::LoginError> {
        let connection = Connection::login(settings, account, deadline).await?;
        let jid = connection.jid.clone();
        let mut client = TestClient::over(connection, settings.server);
        client.domain = settings.domain.clone();
        client.jid = jid;
        // The stream is open: parse what follows in a stream context of its own.
        client.parser.feed(stream_context().as_bytes());
        let _header = client.parser.next_event();
        Ok(client)
    }

    /// Load-generator login settings for `server` and `domain`: PLAIN or SCRAM, no TLS, one
    /// shared salted-password cache.
    pub fn load_settings(server: SocketAddr, domain: &str, mechanism: Mechanism) -> LoginSettings {
        LoginSettings {
            server,
            domain: domain.to_string(),
            starttls: false,
            mechanism,
            connector: None,
            scram_cache: Arc::new(SaltedPasswordCache::new(SCRAM_CACHE_ENTRIES)),
            stream_management: false,
            carbons: false,
        }
    }

    // ---- the stream steps --------------------------------------------------------------

    /// Sends a stream header; checks the server's (`from` our domain, an `id`); returns the
    /// features.
    pub async fn open(&mut self) -> Element {
        self.send(&format!(
            "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='{NS_STREAMS}' to='{}' version='1.0'>",
            self.domain
        ))
        .await;
        match self.event().await {
            Some(StreamEvent::StreamStart(header)) => {
                assert_eq!(header.from(), Some(self.domain.as_str()));
                assert!(header.id().is_some(), "the stream header has an id");
            }
            other => panic!("expected a stream header, got {other:?}"),
        }
        let features = self.element().await;
        assert!(features.is("features", NS_STREAMS), "{features}");
        features
    }

    /// STARTTLS: `<starttls/>`, `<proceed/>`, the handshake.
    pub async fn starttls(&mut self, connector: &TlsConnector) {
        self.send(&format!("<starttls xmlns='{NS_TLS}'/>")).await;
        let proceed = self.element().await;
        assert!(proceed.is("proceed", NS_TLS), "{proceed}");
        let deadline = tokio::time::Instant::now() + DEADLINE;
        self.connection
            .upgrade_to_tls(connector, &self.domain, deadline)
            .await
            .expect("the TLS handshake");
        self.parser = StreamParser::new();
    }

    /// SASL PLAIN; the server's `<success/>` or `<failure/>`. After success the stream
    /// restarts.
    pub async fn auth_plain(&mut self, username: &str, password: &str) -> Element {
        let response = BASE64.encode(format!("\0{username}\0{password}"));
        self.send(&format!(
            "<auth xmlns='{NS_SASL}' mechanism='PLAIN'>{response}</auth>"
        ))
        .await;
        let outcome = self.element().await;
        if outcome.is("success", NS_SASL) {
            self.restart_stream();
        }
        outcome
    }

    /// SASL SCRAM-SHA-256 with bream-load's client, checking that the server proves it knows
    /// the password. The stream restarts after.
    pub async fn auth_scram_sha256(&mut self, username: &str, password: &str) {
        let mut scram = ScramClient::with_nonce(ScramHash::Sha256, username, password, SCRAM_NONCE);
        self.send(&format!(
            "<auth xmlns='{NS_SASL}' mechanism='SCRAM-SHA-256'>{}</auth>",
            BASE64.encode(scram.client_first())
        ))
        .await;
        let challenge = self.element().await;
        assert!(challenge.is("challenge", NS_SASL), "{challenge}");
        let server_first = BASE64.decode(challenge.text()).expect("base64");
        let client_final = scram
            .client_final(&server_first, &SaltedPasswordCache::new(1))
            .expect("a valid server-first-message");
        self.send(&format!(
            "<response xmlns='{NS_SASL}'>{}</response>",
            BASE64.encode(client_final)
        ))
        .await;
        let success = self.element().await;
        assert!(success.is("success", NS_SASL), "{success}");
        let server_final = BASE64.decode(success.text()).expect("base64");
        scram
            .verify_server_final(&server_final)
            .expect("the server proves it knows the password");
        self.restart_stream();
    }

    /// SASL2 (XEP-0388) with PLAIN or SCRAM-SHA-256 (checking the server's proof), with
    /// `inner` (Bind 2, user agent ...) in `<authenticate/>`; the server's `<success/>` or
    /// `<failure/>`. No stream restart follows; a full JID in the success is kept as this
    /// client's.
    pub async fn authenticate_sasl2(
        &mut self,
        mechanism: &str,
        username: &str,
        password: &str,
        inner: &str,
    ) -> Element {
        const NS_SASL2: &str = "urn:xmpp:sasl:2";
        let mut scram = (mechanism == "SCRAM-SHA-256")
            .then(|| ScramClient::with_nonce(ScramHash::Sha256, username, password, SCRAM_NONCE));
        let initial = match &scram {
            Some(scram) => BASE64.encode(scram.client_first()),
            None => BASE64.encode(format!("\0{username}\0{password}")),
        };
        self.send(&format!(
            "<authenticate xmlns='{NS_SASL2}' mechanism='{mechanism}'><initial-response>{initial}</initial-response>{inner}</authenticate>"
        ))
        .await;
        let mut outcome = self.element().await;
        if let (Some(scram), true) = (scram.as_mut(), outcome.is("challenge", NS_SASL2)) {
            let server_first = BASE64.decode(outcome.text()).expect("base64");
            let client_final = scram
                .client_final(&server_first, &SaltedPasswordCache::new(1))
                .expect("a valid server-first-message");
            self.send(&format!(
                "<response xmlns='{NS_SASL2}'>{}</response>",
                BASE64.encode(client_final)
            ))
            .await;
            outcome = self.element().await;
            if outcome.is("success", NS_SASL2) {
                let data = outcome
                    .child("additional-data", NS_SASL2)
                    .map(|data| BASE64.decode(data.text()).expect("base64"))
                    .expect("the server's proof");
                scram
                    .verify_server_final(&data)
                    .expect("the server proves it knows the password");
            }
        }
        if let Some(jid) = outcome
            .child("authorization-identifier", NS_SASL2)
            .map(Element::text)
            .filter(|jid| jid.contains('/'))
        {
            self.jid = jid;
        }
        outcome
    }

    /// Binds `resource`; returns the full JID (also kept in [`TestClient::jid`]).
    pub async fn bind(&mut self, resource: &str) -> String {
        self.send(&format!(
            "<iq type='set' id='bind'><bind xmlns='{NS_BIND}'><resource>{resource}</resource></bind></iq>"
        ))
        .await;
        let result = self.element().await;
        assert_eq!(result.attr("type"), Some("result"), "{result}");
        self.jid = result
            .child("bind", NS_BIND)
            .and_then(|bind| bind.child("jid", NS_BIND))
            .map(Element::text)
            .expect("a bound JID");
        self.jid.clone()
    }

    fn restart_stream(&mut self) {
        self.connection.restart_stream();
        self.parser.reset();
    }

    // ---- sending and receiving ---------------------------------------------------------

    /// Writes `xml` as it is.
    pub async fn send(&mut self, xml: &str) {
        self.connection
            .send(xml)
            .await
            .unwrap_or_else(|error| panic!("{}: write: {error}", self.label()));
    }

    /// A chat message with `body` to `to`.
    pub async fn message(&mut self, to: &str, body: &str) {
        let body = bream_xmpp::xml::Element::new("body", "jabber:client").with_text(body);
        let message = Element::new("message", "jabber:client")
            .with_attr("to", to)
            .with_attr("type", "chat")
            .with_child(body);
        self.send(&message.to_string()).await;
    }

    /// The next stream event (kept-back elements first); `None` when the connection closed.
    pub async fn event(&mut self) -> Option<StreamEvent> {
        if !self.backlog.is_empty() {
            return Some(StreamEvent::Stanza(self.backlog.remove(0)));
        }
        self.read_event(DEADLINE).await
    }

    /// The next event read from the socket within `deadline`; `None` at the end of the
    /// connection or on an I/O error (a reset is how some servers close).
    async fn read_event(&mut self, deadline: Duration) -> Option<StreamEvent> {
        let until = tokio::time::Instant::now() + deadline;
        loop {
            match self.connection.take_event() {
                Ok(Some(event)) => return Some(self.parse(event)),
                Ok(None) => {}
                Err(error) => panic!("{}: the server sent bad XML: {error}", self.label()),
            }
            match tokio::time::timeout_at(until, self.connection.fill()).await {
                Ok(Ok(true)) => {}
                Ok(Ok(false)) | Ok(Err(_)) => return None,
                Err(_) => panic!(
                    "{}: nothing read within {deadline:?}; kept back: {:?}",
                    self.label(),
                    self.backlog
                ),
            }
        }
    }

    /// Parses one framed event in the stream's context.
    fn parse(&mut self, event: Event) -> StreamEvent {
        let text = match event {
            Event::StreamStart(header) => {
                self.parser = StreamParser::new();
                header
            }
            Event::Stanza(stanza) => stanza,
            Event::StreamEnd => "</stream:stream>".to_string(),
        };
        self.parser.feed(text.as_bytes());
        match self.parser.next_event() {
            Ok(Some(event)) => event,
            other => panic!("{}: cannot parse {text:?}: {other:?}", self.label()),
        }
    }

    /// The next element; panics on anything else.
    pub async fn element(&mut self) -> Element {
        match self.event().await {
            Some(StreamEvent::Stanza(element)) => element,
            other => panic!("{}: expected an element, got {other:?}", self.label()),
        }
    }

    /// The next element that `matches`, dropping the others (presence, pushes).
    pub async fn next_where(&mut self, matches: impl Fn(&Element) -> bool) -> Element {
        loop {
            let element = self.element().await;
            if matches(&element) {
                return element;
            }
        }
    }

    /// The next element named `name`, dropping the others.
    pub async fn next_named(&mut self, name: &str) -> Element {
        self.next_where(|element| element.name == name).await
    }

    /// The next element that `matches` (kept-back ones first); the others are kept back for
    /// later waits. Panics naming `what` at the deadline or the end of the stream.
    pub async fn expect(&mut self, what: &str, matches: impl Fn(&Element) -> bool) -> Element {
        if let Some(position) = self.backlog.iter().position(&matches) {
            return self.backlog.remove(position);
        }
        let until = tokio::time::Instant::now() + DEADLINE;
        loop {
            let left = until.saturating_duration_since(tokio::time::Instant::now());
            match self.read_event(left).await {
                Some(StreamEvent::Stanza(element)) if matches(&element) => return element,
                Some(StreamEvent::Stanza(element)) => self.backlog.push(element),
                Some(StreamEvent::StreamStart(_)) => {}
                Some(StreamEvent::StreamEnd) | None => panic!(
                    "{}: the stream ended waiting for {what}; kept back: {:?}",
                    self.label(),
                    self.backlog
                ),
            }
        }
    }

    /// A message with `body` from a resource of `from_bare`.
    pub async fn expect_body(&mut self, from_bare: &str, body: &str) -> Element {
        let what = format!("message {body:?} from {from_bare}");
        self.expect(&what, |stanza| {
            stanza.name == "message"
                && bare_of(stanza.attr("from")) == Some(from_bare)
                && stanza
                    .elements()
                    .find(|child| child.name == "body")
                    .is_some_and(|child| child.text() == body)
        })
        .await
    }

    /// A presence of `presence_type` (`None`: available) from a resource of `from_bare`.
    pub async fn expect_presence(
        &mut self,
        from_bare: &str,
        presence_type: Option<&str>,
    ) -> Element {
        let what = format!("presence {presence_type:?} from {from_bare}");
        self.expect(&what, |stanza| {
            stanza.name == "presence"
                && bare_of(stanza.attr("from")) == Some(from_bare)
                && stanza.attr("type") == presence_type
        })
        .await
    }

    /// Waits for the server's echo of the initial presence: by then every node's session
    /// table has this session as available, so stanzas for the bare JID reach it.
    pub async fn wait_available(&mut self) {
        let jid = self.jid.clone();
        self.expect("the echo of the initial presence", |stanza| {
            stanza.name == "presence"
                && stanza.attr("from") == Some(jid.as_str())
                && stanza.attr("type").is_none()
        })
        .await;
    }

    /// The stream error the server closes with (after any stanzas).
    pub async fn stream_error(&mut self) -> StreamError {
        let error = self
            .expect("a stream error", |element| element.is("error", NS_STREAMS))
            .await;
        StreamError::from_element(&error).unwrap_or_else(|| panic!("not a stream error: {error}"))
    }

    /// The defined condition of [`TestClient::stream_error`].
    pub async fn stream_error_condition(&mut self) -> String {
        self.stream_error().await.condition.to_string()
    }

    /// Expects `<stream:error>` with `condition` (stanzas queued before it are fine), then
    /// the end of the stream and of the connection.
    pub async fn expect_stream_error(&mut self, condition: &str) {
        loop {
            match self.event().await {
                Some(StreamEvent::Stanza(element)) if element.is("error", NS_STREAMS) => {
                    let error = StreamError::from_element(&element).expect("a stream error");
                    assert_eq!(error.condition.to_string(), condition, "{element}");
                    break;
                }
                Some(StreamEvent::Stanza(_)) => continue,
                other => panic!("expected a {condition} stream error, got {other:?}"),
            }
        }
        assert_eq!(self.event().await, Some(StreamEvent::StreamEnd));
        assert_eq!(self.event().await, None, "the connection is closed");
    }

    /// Reads whatever the server still sends until it closes the connection (end of file or a
    /// reset); how many bytes that was. Panics if the connection stays open past the deadline.
    pub async fn read_until_closed(&mut self) -> usize {
        let until = tokio::time::Instant::now() + DEADLINE;
        let mut read = 0;
        loop {
            match tokio::time::timeout_at(until, self.connection.fill_counted()).await {
                Ok(Ok(0)) | Ok(Err(_)) => return read,
                Ok(Ok(count)) => read += count,
                Err(_) => panic!("{}: the connection is still open", self.label()),
            }
            // What was read is not wanted: keep the framer from holding all of it.
            self.connection.restart_stream();
        }
    }

    /// Pings the server and expects the result.
    pub async fn ping(&mut self, id: &str) {
        self.send(&format!(
            "<iq type='get' id='{id}' to='{}'><ping xmlns='urn:xmpp:ping'/></iq>",
            self.domain
        ))
        .await;
        let result = self.element().await;
        assert_eq!(result.attr("type"), Some("result"), "{result}");
        assert_eq!(result.attr("id"), Some(id));
    }

    /// Pings the server with `id` and reads until its result; the elements read on the way,
    /// in order (what the server sent before it).
    pub async fn until_pong(&mut self, id: &str) -> Vec<Element> {
        self.send(&format!(
            "<iq type='get' id='{id}' to='{}'><ping xmlns='urn:xmpp:ping'/></iq>",
            self.domain
        ))
        .await;
        let mut elements = Vec::new();
        loop {
            let element = self.element().await;
            if element.name == "iq" && element.attr("id") == Some(id) {
                assert_eq!(element.attr("type"), Some("result"), "{element}");
                return elements;
            }
            elements.push(element);
        }
    }

    /// The bare JID once bound.
    pub fn bare(&self) -> &str {
        self.jid.split('/').next().unwrap_or_default()
    }

    /// Closes the stream and waits (up to the deadline) for the server to close it too.
    pub async fn close(self) {
        self.connection
            .close(tokio::time::Instant::now() + DEADLINE)
            .await;
    }

    fn label(&self) -> String {
        if self.jid.is_empty() {
            format!("client of {}", self.addr)
        } else {
            self.jid.clone()
        }
    }
}

/// The bare part of a JID attribute.
fn bare_of(jid: Option<&str>) -> Option<&str> {
    jid.and_then(|jid| jid.split('/').next())
}

/// A stream header that gives elements after a completed login their namespaces.
fn stream_context() -> String {
    format!("<stream:stream xmlns='jabber:client' xmlns:stream='{NS_STREAMS}'>")
}

/// `a` and `b` subscribe to each other's presence (RFC 6121 §3), wherever they are
/// connected; both must be available.
pub async fn befriend(a: &mut TestClient, b: &mut TestClient) {
    let (a_bare, b_bare) = (a.bare().to_string(), b.bare().to_string());
    a.send(&format!("<presence to='{b_bare}' type='subscribe'/>"))
        .await;
    b.expect_presence(&a_bare, Some("subscribe")).await;
    b.send(&format!("<presence to='{a_bare}' type='subscribed'/>"))
        .await;
    a.expect_presence(&b_bare, None).await;
    b.send(&format!("<presence to='{a_bare}' type='subscribe'/>"))
        .await;
    a.expect_presence(&b_bare, Some("subscribe")).await;
    a.send(&format!("<presence to='{b_bare}' type='subscribed'/>"))
        .await;
    b.expect_presence(&a_bare, None).await;
}
