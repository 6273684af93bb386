//! Entity capabilities (XEP-0115): what the server learns of its clients, and what it says of
//! itself.
//!
//! **Learning.** A client's available broadcast presence carries
//! `<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node=… ver=…/>`. When `ver` is
//! not in the router's [`CapsCache`] (cluster-wide in a cluster), the server asks that client
//! for `disco#info` on `node#ver`, recomputes the verification string from the answer
//! (§5.1, extended data forms included), and only if it matches records the features under
//! `ver`, once for every client announcing the same string. The query is sent from the
//! presence hook without waiting (the answer comes back through the same session, whose task
//! must not be the one waiting): the answer is checked when it is routed back. A string already being asked about on
//! this node is not asked again; at most [`CAPS_QUERIES_MAX`] queries wait at once, each at
//! most [`CAPS_QUERY_TIMEOUT`]. Hashes other than `sha-1` and the legacy form without `hash`
//! are ignored (no client in wide use sends them).
//!
//! Which session announced which string needs no record of its own: it is in the session's
//! last presence, in the session table (`SessionEntry::presence`), on every node. PEP
//! (`+notify`) reads it there and the features here.
//!
//! **Telling.** [`verification_string`] also gives the server's own string for its disco#info
//! identities and features (the `<c/>` of its stream features).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use parking_lot::Mutex;
use sha1::{Digest, Sha1};

use crate::router::caps_cache::CapsCache;
use crate::router::{ClientSession, Flow, HooksBuilder, Module, PresenceHook, Router};
use crate::xml::{Element, NS_CLIENT, NS_XML};

/// The capabilities namespace.
pub const NS_CAPS: &str = "http://jabber.org/protocol/caps";

/// The node the server names itself by in its own `<c/>`.
pub const SERVER_NODE: &str = "https://github.com/bream-xmpp/bream";

/// The server's own `<c/>` for its stream features (XEP-0115 §6.3), from its disco#info as
/// the registered modules describe it; `None` without service discovery (nothing would answer
/// a query for the node).
pub fn server_caps(hooks: &crate::router::Hooks) -> Option<Element> {
    use crate::modules::disco::{info_query, NS_DISCO_INFO as DISCO};
    let query = info_query(hooks, crate::router::IqScope::Server);
    if !hooks
        .features(crate::router::IqScope::Server)
        .any(|feature| feature == DISCO)
    {
        return None;
    }
    let ver = verification_string(&query)?;
    Some(
        Element::new("c", NS_CAPS)
            .with_attr("hash", "sha-1")
            .with_attr("node", SERVER_NODE)
            .with_attr("ver", ver),
    )
}

/// Service discovery's info namespace.
const NS_DISCO_INFO: &str = "http://jabber.org/protocol/disco#info";

/// Data forms (XEP-0004), which a disco#info answer may extend (XEP-0128).
const NS_DATA: &str = "jabber:x:data";

/// How long a client has to answer the server's disco#info query.
pub const CAPS_QUERY_TIMEOUT: Duration = Duration::from_secs(10);

/// Queries waiting for their answer at most, on one node.
pub const CAPS_QUERIES_MAX: usize = 100;

/// The caps module. See the module docs.
#[derive(Debug, Default)]
pub struct Caps {
    /// Verification strings being asked about on this node.
    asking: Arc<Mutex<HashSet<String>>>,
}

impl Module for Caps {
    fn name(&self) -> &'static str {
        "caps"
    }

    fn register(self: Arc<Self>, hooks: &mut HooksBuilder) {
        hooks.presence(self);
    }
}

/// The `<c/>` of a presence, if it is one the server learns from.
fn announced(presence: &Element) -> Option<(&str, &str)> {
    let c = presence.child("c", NS_CAPS)?;
    if c.attr("hash") != Some("sha-1") {
        return None;
    }
    Some((c.attr("node")?, c.attr("ver")?))
}

impl PresenceHook for Caps {
    async fn user_send_presence(
        &self,
        router: &Router,
        sender: &ClientSession,
        presence: &Element,
    ) -> Flow {
        if presence.attr("to").is_some() || presence.attr("type").is_some() {
            return Flow::Continue;
        }
        let Some((node, ver)) = announced(presence) else {
            return Flow::Continue;
        };
        let cache = router.caps_cache();
        if cache.get(ver).is_some() {
            return Flow::Continue;
        }
        {
            let mut asking = self.asking.lock();
            if asking.len() >= CAPS_QUERIES_MAX || !asking.insert(ver.to_owned()) {
                return Flow::Continue;
            }
        }
        let query = Element::new("iq", NS_CLIENT)
            .with_attr("type", "get")
            .with_attr("from", sender.jid.domain())
            .with_attr("to", sender.jid.to_string())
            .with_child(
                Element::new("query", NS_DISCO_INFO).with_attr("node", format!("{node}#{ver}")),
            );
        let asking = Arc::clone(&self.asking);
        let ver = ver.to_owned();
        let client = sender.jid.to_string();
        let on_answer = {
            let (asking, ver) = (Arc::clone(&asking), ver.clone());
            Box::new(move |answer: Option<Element>| {
                if let Some(answer) = answer {
                    learn(cache.as_ref(), &ver, &answer, &client);
                }
                asking.lock().remove(&ver);
            })
        };
        if let Err(error) = router
            .send_request(query, CAPS_QUERY_TIMEOUT, on_answer)
            .await
        {
            tracing::debug!(%error, "caps query not sent");
            asking.lock().remove(&ver);
        }
        Flow::Continue
    }
}

/// Records the features of `answer` under `ver` if they hash to it.
fn learn(cache: &dyn CapsCache, ver: &str, answer: &Element, client: &str) {
    let Some(query) = (answer.attr("type") == Some("result"))
        .then(|| answer.child("query", NS_DISCO_INFO))
        .flatten()
    else {
        tracing::debug!(client, ver, "caps query refused");
        return;
    };
    if verification_string(query).as_deref() != Some(ver) {
        tracing::debug!(
            client,
            ver,
            "caps answer does not match its verification string"
        );
        return;
    }
    let features: Arc<[String]> = query
        .elements()
        .filter(|child| child.name == "feature")
        .filter_map(|feature| feature.attr("var").map(str::to_owned))
        .collect();
    tracing::debug!(client, ver, features = features.len(), "caps learnt");
    cache.insert(ver, features);
}

/// The XEP-0115 §5.1 verification string (SHA-1, base64) of a disco#info `query`: its
/// identities, features and extended data forms. `None` when the query is not well-formed
/// for hashing (an identity without category or type, a form without `FORM_TYPE`, a
/// duplicate identity, feature or form type: §5.4 says such answers must not be cached).
pub fn verification_string(query: &Element) -> Option<String> {
    let mut identities = Vec::new();
    let mut features = Vec::new();
    let mut forms = Vec::new();
    for child in query.elements() {
        match (child.name.as_str(), child.namespace.as_str()) {
            ("identity", NS_DISCO_INFO) => identities.push(format!(
                "{}/{}/{}/{}",
                child.attr("category")?,
                child.attr("type")?,
                child.ns_attr(NS_XML, "lang").unwrap_or_default(),
                child.attr("name").unwrap_or_default()
            )),
            ("feature", NS_DISCO_INFO) => features.push(child.attr("var")?.to_owned()),
            ("x", NS_DATA) => forms.push(form_string(child)?),
            _ => {}
        }
    }
    identities.sort();
    features.sort();
    forms.sort();
    let distinct = |items: &[String]| items.windows(2).all(|pair| pair[0] != pair[1]);
    if !distinct(&identities)
        || !distinct(&features)
        || !forms.windows(2).all(|pair| pair[0].0 != pair[1].0)
    {
        return None;
    }
    let mut input = String::new();
    for item in identities.iter().chain(&features) {
        input.push_str(item);
        input.push('<');
    }
    for (_, form) in &forms {
        input.push_str(form);
    }
    Some(BASE64.encode(Sha1::digest(input.as_bytes())))
}

/// A data form's part of the verification string, with its `FORM_TYPE` to sort by.
fn form_string(form: &Element) -> Option<(String, String)> {
    let values = |field: &Element| -> Vec<String> {
        let mut values: Vec<String> = field
            .elements()
            .filter(|value| value.name == "value")
            .map(Element::text)
            .collect();
        values.sort();
        values
    };
    let mut form_type = None;
    let mut fields = Vec::new();
    for field in form.elements().filter(|field| field.name == "field") {
        let var = field.attr("var")?;
        if var == "FORM_TYPE" {
            form_type = values(field).into_iter().next();
        } else {
            fields.push((var.to_owned(), values(field)));
        }
    }
    let form_type = form_type?;
    fields.sort();
    let mut text = format!("{form_type}<");
    for (var, values) in fields {
        text.push_str(&var);
        text.push('<');
        for value in values {
            text.push_str(&value);
            text.push('<');
        }
    }
    Some((form_type, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(category: &str, kind: &str, lang: Option<&str>, name: &str) -> Element {
        let mut identity = Element::new("identity", NS_DISCO_INFO)
            .with_attr("category", category)
            .with_attr("type", kind)
            .with_attr("name", name);
        if let Some(lang) = lang {
            identity.set_ns_attr(NS_XML, "lang", lang);
        }
        identity
    }

    fn feature(var: &str) -> Element {
        Element::new("feature", NS_DISCO_INFO).with_attr("var", var)
    }

    fn field(var: &str, values: &[&str]) -> Element {
        let mut field = Element::new("field", NS_DATA).with_attr("var", var);
        for value in values {
            field.push_child(Element::new("value", NS_DATA).with_text(*value));
        }
        field
    }

    #[test]
    fn the_simple_example_of_the_xep() {
        // XEP-0115 §5.2.
        let query = Element::new("query", NS_DISCO_INFO)
            .with_child(identity("client", "pc", None, "Exodus 0.9.1"))
            .with_child(feature("http://jabber.org/protocol/caps"))
            .with_child(feature("http://jabber.org/protocol/disco#info"))
            .with_child(feature("http://jabber.org/protocol/disco#items"))
            .with_child(feature("http://jabber.org/protocol/muc"));
        assert_eq!(
            verification_string(&query).as_deref(),
            Some("QgayPKawpkPSDYmwT/WM94uAlu0=")
        );
    }

    #[test]
    fn the_complex_example_of_the_xep() {
        // XEP-0115 §5.3: two identities in two languages, an extended form.
        let form = Element::new("x", NS_DATA)
            .with_attr("type", "result")
            .with_child(field("FORM_TYPE", &["urn:xmpp:dataforms:softwareinfo"]))
            .with_child(field("ip_version", &["ipv4", "ipv6"]))
            .with_child(field("os", &["Mac"]))
            .with_child(field("os_version", &["10.5.1"]))
            .with_child(field("software", &["Psi"]))
            .with_child(field("software_version", &["0.11"]));
        let query = Element::new("query", NS_DISCO_INFO)
            .with_child(identity("client", "pc", Some("en"), "Psi 0.11"))
            .with_child(identity("client", "pc", Some("el"), "Ψ 0.11"))
            .with_child(feature("http://jabber.org/protocol/caps"))
            .with_child(feature("http://jabber.org/protocol/disco#info"))
            .with_child(feature("http://jabber.org/protocol/disco#items"))
            .with_child(feature("http://jabber.org/protocol/muc"))
            .with_child(form);
        assert_eq!(
            verification_string(&query).as_deref(),
            Some("q07IKJEyjvHSyhy//CH0CxmKi8w=")
        );
    }

    #[test]
    fn duplicates_and_incomplete_identities_are_not_hashed() {
        let duplicate = Element::new("query", NS_DISCO_INFO)
            .with_child(feature("urn:a"))
            .with_child(feature("urn:a"));
        assert_eq!(verification_string(&duplicate), None);
        let incomplete = Element::new("query", NS_DISCO_INFO)
            .with_child(Element::new("identity", NS_DISCO_INFO).with_attr("category", "client"));
        assert_eq!(verification_string(&incomplete), None);
    }

    #[test]
    fn only_a_matching_answer_is_learnt() {
        let cache = crate::router::caps_cache::LocalCapsCache::default();
        let query = Element::new("query", NS_DISCO_INFO)
            .with_child(identity("client", "pc", None, "Exodus 0.9.1"))
            .with_child(feature("http://jabber.org/protocol/caps"))
            .with_child(feature("http://jabber.org/protocol/disco#info"))
            .with_child(feature("http://jabber.org/protocol/disco#items"))
            .with_child(feature("http://jabber.org/protocol/muc"));
        let answer = Element::new("iq", NS_CLIENT)
            .with_attr("type", "result")
            .with_child(query);
        learn(&cache, "not-the-hash", &answer, "c");
        assert!(cache.get("not-the-hash").is_none());
        learn(&cache, "QgayPKawpkPSDYmwT/WM94uAlu0=", &answer, "c");
        let features = cache.get("QgayPKawpkPSDYmwT/WM94uAlu0=").expect("learnt");
        assert!(features.contains(&"http://jabber.org/protocol/muc".to_owned()));
    }
}
