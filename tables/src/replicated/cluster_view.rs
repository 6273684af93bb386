//! A table's member lists as every reachable node sees them, and where they
//! disagree (CETS's `cets_status` conflict tables and conflict nodes).
//!
//! Each node's replica knows only its own member list. To find a
//! disagreement, a server asks the server of the same table (or shard) on
//! every reachable node for its list ([`super::protocol::PeerMsg::StatusRequest`])
//! and gathers the answers into a [`ClusterView`], answering with what it
//! has when the deadline passes (a node that did not answer is listed in
//! [`ClusterView::unanswered`], not guessed at).
//!
//! A peer disagrees with this node when its member list (with itself)
//! differs from ours (with ourselves), as in CETS: during a netsplit, after
//! a half-applied join, or while a node that came up is not joined yet. We
//! also count a peer whose list matches ours but whose join reference does
//! not: both believe they are one group, yet each refuses the other's
//! writes (a join committed on some members only).

use serde::{Deserialize, Serialize};

use super::protocol::{JoinRef, NodeName, ReplicaStatus};

/// One replica's answer: its members and join reference.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaView {
    /// Its node.
    pub node: NodeName,
    /// Its members with itself, sorted.
    pub members: Vec<NodeName>,
    /// Its join reference.
    pub join_ref: JoinRef,
    /// Records in its copy (of this shard).
    pub size: usize,
}

impl ReplicaView {
    /// The view of a replica from its status.
    pub fn of(status: &ReplicaStatus) -> Self {
        Self::new(
            status.node.clone(),
            status.members.clone(),
            status.join_ref,
            status.size,
        )
    }

    /// The view of `node` listing `members` (without itself).
    pub fn new(node: NodeName, mut members: Vec<NodeName>, join_ref: JoinRef, size: usize) -> Self {
        members.push(node.clone());
        members.sort();
        members.dedup();
        ReplicaView {
            node,
            members,
            join_ref,
            size,
        }
    }
}

/// One table (or shard) across the cluster, as gathered by this node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterView {
    /// This node's replica.
    pub local: ReplicaView,
    /// Every reachable peer's replica that answered, sorted by node.
    pub peers: Vec<ReplicaView>,
    /// Reachable peers that did not answer in time (or went down while
    /// asked), sorted.
    pub unanswered: Vec<NodeName>,
}

impl ClusterView {
    /// Peers whose member list, or join reference for the same list,
    /// differs from this node's; sorted.
    pub fn disagreeing_nodes(&self) -> Vec<NodeName> {
        self.peers
            .iter()
            .filter(|peer| {
                peer.members != self.local.members || peer.join_ref != self.local.join_ref
            })
            .map(|peer| peer.node.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(node: &str, members: &[&str], join_ref: JoinRef) -> ReplicaView {
        let members = members.iter().map(|member| member.to_string()).collect();
        ReplicaView::new(node.to_string(), members, join_ref, 0)
    }

    #[test]
    fn peers_agreeing_on_members_and_reference_are_no_disagreement() {
        let cluster = ClusterView {
            local: view("a", &["b", "c"], 7),
            peers: vec![view("b", &["a", "c"], 7), view("c", &["b", "a"], 7)],
            unanswered: Vec::new(),
        };
        assert!(cluster.disagreeing_nodes().is_empty());
    }

    #[test]
    fn a_peer_listing_other_members_or_another_reference_is_a_disagreement() {
        let cluster = ClusterView {
            // a still lists b; b dropped a; c agrees on the list, not the join.
            local: view("a", &["b", "c"], 7),
            peers: vec![view("b", &["c"], 7), view("c", &["a", "b"], 8)],
            unanswered: vec!["d".to_string()],
        };
        assert_eq!(cluster.disagreeing_nodes(), vec!["b", "c"]);
    }

    #[test]
    fn a_lone_node_not_yet_joined_is_a_disagreement() {
        let cluster = ClusterView {
            local: view("a", &["b"], 7),
            peers: vec![view("b", &["a"], 7), view("c", &[], 3)],
            unanswered: Vec::new(),
        };
        assert_eq!(cluster.disagreeing_nodes(), vec!["c"]);
    }
}
