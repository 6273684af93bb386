//! Rosters and presence subscriptions (RFC 6121 §2–3), with roster
//! versioning (XEP-0237), over [`Storage`]'s `rosterusers` tables.
//!
//! **Roster iqs** (`jabber:iq:roster`, to the user's own bare JID or without
//! `to`; another user's roster is `forbidden`):
//! - `get`: the items, with `ver` when versioning is on; a `ver` equal to the
//!   current version gets an empty result (the client's copy is current); an
//!   older one gets an empty result followed by one push per change since, to
//!   that session only, each with the version of its change (XEP-0237 §4),
//!   unless it is below the roster's horizon
//!   ([`crate::storage::ROSTER_REMOVALS_KEPT`]): then the whole roster.
//!   The asking session becomes *interested* and gets every later push.
//! - `set` with one `<item/>`: adds or updates the contact's name and groups,
//!   keeping its subscription state; `subscription='remove'` deletes it and
//!   cancels the subscriptions both ways (`unsubscribe` and `unsubscribed` to
//!   the contact, §2.5.2). Each change is pushed to the interested sessions.
//!   Errors: not exactly one item, or a group twice, is `bad-request`; a bad
//!   JID, an empty group name, or a name or group longer than
//!   [`ROSTER_TEXT_BYTES_MAX`] is `not-acceptable`; removing an absent item
//!   is `item-not-found`.
//!
//! **Subscriptions**: outbound `subscribe`/`subscribed`/`unsubscribe`/
//! `unsubscribed` from a client (a [`PresenceHook`]) and inbound ones for a
//! local user (an [`InboundHook`]) drive the state machine of RFC 6121
//! Appendix A, written as two pure functions ([`outbound`], [`inbound`], in
//! subscription.rs) so it is tested without a server. Outbound requests are stamped with the
//! user's bare JID (§3.1.2). An inbound request is kept in the contact's row
//! (`pending_in`) until answered and delivered again at each initial
//! presence (§3.1.3); a row kept only for that is hidden from the roster, as
//! MongooseIM hides `ask='in'` rows with no subscription. A `subscribe` from
//! a contact already subscribed is answered `subscribed` by the server.
//! After a user approves (`subscribed`), the contact is sent the user's
//! current presence (by a probe on the contact's behalf, which the presence
//! module answers); after `unsubscribed`, unavailable presence.
//!
//! **Contacts**: [`Roster`] implements [`Contacts`] for the presence module:
//! subscribers are items with `from`/`both`, subscriptions `to`/`both`.
//!
//! Edges: a storage failure answers roster iqs with `internal-server-error`
//! and drops the subscription stanza at hand (logged); a roster item for a
//! user who does not exist cannot be written, so subscriptions to unknown
//! local users are dropped. Rosters are not bounded in size (neither are
//! MongooseIM's); each item is bounded by the stanza size.

mod subscription;

use std::sync::Arc;

use futures::future::BoxFuture;

use super::presence::Contacts;
use super::{account, storage_failed, InitialPresence, Interested};
use crate::jid::{BareJid, Jid};
use crate::router::{
    ClientSession, Flow, HooksBuilder, InboundHook, IqHandler, IqKind, IqRequest, IqResult,
    IqScope, Module, PresenceHook, Router, SessionHook,
};
use crate::stanza::error::{StanzaError, StanzaErrorCondition};
use crate::storage::{Ask, RosterChange, RosterItem, Storage, Subscription};
use crate::xml::{Element, NS_CLIENT};

pub use self::subscription::{
    inbound, is_hidden, outbound, InboundEffect, OutboundEffect, SubscriptionKind,
};

/// The roster namespace, also its disco feature.
pub const NS_ROSTER: &str = "jabber:iq:roster";

/// The longest item name or group name accepted, in bytes (RFC 6121 §2.1.2.3
/// lets a server limit them; MongooseIM's columns are `text`).
pub const ROSTER_TEXT_BYTES_MAX: usize = 1023;

/// The `<item/>` of a roster result or push.
pub fn item_element(item: &RosterItem) -> Element {
    let mut element = Element::new("item", NS_ROSTER)
        .with_attr("jid", item.jid.as_str())
        .with_attr("subscription", item.subscription.name());
    if let Some(name) = &item.name {
        element.set_attr("name", name.as_str());
    }
    if item.ask == Ask::Subscribe {
        element.set_attr("ask", "subscribe");
    }
    for group in &item.groups {
        element.push_child(Element::new("group", NS_ROSTER).with_text(group.as_str()));
    }
    element
}

/// The `<item subscription='remove'/>` of a push for a removed contact.
fn removed_element(jid: &str) -> Element {
    Element::new("item", NS_ROSTER)
        .with_attr("jid", jid)
        .with_attr("subscription", "remove")
}

/// The roster module. See the module docs.
#[derive(Debug)]
pub struct Roster {
    storage: Storage,
    versioning: bool,
    interested: Interested,
}

impl Roster {
    /// A roster over `storage`, offering XEP-0237 versions if `versioning`.
    pub fn new(storage: Storage, versioning: bool) -> Roster {
        Roster {
            storage,
            versioning,
            interested: Interested::default(),
        }
    }

    async fn item(&self, user: &BareJid, contact: &BareJid) -> Option<RosterItem> {
        let (domain, username) = account(user)?;
        let contact = contact.to_string();
        match self.storage.roster_item(domain, username, &contact).await {
            Ok(item) => Some(item.unwrap_or_else(|| RosterItem::new(contact))),
            Err(error) => {
                storage_failed("roster_item", &error);
                None
            }
        }
    }

    /// Stores `item` (or deletes it, if it was a hidden row and is empty
    /// now) and pushes it to the interested sessions if the user sees it.
    async fn save(
        &self,
        router: &Router,
        user: &BareJid,
        before: &RosterItem,
        item: &RosterItem,
    ) -> bool {
        let Some((domain, username)) = account(user) else {
            return false;
        };
        let empty = item.subscription == Subscription::None
            && item.ask == Ask::None
            && item.pending_in.is_none();
        let deleting = empty && is_hidden(before);
        let written = if deleting {
            self.storage
                .delete_roster_item(domain, username, &item.jid)
                .await
                .map(|version| version.unwrap_or(0))
        } else {
            self.storage
                .upsert_roster_item(domain, username, item)
                .await
        };
        match written {
            Ok(version) => {
                if !deleting && !is_hidden(item) {
                    self.push(router, user, item_element(item), version);
                }
                true
            }
            Err(error) => {
                tracing::warn!(%user, contact = item.jid, %error, "roster item not stored");
                false
            }
        }
    }

    /// One change since the client's version as a roster push to the asking resource only
    /// (XEP-0237 §4); a hidden item is a removal to the client.
    fn delta_push(&self, request: &IqRequest, user: &BareJid, change: RosterChange) -> Element {
        let version = change.version();
        let item = match change {
            RosterChange::Item { item, .. } if !is_hidden(&item) => item_element(&item),
            RosterChange::Item { item, .. } => removed_element(&item.jid),
            RosterChange::Removed { jid, .. } => removed_element(&jid),
        };
        let query = Element::new("query", NS_ROSTER)
            .with_attr("ver", version.to_string())
            .with_child(item);
        super::push_iq(user, &request.from, query)
    }

    fn push(&self, router: &Router, user: &BareJid, item: Element, version: u64) {
        let mut query = Element::new("query", NS_ROSTER).with_child(item);
        if self.versioning {
            query.set_attr("ver", version.to_string());
        }
        self.interested.push(router, user, &query);
    }

    async fn get(&self, router: &Router, request: &IqRequest, user: &BareJid) -> IqResult {
        let Some((domain, username)) = account(user) else {
            return Err(StanzaError::new(StanzaErrorCondition::BadRequest));
        };
        self.interested.add(router, &request.from);
        let mut query = Element::new("query", NS_ROSTER);
        if self.versioning {
            let version = self
                .storage
                .roster_version(domain, username)
                .await
                .map_err(|error| storage_failed("roster_version", &error))?;
            let asked = request.payload.attr("ver");
            if asked == Some(version.to_string().as_str()) {
                return Ok(None);
            }
            let since = asked
                .and_then(|asked| asked.parse::<u64>().ok())
                .filter(|&since| since > 0 && since < version);
            if let Some(since) = since {
                let changes = self
                    .storage
                    .roster_changes_since(domain, username, since)
                    .await
                    .map_err(|error| storage_failed("roster_changes_since", &error))?;
                if let Some(changes) = changes {
                    for change in changes {
                        request.send_after_answer(self.delta_push(request, user, change));
                    }
                    return Ok(None);
                }
            }
            query.set_attr("ver", version.to_string());
        }
        let items = self
            .storage
            .roster_items(domain, username)
            .await
            .map_err(|error| storage_failed("roster_items", &error))?;
        for item in items.iter().filter(|item| !is_hidden(item)) {
            query.push_child(item_element(item));
        }
        Ok(Some(query))
    }

    async fn set(&self, router: &Router, request: &IqRequest, user: &BareJid) -> IqResult {
        let bad_request = || StanzaError::new(StanzaErrorCondition::BadRequest);
        let not_acceptable = |why: &str| {
            StanzaError::new(StanzaErrorCondition::NotAcceptable).with_text(why.to_owned())
        };
        let mut items = request.payload.elements();
        let (Some(element), None) = (items.next(), items.next()) else {
            return Err(bad_request().with_text("a roster set has exactly one item"));
        };
        if !element.is("item", NS_ROSTER) {
            return Err(bad_request());
        }
        let contact = element
            .attr("jid")
            .and_then(|jid| jid.parse::<Jid>().ok())
            .filter(Jid::is_bare)
            .ok_or_else(|| not_acceptable("the item's jid is not a valid bare JID"))?
            .to_bare();
        let Some((domain, username)) = account(user) else {
            return Err(bad_request());
        };
        let stored = self
            .storage
            .roster_item(domain, username, &contact.to_string())
            .await
            .map_err(|error| storage_failed("roster_item", &error))?;
        if element.attr("subscription") == Some("remove") {
            let Some(item) = stored else {
                return Err(StanzaError::new(StanzaErrorCondition::ItemNotFound));
            };
            return self.remove(router, user, &contact, item).await;
        }
        let name = element.attr("name").filter(|name| !name.is_empty());
        if name.is_some_and(|name| name.len() > ROSTER_TEXT_BYTES_MAX) {
            return Err(not_acceptable("the item's name is too long"));
        }
        let mut groups: Vec<String> = Vec::new();
        for group in element
            .elements()
            .filter(|child| child.is("group", NS_ROSTER))
        {
            let group = group.text();
            if group.is_empty() || group.len() > ROSTER_TEXT_BYTES_MAX {
                return Err(not_acceptable("a group name is empty or too long"));
            }
            if groups.contains(&group) {
                return Err(bad_request().with_text("a group is named twice"));
            }
            groups.push(group);
        }
        let mut item = stored.unwrap_or_else(|| RosterItem::new(contact.to_string()));
        item.name = name.map(str::to_owned);
        item.groups = groups;
        item.groups.sort_unstable();
        let version = self
            .storage
            .upsert_roster_item(domain, username, &item)
            .await
            .map_err(|error| storage_failed("upsert_roster_item", &error))?;
        self.push(router, user, item_element(&item), version);
        Ok(None)
    }

    async fn remove(
        &self,
        router: &Router,
        user: &BareJid,
        contact: &BareJid,
        item: RosterItem,
    ) -> IqResult {
        let Some((domain, username)) = account(user) else {
            return Err(StanzaError::new(StanzaErrorCondition::BadRequest));
        };
        let version = self
            .storage
            .delete_roster_item(domain, username, &item.jid)
            .await
            .map_err(|error| storage_failed("delete_roster_item", &error))?;
        if !is_hidden(&item) {
            self.push(
                router,
                user,
                removed_element(&item.jid),
                version.unwrap_or(0),
            );
        }
        let subscribed_to = matches!(item.subscription, Subscription::To | Subscription::Both)
            || item.ask == Ask::Subscribe;
        let subscribed_from = matches!(item.subscription, Subscription::From | Subscription::Both)
            || item.pending_in.is_some();
        if subscribed_to {
            route_subscription(router, user, contact, SubscriptionKind::Unsubscribe).await;
        }
        if subscribed_from {
            route_subscription(router, user, contact, SubscriptionKind::Unsubscribed).await;
        }
        Ok(None)
    }

    /// A client sent a subscription stanza to `to`.
    async fn outbound_subscription(
        &self,
        router: &Router,
        sender: &ClientSession,
        kind: SubscriptionKind,
        presence: &Element,
        to: &Jid,
    ) {
        let user = sender.jid.to_bare();
        let contact = to.to_bare();
        let Some(before) = self.item(&user, &contact).await else {
            return;
        };
        let mut item = before.clone();
        let effect = outbound(kind, &mut item);
        if effect.changed {
            self.save(router, &user, &before, &item).await;
        }
        if !effect.route {
            return;
        }
        let mut stamped = presence.clone();
        stamped.set_attr("from", user.to_string());
        stamped.set_attr("to", contact.to_string());
        router.route(stamped).await;
        match kind {
            SubscriptionKind::Subscribed => {
                // §3.1.5: the contact now gets the user's presence: probe the
                // user on the contact's behalf, which the presence module
                // answers with each available resource's presence.
                let probe = Element::new("presence", NS_CLIENT)
                    .with_attr("type", "probe")
                    .with_attr("from", contact.to_string())
                    .with_attr("to", user.to_string());
                router.route(probe).await;
            }
            SubscriptionKind::Unsubscribed if effect.changed => {
                // §3.2.2: and no longer has it.
                let sessions = router.sessions().user_sessions(&user).unwrap_or_default();
                for entry in sessions.iter().filter(|entry| entry.available) {
                    let unavailable = Element::new("presence", NS_CLIENT)
                        .with_attr("type", "unavailable")
                        .with_attr("from", entry.jid.to_string())
                        .with_attr("to", contact.to_string());
                    router.route(unavailable).await;
                }
            }
            _ => {}
        }
    }

    /// A subscription stanza from `from` reached the local user `to`.
    async fn inbound_subscription(
        &self,
        router: &Router,
        kind: SubscriptionKind,
        from: &Jid,
        to: &Jid,
        presence: &Element,
    ) -> Flow {
        let user = to.to_bare();
        let contact = from.to_bare();
        let Some(before) = self.item(&user, &contact).await else {
            return Flow::Stop;
        };
        let mut item = before.clone();
        let status = presence
            .child("status", NS_CLIENT)
            .map(Element::text)
            .unwrap_or_default();
        match inbound(kind, &status, &mut item) {
            InboundEffect::Drop => Flow::Stop,
            InboundEffect::AutoReply => {
                route_subscription(router, &user, &contact, SubscriptionKind::Subscribed).await;
                Flow::Stop
            }
            InboundEffect::Deliver { changed } => {
                if changed && !self.save(router, &user, &before, &item).await {
                    return Flow::Stop;
                }
                Flow::Continue
            }
        }
    }

    /// Delivers the pending inbound requests to a session sending initial
    /// presence (§3.1.3).
    async fn deliver_pending(&self, initial: &InitialPresence) {
        let (domain, username) = initial.account();
        let items = match self.storage.roster_items(domain, username).await {
            Ok(items) => items,
            Err(error) => {
                storage_failed("roster_items", &error);
                return;
            }
        };
        for item in items {
            let Some(status) = &item.pending_in else {
                continue;
            };
            let mut request = Element::new("presence", NS_CLIENT)
                .with_attr("type", "subscribe")
                .with_attr("from", item.jid.as_str())
                .with_attr("to", initial.user.to_string());
            if !status.is_empty() {
                request.push_child(Element::new("status", NS_CLIENT).with_text(status.as_str()));
            }
            let _ = initial.entry.handle.deliver(request);
        }
    }

    async fn contacts_where(
        &self,
        user: &BareJid,
        wanted: impl Fn(Subscription) -> bool,
    ) -> Vec<BareJid> {
        let Some((domain, username)) = account(user) else {
            return Vec::new();
        };
        match self.storage.roster_items(domain, username).await {
            Ok(items) => items
                .into_iter()
                .filter(|item| wanted(item.subscription))
                .filter_map(|item| item.jid.parse::<BareJid>().ok())
                .collect(),
            Err(error) => {
                storage_failed("roster_items", &error);
                Vec::new()
            }
        }
    }
}

/// Routes a server-made subscription stanza from `user`'s bare JID.
async fn route_subscription(
    router: &Router,
    user: &BareJid,
    contact: &BareJid,
    kind: SubscriptionKind,
) {
    let stanza = Element::new("presence", NS_CLIENT)
        .with_attr("type", kind.name())
        .with_attr("from", user.to_string())
        .with_attr("to", contact.to_string());
    router.route(stanza).await;
}

impl Module for Roster {
    fn name(&self) -> &'static str {
        "roster"
    }

    fn register(self: Arc<Self>, hooks: &mut HooksBuilder) {
        if self.versioning {
            // XEP-0237 §2.1.
            hooks.stream_feature(Element::new("ver", "urn:xmpp:features:rosterver"));
        }
        hooks.iq(IqScope::User, NS_ROSTER, self.clone());
        hooks.presence(self.clone());
        hooks.inbound(self.clone());
        hooks.session(self);
    }
}

impl IqHandler for Roster {
    async fn handle_iq(&self, router: &Router, request: &IqRequest) -> IqResult {
        let user = request.own_account()?;
        request.expect_payload("query")?;
        match request.kind {
            IqKind::Get => self.get(router, request, user).await,
            IqKind::Set => self.set(router, request, user).await,
        }
    }
}

impl PresenceHook for Roster {
    async fn user_send_presence(
        &self,
        router: &Router,
        sender: &ClientSession,
        presence: &Element,
    ) -> Flow {
        let presence_type = presence.attr("type");
        let Some(to) = presence.attr("to") else {
            if presence_type.is_none() {
                if let Some(initial) = InitialPresence::of(router, sender) {
                    self.deliver_pending(&initial).await;
                }
            }
            return Flow::Continue;
        };
        let Some(kind) = SubscriptionKind::from_type(presence_type) else {
            return Flow::Continue;
        };
        let Ok(to) = to.parse::<Jid>() else {
            return Flow::Continue;
        };
        self.outbound_subscription(router, sender, kind, presence, &to)
            .await;
        Flow::Stop
    }
}

impl InboundHook for Roster {
    async fn local_stanza(&self, router: &Router, from: &Jid, to: &Jid, stanza: &Element) -> Flow {
        if stanza.name != "presence" {
            return Flow::Continue;
        }
        let Some(kind) = SubscriptionKind::from_type(stanza.attr("type")) else {
            return Flow::Continue;
        };
        self.inbound_subscription(router, kind, from, to, stanza)
            .await
    }
}

impl SessionHook for Roster {
    async fn session_closed(&self, _router: &Router, session: &ClientSession) {
        self.interested.remove(session.sid);
    }
}

impl Contacts for Roster {
    fn subscribers<'a>(&'a self, user: &'a BareJid) -> BoxFuture<'a, Vec<BareJid>> {
        Box::pin(self.contacts_where(user, |subscription| {
            matches!(subscription, Subscription::From | Subscription::Both)
        }))
    }

    fn subscriptions<'a>(&'a self, user: &'a BareJid) -> BoxFuture<'a, Vec<BareJid>> {
        Box::pin(self.contacts_where(user, |subscription| {
            matches!(subscription, Subscription::To | Subscription::Both)
        }))
    }
}
