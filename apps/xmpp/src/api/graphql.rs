//! What both GraphQL schemas use: MongooseIM's scalar types, operation errors with their
//! `extensions.code`, and the few operations both endpoints do the same way (parse a stanza,
//! derive a stored password, ask a module on a user's behalf).
//!
//! Every argument from a request is checked and refused with an error value carrying an
//! [`ErrorCode`]; nothing a request sends can panic a resolver.

use async_graphql::ErrorExtensions;
use serde::{Deserialize, Serialize};

use crate::api::ErrorCode;
use crate::config::auth::Password;
use crate::jid::{BareJid, Jid};
use crate::router::{IqKind, IqRequest, IqScope, Router};
use crate::sasl::secret::PassDetails;
use crate::stanza::error::{StanzaError, StanzaErrorCondition};
use crate::storage::{Storage, StorageError};
use crate::xml::{Element, StreamEvent, StreamParser, NS_CLIENT, NS_STREAMS};

pub(crate) type Result<T> = async_graphql::Result<T>;

/// An operation error with its `extensions.code`.
pub(crate) fn error(code: ErrorCode, message: impl Into<String>) -> async_graphql::Error {
    async_graphql::Error::new(message).extend_with(|_, extensions| {
        extensions.set("code", code.as_str());
    })
}

/// A storage failure as the API reports it: the account errors by their own codes, the rest
/// as `database_error` (logged, since an operator wants to see them).
pub(crate) fn storage_error(error_value: StorageError) -> async_graphql::Error {
    match &error_value {
        StorageError::UserExists { domain, username } => error(
            ErrorCode::UserExists,
            format!("User {username}@{domain} already exists"),
        ),
        StorageError::UserNotFound { domain, username } => {
            user_not_found(format_args!("{username}@{domain}"))
        }
        StorageError::TooLong { .. } => error(ErrorCode::InvalidUsername, error_value.to_string()),
        _ => {
            tracing::warn!(error = %error_value, "GraphQL API: storage failed");
            error(ErrorCode::DatabaseError, error_value.to_string())
        }
    }
}

// ---- scalars ------------------------------------------------------------------------

/// A JID, `user@domain` or `user@domain/resource` (MongooseIM's `JID`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JidScalar(pub String);
async_graphql::scalar!(
    JidScalar,
    "JID",
    "Unique XMPP identifier in the form of node@domain or node@domain/resource"
);

/// A domain name (MongooseIM's `DomainName`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct DomainName(pub String);
async_graphql::scalar!(DomainName, "DomainName", "XMPP domain name");

/// A JID localpart (MongooseIM's `UserName`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct UserName(pub String);
async_graphql::scalar!(UserName, "UserName", "XMPP user name (local part of a JID)");

/// One stanza or element as XML text (MongooseIM's `XmlElement`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct XmlElement(pub String);
async_graphql::scalar!(
    XmlElement,
    "XmlElement",
    "String containing the XML document"
);

// ---- shared operations --------------------------------------------------------------

/// A fresh stanza id: 128 random bits in hex.
pub(crate) fn fresh_id() -> String {
    format!(
        "{:016x}{:016x}",
        rand::random::<u64>(),
        rand::random::<u64>()
    )
}

/// A JID argument, parsed; `bad_request` when it does not parse.
pub(crate) fn parse_jid(jid: &str) -> Result<Jid> {
    jid.parse::<Jid>().map_err(|reason| {
        error(
            ErrorCode::BadRequest,
            format!("Invalid JID {jid:?}: {reason}"),
        )
    })
}

/// One element from XML text, in the `jabber:client` namespace unless it declares another.
pub(crate) fn parse_stanza(text: &str) -> std::result::Result<Element, String> {
    let mut parser = StreamParser::new();
    parser.feed(
        format!("<stream:stream xmlns='{NS_CLIENT}' xmlns:stream='{NS_STREAMS}'>").as_bytes(),
    );
    parser.feed(text.as_bytes());
    match parser.next_event() {
        Ok(Some(StreamEvent::StreamStart(_))) => {}
        Ok(other) => return Err(format!("unexpected {other:?}")),
        Err(reason) => return Err(reason.to_string()),
    }
    let stanza = match parser.next_event() {
        Ok(Some(StreamEvent::Stanza(stanza))) => stanza,
        Ok(Some(StreamEvent::StreamEnd)) | Ok(Some(StreamEvent::StreamStart(_))) => {
            return Err("not a stanza".to_string())
        }
        Ok(None) => return Err("no complete element".to_string()),
        Err(reason) => return Err(reason.to_string()),
    };
    match parser.next_event() {
        Ok(None) => Ok(stanza),
        Ok(Some(_)) => Err("more than one element".to_string()),
        Err(reason) => Err(reason.to_string()),
    }
}

/// The stored secrets for a new password, derived off the async threads (PBKDF2 with
/// thousands of iterations per hash). `invalid_password` when the profile refuses it.
pub(crate) async fn derive_password(settings: Password, password: String) -> Result<PassDetails> {
    let derived = tokio::task::spawn_blocking(move || settings.derive(&password))
        .await
        .map_err(|join| error(ErrorCode::InternalError, join.to_string()))?;
    derived.map_err(|reason| {
        error(
            ErrorCode::InvalidPassword,
            format!("Invalid password: {reason}"),
        )
    })
}

/// `user_not_found` for `jid`.
pub(crate) fn user_not_found(jid: impl std::fmt::Display) -> async_graphql::Error {
    error(
        ErrorCode::UserNotFound,
        format!("User {jid} does not exist"),
    )
}

/// Sets the password of `username@domain`, both APIs' way: derived off the async threads,
/// `user_not_found` when the account does not exist.
pub(crate) async fn set_password(
    storage: &Storage,
    settings: Password,
    domain: &str,
    username: &str,
    password: String,
) -> Result<()> {
    let details = derive_password(settings, password).await?;
    let changed = storage
        .set_pass_details(domain, username, &details)
        .await
        .map_err(storage_error)?;
    if changed {
        Ok(())
    } else {
        Err(user_not_found(format_args!("{username}@{domain}")))
    }
}

/// Removes `username@domain` and everything stored for it; `user_not_found` when it does not
/// exist. Closing its sessions is the caller's, with its own words.
pub(crate) async fn remove_account(storage: &Storage, domain: &str, username: &str) -> Result<()> {
    let existed = storage
        .remove_user(domain, username)
        .await
        .map_err(storage_error)?;
    if existed {
        Ok(())
    } else {
        Err(user_not_found(format_args!("{username}@{domain}")))
    }
}

/// Asks the module that answers `payload`'s namespace for users, as if `from`'s client had
/// sent the iq to `to` (often `from` itself): the same checks, storage and roster pushes as
/// over XMPP. The `from` is a bare JID, so the request never counts as one of the user's
/// sessions (it does not make a session "interested" in roster pushes). The router's own
/// check that `to` exists is not made here: callers check the accounts they name.
///
/// Errors: `module_not_loaded` when no module answers that namespace (it is switched off in
/// `[modules]`); the module's stanza error, by [`stanza_error`].
pub(crate) async fn user_iq(
    router: &Router,
    from: &BareJid,
    to: &BareJid,
    kind: IqKind,
    payload: Element,
) -> Result<Option<Element>> {
    let namespace = payload.namespace.clone();
    let Some(handler) = router.hooks().iq_handler(IqScope::User, &namespace) else {
        return Err(error(
            ErrorCode::ModuleNotLoaded,
            format!("No module handles {namespace} (is it enabled in [modules]?)"),
        ));
    };
    let request = IqRequest {
        from: Jid::from(from.clone()),
        to: Jid::from(to.clone()),
        id: fresh_id(),
        kind,
        payload,
        after_answer: Default::default(),
    };
    handler
        .handle_iq(router, &request)
        .await
        .map_err(stanza_error)
}

/// A module's stanza error as an operation error: the condition picks the code, the text (or
/// the condition's name) is the message.
pub(crate) fn stanza_error(stanza_error: StanzaError) -> async_graphql::Error {
    let code = match stanza_error.condition {
        StanzaErrorCondition::BadRequest
        | StanzaErrorCondition::NotAcceptable
        | StanzaErrorCondition::JidMalformed
        | StanzaErrorCondition::PolicyViolation => ErrorCode::BadRequest,
        StanzaErrorCondition::ItemNotFound => ErrorCode::NotFound,
        StanzaErrorCondition::Forbidden
        | StanzaErrorCondition::NotAllowed
        | StanzaErrorCondition::NotAuthorized
        | StanzaErrorCondition::SubscriptionRequired => ErrorCode::Forbidden,
        StanzaErrorCondition::ServiceUnavailable => ErrorCode::UserNotFound,
        _ => ErrorCode::InternalError,
    };
    let message = match stanza_error.text {
        Some(text) => format!("{}: {text}", stanza_error.condition),
        None => stanza_error.condition.to_string(),
    };
    error(code, message)
}

/// A JID naming a local account: its bare JID, checked to be of a served domain and to exist.
pub(crate) async fn existing_account(
    router: &Router,
    storage: &crate::storage::Storage,
    jid: &str,
) -> Result<BareJid> {
    let parsed = parse_jid(jid)?;
    let Some(username) = parsed.local() else {
        return Err(error(
            ErrorCode::BadRequest,
            format!("JID {jid:?} names no user (no localpart)"),
        ));
    };
    if !router.is_local_domain(parsed.domain()) {
        return Err(error(
            ErrorCode::UnknownDomain,
            format!(
                "Domain {:?} is not served by this server (served: {})",
                parsed.domain(),
                router.domains().join(", ")
            ),
        ));
    }
    let exists = storage
        .user_exists(parsed.domain(), username)
        .await
        .map_err(storage_error)?;
    if !exists {
        return Err(user_not_found(parsed.to_bare()));
    }
    Ok(parsed.to_bare())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stanzas_parse_alone() {
        let message = parse_stanza("<message to='a@b'><body>hi</body></message>").expect("ok");
        assert!(message.is("message", NS_CLIENT));
        assert!(parse_stanza("<message/><message/>").is_err());
        assert!(parse_stanza("<message>").is_err());
        assert!(parse_stanza("not xml").is_err());
    }
}
