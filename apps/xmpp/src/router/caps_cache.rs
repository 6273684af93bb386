//! What the server knows of client capabilities (XEP-0115): the features behind each
//! verification string, learnt once and shared by every session that announces the same
//! string. On one node a bounded map ([`LocalCapsCache`]); in a cluster a replicated table
//! (`crate::cluster`), so a string learnt on one node is known on all.
//!
//! A verification string names a feature set by its hash, so an entry never changes and never
//! needs removing; the local cache is emptied when full (a miss costs one disco#info query).

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;

/// Verification strings the local cache keeps at most.
pub const CAPS_CACHE_MAX: usize = 10_000;

/// The features of a verification string, as the client listed them.
pub type CapsFeatures = Arc<[String]>;

/// The capabilities cache. See the module docs.
pub trait CapsCache: Send + Sync + 'static {
    /// The features behind `ver`, if it was learnt.
    fn get(&self, ver: &str) -> Option<CapsFeatures>;
    /// Records the (verified) features behind `ver`.
    fn insert(&self, ver: &str, features: CapsFeatures);
}

/// [`CapsCache`] in this node's memory.
#[derive(Debug, Default)]
pub struct LocalCapsCache {
    entries: RwLock<HashMap<String, CapsFeatures>>,
}

impl CapsCache for LocalCapsCache {
    fn get(&self, ver: &str) -> Option<CapsFeatures> {
        self.entries.read().get(ver).cloned()
    }

    fn insert(&self, ver: &str, features: CapsFeatures) {
        let mut entries = self.entries.write();
        if entries.len() >= CAPS_CACHE_MAX {
            entries.clear();
        }
        entries.insert(ver.to_owned(), features);
    }
}
