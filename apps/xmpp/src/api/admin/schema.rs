//! The admin schema: MongooseIM 6's type, field and argument names
//! (`priv/graphql/schemas/admin/*.gql`), resolved against the [`AdminContext`].
//!
//! Every argument from the request is checked here and refused with an error value carrying
//! an [`ErrorCode`]; nothing a request sends can panic a resolver.

use std::sync::Arc;

use async_graphql::{Context, EmptySubscription, Enum, Object, Schema, SimpleObject};
use tokio::sync::watch;

use super::AdminContext;
use crate::api::graphql::{error, fresh_id, parse_stanza, storage_error, Result};
pub(crate) use crate::api::graphql::{DomainName, JidScalar, UserName, XmlElement};
use crate::api::ErrorCode;
use crate::config::LogLevel as ConfigLogLevel;
use crate::jid::{normalize_domain, normalize_localpart, BareJid, Jid};
use crate::router::{ClientSession, SessionEntry};
use crate::stanza::error::{StreamError, StreamErrorCondition};
use crate::xml::{Element, NS_CLIENT};

/// The admin schema type.
pub type AdminSchema = Schema<AdminQuery, AdminMutation, EmptySubscription>;

/// The deepest query accepted: the admin schema is four levels deep.
const QUERY_DEPTH_MAX: usize = 16;

/// What a kicked client is told when no reason is given.
const KICK_REASON_DEFAULT: &str = "Kicked by administrator";

/// Builds the schema over `context`; `stop` is set when `server { stop }` is called.
pub fn build_schema(context: AdminContext, stop: watch::Sender<bool>) -> AdminSchema {
    Schema::build(AdminQuery, AdminMutation, EmptySubscription)
        .data(context.clone())
        .data(Arc::new(Api { context, stop }))
        .limit_depth(QUERY_DEPTH_MAX)
        .finish()
}

struct Api {
    context: AdminContext,
    stop: watch::Sender<bool>,
}

fn api<'a>(ctx: &Context<'a>) -> Result<&'a Arc<Api>> {
    ctx.data::<Arc<Api>>()
}

/// The context, for resolvers in sibling modules.
pub(super) fn api_context<'a>(ctx: &Context<'a>) -> Result<&'a AdminContext> {
    Ok(&api(ctx)?.context)
}

// ---- argument checks ----------------------------------------------------------------

impl Api {
    /// The normalised domain, if served here.
    fn served_domain(&self, domain: &str) -> Result<String> {
        let domains = self.context.router.domains();
        let unknown = |reason: &str| {
            error(
                ErrorCode::UnknownDomain,
                format!(
                    "Domain {domain:?} {reason} (served: {})",
                    domains.join(", ")
                ),
            )
        };
        let normalised = normalize_domain(domain).map_err(|_| unknown("is not valid"))?;
        if !self.context.router.is_local_domain(&normalised) {
            return Err(unknown("is not served by this server"));
        }
        Ok(normalised)
    }

    fn optional_domain(&self, domain: Option<DomainName>) -> Result<Option<String>> {
        domain
            .map(|domain| self.served_domain(&domain.0))
            .transpose()
    }

    /// A JID argument, parsed.
    fn jid(&self, jid: &str) -> Result<Jid> {
        crate::api::graphql::parse_jid(jid)
    }

    /// A JID naming an account of a served domain: `(domain, username)`. A resource is
    /// ignored.
    fn account(&self, jid: &str) -> Result<(String, String)> {
        let parsed = self.jid(jid)?;
        let Some(username) = parsed.local() else {
            return Err(error(
                ErrorCode::BadRequest,
                format!("JID {jid:?} names no user (no localpart)"),
            ));
        };
        let domain = self.served_domain(parsed.domain())?;
        Ok((domain, username.to_owned()))
    }

    fn derive_password(
        &self,
        password: String,
    ) -> impl std::future::Future<Output = Result<crate::sasl::secret::PassDetails>> {
        crate::api::graphql::derive_password(self.context.password.clone(), password)
    }

    fn sessions(&self, domain: Option<&str>) -> Result<Vec<SessionEntry>> {
        let mut sessions = self
            .context
            .router
            .sessions()
            .all()
            .map_err(|reason| error(ErrorCode::InternalError, reason.to_string()))?;
        if let Some(domain) = domain {
            sessions.retain(|entry| entry.jid.domain() == domain);
        }
        sessions.sort_by_key(|entry| (entry.jid.to_string(), entry.sid));
        Ok(sessions)
    }

    fn user_sessions(&self, user: &BareJid) -> Result<Vec<SessionEntry>> {
        self.context
            .router
            .sessions()
            .user_sessions(user)
            .map_err(|reason| error(ErrorCode::InternalError, reason.to_string()))
    }

    fn session_object(&self, entry: &SessionEntry) -> Session {
        Session {
            user: JidScalar(entry.jid.to_string()),
            connection: Some("c2s".to_string()),
            ip: None,
            port: None,
            priority: Some(i32::from(entry.priority)),
            node: Some(self.context.node_name.clone()),
            uptime: None,
        }
    }

    /// A stanza's sender, checked: a valid JID; a local user must exist.
    async fn sender(&self, from: &str) -> Result<Jid> {
        let jid = self.jid(from)?;
        if let Some(username) = jid.local() {
            if self.context.router.is_local_domain(jid.domain()) {
                let exists = self
                    .context
                    .storage
                    .user_exists(jid.domain(), username)
                    .await
                    .map_err(storage_error)?;
                if !exists {
                    return Err(error(
                        ErrorCode::UserNotFound,
                        format!("User {} does not exist", jid.to_bare()),
                    ));
                }
            }
        }
        Ok(jid)
    }

    fn kick(&self, entry: &SessionEntry, reason: &str) -> KickUserResult {
        tracing::info!(jid = %entry.jid, sid = %entry.sid, reason, "session kicked by the admin API");
        entry.handle.close(
            StreamError::new(StreamErrorCondition::PolicyViolation).with_text(reason.to_owned()),
        );
        KickUserResult {
            jid: JidScalar(entry.jid.to_string()),
            kicked: true,
            code: None,
            message: "Session kicked".to_string(),
        }
    }
}

// ---- roots --------------------------------------------------------------------------

/// Every admin query, by category.
pub struct AdminQuery;

#[Object]
impl AdminQuery {
    /// Account management
    async fn account(&self) -> AccountAdminQuery {
        AccountAdminQuery
    }
    /// User session management
    async fn session(&self) -> SessionAdminQuery {
        SessionAdminQuery
    }
    /// User roster/contacts management
    async fn roster(&self) -> super::roster::RosterAdminQuery {
        super::roster::RosterAdminQuery
    }
    /// Server statistics
    async fn stat(&self) -> StatsAdminQuery {
        StatsAdminQuery
    }
    /// Server info and management
    async fn server(&self) -> ServerAdminQuery {
        ServerAdminQuery
    }
    /// The cluster's nodes and replicated tables
    async fn cets(&self) -> super::cets::CetsAdminQuery {
        super::cets::CetsAdminQuery
    }
}

/// Every admin mutation, by category.
pub struct AdminMutation;

#[Object]
impl AdminMutation {
    /// Account management
    async fn account(&self) -> AccountAdminMutation {
        AccountAdminMutation
    }
    /// User session management
    async fn session(&self) -> SessionAdminMutation {
        SessionAdminMutation
    }
    /// User roster/contacts management
    async fn roster(&self) -> super::roster::RosterAdminMutation {
        super::roster::RosterAdminMutation
    }
    /// Sending stanzas
    async fn stanza(&self) -> StanzaAdminMutation {
        StanzaAdminMutation
    }
    /// Server info and management
    async fn server(&self) -> ServerAdminMutation {
        ServerAdminMutation
    }
}

// ---- account ------------------------------------------------------------------------

/// Modify user payload
#[derive(SimpleObject)]
pub(crate) struct UserPayload {
    /// User JID
    jid: JidScalar,
    /// Result message
    message: String,
}

/// Check user existence payload
#[derive(SimpleObject)]
pub(crate) struct CheckUserPayload {
    /// Status of the user existence
    exist: bool,
    /// Result message
    message: String,
}

/// Check password correctness payload
#[derive(SimpleObject)]
pub(crate) struct CheckPasswordPayload {
    /// Status of the password correctness
    correct: bool,
    /// Result message
    message: String,
}

/// Allow admin to get information about accounts.
pub(crate) struct AccountAdminQuery;

#[Object]
impl AccountAdminQuery {
    /// List users per domain, sorted
    async fn list_users(
        &self,
        ctx: &Context<'_>,
        domain: DomainName,
        limit: Option<u32>,
        index: Option<u32>,
    ) -> Result<Vec<JidScalar>> {
        let api = api(ctx)?;
        let domain = api.served_domain(&domain.0)?;
        let usernames = api
            .context
            .storage
            .list_users(&domain)
            .await
            .map_err(storage_error)?;
        let skip = index.unwrap_or(0) as usize;
        let take = limit.map_or(usize::MAX, |limit| limit as usize);
        Ok(usernames
            .into_iter()
            .skip(skip)
            .take(take)
            .map(|username| JidScalar(format!("{username}@{domain}")))
            .collect())
    }

    /// Get number of users per domain
    async fn count_users(&self, ctx: &Context<'_>, domain: DomainName) -> Result<i64> {
        let api = api(ctx)?;
        let domain = api.served_domain(&domain.0)?;
        let count = api
            .context
            .storage
            .count_users(&domain)
            .await
            .map_err(storage_error)?;
        Ok(i64::try_from(count).unwrap_or(i64::MAX))
    }

    /// Check if a user exists
    async fn check_user(&self, ctx: &Context<'_>, user: JidScalar) -> Result<CheckUserPayload> {
        let api = api(ctx)?;
        let (domain, username) = api.account(&user.0)?;
        let exist = api
            .context
            .storage
            .user_exists(&domain, &username)
            .await
            .map_err(storage_error)?;
        let jid = format!("{username}@{domain}");
        let message = if exist {
            format!("User {jid} exists")
        } else {
            format!("User {jid} does not exist")
        };
        Ok(CheckUserPayload { exist, message })
    }

    /// Check if a password is correct
    async fn check_password(
        &self,
        ctx: &Context<'_>,
        user: JidScalar,
        password: String,
    ) -> Result<CheckPasswordPayload> {
        let api = api(ctx)?;
        let (domain, username) = api.account(&user.0)?;
        let Some(details) = api
            .context
            .storage
            .pass_details(&domain, &username)
            .await
            .map_err(storage_error)?
        else {
            return Err(error(
                ErrorCode::UserNotFound,
                format!("User {username}@{domain} does not exist"),
            ));
        };
        let correct = tokio::task::spawn_blocking(move || details.verify_password(&password))
            .await
            .map_err(|join| error(ErrorCode::InternalError, join.to_string()))?;
        let message = if correct {
            "Password correct"
        } else {
            "Password incorrect"
        };
        Ok(CheckPasswordPayload {
            correct,
            message: message.to_string(),
        })
    }
}

/// Allow admin to manage user accounts.
pub(crate) struct AccountAdminMutation;

#[Object]
impl AccountAdminMutation {
    /// Register a user. Username will be generated when skipped
    async fn register_user(
        &self,
        ctx: &Context<'_>,
        domain: DomainName,
        username: Option<UserName>,
        password: String,
    ) -> Result<UserPayload> {
        let api = api(ctx)?;
        let domain = api.served_domain(&domain.0)?;
        let username = match username {
            Some(username) => normalize_localpart(&username.0).map_err(|reason| {
                error(
                    ErrorCode::InvalidUsername,
                    format!("Invalid username {:?}: {reason}", username.0),
                )
            })?,
            None => fresh_id(),
        };
        let details = api.derive_password(password).await?;
        api.context
            .storage
            .register_user(&domain, &username, &details)
            .await
            .map_err(storage_error)?;
        let jid = format!("{username}@{domain}");
        Ok(UserPayload {
            message: format!("User {jid} successfully registered"),
            jid: JidScalar(jid),
        })
    }

    /// Remove the user's account along with all the associated personal data
    async fn remove_user(&self, ctx: &Context<'_>, user: JidScalar) -> Result<UserPayload> {
        let api = api(ctx)?;
        let (domain, username) = api.account(&user.0)?;
        let jid = format!("{username}@{domain}");
        let existed = api
            .context
            .storage
            .remove_user(&domain, &username)
            .await
            .map_err(storage_error)?;
        if !existed {
            return Err(error(
                ErrorCode::UserNotFound,
                format!("User {jid} does not exist"),
            ));
        }
        Ok(UserPayload {
            message: format!("User {jid} successfully unregistered"),
            jid: JidScalar(jid),
        })
    }

    /// Ban an account: kick sessions and set a random password
    async fn ban_user(
        &self,
        ctx: &Context<'_>,
        user: JidScalar,
        reason: String,
    ) -> Result<UserPayload> {
        let api = api(ctx)?;
        let (domain, username) = api.account(&user.0)?;
        let jid = format!("{username}@{domain}");
        let details = api.derive_password(fresh_id()).await?;
        let changed = api
            .context
            .storage
            .set_pass_details(&domain, &username, &details)
            .await
            .map_err(storage_error)?;
        if !changed {
            return Err(error(
                ErrorCode::UserNotFound,
                format!("User {jid} does not exist"),
            ));
        }
        let bare = BareJid::new(Some(&username), &domain)
            .map_err(|reason| error(ErrorCode::BadRequest, reason.to_string()))?;
        for entry in api.user_sessions(&bare)? {
            api.kick(&entry, &reason);
        }
        tracing::info!(%jid, reason, "user banned by the admin API");
        Ok(UserPayload {
            message: format!("User {jid} successfully banned with reason: {reason}"),
            jid: JidScalar(jid),
        })
    }

    /// Change the password of a user
    async fn change_user_password(
        &self,
        ctx: &Context<'_>,
        user: JidScalar,
        new_password: String,
    ) -> Result<UserPayload> {
        let api = api(ctx)?;
        let (domain, username) = api.account(&user.0)?;
        let jid = format!("{username}@{domain}");
        let details = api.derive_password(new_password).await?;
        let changed = api
            .context
            .storage
            .set_pass_details(&domain, &username, &details)
            .await
            .map_err(storage_error)?;
        if !changed {
            return Err(error(
                ErrorCode::UserNotFound,
                format!("User {jid} does not exist"),
            ));
        }
        Ok(UserPayload {
            message: "Password changed".to_string(),
            jid: JidScalar(jid),
        })
    }
}

// ---- session ------------------------------------------------------------------------

/// The information about the session
#[derive(SimpleObject)]
pub(crate) struct Session {
    /// The full JID
    user: JidScalar,
    /// The connection type (c2s)
    connection: Option<String>,
    /// The session IP address (not recorded yet: null)
    ip: Option<String>,
    /// The session port (not recorded yet: null)
    port: Option<i32>,
    /// The priority level of the resource
    priority: Option<i32>,
    /// The node that the session belongs to
    node: Option<String>,
    /// The uptime of the session in seconds (not recorded yet: null)
    uptime: Option<i64>,
}

/// Kick user session result
#[derive(SimpleObject)]
pub(crate) struct KickUserResult {
    /// Full JID with username, server and resource
    jid: JidScalar,
    /// Result status
    kicked: bool,
    /// Result code (if failed)
    code: Option<String>,
    /// Result message
    message: String,
}

/// Modify session payload
#[derive(SimpleObject)]
pub(crate) struct SessionPayload {
    /// Full JID with username, server and resource
    jid: JidScalar,
    /// Result message
    message: String,
}

/// Presence type field values
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PresenceType {
    /// The sender is available for communication
    Available,
    /// An error has occurred regarding processing of a previously sent presence stanza
    Error,
    /// A request for an entity's current presence
    Probe,
    /// The sender wishes to subscribe to the recipient's presence
    Subscribe,
    /// The sender has allowed the recipient to receive their presence
    Subscribed,
    /// Signals that the entity is no longer available for communication
    Unavailable,
    /// The sender is unsubscribing from the receiver's presence
    Unsubscribe,
    /// The subscription request has been denied or a previously granted subscription has been
    /// canceled
    Unsubscribed,
}

impl PresenceType {
    /// The `type` attribute; none for available.
    fn attribute(self) -> Option<&'static str> {
        match self {
            PresenceType::Available => None,
            PresenceType::Error => Some("error"),
            PresenceType::Probe => Some("probe"),
            PresenceType::Subscribe => Some("subscribe"),
            PresenceType::Subscribed => Some("subscribed"),
            PresenceType::Unavailable => Some("unavailable"),
            PresenceType::Unsubscribe => Some("unsubscribe"),
            PresenceType::Unsubscribed => Some("unsubscribed"),
        }
    }
}

/// Presence show field values
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PresenceShow {
    /// The entity or resource is online
    Online,
    /// The entity or resource is temporarily away
    Away,
    /// The entity or resource is actively interested in chatting
    Chat,
    /// The entity or resource is busy
    Dnd,
    /// The entity or resource is away for an extended period
    Xa,
}

impl PresenceShow {
    /// The `<show/>` text; none for online.
    fn text(self) -> Option<&'static str> {
        match self {
            PresenceShow::Online => None,
            PresenceShow::Away => Some("away"),
            PresenceShow::Chat => Some("chat"),
            PresenceShow::Dnd => Some("dnd"),
            PresenceShow::Xa => Some("xa"),
        }
    }
}

/// Allow admin to get information about sessions.
pub(crate) struct SessionAdminQuery;

#[Object]
impl SessionAdminQuery {
    /// Get the list of established sessions for a specified domain or globally
    async fn list_sessions(
        &self,
        ctx: &Context<'_>,
        domain: Option<DomainName>,
    ) -> Result<Vec<Session>> {
        let api = api(ctx)?;
        let domain = api.optional_domain(domain)?;
        let sessions = api.sessions(domain.as_deref())?;
        Ok(sessions
            .iter()
            .map(|entry| api.session_object(entry))
            .collect())
    }

    /// Get the number of established sessions for a specified domain or globally
    async fn count_sessions(&self, ctx: &Context<'_>, domain: Option<DomainName>) -> Result<i64> {
        let api = api(ctx)?;
        let count = match api.optional_domain(domain)? {
            Some(domain) => api.sessions(Some(&domain))?.len(),
            None => api
                .context
                .router
                .sessions()
                .count()
                .map_err(|reason| error(ErrorCode::InternalError, reason.to_string()))?,
        };
        Ok(i64::try_from(count).unwrap_or(i64::MAX))
    }

    /// Get information about all sessions of a user
    async fn list_user_sessions(&self, ctx: &Context<'_>, user: JidScalar) -> Result<Vec<Session>> {
        let api = api(ctx)?;
        let (domain, username) = api.account(&user.0)?;
        let bare = BareJid::new(Some(&username), &domain)
            .map_err(|reason| error(ErrorCode::BadRequest, reason.to_string()))?;
        Ok(api
            .user_sessions(&bare)?
            .iter()
            .map(|entry| api.session_object(entry))
            .collect())
    }

    /// Get the number of resources of a user
    async fn count_user_resources(&self, ctx: &Context<'_>, user: JidScalar) -> Result<i64> {
        let api = api(ctx)?;
        let (domain, username) = api.account(&user.0)?;
        let bare = BareJid::new(Some(&username), &domain)
            .map_err(|reason| error(ErrorCode::BadRequest, reason.to_string()))?;
        Ok(i64::try_from(api.user_sessions(&bare)?.len()).unwrap_or(i64::MAX))
    }
}

/// Allow admin to manage sessions.
pub(crate) struct SessionAdminMutation;

#[Object]
impl SessionAdminMutation {
    /// Kick the sessions of a user (bare JID), or one session (full JID)
    async fn kick_user(
        &self,
        ctx: &Context<'_>,
        user: JidScalar,
        reason: Option<String>,
    ) -> Result<Vec<KickUserResult>> {
        let api = api(ctx)?;
        let jid = api.jid(&user.0)?;
        api.account(&user.0)?;
        let reason = reason.unwrap_or_else(|| KICK_REASON_DEFAULT.to_string());
        let sessions = api.user_sessions(jid.bare())?;
        Ok(sessions
            .iter()
            .filter(|entry| jid.resource().is_none() || entry.jid == jid)
            .map(|entry| api.kick(entry, &reason))
            .collect())
    }

    /// Kick a user session. User JID must contain resource
    async fn kick_user_session(
        &self,
        ctx: &Context<'_>,
        user: JidScalar,
        reason: Option<String>,
    ) -> Result<KickUserResult> {
        let api = api(ctx)?;
        let jid = api.jid(&user.0)?;
        api.account(&user.0)?;
        if jid.resource().is_none() {
            return Err(error(
                ErrorCode::BadRequest,
                format!("{jid} is not a full JID (user@domain/resource)"),
            ));
        }
        let reason = reason.unwrap_or_else(|| KICK_REASON_DEFAULT.to_string());
        let sessions = api.user_sessions(jid.bare())?;
        let Some(entry) = sessions
            .iter()
            .filter(|entry| entry.jid == jid)
            .max_by_key(|entry| entry.sid)
        else {
            return Err(error(
                ErrorCode::NoSession,
                format!("No active session for {jid}"),
            ));
        };
        Ok(api.kick(entry, &reason))
    }

    /// Set presence of a session. User JID should contain resource
    async fn set_presence(
        &self,
        ctx: &Context<'_>,
        user: JidScalar,
        #[graphql(name = "type")] presence_type: PresenceType,
        show: Option<PresenceShow>,
        status: Option<String>,
        priority: Option<i32>,
    ) -> Result<SessionPayload> {
        let api = api(ctx)?;
        let jid = api.jid(&user.0)?;
        api.account(&user.0)?;
        let priority = priority
            .map(|priority| {
                i8::try_from(priority).map_err(|_| {
                    error(
                        ErrorCode::BadRequest,
                        format!("priority {priority} is out of -128..=127"),
                    )
                })
            })
            .transpose()?;
        let sessions = api.user_sessions(jid.bare())?;
        let Some(entry) = sessions
            .iter()
            .filter(|entry| entry.jid == jid)
            .max_by_key(|entry| entry.sid)
        else {
            return Err(error(
                ErrorCode::NoSession,
                format!("No active session for {jid}"),
            ));
        };
        let mut presence = Element::new("presence", NS_CLIENT).with_attr("from", jid.to_string());
        if let Some(presence_type) = presence_type.attribute() {
            presence.set_attr("type", presence_type);
        }
        if let Some(show) = show.and_then(PresenceShow::text) {
            presence.push_child(Element::new("show", NS_CLIENT).with_text(show));
        }
        if let Some(status) = status {
            presence.push_child(Element::new("status", NS_CLIENT).with_text(status));
        }
        if let Some(priority) = priority {
            presence
                .push_child(Element::new("priority", NS_CLIENT).with_text(priority.to_string()));
        }
        let sender = ClientSession {
            jid: entry.jid.clone(),
            sid: entry.sid,
        };
        api.context
            .router
            .route_from_client(&sender, presence)
            .await;
        Ok(SessionPayload {
            jid: JidScalar(jid.to_string()),
            message: "Presence set successfully".to_string(),
        })
    }
}

// ---- stanza -------------------------------------------------------------------------

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

// ---- stat ---------------------------------------------------------------------------

/// Statistics of the whole server (one node, so far)
#[derive(SimpleObject)]
pub(crate) struct GlobalStats {
    /// Uptime of the node
    uptime_seconds: Option<i64>,
    /// Number of registered users
    registered_users: Option<i64>,
    /// Number of online users on the node
    online_users_node: Option<i64>,
    /// Number of online users
    online_users: Option<i64>,
    /// Number of all incoming s2s connections (no s2s yet: 0)
    #[graphql(name = "incomingS2S")]
    incoming_s2s: Option<i64>,
    /// Number of all outgoing s2s connections (no s2s yet: 0)
    #[graphql(name = "outgoingS2S")]
    outgoing_s2s: Option<i64>,
}

/// Statistics of one domain
#[derive(SimpleObject)]
pub(crate) struct DomainStats {
    /// Number of registered users on a given domain
    registered_users: Option<i64>,
    /// Number of online users on a given domain
    online_users: Option<i64>,
}

/// Allow admin to get statistics
pub(crate) struct StatsAdminQuery;

fn count(value: usize) -> Option<i64> {
    Some(i64::try_from(value).unwrap_or(i64::MAX))
}

#[Object]
impl StatsAdminQuery {
    /// Get statistics of the server
    async fn global_stats(&self, ctx: &Context<'_>) -> Result<GlobalStats> {
        let api = api(ctx)?;
        let mut registered: u64 = 0;
        for domain in api.context.router.domains() {
            registered += api
                .context
                .storage
                .count_users(domain)
                .await
                .map_err(storage_error)?;
        }
        let online = api
            .context
            .router
            .sessions()
            .count()
            .map_err(|reason| error(ErrorCode::InternalError, reason.to_string()))?;
        let uptime = api.context.started_at.elapsed().as_secs();
        Ok(GlobalStats {
            uptime_seconds: Some(i64::try_from(uptime).unwrap_or(i64::MAX)),
            registered_users: Some(i64::try_from(registered).unwrap_or(i64::MAX)),
            online_users_node: count(online),
            online_users: count(online),
            incoming_s2s: Some(0),
            outgoing_s2s: Some(0),
        })
    }

    /// Get statistics from a specific domain
    async fn domain_stats(&self, ctx: &Context<'_>, domain: DomainName) -> Result<DomainStats> {
        let api = api(ctx)?;
        let domain = api.served_domain(&domain.0)?;
        let registered = api
            .context
            .storage
            .count_users(&domain)
            .await
            .map_err(storage_error)?;
        Ok(DomainStats {
            registered_users: Some(i64::try_from(registered).unwrap_or(i64::MAX)),
            online_users: count(api.sessions(Some(&domain))?.len()),
        })
    }
}

// ---- server -------------------------------------------------------------------------

/// Specifies status of the server
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusCode {
    /// Server is running
    Running,
    /// Server is not running
    NotRunning,
}

/// Status of the server
#[derive(SimpleObject)]
pub(crate) struct Status {
    /// Code of the status
    status_code: Option<StatusCode>,
    /// Message about the status
    message: Option<String>,
    /// Bream version
    version: Option<String>,
    /// The hash of the commit that Bream is running (not recorded: null)
    commit_hash: Option<String>,
}

/// Logs events that equally or more severe than the configured level
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    /// Do not log any events
    None,
    /// Log when system is unusable
    Emergency,
    /// Log when action must be taken immediately
    Alert,
    /// Log critical conditions
    Critical,
    /// Log error conditions
    Error,
    /// Log warning conditions
    Warning,
    /// Log normal but significant conditions
    Notice,
    /// Log informational messages
    Info,
    /// Log debug messages
    Debug,
    /// Log everything
    All,
}

impl From<ConfigLogLevel> for LogLevel {
    fn from(level: ConfigLogLevel) -> Self {
        match level {
            ConfigLogLevel::None => LogLevel::None,
            ConfigLogLevel::Emergency => LogLevel::Emergency,
            ConfigLogLevel::Alert => LogLevel::Alert,
            ConfigLogLevel::Critical => LogLevel::Critical,
            ConfigLogLevel::Error => LogLevel::Error,
            ConfigLogLevel::Warning => LogLevel::Warning,
            ConfigLogLevel::Notice => LogLevel::Notice,
            ConfigLogLevel::Info => LogLevel::Info,
            ConfigLogLevel::Debug => LogLevel::Debug,
            ConfigLogLevel::All => LogLevel::All,
        }
    }
}

impl From<LogLevel> for ConfigLogLevel {
    fn from(level: LogLevel) -> Self {
        match level {
            LogLevel::None => ConfigLogLevel::None,
            LogLevel::Emergency => ConfigLogLevel::Emergency,
            LogLevel::Alert => ConfigLogLevel::Alert,
            LogLevel::Critical => ConfigLogLevel::Critical,
            LogLevel::Error => ConfigLogLevel::Error,
            LogLevel::Warning => ConfigLogLevel::Warning,
            LogLevel::Notice => ConfigLogLevel::Notice,
            LogLevel::Info => ConfigLogLevel::Info,
            LogLevel::Debug => ConfigLogLevel::Debug,
            LogLevel::All => ConfigLogLevel::All,
        }
    }
}

/// Allow admin to acquire data about the node
pub(crate) struct ServerAdminQuery;

#[Object]
impl ServerAdminQuery {
    /// Get the status of the server
    async fn status(&self) -> Status {
        Status {
            status_code: Some(StatusCode::Running),
            message: Some("The server is running".to_string()),
            version: Some(env!("CARGO_PKG_VERSION").to_string()),
            commit_hash: None,
        }
    }

    /// Get the node's current log level
    async fn get_loglevel(&self, ctx: &Context<'_>) -> Result<LogLevel> {
        Ok(api(ctx)?.context.loglevel.get().into())
    }
}

/// Allow admin to manage the node
pub(crate) struct ServerAdminMutation;

#[Object]
impl ServerAdminMutation {
    /// Set the node's log level (not_supported without a reloadable log filter)
    async fn set_loglevel(&self, ctx: &Context<'_>, level: LogLevel) -> Result<String> {
        let api = api(ctx)?;
        api.context
            .loglevel
            .set(level.into())
            .map_err(|reason| error(ErrorCode::NotSupported, reason))?;
        tracing::info!(?level, "log level set by the admin API");
        Ok("Log level successfully set.".to_string())
    }

    /// Stop the node
    async fn stop(&self, ctx: &Context<'_>) -> Result<String> {
        let api = api(ctx)?;
        tracing::info!("stop requested by the admin API");
        api.stop.send_replace(true);
        Ok("Stop scheduled".to_string())
    }

    /// Leave the cluster: a graceful stop of this node (clients are told
    /// `system-shutdown` and reconnect to the others; the node leaves the
    /// tables and the registry). Bream has no running-but-detached state.
    async fn leave_cluster(&self, ctx: &Context<'_>) -> Result<String> {
        let api = api(ctx)?;
        if api.context.cluster.is_none() {
            return Err(error(
                ErrorCode::NotSupported,
                "this node runs alone: [internal_databases.cets] is not configured",
            ));
        }
        tracing::info!("leaving the cluster, requested by the admin API");
        api.stop.send_replace(true);
        Ok(format!(
            "The node {} is leaving the cluster",
            api.context.node_name
        ))
    }
}
