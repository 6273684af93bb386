//! The integration tests of bream-xmpp: one binary (one link on CI), a module per area. They
//! start the real server in-process or the real `bream-xmpp` binary, and talk to it with the
//! test kit's XMPP client (`bream-testkit`), real HTTP and real third-party clients.

mod admin_api;
mod c2s;
mod cli;
mod client_state;
mod cluster;
mod interop;
mod metrics;
mod modules;
mod sessions;
mod sign_in;
mod storage;
mod stream_management;
mod supervision;
mod user_api;
