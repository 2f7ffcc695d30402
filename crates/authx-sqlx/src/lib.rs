//! SQLite, PostgreSQL and MySQL/MariaDB storage for authx, through sqlx.
//!
//! [`SqliteStore`] (feature `sqlite`), [`PostgresStore`] (feature `postgres`) and
//! [`MySqlStore`] (feature `mysql`: MySQL 8, MariaDB 10.6+) implement every storage capability
//! of [`authx_core::store`]; each method is one statement or one transaction. All are
//! [`SqlStore`], written once over a small per-dialect set of statements (see
//! `src/dialect.rs`), and carry their schema as embedded migrations, applied by `connect`.
//!
//! ```no_run
//! # async fn open() -> Result<(), authx_sqlx::Error> {
//! // The backend follows the URL's scheme.
//! let repo = authx_sqlx::connect("sqlite://authx.db").await?;
//! # Ok(()) }
//! ```

use std::sync::Arc;

use authx_core::store::Repo;

#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod bind;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod dialect;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod email_forms;
mod error;
#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod rows;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod search;
#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod statements;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod store;
#[cfg(all(test, any(feature = "sqlite", feature = "postgres", feature = "mysql")))]
mod tests;

#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
pub use dialect::{Dialect, NoReturning, Statements};
pub use error::Error;
#[cfg(feature = "mysql")]
pub use mysql::MySqlStore;
#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
pub use store::SqlStore;

/// Opens the storage at `url`, choosing the backend by its scheme: `sqlite:` ([`SqliteStore`],
/// feature `sqlite`), `postgres:` or `postgresql:` ([`PostgresStore`], feature `postgres`),
/// `mysql:` or `mariadb:` ([`MySqlStore`], feature `mysql`). The embedded migrations are
/// applied.
///
/// Fails with [`Error::UnsupportedScheme`] for any other scheme, or one whose feature is off.
// Without a backend feature nothing is awaited, yet the signature must not change with features.
#[cfg_attr(
    not(any(feature = "sqlite", feature = "postgres", feature = "mysql")),
    allow(clippy::unused_async)
)]
pub async fn connect(url: &str) -> Result<Arc<dyn Repo>, Error> {
    let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
    match scheme.to_ascii_lowercase().as_str() {
        #[cfg(feature = "sqlite")]
        "sqlite" => Ok(Arc::new(SqliteStore::connect(url).await?)),
        #[cfg(feature = "postgres")]
        "postgres" | "postgresql" => Ok(Arc::new(PostgresStore::connect(url).await?)),
        #[cfg(feature = "mysql")]
        "mysql" | "mariadb" => Ok(Arc::new(MySqlStore::connect(url).await?)),
        _ => Err(Error::UnsupportedScheme(scheme.to_owned())),
    }
}

/// A migration as embedded: version, description, SQL.
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
type EmbeddedMigration = (i64, &'static str, &'static str);

/// The migrator for a backend's embedded migrations.
///
/// Checksums are computed from the SQL as `sqlx::migrate!` would, so a database migrated by
/// either agrees.
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
fn migrator(migrations: &[EmbeddedMigration]) -> sqlx::migrate::Migrator {
    use sqlx::SqlSafeStr as _;
    use sqlx::migrate::{Migration, MigrationType, Migrator};

    Migrator::with_migrations(
        migrations
            .iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    std::borrow::Cow::Borrowed(description),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}
