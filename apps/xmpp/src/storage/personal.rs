//! A user's small per-feature records: vCard (XEP-0054), private XML (XEP-0049), last activity
//! (XEP-0012) and block list (XEP-0191).

use super::{read_for_user, write_for_user, Storage, StorageError};

const VCARD: &str = "SELECT vcard FROM vcard WHERE server = $1 AND username = $2";
const SET_VCARD: &str = "INSERT INTO vcard (server, username, vcard) VALUES ($1, $2, $3) \
                         ON CONFLICT (server, username) DO UPDATE SET vcard = excluded.vcard";
const PRIVATE: &str = "SELECT data FROM private_storage \
                       WHERE server = $1 AND username = $2 AND namespace = $3";
const SET_PRIVATE: &str = "INSERT INTO private_storage (server, username, namespace, data) \
                           VALUES ($1, $2, $3, $4) ON CONFLICT (server, username, namespace) \
                           DO UPDATE SET data = excluded.data";
const LAST: &str = "SELECT seconds, state FROM \"last\" WHERE server = $1 AND username = $2";
const SET_LAST: &str = "INSERT INTO \"last\" (server, username, seconds, state) \
                        VALUES ($1, $2, $3, $4) ON CONFLICT (server, username) \
                        DO UPDATE SET seconds = excluded.seconds, state = excluded.state";
const BLOCKLIST: &str = "SELECT jid FROM blocking WHERE server = $1 AND username = $2";
const BLOCK: &str = "INSERT INTO blocking (server, username, jid) VALUES ($1, $2, $3) \
                     ON CONFLICT (server, username, jid) DO NOTHING";
const UNBLOCK: &str = "DELETE FROM blocking WHERE server = $1 AND username = $2 AND jid = $3";
const UNBLOCK_ALL: &str = "DELETE FROM blocking WHERE server = $1 AND username = $2";

impl Storage {
    /// The user's vCard, the `<vCard/>` element as stored; `None` when none was set.
    pub async fn vcard(
        &self,
        domain: &str,
        username: &str,
    ) -> Result<Option<String>, StorageError> {
        read_for_user!(self, "vcard", domain, username, |pool| {
            sqlx::query_scalar(VCARD)
                .bind(domain)
                .bind(username)
                .fetch_optional(pool)
                .await?
        })
    }

    /// Sets (replaces) the user's vCard.
    ///
    /// Errors: [`StorageError::UserNotFound`].
    pub async fn set_vcard(
        &self,
        domain: &str,
        username: &str,
        vcard_xml: &str,
    ) -> Result<(), StorageError> {
        write_for_user!(self, "set_vcard", domain, username, |transaction| {
            sqlx::query(SET_VCARD)
                .bind(domain)
                .bind(username)
                .bind(vcard_xml)
                .execute(&mut *transaction)
                .await?;
        })
    }

    /// The user's private XML for `namespace` (the stored child element); `None` when none.
    pub async fn private_xml(
        &self,
        domain: &str,
        username: &str,
        namespace: &str,
    ) -> Result<Option<String>, StorageError> {
        read_for_user!(self, "private_xml", domain, username, |pool| {
            sqlx::query_scalar(PRIVATE)
                .bind(domain)
                .bind(username)
                .bind(namespace)
                .fetch_optional(pool)
                .await?
        })
    }

    /// Sets (replaces) the user's private XML for `namespace`.
    ///
    /// Errors: [`StorageError::UserNotFound`].
    pub async fn set_private_xml(
        &self,
        domain: &str,
        username: &str,
        namespace: &str,
        xml: &str,
    ) -> Result<(), StorageError> {
        write_for_user!(self, "set_private_xml", domain, username, |transaction| {
            sqlx::query(SET_PRIVATE)
                .bind(domain)
                .bind(username)
                .bind(namespace)
                .bind(xml)
                .execute(&mut *transaction)
                .await?;
        })
    }

    /// When the user's last session ended (Unix seconds) and the status it left with; `None`
    /// when never recorded.
    pub async fn last_activity(
        &self,
        domain: &str,
        username: &str,
    ) -> Result<Option<(i64, String)>, StorageError> {
        read_for_user!(self, "last_activity", domain, username, |pool| {
            sqlx::query_as(LAST)
                .bind(domain)
                .bind(username)
                .fetch_optional(pool)
                .await?
        })
    }

    /// Records the end of the user's last session: Unix `seconds` and the `status` text (`""`
    /// for none).
    ///
    /// Errors: [`StorageError::UserNotFound`].
    pub async fn set_last_activity(
        &self,
        domain: &str,
        username: &str,
        seconds: i64,
        status: &str,
    ) -> Result<(), StorageError> {
        write_for_user!(self, "set_last_activity", domain, username, |transaction| {
            sqlx::query(SET_LAST)
                .bind(domain)
                .bind(username)
                .bind(seconds)
                .bind(status)
                .execute(&mut *transaction)
                .await?;
        })
    }

    /// The JIDs the user blocks, sorted by their bytes.
    pub async fn blocklist(
        &self,
        domain: &str,
        username: &str,
    ) -> Result<Vec<String>, StorageError> {
        let mut jids: Vec<String> = read_for_user!(self, "blocklist", domain, username, |pool| {
            sqlx::query_scalar(BLOCKLIST)
                .bind(domain)
                .bind(username)
                .fetch_all(pool)
                .await?
        })?;
        jids.sort_unstable();
        Ok(jids)
    }

    /// Adds `jids` to the user's block list, in one transaction; JIDs already blocked are
    /// skipped.
    ///
    /// Errors: [`StorageError::UserNotFound`].
    pub async fn block(
        &self,
        domain: &str,
        username: &str,
        jids: &[String],
    ) -> Result<(), StorageError> {
        write_for_user!(self, "block", domain, username, |transaction| {
            for jid in jids {
                sqlx::query(BLOCK)
                    .bind(domain)
                    .bind(username)
                    .bind(jid)
                    .execute(&mut *transaction)
                    .await?;
            }
        })
    }

    /// Removes `jids` from the user's block list, in one transaction; an empty slice unblocks
    /// everyone (XEP-0191's `<unblock/>` without items). JIDs not blocked are skipped.
    ///
    /// Errors: [`StorageError::UserNotFound`].
    pub async fn unblock(
        &self,
        domain: &str,
        username: &str,
        jids: &[String],
    ) -> Result<(), StorageError> {
        write_for_user!(self, "unblock", domain, username, |transaction| {
            if jids.is_empty() {
                sqlx::query(UNBLOCK_ALL)
                    .bind(domain)
                    .bind(username)
                    .execute(&mut *transaction)
                    .await?;
            }
            for jid in jids {
                sqlx::query(UNBLOCK)
                    .bind(domain)
                    .bind(username)
                    .bind(jid)
                    .execute(&mut *transaction)
                    .await?;
            }
        })
    }
}
