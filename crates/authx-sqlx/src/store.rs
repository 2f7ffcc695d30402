//! [`SqlStore`]: the storage traits of [`authx_core::store`], written once for every
//! [`Dialect`]. Each method is one statement or one transaction of the dialect's
//! [`Statements`](crate::dialect::Statements); rustdoc lists them under the trait impls.
//!
//! Every impl below states the same sqlx capabilities: an executor, argument binding of the
//! types the statements take (`i64`, `bool`, `&str`, their `Option`s) and decoding of the
//! columns the rows hold. Every dialect's database meets them; they are written out because Rust
//! does not carry such bounds along by itself.

use std::sync::Arc;

use async_trait::async_trait;
use authx_core::clock::{Millis, Timestamp};
use authx_core::mail::Mail;
use authx_core::store::{
    AdminStore, BanToggle, BannedUser, EmailToken, EmailTokenStore, EndSessions, IdentityStore,
    MailOutbox, Maintenance, NewBan, NewIdentity, NewSession, NewUser, OutboxMail, PasswordChange,
    PendingSignIn, PermissionChange, Purge, QueuedToken, Redemption, RefreshReplacement,
    RefreshRotation, Rehash, Repo, RotatedSession, RotationOutcome, SessionInfo, SessionStore,
    StoreError, StoreResult, TokenEffect, TokenPurpose, TwoFactorRecord, TwoFactorStore, User,
    UserDetails, UserId, UserPage, UserSearch, UserStore,
};
use sqlx::{
    ColumnIndex, Database, Decode, Encode, Executor, FromRow, IntoArguments, Pool, Transaction,
    Type,
};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::bind::{Query, QueryAs, built_query_as, query, query_as};
use crate::dialect::{Dialect, NoReturning};
use crate::error::{is_deadlock, store_error};
use crate::rows::{
    BanStateRow, BannedUserRow, BlackoutRow, CountRow, CutoffRow, DueRow, EmailTokenRow, MailRow,
    Permissions, PermissionsRow, RefreshStateRow, RotatedRow, SessionInfoRow, SignInRow,
    TwoFactorRow, UserDetailsRow, UserRow, new_claim, stored_error,
};
use crate::search::{Arg, COUNT_CAP, COUNT_RANGE, Range, ranges};

/// authx storage in a SQL database of dialect `DB` (`sqlx::Sqlite`, `sqlx::Postgres`,
/// `sqlx::MySql`); use the aliases [`SqliteStore`](crate::SqliteStore),
/// [`PostgresStore`](crate::PostgresStore) and [`MySqlStore`](crate::MySqlStore).
pub struct SqlStore<DB: Database> {
    pub(crate) pool: Pool<DB>,
    /// Whose turn it is to write, for dialects that queue writes; shared by clones.
    writer: Option<Arc<Mutex<()>>>,
    /// The store's background task (SQLite's checkpointer), stopped when the last clone of
    /// the store is dropped.
    pub(crate) background: Option<Arc<Background>>,
}

/// A task that lives as long as the store that started it.
#[derive(Debug)]
pub(crate) struct Background(pub(crate) tokio::task::AbortHandle);

impl Drop for Background {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<DB: Database> Clone for SqlStore<DB> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            writer: self.writer.clone(),
            background: self.background.clone(),
        }
    }
}

impl<DB: Database> std::fmt::Debug for SqlStore<DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("database", &DB::NAME)
            .finish_non_exhaustive()
    }
}

impl<DB: Database> SqlStore<DB> {
    /// The connection pool.
    pub fn pool(&self) -> &Pool<DB> {
        &self.pool
    }
}

impl<DB: Dialect> SqlStore<DB> {
    /// Wraps `pool`, without migrating it.
    pub(crate) fn with_pool(pool: Pool<DB>) -> Self {
        Self {
            pool,
            writer: DB::QUEUE_WRITES.then(|| Arc::new(Mutex::new(()))),
            background: None,
        }
    }

    /// Waits for this store's turn to write, where the dialect queues writes; held by every
    /// write, transaction or single statement, until it is done.
    pub(crate) async fn write_turn(&self) -> Option<OwnedMutexGuard<()>> {
        match &self.writer {
            Some(writer) => Some(writer.clone().lock_owned().await),
            None => None,
        }
    }

    /// Begins a transaction that writes (every transaction of the store does).
    pub(crate) async fn begin_write(&self) -> StoreResult<Transaction<'static, DB>> {
        match DB::BEGIN_WRITE {
            Some(begin) => self.pool.begin_with(begin).await,
            None => self.pool.begin().await,
        }
        .map_err(store_error)
    }
}

/// Runs a statement, returning the rows it changed.
macro_rules! changed {
    ($query:expr, $executor:expr) => {
        $query
            .execute($executor)
            .await
            .map(|done| DB::rows_affected(&done))
            .map_err(store_error)
    };
}

/// How often an operation the database failed to break a deadlock (or a serialization
/// conflict) is tried again before its error is returned (`503`).
const DEADLOCK_RETRIES: u32 = 5;

/// Awaits `$attempt` (an `async` block, made anew for each try) again while it fails because
/// the database chose it as the victim of a deadlock: the database rolled its transaction back
/// whole, so trying again is what the caller would do. A short random pause first keeps two
/// victims from meeting again.
macro_rules! retrying {
    ($attempt:expr) => {{
        let mut tries = 0;
        loop {
            match $attempt.await {
                Err(error) if tries < DEADLOCK_RETRIES && is_deadlock(&error) => {
                    tries += 1;
                    deadlock_pause(tries).await;
                }
                outcome => break outcome,
            }
        }
    }};
}

/// The pause before try `tries + 1`: up to 10 ms per try so far, at random.
async fn deadlock_pause(tries: u32) {
    let mut byte = [0_u8; 1];
    let jitter = getrandom::fill(&mut byte).map_or(5, |()| u64::from(byte[0] % 10) + 1);
    tokio::time::sleep(std::time::Duration::from_millis(jitter * u64::from(tries))).await;
}

/// Runs `write` in `tx` and reads the row it changed: its `RETURNING`, or, for a dialect
/// without, the row `read_back` reads in the same transaction, if the write changed one.
async fn returning_in<'p, DB, O>(
    tx: &mut Transaction<'static, DB>,
    write: Query<'p>,
    read_back: impl FnOnce(&'static NoReturning) -> QueryAs<'p, O>,
) -> StoreResult<Option<O>>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    O: for<'r> FromRow<'r, DB::Row> + Send + Unpin,
{
    match DB::SQL.no_returning {
        None => write
            .returning()
            .fetch_optional(&mut **tx)
            .await
            .map_err(store_error),
        Some(statements) => {
            if changed!(write, &mut **tx)? == 0 {
                return Ok(None);
            }
            read_back(statements)
                .fetch_optional(&mut **tx)
                .await
                .map_err(store_error)
        }
    }
}

/// Inserts `new` in `tx` and reads the row back (with `RETURNING`, or after the write where
/// the dialect has none).
async fn insert_user<DB>(tx: &mut Transaction<'static, DB>, new: &NewUser) -> StoreResult<User>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    UserRow: for<'r> FromRow<'r, DB::Row>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> bool: Encode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
{
    let insert = query(DB::SQL.insert_user)
        .bind(new.email.as_str())
        .bind(new.username.as_str())
        .bind(new.password_hash.as_deref())
        .bind(new.confirmed)
        .bind(new.created_at);
    let row: Option<UserRow> = returning_in(tx, insert, |sql| query_as(sql.inserted_user)).await?;
    row.map(User::from)
        .ok_or_else(|| StoreError::unavailable("the inserted user could not be read back"))
}

async fn insert_email_token<DB>(
    tx: &mut Transaction<'static, DB>,
    user_id: UserId,
    token: &authx_core::store::NewEmailToken,
) -> StoreResult<()>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
{
    query(DB::SQL.insert_email_token)
        .bind(token.hash.as_str())
        .bind(token.purpose.as_str())
        .bind(user_id)
        .bind(token.email.as_str())
        .bind(token.state.as_str())
        .bind(token.created_at)
        .bind(token.expires_at)
        .execute(&mut **tx)
        .await
        .map_err(store_error)?;
    Ok(())
}

async fn insert_mail<DB>(
    tx: &mut Transaction<'static, DB>,
    mail: &Mail,
    now: Timestamp,
) -> StoreResult<()>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
{
    query(DB::SQL.insert_mail)
        .bind(mail.to.as_str())
        .bind(mail.subject.as_str())
        .bind(mail.text.as_str())
        .bind(mail.html.as_str())
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(store_error)?;
    Ok(())
}

/// The capabilities every statement of the store needs (see the module's documentation).
macro_rules! store_bounds {
    ($($item:item)*) => {
        // The bounds name the crate's own column type, as the trait impls below do.
        #[allow(private_bounds)]
        impl<DB> SqlStore<DB>
        where
            DB: Dialect,
            for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
            DB::Arguments: IntoArguments<DB>,
            for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
            for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
            for<'q> bool: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
            for<'q> &'q str: Encode<'q, DB> + Type<DB> + ColumnIndex<DB::Row>,
            for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
            for<'q> String: Decode<'q, DB> + Type<DB>,
            for<'q> Permissions: Decode<'q, DB> + Type<DB>,
        {
            $($item)*
        }
    };
}

store_bounds! {
    /// Runs `write` on its own and reads the row it changed: its `RETURNING`, or, for a
    /// dialect without, `read_back` in one transaction with it.
    async fn returning<'p, O>(
        &self,
        write: Query<'p>,
        read_back: impl FnOnce(&'static NoReturning) -> QueryAs<'p, O>,
    ) -> StoreResult<Option<O>>
    where
        O: for<'r> FromRow<'r, DB::Row> + Send + Unpin,
    {
        if DB::SQL.no_returning.is_none() {
            return write
                .returning()
                .fetch_optional(&self.pool)
                .await
                .map_err(store_error);
        }
        let mut tx = self.begin_write().await?;
        let row = returning_in(&mut tx, write, read_back).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(row)
    }

    /// A permission change as a dialect without `RETURNING` makes it: the user's row read
    /// under its lock, the list changed here, written back, in one transaction, so concurrent
    /// changes queue on the row and none is lost.
    async fn change_permissions_locked(
        &self,
        statements: &'static NoReturning,
        id: UserId,
        change: &PermissionChange,
    ) -> StoreResult<Option<Vec<String>>> {
        let mut tx = self.begin_write().await?;
        let row: Option<PermissionsRow> = query_as(statements.lock_permissions)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(store_error)?;
        let Some(PermissionsRow { permissions: Permissions(mut held) }) = row else {
            return Ok(None);
        };
        match change {
            PermissionChange::Add(name) => {
                if !held.contains(name) {
                    held.push(name.clone());
                }
            }
            PermissionChange::Remove(name) => held.retain(|p| p != name),
            PermissionChange::Clear => held.clear(),
        }
        let json = serde_json::to_string(&held).map_err(StoreError::unavailable)?;
        changed!(
            query(statements.set_permissions).bind(id).bind(json.as_str()),
            &mut *tx
        )?;
        tx.commit().await.map_err(store_error)?;
        Ok(Some(held))
    }
}

#[async_trait]
impl<DB> UserStore for SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'q> bool: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB> + ColumnIndex<DB::Row>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> String: Decode<'q, DB> + Type<DB>,
    for<'q> Permissions: Decode<'q, DB> + Type<DB>,
{
    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>> {
        let row: Option<UserRow> = query_as(DB::SQL.user_by_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(row.map(User::from))
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let row: Option<UserRow> = query_as(DB::SQL.user_by_email)
            .bind(email)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(row.map(User::from))
    }

    async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        let row: Option<UserRow> = query_as(DB::SQL.user_by_username)
            .bind(username)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(row.map(User::from))
    }

    async fn create_user(&self, new: NewUser, token: Option<QueuedToken>) -> StoreResult<User> {
        retrying!(async {
            let _turn = self.write_turn().await;
            let mut tx = self.begin_write().await?;
            let created = insert_user(&mut tx, &new).await?;
            if let Some(QueuedToken { token, mail }) = &token {
                insert_email_token(&mut tx, created.id, token).await?;
                insert_mail(&mut tx, mail, new.created_at).await?;
            }
            tx.commit().await.map_err(store_error)?;
            Ok(created)
        })
    }

    async fn change_username(&self, id: UserId, username: &str) -> StoreResult<bool> {
        retrying!(async {
            let _turn = self.write_turn().await;
            let changed = changed!(
                query(DB::SQL.change_username).bind(id).bind(username),
                &self.pool
            )?;
            Ok(changed == 1)
        })
    }

    async fn record_login(
        &self,
        id: UserId,
        at: Timestamp,
        rehash: Option<Rehash>,
    ) -> StoreResult<()> {
        retrying!(async {
            let _turn = self.write_turn().await;
            changed!(
                query(DB::SQL.record_login)
                    .bind(id)
                    .bind(at)
                    .bind(rehash.as_ref().map(|r| r.new_hash.as_str()))
                    .bind(rehash.as_ref().map(|r| r.verified.as_str())),
                &self.pool
            )?;
            Ok(())
        })
    }

    async fn change_password(&self, change: PasswordChange) -> StoreResult<bool> {
        retrying!(async {
            let _turn = self.write_turn().await;
            // The conditional UPDATE settles races: a concurrent change of the same stored hash
            // waits for the row (or the write lock), then finds the hash changed and matches
            // nothing.
            let mut tx = self.begin_write().await?;
            let changed = changed!(
                query(DB::SQL.change_password)
                    .bind(change.user_id)
                    .bind(change.new_hash.as_str())
                    .bind(change.changed_at)
                    .bind(change.current_hash.as_deref()),
                &mut *tx
            )?;
            if changed != 1 {
                return Ok(false);
            }
            if let Some(notice) = &change.notice {
                insert_mail(&mut tx, notice, change.now).await?;
            }
            tx.commit().await.map_err(store_error)?;
            Ok(true)
        })
    }
}

#[async_trait]
impl<DB> SessionStore for SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'q> bool: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB> + ColumnIndex<DB::Row>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> String: Decode<'q, DB> + Type<DB>,
    for<'q> Permissions: Decode<'q, DB> + Type<DB>,
{
    async fn create_session(&self, s: NewSession) -> StoreResult<()> {
        retrying!(async {
            let _turn = self.write_turn().await;
            changed!(
                query(DB::SQL.insert_session)
                    .bind(s.sid.as_str())
                    .bind(s.public_id.as_str())
                    .bind(s.user_id)
                    .bind(s.created_at_ms)
                    .bind(s.expires_at)
                    .bind(s.absolute_expires_at)
                    .bind(s.refresh_jti.as_str())
                    .bind(s.ip.as_str())
                    .bind(s.user_agent.as_str()),
                &self.pool
            )?;
            Ok(())
        })
    }

    async fn rotate_refresh_token(&self, r: RefreshRotation) -> StoreResult<RotationOutcome> {
        // One conditional UPDATE: a concurrent rotation of the same token waits (for the row
        // lock, or the write lock), then re-checks `refresh_jti` and matches nothing.
        let rotated: Option<RotatedRow> = retrying!(async {
            let _turn = self.write_turn().await;
            let rotate = query(DB::SQL.rotate_refresh_token)
                .bind(r.sid.as_str())
                .bind(r.presented_jti.as_str())
                .bind(r.now)
                .bind(r.next_jti.as_str())
                .bind(r.next_expires_at)
                .bind(r.ip.as_str())
                .bind(r.user_agent.as_str());
            self.returning(rotate, |sql| {
                query_as(sql.rotated_session).bind(r.sid.as_str())
            })
            .await
        })?;
        if let Some(rotated) = rotated {
            return Ok(RotationOutcome::Rotated(rotated.into()));
        }
        // Refused: read why. The service decides what follows (a replay ends the session).
        let state: Option<RefreshStateRow> = query_as(DB::SQL.refresh_token_state)
            .bind(r.sid.as_str())
            .bind(r.now)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(RefreshStateRow::outcome(state, &r))
    }

    async fn replace_refresh_token(
        &self,
        r: RefreshReplacement,
    ) -> StoreResult<Option<RotatedSession>> {
        retrying!(async {
            let _turn = self.write_turn().await;
            let replace = query(DB::SQL.replace_refresh_token)
                .bind(r.sid.as_str())
                .bind(r.user_id)
                .bind(r.next_jti.as_str())
                .bind(r.now)
                .bind(r.next_expires_at)
                .bind(r.ip.as_str())
                .bind(r.user_agent.as_str());
            let replaced: Option<RotatedRow> = self
                .returning(replace, |sql| {
                    query_as(sql.rotated_session).bind(r.sid.as_str())
                })
                .await?;
            Ok(replaced.map(RotatedSession::from))
        })
    }

    async fn live_sessions(
        &self,
        user_id: UserId,
        now: Timestamp,
    ) -> StoreResult<Vec<SessionInfo>> {
        let rows: Vec<SessionInfoRow> = query_as(DB::SQL.live_sessions)
            .bind(user_id)
            .bind(now)
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(rows.into_iter().map(SessionInfo::from).collect())
    }

    async fn end_sessions(&self, which: EndSessions, at: Timestamp) -> StoreResult<u64> {
        retrying!(async {
            let sql = DB::SQL;
            let _turn = self.write_turn().await;
            match &which {
                EndSessions::One { sid } => changed!(
                    query(sql.end_session).bind(sid.as_str()).bind(at),
                    &self.pool
                ),
                EndSessions::Others { user_id, keep_sid } => changed!(
                    query(sql.end_other_sessions)
                        .bind(*user_id)
                        .bind(keep_sid.as_str())
                        .bind(at),
                    &self.pool
                ),
                EndSessions::AllOf { user_id } => changed!(
                    query(sql.end_user_sessions).bind(*user_id).bind(at),
                    &self.pool
                ),
                EndSessions::Everyone { cutoff_ms } => {
                    changed!(query(sql.raise_session_cutoff).bind(*cutoff_ms), &self.pool)?;
                    Ok(0)
                }
            }
        })
    }

    async fn session_cutoff(&self) -> StoreResult<Option<Millis>> {
        let row: Option<CutoffRow> = query_as(DB::SQL.session_cutoff)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(row.map(|r| r.cutoff_ms))
    }
}

#[async_trait]
impl<DB> EmailTokenStore for SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'q> bool: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB> + ColumnIndex<DB::Row>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> String: Decode<'q, DB> + Type<DB>,
    for<'q> Permissions: Decode<'q, DB> + Type<DB>,
{
    async fn queue_email_token(&self, user_id: UserId, queued: QueuedToken) -> StoreResult<()> {
        retrying!(async {
            let _turn = self.write_turn().await;
            let mut tx = self.begin_write().await?;
            insert_email_token(&mut tx, user_id, &queued.token).await?;
            insert_mail(&mut tx, &queued.mail, queued.token.created_at).await?;
            tx.commit().await.map_err(store_error)
        })
    }

    async fn email_token(
        &self,
        hash: &str,
        purpose: TokenPurpose,
        now: Timestamp,
    ) -> StoreResult<Option<EmailToken>> {
        let row: Option<EmailTokenRow> = query_as(DB::SQL.email_token)
            .bind(hash)
            .bind(purpose.as_str())
            .bind(now)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(row.map(EmailToken::from))
    }

    async fn redeem_email_token(&self, r: Redemption) -> StoreResult<bool> {
        retrying!(async {
            let sql = DB::SQL;
            let _turn = self.write_turn().await;
            // The user's row is written first, so concurrent redemptions for one user (of one
            // token or of two) queue on it and never lock tokens in opposite orders. The effect
            // applies only if the user is still as the service checked it; then the token's
            // conditional UPDATE decides: of concurrent redemptions of one token, the first finds
            // it unused, the others find it used and roll their effect back.
            let mut tx = self.begin_write().await?;
            let applied = match &r.effect {
                TokenEffect::ConfirmEmail { grant } => {
                    let confirmed = changed!(
                        query(sql.confirm_user)
                            .bind(r.user_id)
                            .bind(r.email.as_str())
                            .bind(r.password_changed_at),
                        &mut *tx
                    )?;
                    for permission in grant.iter().filter(|_| confirmed == 1) {
                        changed!(
                            query(sql.grant_permission)
                                .bind(r.user_id)
                                .bind(permission.as_str()),
                            &mut *tx
                        )?;
                    }
                    confirmed
                }
                TokenEffect::ResetPassword {
                    password_hash,
                    changed_at,
                } => changed!(
                    query(sql.reset_password)
                        .bind(r.user_id)
                        .bind(r.email.as_str())
                        .bind(r.password_changed_at)
                        .bind(password_hash.as_str())
                        .bind(*changed_at),
                    &mut *tx
                )?,
                _ => 0,
            };
            if applied != 1 {
                return Ok(false);
            }
            let used = changed!(
                query(sql.use_email_token)
                    .bind(r.hash.as_str())
                    .bind(r.purpose.as_str())
                    .bind(r.user_id)
                    .bind(r.now),
                &mut *tx
            )?;
            if used != 1 {
                // Dropping the transaction rolls the effect back.
                return Ok(false);
            }
            changed!(
                query(sql.use_user_email_tokens)
                    .bind(r.user_id)
                    .bind(r.purpose.as_str())
                    .bind(r.now),
                &mut *tx
            )?;
            if let Some(notice) = &r.notice {
                insert_mail(&mut tx, notice, r.now).await?;
            }
            tx.commit().await.map_err(store_error)?;
            Ok(true)
        })
    }
}

#[async_trait]
impl<DB> MailOutbox for SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'q> bool: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB> + ColumnIndex<DB::Row>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> String: Decode<'q, DB> + Type<DB>,
    for<'q> Permissions: Decode<'q, DB> + Type<DB>,
{
    async fn claim_due_mail(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<OutboxMail>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let claim = new_claim().map_err(StoreError::unavailable)?;
        let rows: Vec<MailRow> = retrying!(async {
            let _turn = self.write_turn().await;
            let claiming = query(DB::SQL.claim_due_mail)
                .bind(now)
                .bind(lease_until)
                .bind(claim.as_str())
                .bind(i64::from(limit));
            let Some(statements) = DB::SQL.no_returning else {
                return claiming
                    .returning()
                    .fetch_all(&self.pool)
                    .await
                    .map_err(store_error);
            };
            // The claim is new, so the rows holding it are the ones this UPDATE claimed.
            let mut tx = self.begin_write().await?;
            changed!(claiming, &mut *tx)?;
            let rows = query_as(statements.claimed_mail)
                .bind(claim.as_str())
                .fetch_all(&mut *tx)
                .await
                .map_err(store_error)?;
            tx.commit().await.map_err(store_error)?;
            Ok(rows)
        })?;
        Ok(MailRow::claimed(rows, &claim))
    }

    async fn mark_mail_sent(&self, id: i64, claim: &str, at: Timestamp) -> StoreResult<()> {
        retrying!(async {
            let _turn = self.write_turn().await;
            changed!(
                query(DB::SQL.mark_mail_sent).bind(id).bind(claim).bind(at),
                &self.pool
            )?;
            Ok(())
        })
    }

    async fn reschedule_mail(
        &self,
        id: i64,
        claim: &str,
        at: Timestamp,
        next_attempt_at: Option<Timestamp>,
        error: &str,
    ) -> StoreResult<()> {
        retrying!(async {
            let (statement, time) = match next_attempt_at {
                Some(next) => (DB::SQL.reschedule_mail, next),
                None => (DB::SQL.give_up_mail, at),
            };
            let _turn = self.write_turn().await;
            changed!(
                query(statement)
                    .bind(id)
                    .bind(claim)
                    .bind(stored_error(error))
                    .bind(time),
                &self.pool
            )?;
            Ok(())
        })
    }

    async fn next_mail_due(&self) -> StoreResult<Option<Timestamp>> {
        let row: DueRow = query_as(DB::SQL.next_mail_due)
            .fetch_one(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(row.due)
    }
}

#[async_trait]
impl<DB> Maintenance for SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'q> bool: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB> + ColumnIndex<DB::Row>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> String: Decode<'q, DB> + Type<DB>,
    for<'q> Permissions: Decode<'q, DB> + Type<DB>,
{
    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> StoreResult<bool> {
        retrying!(async {
            let _turn = self.write_turn().await;
            if let Some(statements) = DB::SQL.no_returning {
                changed!(query(statements.ensure_lease).bind(name), &self.pool)?;
            }
            let changed = changed!(
                query(DB::SQL.acquire_lease)
                    .bind(name)
                    .bind(holder)
                    .bind(now)
                    .bind(until),
                &self.pool
            )?;
            Ok(changed == 1)
        })
    }

    async fn purge(&self, what: Purge, now: Timestamp, limit: u32) -> StoreResult<u64> {
        retrying!(async {
            let sql = &DB::SQL;
            let (statements, instant): (&[&'static str], Timestamp) = match what {
                Purge::Sessions => (&sql.purge_sessions, now),
                Purge::EmailTokens => (&sql.purge_email_tokens, now),
                Purge::Mail { before } => (std::slice::from_ref(&sql.purge_mail), before),
                Purge::SignIns => (std::slice::from_ref(&sql.purge_sign_ins), now),
                _ => return Ok(0),
            };
            // Each kind of dead row in turn, the batch's limit shared between them.
            let limit = u64::from(limit);
            let mut deleted = 0;
            for statement in statements {
                if deleted < limit {
                    deleted += self
                        .purge_range(statement, instant, limit - deleted)
                        .await?;
                }
            }
            if what == Purge::Sessions
                && deleted < limit
                && let Some(cutoff_ms) = self.session_cutoff().await?
            {
                let statement = sql.purge_sessions_before_cutoff;
                deleted += self
                    .purge_range(statement, cutoff_ms, limit - deleted)
                    .await?;
            }
            if let Some(after) = sql.after_purge.filter(|_| deleted > 0) {
                changed!(query(after), &self.pool)?;
            }
            Ok(deleted)
        })
    }
}

impl<DB> SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
{
    /// One purge statement (`$1` the instant, `$2` the most rows), in the write turn.
    async fn purge_range(
        &self,
        statement: &'static str,
        instant: i64,
        most: u64,
    ) -> StoreResult<u64> {
        let most = i64::try_from(most).unwrap_or(i64::MAX);
        let _turn = self.write_turn().await;
        changed!(query(statement).bind(instant).bind(most), &self.pool)
    }
}

#[async_trait]
impl<DB> AdminStore for SqlStore<DB>
where
    DB: Dialect + sqlx::database::HasStatementCache,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'q> bool: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB> + ColumnIndex<DB::Row>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> String: Decode<'q, DB> + Type<DB>,
    for<'q> Permissions: Decode<'q, DB> + Type<DB>,
{
    async fn toggle_ban(
        &self,
        id: UserId,
        ban: NewBan,
        now: Timestamp,
    ) -> StoreResult<Option<BanToggle>> {
        // One conditional UPDATE: a concurrent toggle waits for the row (or the write lock),
        // then toggles what this one left.
        let row: Option<BanStateRow> = retrying!(async {
            let _turn = self.write_turn().await;
            let toggle = query(DB::SQL.toggle_ban)
                .bind(id)
                .bind(ban.reason.as_deref())
                .bind(ban.expires_at)
                .bind(now);
            self.returning(toggle, |sql| query_as(sql.ban_state).bind(id))
                .await
        })?;
        Ok(row.map(|r| {
            if r.active {
                BanToggle::Unbanned
            } else {
                BanToggle::Banned
            }
        }))
    }

    async fn lift_expired_ban(&self, id: UserId, now: Timestamp) -> StoreResult<bool> {
        retrying!(async {
            let _turn = self.write_turn().await;
            let lifted = changed!(
                query(DB::SQL.lift_expired_ban).bind(id).bind(now),
                &self.pool
            )?;
            Ok(lifted == 1)
        })
    }

    async fn banned_users(&self, now: Timestamp) -> StoreResult<Vec<BannedUser>> {
        let rows: Vec<BannedUserRow> = query_as(DB::SQL.banned_users)
            .bind(now)
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(rows.into_iter().map(BannedUser::from).collect())
    }

    async fn change_permissions(
        &self,
        id: UserId,
        change: PermissionChange,
    ) -> StoreResult<Option<Vec<String>>> {
        let sql = DB::SQL;
        if let Some(statements) = sql.no_returning {
            return retrying!(self.change_permissions_locked(statements, id, &change));
        }
        // One UPDATE computed from the stored value: concurrent changes queue on the row and
        // each applies to what the previous one left, so none is lost.
        let statement = match &change {
            PermissionChange::Add(name) => {
                query_as(sql.add_permission).bind(id).bind(name.as_str())
            }
            PermissionChange::Remove(name) => {
                query_as(sql.remove_permission).bind(id).bind(name.as_str())
            }
            PermissionChange::Clear => query_as(sql.clear_permissions).bind(id),
        };
        let _turn = self.write_turn().await;
        let row: Option<PermissionsRow> = retrying!(async {
            statement
                .clone()
                .fetch_optional(&self.pool)
                .await
                .map_err(store_error)
        })?;
        Ok(row.map(|r| r.permissions.0))
    }

    async fn user_details(&self, id: UserId, now: Timestamp) -> StoreResult<Option<UserDetails>> {
        let row: Option<UserDetailsRow> = query_as(DB::SQL.user_details)
            .bind(id)
            .bind(now)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(row.map(UserDetails::from))
    }

    async fn search_users(&self, search: &UserSearch, now: Timestamp) -> StoreResult<UserPage> {
        // The narrowest of the substrings' ranges in the index, if one holds at most
        // COUNT_CAP entries; an empty one means no user matches.
        let mut via: Option<(Range, i64)> = None;
        for range in ranges(search) {
            let entries: CountRow = query_as(COUNT_RANGE)
                .bind(range.field)
                .bind(range.from.as_str())
                .bind(range.to.as_str())
                .bind(i64::try_from(COUNT_CAP + 1).unwrap_or(i64::MAX))
                .fetch_one(&self.pool)
                .await
                .map_err(store_error)?;
            if entries.total == 0 {
                return Ok(UserPage {
                    total: 0,
                    users: Vec::new(),
                });
            }
            let fewer = via.as_ref().is_none_or(|(_, best)| entries.total < *best);
            if u64::try_from(entries.total).is_ok_and(|n| n <= COUNT_CAP) && fewer {
                via = Some((range, entries.total));
            }
        }
        let built = DB::SQL
            .search
            .build(search, via.as_ref().map(|(range, _)| range));
        // Planned with its own values (a plan made for any value could not weigh a range of
        // the index against the walk by id): not prepared for reuse, unless the server plans
        // each execution anyway (`Dialect::PLANS_EACH_EXECUTION`).
        let mut page = built_query_as(built.page).bind(now);
        let mut count = built_query_as(built.count);
        for arg in &built.args {
            (page, count) = match arg {
                Arg::Int(value) => (page.bind(*value), count.bind(*value)),
                Arg::Text(value) => (page.bind(value.as_str()), count.bind(value.as_str())),
            };
        }
        let rows: Vec<UserDetailsRow> = page
            .bind(i64::from(search.limit))
            .bind(i64::try_from(search.offset).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        // A short last page holds every match from the offset on: nothing left to count.
        let total = if !rows.is_empty() && rows.len() < search.limit as usize {
            search.offset.saturating_add(rows.len() as u64)
        } else if rows.is_empty() && search.offset == 0 {
            0
        } else {
            let counted: CountRow = count
                .bind(built.cap)
                .fetch_one(&self.pool)
                .await
                .map_err(store_error)?;
            u64::try_from(counted.total).unwrap_or(0)
        };
        Ok(UserPage {
            total,
            users: rows.into_iter().map(UserDetails::from).collect(),
        })
    }

    async fn set_blackout(&self, at: Timestamp) -> StoreResult<()> {
        retrying!(async {
            let _turn = self.write_turn().await;
            changed!(query(DB::SQL.set_blackout).bind(at), &self.pool)?;
            Ok(())
        })
    }

    async fn blackout(&self) -> StoreResult<Option<Timestamp>> {
        let row: Option<BlackoutRow> = query_as(DB::SQL.blackout)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(row.map(|r| r.set_at))
    }

    async fn delete_blackout(&self) -> StoreResult<bool> {
        retrying!(async {
            let _turn = self.write_turn().await;
            let deleted = changed!(query(DB::SQL.delete_blackout), &self.pool)?;
            Ok(deleted == 1)
        })
    }
}

async fn insert_recovery_codes<DB>(
    tx: &mut Transaction<'static, DB>,
    user: UserId,
    hashes: &[String],
) -> StoreResult<()>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
{
    query(DB::SQL.delete_recovery_codes)
        .bind(user)
        .execute(&mut **tx)
        .await
        .map_err(store_error)?;
    for hash in hashes {
        query(DB::SQL.insert_recovery_code)
            .bind(user)
            .bind(hash.as_str())
            .execute(&mut **tx)
            .await
            .map_err(store_error)?;
    }
    Ok(())
}

#[async_trait]
impl<DB> TwoFactorStore for SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB>,
    for<'q> bool: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB> + ColumnIndex<DB::Row>,
    for<'q> Option<&'q str>: Encode<'q, DB>,
    for<'q> String: Decode<'q, DB> + Type<DB>,
    for<'q> Permissions: Decode<'q, DB> + Type<DB>,
{
    async fn two_factor(&self, user: UserId) -> StoreResult<Option<TwoFactorRecord>> {
        let row: Option<TwoFactorRow> = query_as(DB::SQL.two_factor)
            .bind(user)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(row.map(TwoFactorRecord::from))
    }

    async fn start_totp(
        &self,
        user: UserId,
        sealed_secret: &str,
        now: Timestamp,
    ) -> StoreResult<bool> {
        retrying!(async {
            let _turn = self.write_turn().await;
            let Some(statements) = DB::SQL.no_returning else {
                let written = changed!(
                    query(DB::SQL.start_totp)
                        .bind(user)
                        .bind(sealed_secret)
                        .bind(now),
                    &self.pool
                )?;
                return Ok(written == 1);
            };
            // Without a conditional upsert: the pending enrolment goes, then an insert that
            // writes nothing while an enabled one is there, in one transaction.
            let mut tx = self.pool.begin().await.map_err(store_error)?;
            changed!(query(statements.clear_pending_totp).bind(user), &mut *tx)?;
            let written = changed!(
                query(DB::SQL.start_totp)
                    .bind(user)
                    .bind(sealed_secret)
                    .bind(now),
                &mut *tx
            )?;
            tx.commit().await.map_err(store_error)?;
            Ok(written == 1)
        })
    }

    async fn enable_totp(
        &self,
        user: UserId,
        sealed_secret: &str,
        recovery_hashes: &[String],
        now: Timestamp,
    ) -> StoreResult<bool> {
        let _turn = self.write_turn().await;
        // The conditional UPDATE first: a concurrent confirmation (or a newer enrolment)
        // waits for the row, then matches nothing and rolls back.
        let mut tx = self.begin_write().await?;
        let enabled = changed!(
            query(DB::SQL.enable_totp)
                .bind(user)
                .bind(sealed_secret)
                .bind(now),
            &mut *tx
        )?;
        if enabled != 1 {
            return Ok(false);
        }
        insert_recovery_codes(&mut tx, user, recovery_hashes).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(true)
    }

    async fn replace_recovery_codes(
        &self,
        user: UserId,
        recovery_hashes: &[String],
        now: Timestamp,
    ) -> StoreResult<bool> {
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        let touched = changed!(
            query(DB::SQL.touch_recovery_codes).bind(user).bind(now),
            &mut *tx
        )?;
        if touched != 1 {
            return Ok(false);
        }
        insert_recovery_codes(&mut tx, user, recovery_hashes).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(true)
    }

    async fn use_recovery_code(
        &self,
        user: UserId,
        hash: &str,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let _turn = self.write_turn().await;
        let used = changed!(
            query(DB::SQL.use_recovery_code)
                .bind(user)
                .bind(hash)
                .bind(now),
            &self.pool
        )?;
        Ok(used == 1)
    }

    async fn reseal_secret(&self, user: UserId, old: &str, new: &str) -> StoreResult<bool> {
        let _turn = self.write_turn().await;
        let resealed = changed!(
            query(DB::SQL.reseal_secret).bind(user).bind(old).bind(new),
            &self.pool
        )?;
        Ok(resealed == 1)
    }

    async fn disable_two_factor(&self, user: UserId) -> StoreResult<bool> {
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        query(DB::SQL.delete_recovery_codes)
            .bind(user)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        let deleted = changed!(query(DB::SQL.delete_two_factor).bind(user), &mut *tx)?;
        tx.commit().await.map_err(store_error)?;
        Ok(deleted == 1)
    }
}

async fn link_identity<'e, DB, E>(
    executor: E,
    user_id: UserId,
    identity: &NewIdentity,
) -> StoreResult<bool>
where
    DB: Dialect,
    E: Executor<'e, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB>,
{
    let done = query(DB::SQL.link_identity)
        .bind(identity.provider.as_str())
        .bind(identity.subject.as_str())
        .bind(user_id)
        .bind(identity.email.as_deref())
        .bind(identity.linked_at)
        .execute(executor)
        .await
        .map_err(store_error)?;
    Ok(DB::rows_affected(&done) == 1)
}

#[async_trait]
impl<DB> IdentityStore for SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB>,
    for<'q> bool: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB> + ColumnIndex<DB::Row>,
    for<'q> Option<&'q str>: Encode<'q, DB>,
    for<'q> String: Decode<'q, DB> + Type<DB>,
    for<'q> Permissions: Decode<'q, DB> + Type<DB>,
{
    async fn save_sign_in(&self, s: PendingSignIn) -> StoreResult<()> {
        let _turn = self.write_turn().await;
        changed!(
            query(DB::SQL.insert_sign_in)
                .bind(s.state_hash.as_str())
                .bind(s.provider.as_str())
                .bind(s.pkce_verifier.as_str())
                .bind(s.nonce.as_str())
                .bind(s.redirect.as_str())
                .bind(s.expires_at),
            &self.pool
        )?;
        Ok(())
    }

    async fn take_sign_in(
        &self,
        state_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<PendingSignIn>> {
        let row: Option<SignInRow> = retrying!(async {
            let _turn = self.write_turn().await;
            let Some(statements) = DB::SQL.no_returning else {
                return query_as(DB::SQL.take_sign_in)
                    .bind(state_hash)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(store_error);
            };
            // Without `DELETE ... RETURNING`: read the row locked, then delete it; of
            // concurrent callbacks with one state, one deletes it and gets it.
            let mut tx = self.pool.begin().await.map_err(store_error)?;
            let row: Option<SignInRow> = query_as(statements.lock_sign_in)
                .bind(state_hash)
                .fetch_optional(&mut *tx)
                .await
                .map_err(store_error)?;
            let deleted = changed!(query(DB::SQL.take_sign_in).bind(state_hash), &mut *tx)?;
            tx.commit().await.map_err(store_error)?;
            Ok(row.filter(|_| deleted == 1))
        })?;
        // An expired sign-in is deleted all the same, and refused.
        Ok(row.map(PendingSignIn::from).filter(|s| s.expires_at > now))
    }

    async fn user_by_identity(&self, provider: &str, subject: &str) -> StoreResult<Option<User>> {
        let row: Option<UserRow> = query_as(DB::SQL.user_by_identity)
            .bind(provider)
            .bind(subject)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(row.map(User::from))
    }

    async fn link_identity(&self, user_id: UserId, identity: NewIdentity) -> StoreResult<bool> {
        let _turn = self.write_turn().await;
        link_identity(&self.pool, user_id, &identity).await
    }

    async fn create_user_with_identity(
        &self,
        new: NewUser,
        identity: NewIdentity,
    ) -> StoreResult<Option<User>> {
        retrying!(async {
            let _turn = self.write_turn().await;
            let mut tx = self.begin_write().await?;
            let created = insert_user(&mut tx, &new).await?;
            if !link_identity(&mut *tx, created.id, &identity).await? {
                // Dropping the transaction rolls the user back: nothing is written.
                return Ok(None);
            }
            tx.commit().await.map_err(store_error)?;
            Ok(Some(created))
        })
    }
}

impl<DB> Repo for SqlStore<DB>
where
    DB: Dialect,
    Self: UserStore
        + SessionStore
        + EmailTokenStore
        + MailOutbox
        + Maintenance
        + AdminStore
        + TwoFactorStore
        + IdentityStore,
{
    fn users(&self) -> &dyn UserStore {
        self
    }

    fn sessions(&self) -> &dyn SessionStore {
        self
    }

    fn email_tokens(&self) -> &dyn EmailTokenStore {
        self
    }

    fn outbox(&self) -> &dyn MailOutbox {
        self
    }

    fn maintenance(&self) -> &dyn Maintenance {
        self
    }

    fn admin(&self) -> &dyn AdminStore {
        self
    }

    fn two_factor(&self) -> Option<&dyn TwoFactorStore> {
        Some(self)
    }

    fn identities(&self) -> Option<&dyn IdentityStore> {
        Some(self)
    }
}
