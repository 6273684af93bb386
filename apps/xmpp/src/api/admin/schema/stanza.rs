//! The admin schema's `stanza` category (MongooseIM's
//! `priv/graphql/schemas/admin/stanza.gql`): messages and arbitrary stanzas sent through
//! [`Router::route`](crate::router::Router::route), like any stanza.

use async_graphql::{Context, Object, SimpleObject};

use super::{api, Api};
use crate::api::graphql::{error, fresh_id, parse_stanza, JidScalar, Result, XmlElement};
use crate::api::ErrorCode;
use crate::xml::{Element, NS_CLIENT};

/// Send stanza payload
#[derive(SimpleObject)]
pub(crate) struct SendStanzaPayload {
    /// Stanza id
    id: Option<async_graphql::ID>,
}

/// Sending stanzas through the normal routing path.
pub(crate) struct StanzaAdminMutation;

impl StanzaAdminMutation {
    async fn send_message_of_type(
        api: &Api,
        from: &str,
        to: &str,
        message_type: &str,
        subject: Option<String>,
        body: Option<String>,
    ) -> Result<SendStanzaPayload> {
        let from = api.sender(from).await?;
        let to = api.jid(to)?;
        let id = fresh_id();
        let mut message = Element::new("message", NS_CLIENT)
            .with_attr("type", message_type)
            .with_attr("from", from.to_string())
            .with_attr("to", to.to_string())
            .with_attr("id", id.clone());
        if let Some(subject) = subject {
            message.push_child(Element::new("subject", NS_CLIENT).with_text(subject));
        }
        if let Some(body) = body {
            message.push_child(Element::new("body", NS_CLIENT).with_text(body));
        }
        api.context.router.route(message).await;
        Ok(SendStanzaPayload {
            id: Some(async_graphql::ID(id)),
        })
    }
}

#[Object]
impl StanzaAdminMutation {
    /// Send a chat message from a given contact to a local or remote bare or full JID
    async fn send_message(
        &self,
        ctx: &Context<'_>,
        from: JidScalar,
        to: JidScalar,
        body: String,
    ) -> Result<SendStanzaPayload> {
        Self::send_message_of_type(api(ctx)?, &from.0, &to.0, "chat", None, Some(body)).await
    }

    /// Send a headline message from a given contact to a local or remote bare or full JID
    #[graphql(name = "sendMessageHeadLine")]
    async fn send_message_headline(
        &self,
        ctx: &Context<'_>,
        from: JidScalar,
        to: JidScalar,
        subject: Option<String>,
        body: Option<String>,
    ) -> Result<SendStanzaPayload> {
        Self::send_message_of_type(api(ctx)?, &from.0, &to.0, "headline", subject, body).await
    }

    /// Send an arbitrary stanza (message, presence or iq) with a `from`; an `id` is added when
    /// it has none
    async fn send_stanza(
        &self,
        ctx: &Context<'_>,
        stanza: XmlElement,
    ) -> Result<SendStanzaPayload> {
        let api = api(ctx)?;
        let mut element = parse_stanza(&stanza.0)
            .map_err(|reason| error(ErrorCode::BadRequest, format!("Invalid stanza: {reason}")))?;
        if element.namespace != NS_CLIENT
            || !matches!(element.name.as_str(), "message" | "presence" | "iq")
        {
            return Err(error(
                ErrorCode::BadRequest,
                "Invalid stanza: not a message, presence or iq in jabber:client",
            ));
        }
        let Some(from) = element.attr("from").map(str::to_owned) else {
            return Err(error(
                ErrorCode::BadRequest,
                "Invalid stanza: no from attribute",
            ));
        };
        api.sender(&from).await?;
        if let Some(to) = element.attr("to").map(str::to_owned) {
            api.jid(&to)?;
        }
        let id = match element.attr("id") {
            Some(id) => id.to_owned(),
            None => {
                let id = fresh_id();
                element.set_attr("id", id.clone());
                id
            }
        };
        api.context.router.route(element).await;
        Ok(SendStanzaPayload {
            id: Some(async_graphql::ID(id)),
        })
    }
}
