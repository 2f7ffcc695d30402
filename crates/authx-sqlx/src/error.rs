//! The crate's error, and how database errors become
//! [`StoreError`](authx_core::store::StoreError)s.

/// A failure to open or migrate a database.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL's scheme names no backend compiled into this build.
    ///
    /// Only the scheme is kept: the rest of a URL may hold a password.
    #[error(
        "unsupported database URL scheme `{0}` (authx-sqlx knows `sqlite:` with feature `sqlite`, \
         `postgres:` and `postgresql:` with feature `postgres`, `mysql:` and `mariadb:` with \
         feature `mysql`)"
    )]
    UnsupportedScheme(String),
    /// The database refused the connection or the options.
    #[error("database connection failed")]
    Database(#[from] sqlx::Error),
    /// The embedded migrations could not be applied.
    #[error("database migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Stored emails could not be rewritten into their one form (migration 4).
    #[error("rewriting stored emails into their stored form failed")]
    Rewrite(#[source] authx_core::store::StoreError),
}

/// The unique indexes on `users`, named alike in every schema.
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
const UNIQUE_INDEXES: [(&str, authx_core::store::UniqueField); 2] = [
    (
        "users_email_lower_key",
        authx_core::store::UniqueField::Email,
    ),
    (
        "users_username_lower_key",
        authx_core::store::UniqueField::Username,
    ),
];

/// Maps a database error to a `StoreError`: a violation of a unique index on `users` is a
/// `StoreError::Conflict` on its field, anything else makes the store unavailable.
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
pub(crate) fn store_error(error: sqlx::Error) -> authx_core::store::StoreError {
    use authx_core::store::StoreError;

    if let sqlx::Error::Database(db) = &error
        && db.is_unique_violation()
    {
        // PostgreSQL reports the index as the constraint; SQLite and MySQL report no constraint
        // but name the index in their messages ("UNIQUE constraint failed: index '<name>'",
        // "Duplicate entry '...' for key '[users.]<name>'").
        let culprit = db.constraint().unwrap_or_else(|| db.message());
        if let Some((_, field)) = UNIQUE_INDEXES
            .iter()
            .find(|(index, _)| culprit.contains(index))
        {
            return StoreError::Conflict(*field);
        }
    }
    StoreError::unavailable(error)
}

/// Whether `error` is the database's way of breaking a deadlock or a serialization conflict
/// (SQLSTATE `40001`, e.g. MySQL's 1213, or PostgreSQL's `40P01`): the transaction was rolled
/// back whole, and trying it again is safe.
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
pub(crate) fn is_deadlock(error: &authx_core::store::StoreError) -> bool {
    let authx_core::store::StoreError::Unavailable(source) = error else {
        return false;
    };
    source
        .downcast_ref::<sqlx::Error>()
        .and_then(sqlx::Error::as_database_error)
        .and_then(sqlx::error::DatabaseError::code)
        .is_some_and(|code| code == "40001" || code == "40P01")
}
