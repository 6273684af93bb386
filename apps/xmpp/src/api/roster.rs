//! Rosters for both GraphQL endpoints: MongooseIM's `Contact` type and the roster operations
//! (`priv/graphql/schemas/global/roster.gql`).
//!
//! Changes go through the roster module's own iq handler ([`user_iq`]) rather than to the
//! database directly, so the API changes a roster exactly as the user's client would: the
//! same checks, the same versions, pushes to the sessions that asked for the roster, and the
//! subscriptions cancelled both ways when a contact is deleted. Reading lists the stored items
//! (without the rows kept only for a pending inbound request, as the module hides them).
//!
//! `setMutualSubscription` has no client equivalent (it sets both sides at once, as an
//! administrator's tool): it writes both items with subscription `both`, then asks the module
//! to re-set each item unchanged, which pushes the new state to interested sessions.

use async_graphql::{Enum, SimpleObject};

use crate::api::graphql::{error, parse_jid, storage_error, user_iq, JidScalar, Result};
use crate::api::ErrorCode;
use crate::jid::BareJid;
use crate::modules::roster::{is_hidden, NS_ROSTER};
use crate::router::{IqKind, IqScope, Router};
use crate::storage::{Ask, RosterItem, Storage, Subscription};
use crate::xml::Element;

/// The contact or roster item
#[derive(SimpleObject, Clone, Debug)]
pub struct Contact {
    /// The contact jid
    pub jid: JidScalar,
    /// The contact name
    pub name: Option<String>,
    /// The list of the groups the contact belongs to
    pub groups: Option<Vec<String>>,
    /// The type of the subscription
    pub subscription: Option<ContactSub>,
    /// The type of the ask
    pub ask: Option<ContactAsk>,
}

/// The contact subscription types
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContactSub {
    /// Neither has a subscription to the other's presence
    None,
    /// Both have subscriptions to each other's presence
    Both,
    /// The contact has a subscription to the user's presence
    From,
    /// The user has a subscription to the contact's presence
    To,
}

/// The contact ask types
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContactAsk {
    /// Ask to subscribe (not stored by Bream: shown as OUT)
    Subscribe,
    /// Ask to unsubscribe (not stored by Bream)
    Unsubscribe,
    /// Invitation came in
    In,
    /// Invitation came out
    Out,
    /// Invitations both ways
    Both,
    /// No invitation
    None,
}

/// The mutual subscription actions
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum MutualSubAction {
    /// Add users to contacts with a `both` subscription type
    Connect,
    /// Delete contacts
    Disconnect,
}

impl From<&RosterItem> for Contact {
    fn from(item: &RosterItem) -> Contact {
        Contact {
            jid: JidScalar(item.jid.clone()),
            name: item.name.clone(),
            groups: Some(item.groups.clone()),
            subscription: Some(match item.subscription {
                Subscription::None => ContactSub::None,
                Subscription::To => ContactSub::To,
                Subscription::From => ContactSub::From,
                Subscription::Both => ContactSub::Both,
            }),
            ask: Some(match (item.ask, item.pending_in.is_some()) {
                (Ask::Subscribe, true) => ContactAsk::Both,
                (Ask::Subscribe, false) => ContactAsk::Out,
                (Ask::None, true) => ContactAsk::In,
                (Ask::None, false) => ContactAsk::None,
            }),
        }
    }
}

/// `deps_not_loaded` unless the roster module runs.
fn require_roster(router: &Router) -> Result<()> {
    match router.hooks().iq_handler(IqScope::User, NS_ROSTER) {
        Some(_) => Ok(()),
        None => Err(error(
            ErrorCode::ModuleNotLoaded,
            "The roster module is not enabled ([modules.mod_roster])",
        )),
    }
}

/// A contact argument: a bare JID.
pub(crate) fn contact_jid(contact: &str) -> Result<BareJid> {
    let jid = parse_jid(contact)?;
    if !jid.is_bare() {
        return Err(error(
            ErrorCode::BadRequest,
            format!("Contact {contact:?} must be a bare JID (no resource)"),
        ));
    }
    Ok(jid.to_bare())
}

fn account(user: &BareJid) -> Result<(&str, &str)> {
    match user.local() {
        Some(local) => Ok((user.domain(), local)),
        None => Err(error(
            ErrorCode::BadRequest,
            format!("{user} names no user (no localpart)"),
        )),
    }
}

/// The user's contacts, as the user's roster shows them.
pub(crate) async fn list_contacts(
    storage: &Storage,
    router: &Router,
    user: &BareJid,
) -> Result<Vec<Contact>> {
    require_roster(router)?;
    let (domain, username) = account(user)?;
    let items = storage
        .roster_items(domain, username)
        .await
        .map_err(storage_error)?;
    Ok(items
        .iter()
        .filter(|item| !is_hidden(item))
        .map(Contact::from)
        .collect())
}

/// One contact of the user; `None` when it is not in the roster.
pub(crate) async fn get_contact(
    storage: &Storage,
    router: &Router,
    user: &BareJid,
    contact: &str,
) -> Result<Option<Contact>> {
    require_roster(router)?;
    let contact = contact_jid(contact)?;
    let (domain, username) = account(user)?;
    let item = storage
        .roster_item(domain, username, &contact.to_string())
        .await
        .map_err(storage_error)?;
    Ok(item
        .filter(|item| !is_hidden(item))
        .map(|item| Contact::from(&item)))
}

/// Adds the contact to the user's roster, or renames and regroups it, keeping its
/// subscription (a roster set, RFC 6121 §2.3).
pub(crate) async fn add_contact(
    router: &Router,
    user: &BareJid,
    contact: &str,
    name: Option<String>,
    groups: Option<Vec<String>>,
) -> Result<String> {
    let contact = contact_jid(contact)?;
    let mut item = Element::new("item", NS_ROSTER).with_attr("jid", contact.to_string());
    if let Some(name) = name {
        item.set_attr("name", name);
    }
    for group in groups.unwrap_or_default() {
        item.push_child(Element::new("group", NS_ROSTER).with_text(group));
    }
    let query = Element::new("query", NS_ROSTER).with_child(item);
    user_iq(router, user, user, IqKind::Set, query).await?;
    Ok("Contact added".to_string())
}

/// Removes the contact from the user's roster and cancels the subscriptions both ways
/// (RFC 6121 §2.5). `not_found` when it is not there.
pub(crate) async fn delete_contact(
    router: &Router,
    user: &BareJid,
    contact: &str,
) -> Result<String> {
    let contact = contact_jid(contact)?;
    let item = Element::new("item", NS_ROSTER)
        .with_attr("jid", contact.to_string())
        .with_attr("subscription", "remove");
    let query = Element::new("query", NS_ROSTER).with_child(item);
    user_iq(router, user, user, IqKind::Set, query).await?;
    Ok("Contact deleted".to_string())
}

/// Connects `a` and `b` with subscription `both` each way, or deletes them from each other's
/// rosters. See the module docs.
pub(crate) async fn set_mutual_subscription(
    storage: &Storage,
    router: &Router,
    a: &BareJid,
    b: &BareJid,
    action: MutualSubAction,
) -> Result<String> {
    require_roster(router)?;
    if a == b {
        return Err(error(
            ErrorCode::BadRequest,
            format!("{a} cannot subscribe to itself"),
        ));
    }
    match action {
        MutualSubAction::Connect => {
            for (user, contact) in [(a, b), (b, a)] {
                let (domain, username) = account(user)?;
                let contact = contact.to_string();
                let mut item = storage
                    .roster_item(domain, username, &contact)
                    .await
                    .map_err(storage_error)?
                    .unwrap_or_else(|| RosterItem::new(contact.clone()));
                item.subscription = Subscription::Both;
                item.ask = Ask::None;
                item.pending_in = None;
                storage
                    .upsert_roster_item(domain, username, &item)
                    .await
                    .map_err(storage_error)?;
                // The unchanged roster set is what pushes the new state.
                add_contact(
                    router,
                    user,
                    &contact,
                    item.name.clone(),
                    Some(item.groups.clone()),
                )
                .await?;
            }
            Ok("Mutual subscription set".to_string())
        }
        MutualSubAction::Disconnect => {
            for (user, contact) in [(a, b), (b, a)] {
                match delete_contact(router, user, &contact.to_string()).await {
                    Ok(_) => {}
                    // Already gone (deleting one side may have emptied the other's row).
                    Err(failure)
                        if failure.extensions.as_ref().and_then(|e| e.get("code"))
                            == Some(&async_graphql::Value::from(ErrorCode::NotFound.as_str())) => {}
                    Err(failure) => return Err(failure),
                }
            }
            Ok("Mutual subscription removed".to_string())
        }
    }
}
