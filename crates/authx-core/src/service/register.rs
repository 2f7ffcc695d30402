//! `POST /register`.

use crate::Secret;
use crate::error::AuthError;
use crate::request::{AuthRequest, AuthResponse, Fields};
use crate::store::{NewUser, TokenPurpose};

use super::Auth;

impl Auth {
    pub(crate) async fn register(&self, req: &AuthRequest) -> Result<AuthResponse, AuthError> {
        let inner = &self.inner;
        let fields = Fields::of(req)?;
        self.check_captcha(req, &fields).await?;
        let policy = &inner.config.policy;

        // First failing field wins: email, username, password.
        let email = policy.email(fields.string("email")?)?;
        if inner.repo.users().user_by_email(&email).await?.is_some() {
            return Err(AuthError::EmailExists);
        }
        let username = policy.username(fields.string("username")?)?;
        if inner
            .repo
            .users()
            .user_by_username(&username)
            .await?
            .is_some()
        {
            return Err(AuthError::UsernameExists);
        }
        let password1 = fields.string("password1")?;
        let password2 = fields.string("password2")?;
        policy.new_password(password1, password2, &username, &email)?;

        let password_hash = inner.passwords.hash(Secret::new(password1)).await?;
        let now = self.now();
        let token = self.email_token(
            TokenPurpose::ConfirmEmail,
            &super::email_tokens::Recipient {
                email: &email,
                username: &username,
                password_changed_at: None,
            },
            now,
        );
        // The user, its confirmation token and the queued mail are written together; a race
        // lost on a unique index surfaces here as "already exists".
        let user = inner
            .repo
            .users()
            .create_user(
                NewUser {
                    email,
                    username,
                    password_hash: Some(password_hash),
                    confirmed: false,
                    created_at: now,
                },
                Some(token),
            )
            .await?;
        inner.outbox_wakeup.notify_one();
        self.open_session(&user, req).await
    }

    /// With a CAPTCHA configured, `captcha` must be present and accepted by the verifier.
    async fn check_captcha(&self, req: &AuthRequest, fields: &Fields) -> Result<(), AuthError> {
        let Some(verifier) = &self.inner.captcha else {
            return Ok(());
        };
        let response = fields
            .optional_string("captcha")?
            .filter(|r| !r.trim().is_empty())
            .ok_or(AuthError::WrongCaptcha)?;
        match verifier.verify(response, Some(self.client_ip(req))).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(AuthError::WrongCaptcha),
            Err(e) => Err(AuthError::unavailable(e)),
        }
    }
}
