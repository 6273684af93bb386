//! What the integration tests that start a node in-process share: the account store over the
//! database (as `server::run` builds it), a raw XMPP client, and a raw HTTP `GET`. Every wait
//! has a deadline ([`DEADLINE`]); nothing sleeps a fixed time.

#![allow(dead_code)] // Each test binary uses its own part.

use std::net::SocketAddr;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use bream_xmpp::xml::{Element, StreamEvent, StreamParser, NS_STREAMS};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long any one wait may take.
pub const DEADLINE: Duration = Duration::from_secs(20);
pub const DOMAIN: &str = "localhost";
pub const NS_SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";
pub const NS_BIND: &str = "urn:ietf:params:xml:ns:xmpp-bind";

/// `GET path` with an optional `Authorization` header value; status and the whole response.
pub async fn raw_get(addr: SocketAddr, path: &str, authorization: Option<&str>) -> (u16, String) {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    let authorization = authorization
        .map(|value| format!("Authorization: {value}\r\n"))
        .unwrap_or_default();
    tcp.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{authorization}Connection: close\r\n\r\n")
            .as_bytes(),
    )
    .await
    .expect("write");
    let mut response = String::new();
    tokio::time::timeout(DEADLINE, tcp.read_to_string(&mut response))
        .await
        .expect("answer in time")
        .expect("read");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    (status, response)
}

pub struct Client {
    tcp: TcpStream,
    parser: StreamParser,
}

impl Client {
    /// Connects, logs in with PLAIN, binds `resource`, sends initial presence.
    pub async fn login(addr: SocketAddr, username: &str, password: &str, resource: &str) -> Client {
        let (mut client, success) = Client::authenticate(addr, username, password).await;
        assert!(success.is("success", NS_SASL), "{success}");
        client.parser.reset();
        client.open().await;
        client
            .send(&format!(
                "<iq type='set' id='bind'><bind xmlns='{NS_BIND}'><resource>{resource}</resource></bind></iq>"
            ))
            .await;
        let bound = client.element().await;
        assert_eq!(bound.attr("type"), Some("result"), "{bound}");
        client.send("<presence/>").await;
        client
    }

    /// Connects and sends SASL PLAIN; the client and the server's answer (`success` or
    /// `failure`).
    pub async fn authenticate(
        addr: SocketAddr,
        username: &str,
        password: &str,
    ) -> (Client, Element) {
        let tcp = tokio::time::timeout(DEADLINE, TcpStream::connect(addr))
            .await
            .expect("connect in time")
            .expect("connect");
        let mut client = Client {
            tcp,
            parser: StreamParser::new(),
        };
        client.open().await;
        let response = BASE64.encode(format!("\0{username}\0{password}"));
        client
            .send(&format!(
                "<auth xmlns='{NS_SASL}' mechanism='PLAIN'>{response}</auth>"
            ))
            .await;
        let answer = client.element().await;
        (client, answer)
    }

    pub async fn open(&mut self) {
        self.send(&format!(
            "<stream:stream xmlns='jabber:client' xmlns:stream='{NS_STREAMS}' to='{DOMAIN}' version='1.0'>"
        ))
        .await;
        assert!(matches!(
            self.event().await,
            Some(StreamEvent::StreamStart(_))
        ));
        let features = self.element().await;
        assert!(features.is("features", NS_STREAMS), "{features}");
    }

    pub async fn send(&mut self, xml: &str) {
        self.tcp.write_all(xml.as_bytes()).await.expect("write");
    }

    pub async fn event(&mut self) -> Option<StreamEvent> {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        let mut buffer = [0u8; 4096];
        loop {
            match self.parser.next_event() {
                Ok(Some(event)) => return Some(event),
                Ok(None) => {}
                Err(error) => panic!("server sent bad XML: {error}"),
            }
            let read = tokio::time::timeout_at(deadline, self.tcp.read(&mut buffer))
                .await
                .expect("a read within the deadline");
            match read {
                Ok(0) | Err(_) => return None,
                Ok(count) => self.parser.feed(&buffer[..count]),
            }
        }
    }

    pub async fn element(&mut self) -> Element {
        match self.event().await {
            Some(StreamEvent::Stanza(element)) => element,
            other => panic!("expected an element, got {other:?}"),
        }
    }

    /// The next element that `matches`, skipping others (presence, pushes).
    pub async fn next_where(&mut self, matches: impl Fn(&Element) -> bool) -> Element {
        loop {
            let element = self.element().await;
            if matches(&element) {
                return element;
            }
        }
    }

    /// Expects a stream error (after any stanzas); its condition's element name.
    pub async fn stream_error_condition(&mut self) -> String {
        let error = self
            .next_where(|element| element.is("error", NS_STREAMS))
            .await;
        let condition = error.elements().next().expect("a condition");
        condition.name.clone()
    }
}
