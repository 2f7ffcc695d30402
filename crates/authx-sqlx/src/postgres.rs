//! PostgreSQL storage.

use authx_core::store::StoreResult;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};

use crate::error::{Error, store_error};
use crate::repo::{Backend, impl_repo};
use crate::sql::claim_due_mail;

/// The embedded migrations, `migrations/postgres`.
pub(crate) const MIGRATIONS: &[crate::EmbeddedMigration] = &[
    (
        1,
        "initial",
        include_str!("../migrations/postgres/0001_initial.sql"),
    ),
    (
        2,
        "session holds refresh token",
        include_str!("../migrations/postgres/0002_session_holds_refresh_token.sql"),
    ),
];

/// Connections in the pool (sqlx's default).
const POOL_SIZE: u32 = 10;

/// A connection idle in the pool this long is pinged before it is handed out.
const PING_WHEN_IDLE_FOR: std::time::Duration = std::time::Duration::from_secs(30);

/// authx storage in a PostgreSQL database.
///
/// ```no_run
/// # async fn open() -> Result<(), authx_sqlx::Error> {
/// let store = authx_sqlx::PostgresStore::connect("postgres://authx@localhost/authx").await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://` or `postgresql://`) with
    /// [`pool_options`](Self::pool_options), and applies the embedded migrations.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        let pool = Self::pool_options().connect(url).await?;
        let store = Self::from_pool(pool);
        store.migrate().await?;
        Ok(store)
    }

    /// The pool settings [`connect`](Self::connect) uses: 10 connections, and a connection
    /// that sat idle in the pool for 30 s or more is pinged before use (a dead one is replaced
    /// then). sqlx's default pings on every use, a second round trip to the server for every
    /// statement; under load connections are never idle that long, so they go unpinged, and a
    /// connection that breaks while busy fails its statement (`503`) and leaves the pool.
    /// Start from these to build a pool of your own for [`from_pool`](Self::from_pool).
    pub fn pool_options() -> PgPoolOptions {
        PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PING_WHEN_IDLE_FOR {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
    }

    /// Wraps an existing pool, as configured by the caller, without migrating it (see
    /// [`migrate`](Self::migrate)).
    pub fn from_pool(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Applies the embedded migrations that are not applied yet (under sqlx's advisory lock,
    /// so instances starting together do not race).
    pub async fn migrate(&self) -> Result<(), Error> {
        crate::migrator(MIGRATIONS).run(&self.pool).await?;
        Ok(())
    }

    /// The connection pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

impl Backend for PostgresStore {
    type Database = Postgres;
    /// A `text[]`.
    type Permissions = Vec<String>;
    /// An `integer`.
    type Attempts = i32;
    /// Rows another worker is claiming are skipped rather than waited for, and a row whose claim
    /// changed meanwhile is re-checked under its lock, so two workers never claim the same mail.
    const CLAIM_DUE_MAIL: &'static str = claim_due_mail!(" FOR UPDATE SKIP LOCKED");

    /// No turn: PostgreSQL's writers wait for each other's row locks without polling.
    type WriteGuard = AnyTurn;

    async fn write_turn(&self) -> AnyTurn {
        AnyTurn
    }

    /// A plain `BEGIN`: PostgreSQL locks rows as they are written, so concurrent transactions
    /// wait for each other only where they meet.
    async fn begin_write(&self) -> StoreResult<Transaction<'static, Postgres>> {
        self.pool.begin().await.map_err(store_error)
    }

    fn permissions(permissions: Vec<String>) -> StoreResult<Vec<String>> {
        Ok(permissions)
    }
}

/// PostgreSQL writes whenever it likes.
pub(crate) struct AnyTurn;

impl_repo!(PostgresStore);
