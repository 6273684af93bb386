//! Where a stream management id leads: the [`SmRegistry`] trait, and its one-node
//! implementation [`LocalSmRegistry`].
//!
//! A resuming client sends only `previd`; the registry answers with the session it names
//! (its full JID and session id, plain data) or, within MongooseIM's `stale_h` memory, the
//! `h` of a session that timed out. The caller then finds the session in the session table
//! and asks it to hand itself over ([`crate::router::SessionControl::take_over`]).
//!
//! Why a trait: DESIGN.md's direction is that SM ids become node-owned records in a
//! replicated table, so that a client resuming on another node finds the session's node.
//! That is why a record holds no actor reference and reads are synchronous (a local copy, as
//! the session table's reads are) while writes are futures (a replicated write answers once
//! every node has it). This module has the local implementation; the cluster's is
//! `crate::cluster::sm` (`ReplicatedSmRegistry`), which also finds mirrors of sessions whose
//! node died ([`SmRegistry::take_over_mirrored`], [`SmRegistry::mirror`]).
//!
//! Bounds: live records are one per resumable session, so they are bounded by
//! `sessions_max`; the stale memory holds at most [`STALE_H_ENTRIES_MAX`] entries (the oldest
//! go first) and each for at most `stale_h.geriatric`. Expired entries are purged on access,
//! at most once per `stale_h.repeat_after`, rather than by a timer task: an entry past its
//! age is never answered even before it is purged.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use futures::future::BoxFuture;
use parking_lot::Mutex;

use super::sm::{ResumableState, SmId, StaleH};
use super::sm_mirror::SmMirror;
use crate::jid::{BareJid, Jid};
use crate::router::{SessionHandle, SessionId, TakeoverError};

/// Stale `h` values kept at most (the oldest are forgotten first): 100 000 entries of about
/// 150 bytes each.
pub const STALE_H_ENTRIES_MAX: usize = 100_000;

/// The record of one resumable session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmRecord {
    /// The bound full JID.
    pub jid: Jid,
    /// The session id.
    pub sid: SessionId,
}

/// What an id leads to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SmLookup {
    /// A session that can be resumed (if it belongs to the one asking).
    Live(SmRecord),
    /// A session that timed out; the `h` it had handled (`stale_h`).
    Stale {
        /// Whose session it was.
        user: BareJid,
        /// Stanzas it had handled from the client.
        h: u32,
    },
    /// Nothing (never issued, expired, or forgotten).
    Unknown,
}

/// Why the registry did not answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SmRegistryError {
    /// The backend failed.
    #[error("stream management registry unavailable: {0}")]
    Unavailable(String),
}

/// Stream management ids → sessions. See the [module documentation](self).
pub trait SmRegistry: Send + Sync + 'static {
    /// Records that `id` resumes `record`'s session.
    fn register(&self, id: SmId, record: SmRecord) -> BoxFuture<'_, Result<(), SmRegistryError>>;
    /// What `id` leads to, now.
    fn lookup(&self, id: &SmId) -> SmLookup;
    /// The session of `id` ended for real: forget it, remembering `stale_h` (its handled
    /// count) if the registry keeps stale values. Only the record of `sid` is removed (a
    /// newer holder of the id is left alone).
    fn unregister<'a>(
        &'a self,
        id: &'a SmId,
        sid: SessionId,
        stale_h: Option<u32>,
    ) -> BoxFuture<'a, Result<(), SmRegistryError>>;
    /// `id` leads to a session the session table no longer has (its node died): take its
    /// state over from a mirror of it on another node (`buffer_replicas`), for `by`.
    ///
    /// The default has no mirrors: [`TakeoverError::Unsupported`].
    fn take_over_mirrored<'a>(
        &'a self,
        id: &'a SmId,
        by: SessionHandle,
    ) -> BoxFuture<'a, Result<ResumableState, TakeoverError>> {
        let _ = (id, by);
        Box::pin(std::future::ready(Err(TakeoverError::Unsupported)))
    }
    /// Where sessions mirror their state, if anywhere. The default: nowhere.
    fn mirror(&self) -> Option<&dyn SmMirror> {
        None
    }
}

/// [`SmRegistry`] in this process's memory. See the [module documentation](self).
#[derive(Debug)]
pub struct LocalSmRegistry {
    inner: Mutex<Inner>,
    stale_h: Option<StaleH>,
}

#[derive(Debug, Default)]
struct Inner {
    live: HashMap<SmId, SmRecord>,
    stale: StaleMemory,
}

impl LocalSmRegistry {
    /// An empty registry; `stale_h` as configured (`None`: no stale memory).
    pub fn new(stale_h: Option<StaleH>) -> LocalSmRegistry {
        LocalSmRegistry {
            inner: Mutex::new(Inner::default()),
            stale_h,
        }
    }

    /// Live records (for tests and metrics).
    pub fn live_count(&self) -> usize {
        self.inner.lock().live.len()
    }
}

impl SmRegistry for LocalSmRegistry {
    fn register(&self, id: SmId, record: SmRecord) -> BoxFuture<'_, Result<(), SmRegistryError>> {
        self.inner.lock().live.insert(id, record);
        Box::pin(std::future::ready(Ok(())))
    }

    fn lookup(&self, id: &SmId) -> SmLookup {
        let mut inner = self.inner.lock();
        if let Some(record) = inner.live.get(id) {
            return SmLookup::Live(record.clone());
        }
        match self.stale_h {
            Some(stale_h) => inner.stale.lookup(id, Instant::now(), stale_h),
            None => SmLookup::Unknown,
        }
    }

    fn unregister<'a>(
        &'a self,
        id: &'a SmId,
        sid: SessionId,
        stale_h: Option<u32>,
    ) -> BoxFuture<'a, Result<(), SmRegistryError>> {
        let mut inner = self.inner.lock();
        if inner.live.get(id).is_some_and(|record| record.sid == sid) {
            if let Some(record) = inner.live.remove(id) {
                if let (Some(config), Some(h)) = (self.stale_h, stale_h) {
                    let user = record.jid.to_bare();
                    inner
                        .stale
                        .insert(id.clone(), user, h, Instant::now(), config);
                }
            }
        }
        Box::pin(std::future::ready(Ok(())))
    }
}

/// The stale `h` values: a map with an insertion-ordered queue, so that expiry and the size
/// bound both drop from the front. The clock is an input.
#[derive(Debug, Default)]
struct StaleMemory {
    entries: HashMap<SmId, StaleEntry>,
    order: VecDeque<(Instant, SmId)>,
    last_purge: Option<Instant>,
}

#[derive(Debug)]
struct StaleEntry {
    user: BareJid,
    h: u32,
    at: Instant,
}

impl StaleMemory {
    fn insert(&mut self, id: SmId, user: BareJid, h: u32, now: Instant, config: StaleH) {
        self.purge(now, config, false);
        while self.entries.len() >= STALE_H_ENTRIES_MAX {
            let Some((_, oldest)) = self.order.pop_front() else {
                break;
            };
            self.entries.remove(&oldest);
        }
        self.order.push_back((now, id.clone()));
        self.entries.insert(id, StaleEntry { user, h, at: now });
    }

    fn lookup(&mut self, id: &SmId, now: Instant, config: StaleH) -> SmLookup {
        self.purge(now, config, false);
        match self.entries.get(id) {
            Some(entry) if now.saturating_duration_since(entry.at) < config.geriatric => {
                SmLookup::Stale {
                    user: entry.user.clone(),
                    h: entry.h,
                }
            }
            _ => SmLookup::Unknown,
        }
    }

    /// Drops the entries older than `geriatric`, at most once per `repeat_after` unless
    /// `force`.
    fn purge(&mut self, now: Instant, config: StaleH, force: bool) {
        let due = self
            .last_purge
            .is_none_or(|last| now.saturating_duration_since(last) >= config.repeat_after);
        if !(due || force) {
            return;
        }
        self.last_purge = Some(now);
        while let Some((at, _)) = self.order.front() {
            if now.saturating_duration_since(*at) < config.geriatric {
                break;
            }
            if let Some((at, id)) = self.order.pop_front() {
                // Only if the entry is the one queued (an id is never reused, but be exact).
                if self.entries.get(&id).is_some_and(|entry| entry.at == at) {
                    self.entries.remove(&id);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn config() -> StaleH {
        StaleH {
            repeat_after: Duration::from_secs(10),
            geriatric: Duration::from_secs(60),
        }
    }

    fn alice() -> BareJid {
        "alice@localhost".parse::<Jid>().expect("a JID").to_bare()
    }

    #[test]
    fn stale_values_expire_and_are_purged() {
        let start = Instant::now();
        let mut memory = StaleMemory::default();
        let id = SmId::random();
        memory.insert(id.clone(), alice(), 7, start, config());
        assert_eq!(
            memory.lookup(&id, start + Duration::from_secs(59), config()),
            SmLookup::Stale {
                user: alice(),
                h: 7
            }
        );
        // Past geriatric: never answered, purged at the next due purge (the last was at
        // 59 s, repeat_after is 10 s).
        assert_eq!(
            memory.lookup(&id, start + Duration::from_secs(61), config()),
            SmLookup::Unknown
        );
        assert_eq!(memory.entries.len(), 1);
        memory.lookup(&id, start + Duration::from_secs(69), config());
        assert!(memory.entries.is_empty());
        assert_eq!(
            memory.lookup(&SmId::random(), start, config()),
            SmLookup::Unknown
        );
    }

    #[tokio::test]
    async fn live_records_become_stale_on_unregister() {
        let registry = LocalSmRegistry::new(Some(config()));
        let id = SmId::random();
        let jid: Jid = "alice@localhost/phone".parse().expect("a JID");
        let record = SmRecord {
            jid,
            sid: SessionId::from_raw(5),
        };
        registry
            .register(id.clone(), record.clone())
            .await
            .expect("registered");
        assert_eq!(registry.lookup(&id), SmLookup::Live(record));
        // Another session's id is not removed.
        registry
            .unregister(&id, SessionId::from_raw(6), Some(1))
            .await
            .expect("done");
        assert_eq!(registry.live_count(), 1);
        registry
            .unregister(&id, SessionId::from_raw(5), Some(3))
            .await
            .expect("done");
        assert_eq!(
            registry.lookup(&id),
            SmLookup::Stale {
                user: alice(),
                h: 3
            }
        );
        let without = LocalSmRegistry::new(None);
        assert_eq!(without.lookup(&id), SmLookup::Unknown);
    }
}
