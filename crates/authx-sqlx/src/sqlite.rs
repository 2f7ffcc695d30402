//! SQLite storage.

use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;

use authx_core::store::{StoreError, StoreResult};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::error::{Error, store_error};
use crate::repo::{Backend, impl_repo};
use crate::sql::claim_due_mail;

/// The embedded migrations, `migrations/sqlite`.
pub(crate) const MIGRATIONS: &[crate::EmbeddedMigration] = &[
    (
        1,
        "initial",
        include_str!("../migrations/sqlite/0001_initial.sql"),
    ),
    (
        2,
        "session holds refresh token",
        include_str!("../migrations/sqlite/0002_session_holds_refresh_token.sql"),
    ),
];

/// Connections in the pool: readers run in parallel under WAL, writers queue on the lock.
const POOL_SIZE: u32 = 8;

/// How long a connection waits for another's write lock before failing with SQLITE_BUSY.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

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
    /// Whose turn it is to write (see `Backend::write_turn` below); shared by clones.
    writer: Arc<Mutex<()>>,
}

impl SqliteStore {
    /// Opens (creating it if missing) the database at `url` (`sqlite://path`, `sqlite:path` or
    /// `sqlite::memory:`) with [`connect_options`](Self::connect_options) and
    /// [`pool_options`](Self::pool_options), and applies the embedded migrations.
    ///
    /// An in-memory database lives in one connection that the pool keeps open.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        let options = Self::connect_options(url)?;
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let pool = if in_memory {
            Self::pool_options()
                .min_connections(1)
                .max_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            Self::pool_options()
        }
        .connect_with(options)
        .await?;
        let store = Self::from_pool(pool);
        store.migrate().await?;
        Ok(store)
    }

    /// The connection settings [`connect`](Self::connect) uses for `url`: created if missing,
    /// WAL, `synchronous=NORMAL`, foreign keys, a 5 s busy timeout. Start from these to build
    /// a pool of your own for [`from_pool`](Self::from_pool).
    pub fn connect_options(url: &str) -> Result<SqliteConnectOptions, Error> {
        Ok(SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT))
    }

    /// The pool settings [`connect`](Self::connect) uses for a database file: 8 connections,
    /// not pinged before use. sqlx pings a connection every time the pool hands it out unless
    /// told not to; a SQLite connection is a file handle on a thread of its own and cannot
    /// lose its server, so the ping was only a second round trip to that thread for every
    /// statement (and a cancelled acquire could drop the connection while it was pinged).
    pub fn pool_options() -> SqlitePoolOptions {
        SqlitePoolOptions::new()
            .max_connections(POOL_SIZE)
            .test_before_acquire(false)
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
}

impl Backend for SqliteStore {
    type Database = Sqlite;
    /// A JSON array.
    type Permissions = String;
    type Attempts = i64;
    /// One statement, no lock clause: SQLite runs one writer at a time, so two workers never
    /// claim the same row.
    const CLAIM_DUE_MAIL: &'static str = claim_due_mail!("");

    type WriteGuard = OwnedMutexGuard<()>;

    /// Writers queue on the store's own async lock before SQLite's. SQLite lets one writer in
    /// at a time and makes the others poll with growing sleeps (its busy handler: 1, 2, 5, ...
    /// up to 100 ms), so under concurrent writes most of the wait was sleep while the lock was
    /// free; the async lock hands over to the next writer as soon as one is done. The busy
    /// timeout remains for other processes writing to the same file.
    async fn write_turn(&self) -> OwnedMutexGuard<()> {
        self.writer.clone().lock_owned().await
    }

    /// `BEGIN IMMEDIATE` takes the write lock at once: a deferred transaction that reads first
    /// and writes later would fail with SQLITE_BUSY instead of waiting.
    async fn begin_write(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(store_error)
    }

    fn permissions(json: String) -> StoreResult<Vec<String>> {
        serde_json::from_str(&json).map_err(StoreError::unavailable)
    }
}

impl_repo!(SqliteStore);
