//! The password router's account routes: `POST /password/{token}` (reset through the mailed
//! token), `PUT /password` (change), `POST /password` (a first password for an account without
//! one) and `GET /password` (which of the two applies). `POST /forgot_password` is in
//! [`forgot_password`](super::forgot_password).

use crate::Secret;
use crate::error::AuthError;
use crate::mail::{Mail, TemplateValues};
use crate::request::{AuthRequest, AuthResponse, Fields};
use crate::store::{PasswordChange, TokenEffect, TokenPurpose, User};
use crate::token::Claims;

use super::Auth;
use super::password_check::Account;
use super::sessions::{EndReason, Ending};

impl Auth {
    /// `POST /password/{token}` `{password1, password2}`: the token first (`403` when unknown,
    /// used, expired, issued before the password last changed, or the account is banned),
    /// then the password rules. Success sets the password, uses up the user's other reset
    /// tokens, confirms the email, mails the notice (one transaction), then ends every session
    /// of the user and clears the lockout. No cookies: the user logs in with the new password.
    pub(crate) async fn reset_password(
        &self,
        req: &AuthRequest,
    ) -> Result<AuthResponse, AuthError> {
        let inner = &self.inner;
        let raw = req.param.as_deref().unwrap_or_default();
        let purpose = TokenPurpose::ResetPassword;
        let (hash, _, user) = self.checked_email_token(purpose, raw).await?;
        // A ban is not lifted by a mailbox: a token issued before it no longer works.
        if !user.active {
            return Err(AuthError::InvalidOrExpiredToken);
        }
        let password_hash = self.new_password_hash(&Fields::of(req)?, &user).await?;
        let effect = TokenEffect::ResetPassword {
            password_hash,
            changed_at: inner.clock.now_ms(),
        };
        let notice = self.password_changed_notice(&user);
        self.redeem_email_token(hash, purpose, &user, effect, Some(notice))
            .await?;
        self.end_sessions(Ending::AllOf(user.id), EndReason::PasswordReset)
            .await?;
        self.clear_lockout(user.id).await?;
        Ok(AuthResponse::null())
    }

    /// `PUT /password` `{old_password, password1, password2}` (`oldPassword` accepted): the
    /// current password first, under the lockout every password check shares (`400 Wrong
    /// password`, counted; `429` while locked), then the rules. Success writes the new
    /// password only over the hash that was verified (of concurrent changes one wins, the
    /// others answer `400 Wrong password`), queues the notice with it, ends every other
    /// session and hands this one new tokens (both cookies set again).
    pub(crate) async fn change_password(
        &self,
        req: &AuthRequest,
        claims: Claims,
    ) -> Result<AuthResponse, AuthError> {
        let inner = &self.inner;
        let user = self.active_user_of(&claims).await?;
        let fields = Fields::of(req)?;
        let old_password = match fields.optional_string("old_password")? {
            Some(old) => old,
            None => fields
                .optional_string("oldPassword")?
                .ok_or(AuthError::MissingField("old_password"))?,
        };
        // An account without a password matches no old password (a dummy hash is verified).
        if !self
            .check_password(Account::User(&user), old_password)
            .await?
            .matches
        {
            return Err(AuthError::WrongPassword);
        }
        self.clear_lockout(user.id).await?;
        let new_hash = self.new_password_hash(&fields, &user).await?;
        let changed = inner
            .repo
            .users()
            .change_password(PasswordChange {
                user_id: user.id,
                current_hash: user.password_hash.clone(),
                new_hash,
                changed_at: inner.clock.now_ms(),
                notice: Some(self.password_changed_notice(&user)),
                now: self.now(),
            })
            .await?;
        if !changed {
            // Another change won since the check: the password given is no longer the
            // account's. Not counted as a failure: it was right when it was checked.
            return Err(AuthError::WrongPassword);
        }
        inner.outbox_wakeup.notify_one();
        self.end_sessions(
            Ending::OthersOf {
                user: user.id,
                keep: claims.sid.clone(),
            },
            EndReason::PasswordChanged,
        )
        .await?;
        self.reissue_session_tokens(&user, &claims.sid, req).await
    }

    /// `POST /password` `{password1, password2}`: a first password for an account without one
    /// (created by social login); `400 Password exists` otherwise. It adds a credential, so
    /// sessions continue; the password date is set (reset links mailed before stop working)
    /// and the notice is mailed.
    pub(crate) async fn set_password(
        &self,
        req: &AuthRequest,
        claims: Claims,
    ) -> Result<AuthResponse, AuthError> {
        let inner = &self.inner;
        let user = self.active_user_of(&claims).await?;
        if user.password_hash.is_some() {
            return Err(AuthError::PasswordExists);
        }
        let fields = Fields::of(req)?;
        let new_hash = self.new_password_hash(&fields, &user).await?;
        let set = inner
            .repo
            .users()
            .change_password(PasswordChange {
                user_id: user.id,
                current_hash: None,
                new_hash,
                changed_at: inner.clock.now_ms(),
                notice: Some(self.password_changed_notice(&user)),
                now: self.now(),
            })
            .await?;
        if !set {
            // A concurrent request set one first.
            return Err(AuthError::PasswordExists);
        }
        inner.outbox_wakeup.notify_one();
        Ok(AuthResponse::null())
    }

    /// `GET /password`: `{"status": "set"}` for an account without a password, else
    /// `{"status": "change"}`.
    pub(crate) async fn password_status(&self, claims: Claims) -> Result<AuthResponse, AuthError> {
        let user = self.user_of(&claims).await?;
        let status = if user.password_hash.is_some() {
            "change"
        } else {
            "set"
        };
        Ok(AuthResponse::ok(
            serde_json::json!({ "status": status }).to_string(),
        ))
    }

    /// The user of an access token, who must be active: a banned user's token gets no new
    /// tokens and changes nothing (`401 Invalid token`, as refresh answers).
    pub(crate) async fn active_user_of(&self, claims: &Claims) -> Result<User, AuthError> {
        let user = self.user_of(claims).await?;
        if !user.active {
            return Err(AuthError::InvalidToken);
        }
        Ok(user)
    }

    /// `password1` and `password2` checked by the rules of registration against `user`'s
    /// name and address, and hashed.
    async fn new_password_hash(&self, fields: &Fields, user: &User) -> Result<String, AuthError> {
        let inner = &self.inner;
        let password1 = fields.string("password1")?;
        let password2 = fields.string("password2")?;
        inner
            .config
            .policy
            .new_password(password1, password2, &user.username, &user.email)?;
        inner.passwords.hash(Secret::new(password1)).await
    }

    /// The `Password changed` notice for `user`, to the stored address; its link is the site.
    fn password_changed_notice(&self, user: &User) -> Mail {
        let config = &self.inner.config;
        config.templates.password_changed.render(&TemplateValues {
            site: &config.site,
            username: &user.username,
            email: &user.email,
            link: &config.base_url,
        })
    }
}
