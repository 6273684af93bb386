//! Client state indication (XEP-0352) in the stream machine: what an inactive client is
//! sent, when, and what becomes of held stanzas when the stream detaches or ends.

use std::sync::Arc;
use std::time::Duration;

use super::tests::{config, summary, Client};
use super::*;
use crate::c2s::csi::CsiConfig;
use crate::c2s::sm::SmConfig;

const INACTIVE: &str = "<inactive xmlns='urn:xmpp:csi:0'/>";
const ACTIVE: &str = "<active xmlns='urn:xmpp:csi:0'/>";

fn csi_config(sm: bool) -> Arc<StreamConfig> {
    let base = (*config(TlsPolicy::Optional)).clone();
    let sm = sm.then(|| SmConfig {
        resume_timeout: Duration::from_secs(30),
        ..SmConfig::default()
    });
    Arc::new(
        base.with_client_state(Some(CsiConfig { buffer_max: 3 }))
            .with_stream_management(sm),
    )
}

fn bound(sm: bool) -> Client {
    let mut client = Client::with_config(csi_config(sm));
    client.bind("phone");
    if sm {
        client.send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>");
    }
    client
}

/// The stanzas written, as `name#id`, giving each back as the shell does.
fn written(client: &mut Client, actions: Vec<Action>) -> Vec<String> {
    let mut out = Vec::new();
    for action in actions {
        match action {
            Action::Send(stanza) => out.push(describe(&stanza)),
            Action::SendStanza(stanza) => {
                out.push(describe(&stanza));
                client.stream.stanza_written(stanza);
            }
            _ => {}
        }
    }
    out
}

fn describe(stanza: &Element) -> String {
    format!("{}#{}", stanza.name, stanza.attr("id").unwrap_or("-"))
}

fn deliver(client: &mut Client, xml: &str) -> Vec<String> {
    let actions = client.input(Input::Deliver(crate::xml::stanza_for_test(xml)));
    written(client, actions)
}

fn presence(from: &str, id: &str) -> String {
    format!("<presence xmlns='jabber:client' from='{from}' id='{id}'/>")
}

fn chat(id: &str) -> String {
    format!("<message xmlns='jabber:client' id='{id}'><body>hi</body></message>")
}

#[test]
fn csi_is_a_feature_after_authentication_when_configured() {
    let mut client = Client::with_config(csi_config(false));
    client.authenticate();
    let actions = client.open();
    let Action::Send(features) = &actions[1] else {
        panic!("features")
    };
    assert!(features.child("csi", NS_CSI).is_some());
    let mut plain = Client::with_config(config(TlsPolicy::Optional));
    plain.authenticate();
    let actions = plain.open();
    let Action::Send(features) = &actions[1] else {
        panic!("features")
    };
    assert!(features.child("csi", NS_CSI).is_none());
    // Unconfigured, the element is refused as any unknown one.
    plain.send(&super::tests::bind_iq(Some("phone")));
    assert_eq!(
        summary(&plain.send(INACTIVE)),
        ["close unsupported-stanza-type"]
    );
}

#[test]
fn an_inactive_client_gets_what_is_held_in_order_before_the_first_urgent_stanza() {
    let mut client = bound(false);
    assert!(client.send(INACTIVE).is_empty());
    assert!(deliver(&mut client, &presence("a@localhost/1", "a1")).is_empty());
    let composing = "<message xmlns='jabber:client' id='cs'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>";
    assert!(deliver(&mut client, composing).is_empty());
    assert!(deliver(&mut client, &presence("b@localhost/1", "b1")).is_empty());
    assert!(deliver(&mut client, &presence("a@localhost/1", "a2")).is_empty());
    assert_eq!(client.stream.held(), 2, "a's presence coalesced");
    assert_eq!(
        deliver(&mut client, &chat("m1")),
        ["presence#b1", "presence#a2", "message#m1"]
    );
    // Still inactive: the next presence waits again; <active/> sends it.
    assert!(deliver(&mut client, &presence("b@localhost/1", "b2")).is_empty());
    let actions = client.send(ACTIVE);
    assert_eq!(written(&mut client, actions), ["presence#b2"]);
    assert_eq!(
        deliver(&mut client, &presence("b@localhost/1", "b3")),
        ["presence#b3"]
    );
}

#[test]
fn a_full_queue_is_sent_whole() {
    let mut client = bound(false);
    client.send(INACTIVE);
    for n in 0..3 {
        assert!(deliver(
            &mut client,
            &presence(&format!("c{n}@localhost"), &n.to_string())
        )
        .is_empty());
    }
    assert_eq!(
        deliver(&mut client, &presence("c9@localhost", "9")),
        ["presence#0", "presence#1", "presence#2", "presence#9"]
    );
}

#[test]
fn iqs_and_subscription_requests_are_never_held() {
    let mut client = bound(false);
    client.send(INACTIVE);
    deliver(&mut client, &presence("a@localhost/1", "a1"));
    let iq = "<iq xmlns='jabber:client' type='get' id='q'><ping xmlns='urn:xmpp:ping'/></iq>";
    assert_eq!(deliver(&mut client, iq), ["presence#a1", "iq#q"]);
    let subscribe = "<presence xmlns='jabber:client' type='subscribe' from='z@localhost' id='s'/>";
    assert_eq!(deliver(&mut client, subscribe), ["presence#s"]);
}

#[test]
fn with_stream_management_flushed_stanzas_are_counted_and_held_ones_survive_a_detach() {
    let mut client = bound(true);
    client.send(INACTIVE);
    deliver(&mut client, &presence("a@localhost/1", "a1"));
    deliver(&mut client, &presence("b@localhost/1", "b1"));
    assert_eq!(
        client.stream.stream_management().map(SmState::sent_out),
        Some(0),
        "held stanzas are not counted until sent"
    );
    let actions = client.input(Input::Disconnected);
    assert_eq!(summary(&actions), ["detach"]);
    let sm = client.stream.stream_management().expect("enabled");
    assert_eq!((sm.sent_out(), sm.buffered()), (2, 2));
    assert_eq!(client.stream.held(), 0);
}

#[test]
fn a_takeover_of_a_bound_inactive_stream_takes_the_held_stanzas_as_unacked() {
    let mut client = bound(true);
    client.send(INACTIVE);
    deliver(&mut client, &presence("a@localhost/1", "a1"));
    let sm = client.stream.take_resumable().expect("resumable");
    assert_eq!((sm.sent_out(), sm.buffered()), (1, 1));
}

#[test]
fn held_stanzas_are_handed_for_re_routing_when_the_stream_ends() {
    let mut client = bound(false);
    client.send(INACTIVE);
    let receipt =
        "<message xmlns='jabber:client' id='r'><received xmlns='urn:xmpp:receipts'/></message>";
    deliver(&mut client, receipt);
    client.input(Input::End);
    let unacked = client.stream.take_unacked();
    assert_eq!(
        unacked.iter().map(describe).collect::<Vec<_>>(),
        ["message#r"]
    );
}
