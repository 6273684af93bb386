//! Integration tests of the runtime: one binary, a module per runtime module.

mod call;
mod discovery;
mod monitor_link;
mod probe;
mod registry;
mod supervisor;
mod supervisor_dynamic;
