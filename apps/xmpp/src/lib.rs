//! bream-xmpp: an XMPP server in the spirit of MongooseIM on the Bream runtime. The map of
//! the whole tree, and the path a stanza takes through these modules, is `ARCHITECTURE.md`.
//!
//! The I/O-free protocol layer (no I/O, no clock, nothing spawned):
//! - [`xml`]: element tree, serializer, and the incremental, bounded stream parser that turns
//!   socket bytes into stanzas;
//! - [`jid`]: XMPP addresses (RFC 7622) parsed and normalised;
//! - [`stanza`]: stream and stanza error conditions (RFC 6120) and their XML;
//! - [`sasl`]: server-side SASL mechanisms (PLAIN, SCRAM-SHA-1/256/512) as state machines, and
//!   the SCRAM secrets passwords are stored as;
//! - [`random`]: the random bytes those machines draw, an input like the clock.
//!
//! The server around it:
//! - [`c2s`]: listeners, TLS, the stream state machine and one session actor per connection;
//! - [`router`]: routing between sessions, the session table, hooks for modules;
//! - [`modules`]: the features behind the hooks (roster, presence, offline, vCard, …);
//! - [`storage`]: accounts, rosters, offline messages and the rest in SQL (SQLite or PostgreSQL);
//! - [`cluster`]: the server as a cluster: replicated session table, per-node relays, node-down
//!   cleanup;
//! - [`config`]: the TOML configuration with MongooseIM's sections, every key with a default;
//! - [`server`]: the node's supervision tree, which starts all of the above in dependency order;
//! - [`api`]: the user and admin GraphQL APIs and `ctl`'s client for them;
//! - [`metrics`]: Prometheus metrics and health checks;
//! - [`cli`]: `bream-xmpp start | migrate | ctl …`.

pub mod api;
pub mod c2s;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod jid;
pub mod metrics;
pub mod modules;
pub mod random;
pub mod router;
pub mod sasl;
pub mod server;
pub mod stanza;
pub mod storage;
pub mod xml;
