//! `GET /confirm`, `POST /confirm` and `POST /confirm/{token}`: email confirmation on the
//! emailed-token mechanism.

use crate::error::AuthError;
use crate::request::{AuthRequest, AuthResponse};
use crate::store::{TokenEffect, TokenPurpose};
use crate::token::Claims;

use super::Auth;

impl Auth {
    pub(crate) async fn confirmation_status(
        &self,
        claims: Claims,
    ) -> Result<AuthResponse, AuthError> {
        #[derive(serde::Serialize)]
        struct Status<'a> {
            email: &'a str,
            confirmed: bool,
        }
        let user = self.user_of(&claims).await?;
        let body = serde_json::to_string(&Status {
            email: &user.email,
            confirmed: user.confirmed,
        })
        .map_err(AuthError::unavailable)?;
        Ok(AuthResponse::ok(body))
    }

    pub(crate) async fn request_confirmation(
        &self,
        claims: Claims,
    ) -> Result<AuthResponse, AuthError> {
        let inner = &self.inner;
        let user = self.user_of(&claims).await?;
        if user.confirmed {
            return Err(AuthError::EmailAlreadyConfirmed);
        }
        let now = self.now();
        self.throttle(
            &format!("confirm:user:{}", user.id),
            inner.config.limits.confirmation_per_user,
        )
        .await?;
        let token = self.email_token(TokenPurpose::ConfirmEmail, &(&user).into(), now);
        inner
            .repo
            .email_tokens()
            .queue_email_token(user.id, token)
            .await?;
        inner.outbox_wakeup.notify_one();
        Ok(AuthResponse::null())
    }

    pub(crate) async fn confirm_email(&self, req: &AuthRequest) -> Result<AuthResponse, AuthError> {
        let raw = req.param.as_deref().unwrap_or_default();
        let purpose = TokenPurpose::ConfirmEmail;
        let (hash, _, user) = self.checked_email_token(purpose, raw).await?;
        let config = &self.inner.config;
        // The first admin: an address listed in the configuration gets `admin` once proven.
        // Both are in the stored form (`build()` normalised the list).
        let stored = user.email.to_lowercase();
        let grant = if config
            .admin_emails
            .iter()
            .any(|e| e.to_lowercase() == stored)
            && !user.is_admin()
        {
            tracing::info!(
                user_id = user.id,
                "authx: admin granted to a listed address"
            );
            vec!["admin".to_owned()]
        } else {
            Vec::new()
        };
        self.redeem_email_token(
            hash,
            purpose,
            &user,
            TokenEffect::ConfirmEmail { grant },
            None,
        )
        .await?;
        Ok(AuthResponse::null())
    }
}
