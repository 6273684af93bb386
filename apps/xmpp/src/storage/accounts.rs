//! Accounts: the `users` table, and removing everything a user owns.

use super::NAME_BYTES_MAX;
use super::{
    account, in_transaction, non_negative, on_pool, read_for_user, Failure, Storage, StorageError,
};
use crate::sasl::secret::PassDetails;

const REGISTER: &str = "INSERT INTO users (server, username, \"password\", pass_details) \
                        VALUES ($1, $2, '', $3) ON CONFLICT (server, username) DO NOTHING";
const EXISTS: &str = "SELECT 1 FROM users WHERE server = $1 AND username = $2";
const PASS_DETAILS: &str = "SELECT pass_details FROM users WHERE server = $1 AND username = $2";
const SET_PASS_DETAILS: &str = "UPDATE users SET \"password\" = '', pass_details = $3 \
                                WHERE server = $1 AND username = $2";
const LIST: &str = "SELECT username FROM users WHERE server = $1";
const COUNT: &str = "SELECT COUNT(*) FROM users WHERE server = $1";
const REMOVE: &str = "DELETE FROM users WHERE server = $1 AND username = $2";

/// `$1` server, `$2` username: everything else a user owns. Keep in step with the migrations.
const REMOVE_DATA: [&str; 9] = [
    "DELETE FROM rosterusers WHERE server = $1 AND username = $2",
    "DELETE FROM roster_removed WHERE server = $1 AND username = $2",
    "DELETE FROM rostergroups WHERE server = $1 AND username = $2",
    "DELETE FROM roster_version WHERE server = $1 AND username = $2",
    "DELETE FROM offline_message WHERE server = $1 AND username = $2",
    "DELETE FROM vcard WHERE server = $1 AND username = $2",
    "DELETE FROM private_storage WHERE server = $1 AND username = $2",
    "DELETE FROM \"last\" WHERE server = $1 AND username = $2",
    "DELETE FROM blocking WHERE server = $1 AND username = $2",
];

impl Storage {
    /// Creates the account `username@domain` with these credentials.
    ///
    /// Errors: [`StorageError::UserExists`]; [`StorageError::TooLong`] when the domain or the
    /// username is over [`NAME_BYTES_MAX`] bytes.
    pub async fn register_user(
        &self,
        domain: &str,
        username: &str,
        pass_details: &PassDetails,
    ) -> Result<(), StorageError> {
        check_name_length("domain", domain)?;
        check_name_length("username", username)?;
        let inserted = self
            .write_pass_details("register_user", REGISTER, domain, username, pass_details)
            .await?;
        if inserted == 0 {
            return Err(StorageError::UserExists {
                domain: domain.to_string(),
                username: username.to_string(),
            });
        }
        tracing::info!(%domain, %username, "user registered");
        Ok(())
    }

    /// Removes the account and everything it owns (roster, roster version, offline messages,
    /// vCard, private XML, last activity, block list) in one transaction. Returns whether the
    /// account existed. Other users' roster items naming this user are theirs, and stay.
    pub async fn remove_user(&self, domain: &str, username: &str) -> Result<bool, StorageError> {
        let work = async {
            let existed = in_transaction!(self, |transaction, dialect| {
                let removed = sqlx::query(REMOVE)
                    .bind(domain)
                    .bind(username)
                    .execute(&mut *transaction)
                    .await?
                    .rows_affected();
                for statement in REMOVE_DATA {
                    sqlx::query(statement)
                        .bind(domain)
                        .bind(username)
                        .execute(&mut *transaction)
                        .await?;
                }
                removed > 0
            });
            Ok::<_, Failure>(existed)
        };
        let existed = self
            .run("remove_user", account(domain, username), work)
            .await?;
        if existed {
            tracing::info!(%domain, %username, "user removed");
        }
        Ok(existed)
    }

    /// Whether the account exists.
    pub async fn user_exists(&self, domain: &str, username: &str) -> Result<bool, StorageError> {
        read_for_user!(self, "user_exists", domain, username, |pool| {
            sqlx::query(EXISTS)
                .bind(domain)
                .bind(username)
                .fetch_optional(pool)
                .await?
                .is_some()
        })
    }

    /// The account's stored credentials; `None` when there is no such account.
    ///
    /// Errors: [`StorageError::InvalidRow`] when the row has no `pass_details` (a MongooseIM
    /// account with a plain-text password only) or one that does not parse.
    pub async fn pass_details(
        &self,
        domain: &str,
        username: &str,
    ) -> Result<Option<PassDetails>, StorageError> {
        read_for_user!(self, "pass_details", domain, username, |pool| {
            let row: Option<Option<String>> = sqlx::query_scalar(PASS_DETAILS)
                .bind(domain)
                .bind(username)
                .fetch_optional(pool)
                .await?;
            stored_pass_details(row)?
        })
    }

    /// Replaces the account's credentials. Returns `false` when there is no such account.
    pub async fn set_pass_details(
        &self,
        domain: &str,
        username: &str,
        pass_details: &PassDetails,
    ) -> Result<bool, StorageError> {
        let changed = self
            .write_pass_details(
                "set_pass_details",
                SET_PASS_DETAILS,
                domain,
                username,
                pass_details,
            )
            .await?
            > 0;
        if changed {
            tracing::info!(%domain, %username, "password changed");
        }
        Ok(changed)
    }

    /// The usernames of `domain`, sorted by their bytes (the same order on both backends,
    /// whatever the database's collation).
    pub async fn list_users(&self, domain: &str) -> Result<Vec<String>, StorageError> {
        let work = async {
            let mut usernames: Vec<String> = on_pool!(self, |pool| {
                sqlx::query_scalar(LIST)
                    .bind(domain)
                    .fetch_all(pool)
                    .await?
            });
            usernames.sort_unstable();
            Ok::<_, Failure>(usernames)
        };
        self.run("list_users", domain.to_string(), work).await
    }

    /// How many accounts `domain` has.
    pub async fn count_users(&self, domain: &str) -> Result<u64, StorageError> {
        let work = async {
            let count: i64 = on_pool!(self, |pool| {
                sqlx::query_scalar(COUNT)
                    .bind(domain)
                    .fetch_one(pool)
                    .await?
            });
            non_negative("COUNT(*)", count)
        };
        self.run("count_users", domain.to_string(), work).await
    }

    /// Runs `statement`, which binds the domain, the username and the credentials, as
    /// `operation`; how many rows it changed.
    async fn write_pass_details(
        &self,
        operation: &'static str,
        statement: &'static str,
        domain: &str,
        username: &str,
        pass_details: &PassDetails,
    ) -> Result<u64, StorageError> {
        let pass_details = pass_details.to_string();
        let work = async {
            let rows = on_pool!(self, |pool| {
                sqlx::query(statement)
                    .bind(domain)
                    .bind(username)
                    .bind(&pass_details)
                    .execute(pool)
                    .await?
                    .rows_affected()
            });
            Ok::<_, Failure>(rows)
        };
        self.run(operation, account(domain, username), work).await
    }
}

fn check_name_length(field: &'static str, name: &str) -> Result<(), StorageError> {
    if name.len() > NAME_BYTES_MAX {
        return Err(StorageError::TooLong {
            field,
            bytes: name.len(),
            max: NAME_BYTES_MAX,
        });
    }
    Ok(())
}

/// The `pass_details` column of an account's row (`None`: no such account).
fn stored_pass_details(row: Option<Option<String>>) -> Result<Option<PassDetails>, Failure> {
    match row {
        None => Ok(None),
        Some(None) => Err(Failure::InvalidRow(
            "users.pass_details is NULL: the account has no SCRAM secrets".into(),
        )),
        Some(Some(text)) => text.parse::<PassDetails>().map(Some).map_err(|error| {
            Failure::InvalidRow(format!("users.pass_details does not parse: {error}"))
        }),
    }
}
