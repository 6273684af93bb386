//! In-band registration before sign-in (XEP-0077 §3.1), as the c2s stream sees it: a
//! question the session asks of whoever creates accounts, as [`super::Accounts`] is for
//! credentials.
//!
//! The stream machine offers the `<register/>` stream feature where SASL is offered (after
//! TLS on a listener that requires it: a password must not cross in the clear), answers the
//! `get` with the fields (`username`, `password`), and turns a `set` into
//! [`super::stream::Action::Register`]; the session actor asks [`InBandRegistration`] and
//! feeds the answer back. A refusal counts as a failed authentication attempt, so one
//! connection cannot probe usernames or passwords without end; the rules of who may register
//! (access, IP list, rate, password strength) are the implementor's
//! ([`crate::modules::register`]).

use std::net::IpAddr;

use futures::future::BoxFuture;

use crate::stanza::error::StanzaErrorCondition;

/// The registration namespace.
pub const NS_REGISTER: &str = "jabber:iq:register";

/// The registration stream feature's namespace.
pub const NS_REGISTER_FEATURE: &str = "http://jabber.org/features/iq-register";

/// Creates accounts for clients that have not signed in.
pub trait InBandRegistration: Send + Sync + 'static {
    /// Creates `username` on `domain` with `password` for a client at `ip`; the stanza
    /// error condition of a refusal (`forbidden`, `resource-constraint`, `not-acceptable`,
    /// `conflict`, `internal-server-error`).
    fn register<'a>(
        &'a self,
        domain: &'a str,
        username: &'a str,
        password: &'a str,
        ip: IpAddr,
    ) -> BoxFuture<'a, Result<(), StanzaErrorCondition>>;
}
