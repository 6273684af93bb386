//! The admin schema's `account` category (MongooseIM's
//! `priv/graphql/schemas/admin/account.gql`): list, count and check users; register, remove,
//! ban, change a password.

use async_graphql::{Context, Object, SimpleObject};

use super::api;
use crate::api::graphql::{
    derive_password, error, fresh_id, remove_account, storage_error, user_not_found, DomainName,
    JidScalar, Result, UserName,
};
use crate::api::ErrorCode;
use crate::jid::{normalize_localpart, BareJid};

/// Modify user payload
#[derive(SimpleObject)]
pub(crate) struct UserPayload {
    /// User JID
    jid: JidScalar,
    /// Result message
    message: String,
}

/// Check user existence payload
#[derive(SimpleObject)]
pub(crate) struct CheckUserPayload {
    /// Status of the user existence
    exist: bool,
    /// Result message
    message: String,
}

/// Check password correctness payload
#[derive(SimpleObject)]
pub(crate) struct CheckPasswordPayload {
    /// Status of the password correctness
    correct: bool,
    /// Result message
    message: String,
}

/// Allow admin to get information about accounts.
pub(crate) struct AccountAdminQuery;

#[Object]
impl AccountAdminQuery {
    /// List users per domain, sorted
    async fn list_users(
        &self,
        ctx: &Context<'_>,
        domain: DomainName,
        limit: Option<u32>,
        index: Option<u32>,
    ) -> Result<Vec<JidScalar>> {
        let api = api(ctx)?;
        let domain = api.served_domain(&domain.0)?;
        let usernames = api
            .context
            .storage
            .list_users(&domain)
            .await
            .map_err(storage_error)?;
        let skip = index.unwrap_or(0) as usize;
        let take = limit.map_or(usize::MAX, |limit| limit as usize);
        Ok(usernames
            .into_iter()
            .skip(skip)
            .take(take)
            .map(|username| JidScalar(format!("{username}@{domain}")))
            .collect())
    }

    /// Get number of users per domain
    async fn count_users(&self, ctx: &Context<'_>, domain: DomainName) -> Result<i64> {
        let api = api(ctx)?;
        let domain = api.served_domain(&domain.0)?;
        let count = api
            .context
            .storage
            .count_users(&domain)
            .await
            .map_err(storage_error)?;
        Ok(i64::try_from(count).unwrap_or(i64::MAX))
    }

    /// Check if a user exists
    async fn check_user(&self, ctx: &Context<'_>, user: JidScalar) -> Result<CheckUserPayload> {
        let api = api(ctx)?;
        let (domain, username) = api.account(&user.0)?;
        let exist = api
            .context
            .storage
            .user_exists(&domain, &username)
            .await
            .map_err(storage_error)?;
        let jid = format!("{username}@{domain}");
        let message = if exist {
            format!("User {jid} exists")
        } else {
            format!("User {jid} does not exist")
        };
        Ok(CheckUserPayload { exist, message })
    }

    /// Check if a password is correct
    async fn check_password(
        &self,
        ctx: &Context<'_>,
        user: JidScalar,
        password: String,
    ) -> Result<CheckPasswordPayload> {
        let api = api(ctx)?;
        let (domain, username) = api.account(&user.0)?;
        let Some(details) = api
            .context
            .storage
            .pass_details(&domain, &username)
            .await
            .map_err(storage_error)?
        else {
            return Err(user_not_found(format_args!("{username}@{domain}")));
        };
        let correct = tokio::task::spawn_blocking(move || details.verify_password(&password))
            .await
            .map_err(|join| error(ErrorCode::InternalError, join.to_string()))?;
        let message = if correct {
            "Password correct"
        } else {
            "Password incorrect"
        };
        Ok(CheckPasswordPayload {
            correct,
            message: message.to_string(),
        })
    }
}

/// Allow admin to manage user accounts.
pub(crate) struct AccountAdminMutation;

#[Object]
impl AccountAdminMutation {
    /// Register a user. Username will be generated when skipped
    async fn register_user(
        &self,
        ctx: &Context<'_>,
        domain: DomainName,
        username: Option<UserName>,
        password: String,
    ) -> Result<UserPayload> {
        let api = api(ctx)?;
        let domain = api.served_domain(&domain.0)?;
        let username = match username {
            Some(username) => normalize_localpart(&username.0).map_err(|reason| {
                error(
                    ErrorCode::InvalidUsername,
                    format!("Invalid username {:?}: {reason}", username.0),
                )
            })?,
            None => fresh_id(),
        };
        let details = derive_password(api.context.password.clone(), password).await?;
        api.context
            .storage
            .register_user(&domain, &username, &details)
            .await
            .map_err(storage_error)?;
        let jid = format!("{username}@{domain}");
        Ok(UserPayload {
            message: format!("User {jid} successfully registered"),
            jid: JidScalar(jid),
        })
    }

    /// Remove the user's account along with all the associated personal data
    async fn remove_user(&self, ctx: &Context<'_>, user: JidScalar) -> Result<UserPayload> {
        let api = api(ctx)?;
        let (domain, username) = api.account(&user.0)?;
        let jid = format!("{username}@{domain}");
        remove_account(&api.context.storage, &domain, &username).await?;
        Ok(UserPayload {
            message: format!("User {jid} successfully unregistered"),
            jid: JidScalar(jid),
        })
    }

    /// Ban an account: kick sessions and set a random password
    async fn ban_user(
        &self,
        ctx: &Context<'_>,
        user: JidScalar,
        reason: String,
    ) -> Result<UserPayload> {
        let api = api(ctx)?;
        let (domain, username) = api.account(&user.0)?;
        let jid = format!("{username}@{domain}");
        api.set_password(&domain, &username, fresh_id()).await?;
        let bare = BareJid::new(Some(&username), &domain)
            .map_err(|reason| error(ErrorCode::BadRequest, reason.to_string()))?;
        for entry in api.user_sessions(&bare)? {
            api.kick(&entry, &reason);
        }
        tracing::info!(%jid, reason, "user banned by the admin API");
        Ok(UserPayload {
            message: format!("User {jid} successfully banned with reason: {reason}"),
            jid: JidScalar(jid),
        })
    }

    /// Change the password of a user
    async fn change_user_password(
        &self,
        ctx: &Context<'_>,
        user: JidScalar,
        new_password: String,
    ) -> Result<UserPayload> {
        let api = api(ctx)?;
        let (domain, username) = api.account(&user.0)?;
        let jid = format!("{username}@{domain}");
        api.set_password(&domain, &username, new_password).await?;
        Ok(UserPayload {
            message: "Password changed".to_string(),
            jid: JidScalar(jid),
        })
    }
}
