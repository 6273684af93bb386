//! Multi-node and fault-injection tests for Bream, and the node program they start.
//!
//! The test node (`src/bin/bream_test_node.rs`) is one Bream node per OS process; [`harness`]
//! starts such processes, talks to them, and kills, freezes and thaws them for real.

pub mod harness;
pub mod node_setup;
