//! Storage, by capability: [`UserStore`], [`SessionStore`], [`EmailTokenStore`],
//! [`MailOutbox`], [`Maintenance`] and [`AdminStore`], composed into the [`Repo`] the builder
//! takes.
//!
//! Each method is one unit of work that a backend makes atomic (a transaction or a single
//! statement), so the service never leaves anything half-written. Stores report what they
//! found (a replayed refresh token, a token that no longer qualifies); the service decides what
//! follows. The traits are object-safe and held as `Arc<dyn Repo>`; `authx-sqlx` implements
//! them for SQLite and PostgreSQL.
//!
//! Later capabilities are further accessors of [`Repo`] with a default of "not supported"
//! ([`Repo::identities`], for social login, is the first), so a backend that lacks one still
//! compiles and the builder says which feature needs it.

use crate::error::BoxError;

mod admin;
mod email_tokens;
mod identities;
mod maintenance;
mod outbox;
mod sessions;
mod two_factor;
mod users;

pub use admin::{
    AdminStore, BanToggle, BannedUser, NewBan, PermissionChange, UserDetails, UserPage, UserSearch,
};
pub use email_tokens::{
    EmailToken, EmailTokenStore, NewEmailToken, QueuedToken, Redemption, TokenEffect, TokenPurpose,
};
pub use identities::{IdentityStore, NewIdentity, PendingSignIn};
pub use maintenance::{Maintenance, Purge};
pub use outbox::{MailOutbox, OutboxMail};
pub use sessions::{
    EndSessions, NewSession, RefreshReplacement, RefreshRotation, RotatedSession, RotationOutcome,
    SessionInfo, SessionStore,
};
pub use two_factor::{TwoFactorRecord, TwoFactorStore};
pub use users::{NewUser, PasswordChange, Rehash, User, UserId, UserStore};

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

/// All the storage authx needs, one accessor per capability. A backend implements each
/// capability trait and returns itself from every accessor (`fn users(&self) -> &dyn
/// UserStore { self }`); `authx-sqlx` does so for SQLite and PostgreSQL.
pub trait Repo: Send + Sync + 'static {
    /// Users.
    fn users(&self) -> &dyn UserStore;
    /// Login sessions and their refresh tokens.
    fn sessions(&self) -> &dyn SessionStore;
    /// Emailed tokens of every purpose.
    fn email_tokens(&self) -> &dyn EmailTokenStore;
    /// The outbox of mail to deliver.
    fn outbox(&self) -> &dyn MailOutbox;
    /// Clean-up of ended and expired rows, and the lease that keeps it to one instance.
    fn maintenance(&self) -> &dyn Maintenance;
    /// Bans, permission changes, the blackout record, user details and search (the admin and
    /// search routers).
    fn admin(&self) -> &dyn AdminStore;
    /// Second factors (TOTP secrets and recovery codes); `None` when the backend does not
    /// store them, and then the second factor cannot be enabled.
    fn two_factor(&self) -> Option<&dyn TwoFactorStore> {
        None
    }

    /// Social sign-ins under way and linked identities; `None` (the default) when the backend
    /// does not store them, and the builder then refuses social providers.
    fn identities(&self) -> Option<&dyn IdentityStore> {
        None
    }
}

impl<T: Repo + ?Sized> Repo for std::sync::Arc<T> {
    fn users(&self) -> &dyn UserStore {
        (**self).users()
    }
    fn sessions(&self) -> &dyn SessionStore {
        (**self).sessions()
    }
    fn email_tokens(&self) -> &dyn EmailTokenStore {
        (**self).email_tokens()
    }
    fn outbox(&self) -> &dyn MailOutbox {
        (**self).outbox()
    }
    fn maintenance(&self) -> &dyn Maintenance {
        (**self).maintenance()
    }
    fn admin(&self) -> &dyn AdminStore {
        (**self).admin()
    }
    fn two_factor(&self) -> Option<&dyn TwoFactorStore> {
        (**self).two_factor()
    }
    fn identities(&self) -> Option<&dyn IdentityStore> {
        (**self).identities()
    }
}
