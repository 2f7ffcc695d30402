//! Emailed tokens of every purpose: one table, one issue/consume pair.
//!
//! A token is 256 random bits mailed to the user; only its SHA-256 is stored. It is single use,
//! expires, and is bound to its purpose, its user, the address it was mailed to and, where the
//! purpose needs it, the state it was issued for (a reset token dies when the password
//! changes). The service checks a token with [`EmailTokenStore::email_token`], then redeems it
//! with [`EmailTokenStore::redeem_email_token`], which applies the token's effect in the same
//! transaction and only if nothing it was checked against has changed meanwhile.

use async_trait::async_trait;

use super::{StoreResult, UserId};
use crate::clock::{Millis, Timestamp};
use crate::mail::Mail;

/// What an emailed token is for. A token of one purpose never works for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenPurpose {
    /// Confirms the address it was mailed to.
    ConfirmEmail,
    /// Sets a new password (the password router's `forgot_password`).
    ResetPassword,
}

impl TokenPurpose {
    /// The purpose as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ConfirmEmail => "confirm_email",
            Self::ResetPassword => "reset_password",
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
    /// The state it is bound to, as the service writes it (for a reset token: when the
    /// password last changed); empty when the purpose binds none.
    pub state: String,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it stops working.
    pub expires_at: Timestamp,
}

/// A token with the mail that carries it, written together.
#[derive(Debug, Clone)]
pub struct QueuedToken {
    /// The token.
    pub token: NewEmailToken,
    /// Its mail, queued in the outbox in the same transaction.
    pub mail: Mail,
}

/// A stored token that is unused and unexpired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailToken {
    /// Whose it is.
    pub user_id: UserId,
    /// The address it was mailed to.
    pub email: String,
    /// The state it was issued for (see [`NewEmailToken::state`]).
    pub state: String,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it stops working.
    pub expires_at: Timestamp,
}

/// What redeeming a token does to its user.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenEffect {
    /// Marks the email confirmed and adds `grant` to the permissions (an address listed for
    /// the first admin gets `admin` once it is proven).
    ConfirmEmail {
        /// Permissions to add.
        grant: Vec<String>,
    },
    /// Sets a new password hash, dated `changed_at`, and marks the email confirmed (the
    /// mailbox is proven).
    ResetPassword {
        /// The argon2id PHC string of the new password.
        password_hash: String,
        /// When the password changed.
        changed_at: Millis,
    },
}

/// A checked token to redeem.
#[derive(Debug, Clone)]
pub struct Redemption {
    /// The token's hash.
    pub hash: String,
    /// Its purpose.
    pub purpose: TokenPurpose,
    /// Its user.
    pub user_id: UserId,
    /// Now.
    pub now: Timestamp,
    /// The user's email when the token was checked: the redemption fails if it changed.
    pub email: String,
    /// The user's [`password_changed_at`](super::User::password_changed_at) when the token was
    /// checked: the redemption fails if it changed.
    pub password_changed_at: Option<Millis>,
    /// What the token does.
    pub effect: TokenEffect,
    /// A mail to queue with it (the "password changed" notice).
    pub notice: Option<Mail>,
}

/// Emailed tokens.
#[async_trait]
pub trait EmailTokenStore: Send + Sync {
    /// Stores a token for `user_id` and queues its mail, in one transaction.
    async fn queue_email_token(&self, user_id: UserId, token: QueuedToken) -> StoreResult<()>;
    /// The token with this hash and purpose, if it is unused and unexpired at `now`.
    async fn email_token(
        &self,
        hash: &str,
        purpose: TokenPurpose,
        now: Timestamp,
    ) -> StoreResult<Option<EmailToken>>;
    /// Redeems a token in one transaction: marks it used if it still is unused and unexpired,
    /// applies its effect if the user's email and password date are still those the service
    /// checked, uses up the user's other tokens of the same purpose and queues the notice.
    /// `Ok(false)`, with nothing written, when any of that does not hold: of concurrent
    /// redemptions of one token exactly one returns `true`.
    async fn redeem_email_token(&self, redemption: Redemption) -> StoreResult<bool>;
}
