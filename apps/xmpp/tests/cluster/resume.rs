//! XEP-0198 resumption on another node of a real cluster: the session is handed over through
//! the old node's relay (`bream_xmpp::cluster::relay`), or, with `buffer_replicas = 1`, taken
//! from its mirror after its node was killed with `kill -9`. Clients speak raw XML; the
//! connection of the resumed client is cut by dropping it (no `</stream:stream>`).

use bream_testkit::eventually;
use bream_testkit::xmpp::TestClient;
use bream_xmpp::xml::{Element, NS_CLIENT};

use super::{sessions, TestCluster, DEADLINE};

const NS_SM: &str = "urn:xmpp:sm:3";
const NS_STANZAS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";

/// Enables resumable stream management on `client`; the id.
async fn enable_resumable(client: &mut TestClient) -> String {
    client
        .send(&format!("<enable xmlns='{NS_SM}' resume='true'/>"))
        .await;
    let enabled = client
        .expect("<enabled/>", |element| element.is("enabled", NS_SM))
        .await;
    enabled.attr("id").expect("an id").to_owned()
}

fn is_stanza(element: &Element) -> bool {
    element.namespace == NS_CLIENT && matches!(element.name.as_str(), "message" | "presence" | "iq")
}

fn body(element: &Element) -> Option<String> {
    element.child("body", NS_CLIENT).map(Element::text)
}

/// Reads until `count` messages with a body came; their bodies and how many stanzas were
/// read (the client's `h` for them).
async fn read_messages(client: &mut TestClient, count: usize) -> (Vec<String>, u32) {
    let (mut bodies, mut handled) = (Vec::new(), 0);
    while bodies.len() < count {
        let element = client.element().await;
        if is_stanza(&element) {
            handled += 1;
            bodies.extend(body(&element));
        }
    }
    (bodies, handled)
}

/// Pings the server and reads until the answer; the message bodies read on the way.
async fn messages_until_pong(client: &mut TestClient, id: &str) -> Vec<String> {
    client
        .send(&format!(
            "<iq type='get' id='{id}' to='{}'><ping xmlns='urn:xmpp:ping'/></iq>",
            client.domain
        ))
        .await;
    let mut bodies = Vec::new();
    loop {
        let element = client.element().await;
        if element.name == "iq" && element.attr("id") == Some(id) {
            return bodies;
        }
        if element.name == "message" {
            bodies.extend(body(&element));
        }
    }
}

/// A new connection to node `index` for `username`, authenticated, that sends
/// `<resume previd h/>`; the client and the server's `<resumed/>` or `<failed/>`.
async fn resume_on(
    cluster: &TestCluster,
    index: usize,
    username: &str,
    previd: &str,
    h: u32,
) -> (TestClient, Element) {
    let mut client = TestClient::connect(cluster.node(index).c2s).await;
    client.domain = cluster.domain.clone();
    client.open().await;
    client.auth_scram_sha256(username, super::PASSWORD).await;
    client.open().await;
    client
        .send(&format!(
            "<resume xmlns='{NS_SM}' previd='{previd}' h='{h}'/>"
        ))
        .await;
    let answer = client
        .expect("<resumed/> or <failed/>", |element| {
            element.namespace == NS_SM && matches!(element.name.as_str(), "resumed" | "failed")
        })
        .await;
    (client, answer)
}

/// Bob sends `bodies` to `to`; his ping's answer says his node has routed them.
async fn send_all(bob: &mut TestClient, to: &str, bodies: impl IntoIterator<Item = String>) {
    for text in bodies {
        bob.message(to, &text).await;
    }
    bob.ping("routed").await;
}

fn numbered(range: std::ops::RangeInclusive<u32>) -> impl Iterator<Item = String> {
    range.map(|n| format!("m{n}"))
}

/// Waits until node `index` lists no session of `jid`.
async fn until_gone(cluster: &TestCluster, index: usize, jid: &str) {
    let node = cluster.node(index);
    eventually(&format!("{jid} gone on node {index}"), DEADLINE, || async {
        !sessions(node).await.iter().any(|session| session == jid)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_cut_on_one_node_resumes_on_another_and_every_message_arrives_once() {
    let mut cluster = TestCluster::new("resume").await;
    cluster.start_joined(0..2).await;
    cluster.register_all(&["alice", "bob", "carol"]).await;
    let mut alice = cluster.login(0, "alice", "phone").await;
    let id = enable_resumable(&mut alice).await;
    let mut bob = cluster.login(1, "bob", "desk").await;
    let mut carol = cluster.login(0, "carol", "desk").await;
    let to = format!("{}/phone", cluster.jid("alice"));

    send_all(&mut bob, &to, numbered(1..=3)).await;
    let (mut received, handled) = read_messages(&mut alice, 3).await;
    // The connection is cut while messages keep coming, from both nodes.
    drop(alice);
    send_all(&mut bob, &to, numbered(4..=5)).await;
    send_all(&mut carol, &to, numbered(6..=6)).await;

    let (mut alice, resumed) = resume_on(&cluster, 1, "alice", &id, handled).await;
    assert_eq!(resumed.name, "resumed", "{resumed}");
    assert_eq!(resumed.attr("previd"), Some(id.as_str()));
    received.extend(messages_until_pong(&mut alice, "after-resume").await);
    // After the handover: from the old node (which forwards or reads the new record) and
    // from the new one.
    send_all(&mut carol, &to, numbered(7..=7)).await;
    send_all(&mut bob, &to, numbered(8..=8)).await;
    while received.len() < 8 {
        let (more, _) = read_messages(&mut alice, 1).await;
        received.extend(more);
    }
    received.extend(messages_until_pong(&mut alice, "last").await);
    // Each exactly once, and each sender's in the order sent; m7 (carol, over the node link)
    // and m8 (bob, local to the new node) are not ordered with each other.
    let mut sorted = received.clone();
    sorted.sort_by_key(|body| body.trim_start_matches('m').parse::<u32>().unwrap_or(0));
    assert_eq!(sorted, numbered(1..=8).collect::<Vec<_>>(), "{received:?}");
    let from = |sender: &[u32]| -> Vec<String> {
        received
            .iter()
            .filter(|body| sender.iter().any(|n| **body == format!("m{n}")))
            .cloned()
            .collect()
    };
    assert_eq!(
        from(&[1, 2, 3, 4, 5, 8]),
        ["m1", "m2", "m3", "m4", "m5", "m8"]
    );
    assert_eq!(from(&[6, 7]), ["m6", "m7"]);
    // One session, on node 1, everywhere.
    for index in 0..2 {
        let node = cluster.node(index);
        eventually("one alice session", DEADLINE, || async {
            sessions(node)
                .await
                .iter()
                .filter(|jid| **jid == to)
                .count()
                == 1
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_on_another_node_with_a_wrong_or_timed_out_id_fails() {
    let mut cluster = TestCluster::new("resumefail").await;
    cluster.extra_config =
        "[modules.mod_stream_management]\nresume_timeout = 1\nstale_h.enabled = true\n".into();
    cluster.start_joined(0..2).await;
    cluster.register_all(&["alice", "bob"]).await;
    let mut alice = cluster.login(0, "alice", "phone").await;
    let id = enable_resumable(&mut alice).await;

    let (mut wrong, failed) = resume_on(&cluster, 1, "alice", "not-an-id", 0).await;
    assert_eq!(failed.name, "failed", "{failed}");
    assert!(
        failed.child("item-not-found", NS_STANZAS).is_some(),
        "{failed}"
    );
    assert_eq!(failed.attr("h"), None, "{failed}");
    // Another user's id is not found either.
    let (_, failed) = resume_on(&cluster, 1, "bob", &id, 0).await;
    assert_eq!(failed.name, "failed", "{failed}");
    // The failed stream goes on: it may bind.
    let full = format!("{}/other", cluster.jid("alice"));
    assert_eq!(wrong.bind("other").await, full);

    let bob = cluster.jid("bob");
    alice.message(&bob, "one").await;
    alice.message(&bob, "two").await;
    alice.ping("handled").await;
    drop(alice);
    until_gone(&cluster, 1, &format!("{}/phone", cluster.jid("alice"))).await;
    let (_, failed) = resume_on(&cluster, 1, "alice", &id, 0).await;
    assert_eq!(failed.name, "failed", "{failed}");
    assert!(
        failed.child("item-not-found", NS_STANZAS).is_some(),
        "{failed}"
    );
    // Two messages and the ping, handled on node 0, known on node 1.
    assert_eq!(failed.attr("h"), Some("3"), "{failed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_buffer_replica_a_session_of_a_killed_node_resumes_on_a_third() {
    let mut cluster = TestCluster::new("mirror").await;
    cluster.extra_config = "[modules.mod_stream_management]\nbuffer_replicas = 1\n".into();
    cluster.start_joined(0..3).await;
    cluster.register_all(&["alice", "bob"]).await;
    // Alice on node 0, whose buddy is node 1 (the next by name); bob on node 1.
    let mut alice = cluster.login(0, "alice", "phone").await;
    let id = enable_resumable(&mut alice).await;
    let mut bob = cluster.login(1, "bob", "desk").await;
    let to = format!("{}/phone", cluster.jid("alice"));

    send_all(&mut bob, &to, numbered(1..=3)).await;
    let (received, _) = read_messages(&mut alice, 3).await;
    assert_eq!(received, numbered(1..=3).collect::<Vec<_>>());
    // She acknowledges the first (an acknowledgement alone is not mirrored: her h on
    // resumption trims the mirror).
    alice.send(&format!("<a xmlns='{NS_SM}' h='1'/>")).await;
    // Node 0 sends node 1 the mirror updates before this message, over the same link, and
    // node 1's relay handles them first: once bob has it, the mirror holds m1..m3.
    alice.message(&cluster.jid("bob"), "synced").await;
    bob.expect_body(&cluster.jid("alice"), "synced").await;

    cluster.kill9(0).await;
    until_gone(&cluster, 1, &to).await;
    until_gone(&cluster, 2, &to).await;
    // What she did not acknowledge is resent, from the mirror on node 1.
    let (mut alice, resumed) = resume_on(&cluster, 2, "alice", &id, 1).await;
    assert_eq!(resumed.name, "resumed", "{resumed}");
    let resent = messages_until_pong(&mut alice, "after-resume").await;
    assert_eq!(resent, numbered(2..=3).collect::<Vec<_>>());
    // The resumed session is alice/phone on node 2 for everyone.
    send_all(&mut bob, &to, numbered(4..=4)).await;
    let (more, _) = read_messages(&mut alice, 1).await;
    assert_eq!(more, ["m4"]);
}
