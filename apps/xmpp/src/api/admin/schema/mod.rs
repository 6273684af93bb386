//! The admin schema: MongooseIM 6's type, field and argument names
//! (`priv/graphql/schemas/admin/*.gql`), resolved against the [`AdminContext`].
//!
//! This module holds the roots, [`AdminQuery`] and [`AdminMutation`], whose fields are the
//! categories, and the argument checks every category shares. Each category is its own
//! module, as MongooseIM's schema files: [`account`], [`session`], [`stanza`], [`roster`],
//! [`stat`], [`server`] and [`cets`]; [`debug`] is Bream's own.
//!
//! Every argument from the request is checked here and refused with an error value carrying
//! an [`ErrorCode`]; nothing a request sends can panic a resolver.

mod account;
mod cets;
mod debug;
mod roster;
mod server;
mod session;
mod stanza;
mod stat;

use std::sync::Arc;

use async_graphql::{Context, EmptySubscription, Object, Schema};
use tokio::sync::watch;

use super::AdminContext;
use crate::api::graphql::{error, storage_error, DomainName, Result};
use crate::api::ErrorCode;
use crate::jid::{normalize_domain, BareJid, Jid};
use crate::router::SessionEntry;

/// The admin schema type.
pub type AdminSchema = Schema<AdminQuery, AdminMutation, EmptySubscription>;

/// The deepest query accepted: the admin schema is four levels deep.
const QUERY_DEPTH_MAX: usize = 16;

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

/// The context, for the categories that need nothing else (`cets`).
fn api_context<'a>(ctx: &Context<'a>) -> Result<&'a AdminContext> {
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

    async fn set_password(&self, domain: &str, username: &str, password: String) -> Result<()> {
        let settings = self.context.password.clone();
        crate::api::graphql::set_password(
            &self.context.storage,
            settings,
            domain,
            username,
            password,
        )
        .await
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

    /// The session of the full JID `jid` (the newest, should two share it for a moment);
    /// `no_session` when there is none.
    fn session_of(&self, jid: &Jid) -> Result<SessionEntry> {
        self.user_sessions(jid.bare())?
            .into_iter()
            .filter(|entry| entry.jid == *jid)
            .max_by_key(|entry| entry.sid)
            .ok_or_else(|| error(ErrorCode::NoSession, format!("No active session for {jid}")))
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
                    return Err(crate::api::graphql::user_not_found(jid.to_bare()));
                }
            }
        }
        Ok(jid)
    }
}

// ---- roots --------------------------------------------------------------------------

/// Every admin query, by category.
pub struct AdminQuery;

#[Object]
impl AdminQuery {
    /// Account management
    async fn account(&self) -> account::AccountAdminQuery {
        account::AccountAdminQuery
    }
    /// User session management
    async fn session(&self) -> session::SessionAdminQuery {
        session::SessionAdminQuery
    }
    /// User roster/contacts management
    async fn roster(&self) -> roster::RosterAdminQuery {
        roster::RosterAdminQuery
    }
    /// Server statistics
    async fn stat(&self) -> stat::StatsAdminQuery {
        stat::StatsAdminQuery
    }
    /// Server info and management
    async fn server(&self) -> server::ServerAdminQuery {
        server::ServerAdminQuery
    }
    /// The cluster's nodes and replicated tables
    async fn cets(&self) -> cets::CetsAdminQuery {
        cets::CetsAdminQuery
    }
    /// The node's supervision tree (needs [debug] fault_injection)
    async fn debug(&self) -> debug::DebugAdminQuery {
        debug::DebugAdminQuery
    }
}

/// Every admin mutation, by category.
pub struct AdminMutation;

#[Object]
impl AdminMutation {
    /// Account management
    async fn account(&self) -> account::AccountAdminMutation {
        account::AccountAdminMutation
    }
    /// User session management
    async fn session(&self) -> session::SessionAdminMutation {
        session::SessionAdminMutation
    }
    /// User roster/contacts management
    async fn roster(&self) -> roster::RosterAdminMutation {
        roster::RosterAdminMutation
    }
    /// Sending stanzas
    async fn stanza(&self) -> stanza::StanzaAdminMutation {
        stanza::StanzaAdminMutation
    }
    /// Server info and management
    async fn server(&self) -> server::ServerAdminMutation {
        server::ServerAdminMutation
    }
    /// Fault injection (needs [debug] fault_injection)
    async fn debug(&self) -> debug::DebugAdminMutation {
        debug::DebugAdminMutation
    }
}
