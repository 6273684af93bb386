//! Small apps on the Bream runtime, each a binary: `cargo run -p bream-examples --bin NAME`.
//!
//! - `counter`: a minimal supervised server, driven with call and cast;
//! - `supervision_tree`: a three-level tree under fault injection, printing every exit,
//!   restart and escalation as it happens.
