//! The one throttle in front of every password check: login, `PUT /password`, and the second
//! factor's enrolment and disable. Each check is counted under the account's key, so failures
//! on any of these paths lock all of them: an attacker who holds a session cannot guess the
//! password through `PUT /password` faster than through `POST /login`.

use crate::Secret;
use crate::error::AuthError;
use crate::password::Verified;
use crate::store::{User, UserId};

use super::Auth;

/// Whose password is checked.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Account<'a> {
    /// A stored user (with or without a password).
    User(&'a User),
    /// A login that names no user: it has failure counters of its own, keyed by the
    /// lower-cased login, so probing names is locked out like probing passwords.
    Unknown(&'a str),
}

impl Account<'_> {
    /// The key of the account's failure counter in the limit store.
    fn key(self) -> String {
        match self {
            Self::User(user) => lockout_key(user.id),
            Self::Unknown(login) => format!("login:unknown:{}", login.to_lowercase()),
        }
    }
}

/// The key of user `id`'s failure counter, the one every password check of the user shares.
pub(crate) fn lockout_key(id: UserId) -> String {
    format!("login:user:{id}")
}

impl Auth {
    /// Checks `password` for `account` under the account lockout: `429 Too many requests` with
    /// `Retry-After` while the account is locked, before any hash is verified; otherwise the
    /// password is verified (against a dummy hash for an unknown login or an account without a
    /// password, so every failure costs the same time) and a mismatch is recorded as a
    /// failure. The caller answers the mismatch in its own words, and calls
    /// [`clear_lockout`](Self::clear_lockout) once it counts the check as a success.
    pub(crate) async fn check_password(
        &self,
        account: Account<'_>,
        password: &str,
    ) -> Result<Verified, AuthError> {
        let inner = &self.inner;
        let now = self.now();
        let key = account.key();
        let state = inner.limits.failures(&key, now).await?;
        if let Some(until) = state.locked_until.filter(|until| *until > now) {
            return Err(AuthError::TooManyRequests {
                retry_after: u64::try_from(until - now).unwrap_or(1),
            });
        }
        let stored = match account {
            Account::User(user) => user.password_hash.clone(),
            Account::Unknown(_) => None,
        };
        let verified = inner
            .passwords
            .verify(Secret::new(password), stored)
            .await?;
        if !verified.matches {
            inner
                .limits
                .record_failure(&key, &inner.config.limits.lockout, now)
                .await?;
        }
        Ok(verified)
    }

    /// Forgets user `id`'s password failures: after a successful check, and after a reset
    /// through the mailbox.
    pub(crate) async fn clear_lockout(&self, id: UserId) -> Result<(), AuthError> {
        Ok(self.inner.limits.reset_failures(&lockout_key(id)).await?)
    }
}
