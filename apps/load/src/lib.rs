//! `bream-load`: an XMPP load generator in the manner of amoc and Tsung.
//!
//! It speaks plain XMPP over TCP (optional STARTTLS, SASL PLAIN and SCRAM-SHA-1/256, bind,
//! initial presence), so it loads any server: bream-xmpp, ejabberd, Prosody. A run opens C
//! sessions at a login rate from several loopback source addresses, then sends messages
//! between random pairs (each body carries its send time) or holds the sessions idle, and
//! reports login rate and latency, delivered messages/s, message latency percentiles, errors
//! by kind, and — given the server's pid — its memory per session and CPU per login and per
//! message.
//!
//! # Map
//!
//! - [`args`]: the command line, validated into a [`run::Scenario`].
//! - [`run`]: the phases of a run (see its docs for what each measures).
//! - [`client`]: one connection's login, as a sequence of steps under one deadline.
//! - [`scram`]: SCRAM client state machine (RFC 5802), with a salted-password cache.
//! - [`xml`]: stream framing and the few accessors the client needs.
//! - [`stats`]: lock-free latency histogram, error counters.
//! - [`probe`]: `/proc` readings (RSS, CPU time).
//! - [`report`]: the figures, as a table or one JSON object.
//! - [`register`]: creating accounts with a command per account.
//! - [`bench`]: `bench-bream`, issue 6's benchmark against a bream-xmpp it starts.
//!
//! # Limits
//!
//! Every wait has a deadline (login, write, drain, close, registration, server start), every
//! loop a bound in count or time; a session's command queue holds [`run::SESSION_QUEUE_MAX`]
//! commands; a server element may be [`client::ELEMENT_BYTES_MAX`] bytes. Traffic goes only to
//! a loopback server, from loopback source addresses.

pub mod args;
pub mod bench;
pub mod client;
pub mod probe;
pub mod register;
pub mod report;
pub mod run;
pub mod scram;
pub mod stats;
pub mod tls;
pub mod xml;
