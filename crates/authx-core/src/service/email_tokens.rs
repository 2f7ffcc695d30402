//! Emailed tokens of every purpose, one mechanism: [`Auth::email_token`] makes a token and its
//! mail, [`Auth::checked_email_token`] finds a presented one and checks what it is bound to,
//! [`Auth::redeem_email_token`] uses it up together with its effect.

use crate::clock::{Millis, Timestamp};
use crate::error::AuthError;
use crate::mail::TemplateValues;
use crate::store::{
    EmailToken, NewEmailToken, QueuedToken, Redemption, TokenEffect, TokenPurpose, User,
};

use super::{Auth, secs};

/// Longest path token looked up; anything longer is not one of ours.
const MAX_TOKEN_LEN: usize = 128;

/// Whom a token is for.
pub(crate) struct Recipient<'a> {
    pub(crate) email: &'a str,
    pub(crate) username: &'a str,
    pub(crate) password_changed_at: Option<Millis>,
}

impl<'a> From<&'a User> for Recipient<'a> {
    fn from(user: &'a User) -> Self {
        Self {
            email: &user.email,
            username: &user.username,
            password_changed_at: user.password_changed_at,
        }
    }
}

/// The state a token of `purpose` is bound to besides its address: a reset token dies when the
/// password changes.
fn bound_state(purpose: TokenPurpose, password_changed_at: Option<Millis>) -> String {
    match purpose {
        TokenPurpose::ResetPassword => format!("password:{}", password_changed_at.unwrap_or(0)),
        _ => String::new(),
    }
}

impl Auth {
    /// A new token of `purpose` for `to`, with its mail (sent to `to`'s stored address, the
    /// link built from `base_url`, never from the request).
    pub(crate) fn email_token(
        &self,
        purpose: TokenPurpose,
        to: &Recipient<'_>,
        now: Timestamp,
    ) -> QueuedToken {
        let config = &self.inner.config;
        let (settings, template) = match purpose {
            TokenPurpose::ResetPassword => (&config.email_tokens.reset, &config.templates.reset),
            _ => (
                &config.email_tokens.confirmation,
                &config.templates.confirmation,
            ),
        };
        let token = crate::random::token(32);
        let link = settings
            .link
            .replace("{base_url}", &config.base_url)
            .replace("{token}", &token);
        let mail = template.render(&TemplateValues {
            site: &config.site,
            username: to.username,
            email: to.email,
            link: &link,
        });
        QueuedToken {
            token: NewEmailToken {
                hash: crate::random::sha256_hex(&token),
                purpose,
                email: to.email.to_owned(),
                state: bound_state(purpose, to.password_changed_at),
                created_at: now,
                expires_at: now.saturating_add(secs(settings.lifetime)),
            },
            mail,
        }
    }

    /// The presented token of `purpose` with its user, if it is unused, unexpired and still
    /// bound to the user's address and state; else `403 Invalid or expired token`.
    pub(crate) async fn checked_email_token(
        &self,
        purpose: TokenPurpose,
        raw: &str,
    ) -> Result<(String, EmailToken, User), AuthError> {
        if raw.is_empty() || raw.len() > MAX_TOKEN_LEN {
            return Err(AuthError::InvalidOrExpiredToken);
        }
        let hash = crate::random::sha256_hex(raw);
        let repo = &self.inner.repo;
        let token = repo
            .email_tokens()
            .email_token(&hash, purpose, self.now())
            .await?
            .ok_or(AuthError::InvalidOrExpiredToken)?;
        let user = repo
            .users()
            .user_by_id(token.user_id)
            .await?
            .ok_or(AuthError::InvalidOrExpiredToken)?;
        if token.email != user.email
            || token.state != bound_state(purpose, user.password_changed_at)
        {
            return Err(AuthError::InvalidOrExpiredToken);
        }
        Ok((hash, token, user))
    }

    /// Uses up a checked token with its effect, in one transaction; `403` when it no longer
    /// qualifies (a concurrent use won, or the user changed since the check).
    pub(crate) async fn redeem_email_token(
        &self,
        hash: String,
        purpose: TokenPurpose,
        user: &User,
        effect: TokenEffect,
        notice: Option<crate::mail::Mail>,
    ) -> Result<(), AuthError> {
        let has_notice = notice.is_some();
        let redeemed = self
            .inner
            .repo
            .email_tokens()
            .redeem_email_token(Redemption {
                hash,
                purpose,
                user_id: user.id,
                now: self.now(),
                email: user.email.clone(),
                password_changed_at: user.password_changed_at,
                effect,
                notice,
            })
            .await?;
        if !redeemed {
            return Err(AuthError::InvalidOrExpiredToken);
        }
        if has_notice {
            self.inner.outbox_wakeup.notify_one();
        }
        Ok(())
    }
}
