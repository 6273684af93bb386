//! One status for a table split into shards: what the joiner and
//! operators read when they ask a sharded table how it is.

use std::collections::BTreeSet;

use super::protocol::{NodeName, ReplicaStatus};

/// Combines the shards' statuses (by shard, at least one): members joined on
/// every shard (a node joined on some shards only is not joined, so
/// the joiner joins it again, which joins the missing shards), peers
/// reachable on any, shard 0's leader, join reference and down history
/// (shard 0 also runs the down handler), the sums of the counts and the
/// most pauses any shard holds.
pub(crate) fn combine(table: &str, statuses: Vec<ReplicaStatus>) -> ReplicaStatus {
    let mut shards = statuses.into_iter();
    let Some(first) = shards.next() else {
        return ReplicaStatus {
            table: table.to_string(),
            node: String::new(),
            members: Vec::new(),
            reachable: Vec::new(),
            leader: String::new(),
            join_ref: 0,
            size: 0,
            pauses: 0,
            queued_writes: 0,
            pending_writes: 0,
            member_disagreements: 0,
            down_history: Vec::new(),
        };
    };
    let mut members: BTreeSet<NodeName> = first.members.iter().cloned().collect();
    let mut reachable: BTreeSet<NodeName> = first.reachable.iter().cloned().collect();
    let mut combined = ReplicaStatus {
        table: table.to_string(),
        ..first
    };
    for shard in shards {
        members.retain(|member| shard.members.contains(member));
        reachable.extend(shard.reachable);
        combined.size += shard.size;
        combined.pauses = combined.pauses.max(shard.pauses);
        combined.queued_writes += shard.queued_writes;
        combined.pending_writes += shard.pending_writes;
        combined.member_disagreements += shard.member_disagreements;
    }
    combined.members = members.into_iter().collect();
    combined.reachable = reachable.into_iter().collect();
    combined
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(members: &[&str], reachable: &[&str], size: usize) -> ReplicaStatus {
        let names = |nodes: &[&str]| nodes.iter().map(|node| node.to_string()).collect();
        ReplicaStatus {
            table: "t#0/2".into(),
            node: "a".into(),
            members: names(members),
            reachable: names(reachable),
            leader: "c".into(),
            join_ref: 9,
            size,
            pauses: 0,
            queued_writes: 0,
            pending_writes: 1,
            member_disagreements: 0,
            down_history: Vec::new(),
        }
    }

    #[test]
    fn a_node_joined_on_some_shards_only_is_not_a_member() {
        let combined = combine(
            "t",
            vec![
                shard(&["b", "c"], &["b", "c"], 3),
                shard(&["b"], &["b", "c", "d"], 4),
            ],
        );
        assert_eq!(combined.table, "t");
        assert_eq!(combined.members, vec!["b"]);
        assert_eq!(combined.reachable, vec!["b", "c", "d"]);
        assert_eq!(combined.size, 7);
        assert_eq!(combined.pending_writes, 2);
        assert_eq!(combined.leader, "c");
    }
}
