//! Where the client-to-server code learns who the users are.
//!
//! The session needs two answers from storage: a user's stored SCRAM
//! credentials (to run SASL) and whether an account exists (to route a
//! stanza for a user who is offline). [`Accounts`] asks exactly that, so
//! that the stream, session and routing code do not depend on the SQL
//! storage: the server implements it for its database, and tests use
//! [`MemoryAccounts`].
//!
//! Both questions are asynchronous (a database round trip) and may fail;
//! a failure is an [`AccountsError`], which a SASL exchange turns into
//! `temporary-auth-failure` and routing into an `internal-server-error`
//! reply, never into "no such user".
//!
//! ```
//! use bream_xmpp::c2s::{Accounts, MemoryAccounts};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let accounts = MemoryAccounts::new();
//! accounts.add_user("localhost", "alice", "secret", 4096).expect("valid password");
//! let details = accounts.pass_details("localhost", "alice").await.expect("in memory");
//! assert!(details.is_some_and(|details| details.verify_password("secret")));
//! assert!(!accounts.user_exists("localhost", "bob").await.expect("in memory"));
//! # }
//! ```

use std::collections::HashMap;

use futures::future::BoxFuture;
use parking_lot::RwLock;

use crate::sasl::secret::{PassDetails, PasswordError, ScramHash};

/// Why an account question got no answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AccountsError {
    /// The account store could not be reached or failed.
    #[error("account store unavailable: {reason}")]
    Unavailable {
        /// What the store said, for logs.
        reason: String,
    },
    /// The account store did not answer within the session's deadline.
    #[error("account store did not answer within {after:?}")]
    Timeout {
        /// The deadline that passed.
        after: std::time::Duration,
    },
}

/// The accounts of the served domains, as the client-to-server code needs
/// them. Implemented by the server for its storage, and by
/// [`MemoryAccounts`] for tests.
pub trait Accounts: Send + Sync + 'static {
    /// The stored credentials of `username` (a prepared localpart) on
    /// `domain`, or `None` if there is no such account.
    fn pass_details<'a>(
        &'a self,
        domain: &'a str,
        username: &'a str,
    ) -> BoxFuture<'a, Result<Option<PassDetails>, AccountsError>>;

    /// Whether the account exists. The default asks [`Accounts::pass_details`];
    /// a store with a cheaper query should override it.
    fn user_exists<'a>(
        &'a self,
        domain: &'a str,
        username: &'a str,
    ) -> BoxFuture<'a, Result<bool, AccountsError>> {
        Box::pin(async move {
            self.pass_details(domain, username)
                .await
                .map(|details| details.is_some())
        })
    }
}

/// Accounts held in memory: for tests and examples, not for production
/// (nothing is persisted).
#[derive(Debug, Default)]
pub struct MemoryAccounts {
    /// `(domain, username)` → credentials.
    users: RwLock<HashMap<(String, String), PassDetails>>,
}

impl MemoryAccounts {
    /// No accounts.
    pub fn new() -> Self {
        MemoryAccounts::default()
    }

    /// Adds (or replaces) `username` on `domain` with `password`, derived
    /// with every default SCRAM hash and `iteration_count` iterations. Tests
    /// use a low count to stay fast; production stores use
    /// [`crate::sasl::secret::ITERATION_COUNT_DEFAULT`]. The names are
    /// stored as given: pass prepared (lower-case) ones.
    pub fn add_user(
        &self,
        domain: &str,
        username: &str,
        password: &str,
        iteration_count: u32,
    ) -> Result<(), PasswordError> {
        let details = PassDetails::derive(password, &ScramHash::DEFAULT_SET, iteration_count)?;
        self.insert(domain, username, details);
        Ok(())
    }

    /// Adds (or replaces) `username` on `domain` with ready-made credentials,
    /// so that many test users can share one derivation.
    pub fn insert(&self, domain: &str, username: &str, details: PassDetails) {
        self.users
            .write()
            .insert((domain.to_owned(), username.to_owned()), details);
    }

    /// Removes an account; whether it existed.
    pub fn remove_user(&self, domain: &str, username: &str) -> bool {
        self.users
            .write()
            .remove(&(domain.to_owned(), username.to_owned()))
            .is_some()
    }
}

impl Accounts for MemoryAccounts {
    fn pass_details<'a>(
        &'a self,
        domain: &'a str,
        username: &'a str,
    ) -> BoxFuture<'a, Result<Option<PassDetails>, AccountsError>> {
        let details = self
            .users
            .read()
            .get(&(domain.to_owned(), username.to_owned()))
            .cloned();
        Box::pin(async move { Ok(details) })
    }
}

/// The accounts in the SQL database, as the sessions and the router ask for them.
impl Accounts for crate::storage::Storage {
    fn pass_details<'a>(
        &'a self,
        domain: &'a str,
        username: &'a str,
    ) -> BoxFuture<'a, Result<Option<PassDetails>, AccountsError>> {
        Box::pin(async move {
            crate::storage::Storage::pass_details(self, domain, username)
                .await
                .map_err(|error| AccountsError::Unavailable {
                    reason: error.to_string(),
                })
        })
    }

    fn user_exists<'a>(
        &'a self,
        domain: &'a str,
        username: &'a str,
    ) -> BoxFuture<'a, Result<bool, AccountsError>> {
        Box::pin(async move {
            crate::storage::Storage::user_exists(self, domain, username)
                .await
                .map_err(|error| AccountsError::Unavailable {
                    reason: error.to_string(),
                })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_accounts_answer_both_questions() {
        let accounts = MemoryAccounts::new();
        accounts
            .add_user("localhost", "alice", "secret", 16)
            .expect("valid password");
        assert!(accounts
            .user_exists("localhost", "alice")
            .await
            .expect("memory"));
        assert!(!accounts
            .user_exists("example.com", "alice")
            .await
            .expect("memory"));
        assert!(accounts.remove_user("localhost", "alice"));
        assert_eq!(
            accounts
                .pass_details("localhost", "alice")
                .await
                .expect("memory"),
            None
        );
        assert!(accounts.add_user("localhost", "bob", "", 16).is_err());
    }
}
