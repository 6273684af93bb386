//! SASL2 (XEP-0388) and Bind 2 (XEP-0386) over real sockets: the real server in-process and
//! the test kit's raw XML client.

use bream_testkit::xmpp::{TestClient, TestServer, PASSWORD};
use bream_xmpp::xml::Element;

const NS_SASL2: &str = "urn:xmpp:sasl:2";
const NS_BIND2: &str = "urn:xmpp:bind:0";
const NS_SM: &str = "urn:xmpp:sm:3";

async fn server() -> TestServer {
    TestServer::builder().users(["alice", "bob"]).start().await
}

/// A connection with its stream open; the features.
async fn connected(server: &TestServer) -> (TestClient, Element) {
    let mut client = TestClient::connect(server.c2s_addr()).await;
    let features = client.open().await;
    (client, features)
}

const PHONE: &str =
    "<user-agent id='8a2e1f3c-5b7d-4e9a-b1c6-0d2f4a6e8b13'><software>Test</software></user-agent>\
    <bind xmlns='urn:xmpp:bind:0'><tag>Phone</tag>\
    <enable xmlns='urn:xmpp:sm:3' resume='true'/><enable xmlns='urn:xmpp:carbons:2'/></bind>";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_round_trip_signs_in_binds_and_enables_sm_and_carbons() {
    let server = server().await;
    let (mut phone, features) = connected(&server).await;
    let authentication = features
        .child("authentication", NS_SASL2)
        .unwrap_or_else(|| panic!("no SASL2 in {features}"));
    assert!(
        authentication.child("inline", NS_SASL2).is_some(),
        "{features}"
    );
    let success = phone
        .authenticate_sasl2("SCRAM-SHA-256", "alice", PASSWORD, PHONE)
        .await;
    assert!(success.is("success", NS_SASL2), "{success}");
    let jid = success
        .child("authorization-identifier", NS_SASL2)
        .map(Element::text)
        .expect("the full JID");
    assert!(jid.starts_with("alice@localhost/Phone/"), "{jid}");
    let enabled = success
        .child("bound", NS_BIND2)
        .and_then(|bound| bound.child("enabled", NS_SM))
        .unwrap_or_else(|| panic!("no <enabled/> in {success}"));
    assert_eq!(enabled.attr("resume"), Some("true"));
    // The features of the bound stream follow, without a restart.
    let features = phone.element().await;
    assert_eq!(features.name, "features", "{features}");
    phone.send("<presence/>").await;

    // Carbons are on: what the laptop sends, the phone sees.
    let mut laptop =
        TestClient::login_available(server.c2s_addr(), "alice", PASSWORD, "laptop").await;
    laptop.message("bob@localhost", "from the laptop").await;
    let carbon = phone
        .expect("a sent carbon", |element| {
            element.name == "message" && element.child("sent", "urn:xmpp:carbons:2").is_some()
        })
        .await;
    assert!(carbon.to_string().contains("from the laptop"), "{carbon}");
    // Stream management counts: the server asks, the phone's answer is taken.
    phone
        .expect("an <r/>", |element| element.is("r", NS_SM))
        .await;
    phone.send(&format!("<a xmlns='{NS_SM}' h='2'/>")).await;
    assert!(phone
        .until_pong("still-there")
        .await
        .iter()
        .all(|e| e.name != "error"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_device_signing_in_again_replaces_its_old_session() {
    let server = server().await;
    let (mut first, _) = connected(&server).await;
    let success = first
        .authenticate_sasl2("PLAIN", "alice", PASSWORD, PHONE)
        .await;
    assert!(success.is("success", NS_SASL2), "{success}");
    let (mut second, _) = connected(&server).await;
    let again = second
        .authenticate_sasl2("PLAIN", "alice", PASSWORD, PHONE)
        .await;
    let identifier = |element: &Element| {
        element
            .child("authorization-identifier", NS_SASL2)
            .map(Element::text)
    };
    assert_eq!(identifier(&again), identifier(&success));
    first.expect_stream_error("conflict").await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_or_an_unknown_user_fails_and_sasl2_without_bind_offers_bind() {
    let server = server().await;
    let (mut client, _) = connected(&server).await;
    for (user, password) in [("alice", "wrong"), ("nobody", PASSWORD)] {
        let failure = client
            .authenticate_sasl2("SCRAM-SHA-256", user, password, "")
            .await;
        assert!(failure.is("failure", NS_SASL2), "{failure}");
        assert!(
            failure
                .child("not-authorized", "urn:ietf:params:xml:ns:xmpp-sasl")
                .is_some(),
            "{failure}"
        );
    }
    let success = client
        .authenticate_sasl2("PLAIN", "alice", PASSWORD, "")
        .await;
    assert_eq!(
        success
            .child("authorization-identifier", NS_SASL2)
            .map(Element::text),
        Some("alice@localhost".into())
    );
    let features = client.element().await;
    assert!(
        features
            .child("bind", "urn:ietf:params:xml:ns:xmpp-bind")
            .is_some(),
        "{features}"
    );
    let jid = client.bind("desk").await;
    assert_eq!(jid, "alice@localhost/desk");
    client.ping("bound").await;
    server.stop().await;
}
