//! Stanzas for both GraphQL endpoints (MongooseIM's `stanza` category): messages built from
//! arguments, and whole stanzas given as XML, sent through [`Router::route`] like any stanza.
//!
//! Who may send as whom differs (the admin names any existing sender, a user only itself), so
//! each endpoint checks the sender and the recipient; what is built and routed is the same.

use async_graphql::SimpleObject;

use crate::api::graphql::{error, fresh_id, parse_stanza, Result};
use crate::api::ErrorCode;
use crate::jid::Jid;
use crate::router::Router;
use crate::xml::{Element, NS_CLIENT};

/// Send stanza payload
#[derive(SimpleObject)]
pub(crate) struct SendStanzaPayload {
    /// Stanza id
    id: Option<async_graphql::ID>,
}

/// A message of `message_type` from `from` to `to`, with a fresh id; both JIDs checked by the
/// caller.
pub(crate) async fn send_message(
    router: &Router,
    from: &Jid,
    to: &Jid,
    message_type: &str,
    subject: Option<String>,
    body: Option<String>,
) -> SendStanzaPayload {
    let mut message = Element::new("message", NS_CLIENT)
        .with_attr("type", message_type)
        .with_attr("from", from.to_string())
        .with_attr("to", to.to_string());
    if let Some(subject) = subject {
        message.push_child(Element::new("subject", NS_CLIENT).with_text(subject));
    }
    if let Some(body) = body {
        message.push_child(Element::new("body", NS_CLIENT).with_text(body));
    }
    send_stanza(router, message).await
}

/// Parses `text` as one stanza: a message, presence or iq in `jabber:client`, or
/// `bad_request`.
pub(crate) fn client_stanza(text: &str) -> Result<Element> {
    let element = parse_stanza(text)
        .map_err(|reason| error(ErrorCode::BadRequest, format!("Invalid stanza: {reason}")))?;
    if element.namespace != NS_CLIENT
        || !matches!(element.name.as_str(), "message" | "presence" | "iq")
    {
        return Err(error(
            ErrorCode::BadRequest,
            "Invalid stanza: not a message, presence or iq in jabber:client",
        ));
    }
    Ok(element)
}

/// Routes `stanza`, with a fresh id when it has none, and answers that id.
pub(crate) async fn send_stanza(router: &Router, mut stanza: Element) -> SendStanzaPayload {
    let id = match stanza.attr("id") {
        Some(id) => id.to_owned(),
        None => {
            let id = fresh_id();
            stanza.set_attr("id", id.clone());
            id
        }
    };
    router.route(stanza).await;
    SendStanzaPayload {
        id: Some(async_graphql::ID(id)),
    }
}
