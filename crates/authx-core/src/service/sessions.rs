//! Sessions, the one mechanism: opening one, handing the current one new tokens, and every way
//! one ends. Logout, refresh-token replay, the sessions routes, password reset and change, and
//! later ban, kick, blackout and permission changes all end sessions through
//! [`Auth::end_sessions`], which makes the end take effect at once on every instance (the
//! limit store, Redis when configured, is written first and checked on every authentication)
//! and for good (storage).
//!
//! Ending all sessions of a user, or of everyone, is one write to the limit store: a cut-off
//! instant, exact to the millisecond, compared with when each session opened.

use std::sync::Weak;

use serde::Serialize;

use crate::clock::Timestamp;
use crate::cookie::TokenCookie;
use crate::error::AuthError;
use crate::request::{AuthRequest, AuthResponse, Fields};
use crate::store::{EndSessions, NewSession, RefreshReplacement, User, UserId};
use crate::token::{Claims, TokenKind};

use super::tokens::SessionRef;
use super::{Auth, Inner, secs};

/// Longest `User-Agent` kept with a session, in characters.
const USER_AGENT_LIMIT: usize = 256;

/// Seconds a revocation or cut-off outlives the access tokens it concerns, for tokens issued
/// by a refresh that raced with it and clocks a little apart.
const REVOCATION_MARGIN: i64 = 60;

/// Which sessions to end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ending {
    /// One session, by its secret id.
    Session(String),
    /// Every session of `user` but `keep`.
    OthersOf { user: UserId, keep: String },
    /// Every session of a user.
    AllOf(UserId),
    /// Every session of every user.
    Everyone,
}

/// Why sessions end, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum EndReason {
    Logout,
    RefreshReplayed,
    AccountGone,
    RevokedByUser,
    OthersRevokedByUser,
    LogoutAll,
    PasswordReset,
    PasswordChanged,
    Application,
    Banned,
    Kicked,
    Blackout,
    PermissionsChanged,
}

impl EndReason {
    fn as_str(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::RefreshReplayed => "a rotated refresh token was replayed",
            Self::AccountGone => "the account is banned or deleted",
            Self::RevokedByUser => "ended from the sessions list",
            Self::OthersRevokedByUser => "other sessions ended by the user",
            Self::LogoutAll => "log out everywhere",
            Self::PasswordReset => "the password was reset through the mailbox",
            Self::PasswordChanged => "the password was changed from another session",
            Self::Application => "ended by the application",
            Self::Banned => "banned by an admin",
            Self::Kicked => "kicked by an admin",
            Self::Blackout => "everyone logged out by an admin",
            Self::PermissionsChanged => "permissions changed by an admin",
        }
    }
}

/// One of the user's live sessions (`GET /sessions`); instants in unix seconds.
#[derive(Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = Session))]
pub(crate) struct ListedSession {
    id: String,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    created_at: Timestamp,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    last_seen_at: Timestamp,
    ip: String,
    user_agent: String,
    current: bool,
}

impl Auth {
    /// Opens a session for `user`, recording the client of `req`, and answers `200 null` with
    /// both cookies.
    pub(crate) async fn open_session(
        &self,
        user: &User,
        req: &AuthRequest,
    ) -> Result<AuthResponse, AuthError> {
        let inner = &self.inner;
        let lifetimes = &inner.config.lifetimes;
        let opened_ms = inner.clock.now_ms();
        let now = opened_ms.div_euclid(1000);
        let session = SessionRef {
            sid: crate::random::token(16),
            opened_ms,
            absolute_expires_at: now.saturating_add(secs(lifetimes.session)),
        };
        let refresh_exp = now
            .saturating_add(secs(lifetimes.refresh))
            .min(session.absolute_expires_at);
        let refresh = Self::refresh_claims(user, &session, now, refresh_exp);
        inner
            .repo
            .sessions()
            .create_session(NewSession {
                sid: session.sid.clone(),
                public_id: crate::random::token(16),
                user_id: user.id,
                created_at_ms: opened_ms,
                expires_at: refresh_exp,
                absolute_expires_at: session.absolute_expires_at,
                refresh_jti: refresh.jti.clone(),
                ip: self.client_ip(req).to_string(),
                user_agent: user_agent(req),
            })
            .await?;
        let pair = self.sign_pair(user, &session, &refresh, now)?;
        Ok(self.token_response(&pair, &session.sid, now, false))
    }

    /// Hands session `sid` of `user` a new token pair without a refresh token being presented
    /// (after a password change, the session that made it continues with new tokens): the
    /// session keeps its id, public id, opening instant and absolute expiry, its previous
    /// refresh token is replaced as by a refresh, and the answer sets both cookies again. A
    /// session that ended meanwhile gets its cookies deleted instead.
    pub(crate) async fn reissue_session_tokens(
        &self,
        user: &User,
        sid: &str,
        req: &AuthRequest,
    ) -> Result<AuthResponse, AuthError> {
        let inner = &self.inner;
        let now = self.now();
        let next_jti = crate::random::token(16);
        let replaced = inner
            .repo
            .sessions()
            .replace_refresh_token(RefreshReplacement {
                sid: sid.to_owned(),
                user_id: user.id,
                next_jti: next_jti.clone(),
                now,
                next_expires_at: now.saturating_add(secs(inner.config.lifetimes.refresh)),
                ip: self.client_ip(req).to_string(),
                user_agent: user_agent(req),
            })
            .await?;
        let Some(replaced) = replaced else {
            return Ok(self.cookies_removed());
        };
        let session = SessionRef {
            sid: sid.to_owned(),
            opened_ms: replaced.opened_ms,
            absolute_expires_at: replaced.absolute_expires_at,
        };
        let mut refresh = Self::refresh_claims(user, &session, now, replaced.expires_at);
        refresh.jti = next_jti;
        let pair = self.sign_pair(user, &session, &refresh, now)?;
        Ok(self.token_response(&pair, sid, now, false))
    }

    /// Ends sessions: the one path every way of ending them takes. The limit store learns of
    /// it first, so access tokens are refused at once on every instance; then storage, so no
    /// refresh token of them works again. Returns how many sessions storage ended.
    pub(crate) async fn end_sessions(
        &self,
        ending: Ending,
        reason: EndReason,
    ) -> Result<u64, AuthError> {
        let inner = &self.inner;
        let now_ms = inner.clock.now_ms();
        let now = now_ms.div_euclid(1000);
        let keep_until = now
            .saturating_add(secs(inner.config.lifetimes.access))
            .saturating_add(secs(inner.config.lifetimes.refresh_grace))
            .saturating_add(REVOCATION_MARGIN);
        let sessions = inner.repo.sessions();
        let (which, user) = match ending {
            Ending::Session(sid) => {
                inner
                    .limits
                    .revoke_sessions(std::slice::from_ref(&sid), keep_until)
                    .await?;
                (EndSessions::One { sid }, None)
            }
            Ending::OthersOf { user, keep } => {
                let others: Vec<String> = sessions
                    .live_sessions(user, now)
                    .await?
                    .into_iter()
                    .map(|s| s.sid)
                    .filter(|sid| *sid != keep)
                    .collect();
                inner.limits.revoke_sessions(&others, keep_until).await?;
                (
                    EndSessions::Others {
                        user_id: user,
                        keep_sid: keep,
                    },
                    Some(user),
                )
            }
            Ending::AllOf(user) => {
                inner.limits.cut_off_user(user, now_ms, keep_until).await?;
                (EndSessions::AllOf { user_id: user }, Some(user))
            }
            Ending::Everyone => {
                inner.limits.cut_off_everyone(now_ms, keep_until).await?;
                (EndSessions::Everyone { cutoff_ms: now_ms }, None)
            }
        };
        let ended = sessions.end_sessions(which, now).await?;
        tracing::info!(
            user_id = user,
            ended,
            reason = reason.as_str(),
            "authx: sessions ended"
        );
        Ok(ended)
    }

    /// Ends every session of user `user`, at once on every instance: its access tokens are
    /// refused from the next request, its refresh tokens never work again; a login after this
    /// opens a session as usual. For the application's own flows (deleting an account, a
    /// security event); returns how many sessions were live.
    pub async fn log_out_user(&self, user: UserId) -> Result<u64, AuthError> {
        self.end_sessions(Ending::AllOf(user), EndReason::Application)
            .await
    }

    /// Ends every session of every user, at once on every instance (one write, the global
    /// cut-off): everyone must log in again.
    pub async fn log_out_everyone(&self) -> Result<(), AuthError> {
        self.end_sessions(Ending::Everyone, EndReason::Application)
            .await
            .map(drop)
    }

    /// Refuses the token of a session that ended (see [`Auth::end_sessions`]).
    pub(crate) async fn check_session_live(
        &self,
        claims: &Claims,
        now: Timestamp,
    ) -> Result<(), AuthError> {
        if !self.inner.config.revocation_check {
            return Ok(());
        }
        let status = self
            .inner
            .limits
            .session_status(&claims.sid, claims.id, now)
            .await?;
        if status.ends(claims.session_opened_ms()) {
            return Err(AuthError::InvalidToken);
        }
        Ok(())
    }

    /// `POST /logout`: always `200 null` with both cookies deleted; the session of a valid
    /// refresh token (else of a valid access token) is ended.
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
            self.end_sessions(Ending::Session(sid), EndReason::Logout)
                .await?;
        }
        Ok(self.cookies_removed())
    }

    /// `POST /token`: the access token's claims.
    pub(crate) fn token(claims: &Claims) -> Result<AuthResponse, AuthError> {
        let body = serde_json::to_string(claims).map_err(AuthError::unavailable)?;
        Ok(AuthResponse::ok(body).no_store())
    }

    /// `GET /sessions`: the user's live sessions, newest first, with the client of their last
    /// refresh (else of their login).
    pub(crate) async fn list_sessions(&self, claims: Claims) -> Result<AuthResponse, AuthError> {
        let listed: Vec<ListedSession> = self
            .inner
            .repo
            .sessions()
            .live_sessions(claims.id, self.now())
            .await?
            .into_iter()
            .map(|s| {
                let created_at = s.created_at_ms.div_euclid(1000);
                ListedSession {
                    current: s.sid == claims.sid,
                    id: s.public_id,
                    created_at,
                    last_seen_at: s.rotated_at.unwrap_or(created_at),
                    ip: s.last_ip.unwrap_or(s.login_ip),
                    user_agent: s.last_user_agent.unwrap_or(s.login_user_agent),
                }
            })
            .collect();
        let body = serde_json::to_string(&listed).map_err(AuthError::unavailable)?;
        Ok(AuthResponse::ok(body))
    }

    /// `DELETE /sessions/{session_id}`: ends one of one's own sessions (`404` for an unknown
    /// id and another user's alike); ending the current one answers like logout.
    pub(crate) async fn revoke_session(
        &self,
        req: &AuthRequest,
        claims: Claims,
    ) -> Result<AuthResponse, AuthError> {
        let public_id = req.param.as_deref().unwrap_or_default();
        let sid = self
            .inner
            .repo
            .sessions()
            .live_sessions(claims.id, self.now())
            .await?
            .into_iter()
            .find(|s| s.public_id == public_id)
            .map(|s| s.sid)
            .ok_or(AuthError::NotFound)?;
        let current = sid == claims.sid;
        self.end_sessions(Ending::Session(sid), EndReason::RevokedByUser)
            .await?;
        Ok(if current {
            self.cookies_removed()
        } else {
            AuthResponse::null()
        })
    }

    /// `POST /sessions/revoke_others`: ends every session but the current one.
    pub(crate) async fn revoke_other_sessions(
        &self,
        claims: Claims,
    ) -> Result<AuthResponse, AuthError> {
        self.end_sessions(
            Ending::OthersOf {
                user: claims.id,
                keep: claims.sid,
            },
            EndReason::OthersRevokedByUser,
        )
        .await?;
        Ok(AuthResponse::null())
    }

    /// `POST /logout_all`: ends every session of the user and deletes the cookies.
    pub(crate) async fn logout_all(&self, claims: Claims) -> Result<AuthResponse, AuthError> {
        self.end_sessions(Ending::AllOf(claims.id), EndReason::LogoutAll)
            .await?;
        Ok(self.cookies_removed())
    }
}

/// The request's `User-Agent`, at most [`USER_AGENT_LIMIT`] characters.
pub(crate) fn user_agent(req: &AuthRequest) -> String {
    req.header_value("user-agent")
        .unwrap_or_default()
        .chars()
        .take(USER_AGENT_LIMIT)
        .collect()
}

/// At start-up, tells the limit store the global cut-off kept in storage, so a restarted
/// in-process store still refuses the access tokens of sessions a blackout ended.
pub(crate) async fn load_global_cutoff(inner: Weak<Inner>) {
    let Some(inner) = inner.upgrade() else { return };
    match inner.repo.sessions().session_cutoff().await {
        Ok(Some(cutoff)) => {
            let keep_until = inner
                .clock
                .now()
                .saturating_add(secs(inner.config.lifetimes.access))
                .saturating_add(REVOCATION_MARGIN);
            if let Err(e) = inner.limits.cut_off_everyone(cutoff, keep_until).await {
                tracing::warn!(error = %e, "authx: could not load the global session cut-off");
            }
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "authx: could not read the global session cut-off"),
    }
}
