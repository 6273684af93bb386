//! The user endpoint's authentication: HTTP Basic `user@domain:password`, verified by the same
//! SASL `PLAIN` state machine a client's login goes through ([`crate::sasl::SaslServer`]), so
//! the username is prepared the same way and an unknown user costs what a wrong password
//! costs.

use std::collections::HashMap;

use axum::http::HeaderMap;
use futures::future::BoxFuture;

use crate::api::http::{basic_credentials, Authenticator, Refusal};
use crate::jid::{BareJid, Jid};
use crate::router::Router;
use crate::sasl::{Mechanism, SaslConfig, SaslServer, Step};
use crate::storage::Storage;

/// The authenticated user: every operation acts on this account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Caller(pub(super) BareJid);

pub(super) struct UserCredentials {
    storage: Storage,
    /// One SASL configuration per served domain, made once: its unknown-user key must stay
    /// the same for the life of the server.
    sasl: HashMap<String, SaslConfig>,
}

impl UserCredentials {
    pub(super) fn new(storage: Storage, router: &Router) -> UserCredentials {
        let sasl = router
            .domains()
            .iter()
            .map(|domain| (domain.clone(), SaslConfig::new(domain)))
            .collect();
        UserCredentials { storage, sasl }
    }

    async fn check(&self, headers: &HeaderMap) -> Result<Caller, Refusal> {
        let (user, password) = basic_credentials(headers).ok_or(Refusal::Unauthorized)?;
        let jid = user.parse::<Jid>().map_err(|_| Refusal::Unauthorized)?;
        let (Some(local), None) = (jid.local(), jid.resource()) else {
            return Err(Refusal::Unauthorized);
        };
        let domain = jid.domain().to_owned();
        let config = self.sasl.get(&domain).ok_or(Refusal::Unauthorized)?;
        let mut server = SaslServer::new(Mechanism::Plain, config.clone());
        let message = format!("\0{local}\0{password}");
        let Step::NeedCredentials { username } = server.start(Some(message.as_bytes())) else {
            return Err(Refusal::Unauthorized);
        };
        let details = self
            .storage
            .pass_details(&domain, &username)
            .await
            .map_err(|error| Refusal::Unavailable(error.to_string()))?;
        // PBKDF2 with the stored iteration count: off the async threads.
        let step = tokio::task::spawn_blocking(move || server.credentials(details.as_ref()))
            .await
            .map_err(|join| Refusal::Unavailable(join.to_string()))?;
        match step {
            Step::Success(authenticated) => BareJid::new(Some(&authenticated.username), &domain)
                .map(Caller)
                .map_err(|_| Refusal::Unauthorized),
            _ => Err(Refusal::Unauthorized),
        }
    }
}

impl Authenticator for UserCredentials {
    type Identity = Caller;

    fn realm(&self) -> &'static str {
        "bream user"
    }

    fn authenticate<'a>(
        &'a self,
        headers: &'a HeaderMap,
    ) -> BoxFuture<'a, Result<Caller, Refusal>> {
        Box::pin(self.check(headers))
    }
}
