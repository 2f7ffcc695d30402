//! Social login (CONTRACT 9.6): `GET /{provider}` starts a sign-in, `GET /{provider}/callback`
//! finishes it.
//!
//! The state (256 random bits) travels in the browser's cookie and in the provider's redirect;
//! storage keeps only its SHA-256 with the PKCE verifier, the nonce and the `redirect` path,
//! and the callback *takes* that record in one write (single use, on every instance). Only
//! then is the provider called, and the account resolved: the identity first; else an account
//! with the same email, linked only when the provider vouches the address and the account
//! confirmed it; else a new account without a password. The session opens through
//! [`Auth::open_session`], the path password login takes. Every failure sends the browser to
//! `{base_url}/login?error=<code>` and stores nothing.

use std::sync::Arc;

use crate::error::AuthError;
use crate::random::sha256_hex;
use crate::request::{AuthRequest, AuthResponse, Query};
use crate::social::{
    AuthorizationRequest, CodeExchange, IdentityProvider, ProviderIdentity, safe_redirect,
};
use crate::store::{
    IdentityStore, NewIdentity, NewUser, PendingSignIn, StoreError, UniqueField, User,
};

use super::csrf::constant_time_eq;
use super::{Auth, secs};

/// Usernames tried for a new account before giving up on its email's local part.
const USERNAME_TRIES: u32 = 50;

impl Auth {
    /// `GET /{provider}?redirect=`: `307` to the provider with a new state, bound to this
    /// browser by the sign-in cookie.
    pub(crate) async fn social_login(&self, req: &AuthRequest) -> Result<AuthResponse, AuthError> {
        let provider = self.provider(req)?;
        let query = Query::of(req);
        let redirect = match query.string("redirect") {
            Some(path) => safe_redirect(path).ok_or(AuthError::InvalidRedirect)?,
            None => "/",
        }
        .to_owned();
        self.throttle(
            &format!("social:ip:{}", self.client_network(req)),
            self.inner.config.limits.social_per_ip,
        )
        .await?;
        let store = self.identity_store()?;
        let state = crate::random::token(32);
        let nonce = crate::random::token(32);
        let redirect_uri = self.redirect_uri(provider.name());
        let authorization = match provider
            .authorize(AuthorizationRequest {
                redirect_uri: &redirect_uri,
                state: &state,
                nonce: &nonce,
            })
            .await
        {
            Ok(authorization) => authorization,
            Err(e) => {
                tracing::warn!(provider = provider.name(), error = %e, "authx: social provider unusable");
                return Ok(self.social_failure(&AuthError::ProviderError));
            }
        };
        let lifetime = secs(self.inner.config.social.sign_in_lifetime);
        store
            .save_sign_in(PendingSignIn {
                state_hash: sha256_hex(&state),
                provider: provider.name().to_owned(),
                pkce_verifier: authorization.pkce_verifier,
                nonce,
                redirect,
                expires_at: self.now().saturating_add(lifetime),
            })
            .await?;
        Ok(redirect_to(authorization.url).with(
            "Set-Cookie",
            self.sign_in_cookie(req, provider.name(), &state, lifetime),
        ))
    }

    /// `GET /{provider}/callback?code=&state=`: `307` to the `redirect` path with a new session,
    /// or to the login page with the error's code. The sign-in cookie is deleted either way.
    pub(crate) async fn social_callback(
        &self,
        req: &AuthRequest,
    ) -> Result<AuthResponse, AuthError> {
        let provider = self.provider(req)?;
        let outcome = match self.finish_sign_in(&provider, req).await {
            Ok(response) => response,
            // Infrastructure faults are 503 as everywhere; nothing was stored.
            Err(e @ (AuthError::Unavailable { .. } | AuthError::TooManyRequests { .. })) => {
                return Err(e);
            }
            Err(e) => {
                tracing::info!(
                    provider = provider.name(),
                    code = e.code(),
                    "authx: social sign-in refused"
                );
                self.social_failure(&e)
            }
        };
        Ok(outcome.with(
            "Set-Cookie",
            self.sign_in_cookie(req, provider.name(), "", 0),
        ))
    }

    async fn finish_sign_in(
        &self,
        provider: &Arc<dyn IdentityProvider>,
        req: &AuthRequest,
    ) -> Result<AuthResponse, AuthError> {
        let store = self.identity_store()?;
        let query = Query::of(req);
        let state = query
            .string("state")
            .filter(|s| !s.is_empty())
            .ok_or(AuthError::InvalidState)?;
        let bound = crate::cookie::CookieJar::read_named(
            req.header_values("cookie"),
            &self.inner.config.social.cookie_name,
        )
        .ok_or(AuthError::InvalidState)?;
        // Another browser's state (login CSRF) is refused without touching its sign-in.
        if !constant_time_eq(state.as_bytes(), bound.as_bytes()) {
            return Err(AuthError::InvalidState);
        }
        // Taken before anything else: a replay finds nothing, on any instance.
        let now = self.now();
        let pending = store
            .take_sign_in(&sha256_hex(state), now)
            .await?
            .filter(|p| p.provider == provider.name())
            .ok_or(AuthError::InvalidState)?;
        if query.string("error").is_some() {
            return Err(AuthError::ProviderError);
        }
        let code = query
            .string("code")
            .filter(|c| !c.is_empty())
            .ok_or(AuthError::ProviderError)?;
        let redirect_uri = self.redirect_uri(provider.name());
        let identity = provider
            .identity(CodeExchange {
                code,
                pkce_verifier: &pending.pkce_verifier,
                nonce: &pending.nonce,
                redirect_uri: &redirect_uri,
                now,
            })
            .await
            .map_err(|e| {
                tracing::warn!(provider = provider.name(), error = %e, "authx: social sign-in failed at the provider");
                AuthError::ProviderError
            })?;
        let user = self
            .resolve_account(store, provider.name(), identity)
            .await?;
        self.inner
            .repo
            .users()
            .record_login(user.id, now, None)
            .await?;
        // The one sign-in path (password login's): an account with a second factor gets the
        // challenge cookie and the login page's second step, not a session.
        let base = &self.inner.config.base_url;
        match self.sign_in(&user, req).await? {
            super::two_factor::SignIn::Session(mut response) => {
                response.status = 307;
                response
                    .headers
                    .push(("Location", format!("{base}{}", pending.redirect)));
                Ok(response)
            }
            super::two_factor::SignIn::Challenge(challenge) => Ok(redirect_to(format!(
                "{base}/login?error=second_factor_required"
            ))
            .with("Set-Cookie", challenge.set_cookie)),
        }
    }

    /// The account of a verified identity, in the order of CONTRACT 9.6.
    async fn resolve_account(
        &self,
        store: &dyn IdentityStore,
        provider: &str,
        identity: ProviderIdentity,
    ) -> Result<User, AuthError> {
        if let Some(user) = store.user_by_identity(provider, &identity.subject).await? {
            return self.unbanned(user).await?.ok_or(AuthError::UserBanned);
        }
        let policy = &self.inner.config.policy;
        let email = match identity.email.as_deref() {
            Some(raw) => policy.email(raw).map_err(|_| AuthError::ProviderError)?,
            None => return Err(AuthError::EmailUnverified),
        };
        let link = NewIdentity {
            provider: provider.to_owned(),
            subject: identity.subject.clone(),
            email: Some(email.clone()),
            linked_at: self.now(),
        };
        if let Some(user) = self.inner.repo.users().user_by_email(&email).await? {
            // No pre-registration takeover: both sides must have proven the mailbox.
            if !(identity.email_verified && user.confirmed) {
                return Err(AuthError::EmailExists);
            }
            let user = self.unbanned(user).await?.ok_or(AuthError::UserBanned)?;
            if store.link_identity(user.id, link).await? {
                return Ok(user);
            }
            return self.linked_meanwhile(store, provider, &identity).await;
        }
        // An address the provider does not vouch for is never used for an account.
        if !identity.email_verified {
            return Err(AuthError::EmailUnverified);
        }
        let local = email.rsplit_once('@').map_or("", |(local, _)| local);
        for attempt in 0..USERNAME_TRIES {
            let Some(username) = self.free_username(local, attempt).await? else {
                continue;
            };
            let new = NewUser {
                email: email.clone(),
                username,
                password_hash: None,
                confirmed: true,
                created_at: self.now(),
            };
            match store.create_user_with_identity(new, link.clone()).await {
                Ok(Some(user)) => return Ok(user),
                Ok(None) => return self.linked_meanwhile(store, provider, &identity).await,
                Err(StoreError::Conflict(UniqueField::Username)) => {}
                // Registered with this address meanwhile: the same answer as above.
                Err(StoreError::Conflict(UniqueField::Email)) => {
                    return Err(AuthError::EmailExists);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(AuthError::unavailable(format!(
            "no free username for a new social account after {USERNAME_TRIES} tries"
        )))
    }

    /// The account a concurrent callback of the same identity linked a moment ago.
    async fn linked_meanwhile(
        &self,
        store: &dyn IdentityStore,
        provider: &str,
        identity: &ProviderIdentity,
    ) -> Result<User, AuthError> {
        let user = store
            .user_by_identity(provider, &identity.subject)
            .await?
            .ok_or(AuthError::EmailExists)?;
        self.unbanned(user).await?.ok_or(AuthError::UserBanned)
    }

    /// Candidate `attempt` for a username derived from an email's local part (`ada`, `ada1`,
    /// `ada2`, ..., random digits after 20 tries), if it is valid and not taken.
    async fn free_username(&self, local: &str, attempt: u32) -> Result<Option<String>, AuthError> {
        let mut base: String = local
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
            .take(20)
            .collect();
        if base.len() < 3 {
            base.push_str("user");
        }
        let suffix = match attempt {
            0 => String::new(),
            1..20 => attempt.to_string(),
            _ => {
                let random = crate::random::hex(crate::random::token(4).as_bytes());
                random[..8].to_owned()
            }
        };
        base.truncate(20 - suffix.len());
        let candidate = format!("{base}{suffix}");
        let Ok(candidate) = self.inner.config.policy.username(&candidate) else {
            return Ok(None);
        };
        let taken = self
            .inner
            .repo
            .users()
            .user_by_username(&candidate)
            .await?
            .is_some();
        Ok((!taken).then_some(candidate))
    }

    fn provider(&self, req: &AuthRequest) -> Result<Arc<dyn IdentityProvider>, AuthError> {
        let name = req.param.as_deref().ok_or(AuthError::NotFound)?;
        self.inner
            .providers
            .iter()
            .find(|p| p.name() == name)
            .cloned()
            .ok_or(AuthError::NotFound)
    }

    fn identity_store(&self) -> Result<&dyn IdentityStore, AuthError> {
        self.inner
            .repo
            .identities()
            .ok_or_else(|| AuthError::unavailable("the storage backend stores no identities"))
    }

    /// The callback URL registered at the provider: `{redirect_base}/{provider}/callback`.
    fn redirect_uri(&self, provider: &str) -> String {
        let social = &self.inner.config.social;
        let base = social.redirect_base.as_deref().unwrap_or_default();
        format!("{base}/{provider}/callback")
    }

    /// The sign-in cookie, scoped to the callback's path under the prefix it was served at.
    fn sign_in_cookie(
        &self,
        req: &AuthRequest,
        provider: &str,
        value: &str,
        max_age: i64,
    ) -> String {
        let path = format!("{}/{provider}/callback", req.prefix().trim_end_matches('/'));
        self.inner
            .cookies
            .sign_in(&self.inner.config.social.cookie_name, value, &path, max_age)
    }

    /// `307` to `{base_url}/login?error=<code>`.
    fn social_failure(&self, error: &AuthError) -> AuthResponse {
        redirect_to(format!(
            "{}/login?error={}",
            self.inner.config.base_url,
            error.code()
        ))
    }
}

/// `307` to `location`, with the JSON body `null`.
fn redirect_to(location: String) -> AuthResponse {
    let mut response = AuthResponse::null()
        .with("Location", location)
        .with("Cache-Control", "no-store".into());
    response.status = 307;
    response
}
