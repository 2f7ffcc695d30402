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
    /// Connects to the database at `url` (`postgres://` or `postgresql://`) with a pool of 10
    /// connections, and applies the embedded migrations.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .connect(url)
            .await?;
        let store = Self::from_pool(pool);
        store.migrate().await?;
        Ok(store)
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
