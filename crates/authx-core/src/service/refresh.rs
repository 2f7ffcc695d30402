//! `POST /token/refresh`: rotation with reuse detection.

use crate::cookie::TokenCookie;
use crate::error::AuthError;
use crate::request::{AuthRequest, AuthResponse, Fields};
use crate::store::{RefreshRotation, RotationOutcome};
use crate::token::TokenKind;

use super::sessions::{EndReason, Ending, user_agent};
use super::tokens::SessionRef;
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
        // A session ended a moment ago on another instance may not be ended in storage yet.
        self.check_session_live(&claims, now).await?;

        // A ban past its expiry is lifted here.
        let user = match inner.repo.users().user_by_id(claims.id).await? {
            Some(user) => self.unbanned(user).await?,
            None => None,
        };
        let Some(user) = user else {
            // A deleted or banned user's sessions end here.
            self.end_sessions(Ending::Session(claims.sid), EndReason::AccountGone)
                .await?;
            return Err(AuthError::InvalidToken);
        };

        let next_jti = crate::random::token(16);
        let outcome = inner
            .repo
            .sessions()
            .rotate_refresh_token(RefreshRotation {
                sid: claims.sid.clone(),
                presented_jti: claims.jti.clone(),
                next_jti: next_jti.clone(),
                now,
                next_expires_at: now.saturating_add(secs(inner.config.lifetimes.refresh)),
                grace_seconds: secs(inner.config.lifetimes.refresh_grace),
                ip: self.client_ip(req).to_string(),
                user_agent: user_agent(req),
            })
            .await?;
        let rotated = match outcome {
            RotationOutcome::Rotated(rotated) => rotated,
            RotationOutcome::Replayed => {
                tracing::warn!(
                    user_id = user.id,
                    "authx: a rotated refresh token was replayed; its session ends"
                );
                self.end_sessions(Ending::Session(claims.sid), EndReason::RefreshReplayed)
                    .await?;
                return Err(AuthError::InvalidToken);
            }
            RotationOutcome::RecentlyRotated | RotationOutcome::Invalid => {
                return Err(AuthError::InvalidToken);
            }
        };
        let session = SessionRef {
            sid: claims.sid,
            opened_ms: rotated.opened_ms,
            absolute_expires_at: rotated.absolute_expires_at,
        };
        let mut refresh = Self::refresh_claims(&user, &session, now, rotated.expires_at);
        refresh.jti = next_jti;
        // The new access token carries the current username and permissions.
        let pair = self.sign_pair(&user, &session, &refresh, now)?;
        Ok(self.token_response(&pair, &session.sid, now, true))
    }
}
