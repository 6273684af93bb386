//! The cluster's capabilities cache: the router's [`CapsCache`] over a replicated set keyed
//! by verification string, so what one node learnt of a client's features every node knows.
//! An entry never changes (the string is the hash of the features), so a write is sent and
//! not waited for, and two nodes learning the same string at once write the same value.

use std::sync::Arc;

use bream_tables::replicated::{Op, ReplicatedTable};

use crate::router::caps_cache::{CapsCache, CapsFeatures};

/// The table's name.
pub const CAPS_TABLE_NAME: &str = "caps";

/// [`CapsCache`] on the replicated `caps` table.
#[derive(Clone, Debug)]
pub struct ReplicatedCapsCache {
    table: ReplicatedTable<String, Vec<String>>,
}

impl ReplicatedCapsCache {
    pub(crate) fn new(table: ReplicatedTable<String, Vec<String>>) -> ReplicatedCapsCache {
        ReplicatedCapsCache { table }
    }
}

impl CapsCache for ReplicatedCapsCache {
    fn get(&self, ver: &str) -> Option<CapsFeatures> {
        match self.table.table().get(&ver.to_owned()) {
            Ok(features) => features.map(Arc::from),
            Err(error) => {
                tracing::error!(%error, "caps table unavailable");
                None
            }
        }
    }

    fn insert(&self, ver: &str, features: CapsFeatures) {
        let record = (ver.to_owned(), features.to_vec());
        if let Err(error) = self.table.write_async(Op::Insert(vec![record])) {
            tracing::error!(%error, "caps table unavailable: not shared");
        }
    }
}
