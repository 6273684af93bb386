//! What a node does for the clients of a node that went down, and what it
//! does when it finds it was the one cut off.
//!
//! **Node down.** Every surviving node drops the dead node's session records
//! from its copy at once (the table's node-owned rule: no message between
//! survivors). Then each one tells *its own* clients: for every dropped
//! session that was available, its contacts (subscription from/both) and the
//! user's other resources get `<presence type='unavailable'/>` from it, on
//! the node where they are connected. Each recipient hears it exactly once,
//! from its own node, and no node sends anything across for it. Messages to
//! those users find no session from then on and go to offline storage.
//! Directed presence the dead sessions had sent is not known outside their
//! node, so its recipients hear nothing (MongooseIM's node cleanup does the
//! same).
//!
//! **Frozen.** A node stopped (SIGSTOP, a VM pause) for longer than the
//! heartbeat deadline has been declared down by the others, who dropped its
//! sessions. When it runs again, its clients' sessions are stale: the rest of
//! the cluster no longer routes to them, and the clients may already have
//! reconnected elsewhere. The node notices the gap in its own clock ticks and
//! closes its sessions with `system-shutdown` (clients reconnect), rather
//! than merging them back as duplicates when the tables join again.
//!
//! Edge: the others count silence from the last heartbeat they got (up to
//! one heartbeat interval before the freeze), this node from its own last
//! clock tick. A freeze just shorter than the deadline may thus be declared
//! by the others and not seen here; the sessions are then merged back when
//! the tables join, and a client that reconnected elsewhere with the same
//! full JID meets the usual "newer wins" rule.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use futures::StreamExt;

use super::sessions::Graveyard;
use crate::jid::{BareJid, Jid};
use crate::modules::presence::Contacts;
use crate::router::{Router, SessionHandle, SessionId};
use crate::stanza::error::{StreamError, StreamErrorCondition};
use crate::xml::{Element, NS_CLIENT};

/// Accounts of dropped sessions whose contacts are looked up at once.
const CONTACT_LOOKUPS_CONCURRENT: usize = 16;

/// How often the freeze detector looks at the clock.
pub const FREEZE_TICK: Duration = Duration::from_millis(250);

type LocalHandles = Arc<parking_lot::Mutex<std::collections::HashMap<SessionId, SessionHandle>>>;

/// The node-down cleanup of one node.
pub(crate) struct Cleanup {
    graveyard: Graveyard,
    local: LocalHandles,
    contacts: Arc<dyn Contacts>,
    router: OnceLock<Weak<Router>>,
}

impl Cleanup {
    pub(crate) fn new(
        graveyard: Graveyard,
        local: LocalHandles,
        contacts: Arc<dyn Contacts>,
    ) -> Arc<Cleanup> {
        Arc::new(Cleanup {
            graveyard,
            local,
            contacts,
            router: OnceLock::new(),
        })
    }

    pub(crate) fn set_router(&self, router: &Arc<Router>) {
        let _ = self.router.set(Arc::downgrade(router));
    }

    /// Tells this node's clients that `node`'s sessions went away.
    pub(crate) async fn node_down(&self, node: &str) {
        let started = Instant::now();
        let records = self.graveyard.lock().remove(node).unwrap_or_default();
        let Some(router) = self.router.get().and_then(Weak::upgrade) else {
            return;
        };
        let dropped = records.len();
        // One contact lookup per account, not per session: a node's sessions
        // are often several resources of fewer accounts.
        let mut by_account: BTreeMap<BareJid, Vec<Jid>> = BTreeMap::new();
        for record in records.iter().filter(|record| record.presence.is_some()) {
            if let Ok(jid) = record.jid.parse::<Jid>() {
                by_account.entry(jid.to_bare()).or_default().push(jid);
            }
        }
        let accounts = by_account.len();
        let told = futures::stream::iter(by_account)
            .map(|(user, jids)| {
                let router = Arc::clone(&router);
                async move { self.tell_contacts(&router, user, &jids).await }
            })
            .buffer_unordered(CONTACT_LOOKUPS_CONCURRENT)
            .fold(0usize, |total, told| async move { total + told })
            .await;
        tracing::info!(
            %node,
            sessions = dropped,
            accounts,
            presences_sent = told,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "sessions of a node that went down cleaned up"
        );
    }

    /// Sends unavailable presence from each of `jids` (sessions of `user`)
    /// to the sessions on this node of `user`'s contacts and of `user`; how
    /// many got one.
    async fn tell_contacts(&self, router: &Router, user: BareJid, jids: &[Jid]) -> usize {
        let mut recipients: Vec<BareJid> = self.contacts.subscribers(&user).await;
        recipients.push(user);
        let mut told = 0;
        for recipient in recipients {
            let Ok(sessions) = router.sessions().user_sessions(&recipient) else {
                continue;
            };
            for entry in sessions.iter().filter(|entry| entry.available) {
                let Some(handle) = self.local.lock().get(&entry.sid).cloned() else {
                    continue;
                };
                for jid in jids {
                    let unavailable = Element::new("presence", NS_CLIENT)
                        .with_attr("type", "unavailable")
                        .with_attr("from", jid.to_string())
                        .with_attr("to", entry.jid.to_string());
                    if handle.deliver(unavailable).is_ok() {
                        told += 1;
                    }
                }
            }
        }
        told
    }

    /// Closes every session of this node: it was frozen past the deadline.
    pub(crate) fn close_stale_sessions(&self, frozen_for: Duration) {
        let handles: Vec<SessionHandle> = self.local.lock().values().cloned().collect();
        tracing::warn!(
            frozen_ms = frozen_for.as_millis() as u64,
            sessions = handles.len(),
            "this node was stopped past the heartbeat deadline: the cluster dropped its sessions; closing them"
        );
        for handle in handles {
            handle.close(
                StreamError::new(StreamErrorCondition::SystemShutdown)
                    .with_text("this node was unreachable; reconnect"),
            );
        }
    }
}

/// Watches this process's clock for a gap longer than `deadline` (the
/// process was stopped) and closes its sessions when it sees one.
pub(crate) fn watch_for_freezes(
    cleanup: Weak<Cleanup>,
    deadline: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut last = Instant::now();
        loop {
            tokio::time::sleep(FREEZE_TICK).await;
            let now = Instant::now();
            let gap = now.duration_since(last);
            last = now;
            let Some(cleanup) = cleanup.upgrade() else {
                return;
            };
            if gap > deadline {
                cleanup.close_stale_sessions(gap);
            }
        }
    })
}
