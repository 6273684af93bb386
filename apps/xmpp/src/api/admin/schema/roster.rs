//! The admin schema's `roster` category (MongooseIM's `priv/graphql/schemas/admin/roster.gql`):
//! any local user's contacts, changed the way the user's own client would change them
//! ([`crate::api::roster`]), plus `setMutualSubscription`, which has no client equivalent.

use async_graphql::{Context, Object};

use crate::api::admin::AdminContext;
use crate::api::graphql::{existing_account, JidScalar, Result};
use crate::api::roster::{self, Contact, MutualSubAction};

fn context<'a>(ctx: &Context<'a>) -> Result<&'a AdminContext> {
    ctx.data::<AdminContext>()
}

/// Allow admin to get information about user roster/contacts.
pub(crate) struct RosterAdminQuery;

#[Object]
impl RosterAdminQuery {
    /// Get the user's roster/contacts
    async fn list_contacts(&self, ctx: &Context<'_>, user: JidScalar) -> Result<Vec<Contact>> {
        let context = context(ctx)?;
        let user = existing_account(&context.router, &context.storage, &user.0).await?;
        roster::list_contacts(&context.storage, &context.router, &user).await
    }

    /// Get the information about the user's specific contact
    async fn get_contact(
        &self,
        ctx: &Context<'_>,
        user: JidScalar,
        contact: JidScalar,
    ) -> Result<Option<Contact>> {
        let context = context(ctx)?;
        let user = existing_account(&context.router, &context.storage, &user.0).await?;
        roster::get_contact(&context.storage, &context.router, &user, &contact.0).await
    }
}

/// Allow admin to manage user roster/contacts.
pub(crate) struct RosterAdminMutation;

#[Object]
impl RosterAdminMutation {
    /// Add a new contact to a user's roster without subscription
    async fn add_contact(
        &self,
        ctx: &Context<'_>,
        user: JidScalar,
        contact: JidScalar,
        name: Option<String>,
        groups: Option<Vec<String>>,
    ) -> Result<String> {
        let context = context(ctx)?;
        let user = existing_account(&context.router, &context.storage, &user.0).await?;
        roster::add_contact(&context.router, &user, &contact.0, name, groups).await
    }

    /// Delete user's contact
    async fn delete_contact(
        &self,
        ctx: &Context<'_>,
        user: JidScalar,
        contact: JidScalar,
    ) -> Result<String> {
        let context = context(ctx)?;
        let user = existing_account(&context.router, &context.storage, &user.0).await?;
        roster::delete_contact(&context.router, &user, &contact.0).await
    }

    /// Manage mutual subscription between given users
    #[graphql(name = "setMutualSubscription")]
    async fn set_mutual_subscription(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "userA")] user_a: JidScalar,
        #[graphql(name = "userB")] user_b: JidScalar,
        action: MutualSubAction,
    ) -> Result<String> {
        let context = context(ctx)?;
        let user_a = existing_account(&context.router, &context.storage, &user_a.0).await?;
        let user_b = existing_account(&context.router, &context.storage, &user_b.0).await?;
        roster::set_mutual_subscription(&context.storage, &context.router, &user_a, &user_b, action)
            .await
    }
}
