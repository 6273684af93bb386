//! The stream state machine, one input at a time, without sockets.
//!
//! Every test drives a [`Stream`] through [`Client`], which parses XML with
//! the real [`StreamParser`] (so inputs are what a socket would produce) and
//! summarises the actions as short strings, so that a test reads like the
//! exchange it checks.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use super::*;
use crate::sasl::secret::{PassDetails, ScramHash};
use crate::sasl::tests::ScramClient;
use crate::xml::{Limits, StreamEvent, StreamParser};

const DOMAIN: &str = "localhost";
const STREAM_OPEN: &str =
    "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>";

pub(super) fn config(tls: TlsPolicy) -> Arc<StreamConfig> {
    Arc::new(
        StreamConfig::new(
            &[DOMAIN.to_owned(), "example.com".to_owned()],
            tls,
            &Mechanism::ALL,
            3,
        )
        .expect("valid config"),
    )
}

pub(super) fn stored(password: &str) -> PassDetails {
    PassDetails::derive(password, &ScramHash::DEFAULT_SET, 16).expect("valid password")
}

/// One line per action.
pub(super) fn summary(actions: &[Action]) -> Vec<String> {
    actions.iter().map(describe).collect()
}

fn describe(action: &Action) -> String {
    match action {
        Action::SendHeader(_) => "header".into(),
        Action::Send(element) => describe_element(element),
        Action::StartTls => "starttls".into(),
        Action::RestartStream => "restart".into(),
        Action::LookupCredentials { domain, username } => format!("lookup {username}@{domain}"),
        Action::OpenSession { jid, carbons } => match carbons {
            true => format!("open {jid} carbons"),
            false => format!("open {jid}"),
        },
        Action::Route(stanza) => format!(
            "route {} from={}",
            stanza.name,
            stanza.attr("from").unwrap_or("-")
        ),
        Action::Close(Some(error)) => format!("close {}", error.condition),
        Action::Close(None) => "close".into(),
        Action::Terminate => "terminate".into(),
        Action::SendStanza(stanza) => format!("stanza {}", describe_element(stanza)),
        Action::EnableSm { resumable, .. } => format!("enable-sm resumable={resumable}"),
        Action::Resume { previd } => format!("resume {previd}"),
        Action::Detach => "detach".into(),
        Action::ArmAckTimer => "arm-ack-timer".into(),
        Action::RequestAck => "sm-r".into(),
        Action::ArmPingTimeout => "arm-ping-timeout".into(),
        Action::Register { username, .. } => format!("register {username}"),
    }
}

fn describe_element(element: &Element) -> String {
    let first_child = element.elements().next().map(|child| child.name.clone());
    match (element.name.as_str(), element.namespace.as_str()) {
        ("failure", NS_SASL) => format!("sasl-failure {}", first_child.unwrap_or_default()),
        ("iq", NS_CLIENT) if element.attr("type") == Some("error") => {
            let condition = element
                .child("error", NS_CLIENT)
                .and_then(|error| error.elements().next())
                .map(|condition| condition.name.clone())
                .unwrap_or_default();
            format!("iq-error {condition}")
        }
        ("iq", NS_CLIENT) => format!("iq-{}", element.attr("type").unwrap_or("?")),
        (name, NS_TLS) => format!("tls-{name}"),
        ("failed", super::NS_SM) => format!("sm-failed {}", first_child.unwrap_or_default()),
        (name, super::NS_SM) => format!("sm-{name}"),
        (name, _) => name.to_owned(),
    }
}

/// A client speaking to a [`Stream`] through a real parser.
pub(super) struct Client {
    pub(super) stream: Stream,
    parser: StreamParser,
}

impl Client {
    fn new(tls: TlsPolicy) -> Client {
        Client::with_config(config(tls))
    }

    /// A client of a stream with `config`.
    pub(super) fn with_config(config: Arc<StreamConfig>) -> Client {
        Client {
            stream: Stream::new(config),
            parser: StreamParser::new(),
        }
    }

    /// Feeds raw XML and handles every event it produces.
    pub(super) fn send(&mut self, xml: &str) -> Vec<Action> {
        self.parser.feed(xml.as_bytes());
        let mut actions = Vec::new();
        loop {
            let input = match self.parser.next_event() {
                Ok(Some(StreamEvent::StreamStart(header))) => Input::Header(header),
                Ok(Some(StreamEvent::Stanza(element))) => Input::Element(element),
                Ok(Some(StreamEvent::StreamEnd)) => Input::End,
                Ok(None) => break,
                Err(error) => {
                    actions.extend(self.stream.handle(Input::ParseError(error)));
                    break;
                }
            };
            actions.extend(self.input(input));
        }
        actions
    }

    /// Handles one input, doing to the parser what the shell would.
    pub(super) fn input(&mut self, input: Input) -> Vec<Action> {
        let actions = self.stream.handle(input);
        if actions.contains(&Action::RestartStream) {
            self.parser.reset();
        }
        if actions.contains(&Action::StartTls) {
            self.parser = StreamParser::new();
        }
        actions
    }

    pub(super) fn open(&mut self) -> Vec<Action> {
        self.send(STREAM_OPEN)
    }

    fn features(&mut self) -> Element {
        let actions = self.open();
        match &actions[..] {
            [Action::SendHeader(_), Action::Send(features)] => features.clone(),
            other => panic!("expected header and features, got {:?}", summary(other)),
        }
    }

    /// Opens the stream and authenticates `alice` with PLAIN.
    pub(super) fn authenticate(&mut self) {
        self.open();
        let actions = self.send(&plain_auth("alice", "secret"));
        assert_eq!(summary(&actions), ["lookup alice@localhost"]);
        let actions = self.input(Input::Credentials(Credentials::Found(stored("secret"))));
        assert_eq!(summary(&actions), ["success", "restart"]);
    }

    /// Authenticates and binds `resource`.
    pub(super) fn bind(&mut self, resource: &str) {
        self.authenticate();
        let actions = self.open();
        assert_eq!(summary(&actions), ["header", "features"]);
        let actions = self.send(&bind_iq(Some(resource)));
        assert_eq!(
            summary(&actions),
            [
                format!("open alice@localhost/{resource}"),
                "iq-result".into()
            ]
        );
    }
}

pub(super) fn plain_auth(username: &str, password: &str) -> String {
    let message = format!("\0{username}\0{password}");
    format!(
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{}</auth>",
        BASE64.encode(message)
    )
}

pub(super) fn bind_iq(resource: Option<&str>) -> String {
    match resource {
        Some(resource) => format!(
            "<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>{resource}</resource></bind></iq>"
        ),
        None => "<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>".into(),
    }
}

fn child_names(element: &Element) -> Vec<String> {
    element.elements().map(|child| child.name.clone()).collect()
}

fn mechanism_names(features: &Element) -> Vec<String> {
    features
        .child("mechanisms", NS_SASL)
        .map(|mechanisms| mechanisms.elements().map(Element::text).collect())
        .unwrap_or_default()
}

// ---- headers ------------------------------------------------------------

#[test]
fn optional_tls_offers_starttls_and_every_mechanism() {
    let mut client = Client::new(TlsPolicy::Optional);
    let features = client.features();
    assert_eq!(child_names(&features), ["starttls", "mechanisms"]);
    let starttls = features.child("starttls", NS_TLS).expect("starttls");
    assert!(starttls.child("required", NS_TLS).is_none());
    assert_eq!(
        mechanism_names(&features),
        ["SCRAM-SHA-512", "SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"]
    );
}

#[test]
fn required_tls_offers_only_starttls_and_refuses_auth_before_it() {
    let mut client = Client::new(TlsPolicy::Required);
    let features = client.features();
    assert_eq!(child_names(&features), ["starttls"]);
    assert!(features
        .child("starttls", NS_TLS)
        .and_then(|starttls| starttls.child("required", NS_TLS))
        .is_some());
    let actions = client.send(&plain_auth("alice", "secret"));
    assert_eq!(summary(&actions), ["sasl-failure encryption-required"]);
    // Still negotiating: STARTTLS is accepted after the refusal.
    let actions = client.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    assert_eq!(summary(&actions), ["tls-proceed", "starttls"]);
}

#[test]
fn starttls_then_restart_offers_mechanisms_without_starttls() {
    let mut client = Client::new(TlsPolicy::Required);
    client.open();
    let actions = client.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    assert_eq!(summary(&actions), ["tls-proceed", "starttls"]);
    // Anything the client sends before the handshake completes is ignored.
    assert!(client
        .input(Input::Element(Element::new("presence", NS_CLIENT)))
        .is_empty());
    assert!(client.input(Input::TlsEstablished).is_empty());
    assert!(client.stream.is_tls_active());
    let features = client.features();
    assert_eq!(child_names(&features), ["mechanisms"]);
    assert_eq!(mechanism_names(&features).len(), 4);
}

#[test]
fn tls_off_offers_no_starttls_and_fails_it() {
    let mut client = Client::new(TlsPolicy::Off);
    assert_eq!(child_names(&client.features()), ["mechanisms"]);
    let actions = client.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    assert_eq!(summary(&actions), ["tls-failure", "close"]);
    assert!(client.stream.is_closed());
}

#[test]
fn direct_tls_starts_encrypted_and_refuses_a_second_starttls() {
    let mut client = Client::new(TlsPolicy::Direct);
    assert!(client.stream.is_tls_active());
    assert_eq!(child_names(&client.features()), ["mechanisms"]);
    let actions = client.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    assert_eq!(summary(&actions), ["tls-failure", "close"]);
}

#[test]
fn tls_established_without_starttls_is_an_internal_error() {
    let mut client = Client::new(TlsPolicy::Optional);
    client.open();
    let actions = client.input(Input::TlsEstablished);
    assert_eq!(summary(&actions), ["close internal-server-error"]);
}

#[test]
fn header_for_an_unknown_domain_is_host_unknown() {
    let mut client = Client::new(TlsPolicy::Optional);
    let actions = client.send(
        "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='elsewhere.org' version='1.0'>",
    );
    assert_eq!(summary(&actions), ["header", "close host-unknown"]);
    assert!(client.stream.is_closed());
}

#[test]
fn header_domain_is_prepared_and_defaults_to_the_first() {
    let mut client = Client::new(TlsPolicy::Optional);
    let actions = client.send(
        "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='Example.COM.' version='1.0'>",
    );
    let Action::SendHeader(header) = &actions[0] else {
        panic!("expected a header");
    };
    assert!(header.contains("from='example.com'"), "{header}");
    assert!(header.contains("version='1.0'"), "{header}");
    assert!(header.contains("xmlns='jabber:client'"), "{header}");

    let mut client = Client::new(TlsPolicy::Optional);
    let actions = client.send(
        "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>",
    );
    let Action::SendHeader(header) = &actions[0] else {
        panic!("expected a header");
    };
    assert!(header.contains("from='localhost'"), "{header}");
}

#[test]
fn each_header_gets_a_new_stream_id() {
    let id_of = |actions: &[Action]| match &actions[0] {
        Action::SendHeader(header) => header
            .split("id='")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .map(str::to_owned)
            .expect("id"),
        _ => panic!("expected a header"),
    };
    let mut client = Client::new(TlsPolicy::Optional);
    let first = id_of(&client.open());
    client.send(&plain_auth("alice", "secret"));
    client.input(Input::Credentials(Credentials::Found(stored("secret"))));
    let second = id_of(&client.open());
    assert_eq!(first.len(), STREAM_ID_BYTES * 2);
    assert_ne!(first, second);
}

#[test]
fn restart_for_another_domain_is_host_unknown() {
    let mut client = Client::new(TlsPolicy::Optional);
    client.authenticate();
    let actions = client.send(
        "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>",
    );
    assert_eq!(summary(&actions), ["header", "close host-unknown"]);
}

#[test]
fn restart_without_to_keeps_the_chosen_domain() {
    let mut client = Client::new(TlsPolicy::Optional);
    client.authenticate();
    let actions = client.send(
        "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>",
    );
    assert_eq!(summary(&actions), ["header", "features"]);
}

#[test]
fn wrong_content_namespace_is_invalid_namespace() {
    let mut client = Client::new(TlsPolicy::Optional);
    let actions = client.send(
        "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>",
    );
    assert_eq!(summary(&actions), ["header", "close invalid-namespace"]);
}

#[test]
fn wrong_stream_namespace_is_invalid_namespace_after_our_header() {
    let mut client = Client::new(TlsPolicy::Optional);
    let actions = client.send(
        "<stream:stream xmlns='jabber:client' xmlns:stream='urn:wrong' to='localhost' version='1.0'>",
    );
    assert_eq!(summary(&actions), ["header", "close invalid-namespace"]);
}

#[test]
fn missing_or_unknown_version_is_unsupported_version() {
    for header in [
        "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost'>",
        "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='2.0'>",
        "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1'>",
    ] {
        let mut client = Client::new(TlsPolicy::Optional);
        let actions = client.send(header);
        assert_eq!(summary(&actions), ["header", "close unsupported-version"], "{header}");
    }
    assert!(is_version_1("1.0") && is_version_1("1.1") && is_version_1("01.0"));
    assert!(!is_version_1("1.") && !is_version_1("1.x") && !is_version_1("0.9"));
}

// ---- parser errors --------------------------------------------------------

#[test]
fn garbage_before_a_header_gets_a_header_then_not_well_formed() {
    let mut client = Client::new(TlsPolicy::Optional);
    let actions = client.send("hello");
    assert_eq!(summary(&actions), ["header", "close not-well-formed"]);
}

#[test]
fn malformed_stanza_is_not_well_formed() {
    let mut client = Client::new(TlsPolicy::Optional);
    client.open();
    let actions = client.send("<message><body>unclosed</message>");
    assert_eq!(summary(&actions), ["close not-well-formed"]);
}

#[test]
fn doctype_is_restricted_xml() {
    let mut client = Client::new(TlsPolicy::Optional);
    let actions = client.send("<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'>]>");
    assert_eq!(summary(&actions), ["header", "close restricted-xml"]);
    let mut client = Client::new(TlsPolicy::Optional);
    client.open();
    let actions = client.send("<message><body>&lol;</body></message>");
    assert_eq!(summary(&actions), ["close restricted-xml"]);
}

#[test]
fn oversized_stanza_is_policy_violation() {
    let mut client = Client::new(TlsPolicy::Optional);
    client.parser = StreamParser::with_limits(Limits {
        stanza_bytes_max: 1024,
        ..Limits::DEFAULT
    });
    client.open();
    let actions = client.send(&format!(
        "<message><body>{}</body></message>",
        "x".repeat(2000)
    ));
    assert_eq!(summary(&actions), ["close policy-violation"]);
}

// ---- SASL -------------------------------------------------------------------

#[test]
fn plain_success_restarts_the_stream_and_offers_bind() {
    let mut client = Client::new(TlsPolicy::Optional);
    client.authenticate();
    assert_eq!(client.stream.username(), Some("alice"));
    let features = client.features();
    assert_eq!(child_names(&features), ["bind", "session"]);
    let session = features.child("session", NS_SESSION).expect("session");
    assert!(session.child("optional", NS_SESSION).is_some());
}

#[test]
fn wrong_password_fails_and_the_cap_closes_with_policy_violation() {
    let mut client = Client::new(TlsPolicy::Optional);
    client.open();
    for attempt in 1..=3 {
        let actions = client.send(&plain_auth("alice", "wrong"));
        assert_eq!(summary(&actions), ["lookup alice@localhost"]);
        let actions = client.input(Input::Credentials(Credentials::Found(stored("secret"))));
        if attempt < 3 {
            assert_eq!(summary(&actions), ["sasl-failure not-authorized"]);
        } else {
            assert_eq!(
                summary(&actions),
                ["sasl-failure not-authorized", "close policy-violation"]
            );
        }
        assert_eq!(client.stream.auth_failures(), attempt);
    }
    assert!(client.stream.is_closed());
    assert!(client.send(&plain_auth("alice", "secret")).is_empty());
}

#[test]
fn unknown_user_fails_like_a_wrong_password() {
    let mut client = Client::new(TlsPolicy::Optional);
    client.open();
    client.send(&plain_auth("nobody", "secret"));
    let actions = client.input(Input::Credentials(Credentials::NoSuchUser));
    assert_eq!(summary(&actions), ["sasl-failure not-authorized"]);
}

#[test]
fn store_failure_is_temporary_and_does_not_count() {
    let mut client = Client::new(TlsPolicy::Optional);
    client.open();
    client.send(&plain_auth("alice", "secret"));
    let actions = client.input(Input::Credentials(Credentials::Unavailable));
    assert_eq!(summary(&actions), ["sasl-failure temporary-auth-failure"]);
    assert_eq!(client.stream.auth_failures(), 0);
    // The client may try again.
    client.send(&plain_auth("alice", "secret"));
    let actions = client.input(Input::Credentials(Credentials::Found(stored("secret"))));
    assert_eq!(summary(&actions), ["success", "restart"]);
}

#[test]
fn unknown_or_unoffered_mechanism_is_invalid_mechanism() {
    let config = StreamConfig::new(
        &[DOMAIN.to_owned()],
        TlsPolicy::Off,
        &[Mechanism::ScramSha256],
        3,
    )
    .expect("valid");
    let mut client = Client {
        stream: Stream::new(Arc::new(config)),
        parser: StreamParser::new(),
    };
    assert_eq!(mechanism_names(&client.features()), ["SCRAM-SHA-256"]);
    for mechanism in ["DIGEST-MD5", "PLAIN"] {
        let actions = client.send(&format!(
            "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='{mechanism}'/>"
        ));
        assert_eq!(summary(&actions), ["sasl-failure invalid-mechanism"]);
    }
    assert_eq!(client.stream.auth_failures(), 2);
}

#[test]
fn bad_base64_is_incorrect_encoding() {
    let mut client = Client::new(TlsPolicy::Optional);
    client.open();
    let actions =
        client.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>!!!</auth>");
    assert_eq!(summary(&actions), ["sasl-failure incorrect-encoding"]);
}

#[test]
fn plain_without_initial_response_takes_an_empty_challenge() {
    let mut client = Client::new(TlsPolicy::Optional);
    client.open();
    let actions = client.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'/>");
    assert_eq!(summary(&actions), ["challenge"]);
    let response = BASE64.encode("\0alice\0secret");
    let actions = client.send(&format!(
        "<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{response}</response>"
    ));
    assert_eq!(summary(&actions), ["lookup alice@localhost"]);
}

#[test]
fn abort_fails_without_counting() {
    let mut client = Client::new(TlsPolicy::Optional);
    client.open();
    client.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'/>");
    let actions = client.send("<abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
    assert_eq!(summary(&actions), ["sasl-failure aborted"]);
    let actions = client.send("<abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
    assert_eq!(summary(&actions), ["sasl-failure aborted"]);
    assert_eq!(client.stream.auth_failures(), 0);
}

#[test]
fn response_outside_an_exchange_is_malformed() {
    let mut client = Client::new(TlsPolicy::Optional);
    client.open();
    let actions = client.send("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>AAAA</response>");
    assert_eq!(summary(&actions), ["sasl-failure malformed-request"]);
}

#[test]
fn late_credentials_are_ignored() {
    let mut client = Client::new(TlsPolicy::Optional);
    client.open();
    assert!(client
        .input(Input::Credentials(Credentials::Found(stored("secret"))))
        .is_empty());
    client.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'/>");
    // Waiting for a response, not for credentials.
    assert!(client
        .input(Input::Credentials(Credentials::NoSuchUser))
        .is_empty());
}

/// The SASL tests' SCRAM client, with the base64 the stream carries.
pub(super) fn scram_client(hash: ScramHash, username: &str, password: &str) -> ScramClient {
    ScramClient::new(hash, username, password, "clientnonce123")
}

pub(super) fn base64_of(element: &Element) -> Vec<u8> {
    BASE64.decode(element.text()).expect("base64")
}

#[test]
fn every_scram_mechanism_authenticates_and_proves_the_server() {
    for (mechanism, hash) in [
        ("SCRAM-SHA-1", ScramHash::Sha1),
        ("SCRAM-SHA-256", ScramHash::Sha256),
        ("SCRAM-SHA-512", ScramHash::Sha512),
    ] {
        let mut client = Client::new(TlsPolicy::Optional);
        client.open();
        let mut scram = scram_client(hash, "alice", "secret");
        let actions = client.send(&format!(
            "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='{mechanism}'>{}</auth>",
            BASE64.encode(scram.client_first())
        ));
        assert_eq!(summary(&actions), ["lookup alice@localhost"]);
        let actions = client.input(Input::Credentials(Credentials::Found(stored("secret"))));
        let [Action::Send(challenge)] = &actions[..] else {
            panic!("expected a challenge: {:?}", summary(&actions));
        };
        assert_eq!(challenge.name, "challenge");
        let response = BASE64.encode(scram.client_final(&base64_of(challenge)));
        let actions = client.send(&format!(
            "<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{response}</response>"
        ));
        let [Action::Send(success), Action::RestartStream] = &actions[..] else {
            panic!("expected success: {:?}", summary(&actions));
        };
        assert!(
            scram.verify_server_final(&base64_of(success)),
            "{mechanism}"
        );
    }
}

#[test]
fn scram_with_a_wrong_password_is_not_authorized() {
    let mut client = Client::new(TlsPolicy::Optional);
    client.open();
    let mut scram = scram_client(ScramHash::Sha256, "alice", "wrong");
    client.send(&format!(
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>{}</auth>",
        BASE64.encode(scram.client_first())
    ));
    let actions = client.input(Input::Credentials(Credentials::Found(stored("secret"))));
    let [Action::Send(challenge)] = &actions[..] else {
        panic!("expected a challenge");
    };
    let response = BASE64.encode(scram.client_final(&base64_of(challenge)));
    let actions = client.send(&format!(
        "<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{response}</response>"
    ));
    assert_eq!(summary(&actions), ["sasl-failure not-authorized"]);
}

// ---- before authentication and binding -----------------------------------------

#[test]
fn stanzas_before_authentication_are_not_authorized() {
    for stanza in [
        "<message to='bob@localhost'><body>hi</body></message>",
        "<iq type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>",
        "<presence/>",
        "<enable xmlns='urn:xmpp:sm:3'/>",
    ] {
        let mut client = Client::new(TlsPolicy::Optional);
        client.open();
        let actions = client.send(stanza);
        assert_eq!(summary(&actions), ["close not-authorized"], "{stanza}");
    }
}

#[test]
fn stanzas_before_binding_are_not_authorized() {
    let mut client = Client::new(TlsPolicy::Optional);
    client.authenticate();
    client.open();
    let actions = client.send("<message to='bob@localhost'><body>hi</body></message>");
    assert_eq!(summary(&actions), ["close not-authorized"]);
}

#[test]
fn bind_without_a_resource_makes_one() {
    let mut client = Client::new(TlsPolicy::Optional);
    client.authenticate();
    client.open();
    let actions = client.send(&bind_iq(None));
    let [Action::OpenSession { jid, .. }, Action::Send(result)] = &actions[..] else {
        panic!("expected open and result: {:?}", summary(&actions));
    };
    let resource = jid.resource().expect("a resource");
    assert_eq!(resource.len(), RESOURCE_RANDOM_BYTES * 2);
    assert!(resource.bytes().all(|byte| byte.is_ascii_hexdigit()));
    let bound = result
        .child("bind", NS_BIND)
        .and_then(|bind| bind.child("jid", NS_BIND))
        .map(Element::text);
    assert_eq!(bound, Some(jid.to_string()));
    assert_eq!(result.attr("id"), Some("b1"));
    assert_eq!(client.stream.jid(), Some(jid));
}

#[test]
fn bind_with_a_bad_request_or_resource_is_bad_request() {
    let mut client = Client::new(TlsPolicy::Optional);
    client.authenticate();
    client.open();
    let actions =
        client.send("<iq type='get' id='b0'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>");
    assert_eq!(summary(&actions), ["iq-error bad-request"]);
    let actions = client.send(&bind_iq(Some(&"r".repeat(1100))));
    assert_eq!(summary(&actions), ["iq-error bad-request"]);
    // Still able to bind.
    let actions = client.send(&bind_iq(Some("phone")));
    assert_eq!(
        summary(&actions),
        ["open alice@localhost/phone", "iq-result"]
    );
}

// ---- bound --------------------------------------------------------------

#[test]
fn bound_stanzas_are_routed_with_from_stamped() {
    let mut client = Client::new(TlsPolicy::Optional);
    client.bind("phone");
    let actions = client.send("<message to='bob@localhost' type='chat'><body>hi</body></message>");
    assert_eq!(
        summary(&actions),
        ["route message from=alice@localhost/phone"]
    );
    let actions = client.send("<presence from='alice@localhost'/>");
    assert_eq!(
        summary(&actions),
        ["route presence from=alice@localhost/phone"]
    );
    let actions = client.send("<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>");
    assert_eq!(summary(&actions), ["route iq from=alice@localhost/phone"]);
    let actions = client.send("<iq type='result' id='p2'/>");
    assert_eq!(summary(&actions), ["route iq from=alice@localhost/phone"]);
}

#[test]
fn somebody_elses_from_is_invalid_from() {
    let mut client = Client::new(TlsPolicy::Optional);
    client.bind("phone");
    let actions = client.send("<message from='bob@localhost/x' to='carol@localhost'/>");
    assert_eq!(summary(&actions), ["close invalid-from"]);
}

#[test]
fn malformed_to_gets_jid_malformed_without_routing() {
    let mut client = Client::new(TlsPolicy::Optional);
    client.bind("phone");
    let actions = client.send("<message to='a@@b' id='m1'><body>x</body></message>");
    let [Action::Send(reply)] = &actions[..] else {
        panic!("expected a reply: {:?}", summary(&actions));
    };
    assert_eq!(reply.attr("type"), Some("error"));
    assert_eq!(reply.attr("from"), None);
    assert_eq!(reply.attr("to"), Some("alice@localhost/phone"));
    // Errors are never answered with errors.
    assert!(client.send("<message to='a@@b' type='error'/>").is_empty());
}

#[test]
fn invalid_iqs_get_bad_request() {
    let mut client = Client::new(TlsPolicy::Optional);
    client.bind("phone");
    for iq in [
        "<iq type='get'><ping xmlns='urn:xmpp:ping'/></iq>",
        "<iq type='get' id='1'/>",
        "<iq type='set' id='1'><a xmlns='urn:a'/><b xmlns='urn:b'/></iq>",
        "<iq type='fetch' id='1'><ping xmlns='urn:xmpp:ping'/></iq>",
    ] {
        assert_eq!(summary(&client.send(iq)), ["iq-error bad-request"], "{iq}");
    }
    assert!(client
        .send("<iq type='result'><a xmlns='urn:a'/><b xmlns='urn:b'/></iq>")
        .is_empty());
}

#[test]
fn other_first_level_elements_are_unsupported_stanza_types() {
    let mut client = Client::new(TlsPolicy::Optional);
    client.bind("phone");
    let actions = client.send("<enable xmlns='urn:xmpp:sm:3'/>");
    assert_eq!(summary(&actions), ["close unsupported-stanza-type"]);
}

#[test]
fn second_bind_is_not_allowed_and_legacy_session_is_answered() {
    let mut client = Client::new(TlsPolicy::Optional);
    client.bind("phone");
    assert_eq!(
        summary(&client.send(&bind_iq(Some("other")))),
        ["iq-error not-allowed"]
    );
    let actions = client
        .send("<iq type='set' id='s1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>");
    let [Action::Send(result)] = &actions[..] else {
        panic!("expected a result: {:?}", summary(&actions));
    };
    assert_eq!(result.attr("type"), Some("result"));
    assert_eq!(result.attr("id"), Some("s1"));
}

#[test]
fn deliveries_reach_only_a_bound_client() {
    let stanza = Element::new("message", NS_CLIENT).with_attr("to", "alice@localhost/phone");
    let mut client = Client::new(TlsPolicy::Optional);
    client.authenticate();
    assert!(client.input(Input::Deliver(stanza.clone())).is_empty());
    client.open();
    client.send(&bind_iq(Some("phone")));
    assert_eq!(
        client.input(Input::Deliver(stanza.clone())),
        [Action::Send(stanza)]
    );
}

// ---- ending -------------------------------------------------------------------

#[test]
fn client_close_is_answered_with_our_close() {
    let mut client = Client::new(TlsPolicy::Optional);
    client.bind("phone");
    assert_eq!(summary(&client.send("</stream:stream>")), ["close"]);
    assert!(client.stream.is_closed());
}

#[test]
fn client_stream_error_closes_without_an_error_of_ours() {
    let mut client = Client::new(TlsPolicy::Optional);
    client.open();
    let actions = client.send(
        "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
    );
    assert_eq!(summary(&actions), ["close"]);
}

#[test]
fn timeouts_close_with_connection_timeout() {
    let mut client = Client::new(TlsPolicy::Optional);
    client.open();
    assert_eq!(
        summary(&client.input(Input::NegotiationTimeout)),
        ["close connection-timeout"]
    );

    let mut client = Client::new(TlsPolicy::Optional);
    client.bind("phone");
    assert!(client.input(Input::NegotiationTimeout).is_empty());
    assert_eq!(
        summary(&client.input(Input::IdleTimeout)),
        ["close connection-timeout"]
    );

    // Before the client's header: ours goes first.
    let mut client = Client::new(TlsPolicy::Optional);
    assert_eq!(
        summary(&client.input(Input::IdleTimeout)),
        ["header", "close connection-timeout"]
    );
}

#[test]
fn close_requests_carry_their_error() {
    let mut client = Client::new(TlsPolicy::Optional);
    client.bind("phone");
    let actions = client.input(Input::Close(StreamError::new(
        StreamErrorCondition::Conflict,
    )));
    assert_eq!(summary(&actions), ["close conflict"]);
    let mut client = Client::new(TlsPolicy::Optional);
    client.bind("phone");
    let actions = client.input(Input::Close(StreamError::new(
        StreamErrorCondition::SystemShutdown,
    )));
    assert_eq!(summary(&actions), ["close system-shutdown"]);
}

#[test]
fn a_closed_stream_ignores_everything() {
    let mut client = Client::new(TlsPolicy::Optional);
    client.bind("phone");
    assert_eq!(summary(&client.input(Input::Disconnected)), ["terminate"]);
    assert!(client.stream.is_closed());
    for input in [
        Input::End,
        Input::IdleTimeout,
        Input::TlsEstablished,
        Input::Disconnected,
        Input::Deliver(Element::new("message", NS_CLIENT)),
        Input::Close(StreamError::new(StreamErrorCondition::Conflict)),
        Input::Element(Element::new("presence", NS_CLIENT)),
    ] {
        assert!(client.input(input).is_empty());
    }
}

#[test]
fn config_is_validated() {
    let mechanisms = &Mechanism::ALL;
    assert_eq!(
        StreamConfig::new(&[], TlsPolicy::Off, mechanisms, 3).err(),
        Some(StreamConfigError::Domains(DomainsError::NoDomain))
    );
    assert!(matches!(
        StreamConfig::new(&["bad domain".into()], TlsPolicy::Off, mechanisms, 3),
        Err(StreamConfigError::Domains(
            DomainsError::InvalidDomain { .. }
        ))
    ));
    assert_eq!(
        StreamConfig::new(&[DOMAIN.into()], TlsPolicy::Off, &[], 3).err(),
        Some(StreamConfigError::NoMechanism)
    );
    assert_eq!(
        StreamConfig::new(&[DOMAIN.into()], TlsPolicy::Off, mechanisms, 0).err(),
        Some(StreamConfigError::ZeroAuthFailures)
    );
    let config = StreamConfig::new(
        &["LocalHost".into(), "localhost".into()],
        TlsPolicy::Off,
        &[Mechanism::Plain, Mechanism::Plain],
        3,
    )
    .expect("valid");
    assert_eq!(config.domains(), ["localhost"]);
    assert_eq!(config.mechanisms(), [Mechanism::Plain]);
    let direct = config.with_tls(TlsPolicy::Direct);
    assert_eq!(direct.tls(), TlsPolicy::Direct);
    assert_eq!(direct.sasl, config.sasl);
}

#[test]
fn stream_ids_come_from_the_configured_randomness() {
    let run = |seed: u64| {
        let config = StreamConfig::new(&[DOMAIN.to_owned()], TlsPolicy::Off, &Mechanism::ALL, 3)
            .expect("valid config")
            .with_randomness(crate::random::Randomness::seeded(seed));
        let mut stream = Stream::new(Arc::new(config));
        let mut parser = StreamParser::new();
        parser.feed(STREAM_OPEN.as_bytes());
        let Ok(Some(StreamEvent::StreamStart(header))) = parser.next_event() else {
            panic!("a header");
        };
        match stream.handle(Input::Header(header)).first() {
            Some(Action::SendHeader(xml)) => xml.clone(),
            other => panic!("expected our header, got {other:?}"),
        }
    };
    assert_eq!(run(5), run(5));
    assert_ne!(run(5), run(6));
}
