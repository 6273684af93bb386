//! The cluster's stream management registry: the router-independent [`SmRegistry`] over a
//! replicated ordered set `sm_ids`, so that a client resuming on any node finds its session.
//!
//! Records are keyed `(sm id, node)` and belong to the node they name (the table's
//! node-owned rule drops them everywhere when that node goes down). For one id there can be:
//! - [`SmIdRecord::Live`], written by the node whose session holds the id (at `<enable/>`;
//!   moved by a resumption on another node, which writes its own and deletes the old);
//! - [`SmIdRecord::Mirror`], written by the node that mirrors the session
//!   ([`super::sm_mirror`], `buffer_replicas = 1`): it outlives the owner's death;
//! - [`SmIdRecord::Stale`], written by the owner when the session timed out with `stale_h`
//!   on, so a resumption on any node gets `<failed h=…/>`. Replicated like the others, and
//!   like them lost with the node that wrote it (a resumption after that gets plain
//!   `item-not-found`: what a client gets once `geriatric` passed anyway).
//!
//! A look-up prefers a live record, then a mirror, then a stale one. A live record whose
//! session is gone from the session table (its node died) sends the resumption to the
//! mirror ([`SmRegistry::take_over_mirrored`]), asked through its node's relay.
//!
//! Bounds: live and mirror records are one per resumable (or mirrored) session, bounded by
//! `sessions_max` and [`super::sm_mirror::MIRRORED_SESSIONS_MAX`]. Each node keeps at most
//! [`STALE_H_ENTRIES_MAX`] stale records of its own (the oldest are deleted first), each for
//! at most `stale_h.geriatric` (by the wall clock, as the records cross nodes: a look-up
//! never answers an older one), purged by their node at most once per
//! `stale_h.repeat_after`, on access, as the local registry does.

use std::collections::VecDeque;
use std::ops::Bound;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bream_runtime::node::Node;
use bream_tables::replicated::{Op, ReplicatedTable};
use futures::future::BoxFuture;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::relay::{relay_name, SessionCommand, MIRROR_TAKE_TIMEOUT};
use super::sm_mirror::MirrorService;
use crate::c2s::sm::{ResumableState, SmId, StaleH};
use crate::c2s::sm_mirror::SmMirror;
pub use crate::c2s::sm_registry::STALE_H_ENTRIES_MAX;
use crate::c2s::sm_registry::{SmLookup, SmRecord, SmRegistry, SmRegistryError};
use crate::jid::Jid;
use crate::router::{SessionHandle, SessionId, TakeoverError};

/// The table's name.
pub const SM_TABLE_NAME: &str = "sm_ids";

/// `(sm id, node that wrote the record)`.
pub type SmKey = (String, String);

/// What an id leads to, as one node recorded it. See the module docs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SmIdRecord {
    /// The node's session holds the id.
    Live {
        /// Its full JID.
        jid: String,
        /// Its session id.
        sid: u64,
    },
    /// The node mirrors the session's state.
    Mirror {
        /// Its full JID.
        jid: String,
        /// Its session id.
        sid: u64,
    },
    /// The session timed out.
    Stale {
        /// Whose it was (bare JID).
        user: String,
        /// Stanzas it had handled.
        h: u32,
        /// When it timed out, milliseconds since the Unix epoch.
        at_ms: u64,
    },
}

/// The node-owned rule: a record belongs to the node in its key.
pub(crate) fn owned_by(key: &SmKey, _record: &SmIdRecord, node: &str) -> bool {
    key.1 == node
}

/// [`SmRegistry`] on the replicated `sm_ids` table. See the module docs.
pub struct ReplicatedSmRegistry {
    table: ReplicatedTable<SmKey, SmIdRecord>,
    node: Node,
    stale_h: Option<StaleH>,
    /// This node's stale records, oldest first: the bound and the purge.
    stale: Mutex<StaleOrder>,
    mirrors: Arc<MirrorService>,
    /// Whether this node's sessions mirror themselves (`buffer_replicas = 1`).
    mirroring: bool,
}

#[derive(Debug, Default)]
struct StaleOrder {
    order: VecDeque<(Instant, String)>,
    last_purge: Option<Instant>,
}

impl std::fmt::Debug for ReplicatedSmRegistry {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ReplicatedSmRegistry")
            .field("node", &self.node.name())
            .field("mirroring", &self.mirroring)
            .finish_non_exhaustive()
    }
}

fn unavailable(error: impl std::fmt::Display) -> SmRegistryError {
    SmRegistryError::Unavailable(format!("{SM_TABLE_NAME}: {error}"))
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Every key of `id`: `(id, "")` up to, not including, `(id + "\0", "")` (no string sorts
/// between a string and itself followed by NUL).
fn id_range(id: &SmId) -> (Bound<SmKey>, Bound<SmKey>) {
    (
        Bound::Included((id.as_str().to_owned(), String::new())),
        Bound::Excluded((format!("{}\0", id.as_str()), String::new())),
    )
}

/// Chooses what `records` (all of one id) lead to at `now_ms`: live, then mirror, then
/// stale within `geriatric`.
fn choose(records: &[(SmKey, SmIdRecord)], geriatric: Option<Duration>, now_ms: u64) -> SmLookup {
    let live = |jid: &str, sid: u64| {
        jid.parse::<Jid>().ok().map(|jid| {
            SmLookup::Live(SmRecord {
                jid,
                sid: SessionId::from_raw(sid),
            })
        })
    };
    let found = records
        .iter()
        .find_map(|(_, record)| match record {
            SmIdRecord::Live { jid, sid } => live(jid, *sid),
            _ => None,
        })
        .or_else(|| {
            records.iter().find_map(|(_, record)| match record {
                SmIdRecord::Mirror { jid, sid } => live(jid, *sid),
                _ => None,
            })
        });
    if let Some(found) = found {
        return found;
    }
    let Some(geriatric) = geriatric else {
        return SmLookup::Unknown;
    };
    let geriatric_ms = u64::try_from(geriatric.as_millis()).unwrap_or(u64::MAX);
    records
        .iter()
        .find_map(|(_, record)| match record {
            SmIdRecord::Stale { user, h, at_ms }
                if now_ms.saturating_sub(*at_ms) < geriatric_ms =>
            {
                let user = user.parse::<Jid>().ok()?.to_bare();
                Some(SmLookup::Stale { user, h: *h })
            }
            _ => None,
        })
        .unwrap_or(SmLookup::Unknown)
}

impl ReplicatedSmRegistry {
    pub(crate) fn new(
        table: ReplicatedTable<SmKey, SmIdRecord>,
        node: Node,
        stale_h: Option<StaleH>,
        mirrors: Arc<MirrorService>,
        mirroring: bool,
    ) -> ReplicatedSmRegistry {
        ReplicatedSmRegistry {
            table,
            node,
            stale_h,
            stale: Mutex::new(StaleOrder::default()),
            mirrors,
            mirroring,
        }
    }

    /// The replicated table underneath.
    pub fn replicated(&self) -> &ReplicatedTable<SmKey, SmIdRecord> {
        &self.table
    }

    fn records(&self, id: &SmId) -> Vec<(SmKey, SmIdRecord)> {
        match self.table.table().select_map(id_range(id), |key, record| {
            Some((key.clone(), record.clone()))
        }) {
            Ok(records) => records,
            Err(error) => {
                tracing::error!(%error, "stream management ids unavailable");
                Vec::new()
            }
        }
    }

    fn key(&self, id: &SmId) -> SmKey {
        (id.as_str().to_owned(), self.node.name().to_owned())
    }

    /// This node's stale records past `geriatric` or past [`STALE_H_ENTRIES_MAX`]: deleted,
    /// at most once per `repeat_after` unless the bound is passed.
    fn purge_stale(&self, config: StaleH) {
        let now = Instant::now();
        let expired = {
            let mut stale = self.stale.lock();
            let due = stale
                .last_purge
                .is_none_or(|last| now.saturating_duration_since(last) >= config.repeat_after);
            let mut expired = Vec::new();
            while stale.order.len() > STALE_H_ENTRIES_MAX {
                if let Some((_, id)) = stale.order.pop_front() {
                    expired.push(id);
                }
            }
            if due {
                stale.last_purge = Some(now);
                while let Some((at, _)) = stale.order.front() {
                    if now.saturating_duration_since(*at) < config.geriatric {
                        break;
                    }
                    if let Some((_, id)) = stale.order.pop_front() {
                        expired.push(id);
                    }
                }
            }
            expired
        };
        if expired.is_empty() {
            return;
        }
        // Only stale records: a live one under the same key (never: ids are not reused)
        // would be left alone by the delete_object of the exact record, but the h is not
        // known here, so delete by key and accept that.
        let me = self.node.name().to_owned();
        let keys = expired.into_iter().map(|id| (id, me.clone())).collect();
        if let Err(error) = self.table.write_async(Op::Delete(keys)) {
            tracing::error!(%error, "cannot purge stale stream management ids");
        }
    }
}

impl SmRegistry for ReplicatedSmRegistry {
    fn register(&self, id: SmId, record: SmRecord) -> BoxFuture<'_, Result<(), SmRegistryError>> {
        Box::pin(async move {
            // Live records of the id on other nodes: the session moved here (a resumption).
            let others: Vec<SmKey> = self
                .records(&id)
                .into_iter()
                .filter(|(key, value)| {
                    key.1 != self.node.name() && matches!(value, SmIdRecord::Live { .. })
                })
                .map(|(key, _)| key)
                .collect();
            let value = SmIdRecord::Live {
                jid: record.jid.to_string(),
                sid: record.sid.get(),
            };
            self.table
                .insert(self.key(&id), value)
                .await
                .map_err(unavailable)?;
            if !others.is_empty() {
                self.table.delete_many(others).await.map_err(unavailable)?;
            }
            Ok(())
        })
    }

    fn lookup(&self, id: &SmId) -> SmLookup {
        if let Some(config) = self.stale_h {
            self.purge_stale(config);
        }
        let geriatric = self.stale_h.map(|config| config.geriatric);
        choose(&self.records(id), geriatric, now_ms())
    }

    fn unregister<'a>(
        &'a self,
        id: &'a SmId,
        sid: SessionId,
        stale_h: Option<u32>,
    ) -> BoxFuture<'a, Result<(), SmRegistryError>> {
        Box::pin(async move {
            let key = self.key(id);
            let ours =
                self.table.table().get(&key).map_err(unavailable)?.and_then(
                    |record| match record {
                        SmIdRecord::Live { jid, sid: held } if held == sid.get() => Some(jid),
                        _ => None,
                    },
                );
            let Some(jid) = ours else {
                return Ok(());
            };
            let stale = match (self.stale_h, stale_h, jid.parse::<Jid>()) {
                (Some(config), Some(h), Ok(jid)) => Some((config, h, jid.to_bare().to_string())),
                _ => None,
            };
            match stale {
                Some((config, h, user)) => {
                    let record = SmIdRecord::Stale {
                        user,
                        h,
                        at_ms: now_ms(),
                    };
                    self.table.insert(key, record).await.map_err(unavailable)?;
                    self.stale
                        .lock()
                        .order
                        .push_back((Instant::now(), id.as_str().to_owned()));
                    self.purge_stale(config);
                }
                None => self.table.delete(key).await.map_err(unavailable)?,
            }
            Ok(())
        })
    }

    fn take_over_mirrored<'a>(
        &'a self,
        id: &'a SmId,
        by: SessionHandle,
    ) -> BoxFuture<'a, Result<ResumableState, TakeoverError>> {
        let _ = by;
        Box::pin(async move {
            let mirror = self
                .records(id)
                .into_iter()
                .find(|(_, record)| matches!(record, SmIdRecord::Mirror { .. }))
                .map(|(key, _)| key.1);
            let Some(mirror) = mirror else {
                return Err(TakeoverError::NotResumable);
            };
            let command = SessionCommand::TakeMirror { id: id.clone() };
            self.node
                .call::<_, Result<ResumableState, TakeoverError>>(
                    &relay_name(&mirror),
                    &command,
                    MIRROR_TAKE_TIMEOUT,
                )
                .await
                .map_err(|error| TakeoverError::NoAnswer(format!("mirror on {mirror}: {error}")))?
        })
    }

    fn mirror(&self) -> Option<&dyn SmMirror> {
        self.mirroring.then_some(&*self.mirrors as &dyn SmMirror)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &SmId, node: &str) -> SmKey {
        (id.as_str().to_owned(), node.to_owned())
    }

    fn live(jid: &str, sid: u64) -> SmLookup {
        SmLookup::Live(SmRecord {
            jid: jid.parse().expect("a JID"),
            sid: SessionId::from_raw(sid),
        })
    }

    #[test]
    fn a_live_record_wins_over_a_mirror_and_a_mirror_over_a_stale_h() {
        let id = SmId::random();
        let stale = (
            key(&id, "c"),
            SmIdRecord::Stale {
                user: "alice@localhost".into(),
                h: 4,
                at_ms: 1_000,
            },
        );
        let mirror = (
            key(&id, "b"),
            SmIdRecord::Mirror {
                jid: "alice@localhost/m".into(),
                sid: 2,
            },
        );
        let owner = (
            key(&id, "a"),
            SmIdRecord::Live {
                jid: "alice@localhost/phone".into(),
                sid: 1,
            },
        );
        let hour = Some(Duration::from_secs(3600));
        let all = [stale.clone(), mirror.clone(), owner];
        assert_eq!(choose(&all, hour, 2_000), live("alice@localhost/phone", 1));
        let without_owner = [stale.clone(), mirror];
        assert_eq!(
            choose(&without_owner, hour, 2_000),
            live("alice@localhost/m", 2)
        );
        let alice = "alice@localhost".parse::<Jid>().expect("a JID").to_bare();
        assert_eq!(
            choose(std::slice::from_ref(&stale), hour, 2_000),
            SmLookup::Stale { user: alice, h: 4 }
        );
        // Past geriatric, or without stale_h: nothing.
        assert_eq!(
            choose(std::slice::from_ref(&stale), hour, 1_000 + 3_600_000),
            SmLookup::Unknown
        );
        assert_eq!(
            choose(std::slice::from_ref(&stale), None, 2_000),
            SmLookup::Unknown
        );
        assert_eq!(choose(&[], hour, 0), SmLookup::Unknown);
    }

    #[test]
    fn the_id_range_holds_exactly_that_id_s_keys() {
        let id = SmId::from_client("abc");
        let range = id_range(&id);
        let inside = |key: &SmKey| {
            use std::ops::RangeBounds;
            range.contains(key)
        };
        assert!(inside(&("abc".into(), String::new())));
        assert!(inside(&("abc".into(), "zz@host".into())));
        assert!(!inside(&("abcd".into(), "a".into())));
        assert!(!inside(&("ab".into(), "z".into())));
    }

    #[test]
    fn records_belong_to_the_node_in_their_key() {
        let id = SmId::random();
        let record = SmIdRecord::Mirror {
            jid: "a@b/c".into(),
            sid: 1,
        };
        assert!(owned_by(&key(&id, "n1"), &record, "n1"));
        assert!(!owned_by(&key(&id, "n1"), &record, "n2"));
    }
}
