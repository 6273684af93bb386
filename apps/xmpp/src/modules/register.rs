//! In-band registration (XEP-0077, `jabber:iq:register`), MongooseIM's `mod_register`: off
//! unless `[modules.mod_register] enabled = true`.
//!
//! For a signed-in user (an IQ handler for the user's own account):
//! - `get`: `<registered/>` and the username (§3.2.1);
//! - `set` with `<username/>` and `<password/>`: changes the password (§3.3), if it is strong
//!   enough; another username is `not-authorized`, a weak password `not-acceptable`;
//! - `set` with `<remove/>`: cancels the account (§3.2): everything it owns is removed
//!   ([`Storage::remove_user`]), the answer sent, then every session of the account closed
//!   with `<not-authorized/>`.
//!
//! For a client that has not signed in (before SASL, on the stream itself, see
//! [`crate::c2s::registration`]), [`Register::register`] creates the account and
//! [`RegistrationPolicy`] decides who may: the access setting, the IP allow
//! and deny list, one registration per IP per `registration_timeout`, and the minimum password
//! strength. Errors are the XEP's: `forbidden` (access, IP), `resource-constraint` (too soon
//! from that IP), `not-acceptable` (weak or missing password, bad username), `conflict`
//! (taken).
//!
//! Deviation from MongooseIM: `access` is `all` or `none`, not the name of an access rule
//! (Bream does not apply `[access]` rules yet).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

use super::{account, storage_failed};
use crate::config::auth::Password;
use crate::config::modules::{IpPolicy, ModRegister, RegisterAccess};
use crate::jid::BareJid;
use crate::router::{
    HooksBuilder, IqHandler, IqKind, IqRequest, IqResult, IqScope, Module, Router,
};
use crate::stanza::error::{StanzaError, StanzaErrorCondition, StreamError, StreamErrorCondition};
use crate::storage::{Storage, StorageError};
use crate::xml::Element;

/// The registration namespace (also its disco feature) and its stream feature's.
pub use crate::c2s::registration::{NS_REGISTER, NS_REGISTER_FEATURE};

/// Addresses whose last registration is remembered at most (the map is emptied of expired
/// entries when full, and refuses registrations while it is full of live ones).
pub const REGISTRATIONS_TRACKED_MAX: usize = 100_000;

/// Why a registration is refused, as the client is told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Registration is closed, or closed to this address.
    Forbidden,
    /// This address registered an account too recently.
    TooSoon,
    /// The password is too weak (or absent), or the username not valid.
    NotAcceptable,
    /// The username is taken.
    Conflict,
    /// The storage failed.
    Internal,
}

impl Refusal {
    /// The stanza error for the refusal.
    pub fn error(self) -> StanzaError {
        StanzaError::new(match self {
            Refusal::Forbidden => StanzaErrorCondition::Forbidden,
            Refusal::TooSoon => StanzaErrorCondition::ResourceConstraint,
            Refusal::NotAcceptable => StanzaErrorCondition::NotAcceptable,
            Refusal::Conflict => StanzaErrorCondition::Conflict,
            Refusal::Internal => StanzaErrorCondition::InternalServerError,
        })
    }
}

/// Who may create an account in band. See the module docs.
#[derive(Debug)]
pub struct RegistrationPolicy {
    settings: ModRegister,
    networks: Vec<(ipnet::IpNet, IpPolicy)>,
    recent: Mutex<HashMap<IpAddr, Instant>>,
}

impl RegistrationPolicy {
    /// The policy `settings` describe (validated with the configuration, so every address
    /// parses; one that does not is skipped with a log line).
    pub fn new(settings: &ModRegister) -> RegistrationPolicy {
        let networks = settings
            .ip_access
            .iter()
            .filter_map(|rule| match rule.address.parse::<ipnet::IpNet>() {
                Ok(network) => Some((network, rule.policy)),
                Err(error) => {
                    tracing::error!(address = %rule.address, %error, "mod_register: ip_access rule skipped");
                    None
                }
            })
            .collect();
        RegistrationPolicy {
            settings: settings.clone(),
            networks,
            recent: Mutex::new(HashMap::new()),
        }
    }

    /// Whether a client at `ip` may register now (before looking at what it registers).
    pub fn admit(&self, ip: IpAddr, now: Instant) -> Result<(), Refusal> {
        if !self.settings.enabled || self.settings.access == RegisterAccess::None {
            return Err(Refusal::Forbidden);
        }
        // The first rule that matches decides; with no match, an allow list (any `allow`
        // rule) shuts everyone else out, a deny-only list lets them in.
        let decided = self
            .networks
            .iter()
            .find(|(network, _)| network.contains(&ip))
            .map(|(_, policy)| *policy);
        let allowed = match decided {
            Some(policy) => policy == IpPolicy::Allow,
            None => !self
                .networks
                .iter()
                .any(|(_, policy)| *policy == IpPolicy::Allow),
        };
        if !allowed {
            return Err(Refusal::Forbidden);
        }
        let interval = self.settings.registration_timeout;
        if interval.is_zero() {
            return Ok(());
        }
        match self.recent.lock().get(&ip) {
            Some(last) if now.saturating_duration_since(*last) < interval => Err(Refusal::TooSoon),
            _ => Ok(()),
        }
    }

    /// Whether `password` is strong enough.
    pub fn password_acceptable(&self, password: &str) -> bool {
        !password.is_empty()
            && password_entropy(password) >= f64::from(self.settings.password_strength)
    }

    /// Records a registration from `ip` at `now`; refused when the table of recent
    /// registrations is full of live entries.
    pub fn record(&self, ip: IpAddr, now: Instant) -> Result<(), Refusal> {
        let interval = self.settings.registration_timeout;
        if interval.is_zero() {
            return Ok(());
        }
        let mut recent = self.recent.lock();
        if recent.len() >= REGISTRATIONS_TRACKED_MAX {
            recent.retain(|_, last| now.saturating_duration_since(*last) < interval);
            if recent.len() >= REGISTRATIONS_TRACKED_MAX {
                return Err(Refusal::TooSoon);
            }
        }
        recent.insert(ip, now);
        Ok(())
    }
}

/// An estimate of a password's entropy in bits, as MongooseIM's `password_strength` and
/// ejabberd's measure it: its length in characters times the log₂ of the size of the
/// character classes it draws on (digits 10, lower case 26, upper case 26, other ASCII 33,
/// anything else 128).
pub fn password_entropy(password: &str) -> f64 {
    let (mut digits, mut lower, mut upper, mut other_ascii, mut other) =
        (false, false, false, false, false);
    let mut length = 0u32;
    for character in password.chars() {
        length += 1;
        match character {
            '0'..='9' => digits = true,
            'a'..='z' => lower = true,
            'A'..='Z' => upper = true,
            _ if character.is_ascii() => other_ascii = true,
            _ => other = true,
        }
    }
    let classes: u32 = [
        (digits, 10),
        (lower, 26),
        (upper, 26),
        (other_ascii, 33),
        (other, 128),
    ]
    .iter()
    .filter(|(present, _)| *present)
    .map(|(_, size)| size)
    .sum();
    if classes == 0 {
        return 0.0;
    }
    f64::from(length) * f64::from(classes).log2()
}

/// The registration module. See the module docs.
#[derive(Debug)]
pub struct Register {
    storage: Storage,
    password: Password,
    policy: Arc<RegistrationPolicy>,
}

impl Register {
    /// Registration over `storage`, deriving stored passwords as `password` says.
    pub fn new(storage: Storage, password: Password, settings: &ModRegister) -> Register {
        Register {
            storage,
            password,
            policy: Arc::new(RegistrationPolicy::new(settings)),
        }
    }

    /// The stored form of `password`, derived on the blocking pool (thousands of PBKDF2
    /// rounds must not hold up a runtime thread).
    async fn derive(&self, password: &str) -> Result<crate::sasl::secret::PassDetails, Refusal> {
        let (config, password) = (self.password.clone(), password.to_owned());
        match tokio::task::spawn_blocking(move || config.derive(&password)).await {
            Ok(Ok(details)) => Ok(details),
            Ok(Err(_)) => Err(Refusal::NotAcceptable),
            Err(_) => Err(Refusal::Internal),
        }
    }

    /// The policy for registrations before sign-in.
    pub fn policy(&self) -> &Arc<RegistrationPolicy> {
        &self.policy
    }

    async fn change_password(&self, user: &BareJid, query: &Element) -> IqResult {
        let (domain, username) =
            account(user).ok_or_else(|| bad(StanzaErrorCondition::BadRequest))?;
        let given = query
            .elements()
            .find(|child| child.name == "username")
            .map(Element::text);
        if given.is_some_and(|given| given != username) {
            return Err(bad(StanzaErrorCondition::NotAuthorized));
        }
        let password = query
            .elements()
            .find(|child| child.name == "password")
            .map(Element::text)
            .ok_or_else(|| bad(StanzaErrorCondition::BadRequest))?;
        if !self.policy.password_acceptable(&password) {
            return Err(bad(StanzaErrorCondition::NotAcceptable));
        }
        let details = self
            .derive(&password)
            .await
            .map_err(|refusal| refusal.error())?;
        match self
            .storage
            .set_pass_details(domain, username, &details)
            .await
        {
            Ok(true) => Ok(None),
            Ok(false) => Err(bad(StanzaErrorCondition::ItemNotFound)),
            Err(error) => Err(storage_failed("set_pass_details", &error)),
        }
    }

    async fn cancel(&self, router: &Router, request: &IqRequest, user: &BareJid) -> IqResult {
        let (domain, username) =
            account(user).ok_or_else(|| bad(StanzaErrorCondition::BadRequest))?;
        match self.storage.remove_user(domain, username).await {
            Ok(_) => {}
            Err(error) => return Err(storage_failed("remove_user", &error)),
        }
        // The answer goes before the sessions close (§3.2: the result, then the stream error),
        // so it is handed to the asking session here; the router's own copy of it then finds
        // the stream closed and goes nowhere.
        let result = Element::new("iq", crate::xml::NS_CLIENT)
            .with_attr("type", "result")
            .with_attr("id", request.id.clone())
            .with_attr("to", request.from.to_string());
        if let Ok(sessions) = router.sessions().user_sessions(user) {
            if let Some(own) = sessions.iter().find(|entry| entry.jid == request.from) {
                let _ = own.handle.deliver(result);
            }
            for entry in &sessions {
                entry
                    .handle
                    .close(StreamError::new(StreamErrorCondition::NotAuthorized));
            }
        }
        tracing::info!(%user, "account cancelled in band");
        Ok(None)
    }

    /// Creates `username` with `password` for a client at `ip` that has not signed in.
    pub async fn register(
        &self,
        domain: &str,
        username: &str,
        password: &str,
        ip: IpAddr,
    ) -> Result<(), Refusal> {
        let now = Instant::now();
        self.policy.admit(ip, now)?;
        let username =
            crate::jid::normalize_localpart(username).map_err(|_| Refusal::NotAcceptable)?;
        if !self.policy.password_acceptable(password) {
            return Err(Refusal::NotAcceptable);
        }
        let details = self.derive(password).await?;
        match self
            .storage
            .register_user(domain, &username, &details)
            .await
        {
            Ok(()) => {
                self.policy.record(ip, now)?;
                tracing::info!(%domain, %username, %ip, "account registered in band");
                Ok(())
            }
            Err(StorageError::UserExists { .. }) => Err(Refusal::Conflict),
            Err(StorageError::TooLong { .. }) => Err(Refusal::NotAcceptable),
            Err(error) => {
                storage_failed("register_user", &error);
                Err(Refusal::Internal)
            }
        }
    }
}

fn bad(condition: StanzaErrorCondition) -> StanzaError {
    StanzaError::new(condition)
}

impl crate::c2s::registration::InBandRegistration for Register {
    fn register<'a>(
        &'a self,
        domain: &'a str,
        username: &'a str,
        password: &'a str,
        ip: IpAddr,
    ) -> futures::future::BoxFuture<'a, Result<(), StanzaErrorCondition>> {
        Box::pin(async move {
            Register::register(self, domain, username, password, ip)
                .await
                .map_err(|refusal| refusal.error().condition)
        })
    }
}

impl Module for Register {
    fn name(&self) -> &'static str {
        "register"
    }

    fn register(self: Arc<Self>, hooks: &mut HooksBuilder) {
        hooks.iq(IqScope::User, NS_REGISTER, self);
        // XEP-0077 §8: the server's own disco#info says it registers accounts in band.
        hooks.feature(IqScope::Server, NS_REGISTER);
    }
}

impl IqHandler for Register {
    async fn handle_iq(&self, router: &Router, request: &IqRequest) -> IqResult {
        request.expect_payload("query")?;
        let user = request.own_account()?.clone();
        match request.kind {
            IqKind::Get => {
                let username = user.local().unwrap_or_default().to_owned();
                Ok(Some(
                    Element::new("query", NS_REGISTER)
                        .with_child(Element::new("registered", NS_REGISTER))
                        .with_child(Element::new("username", NS_REGISTER).with_text(username))
                        .with_child(Element::new("password", NS_REGISTER)),
                ))
            }
            IqKind::Set => {
                if request.payload.child("remove", NS_REGISTER).is_some() {
                    self.cancel(router, request, &user).await
                } else {
                    self.change_password(&user, &request.payload).await
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use crate::config::modules::IpAccess;

    fn policy(change: impl FnOnce(&mut ModRegister)) -> RegistrationPolicy {
        let mut settings = ModRegister {
            enabled: true,
            ..ModRegister::default()
        };
        change(&mut settings);
        RegistrationPolicy::new(&settings)
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("address")
    }

    #[test]
    fn off_or_closed_refuses_everyone() {
        let now = Instant::now();
        let off = RegistrationPolicy::new(&ModRegister::default());
        assert_eq!(off.admit(ip("127.0.0.1"), now), Err(Refusal::Forbidden));
        let closed = policy(|settings| settings.access = RegisterAccess::None);
        assert_eq!(closed.admit(ip("127.0.0.1"), now), Err(Refusal::Forbidden));
        assert_eq!(policy(|_| {}).admit(ip("127.0.0.1"), now), Ok(()));
    }

    #[test]
    fn the_first_matching_ip_rule_decides_and_an_allow_list_shuts_out_the_rest() {
        let now = Instant::now();
        let rules = policy(|settings| {
            settings.ip_access = vec![
                IpAccess {
                    address: "10.1.0.0/16".into(),
                    policy: IpPolicy::Deny,
                },
                IpAccess {
                    address: "10.0.0.0/8".into(),
                    policy: IpPolicy::Allow,
                },
            ];
        });
        assert_eq!(rules.admit(ip("10.1.2.3"), now), Err(Refusal::Forbidden));
        assert_eq!(rules.admit(ip("10.2.2.3"), now), Ok(()));
        assert_eq!(rules.admit(ip("192.168.1.1"), now), Err(Refusal::Forbidden));
        let deny_only = policy(|settings| {
            settings.ip_access = vec![IpAccess {
                address: "::1/128".into(),
                policy: IpPolicy::Deny,
            }];
        });
        assert_eq!(deny_only.admit(ip("::1"), now), Err(Refusal::Forbidden));
        assert_eq!(deny_only.admit(ip("127.0.0.1"), now), Ok(()));
    }

    #[test]
    fn one_registration_per_address_per_timeout() {
        let now = Instant::now();
        let limited = policy(|settings| settings.registration_timeout = Duration::from_secs(600));
        let here = ip("192.0.2.7");
        assert_eq!(limited.admit(here, now), Ok(()));
        limited.record(here, now).expect("recorded");
        assert_eq!(
            limited.admit(here, now + Duration::from_secs(599)),
            Err(Refusal::TooSoon)
        );
        assert_eq!(limited.admit(ip("192.0.2.8"), now), Ok(()));
        assert_eq!(limited.admit(here, now + Duration::from_secs(600)), Ok(()));
        let unlimited = policy(|settings| settings.registration_timeout = Duration::ZERO);
        unlimited.record(here, now).expect("recorded");
        assert_eq!(unlimited.admit(here, now), Ok(()));
    }

    #[test]
    fn password_strength_is_length_times_class_bits() {
        assert_eq!(password_entropy(""), 0.0);
        // 8 lower-case letters: 8 × log2(26) ≈ 37.6 bits.
        let lower = password_entropy("abcdefgh");
        assert!((lower - 8.0 * 26f64.log2()).abs() < 1e-9, "{lower}");
        // Mixing classes adds their sizes: 26 + 26 + 10 = 62.
        let mixed = password_entropy("aB3");
        assert!((mixed - 3.0 * 62f64.log2()).abs() < 1e-9, "{mixed}");
        let strict = policy(|settings| settings.password_strength = 40);
        assert!(!strict.password_acceptable("abcdefgh"));
        assert!(strict.password_acceptable("abcdefgh1X"));
        assert!(!policy(|_| {}).password_acceptable(""));
    }
}
