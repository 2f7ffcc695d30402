//! Storage traits: users, login sessions with their refresh tokens, emailed tokens and the mail
//! outbox.
//!
//! Each method is one unit of work that a backend makes atomic (a transaction or a single
//! statement), so the service never leaves anything half-written. The traits are object-safe
//! and held as `Arc<dyn Repo>`; `authx-sqlx` implements them for SQLite and PostgreSQL.

use async_trait::async_trait;

use crate::clock::Timestamp;
use crate::error::BoxError;
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
    /// The argon2id PHC string; `None` for accounts without a password (social login, later).
    pub password_hash: Option<String>,
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
    /// The argon2id PHC string.
    pub password_hash: String,
    /// Creation time.
    pub created_at: Timestamp,
}

/// What an emailed token is for. Tokens of every purpose share one table and one mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenPurpose {
    /// Confirms the address it was mailed to.
    ConfirmEmail,
}

impl TokenPurpose {
    /// The purpose as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ConfirmEmail => "confirm_email",
        }
    }
}

/// An emailed token to store. Only the SHA-256 of the token is ever stored.
#[derive(Debug, Clone)]
pub struct NewEmailToken {
    /// Lower-case hex SHA-256 of the token that is mailed.
    pub hash: String,
    /// What it is for.
    pub purpose: TokenPurpose,
    /// The address it is mailed to and bound to.
    pub email: String,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it stops working.
    pub expires_at: Timestamp,
}

/// A login session, opened at register or login, with its first refresh token.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The session id (`sid` claim), random.
    pub sid: String,
    /// Whose session.
    pub user_id: UserId,
    /// The `jti` of the first refresh token.
    pub refresh_jti: String,
    /// When it opened.
    pub created_at: Timestamp,
    /// When its refresh token expires.
    pub expires_at: Timestamp,
}

/// A request to swap a refresh token for its successor.
#[derive(Debug, Clone)]
pub struct RefreshRotation {
    /// The session the token belongs to.
    pub sid: String,
    /// The `jti` of the token presented.
    pub presented_jti: String,
    /// The `jti` of the token that replaces it.
    pub next_jti: String,
    /// Now.
    pub now: Timestamp,
    /// When the new token expires.
    pub next_expires_at: Timestamp,
    /// A token rotated at most this many seconds ago is refused without revoking the session
    /// (concurrent tabs); an older one revokes the session (a replay).
    pub grace_seconds: i64,
}

/// The result of a [`RefreshRotation`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationOutcome {
    /// The presented token was current; the next one is now current.
    Rotated,
    /// The token was rotated within the grace period: refused, session kept.
    RecentlyRotated,
    /// The token was rotated before the grace period: the session is now revoked.
    Replayed,
    /// Unknown token or session, revoked or expired session.
    Invalid,
}

/// A mail claimed from the outbox for delivery.
#[derive(Debug, Clone)]
pub struct OutboxMail {
    /// Its id in the outbox.
    pub id: i64,
    /// The claim this worker holds; marking sent or rescheduling requires it.
    pub claim: String,
    /// Delivery attempts made before this one.
    pub attempts: u32,
    /// The mail.
    pub mail: Mail,
}

/// Which unique field a conflicting write collided on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UniqueField {
    /// The email (case-insensitive).
    Email,
    /// The username (case-insensitive).
    Username,
}

/// A storage failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A unique constraint refused the write.
    #[error("unique constraint on {0:?}")]
    Conflict(UniqueField),
    /// The backend failed or is unreachable.
    #[error("storage unavailable")]
    Unavailable(#[source] BoxError),
}

impl StoreError {
    /// Wraps a backend error.
    pub fn unavailable(source: impl Into<BoxError>) -> Self {
        Self::Unavailable(source.into())
    }
}

/// Result of storage calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// Users.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// The user with this id.
    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>>;
    /// The user with this email, compared without regard to case.
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>>;
    /// The user with this username, compared without regard to case.
    async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>>;
    /// Creates a user (unconfirmed, active, no permissions) together with its confirmation
    /// token and the queued confirmation mail, in one transaction.
    ///
    /// Fails with [`StoreError::Conflict`] when the email or username is taken.
    async fn create_user(
        &self,
        user: NewUser,
        confirmation: NewEmailToken,
        mail: Mail,
    ) -> StoreResult<User>;
    /// Renames a user; `Ok(false)` when it does not exist, [`StoreError::Conflict`] when the
    /// name is taken by another user.
    async fn change_username(&self, id: UserId, username: &str) -> StoreResult<bool>;
    /// Records a successful login, and a new password hash when parameters changed.
    async fn record_login(
        &self,
        id: UserId,
        at: Timestamp,
        rehashed: Option<String>,
    ) -> StoreResult<()>;
}

/// Login sessions and their refresh tokens.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Opens a session with its first refresh token.
    async fn create_session(&self, session: NewSession) -> StoreResult<()>;
    /// Atomically checks the presented refresh token and swaps in its successor; of concurrent
    /// rotations of one token exactly one returns [`RotationOutcome::Rotated`].
    async fn rotate_refresh_token(&self, rotation: RefreshRotation)
    -> StoreResult<RotationOutcome>;
    /// Revokes a session: none of its refresh tokens works again. Unknown ids are ignored.
    async fn revoke_session(&self, sid: &str, at: Timestamp) -> StoreResult<()>;
    /// Whether the session is revoked or unknown.
    async fn session_revoked(&self, sid: &str) -> StoreResult<bool>;
}

/// Emailed tokens (hashed, single use, expiring, bound to purpose and address).
#[async_trait]
pub trait EmailTokenStore: Send + Sync {
    /// Stores a token for `user_id` and queues its mail, in one transaction.
    async fn queue_email_token(
        &self,
        user_id: UserId,
        token: NewEmailToken,
        mail: Mail,
    ) -> StoreResult<()>;
    /// Consumes a confirmation token and confirms the user, in one transaction: the token must
    /// exist with purpose `confirm_email`, be unused and unexpired at `now`, and its address must
    /// still be the user's. All the user's confirmation tokens are then used up.
    /// Returns the user confirmed, or `None` when the token does not qualify.
    async fn confirm_email(&self, token_hash: &str, now: Timestamp) -> StoreResult<Option<UserId>>;
}

/// The outbox of mail to deliver, so that no mail is lost.
#[async_trait]
pub trait MailOutbox: Send + Sync {
    /// Claims up to `limit` mails due at `now` (not sent, next attempt due, no live claim) until
    /// `lease_until`; concurrent workers never claim the same mail.
    async fn claim_due_mail(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<OutboxMail>>;
    /// Marks a claimed mail sent.
    async fn mark_mail_sent(&self, id: i64, claim: &str, at: Timestamp) -> StoreResult<()>;
    /// Records a failed attempt, made at `at`, and when to try again; `next_attempt_at = None`
    /// gives up (dated `at`).
    async fn reschedule_mail(
        &self,
        id: i64,
        claim: &str,
        at: Timestamp,
        next_attempt_at: Option<Timestamp>,
        error: &str,
    ) -> StoreResult<()>;
    /// The earliest time a pending mail is due, if any (lets the worker sleep until then).
    async fn next_mail_due(&self) -> StoreResult<Option<Timestamp>>;
}

/// All the storage authx needs, as one object: implemented for every type that implements the
/// four traits.
pub trait Repo: UserStore + SessionStore + EmailTokenStore + MailOutbox {}

impl<T: UserStore + SessionStore + EmailTokenStore + MailOutbox> Repo for T {}
