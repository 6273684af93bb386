//! `ctl account ...`: mongooseimctl's account category, straight on the database.
//!
//! Arguments are checked before the database is opened: the domain must be one of
//! `general.hosts` (after normalisation), the username a valid JID localpart, the password one
//! the `OpaqueString` profile accepts. Output names the account by its normalised JID.

use clap::Subcommand;
use serde_json::{json, Value};

use super::output::{CtlError, ErrorCode};
use crate::config::Config;
use crate::jid::{normalize_domain, normalize_localpart};
use crate::storage::{Storage, StorageError};

/// `ctl account` commands, with mongooseimctl's names.
#[derive(Debug, Subcommand)]
#[command(rename_all = "camelCase")]
pub enum AccountCommand {
    /// Register a user
    RegisterUser {
        /// A domain in general.hosts
        #[arg(long)]
        domain: String,
        /// The new user's name (a JID localpart)
        #[arg(long)]
        username: String,
        /// The password; only its SCRAM secrets are stored
        #[arg(long)]
        password: String,
    },
    /// Remove a user and everything the user owns
    RemoveUser {
        /// A domain in general.hosts
        #[arg(long)]
        domain: String,
        /// The user's name
        #[arg(long)]
        username: String,
    },
    /// List a domain's users, as JIDs, sorted
    ListUsers {
        /// A domain in general.hosts
        #[arg(long)]
        domain: String,
    },
    /// Count a domain's users
    CountUsers {
        /// A domain in general.hosts
        #[arg(long)]
        domain: String,
    },
    /// Tell whether a user exists
    CheckUser {
        /// A domain in general.hosts
        #[arg(long)]
        domain: String,
        /// The user's name
        #[arg(long)]
        username: String,
    },
    /// Change a user's password
    ChangeUserPassword {
        /// A domain in general.hosts
        #[arg(long)]
        domain: String,
        /// The user's name
        #[arg(long)]
        username: String,
        /// The new password
        #[arg(long = "newPassword", value_name = "NEW_PASSWORD")]
        new_password: String,
    },
}

/// Runs one account command; the JSON result to print, or the error.
pub(super) async fn run(config: &Config, command: AccountCommand) -> Result<Value, CtlError> {
    match command {
        AccountCommand::RegisterUser {
            domain,
            username,
            password,
        } => {
            let (domain, username) = (served_domain(config, &domain)?, localpart(&username)?);
            let details = config.auth.password.derive(&password).map_err(|error| {
                CtlError::new(
                    ErrorCode::InvalidPassword,
                    format!("Invalid password: {error}"),
                )
            })?;
            let storage = open(config).await?;
            storage
                .register_user(&domain, &username, &details)
                .await
                .map_err(storage_error)?;
            let jid = format!("{username}@{domain}");
            Ok(ok(format!("User {jid} successfully registered"), &jid))
        }
        AccountCommand::RemoveUser { domain, username } => {
            let (domain, username) = (served_domain(config, &domain)?, localpart(&username)?);
            let storage = open(config).await?;
            let jid = format!("{username}@{domain}");
            if !storage
                .remove_user(&domain, &username)
                .await
                .map_err(storage_error)?
            {
                return Err(not_found(&jid));
            }
            Ok(ok(format!("User {jid} successfully unregistered"), &jid))
        }
        AccountCommand::ListUsers { domain } => {
            let domain = served_domain(config, &domain)?;
            let storage = open(config).await?;
            let usernames = storage.list_users(&domain).await.map_err(storage_error)?;
            let jids: Vec<String> = usernames
                .iter()
                .map(|username| format!("{username}@{domain}"))
                .collect();
            Ok(json!(jids))
        }
        AccountCommand::CountUsers { domain } => {
            let domain = served_domain(config, &domain)?;
            let storage = open(config).await?;
            let count = storage.count_users(&domain).await.map_err(storage_error)?;
            Ok(json!(count))
        }
        AccountCommand::CheckUser { domain, username } => {
            let (domain, username) = (served_domain(config, &domain)?, localpart(&username)?);
            let storage = open(config).await?;
            let exists = storage
                .user_exists(&domain, &username)
                .await
                .map_err(storage_error)?;
            let jid = format!("{username}@{domain}");
            let message = if exists {
                format!("User {jid} exists")
            } else {
                format!("User {jid} does not exist")
            };
            Ok(json!({ "result": "ok", "exist": exists, "message": message, "jid": jid }))
        }
        AccountCommand::ChangeUserPassword {
            domain,
            username,
            new_password,
        } => {
            let (domain, username) = (served_domain(config, &domain)?, localpart(&username)?);
            let details = config
                .auth
                .password
                .derive(&new_password)
                .map_err(|error| {
                    CtlError::new(
                        ErrorCode::InvalidPassword,
                        format!("Invalid password: {error}"),
                    )
                })?;
            let storage = open(config).await?;
            let jid = format!("{username}@{domain}");
            if !storage
                .set_pass_details(&domain, &username, &details)
                .await
                .map_err(storage_error)?
            {
                return Err(not_found(&jid));
            }
            Ok(ok("Password changed".to_string(), &jid))
        }
    }
}

fn ok(message: String, jid: &str) -> Value {
    json!({ "result": "ok", "message": message, "jid": jid })
}

/// The normalised domain, if the config serves it.
fn served_domain(config: &Config, domain: &str) -> Result<String, CtlError> {
    let unknown = |reason: String| {
        CtlError::new(
            ErrorCode::UnknownDomain,
            format!(
                "Domain {domain:?} {reason} (general.hosts: {})",
                config.general.hosts.join(", ")
            ),
        )
    };
    let normalised =
        normalize_domain(domain).map_err(|error| unknown(format!("is not valid: {error}")))?;
    if !config.serves(&normalised) {
        return Err(unknown("is not served by this server".to_string()));
    }
    Ok(normalised)
}

fn localpart(username: &str) -> Result<String, CtlError> {
    normalize_localpart(username).map_err(|error| {
        CtlError::new(
            ErrorCode::InvalidUsername,
            format!("Invalid username {username:?}: {error}"),
        )
    })
}

async fn open(config: &Config) -> Result<Storage, CtlError> {
    Storage::connect_with(config.storage_options())
        .await
        .map_err(storage_error)
}

fn not_found(jid: &str) -> CtlError {
    CtlError::new(
        ErrorCode::UserNotFound,
        format!("User {jid} does not exist"),
    )
}

fn storage_error(error: StorageError) -> CtlError {
    match &error {
        StorageError::UserExists { domain, username } => CtlError::new(
            ErrorCode::UserExists,
            format!("User {username}@{domain} already exists"),
        ),
        StorageError::UserNotFound { domain, username } => {
            not_found(&format!("{username}@{domain}"))
        }
        StorageError::TooLong { .. } => {
            CtlError::new(ErrorCode::InvalidUsername, error.to_string())
        }
        _ => CtlError::new(ErrorCode::DatabaseError, error.to_string()),
    }
}
