//! PostgreSQL: its statements, pool settings and migrations.

use sqlx::Postgres;
use sqlx::postgres::{PgPoolOptions, PgQueryResult};

use crate::dialect::{Dialect, Statements};
use crate::error::Error;
use crate::search::{Compared, SearchSql};
use crate::statements::{
    self as common, after_cutoff, claim_due_mail, linked_providers, user_details_columns,
};
use crate::store::SqlStore;

/// authx storage in a PostgreSQL database.
///
/// ```no_run
/// # async fn open() -> Result<(), authx_sqlx::Error> {
/// let store = authx_sqlx::PostgresStore::connect("postgres://authx@localhost/authx").await?;
/// # Ok(()) }
/// ```
pub type PostgresStore = SqlStore<Postgres>;

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
    (
        3,
        "sessions v2",
        include_str!("../migrations/postgres/0003_sessions_v2.sql"),
    ),
    (
        4,
        "admin",
        include_str!("../migrations/postgres/0004_admin.sql"),
    ),
    (
        5,
        "email forms",
        include_str!("../migrations/postgres/0005_email_forms.sql"),
    ),
    (
        6,
        "two factor",
        include_str!("../migrations/postgres/0006_two_factor.sql"),
    ),
    (
        7,
        "identities",
        include_str!("../migrations/postgres/0007_identities.sql"),
    ),
    (
        8,
        "search index",
        include_str!("../migrations/postgres/0008_search_index.sql"),
    ),
    (
        9,
        "user trigrams",
        include_str!("../migrations/postgres/0009_user_trigrams.sql"),
    ),
    (
        10,
        "user suffixes",
        include_str!("../migrations/postgres/0010_user_suffixes.sql"),
    ),
];

/// Connections in the pool (sqlx's default).
const POOL_SIZE: u32 = 10;

/// A connection idle in the pool this long is pinged before it is handed out.
const PING_WHEN_IDLE_FOR: std::time::Duration = std::time::Duration::from_secs(30);

impl crate::dialect::sealed::Sealed for Postgres {}

impl Dialect for Postgres {
    const SQL: &'static Statements = &SQL;
    /// No queue: PostgreSQL's writers wait for each other's row locks without polling.
    const QUEUE_WRITES: bool = false;
    /// A plain `BEGIN`: PostgreSQL locks rows as they are written, so concurrent transactions
    /// wait for each other only where they meet.
    const BEGIN_WRITE: Option<&'static str> = None;

    const NUMBERED_PARAMETERS: bool = true;
    /// No: after five executions a kept statement may run a generic plan.
    const PLANS_EACH_EXECUTION: bool = false;

    fn rows_affected(result: &PgQueryResult) -> u64 {
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
    grant_permission: "UPDATE users SET permissions = array_append(permissions, $2) \
         WHERE id = $1 AND NOT ($2 = ANY (permissions))",
    reset_password: common::RESET_PASSWORD,
    insert_session: common::INSERT_SESSION,
    rotate_refresh_token: concat!(
        "UPDATE sessions SET previous_jti = refresh_jti, refresh_jti = $4, rotated_at = $3, \
         expires_at = least($5, absolute_expires_at), last_ip = $6, last_user_agent = $7 \
         WHERE sid = $1 AND refresh_jti = $2 AND ended_at IS NULL AND expires_at > $3 AND ",
        after_cutoff!(),
        " RETURNING created_at_ms, expires_at, absolute_expires_at"
    ),
    replace_refresh_token: concat!(
        "UPDATE sessions SET previous_jti = refresh_jti, refresh_jti = $3, rotated_at = $4, \
         expires_at = least($5, absolute_expires_at), last_ip = $6, last_user_agent = $7 \
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
         SET cutoff_ms = greatest(session_cutoff.cutoff_ms, excluded.cutoff_ms)",
    session_cutoff: common::SESSION_CUTOFF,
    insert_mail: common::INSERT_MAIL,
    // Rows another worker is claiming are skipped rather than waited for, and a row whose
    // claim changed meanwhile is re-checked under its lock, so two workers never claim the same
    // mail.
    claim_due_mail: claim_due_mail!(" FOR UPDATE SKIP LOCKED"),
    mark_mail_sent: common::MARK_MAIL_SENT,
    reschedule_mail: common::RESCHEDULE_MAIL,
    give_up_mail: common::GIVE_UP_MAIL,
    next_mail_due: common::NEXT_MAIL_DUE,
    toggle_ban: common::TOGGLE_BAN,
    lift_expired_ban: common::LIFT_EXPIRED_BAN,
    banned_users: common::BANNED_USERS,
    add_permission: "UPDATE users SET permissions = CASE \
         WHEN $2 = ANY (permissions) THEN permissions ELSE array_append(permissions, $2) END \
         WHERE id = $1 RETURNING permissions",
    remove_permission: "UPDATE users SET permissions = array_remove(permissions, $2) \
         WHERE id = $1 RETURNING permissions",
    clear_permissions: "UPDATE users SET permissions = '{}' WHERE id = $1 RETURNING permissions",
    user_details: concat!(
        "SELECT ",
        user_details_columns!(
            "$2",
            linked_providers!(postgres),
            "EXISTS (SELECT 1 FROM two_factor t WHERE t.user_id = users.id AND t.enabled)"
        ),
        " FROM users WHERE id = $1"
    ),
    // Migration 10's suffixes serve it; the columns are `user_details`' own.
    search: SearchSql {
        columns: user_details_columns!(
            "$1",
            linked_providers!(postgres),
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
    after_purge: None,
    insert_sign_in: common::INSERT_SIGN_IN,
    take_sign_in: common::TAKE_SIGN_IN,
    user_by_identity: common::USER_BY_IDENTITY,
    link_identity: common::LINK_IDENTITY,
};

impl SqlStore<Postgres> {
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
    pub fn from_pool(pool: sqlx::PgPool) -> Self {
        Self::with_pool(pool)
    }

    /// Applies the embedded migrations that are not applied yet (under sqlx's advisory lock,
    /// so instances starting together do not race).
    pub async fn migrate(&self) -> Result<(), Error> {
        crate::migrator(MIGRATIONS).run(&self.pool).await?;
        // Migration 4 lists the emails SQL cannot put in their stored form; Rust does it.
        self.rewrite_pending_emails().await
    }
}
