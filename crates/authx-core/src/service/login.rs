//! `POST /login`, throttled per client IP and per account.

use crate::Secret;
use crate::error::AuthError;
use crate::request::{AuthRequest, AuthResponse, Fields};

use super::Auth;

impl Auth {
    pub(crate) async fn login(&self, req: &AuthRequest) -> Result<AuthResponse, AuthError> {
        let inner = &self.inner;
        let limits = &inner.config.limits;
        let now = self.now();

        // Throttled first: a blocked request never reaches the password check.
        self.throttle(
            &format!("login:ip:{}", self.client_ip(req)),
            limits.login_per_ip,
        )
        .await?;

        let fields = Fields::of(req)?;
        let login = fields.string("login")?.trim();
        let password = fields.string("password")?;

        let user = if login.contains('@') {
            inner.repo.users().user_by_email(login).await?
        } else {
            inner.repo.users().user_by_username(login).await?
        };
        let account = match &user {
            Some(user) => format!("login:user:{}", user.id),
            None => format!("login:unknown:{}", login.to_lowercase()),
        };
        let state = inner.limits.failures(&account, now).await?;
        if let Some(until) = state.locked_until.filter(|until| *until > now) {
            return Err(AuthError::TooManyRequests {
                retry_after: u64::try_from(until - now).unwrap_or(1),
            });
        }

        let stored = user.as_ref().and_then(|u| u.password_hash.clone());
        let verified = inner
            .passwords
            .verify(Secret::new(password), stored)
            .await?;
        let Some(user) = user.filter(|_| verified.matches) else {
            inner
                .limits
                .record_failure(&account, &limits.lockout, now)
                .await?;
            return Err(
                if user_was_found(&account) || inner.config.hide_user_existence {
                    AuthError::InvalidCredentials
                } else {
                    AuthError::UserNotFound
                },
            );
        };
        if !user.active {
            return Err(AuthError::UserBanned);
        }
        inner.limits.reset_failures(&account).await?;
        // The new hash replaces only the one just verified, never a password changed meanwhile.
        let rehash = match (&user.password_hash, verified.needs_rehash) {
            (Some(verified), true) => Some(crate::store::Rehash {
                verified: verified.clone(),
                new_hash: inner.passwords.hash(Secret::new(password)).await?,
            }),
            _ => None,
        };
        inner
            .repo
            .users()
            .record_login(user.id, now, rehash)
            .await?;
        self.open_session(&user, req).await
    }
}

fn user_was_found(account_key: &str) -> bool {
    account_key.starts_with("login:user:")
}
