//! What Bream's tests share, in one place: an actor that does nothing ([`actor`]), free ports
//! ([`ports`]), a database per scenario on
//! SQLite and PostgreSQL with the macro that runs a scenario on both ([`database`]), waits
//! with deadlines ([`wait`]), a guard that kills child processes ([`process`]), tracing set-up
//! ([`logging`]), the Python interpreter of the interop and chart checks, made on first use
//! ([`python`]), and with the feature `xmpp` one XMPP test client and the real server started
//! in-process ([`xmpp`]).
//!
//! Nothing here sleeps a fixed time to synchronise: every wait is for a condition, with a
//! deadline, and says what it waited for when it panics. Test code may panic: these are test
//! helpers, and a panic with a message is how a test fails.

pub mod actor;
pub mod database;
pub mod http;
pub mod logging;
pub mod ports;
pub mod process;
pub mod python;
pub mod wait;
#[cfg(feature = "xmpp")]
pub mod xmpp;

pub use database::{DatabaseFixture, TestDatabase};
pub use http::raw_get;
pub use logging::init_tracing;
pub use ports::{free_addr, free_port};
pub use process::ChildGuard;
pub use wait::{eventually, eventually_sync, DEADLINE};
