//! Opening a login session, `POST /logout` and `POST /token`.

use crate::cookie::TokenCookie;
use crate::error::AuthError;
use crate::request::{AuthRequest, AuthResponse, Fields};
use crate::store::{NewSession, User};
use crate::token::TokenKind;

use super::Auth;

impl Auth {
    /// Opens a session for `user` and answers `200 null` with both cookies.
    pub(crate) async fn open_session(&self, user: &User) -> Result<AuthResponse, AuthError> {
        let now = self.now();
        let sid = crate::random::token(16);
        let access = self.access_claims(user, &sid, now);
        let refresh = self.refresh_claims(user, &sid, now);
        self.inner
            .repo
            .create_session(NewSession {
                sid: sid.clone(),
                user_id: user.id,
                refresh_jti: refresh.jti.clone(),
                created_at: now,
                expires_at: refresh.exp,
            })
            .await?;
        let access = self.inner.tokens.encode(&access)?;
        let refresh = self.inner.tokens.encode(&refresh)?;
        Ok(self.token_response(&access, &refresh, &sid, false))
    }

    /// `POST /logout`: always `200 null` with both cookies deleted; the session of a valid
    /// refresh token (else of a valid access token) is revoked.
    pub(crate) async fn logout(&self, req: &AuthRequest) -> Result<AuthResponse, AuthError> {
        let now = self.now();
        let tokens = &self.inner.tokens;
        // A malformed body does not stop a logout.
        let body_refresh = Fields::of(req).ok().and_then(|f| {
            f.optional_string("refresh")
                .ok()
                .flatten()
                .map(str::to_owned)
        });
        let refresh = self
            .inner
            .cookies
            .read(req.header_values("cookie"), TokenCookie::Refresh)
            .or(body_refresh);
        let sid = refresh
            .and_then(|t| tokens.decode(&t, TokenKind::Refresh, now).ok())
            .map(|c| c.sid);
        let sid = match sid {
            Some(sid) => Some(sid),
            None => self.authenticate(req).await.ok().map(|c| c.sid),
        };
        if let Some(sid) = sid {
            self.revoke(&sid, now).await?;
        }
        let cookies = &self.inner.cookies;
        let mut response = AuthResponse::null()
            .with("Set-Cookie", cookies.removal(TokenCookie::Access))
            .with("Set-Cookie", cookies.removal(TokenCookie::Refresh));
        if self.inner.config.csrf_double_submit {
            response = response.with("Set-Cookie", cookies.removal(TokenCookie::Csrf));
        }
        Ok(response)
    }

    /// `POST /token`: the access token's claims.
    pub(crate) async fn token(&self, req: &AuthRequest) -> Result<AuthResponse, AuthError> {
        let claims = self.authenticate(req).await?;
        let body = serde_json::to_string(&claims).map_err(AuthError::unavailable)?;
        Ok(AuthResponse::ok(body).no_store())
    }
}
