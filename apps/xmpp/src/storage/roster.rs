//! Rosters: `rosterusers`, `rostergroups` and the XEP-0237 `roster_version` counter.
//!
//! Versioning by deltas (XEP-0237 §4): every change bumps the roster's counter and stamps the
//! changed item with it (`rosterusers.version`); a removal leaves a row in `roster_removed`
//! with its version. [`Storage::roster_changes_since`] answers "what changed after version
//! `n`", unless `n` is below the roster's `horizon`: removals are kept for the newest
//! [`ROSTER_REMOVALS_KEPT`] per user (pruning older ones raises the horizon), and the migration
//! that added item versions set every horizon to the version it found.

use std::collections::{BTreeMap, BTreeSet};

use super::{
    account, in_transaction, non_negative, on_pool, require_user, Failure, RosterItem, Storage,
    StorageError, Subscription,
};

/// `$1` server, `$2` username: every item with its groups, one row per (item, group) and one
/// with a NULL group for an item in none. One statement, so items and groups are one snapshot.
const ITEMS: &str = "SELECT u.jid, u.nick, u.subscription, u.ask, u.askmessage, g.grp \
                     FROM rosterusers u LEFT JOIN rostergroups g \
                     ON g.server = u.server AND g.username = u.username AND g.jid = u.jid \
                     WHERE u.server = $1 AND u.username = $2";
/// As [`ITEMS`], for the one contact `$3`.
const ITEM: &str = "SELECT u.jid, u.nick, u.subscription, u.ask, u.askmessage, g.grp \
                    FROM rosterusers u LEFT JOIN rostergroups g \
                    ON g.server = u.server AND g.username = u.username AND g.jid = u.jid \
                    WHERE u.server = $1 AND u.username = $2 AND u.jid = $3";
const UPSERT: &str = "INSERT INTO rosterusers \
                      (server, username, jid, nick, subscription, ask, askmessage, version) \
                      VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                      ON CONFLICT (server, username, jid) DO UPDATE SET \
                      nick = excluded.nick, subscription = excluded.subscription, \
                      ask = excluded.ask, askmessage = excluded.askmessage, \
                      version = excluded.version";
/// As [`ITEMS`], for the items changed after version `$3`.
const ITEMS_SINCE: &str = "SELECT u.jid, u.nick, u.subscription, u.ask, u.askmessage, g.grp \
                           FROM rosterusers u LEFT JOIN rostergroups g \
                           ON g.server = u.server AND g.username = u.username AND g.jid = u.jid \
                           WHERE u.server = $1 AND u.username = $2 AND u.version > $3";
const ITEM_VERSIONS_SINCE: &str = "SELECT jid, version FROM rosterusers \
                                   WHERE server = $1 AND username = $2 AND version > $3";
const REMOVED_SINCE: &str = "SELECT jid, version FROM roster_removed \
                             WHERE server = $1 AND username = $2 AND version > $3";
const HORIZON: &str = "SELECT horizon FROM roster_version WHERE server = $1 AND username = $2";
const RECORD_REMOVAL: &str = "INSERT INTO roster_removed (server, username, jid, version) \
                              VALUES ($1, $2, $3, $4) ON CONFLICT (server, username, jid) \
                              DO UPDATE SET version = excluded.version";
const FORGET_REMOVAL: &str =
    "DELETE FROM roster_removed WHERE server = $1 AND username = $2 AND jid = $3";
/// The version of the removal just past the newest `$3` kept, if there are more.
const OLDEST_PRUNED: &str = "SELECT version FROM roster_removed \
                             WHERE server = $1 AND username = $2 \
                             ORDER BY version DESC LIMIT 1 OFFSET $3";
const PRUNE_REMOVALS: &str =
    "DELETE FROM roster_removed WHERE server = $1 AND username = $2 AND version <= $3";
const RAISE_HORIZON: &str = "UPDATE roster_version SET horizon = $3 \
                             WHERE server = $1 AND username = $2 AND horizon < $3";
const DELETE_ITEM: &str =
    "DELETE FROM rosterusers WHERE server = $1 AND username = $2 AND jid = $3";
const DELETE_GROUPS: &str =
    "DELETE FROM rostergroups WHERE server = $1 AND username = $2 AND jid = $3";
const INSERT_GROUP: &str =
    "INSERT INTO rostergroups (server, username, jid, grp) VALUES ($1, $2, $3, $4)";
/// Bumps the version, starting at 1, and returns it; the row lock orders concurrent bumps.
const BUMP_VERSION: &str = "INSERT INTO roster_version (server, username, version) \
                            VALUES ($1, $2, 1) ON CONFLICT (server, username) \
                            DO UPDATE SET version = roster_version.version + 1 \
                            RETURNING version";
const VERSION: &str = "SELECT version FROM roster_version WHERE server = $1 AND username = $2";

/// Removals kept per user for versioning by deltas; a client older than the oldest pruned one
/// gets the whole roster.
pub const ROSTER_REMOVALS_KEPT: i64 = 500;

/// One change to a roster since a version, for XEP-0237 §4 pushes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RosterChange {
    /// The item as it is now, changed at `version`.
    Item {
        /// The item.
        item: RosterItem,
        /// The version of its latest change.
        version: u64,
    },
    /// The contact's item was removed at `version`.
    Removed {
        /// The contact's bare JID.
        jid: String,
        /// The version of the removal.
        version: u64,
    },
}

impl RosterChange {
    /// The version of the change.
    pub fn version(&self) -> u64 {
        match self {
            RosterChange::Item { version, .. } | RosterChange::Removed { version, .. } => *version,
        }
    }
}

/// `(jid, version)`.
type VersionRow = (String, i64);

/// `(jid, nick, subscription, ask, askmessage, grp)`.
type ItemRow = (String, String, String, String, String, Option<String>);

impl Storage {
    /// The user's whole roster, sorted by contact JID, including rows kept only for a pending
    /// inbound request (see [`RosterItem`]). Empty for an unknown user.
    pub async fn roster_items(
        &self,
        domain: &str,
        username: &str,
    ) -> Result<Vec<RosterItem>, StorageError> {
        let work = async {
            let rows: Vec<ItemRow> = on_pool!(self, |pool| {
                sqlx::query_as(ITEMS)
                    .bind(domain)
                    .bind(username)
                    .fetch_all(pool)
                    .await?
            });
            items_from_rows(rows)
        };
        self.run("roster_items", account(domain, username), work)
            .await
    }

    /// The roster item for `contact` (a bare JID), if there is one.
    pub async fn roster_item(
        &self,
        domain: &str,
        username: &str,
        contact: &str,
    ) -> Result<Option<RosterItem>, StorageError> {
        let work = async {
            let rows: Vec<ItemRow> = on_pool!(self, |pool| {
                sqlx::query_as(ITEM)
                    .bind(domain)
                    .bind(username)
                    .bind(contact)
                    .fetch_all(pool)
                    .await?
            });
            Ok::<_, Failure>(items_from_rows(rows)?.pop())
        };
        self.run("roster_item", account(domain, username), work)
            .await
    }

    /// Adds or replaces the item for `item.jid` (its groups replaced too; duplicates dropped)
    /// and bumps the roster version, in one transaction. Returns the new version.
    ///
    /// Errors: [`StorageError::UserNotFound`].
    pub async fn upsert_roster_item(
        &self,
        domain: &str,
        username: &str,
        item: &RosterItem,
    ) -> Result<u64, StorageError> {
        let groups: BTreeSet<&str> = item.groups.iter().map(String::as_str).collect();
        let work = async {
            let version: i64 = in_transaction!(self, |transaction, dialect| {
                require_user!(transaction, dialect, domain, username);
                let version: i64 = sqlx::query_scalar(BUMP_VERSION)
                    .bind(domain)
                    .bind(username)
                    .fetch_one(&mut *transaction)
                    .await?;
                sqlx::query(UPSERT)
                    .bind(domain)
                    .bind(username)
                    .bind(&item.jid)
                    .bind(item.name.as_deref().unwrap_or(""))
                    .bind(item.subscription.code())
                    .bind(item.ask_code())
                    .bind(item.pending_in.as_deref().unwrap_or(""))
                    .bind(version)
                    .execute(&mut *transaction)
                    .await?;
                sqlx::query(FORGET_REMOVAL)
                    .bind(domain)
                    .bind(username)
                    .bind(&item.jid)
                    .execute(&mut *transaction)
                    .await?;
                sqlx::query(DELETE_GROUPS)
                    .bind(domain)
                    .bind(username)
                    .bind(&item.jid)
                    .execute(&mut *transaction)
                    .await?;
                for group in &groups {
                    sqlx::query(INSERT_GROUP)
                        .bind(domain)
                        .bind(username)
                        .bind(&item.jid)
                        .bind(*group)
                        .execute(&mut *transaction)
                        .await?;
                }
                version
            });
            non_negative("roster_version.version", version)
        };
        self.run("upsert_roster_item", account(domain, username), work)
            .await
    }

    /// Deletes the item for `contact` and its groups, bumping the roster version, in one
    /// transaction. Returns the new version, or `None` (version unchanged) when there was no
    /// such item.
    ///
    /// Errors: [`StorageError::UserNotFound`].
    pub async fn delete_roster_item(
        &self,
        domain: &str,
        username: &str,
        contact: &str,
    ) -> Result<Option<u64>, StorageError> {
        let work = async {
            let version: Option<i64> = in_transaction!(self, |transaction, dialect| {
                require_user!(transaction, dialect, domain, username);
                let deleted = sqlx::query(DELETE_ITEM)
                    .bind(domain)
                    .bind(username)
                    .bind(contact)
                    .execute(&mut *transaction)
                    .await?
                    .rows_affected();
                if deleted == 0 {
                    None
                } else {
                    sqlx::query(DELETE_GROUPS)
                        .bind(domain)
                        .bind(username)
                        .bind(contact)
                        .execute(&mut *transaction)
                        .await?;
                    let version: i64 = sqlx::query_scalar(BUMP_VERSION)
                        .bind(domain)
                        .bind(username)
                        .fetch_one(&mut *transaction)
                        .await?;
                    sqlx::query(RECORD_REMOVAL)
                        .bind(domain)
                        .bind(username)
                        .bind(contact)
                        .bind(version)
                        .execute(&mut *transaction)
                        .await?;
                    let pruned: Option<i64> = sqlx::query_scalar(OLDEST_PRUNED)
                        .bind(domain)
                        .bind(username)
                        .bind(ROSTER_REMOVALS_KEPT)
                        .fetch_optional(&mut *transaction)
                        .await?;
                    if let Some(pruned) = pruned {
                        sqlx::query(PRUNE_REMOVALS)
                            .bind(domain)
                            .bind(username)
                            .bind(pruned)
                            .execute(&mut *transaction)
                            .await?;
                        sqlx::query(RAISE_HORIZON)
                            .bind(domain)
                            .bind(username)
                            .bind(pruned)
                            .execute(&mut *transaction)
                            .await?;
                    }
                    Some(version)
                }
            });
            version
                .map(|version| non_negative("roster_version.version", version))
                .transpose()
        };
        self.run("delete_roster_item", account(domain, username), work)
            .await
    }

    /// What changed in the roster after version `since`, oldest first: the items as they are
    /// now (hidden ones included: to the client they are removals) and the removals; `None`
    /// when `since` is below the roster's horizon (see the module docs) and only the whole
    /// roster will do. Read under the user's row lock, as the writers write, so the changes
    /// are one consistent snapshot.
    ///
    /// Errors: [`StorageError::UserNotFound`].
    pub async fn roster_changes_since(
        &self,
        domain: &str,
        username: &str,
        since: u64,
    ) -> Result<Option<Vec<RosterChange>>, StorageError> {
        let since = i64::try_from(since).unwrap_or(i64::MAX);
        let work = async {
            let read: Option<(Vec<ItemRow>, Vec<VersionRow>, Vec<VersionRow>)> =
                in_transaction!(self, |transaction, dialect| {
                    require_user!(transaction, dialect, domain, username);
                    let horizon: Option<i64> = sqlx::query_scalar(HORIZON)
                        .bind(domain)
                        .bind(username)
                        .fetch_optional(&mut *transaction)
                        .await?;
                    if since < horizon.unwrap_or(0) {
                        None
                    } else {
                        let rows: Vec<ItemRow> = sqlx::query_as(ITEMS_SINCE)
                            .bind(domain)
                            .bind(username)
                            .bind(since)
                            .fetch_all(&mut *transaction)
                            .await?;
                        let versions: Vec<VersionRow> = sqlx::query_as(ITEM_VERSIONS_SINCE)
                            .bind(domain)
                            .bind(username)
                            .bind(since)
                            .fetch_all(&mut *transaction)
                            .await?;
                        let removed: Vec<VersionRow> = sqlx::query_as(REMOVED_SINCE)
                            .bind(domain)
                            .bind(username)
                            .bind(since)
                            .fetch_all(&mut *transaction)
                            .await?;
                        Some((rows, versions, removed))
                    }
                });
            let Some((rows, versions, removed)) = read else {
                return Ok(None);
            };
            let versions: BTreeMap<String, i64> = versions.into_iter().collect();
            let mut changes = Vec::with_capacity(versions.len() + removed.len());
            for item in items_from_rows(rows)? {
                let version = versions.get(&item.jid).copied().unwrap_or(since);
                let version = non_negative("rosterusers.version", version)?;
                changes.push(RosterChange::Item { item, version });
            }
            for (jid, version) in removed {
                let version = non_negative("roster_removed.version", version)?;
                changes.push(RosterChange::Removed { jid, version });
            }
            changes.sort_by_key(RosterChange::version);
            Ok::<_, Failure>(Some(changes))
        };
        self.run("roster_changes_since", account(domain, username), work)
            .await
    }

    /// The roster's current version: 0 before the first change, then bumped by one per change.
    pub async fn roster_version(&self, domain: &str, username: &str) -> Result<u64, StorageError> {
        let work = async {
            let version: Option<i64> = on_pool!(self, |pool| {
                sqlx::query_scalar(VERSION)
                    .bind(domain)
                    .bind(username)
                    .fetch_optional(pool)
                    .await?
            });
            non_negative("roster_version.version", version.unwrap_or(0))
        };
        self.run("roster_version", account(domain, username), work)
            .await
    }
}

/// Folds join rows into items, sorted by JID, their groups sorted.
fn items_from_rows(rows: Vec<ItemRow>) -> Result<Vec<RosterItem>, Failure> {
    let mut items: BTreeMap<String, RosterItem> = BTreeMap::new();
    for (jid, nick, subscription_code, ask_code, askmessage, group) in rows {
        if !items.contains_key(&jid) {
            let subscription = Subscription::from_code(&subscription_code).ok_or_else(|| {
                Failure::InvalidRow(format!(
                    "rosterusers.subscription {subscription_code:?} for {jid} is not N, T, F or B"
                ))
            })?;
            let (ask, pending_in) = RosterItem::from_ask_code(&ask_code).ok_or_else(|| {
                Failure::InvalidRow(format!(
                    "rosterusers.ask {ask_code:?} for {jid} is not N, O, I, B, S or U"
                ))
            })?;
            let item = RosterItem {
                jid: jid.clone(),
                name: (!nick.is_empty()).then_some(nick),
                subscription,
                ask,
                pending_in: pending_in.then_some(askmessage),
                groups: Vec::new(),
            };
            items.insert(jid.clone(), item);
        }
        if let (Some(group), Some(item)) = (group, items.get_mut(&jid)) {
            item.groups.push(group);
        }
    }
    Ok(items
        .into_values()
        .map(|mut item| {
            item.groups.sort_unstable();
            item.groups.dedup();
            item
        })
        .collect())
}
