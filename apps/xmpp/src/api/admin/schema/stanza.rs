//! The admin schema's `stanza` category (MongooseIM's
//! `priv/graphql/schemas/admin/stanza.gql`): messages and arbitrary stanzas sent through
//! [`Router::route`](crate::router::Router::route), like any stanza.

use async_graphql::{Context, Object};

use super::{api, Api};
use crate::api::graphql::{error, JidScalar, Result, XmlElement};
use crate::api::stanza::{client_stanza, send_message, send_stanza, SendStanzaPayload};
use crate::api::ErrorCode;

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
        Ok(send_message(&api.context.router, &from, &to, message_type, subject, body).await)
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
        let element = client_stanza(&stanza.0)?;
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
        Ok(send_stanza(&api.context.router, element).await)
    }
}
