//! Client state indication (XEP-0352) and server pings (XEP-0199) over real sockets: the
//! real server in-process and the test kit's raw XML client.
//!
//! Nothing waits a fixed time: "nothing arrived while inactive" is shown by what arrives
//! first once an urgent stanza flushes the queue, and a ping's timeout by the stream error
//! or the closed connection it causes.

use std::time::Duration;

use bream_testkit::xmpp::{befriend, TestClient, DOMAIN, NS_SASL, PASSWORD};
use bream_xmpp::config::modules::PingTimeoutAction;
use bream_xmpp::config::Config;
use bream_xmpp::xml::{Element, NS_CLIENT};

const NS_CSI: &str = "urn:xmpp:csi:0";
const NS_SM: &str = "urn:xmpp:sm:3";

use crate::stream_management::server;

fn status(element: &Element) -> Option<String> {
    element.child("status", NS_CLIENT).map(Element::text)
}

/// What one stanza is, for comparing sequences: `presence:<status>`, `message:<child>`.
fn describe(element: &Element) -> String {
    match element.name.as_str() {
        "presence" => format!("presence:{}", status(element).unwrap_or_default()),
        "message" => format!(
            "message:{}",
            element
                .elements()
                .next()
                .map(|child| child.name.clone())
                .unwrap_or_default()
        ),
        other => other.to_owned(),
    }
}

/// Bob sends `stanzas` and waits until his session has routed them.
async fn bob_sends(bob: &mut TestClient, stanzas: &[String], sync: &str) {
    for stanza in stanzas {
        bob.send(stanza).await;
    }
    assert!(bob.until_pong(sync).await.iter().all(|e| e.name != "iq"));
}

fn bob_presence(text: &str) -> String {
    format!("<presence><status>{text}</status></presence>")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inactive_client_gets_held_stanzas_in_order_when_something_urgent_comes() {
    let server = server(|_| {}).await;
    let (mut alice, features) = {
        let mut client = TestClient::connect(server.c2s_addr()).await;
        client.open().await;
        let success = client.auth_plain("alice", PASSWORD).await;
        assert!(success.is("success", NS_SASL), "{success}");
        let features = client.open().await;
        client.bind("phone").await;
        client.send("<presence/>").await;
        (client, features)
    };
    assert!(features.child("csi", NS_CSI).is_some(), "{features}");
    let mut bob = TestClient::login_available(server.c2s_addr(), "bob", PASSWORD, "desk").await;
    befriend(&mut alice, &mut bob).await;
    alice.until_pong("settled").await;

    alice.send(&format!("<inactive xmlns='{NS_CSI}'/>")).await;
    // An iq is urgent: its answer is not held (nothing was held yet).
    assert!(alice.until_pong("inactive").await.is_empty());
    let to = "alice@localhost/phone";
    bob_sends(
        &mut bob,
        &[
            bob_presence("one"),
            format!("<message to='{to}'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>"),
            bob_presence("two"),
            format!("<message to='{to}'><received xmlns='urn:xmpp:receipts' id='r1'/></message>"),
        ],
        "held",
    )
    .await;
    bob.message(to, "wake up").await;
    let mut got = Vec::new();
    while got.last().map(String::as_str) != Some("message:body") {
        got.push(describe(&alice.element().await));
    }
    // Bob's presence coalesced to the latest, the chat state dropped, the order kept.
    assert_eq!(got, ["presence:two", "message:received", "message:body"]);

    // Held again while inactive, sent on <active/>; after that nothing waits.
    bob_sends(&mut bob, &[bob_presence("three")], "again").await;
    alice.send(&format!("<active xmlns='{NS_CSI}'/>")).await;
    assert_eq!(describe(&alice.element().await), "presence:three");
    bob_sends(&mut bob, &[bob_presence("four")], "active").await;
    assert_eq!(describe(&alice.element().await), "presence:four");
    server.stop().await;
}

fn pings(config: &mut Config) {
    let ping = &mut config.modules.mod_ping;
    ping.send_pings = true;
    ping.ping_interval = Duration::from_millis(200);
    ping.ping_req_timeout = Duration::from_millis(500);
    ping.timeout_action = PingTimeoutAction::Kill;
}

/// The next element, which must be a server ping to `jid`; its id.
async fn server_ping(client: &mut TestClient, jid: &str) -> String {
    let ping = client
        .expect("a server ping", |element| {
            element.name == "iq" && element.child("ping", "urn:xmpp:ping").is_some()
        })
        .await;
    assert_eq!(ping.attr("type"), Some("get"), "{ping}");
    assert_eq!(ping.attr("from"), Some(DOMAIN), "{ping}");
    assert_eq!(ping.attr("to"), Some(jid), "{ping}");
    ping.attr("id").expect("an id").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_client_is_pinged_and_closed_when_it_does_not_answer() {
    let server = server(pings).await;
    let mut alice = TestClient::login(server.c2s_addr(), "alice", PASSWORD, "phone").await;
    let jid = "alice@localhost/phone";
    let id = server_ping(&mut alice, jid).await;
    alice
        .send(&format!("<iq type='result' id='{id}' to='{DOMAIN}'/>"))
        .await;
    // Answered: the session goes on, and the next silence brings another ping.
    let next = server_ping(&mut alice, jid).await;
    assert_ne!(next, id);
    alice.expect_stream_error("connection-timeout").await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_ping_detaches_a_resumable_session_which_resumes() {
    let server = server(pings).await;
    let mut alice = TestClient::login(server.c2s_addr(), "alice", PASSWORD, "phone").await;
    alice
        .send(&format!("<enable xmlns='{NS_SM}' resume='true'/>"))
        .await;
    let enabled = alice
        .expect("<enabled/>", |element| element.is("enabled", NS_SM))
        .await;
    let previd = enabled.attr("id").expect("an id").to_owned();
    server_ping(&mut alice, "alice@localhost/phone").await;
    // Detached: the connection is dropped without a stream error.
    alice.read_until_closed().await;
    let mut again = TestClient::connect(server.c2s_addr()).await;
    again.open().await;
    let success = again.auth_plain("alice", PASSWORD).await;
    assert!(success.is("success", NS_SASL), "{success}");
    again.open().await;
    again
        .send(&format!(
            "<resume xmlns='{NS_SM}' previd='{previd}' h='0'/>"
        ))
        .await;
    let resumed = again
        .expect("<resumed/>", |element| {
            element.namespace == NS_SM && element.name != "r"
        })
        .await;
    assert_eq!(resumed.name, "resumed", "{resumed}");
    server.stop().await;
}
