//! The second half of migration 4: stored emails rewritten into the one form authx stores,
//! compares and shows them in ([`Policy::email`]: the local part in NFC, the domain in its
//! IDNA ASCII form). SQL cannot compute that form, so the migration only lists the users whose
//! email may not be in it (`email_forms_pending`); this rewrites each of them in Rust, one user
//! per transaction, and takes it off the list. It runs after every [`migrate`], and finds the
//! list empty once done, so a migration interrupted half-way finishes at the next start.
//!
//! An email that is not a valid address by today's rules is left as it is. One whose new form
//! another account already has (two accounts for one mailbox, which the old comparison let
//! through) is left as it is too, and logged: the unique index keeps the two apart, and that
//! account still logs in by its username.
//!
//! [`migrate`]: crate::SqliteStore::migrate

use authx_core::policy::Policy;
use authx_core::store::{StoreError, StoreResult};
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};

use crate::bind::{query, query_as};
use crate::dialect::Dialect;
use crate::error::{Error, store_error};
use crate::store::SqlStore;

impl<DB> SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> String: Decode<'q, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    /// Rewrites the emails migration 4 listed into their stored form.
    pub(crate) async fn rewrite_pending_emails(&self) -> Result<(), Error> {
        let pending: Vec<(i64, String)> = query_as(DB::SQL.pending_email_forms)
            .fetch_all(&self.pool)
            .await?;
        let policy = Policy::default();
        for (user, email) in pending {
            let rewritten = match policy.email(&email) {
                Ok(normalised) if normalised != email => {
                    self.rewrite_email(user, &email, &normalised).await
                }
                // Already in its form, or not an address by today's rules: left as it is.
                _ => Ok(false),
            };
            match rewritten {
                Ok(true) => {}
                Ok(false) => self.done(user).await?,
                Err(StoreError::Conflict(_)) => {
                    tracing::warn!(
                        user_id = user,
                        "authx: an email kept its old form: another account has its new one"
                    );
                    self.done(user).await?;
                }
                Err(e) => return Err(Error::Rewrite(e)),
            }
        }
        Ok(())
    }

    /// Takes `user` off the list.
    async fn done(&self, user: i64) -> Result<(), Error> {
        let _turn = self.write_turn().await;
        query(DB::SQL.done_email_form)
            .bind(user)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// In one transaction: the user's email, the emailed tokens bound to it, and the user off
    /// the list.
    async fn rewrite_email(&self, user: i64, old: &str, new: &str) -> StoreResult<bool> {
        let _turn = self.write_turn().await;
        let mut tx = self.begin_write().await?;
        for statement in [DB::SQL.rewrite_user_email, DB::SQL.rewrite_token_emails] {
            query(statement)
                .bind(user)
                .bind(old)
                .bind(new)
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
        }
        query(DB::SQL.done_email_form)
            .bind(user)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        Ok(true)
    }
}
