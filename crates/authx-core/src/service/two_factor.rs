//! The second factor (TOTP, RFC 6238, with recovery codes), and [`Auth::sign_in`]: the one
//! place every path that opens a session for a user goes through, which answers a challenge
//! instead when the user has a second factor.
//!
//! A challenge is a cookie sealed with the TOTP key (user, expiry, a random id); its state
//! lives in the limit store, so it holds across instances: its attempts (at most
//! [`challenge_attempts`](crate::config::TwoFactorSettings::challenge_attempts), counted before
//! any code is checked) and its use (once). The last accepted TOTP step of each user is a
//! marker there too, moved forward atomically, so a code is never accepted twice.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::cookie::TokenCookie;
use crate::error::AuthError;
use crate::limit::{Hit, RateLimit};
use crate::request::{AuthRequest, AuthResponse, Fields};
use crate::store::{TwoFactorRecord, TwoFactorStore, User, UserId};
use crate::token::Claims;
use crate::two_factor::{self as totp, SealFor, Sealer};

use super::password_check::{Account, lockout_key};
use super::{Auth, secs};

/// What signing a user in produced: a session, or a challenge for the second factor.
#[must_use]
pub(crate) enum SignIn {
    /// A new session: `200` with both cookies.
    Session(AuthResponse),
    /// No session: the user has a second factor. The challenge cookie to send.
    Challenge(SecondFactorChallenge),
}

/// A login waiting for its second factor.
pub(crate) struct SecondFactorChallenge {
    /// The `Set-Cookie` value of the challenge cookie.
    pub(crate) set_cookie: String,
}

impl SecondFactorChallenge {
    /// `401 second_factor_required` with the challenge cookie (what `POST /login` answers).
    pub(crate) fn response(self) -> AuthResponse {
        AuthResponse::from_error(&AuthError::SecondFactorRequired)
            .with("Set-Cookie", self.set_cookie)
            .no_store()
    }
}

/// What a challenge cookie holds, sealed.
#[derive(Serialize, Deserialize)]
struct Challenge {
    /// The user.
    u: UserId,
    /// When it expires.
    exp: Timestamp,
    /// Its random id, the key of its state in the limit store.
    j: String,
}

/// Which kind of code a field holds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum CodeKind {
    /// A TOTP code if it looks like one (6 digits), else a recovery code.
    Either,
    /// A recovery code only.
    Recovery,
}

#[derive(Serialize)]
struct Status {
    enabled: bool,
    methods: Vec<&'static str>,
    recovery_codes_left: u32,
}

impl Auth {
    /// Signs `user` in, the one place every path that opens a session goes through (password
    /// login; social login and any later path call it too, after their own checks): a user
    /// with a second factor enabled gets a challenge (no session), anyone else a new session.
    pub(crate) async fn sign_in(
        &self,
        user: &User,
        req: &AuthRequest,
    ) -> Result<SignIn, AuthError> {
        if let (Some(sealer), Some(store)) = (&self.inner.sealer, self.inner.repo.two_factor())
            && store.two_factor(user.id).await?.is_some_and(|r| r.enabled)
        {
            return Ok(SignIn::Challenge(self.challenge(sealer, user.id)));
        }
        Ok(SignIn::Session(self.open_session(user, req).await?))
    }

    fn challenge(&self, sealer: &Sealer, user: UserId) -> SecondFactorChallenge {
        let lifetime = secs(self.inner.config.two_factor.challenge_lifetime);
        let challenge = Challenge {
            u: user,
            exp: self.now().saturating_add(lifetime),
            j: crate::random::token(16),
        };
        #[allow(clippy::expect_used)]
        let json = serde_json::to_vec(&challenge).expect("a challenge serialises");
        let sealed = sealer.seal(&json, SealFor::Challenge);
        SecondFactorChallenge {
            set_cookie: self
                .inner
                .cookies
                .set(TokenCookie::Challenge, &sealed, lifetime),
        }
    }

    /// The sealer and the store: both exist whenever the router is served.
    fn two_factor_parts(&self) -> Result<(&Sealer, &dyn TwoFactorStore), AuthError> {
        match (&self.inner.sealer, self.inner.repo.two_factor()) {
            (Some(sealer), Some(store)) => Ok((sealer, store)),
            _ => Err(AuthError::NotFound),
        }
    }

    /// `GET /2fa`.
    pub(crate) async fn two_factor_status(
        &self,
        claims: Claims,
    ) -> Result<AuthResponse, AuthError> {
        let (_, store) = self.two_factor_parts()?;
        let record = store.two_factor(claims.id).await?.filter(|r| r.enabled);
        let status = Status {
            enabled: record.is_some(),
            methods: if record.is_some() {
                vec!["totp"]
            } else {
                vec![]
            },
            recovery_codes_left: record.map_or(0, |r| r.recovery_codes_left),
        };
        let body = serde_json::to_string(&status).map_err(AuthError::unavailable)?;
        Ok(AuthResponse::ok(body))
    }

    /// `POST /2fa/totp` `{password}`: the password under the shared lockout, then a new secret,
    /// stored sealed and pending until confirmed; answers it and its `otpauth://` URI.
    pub(crate) async fn totp_enroll(
        &self,
        req: &AuthRequest,
        claims: Claims,
    ) -> Result<AuthResponse, AuthError> {
        let (sealer, store) = self.two_factor_parts()?;
        let user = self.active_user_of(&claims).await?;
        let fields = Fields::of(req)?;
        self.require_password(&user, fields.string("password")?)
            .await?;
        if store.two_factor(user.id).await?.is_some_and(|r| r.enabled) {
            return Err(AuthError::TwoFactorEnabled);
        }
        let secret = totp::new_secret();
        let (base32, uri) = totp::enrolment(&secret, &self.inner.config.site, &user.username)
            .map_err(|e| AuthError::unavailable(e.to_string()))?;
        let sealed = sealer.seal(&secret, SealFor::Secret(user.id));
        if !store.start_totp(user.id, &sealed, self.now()).await? {
            return Err(AuthError::TwoFactorEnabled);
        }
        self.clear_lockout(user.id).await?;
        let body = serde_json::json!({ "secret": base32, "otpauth_uri": uri }).to_string();
        Ok(AuthResponse::ok(body).no_store())
    }

    /// `POST /2fa/totp/confirm` `{code}`: a code of the pending secret enables it (the code's
    /// step is used up) and answers the recovery codes, once.
    pub(crate) async fn totp_confirm(
        &self,
        req: &AuthRequest,
        claims: Claims,
    ) -> Result<AuthResponse, AuthError> {
        let (sealer, store) = self.two_factor_parts()?;
        let user = self.active_user_of(&claims).await?;
        let code = Fields::of(req)?.string("code")?.to_owned();
        let record = match store.two_factor(user.id).await? {
            Some(record) if record.enabled => return Err(AuthError::TwoFactorEnabled),
            Some(record) => record,
            None => return Err(AuthError::TwoFactorNotEnabled),
        };
        let secret = Self::open_secret(sealer, user.id, &record)?;
        if !self.take_totp_code(user.id, &secret, &code).await? {
            return Err(AuthError::InvalidCode { at_login: false });
        }
        let codes = totp::new_recovery_codes(self.recovery_code_count());
        let hashes: Vec<String> = codes.iter().map(|c| totp::recovery_code_hash(c)).collect();
        if !store
            .enable_totp(user.id, &record.sealed_secret, &hashes, self.now())
            .await?
        {
            // Another enrolment replaced this one meanwhile: its code is another's.
            return Err(AuthError::InvalidCode { at_login: false });
        }
        tracing::info!(user_id = user.id, "authx: second factor enabled");
        let body = serde_json::json!({ "recovery_codes": codes }).to_string();
        Ok(AuthResponse::ok(body).no_store())
    }

    /// `POST /2fa/recovery_codes` `{password, code}`: new recovery codes, the old ones void.
    pub(crate) async fn regenerate_recovery_codes(
        &self,
        req: &AuthRequest,
        claims: Claims,
    ) -> Result<AuthResponse, AuthError> {
        let (_, store) = self.two_factor_parts()?;
        let user = self.checked_password_and_code(req, &claims).await?;
        let codes = totp::new_recovery_codes(self.recovery_code_count());
        let hashes: Vec<String> = codes.iter().map(|c| totp::recovery_code_hash(c)).collect();
        if !store
            .replace_recovery_codes(user.id, &hashes, self.now())
            .await?
        {
            return Err(AuthError::TwoFactorNotEnabled);
        }
        tracing::info!(user_id = user.id, "authx: recovery codes replaced");
        let body = serde_json::json!({ "recovery_codes": codes }).to_string();
        Ok(AuthResponse::ok(body).no_store())
    }

    /// `DELETE /2fa` `{password, code}`.
    pub(crate) async fn two_factor_disable(
        &self,
        req: &AuthRequest,
        claims: Claims,
    ) -> Result<AuthResponse, AuthError> {
        let (_, store) = self.two_factor_parts()?;
        let user = self.checked_password_and_code(req, &claims).await?;
        if !store.disable_two_factor(user.id).await? {
            return Err(AuthError::TwoFactorNotEnabled);
        }
        tracing::info!(user_id = user.id, "authx: second factor disabled");
        Ok(AuthResponse::null())
    }

    /// `POST /login/2fa` `{code}` or `{recovery_code}` with the challenge cookie: the
    /// challenge's attempt is counted first (at most `challenge_attempts`, then it has ended),
    /// the account lockout is checked, then the code. A wrong code counts in the lockout; the
    /// right one uses the challenge up (once, on every instance) and opens the session.
    pub(crate) async fn login_second_factor(
        &self,
        req: &AuthRequest,
    ) -> Result<AuthResponse, AuthError> {
        let inner = &self.inner;
        let (sealer, store) = self.two_factor_parts()?;
        let now = self.now();
        let challenge = inner
            .cookies
            .read(req.header_values("cookie"), TokenCookie::Challenge)
            .and_then(|sealed| sealer.open(&sealed, SealFor::Challenge))
            .and_then(|json| serde_json::from_slice::<Challenge>(&json).ok())
            .filter(|c| c.exp > now)
            .ok_or(AuthError::InvalidChallenge)?;
        let settings = inner.config.two_factor;
        let window = settings.challenge_lifetime;
        let attempts = RateLimit {
            max: settings.challenge_attempts,
            window,
        };
        if let Hit::Refused { .. } = inner
            .limits
            .hit(
                &format!("2fa:attempts:{}", challenge.j),
                attempts,
                now * 1000,
            )
            .await?
        {
            return Err(AuthError::InvalidChallenge);
        }
        let state = inner
            .limits
            .failures(&lockout_key(challenge.u), now)
            .await?;
        if let Some(until) = state.locked_until.filter(|until| *until > now) {
            return Err(AuthError::TooManyRequests {
                retry_after: u64::try_from(until - now).unwrap_or(1),
            });
        }
        let Some(user) = inner.repo.users().user_by_id(challenge.u).await? else {
            return Err(AuthError::InvalidChallenge);
        };
        let Some(user) = self.unbanned(user).await? else {
            return Err(AuthError::UserBanned);
        };
        let record = store
            .two_factor(user.id)
            .await?
            .filter(|r| r.enabled)
            .ok_or(AuthError::InvalidChallenge)?;
        let fields = Fields::of(req)?;
        let (code, kind) = match fields.optional_string("recovery_code")? {
            Some(code) => (code, CodeKind::Recovery),
            None => (fields.string("code")?, CodeKind::Either),
        };
        if !self
            .take_code(sealer, store, &user, &record, code, kind)
            .await?
        {
            inner
                .limits
                .record_failure(&lockout_key(user.id), &inner.config.limits.lockout, now)
                .await?;
            return Err(AuthError::InvalidCode { at_login: true });
        }
        // Used once: of two right codes sent with one challenge, one opens a session.
        let once = RateLimit { max: 1, window };
        if let Hit::Refused { .. } = inner
            .limits
            .hit(&format!("2fa:used:{}", challenge.j), once, now * 1000)
            .await?
        {
            return Err(AuthError::InvalidChallenge);
        }
        self.clear_lockout(user.id).await?;
        inner.repo.users().record_login(user.id, now, None).await?;
        let response = self.open_session(&user, req).await?;
        Ok(response.with("Set-Cookie", inner.cookies.removal(TokenCookie::Challenge)))
    }

    /// The password, then a code (TOTP or recovery), for disabling and regenerating: a wrong
    /// password is `400 wrong_password`, a wrong code `400 invalid_code`, both counted in the
    /// account lockout; `429` while it is locked.
    async fn checked_password_and_code(
        &self,
        req: &AuthRequest,
        claims: &Claims,
    ) -> Result<User, AuthError> {
        let inner = &self.inner;
        let (sealer, store) = self.two_factor_parts()?;
        let user = self.active_user_of(claims).await?;
        let fields = Fields::of(req)?;
        let password = fields.string("password")?;
        let code = fields.string("code")?;
        self.require_password(&user, password).await?;
        let record = store
            .two_factor(user.id)
            .await?
            .filter(|r| r.enabled)
            .ok_or(AuthError::TwoFactorNotEnabled)?;
        if !self
            .take_code(sealer, store, &user, &record, code, CodeKind::Either)
            .await?
        {
            inner
                .limits
                .record_failure(
                    &lockout_key(user.id),
                    &inner.config.limits.lockout,
                    self.now(),
                )
                .await?;
            return Err(AuthError::InvalidCode { at_login: false });
        }
        self.clear_lockout(user.id).await?;
        Ok(user)
    }

    /// The current password, through the one password check (`400 wrong_password`, counted).
    async fn require_password(&self, user: &User, password: &str) -> Result<(), AuthError> {
        if self
            .check_password(Account::User(user), password)
            .await?
            .matches
        {
            Ok(())
        } else {
            Err(AuthError::WrongPassword)
        }
    }

    /// Whether `code` is a right code of `user`'s second factor, using it up: a TOTP code's
    /// step (and every earlier one), or the recovery code.
    async fn take_code(
        &self,
        sealer: &Sealer,
        store: &dyn TwoFactorStore,
        user: &User,
        record: &TwoFactorRecord,
        code: &str,
        kind: CodeKind,
    ) -> Result<bool, AuthError> {
        if kind == CodeKind::Either && totp::looks_like_totp(code) {
            let secret = Self::open_secret(sealer, user.id, record)?;
            let taken = self.take_totp_code(user.id, &secret, code).await?;
            if taken && sealer.is_stale(&record.sealed_secret) {
                // Sealed by a previous key: sealed again with the current one.
                let resealed = sealer.seal(&secret, SealFor::Secret(user.id));
                store
                    .reseal_secret(user.id, &record.sealed_secret, &resealed)
                    .await?;
            }
            return Ok(taken);
        }
        let hash = totp::recovery_code_hash(code);
        let used = store.use_recovery_code(user.id, &hash, self.now()).await?;
        if used {
            tracing::info!(user_id = user.id, "authx: a recovery code was used");
        }
        Ok(used)
    }

    /// Whether `code` is the TOTP code of `secret` now (one step of drift either way) and its
    /// step is later than any accepted before for this user: the step is then the user's
    /// marker, on every instance (the limit store), so the code never works again.
    async fn take_totp_code(
        &self,
        user: UserId,
        secret: &[u8],
        code: &str,
    ) -> Result<bool, AuthError> {
        let now = self.now();
        let Some(step) = totp::matching_step(secret, code, now) else {
            return Ok(false);
        };
        // A step's code is accepted until the step after next begins (one step of drift);
        // the marker is kept that long, and a minute more for clocks a little apart.
        let keep_until = step
            .saturating_add(2)
            .saturating_mul(totp::TOTP_STEP)
            .saturating_add(60);
        Ok(self
            .inner
            .limits
            .advance(&format!("2fa:step:{user}"), step, now, keep_until)
            .await?)
    }

    /// The TOTP secret of `record`; one no configured key opens is a fault of configuration
    /// (the key was changed without keeping the old one), answered `503` and logged.
    fn open_secret(
        sealer: &Sealer,
        user: UserId,
        record: &TwoFactorRecord,
    ) -> Result<Vec<u8>, AuthError> {
        sealer
            .open(&record.sealed_secret, SealFor::Secret(user))
            .ok_or_else(|| {
                AuthError::unavailable(format!(
                    "the TOTP secret of user {user} opens with no configured key (was the \
                     TOTP key changed without listing the old one in totp_previous_keys?)"
                ))
            })
    }

    fn recovery_code_count(&self) -> usize {
        usize::try_from(self.inner.config.two_factor.recovery_codes).unwrap_or(10)
    }
}
