//! In-band registration before sign-in (XEP-0077 §3.1) in the stream machine.

use std::sync::Arc;

use super::tests::{config, summary, Client};
use super::*;

fn offering(tls: TlsPolicy) -> Arc<StreamConfig> {
    Arc::new((*config(tls)).clone().with_registration(true))
}

fn register_feature(actions: &[Action]) -> bool {
    actions.iter().any(|action| {
        matches!(action, Action::Send(features)
            if features.child("register", NS_REGISTER_FEATURE).is_some())
    })
}

fn set(username: &str, password: &str) -> String {
    format!("<iq type='set' id='r'><query xmlns='jabber:iq:register'><username>{username}</username><password>{password}</password></query></iq>")
}

#[test]
fn the_feature_is_offered_where_sasl_is_and_only_if_configured() {
    let mut client = Client::with_config(offering(TlsPolicy::Optional));
    assert!(register_feature(&client.open()));
    let mut required = Client::with_config(offering(TlsPolicy::Required));
    assert!(!register_feature(&required.open()), "not before TLS");
    // Asked anyway before TLS: not-authorized, as any stanza before sign-in.
    assert_eq!(
        summary(&required.send(&set("romeo", "pw"))),
        ["close not-authorized"]
    );
    let mut off = Client::with_config(config(TlsPolicy::Optional));
    assert!(!register_feature(&off.open()));
    assert_eq!(
        summary(&off.send(&set("romeo", "pw"))),
        ["close not-authorized"]
    );
    // After sign-in the feature is gone (the signed-in form is a module's iq).
    let mut signed_in = Client::with_config(offering(TlsPolicy::Optional));
    signed_in.authenticate();
    assert!(!register_feature(&signed_in.open()));
}

#[test]
fn get_lists_the_fields_and_set_asks_the_shell() {
    let mut client = Client::with_config(offering(TlsPolicy::Optional));
    client.open();
    let actions = client.send("<iq type='get' id='f'><query xmlns='jabber:iq:register'/></iq>");
    let [Action::Send(result)] = &actions[..] else {
        panic!("{:?}", summary(&actions));
    };
    assert_eq!(result.attr("type"), Some("result"));
    let query = result.child("query", NS_REGISTER).expect("the fields");
    assert!(query.child("username", NS_REGISTER).is_some());
    assert!(query.child("password", NS_REGISTER).is_some());
    let actions = client.send(&set("romeo", "secret"));
    assert_eq!(
        actions,
        [Action::Register {
            id: "r".into(),
            username: "romeo".into(),
            password: "secret".into()
        }]
    );
    let actions = client.input(Input::Registered {
        id: "r".into(),
        outcome: Ok(()),
    });
    assert_eq!(summary(&actions), ["iq-result"]);
    // Signing in goes on as usual.
    let actions = client.send(&super::tests::plain_auth("romeo", "secret"));
    assert_eq!(summary(&actions), ["lookup romeo@localhost"]);
}

#[test]
fn missing_fields_removal_and_refusals_get_the_xeps_errors_and_count_as_failures() {
    let mut client = Client::with_config(offering(TlsPolicy::Optional));
    client.open();
    let missing = "<iq type='set' id='m'><query xmlns='jabber:iq:register'><username>romeo</username></query></iq>";
    assert_eq!(summary(&client.send(missing)), ["iq-error not-acceptable"]);
    let remove = "<iq type='set' id='x'><query xmlns='jabber:iq:register'><remove/></query></iq>";
    assert_eq!(summary(&client.send(remove)), ["iq-error not-authorized"]);
    client.send(&set("juliet", "secret"));
    // A storage failure is not the client's: it does not count.
    let actions = client.input(Input::Registered {
        id: "r".into(),
        outcome: Err(StanzaErrorCondition::InternalServerError),
    });
    assert_eq!(summary(&actions), ["iq-error internal-server-error"]);
    for _ in 0..2 {
        client.send(&set("juliet", "secret"));
        let actions = client.input(Input::Registered {
            id: "r".into(),
            outcome: Err(StanzaErrorCondition::Conflict),
        });
        if client.stream.auth_failures() < 3 {
            assert_eq!(summary(&actions), ["iq-error conflict"]);
            continue;
        }
        // The third counted failure (auth_failures_max is 3): the missing field, then two
        // conflicts.
        assert_eq!(
            summary(&actions),
            ["iq-error conflict", "close policy-violation"]
        );
    }
    assert!(client.stream.is_closed());
}
