//! `POST /token/refresh`: rotation with reuse detection.

use crate::cookie::TokenCookie;
use crate::error::AuthError;
use crate::request::{AuthRequest, AuthResponse, Fields};

use crate::store::{RefreshRotation, RotationOutcome};
use crate::token::TokenKind;

use super::{Auth, secs};

impl Auth {
    pub(crate) async fn refresh(&self, req: &AuthRequest) -> Result<AuthResponse, AuthError> {
        let inner = &self.inner;
        let now = self.now();
        let from_cookie = inner
            .cookies
            .read(req.header_values("cookie"), TokenCookie::Refresh);
        let token = match from_cookie {
            Some(token) => token,
            None => Fields::of(req)?
                .optional_string("refresh")?
                .map(str::to_owned)
                .ok_or(AuthError::NotAuthenticated)?,
        };
        let claims = inner.tokens.decode(&token, TokenKind::Refresh, now)?;

        let user = inner.repo.user_by_id(claims.id).await?;
        let Some(user) = user.filter(|u| u.active) else {
            // A deleted or banned user's sessions end here.
            self.revoke(&claims.sid, now).await?;
            return Err(AuthError::InvalidToken);
        };

        let next_refresh = self.refresh_claims(&user, &claims.sid, now);
        let outcome = inner
            .repo
            .rotate_refresh_token(RefreshRotation {
                sid: claims.sid.clone(),
                presented_jti: claims.jti.clone(),
                next_jti: next_refresh.jti.clone(),
                now,
                next_expires_at: next_refresh.exp,
                grace_seconds: secs(inner.config.lifetimes.refresh_grace),
            })
            .await?;
        match outcome {
            RotationOutcome::Rotated => {}
            RotationOutcome::Replayed => {
                self.mark_revoked(&claims.sid, now).await?;
                tracing::warn!(
                    user_id = user.id,
                    "authx: a rotated refresh token was replayed; its session is revoked"
                );
                return Err(AuthError::InvalidToken);
            }
            RotationOutcome::RecentlyRotated | RotationOutcome::Invalid => {
                return Err(AuthError::InvalidToken);
            }
        }
        // The new access token carries the current username and permissions.
        let access = inner
            .tokens
            .encode(&self.access_claims(&user, &claims.sid, now))?;
        let refresh = inner.tokens.encode(&next_refresh)?;
        Ok(self.token_response(&access, &refresh, &claims.sid, true))
    }
}
