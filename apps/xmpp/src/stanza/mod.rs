//! Stanza-level protocol types shared by the session core and the feature
//! modules. For now: [`error`], the stream and stanza error conditions of
//! RFC 6120 and the XML they are sent as.

pub mod error;
