//! The integration tests of bream-tables: one binary (one link on CI), a module per area —
//! local tables, the replication protocol as a state machine, and the table servers.

mod replicated_protocol;
mod replicated_server;
mod tables;
