//! A fixed list of nodes, given at start: the same answer on every poll.
//!
//! Useful for tests and for deployments whose members never change. It writes nothing, so
//! [`leave`](Discovery::leave) is a no-op, and it assigns no `node_num`. The list may name this
//! node (the usual case: one list shared by every node's configuration); a poll leaves it out.

use futures::future::{self, BoxFuture, FutureExt};

use super::{check_address, check_node_name, check_setting};
use super::{DiscoveredNode, Discovery, DiscoveryError, DiscoveryPoll};

/// Discovery from a list fixed at construction.
#[derive(Debug, Clone)]
pub struct StaticList {
    own_node_name: String,
    /// The list without this node, so a poll is a clone.
    others: Vec<DiscoveredNode>,
}

impl StaticList {
    /// Makes the backend for node `own_node_name` from `(name, address)` pairs.
    ///
    /// Errors ([`DiscoveryError::InvalidConfig`]): `own_node_name` or a listed name is not
    /// `name@host`, an address is not `host:port`, or a name is listed twice.
    pub fn new<Name, Address>(
        own_node_name: impl Into<String>,
        nodes: impl IntoIterator<Item = (Name, Address)>,
    ) -> Result<Self, DiscoveryError>
    where
        Name: Into<String>,
        Address: Into<String>,
    {
        let own_node_name = own_node_name.into();
        check_setting("node_name", &own_node_name, check_node_name)?;
        let mut others: Vec<DiscoveredNode> = Vec::new();
        let mut own_listed = false;
        for (name, address) in nodes {
            let (name, address) = (name.into(), address.into());
            check_setting("static node name", &name, check_node_name)?;
            check_setting("static node address", &address, check_address)?;
            let duplicate = others.iter().any(|node| node.name == name)
                || (name == own_node_name && own_listed);
            if duplicate {
                return Err(DiscoveryError::InvalidConfig {
                    setting: "static node name",
                    value: name,
                    reason: "listed twice".into(),
                });
            }
            if name == own_node_name {
                own_listed = true;
                continue;
            }
            others.push(DiscoveredNode {
                name,
                address,
                node_num: None,
            });
        }
        Ok(Self {
            own_node_name,
            others,
        })
    }

    /// This node's name, as given.
    pub fn own_node_name(&self) -> &str {
        &self.own_node_name
    }
}

impl Discovery for StaticList {
    /// Returns the list without this node; never fails.
    fn poll(&self) -> BoxFuture<'_, Result<DiscoveryPoll, DiscoveryError>> {
        future::ready(Ok(DiscoveryPoll {
            others: self.others.clone(),
            own_node_num: None,
        }))
        .boxed()
    }

    /// Does nothing: the list is not this node's to change.
    fn leave(&self) -> BoxFuture<'_, Result<(), DiscoveryError>> {
        future::ready(Ok(())).boxed()
    }

    fn describe(&self) -> String {
        "static".to_string()
    }
}
