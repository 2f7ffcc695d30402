//! Users.

use async_trait::async_trait;

use super::{QueuedToken, StoreResult};
use crate::clock::{Millis, Timestamp};

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
    /// parameters changed (which is not a password change).
    async fn record_login(
        &self,
        id: UserId,
        at: Timestamp,
        rehashed: Option<String>,
    ) -> StoreResult<()>;
}
