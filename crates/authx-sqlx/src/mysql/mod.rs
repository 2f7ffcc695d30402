//! MySQL 8 and MariaDB 10.6+: statements, connection settings and migrations.
//!
//! What differs from SQLite and PostgreSQL, and how the statements answer it:
//! - Parameters are `?`, bound by position: the statements are written with `$N` like the
//!   others and rewritten once (`crate::bind`).
//! - No `UPDATE ... RETURNING` (MariaDB has `INSERT`/`DELETE ... RETURNING`, MySQL neither):
//!   a write that returns a row runs in a transaction with a read of what it wrote
//!   ([`NoReturning`]); the permission changes lock the row (`SELECT ... FOR UPDATE`), compute
//!   the list and write it.
//! - `UPDATE ... SET` assigns left to right, each assignment seeing the ones before it (the
//!   session's `sql_mode` drops MariaDB's `SIMULTANEOUS_ASSIGNMENT`): statements that read a
//!   column they also assign order their assignments for it.
//! - Rows "affected" are the rows matched (sqlx connects with `CLIENT_FOUND_ROWS`), so a
//!   conditional `UPDATE` counts as elsewhere even when it writes the values already there.
//! - Transactions run at `READ COMMITTED`, as in PostgreSQL: a conditional `UPDATE` waits for
//!   a row another transaction holds, then re-checks its condition on what that one committed;
//!   no gap locks. A transaction InnoDB picks as a deadlock's victim is retried by the store.

pub(crate) mod migrate;

use std::time::Duration;

use sqlx::MySql;
use sqlx::mysql::{MySqlPoolOptions, MySqlQueryResult};

use crate::dialect::{Dialect, NoReturning, Statements};
use crate::error::Error;
use crate::search::{Compared, SearchSql};
use crate::statements::{self as common, after_cutoff, user_details_columns};
use crate::store::SqlStore;

/// authx storage in a MySQL 8 or MariaDB 10.6+ database.
///
/// ```no_run
/// # async fn open() -> Result<(), authx_sqlx::Error> {
/// let store = authx_sqlx::MySqlStore::connect("mysql://authx@localhost/authx").await?;
/// # Ok(()) }
/// ```
pub type MySqlStore = SqlStore<MySql>;

/// The embedded migrations, `migrations/mysql`: the same versions, with the same meaning, as
/// SQLite's and PostgreSQL's.
pub(crate) const MIGRATIONS: &[crate::EmbeddedMigration] = &[
    (
        1,
        "initial",
        include_str!("../../migrations/mysql/0001_initial.sql"),
    ),
    (
        2,
        "session holds refresh token",
        include_str!("../../migrations/mysql/0002_session_holds_refresh_token.sql"),
    ),
    (
        3,
        "sessions v2",
        include_str!("../../migrations/mysql/0003_sessions_v2.sql"),
    ),
    (
        4,
        "admin",
        include_str!("../../migrations/mysql/0004_admin.sql"),
    ),
    (
        5,
        "email forms",
        include_str!("../../migrations/mysql/0005_email_forms.sql"),
    ),
    (
        6,
        "two factor",
        include_str!("../../migrations/mysql/0006_two_factor.sql"),
    ),
    (
        7,
        "identities",
        include_str!("../../migrations/mysql/0007_identities.sql"),
    ),
    (
        8,
        "search index",
        include_str!("../../migrations/mysql/0008_search_index.sql"),
    ),
    (
        9,
        "user trigrams",
        include_str!("../../migrations/mysql/0009_user_trigrams.sql"),
    ),
    (
        10,
        "user suffixes",
        include_str!("../../migrations/mysql/0010_user_suffixes.sql"),
    ),
];

/// Connections in the pool (sqlx's default).
const POOL_SIZE: u32 = 10;

/// A connection idle in the pool this long is pinged before it is handed out.
const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(30);

/// What every connection runs once opened: `READ COMMITTED`, and a `sql_mode` without the
/// modes that would change how the statements read (`ANSI_QUOTES`: `"` quotes names;
/// `NO_BACKSLASH_ESCAPES`: `\` in a literal; MariaDB's `SIMULTANEOUS_ASSIGNMENT`: `SET`
/// assigns from the old row), whatever the server's defaults.
const SESSION_SETUP: &str = "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED; \
     SET SESSION sql_mode = (SELECT TRIM(BOTH ',' FROM \
         REPLACE(REPLACE(REPLACE(CONCAT(',', @@SESSION.sql_mode, ','), \
         ',ANSI_QUOTES,', ','), ',NO_BACKSLASH_ESCAPES,', ','), \
         ',SIMULTANEOUS_ASSIGNMENT,', ',')))";

impl crate::dialect::sealed::Sealed for MySql {}

impl Dialect for MySql {
    const SQL: &'static Statements = &SQL;
    /// No queue: InnoDB's writers wait for each other's row locks.
    const QUEUE_WRITES: bool = false;
    /// A plain `BEGIN`, at the session's `READ COMMITTED`.
    const BEGIN_WRITE: Option<&'static str> = None;
    const NUMBERED_PARAMETERS: bool = false;
    /// Yes, and a statement prepared for one call costs more than its preparation: sqlx then
    /// sends `COM_STMT_CLOSE`, which has no reply, and the next command on the connection
    /// waits, with Nagle's algorithm on, for the server's delayed acknowledgement of it (some
    /// 40 ms on Linux: every admin search took that long on MariaDB at a thousand users).
    const PLANS_EACH_EXECUTION: bool = true;

    fn rows_affected(result: &MySqlQueryResult) -> u64 {
        result.rows_affected()
    }

    fn add_parameter(
        arguments: &mut <Self as sqlx::Database>::Arguments,
        param: crate::bind::Param<'_>,
    ) -> Result<(), sqlx::error::BoxDynError> {
        param.add_to::<Self>(arguments)
    }
}

/// The columns of a `UserRow`.
macro_rules! user_columns {
    () => {
        "id, email, username, password_hash, password_changed_at, active, confirmed, \
         permissions, created_at, last_login"
    };
}

/// The names of a user's linked providers, as a JSON array (for `user_details_columns`).
macro_rules! linked_providers {
    () => {
        "(SELECT CONCAT('[', COALESCE(GROUP_CONCAT(DISTINCT JSON_QUOTE(provider) \
         ORDER BY provider SEPARATOR ','), ''), ']') FROM identities \
         WHERE user_id = users.id)"
    };
}

/// Whether the user has a second factor enabled (for `user_details_columns`).
macro_rules! two_factor_enabled {
    () => {
        "EXISTS (SELECT 1 FROM two_factor t WHERE t.user_id = users.id AND t.enabled)"
    };
}

/// Whether a ban is in force at `$4` (as `crate::statements`' `ban_in_force`).
macro_rules! ban_in_force {
    () => {
        "(NOT active AND (ban_expires_at IS NULL OR ban_expires_at > $4))"
    };
}

static NO_RETURNING: NoReturning = NoReturning {
    inserted_user: concat!(
        "SELECT ",
        user_columns!(),
        " FROM users WHERE id = LAST_INSERT_ID()"
    ),
    rotated_session: "SELECT created_at_ms, expires_at, absolute_expires_at \
         FROM sessions WHERE sid = $1",
    ban_state: "SELECT active FROM users WHERE id = $1",
    lock_permissions: "SELECT permissions FROM users WHERE id = $1 FOR UPDATE",
    set_permissions: "UPDATE users SET permissions = $2 WHERE id = $1",
    claimed_mail: "SELECT id, attempts, recipient, subject, body_text, body_html \
         FROM mail_outbox WHERE claim = $1",
    // A lease row that has expired and that no one holds, so `acquire_lease` is one UPDATE.
    ensure_lease: "INSERT INTO leases (name, holder, `until`) VALUES ($1, '', 0) \
         ON DUPLICATE KEY UPDATE name = name",
    clear_pending_totp: "DELETE FROM two_factor WHERE user_id = $1 AND NOT enabled",
    lock_sign_in: "SELECT state_hash, provider, pkce_verifier, nonce, redirect, expires_at \
         FROM social_sign_ins WHERE state_hash = $1 FOR UPDATE",
};

static SQL: Statements = Statements {
    no_returning: Some(&NO_RETURNING),
    user_by_id: common::USER_BY_ID,
    user_by_email: concat!(
        "SELECT ",
        user_columns!(),
        " FROM users WHERE email_lower = lower($1)"
    ),
    user_by_username: concat!(
        "SELECT ",
        user_columns!(),
        " FROM users WHERE username_lower = lower($1)"
    ),
    insert_user: "INSERT INTO users (email, username, password_hash, confirmed, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    change_username: common::CHANGE_USERNAME,
    record_login: common::RECORD_LOGIN,
    change_password: common::CHANGE_PASSWORD,
    insert_email_token: common::INSERT_EMAIL_TOKEN,
    email_token: common::EMAIL_TOKEN,
    use_email_token: common::USE_EMAIL_TOKEN,
    use_user_email_tokens: common::USE_USER_EMAIL_TOKENS,
    confirm_user: common::CONFIRM_USER,
    grant_permission: "UPDATE users SET permissions = JSON_ARRAY_APPEND(permissions, '$', $2) \
         WHERE id = $1 AND NOT JSON_CONTAINS(permissions, JSON_QUOTE($2))",
    reset_password: common::RESET_PASSWORD,
    insert_session: common::INSERT_SESSION,
    // `previous_jti` is assigned before `refresh_jti`, so it takes the replaced one.
    rotate_refresh_token: concat!(
        "UPDATE sessions SET previous_jti = refresh_jti, refresh_jti = $4, rotated_at = $3, \
         expires_at = least($5, absolute_expires_at), last_ip = $6, last_user_agent = $7 \
         WHERE sid = $1 AND refresh_jti = $2 AND ended_at IS NULL AND expires_at > $3 AND ",
        after_cutoff!()
    ),
    replace_refresh_token: concat!(
        "UPDATE sessions SET previous_jti = refresh_jti, refresh_jti = $3, rotated_at = $4, \
         expires_at = least($5, absolute_expires_at), last_ip = $6, last_user_agent = $7 \
         WHERE sid = $1 AND user_id = $2 AND ended_at IS NULL AND expires_at > $4 AND ",
        after_cutoff!()
    ),
    refresh_token_state: common::REFRESH_TOKEN_STATE,
    live_sessions: common::LIVE_SESSIONS,
    end_session: common::END_SESSION,
    end_other_sessions: common::END_OTHER_SESSIONS,
    end_user_sessions: common::END_USER_SESSIONS,
    raise_session_cutoff: "INSERT INTO session_cutoff (id, cutoff_ms) VALUES (1, $1) \
         ON DUPLICATE KEY UPDATE cutoff_ms = greatest(cutoff_ms, $1)",
    session_cutoff: common::SESSION_CUTOFF,
    insert_mail: common::INSERT_MAIL,
    // One UPDATE with its own ORDER BY and LIMIT; a row another worker is claiming is waited
    // for and then re-checked (claimed by then, it no longer matches), so two workers never
    // claim the same mail. `claimed_mail` reads the batch back by its claim.
    claim_due_mail: "UPDATE mail_outbox SET claim = $3, claimed_until = $2 \
         WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $1 \
           AND (claim IS NULL OR claimed_until < $1) \
         ORDER BY next_attempt_at, id LIMIT $4",
    mark_mail_sent: common::MARK_MAIL_SENT,
    reschedule_mail: common::RESCHEDULE_MAIL,
    give_up_mail: common::GIVE_UP_MAIL,
    next_mail_due: common::NEXT_MAIL_DUE,
    // Assigned left to right, each seeing the ones before: whether a ban was in force is read
    // (from `active` and `ban_expires_at`) before either changes, and then from `banned_at`,
    // which is NULL afterwards exactly when the ban was lifted.
    toggle_ban: concat!(
        "UPDATE users SET ban_reason = CASE WHEN ",
        ban_in_force!(),
        " THEN NULL ELSE $2 END, banned_at = CASE WHEN ",
        ban_in_force!(),
        " THEN NULL ELSE $4 END, \
         ban_expires_at = CASE WHEN banned_at IS NULL THEN NULL ELSE $3 END, \
         active = (banned_at IS NULL) WHERE id = $1"
    ),
    lift_expired_ban: common::LIFT_EXPIRED_BAN,
    banned_users: common::BANNED_USERS,
    // A locking read and a write (`NoReturning`), computed in Rust.
    add_permission: "",
    remove_permission: "",
    clear_permissions: "",
    user_details: concat!(
        "SELECT ",
        user_details_columns!("$2", linked_providers!(), two_factor_enabled!()),
        " FROM users WHERE id = $1"
    ),
    // Migration 10's suffixes, then the `LIKE` on the stored lower-case copies (see
    // docs/storage.md, "MySQL and MariaDB").
    search: SearchSql {
        columns: user_details_columns!("$1", linked_providers!(), two_factor_enabled!()),
        compared: Compared::StoredLower,
    },
    set_blackout: "INSERT INTO blackout (id, set_at) VALUES (1, $1) \
         ON DUPLICATE KEY UPDATE set_at = $1",
    blackout: common::BLACKOUT,
    delete_blackout: common::DELETE_BLACKOUT,
    // `ensure_lease` made the row; rows matched count, so renewing with the same values is 1.
    acquire_lease: "UPDATE leases SET holder = $2, `until` = $4 \
         WHERE name = $1 AND (`until` <= $3 OR holder = $2)",
    pending_email_forms: common::PENDING_EMAIL_FORMS,
    rewrite_user_email: common::REWRITE_USER_EMAIL,
    rewrite_token_emails: common::REWRITE_TOKEN_EMAILS,
    done_email_form: common::DONE_EMAIL_FORM,
    // MySQL takes LIMIT in a DELETE (and no LIMIT in a subquery of IN); ORDER BY makes each
    // batch a range of the one index, read in order until the limit (see `statements.rs`).
    purge_sessions: [
        "DELETE FROM sessions WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2",
        "DELETE FROM sessions WHERE ended_at <= $1 ORDER BY ended_at LIMIT $2",
    ],
    purge_sessions_before_cutoff: "DELETE FROM sessions WHERE created_at_ms < $1 \
         ORDER BY created_at_ms LIMIT $2",
    purge_email_tokens: [
        "DELETE FROM email_tokens WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2",
        "DELETE FROM email_tokens WHERE used_at <= $1 ORDER BY used_at LIMIT $2",
    ],
    // Served by the index on `done_at`, coalesce(sent_at, failed_at); pending mail has neither.
    purge_mail: "DELETE FROM mail_outbox WHERE done_at < $1 LIMIT $2",
    two_factor: common::TWO_FACTOR,
    // With `clear_pending_totp` first (see `NoReturning`): writes nothing while one is enabled.
    start_totp: "INSERT IGNORE INTO two_factor (user_id, totp_secret, enabled, created_at) \
         VALUES ($1, $2, FALSE, $3)",
    enable_totp: common::ENABLE_TOTP,
    touch_recovery_codes: common::TOUCH_RECOVERY_CODES,
    delete_recovery_codes: common::DELETE_RECOVERY_CODES,
    insert_recovery_code: common::INSERT_RECOVERY_CODE,
    use_recovery_code: common::USE_RECOVERY_CODE,
    reseal_secret: common::RESEAL_SECRET,
    delete_two_factor: common::DELETE_TWO_FACTOR,
    purge_sign_ins: "DELETE FROM social_sign_ins WHERE expires_at <= $1 LIMIT $2",
    after_purge: None,
    insert_sign_in: common::INSERT_SIGN_IN,
    // With `lock_sign_in` first (see `NoReturning`).
    take_sign_in: "DELETE FROM social_sign_ins WHERE state_hash = $1",
    user_by_identity: common::USER_BY_IDENTITY,
    link_identity: "INSERT IGNORE INTO identities \
         (provider, subject, user_id, email, linked_at) VALUES ($1, $2, $3, $4, $5)",
};

impl SqlStore<MySql> {
    /// Connects to the database at `url` (`mysql://`, or `mariadb://` read as `mysql://`) with
    /// [`pool_options`](Self::pool_options), and applies the embedded migrations.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        let url = mysql_url(url);
        let pool = Self::pool_options().connect(&url).await?;
        let store = Self::from_pool(pool);
        store.migrate().await?;
        Ok(store)
    }

    /// The pool settings [`connect`](Self::connect) uses: 10 connections, each set up for the
    /// statements (`READ COMMITTED`; a `sql_mode` without `ANSI_QUOTES`,
    /// `NO_BACKSLASH_ESCAPES` and `SIMULTANEOUS_ASSIGNMENT`), and a connection that sat idle
    /// in the pool for 30 s or more pinged before use. Start from these to build a pool of
    /// your own for [`from_pool`](Self::from_pool).
    pub fn pool_options() -> MySqlPoolOptions {
        MySqlPoolOptions::new()
            .max_connections(POOL_SIZE)
            .test_before_acquire(false)
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    sqlx::Executor::execute(&mut *conn, sqlx::raw_sql(SESSION_SETUP)).await?;
                    Ok(())
                })
            })
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
    /// [`migrate`](Self::migrate)). Its connections should be set up as
    /// [`pool_options`](Self::pool_options)' are.
    pub fn from_pool(pool: sqlx::MySqlPool) -> Self {
        Self::with_pool(pool)
    }

    /// Applies the embedded migrations that are not applied yet, one statement at a time,
    /// resuming a migration that was cut off (under a named lock, so instances starting
    /// together do not race).
    pub async fn migrate(&self) -> Result<(), Error> {
        migrate::run(&self.pool, MIGRATIONS).await?;
        // Migration 5 lists the emails SQL cannot put in their stored form; Rust does it.
        self.rewrite_pending_emails().await
    }
}

/// `url` with the scheme sqlx knows: `mariadb://` is taken as `mysql://`.
fn mysql_url(url: &str) -> std::borrow::Cow<'_, str> {
    match url.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("mariadb") => {
            format!("mysql://{rest}").into()
        }
        _ => url.into(),
    }
}
