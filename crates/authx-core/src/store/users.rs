//! Users.

use async_trait::async_trait;

use super::{QueuedToken, StoreResult};
use crate::clock::{Millis, Timestamp};
use crate::mail::Mail;

/// A user's id.
pub type UserId = i64;

/// A stored user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Its id.
    pub id: UserId,
    /// Its email, domain lower-cased.
    pub email: String,
    /// Its username, as chosen (unique without regard to case).
    pub username: String,
    /// The argon2id PHC string; `None` for accounts without a password (social login).
    pub password_hash: Option<String>,
    /// When the password was last set or changed (not when it was rehashed); `None` when it
    /// never was since registration. Reset tokens issued before it no longer work.
    pub password_changed_at: Option<Millis>,
    /// `false` when banned.
    pub active: bool,
    /// Whether the email is confirmed.
    pub confirmed: bool,
    /// Permission names; `"admin"` makes an admin.
    pub permissions: Vec<String>,
    /// When it registered.
    pub created_at: Timestamp,
    /// When it last logged in.
    pub last_login: Option<Timestamp>,
}

impl User {
    /// Whether the user holds the `admin` permission.
    pub fn is_admin(&self) -> bool {
        self.permissions.iter().any(|p| p == "admin")
    }
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Email, already validated and normalised.
    pub email: String,
    /// Username, already validated and trimmed.
    pub username: String,
    /// The argon2id PHC string; `None` for an account without a password.
    pub password_hash: Option<String>,
    /// Whether the email is confirmed from the start (a provider vouched for it).
    pub confirmed: bool,
    /// Creation time.
    pub created_at: Timestamp,
}

/// A new hash of the same password, with the hashing parameters now configured: written only
/// over the hash it was verified against, so a rehash never undoes a password change that
/// happened meanwhile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rehash {
    /// The stored hash the password was verified against.
    pub verified: String,
    /// The new hash of the same password.
    pub new_hash: String,
}

/// A new password for a user, written only if the stored one is still the one the service
/// checked (the race of two changes at once is settled by the database: one wins).
#[derive(Debug, Clone)]
pub struct PasswordChange {
    /// Whose password.
    pub user_id: UserId,
    /// The stored hash the current password was verified against; `None` when the account
    /// had no password (a first password is set).
    pub current_hash: Option<String>,
    /// The argon2id PHC string of the new password.
    pub new_hash: String,
    /// When the password changed (reset tokens issued before no longer work).
    pub changed_at: Millis,
    /// A mail to queue with it, in the same transaction (the "password changed" notice).
    pub notice: Option<Mail>,
    /// Now (the notice's queueing time).
    pub now: Timestamp,
}

/// Users.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// The user with this id.
    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>>;
    /// The user with this email, compared without regard to case.
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>>;
    /// The user with this username, compared without regard to case.
    async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>>;
    /// Creates a user (active, no permissions), with an emailed token and its queued mail when
    /// given, in one transaction.
    ///
    /// Fails with [`StoreError::Conflict`](super::StoreError::Conflict) when the email or
    /// username is taken.
    async fn create_user(&self, user: NewUser, token: Option<QueuedToken>) -> StoreResult<User>;
    /// Renames a user; `Ok(false)` when it does not exist,
    /// [`StoreError::Conflict`](super::StoreError::Conflict) when the name is taken by another
    /// user.
    async fn change_username(&self, id: UserId, username: &str) -> StoreResult<bool>;
    /// Records a successful login, and a new hash of the same password when the hashing
    /// parameters changed (which is not a password change, so `password_changed_at` stays):
    /// the new hash is written only if the stored one is still [`Rehash::verified`], in the
    /// same statement, while the login time is written either way.
    async fn record_login(
        &self,
        id: UserId,
        at: Timestamp,
        rehash: Option<Rehash>,
    ) -> StoreResult<()>;
    /// Sets a new password and its date in one statement, only if the stored hash is still
    /// [`PasswordChange::current_hash`] (no hash at all for `None`), and queues the notice in
    /// the same transaction. `Ok(false)`, with nothing written, when it is not (another change
    /// won, or the user is gone): of concurrent changes from one stored hash exactly one
    /// returns `true`.
    async fn change_password(&self, change: PasswordChange) -> StoreResult<bool>;
}
