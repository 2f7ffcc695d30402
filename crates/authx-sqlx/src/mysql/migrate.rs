//! Migrations on MySQL, where DDL is not transactional: each statement of a DDL commits by
//! itself, so a migration cut off half-way (a crash, a lost connection, a failing statement)
//! would leave part of it applied, and sqlx's migrator would then refuse the database as
//! dirty. Here a migration runs one statement at a time and each statement done is recorded
//! (`authx_migration_steps`), so the next start resumes after the last one:
//! - a statement that changes rows commits together with its record, so it runs once;
//! - a DDL statement commits by itself, then its record is written: if the process stops in
//!   between, the statement runs again at the next start and finds its work done (a table,
//!   column or index that exists, or one already dropped), which counts as done. A single
//!   `ALTER TABLE` is applied whole or not at all.
//!
//! Applied migrations are recorded in `_sqlx_migrations`, as sqlx records them (version,
//! checksum of the file), so sqlx's tools read the database as migrated.

use std::collections::HashSet;

use sqlx::migrate::MigrateError;
use sqlx::{AssertSqlSafe, Connection as _, Executor as _, MySqlConnection, MySqlPool};

use crate::EmbeddedMigration;

/// How long an instance waits for another that is migrating the same database, in seconds.
const LOCK_WAIT_SECONDS: i64 = 600;

/// MySQL and MariaDB errors that a DDL statement run a second time meets when its first run
/// took effect: table exists, duplicate column, duplicate key name, can't drop (it is gone),
/// unknown column (renamed), duplicate foreign key name, trigger exists.
const ALREADY_DONE: [u16; 7] = [1050, 1060, 1061, 1091, 1054, 1826, 1359];

/// The statements of a migration, in order: comment lines dropped, split where a line ends
/// with `;` (the files keep to that).
pub(crate) fn statements(sql: &str) -> Vec<String> {
    let mut statements = Vec::new();
    let mut current = String::new();
    for line in sql.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with("--") {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if trimmed.ends_with(';') {
            statements.push(current.trim().trim_end_matches(';').to_owned());
            current.clear();
        }
    }
    if !current.trim().is_empty() {
        statements.push(current.trim().to_owned());
    }
    statements
}

/// Whether `statement` is DDL (commits by itself).
fn is_ddl(statement: &str) -> bool {
    let first = statement
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    matches!(first.as_str(), "CREATE" | "ALTER" | "DROP" | "RENAME")
}

/// Whether `error` says that `statement`'s work is already there.
fn already_done(statement: &str, error: &sqlx::Error) -> bool {
    is_ddl(statement)
        && error
            .as_database_error()
            .and_then(|db| db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>())
            .is_some_and(|db| ALREADY_DONE.contains(&db.number()))
}

/// Applies the migrations not applied yet, under a lock named after the database.
pub(crate) async fn run(
    pool: &MySqlPool,
    migrations: &[EmbeddedMigration],
) -> Result<(), MigrateError> {
    let mut conn = pool.acquire().await?;
    let locked: Option<i64> = sqlx::query_scalar(
        "SELECT GET_LOCK(CONCAT('authx_migrate.', COALESCE(DATABASE(), '')), ?)",
    )
    .bind(LOCK_WAIT_SECONDS)
    .fetch_one(&mut *conn)
    .await?;
    if locked != Some(1) {
        return Err(MigrateError::Execute(sqlx::Error::Protocol(
            "another instance held the migration lock for too long".to_owned(),
        )));
    }
    let outcome = apply(&mut conn, migrations).await;
    let released =
        sqlx::query("SELECT RELEASE_LOCK(CONCAT('authx_migrate.', COALESCE(DATABASE(), '')))")
            .execute(&mut *conn)
            .await;
    outcome?;
    released?;
    Ok(())
}

async fn apply(
    conn: &mut MySqlConnection,
    migrations: &[EmbeddedMigration],
) -> Result<(), MigrateError> {
    conn.execute(
        "CREATE TABLE IF NOT EXISTS _sqlx_migrations (\
             version BIGINT PRIMARY KEY, \
             description TEXT NOT NULL, \
             installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, \
             success BOOLEAN NOT NULL, \
             checksum BLOB NOT NULL, \
             execution_time BIGINT NOT NULL)",
    )
    .await?;
    conn.execute(
        "CREATE TABLE IF NOT EXISTS authx_migration_steps (\
             version BIGINT NOT NULL, \
             step    INTEGER NOT NULL, \
             PRIMARY KEY (version, step))",
    )
    .await?;
    let applied: Vec<(i64, bool, Vec<u8>)> =
        sqlx::query_as("SELECT version, success, checksum FROM _sqlx_migrations")
            .fetch_all(&mut *conn)
            .await?;
    let migrator = crate::migrator(migrations);
    for migration in migrator.iter() {
        let version = migration.version;
        if let Some((_, success, checksum)) = applied.iter().find(|(v, ..)| *v == version) {
            if !success {
                // Left by sqlx's own migrator: not ours to resume.
                return Err(MigrateError::Dirty(version));
            }
            if *checksum != *migration.checksum {
                return Err(MigrateError::VersionMismatch(version));
            }
            continue;
        }
        let started = std::time::Instant::now();
        let done: HashSet<i64> =
            sqlx::query_scalar("SELECT step FROM authx_migration_steps WHERE version = ?")
                .bind(version)
                .fetch_all(&mut *conn)
                .await?
                .into_iter()
                .collect();
        for (step, statement) in (0_i64..).zip(statements(migration.sql.as_str())) {
            if done.contains(&step) {
                continue;
            }
            let mut tx = conn.begin().await?;
            match tx.execute(AssertSqlSafe(statement.clone())).await {
                Ok(_) => {}
                Err(error) if already_done(&statement, &error) => {}
                Err(error) => return Err(MigrateError::ExecuteMigration(error, version)),
            }
            sqlx::query("INSERT INTO authx_migration_steps (version, step) VALUES (?, ?)")
                .bind(version)
                .bind(step)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        let mut tx = conn.begin().await?;
        sqlx::query(
            "INSERT INTO _sqlx_migrations \
             (version, description, success, checksum, execution_time) \
             VALUES (?, ?, TRUE, ?, ?)",
        )
        .bind(version)
        .bind(&*migration.description)
        .bind(&*migration.checksum)
        .bind(i64::try_from(started.elapsed().as_nanos()).unwrap_or(i64::MAX))
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM authx_migration_steps WHERE version = ?")
            .bind(version)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{is_ddl, statements};

    #[test]
    fn migrations_split_into_statements() {
        let sql = "-- a comment; with a semicolon;\n\
                   CREATE TABLE t (\n  a BIGINT, -- no\n  b TEXT\n);\n\n\
                   UPDATE t SET a = 1;\nDROP TABLE t;\n";
        assert_eq!(
            statements(sql),
            [
                "CREATE TABLE t (\n  a BIGINT, -- no\n  b TEXT\n)",
                "UPDATE t SET a = 1",
                "DROP TABLE t"
            ]
        );
        assert!(is_ddl("ALTER TABLE t ADD COLUMN c BIGINT"));
        assert!(!is_ddl("INSERT INTO t SELECT 1"));
    }

    #[test]
    fn every_embedded_migration_keeps_to_one_statement_per_step() {
        for (version, _, sql) in super::super::MIGRATIONS {
            for statement in statements(sql) {
                assert!(!statement.contains(';'), "migration {version}: {statement}");
            }
        }
    }
}
