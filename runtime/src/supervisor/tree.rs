//! A supervision tree as data: every supervisor and worker below a root, by path, as OTP's
//! observer shows an application.
//!
//! A process is named by its path of child ids from the root (`root/c2s/c2s_1/listener_0`),
//! which is unique where a bare child id is not. A worker that owns a supervisor it did not
//! start as a child (an application part owning a subtree) can have that subtree grafted under
//! it, so the view still reaches every process.

use std::collections::HashMap;

use ractor::ActorCell;

use super::handle::{SupervisorError, SupervisorRef};
use super::spec::{ChildKind, Strategy};

/// The most children listed under one supervisor: a dynamic supervisor of client sessions may
/// hold tens of thousands. The rest are counted in [`ProcessNode::children_omitted`].
pub const TREE_CHILDREN_MAX: usize = 100;

/// One process of the tree.
#[derive(Clone, Debug)]
pub struct ProcessNode {
    /// The path from the root, ids joined by `/`.
    pub name: String,
    /// Supervisor or worker.
    pub kind: ChildKind,
    /// A supervisor's strategy.
    pub strategy: Option<Strategy>,
    /// Times it was restarted by its supervisor (0 for the root).
    pub restarts: u32,
    /// Its actor, if it runs.
    pub actor: Option<ActorCell>,
    /// Its children (a supervisor's, or a grafted subtree's), in start order.
    pub children: Vec<ProcessNode>,
    /// Children not listed past [`TREE_CHILDREN_MAX`].
    pub children_omitted: usize,
}

impl ProcessNode {
    /// The process at `name`, searching this node and everything below it.
    pub fn find(&self, name: &str) -> Option<&ProcessNode> {
        if self.name == name {
            return Some(self);
        }
        let below_here = name
            .strip_prefix(self.name.as_str())
            .is_some_and(|rest| rest.starts_with('/'));
        if !below_here {
            return None;
        }
        self.children.iter().find_map(|child| child.find(name))
    }

    /// Every process of the tree, this one first, depth first.
    pub fn flatten(&self) -> Vec<&ProcessNode> {
        let mut all = vec![self];
        for child in &self.children {
            all.extend(child.flatten());
        }
        all
    }
}

/// The tree below `root` (named `root_name`); `grafts` maps a worker's path to a subtree it
/// owns.
///
/// Errors: the root does not answer. A supervisor below it that stops answering while it is
/// walked is listed without children.
pub async fn supervision_tree(
    root: &SupervisorRef,
    root_name: &str,
    grafts: &HashMap<String, SupervisorRef>,
) -> Result<ProcessNode, SupervisorError> {
    let (_, strategy) = root.describe().await?;
    let mut node = ProcessNode {
        name: root_name.to_string(),
        kind: ChildKind::Supervisor,
        strategy: Some(strategy),
        restarts: 0,
        actor: Some(root.cell()),
        children: Vec::new(),
        children_omitted: 0,
    };
    // Walked with an explicit stack of (supervisor, index path into `node`): no recursion in
    // async code. A supervisor's children are all listed before any of them is walked.
    let mut pending = vec![(root.clone(), Vec::<usize>::new())];
    while let Some((supervisor, path)) = pending.pop() {
        let Ok(children) = supervisor.which_children().await else {
            continue;
        };
        let Some(parent_name) = descend(&mut node, &path).map(|parent| parent.name.clone()) else {
            continue;
        };
        let omitted = children.len().saturating_sub(TREE_CHILDREN_MAX);
        let mut listed = Vec::new();
        for (index, child) in children.into_iter().take(TREE_CHILDREN_MAX).enumerate() {
            let name = format!("{parent_name}/{}", child.id);
            let below = match (child.kind, &child.actor) {
                (ChildKind::Supervisor, Some(actor)) => {
                    SupervisorRef::from_cell(actor.clone()).await.ok()
                }
                (ChildKind::Worker, Some(_)) => grafts.get(&name).cloned(),
                _ => None,
            };
            let mut entry = ProcessNode {
                name: name.clone(),
                kind: child.kind,
                strategy: None,
                restarts: child.restarts,
                actor: child.actor,
                children: Vec::new(),
                children_omitted: 0,
            };
            let mut child_path = path.clone();
            child_path.push(index);
            if let Some(below) = below {
                if let Ok((subtree_name, strategy)) = below.describe().await {
                    if child.kind == ChildKind::Supervisor {
                        entry.strategy = Some(strategy);
                    } else {
                        // A worker's own subtree: one more level, the subtree's root.
                        entry.children.push(ProcessNode {
                            name: format!("{name}/{subtree_name}"),
                            kind: ChildKind::Supervisor,
                            strategy: Some(strategy),
                            restarts: 0,
                            actor: Some(below.cell()),
                            children: Vec::new(),
                            children_omitted: 0,
                        });
                        child_path.push(0);
                    }
                    pending.push((below, child_path));
                }
            }
            listed.push(entry);
        }
        if let Some(parent) = descend(&mut node, &path) {
            parent.children = listed;
            parent.children_omitted = omitted;
        }
    }
    Ok(node)
}

fn descend<'a>(node: &'a mut ProcessNode, path: &[usize]) -> Option<&'a mut ProcessNode> {
    let mut current = node;
    for index in path {
        current = current.children.get_mut(*index)?;
    }
    Some(current)
}
