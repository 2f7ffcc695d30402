//! `GET /confirm`, `POST /confirm` and `POST /confirm/{token}`.

use crate::clock::Timestamp;
use crate::error::AuthError;
use crate::mail::Mail;
use crate::request::{AuthRequest, AuthResponse};
use crate::store::{NewEmailToken, TokenPurpose};

use super::{Auth, secs};

/// Longest path token looked up; anything longer is not one of ours.
const MAX_TOKEN_LEN: usize = 128;

impl Auth {
    /// A new confirmation token for `email` and its mail.
    pub(crate) fn confirmation_mail(
        &self,
        email: &str,
        username: &str,
        now: Timestamp,
    ) -> (NewEmailToken, Mail) {
        let config = &self.inner.config;
        let token = crate::random::token(32);
        let link = config
            .mail
            .confirmation_link
            .replace("{base_url}", &config.base_url)
            .replace("{token}", &token);
        let mail = self
            .inner
            .templates
            .confirmation(&crate::mail::TemplateValues {
                site: &config.site,
                username,
                email,
                link: &link,
            });
        let record = NewEmailToken {
            hash: crate::random::sha256_hex(&token),
            purpose: TokenPurpose::ConfirmEmail,
            email: email.to_owned(),
            created_at: now,
            expires_at: now.saturating_add(secs(config.lifetimes.confirmation)),
        };
        (
            record,
            Mail {
                to: email.to_owned(),
                ..mail
            },
        )
    }

    pub(crate) async fn confirmation_status(
        &self,
        req: &AuthRequest,
    ) -> Result<AuthResponse, AuthError> {
        #[derive(serde::Serialize)]
        struct Status<'a> {
            email: &'a str,
            confirmed: bool,
        }
        let (_, user) = self.current_user(req).await?;
        let body = serde_json::to_string(&Status {
            email: &user.email,
            confirmed: user.confirmed,
        })
        .map_err(AuthError::unavailable)?;
        Ok(AuthResponse::ok(body))
    }

    pub(crate) async fn request_confirmation(
        &self,
        req: &AuthRequest,
    ) -> Result<AuthResponse, AuthError> {
        let inner = &self.inner;
        let (_, user) = self.current_user(req).await?;
        if user.confirmed {
            return Err(AuthError::EmailAlreadyConfirmed);
        }
        let now = self.now();
        let limit = inner.config.limits.confirmation_per_user;
        if limit.max > 0 {
            let key = format!("confirm:user:{}", user.id);
            let hit = inner.limits.hit(&key, limit.window.as_secs(), now).await?;
            if hit.count > u64::from(limit.max) {
                return Err(AuthError::TooManyRequests {
                    retry_after: hit.resets_in.max(1),
                });
            }
        }
        let (token, mail) = self.confirmation_mail(&user.email, &user.username, now);
        inner.repo.queue_email_token(user.id, token, mail).await?;
        inner.outbox_wakeup.notify_one();
        Ok(AuthResponse::null())
    }

    pub(crate) async fn confirm_email(&self, req: &AuthRequest) -> Result<AuthResponse, AuthError> {
        let token = req.param.as_deref().unwrap_or_default();
        if token.is_empty() || token.len() > MAX_TOKEN_LEN {
            return Err(AuthError::InvalidOrExpiredToken);
        }
        let hash = crate::random::sha256_hex(token);
        match self.inner.repo.confirm_email(&hash, self.now()).await? {
            Some(_) => Ok(AuthResponse::null()),
            None => Err(AuthError::InvalidOrExpiredToken),
        }
    }
}
