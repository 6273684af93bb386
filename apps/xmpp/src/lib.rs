//! bream-xmpp.
