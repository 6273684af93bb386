//! Server-side SASL (RFC 4422, as XMPP uses it in RFC 6120 §6): PLAIN and
//! SCRAM-SHA-1, SCRAM-SHA-256, SCRAM-SHA-512, as state machines.
//!
//! A [`SaslServer`] takes the client's bytes (already base64-decoded, see
//! [`decode_response`]) and returns a [`Step`]: a challenge to send, a
//! request for the user's stored credentials, success, or failure. It does no
//! I/O. Credential lookup is a step of its own, [`Step::NeedCredentials`],
//! rather than a trait the machine calls: the session actor looks the user up
//! in the database asynchronously and feeds the answer back with
//! [`SaslServer::credentials`], so no actor thread blocks on storage and the
//! machine is tested without one.
//!
//! ```
//! use bream_xmpp::sasl::{Mechanism, SaslConfig, SaslServer, Step};
//! use bream_xmpp::sasl::secret::{PassDetails, ScramHash};
//!
//! let stored = PassDetails::derive("secret", &ScramHash::DEFAULT_SET, 4096).expect("valid");
//! let mut server = SaslServer::new(Mechanism::Plain, SaslConfig::new("example.com"));
//! // <auth mechanism='PLAIN'>AGFsaWNlAHNlY3JldA==</auth>, decoded:
//! let step = server.start(Some(b"\0alice\0secret"));
//! assert_eq!(step, Step::NeedCredentials { username: "alice".into() });
//! // ... the caller loads alice's pass_details ...
//! match server.credentials(Some(&stored)) {
//!     Step::Success(authenticated) => assert_eq!(authenticated.username, "alice"),
//!     other => panic!("{other:?}"),
//! }
//! ```
//!
//! The exchange, per mechanism:
//! - PLAIN (RFC 4616): `[authzid] NUL authcid NUL password`, in the initial
//!   response or after an empty challenge. Then credentials; the password is
//!   checked against the strongest stored SCRAM secret.
//! - SCRAM (RFC 5802, RFC 7677): client-first → credentials → server-first
//!   challenge → client-final → success carrying the server signature
//!   (`v=...`) as additional data, which the client must check.
//!
//! Identities: the authentication identity (PLAIN authcid, SCRAM `n=`) is a
//! JID localpart, prepared like one ([`crate::jid::normalize_localpart`]); a
//! full `user@domain` is accepted when the domain is this server's. An
//! authorization identity, if given, must be the user's own bare JID, else
//! `invalid-authzid`: acting as another user is not supported.
//!
//! Failures (`Step::Failure`, see [`failure`]):
//! - undecodable base64: `incorrect-encoding` (from [`decode_response`]);
//! - a message that does not parse, a SCRAM `p=` channel-binding request, a
//!   response when none is expected: `malformed-request`;
//! - wrong password, wrong proof, unknown user, an identity that is not a
//!   valid localpart, a changed nonce or gs2 header: `not-authorized`, with no
//!   text saying which;
//! - `<abort/>` ([`SaslServer::abort`]): `aborted`;
//! - a caller mistake (credentials given when not asked for, `start` twice):
//!   `temporary-auth-failure`.
//!
//! An unknown user is not revealed by SCRAM: the server still answers the
//! client-first message, with a salt derived from the username and
//! [`SaslConfig::unknown_user_key`] (stable across attempts, so a probe sees
//! the same salt twice, as for a real user) and
//! [`SaslConfig::unknown_user_iteration_count`], and fails only after the
//! proof. Keep that key the same for the life of the server, and the
//! iteration count equal to real users'. PLAIN for an unknown user runs the
//! same PBKDF2 a password check would, so it takes as long to fail.

pub mod failure;
mod plain;
mod scram;
pub mod secret;

use crate::random::Randomness;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use self::failure::{SaslCondition, SaslFailure};
use self::secret::{PassDetails, ScramHash, ScramSecret, ITERATION_COUNT_DEFAULT};
use crate::jid::{normalize_localpart, BareJid, Jid};
use crate::xml::Element;

/// The SASL namespace of `<auth/>`, `<challenge/>`, `<success/>`, ...
pub const NS_SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";

/// Bytes of random data in a server nonce (base64-encoded on the wire).
pub const SERVER_NONCE_BYTES: usize = 24;

/// Bytes of the salt made up for an unknown user.
const UNKNOWN_USER_SALT_BYTES: usize = 16;

/// A mechanism this server implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mechanism {
    /// `PLAIN`: the password in the clear (only over TLS).
    Plain,
    /// `SCRAM-SHA-1`.
    ScramSha1,
    /// `SCRAM-SHA-256`.
    ScramSha256,
    /// `SCRAM-SHA-512`.
    ScramSha512,
}

impl Mechanism {
    /// Every mechanism, strongest first (the order to advertise them in).
    pub const ALL: [Mechanism; 4] = [
        Mechanism::ScramSha512,
        Mechanism::ScramSha256,
        Mechanism::ScramSha1,
        Mechanism::Plain,
    ];

    /// The registered mechanism name.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::ScramSha1 => "SCRAM-SHA-1",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
            Mechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }

    /// The mechanism for a name, case-sensitively as SASL names are; `None`
    /// means `invalid-mechanism`.
    pub fn from_name(name: &str) -> Option<Self> {
        Mechanism::ALL
            .into_iter()
            .find(|mechanism| mechanism.name() == name)
    }

    /// The hash of a SCRAM mechanism; `None` for PLAIN.
    pub fn scram_hash(self) -> Option<ScramHash> {
        match self {
            Mechanism::Plain => None,
            Mechanism::ScramSha1 => Some(ScramHash::Sha1),
            Mechanism::ScramSha256 => Some(ScramHash::Sha256),
            Mechanism::ScramSha512 => Some(ScramHash::Sha512),
        }
    }
}

/// `<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>` listing
/// `mechanisms`, for the stream features.
pub fn mechanisms_element(mechanisms: &[Mechanism]) -> Element {
    let mut element = Element::new("mechanisms", NS_SASL);
    for mechanism in mechanisms {
        element.push_child(Element::new("mechanism", NS_SASL).with_text(mechanism.name()));
    }
    element
}

/// Decodes the base64 text of `<response/>`: empty or `=` is no data.
/// Anything else that is not standard padded base64 is `incorrect-encoding`.
pub fn decode_response(text: &str) -> Result<Vec<u8>, SaslFailure> {
    if text.is_empty() || text == "=" {
        return Ok(Vec::new());
    }
    BASE64
        .decode(text)
        .map_err(|_| SaslFailure::new(SaslCondition::IncorrectEncoding))
}

/// Decodes the text of `<auth/>`: empty means no initial response, `=` an
/// empty one (RFC 6120 §6.4.2).
pub fn decode_initial_response(text: &str) -> Result<Option<Vec<u8>>, SaslFailure> {
    if text.is_empty() {
        return Ok(None);
    }
    decode_response(text).map(Some)
}

/// What every SASL exchange on a server needs to know.
#[derive(Clone, PartialEq, Eq)]
pub struct SaslConfig {
    /// The domain users authenticate to, prepared as a JID domain.
    pub domain: String,
    /// Key for the stable fake salts shown to unknown users (see the module
    /// docs). Random by default; keep it for the life of the server.
    pub unknown_user_key: [u8; 32],
    /// Iteration count shown to unknown users. Default
    /// [`ITERATION_COUNT_DEFAULT`]; set it to what real users have.
    pub unknown_user_iteration_count: u32,
    /// Where server nonces come from.
    pub random: Randomness,
}

impl std::fmt::Debug for SaslConfig {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SaslConfig")
            .field("domain", &self.domain)
            .field(
                "unknown_user_iteration_count",
                &self.unknown_user_iteration_count,
            )
            .finish_non_exhaustive()
    }
}

impl SaslConfig {
    /// A configuration for `domain` with a fresh random unknown-user key. The
    /// domain is lower-cased; an invalid one simply matches no JID.
    pub fn new(domain: &str) -> Self {
        Self::with_randomness(domain, Randomness::system())
    }

    /// A configuration for `domain` whose unknown-user key and nonces come from `random`.
    pub fn with_randomness(domain: &str, random: Randomness) -> Self {
        let mut unknown_user_key = [0u8; 32];
        random.fill(&mut unknown_user_key);
        SaslConfig {
            domain: crate::jid::normalize_domain(domain).unwrap_or_else(|_| domain.to_owned()),
            unknown_user_key,
            unknown_user_iteration_count: ITERATION_COUNT_DEFAULT,
            random,
        }
    }
}

/// A successful authentication.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authenticated {
    /// The user's prepared localpart.
    pub username: String,
    /// Data to send in `<success/>` (SCRAM's server-final message), base64.
    pub additional_data: Option<Vec<u8>>,
}

/// What the session should do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Send `<challenge/>` with these bytes (base64), then wait for
    /// `<response/>` and pass it to [`SaslServer::respond`].
    Challenge(Vec<u8>),
    /// Look up the stored credentials of local user `username` on
    /// [`SaslConfig::domain`] and pass them (or `None`, for no such user) to
    /// [`SaslServer::credentials`].
    NeedCredentials {
        /// The prepared localpart.
        username: String,
    },
    /// Send `<success/>`, then expect a stream restart.
    Success(Authenticated),
    /// Send `<failure/>`; this exchange is over.
    Failure(SaslFailure),
}

impl Step {
    /// The element to send for this step; `None` for
    /// [`Step::NeedCredentials`], which sends nothing.
    pub fn to_element(&self) -> Option<Element> {
        let with_data = |name: &str, data: &[u8]| {
            let element = Element::new(name, NS_SASL);
            if data.is_empty() {
                element
            } else {
                element.with_text(BASE64.encode(data))
            }
        };
        match self {
            Step::Challenge(data) => Some(with_data("challenge", data)),
            Step::NeedCredentials { .. } => None,
            Step::Success(authenticated) => Some(with_data(
                "success",
                authenticated.additional_data.as_deref().unwrap_or_default(),
            )),
            Step::Failure(failure) => Some(failure.to_element()),
        }
    }
}

impl From<SaslFailure> for Step {
    fn from(failure: SaslFailure) -> Self {
        Step::Failure(failure)
    }
}

/// The server side of one authentication exchange. See the
/// [module documentation](self).
#[derive(Debug)]
pub struct SaslServer {
    mechanism: Mechanism,
    config: SaslConfig,
    state: State,
    /// Replaces the random server nonce, for the RFC test vectors.
    #[cfg(test)]
    fixed_server_nonce: Option<String>,
}

#[derive(Debug)]
enum State {
    /// [`SaslServer::start`] not called yet.
    Start,
    /// An empty challenge was sent; the first message comes as a response.
    WaitingFirstMessage,
    PlainAwaitingCredentials {
        username: String,
        password: String,
    },
    ScramAwaitingCredentials {
        client_first: scram::ClientFirst,
        username: String,
    },
    ScramWaitingClientFinal {
        client_first: scram::ClientFirst,
        server_first: String,
        combined_nonce: String,
        username: String,
        /// `None` for an unknown user: the exchange goes on, then fails.
        secret: Option<ScramSecret>,
    },
    Done,
}

fn not_authorized() -> Step {
    Step::Failure(SaslFailure::new(SaslCondition::NotAuthorized))
}

impl SaslServer {
    /// An exchange with `mechanism`, not started.
    pub fn new(mechanism: Mechanism, config: SaslConfig) -> Self {
        SaslServer {
            mechanism,
            config,
            state: State::Start,
            #[cfg(test)]
            fixed_server_nonce: None,
        }
    }

    /// The mechanism of this exchange.
    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// Whether the exchange has ended (success or failure).
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Handles `<auth/>`, with its initial response if it had one.
    pub fn start(&mut self, initial_response: Option<&[u8]>) -> Step {
        if !matches!(self.state, State::Start) {
            return self.finish(SaslFailure::new(SaslCondition::TemporaryAuthFailure).into());
        }
        match initial_response {
            Some(message) => self.first_message(message),
            None => {
                self.state = State::WaitingFirstMessage;
                Step::Challenge(Vec::new())
            }
        }
    }

    /// Handles `<response/>` (decoded).
    pub fn respond(&mut self, response: &[u8]) -> Step {
        match std::mem::replace(&mut self.state, State::Done) {
            State::WaitingFirstMessage => self.first_message(response),
            State::ScramWaitingClientFinal {
                client_first,
                server_first,
                combined_nonce,
                username,
                secret,
            } => {
                let step = self.client_final(
                    response,
                    &client_first,
                    &server_first,
                    &combined_nonce,
                    username,
                    secret.as_ref(),
                );
                self.finish(step)
            }
            _ => self.finish(
                SaslFailure::new(SaslCondition::MalformedRequest)
                    .with_text("no response expected now")
                    .into(),
            ),
        }
    }

    /// Feeds the stored credentials asked for by [`Step::NeedCredentials`];
    /// `None` if the user does not exist.
    pub fn credentials(&mut self, details: Option<&PassDetails>) -> Step {
        match std::mem::replace(&mut self.state, State::Done) {
            State::PlainAwaitingCredentials { username, password } => {
                let verified = match details {
                    Some(details) => details.verify_password(&password),
                    None => {
                        self.spend_like_a_password_check(&username, &password);
                        false
                    }
                };
                let step = if verified {
                    Step::Success(Authenticated {
                        username,
                        additional_data: None,
                    })
                } else {
                    not_authorized()
                };
                self.finish(step)
            }
            State::ScramAwaitingCredentials {
                client_first,
                username,
            } => self.server_first(client_first, username, details),
            _ => self.finish(SaslFailure::new(SaslCondition::TemporaryAuthFailure).into()),
        }
    }

    /// Handles `<abort/>`.
    pub fn abort(&mut self) -> Step {
        self.finish(SaslFailure::new(SaslCondition::Aborted).into())
    }

    fn finish(&mut self, step: Step) -> Step {
        if matches!(step, Step::Success(_) | Step::Failure(_)) {
            self.state = State::Done;
        }
        step
    }

    fn first_message(&mut self, message: &[u8]) -> Step {
        let step = match self.mechanism.scram_hash() {
            None => self.plain_message(message),
            Some(_) => self.scram_client_first(message),
        };
        self.finish(step)
    }

    fn plain_message(&mut self, message: &[u8]) -> Step {
        let parsed = match plain::parse(message) {
            Ok(parsed) => parsed,
            Err(failure) => return failure.into(),
        };
        let username = match self.authentication_identity(parsed.authcid) {
            Ok(username) => username,
            Err(step) => return step,
        };
        if let Err(step) = self.check_authzid(parsed.authzid, &username) {
            return step;
        }
        self.state = State::PlainAwaitingCredentials {
            username: username.clone(),
            password: parsed.password.to_owned(),
        };
        Step::NeedCredentials { username }
    }

    fn scram_client_first(&mut self, message: &[u8]) -> Step {
        let client_first = match scram::parse_client_first(message) {
            Ok(client_first) => client_first,
            Err(failure) => return failure.into(),
        };
        let username = match self.authentication_identity(&client_first.username) {
            Ok(username) => username,
            Err(step) => return step,
        };
        if let Err(step) = self.check_authzid(client_first.authzid.as_deref(), &username) {
            return step;
        }
        self.state = State::ScramAwaitingCredentials {
            client_first,
            username: username.clone(),
        };
        Step::NeedCredentials { username }
    }

    fn server_first(
        &mut self,
        client_first: scram::ClientFirst,
        username: String,
        details: Option<&PassDetails>,
    ) -> Step {
        let secret = self
            .mechanism
            .scram_hash()
            .and_then(|hash| details.and_then(|details| details.secret(hash)))
            .cloned();
        let (salt, iteration_count) = match &secret {
            Some(secret) => (secret.salt.clone(), secret.iteration_count),
            None => match self.unknown_user_salt(&username) {
                Some(salt) => (salt, self.config.unknown_user_iteration_count),
                None => {
                    return self
                        .finish(SaslFailure::new(SaslCondition::TemporaryAuthFailure).into())
                }
            },
        };
        let combined_nonce = format!("{}{}", client_first.client_nonce, self.server_nonce());
        let server_first = scram::server_first(&combined_nonce, &salt, iteration_count);
        let challenge = server_first.clone().into_bytes();
        self.state = State::ScramWaitingClientFinal {
            client_first,
            server_first,
            combined_nonce,
            username,
            secret,
        };
        Step::Challenge(challenge)
    }

    fn client_final(
        &self,
        message: &[u8],
        client_first: &scram::ClientFirst,
        server_first: &str,
        combined_nonce: &str,
        username: String,
        secret: Option<&ScramSecret>,
    ) -> Step {
        let client_final = match scram::parse_client_final(message) {
            Ok(client_final) => client_final,
            Err(failure) => return failure.into(),
        };
        if client_final.channel_binding != client_first.gs2_header.as_bytes()
            || client_final.nonce != combined_nonce
        {
            return not_authorized();
        }
        let Some(secret) = secret else {
            return not_authorized();
        };
        let auth_message = format!(
            "{},{server_first},{}",
            client_first.bare, client_final.without_proof
        );
        if !scram::verify_proof(secret, auth_message.as_bytes(), &client_final.proof) {
            return not_authorized();
        }
        match scram::server_final(secret, auth_message.as_bytes()) {
            Some(server_final) => Step::Success(Authenticated {
                username,
                additional_data: Some(server_final.into_bytes()),
            }),
            None => SaslFailure::new(SaslCondition::TemporaryAuthFailure).into(),
        }
    }

    /// The prepared localpart for an authentication identity: a localpart, or
    /// `localpart@domain` for this server's domain.
    fn authentication_identity(&self, identity: &str) -> Result<String, Step> {
        if identity.contains('@') {
            let bare: BareJid = identity.parse().map_err(|_| not_authorized())?;
            return match bare.local() {
                Some(local) if bare.domain() == self.config.domain => Ok(local.to_owned()),
                _ => Err(not_authorized()),
            };
        }
        normalize_localpart(identity).map_err(|_| not_authorized())
    }

    /// An authorization identity must be the user's own bare JID.
    fn check_authzid(&self, authzid: Option<&str>, username: &str) -> Result<(), Step> {
        let Some(authzid) = authzid else {
            return Ok(());
        };
        let invalid = || Step::Failure(SaslFailure::new(SaslCondition::InvalidAuthzid));
        let requested: Jid = authzid.parse().map_err(|_| invalid())?;
        let own = requested.is_bare()
            && requested.local() == Some(username)
            && requested.domain() == self.config.domain;
        if own {
            Ok(())
        } else {
            Err(invalid())
        }
    }

    fn unknown_user_salt(&self, username: &str) -> Option<Vec<u8>> {
        let mut salt =
            ScramHash::Sha256.hmac(&self.config.unknown_user_key, username.as_bytes())?;
        salt.truncate(UNKNOWN_USER_SALT_BYTES);
        Some(salt)
    }

    /// Runs the PBKDF2 a real PLAIN check would (SHA-512, the strongest hash
    /// derived by default, and the unknown-user iteration count), so that an unknown user does not
    /// answer measurably faster than a wrong password.
    fn spend_like_a_password_check(&self, username: &str, password: &str) {
        let salt = self.unknown_user_salt(username).unwrap_or_default();
        let iteration_count = self.config.unknown_user_iteration_count.max(1);
        std::hint::black_box(ScramHash::Sha512.salted_password(
            password.as_bytes(),
            &salt,
            iteration_count,
        ));
    }

    fn server_nonce(&self) -> String {
        #[cfg(test)]
        if let Some(nonce) = &self.fixed_server_nonce {
            return nonce.clone();
        }
        let mut bytes = [0u8; SERVER_NONCE_BYTES];
        self.config.random.fill(&mut bytes);
        BASE64.encode(bytes)
    }
}

#[cfg(test)]
pub(crate) mod tests;
