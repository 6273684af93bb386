//! The user schema's roots and its `checkAuth`, `account`, `session`, `stanza` and `roster`
//! categories (MongooseIM's `priv/graphql/schemas/user/*.gql`), resolved for the [`Caller`].
//! `vcard`, `private` and `last` are in [`super::personal`].

use std::sync::Arc;

use async_graphql::{Context, EmptySubscription, Enum, Object, Schema, SimpleObject};

use super::auth::Caller;
use super::personal::{
    LastUserMutation, LastUserQuery, PrivateUserMutation, PrivateUserQuery, VcardUserMutation,
    VcardUserQuery,
};
use super::UserContext;
use crate::api::graphql::{error, parse_jid, JidScalar, Result, UserName};
use crate::api::roster::{self, Contact};
use crate::api::stanza::{client_stanza, send_message, send_stanza, SendStanzaPayload};
use crate::api::ErrorCode;
use crate::jid::Jid;
use crate::stanza::error::{StreamError, StreamErrorCondition};

/// The user schema type.
pub type UserSchema = Schema<UserQuery, UserMutation, EmptySubscription>;

/// The deepest query accepted: the user schema is five levels deep (vCard fields).
const QUERY_DEPTH_MAX: usize = 16;

/// Builds the schema over `context`. Each request must carry its [`Caller`] as data, which
/// the HTTP shell attaches after authentication.
pub fn build_schema(context: UserContext) -> UserSchema {
    Schema::build(UserQuery, UserMutation, EmptySubscription)
        .data(Arc::new(context))
        .limit_depth(QUERY_DEPTH_MAX)
        .finish()
}

/// The context and the caller of a request.
pub(super) fn request<'a>(ctx: &Context<'a>) -> Result<(&'a UserContext, &'a Caller)> {
    let context = ctx.data::<Arc<UserContext>>()?;
    let caller = ctx.data::<Caller>()?;
    Ok((context.as_ref(), caller))
}

/// A JID scalar holding a resource name (MongooseIM's `ResourceName`).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub(crate) struct ResourceName(pub String);
async_graphql::scalar!(ResourceName, "ResourceName", "XMPP resource name");

// ---- roots --------------------------------------------------------------------------

/// Contains all user available queries. Only an authenticated user can execute these
/// queries.
pub struct UserQuery;

#[Object]
impl UserQuery {
    /// Check authorization status
    async fn check_auth(&self, ctx: &Context<'_>) -> Result<UserAuthInfo> {
        let (_, caller) = request(ctx)?;
        Ok(UserAuthInfo {
            username: Some(UserName(caller.0.to_string())),
            auth_status: Some(AuthStatus::Authorized),
        })
    }
    /// Last activity management
    async fn last(&self) -> LastUserQuery {
        LastUserQuery
    }
    /// Session management
    async fn session(&self) -> SessionUserQuery {
        SessionUserQuery
    }
    /// Roster/Contacts management
    async fn roster(&self) -> RosterUserQuery {
        RosterUserQuery
    }
    /// Vcard management
    async fn vcard(&self) -> VcardUserQuery {
        VcardUserQuery
    }
    /// User's private storage management
    async fn private(&self) -> PrivateUserQuery {
        PrivateUserQuery
    }
}

/// Contains all user available mutations. Only an authenticated user can execute these
/// mutations.
pub struct UserMutation;

#[Object]
impl UserMutation {
    /// Account management
    async fn account(&self) -> AccountUserMutation {
        AccountUserMutation
    }
    /// Last activity management
    async fn last(&self) -> LastUserMutation {
        LastUserMutation
    }
    /// Stanza management
    async fn stanza(&self) -> StanzaUserMutation {
        StanzaUserMutation
    }
    /// Roster/Contacts management
    async fn roster(&self) -> RosterUserMutation {
        RosterUserMutation
    }
    /// Vcard management
    async fn vcard(&self) -> VcardUserMutation {
        VcardUserMutation
    }
    /// User's private storage management
    async fn private(&self) -> PrivateUserMutation {
        PrivateUserMutation
    }
}

// ---- checkAuth ----------------------------------------------------------------------

/// Authorization status
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthStatus {
    /// The request is authorized
    Authorized,
    /// The request is not authorized (never seen here: such requests get HTTP 401)
    Unauthorized,
}

/// Information about user request authorization
#[derive(SimpleObject)]
pub(crate) struct UserAuthInfo {
    /// Authorized as user with name (the bare JID)
    username: Option<UserName>,
    /// Authorization status
    auth_status: Option<AuthStatus>,
}

// ---- account ------------------------------------------------------------------------

/// Allow user to manage own account.
pub(crate) struct AccountUserMutation;

#[Object]
impl AccountUserMutation {
    /// Remove an account
    async fn unregister(&self, ctx: &Context<'_>) -> Result<String> {
        let (context, caller) = request(ctx)?;
        let (domain, username) = caller_account(caller)?;
        crate::api::graphql::remove_account(&context.storage, domain, username).await?;
        let sessions = context
            .router
            .sessions()
            .user_sessions(&caller.0)
            .unwrap_or_default();
        for entry in sessions {
            entry.handle.close(
                StreamError::new(StreamErrorCondition::NotAuthorized)
                    .with_text("the account was removed".to_string()),
            );
        }
        tracing::info!(user = %caller.0, "account removed through the user API");
        Ok(format!("User {} successfully unregistered", caller.0))
    }

    /// Change the password of an account
    async fn change_password(&self, ctx: &Context<'_>, new_password: String) -> Result<String> {
        let (context, caller) = request(ctx)?;
        let (domain, username) = caller_account(caller)?;
        let settings = context.password.clone();
        crate::api::graphql::set_password(
            &context.storage,
            settings,
            domain,
            username,
            new_password,
        )
        .await?;
        Ok("Password changed".to_string())
    }
}

/// `(domain, username)` of the caller (always a user: authentication checked it).
pub(super) fn caller_account(caller: &Caller) -> Result<(&str, &str)> {
    match caller.0.local() {
        Some(local) => Ok((caller.0.domain(), local)),
        None => Err(error(
            ErrorCode::InternalError,
            "the caller has no localpart",
        )),
    }
}

// ---- session ------------------------------------------------------------------------

/// Allow user to get information about sessions.
pub(crate) struct SessionUserQuery;

impl SessionUserQuery {
    fn resources(ctx: &Context<'_>) -> Result<Vec<ResourceName>> {
        let (context, caller) = request(ctx)?;
        let mut resources: Vec<ResourceName> = context
            .router
            .sessions()
            .user_sessions(&caller.0)
            .map_err(|reason| error(ErrorCode::InternalError, reason.to_string()))?
            .iter()
            .filter_map(|entry| entry.jid.resource().map(|resource| resource.to_owned()))
            .map(ResourceName)
            .collect();
        resources.sort_by(|a, b| a.0.cmp(&b.0));
        resources.dedup_by(|a, b| a.0 == b.0);
        Ok(resources)
    }
}

#[Object]
impl SessionUserQuery {
    /// List connected resources
    async fn list_resources(&self, ctx: &Context<'_>) -> Result<Vec<ResourceName>> {
        Self::resources(ctx)
    }

    /// Count connected resources
    async fn count_resources(&self, ctx: &Context<'_>) -> Result<i32> {
        Ok(i32::try_from(Self::resources(ctx)?.len()).unwrap_or(i32::MAX))
    }
}

// ---- stanza -------------------------------------------------------------------------

/// A stanza as XML text (MongooseIM's `Stanza`).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub(crate) struct StanzaScalar(pub String);
async_graphql::scalar!(
    StanzaScalar,
    "Stanza",
    "Body of a data structure exchanged by XMPP entities in XML streams"
);

/// Allow user to send messages.
pub(crate) struct StanzaUserMutation;

/// The sender of a stanza the caller sends: `from` if given (its bare JID must be the
/// caller's, or `invalid_sender`), else the caller's bare JID.
fn sender(caller: &Caller, from: Option<&str>) -> Result<Jid> {
    let Some(from) = from else {
        return Ok(Jid::from(caller.0.clone()));
    };
    let jid = parse_jid(from)?;
    if jid.bare() != &caller.0 {
        return Err(error(
            ErrorCode::InvalidSender,
            format!("Sender {from} is not the authenticated user {}", caller.0),
        ));
    }
    Ok(jid)
}

impl StanzaUserMutation {
    async fn send_message_of_type(
        ctx: &Context<'_>,
        from: Option<JidScalar>,
        to: JidScalar,
        message_type: &str,
        subject: Option<String>,
        body: Option<String>,
    ) -> Result<SendStanzaPayload> {
        let (context, caller) = request(ctx)?;
        let from = sender(caller, from.as_ref().map(|from| from.0.as_str()))?;
        let to = parse_jid(&to.0)?;
        Ok(send_message(&context.router, &from, &to, message_type, subject, body).await)
    }
}

#[Object]
impl StanzaUserMutation {
    /// Send a chat message to a local or remote bare or full JID
    async fn send_message(
        &self,
        ctx: &Context<'_>,
        from: Option<JidScalar>,
        to: JidScalar,
        body: String,
    ) -> Result<SendStanzaPayload> {
        Self::send_message_of_type(ctx, from, to, "chat", None, Some(body)).await
    }

    /// Send a headline message to a local or remote bare or full JID
    #[graphql(name = "sendMessageHeadLine")]
    async fn send_message_headline(
        &self,
        ctx: &Context<'_>,
        from: Option<JidScalar>,
        to: JidScalar,
        subject: Option<String>,
        body: Option<String>,
    ) -> Result<SendStanzaPayload> {
        Self::send_message_of_type(ctx, from, to, "headline", subject, body).await
    }

    /// Send an arbitrary stanza (message, presence or iq); `from` defaults to the caller, an
    /// `id` is added when it has none
    async fn send_stanza(
        &self,
        ctx: &Context<'_>,
        stanza: StanzaScalar,
    ) -> Result<SendStanzaPayload> {
        let (context, caller) = request(ctx)?;
        let mut element = client_stanza(&stanza.0)?;
        let from = sender(caller, element.attr("from"))?;
        element.set_attr("from", from.to_string());
        if let Some(to) = element.attr("to").map(str::to_owned) {
            parse_jid(&to)?;
        }
        Ok(send_stanza(&context.router, element).await)
    }
}

// ---- roster -------------------------------------------------------------------------

/// Allow user to get information about user roster/contacts.
pub(crate) struct RosterUserQuery;

#[Object]
impl RosterUserQuery {
    /// Get the user's roster/contacts
    async fn list_contacts(&self, ctx: &Context<'_>) -> Result<Vec<Contact>> {
        let (context, caller) = request(ctx)?;
        roster::list_contacts(&context.storage, &context.router, &caller.0).await
    }

    /// Get the user's contact
    async fn get_contact(&self, ctx: &Context<'_>, contact: JidScalar) -> Result<Option<Contact>> {
        let (context, caller) = request(ctx)?;
        roster::get_contact(&context.storage, &context.router, &caller.0, &contact.0).await
    }
}

/// Allow user to manage user roster/contacts.
pub(crate) struct RosterUserMutation;

#[Object]
impl RosterUserMutation {
    /// Add a new contact to a user's roster without subscription
    async fn add_contact(
        &self,
        ctx: &Context<'_>,
        contact: JidScalar,
        name: Option<String>,
        groups: Option<Vec<String>>,
    ) -> Result<String> {
        let (context, caller) = request(ctx)?;
        roster::add_contact(&context.router, &caller.0, &contact.0, name, groups).await
    }

    /// Delete user's contact
    async fn delete_contact(&self, ctx: &Context<'_>, contact: JidScalar) -> Result<String> {
        let (context, caller) = request(ctx)?;
        roster::delete_contact(&context.router, &caller.0, &contact.0).await
    }
}
