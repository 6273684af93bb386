//! One XMPP client connection: TCP from a chosen source address, stream header, optional
//! STARTTLS, SASL (PLAIN, SCRAM-SHA-1, SCRAM-SHA-256), resource binding, the legacy session
//! when a server requires it, and initial presence. Every step shares one deadline, the
//! login's; bad input from the server is a [`LoginError`], never a panic.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;

use crate::scram::{SaltedPasswordCache, ScramClient, ScramHash};
use crate::xml::{self, Event, Framer};

/// Bytes read from the socket at once.
pub const READ_BUFFER_BYTES: usize = 4096;
/// The largest element accepted from a server (MongooseIM's default `max_stanza_size` is
/// 64 KiB; ejabberd's test config 256 KiB).
pub const ELEMENT_BYTES_MAX: usize = 1024 * 1024;

const NS_SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";

/// A SASL mechanism the load generator speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    /// PLAIN (RFC 4616).
    Plain,
    /// SCRAM-SHA-1 or SCRAM-SHA-256.
    Scram(ScramHash),
}

impl Mechanism {
    /// The SASL name.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Scram(hash) => hash.mechanism(),
        }
    }
}

impl std::str::FromStr for Mechanism {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text.to_ascii_uppercase().as_str() {
            "PLAIN" => Ok(Mechanism::Plain),
            "SCRAM-SHA-1" => Ok(Mechanism::Scram(ScramHash::Sha1)),
            "SCRAM-SHA-256" => Ok(Mechanism::Scram(ScramHash::Sha256)),
            "SCRAM-SHA-512" => Ok(Mechanism::Scram(ScramHash::Sha512)),
            _ => Err(format!(
                "unknown mechanism {text:?}: use plain, scram-sha-1, scram-sha-256 or scram-sha-512"
            )),
        }
    }
}

/// Why a login (or a session after it) failed. [`LoginError::kind`] is the report's key.
#[derive(Debug)]
pub enum LoginError {
    /// TCP connect failed.
    Connect(io::Error),
    /// STARTTLS not offered, refused, or the handshake failed.
    Tls(String),
    /// The mechanism is not offered, the server said `<failure/>`, or SCRAM did not check out.
    Auth(String),
    /// Binding (or the legacy session) was refused.
    Bind(String),
    /// The server sent `<stream:error/>`; the condition.
    StreamError(String),
    /// The deadline passed during this step.
    Timeout(&'static str),
    /// The server closed the connection (or the stream) during this step.
    Closed(&'static str),
    /// Unframeable XML or an unexpected element.
    Protocol(String),
    /// A read or write failed.
    Io(io::Error),
}

impl LoginError {
    /// The error's kind for the report: `connect`, `tls`, `auth`, `bind`,
    /// `stream_error:CONDITION`, `timeout:STEP`, `closed:STEP`, `protocol`, `io`.
    pub fn kind(&self) -> String {
        match self {
            LoginError::Connect(_) => "connect".into(),
            LoginError::Tls(_) => "tls".into(),
            LoginError::Auth(_) => "auth".into(),
            LoginError::Bind(_) => "bind".into(),
            LoginError::StreamError(condition) => format!("stream_error:{condition}"),
            LoginError::Timeout(step) => format!("timeout:{step}"),
            LoginError::Closed(step) => format!("closed:{step}"),
            LoginError::Protocol(_) => "protocol".into(),
            LoginError::Io(_) => "io".into(),
        }
    }
}

impl fmt::Display for LoginError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoginError::Connect(error) => write!(formatter, "connect: {error}"),
            LoginError::Tls(text) => write!(formatter, "tls: {text}"),
            LoginError::Auth(text) => write!(formatter, "auth: {text}"),
            LoginError::Bind(text) => write!(formatter, "bind: {text}"),
            LoginError::StreamError(condition) => write!(formatter, "stream error {condition}"),
            LoginError::Timeout(step) => write!(formatter, "deadline passed during {step}"),
            LoginError::Closed(step) => write!(formatter, "connection closed during {step}"),
            LoginError::Protocol(text) => write!(formatter, "protocol: {text}"),
            LoginError::Io(error) => write!(formatter, "io: {error}"),
        }
    }
}

impl std::error::Error for LoginError {}

/// What every login of a run shares.
pub struct LoginSettings {
    /// The server's address.
    pub server: SocketAddr,
    /// The XMPP domain (`to` of the stream, and the TLS server name).
    pub domain: String,
    /// Do STARTTLS before authenticating.
    pub starttls: bool,
    /// The mechanism to use; the login fails if the server does not offer it.
    pub mechanism: Mechanism,
    /// The one TLS connector of the run.
    pub connector: Option<TlsConnector>,
    /// Salted passwords, shared by every SCRAM login.
    pub scram_cache: Arc<SaltedPasswordCache>,
    /// Enable stream management (XEP-0198, resumable) after binding; the login fails if the
    /// server does not offer it.
    pub stream_management: bool,
    /// Enable message carbons (XEP-0280) after binding.
    pub carbons: bool,
}

/// The stream management namespace.
const NS_SM: &str = "urn:xmpp:sm:3";

/// Who logs in, from where.
pub struct Account<'a> {
    /// The local part.
    pub username: &'a str,
    /// The password.
    pub password: &'a str,
    /// The resource asked for at bind.
    pub resource: &'a str,
    /// The source address of the TCP connection.
    pub source: IpAddr,
}

enum Transport {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    /// Only while STARTTLS swaps one for the other.
    Gone,
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(socket) => Pin::new(socket).poll_read(context, buffer),
            Transport::Tls(socket) => Pin::new(socket.as_mut()).poll_read(context, buffer),
            Transport::Gone => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(socket) => Pin::new(socket).poll_write(context, data),
            Transport::Tls(socket) => Pin::new(socket.as_mut()).poll_write(context, data),
            Transport::Gone => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(socket) => Pin::new(socket).poll_flush(context),
            Transport::Tls(socket) => Pin::new(socket.as_mut()).poll_flush(context),
            Transport::Gone => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(socket) => Pin::new(socket).poll_shutdown(context),
            Transport::Tls(socket) => Pin::new(socket.as_mut()).poll_shutdown(context),
            Transport::Gone => Poll::Ready(Ok(())),
        }
    }
}

/// A connected, authenticated, bound XMPP stream.
pub struct Connection {
    transport: Transport,
    framer: Framer,
    buffer: Box<[u8]>,
    /// The full JID the server bound.
    pub jid: String,
    /// With stream management enabled: the stanzas handled since (the `h` of `<a/>`).
    handled: Option<u32>,
}

/// The stream header the client sends.
fn stream_header(domain: &str) -> String {
    format!(
        "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
         xmlns:stream='http://etherx.jabber.org/streams' to='{}' version='1.0'>",
        xml::escape(domain)
    )
}

/// The defined condition of a `<stream:error>`: its first child other than `<text>`.
pub fn stream_error_condition(stanza: &str) -> String {
    let mut rest = stanza;
    // Skip the root's start tag.
    if let Some(end) = rest.find('>') {
        rest = &rest[end + 1..];
    }
    while let Some(open) = rest.find('<') {
        rest = &rest[open..];
        let name = xml::root_name(rest);
        if !name.is_empty() && name != "text" && !rest.starts_with("</") {
            return name.to_string();
        }
        rest = &rest[1..];
    }
    "undefined-condition".to_string()
}

impl Connection {
    /// A connection over `tcp` that has not said anything yet, for clients that drive the
    /// stream themselves (the test kit's client); [`Connection::login`] does every step.
    pub fn over_tcp(tcp: TcpStream) -> Connection {
        Connection::new(Transport::Plain(tcp))
    }

    /// As [`Connection::over_tcp`], over a TLS stream already set up (direct TLS, XEP-0368).
    pub fn over_tls(tls: TlsStream<TcpStream>) -> Connection {
        Connection::new(Transport::Tls(Box::new(tls)))
    }

    fn new(transport: Transport) -> Connection {
        Connection {
            transport,
            framer: Framer::new(ELEMENT_BYTES_MAX),
            buffer: vec![0; READ_BUFFER_BYTES].into_boxed_slice(),
            jid: String::new(),
            handled: None,
        }
    }

    /// With stream management enabled, the stanzas received since, modulo 2³² (the `h` an
    /// `<a/>` reports); `None` without.
    pub fn handled(&self) -> Option<u32> {
        self.handled
    }

    /// The next framed event, counted for stream management if it is a stanza.
    fn next_framed(&mut self) -> Result<Option<Event>, xml::FrameError> {
        let event = self.framer.next_event()?;
        if let (Some(handled), Some(Event::Stanza(stanza))) = (self.handled.as_mut(), &event) {
            if matches!(xml::root_name(stanza), "message" | "presence" | "iq") {
                *handled = handled.wrapping_add(1);
            }
        }
        Ok(event)
    }

    /// Forgets what was read of the old stream: after a stream restart (SASL success), the
    /// server's next bytes start a new stream.
    pub fn restart_stream(&mut self) {
        self.framer.reset();
    }

    async fn write(
        &mut self,
        text: &str,
        deadline: Instant,
        step: &'static str,
    ) -> Result<(), LoginError> {
        let write = async {
            self.transport.write_all(text.as_bytes()).await?;
            self.transport.flush().await
        };
        match tokio::time::timeout_at(deadline, write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(LoginError::Io(error)),
            Err(_) => Err(LoginError::Timeout(step)),
        }
    }

    /// Writes `text` with no deadline of its own: the session loop's callers bound it.
    pub async fn send(&mut self, text: &str) -> io::Result<()> {
        self.transport.write_all(text.as_bytes()).await?;
        self.transport.flush().await
    }

    /// Reads once from the socket into the framer; `Ok(false)` at end of stream. Cancel-safe.
    pub async fn fill(&mut self) -> io::Result<bool> {
        Ok(self.fill_counted().await? > 0)
    }

    /// As [`Connection::fill`], returning how many bytes were read (0 at end of stream).
    pub async fn fill_counted(&mut self) -> io::Result<usize> {
        let count = self.transport.read(&mut self.buffer).await?;
        self.framer.feed(&self.buffer[..count]);
        Ok(count)
    }

    /// The next complete event already read, if any.
    pub fn take_event(&mut self) -> Result<Option<Event>, xml::FrameError> {
        self.next_framed()
    }

    /// The next event, reading as needed until `deadline`.
    async fn event(&mut self, deadline: Instant, step: &'static str) -> Result<Event, LoginError> {
        loop {
            match self.next_framed() {
                Ok(Some(Event::Stanza(stanza))) if xml::root_name(&stanza) == "error" => {
                    return Err(LoginError::StreamError(stream_error_condition(&stanza)))
                }
                Ok(Some(Event::StreamEnd)) => return Err(LoginError::Closed(step)),
                Ok(Some(event)) => return Ok(event),
                Ok(None) => {}
                Err(error) => return Err(LoginError::Protocol(error.to_string())),
            }
            match tokio::time::timeout_at(deadline, self.fill()).await {
                Ok(Ok(true)) => {}
                Ok(Ok(false)) => return Err(LoginError::Closed(step)),
                Ok(Err(error)) => return Err(LoginError::Io(error)),
                Err(_) => return Err(LoginError::Timeout(step)),
            }
        }
    }

    /// The next stanza (a stream header here is a protocol error).
    async fn stanza(
        &mut self,
        deadline: Instant,
        step: &'static str,
    ) -> Result<String, LoginError> {
        match self.event(deadline, step).await? {
            Event::Stanza(stanza) => Ok(stanza),
            other => Err(LoginError::Protocol(format!(
                "expected a stanza during {step}, got {other:?}"
            ))),
        }
    }

    /// Sends a stream header, reads the server's and its features.
    async fn open_stream(&mut self, domain: &str, deadline: Instant) -> Result<String, LoginError> {
        self.framer.reset();
        self.write(&stream_header(domain), deadline, "stream")
            .await?;
        match self.event(deadline, "stream").await? {
            Event::StreamStart(_) => {}
            other => {
                return Err(LoginError::Protocol(format!(
                    "expected a stream header, got {other:?}"
                )))
            }
        }
        loop {
            let stanza = self.stanza(deadline, "stream").await?;
            if xml::root_name(&stanza) == "features" {
                return Ok(stanza);
            }
        }
    }

    /// Connects and logs in: everything up to and including initial presence, by `deadline`.
    pub async fn login(
        settings: &LoginSettings,
        account: &Account<'_>,
        deadline: Instant,
    ) -> Result<Connection, LoginError> {
        let socket = match account.source {
            IpAddr::V4(_) => TcpSocket::new_v4(),
            IpAddr::V6(_) => TcpSocket::new_v6(),
        }
        .map_err(LoginError::Connect)?;
        socket
            .bind(SocketAddr::new(account.source, 0))
            .map_err(LoginError::Connect)?;
        let tcp = match tokio::time::timeout_at(deadline, socket.connect(settings.server)).await {
            Ok(Ok(tcp)) => tcp,
            Ok(Err(error)) => return Err(LoginError::Connect(error)),
            Err(_) => return Err(LoginError::Timeout("connect")),
        };
        // Nagle would hold small stanzas back for up to the delayed-ACK time.
        tcp.set_nodelay(true).map_err(LoginError::Connect)?;
        let mut connection = Connection::over_tcp(tcp);
        let mut features = connection.open_stream(&settings.domain, deadline).await?;
        if settings.starttls {
            connection.starttls(settings, &features, deadline).await?;
            features = connection.open_stream(&settings.domain, deadline).await?;
        }
        connection
            .authenticate(settings, account, &features, deadline)
            .await?;
        let features = connection.open_stream(&settings.domain, deadline).await?;
        connection
            .bind(account.resource, &features, deadline)
            .await?;
        if settings.stream_management {
            connection.enable_sm(&features, deadline).await?;
        }
        if settings.carbons {
            connection.enable_carbons(deadline).await?;
        }
        connection
            .write("<presence/>", deadline, "presence")
            .await?;
        Ok(connection)
    }

    /// `<enable resume='true'/>`, then counting from `<enabled/>` on.
    async fn enable_sm(&mut self, features: &str, deadline: Instant) -> Result<(), LoginError> {
        if !features.contains(NS_SM) {
            return Err(LoginError::Bind("stream management not offered".into()));
        }
        self.write(
            &format!("<enable xmlns='{NS_SM}' resume='true'/>"),
            deadline,
            "sm",
        )
        .await?;
        loop {
            let stanza = self.stanza(deadline, "sm").await?;
            match xml::root_name(&stanza) {
                "enabled" => {
                    self.handled = Some(0);
                    return Ok(());
                }
                "failed" => return Err(LoginError::Bind(stanza_text(&stanza))),
                _ => {}
            }
        }
    }

    /// The carbons `<enable/>` iq and its result.
    async fn enable_carbons(&mut self, deadline: Instant) -> Result<(), LoginError> {
        self.write(
            "<iq type='set' id='carbons'><enable xmlns='urn:xmpp:carbons:2'/></iq>",
            deadline,
            "carbons",
        )
        .await?;
        let reply = self.iq_reply("carbons", deadline, "carbons").await?;
        if xml::attribute(&reply, "type").as_deref() == Some("result") {
            Ok(())
        } else {
            Err(LoginError::Bind(stanza_text(&reply)))
        }
    }

    /// Registers `account` in-band (XEP-0077) on a fresh connection, without TLS:
    /// `Ok(true)` created, `Ok(false)` the account exists (`conflict`).
    pub async fn register_in_band(
        settings: &LoginSettings,
        account: &Account<'_>,
        deadline: Instant,
    ) -> Result<bool, LoginError> {
        let tcp = match tokio::time::timeout_at(deadline, TcpStream::connect(settings.server)).await
        {
            Ok(Ok(tcp)) => tcp,
            Ok(Err(error)) => return Err(LoginError::Connect(error)),
            Err(_) => return Err(LoginError::Timeout("connect")),
        };
        let mut connection = Connection::over_tcp(tcp);
        let features = connection.open_stream(&settings.domain, deadline).await?;
        if !xml::has_child(&features, "register") {
            tracing::debug!("the server does not advertise in-band registration; trying anyway");
        }
        let request = format!(
            "<iq type='set' id='reg1'><query xmlns='jabber:iq:register'><username>{}</username>\
             <password>{}</password></query></iq>",
            xml::escape(account.username),
            xml::escape(account.password)
        );
        connection.write(&request, deadline, "register").await?;
        let reply = connection.iq_reply("reg1", deadline, "register").await?;
        let created = match xml::attribute(&reply, "type").as_deref() {
            Some("result") => true,
            _ if xml::has_child(&reply, "conflict") => false,
            _ => return Err(LoginError::Auth(format!("registration refused: {reply}"))),
        };
        connection.close(deadline).await;
        Ok(created)
    }

    async fn starttls(
        &mut self,
        settings: &LoginSettings,
        features: &str,
        deadline: Instant,
    ) -> Result<(), LoginError> {
        if !xml::has_child(features, "starttls") {
            return Err(LoginError::Tls("the server does not offer STARTTLS".into()));
        }
        let Some(connector) = &settings.connector else {
            return Err(LoginError::Tls("no TLS connector".into()));
        };
        self.write(
            "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
            deadline,
            "tls",
        )
        .await?;
        let reply = self.stanza(deadline, "tls").await?;
        if xml::root_name(&reply) != "proceed" {
            return Err(LoginError::Tls(format!("STARTTLS refused: {reply}")));
        }
        self.upgrade_to_tls(connector, &settings.domain, deadline)
            .await
    }

    /// The TLS handshake on the plain connection, after the server's `<proceed/>` (RFC 6120
    /// §5.4.3.3); the framer starts afresh for the new stream.
    pub async fn upgrade_to_tls(
        &mut self,
        connector: &TlsConnector,
        domain: &str,
        deadline: Instant,
    ) -> Result<(), LoginError> {
        let Transport::Plain(tcp) = std::mem::replace(&mut self.transport, Transport::Gone) else {
            return Err(LoginError::Tls("STARTTLS twice".into()));
        };
        let name = ServerName::try_from(domain.to_string())
            .map_err(|error| LoginError::Tls(format!("server name: {error}")))?;
        self.framer.reset();
        match tokio::time::timeout_at(deadline, connector.connect(name, tcp)).await {
            Ok(Ok(tls)) => {
                self.transport = Transport::Tls(Box::new(tls));
                Ok(())
            }
            Ok(Err(error)) => Err(LoginError::Tls(error.to_string())),
            Err(_) => Err(LoginError::Timeout("tls")),
        }
    }

    async fn authenticate(
        &mut self,
        settings: &LoginSettings,
        account: &Account<'_>,
        features: &str,
        deadline: Instant,
    ) -> Result<(), LoginError> {
        let offered = xml::children_texts(features, "mechanism");
        let name = settings.mechanism.name();
        if !offered
            .iter()
            .any(|mechanism| mechanism.eq_ignore_ascii_case(name))
        {
            return Err(LoginError::Auth(format!(
                "{name} not offered (offered: {offered:?})"
            )));
        }
        match settings.mechanism {
            Mechanism::Plain => {
                let message = format!("\0{}\0{}", account.username, account.password);
                let auth = format!(
                    "<auth xmlns='{NS_SASL}' mechanism='PLAIN'>{}</auth>",
                    BASE64.encode(message)
                );
                self.write(&auth, deadline, "auth").await?;
                let reply = self.stanza(deadline, "auth").await?;
                match xml::root_name(&reply) {
                    "success" => Ok(()),
                    _ => Err(LoginError::Auth(format!("refused: {reply}"))),
                }
            }
            Mechanism::Scram(hash) => {
                let mut client = ScramClient::new(hash, account.username, account.password);
                let auth = format!(
                    "<auth xmlns='{NS_SASL}' mechanism='{name}'>{}</auth>",
                    BASE64.encode(client.client_first())
                );
                self.write(&auth, deadline, "auth").await?;
                let challenge = self.stanza(deadline, "auth").await?;
                if xml::root_name(&challenge) != "challenge" {
                    return Err(LoginError::Auth(format!("refused: {challenge}")));
                }
                let server_first = decode_sasl_data(&challenge)?;
                // PBKDF2 takes milliseconds when the salted password is not cached: off the
                // async threads, so other sessions' timestamps stay honest.
                let cache = settings.scram_cache.clone();
                let step = tokio::task::spawn_blocking(move || {
                    let result = client.client_final(&server_first, &cache);
                    (client, result)
                });
                let (client, client_final) = match tokio::time::timeout_at(deadline, step).await {
                    Ok(Ok((client, Ok(client_final)))) => (client, client_final),
                    Ok(Ok((_, Err(error)))) => return Err(LoginError::Auth(error.to_string())),
                    Ok(Err(error)) => return Err(LoginError::Auth(format!("SCRAM task: {error}"))),
                    Err(_) => return Err(LoginError::Timeout("auth")),
                };
                let response = format!(
                    "<response xmlns='{NS_SASL}'>{}</response>",
                    BASE64.encode(client_final)
                );
                self.write(&response, deadline, "auth").await?;
                let reply = self.stanza(deadline, "auth").await?;
                if xml::root_name(&reply) != "success" {
                    return Err(LoginError::Auth(format!("refused: {reply}")));
                }
                let server_final = decode_sasl_data(&reply)?;
                client
                    .verify_server_final(&server_final)
                    .map_err(|error| LoginError::Auth(error.to_string()))
            }
        }
    }

    async fn bind(
        &mut self,
        resource: &str,
        features: &str,
        deadline: Instant,
    ) -> Result<(), LoginError> {
        if !xml::has_child(features, "bind") {
            return Err(LoginError::Bind("the server does not offer bind".into()));
        }
        let request = format!(
            "<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>\
             <resource>{}</resource></bind></iq>",
            xml::escape(resource)
        );
        self.write(&request, deadline, "bind").await?;
        let reply = self.iq_reply("bind1", deadline, "bind").await?;
        if xml::attribute(&reply, "type").as_deref() != Some("result") {
            return Err(LoginError::Bind(format!("refused: {reply}")));
        }
        self.jid = xml::child_text(&reply, "jid").unwrap_or_default();
        // RFC 3921's session: only when the server offers it and does not mark it optional.
        let session_required =
            xml::has_child(features, "session") && !xml::has_child(features, "optional");
        if session_required {
            self.write(
                "<iq type='set' id='sess1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>",
                deadline,
                "session",
            )
            .await?;
            let reply = self.iq_reply("sess1", deadline, "session").await?;
            if xml::attribute(&reply, "type").as_deref() != Some("result") {
                return Err(LoginError::Bind(format!("session refused: {reply}")));
            }
        }
        Ok(())
    }

    /// The `<iq>` answering `id`; other stanzas before it are skipped.
    async fn iq_reply(
        &mut self,
        id: &str,
        deadline: Instant,
        step: &'static str,
    ) -> Result<String, LoginError> {
        loop {
            let stanza = self.stanza(deadline, step).await?;
            if xml::root_name(&stanza) == "iq"
                && xml::attribute(&stanza, "id").as_deref() == Some(id)
            {
                return Ok(stanza);
            }
        }
    }

    /// Sends `</stream:stream>` and waits for the server's close (or the end of the
    /// connection) until `deadline`, then shuts the socket down.
    pub async fn close(mut self, deadline: Instant) {
        if self
            .write("</stream:stream>", deadline, "close")
            .await
            .is_ok()
        {
            while let Ok(event) = self.event(deadline, "close").await {
                tracing::trace!(?event, "ignored while closing");
            }
        }
        let _ = tokio::time::timeout_at(deadline, self.transport.shutdown()).await;
    }
}

/// The base64 text of a SASL `<challenge>` or `<success>`; `=` and empty mean no data.
fn decode_sasl_data(stanza: &str) -> Result<Vec<u8>, LoginError> {
    let text = stanza_text(stanza);
    if text.is_empty() || text == "=" {
        return Ok(Vec::new());
    }
    BASE64
        .decode(text.trim())
        .map_err(|_| LoginError::Auth("SASL data is not base64".into()))
}

/// The text directly inside the root element.
fn stanza_text(stanza: &str) -> String {
    let Some(start) = stanza.find('>') else {
        return String::new();
    };
    if stanza[..start].ends_with('/') {
        return String::new();
    }
    let rest = &stanza[start + 1..];
    let end = rest.find('<').unwrap_or(rest.len());
    xml::unescape(&rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_error_conditions() {
        let error = "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>\
                     <text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>Replaced</text></stream:error>";
        assert_eq!(stream_error_condition(error), "conflict");
        let error = "<stream:error><text>x</text><policy-violation/></stream:error>";
        assert_eq!(stream_error_condition(error), "policy-violation");
        assert_eq!(
            stream_error_condition("<stream:error/>"),
            "undefined-condition"
        );
    }

    #[test]
    fn sasl_data() {
        assert_eq!(decode_sasl_data("<success xmlns='x'/>").unwrap(), b"");
        assert_eq!(
            decode_sasl_data("<success xmlns='x'>=</success>").unwrap(),
            b""
        );
        assert_eq!(
            decode_sasl_data("<challenge>cj1h</challenge>").unwrap(),
            b"r=a"
        );
        assert!(decode_sasl_data("<challenge>***</challenge>").is_err());
        assert_eq!(
            "scram-sha-256".parse(),
            Ok(Mechanism::Scram(ScramHash::Sha256))
        );
        assert!("digest-md5".parse::<Mechanism>().is_err());
    }
}
