//! Stream management (XEP-0198) in the stream machine, one input at a time, with the
//! [`Client`] of the stream tests over a configuration that offers it.

use std::sync::Arc;
use std::time::Duration;

use super::tests::{bind_iq, config, summary, Client};
use super::*;
use crate::c2s::sm::{ResumableState, SmConfig, SmId};

const ENABLE_RESUME: &str = "<enable xmlns='urn:xmpp:sm:3' resume='true'/>";

fn sm_config(buffer_max: usize, ack_freq: u32) -> Arc<StreamConfig> {
    let base = (*config(TlsPolicy::Optional)).clone();
    Arc::new(base.with_stream_management(Some(SmConfig {
        buffer_max,
        ack_freq,
        resume_timeout: Duration::from_secs(30),
        stale_h: None,
        buffer_replicas: 0,
    })))
}

/// Does what the shell does with the actions: gives written stanzas back to the stream.
fn shell(client: &mut Client, actions: Vec<Action>) -> Vec<String> {
    let lines = summary(&actions);
    for action in actions {
        if let Action::SendStanza(stanza) = action {
            client.stream.stanza_written(stanza);
        }
    }
    lines
}

fn message(id: u32) -> Element {
    Element::new("message", NS_CLIENT)
        .with_attr("to", "alice@localhost/phone")
        .with_attr("id", id.to_string())
}

fn deliver(client: &mut Client, id: u32) -> Vec<String> {
    let actions = client.input(Input::Deliver(message(id)));
    shell(client, actions)
}

/// Bound as alice/phone with stream management enabled (resumable or not).
fn enabled(buffer_max: usize, ack_freq: u32, resumable: bool) -> Client {
    let mut client = Client::with_config(sm_config(buffer_max, ack_freq));
    client.bind("phone");
    let enable = if resumable {
        ENABLE_RESUME
    } else {
        "<enable xmlns='urn:xmpp:sm:3'/>"
    };
    let actions = client.send(enable);
    assert_eq!(
        summary(&actions),
        [
            format!("enable-sm resumable={resumable}"),
            "sm-enabled".into()
        ]
    );
    client
}

fn resumable_state(client: &mut Client) -> ResumableState {
    let sm = client.stream.take_resumable().expect("resumable");
    let table = (0, None, crate::router::SessionFeatures::default());
    sm.into_resumable("alice@localhost/phone".into(), 7, table)
}

#[test]
fn sm_is_offered_after_authentication_only() {
    let mut client = Client::with_config(sm_config(10, 1));
    let features = client.open();
    let Action::Send(features) = &features[1] else {
        panic!("features")
    };
    assert!(features.child("sm", NS_SM).is_none());
    let mut client = Client::with_config(sm_config(10, 1));
    client.authenticate();
    let actions = client.open();
    let Action::Send(features) = &actions[1] else {
        panic!("features")
    };
    assert!(features.child("sm", NS_SM).is_some());
    assert!(features.child("bind", NS_BIND).is_some());
}

#[test]
fn enable_before_bind_or_twice_is_unexpected_request() {
    let mut client = Client::with_config(sm_config(10, 1));
    client.authenticate();
    client.open();
    let actions = client.send(ENABLE_RESUME);
    assert_eq!(summary(&actions), ["sm-failed unexpected-request"]);
    // The stream goes on: binding works.
    let actions = client.send(&bind_iq(Some("phone")));
    assert_eq!(
        summary(&actions),
        ["open alice@localhost/phone", "iq-result"]
    );
    let actions = client.send(ENABLE_RESUME);
    let Action::Send(enabled) = &actions[1] else {
        panic!("{:?}", summary(&actions))
    };
    assert_eq!(enabled.attr("resume"), Some("true"));
    assert_eq!(enabled.attr("max"), Some("30"));
    assert_eq!(enabled.attr("id").map(str::len), Some(32));
    let actions = client.send(ENABLE_RESUME);
    assert_eq!(summary(&actions), ["sm-failed unexpected-request"]);
}

#[test]
fn without_sm_configured_its_elements_are_refused_as_before() {
    let mut client = Client::with_config(config(TlsPolicy::Optional));
    client.authenticate();
    let features = client.open();
    let Action::Send(features) = &features[1] else {
        panic!("features")
    };
    assert!(features.child("sm", NS_SM).is_none());
    let actions = client.send("<resume xmlns='urn:xmpp:sm:3' previd='x' h='0'/>");
    assert_eq!(summary(&actions), ["close not-authorized"]);
}

#[test]
fn stanzas_are_counted_both_ways_and_acks_empty_the_buffer() {
    let mut client = enabled(10, 2, false);
    // ack_freq 2: an <r/> after the second; the first waits at most ACK_REQUEST_IDLE.
    assert_eq!(deliver(&mut client, 1), ["stanza message", "arm-ack-timer"]);
    assert_eq!(deliver(&mut client, 2), ["stanza message", "sm-r"]);
    // The timer that runs covers the third.
    assert_eq!(deliver(&mut client, 3), ["stanza message"]);
    assert_eq!(summary(&client.input(Input::AckTimer)), ["sm-r"]);
    assert!(client.input(Input::AckTimer).is_empty());
    let sm = client.stream.stream_management().expect("enabled");
    assert_eq!((sm.unacked(), sm.buffered()), (3, 3));
    let actions = client.send("<a xmlns='urn:xmpp:sm:3' h='2'/>");
    assert!(actions.is_empty());
    let sm = client.stream.stream_management().expect("enabled");
    assert_eq!((sm.unacked(), sm.buffered()), (1, 1));

    // Inbound: every stanza counts, also one answered with an error here.
    client.send("<message to='bob@localhost' type='chat'><body>hi</body></message>");
    let actions = client.send("<message to='@@' type='chat'/>");
    // The error reply is a stanza to the client: counted and buffered too.
    assert_eq!(
        shell(&mut client, actions),
        ["stanza message", "arm-ack-timer"]
    );
    let actions = client.send("<r xmlns='urn:xmpp:sm:3'/>");
    let Action::Send(answer) = &actions[0] else {
        panic!("{:?}", summary(&actions))
    };
    assert_eq!(answer.attr("h"), Some("2"));
    assert_eq!(
        client.stream.stream_management().map(|sm| sm.unacked()),
        Some(2)
    );
}

#[test]
fn an_ack_above_what_was_sent_is_undefined_condition() {
    let mut client = enabled(10, 1, true);
    deliver(&mut client, 1);
    let actions = client.send("<a xmlns='urn:xmpp:sm:3' h='2'/>");
    assert_eq!(summary(&actions), ["error", "close"]);
    let Action::Send(error) = &actions[0] else {
        panic!()
    };
    assert!(error
        .child(
            "undefined-condition",
            crate::stanza::error::NS_STREAM_ERRORS
        )
        .is_some());
    let too_high = error
        .child("handled-count-too-high", NS_SM)
        .expect("the XEP's element");
    assert_eq!(too_high.attr("h"), Some("2"));
    assert_eq!(too_high.attr("send-count"), Some("1"));
    assert!(client.stream.is_closed());
}

#[test]
fn a_full_buffer_closes_with_resource_constraint() {
    let mut client = enabled(2, 1, true);
    deliver(&mut client, 1);
    deliver(&mut client, 2);
    let actions = client.input(Input::Deliver(message(3)));
    assert_eq!(summary(&actions), ["close resource-constraint"]);
    // What the shell re-routes: the two unacknowledged ones and the one refused.
    assert_eq!(client.stream.take_unacked().len(), 3);
}

#[test]
fn a_lost_connection_detaches_a_resumable_session_which_keeps_buffering() {
    let mut client = enabled(3, 1, true);
    deliver(&mut client, 1);
    let actions = client.input(Input::Disconnected);
    assert_eq!(summary(&actions), ["detach"]);
    assert!(deliver(&mut client, 2).is_empty());
    assert!(deliver(&mut client, 3).is_empty());
    assert_eq!(
        client.stream.stream_management().map(|sm| sm.buffered()),
        Some(3)
    );
    // A negotiation timer that fires late does nothing to a detached session.
    assert!(client.input(Input::NegotiationTimeout).is_empty());
    // One past buffer_max ends it; the shell re-routes all four.
    let actions = client.input(Input::Deliver(message(4)));
    assert_eq!(summary(&actions), ["terminate"]);
    assert_eq!(client.stream.take_unacked().len(), 4);
}

#[test]
fn a_detached_session_ends_at_the_resume_timeout_or_a_close() {
    let mut client = enabled(3, 1, true);
    assert_eq!(summary(&client.input(Input::IdleTimeout)), ["detach"]);
    assert_eq!(summary(&client.input(Input::ResumeTimeout)), ["terminate"]);
    let mut client = enabled(3, 1, true);
    client.input(Input::Disconnected);
    let conflict = StreamError::new(StreamErrorCondition::Conflict);
    assert_eq!(
        summary(&client.input(Input::Close(conflict))),
        ["terminate"]
    );
    // Without resumption a lost connection ends the session.
    let mut client = enabled(3, 1, false);
    assert_eq!(summary(&client.input(Input::Disconnected)), ["terminate"]);
}

#[test]
fn resume_applies_the_clients_h_and_resends_the_rest() {
    let mut old = enabled(10, 1, true);
    old.send("<presence/>");
    for id in 1..=3 {
        deliver(&mut old, id);
    }
    old.input(Input::Disconnected);
    let state = resumable_state(&mut old);
    assert!(old.stream.is_closed());
    let previd = state.id.clone();

    let mut new = Client::with_config(sm_config(10, 1));
    new.authenticate();
    new.open();
    let actions = new.send(&format!(
        "<resume xmlns='urn:xmpp:sm:3' previd='{previd}' h='1'/>"
    ));
    assert_eq!(summary(&actions), [format!("resume {previd}")]);
    let actions = new.input(Input::Resumed(Box::new(state)));
    let Action::Send(resumed) = &actions[0] else {
        panic!("{:?}", summary(&actions))
    };
    assert_eq!(resumed.attr("previd"), Some(previd.as_str()));
    assert_eq!(resumed.attr("h"), Some("1"));
    let lines = shell(&mut new, actions);
    assert_eq!(
        lines,
        ["sm-resumed", "stanza message", "stanza message", "sm-r"]
    );
    assert!(new.stream.is_bound());
    assert_eq!(
        new.stream.jid().map(ToString::to_string),
        Some("alice@localhost/phone".into())
    );
    let sm = new.stream.stream_management().expect("resumed");
    assert_eq!((sm.sent_out(), sm.unacked(), sm.buffered()), (3, 2, 2));
    assert_eq!(deliver(&mut new, 4), ["stanza message", "sm-r"]);
}

#[test]
fn a_failed_resume_leaves_the_stream_ready_to_bind() {
    let mut client = Client::with_config(sm_config(10, 1));
    client.authenticate();
    client.open();
    let actions = client.send("<resume xmlns='urn:xmpp:sm:3' previd='nope' h='0'/>");
    assert_eq!(summary(&actions), ["resume nope"]);
    let actions = client.input(Input::ResumeFailed { h: Some(5) });
    assert_eq!(summary(&actions), ["sm-failed item-not-found"]);
    let Action::Send(failed) = &actions[0] else {
        panic!()
    };
    assert_eq!(failed.attr("h"), Some("5"));
    let actions = client.send("<resume xmlns='urn:xmpp:sm:3' previd='x'/>");
    assert_eq!(summary(&actions), ["sm-failed bad-request"]);
    let actions = client.send(&bind_iq(Some("phone")));
    assert_eq!(
        summary(&actions),
        ["open alice@localhost/phone", "iq-result"]
    );
}

#[test]
fn resume_with_an_h_above_what_was_sent_closes_the_resumed_stream() {
    let mut old = enabled(10, 1, true);
    deliver(&mut old, 1);
    let state = resumable_state(&mut old);
    let previd = state.id.clone();
    let mut new = Client::with_config(sm_config(10, 1));
    new.authenticate();
    new.open();
    new.send(&format!(
        "<resume xmlns='urn:xmpp:sm:3' previd='{previd}' h='9'/>"
    ));
    let actions = new.input(Input::Resumed(Box::new(state)));
    assert_eq!(summary(&actions), ["error", "close"]);
    // The buffer is still there for the shell to re-route.
    assert_eq!(new.stream.take_unacked().len(), 1);
}

#[test]
fn a_session_that_is_not_resumable_is_not_handed_over() {
    let mut client = enabled(10, 1, false);
    assert!(client.stream.take_resumable().is_none());
    assert!(client.stream.is_bound());
    let _ = SmId::random();
}
