//! The admin schema's `session` category (MongooseIM's
//! `priv/graphql/schemas/admin/session.gql`): list and count sessions; kick a user or a
//! session; set a session's presence.

use async_graphql::{Context, Enum, Object, SimpleObject};

use super::{api, Api};
use crate::api::graphql::{error, DomainName, JidScalar, Result};
use crate::api::ErrorCode;
use crate::jid::BareJid;
use crate::router::{ClientSession, SessionEntry};
use crate::stanza::error::{StreamError, StreamErrorCondition};
use crate::xml::{Element, NS_CLIENT};

/// What a kicked client is told when no reason is given.
const KICK_REASON_DEFAULT: &str = "Kicked by administrator";

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
        let entry = api.session_of(&jid)?;
        Ok(api.kick(&entry, &reason))
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
        let entry = api.session_of(&jid)?;
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

impl Api {
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

    /// Closes `entry` with `policy-violation` and `reason`; used by `banUser` too.
    pub(super) fn kick(&self, entry: &SessionEntry, reason: &str) -> KickUserResult {
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
