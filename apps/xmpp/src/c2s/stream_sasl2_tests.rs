//! SASL2 (XEP-0388) and Bind 2 (XEP-0386) in the stream machine.

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use super::tests::{base64_of, config, scram_client, stored, summary, Client};
use super::*;
use crate::c2s::csi::CsiConfig;
use crate::c2s::sasl2::NS_BIND2;
use crate::sasl::secret::ScramHash;

fn sasl2_config(bind2: bool) -> Arc<StreamConfig> {
    let base = (*config(TlsPolicy::Optional)).clone();
    Arc::new(
        base.with_stream_management(Some(SmConfig {
            resume_timeout: Duration::from_secs(30),
            ..SmConfig::default()
        }))
        .with_client_state(Some(CsiConfig::default()))
        .with_sasl2(true, bind2, true),
    )
}

fn plain(username: &str, password: &str) -> String {
    BASE64.encode(format!("\0{username}\0{password}"))
}

fn authenticate(inner: &str, response: &str) -> String {
    format!(
        "<authenticate xmlns='urn:xmpp:sasl:2' mechanism='PLAIN'><initial-response>{response}</initial-response>{inner}</authenticate>"
    )
}

/// Sends `<authenticate/>` with PLAIN and the right password; the actions after the
/// credentials.
fn sign_in(client: &mut Client, inner: &str) -> Vec<Action> {
    client.open();
    let actions = client.send(&authenticate(inner, &plain("alice", "secret")));
    assert_eq!(summary(&actions), ["lookup alice@localhost"]);
    client.input(Input::Credentials(Credentials::Found(stored("secret"))))
}

fn sent(actions: &[Action]) -> Vec<&Element> {
    actions
        .iter()
        .filter_map(|action| match action {
            Action::Send(element) => Some(element),
            _ => None,
        })
        .collect()
}

#[test]
fn the_feature_is_offered_before_authentication_beside_sasl1() {
    let mut client = Client::with_config(sasl2_config(true));
    let actions = client.open();
    let features = sent(&actions)[0];
    assert!(features.child("mechanisms", crate::sasl::NS_SASL).is_some());
    let authentication = features.child("authentication", NS_SASL2).expect("sasl2");
    assert!(authentication
        .child("inline", NS_SASL2)
        .and_then(|inline| inline.child("bind", NS_BIND2))
        .is_some());
    let mut off = Client::with_config(config(TlsPolicy::Optional));
    let actions = off.open();
    assert!(sent(&actions)[0]
        .child("authentication", NS_SASL2)
        .is_none());
    assert_eq!(
        summary(&off.send(&authenticate("", &plain("alice", "secret")))),
        ["close not-authorized"]
    );
}

#[test]
fn without_bind_success_keeps_the_stream_and_offers_bind() {
    let mut client = Client::with_config(sasl2_config(true));
    let actions = sign_in(&mut client, "");
    assert!(!actions.contains(&Action::RestartStream), "no restart");
    let [success, features] = &sent(&actions)[..] else {
        panic!("{:?}", summary(&actions));
    };
    assert!(success.is("success", NS_SASL2), "{success}");
    assert_eq!(
        success
            .child("authorization-identifier", NS_SASL2)
            .map(Element::text),
        Some("alice@localhost".into())
    );
    assert!(features.child("bind", NS_BIND).is_some(), "{features}");
    // The stream goes on without a new header: a legacy bind works.
    let actions = client.send(&super::tests::bind_iq(Some("phone")));
    assert_eq!(
        summary(&actions),
        ["open alice@localhost/phone", "iq-result"]
    );
}

#[test]
fn bind_2_binds_and_enables_sm_carbons_and_csi_in_the_success() {
    let mut client = Client::with_config(sasl2_config(true));
    let actions = sign_in(
        &mut client,
        "<user-agent id='device-1'/><bind xmlns='urn:xmpp:bind:0'><tag>Phone</tag>\
         <enable xmlns='urn:xmpp:sm:3' resume='true'/><enable xmlns='urn:xmpp:carbons:2'/>\
         <inactive xmlns='urn:xmpp:csi:0'/></bind>",
    );
    let Some(Action::OpenSession { jid, carbons: true }) = actions.first() else {
        panic!("{:?}", summary(&actions));
    };
    assert!(
        jid.to_string().starts_with("alice@localhost/Phone/"),
        "{jid}"
    );
    assert!(matches!(
        actions.get(1),
        Some(Action::EnableSm {
            resumable: true,
            ..
        })
    ));
    let [success, features] = &sent(&actions)[..] else {
        panic!("{:?}", summary(&actions));
    };
    assert_eq!(
        success
            .child("authorization-identifier", NS_SASL2)
            .map(Element::text),
        Some(jid.to_string())
    );
    let enabled = success
        .child("bound", NS_BIND2)
        .and_then(|bound| bound.child("enabled", NS_SM))
        .expect("<enabled/> in <bound/>");
    assert_eq!(enabled.attr("resume"), Some("true"));
    assert!(features.child("bind", NS_BIND).is_none(), "{features}");
    assert!(features.child("sm", NS_SM).is_none(), "SM is on already");
    assert!(client.stream.is_bound());
    // Inactive from the start: a presence waits.
    let presence = Element::new("presence", NS_CLIENT).with_attr("from", "bob@localhost/x");
    assert!(client.input(Input::Deliver(presence)).is_empty());
    // The same device gets the same resource next time.
    let mut again = Client::with_config(sasl2_config(true));
    let actions = sign_in(
        &mut again,
        "<user-agent id='device-1'/><bind xmlns='urn:xmpp:bind:0'><tag>Phone</tag></bind>",
    );
    assert!(
        matches!(actions.first(), Some(Action::OpenSession { jid: same, carbons: false }) if same == jid)
    );
}

#[test]
fn with_bind_2_off_a_bind_request_is_ignored() {
    let actions = Client::with_config(sasl2_config(false)).open();
    assert!(sent(&actions)[0]
        .child("authentication", NS_SASL2)
        .and_then(|a| a.child("inline", NS_SASL2))
        .is_none());
    let mut client = Client::with_config(sasl2_config(false));
    let actions = sign_in(&mut client, "<bind xmlns='urn:xmpp:bind:0'/>");
    assert_eq!(summary(&actions), ["success", "features"]);
}

#[test]
fn scram_runs_in_the_sasl2_namespace_and_proves_the_server() {
    let mut client = Client::with_config(sasl2_config(true));
    client.open();
    let mut scram = scram_client(ScramHash::Sha256, "alice", "secret");
    let actions = client.send(&format!(
        "<authenticate xmlns='urn:xmpp:sasl:2' mechanism='SCRAM-SHA-256'><initial-response>{}</initial-response></authenticate>",
        BASE64.encode(scram.client_first())
    ));
    assert_eq!(summary(&actions), ["lookup alice@localhost"]);
    let actions = client.input(Input::Credentials(Credentials::Found(stored("secret"))));
    let [Action::Send(challenge)] = &actions[..] else {
        panic!("{:?}", summary(&actions));
    };
    assert!(challenge.is("challenge", NS_SASL2), "{challenge}");
    let response = BASE64.encode(scram.client_final(&base64_of(challenge)));
    // A SASL1 <response/> in a SASL2 exchange is not part of it.
    let actions = client.send(&format!(
        "<response xmlns='urn:xmpp:sasl:2'>{response}</response>"
    ));
    let success = sent(&actions)[0];
    let data = success
        .child("additional-data", NS_SASL2)
        .expect("the server's proof");
    assert!(scram.verify_server_final(&base64_of(data)));
}

#[test]
fn failures_use_the_sasl2_element_and_count() {
    let mut client = Client::with_config(sasl2_config(true));
    client.open();
    for attempt in 1..=3 {
        client.send(&authenticate("", &plain("alice", "wrong")));
        let actions = client.input(Input::Credentials(Credentials::Found(stored("secret"))));
        let failure = sent(&actions)[0];
        assert!(failure.is("failure", NS_SASL2), "{failure}");
        assert!(failure
            .child("not-authorized", crate::sasl::NS_SASL)
            .is_some());
        if attempt == 3 {
            assert_eq!(summary(&actions)[1], "close policy-violation");
        }
    }
    let mut client = Client::with_config(sasl2_config(true));
    client.open();
    let actions = client.send("<authenticate xmlns='urn:xmpp:sasl:2' mechanism='X-UNKNOWN'/>");
    assert!(sent(&actions)[0]
        .child("invalid-mechanism", crate::sasl::NS_SASL)
        .is_some());
}
