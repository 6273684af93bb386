//! Server pings (XEP-0199) in the stream machine: when one goes out, what answers it, and
//! what an unanswered one does.

use std::sync::Arc;
use std::time::Duration;

use super::tests::{config, summary, Client};
use super::*;
use crate::c2s::keepalive::PingConfig;

fn ping_config(kill: bool, sm: bool) -> Arc<StreamConfig> {
    let base = (*config(TlsPolicy::Optional)).clone();
    Arc::new(
        base.with_server_pings(Some(PingConfig {
            interval: Duration::from_secs(60),
            timeout: Duration::from_secs(5),
            kill_on_timeout: kill,
        }))
        .with_stream_management(sm.then(SmConfig::default)),
    )
}

fn bound(kill: bool, sm: bool) -> Client {
    let mut client = Client::with_config(ping_config(kill, sm));
    client.bind("phone");
    if sm {
        client.send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>");
    }
    client
}

/// Sends the ping and returns its id.
fn ping(client: &mut Client) -> String {
    let actions = client.input(Input::PingDue);
    let ping = actions.iter().find_map(|action| match action {
        Action::Send(iq) | Action::SendStanza(iq) => Some(iq.clone()),
        _ => None,
    });
    let Some(ping) = ping else {
        panic!("no ping in {:?}", summary(&actions));
    };
    assert!(actions.contains(&Action::ArmPingTimeout));
    assert_eq!(ping.attr("to"), Some("alice@localhost/phone"));
    assert_eq!(ping.attr("from"), Some("localhost"));
    assert!(ping.child("ping", keepalive::NS_PING).is_some());
    ping.attr("id").unwrap_or_default().to_owned()
}

#[test]
fn a_ping_goes_out_once_until_answered_and_the_answer_is_not_routed() {
    let mut client = bound(true, false);
    let id = ping(&mut client);
    assert!(
        client.input(Input::PingDue).is_empty(),
        "one ping out at a time"
    );
    let answer = format!("<iq type='result' id='{id}' to='localhost'/>");
    assert!(client.send(&answer).is_empty(), "taken, not routed");
    // Answered: the late timer does nothing, the next silence gets a new ping.
    assert!(client.input(Input::PingTimeout).is_empty());
    assert_ne!(ping(&mut client), id);
    // Another iq result with another id is routed as before.
    let other = "<iq type='result' id='other' to='localhost'/>";
    assert_eq!(
        summary(&client.send(other)),
        ["route iq from=alice@localhost/phone"]
    );
}

#[test]
fn an_error_answer_proves_the_client_is_there() {
    let mut client = bound(true, false);
    let id = ping(&mut client);
    let answer = format!(
        "<iq type='error' id='{id}'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"
    );
    assert!(client.send(&answer).is_empty());
    assert!(client.input(Input::PingTimeout).is_empty());
}

#[test]
fn an_unanswered_ping_closes_or_detaches_with_kill_and_only_logs_without() {
    let mut client = bound(true, false);
    ping(&mut client);
    assert_eq!(
        summary(&client.input(Input::PingTimeout)),
        ["close connection-timeout"]
    );
    let mut client = bound(true, true);
    ping(&mut client);
    assert_eq!(summary(&client.input(Input::PingTimeout)), ["detach"]);
    let mut client = bound(false, false);
    ping(&mut client);
    assert!(client.input(Input::PingTimeout).is_empty());
    assert!(client.stream.is_bound());
}

#[test]
fn with_stream_management_the_ping_is_counted_as_a_stanza() {
    let mut client = bound(true, true);
    let actions = client.input(Input::PingDue);
    assert!(actions
        .iter()
        .any(|action| matches!(action, Action::SendStanza(iq) if iq.name == "iq")));
}

#[test]
fn without_pings_configured_or_before_binding_nothing_is_sent() {
    let mut client = Client::with_config(config(TlsPolicy::Optional));
    client.bind("phone");
    assert!(client.input(Input::PingDue).is_empty());
    let mut client = Client::with_config(ping_config(true, false));
    client.authenticate();
    assert!(client.input(Input::PingDue).is_empty());
}
