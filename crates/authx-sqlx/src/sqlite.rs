//! SQLite storage.

use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use authx_core::clock::{Clock as _, SystemClock, Timestamp};
use authx_core::mail::Mail;
use authx_core::store::{
    EmailTokenStore, MailOutbox, NewEmailToken, NewSession, NewUser, OutboxMail, RefreshRotation,
    RotationOutcome, SessionStore, StoreError, StoreResult, TokenPurpose, User, UserId, UserStore,
};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{SqliteConnection, query, query_as, query_scalar};
use tokio::sync::Mutex;

use crate::error::{Error, store_error};
use crate::sql::{self, MailRow, UserRow, mail_columns};

/// The embedded migrations, `migrations/sqlite`.
const MIGRATIONS: &[crate::EmbeddedMigration] = &[(
    1,
    "initial",
    include_str!("../migrations/sqlite/0001_initial.sql"),
)];

/// Connections in the pool: readers run in parallel under WAL, writers queue on the lock.
const POOL_SIZE: u32 = 8;

/// How long a connection waits for another's write lock before failing with SQLITE_BUSY.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Writers take the store's own write lock first, in order, and then SQLite's: SQLite lets one
/// writer in at a time and makes the others poll with growing sleeps (its busy handler: 1 ms,
/// 2 ms, 5 ms, ... up to 100 ms), so under concurrent writes most of the time went to sleeping
/// while the lock was free. Waiting on an async mutex wakes the next writer when the lock is
/// released. The busy timeout remains for other processes sharing the file.
///
/// Every write transaction takes the write lock at once: a deferred transaction that reads
/// first and writes later would fail with SQLITE_BUSY instead of waiting.
const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

/// Claims due mail in one statement: SQLite runs one writer at a time, so two workers never
/// claim the same row. `$1` now, `$2` lease end, `$3` claim, `$4` limit.
const CLAIM_DUE_MAIL: &str = concat!(
    "UPDATE mail_outbox SET claim = $3, claimed_until = $2 WHERE id IN (\
         SELECT id FROM mail_outbox \
         WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $1 \
           AND (claim IS NULL OR claimed_until < $1) \
         ORDER BY next_attempt_at, id LIMIT $4) \
     RETURNING ",
    mail_columns!()
);

/// authx storage in a SQLite database.
///
/// ```no_run
/// # async fn open() -> Result<(), authx_sqlx::Error> {
/// let store = authx_sqlx::SqliteStore::connect("sqlite://authx.db").await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Serialises this store's writers (see [`BEGIN_WRITE`]).
    writer: Arc<Mutex<()>>,
}

impl SqliteStore {
    /// Opens (creating it if missing) the database at `url` (`sqlite://path`, `sqlite:path` or
    /// `sqlite::memory:`), tuned for concurrent use (WAL, `synchronous=NORMAL`, foreign keys,
    /// a 5 s busy timeout), and applies the embedded migrations.
    ///
    /// An in-memory database lives in one connection that the pool keeps open.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let pool = if in_memory {
            SqlitePoolOptions::new()
                .min_connections(1)
                .max_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            SqlitePoolOptions::new().max_connections(POOL_SIZE)
        }
        .connect_with(options)
        .await?;
        let store = Self::from_pool(pool);
        store.migrate().await?;
        Ok(store)
    }

    /// Wraps an existing pool, as configured by the caller, without migrating it (see
    /// [`migrate`](Self::migrate)). The pool should enable foreign keys (sqlx's default) and
    /// a busy timeout.
    pub fn from_pool(pool: SqlitePool) -> Self {
        Self {
            pool,
            writer: Arc::new(Mutex::new(())),
        }
    }

    /// Applies the embedded migrations that are not applied yet.
    pub async fn migrate(&self) -> Result<(), Error> {
        crate::migrator(MIGRATIONS).run(&self.pool).await?;
        Ok(())
    }

    /// The connection pool.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn user_where(&self, sql: &'static str, key: &str) -> StoreResult<Option<User>> {
        query_as::<_, UserRow<String>>(sql)
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?
            .map(user)
            .transpose()
    }
}

/// Builds a user from its row; permissions are a JSON array.
fn user(row: UserRow<String>) -> StoreResult<User> {
    sql::user(row, |json| {
        serde_json::from_str(&json).map_err(StoreError::unavailable)
    })
}

async fn insert_email_token(
    conn: &mut SqliteConnection,
    user_id: UserId,
    token: &NewEmailToken,
) -> StoreResult<()> {
    query(sql::INSERT_EMAIL_TOKEN)
        .bind(&token.hash)
        .bind(token.purpose.as_str())
        .bind(user_id)
        .bind(&token.email)
        .bind(token.created_at)
        .bind(token.expires_at)
        .execute(conn)
        .await
        .map_err(store_error)?;
    Ok(())
}

async fn insert_mail(conn: &mut SqliteConnection, mail: &Mail, now: Timestamp) -> StoreResult<()> {
    query(sql::INSERT_MAIL)
        .bind(&mail.to)
        .bind(&mail.subject)
        .bind(&mail.text)
        .bind(&mail.html)
        .bind(now)
        .execute(conn)
        .await
        .map_err(store_error)?;
    Ok(())
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>> {
        query_as::<_, UserRow<String>>(sql::USER_BY_ID)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?
            .map(user)
            .transpose()
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        self.user_where(sql::USER_BY_EMAIL, email).await
    }

    async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        self.user_where(sql::USER_BY_USERNAME, username).await
    }

    async fn create_user(
        &self,
        new: NewUser,
        confirmation: NewEmailToken,
        mail: Mail,
    ) -> StoreResult<User> {
        let _write = self.writer.lock().await;
        let mut tx = self
            .pool
            .begin_with(BEGIN_WRITE)
            .await
            .map_err(store_error)?;
        let row = query_as::<_, UserRow<String>>(sql::INSERT_USER)
            .bind(&new.email)
            .bind(&new.username)
            .bind(&new.password_hash)
            .bind(new.created_at)
            .fetch_one(&mut *tx)
            .await
            .map_err(store_error)?;
        let created = user(row)?;
        insert_email_token(&mut tx, created.id, &confirmation).await?;
        insert_mail(&mut tx, &mail, new.created_at).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(created)
    }

    async fn change_username(&self, id: UserId, username: &str) -> StoreResult<bool> {
        let _write = self.writer.lock().await;
        let done = query(sql::CHANGE_USERNAME)
            .bind(id)
            .bind(username)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn record_login(
        &self,
        id: UserId,
        at: Timestamp,
        rehashed: Option<String>,
    ) -> StoreResult<()> {
        let _write = self.writer.lock().await;
        query(sql::RECORD_LOGIN)
            .bind(id)
            .bind(at)
            .bind(rehashed)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(())
    }
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn create_session(&self, session: NewSession) -> StoreResult<()> {
        let _write = self.writer.lock().await;
        let mut tx = self
            .pool
            .begin_with(BEGIN_WRITE)
            .await
            .map_err(store_error)?;
        query(sql::INSERT_SESSION)
            .bind(&session.sid)
            .bind(session.user_id)
            .bind(session.created_at)
            .bind(session.expires_at)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        query(sql::INSERT_REFRESH_TOKEN)
            .bind(&session.refresh_jti)
            .bind(&session.sid)
            .bind(session.created_at)
            .bind(session.expires_at)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        tx.commit().await.map_err(store_error)
    }

    async fn rotate_refresh_token(
        &self,
        rotation: RefreshRotation,
    ) -> StoreResult<RotationOutcome> {
        let _write = self.writer.lock().await;
        let mut tx = self
            .pool
            .begin_with(BEGIN_WRITE)
            .await
            .map_err(store_error)?;
        let rotated = query(sql::ROTATE_REFRESH_TOKEN)
            .bind(&rotation.presented_jti)
            .bind(&rotation.sid)
            .bind(rotation.now)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?
            .rows_affected()
            == 1;
        let outcome = if rotated {
            query(sql::INSERT_REFRESH_TOKEN)
                .bind(&rotation.next_jti)
                .bind(&rotation.sid)
                .bind(rotation.now)
                .bind(rotation.next_expires_at)
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
            query(sql::EXTEND_SESSION)
                .bind(&rotation.sid)
                .bind(rotation.next_expires_at)
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
            RotationOutcome::Rotated
        } else {
            let state = query_as(sql::REFRESH_TOKEN_STATE)
                .bind(&rotation.presented_jti)
                .fetch_optional(&mut *tx)
                .await
                .map_err(store_error)?;
            let outcome = sql::refused_rotation(state, &rotation);
            if outcome == RotationOutcome::Replayed {
                query(sql::REVOKE_SESSION)
                    .bind(&rotation.sid)
                    .bind(rotation.now)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
            }
            outcome
        };
        tx.commit().await.map_err(store_error)?;
        Ok(outcome)
    }

    async fn revoke_session(&self, sid: &str, at: Timestamp) -> StoreResult<()> {
        let _write = self.writer.lock().await;
        query(sql::REVOKE_SESSION)
            .bind(sid)
            .bind(at)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn session_revoked(&self, sid: &str) -> StoreResult<bool> {
        let revoked_at: Option<Option<i64>> = query_scalar(sql::SESSION_REVOKED_AT)
            .bind(sid)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(revoked_at.is_none_or(|at| at.is_some()))
    }
}

#[async_trait]
impl EmailTokenStore for SqliteStore {
    async fn queue_email_token(
        &self,
        user_id: UserId,
        token: NewEmailToken,
        mail: Mail,
    ) -> StoreResult<()> {
        let _write = self.writer.lock().await;
        let mut tx = self
            .pool
            .begin_with(BEGIN_WRITE)
            .await
            .map_err(store_error)?;
        insert_email_token(&mut tx, user_id, &token).await?;
        insert_mail(&mut tx, &mail, token.created_at).await?;
        tx.commit().await.map_err(store_error)
    }

    async fn confirm_email(&self, token_hash: &str, now: Timestamp) -> StoreResult<Option<UserId>> {
        let _write = self.writer.lock().await;
        let purpose = TokenPurpose::ConfirmEmail.as_str();
        let mut tx = self
            .pool
            .begin_with(BEGIN_WRITE)
            .await
            .map_err(store_error)?;
        let user_id: Option<UserId> = query_scalar(sql::USE_CONFIRMATION_TOKEN)
            .bind(token_hash)
            .bind(now)
            .bind(purpose)
            .fetch_optional(&mut *tx)
            .await
            .map_err(store_error)?;
        let Some(user_id) = user_id else {
            return Ok(None);
        };
        query(sql::CONFIRM_USER)
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        query(sql::USE_USER_TOKENS)
            .bind(user_id)
            .bind(now)
            .bind(purpose)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        Ok(Some(user_id))
    }
}

#[async_trait]
impl MailOutbox for SqliteStore {
    async fn claim_due_mail(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<OutboxMail>> {
        let _write = self.writer.lock().await;
        if limit == 0 {
            return Ok(Vec::new());
        }
        let claim = sql::new_claim().map_err(StoreError::unavailable)?;
        let rows: Vec<MailRow<i64>> = query_as(CLAIM_DUE_MAIL)
            .bind(now)
            .bind(lease_until)
            .bind(&claim)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(sql::claimed_mail(rows, &claim))
    }

    async fn mark_mail_sent(&self, id: i64, claim: &str, at: Timestamp) -> StoreResult<()> {
        let _write = self.writer.lock().await;
        query(sql::MARK_MAIL_SENT)
            .bind(id)
            .bind(claim)
            .bind(at)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn reschedule_mail(
        &self,
        id: i64,
        claim: &str,
        next_attempt_at: Option<Timestamp>,
        error: &str,
    ) -> StoreResult<()> {
        let _write = self.writer.lock().await;
        // The trait passes no time for giving up: the system clock dates it.
        let (statement, at) = match next_attempt_at {
            Some(next) => (sql::RESCHEDULE_MAIL, next),
            None => (sql::GIVE_UP_MAIL, SystemClock.now()),
        };
        query(statement)
            .bind(id)
            .bind(claim)
            .bind(sql::stored_error(error))
            .bind(at)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn next_mail_due(&self) -> StoreResult<Option<Timestamp>> {
        query_scalar(sql::NEXT_MAIL_DUE)
            .fetch_one(&self.pool)
            .await
            .map_err(store_error)
    }
}
