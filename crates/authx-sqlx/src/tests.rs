//! The storage scenarios, written once and run against every backend by `store_tests!`.
//!
//! SQLite runs on a file in a temporary directory with a multi-connection pool. PostgreSQL runs
//! when `AUTHX_TEST_POSTGRES_URL` names a server (e.g. `postgres://postgres@127.0.0.1/postgres`,
//! read through `authx_testkit::service_url`): each test creates a database
//! `authx_test_<random hex>` there and drops it afterwards, whether the test passed or not.
//! MySQL/MariaDB runs the same way when `AUTHX_TEST_MYSQL_URL` names a server (e.g.
//! `mysql://root@127.0.0.1:3306/test`). The SQL the scenarios run directly is written with
//! `$1` like the store's, and rewritten for MySQL the same way.
//!
//! A scenario sees the store as the service does (`dyn Repo`) and the database underneath
//! ([`Db`]), so it can check what was written: a refused write leaves every table as it was.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::sync::Arc;

use authx_core::clock::{Millis, Timestamp};
use authx_core::mail::Mail;
use authx_core::store::{
    AdminStore, BanToggle, BannedUser, EmailToken, EmailTokenStore, EndSessions, MailOutbox,
    Maintenance, NewBan, NewEmailToken, NewIdentity, NewSession, NewUser, OutboxMail,
    PasswordChange, PermissionChange, Purge, QueuedToken, Redemption, RefreshReplacement,
    RefreshRotation, Rehash, Repo, RotatedSession, RotationOutcome, SessionInfo, SessionStore,
    StoreError, TokenEffect, TokenPurpose, UniqueField, User, UserDetails, UserId, UserSearch,
    UserStore,
};
use sqlx::AssertSqlSafe;

const NOW: Timestamp = 1_700_000_000;
const NOW_MS: Millis = NOW * 1000;
const DAY: i64 = 86_400;
/// The absolute lifetime of the sessions these tests open, and the one migration 3 gives the
/// sessions it finds: 30 days after their login.
const LIFETIME: i64 = 30 * DAY;
const GRACE: i64 = 10;

// ----- what a scenario works with -----

/// The store as the service sees it, the database underneath, and the database's URL.
#[derive(Clone)]
struct Store {
    repo: Arc<dyn Repo>,
    db: Db,
    url: String,
}

/// The store's capabilities, so a scenario calls them on `store` directly.
impl Repo for Store {
    fn users(&self) -> &dyn UserStore {
        self.repo.users()
    }
    fn sessions(&self) -> &dyn SessionStore {
        self.repo.sessions()
    }
    fn email_tokens(&self) -> &dyn EmailTokenStore {
        self.repo.email_tokens()
    }
    fn outbox(&self) -> &dyn MailOutbox {
        self.repo.outbox()
    }
    fn maintenance(&self) -> &dyn Maintenance {
        self.repo.maintenance()
    }
    fn admin(&self) -> &dyn AdminStore {
        self.repo.admin()
    }
    fn two_factor(&self) -> Option<&dyn authx_core::store::TwoFactorStore> {
        self.repo.two_factor()
    }
    fn identities(&self) -> Option<&dyn authx_core::store::IdentityStore> {
        self.repo.identities()
    }
}

/// The database under a store, read directly.
#[derive(Clone)]
enum Db {
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
    #[cfg(feature = "mysql")]
    MySql(sqlx::MySqlPool),
}

/// Every table's rows, each as text, sorted: by table name.
type Snapshot = BTreeMap<String, Vec<String>>;

/// Evaluates `$body` with `$pool` bound to the pool of `$db`, whichever backend it is.
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            #[cfg(feature = "sqlite")]
            Db::Sqlite($pool) => $body,
            #[cfg(feature = "postgres")]
            Db::Postgres($pool) => $body,
            #[cfg(feature = "mysql")]
            Db::MySql($pool) => $body,
        }
    };
}

impl Db {
    /// `sql`, written with `$1`, as this backend takes it.
    fn sql(&self, sql: &'static str) -> AssertSqlSafe<String> {
        match self {
            #[cfg(feature = "mysql")]
            Self::MySql(_) => AssertSqlSafe(crate::bind::positional(sql).0),
            #[allow(unreachable_patterns)]
            _ => AssertSqlSafe(sql.to_owned()),
        }
    }

    /// Every row of every table (the migrations' bookkeeping included).
    async fn snapshot(&self) -> Snapshot {
        let mut snapshot = Snapshot::new();
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite(pool) => {
                let tables: Vec<String> = sqlx::query_scalar(
                    "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name",
                )
                .fetch_all(pool)
                .await
                .expect("tables");
                for table in tables {
                    let columns: Vec<String> =
                        sqlx::query_scalar("SELECT name FROM pragma_table_info($1) ORDER BY cid")
                            .bind(&table)
                            .fetch_all(pool)
                            .await
                            .expect("columns");
                    // `quote` writes any value as a literal, blobs included.
                    let row = columns
                        .iter()
                        .map(|column| format!("quote(\"{column}\")"))
                        .collect::<Vec<_>>()
                        .join(" || '|' || ");
                    let rows =
                        sqlx::query_scalar(AssertSqlSafe(format!("SELECT {row} FROM \"{table}\"")))
                            .fetch_all(pool)
                            .await
                            .expect("rows");
                    snapshot.insert(table, rows);
                }
            }
            #[cfg(feature = "postgres")]
            Self::Postgres(pool) => {
                let tables: Vec<String> = sqlx::query_scalar(
                    "SELECT tablename::text FROM pg_tables \
                     WHERE schemaname = current_schema() ORDER BY 1",
                )
                .fetch_all(pool)
                .await
                .expect("tables");
                for table in tables {
                    let rows = sqlx::query_scalar(AssertSqlSafe(format!(
                        "SELECT row_to_json(t)::text FROM \"{table}\" t"
                    )))
                    .fetch_all(pool)
                    .await
                    .expect("rows");
                    snapshot.insert(table, rows);
                }
            }
            #[cfg(feature = "mysql")]
            Self::MySql(pool) => {
                let tables: Vec<String> = sqlx::query_scalar(
                    "SELECT CAST(table_name AS CHAR) FROM information_schema.tables \
                     WHERE table_schema = DATABASE() ORDER BY 1",
                )
                .fetch_all(pool)
                .await
                .expect("tables");
                for table in tables {
                    let columns: Vec<String> = sqlx::query_scalar(
                        "SELECT CAST(column_name AS CHAR) FROM information_schema.columns \
                         WHERE table_schema = DATABASE() AND table_name = ? \
                         ORDER BY ordinal_position",
                    )
                    .bind(&table)
                    .fetch_all(pool)
                    .await
                    .expect("columns");
                    // Every value in hex (text, numbers and blobs alike), NULL as `NULL`.
                    let row = columns
                        .iter()
                        .map(|column| format!("COALESCE(HEX(`{column}`), 'NULL')"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let rows = sqlx::query_scalar(AssertSqlSafe(format!(
                        "SELECT CONCAT_WS('|', {row}) FROM `{table}`"
                    )))
                    .fetch_all(pool)
                    .await
                    .expect("rows");
                    snapshot.insert(table, rows);
                }
            }
        }
        for rows in snapshot.values_mut() {
            rows.sort();
        }
        snapshot
    }

    /// How many rows every table holds.
    async fn row_counts(&self) -> BTreeMap<String, usize> {
        self.snapshot()
            .await
            .into_iter()
            .map(|(table, rows)| (table, rows.len()))
            .collect()
    }

    /// The integer `sql` selects from the one row it finds for `$1` = `key`.
    async fn int(&self, sql: &'static str, key: &str) -> Option<i64> {
        let query = self.sql(sql);
        on_pool!(self, pool => sqlx::query_scalar(query).bind(key).fetch_one(pool).await.expect(sql))
    }

    /// Runs `sql` with `$1` = `key`.
    async fn execute(&self, sql: &'static str, key: &str) {
        let query = self.sql(sql);
        on_pool!(self, pool => {
            sqlx::query(query).bind(key).execute(pool).await.expect(sql);
        });
    }

    /// The text `sql` selects from the one row it finds for `$1` = `key`.
    async fn text(&self, sql: &'static str, key: &str) -> Option<String> {
        let query = self.sql(sql);
        on_pool!(self, pool => sqlx::query_scalar(query).bind(key).fetch_one(pool).await.expect(sql))
    }

    /// The texts `sql` selects, sorted.
    async fn texts(&self, sql: &'static str) -> Vec<String> {
        let query = self.sql(sql);
        let mut texts: Vec<String> =
            on_pool!(self, pool => sqlx::query_scalar(query).fetch_all(pool).await.expect(sql));
        texts.sort();
        texts
    }

    /// The integers `sql` selects, in its order.
    async fn ints(&self, sql: &'static str) -> Vec<i64> {
        let query = self.sql(sql);
        on_pool!(self, pool => sqlx::query_scalar(query).fetch_all(pool).await.expect(sql))
    }

    async fn close(&self) {
        on_pool!(self, pool => pool.close().await);
    }
}

/// A database as an older version of authx left it: its first `migrations` migrations applied,
/// then `sql` run (the same SQL on every backend).
#[derive(Clone, Copy)]
struct Seed {
    migrations: usize,
    sql: &'static str,
}

/// A database for one test, removed when the test ends.
struct TestDb {
    store: Store,
    teardown: Teardown,
}

enum Teardown {
    #[cfg(feature = "sqlite")]
    Sqlite(tempfile::TempDir),
    #[cfg(feature = "postgres")]
    Postgres(postgres::Scratch),
    #[cfg(feature = "mysql")]
    MySql(mysql::Scratch),
}

impl TestDb {
    // Only PostgreSQL's and MySQL's teardowns await more than closing the pool.
    async fn teardown(self) {
        self.store.db.close().await;
        drop(self.store);
        match self.teardown {
            #[cfg(feature = "sqlite")]
            Teardown::Sqlite(dir) => drop(dir),
            #[cfg(feature = "postgres")]
            Teardown::Postgres(scratch) => scratch.drop_database().await,
            #[cfg(feature = "mysql")]
            Teardown::MySql(scratch) => scratch.drop_database().await,
        }
    }
}

/// Runs `scenario` on `db`, then removes the database whether the scenario passed or not.
async fn run<F, Fut>(db: TestDb, scenario: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let outcome = tokio::spawn(scenario(db.store.clone())).await;
    db.teardown().await;
    if let Err(failure) = outcome {
        std::panic::resume_unwind(failure.into_panic());
    }
}

/// Instantiates every scenario for every backend compiled in; `scenario from SEED` runs it on a
/// database upgraded from `SEED`.
macro_rules! store_tests {
    (@seed) => {
        None
    };
    (@seed $seed:ident) => {
        Some(super::$seed)
    };
    ($($scenario:ident $(from $seed:ident)?),+ $(,)?) => {
        #[cfg(feature = "sqlite")]
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $scenario() {
                    let db = super::sqlite::open(store_tests!(@seed $($seed)?)).await;
                    super::run(db, super::$scenario).await;
                }
            )+
        }

        #[cfg(feature = "postgres")]
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $scenario() {
                    let Some(db) = super::postgres::open(store_tests!(@seed $($seed)?)).await
                    else {
                        return;
                    };
                    super::run(db, super::$scenario).await;
                }
            )+
        }

        #[cfg(feature = "mysql")]
        mod on_mysql {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $scenario() {
                    let Some(db) = super::mysql::open(store_tests!(@seed $($seed)?)).await
                    else {
                        return;
                    };
                    super::run(db, super::$scenario).await;
                }
            )+
        }
    };
}

store_tests!(
    // users
    create_user_stores_defaults_token_and_mail,
    create_user_without_token_or_password,
    conflicts_roll_back_everything,
    concurrent_registrations_make_one_user,
    change_username_rules,
    concurrent_renames_make_one_winner,
    record_login_sets_time_and_rehash,
    change_password_is_guarded_by_the_checked_hash,
    concurrent_password_changes_have_one_winner,
    // sessions
    live_sessions_newest_first_as_stored,
    failed_session_writes_leave_nothing,
    rotation_outcomes,
    rotation_records_client_and_clamps_expiry,
    replacing_a_refresh_token_keeps_the_session,
    concurrent_rotations_rotate_once,
    rotations_add_no_rows,
    end_sessions_counts_and_scope,
    end_everyone_raises_the_cutoff,
    // emailed tokens
    queue_email_token_is_atomic,
    email_token_finds_live_tokens_of_its_purpose,
    redeem_confirm_email,
    redeem_reset_password,
    refused_redemptions_write_nothing,
    concurrent_redemptions_redeem_once,
    // outbox
    outbox_claims_leases_and_retries,
    concurrent_claims_are_disjoint,
    // maintenance
    leases_are_taken_renewed_and_taken_over,
    concurrent_lease_acquisitions_have_one_winner,
    purge_sessions_in_batches,
    purge_email_tokens_in_batches,
    purge_mail_in_batches,
    // admin
    toggle_ban_bans_and_unbans,
    expired_bans_count_as_lifted,
    concurrent_ban_toggles_all_apply,
    permission_changes,
    concurrent_permission_changes_are_all_kept,
    user_details_hold_no_secret,
    search_matches_literal_substrings,
    search_pages_exactly,
    search_index_follows_renames,
    search_short_and_long_substrings_agree,
    search_suffixes_follow_the_users,
    search_walks_by_id_for_a_common_substring,
    search_finds_what_user_details_shows,
    blackout_record_is_apart_from_the_cutoff,
    // second factor
    two_factor_enrolment_codes_and_disable,
    concurrent_uses_of_a_recovery_code_have_one_winner,
    // schema
    reconnecting_finds_the_data_migrated_once,
    upgrades_a_version_1_database from V1,
    upgrades_a_version_2_database from V2,
    upgrades_rewrite_emails_into_one_form from V3,
    search_finds_users_stored_before_its_index from V8,
);

// ----- fixtures -----

fn mail_to(to: &str, subject: &str) -> Mail {
    Mail {
        to: to.to_owned(),
        subject: subject.to_owned(),
        text: format!("text for {to}: {subject}"),
        html: format!("<p>html for {to}: {subject}</p>"),
    }
}

fn confirm_token(
    hash: &str,
    email: &str,
    created_at: Timestamp,
    expires_at: Timestamp,
) -> NewEmailToken {
    NewEmailToken {
        hash: hash.to_owned(),
        purpose: TokenPurpose::ConfirmEmail,
        email: email.to_owned(),
        state: String::new(),
        created_at,
        expires_at,
    }
}

fn reset_token(
    hash: &str,
    email: &str,
    state: &str,
    created_at: Timestamp,
    expires_at: Timestamp,
) -> NewEmailToken {
    NewEmailToken {
        hash: hash.to_owned(),
        purpose: TokenPurpose::ResetPassword,
        email: email.to_owned(),
        state: state.to_owned(),
        created_at,
        expires_at,
    }
}

/// `token` with a mail to its address, subject `subject`.
fn carried_by(token: NewEmailToken, subject: &str) -> QueuedToken {
    let mail = mail_to(&token.email, subject);
    QueuedToken { token, mail }
}

/// `token` with a mail to its address, subject `token <hash>`.
fn with_mail(token: NewEmailToken) -> QueuedToken {
    let subject = format!("token {}", token.hash);
    carried_by(token, &subject)
}

/// The arguments of `create_user` for `name`: email `<name>@example.com`, a password, token
/// `hash-<name>` valid a day, the confirmation mail.
fn registration(name: &str) -> (NewUser, QueuedToken) {
    let email = format!("{name}@example.com");
    (
        NewUser {
            email: email.clone(),
            username: name.to_owned(),
            password_hash: Some(format!("$argon2id$v=19$fake${name}")),
            confirmed: false,
            created_at: NOW,
        },
        carried_by(
            confirm_token(&format!("hash-{name}"), &email, NOW, NOW + DAY),
            "Confirm email",
        ),
    )
}

async fn register(repo: &dyn Repo, name: &str) -> User {
    let (user, token) = registration(name);
    repo.users()
        .create_user(user, Some(token))
        .await
        .expect("registration stored")
}

fn rehash(verified: &str, new_hash: &str) -> Rehash {
    Rehash {
        verified: verified.to_owned(),
        new_hash: new_hash.to_owned(),
    }
}

async fn user(repo: &dyn Repo, id: UserId) -> User {
    repo.users()
        .user_by_id(id)
        .await
        .expect("lookup")
        .expect("user found")
}

async fn queue(repo: &dyn Repo, user_id: UserId, token: QueuedToken) {
    repo.email_tokens()
        .queue_email_token(user_id, token)
        .await
        .expect("token queued");
}

async fn find(
    repo: &dyn Repo,
    hash: &str,
    purpose: TokenPurpose,
    now: Timestamp,
) -> Option<EmailToken> {
    repo.email_tokens()
        .email_token(hash, purpose, now)
        .await
        .expect("token lookup")
}

/// Redeeming a confirmation token of `user` as the service would, having read `user`.
fn confirming(hash: &str, user: &User, now: Timestamp, grant: &[&str]) -> Redemption {
    Redemption {
        hash: hash.to_owned(),
        purpose: TokenPurpose::ConfirmEmail,
        user_id: user.id,
        now,
        email: user.email.clone(),
        password_changed_at: user.password_changed_at,
        effect: TokenEffect::ConfirmEmail {
            grant: grant.iter().map(|&p| p.to_owned()).collect(),
        },
        notice: None,
    }
}

/// Redeeming a reset token of `user` as the service would, having read `user`.
fn resetting(
    hash: &str,
    user: &User,
    now: Timestamp,
    password_hash: &str,
    changed_at: Millis,
) -> Redemption {
    Redemption {
        hash: hash.to_owned(),
        purpose: TokenPurpose::ResetPassword,
        user_id: user.id,
        now,
        email: user.email.clone(),
        password_changed_at: user.password_changed_at,
        effect: TokenEffect::ResetPassword {
            password_hash: password_hash.to_owned(),
            changed_at,
        },
        notice: None,
    }
}

async fn redeem(repo: &dyn Repo, redemption: Redemption) -> bool {
    repo.email_tokens()
        .redeem_email_token(redemption)
        .await
        .expect("redemption ran")
}

/// A session of `user_id` opened at `opened_ms`, its first token `jti` expiring at
/// `expires_at`, ending for good at `NOW + LIFETIME`; public id `pub-<sid>`.
fn session(
    sid: &str,
    user_id: UserId,
    jti: &str,
    opened_ms: Millis,
    expires_at: Timestamp,
) -> NewSession {
    NewSession {
        sid: sid.to_owned(),
        public_id: format!("pub-{sid}"),
        user_id,
        created_at_ms: opened_ms,
        expires_at,
        absolute_expires_at: NOW + LIFETIME,
        refresh_jti: jti.to_owned(),
        ip: "192.0.2.1".to_owned(),
        user_agent: format!("browser of {sid}"),
    }
}

async fn open_session(repo: &dyn Repo, session: &NewSession) {
    repo.sessions()
        .create_session(session.clone())
        .await
        .expect("session opened");
}

/// How `live_sessions` lists `session` before its first rotation.
fn listed(session: &NewSession) -> SessionInfo {
    SessionInfo {
        sid: session.sid.clone(),
        public_id: session.public_id.clone(),
        created_at_ms: session.created_at_ms,
        rotated_at: None,
        login_ip: session.ip.clone(),
        login_user_agent: session.user_agent.clone(),
        last_ip: None,
        last_user_agent: None,
    }
}

async fn listing(repo: &dyn Repo, user_id: UserId, now: Timestamp) -> Vec<SessionInfo> {
    repo.sessions()
        .live_sessions(user_id, now)
        .await
        .expect("sessions listed")
}

/// The sids of the user's live sessions, newest first.
async fn live(repo: &dyn Repo, user_id: UserId, now: Timestamp) -> Vec<String> {
    listing(repo, user_id, now)
        .await
        .into_iter()
        .map(|s| s.sid)
        .collect()
}

async fn end(repo: &dyn Repo, which: EndSessions, at: Timestamp) -> u64 {
    repo.sessions()
        .end_sessions(which, at)
        .await
        .expect("sessions ended")
}

fn end_one(sid: &str) -> EndSessions {
    EndSessions::One {
        sid: sid.to_owned(),
    }
}

/// Presenting `presented` for session `sid` at `now`, asking for `next` to expire 200 s later.
fn rotation(sid: &str, presented: &str, next: &str, now: Timestamp) -> RefreshRotation {
    RefreshRotation {
        sid: sid.to_owned(),
        presented_jti: presented.to_owned(),
        next_jti: next.to_owned(),
        now,
        next_expires_at: now + 200,
        grace_seconds: GRACE,
        ip: "198.51.100.7".to_owned(),
        user_agent: format!("agent of {next}"),
    }
}

async fn rotate(repo: &dyn Repo, r: RefreshRotation) -> RotationOutcome {
    repo.sessions()
        .rotate_refresh_token(r)
        .await
        .expect("rotation ran")
}

/// The outcome of rotating a session opened at `opened_ms` with absolute expiry `absolute`.
fn rotated(opened_ms: Millis, expires_at: Timestamp, absolute: Timestamp) -> RotationOutcome {
    RotationOutcome::Rotated(RotatedSession {
        opened_ms,
        expires_at,
        absolute_expires_at: absolute,
    })
}

async fn claim(
    repo: &dyn Repo,
    now: Timestamp,
    lease_until: Timestamp,
    limit: u32,
) -> Vec<OutboxMail> {
    repo.outbox()
        .claim_due_mail(now, lease_until, limit)
        .await
        .expect("claim ran")
}

fn ids(mails: &[OutboxMail]) -> Vec<i64> {
    mails.iter().map(|m| m.id).collect()
}

async fn lease(repo: &dyn Repo, name: &str, holder: &str, now: Timestamp, until: i64) -> bool {
    repo.maintenance()
        .acquire_lease(name, holder, now, until)
        .await
        .expect("lease asked")
}

/// The janitor's statements of a dialect, each with the one index it must read (the plan
/// tests of `purges_read_one_index_range`).
#[cfg(any(feature = "sqlite", feature = "mysql"))]
fn purge_statements(sql: &crate::dialect::Statements) -> [(&'static str, &'static str); 5] {
    [
        (sql.purge_sessions[0], "sessions_expires_at_idx"),
        (sql.purge_sessions[1], "sessions_ended_at_idx"),
        (
            sql.purge_sessions_before_cutoff,
            "sessions_created_at_ms_idx",
        ),
        (sql.purge_email_tokens[0], "email_tokens_expires_at_idx"),
        (sql.purge_email_tokens[1], "email_tokens_used_at_idx"),
    ]
}

async fn purge(repo: &dyn Repo, what: Purge, now: Timestamp, limit: u32) -> u64 {
    repo.maintenance()
        .purge(what, now, limit)
        .await
        .expect("purge ran")
}

fn assert_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>, field: UniqueField) {
    match result {
        Err(StoreError::Conflict(got)) => assert_eq!(got, field),
        other => panic!("expected a conflict on {field:?}, got {other:?}"),
    }
}

fn assert_unavailable<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    match result {
        Err(StoreError::Unavailable(_)) => {}
        other => panic!("expected the store to refuse the write, got {other:?}"),
    }
}

// ----- users -----

async fn create_user_stores_defaults_token_and_mail(store: Store) {
    let users = store.users();
    let (new, queued) = registration("Alice");
    let alice = users
        .create_user(new, Some(queued.clone()))
        .await
        .expect("created");
    assert!(alice.id > 0);
    assert_eq!(
        alice,
        User {
            id: alice.id,
            email: "Alice@example.com".to_owned(),
            username: "Alice".to_owned(),
            password_hash: Some("$argon2id$v=19$fake$Alice".to_owned()),
            password_changed_at: None,
            active: true,
            confirmed: false,
            permissions: Vec::new(),
            created_at: NOW,
            last_login: None,
        }
    );
    assert!(!alice.is_admin());

    let found = |u: Option<User>| u.map(|u| u.id);
    assert_eq!(
        users.user_by_id(alice.id).await.expect("by id"),
        Some(alice.clone())
    );
    assert_eq!(
        users
            .user_by_email("ALICE@EXAMPLE.COM")
            .await
            .expect("by email"),
        Some(alice.clone())
    );
    assert_eq!(
        users.user_by_username("aLiCe").await.expect("by username"),
        Some(alice.clone())
    );
    assert_eq!(
        found(users.user_by_id(alice.id + 1000).await.expect("by id")),
        None
    );
    assert_eq!(
        found(
            users
                .user_by_email("bob@example.com")
                .await
                .expect("by email")
        ),
        None
    );
    assert_eq!(
        found(users.user_by_username("Alic").await.expect("by username")),
        None
    );

    let bob = register(&store, "bob").await;
    assert_ne!(bob.id, alice.id);

    // The token was stored for this user, as given.
    assert_eq!(
        find(&store, "hash-Alice", TokenPurpose::ConfirmEmail, NOW + 1).await,
        Some(EmailToken {
            user_id: alice.id,
            email: "Alice@example.com".to_owned(),
            state: String::new(),
            created_at: NOW,
            expires_at: NOW + DAY,
        })
    );
    // And its mail was queued with the user, due at once.
    assert_eq!(
        store.outbox().next_mail_due().await.expect("due"),
        Some(NOW)
    );
    let mails = claim(&store, NOW, NOW + 60, 10).await;
    assert_eq!(mails.len(), 2);
    assert_eq!(mails[0].mail, queued.mail);
    assert_eq!(mails[0].attempts, 0);
    assert_eq!(mails[1].mail.to, "bob@example.com");
}

async fn create_user_without_token_or_password(store: Store) {
    let users = store.users();
    let new = NewUser {
        email: "sso@example.com".to_owned(),
        username: "sso".to_owned(),
        password_hash: None,
        confirmed: true,
        created_at: NOW + 5,
    };
    let sso = users.create_user(new, None).await.expect("created");
    assert_eq!(
        sso,
        User {
            id: sso.id,
            email: "sso@example.com".to_owned(),
            username: "sso".to_owned(),
            password_hash: None,
            password_changed_at: None,
            active: true,
            confirmed: true,
            permissions: Vec::new(),
            created_at: NOW + 5,
            last_login: None,
        }
    );
    assert_eq!(
        users
            .user_by_email("SSO@example.com")
            .await
            .expect("lookup"),
        Some(sso)
    );
    // No token, no mail.
    let snapshot = store.db.snapshot().await;
    assert_eq!(snapshot["users"].len(), 1);
    assert_eq!(snapshot["email_tokens"], Vec::<String>::new());
    assert_eq!(snapshot["mail_outbox"], Vec::<String>::new());
    assert_eq!(store.outbox().next_mail_due().await.expect("due"), None);
}

async fn conflicts_roll_back_everything(store: Store) {
    let users = store.users();
    let alice = register(&store, "alice").await;
    let before = store.db.snapshot().await;

    let (user, token) = registration("carol");
    let same_email = NewUser {
        email: "ALICE@example.com".to_owned(),
        ..user
    };
    assert_conflict(
        users.create_user(same_email, Some(token)).await,
        UniqueField::Email,
    );
    let (user, token) = registration("dave");
    let same_name = NewUser {
        username: "ALICE".to_owned(),
        ..user
    };
    assert_conflict(
        users.create_user(same_name, Some(token)).await,
        UniqueField::Username,
    );
    // A refusal after the user was written (the token's hash is taken) takes the user back too.
    let (user, token) = registration("erin");
    let token = QueuedToken {
        token: NewEmailToken {
            hash: "hash-alice".to_owned(),
            ..token.token
        },
        ..token
    };
    assert_unavailable(users.create_user(user, Some(token)).await);

    // Nothing of the refused registrations remains: no user, no token, no mail.
    assert_eq!(store.db.snapshot().await, before);
    assert_eq!(users.user_by_username("carol").await.expect("lookup"), None);
    assert_eq!(
        users
            .user_by_email("dave@example.com")
            .await
            .expect("lookup"),
        None
    );
    assert_eq!(users.user_by_username("erin").await.expect("lookup"), None);
    assert_eq!(
        users.user_by_id(alice.id).await.expect("lookup"),
        Some(alice)
    );
    // The same names register fine once free of conflict.
    register(&store, "carol").await;
    register(&store, "erin").await;
}

async fn concurrent_registrations_make_one_user(store: Store) {
    let attempts: Vec<_> = (0..50)
        .map(|i| {
            let repo = Arc::clone(&store.repo);
            tokio::spawn(async move {
                let (user, token) = registration(&format!("racer{i}"));
                let user = NewUser {
                    username: if i % 2 == 0 { "racer" } else { "RACER" }.to_owned(),
                    ..user
                };
                repo.users().create_user(user, Some(token)).await
            })
        })
        .collect();
    let mut winners = Vec::new();
    for attempt in attempts {
        match attempt.await.expect("task ran") {
            Ok(user) => winners.push(user),
            Err(StoreError::Conflict(UniqueField::Username)) => {}
            Err(other) => panic!("unexpected error: {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1);
    let winner = &winners[0];
    assert_eq!(
        store
            .users()
            .user_by_username("Racer")
            .await
            .expect("lookup"),
        Some(winner.clone())
    );
    let counts = store.db.row_counts().await;
    assert_eq!(
        (
            counts["users"],
            counts["email_tokens"],
            counts["mail_outbox"]
        ),
        (1, 1, 1)
    );
    let queued = claim(&store, NOW, NOW + 60, 100).await;
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].mail.to, winner.email);
}

async fn change_username_rules(store: Store) {
    let users = store.users();
    let alice = register(&store, "alice").await;
    let bob = register(&store, "bob").await;

    assert!(
        !users
            .change_username(alice.id + bob.id + 1000, "ghost")
            .await
            .expect("rename")
    );

    assert!(
        users
            .change_username(alice.id, "alicia")
            .await
            .expect("rename")
    );
    assert_eq!(users.user_by_username("alice").await.expect("lookup"), None);
    let renamed = users
        .user_by_username("ALICIA")
        .await
        .expect("lookup")
        .expect("found");
    assert_eq!(
        renamed,
        User {
            username: "alicia".to_owned(),
            ..alice.clone()
        }
    );

    // A change of case of one's own name is allowed, and so is the same name again.
    assert!(
        users
            .change_username(alice.id, "Alicia")
            .await
            .expect("rename")
    );
    assert!(
        users
            .change_username(alice.id, "Alicia")
            .await
            .expect("rename")
    );
    assert_eq!(user(&store, alice.id).await.username, "Alicia");

    // Someone else's name, in any case, is taken.
    assert_conflict(
        users.change_username(bob.id, "aLICIA").await,
        UniqueField::Username,
    );
    assert_eq!(user(&store, bob.id).await, bob);
}

async fn concurrent_renames_make_one_winner(store: Store) {
    let mut users = Vec::new();
    for i in 0..50 {
        users.push(register(&store, &format!("user{i}")).await);
    }
    let renames: Vec<_> = users
        .iter()
        .map(|user| {
            let (repo, id) = (Arc::clone(&store.repo), user.id);
            tokio::spawn(async move { (id, repo.users().change_username(id, "winner").await) })
        })
        .collect();
    let mut winners = Vec::new();
    for rename in renames {
        match rename.await.expect("task ran") {
            (id, Ok(true)) => winners.push(id),
            (_, Err(StoreError::Conflict(UniqueField::Username))) => {}
            (id, other) => panic!("unexpected outcome for {id}: {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1);
    let winner = store
        .users()
        .user_by_username("WINNER")
        .await
        .expect("lookup")
        .expect("found");
    assert_eq!(winner.id, winners[0]);
}

async fn record_login_sets_time_and_rehash(store: Store) {
    let users = store.users();
    let alice = register(&store, "alice").await;

    users
        .record_login(alice.id, NOW + 10, None)
        .await
        .expect("login");
    assert_eq!(
        user(&store, alice.id).await,
        User {
            last_login: Some(NOW + 10),
            ..alice.clone()
        }
    );

    // A new hash of the same password is not a password change.
    users
        .record_login(
            alice.id,
            NOW + 20,
            Some(rehash(
                "$argon2id$v=19$fake$alice",
                "$argon2id$v=19$rehashed",
            )),
        )
        .await
        .expect("login");
    assert_eq!(
        user(&store, alice.id).await,
        User {
            last_login: Some(NOW + 20),
            password_hash: Some("$argon2id$v=19$rehashed".to_owned()),
            password_changed_at: None,
            ..alice.clone()
        }
    );

    // After a password change, a rehash keeps the date of the change.
    queue(
        &store,
        alice.id,
        with_mail(reset_token("reset", &alice.email, "", NOW + 30, NOW + DAY)),
    )
    .await;
    let before_reset = user(&store, alice.id).await;
    assert!(
        redeem(
            &store,
            resetting(
                "reset",
                &before_reset,
                NOW + 30,
                "$argon2id$v=19$new",
                NOW_MS + 30_500,
            ),
        )
        .await
    );
    users
        .record_login(
            alice.id,
            NOW + 40,
            Some(rehash("$argon2id$v=19$new", "$argon2id$v=19$new-params")),
        )
        .await
        .expect("login");
    let rehashed = User {
        last_login: Some(NOW + 40),
        password_hash: Some("$argon2id$v=19$new-params".to_owned()),
        password_changed_at: Some(NOW_MS + 30_500),
        confirmed: true,
        ..alice.clone()
    };
    assert_eq!(user(&store, alice.id).await, rehashed);

    // A rehash of a password that changed since it was verified (a login racing a change)
    // leaves the new password alone; the login is still recorded.
    users
        .record_login(
            alice.id,
            NOW + 50,
            Some(rehash("$argon2id$v=19$new", "$argon2id$v=19$stale")),
        )
        .await
        .expect("login");
    assert_eq!(
        user(&store, alice.id).await,
        User {
            last_login: Some(NOW + 50),
            ..rehashed
        }
    );

    // An unknown user is no error, and nothing is written.
    let before = store.db.snapshot().await;
    users
        .record_login(
            alice.id + 1000,
            NOW,
            Some(rehash("$argon2id$v=19$fake$alice", "$argon2id$x")),
        )
        .await
        .expect("login");
    assert_eq!(store.db.snapshot().await, before);
}

async fn change_password_is_guarded_by_the_checked_hash(store: Store) {
    let users = store.users();
    let alice = register(&store, "alice").await;
    let social = users
        .create_user(
            NewUser {
                password_hash: None,
                confirmed: true,
                ..registration("sam").0
            },
            None,
        )
        .await
        .expect("created");
    let notice = mail_to(&alice.email, "Password changed");
    let change = |user: &User, current: Option<&str>, new: &str, at: Millis| PasswordChange {
        user_id: user.id,
        current_hash: current.map(str::to_owned),
        new_hash: new.to_owned(),
        changed_at: at,
        notice: Some(mail_to(&user.email, "Password changed")),
        now: NOW + 5,
    };

    // Refused, with nothing written (no notice either): another current hash, "no password"
    // for an account that has one, a hash for an account that has none, an unknown user.
    let before = store.db.snapshot().await;
    for (case, refused) in [
        (
            "a hash that is no longer current",
            change(
                &alice,
                Some("$argon2id$v=19$other"),
                "$argon2id$new",
                NOW_MS,
            ),
        ),
        (
            "no password, but it has one",
            change(&alice, None, "$argon2id$new", NOW_MS),
        ),
        (
            "a hash, but it has none",
            change(
                &social,
                Some("$argon2id$v=19$fake$sam"),
                "$argon2id$new",
                NOW_MS,
            ),
        ),
        (
            "an unknown user",
            PasswordChange {
                user_id: alice.id + 1000,
                ..change(
                    &alice,
                    alice.password_hash.as_deref(),
                    "$argon2id$new",
                    NOW_MS,
                )
            },
        ),
    ] {
        assert!(
            !users.change_password(refused).await.expect("ran"),
            "{case}"
        );
        assert_eq!(store.db.snapshot().await, before, "{case}");
    }

    // Changed over the checked hash: the hash and its date, and the notice queued with it.
    assert!(
        users
            .change_password(PasswordChange {
                notice: Some(notice.clone()),
                ..change(
                    &alice,
                    alice.password_hash.as_deref(),
                    "$argon2id$v=19$changed",
                    NOW_MS + 5_250
                )
            })
            .await
            .expect("ran")
    );
    assert_eq!(
        user(&store, alice.id).await,
        User {
            password_hash: Some("$argon2id$v=19$changed".to_owned()),
            password_changed_at: Some(NOW_MS + 5_250),
            ..alice.clone()
        }
    );
    let queued: Vec<Mail> = claim(&store, NOW + 5, NOW + 65, 10)
        .await
        .into_iter()
        .map(|m| m.mail)
        .filter(|m| m.subject == "Password changed")
        .collect();
    assert_eq!(queued, [notice]);
    // The old hash no longer changes anything.
    assert!(
        !users
            .change_password(change(
                &alice,
                alice.password_hash.as_deref(),
                "$argon2id$v=19$late",
                NOW_MS + 6_000
            ))
            .await
            .expect("ran")
    );

    // A first password for an account without one, once; without a notice, no mail.
    let mails = store.db.row_counts().await["mail_outbox"];
    assert!(
        users
            .change_password(PasswordChange {
                notice: None,
                ..change(&social, None, "$argon2id$v=19$first", NOW_MS + 7_000)
            })
            .await
            .expect("ran")
    );
    assert_eq!(
        user(&store, social.id).await,
        User {
            password_hash: Some("$argon2id$v=19$first".to_owned()),
            password_changed_at: Some(NOW_MS + 7_000),
            ..social.clone()
        }
    );
    assert_eq!(store.db.row_counts().await["mail_outbox"], mails);
    assert!(
        !users
            .change_password(change(&social, None, "$argon2id$v=19$second", NOW_MS))
            .await
            .expect("ran")
    );
}

async fn concurrent_password_changes_have_one_winner(store: Store) {
    let alice = register(&store, "alice").await;
    let social = store
        .users()
        .create_user(
            NewUser {
                password_hash: None,
                ..registration("sam").0
            },
            None,
        )
        .await
        .expect("created");
    for (account, current) in [(&alice, alice.password_hash.clone()), (&social, None)] {
        let racers: Vec<_> = (0..10)
            .map(|i| {
                let repo = Arc::clone(&store.repo);
                let change = PasswordChange {
                    user_id: account.id,
                    current_hash: current.clone(),
                    new_hash: format!("$argon2id$v=19$racer{i}"),
                    changed_at: NOW_MS + i,
                    notice: Some(mail_to(&account.email, &format!("notice {i}"))),
                    now: NOW,
                };
                tokio::spawn(async move { (i, repo.users().change_password(change).await) })
            })
            .collect();
        let mut winners = Vec::new();
        for racer in racers {
            let (i, won) = racer.await.expect("task ran");
            if won.expect("no storage error") {
                winners.push(i);
            }
        }
        assert_eq!(winners.len(), 1, "{}", account.username);
        let stored = user(&store, account.id).await;
        assert_eq!(
            (stored.password_hash, stored.password_changed_at),
            (
                Some(format!("$argon2id$v=19$racer{}", winners[0])),
                Some(NOW_MS + winners[0])
            )
        );
        // Only the winner's notice was queued.
        let notices: Vec<String> = claim(&store, NOW, NOW + 60, 100)
            .await
            .into_iter()
            .filter(|m| m.mail.to == account.email && m.mail.subject.starts_with("notice"))
            .map(|m| m.mail.subject)
            .collect();
        assert_eq!(notices, [format!("notice {}", winners[0])]);
    }
}

// ----- sessions -----

async fn live_sessions_newest_first_as_stored(store: Store) {
    let alice = register(&store, "alice").await;
    let bob = register(&store, "bob").await;
    let old = session("old", alice.id, "j-old", NOW_MS - 5_000, NOW + DAY);
    let mid = session("mid", alice.id, "j-mid", NOW_MS, NOW + DAY);
    // The same second as `mid`, a millisecond later.
    let new = session("new", alice.id, "j-new", NOW_MS + 1, NOW + DAY);
    let ended = session("ended", alice.id, "j-ended", NOW_MS + 2, NOW + DAY);
    let expiring = session("expiring", alice.id, "j-expiring", NOW_MS + 3, NOW + 10);
    let bobs = session("bobs", bob.id, "j-bobs", NOW_MS + 4, NOW + DAY);
    for s in [&old, &mid, &new, &ended, &expiring, &bobs] {
        open_session(&store, s).await;
    }
    assert_eq!(end(&store, end_one("ended"), NOW + 1).await, 1);

    assert_eq!(
        listing(&store, alice.id, NOW + 9).await,
        vec![listed(&expiring), listed(&new), listed(&mid), listed(&old)]
    );
    // Expiry is exclusive.
    assert_eq!(
        listing(&store, alice.id, NOW + 10).await,
        vec![listed(&new), listed(&mid), listed(&old)]
    );
    assert_eq!(listing(&store, bob.id, NOW + 10).await, vec![listed(&bobs)]);
    assert_eq!(listing(&store, alice.id + bob.id + 1000, NOW).await, vec![]);
}

async fn failed_session_writes_leave_nothing(store: Store) {
    let sessions = store.sessions();
    let alice = register(&store, "alice").await;
    open_session(&store, &session("s1", alice.id, "r1", NOW_MS, NOW + DAY)).await;
    let before = store.db.snapshot().await;

    // Foreign keys hold, and sids and public ids are unique.
    assert_unavailable(
        sessions
            .create_session(session("s2", alice.id + 1000, "r2", NOW_MS, NOW + DAY))
            .await,
    );
    assert_unavailable(
        sessions
            .create_session(NewSession {
                public_id: "pub-other".to_owned(),
                ..session("s1", alice.id, "r3", NOW_MS + 1, NOW + DAY)
            })
            .await,
    );
    assert_unavailable(
        sessions
            .create_session(NewSession {
                public_id: "pub-s1".to_owned(),
                ..session("s3", alice.id, "r4", NOW_MS + 1, NOW + DAY)
            })
            .await,
    );
    assert_eq!(store.db.snapshot().await, before);
    // The existing session kept its token.
    assert_eq!(
        rotate(&store, rotation("s1", "r1", "r1b", NOW + 1)).await,
        rotated(NOW_MS, NOW + 201, NOW + LIFETIME)
    );
}

async fn rotation_outcomes(store: Store) {
    let alice = register(&store, "alice").await;
    open_session(&store, &session("s1", alice.id, "r1", NOW_MS, NOW + 1000)).await;
    let opened = |expires_at| rotated(NOW_MS, expires_at, NOW + LIFETIME);

    assert_eq!(
        rotate(&store, rotation("s1", "r1", "r2", NOW + 10)).await,
        opened(NOW + 210)
    );

    // Refused rotations change nothing.
    let before = store.db.snapshot().await;
    // Within the grace period (bounds included) the replaced token is refused, session kept.
    assert_eq!(
        rotate(&store, rotation("s1", "r1", "x1", NOW + 15)).await,
        RotationOutcome::RecentlyRotated
    );
    assert_eq!(
        rotate(&store, rotation("s1", "r1", "x2", NOW + 10 + GRACE)).await,
        RotationOutcome::RecentlyRotated
    );
    // A token of this session that is neither current nor the one just replaced (here the
    // successor a refused rotation asked for, never stored) was replaced earlier: a replay.
    assert_eq!(
        rotate(&store, rotation("s1", "x1", "x3", NOW + 16)).await,
        RotationOutcome::Replayed
    );
    // After the grace period, the replaced token is a replay too.
    assert_eq!(
        rotate(&store, rotation("s1", "r1", "x4", NOW + 10 + GRACE + 1)).await,
        RotationOutcome::Replayed
    );
    // An unknown session.
    assert_eq!(
        rotate(&store, rotation("nope", "r2", "x5", NOW + 12)).await,
        RotationOutcome::Invalid
    );
    assert_eq!(store.db.snapshot().await, before);

    // The store does not end a session on a replay (the service does): its current token
    // still rotates.
    assert_eq!(
        rotate(&store, rotation("s1", "r2", "r3", NOW + 30)).await,
        opened(NOW + 230)
    );
    // A token two rotations old is a replay, even within the grace period of the latest
    // rotation; the one replaced by it is not.
    assert_eq!(
        rotate(&store, rotation("s1", "r1", "x6", NOW + 31)).await,
        RotationOutcome::Replayed
    );
    assert_eq!(
        rotate(&store, rotation("s1", "r2", "x7", NOW + 31)).await,
        RotationOutcome::RecentlyRotated
    );

    // Nothing of an ended session works: not its current token, not the one it replaced
    // within the grace period.
    assert_eq!(end(&store, end_one("s1"), NOW + 35).await, 1);
    let before = store.db.snapshot().await;
    for presented in ["r3", "r2", "r1"] {
        assert_eq!(
            rotate(&store, rotation("s1", presented, "x8", NOW + 36)).await,
            RotationOutcome::Invalid,
            "{presented}"
        );
    }
    assert_eq!(store.db.snapshot().await, before);

    // A session lives as long as its current token: past its first token's expiry
    // (NOW + 100), the token issued at NOW + 50 (expiring NOW + 250) still rotates.
    open_session(&store, &session("s2", alice.id, "t1", NOW_MS, NOW + 100)).await;
    assert_eq!(
        rotate(&store, rotation("s2", "t1", "t2", NOW + 50)).await,
        opened(NOW + 250)
    );
    assert_eq!(
        rotate(&store, rotation("s2", "t2", "t3", NOW + 150)).await,
        opened(NOW + 350)
    );

    // An expired session (expiry exclusive): nothing works, and nothing changes.
    open_session(&store, &session("s3", alice.id, "u1", NOW_MS, NOW + 200)).await;
    let short = RefreshRotation {
        next_expires_at: NOW + 100,
        ..rotation("s3", "u1", "u2", NOW + 95)
    };
    assert_eq!(rotate(&store, short).await, opened(NOW + 100));
    assert_eq!(
        rotate(&store, rotation("s3", "u1", "x9", NOW + 99)).await,
        RotationOutcome::RecentlyRotated
    );
    let before = store.db.snapshot().await;
    for presented in ["u2", "u1"] {
        assert_eq!(
            rotate(&store, rotation("s3", presented, "x10", NOW + 100)).await,
            RotationOutcome::Invalid,
            "{presented}"
        );
    }
    assert_eq!(store.db.snapshot().await, before);
}

async fn rotation_records_client_and_clamps_expiry(store: Store) {
    let alice = register(&store, "alice").await;
    let s = NewSession {
        absolute_expires_at: NOW + 300,
        ..session("s1", alice.id, "r1", NOW_MS + 250, NOW + 100)
    };
    open_session(&store, &s).await;
    let expiry = "SELECT expires_at FROM sessions WHERE sid = $1";

    assert_eq!(
        rotate(&store, rotation("s1", "r1", "r2", NOW + 50)).await,
        rotated(NOW_MS + 250, NOW + 250, NOW + 300)
    );
    assert_eq!(store.db.int(expiry, "s1").await, Some(NOW + 250));
    assert_eq!(
        listing(&store, alice.id, NOW + 51).await,
        vec![SessionInfo {
            rotated_at: Some(NOW + 50),
            last_ip: Some("198.51.100.7".to_owned()),
            last_user_agent: Some("agent of r2".to_owned()),
            ..listed(&s)
        }]
    );

    // The next token's expiry is clamped to the session's absolute expiry.
    let second = RefreshRotation {
        ip: "203.0.113.9".to_owned(),
        ..rotation("s1", "r2", "r3", NOW + 200)
    };
    assert_eq!(
        rotate(&store, second).await,
        rotated(NOW_MS + 250, NOW + 300, NOW + 300)
    );
    assert_eq!(store.db.int(expiry, "s1").await, Some(NOW + 300));
    assert_eq!(
        listing(&store, alice.id, NOW + 299).await,
        vec![SessionInfo {
            rotated_at: Some(NOW + 200),
            last_ip: Some("203.0.113.9".to_owned()),
            last_user_agent: Some("agent of r3".to_owned()),
            ..listed(&s)
        }]
    );

    // The session ends at its absolute expiry however often it is refreshed.
    assert_eq!(listing(&store, alice.id, NOW + 300).await, vec![]);
    assert_eq!(
        rotate(&store, rotation("s1", "r3", "r4", NOW + 300)).await,
        RotationOutcome::Invalid
    );
}

async fn replacing_a_refresh_token_keeps_the_session(store: Store) {
    let alice = register(&store, "alice").await;
    let bob = register(&store, "bob").await;
    let s = NewSession {
        absolute_expires_at: NOW + 300,
        ..session("s1", alice.id, "r1", NOW_MS + 250, NOW + 100)
    };
    open_session(&store, &s).await;
    open_session(&store, &session("s2", alice.id, "q1", NOW_MS, NOW + DAY)).await;
    let replacement = |sid: &str, user_id: UserId, next: &str, now: Timestamp| RefreshReplacement {
        sid: sid.to_owned(),
        user_id,
        next_jti: next.to_owned(),
        now,
        next_expires_at: now + 200,
        ip: "198.51.100.8".to_owned(),
        user_agent: format!("agent of {next}"),
    };
    let replace = |r: RefreshReplacement| {
        let repo = Arc::clone(&store.repo);
        async move {
            repo.sessions()
                .replace_refresh_token(r)
                .await
                .expect("replacement ran")
        }
    };

    // Not another user's session, and not an unknown one: nothing changes.
    let before = store.db.snapshot().await;
    assert_eq!(
        replace(replacement("s1", bob.id, "x", NOW + 50)).await,
        None
    );
    assert_eq!(
        replace(replacement("nope", alice.id, "x", NOW + 50)).await,
        None
    );
    assert_eq!(store.db.snapshot().await, before);

    // Replaced without presenting r1: same session, opening instant and absolute expiry, the
    // client recorded, the other session untouched.
    let replaced = replace(replacement("s1", alice.id, "r2", NOW + 50)).await;
    assert_eq!(
        replaced,
        Some(RotatedSession {
            opened_ms: NOW_MS + 250,
            expires_at: NOW + 250,
            absolute_expires_at: NOW + 300,
        })
    );
    assert_eq!(
        listing(&store, alice.id, NOW + 51).await,
        vec![
            SessionInfo {
                rotated_at: Some(NOW + 50),
                last_ip: Some("198.51.100.8".to_owned()),
                last_user_agent: Some("agent of r2".to_owned()),
                ..listed(&s)
            },
            listed(&session("s2", alice.id, "q1", NOW_MS, NOW + DAY)),
        ]
    );
    // The new token rotates; the replaced one is a retry within the grace period, then a
    // replay, as after any rotation.
    assert_eq!(
        rotate(&store, rotation("s1", "r1", "z", NOW + 50 + GRACE)).await,
        RotationOutcome::RecentlyRotated
    );
    assert_eq!(
        rotate(&store, rotation("s1", "r1", "z", NOW + 51 + GRACE)).await,
        RotationOutcome::Replayed
    );
    assert_eq!(
        rotate(&store, rotation("s1", "r2", "r3", NOW + 160)).await,
        rotated(NOW_MS + 250, NOW + 300, NOW + 300)
    );

    // An ended session, or one past its expiry (clamped to the absolute one by the rotation
    // above), gets no new token.
    end(&store, end_one("s2"), NOW + 170).await;
    let before = store.db.snapshot().await;
    assert_eq!(
        replace(replacement("s2", alice.id, "q2", NOW + 171)).await,
        None
    );
    assert_eq!(
        replace(replacement("s1", alice.id, "r9", NOW + 300)).await,
        None
    );
    assert_eq!(store.db.snapshot().await, before);
}

async fn concurrent_rotations_rotate_once(store: Store) {
    let alice = register(&store, "alice").await;
    open_session(&store, &session("s1", alice.id, "r0", NOW_MS, NOW + DAY)).await;
    let attempts: Vec<_> = (0..20)
        .map(|i| {
            let repo = Arc::clone(&store.repo);
            tokio::spawn(async move {
                let next = format!("next{i}");
                let outcome = rotate(&*repo, rotation("s1", "r0", &next, NOW + 1)).await;
                (next, outcome)
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut losers = 0;
    for attempt in attempts {
        match attempt.await.expect("task ran") {
            (next, outcome) if outcome == rotated(NOW_MS, NOW + 201, NOW + LIFETIME) => {
                winners.push(next);
            }
            (_, RotationOutcome::RecentlyRotated) => losers += 1,
            (_, other) => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!((winners.len(), losers), (1, 19));
    // Only the winner's successor was stored, and the session lives on.
    let winner = winners[0].as_str();
    assert_eq!(
        store
            .db
            .text("SELECT refresh_jti FROM sessions WHERE sid = $1", "s1")
            .await
            .as_deref(),
        Some(winner)
    );
    assert_eq!(
        store
            .db
            .text("SELECT previous_jti FROM sessions WHERE sid = $1", "s1")
            .await
            .as_deref(),
        Some("r0")
    );
    assert_eq!(
        rotate(&store, rotation("s1", winner, "z", NOW + 2)).await,
        rotated(NOW_MS, NOW + 202, NOW + LIFETIME)
    );
}

async fn rotations_add_no_rows(store: Store) {
    let alice = register(&store, "alice").await;
    open_session(&store, &session("s1", alice.id, "j0", NOW_MS, NOW + DAY)).await;
    open_session(&store, &session("s2", alice.id, "k0", NOW_MS, NOW + DAY)).await;
    let counts = store.db.row_counts().await;
    assert_eq!(counts["sessions"], 2);

    let mut current = "j0".to_owned();
    for i in 1..=300 {
        let now = NOW + i;
        let next = format!("j{i}");
        assert_eq!(
            rotate(&store, rotation("s1", &current, &next, now)).await,
            rotated(NOW_MS, now + 200, NOW + LIFETIME),
            "rotation {i}"
        );
        if i % 50 == 0 {
            // Refused rotations add nothing either.
            assert_eq!(
                rotate(&store, rotation("s1", &current, "retry", now)).await,
                RotationOutcome::RecentlyRotated
            );
            assert_eq!(
                rotate(&store, rotation("s1", "j0", "replay", now)).await,
                RotationOutcome::Replayed
            );
        }
        current = next;
    }
    assert_eq!(store.db.row_counts().await, counts);
}

async fn end_sessions_counts_and_scope(store: Store) {
    let alice = register(&store, "alice").await;
    let bob = register(&store, "bob").await;
    for (sid, user_id, opened, expires_at) in [
        ("a1", alice.id, NOW_MS, NOW + DAY),
        ("a2", alice.id, NOW_MS + 1, NOW + DAY),
        ("a3", alice.id, NOW_MS + 2, NOW + DAY),
        // Expired by the time sessions end: not live, so never counted as ended.
        ("a4", alice.id, NOW_MS + 3, NOW + 5),
        ("b1", bob.id, NOW_MS, NOW + DAY),
        ("b2", bob.id, NOW_MS + 1, NOW + DAY),
    ] {
        let jti = format!("{sid}-r");
        open_session(&store, &session(sid, user_id, &jti, opened, expires_at)).await;
    }
    let at = NOW + 10;

    // One session.
    assert_eq!(end(&store, end_one("a1"), at).await, 1);
    assert_eq!(
        store
            .db
            .int("SELECT ended_at FROM sessions WHERE sid = $1", "a1")
            .await,
        Some(at)
    );
    // Again, an unknown one, one that expired: nothing live to end.
    assert_eq!(end(&store, end_one("a1"), at + 1).await, 0);
    assert_eq!(
        store
            .db
            .int("SELECT ended_at FROM sessions WHERE sid = $1", "a1")
            .await,
        Some(at)
    );
    assert_eq!(end(&store, end_one("unknown"), at).await, 0);
    assert_eq!(end(&store, end_one("a4"), at).await, 0);
    assert_eq!(
        rotate(&store, rotation("a1", "a1-r", "x", at)).await,
        RotationOutcome::Invalid
    );
    assert_eq!(live(&store, alice.id, at).await, ["a3", "a2"]);

    // Every other live session of the user.
    let others = EndSessions::Others {
        user_id: alice.id,
        keep_sid: "a3".to_owned(),
    };
    assert_eq!(end(&store, others.clone(), at).await, 1);
    assert_eq!(end(&store, others, at).await, 0);
    assert_eq!(live(&store, alice.id, at).await, ["a3"]);
    assert_eq!(
        rotate(&store, rotation("a3", "a3-r", "a3-r2", at)).await,
        rotated(NOW_MS + 2, at + 200, NOW + LIFETIME)
    );

    // Every session of the user.
    let all = EndSessions::AllOf { user_id: alice.id };
    assert_eq!(end(&store, all.clone(), at).await, 1);
    assert_eq!(end(&store, all, at).await, 0);
    assert_eq!(live(&store, alice.id, at).await, Vec::<String>::new());
    assert_eq!(
        rotate(&store, rotation("a3", "a3-r2", "x", at + 1)).await,
        RotationOutcome::Invalid
    );

    // Other users were left alone.
    assert_eq!(live(&store, bob.id, at).await, ["b2", "b1"]);
    assert_eq!(
        rotate(&store, rotation("b1", "b1-r", "b1-r2", at)).await,
        rotated(NOW_MS, at + 200, NOW + LIFETIME)
    );
    let others = EndSessions::Others {
        user_id: bob.id,
        keep_sid: "b2".to_owned(),
    };
    assert_eq!(end(&store, others, at).await, 1);
    assert_eq!(live(&store, bob.id, at).await, ["b2"]);
    assert_eq!(
        end(&store, EndSessions::AllOf { user_id: bob.id }, at).await,
        1
    );
    assert_eq!(live(&store, bob.id, at).await, Vec::<String>::new());
}

async fn end_everyone_raises_the_cutoff(store: Store) {
    let sessions = store.sessions();
    assert_eq!(sessions.session_cutoff().await.expect("cut-off"), None);
    let alice = register(&store, "alice").await;
    let bob = register(&store, "bob").await;
    let cut = NOW_MS + 500;
    for (sid, user_id, opened) in [
        ("before", alice.id, cut - 1),
        ("at", alice.id, cut),
        ("after", alice.id, cut + 1000),
        ("bob-before", bob.id, cut - 1000),
    ] {
        let jti = format!("{sid}-r");
        open_session(&store, &session(sid, user_id, &jti, opened, NOW + DAY)).await;
    }
    let before = store.db.snapshot().await;

    assert_eq!(
        end(&store, EndSessions::Everyone { cutoff_ms: cut }, NOW + 1).await,
        0
    );
    assert_eq!(sessions.session_cutoff().await.expect("cut-off"), Some(cut));
    // One write, the cut-off: no session row was touched.
    let mut after = store.db.snapshot().await;
    assert_eq!(
        after.remove("session_cutoff").map(|rows| rows.len()),
        Some(1)
    );
    let mut unchanged = before.clone();
    unchanged.remove("session_cutoff");
    assert_eq!(after, unchanged);

    // Sessions opened before it, by a millisecond even, are no longer live and cannot
    // rotate; those opened at or after it are fine.
    assert_eq!(live(&store, alice.id, NOW + 1).await, ["after", "at"]);
    assert_eq!(live(&store, bob.id, NOW + 1).await, Vec::<String>::new());
    for sid in ["before", "bob-before"] {
        let jti = format!("{sid}-r");
        assert_eq!(
            rotate(&store, rotation(sid, &jti, "x", NOW + 2)).await,
            RotationOutcome::Invalid,
            "{sid}"
        );
    }
    // Not live, so not counted when ended.
    assert_eq!(end(&store, end_one("before"), NOW + 2).await, 0);
    assert_eq!(
        rotate(&store, rotation("at", "at-r", "at-r2", NOW + 2)).await,
        rotated(cut, NOW + 202, NOW + LIFETIME)
    );
    assert_eq!(
        rotate(&store, rotation("after", "after-r", "after-r2", NOW + 2)).await,
        rotated(cut + 1000, NOW + 202, NOW + LIFETIME)
    );

    // A lower cut-off never lowers it.
    assert_eq!(
        end(
            &store,
            EndSessions::Everyone {
                cutoff_ms: cut - 10_000
            },
            NOW + 3
        )
        .await,
        0
    );
    assert_eq!(sessions.session_cutoff().await.expect("cut-off"), Some(cut));
    assert_eq!(store.db.row_counts().await["session_cutoff"], 1);
    assert_eq!(live(&store, alice.id, NOW + 3).await, ["after", "at"]);
    assert_eq!(
        rotate(&store, rotation("before", "before-r", "x", NOW + 3)).await,
        RotationOutcome::Invalid
    );

    // A higher one raises it; a session opened after it is fine.
    open_session(
        &store,
        &session("later", alice.id, "later-r", cut + 2000, NOW + DAY),
    )
    .await;
    assert_eq!(
        end(
            &store,
            EndSessions::Everyone {
                cutoff_ms: cut + 1500
            },
            NOW + 4
        )
        .await,
        0
    );
    assert_eq!(
        sessions.session_cutoff().await.expect("cut-off"),
        Some(cut + 1500)
    );
    assert_eq!(store.db.row_counts().await["session_cutoff"], 1);
    assert_eq!(live(&store, alice.id, NOW + 4).await, ["later"]);
    assert_eq!(
        rotate(&store, rotation("after", "after-r2", "x", NOW + 4)).await,
        RotationOutcome::Invalid
    );
    assert_eq!(
        rotate(&store, rotation("later", "later-r", "later-r2", NOW + 4)).await,
        rotated(cut + 2000, NOW + 204, NOW + LIFETIME)
    );
}

// ----- emailed tokens -----

async fn queue_email_token_is_atomic(store: Store) {
    let outbox = store.outbox();
    let alice = register(&store, "alice").await;
    let first = claim(&store, NOW, NOW + 60, 10).await;
    assert_eq!(first.len(), 1);
    outbox
        .mark_mail_sent(first[0].id, &first[0].claim, NOW)
        .await
        .expect("sent");

    let queued = carried_by(
        confirm_token("again", &alice.email, NOW + 30, NOW + DAY),
        "Confirm email again",
    );
    queue(&store, alice.id, queued.clone()).await;
    // The mail is due when the token was made.
    assert_eq!(outbox.next_mail_due().await.expect("due"), Some(NOW + 30));
    assert!(claim(&store, NOW + 29, NOW + 90, 10).await.is_empty());
    let mails = claim(&store, NOW + 30, NOW + 90, 10).await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].mail, queued.mail);
    outbox
        .mark_mail_sent(mails[0].id, &mails[0].claim, NOW + 31)
        .await
        .expect("sent");
    assert_eq!(
        find(&store, "again", TokenPurpose::ConfirmEmail, NOW + 31).await,
        Some(EmailToken {
            user_id: alice.id,
            email: alice.email.clone(),
            state: String::new(),
            created_at: NOW + 30,
            expires_at: NOW + DAY,
        })
    );

    // A token for no user, or whose hash is taken, fails whole: no mail is queued either.
    let before = store.db.snapshot().await;
    assert_unavailable(
        store
            .email_tokens()
            .queue_email_token(
                alice.id + 1000,
                with_mail(confirm_token(
                    "orphan",
                    "ghost@example.com",
                    NOW + 40,
                    NOW + DAY,
                )),
            )
            .await,
    );
    assert_unavailable(
        store
            .email_tokens()
            .queue_email_token(
                alice.id,
                with_mail(reset_token("again", &alice.email, "", NOW + 40, NOW + DAY)),
            )
            .await,
    );
    assert_eq!(store.db.snapshot().await, before);
    assert_eq!(outbox.next_mail_due().await.expect("due"), None);
}

async fn email_token_finds_live_tokens_of_its_purpose(store: Store) {
    let alice = register(&store, "alice").await;
    queue(
        &store,
        alice.id,
        with_mail(confirm_token("short", &alice.email, NOW + 5, NOW + 10)),
    )
    .await;
    queue(
        &store,
        alice.id,
        with_mail(reset_token(
            "reset",
            &alice.email,
            "1700000000123",
            NOW + 5,
            NOW + DAY,
        )),
    )
    .await;

    assert_eq!(
        find(&store, "short", TokenPurpose::ConfirmEmail, NOW + 9).await,
        Some(EmailToken {
            user_id: alice.id,
            email: alice.email.clone(),
            state: String::new(),
            created_at: NOW + 5,
            expires_at: NOW + 10,
        })
    );
    // Expiry is exclusive.
    assert_eq!(
        find(&store, "short", TokenPurpose::ConfirmEmail, NOW + 10).await,
        None
    );
    // Only for its own purpose.
    assert_eq!(
        find(&store, "short", TokenPurpose::ResetPassword, NOW + 6).await,
        None
    );
    assert_eq!(
        find(&store, "reset", TokenPurpose::ResetPassword, NOW + 6).await,
        Some(EmailToken {
            user_id: alice.id,
            email: alice.email.clone(),
            state: "1700000000123".to_owned(),
            created_at: NOW + 5,
            expires_at: NOW + DAY,
        })
    );
    assert_eq!(
        find(&store, "reset", TokenPurpose::ConfirmEmail, NOW + 6).await,
        None
    );
    assert_eq!(
        find(&store, "unknown", TokenPurpose::ConfirmEmail, NOW).await,
        None
    );

    // A used token is found no more.
    assert!(redeem(&store, confirming("hash-alice", &alice, NOW + 7, &[])).await);
    assert_eq!(
        find(&store, "hash-alice", TokenPurpose::ConfirmEmail, NOW + 7).await,
        None
    );
    assert_eq!(
        find(&store, "short", TokenPurpose::ConfirmEmail, NOW + 7).await,
        None
    );
    assert!(
        find(&store, "reset", TokenPurpose::ResetPassword, NOW + 7)
            .await
            .is_some()
    );
}

async fn redeem_confirm_email(store: Store) {
    let alice = register(&store, "alice").await;
    let bob = register(&store, "bob").await;
    queue(
        &store,
        alice.id,
        with_mail(confirm_token("second", &alice.email, NOW + 1, NOW + DAY)),
    )
    .await;
    queue(
        &store,
        alice.id,
        with_mail(reset_token("reset", &alice.email, "", NOW + 1, NOW + DAY)),
    )
    .await;
    let mail_before = store.db.snapshot().await["mail_outbox"].clone();
    let used_at = "SELECT used_at FROM email_tokens WHERE hash = $1";

    assert!(
        redeem(
            &store,
            confirming("hash-alice", &alice, NOW + 6, &["admin", "staff", "admin"]),
        )
        .await
    );
    assert_eq!(
        user(&store, alice.id).await,
        User {
            confirmed: true,
            permissions: vec!["admin".to_owned(), "staff".to_owned()],
            ..alice.clone()
        }
    );
    // The token and the user's other confirmation tokens are used up; a token of another
    // purpose is not.
    assert_eq!(store.db.int(used_at, "hash-alice").await, Some(NOW + 6));
    assert_eq!(store.db.int(used_at, "second").await, Some(NOW + 6));
    assert_eq!(store.db.int(used_at, "reset").await, None);
    assert!(
        find(&store, "reset", TokenPurpose::ResetPassword, NOW + 6)
            .await
            .is_some()
    );
    // Without a notice no mail is queued.
    assert_eq!(store.db.snapshot().await["mail_outbox"], mail_before);
    // Other users are untouched.
    assert_eq!(user(&store, bob.id).await, bob);
    assert_eq!(store.db.int(used_at, "hash-bob").await, None);

    // Permissions add to those held, once each; a notice, when given, is queued, due at once.
    queue(
        &store,
        alice.id,
        with_mail(confirm_token("third", &alice.email, NOW + 7, NOW + DAY)),
    )
    .await;
    let notice = mail_to(&alice.email, "Email confirmed");
    let confirmed = user(&store, alice.id).await;
    assert!(
        redeem(
            &store,
            Redemption {
                notice: Some(notice.clone()),
                ..confirming("third", &confirmed, NOW + 8, &["ops", "admin"])
            },
        )
        .await
    );
    assert_eq!(
        user(&store, alice.id).await.permissions,
        ["admin", "staff", "ops"]
    );
    assert_eq!(claim(&store, NOW + 7, NOW + 60, 10).await.len(), 5);
    let noticed = claim(&store, NOW + 8, NOW + 60, 10).await;
    assert_eq!(noticed.len(), 1);
    assert_eq!(noticed[0].mail, notice);

    // Nothing to grant: confirmed, no permission.
    assert!(redeem(&store, confirming("hash-bob", &bob, NOW + 9, &[])).await);
    assert_eq!(
        user(&store, bob.id).await,
        User {
            confirmed: true,
            ..bob
        }
    );
}

async fn redeem_reset_password(store: Store) {
    let alice = register(&store, "alice").await;
    for hash in ["r1", "r2"] {
        queue(
            &store,
            alice.id,
            with_mail(reset_token(hash, &alice.email, "", NOW + 1, NOW + DAY)),
        )
        .await;
    }
    // The registration mail and the two tokens' mail are out for delivery.
    assert_eq!(claim(&store, NOW + 4, NOW + 64, 10).await.len(), 3);
    let used_at = "SELECT used_at FROM email_tokens WHERE hash = $1";
    let notice = mail_to(&alice.email, "Your password changed");

    assert!(
        redeem(
            &store,
            Redemption {
                notice: Some(notice.clone()),
                ..resetting("r1", &alice, NOW + 5, "$argon2id$v=19$new", NOW_MS + 5_250)
            },
        )
        .await
    );
    // The mailbox is proven: a reset confirms.
    assert_eq!(
        user(&store, alice.id).await,
        User {
            password_hash: Some("$argon2id$v=19$new".to_owned()),
            password_changed_at: Some(NOW_MS + 5_250),
            confirmed: true,
            ..alice.clone()
        }
    );
    // The token and the user's other reset tokens are used up; the confirmation token is not.
    assert_eq!(store.db.int(used_at, "r1").await, Some(NOW + 5));
    assert_eq!(store.db.int(used_at, "r2").await, Some(NOW + 5));
    assert_eq!(store.db.int(used_at, "hash-alice").await, None);
    // The notice is queued, due at once.
    assert_eq!(
        store.outbox().next_mail_due().await.expect("due"),
        Some(NOW + 5)
    );
    let noticed = claim(&store, NOW + 5, NOW + 65, 10).await;
    assert_eq!(noticed.len(), 1);
    assert_eq!(noticed[0].mail, notice);

    // A token checked against the password before the change no longer works; checked
    // against the current one, it does.
    queue(
        &store,
        alice.id,
        with_mail(reset_token("r3", &alice.email, "", NOW + 6, NOW + DAY)),
    )
    .await;
    let before = store.db.snapshot().await;
    assert!(
        !redeem(
            &store,
            resetting("r3", &alice, NOW + 7, "$argon2id$x", NOW_MS + 7_000)
        )
        .await
    );
    assert_eq!(store.db.snapshot().await, before);
    let current = user(&store, alice.id).await;
    assert!(
        redeem(
            &store,
            resetting(
                "r3",
                &current,
                NOW + 8,
                "$argon2id$v=19$newer",
                NOW_MS + 8_000
            ),
        )
        .await
    );
    assert_eq!(
        user(&store, alice.id).await,
        User {
            password_hash: Some("$argon2id$v=19$newer".to_owned()),
            password_changed_at: Some(NOW_MS + 8_000),
            ..current
        }
    );
    // No notice was given this time.
    assert_eq!(store.db.row_counts().await["mail_outbox"], 5);
}

async fn refused_redemptions_write_nothing(store: Store) {
    let alice = register(&store, "alice").await;
    let bob = register(&store, "bob").await;
    let carol = register(&store, "carol").await;
    queue(
        &store,
        alice.id,
        with_mail(reset_token("reset", &alice.email, "", NOW + 1, NOW + 100)),
    )
    .await;
    assert!(redeem(&store, confirming("hash-carol", &carol, NOW + 2, &[])).await);
    let carol = user(&store, carol.id).await;

    let notice = Some(mail_to(&alice.email, "Your password changed"));
    let reset = |hash: &str, now: Timestamp| Redemption {
        notice: notice.clone(),
        ..resetting(hash, &alice, now, "$argon2id$v=19$new", NOW_MS + 50_000)
    };
    let confirm = |hash: &str, now: Timestamp| Redemption {
        notice: notice.clone(),
        ..confirming(hash, &alice, now, &["admin"])
    };
    let refused = [
        ("unknown token", reset("nope", NOW + 3)),
        (
            "used token",
            confirming("hash-carol", &carol, NOW + 3, &["admin"]),
        ),
        (
            "expired token (expiry exclusive)",
            reset("reset", NOW + 100),
        ),
        ("reset token to confirm", confirm("reset", NOW + 3)),
        ("confirmation token to reset", reset("hash-alice", NOW + 3)),
        (
            "another user's token",
            Redemption {
                user_id: bob.id,
                email: bob.email.clone(),
                ..reset("reset", NOW + 3)
            },
        ),
        ("a token of another user", confirm("hash-bob", NOW + 3)),
        (
            "email changed since the check",
            Redemption {
                email: "alice.old@example.com".to_owned(),
                ..reset("reset", NOW + 3)
            },
        ),
        (
            "password changed since the check",
            Redemption {
                password_changed_at: Some(NOW_MS),
                ..reset("reset", NOW + 3)
            },
        ),
        (
            "email changed since the confirmation was checked",
            Redemption {
                email: "alice.old@example.com".to_owned(),
                ..confirm("hash-alice", NOW + 3)
            },
        ),
        (
            "password changed since the confirmation was checked",
            Redemption {
                password_changed_at: Some(NOW_MS),
                ..confirm("hash-alice", NOW + 3)
            },
        ),
    ];
    let before = store.db.snapshot().await;
    for (case, redemption) in refused {
        assert!(!redeem(&store, redemption).await, "{case}");
        assert_eq!(store.db.snapshot().await, before, "{case}");
    }

    // The refusals used nothing up: the tokens still work.
    assert!(redeem(&store, reset("reset", NOW + 99)).await);
    let reset_done = user(&store, alice.id).await;
    assert_eq!(
        reset_done,
        User {
            password_hash: Some("$argon2id$v=19$new".to_owned()),
            password_changed_at: Some(NOW_MS + 50_000),
            confirmed: true,
            ..alice.clone()
        }
    );
    assert!(
        redeem(
            &store,
            confirming("hash-alice", &reset_done, NOW + 99, &["admin"])
        )
        .await
    );
    assert_eq!(user(&store, alice.id).await.permissions, ["admin"]);
    assert!(redeem(&store, confirming("hash-bob", &bob, NOW + 99, &[])).await);
}

async fn concurrent_redemptions_redeem_once(store: Store) {
    let alice = register(&store, "alice").await;
    let bob = register(&store, "bob").await;
    queue(
        &store,
        alice.id,
        with_mail(reset_token("reset", &alice.email, "", NOW, NOW + DAY)),
    )
    .await;
    let notice = mail_to(&alice.email, "Your password changed");

    let resets: Vec<_> = (0..10)
        .map(|i| {
            let repo = Arc::clone(&store.repo);
            let redemption = Redemption {
                notice: Some(notice.clone()),
                ..resetting(
                    "reset",
                    &alice,
                    NOW + 1,
                    &format!("$argon2id$v=19$racer{i}"),
                    NOW_MS + 1_000,
                )
            };
            tokio::spawn(async move { (i, redeem(&*repo, redemption).await) })
        })
        .collect();
    let mut winners = Vec::new();
    for reset in resets {
        if let (i, true) = reset.await.expect("task ran") {
            winners.push(i);
        }
    }
    assert_eq!(winners.len(), 1);
    assert_eq!(
        user(&store, alice.id).await.password_hash,
        Some(format!("$argon2id$v=19$racer{}", winners[0]))
    );
    let notices = claim(&store, NOW + 1, NOW + 60, 100)
        .await
        .into_iter()
        .filter(|m| m.mail == notice)
        .count();
    assert_eq!(notices, 1);

    let confirmations: Vec<_> = (0..10)
        .map(|_| {
            let repo = Arc::clone(&store.repo);
            let redemption = confirming("hash-bob", &bob, NOW + 1, &["admin"]);
            tokio::spawn(async move { redeem(&*repo, redemption).await })
        })
        .collect();
    let mut confirmed = 0;
    for confirmation in confirmations {
        if confirmation.await.expect("task ran") {
            confirmed += 1;
        }
    }
    assert_eq!(confirmed, 1);
    assert_eq!(
        user(&store, bob.id).await,
        User {
            confirmed: true,
            permissions: vec!["admin".to_owned()],
            ..bob
        }
    );

    // Two different tokens of one user redeemed at once: they queue on the user's row, so
    // one wins and the other finds its token used up, never a deadlock (an error).
    let carol = register(&store, "carol").await;
    for round in 0..5 {
        let hashes = [format!("carol-a-{round}"), format!("carol-b-{round}")];
        for hash in &hashes {
            queue(
                &store,
                carol.id,
                with_mail(confirm_token(hash, &carol.email, NOW, NOW + DAY)),
            )
            .await;
        }
        let carol = user(&store, carol.id).await;
        let racers: Vec<_> = hashes
            .iter()
            .map(|hash| {
                let repo = Arc::clone(&store.repo);
                let redemption = confirming(hash, &carol, NOW + 1, &[]);
                tokio::spawn(
                    async move { repo.email_tokens().redeem_email_token(redemption).await },
                )
            })
            .collect();
        let mut won = 0;
        for racer in racers {
            if racer.await.expect("task ran").expect("no storage error") {
                won += 1;
            }
        }
        assert_eq!(won, 1, "round {round}");
    }
}

// ----- outbox -----

async fn outbox_claims_leases_and_retries(store: Store) {
    let outbox = store.outbox();
    assert_eq!(outbox.next_mail_due().await.expect("due"), None);
    let alice = register(&store, "alice").await;
    for (n, at) in [(1, NOW + 1), (2, NOW + 2)] {
        let token = confirm_token(&format!("t{n}"), &alice.email, at, at + DAY);
        queue(&store, alice.id, carried_by(token, &format!("mail {n}"))).await;
    }
    assert_eq!(outbox.next_mail_due().await.expect("due"), Some(NOW));
    assert!(claim(&store, NOW, NOW + 60, 0).await.is_empty());

    // Oldest first, up to the limit, under one claim.
    let a = claim(&store, NOW + 2, NOW + 60, 2).await;
    assert_eq!(a.len(), 2);
    assert_eq!(a[0].mail.subject, "Confirm email");
    assert_eq!(a[1].mail.subject, "mail 1");
    assert!(
        a.iter()
            .all(|m| m.attempts == 0 && m.claim == a[0].claim && !m.claim.is_empty())
    );
    let (m0, m1) = (a[0].id, a[1].id);
    assert_eq!(outbox.next_mail_due().await.expect("due"), Some(NOW + 2));

    let b = claim(&store, NOW + 3, NOW + 60, 10).await;
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].mail.subject, "mail 2");
    assert_ne!(b[0].claim, a[0].claim);
    let m2 = b[0].id;
    // Everything is leased until NOW + 60, so claimable one second later.
    assert_eq!(outbox.next_mail_due().await.expect("due"), Some(NOW + 61));
    assert!(claim(&store, NOW + 60, NOW + 120, 10).await.is_empty());

    // Only the holder of the claim can mark a mail sent or reschedule it.
    outbox
        .mark_mail_sent(m0, &b[0].claim, NOW + 4)
        .await
        .expect("ignored");
    outbox
        .mark_mail_sent(m0, &a[0].claim, NOW + 4)
        .await
        .expect("sent");
    outbox
        .reschedule_mail(
            m1,
            &a[0].claim,
            NOW + 4,
            Some(NOW + 100),
            "421 try again later",
        )
        .await
        .expect("rescheduled");
    outbox
        .reschedule_mail(m2, "not-the-claim", NOW + 4, None, "550 no such user")
        .await
        .expect("ignored");
    // The rescheduled mail lost its claim: the old holder can no longer mark it sent.
    outbox
        .mark_mail_sent(m1, &a[0].claim, NOW + 5)
        .await
        .expect("ignored");
    assert_eq!(outbox.next_mail_due().await.expect("due"), Some(NOW + 61));

    // m2's lease ran out: it is claimed again, with its attempts unchanged.
    let c = claim(&store, NOW + 61, NOW + 120, 10).await;
    assert_eq!(ids(&c), vec![m2]);
    assert_eq!(c[0].attempts, 0);
    let long_error = "x".repeat(10_000);
    outbox
        .reschedule_mail(m2, &c[0].claim, NOW + 61, None, &long_error)
        .await
        .expect("given up");
    assert_eq!(outbox.next_mail_due().await.expect("due"), Some(NOW + 100));
    assert!(claim(&store, NOW + 99, NOW + 160, 10).await.is_empty());

    // The retried mail comes back once due, with its failed attempt counted.
    let d = claim(&store, NOW + 100, NOW + 160, 10).await;
    assert_eq!(ids(&d), vec![m1]);
    assert_eq!(d[0].attempts, 1);
    assert_eq!(d[0].mail.subject, "mail 1");
    outbox
        .mark_mail_sent(m1, &d[0].claim, NOW + 101)
        .await
        .expect("sent");

    // Sent and given-up mail never comes back.
    assert_eq!(outbox.next_mail_due().await.expect("due"), None);
    assert!(
        claim(&store, NOW + DAY, NOW + DAY + 60, 10)
            .await
            .is_empty()
    );
}

async fn concurrent_claims_are_disjoint(store: Store) {
    let alice = register(&store, "alice").await;
    for n in 1..40 {
        let token = confirm_token(&format!("t{n}"), &alice.email, NOW, NOW + DAY);
        queue(&store, alice.id, carried_by(token, &format!("mail {n}"))).await;
    }
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let repo = Arc::clone(&store.repo);
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let batch = claim(&*repo, NOW + 1, NOW + 600, 3).await;
                    if batch.is_empty() {
                        return mine;
                    }
                    mine.extend(ids(&batch));
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await.expect("task ran"));
    }
    let distinct: HashSet<i64> = all.iter().copied().collect();
    assert_eq!(all.len(), 40);
    assert_eq!(distinct.len(), 40);
}

// ----- maintenance -----

async fn leases_are_taken_renewed_and_taken_over(store: Store) {
    let holder = "SELECT holder FROM leases WHERE name = $1";
    let until = "SELECT until FROM leases WHERE name = $1";

    // Free: taken.
    assert!(lease(&store, "janitor", "a", NOW, NOW + 60).await);
    // Held by another and unexpired: refused.
    assert!(!lease(&store, "janitor", "b", NOW + 10, NOW + 70).await);
    assert!(!lease(&store, "janitor", "b", NOW + 59, NOW + 119).await);
    // Renewed by its holder.
    assert!(lease(&store, "janitor", "a", NOW + 30, NOW + 120).await);
    assert_eq!(store.db.int(until, "janitor").await, Some(NOW + 120));
    assert!(!lease(&store, "janitor", "b", NOW + 60, NOW + 130).await);
    // A lease of another name is another lease.
    assert!(lease(&store, "other", "b", NOW + 60, NOW + 100).await);
    // Expired (at its end): taken over, and the former holder is refused.
    assert!(!lease(&store, "janitor", "b", NOW + 119, NOW + 180).await);
    assert!(lease(&store, "janitor", "b", NOW + 120, NOW + 180).await);
    assert!(!lease(&store, "janitor", "a", NOW + 121, NOW + 200).await);
    assert_eq!(store.db.text(holder, "janitor").await.as_deref(), Some("b"));
    assert_eq!(store.db.int(until, "janitor").await, Some(NOW + 180));
    assert_eq!(store.db.text(holder, "other").await.as_deref(), Some("b"));
    assert_eq!(store.db.int(until, "other").await, Some(NOW + 100));
}

async fn concurrent_lease_acquisitions_have_one_winner(store: Store) {
    // A lease never taken, then the same lease once expired.
    for (round, now) in [(0, NOW), (1, NOW + 60)] {
        let attempts: Vec<_> = (0..20)
            .map(|i| {
                let repo = Arc::clone(&store.repo);
                let holder = format!("instance-{round}-{i}");
                tokio::spawn(async move {
                    let won = lease(&*repo, "janitor", &holder, now, now + 60).await;
                    (holder, won)
                })
            })
            .collect();
        let mut winners = Vec::new();
        for attempt in attempts {
            if let (holder, true) = attempt.await.expect("task ran") {
                winners.push(holder);
            }
        }
        assert_eq!(winners.len(), 1, "round {round}");
        assert_eq!(
            store
                .db
                .text("SELECT holder FROM leases WHERE name = $1", "janitor")
                .await,
            Some(winners[0].clone())
        );
    }
}

async fn purge_sessions_in_batches(store: Store) {
    let alice = register(&store, "alice").await;
    let bob = register(&store, "bob").await;
    let cut = NOW_MS;
    for (sid, user_id, opened, expires_at) in [
        // Live: at the cut-off, expiring after now, rotated.
        ("live1", alice.id, cut, NOW + DAY),
        ("live2", bob.id, cut + 1, NOW + 11),
        ("live3", alice.id, cut + 2, NOW + DAY),
        // Dead: ended, expired (at now, or before), opened before the cut-off.
        ("ended1", alice.id, cut + 3, NOW + DAY),
        ("ended2", bob.id, cut + 4, NOW + DAY),
        ("expired1", alice.id, cut + 5, NOW + 10),
        ("expired2", bob.id, cut + 6, NOW + 5),
        ("early1", alice.id, cut - 1, NOW + DAY),
        ("early2", bob.id, cut - 60_000, NOW + DAY),
    ] {
        let jti = format!("{sid}-r");
        open_session(&store, &session(sid, user_id, &jti, opened, expires_at)).await;
    }
    assert_eq!(end(&store, end_one("ended1"), NOW + 1).await, 1);
    assert_eq!(end(&store, end_one("ended2"), NOW + 1).await, 1);
    assert_eq!(
        end(&store, EndSessions::Everyone { cutoff_ms: cut }, NOW + 1).await,
        0
    );
    assert_eq!(
        rotate(&store, rotation("live3", "live3-r", "live3-r2", NOW + 2)).await,
        rotated(cut + 2, NOW + 202, NOW + LIFETIME)
    );
    let mut others = store.db.snapshot().await;
    others.remove("sessions");

    // Bounded batches; fewer than the limit when done.
    assert_eq!(purge(&store, Purge::Sessions, NOW + 10, 4).await, 4);
    assert_eq!(purge(&store, Purge::Sessions, NOW + 10, 4).await, 2);
    assert_eq!(purge(&store, Purge::Sessions, NOW + 10, 4).await, 0);

    assert_eq!(
        store.db.texts("SELECT sid FROM sessions").await,
        ["live1", "live2", "live3"]
    );
    let mut after = store.db.snapshot().await;
    after.remove("sessions");
    assert_eq!(after, others);
    // The live sessions are whole.
    assert_eq!(live(&store, alice.id, NOW + 10).await, ["live3", "live1"]);
    assert_eq!(live(&store, bob.id, NOW + 10).await, ["live2"]);
    assert_eq!(
        rotate(&store, rotation("live1", "live1-r", "live1-r2", NOW + 10)).await,
        rotated(cut, NOW + 210, NOW + LIFETIME)
    );
    // ... and keep the token they replaced within the grace period.
    assert_eq!(
        rotate(&store, rotation("live3", "live3-r", "x", NOW + 10)).await,
        RotationOutcome::RecentlyRotated
    );
}

async fn purge_email_tokens_in_batches(store: Store) {
    let alice = register(&store, "alice").await;
    let bob = register(&store, "bob").await;
    for (user_id, token) in [
        (alice.id, confirm_token("c2", &alice.email, NOW, NOW + DAY)),
        (
            alice.id,
            reset_token("r-live", &alice.email, "", NOW, NOW + DAY),
        ),
        (
            alice.id,
            reset_token("r-expired", &alice.email, "", NOW, NOW + 10),
        ),
        (
            alice.id,
            reset_token("r-expired2", &alice.email, "", NOW, NOW + 9),
        ),
        (
            bob.id,
            confirm_token("b-expired", &bob.email, NOW, NOW + 10),
        ),
    ] {
        queue(&store, user_id, with_mail(token)).await;
    }
    // Uses `hash-alice`, and uses up `c2`.
    assert!(redeem(&store, confirming("hash-alice", &alice, NOW + 1, &[])).await);
    let mut others = store.db.snapshot().await;
    others.remove("email_tokens");

    assert_eq!(purge(&store, Purge::EmailTokens, NOW + 10, 2).await, 2);
    assert_eq!(purge(&store, Purge::EmailTokens, NOW + 10, 2).await, 2);
    assert_eq!(purge(&store, Purge::EmailTokens, NOW + 10, 2).await, 1);
    assert_eq!(purge(&store, Purge::EmailTokens, NOW + 10, 2).await, 0);

    assert_eq!(
        store.db.texts("SELECT hash FROM email_tokens").await,
        ["hash-bob", "r-live"]
    );
    let mut after = store.db.snapshot().await;
    after.remove("email_tokens");
    assert_eq!(after, others);
    assert!(
        find(&store, "r-live", TokenPurpose::ResetPassword, NOW + 10)
            .await
            .is_some()
    );
    assert!(redeem(&store, confirming("hash-bob", &bob, NOW + 10, &[])).await);
}

async fn purge_mail_in_batches(store: Store) {
    let outbox = store.outbox();
    let alice = register(&store, "alice").await;
    for n in 1..=6 {
        let token = confirm_token(&format!("t{n}"), &alice.email, NOW + n, NOW + DAY);
        queue(&store, alice.id, carried_by(token, &format!("mail {n}"))).await;
    }
    // All but mail 6 are claimed; then delivered, given up on, retried or left claimed.
    let claimed = claim(&store, NOW + 10, NOW + 70, 6).await;
    let subjects: Vec<&str> = claimed.iter().map(|m| m.mail.subject.as_str()).collect();
    assert_eq!(
        subjects,
        [
            "Confirm email",
            "mail 1",
            "mail 2",
            "mail 3",
            "mail 4",
            "mail 5"
        ]
    );
    let id = |i: usize| claimed[i].id;
    let key = |i: usize| claimed[i].claim.as_str();
    outbox
        .mark_mail_sent(id(0), key(0), NOW + 20)
        .await
        .expect("sent");
    outbox
        .mark_mail_sent(id(1), key(1), NOW + 30)
        .await
        .expect("sent");
    outbox
        .reschedule_mail(id(2), key(2), NOW + 25, None, "550 no such user")
        .await
        .expect("given up");
    // Delivered at the age limit: kept (the limit is exclusive).
    outbox
        .mark_mail_sent(id(3), key(3), NOW + 40)
        .await
        .expect("sent");
    outbox
        .reschedule_mail(id(4), key(4), NOW + 41, Some(NOW + 1000), "421 later")
        .await
        .expect("rescheduled");
    let mut others = store.db.snapshot().await;
    others.remove("mail_outbox");

    let old = Purge::Mail { before: NOW + 40 };
    assert_eq!(purge(&store, old, NOW + DAY, 2).await, 2);
    assert_eq!(purge(&store, old, NOW + DAY, 2).await, 1);
    assert_eq!(purge(&store, old, NOW + DAY, 2).await, 0);

    assert_eq!(
        store.db.texts("SELECT subject FROM mail_outbox").await,
        ["mail 3", "mail 4", "mail 5", "mail 6"]
    );
    let mut after = store.db.snapshot().await;
    after.remove("mail_outbox");
    assert_eq!(after, others);
    // Pending mail is still delivered.
    let due = claim(&store, NOW + 1000, NOW + 1060, 10).await;
    let subjects: Vec<&str> = due.iter().map(|m| m.mail.subject.as_str()).collect();
    assert_eq!(subjects, ["mail 4", "mail 5", "mail 6"]);
}

// ----- admin -----

fn ban(reason: Option<&str>, expires_at: Option<Timestamp>) -> NewBan {
    NewBan {
        reason: reason.map(str::to_owned),
        expires_at,
    }
}

async fn toggle(repo: &dyn Repo, id: UserId, with: NewBan, now: Timestamp) -> Option<BanToggle> {
    repo.admin()
        .toggle_ban(id, with, now)
        .await
        .expect("toggle")
}

async fn banned(repo: &dyn Repo, now: Timestamp) -> Vec<BannedUser> {
    repo.admin().banned_users(now).await.expect("blacklist")
}

async fn details(repo: &dyn Repo, id: UserId, now: Timestamp) -> UserDetails {
    repo.admin()
        .user_details(id, now)
        .await
        .expect("details")
        .expect("user found")
}

async fn toggle_ban_bans_and_unbans(store: Store) {
    let alice = register(&store, "alice").await;
    let bob = register(&store, "bob").await;
    let before = store.db.snapshot().await;

    assert_eq!(
        toggle(&store, alice.id, ban(Some("spam"), Some(NOW + 60)), NOW).await,
        Some(BanToggle::Banned)
    );
    assert!(!user(&store, alice.id).await.active);
    assert!(user(&store, bob.id).await.active);
    assert_eq!(
        banned(&store, NOW + 1).await,
        [BannedUser {
            id: alice.id,
            username: "alice".to_owned(),
            reason: Some("spam".to_owned()),
            banned_at: Some(NOW),
            expires_at: Some(NOW + 60),
        }]
    );
    // The body of a toggle that unbans is not kept.
    assert_eq!(
        toggle(&store, alice.id, ban(Some("ignored"), None), NOW + 2).await,
        Some(BanToggle::Unbanned)
    );
    assert_eq!(banned(&store, NOW + 2).await, []);
    assert_eq!(store.db.snapshot().await, before, "an unban clears the ban");

    // A ban without reason or expiry lasts.
    assert_eq!(
        toggle(&store, bob.id, ban(None, None), NOW + 3).await,
        Some(BanToggle::Banned)
    );
    assert_eq!(
        banned(&store, NOW + 100 * DAY).await,
        [BannedUser {
            id: bob.id,
            username: "bob".to_owned(),
            reason: None,
            banned_at: Some(NOW + 3),
            expires_at: None,
        }]
    );
    assert!(
        !store
            .admin()
            .lift_expired_ban(bob.id, NOW + 100 * DAY)
            .await
            .expect("lift")
    );
    // A user banned by other means (an older version, SQL) is listed too.
    let carol = register(&store, "carol").await;
    store
        .db
        .execute(
            "UPDATE users SET active = FALSE WHERE username = $1",
            "carol",
        )
        .await;
    let listed: Vec<_> = banned(&store, NOW + 4)
        .await
        .into_iter()
        .map(|b| (b.id, b.banned_at))
        .collect();
    assert_eq!(listed, [(bob.id, Some(NOW + 3)), (carol.id, None)]);

    // An unknown user: nothing written.
    let before = store.db.snapshot().await;
    assert_eq!(toggle(&store, 999, ban(None, None), NOW).await, None);
    assert_eq!(store.db.snapshot().await, before);
}

async fn expired_bans_count_as_lifted(store: Store) {
    let alice = register(&store, "alice").await;
    let admin = store.admin();
    toggle(&store, alice.id, ban(Some("cool off"), Some(NOW + 10)), NOW).await;

    // In force until its expiry, lifted from it on: in the blacklist and the details alike.
    assert_eq!(banned(&store, NOW + 9).await.len(), 1);
    assert!(!details(&store, alice.id, NOW + 9).await.active);
    assert_eq!(banned(&store, NOW + 10).await, []);
    assert!(details(&store, alice.id, NOW + 10).await.active);

    // Lifted in storage only once expired.
    assert!(
        !admin
            .lift_expired_ban(alice.id, NOW + 9)
            .await
            .expect("lift")
    );
    assert!(!user(&store, alice.id).await.active);
    assert!(
        admin
            .lift_expired_ban(alice.id, NOW + 10)
            .await
            .expect("lift")
    );
    assert_eq!(user(&store, alice.id).await, alice);
    assert!(
        !admin
            .lift_expired_ban(alice.id, NOW + 11)
            .await
            .expect("lift")
    );

    // Toggling an expired ban that nobody lifted yet bans again (it counted as lifted), with
    // the new ban's expiry, which lifting the old one no longer matches.
    toggle(&store, alice.id, ban(None, Some(NOW + 20)), NOW + 12).await;
    assert_eq!(
        toggle(
            &store,
            alice.id,
            ban(Some("again"), Some(NOW + 100)),
            NOW + 25
        )
        .await,
        Some(BanToggle::Banned)
    );
    assert!(
        !admin
            .lift_expired_ban(alice.id, NOW + 26)
            .await
            .expect("lift")
    );
    let listed = banned(&store, NOW + 26).await;
    assert_eq!(listed[0].reason.as_deref(), Some("again"));
    assert_eq!(listed[0].banned_at, Some(NOW + 25));
    assert_eq!(listed[0].expires_at, Some(NOW + 100));
}

async fn concurrent_ban_toggles_all_apply(store: Store) {
    for (name, toggles) in [("even", 10), ("odd", 7)] {
        let target = register(&store, name).await;
        let id = target.id;
        let tasks: Vec<_> = (0..toggles)
            .map(|_| {
                let repo = Arc::clone(&store.repo);
                tokio::spawn(async move {
                    repo.admin()
                        .toggle_ban(id, ban(Some("race"), None), NOW)
                        .await
                        .expect("toggle")
                })
            })
            .collect();
        let mut bans = 0;
        for task in tasks {
            match task.await.expect("task ran") {
                Some(BanToggle::Banned) => bans += 1,
                Some(BanToggle::Unbanned) => bans -= 1,
                None => panic!("user vanished"),
            }
        }
        // Each toggle saw the state the previous one left: they alternate.
        assert_eq!(bans, toggles % 2, "{name}");
        assert_eq!(
            user(&store, target.id).await.active,
            toggles % 2 == 0,
            "{name}"
        );
    }
}

async fn change(repo: &dyn Repo, id: UserId, change: PermissionChange) -> Option<Vec<String>> {
    repo.admin()
        .change_permissions(id, change)
        .await
        .expect("permissions")
}

async fn permission_changes(store: Store) {
    use PermissionChange::{Add, Clear, Remove};
    let alice = register(&store, "alice").await;
    let id = alice.id;
    let add = |name: &str| Add(name.to_owned());
    let remove = |name: &str| Remove(name.to_owned());
    assert_eq!(
        change(&store, id, add("b")).await.expect("user found"),
        ["b"]
    );
    assert_eq!(
        change(&store, id, add("a")).await.expect("user found"),
        ["b", "a"]
    );
    assert_eq!(
        change(&store, id, add("c:x.y-z_1"))
            .await
            .expect("user found"),
        ["b", "a", "c:x.y-z_1"]
    );
    // Held already: unchanged, not doubled.
    assert_eq!(
        change(&store, id, add("a")).await.expect("user found"),
        ["b", "a", "c:x.y-z_1"]
    );
    assert_eq!(
        change(&store, id, remove("a")).await.expect("user found"),
        ["b", "c:x.y-z_1"]
    );
    assert_eq!(
        change(&store, id, remove("missing"))
            .await
            .expect("user found"),
        ["b", "c:x.y-z_1"]
    );
    assert_eq!(
        change(&store, id, remove("b")).await.expect("user found"),
        ["c:x.y-z_1"]
    );
    assert_eq!(user(&store, id).await.permissions, ["c:x.y-z_1"]);
    assert_eq!(
        change(&store, id, remove("c:x.y-z_1"))
            .await
            .expect("user found"),
        Vec::<String>::new()
    );
    change(&store, id, add("x")).await;
    change(&store, id, add("y")).await;
    assert_eq!(
        change(&store, id, Clear).await.expect("user found"),
        Vec::<String>::new()
    );
    assert_eq!(user(&store, id).await, alice);
    // The admin the confirmation grants is the same permission.
    change(&store, id, add("admin")).await;
    assert!(user(&store, id).await.is_admin());

    let before = store.db.snapshot().await;
    for unknown in [add("a"), remove("a"), Clear] {
        assert_eq!(change(&store, 999, unknown).await, None);
    }
    assert_eq!(store.db.snapshot().await, before);
}

async fn concurrent_permission_changes_are_all_kept(store: Store) {
    let id = register(&store, "alice").await.id;
    let names: Vec<String> = (0..20).map(|i| format!("p{i:02}")).collect();
    let run = |changes: Vec<PermissionChange>| {
        let tasks: Vec<_> = changes
            .into_iter()
            .map(|c| {
                let repo = Arc::clone(&store.repo);
                tokio::spawn(async move {
                    repo.admin()
                        .change_permissions(id, c)
                        .await
                        .expect("change")
                        .expect("user found")
                })
            })
            .collect();
        async move {
            for task in tasks {
                task.await.expect("task ran");
            }
        }
    };
    run(names.iter().cloned().map(PermissionChange::Add).collect()).await;
    let mut held = user(&store, id).await.permissions;
    held.sort();
    assert_eq!(held, names, "every concurrent ADD kept");

    // Removing half while adding others: none of either is lost.
    let mut mixed: Vec<PermissionChange> = names[..10]
        .iter()
        .cloned()
        .map(PermissionChange::Remove)
        .collect();
    mixed.extend((0..10).map(|i| PermissionChange::Add(format!("q{i:02}"))));
    run(mixed).await;
    let mut held = user(&store, id).await.permissions;
    held.sort();
    let mut expected: Vec<String> = names[10..].to_vec();
    expected.extend((0..10).map(|i| format!("q{i:02}")));
    expected.sort();
    assert_eq!(held, expected);
}

async fn user_details_hold_no_secret(store: Store) {
    let alice = register(&store, "alice").await;
    let sso = store
        .users()
        .create_user(
            NewUser {
                email: "sso@example.com".to_owned(),
                username: "sso".to_owned(),
                password_hash: None,
                confirmed: true,
                created_at: NOW + 1,
            },
            None,
        )
        .await
        .expect("created");
    store
        .users()
        .record_login(alice.id, NOW + 5, None)
        .await
        .expect("login");
    change(&store, alice.id, PermissionChange::Add("staff".to_owned())).await;
    assert_eq!(
        details(&store, alice.id, NOW + 6).await,
        UserDetails {
            id: alice.id,
            username: "alice".to_owned(),
            email: "alice@example.com".to_owned(),
            active: true,
            confirmed: false,
            permissions: vec!["staff".to_owned()],
            providers: Vec::new(),
            has_password: true,
            two_factor: false,
            created_at: NOW,
            last_login: Some(NOW + 5),
        }
    );
    let sso = details(&store, sso.id, NOW + 6).await;
    assert!(!sso.has_password);
    assert!(sso.confirmed);
    assert_eq!(sso.last_login, None);
    assert_eq!(
        store.admin().user_details(999, NOW).await.expect("details"),
        None
    );
}

async fn search(
    repo: &dyn Repo,
    id: Option<UserId>,
    username: Option<&str>,
    email: Option<&str>,
    offset: u64,
    limit: u32,
) -> (u64, Vec<String>) {
    let page = repo
        .admin()
        .search_users(
            &UserSearch {
                id,
                username: username.map(str::to_owned),
                email: email.map(str::to_owned),
                offset,
                limit,
            },
            NOW,
        )
        .await
        .expect("search");
    (
        page.total,
        page.users.into_iter().map(|u| u.username).collect(),
    )
}

async fn search_matches_literal_substrings(store: Store) {
    // Usernames may hold `_`; emails may hold `%`, `_`, `.`, `*` and `\` in their local part.
    let people = [
        ("ann_lee", r"ann%lee@Example.com"),
        ("annxlee", "annxlee@example.com"),
        ("Ann-Lee", r"ann\lee@example.org"),
        ("bob", "b.o*b@example.net"),
        ("BOBBY", "bobby@example.net"),
        ("carol", "carol_x@example.com"),
    ];
    let mut ids = Vec::new();
    for (username, email) in people {
        let created = store
            .users()
            .create_user(
                NewUser {
                    email: email.to_owned(),
                    username: username.to_owned(),
                    password_hash: None,
                    confirmed: false,
                    created_at: NOW,
                },
                None,
            )
            .await
            .expect("created");
        ids.push(created.id);
    }
    let names = |found: &[&str]| found.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let by_name = |q: &'static str| search(&store, None, Some(q), None, 0, 50);
    let by_email = |q: &'static str| search(&store, None, None, Some(q), 0, 50);

    // `_` and `%` match only themselves, `\` too, and `.*` is no regex.
    assert_eq!(by_name("_").await, (1, names(&["ann_lee"])));
    assert_eq!(by_name("n_l").await, (1, names(&["ann_lee"])));
    assert_eq!(by_name("%").await, (0, names(&[])));
    assert_eq!(by_email("%").await, (1, names(&["ann_lee"])));
    assert_eq!(by_email("n%l").await, (1, names(&["ann_lee"])));
    assert_eq!(by_email(r"\").await, (1, names(&["Ann-Lee"])));
    assert_eq!(by_email(r"n\l").await, (1, names(&["Ann-Lee"])));
    assert_eq!(by_email("_").await, (1, names(&["carol"])));
    assert_eq!(by_email(".*").await, (0, names(&[])));
    assert_eq!(by_email("o*b").await, (1, names(&["bob"])));
    assert_eq!(by_email("b.o").await, (1, names(&["bob"])));
    assert_eq!(by_email("b.o*b@").await, (1, names(&["bob"])));
    // An `@` substring: the index is asked for the part before it, the whole still decides.
    assert_eq!(
        by_email("ANNXLEE@EXAMPLE.C").await,
        (1, names(&["annxlee"]))
    );
    assert_eq!(by_email("annxlee@example.org").await, (0, names(&[])));
    assert_eq!(
        by_email("lee@example.").await,
        (3, names(&["ann_lee", "annxlee", "Ann-Lee"]))
    );
    assert_eq!(by_email("ol_x@e").await, (1, names(&["carol"])));
    assert_eq!(by_email("olxx@e").await, (0, names(&[])));
    // Case-insensitive on both sides.
    assert_eq!(
        by_name("ANN").await,
        (3, names(&["ann_lee", "annxlee", "Ann-Lee"]))
    );
    assert_eq!(by_name("bob").await, (2, names(&["bob", "BOBBY"])));
    assert_eq!(
        by_email("EXAMPLE.COM").await,
        (3, names(&["ann_lee", "annxlee", "carol"]))
    );
    // Criteria combine with AND; the id is exact.
    assert_eq!(
        search(&store, None, Some("ann"), Some(".org"), 0, 50).await,
        (1, names(&["Ann-Lee"]))
    );
    assert_eq!(
        search(&store, Some(ids[3]), None, None, 0, 50).await,
        (1, names(&["bob"]))
    );
    assert_eq!(
        search(&store, Some(ids[3]), Some("ann"), None, 0, 50).await,
        (0, names(&[]))
    );
    assert_eq!(
        search(&store, Some(999), None, None, 0, 50).await,
        (0, names(&[]))
    );
    // No criterion: everyone, by id.
    assert_eq!(
        search(&store, None, None, None, 0, 50).await,
        (
            6,
            names(&["ann_lee", "annxlee", "Ann-Lee", "bob", "BOBBY", "carol"])
        )
    );
}

async fn search_pages_exactly(store: Store) {
    for i in 0..45 {
        store
            .users()
            .create_user(
                NewUser {
                    email: format!("u{i:02}@example.com"),
                    username: format!("u{i:02}"),
                    password_hash: None,
                    confirmed: false,
                    created_at: NOW,
                },
                None,
            )
            .await
            .expect("created");
    }
    let page = |offset| search(&store, None, None, None, offset, 20);
    let expect =
        |from: usize, to: usize| (from..to).map(|i| format!("u{i:02}")).collect::<Vec<_>>();
    assert_eq!(page(0).await, (45, expect(0, 20)));
    assert_eq!(page(20).await, (45, expect(20, 40)));
    assert_eq!(page(40).await, (45, expect(40, 45)));
    // Past the end: no users, the count still right.
    assert_eq!(page(60).await, (45, Vec::new()));
    assert_eq!(page(u64::MAX).await, (45, Vec::new()));
    assert_eq!(
        search(&store, None, Some("u1"), None, 20, 20).await,
        (10, Vec::new())
    );
    assert_eq!(
        search(&store, None, Some("nobody"), None, 0, 20).await,
        (0, Vec::new())
    );
}

async fn create_named(store: &Store, username: &str, email: &str) -> UserId {
    store
        .users()
        .create_user(
            NewUser {
                email: email.to_owned(),
                username: username.to_owned(),
                password_hash: None,
                confirmed: false,
                created_at: NOW,
            },
            None,
        )
        .await
        .expect("created")
        .id
}

/// The substring index (migration 8) is kept with the users: a renamed user is found by the
/// new name, no longer by the old one, whichever path the search takes.
async fn search_index_follows_renames(store: Store) {
    let ada = create_named(&store, "adalovelace", "ada@example.com").await;
    create_named(&store, "grace", "grace@example.org").await;
    let names = |found: &[&str]| found.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        search(&store, None, Some("LOVE"), None, 0, 20).await,
        (1, names(&["adalovelace"]))
    );
    assert!(
        store
            .users()
            .change_username(ada, "countess")
            .await
            .expect("renamed")
    );
    assert_eq!(
        search(&store, None, Some("love"), None, 0, 20).await,
        (0, names(&[]))
    );
    assert_eq!(
        search(&store, None, Some("ntes"), None, 0, 20).await,
        (1, names(&["countess"]))
    );
    assert_eq!(
        search(&store, None, Some("co"), None, 0, 20).await,
        (1, names(&["countess"]))
    );
    // The email stayed in the index: only the username was rewritten.
    assert_eq!(
        search(&store, None, None, Some("ADA@EX"), 0, 20).await,
        (1, names(&["countess"]))
    );
    // Both criteria, one through the index and one checked row by row.
    assert_eq!(
        search(&store, None, Some("gr"), Some("example.org"), 0, 20).await,
        (1, names(&["grace"]))
    );
}

/// A substring shorter than a trigram (read by id) and a longer one (through the index) find
/// the same users on every page; the short one's count stops one match past the page asked
/// (that page, and whether another follows), the long one's is exact.
async fn search_short_and_long_substrings_agree(store: Store) {
    for i in 0..30 {
        // Every third user holds "xq9" in the username; every user holds "xq" in the email.
        let username = if i % 3 == 0 {
            format!("p{i:02}xq9")
        } else {
            format!("p{i:02}x")
        };
        create_named(&store, &username, &format!("m{i:02}xq@example.com")).await;
    }
    for offset in [0, 4, 8, 40] {
        let short = search(&store, None, Some("q9"), None, offset, 4).await;
        let long = search(&store, None, Some("XQ9"), None, offset, 4).await;
        assert_eq!(short.1, long.1, "offset {offset}");
        assert_eq!(long.0, 10, "offset {offset}");
    }
    let long = search(&store, None, Some("xq9"), None, 0, 4).await;
    assert_eq!(long.1, ["p00xq9", "p03xq9", "p06xq9", "p09xq9"]);
    // Short: one past the page while more follow; exact from a short last page; exact past
    // the end too (the count then reaches every match).
    let short = |offset| search(&store, None, Some("q9"), None, offset, 4);
    assert_eq!(short(0).await.0, 5);
    assert_eq!(short(4).await.0, 9);
    assert_eq!(
        search(&store, None, Some("q9"), None, 8, 4).await,
        (10, vec!["p24xq9".to_owned(), "p27xq9".to_owned()])
    );
    assert_eq!(short(40).await.0, 10);
    assert_eq!(search(&store, None, None, Some("xq@"), 0, 5).await.0, 30);
    assert_eq!(search(&store, None, None, Some("q@"), 0, 5).await.0, 6);
    assert_eq!(search(&store, None, None, Some("q@"), 25, 5).await.0, 30);
}

/// How many suffixes (migration 10) user `id` has in `field` (1 the username, 2 the email).
async fn suffix_rows(store: &Store, id: UserId, field: i64) -> i64 {
    let all = store
        .db
        .ints(
            "SELECT user_id * 1000000 + field * 1000 + count(*) FROM user_suffixes \
             GROUP BY user_id, field",
        )
        .await;
    all.iter()
        .find(|n| **n / 1000 == id * 1000 + field)
        .map_or(0, |n| n % 1000)
}

/// The triggers keep each user's suffixes: one per position of the lower-case name and
/// address with three characters left, cut to 12; rewritten when the name or the address
/// changes, left alone by a login, gone with the user. A substring longer than a suffix is
/// found by its first 12 characters and checked whole.
async fn search_suffixes_follow_the_users(store: Store) {
    let id = create_named(&store, "Aaaaa\u{c9}x", "\u{c9}Mile@Example.com").await;
    let bob = create_named(&store, "bob", "bob@example.com").await;
    assert_eq!(suffix_rows(&store, id, 1).await, 5);
    assert_eq!(suffix_rows(&store, id, 2).await, 15);
    store
        .users()
        .record_login(id, NOW + 1, None)
        .await
        .expect("login");
    assert_eq!(suffix_rows(&store, id, 1).await, 5);
    assert!(
        store
            .users()
            .change_username(id, "a_very_long_username_1")
            .await
            .expect("renamed")
    );
    // 22 characters: 20 suffixes, each its own.
    assert_eq!(suffix_rows(&store, id, 1).await, 20);
    assert_eq!(suffix_rows(&store, id, 2).await, 15);
    let names = |found: &[&str]| found.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        search(&store, None, Some("aaaaa"), None, 0, 20).await,
        (0, names(&[]))
    );
    assert_eq!(
        search(&store, None, Some("VERY_LONG_USERNAME_1"), None, 0, 20).await,
        (1, names(&["a_very_long_username_1"]))
    );
    // The same first 12 characters, then a difference: the whole is checked.
    assert_eq!(
        search(&store, None, Some("very_long_usernamX"), None, 0, 20).await,
        (0, names(&[]))
    );
    store
        .db
        .execute(
            "UPDATE users SET email = $1 WHERE username = 'a_very_long_username_1'",
            "emile@example.org",
        )
        .await;
    assert_eq!(suffix_rows(&store, id, 2).await, 15);
    assert_eq!(
        search(&store, None, None, Some("mile@example.o"), 0, 20).await,
        (1, names(&["a_very_long_username_1"]))
    );
    assert_eq!(
        search(&store, None, None, Some("mile@example.c"), 0, 20).await,
        (0, names(&[]))
    );
    store
        .db
        .execute(
            "DELETE FROM users WHERE username = $1",
            "a_very_long_username_1",
        )
        .await;
    assert_eq!(suffix_rows(&store, id, 1).await, 0);
    assert_eq!(suffix_rows(&store, id, 2).await, 0);
    assert_eq!(suffix_rows(&store, bob, 1).await, 1);
    assert_eq!(suffix_rows(&store, bob, 2).await, 13);
    assert_eq!(
        store.db.ints("SELECT count(*) FROM user_suffixes").await,
        [14]
    );
}

/// A substring whose range holds more than COUNT_CAP entries (a domain, a frequent name) is
/// not read through the index, which would read all of them to sort the page: the search
/// walks `users` by id, finds the same users, and counts one past the page.
async fn search_walks_by_id_for_a_common_substring(store: Store) {
    // 40 distinct suffixes starting with "abc" per address (`abc00abc01...`), 260 users:
    // 10,400 entries.
    let local = (0..40)
        .map(|i| format!("abc{i:02}"))
        .collect::<Vec<_>>()
        .concat();
    for i in 0..260 {
        create_named(&store, &format!("c{i:03}"), &format!("{local}{i:03}@x.io")).await;
    }
    create_named(&store, "other", "other@x.io").await;
    let first: Vec<String> = (0..20).map(|i| format!("c{i:03}")).collect();
    // Walked: the page in id order, the count one past it.
    assert_eq!(
        search(&store, None, None, Some("ABC"), 0, 20).await,
        (21, first.clone())
    );
    assert_eq!(
        search(&store, None, None, Some("abc"), 240, 20).await,
        (260, (240..260).map(|i| format!("c{i:03}")).collect())
    );
    // A narrower substring of the same addresses goes through the index: exact.
    assert_eq!(
        search(&store, None, None, Some("abc00abc01abc"), 0, 20).await,
        (260, first)
    );
    assert_eq!(
        search(&store, None, Some("c16"), Some("abc"), 0, 20).await,
        (10, (160..170).map(|i| format!("c{i:03}")).collect())
    );
}

/// A found user carries what `user_details` shows: the linked providers and whether a second
/// factor is enabled, whichever path the search takes (by id, short or long substrings).
async fn search_finds_what_user_details_shows(store: Store) {
    let ada = create_named(&store, "adalovelace", "ada@example.com").await;
    let grace = create_named(&store, "gracehopper", "grace@example.com").await;
    let identities = store.identities().expect("SQL stores keep identities");
    for (provider, subject) in [("github", "7"), ("google", "g-7")] {
        assert!(
            identities
                .link_identity(
                    ada,
                    NewIdentity {
                        provider: provider.to_owned(),
                        subject: subject.to_owned(),
                        email: None,
                        linked_at: NOW,
                    },
                )
                .await
                .expect("linked")
        );
    }
    let tf = store.two_factor().expect("SQL stores keep second factors");
    assert!(tf.start_totp(ada, "sealed", NOW).await.expect("start"));
    assert!(
        tf.enable_totp(ada, "sealed", &hashes(&["a"]), NOW)
            .await
            .expect("enable")
    );
    let expected = [
        details(&store, ada, NOW).await,
        details(&store, grace, NOW).await,
    ];
    assert_eq!(
        (expected[0].providers.as_slice(), expected[0].two_factor),
        (["github".to_owned(), "google".to_owned()].as_slice(), true)
    );
    assert_eq!(
        (expected[1].providers.len(), expected[1].two_factor),
        (0, false)
    );
    for (id, username, email) in [
        (None, None, Some("example.com")),
        (None, Some("e"), None),
        (Some(ada), None, None),
    ] {
        let page = store
            .admin()
            .search_users(
                &UserSearch {
                    id,
                    username: username.map(str::to_owned),
                    email: email.map(str::to_owned),
                    offset: 0,
                    limit: 20,
                },
                NOW,
            )
            .await
            .expect("search");
        let want = if id.is_some() {
            &expected[..1]
        } else {
            &expected[..]
        };
        assert_eq!(page.users, want, "{id:?} {username:?} {email:?}");
    }
}

async fn blackout_record_is_apart_from_the_cutoff(store: Store) {
    let admin = store.admin();
    assert_eq!(admin.blackout().await.expect("read"), None);
    assert!(!admin.delete_blackout().await.expect("delete"));
    admin.set_blackout(NOW).await.expect("set");
    assert_eq!(admin.blackout().await.expect("read"), Some(NOW));
    admin.set_blackout(NOW + 5).await.expect("set");
    assert_eq!(admin.blackout().await.expect("read"), Some(NOW + 5));
    assert_eq!(store.db.row_counts().await["blackout"], 1);

    // The sessions end by the cut-off, which removing the record leaves as it was.
    store
        .sessions()
        .end_sessions(EndSessions::Everyone { cutoff_ms: NOW_MS }, NOW)
        .await
        .expect("cut-off");
    assert!(admin.delete_blackout().await.expect("delete"));
    assert_eq!(admin.blackout().await.expect("read"), None);
    assert_eq!(
        store.sessions().session_cutoff().await.expect("cut-off"),
        Some(NOW_MS)
    );
}

// ----- schema -----

async fn reconnecting_finds_the_data_migrated_once(store: Store) {
    let alice = register(&store, "alice").await;
    // Either spelling of the PostgreSQL scheme, and MariaDB's of MySQL's.
    let url = store
        .url
        .replacen("postgres://", "postgresql://", 1)
        .replacen("mysql://", "mariadb://", 1);
    let again = crate::connect(&url).await.expect("reopened by URL");
    assert_eq!(
        again.users().user_by_id(alice.id).await.expect("lookup"),
        Some(alice)
    );
    drop(again);
    assert_eq!(
        store
            .db
            .ints("SELECT version FROM _sqlx_migrations ORDER BY version")
            .await,
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    );
}

/// A database of schema version 1 (one row per refresh token): `s1` rotated twice (`r1` at
/// NOW + 10, `r2` at NOW + 20, `r3` current), `s2` opened at NOW + 5 and never rotated, `s3`
/// without a current token (which version 1 never wrote, but a database could hold), `s4`
/// revoked, `s5` with a refresh token that outlives 30 days; and an unused emailed token.
const V1: Seed = Seed {
    migrations: 1,
    sql: "\
        INSERT INTO users (email, username, password_hash, created_at) \
        VALUES ('alice@example.com', 'alice', 'x', 1700000000); \
        INSERT INTO email_tokens (hash, purpose, user_id, email, created_at, expires_at) \
        VALUES ('old-token', 'confirm_email', 1, 'alice@example.com', 1700000000, 1700086400); \
        INSERT INTO sessions (sid, user_id, created_at, expires_at, revoked_at) VALUES \
        ('s1', 1, 1700000000, 1700086400, NULL), ('s2', 1, 1700000005, 1700086400, NULL), \
        ('s3', 1, 1700000000, 1700086400, NULL), ('s4', 1, 1700000000, 1700086400, 1700000003), \
        ('s5', 1, 1700000000, 1703456000, NULL); \
        INSERT INTO refresh_tokens (jti, sid, issued_at, expires_at, rotated_at) VALUES \
        ('r1', 's1', 1700000000, 1700086400, 1700000010), \
        ('r2', 's1', 1700000010, 1700086400, 1700000020), \
        ('r3', 's1', 1700000020, 1700086400, NULL), \
        ('q1', 's2', 1700000005, 1700086400, NULL), \
        ('o1', 's3', 1700000000, 1700086400, 1700000005), \
        ('p1', 's4', 1700000000, 1700086400, NULL), \
        ('l1', 's5', 1700000000, 1703456000, NULL);",
};

/// The sessions of [`V1`] as schema version 2 held them (a session row holds its current
/// token, the tokens it replaced are in `rotated_refresh_tokens`).
const V2: Seed = Seed {
    migrations: 2,
    sql: "\
        INSERT INTO users (email, username, password_hash, created_at) \
        VALUES ('alice@example.com', 'alice', 'x', 1700000000); \
        INSERT INTO email_tokens (hash, purpose, user_id, email, created_at, expires_at) \
        VALUES ('old-token', 'confirm_email', 1, 'alice@example.com', 1700000000, 1700086400); \
        INSERT INTO sessions \
        (sid, user_id, created_at, expires_at, revoked_at, refresh_jti, rotated_at) VALUES \
        ('s1', 1, 1700000000, 1700086400, NULL, 'r3', 1700000020), \
        ('s2', 1, 1700000005, 1700086400, NULL, 'q1', NULL), \
        ('s4', 1, 1700000000, 1700086400, 1700000003, 'p1', NULL), \
        ('s5', 1, 1700000000, 1703456000, NULL, 'l1', NULL); \
        INSERT INTO rotated_refresh_tokens (jti, sid, rotated_at) VALUES \
        ('r1', 's1', 1700000010), ('r2', 's1', 1700000020);",
};

async fn upgrades_a_version_1_database(store: Store) {
    upgraded_sessions_keep_working(&store).await;
}

async fn upgrades_a_version_2_database(store: Store) {
    upgraded_sessions_keep_working(&store).await;
}

/// After the upgrade, the sessions of [`V1`] and [`V2`] behave as they did: current tokens
/// rotate, the token replaced last keeps its grace period, older ones are replays; each got a
/// public id, its opening to the millisecond and an absolute expiry 30 days after its login.
async fn upgraded_sessions_keep_working(store: &Store) {
    let alice = user(store, 1).await;
    assert_eq!(
        alice,
        User {
            id: 1,
            email: "alice@example.com".to_owned(),
            username: "alice".to_owned(),
            password_hash: Some("x".to_owned()),
            password_changed_at: None,
            active: true,
            confirmed: false,
            permissions: Vec::new(),
            created_at: NOW,
            last_login: None,
        }
    );

    let listed = listing(store, 1, NOW + 25).await;
    let public_ids: HashSet<&str> = listed.iter().map(|s| s.public_id.as_str()).collect();
    assert_eq!(public_ids.len(), 3, "{public_ids:?}");
    for id in &public_ids {
        assert!(
            id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
            "{id}"
        );
    }
    let expected: Vec<SessionInfo> = [
        ("s2", NOW + 5, None),
        ("s1", NOW, Some(NOW + 20)),
        ("s5", NOW, None),
    ]
    .into_iter()
    .zip(&listed)
    .map(|((sid, opened, rotated_at), got)| SessionInfo {
        sid: sid.to_owned(),
        public_id: got.public_id.clone(),
        created_at_ms: opened * 1000,
        rotated_at,
        login_ip: String::new(),
        login_user_agent: String::new(),
        last_ip: None,
        last_user_agent: None,
    })
    .collect();
    assert_eq!(listed, expected);
    // 30 days after the login, however long the refresh token would have lived.
    for (sid, expires_at, absolute) in [
        ("s1", NOW + DAY, NOW + LIFETIME),
        ("s2", NOW + DAY, NOW + 5 + LIFETIME),
        ("s5", NOW + LIFETIME, NOW + LIFETIME),
    ] {
        let db = &store.db;
        assert_eq!(
            db.int("SELECT expires_at FROM sessions WHERE sid = $1", sid)
                .await,
            Some(expires_at),
            "{sid}"
        );
        assert_eq!(
            db.int(
                "SELECT absolute_expires_at FROM sessions WHERE sid = $1",
                sid
            )
            .await,
            Some(absolute),
            "{sid}"
        );
    }

    // The token replaced last is within its grace period; the one before is a replay.
    assert_eq!(
        rotate(store, rotation("s1", "r2", "x1", NOW + 25)).await,
        RotationOutcome::RecentlyRotated
    );
    assert_eq!(
        rotate(store, rotation("s1", "r1", "x2", NOW + 25)).await,
        RotationOutcome::Replayed
    );
    // The current token rotates, up to the absolute expiry.
    let far = RefreshRotation {
        next_expires_at: NOW + 60 * DAY,
        ..rotation("s1", "r3", "r4", NOW + 30)
    };
    assert_eq!(
        rotate(store, far).await,
        rotated(NOW_MS, NOW + LIFETIME, NOW + LIFETIME)
    );
    assert_eq!(
        rotate(store, rotation("s1", "r3", "x3", NOW + 31)).await,
        RotationOutcome::RecentlyRotated
    );
    assert_eq!(
        rotate(store, rotation("s1", "r2", "x4", NOW + 31)).await,
        RotationOutcome::Replayed
    );
    assert_eq!(
        rotate(store, rotation("s2", "q1", "q2", NOW + 30)).await,
        rotated((NOW + 5) * 1000, NOW + 230, NOW + 5 + LIFETIME)
    );
    assert_eq!(
        rotate(store, rotation("s5", "l1", "l2", NOW + 30)).await,
        rotated(NOW_MS, NOW + 230, NOW + LIFETIME)
    );
    // A revoked session stays ended; one without a current token is gone.
    assert_eq!(
        rotate(store, rotation("s4", "p1", "p2", NOW + 30)).await,
        RotationOutcome::Invalid
    );
    assert_eq!(
        rotate(store, rotation("s3", "o1", "o2", NOW + 30)).await,
        RotationOutcome::Invalid
    );
    assert_eq!(
        store.db.texts("SELECT sid FROM sessions").await,
        ["s1", "s2", "s4", "s5"]
    );

    // The tables of refresh tokens are gone; the cut-off and the leases have theirs.
    let tables = store.db.snapshot().await;
    for gone in ["refresh_tokens", "rotated_refresh_tokens"] {
        assert!(!tables.contains_key(gone), "{gone}");
    }
    for new in ["session_cutoff", "leases", "blackout"] {
        assert_eq!(tables.get(new).map(Vec::len), Some(0), "{new}");
    }
    assert_eq!(
        store
            .db
            .ints("SELECT version FROM _sqlx_migrations ORDER BY version")
            .await,
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    );

    // The emailed token, bound to no state, still works.
    assert_eq!(
        find(store, "old-token", TokenPurpose::ConfirmEmail, NOW + 40).await,
        Some(EmailToken {
            user_id: 1,
            email: "alice@example.com".to_owned(),
            state: String::new(),
            created_at: NOW,
            expires_at: NOW + DAY,
        })
    );
    assert!(redeem(store, confirming("old-token", &alice, NOW + 40, &[])).await);
    assert!(user(store, 1).await.confirmed);

    // New sessions open beside the old ones.
    open_session(store, &session("s6", 1, "n1", NOW_MS + 50_000, NOW + DAY)).await;
    assert_eq!(live(store, 1, NOW + 50).await, ["s6", "s2", "s1", "s5"]);
}

/// Users as schema version 3 stored them, emails as typed (the domain lower-cased): 1 with
/// a decomposed local part and a Unicode domain, and a confirmation token bound to that
/// address; 2 with the ASCII form of that domain; 3 with the Unicode form of 2's address (two
/// accounts for one mailbox); 4 plain ASCII; 5 no valid address by today's rules.
const V3: Seed = Seed {
    migrations: 3,
    sql: "\
        INSERT INTO users (email, username, password_hash, created_at) VALUES \
        ('jose\u{301}@b\u{fc}cher.example', 'jose', 'x', 1700000000), \
        ('ada@xn--bcher-kva.example', 'ada', 'x', 1700000000), \
        ('ADA@b\u{fc}cher.example', 'ada2', 'x', 1700000000), \
        ('plain@example.com', 'plain', 'x', 1700000000), \
        ('odd@under_sc\u{f6}re.example', 'odd', 'x', 1700000000); \
        INSERT INTO email_tokens (hash, purpose, user_id, email, created_at, expires_at) \
        VALUES ('jose-token', 'confirm_email', 1, 'jose\u{301}@b\u{fc}cher.example', \
        1700000000, 1700086400);",
};

async fn upgrades_rewrite_emails_into_one_form(store: Store) {
    let emails = |store: Store| async move {
        let mut emails = Vec::new();
        for id in 1..=5 {
            emails.push(user(&store, id).await.email);
        }
        emails
    };
    let upgraded = [
        "jos\u{e9}@xn--bcher-kva.example",
        "ada@xn--bcher-kva.example",
        // Its new form is account 2's: left as it was, still apart from it.
        "ADA@b\u{fc}cher.example",
        "plain@example.com",
        "odd@under_sc\u{f6}re.example",
    ];
    assert_eq!(emails(store.clone()).await, upgraded);
    // Found by its address in the stored form, however it was typed at login.
    let jose = store
        .users()
        .user_by_email("jos\u{e9}@xn--bcher-kva.example")
        .await
        .expect("lookup")
        .expect("found");
    assert_eq!(jose.id, 1);
    // The token mailed to the old form is bound to the new one, so it still confirms.
    assert_eq!(
        find(&store, "jose-token", TokenPurpose::ConfirmEmail, NOW + 40)
            .await
            .map(|t| t.email),
        Some(jose.email.clone())
    );
    assert!(redeem(&store, confirming("jose-token", &jose, NOW + 40, &[])).await);
    // The list is done; opening again changes nothing.
    assert_eq!(
        store
            .db
            .ints("SELECT user_id FROM email_forms_pending")
            .await,
        Vec::<i64>::new()
    );
    let again = crate::connect(&store.url).await.expect("reopened");
    drop(again);
    assert_eq!(emails(store.clone()).await, upgraded);
    assert_eq!(
        store
            .db
            .ints("SELECT version FROM _sqlx_migrations ORDER BY version")
            .await,
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    );
}

/// Users as schema version 8 stored them: before MySQL's trigram table (migration 9) and
/// every backend's suffixes (migration 10), which their backfills fill.
const V8: Seed = Seed {
    migrations: 8,
    sql: "\
        INSERT INTO users (email, username, password_hash, created_at) VALUES \
        ('ada@example.com', 'AdaLovelace', 'x', 1700000000), \
        ('grace@example.org', 'gracehopper', 'x', 1700000000), \
        ('lovelace.fan@example.net', 'Fan', 'x', 1700000000);",
};

async fn search_finds_users_stored_before_its_index(store: Store) {
    let names = |found: &[&str]| found.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        search(&store, None, Some("lovelace"), None, 0, 20).await,
        (1, names(&["AdaLovelace"]))
    );
    assert_eq!(
        search(&store, None, None, Some("LOVELACE"), 0, 20).await,
        (1, names(&["Fan"]))
    );
    assert_eq!(
        search(&store, None, Some("love"), Some("example.org"), 0, 20).await,
        (0, names(&[]))
    );
    assert_eq!(
        search(&store, None, Some("hop"), Some("example.org"), 0, 20).await,
        (1, names(&["gracehopper"]))
    );
    // Registered after the migration: the triggers' rows sit beside the backfill's.
    create_named(&store, "lovelace2", "l2@example.com").await;
    assert_eq!(
        search(&store, None, Some("LOVELACE"), None, 0, 20).await,
        (2, names(&["AdaLovelace", "lovelace2"]))
    );
    // Backfilled by migration 10: the 9 suffixes of `adalovelace` and the 13 of
    // `ada@example.com`, each once.
    assert_eq!(suffix_rows(&store, 1, 1).await, 9);
    assert_eq!(suffix_rows(&store, 1, 2).await, 13);
}

// ----- backends -----

#[tokio::test]
async fn connect_refuses_unknown_schemes_without_leaking_the_url() {
    let err = crate::connect("mssql://user:secret@localhost/db")
        .await
        .err()
        .expect("refused");
    assert!(
        matches!(&err, crate::Error::UnsupportedScheme(s) if s == "mssql"),
        "{err:?}"
    );
    assert!(!err.to_string().contains("secret"));
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use std::sync::Arc;

    use authx_core::store::Repo as _;

    use sqlx::AssertSqlSafe;

    use super::{Db, Seed, Store, Teardown, TestDb, register};
    use crate::SqliteStore;

    /// A database file in a temporary directory, upgraded from `seed` when given.
    pub(super) async fn open(seed: Option<Seed>) -> TestDb {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}", dir.path().join("authx.db").display());
        if let Some(seed) = seed {
            let options = SqliteStore::connect_options(&url).expect("options");
            let pool = sqlx::SqlitePool::connect_with(options)
                .await
                .expect("opened");
            crate::migrator(&crate::sqlite::MIGRATIONS[..seed.migrations])
                .run(&pool)
                .await
                .expect("older schema");
            sqlx::raw_sql(seed.sql)
                .execute(&pool)
                .await
                .expect("seeded");
            pool.close().await;
        }
        let store = SqliteStore::connect(&url).await.expect("sqlite opened");
        TestDb {
            store: Store {
                db: Db::Sqlite(store.pool().clone()),
                repo: Arc::new(store),
                url,
            },
            teardown: Teardown::Sqlite(dir),
        }
    }

    #[tokio::test]
    async fn connect_tunes_and_migrates_once() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite:{}", dir.path().join("authx.db").display());
        let first = SqliteStore::connect(&url).await.expect("opened");
        register(&first, "alice").await;
        // A second open finds its migrations applied and the data there.
        let second = SqliteStore::connect(&url).await.expect("reopened");
        let alice = second
            .users()
            .user_by_username("alice")
            .await
            .expect("lookup");
        assert!(alice.is_some());

        let pool = second.pool();
        let journal_mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(pool)
            .await
            .expect("pragma");
        assert_eq!(journal_mode, "wal");
        for (pragma, expected) in [
            ("PRAGMA synchronous", 1), // NORMAL
            ("PRAGMA foreign_keys", 1),
            ("PRAGMA busy_timeout", 5000),
            ("PRAGMA wal_autocheckpoint", 10_000), // a backstop: the checkpointer does it
        ] {
            let value: i64 = sqlx::query_scalar(pragma)
                .fetch_one(pool)
                .await
                .expect("pragma");
            assert_eq!(value, expected, "{pragma}");
        }
        assert!(pool.options().get_max_connections() > 1);
        // Connections are handed out without a ping (a round trip to their thread).
        assert!(!pool.options().get_test_before_acquire());
    }

    /// Longer than two of the checkpointer's periods (500 ms).
    const CHECKPOINT_WAIT: std::time::Duration = std::time::Duration::from_millis(1200);

    /// The store's checkpointer copies what commits wrote to the WAL back into the database
    /// file without any commit doing it (SQLite's own checkpoint waits for 10,000 pages), and
    /// stops with the store.
    #[tokio::test]
    async fn the_wal_is_checkpointed_in_the_background() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let file = dir.path().join("authx.db");
        let store = SqliteStore::connect(&format!("sqlite:{}", file.display()))
            .await
            .expect("opened");
        let pool = store.pool().clone();
        // What the database file alone holds: a copy of it without its WAL.
        let in_the_file = |name: &'static str| {
            let copy = dir.path().join(format!("copy-{name}.db"));
            std::fs::copy(&file, &copy).expect("copied");
            let url = format!("sqlite:{}", copy.display());
            async move {
                let copy = sqlx::SqlitePool::connect(&url).await.expect("copy opened");
                let found: Option<i64> =
                    sqlx::query_scalar("SELECT 1 FROM users WHERE lower(username) = ?")
                        .bind(name)
                        .fetch_optional(&copy)
                        .await
                        .expect("read the copy");
                copy.close().await;
                found.is_some()
            }
        };
        // Wait for the first checkpoint (of the migrations) to be done.
        tokio::time::sleep(CHECKPOINT_WAIT).await;
        register(&store, "alice").await;
        assert!(!in_the_file("alice").await, "in the WAL only, at first");
        tokio::time::sleep(CHECKPOINT_WAIT).await;
        assert!(in_the_file("alice").await, "checkpointed by the background");

        // Dropped with its last clone: what is written afterwards stays in the WAL.
        drop(store);
        tokio::task::yield_now().await;
        let store = SqliteStore::with_pool(pool);
        register(&store, "bob").await;
        tokio::time::sleep(CHECKPOINT_WAIT).await;
        assert!(
            !in_the_file("bob").await,
            "no checkpointer after the store is gone"
        );
    }

    /// Each of the janitor's statements reads one range of one index (SQLite's plans do not
    /// follow statistics, but an OR of three conditions would be three of them).
    #[tokio::test]
    async fn purges_read_one_index_range() {
        let db = open(None).await;
        super::run(db, |store| async move {
            let Db::Sqlite(pool) = &store.db else {
                unreachable!()
            };
            let sql = &<sqlx::Sqlite as crate::dialect::Dialect>::SQL;
            let statements = super::purge_statements(sql);
            for (statement, index) in statements {
                let plan: Vec<String> =
                    sqlx::query(AssertSqlSafe(format!("EXPLAIN QUERY PLAN {statement}")))
                        .bind(super::NOW)
                        .bind(16_i64)
                        .fetch_all(pool)
                        .await
                        .expect("explained")
                        .iter()
                        .map(|row| {
                            use sqlx::Row as _;
                            row.get::<String, _>("detail")
                        })
                        .collect();
                assert!(
                    plan.iter().all(|step| !step.starts_with("SCAN")),
                    "{statement}: {plan:?}"
                );
                let range = format!("USING INDEX {index} (");
                assert!(
                    plan.iter().any(|step| step.contains(&range)),
                    "{statement}: {plan:?}"
                );
                assert!(
                    plan.iter().all(|step| !step.contains("TEMP B-TREE")),
                    "{statement}: {plan:?}"
                );
            }
        })
        .await;
    }

    #[tokio::test]
    async fn in_memory_database_keeps_its_data() {
        let repo = crate::connect("sqlite::memory:").await.expect("opened");
        let alice = register(&*repo, "alice").await;
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        assert_eq!(
            repo.users().user_by_id(alice.id).await.expect("lookup"),
            Some(alice)
        );
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use std::sync::Arc;

    use sqlx::{AssertSqlSafe, Connection as _, PgConnection};

    use super::{Db, Seed, Store, Teardown, TestDb};
    use crate::PostgresStore;

    const URL_VAR: &str = "AUTHX_TEST_POSTGRES_URL";

    /// A database made for one test on the server of `AUTHX_TEST_POSTGRES_URL`.
    pub(super) struct Scratch {
        admin_url: String,
        name: String,
    }

    impl Scratch {
        /// Drops the database, best effort.
        pub(super) async fn drop_database(self) {
            if let Ok(mut admin) = PgConnection::connect(&self.admin_url).await {
                let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
                if let Err(err) = sqlx::raw_sql(AssertSqlSafe(drop)).execute(&mut admin).await {
                    eprintln!("could not drop {}: {err}", self.name);
                }
                let _ = admin.close().await;
            }
        }
    }

    /// `url` with its database replaced by `name`.
    fn with_database(url: &str, name: &str) -> String {
        let (base, query) = url
            .split_once('?')
            .map_or((url, None), |(b, q)| (b, Some(q)));
        let authority = base.find("://").map_or(0, |i| i + 3);
        let path = base[authority..]
            .find('/')
            .map_or(base.len(), |i| authority + i);
        let query = query.map(|q| format!("?{q}")).unwrap_or_default();
        format!("{}/{name}{query}", &base[..path])
    }

    /// A new database on the configured server, upgraded from `seed` when given; `None`
    /// (saying so) when no server is configured.
    pub(super) async fn open(seed: Option<Seed>) -> Option<TestDb> {
        let admin_url = authx_testkit::service_url(URL_VAR)?;
        let name = format!("authx_test_{}", crate::rows::new_claim().expect("random"));
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .expect("server reached");
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("database created");
        let _ = admin.close().await;
        let url = with_database(&admin_url, &name);
        let scratch = Scratch { admin_url, name };
        // Seeded and opened in a task of its own, so the database is dropped if that fails.
        let opening = tokio::spawn(async move {
            if let Some(seed) = seed {
                let pool = sqlx::PgPool::connect(&url).await.expect("opened");
                crate::migrator(&crate::postgres::MIGRATIONS[..seed.migrations])
                    .run(&pool)
                    .await
                    .expect("older schema");
                sqlx::raw_sql(seed.sql)
                    .execute(&pool)
                    .await
                    .expect("seeded");
                pool.close().await;
            }
            let store = PostgresStore::connect(&url).await.expect("postgres opened");
            (store, url)
        })
        .await;
        match opening {
            Ok((store, url)) => Some(TestDb {
                store: Store {
                    db: Db::Postgres(store.pool().clone()),
                    repo: Arc::new(store),
                    url,
                },
                teardown: Teardown::Postgres(scratch),
            }),
            Err(failure) => {
                scratch.drop_database().await;
                std::panic::resume_unwind(failure.into_panic())
            }
        }
    }

    #[tokio::test]
    async fn connections_are_pinged_only_when_idle() {
        let Some(db) = open(None).await else {
            return;
        };
        super::run(db, |store| async move {
            let again = PostgresStore::connect(&store.url).await.expect("reopened");
            assert!(!again.pool().options().get_test_before_acquire());
            again.pool().close().await;
        })
        .await;
    }

    #[test]
    fn database_is_replaced_in_urls() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
        assert_eq!(
            with_database("postgresql://h/db?sslmode=disable", "x"),
            "postgresql://h/x?sslmode=disable"
        );
    }
}

// ----- second factor -----

fn hashes(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

async fn two_factor_enrolment_codes_and_disable(store: Store) {
    let tf = store.two_factor().expect("SQL stores keep second factors");
    let alice = register(&store, "alice").await;
    assert_eq!(tf.two_factor(alice.id).await.expect("read"), None);
    // Pending enrolments replace each other; the confirmation names the secret it checked.
    assert!(
        tf.start_totp(alice.id, "sealed-1", NOW)
            .await
            .expect("start")
    );
    assert!(
        tf.start_totp(alice.id, "sealed-2", NOW + 1)
            .await
            .expect("start")
    );
    assert!(
        !tf.enable_totp(alice.id, "sealed-1", &hashes(&["a", "b"]), NOW + 2)
            .await
            .expect("enable")
    );
    assert!(
        tf.enable_totp(alice.id, "sealed-2", &hashes(&["a", "b", "c"]), NOW + 2)
            .await
            .expect("enable")
    );
    let record = tf
        .two_factor(alice.id)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(
        (
            record.sealed_secret.as_str(),
            record.enabled,
            record.recovery_codes_left
        ),
        ("sealed-2", true, 3)
    );
    assert!(details(&store, alice.id, NOW + 3).await.two_factor);
    // Enabled: a new enrolment writes nothing, a second confirmation neither.
    assert!(
        !tf.start_totp(alice.id, "sealed-3", NOW + 3)
            .await
            .expect("start")
    );
    assert!(
        !tf.enable_totp(alice.id, "sealed-2", &hashes(&["x"]), NOW + 3)
            .await
            .expect("enable")
    );
    // Recovery codes: each once, only the user's own.
    let bob = register(&store, "bob").await;
    assert!(
        !tf.use_recovery_code(bob.id, "a", NOW + 4)
            .await
            .expect("use")
    );
    assert!(
        tf.use_recovery_code(alice.id, "a", NOW + 4)
            .await
            .expect("use")
    );
    assert!(
        !tf.use_recovery_code(alice.id, "a", NOW + 5)
            .await
            .expect("use")
    );
    assert_eq!(
        tf.two_factor(alice.id)
            .await
            .expect("read")
            .expect("stored")
            .recovery_codes_left,
        2
    );
    // Replaced: the old codes are void.
    assert!(
        tf.replace_recovery_codes(alice.id, &hashes(&["d"]), NOW + 6)
            .await
            .expect("replace")
    );
    assert!(
        !tf.use_recovery_code(alice.id, "b", NOW + 6)
            .await
            .expect("use")
    );
    assert!(
        !tf.replace_recovery_codes(bob.id, &hashes(&["e"]), NOW + 6)
            .await
            .expect("replace")
    );
    // Resealed only over the secret as read.
    assert!(
        !tf.reseal_secret(alice.id, "sealed-1", "sealed-9")
            .await
            .expect("reseal")
    );
    assert!(
        tf.reseal_secret(alice.id, "sealed-2", "sealed-4")
            .await
            .expect("reseal")
    );
    // Disabled: nothing left.
    assert!(tf.disable_two_factor(alice.id).await.expect("disable"));
    assert!(!tf.disable_two_factor(alice.id).await.expect("disable"));
    assert_eq!(tf.two_factor(alice.id).await.expect("read"), None);
    assert!(
        !tf.use_recovery_code(alice.id, "d", NOW + 7)
            .await
            .expect("use")
    );
    assert!(!details(&store, alice.id, NOW + 7).await.two_factor);
}

async fn concurrent_uses_of_a_recovery_code_have_one_winner(store: Store) {
    let alice = register(&store, "alice").await;
    let tf = store.two_factor().expect("SQL stores keep second factors");
    assert!(tf.start_totp(alice.id, "s", NOW).await.expect("start"));
    assert!(
        tf.enable_totp(alice.id, "s", &hashes(&["code"]), NOW)
            .await
            .expect("enable")
    );
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let store = store.clone();
        tasks.spawn(async move {
            store
                .two_factor()
                .expect("kept")
                .use_recovery_code(alice.id, "code", NOW + 1)
                .await
                .expect("use")
        });
    }
    let mut won = 0;
    while let Some(used) = tasks.join_next().await {
        if used.expect("join") {
            won += 1;
        }
    }
    assert_eq!(won, 1);
}

#[cfg(feature = "mysql")]
mod mysql {
    use std::sync::Arc;

    use authx_core::store::Repo as _;
    use sqlx::{AssertSqlSafe, Connection as _, MySqlConnection};

    use authx_core::store::Purge;

    use super::{Db, Seed, Store, Teardown, TestDb, UserSearch, register};
    use crate::MySqlStore;

    const URL_VAR: &str = "AUTHX_TEST_MYSQL_URL";

    /// A database made for one test on the server of `AUTHX_TEST_MYSQL_URL`.
    pub(super) struct Scratch {
        admin_url: String,
        name: String,
    }

    impl Scratch {
        /// Drops the database, best effort.
        pub(super) async fn drop_database(self) {
            if let Ok(mut admin) = MySqlConnection::connect(&self.admin_url).await {
                let drop = format!("DROP DATABASE IF EXISTS `{}`", self.name);
                if let Err(err) = sqlx::raw_sql(AssertSqlSafe(drop)).execute(&mut admin).await {
                    eprintln!("could not drop {}: {err}", self.name);
                }
                let _ = admin.close().await;
            }
        }
    }

    /// `url` with its database replaced by `name`.
    fn with_database(url: &str, name: &str) -> String {
        let (base, query) = url
            .split_once('?')
            .map_or((url, None), |(b, q)| (b, Some(q)));
        let authority = base.find("://").map_or(0, |i| i + 3);
        let path = base[authority..]
            .find('/')
            .map_or(base.len(), |i| authority + i);
        let query = query.map(|q| format!("?{q}")).unwrap_or_default();
        format!("{}/{name}{query}", &base[..path])
    }

    /// A new database on the configured server, upgraded from `seed` when given; `None`
    /// (saying so) when no server is configured.
    pub(super) async fn open(seed: Option<Seed>) -> Option<TestDb> {
        let admin_url = authx_testkit::service_url(URL_VAR)?;
        let name = format!("authx_test_{}", crate::rows::new_claim().expect("random"));
        let mut admin = MySqlConnection::connect(&admin_url)
            .await
            .expect("server reached");
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE `{name}`")))
            .execute(&mut admin)
            .await
            .expect("database created");
        let _ = admin.close().await;
        let url = with_database(&admin_url, &name);
        let scratch = Scratch { admin_url, name };
        // Seeded and opened in a task of its own, so the database is dropped if that fails.
        let opening = tokio::spawn(async move {
            if let Some(seed) = seed {
                let pool = MySqlStore::pool_options()
                    .connect(&url)
                    .await
                    .expect("opened");
                crate::mysql::migrate::run(&pool, &crate::mysql::MIGRATIONS[..seed.migrations])
                    .await
                    .expect("older schema");
                sqlx::raw_sql(seed.sql)
                    .execute(&pool)
                    .await
                    .expect("seeded");
                pool.close().await;
            }
            let store = MySqlStore::connect(&url).await.expect("mysql opened");
            (store, url)
        })
        .await;
        match opening {
            Ok((store, url)) => Some(TestDb {
                store: Store {
                    db: Db::MySql(store.pool().clone()),
                    repo: Arc::new(store),
                    url,
                },
                teardown: Teardown::MySql(scratch),
            }),
            Err(failure) => {
                scratch.drop_database().await;
                std::panic::resume_unwind(failure.into_panic())
            }
        }
    }

    #[tokio::test]
    async fn connections_read_committed_exactly() {
        let Some(db) = open(None).await else {
            return;
        };
        super::run(db, |store| async move {
            let again = MySqlStore::connect(&store.url).await.expect("reopened");
            assert!(!again.pool().options().get_test_before_acquire());
            let isolation: String =
                sqlx::query_scalar("SELECT CAST(@@SESSION.tx_isolation AS CHAR)")
                    .fetch_one(again.pool())
                    .await
                    .or(
                        sqlx::query_scalar("SELECT CAST(@@SESSION.transaction_isolation AS CHAR)")
                            .fetch_one(again.pool())
                            .await,
                    )
                    .expect("isolation");
            assert_eq!(isolation, "READ-COMMITTED");
            // Stored text compares exactly; emails and usernames without regard to case, not
            // to accents.
            register(&again, "alice").await;
            let users = again.users();
            assert!(
                users
                    .user_by_username("ALICE")
                    .await
                    .expect("lookup")
                    .is_some()
            );
            assert!(
                users
                    .user_by_username("\u{e1}lice")
                    .await
                    .expect("lookup")
                    .is_none()
            );
            assert!(
                users
                    .user_by_email("ALICE@example.com")
                    .await
                    .expect("lookup")
                    .is_some()
            );
            again.pool().close().await;
        })
        .await;
    }

    /// A migration cut off after some of its statements resumes where it stopped, even when
    /// the last DDL statement ran but was not recorded.
    #[tokio::test]
    async fn an_interrupted_migration_resumes() {
        let Some(db) = open(None).await else {
            return;
        };
        super::run(db, |store| async move {
            let Db::MySql(pool) = &store.db else {
                unreachable!()
            };
            // As if migration 4 had stopped after its ALTER, before recording it.
            for sql in [
                "DROP TABLE blackout",
                "DELETE FROM _sqlx_migrations WHERE version >= 4",
            ] {
                sqlx::raw_sql(sql).execute(pool).await.expect(sql);
            }
            let again = MySqlStore::connect(&store.url).await.expect("resumed");
            assert_eq!(
                store
                    .db
                    .ints("SELECT version FROM _sqlx_migrations ORDER BY version")
                    .await,
                [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
            );
            assert_eq!(
                store
                    .db
                    .ints("SELECT step FROM authx_migration_steps")
                    .await,
                Vec::<i64>::new()
            );
            assert!(store.db.snapshot().await.contains_key("blackout"));
            again.pool().close().await;
        })
        .await;
    }

    /// Inserts users `u0000` to `u0999` (`m0000@example.com` ...), then runs `then`.
    async fn seed_users(pool: &sqlx::MySqlPool, then: &str) {
        let users = "INSERT INTO users (email, username, created_at) \
             WITH RECURSIVE n (i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 999) \
             SELECT CONCAT('m', LPAD(i, 4, '0'), '@example.com'), \
             CONCAT('u', LPAD(i, 4, '0')), 1700000000 FROM n";
        for statement in [users, then] {
            sqlx::raw_sql(AssertSqlSafe(statement.to_owned()))
                .execute(pool)
                .await
                .expect("seeded");
        }
    }

    /// A search by a substring of three characters or more reads a range of the suffixes and
    /// then `users` by primary key, never every user.
    #[tokio::test]
    async fn searches_read_users_through_their_suffixes() {
        let Some(db) = open(None).await else {
            return;
        };
        super::run(db, |store| async move {
            let Db::MySql(pool) = &store.db else {
                unreachable!()
            };
            seed_users(pool, "ANALYZE TABLE users, user_suffixes").await;
            for (username, email) in [
                (Some("0042"), None),
                (None, Some("m0042@exa")),
                (Some("u00"), Some("example")),
            ] {
                let search = UserSearch {
                    id: None,
                    username: username.map(str::to_owned),
                    email: email.map(str::to_owned),
                    offset: 0,
                    limit: 20,
                };
                let sql = &<sqlx::MySql as crate::dialect::Dialect>::SQL.search;
                let ranges = crate::search::ranges(&search);
                let built = sql.build(&search, ranges.first());
                let (page, _) = crate::bind::positional(&built.page);
                let mut explain =
                    sqlx::query(AssertSqlSafe(format!("EXPLAIN {page}"))).bind(super::NOW);
                for arg in &built.args {
                    explain = match arg {
                        crate::search::Arg::Int(value) => explain.bind(*value),
                        crate::search::Arg::Text(value) => explain.bind(value.clone()),
                    };
                }
                let plan: Vec<(String, String)> = explain
                    .bind(20_i64)
                    .bind(0_i64)
                    .fetch_all(pool)
                    .await
                    .expect("explained")
                    .iter()
                    .map(|row| {
                        use sqlx::Row as _;
                        (
                            row.get::<Option<String>, _>("table").unwrap_or_default(),
                            row.get::<Option<String>, _>("type").unwrap_or_default(),
                        )
                    })
                    .collect();
                let access = |table: &str| {
                    plan.iter()
                        .find(|(t, _)| t == table)
                        .map(|(_, access)| access.as_str())
                };
                assert_eq!(access("users"), Some("eq_ref"), "{search:?}: {plan:?}");
                assert_eq!(
                    access("user_suffixes"),
                    Some("range"),
                    "{search:?}: {plan:?}"
                );
                // The derived table is the range's few users, materialized; nothing else is
                // read whole.
                assert!(
                    plan.iter()
                        .filter(|(table, _)| !table.starts_with("<derived"))
                        .all(|(_, access)| access != "ALL" && access != "index"),
                    "{search:?}: {plan:?}"
                );
                let found = store
                    .admin()
                    .search_users(&search, super::NOW)
                    .await
                    .expect("searched");
                assert!(found.total >= 1, "{search:?}");
            }
        })
        .await;
    }

    /// Each of the janitor's statements reads one range of one index, whatever the table
    /// holds. With every session dead, the one condition with OR over three indexes it
    /// replaced was a scan, and with fresh statistics a union of the three ranges, read whole
    /// and sorted for every batch of 16 (a million sessions took hours).
    #[tokio::test]
    async fn purges_read_one_index_range() {
        let Some(db) = open(None).await else {
            return;
        };
        super::run(db, |store| async move {
            let Db::MySql(pool) = &store.db else {
                unreachable!()
            };
            // Every session expired, half of them ended; every token expired, half used.
            seed_users(
                pool,
                "INSERT INTO sessions (sid, public_id, user_id, created_at_ms, expires_at, \
                 absolute_expires_at, refresh_jti, login_ip, login_user_agent, ended_at) \
                 SELECT md5(CONCAT('s', id)), md5(CONCAT('p', id)), id, 1000, 10, 10, \
                 md5(CONCAT('j', id)), '', '', CASE WHEN id % 2 = 0 THEN 5 END FROM users; \
                 INSERT INTO email_tokens (hash, purpose, user_id, email, created_at, \
                 expires_at, used_at) SELECT md5(CONCAT('t', id)), 'confirm', id, email, 1, 10, \
                 CASE WHEN id % 2 = 0 THEN 5 END FROM users; \
                 ANALYZE TABLE sessions, email_tokens",
            )
            .await;
            let sql = &<sqlx::MySql as crate::dialect::Dialect>::SQL;
            let statements = super::purge_statements(sql);
            for (statement, index) in statements {
                let (statement, _) = crate::bind::positional(statement);
                let plan: Vec<(String, String)> =
                    sqlx::query(AssertSqlSafe(format!("EXPLAIN {statement}")))
                        .bind(super::NOW * 1000)
                        .bind(16_i64)
                        .fetch_all(pool)
                        .await
                        .expect("explained")
                        .iter()
                        .map(|row| {
                            use sqlx::Row as _;
                            (
                                row.get::<Option<String>, _>("type").unwrap_or_default(),
                                row.get::<Option<String>, _>("key").unwrap_or_default(),
                            )
                        })
                        .collect();
                // `range`, or `index` where the range is the whole index: either way the
                // one index, in its order, up to the limit.
                assert!(
                    matches!(
                        &plan[..],
                        [(access, key)] if (access == "range" || access == "index") && key == index
                    ),
                    "{statement}: {plan:?}"
                );
            }
            // And they delete what they should, the limit shared between the kinds.
            let repo = &store.repo;
            let purge = |what| async move { super::purge(&**repo, what, super::NOW, 600).await };
            assert_eq!(purge(Purge::Sessions).await, 600);
            assert_eq!(purge(Purge::Sessions).await, 400);
            assert_eq!(purge(Purge::EmailTokens).await, 600);
            assert_eq!(purge(Purge::EmailTokens).await, 400);
        })
        .await;
    }

    #[test]
    fn database_is_replaced_in_urls() {
        assert_eq!(
            with_database("mysql://root@127.0.0.1:3306/test", "x"),
            "mysql://root@127.0.0.1:3306/x"
        );
        assert_eq!(with_database("mysql://u@h", "x"), "mysql://u@h/x");
    }
}
