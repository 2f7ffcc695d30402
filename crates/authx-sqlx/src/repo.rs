//! The storage traits of [`authx_core::store`], written once for both backends.
//!
//! A backend states what differs ([`Backend`]) and instantiates the rest with [`impl_repo!`]:
//! every statement's bindings, every transaction and the error mapping live here, once.

use authx_core::store::StoreResult;
use sqlx::Transaction;

/// What differs between the backends; the rest is written once in [`impl_repo!`].
pub(crate) trait Backend {
    /// The sqlx database.
    type Database: sqlx::Database;
    /// How the `permissions` column is read (see [`permissions`](Self::permissions)).
    type Permissions;
    /// How the `attempts` column of the outbox is read.
    type Attempts: TryInto<u32>;
    /// The statement that claims due mail: [`claim_due_mail!`](crate::sql::claim_due_mail) with
    /// the backend's way of keeping two workers from claiming the same row.
    const CLAIM_DUE_MAIL: &'static str;

    /// Held by every write, transaction or single statement, from before it takes a
    /// connection until it is done.
    type WriteGuard: Send;

    /// Waits for this store's turn to write (see [`WriteGuard`](Self::WriteGuard)).
    async fn write_turn(&self) -> Self::WriteGuard;

    /// Begins a transaction that writes (every transaction of the store does).
    async fn begin_write(&self) -> StoreResult<Transaction<'static, Self::Database>>;

    /// A user's permissions, from their column.
    fn permissions(column: Self::Permissions) -> StoreResult<Vec<String>>;
}

/// Implements [`UserStore`], [`SessionStore`], [`EmailTokenStore`] and [`MailOutbox`] (hence
/// [`Repo`]) for `$store`, a [`Backend`] whose connection pool is its field `pool`.
///
/// [`UserStore`]: authx_core::store::UserStore
/// [`SessionStore`]: authx_core::store::SessionStore
/// [`EmailTokenStore`]: authx_core::store::EmailTokenStore
/// [`MailOutbox`]: authx_core::store::MailOutbox
/// [`Repo`]: authx_core::store::Repo
macro_rules! impl_repo {
    ($store:ty) => {
        // A block, so that the imports and helpers below stay out of the backend's module.
        const _: () = {
            use ::async_trait::async_trait;
            use ::authx_core::clock::Timestamp;
            use ::authx_core::mail::Mail;
            use ::authx_core::store::{
                EmailTokenStore, MailOutbox, NewEmailToken, NewSession, NewUser, OutboxMail,
                RefreshRotation, RotationOutcome, SessionStore, StoreError, StoreResult,
                TokenPurpose, User, UserId, UserStore,
            };
            use ::sqlx::{query, query_as, query_scalar};

            use $crate::error::store_error;
            use $crate::repo::Backend;
            use $crate::sql::{self, MailRow, UserRow};

            type Connection = <<$store as Backend>::Database as ::sqlx::Database>::Connection;
            type Row = UserRow<<$store as Backend>::Permissions>;

            fn user(row: Row) -> StoreResult<User> {
                sql::user(row, <$store as Backend>::permissions)
            }

            impl $store {
                async fn user_where(
                    &self,
                    sql: &'static str,
                    key: &str,
                ) -> StoreResult<Option<User>> {
                    query_as::<_, Row>(sql)
                        .bind(key)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(store_error)?
                        .map(user)
                        .transpose()
                }
            }

            async fn insert_email_token(
                conn: &mut Connection,
                user_id: UserId,
                token: &NewEmailToken,
            ) -> StoreResult<()> {
                query(sql::INSERT_EMAIL_TOKEN)
                    .bind(&token.hash)
                    .bind(token.purpose.as_str())
                    .bind(user_id)
                    .bind(&token.email)
                    .bind(token.created_at)
                    .bind(token.expires_at)
                    .execute(conn)
                    .await
                    .map_err(store_error)?;
                Ok(())
            }

            async fn insert_mail(
                conn: &mut Connection,
                mail: &Mail,
                now: Timestamp,
            ) -> StoreResult<()> {
                query(sql::INSERT_MAIL)
                    .bind(&mail.to)
                    .bind(&mail.subject)
                    .bind(&mail.text)
                    .bind(&mail.html)
                    .bind(now)
                    .execute(conn)
                    .await
                    .map_err(store_error)?;
                Ok(())
            }

            #[async_trait]
            impl UserStore for $store {
                async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>> {
                    query_as::<_, Row>(sql::USER_BY_ID)
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(store_error)?
                        .map(user)
                        .transpose()
                }

                async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
                    self.user_where(sql::USER_BY_EMAIL, email).await
                }

                async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
                    self.user_where(sql::USER_BY_USERNAME, username).await
                }

                async fn create_user(
                    &self,
                    new: NewUser,
                    confirmation: NewEmailToken,
                    mail: Mail,
                ) -> StoreResult<User> {
                    let _turn = self.write_turn().await;
                    let mut tx = self.begin_write().await?;
                    let row = query_as::<_, Row>(sql::INSERT_USER)
                        .bind(&new.email)
                        .bind(&new.username)
                        .bind(&new.password_hash)
                        .bind(new.created_at)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(store_error)?;
                    let created = user(row)?;
                    insert_email_token(&mut tx, created.id, &confirmation).await?;
                    insert_mail(&mut tx, &mail, new.created_at).await?;
                    tx.commit().await.map_err(store_error)?;
                    Ok(created)
                }

                async fn change_username(&self, id: UserId, username: &str) -> StoreResult<bool> {
                    let _turn = self.write_turn().await;
                    let done = query(sql::CHANGE_USERNAME)
                        .bind(id)
                        .bind(username)
                        .execute(&self.pool)
                        .await
                        .map_err(store_error)?;
                    Ok(done.rows_affected() == 1)
                }

                async fn record_login(
                    &self,
                    id: UserId,
                    at: Timestamp,
                    rehashed: Option<String>,
                ) -> StoreResult<()> {
                    let _turn = self.write_turn().await;
                    query(sql::RECORD_LOGIN)
                        .bind(id)
                        .bind(at)
                        .bind(rehashed)
                        .execute(&self.pool)
                        .await
                        .map_err(store_error)?;
                    Ok(())
                }
            }

            #[async_trait]
            impl SessionStore for $store {
                async fn create_session(&self, session: NewSession) -> StoreResult<()> {
                    let _turn = self.write_turn().await;
                    query(sql::INSERT_SESSION)
                        .bind(&session.sid)
                        .bind(session.user_id)
                        .bind(session.created_at)
                        .bind(session.expires_at)
                        .bind(&session.refresh_jti)
                        .execute(&self.pool)
                        .await
                        .map_err(store_error)?;
                    Ok(())
                }

                async fn rotate_refresh_token(
                    &self,
                    rotation: RefreshRotation,
                ) -> StoreResult<RotationOutcome> {
                    // One conditional UPDATE: a concurrent rotation of the same token waits (on
                    // PostgreSQL for the row lock, on SQLite for the write lock), then re-checks
                    // `refresh_jti` and matches nothing. A trigger records the replaced token.
                    let rotated = {
                        let _turn = self.write_turn().await;
                        query(sql::ROTATE_REFRESH_TOKEN)
                            .bind(&rotation.sid)
                            .bind(&rotation.presented_jti)
                            .bind(rotation.now)
                            .bind(&rotation.next_jti)
                            .bind(rotation.next_expires_at)
                            .execute(&self.pool)
                            .await
                            .map_err(store_error)?
                            .rows_affected()
                            == 1
                    };
                    if rotated {
                        return Ok(RotationOutcome::Rotated);
                    }
                    // Refused: a rotated token's record never changes, so reading it after the
                    // UPDATE tells why, and a replay's revocation (idempotent) needs no
                    // transaction around both.
                    let state = query_as(sql::REFRESH_TOKEN_STATE)
                        .bind(&rotation.sid)
                        .bind(&rotation.presented_jti)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(store_error)?;
                    let outcome = sql::refused_rotation(state, &rotation);
                    if outcome == RotationOutcome::Replayed {
                        self.revoke_session(&rotation.sid, rotation.now).await?;
                    }
                    Ok(outcome)
                }

                async fn revoke_session(&self, sid: &str, at: Timestamp) -> StoreResult<()> {
                    let _turn = self.write_turn().await;
                    query(sql::REVOKE_SESSION)
                        .bind(sid)
                        .bind(at)
                        .execute(&self.pool)
                        .await
                        .map_err(store_error)?;
                    Ok(())
                }

                async fn session_revoked(&self, sid: &str) -> StoreResult<bool> {
                    let revoked_at: Option<Option<i64>> = query_scalar(sql::SESSION_REVOKED_AT)
                        .bind(sid)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(store_error)?;
                    Ok(revoked_at.is_none_or(|at| at.is_some()))
                }
            }

            #[async_trait]
            impl EmailTokenStore for $store {
                async fn queue_email_token(
                    &self,
                    user_id: UserId,
                    token: NewEmailToken,
                    mail: Mail,
                ) -> StoreResult<()> {
                    let _turn = self.write_turn().await;
                    let mut tx = self.begin_write().await?;
                    insert_email_token(&mut tx, user_id, &token).await?;
                    insert_mail(&mut tx, &mail, token.created_at).await?;
                    tx.commit().await.map_err(store_error)
                }

                async fn confirm_email(
                    &self,
                    token_hash: &str,
                    now: Timestamp,
                ) -> StoreResult<Option<UserId>> {
                    let _turn = self.write_turn().await;
                    let purpose = TokenPurpose::ConfirmEmail.as_str();
                    // Starts with the conditional UPDATE: a concurrent use of the same token
                    // waits (for the row lock, or SQLite's write lock), then finds it used.
                    let mut tx = self.begin_write().await?;
                    let user_id: Option<UserId> = query_scalar(sql::USE_CONFIRMATION_TOKEN)
                        .bind(token_hash)
                        .bind(now)
                        .bind(purpose)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(store_error)?;
                    let Some(user_id) = user_id else {
                        return Ok(None);
                    };
                    query(sql::CONFIRM_USER)
                        .bind(user_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(store_error)?;
                    query(sql::USE_USER_TOKENS)
                        .bind(user_id)
                        .bind(now)
                        .bind(purpose)
                        .execute(&mut *tx)
                        .await
                        .map_err(store_error)?;
                    tx.commit().await.map_err(store_error)?;
                    Ok(Some(user_id))
                }
            }

            #[async_trait]
            impl MailOutbox for $store {
                async fn claim_due_mail(
                    &self,
                    now: Timestamp,
                    lease_until: Timestamp,
                    limit: u32,
                ) -> StoreResult<Vec<OutboxMail>> {
                    let _turn = self.write_turn().await;
                    if limit == 0 {
                        return Ok(Vec::new());
                    }
                    let claim = sql::new_claim().map_err(StoreError::unavailable)?;
                    let rows: Vec<MailRow<<$store as Backend>::Attempts>> =
                        query_as(<$store as Backend>::CLAIM_DUE_MAIL)
                            .bind(now)
                            .bind(lease_until)
                            .bind(&claim)
                            .bind(i64::from(limit))
                            .fetch_all(&self.pool)
                            .await
                            .map_err(store_error)?;
                    Ok(sql::claimed_mail(rows, &claim))
                }

                async fn mark_mail_sent(
                    &self,
                    id: i64,
                    claim: &str,
                    at: Timestamp,
                ) -> StoreResult<()> {
                    let _turn = self.write_turn().await;
                    query(sql::MARK_MAIL_SENT)
                        .bind(id)
                        .bind(claim)
                        .bind(at)
                        .execute(&self.pool)
                        .await
                        .map_err(store_error)?;
                    Ok(())
                }

                async fn reschedule_mail(
                    &self,
                    id: i64,
                    claim: &str,
                    at: Timestamp,
                    next_attempt_at: Option<Timestamp>,
                    error: &str,
                ) -> StoreResult<()> {
                    let _turn = self.write_turn().await;
                    let (statement, time) = match next_attempt_at {
                        Some(next) => (sql::RESCHEDULE_MAIL, next),
                        None => (sql::GIVE_UP_MAIL, at),
                    };
                    query(statement)
                        .bind(id)
                        .bind(claim)
                        .bind(sql::stored_error(error))
                        .bind(time)
                        .execute(&self.pool)
                        .await
                        .map_err(store_error)?;
                    Ok(())
                }

                async fn next_mail_due(&self) -> StoreResult<Option<Timestamp>> {
                    query_scalar(sql::NEXT_MAIL_DUE)
                        .fetch_one(&self.pool)
                        .await
                        .map_err(store_error)
                }
            }
        };
    };
}
pub(crate) use impl_repo;
