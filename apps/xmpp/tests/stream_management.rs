//! XEP-0198 stream management over real sockets: the real server in-process
//! ([`TestServer`], SQLite, the default modules, so offline storage is there) and the test
//! kit's client speaking raw XML.
//!
//! Connections are cut by dropping the client (the socket closes without
//! `</stream:stream>`). Nothing waits a fixed time: a resumption timeout is awaited as the
//! session leaving the session table, with the kit's deadline.

use bream_testkit::xmpp::{befriend, TestClient, TestServer, DOMAIN, NS_SASL, PASSWORD};
use bream_testkit::{eventually_sync, DEADLINE};
use bream_xmpp::config::Config;
use bream_xmpp::jid::Jid;
use bream_xmpp::xml::{Element, NS_CLIENT};

const NS_SM: &str = "urn:xmpp:sm:3";
const NS_STANZAS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";

/// The real server with alice and bob, configured by `configure` (shared by the session
/// feature tests).
pub(crate) async fn server(configure: impl FnOnce(&mut Config)) -> TestServer {
    TestServer::builder()
        .users(["alice", "bob"])
        .configure(configure)
        .start()
        .await
}

/// Logs `username` in on `resource` and enables resumable stream management; the id.
async fn login_resumable(
    server: &TestServer,
    username: &str,
    resource: &str,
) -> (TestClient, String) {
    let mut client = TestClient::login(server.c2s_addr(), username, PASSWORD, resource).await;
    client
        .send(&format!("<enable xmlns='{NS_SM}' resume='true'/>"))
        .await;
    let enabled = client
        .expect("<enabled/>", |element| element.is("enabled", NS_SM))
        .await;
    assert_eq!(enabled.attr("resume"), Some("true"), "{enabled}");
    let id = enabled.attr("id").expect("an id").to_owned();
    (client, id)
}

/// A new connection for `username`, authenticated (stream restarted), not bound; the
/// features after authentication.
async fn authenticated(server: &TestServer, username: &str) -> (TestClient, Element) {
    let mut client = TestClient::connect(server.c2s_addr()).await;
    client.open().await;
    let success = client.auth_plain(username, PASSWORD).await;
    assert!(success.is("success", NS_SASL), "{success}");
    let features = client.open().await;
    (client, features)
}

/// Sends `<resume/>`; the server's `<resumed/>` or `<failed/>`.
async fn resume(client: &mut TestClient, previd: &str, h: u32) -> Element {
    client
        .send(&format!(
            "<resume xmlns='{NS_SM}' previd='{previd}' h='{h}'/>"
        ))
        .await;
    client
        .expect("<resumed/> or <failed/>", |element| {
            element.namespace == NS_SM && matches!(element.name.as_str(), "resumed" | "failed")
        })
        .await
}

fn is_stanza(element: &Element) -> bool {
    element.namespace == NS_CLIENT && matches!(element.name.as_str(), "message" | "presence" | "iq")
}

fn body(element: &Element) -> Option<String> {
    element.child("body", NS_CLIENT).map(Element::text)
}

/// Bob sends `bodies` to `to` and waits until his session has routed them (his ping's
/// answer comes after them).
async fn bob_sends(bob: &mut TestClient, to: &str, bodies: impl IntoIterator<Item = String>) {
    for text in bodies {
        bob.message(to, &text).await;
    }
    bob.ping("routed").await;
}

/// Waits until `jid` has no session in the server's table (a resumption timed out).
async fn until_gone(server: &TestServer, jid: &str) {
    let router = server.router();
    let jid: Jid = jid.parse().expect("a JID");
    eventually_sync("the detached session to time out", DEADLINE, || {
        router
            .sessions()
            .resource_sessions(&jid)
            .is_ok_and(|sessions| sessions.is_empty())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_connection_is_resumed_and_every_message_arrives_exactly_once() {
    let server = server(|_| {}).await;
    let (mut alice, id) = login_resumable(&server, "alice", "phone").await;
    let mut bob = TestClient::login(server.c2s_addr(), "bob", PASSWORD, "desk").await;

    // Three messages reach alice; she reads them and counts them as handled, then her
    // connection is cut before she acknowledges anything.
    bob_sends(
        &mut bob,
        "alice@localhost/phone",
        (1..=3).map(|n| format!("m{n}")),
    )
    .await;
    let mut received = Vec::new();
    let mut handled = 0;
    while received.len() < 3 {
        let element = alice.element().await;
        if is_stanza(&element) {
            handled += 1;
            received.extend(body(&element));
        }
    }
    drop(alice);
    // Three more while she is away (delivered to the session, buffered).
    bob_sends(
        &mut bob,
        "alice@localhost/phone",
        (4..=6).map(|n| format!("m{n}")),
    )
    .await;

    let (mut alice, features) = authenticated(&server, "alice").await;
    assert!(features.child("sm", NS_SM).is_some(), "{features}");
    let resumed = resume(&mut alice, &id, handled).await;
    assert_eq!(resumed.name, "resumed", "{resumed}");
    assert_eq!(resumed.attr("previd"), Some(id.as_str()));
    // The unacknowledged ones are resent before anything else; the same session (same
    // full JID) answers a ping.
    received.extend(messages_until_pong(&mut alice, "after-resume").await);
    alice
        .send(&format!("<a xmlns='{NS_SM}' h='{}'/>", handled + 4))
        .await;
    bob_sends(&mut bob, "alice@localhost/phone", ["m7".to_string()]).await;
    received.extend(messages_until_pong(&mut alice, "last").await);
    let expected: Vec<String> = (1..=7).map(|n| format!("m{n}")).collect();
    assert_eq!(received, expected);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_cut_in_the_middle_of_a_burst_loses_and_repeats_nothing() {
    const BURST: usize = 60;
    let server = server(|_| {}).await;
    let (mut alice, id) = login_resumable(&server, "alice", "phone").await;
    let mut bob = TestClient::login(server.c2s_addr(), "bob", PASSWORD, "desk").await;
    // Bob keeps sending while alice is cut off and resumes.
    let sender = tokio::spawn(async move {
        bob_sends(
            &mut bob,
            "alice@localhost/phone",
            (1..=BURST).map(|n| format!("m{n}")),
        )
        .await;
        bob
    });
    let mut received = Vec::new();
    let mut handled = 0;
    while received.len() < 10 {
        let element = alice.element().await;
        if is_stanza(&element) {
            handled += 1;
            received.extend(body(&element));
        }
    }
    drop(alice);
    let (mut alice, _) = authenticated(&server, "alice").await;
    let resumed = resume(&mut alice, &id, handled).await;
    assert_eq!(resumed.name, "resumed", "{resumed}");
    let _bob = sender.await.expect("bob's sender");
    // Bob's ping came back after his last message was routed: it is resent or delivered
    // by now, ahead of alice's ping answer.
    received.extend(messages_until_pong(&mut alice, "after-burst").await);
    let expected: Vec<String> = (1..=BURST).map(|n| format!("m{n}")).collect();
    let mut sorted = received.clone();
    sorted.sort_by_key(|body| body[1..].parse::<usize>().unwrap_or(0));
    assert_eq!(sorted, expected, "received in this order: {received:?}");
    server.stop().await;
}

/// Sends a ping with `id` and reads until its answer; the message bodies read on the way.
async fn messages_until_pong(client: &mut TestClient, id: &str) -> Vec<String> {
    until_pong(client, id)
        .await
        .iter()
        .filter(|element| element.name == "message")
        .filter_map(body)
        .collect()
}

/// Sends a ping with `id` and reads until its answer; the elements read on the way.
async fn until_pong(client: &mut TestClient, id: &str) -> Vec<Element> {
    client
        .send(&format!(
            "<iq type='get' id='{id}' to='{DOMAIN}'><ping xmlns='urn:xmpp:ping'/></iq>"
        ))
        .await;
    let mut elements = Vec::new();
    loop {
        let element = client.element().await;
        if element.name == "iq" && element.attr("id") == Some(id) {
            assert_eq!(element.attr("type"), Some("result"), "{element}");
            return elements;
        }
        elements.push(element);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_with_a_wrong_id_or_as_another_user_fails_and_the_stream_goes_on() {
    let server = server(|_| {}).await;
    let (mut alice, id) = login_resumable(&server, "alice", "phone").await;

    let (mut stranger, _) = authenticated(&server, "alice").await;
    let failed = resume(&mut stranger, "not-an-id", 0).await;
    assert_eq!(failed.name, "failed", "{failed}");
    assert!(
        failed.child("item-not-found", NS_STANZAS).is_some(),
        "{failed}"
    );
    // The stream goes on: the client can bind instead.
    assert_eq!(stranger.bind("laptop").await, "alice@localhost/laptop");

    let (mut bob, _) = authenticated(&server, "bob").await;
    let failed = resume(&mut bob, &id, 0).await;
    assert!(
        failed.child("item-not-found", NS_STANZAS).is_some(),
        "{failed}"
    );
    assert_eq!(bob.bind("desk").await, "bob@localhost/desk");

    // Alice's session was not touched.
    alice.ping("still-there").await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_resume_timeout_the_id_fails_with_the_stale_h() {
    let server = server(|config| {
        let sm = &mut config.modules.mod_stream_management;
        sm.resume_timeout = std::time::Duration::from_secs(1);
        sm.stale_h.enabled = true;
    })
    .await;
    let (mut alice, id) = login_resumable(&server, "alice", "phone").await;
    alice.message("bob@localhost", "one").await;
    alice.message("bob@localhost", "two").await;
    alice.ping("handled").await;
    drop(alice);
    until_gone(&server, "alice@localhost/phone").await;

    let (mut alice, _) = authenticated(&server, "alice").await;
    let failed = resume(&mut alice, &id, 0).await;
    assert_eq!(failed.name, "failed", "{failed}");
    assert!(
        failed.child("item-not-found", NS_STANZAS).is_some(),
        "{failed}"
    );
    // Two messages and the ping.
    assert_eq!(failed.attr("h"), Some("3"), "{failed}");
    assert_eq!(alice.bind("phone").await, "alice@localhost/phone");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_buffer_closes_with_resource_constraint_and_nothing_is_lost() {
    let server = server(|config| {
        config.modules.mod_stream_management.buffer_max = 3;
    })
    .await;
    let (mut alice, _) = login_resumable(&server, "alice", "phone").await;
    let mut bob = TestClient::login(server.c2s_addr(), "bob", PASSWORD, "desk").await;
    bob_sends(
        &mut bob,
        "alice@localhost/phone",
        (1..=4).map(|n| format!("m{n}")),
    )
    .await;
    // Alice never acknowledges: the fourth is one too many.
    alice.expect_stream_error("resource-constraint").await;
    until_gone(&server, "alice@localhost/phone").await;

    // The three unacknowledged and the refused fourth were routed again: offline,
    // delivered at the next login.
    let mut alice =
        TestClient::login_available(server.c2s_addr(), "alice", PASSWORD, "phone").await;
    for n in 1..=4 {
        alice.expect_body("bob@localhost", &format!("m{n}")).await;
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_resume_timeout_unacknowledged_messages_go_offline() {
    let server = server(|config| {
        config.modules.mod_stream_management.resume_timeout = std::time::Duration::from_secs(1);
    })
    .await;
    let (alice, _) = login_resumable(&server, "alice", "phone").await;
    drop(alice);
    let mut bob = TestClient::login(server.c2s_addr(), "bob", PASSWORD, "desk").await;
    bob_sends(
        &mut bob,
        "alice@localhost/phone",
        ["while away 1".into(), "while away 2".into()],
    )
    .await;
    until_gone(&server, "alice@localhost/phone").await;

    let mut alice =
        TestClient::login_available(server.c2s_addr(), "alice", PASSWORD, "phone").await;
    alice.expect_body("bob@localhost", "while away 1").await;
    alice.expect_body("bob@localhost", "while away 2").await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_detached_session_replaced_by_a_new_bind_hands_its_messages_on() {
    let server = server(|_| {}).await;
    let (alice, _) = login_resumable(&server, "alice", "phone").await;
    drop(alice);
    let mut bob = TestClient::login(server.c2s_addr(), "bob", PASSWORD, "desk").await;
    bob_sends(&mut bob, "alice@localhost/phone", ["buffered".into()]).await;
    // A new bind of the same resource replaces the detached session (conflict); its
    // buffer is routed again, to the new session of that full JID.
    let mut alice = TestClient::login(server.c2s_addr(), "alice", PASSWORD, "phone").await;
    alice.expect_body("bob@localhost", "buffered").await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_see_a_detached_session_available_until_its_resume_timeout() {
    let server = server(|config| {
        config.modules.mod_stream_management.resume_timeout = std::time::Duration::from_secs(1);
    })
    .await;
    let mut alice =
        TestClient::login_available(server.c2s_addr(), "alice", PASSWORD, "phone").await;
    alice.wait_available().await;
    let mut bob = TestClient::login_available(server.c2s_addr(), "bob", PASSWORD, "desk").await;
    bob.wait_available().await;
    befriend(&mut alice, &mut bob).await;
    alice
        .send(&format!("<enable xmlns='{NS_SM}' resume='true'/>"))
        .await;
    let enabled = alice
        .expect("<enabled/>", |element| element.is("enabled", NS_SM))
        .await;
    let id = enabled.attr("id").expect("an id").to_owned();
    drop(alice);

    // Still available: a message to the bare JID goes to the detached session.
    bob.message("alice@localhost", "to the bare JID").await;
    let mut bob_got = until_pong(&mut bob, "sent").await;
    let (mut alice, _) = authenticated(&server, "alice").await;
    let resumed = resume(&mut alice, &id, 0).await;
    assert_eq!(resumed.name, "resumed", "{resumed}");
    let bodies = messages_until_pong(&mut alice, "resumed").await;
    assert!(
        bodies.contains(&"to the bare JID".to_string()),
        "{bodies:?}"
    );
    // Nothing told bob that alice went away.
    bob_got.extend(until_pong(&mut bob, "no-unavailable").await);
    let unavailable = bob_got
        .iter()
        .filter(|element| element.name == "presence" && element.attr("type") == Some("unavailable"))
        .count();
    assert_eq!(unavailable, 0);

    // Cut again and not resumed: at the timeout the session ends and bob is told.
    drop(alice);
    bob.expect_presence("alice@localhost", Some("unavailable"))
        .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_session_keeps_what_it_asked_of_the_server() {
    let server = server(|_| {}).await;
    let addr = server.c2s_addr();
    let mut phone = TestClient::login_available(addr, "alice", PASSWORD, "phone").await;
    phone.wait_available().await;
    let mut laptop = TestClient::login_available(addr, "alice", PASSWORD, "laptop").await;
    laptop.wait_available().await;
    let mut bob = TestClient::login_available(addr, "bob", PASSWORD, "desk").await;
    crate::sessions::enable_carbons(&mut phone).await;
    phone
        .send(&format!("<enable xmlns='{NS_SM}' resume='true'/>"))
        .await;
    let enabled = phone
        .expect("<enabled/>", |element| element.is("enabled", NS_SM))
        .await;
    let id = enabled.attr("id").expect("an id").to_owned();
    drop(phone);

    let (mut phone, _) = authenticated(&server, "alice").await;
    let resumed = resume(&mut phone, &id, 0).await;
    assert_eq!(resumed.name, "resumed", "{resumed}");
    until_pong(&mut phone, "resumed").await;
    // Carbons are still on for the resumed phone: a message to the laptop is copied to it.
    bob.message("alice@localhost/laptop", "copied").await;
    laptop.expect_body("bob@localhost", "copied").await;
    let copy = phone
        .expect("a received carbon", |element| {
            crate::sessions::carbon(element, "received").is_some()
        })
        .await;
    let inner = crate::sessions::carbon(&copy, "received").expect("a carbon");
    assert_eq!(body(inner).as_deref(), Some("copied"));
    server.stop().await;
}
