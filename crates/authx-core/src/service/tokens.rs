//! Token pairs: their claims (never outliving the session) and the answer that hands them out
//! as cookies, or takes the cookies back.

use crate::clock::{Millis, Timestamp};
use crate::cookie::TokenCookie;
use crate::error::AuthError;
use crate::request::AuthResponse;
use crate::store::User;
use crate::token::{Claims, TokenKind};

use super::csrf::csrf_token;
use super::{Auth, secs};

/// The session a token pair belongs to.
#[derive(Debug, Clone)]
pub(crate) struct SessionRef {
    /// Its secret id.
    pub(crate) sid: String,
    /// When it opened.
    pub(crate) opened_ms: Millis,
    /// When it ends however often it is refreshed.
    pub(crate) absolute_expires_at: Timestamp,
}

/// A signed token pair.
pub(crate) struct TokenPair {
    pub(crate) access: String,
    pub(crate) access_exp: Timestamp,
    pub(crate) refresh: String,
    pub(crate) refresh_exp: Timestamp,
}

impl Auth {
    /// Access claims for `user` in `session`, expiring with the session at the latest.
    pub(crate) fn access_claims(
        &self,
        user: &User,
        session: &SessionRef,
        now: Timestamp,
    ) -> Claims {
        let exp = now
            .saturating_add(secs(self.inner.config.lifetimes.access))
            .min(session.absolute_expires_at);
        Claims::for_user(
            user,
            TokenKind::Access,
            &session.sid,
            session.opened_ms,
            now,
            exp,
        )
    }

    /// Refresh claims expiring at `exp`.
    pub(crate) fn refresh_claims(
        user: &User,
        session: &SessionRef,
        now: Timestamp,
        exp: Timestamp,
    ) -> Claims {
        Claims::for_user(
            user,
            TokenKind::Refresh,
            &session.sid,
            session.opened_ms,
            now,
            exp,
        )
    }

    /// Signs an access token for `user` and the given refresh claims.
    pub(crate) fn sign_pair(
        &self,
        user: &User,
        session: &SessionRef,
        refresh: &Claims,
        now: Timestamp,
    ) -> Result<TokenPair, AuthError> {
        let access = self.access_claims(user, session, now);
        Ok(TokenPair {
            access: self.inner.tokens.encode(&access)?,
            access_exp: access.exp,
            refresh: self.inner.tokens.encode(refresh)?,
            refresh_exp: refresh.exp,
        })
    }

    /// The answer that hands out a token pair of session `sid`: both cookies (access first,
    /// `Max-Age` the token's remaining life), the CSRF cookie in double-submit mode,
    /// `Cache-Control: no-store`, and the body: `null` for register and login, `{"access"}`
    /// for refresh, and both tokens with `tokens_in_body`.
    pub(crate) fn token_response(
        &self,
        pair: &TokenPair,
        sid: &str,
        now: Timestamp,
        with_access_body: bool,
    ) -> AuthResponse {
        let config = &self.inner.config;
        let cookies = &self.inner.cookies;
        let body = if config.tokens_in_body {
            serde_json::json!({ "access": pair.access, "refresh": pair.refresh }).to_string()
        } else if with_access_body {
            serde_json::json!({ "access": pair.access }).to_string()
        } else {
            "null".to_owned()
        };
        let refresh_age = pair.refresh_exp.saturating_sub(now);
        let mut response = AuthResponse::ok(body)
            .with(
                "Set-Cookie",
                cookies.set(
                    TokenCookie::Access,
                    &pair.access,
                    pair.access_exp.saturating_sub(now),
                ),
            )
            .with(
                "Set-Cookie",
                cookies.set(TokenCookie::Refresh, &pair.refresh, refresh_age),
            );
        if config.csrf_double_submit {
            response = response.with(
                "Set-Cookie",
                cookies.set(TokenCookie::Csrf, &csrf_token(sid), refresh_age),
            );
        }
        response.no_store()
    }

    /// `200 null` deleting the session cookies (logout, ending one's own session).
    pub(crate) fn cookies_removed(&self) -> AuthResponse {
        let cookies = &self.inner.cookies;
        let mut response = AuthResponse::null()
            .with("Set-Cookie", cookies.removal(TokenCookie::Access))
            .with("Set-Cookie", cookies.removal(TokenCookie::Refresh));
        if self.inner.config.csrf_double_submit {
            response = response.with("Set-Cookie", cookies.removal(TokenCookie::Csrf));
        }
        response
    }
}
