//! The seeded databases: `size` users sharing one known password hash, and one live session
//! each, written by bulk SQL in each dialect (a recursive CTE on SQLite, `generate_series` on
//! PostgreSQL, a cross join of digits on MySQL/MariaDB), once per backend and size, into a
//! template. Every run gets a copy of it (a file copy on SQLite, `CREATE DATABASE ...
//! TEMPLATE` on PostgreSQL, table by table on MySQL/MariaDB), so a run finds exactly what was
//! seeded whatever the runs before it wrote.
//!
//! MySQL and MariaDB have no database copy. Seeding a run's database afresh took 3.5 minutes
//! at a million users on the 2-core benchmark machine, nearly all of it the search index's
//! triggers writing 24 rows per user in no order (then trigrams, now suffixes: as many); the
//! copy writes the same rows in primary-key order into empty tables ([`Template::copy`]), before the server starts (so
//! outside what is measured).
//!
//! User `i` (from 0) is [`user(i)`](crate::server::user), id `i + 1`; user 0 is an admin (the
//! search scenarios log in as it).

use std::path::PathBuf;
use std::time::Instant;

use authx::Secret;
use authx::clock::{Clock as _, SystemClock};
use authx::password::{PasswordHasher, PasswordParams};
use sqlx::Connection as _;

use crate::server::PASSWORD;
use crate::{Db, MYSQL_VAR, POSTGRES_VAR};

/// Seeded sessions expire a month after seeding (the janitor scenario expires them first).
const SESSION_LIFETIME: i64 = 30 * 86_400;

/// The users table, per dialect: what a seeded user is.
const SQLITE_USERS: &str = "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < $1) \
     INSERT INTO users (email, username, password_hash, confirmed, permissions, created_at) \
     SELECT printf('u%07d@example.com', i), printf('u%07d', i), $2, 1, \
     CASE WHEN i = 0 THEN '[\"admin\"]' ELSE '[]' END, $3 FROM n";
const SQLITE_SESSIONS: &str = "INSERT INTO sessions (sid, public_id, user_id, created_at_ms, \
     expires_at, absolute_expires_at, refresh_jti, login_ip, login_user_agent) \
     SELECT lower(hex(randomblob(16))), lower(hex(randomblob(16))), id, $1, $2, $2, \
     lower(hex(randomblob(16))), '127.0.0.1', 'authx-bench seed' FROM users ORDER BY id";
const POSTGRES_USERS: &str = "INSERT INTO users \
     (email, username, password_hash, confirmed, permissions, created_at) \
     SELECT 'u' || lpad(i::text, 7, '0') || '@example.com', 'u' || lpad(i::text, 7, '0'), $2, \
     TRUE, CASE WHEN i = 0 THEN ARRAY['admin'] ELSE '{}'::text[] END, $3 \
     FROM generate_series(0, $1 - 1) AS i ORDER BY i";
/// What migration 10's insert trigger writes for each user, for all of them at once.
const POSTGRES_SUFFIXES: &str = "INSERT INTO user_suffixes (field, suffix, user_id) \
     SELECT field, suffix, user_id FROM (\
     SELECT 1 AS field, s AS suffix, id AS user_id FROM users, authx_user_suffixes(username) AS s \
     UNION ALL SELECT 2, s, id FROM users, authx_user_suffixes(email) AS s) AS all_suffixes \
     ORDER BY field, suffix, user_id";
const POSTGRES_SESSIONS: &str = "INSERT INTO sessions (sid, public_id, user_id, created_at_ms, \
     expires_at, absolute_expires_at, refresh_jti, login_ip, login_user_agent) \
     SELECT md5('sid' || id), md5('public' || id), id, $1, $2, $2, md5('jti' || id), \
     '127.0.0.1', 'authx-bench seed' FROM users ORDER BY id";
/// MySQL's users: `i` from the digits of `{digits}` cross-joined tables (no
/// `generate_series`; a recursive CTE would meet MySQL's recursion limit), below `?` the size.
const MYSQL_USERS: &str = "INSERT INTO users \
     (email, username, password_hash, confirmed, permissions, created_at) \
     SELECT CONCAT('u', LPAD(i, 7, '0'), '@example.com'), CONCAT('u', LPAD(i, 7, '0')), ?, \
     TRUE, CASE WHEN i = 0 THEN '[\"admin\"]' ELSE '[]' END, ? \
     FROM (SELECT {number} AS i FROM {digits}) AS n WHERE i < ? ORDER BY i";
const MYSQL_SESSIONS: &str = "INSERT INTO sessions (sid, public_id, user_id, created_at_ms, \
     expires_at, absolute_expires_at, refresh_jti, login_ip, login_user_agent) \
     SELECT md5(CONCAT('sid', id)), md5(CONCAT('public', id)), id, ?, ?, ?, \
     md5(CONCAT('jti', id)), '127.0.0.1', 'authx-bench seed' FROM users ORDER BY id";
/// The janitor scenario's copy: every seeded session expired (the ones the run's connections
/// open later are live).
const EXPIRE_SESSIONS: &str = "UPDATE sessions SET expires_at = $1";
const MYSQL_EXPIRE_SESSIONS: &str = "UPDATE sessions SET expires_at = ?";

/// `MYSQL_USERS` for `size` users: as many tables of the ten digits as `size - 1` has digits.
fn mysql_users(size: i64) -> String {
    let places = (size.max(2) - 1).to_string().len();
    let digits = (0..places)
        .map(|p| {
            format!(
                "(SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 \
                 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 \
                 UNION ALL SELECT 8 UNION ALL SELECT 9) AS d{p}"
            )
        })
        .collect::<Vec<_>>()
        .join(" CROSS JOIN ");
    let number = (0..places)
        .map(|p| format!("d{p}.d * {}", 10_i64.pow(p as u32)))
        .collect::<Vec<_>>()
        .join(" + ");
    MYSQL_USERS
        .replace("{digits}", &digits)
        .replace("{number}", &number)
}

/// Seeds a fresh MySQL database at `url` (migrated by the store) with `size` users and
/// sessions (the triggers of migration 10 write their suffixes).
async fn seed_mysql(url: &str, size: i64, hash: &str, now: i64) -> Result<(), String> {
    let store = authx::sqlx::MySqlStore::connect(url)
        .await
        .map_err(|e| e.to_string())?;
    let pool = store.pool();
    let mut tx = pool.begin().await.map_err(|e| e.to_string())?;
    sqlx::query(sqlx::AssertSqlSafe(mysql_users(size)))
        .bind(hash)
        .bind(now)
        .bind(size)
        .execute(&mut *tx)
        .await
        .map_err(|e| format!("seeding users: {e}"))?;
    sqlx::query(MYSQL_SESSIONS)
        .bind(now * 1000)
        .bind(now + SESSION_LIFETIME)
        .bind(now + SESSION_LIFETIME)
        .execute(&mut *tx)
        .await
        .map_err(|e| format!("seeding sessions: {e}"))?;
    tx.commit().await.map_err(|e| e.to_string())?;
    for statement in ["ANALYZE TABLE users", "ANALYZE TABLE sessions"] {
        sqlx::raw_sql(statement)
            .execute(pool)
            .await
            .map_err(|e| e.to_string())?;
    }
    pool.close().await;
    Ok(())
}

/// A seeded database that runs copy.
pub(crate) enum Template {
    Sqlite {
        dir: tempfile::TempDir,
        file: PathBuf,
    },
    Postgres {
        admin: String,
        name: String,
    },
    MySql {
        admin: String,
        name: String,
    },
}

/// One run's copy.
pub(crate) enum Copy {
    Sqlite {
        _dir: tempfile::TempDir,
        url: String,
    },
    Postgres {
        admin: String,
        name: String,
        url: String,
    },
    MySql {
        admin: String,
        name: String,
        url: String,
    },
}

impl Copy {
    /// The URL the server opens.
    pub(crate) fn url(&self) -> &str {
        match self {
            Self::Sqlite { url, .. } | Self::Postgres { url, .. } | Self::MySql { url, .. } => url,
        }
    }

    /// Expires every session (for the janitor scenario).
    pub(crate) async fn expire_sessions(&self) -> Result<u64, String> {
        let past = SystemClock.now() - 60;
        match self {
            Self::Sqlite { url, .. } => {
                let mut conn = sqlx::SqliteConnection::connect(url)
                    .await
                    .map_err(|e| e.to_string())?;
                let done = sqlx::query(EXPIRE_SESSIONS)
                    .bind(past)
                    .execute(&mut conn)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(done.rows_affected())
            }
            Self::Postgres { url, .. } => {
                let mut conn = sqlx::PgConnection::connect(url)
                    .await
                    .map_err(|e| e.to_string())?;
                let done = sqlx::query(EXPIRE_SESSIONS)
                    .bind(past)
                    .execute(&mut conn)
                    .await
                    .map_err(|e| e.to_string())?;
                // The planner should know the sessions are expired, as it would in service.
                sqlx::query("ANALYZE sessions")
                    .execute(&mut conn)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(done.rows_affected())
            }
            Self::MySql { url, .. } => {
                let mut conn = sqlx::MySqlConnection::connect(url)
                    .await
                    .map_err(|e| e.to_string())?;
                let done = sqlx::query(MYSQL_EXPIRE_SESSIONS)
                    .bind(past)
                    .execute(&mut conn)
                    .await
                    .map_err(|e| e.to_string())?;
                sqlx::raw_sql("ANALYZE TABLE sessions")
                    .execute(&mut conn)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(done.rows_affected())
            }
        }
    }

    /// Drops the copy (a SQLite copy goes with its directory).
    pub(crate) async fn drop_copy(self) {
        match self {
            Self::Sqlite { .. } => {}
            Self::Postgres { admin, name, .. } => drop_database(Db::Postgres, &admin, &name).await,
            Self::MySql { admin, name, .. } => drop_database(Db::MySql, &admin, &name).await,
        }
    }
}

/// Seeds a template of `size` users and sessions; prints how long it took.
pub(crate) async fn template(db: Db, size: u64) -> Result<Template, String> {
    let started = Instant::now();
    let hash = PasswordHasher::new(PasswordParams::OWASP, 1, 0)
        .map_err(|e| e.to_string())?
        .hash(Secret::new(PASSWORD))
        .await
        .map_err(|e| e.to_string())?;
    let now = SystemClock.now();
    let size = i64::try_from(size).map_err(|e| e.to_string())?;
    let template = match db {
        Db::Sqlite => {
            let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
            let file = dir.path().join("template.db");
            let url = format!("sqlite://{}", file.display());
            // Creates the file and migrates it with the library's own settings.
            let store = authx::sqlx::SqliteStore::connect(&url)
                .await
                .map_err(|e| e.to_string())?;
            let pool = store.pool();
            let mut tx = pool.begin().await.map_err(|e| e.to_string())?;
            sqlx::query(SQLITE_USERS)
                .bind(size)
                .bind(&hash)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(|e| format!("seeding users: {e}"))?;
            sqlx::query(SQLITE_SESSIONS)
                .bind(now * 1000)
                .bind(now + SESSION_LIFETIME)
                .execute(&mut *tx)
                .await
                .map_err(|e| format!("seeding sessions: {e}"))?;
            tx.commit().await.map_err(|e| e.to_string())?;
            for statement in ["ANALYZE", "PRAGMA wal_checkpoint(TRUNCATE)"] {
                sqlx::query(statement)
                    .execute(pool)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            pool.close().await;
            Template::Sqlite { dir, file }
        }
        Db::Postgres => {
            let admin = std::env::var(POSTGRES_VAR).map_err(|_| format!("{POSTGRES_VAR} unset"))?;
            let (url, name) = create_database(Db::Postgres, &admin, None).await?;
            let store = authx::sqlx::PostgresStore::connect(&url)
                .await
                .map_err(|e| e.to_string())?;
            let pool = store.pool();
            let mut tx = pool.begin().await.map_err(|e| e.to_string())?;
            // The suffixes in one sorted statement rather than by the row trigger (266 s for a
            // million users, 132 s seeded this way): the same rows the trigger writes.
            sqlx::query("ALTER TABLE users DISABLE TRIGGER users_sync_suffixes_insert")
                .execute(&mut *tx)
                .await
                .map_err(|e| e.to_string())?;
            sqlx::query(POSTGRES_USERS)
                .bind(size)
                .bind(&hash)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(|e| format!("seeding users: {e}"))?;
            for statement in [
                POSTGRES_SUFFIXES,
                "ALTER TABLE users ENABLE TRIGGER users_sync_suffixes_insert",
            ] {
                sqlx::query(statement)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| format!("seeding suffixes: {e}"))?;
            }
            sqlx::query(POSTGRES_SESSIONS)
                .bind(now * 1000)
                .bind(now + SESSION_LIFETIME)
                .execute(&mut *tx)
                .await
                .map_err(|e| format!("seeding sessions: {e}"))?;
            tx.commit().await.map_err(|e| e.to_string())?;
            // Statistics for the planner, as autovacuum would gather them; a copy keeps them.
            for statement in [
                "VACUUM ANALYZE users",
                "VACUUM ANALYZE user_suffixes",
                "VACUUM ANALYZE sessions",
            ] {
                sqlx::query(statement)
                    .execute(pool)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            pool.close().await;
            Template::Postgres { admin, name }
        }
        Db::MySql => {
            let admin = std::env::var(MYSQL_VAR).map_err(|_| format!("{MYSQL_VAR} unset"))?;
            let (url, name) = create_database(Db::MySql, &admin, None).await?;
            if let Err(e) = seed_mysql(&url, size, &hash, now).await {
                drop_database(Db::MySql, &admin, &name).await;
                return Err(e);
            }
            Template::MySql { admin, name }
        }
    };
    println!(
        "seeded {} with {size} users and {size} sessions in {:.1} s",
        db.name(),
        started.elapsed().as_secs_f64()
    );
    Ok(template)
}

impl Template {
    /// A copy for one run.
    pub(crate) async fn copy(&self) -> Result<Copy, String> {
        match self {
            Self::Sqlite { file, .. } => {
                let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
                let to = dir.path().join("authx.db");
                std::fs::copy(file, &to).map_err(|e| format!("copying the template: {e}"))?;
                Ok(Copy::Sqlite {
                    url: format!("sqlite://{}", to.display()),
                    _dir: dir,
                })
            }
            Self::Postgres { admin, name } => {
                let (url, copy) = create_database(Db::Postgres, admin, Some(name)).await?;
                Ok(Copy::Postgres {
                    admin: admin.clone(),
                    name: copy,
                    url,
                })
            }
            Self::MySql {
                admin,
                name: template,
            } => {
                let started = Instant::now();
                let (url, name) = create_database(Db::MySql, admin, None).await?;
                if let Err(e) = copy_mysql(template, &url).await {
                    drop_database(Db::MySql, admin, &name).await;
                    return Err(format!("copying the template: {e}"));
                }
                println!(
                    "copied the mysql template in {:.1} s",
                    started.elapsed().as_secs_f64()
                );
                Ok(Copy::MySql {
                    admin: admin.clone(),
                    name,
                    url,
                })
            }
        }
    }

    /// Drops the template.
    pub(crate) async fn drop_template(self) {
        match self {
            Self::Sqlite { dir, .. } => drop(dir),
            Self::Postgres { admin, name } => drop_database(Db::Postgres, &admin, &name).await,
            Self::MySql { admin, name } => drop_database(Db::MySql, &admin, &name).await,
        }
    }
}

/// Copies every table of the MySQL database `template` (on the same server) into the empty
/// database at `url`, then its triggers, as `CREATE DATABASE ... TEMPLATE` would.
///
/// Each table is created as `SHOW CREATE TABLE` shows it (keys, foreign keys, generated
/// columns), then filled by one `INSERT ... SELECT` of the columns that are not generated,
/// read in primary-key order, into the empty table, so InnoDB appends to it instead of
/// splitting pages at random; the foreign keys and unique checks are off for the session (the
/// template was checked already), which also spares a lookup per row and unique key. The
/// triggers come last, so none fires on a copied row; created in
/// the template's order for each event, they keep it (a trigger is added after those there).
/// `_sqlx_migrations` is a table like the others: the store finds the copy migrated.
async fn copy_mysql(template: &str, url: &str) -> Result<(), sqlx::Error> {
    let mut conn = sqlx::MySqlConnection::connect(url).await?;
    sqlx::raw_sql("SET SESSION foreign_key_checks = 0, unique_checks = 0")
        .execute(&mut conn)
        .await?;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(table_name AS CHAR) FROM information_schema.tables \
         WHERE table_schema = ? AND table_type = 'BASE TABLE' ORDER BY table_name",
    )
    .bind(template)
    .fetch_all(&mut conn)
    .await?;
    for table in &tables {
        let (_, create): (String, String) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SHOW CREATE TABLE `{template}`.`{table}`"
        )))
        .fetch_one(&mut conn)
        .await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(create))
            .execute(&mut conn)
            .await?;
        // MariaDB leaves `generation_expression` NULL for a plain column, MySQL empty.
        let columns: Vec<String> = sqlx::query_scalar(
            "SELECT CAST(CONCAT('`', column_name, '`') AS CHAR) FROM information_schema.columns \
             WHERE table_schema = ? AND table_name = ? \
             AND COALESCE(generation_expression, '') = '' ORDER BY ordinal_position",
        )
        .bind(template)
        .bind(table)
        .fetch_all(&mut conn)
        .await?;
        let columns = columns.join(", ");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "INSERT INTO `{table}` ({columns}) SELECT {columns} FROM `{template}`.`{table}`"
        )))
        .execute(&mut conn)
        .await?;
        // Statistics now, not when InnoDB's background recalculation gets to it.
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("ANALYZE TABLE `{table}`")))
            .execute(&mut conn)
            .await?;
    }
    let triggers: Vec<(String, String, String, String, String)> = sqlx::query_as(
        "SELECT CAST(trigger_name AS CHAR), CAST(action_timing AS CHAR), \
         CAST(event_manipulation AS CHAR), CAST(event_object_table AS CHAR), \
         CAST(action_statement AS CHAR) FROM information_schema.triggers \
         WHERE trigger_schema = ? ORDER BY event_object_table, event_manipulation, \
         action_timing, action_order",
    )
    .bind(template)
    .fetch_all(&mut conn)
    .await?;
    for (name, timing, event, table, statement) in triggers {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "CREATE TRIGGER `{name}` {timing} {event} ON `{table}` FOR EACH ROW {statement}"
        )))
        .execute(&mut conn)
        .await?;
    }
    conn.close().await
}

/// Creates a database (on PostgreSQL a copy of `template`, if given) on the server of
/// `admin_url`; returns its URL and name.
async fn create_database(
    db: Db,
    admin_url: &str,
    template: Option<&str>,
) -> Result<(String, String), String> {
    let var = if db == Db::MySql {
        MYSQL_VAR
    } else {
        POSTGRES_VAR
    };
    let name = format!(
        "authx_bench_{}",
        &authx::random::sha256_hex(&authx::random::token(16))[..16]
    );
    // A file copy: much faster than writing a large template through the WAL (15's default).
    let sql = match template {
        Some(template) => format!("CREATE DATABASE {name} TEMPLATE {template} STRATEGY FILE_COPY"),
        None => format!("CREATE DATABASE {name}"),
    };
    let created = if db == Db::MySql {
        let mut conn = sqlx::MySqlConnection::connect(admin_url)
            .await
            .map_err(|e| format!("{var}: {e}"))?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .map(drop)
    } else {
        let mut conn = sqlx::PgConnection::connect(admin_url)
            .await
            .map_err(|e| format!("{var}: {e}"))?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .map(drop)
    };
    created.map_err(|e| format!("creating the benchmark database: {e}"))?;
    let (base, _) = admin_url
        .split('?')
        .next()
        .unwrap_or(admin_url)
        .rsplit_once('/')
        .ok_or_else(|| format!("{var} must end with /<database>"))?;
    Ok((format!("{base}/{name}"), name))
}

async fn drop_database(db: Db, admin_url: &str, name: &str) {
    let dropped = if db == Db::MySql {
        match sqlx::MySqlConnection::connect(admin_url).await {
            Ok(mut conn) => {
                let sql = sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}"));
                sqlx::raw_sql(sql).execute(&mut conn).await.map(drop)
            }
            Err(e) => Err(e),
        }
    } else {
        match sqlx::PgConnection::connect(admin_url).await {
            Ok(mut conn) => {
                let sql =
                    sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
                sqlx::raw_sql(sql).execute(&mut conn).await.map(drop)
            }
            Err(e) => Err(e),
        }
    };
    if let Err(e) = dropped {
        eprintln!("authx-bench: could not drop database {name}: {e}");
    }
}
