//! Offline messages (XEP-0160): `offline_message`.

use std::time::{SystemTime, UNIX_EPOCH};

use super::{
    account, in_transaction, non_negative, on_pool, require_user, Failure, OfflineMessage, Storage,
    StorageError,
};

const COUNT: &str = "SELECT COUNT(*) FROM offline_message WHERE server = $1 AND username = $2";
const INSERT: &str = "INSERT INTO offline_message \
                      (timestamp, server, username, from_jid, packet) \
                      VALUES ($1, $2, $3, $4, $5)";
/// One statement: what it returns is exactly what it deleted.
const TAKE: &str = "DELETE FROM offline_message WHERE server = $1 AND username = $2 \
                    RETURNING id, from_jid, packet, timestamp";

impl Storage {
    /// Stores a message for the user, stamped with this node's clock (Unix microseconds), unless
    /// the user already has `limit` messages stored. The count and the insert are one
    /// transaction under the user's lock, so concurrent stores never overshoot `limit`.
    ///
    /// Errors: [`StorageError::OfflineFull`] (always, when `limit` is 0);
    /// [`StorageError::UserNotFound`].
    pub async fn store_offline(
        &self,
        domain: &str,
        username: &str,
        from: &str,
        packet_xml: &str,
        limit: usize,
    ) -> Result<(), StorageError> {
        let timestamp = unix_micros_now();
        let work = async {
            in_transaction!(self, |transaction, dialect| {
                require_user!(transaction, dialect, domain, username);
                let count: i64 = sqlx::query_scalar(COUNT)
                    .bind(domain)
                    .bind(username)
                    .fetch_one(&mut *transaction)
                    .await?;
                if non_negative("COUNT(*)", count)? >= limit as u64 {
                    return Err(Failure::Storage(StorageError::OfflineFull {
                        domain: domain.to_string(),
                        username: username.to_string(),
                        limit,
                    }));
                }
                sqlx::query(INSERT)
                    .bind(timestamp)
                    .bind(domain)
                    .bind(username)
                    .bind(from)
                    .bind(packet_xml)
                    .execute(&mut *transaction)
                    .await?;
                crate::metrics::offline_queue(count + 1);
            });
            Ok::<_, Failure>(())
        };
        self.run("store_offline", account(domain, username), work)
            .await
    }

    /// Takes the user's offline messages, oldest first: they are deleted by the same statement
    /// that reads them, so two sessions logging in at once never both get a message. Bounded by
    /// the `limit` they were stored with. Empty for an unknown user.
    pub async fn take_offline(
        &self,
        domain: &str,
        username: &str,
    ) -> Result<Vec<OfflineMessage>, StorageError> {
        let work = async {
            let mut rows: Vec<(i64, String, String, i64)> = on_pool!(self, |pool| {
                sqlx::query_as(TAKE)
                    .bind(domain)
                    .bind(username)
                    .fetch_all(pool)
                    .await?
            });
            // RETURNING promises no order; ids grow with every insert.
            rows.sort_unstable_by_key(|(id, ..)| *id);
            let messages = rows
                .into_iter()
                .map(|(_, from, packet_xml, stored_at)| OfflineMessage {
                    from,
                    packet_xml,
                    stored_at,
                })
                .collect();
            Ok::<_, Failure>(messages)
        };
        self.run("take_offline", account(domain, username), work)
            .await
    }

    /// How many offline messages the user has stored.
    pub async fn count_offline(&self, domain: &str, username: &str) -> Result<u64, StorageError> {
        let work = async {
            let count: i64 = on_pool!(self, |pool| {
                sqlx::query_scalar(COUNT)
                    .bind(domain)
                    .bind(username)
                    .fetch_one(pool)
                    .await?
            });
            non_negative("COUNT(*)", count)
        };
        self.run("count_offline", account(domain, username), work)
            .await
    }
}

/// Now, in Unix microseconds. A clock before 1970 reads as 0; one past `i64::MAX` microseconds
/// (the year 294247) as `i64::MAX`.
fn unix_micros_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_micros()).unwrap_or(i64::MAX)
        })
}
