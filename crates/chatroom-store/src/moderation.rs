//! Moderation storage: bans that outlive a restart and the audit trail of every moderation
//! action. Kept apart from the message writer: these writes are rare, each is
//! one small transaction of its own, and none of them may wait behind (or slow down) a group
//! commit — on PostgreSQL they use the read pool (whose connections can write), on SQLite the
//! one write connection between two batches (SQLite has one writer anyway).
//!
//! Every change is written together with its audit entry, in one transaction: there is no ban,
//! unban or delete without its record, and no record of one that did not happen. Actions that
//! change nothing stored (kick, mute) are recorded with [`crate::Store::record`].
//!
//! A moderator's delete is a change like an author's: it goes through the message writer
//! ([`crate::Store::append_audited`]), which writes the audit entry in the change's
//! transaction. A deleted message keeps its row, id, room, sender and time; only its text is
//! emptied. No `send` can store empty text, so empty text *is* the tombstone.

use crate::AnyBackend;
use crate::{Store, StoreError};
use serde::Serialize;
use std::sync::{Arc, Mutex};

/// Most audit entries one [`Store::audit_log`] call returns.
pub const MAX_AUDIT_PAGE: u32 = 500;

/// A ban to store: at least one of `user_id`, `name_key` and `ip` is set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewBan {
    /// The banned user's id, if known (a connected user, or a JWT `sub`).
    pub user_id: Option<String>,
    /// The name as the moderator gave it.
    pub name: Option<String>,
    /// That name's comparison key (`chatroom_core::UserName::key`).
    pub name_key: Option<String>,
    /// A client address (IPv4 or IPv6, as text).
    pub ip: Option<String>,
    /// When it ends, ms since the Unix epoch; `None`: never.
    pub until_ms: Option<i64>,
    /// Why, as the moderator said.
    pub reason: Option<String>,
    /// Who banned.
    pub actor: String,
    /// When, ms since the Unix epoch.
    pub created_ms: i64,
}

/// A stored ban.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, sqlx::FromRow)]
pub struct Ban {
    /// Its id (for lifting it).
    pub id: i64,
    /// See [`NewBan`].
    pub user_id: Option<String>,
    /// See [`NewBan`].
    pub name: Option<String>,
    /// See [`NewBan`].
    pub name_key: Option<String>,
    /// See [`NewBan`].
    pub ip: Option<String>,
    /// See [`NewBan`].
    pub until_ms: Option<i64>,
    /// See [`NewBan`].
    pub reason: Option<String>,
    /// See [`NewBan`].
    pub actor: String,
    /// See [`NewBan`].
    pub created_ms: i64,
}

impl Ban {
    fn stored(id: i64, new: &NewBan) -> Self {
        Self {
            id,
            user_id: new.user_id.clone(),
            name: new.name.clone(),
            name_key: new.name_key.clone(),
            ip: new.ip.clone(),
            until_ms: new.until_ms,
            reason: new.reason.clone(),
            actor: new.actor.clone(),
            created_ms: new.created_ms,
        }
    }

    /// Still in force at `now_ms`.
    pub fn in_force(&self, now_ms: i64) -> bool {
        self.until_ms.is_none_or(|until| until > now_ms)
    }
}

/// An audit entry to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAudit {
    /// When, ms since the Unix epoch.
    pub ts: i64,
    /// Who acted: a moderator's name and role, or the admin API.
    pub actor: String,
    /// What: `delete`, `kick`, `ban`, `unban`, `mute`.
    pub action: String,
    /// On whom or what: a message id, a name, an address.
    pub target: String,
    /// Why, if given.
    pub reason: Option<String>,
    /// Anything else worth keeping (a ban's end, a mute's room and length), if any.
    pub detail: Option<String>,
}

/// A stored audit entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct AuditEntry {
    /// Increases with time.
    pub id: i64,
    /// See [`NewAudit`].
    pub ts: i64,
    /// See [`NewAudit`].
    pub actor: String,
    /// See [`NewAudit`].
    pub action: String,
    /// See [`NewAudit`].
    pub target: String,
    /// See [`NewAudit`].
    pub reason: Option<String>,
    /// See [`NewAudit`].
    pub detail: Option<String>,
}

impl AuditEntry {
    fn stored(id: i64, new: &NewAudit) -> Self {
        Self {
            id,
            ts: new.ts,
            actor: new.actor.clone(),
            action: new.action.clone(),
            target: new.target.clone(),
            reason: new.reason.clone(),
            detail: new.detail.clone(),
        }
    }
}

/// The memory backend's moderation tables.
#[derive(Debug, Default)]
pub(crate) struct MemoryTables {
    bans: Vec<Ban>,
    last_ban: i64,
    audit: Vec<AuditEntry>,
}

/// Shared handle to [`MemoryTables`], one per memory store.
pub(crate) type SharedTables = Arc<Mutex<MemoryTables>>;

impl MemoryTables {
    pub(crate) fn audit(&mut self, new: &NewAudit) -> AuditEntry {
        let entry = AuditEntry::stored(self.audit.len() as i64 + 1, new);
        self.audit.push(entry.clone());
        entry
    }
}

pub(crate) fn lock(tables: &SharedTables) -> std::sync::MutexGuard<'_, MemoryTables> {
    // Every change below is a single push or remove: a panic cannot leave half of one.
    tables.lock().unwrap_or_else(|p| p.into_inner())
}

/// SQL shared by SQLite and PostgreSQL (`$N` binds on both).
pub(crate) mod sql {
    pub const INSERT_BAN: &str = "INSERT INTO bans \
        (user_id, name, name_key, ip, until_ms, reason, actor, created_ms) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id";
    pub const DELETE_BAN: &str = "DELETE FROM bans WHERE id = $1 RETURNING \
        id, user_id, name, name_key, ip, until_ms, reason, actor, created_ms";
    pub const BANS_IN_FORCE: &str = "SELECT \
        id, user_id, name, name_key, ip, until_ms, reason, actor, created_ms FROM bans \
        WHERE until_ms IS NULL OR until_ms > $1 ORDER BY id";
    pub const INSERT_AUDIT: &str = "INSERT INTO audit (ts, actor, action, target, reason, detail) \
        VALUES ($1, $2, $3, $4, $5, $6) RETURNING id";
    pub const AUDIT_PAGE: &str = "SELECT id, ts, actor, action, target, reason, detail FROM audit \
        WHERE id < $1 ORDER BY id DESC LIMIT $2";
}

/// The same transaction code for both SQL engines (their connection types differ, the SQL and
/// the steps do not).
macro_rules! sql_engine {
    ($module:ident, $Conn:ty, $search:ident) => {
        mod $module {
            use super::{Ban, NewAudit, NewBan, sql};
            use crate::StoreError;
            use sqlx::Connection as _;

            async fn audit(conn: &mut $Conn, new: &NewAudit) -> Result<i64, StoreError> {
                Ok(sqlx::query_scalar(sql::INSERT_AUDIT)
                    .bind(new.ts)
                    .bind(&new.actor)
                    .bind(&new.action)
                    .bind(&new.target)
                    .bind(&new.reason)
                    .bind(&new.detail)
                    .fetch_one(conn)
                    .await?)
            }

            pub(super) async fn record(
                conn: &mut $Conn,
                new: &NewAudit,
            ) -> Result<i64, StoreError> {
                audit(conn, new).await
            }

            pub(super) async fn ban(
                conn: &mut $Conn,
                new: &NewBan,
                log: &NewAudit,
            ) -> Result<i64, StoreError> {
                let mut tx = conn.begin().await?;
                let id: i64 = sqlx::query_scalar(sql::INSERT_BAN)
                    .bind(&new.user_id)
                    .bind(&new.name)
                    .bind(&new.name_key)
                    .bind(&new.ip)
                    .bind(new.until_ms)
                    .bind(&new.reason)
                    .bind(&new.actor)
                    .bind(new.created_ms)
                    .fetch_one(&mut *tx)
                    .await?;
                let mut log = log.clone();
                log.detail = Some(match log.detail.take() {
                    Some(detail) => format!("ban {id}; {detail}"),
                    None => format!("ban {id}"),
                });
                audit(&mut tx, &log).await?;
                tx.commit().await?;
                Ok(id)
            }

            pub(super) async fn unban(
                conn: &mut $Conn,
                id: i64,
                log: &NewAudit,
            ) -> Result<Option<Ban>, StoreError> {
                let mut tx = conn.begin().await?;
                let gone: Option<Ban> = sqlx::query_as(sql::DELETE_BAN)
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
                if gone.is_some() {
                    audit(&mut tx, log).await?;
                }
                tx.commit().await?;
                Ok(gone)
            }
        }
    };
}

sql_engine!(on_sqlite, sqlx::SqliteConnection, sqlite);
sql_engine!(on_postgres, sqlx::PgConnection, postgres);

impl Store {
    /// Stores `ban` with its audit entry `log` (one transaction); the stored ban.
    pub async fn ban(&self, ban: NewBan, log: NewAudit) -> Result<Ban, StoreError> {
        let id = match &self.backend {
            AnyBackend::Memory(b) => {
                let mut tables = lock(&b.moderation);
                tables.last_ban += 1;
                let stored = Ban::stored(tables.last_ban, &ban);
                tables.bans.push(stored.clone());
                let mut log = log;
                log.detail = Some(match log.detail.take() {
                    Some(detail) => format!("ban {}; {detail}", stored.id),
                    None => format!("ban {}", stored.id),
                });
                tables.audit(&log);
                return Ok(stored);
            }
            AnyBackend::Sqlite(b) => {
                b.write(async |conn| on_sqlite::ban(conn, &ban, &log).await)
                    .await?
            }
            AnyBackend::Postgres(b) => {
                let mut conn = b.read.acquire().await?;
                on_postgres::ban(&mut conn, &ban, &log).await?
            }
        };
        Ok(Ban::stored(id, &ban))
    }

    /// Lifts ban `id`, recording `log` if there was one; the lifted ban, or `None`.
    pub async fn unban(&self, id: i64, log: NewAudit) -> Result<Option<Ban>, StoreError> {
        match &self.backend {
            AnyBackend::Memory(b) => {
                let mut tables = lock(&b.moderation);
                let Some(at) = tables.bans.iter().position(|ban| ban.id == id) else {
                    return Ok(None);
                };
                let gone = tables.bans.remove(at);
                tables.audit(&log);
                Ok(Some(gone))
            }
            AnyBackend::Sqlite(b) => {
                b.write(async |conn| on_sqlite::unban(conn, id, &log).await)
                    .await
            }
            AnyBackend::Postgres(b) => {
                let mut conn = b.read.acquire().await?;
                on_postgres::unban(&mut conn, id, &log).await
            }
        }
    }

    /// The bans in force at `now_ms`, oldest first.
    pub async fn bans(&self, now_ms: i64) -> Result<Vec<Ban>, StoreError> {
        match &self.backend {
            AnyBackend::Memory(b) => Ok(lock(&b.moderation)
                .bans
                .iter()
                .filter(|ban| ban.in_force(now_ms))
                .cloned()
                .collect()),
            AnyBackend::Sqlite(b) => Ok(sqlx::query_as(sql::BANS_IN_FORCE)
                .bind(now_ms)
                .fetch_all(&b.read)
                .await?),
            AnyBackend::Postgres(b) => Ok(sqlx::query_as(sql::BANS_IN_FORCE)
                .bind(now_ms)
                .fetch_all(&b.read)
                .await?),
        }
    }

    /// Records an action that changes nothing stored (a kick, a mute).
    pub async fn record(&self, log: NewAudit) -> Result<AuditEntry, StoreError> {
        let id = match &self.backend {
            AnyBackend::Memory(b) => return Ok(lock(&b.moderation).audit(&log)),
            AnyBackend::Sqlite(b) => {
                b.write(async |conn| on_sqlite::record(conn, &log).await)
                    .await?
            }
            AnyBackend::Postgres(b) => {
                let mut conn = b.read.acquire().await?;
                on_postgres::record(&mut conn, &log).await?
            }
        };
        Ok(AuditEntry::stored(id, &log))
    }

    /// Up to `limit` (at most [`MAX_AUDIT_PAGE`]) audit entries with an id below `before`
    /// (all, without it), newest first.
    pub async fn audit_log(
        &self,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let before = before.unwrap_or(i64::MAX);
        let limit = limit.min(MAX_AUDIT_PAGE);
        match &self.backend {
            AnyBackend::Memory(b) => Ok(lock(&b.moderation)
                .audit
                .iter()
                .rev()
                .filter(|entry| entry.id < before)
                .take(limit as usize)
                .cloned()
                .collect()),
            AnyBackend::Sqlite(b) => Ok(sqlx::query_as(sql::AUDIT_PAGE)
                .bind(before)
                .bind(i64::from(limit))
                .fetch_all(&b.read)
                .await?),
            AnyBackend::Postgres(b) => Ok(sqlx::query_as(sql::AUDIT_PAGE)
                .bind(before)
                .bind(i64::from(limit))
                .fetch_all(&b.read)
                .await?),
        }
    }
}
