//! SQLite: its statements, connection settings and migrations.

use std::str::FromStr as _;
use std::time::Duration;

use sqlx::Sqlite;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteQueryResult,
    SqliteSynchronous,
};

use crate::dialect::{Dialect, Statements};
use crate::error::Error;
use crate::search::{Compared, SearchSql};
use crate::statements::{
    self as common, after_cutoff, claim_due_mail, linked_providers, user_details_columns,
};
use crate::store::SqlStore;

/// Checkpoints the WAL of `pool`'s database every `period` (passive: what no reader still
/// needs is copied back, nobody waits), until the pool is closed or the task aborted. A
/// failed checkpoint is logged and tried again next time.
async fn checkpoint_every(pool: sqlx::SqlitePool, period: Duration) {
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !pool.is_closed() {
        ticks.tick().await;
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
            && !pool.is_closed()
        {
            tracing::warn!("authx-sqlx: background WAL checkpoint failed: {e}");
        }
    }
}

/// authx storage in a SQLite database.
///
/// ```no_run
/// # async fn open() -> Result<(), authx_sqlx::Error> {
/// let store = authx_sqlx::SqliteStore::connect("sqlite://authx.db").await?;
/// # Ok(()) }
/// ```
pub type SqliteStore = SqlStore<Sqlite>;

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
    (
        3,
        "sessions v2",
        include_str!("../migrations/sqlite/0003_sessions_v2.sql"),
    ),
    (
        4,
        "admin",
        include_str!("../migrations/sqlite/0004_admin.sql"),
    ),
    (
        5,
        "email forms",
        include_str!("../migrations/sqlite/0005_email_forms.sql"),
    ),
    (
        6,
        "two factor",
        include_str!("../migrations/sqlite/0006_two_factor.sql"),
    ),
    (
        7,
        "identities",
        include_str!("../migrations/sqlite/0007_identities.sql"),
    ),
    (
        8,
        "search index",
        include_str!("../migrations/sqlite/0008_search_index.sql"),
    ),
    (
        9,
        "user trigrams",
        include_str!("../migrations/sqlite/0009_user_trigrams.sql"),
    ),
    (
        10,
        "user suffixes",
        include_str!("../migrations/sqlite/0010_user_suffixes.sql"),
    ),
];

/// Connections in the pool: readers run in parallel under WAL, writers queue on the lock.
const POOL_SIZE: u32 = 8;

/// How long a connection waits for another's write lock before failing with SQLITE_BUSY.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How often the store checkpoints its WAL in the background ([`SqlStore::from_pool`]).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// The WAL size, in pages, past which a commit checkpoints it itself (SQLite's own automatic
/// checkpoint, 1,000 by default): a backstop only, for when the background checkpointer
/// cannot keep up or was not started (see [`SqlStore::from_pool`]).
const AUTOCHECKPOINT_PAGES: u32 = 10_000;

impl crate::dialect::sealed::Sealed for Sqlite {}

impl Dialect for Sqlite {
    const SQL: &'static Statements = &SQL;
    /// SQLite lets one writer in at a time and makes the others poll with growing sleeps (its
    /// busy handler: 1, 2, 5, ... up to 100 ms), so under concurrent writes most of the wait was
    /// sleep while the lock was free; the store's async lock hands over to the next writer as
    /// soon as one is done. The busy timeout remains for other processes writing to the file.
    const QUEUE_WRITES: bool = true;
    /// `BEGIN IMMEDIATE` takes the write lock at once: a deferred transaction that reads first
    /// and writes later would fail with SQLITE_BUSY instead of waiting.
    const BEGIN_WRITE: Option<&'static str> = Some("BEGIN IMMEDIATE");

    const NUMBERED_PARAMETERS: bool = true;
    /// Only when built with STAT4 (which the bundled SQLite is not known to be).
    const PLANS_EACH_EXECUTION: bool = false;

    fn rows_affected(result: &SqliteQueryResult) -> u64 {
        result.rows_affected()
    }

    fn add_parameter(
        arguments: &mut <Self as sqlx::Database>::Arguments,
        param: crate::bind::Param<'_>,
    ) -> Result<(), sqlx::error::BoxDynError> {
        param.add_to::<Self>(arguments)
    }
}

static SQL: Statements = Statements {
    no_returning: None,
    user_by_id: common::USER_BY_ID,
    user_by_email: common::USER_BY_EMAIL,
    user_by_username: common::USER_BY_USERNAME,
    insert_user: common::INSERT_USER,
    change_username: common::CHANGE_USERNAME,
    record_login: common::RECORD_LOGIN,
    change_password: common::CHANGE_PASSWORD,
    insert_email_token: common::INSERT_EMAIL_TOKEN,
    email_token: common::EMAIL_TOKEN,
    use_email_token: common::USE_EMAIL_TOKEN,
    use_user_email_tokens: common::USE_USER_EMAIL_TOKENS,
    confirm_user: common::CONFIRM_USER,
    grant_permission: "UPDATE users SET permissions = json_insert(permissions, '$[#]', $2) \
         WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM json_each(users.permissions) WHERE value = $2)",
    reset_password: common::RESET_PASSWORD,
    insert_session: common::INSERT_SESSION,
    rotate_refresh_token: concat!(
        "UPDATE sessions SET previous_jti = refresh_jti, refresh_jti = $4, rotated_at = $3, \
         expires_at = min($5, absolute_expires_at), last_ip = $6, last_user_agent = $7 \
         WHERE sid = $1 AND refresh_jti = $2 AND ended_at IS NULL AND expires_at > $3 AND ",
        after_cutoff!(),
        " RETURNING created_at_ms, expires_at, absolute_expires_at"
    ),
    replace_refresh_token: concat!(
        "UPDATE sessions SET previous_jti = refresh_jti, refresh_jti = $3, rotated_at = $4, \
         expires_at = min($5, absolute_expires_at), last_ip = $6, last_user_agent = $7 \
         WHERE sid = $1 AND user_id = $2 AND ended_at IS NULL AND expires_at > $4 AND ",
        after_cutoff!(),
        " RETURNING created_at_ms, expires_at, absolute_expires_at"
    ),
    refresh_token_state: common::REFRESH_TOKEN_STATE,
    live_sessions: common::LIVE_SESSIONS,
    end_session: common::END_SESSION,
    end_other_sessions: common::END_OTHER_SESSIONS,
    end_user_sessions: common::END_USER_SESSIONS,
    raise_session_cutoff: "INSERT INTO session_cutoff (id, cutoff_ms) VALUES (1, $1) \
         ON CONFLICT (id) DO UPDATE \
         SET cutoff_ms = max(session_cutoff.cutoff_ms, excluded.cutoff_ms)",
    session_cutoff: common::SESSION_CUTOFF,
    insert_mail: common::INSERT_MAIL,
    // One statement, no lock clause: SQLite runs one writer at a time, so two workers never
    // claim the same row.
    claim_due_mail: claim_due_mail!(""),
    mark_mail_sent: common::MARK_MAIL_SENT,
    reschedule_mail: common::RESCHEDULE_MAIL,
    give_up_mail: common::GIVE_UP_MAIL,
    next_mail_due: common::NEXT_MAIL_DUE,
    toggle_ban: common::TOGGLE_BAN,
    lift_expired_ban: common::LIFT_EXPIRED_BAN,
    banned_users: common::BANNED_USERS,
    add_permission: "UPDATE users SET permissions = CASE \
         WHEN EXISTS (SELECT 1 FROM json_each(users.permissions) WHERE value = $2) THEN permissions \
         ELSE json_insert(permissions, '$[#]', $2) END \
         WHERE id = $1 RETURNING permissions",
    // Rebuilt from the stored array in its order, without the removed name.
    remove_permission: "UPDATE users SET permissions = (\
         SELECT json_group_array(value ORDER BY key) FROM json_each(users.permissions) \
         WHERE value <> $2) \
         WHERE id = $1 RETURNING permissions",
    clear_permissions: "UPDATE users SET permissions = '[]' WHERE id = $1 RETURNING permissions",
    user_details: concat!(
        "SELECT ",
        user_details_columns!(
            "$2",
            linked_providers!(sqlite),
            "EXISTS (SELECT 1 FROM two_factor t WHERE t.user_id = users.id AND t.enabled)"
        ),
        " FROM users WHERE id = $1"
    ),
    // Migration 10's suffixes serve it; the columns are `user_details`' own.
    search: SearchSql {
        columns: user_details_columns!(
            "$1",
            linked_providers!(sqlite),
            "EXISTS (SELECT 1 FROM two_factor t WHERE t.user_id = users.id AND t.enabled)"
        ),
        compared: Compared::Lowered,
    },
    set_blackout: common::SET_BLACKOUT,
    blackout: common::BLACKOUT,
    delete_blackout: common::DELETE_BLACKOUT,
    acquire_lease: common::ACQUIRE_LEASE,
    pending_email_forms: common::PENDING_EMAIL_FORMS,
    rewrite_user_email: common::REWRITE_USER_EMAIL,
    rewrite_token_emails: common::REWRITE_TOKEN_EMAILS,
    done_email_form: common::DONE_EMAIL_FORM,
    purge_sessions: [common::PURGE_EXPIRED_SESSIONS, common::PURGE_ENDED_SESSIONS],
    purge_sessions_before_cutoff: common::PURGE_SESSIONS_BEFORE_CUTOFF,
    purge_email_tokens: [
        common::PURGE_EXPIRED_EMAIL_TOKENS,
        common::PURGE_USED_EMAIL_TOKENS,
    ],
    purge_mail: common::PURGE_MAIL,
    two_factor: common::TWO_FACTOR,
    start_totp: common::START_TOTP,
    enable_totp: common::ENABLE_TOTP,
    touch_recovery_codes: common::TOUCH_RECOVERY_CODES,
    delete_recovery_codes: common::DELETE_RECOVERY_CODES,
    insert_recovery_code: common::INSERT_RECOVERY_CODE,
    use_recovery_code: common::USE_RECOVERY_CODE,
    reseal_secret: common::RESEAL_SECRET,
    delete_two_factor: common::DELETE_TWO_FACTOR,
    purge_sign_ins: common::PURGE_SIGN_INS,
    // A janitor's batch writes many pages to the WAL (a session leaves seven B-tree entries),
    // and SQLite checkpoints when a commit takes the WAL past 1,000 pages: on whichever
    // connection commits, inside its write, with an fsync. Checkpointing here, after each
    // batch and outside the write turn (a passive checkpoint waits for no writer and holds
    // none up), keeps that work on the janitor instead of on the request that came next.
    after_purge: Some("PRAGMA wal_checkpoint(PASSIVE)"),
    insert_sign_in: common::INSERT_SIGN_IN,
    take_sign_in: common::TAKE_SIGN_IN,
    user_by_identity: common::USER_BY_IDENTITY,
    link_identity: common::LINK_IDENTITY,
};

impl SqlStore<Sqlite> {
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
    /// WAL, `synchronous=NORMAL`, foreign keys, a 5 s busy timeout, and SQLite's automatic
    /// checkpoint moved from 1,000 pages of WAL to 10,000, a backstop: the store checkpoints
    /// in the background instead (see [`from_pool`](Self::from_pool)). Start from these to
    /// build a pool of your own for [`from_pool`](Self::from_pool).
    pub fn connect_options(url: &str) -> Result<SqliteConnectOptions, Error> {
        Ok(SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            .pragma("wal_autocheckpoint", AUTOCHECKPOINT_PAGES.to_string()))
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
    ///
    /// Called within a tokio runtime, it starts the store's checkpointer: every 500 ms, a
    /// passive checkpoint of the WAL (it waits for no reader or writer and holds none up),
    /// until the last clone of the store is dropped. Without it SQLite checkpoints in the
    /// commit that takes the WAL past its limit, inside that request's write and every
    /// writer's wait behind it: on a million-user database such a checkpoint took about
    /// 370 ms, the p99 of paced logins (docs/benchmarks.md).
    pub fn from_pool(pool: sqlx::SqlitePool) -> Self {
        let mut store = Self::with_pool(pool);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let task = runtime.spawn(checkpoint_every(store.pool.clone(), CHECKPOINT_EVERY));
            store.background = Some(std::sync::Arc::new(crate::store::Background(
                task.abort_handle(),
            )));
        }
        store
    }

    /// Applies the embedded migrations that are not applied yet.
    pub async fn migrate(&self) -> Result<(), Error> {
        crate::migrator(MIGRATIONS).run(&self.pool).await?;
        // Migration 4 lists the emails SQL cannot put in their stored form; Rust does it.
        self.rewrite_pending_emails().await
    }
}
