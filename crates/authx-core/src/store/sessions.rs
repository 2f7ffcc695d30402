//! Login sessions and their refresh tokens.
//!
//! A session row holds its current and its previous refresh token id, so a refresh writes no
//! new row and still tells a grace-period retry from a replay. A session is live while it is
//! not ended, its refresh token has not expired (never later than its absolute lifetime) and it
//! opened after the global cut-off ("log out everyone").

use async_trait::async_trait;

use super::{StoreResult, UserId};
use crate::clock::{Millis, Timestamp};

/// A login session, opened at register or login, with its first refresh token.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The session id (`sid` claim): random and secret (it keys the CSRF token).
    pub sid: String,
    /// The id shown in `GET /sessions`: random, not derived from the sid, no credential.
    pub public_id: String,
    /// Whose session.
    pub user_id: UserId,
    /// When it opened, to the millisecond (cut-offs compare with it).
    pub created_at_ms: Millis,
    /// When its first refresh token expires (at most `absolute_expires_at`).
    pub expires_at: Timestamp,
    /// When it ends however often it is refreshed.
    pub absolute_expires_at: Timestamp,
    /// The `jti` of its first refresh token.
    pub refresh_jti: String,
    /// The client IP of the login.
    pub ip: String,
    /// The `User-Agent` of the login, at most 256 characters.
    pub user_agent: String,
}

/// A request to swap a refresh token for its successor.
#[derive(Debug, Clone)]
pub struct RefreshRotation {
    /// The session the token belongs to.
    pub sid: String,
    /// The `jti` of the token presented.
    pub presented_jti: String,
    /// The `jti` of the token that replaces it.
    pub next_jti: String,
    /// Now.
    pub now: Timestamp,
    /// When the new token should expire; the store clamps it to the session's absolute
    /// expiry.
    pub next_expires_at: Timestamp,
    /// A token replaced at most this many seconds ago is refused without ending the session
    /// (concurrent tabs); an older one is a replay.
    pub grace_seconds: i64,
    /// The client IP of this refresh.
    pub ip: String,
    /// The `User-Agent` of this refresh, at most 256 characters.
    pub user_agent: String,
}

/// A request to give a live session a new refresh token without presenting the current one
/// (after a password change, the session that made it continues with new tokens).
#[derive(Debug, Clone)]
pub struct RefreshReplacement {
    /// The session.
    pub sid: String,
    /// Its user: a session of another user is not replaced.
    pub user_id: UserId,
    /// The `jti` of the token that replaces the current one.
    pub next_jti: String,
    /// Now.
    pub now: Timestamp,
    /// When the new token should expire; the store clamps it to the session's absolute
    /// expiry.
    pub next_expires_at: Timestamp,
    /// The client IP of the request.
    pub ip: String,
    /// The `User-Agent` of the request, at most 256 characters.
    pub user_agent: String,
}

/// A session whose refresh token was rotated, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotatedSession {
    /// When it opened, to the millisecond.
    pub opened_ms: Millis,
    /// When the new refresh token expires.
    pub expires_at: Timestamp,
    /// When the session ends however often it is refreshed.
    pub absolute_expires_at: Timestamp,
}

/// What a [`RefreshRotation`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationOutcome {
    /// The presented token was current; the next one is now current.
    Rotated(RotatedSession),
    /// The token was replaced within the grace period: refused, session kept.
    RecentlyRotated,
    /// The token belongs to this live session but was replaced before the grace period (or
    /// earlier still): a replay. Nothing was changed; the service ends the session.
    Replayed,
    /// Unknown session, or one that ended or expired.
    Invalid,
}

/// A live session as listed to its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The secret session id (never shown; tells the current session).
    pub sid: String,
    /// The public id.
    pub public_id: String,
    /// When it opened, to the millisecond.
    pub created_at_ms: Millis,
    /// When its refresh token last rotated, if it did.
    pub rotated_at: Option<Timestamp>,
    /// The client IP of the login.
    pub login_ip: String,
    /// The `User-Agent` of the login.
    pub login_user_agent: String,
    /// The client IP of the last refresh.
    pub last_ip: Option<String>,
    /// The `User-Agent` of the last refresh.
    pub last_user_agent: Option<String>,
}

/// Which sessions to end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndSessions {
    /// One session.
    One {
        /// Its id.
        sid: String,
    },
    /// Every live session of a user but one.
    Others {
        /// The user.
        user_id: UserId,
        /// The session that continues.
        keep_sid: String,
    },
    /// Every session of a user.
    AllOf {
        /// The user.
        user_id: UserId,
    },
    /// Every session of every user: one write, the global cut-off. Sessions opened before
    /// `cutoff_ms` are no longer live, and stay so whatever happens to the record that shows
    /// the cut-off to admins.
    Everyone {
        /// The cut-off instant.
        cutoff_ms: Millis,
    },
}

/// Login sessions and their refresh tokens.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Opens a session with its first refresh token.
    async fn create_session(&self, session: NewSession) -> StoreResult<()>;
    /// Atomically checks the presented refresh token of a live session and swaps in its
    /// successor, recording the client of the refresh; of concurrent rotations of one token
    /// exactly one returns [`RotationOutcome::Rotated`]. A refused rotation changes nothing.
    async fn rotate_refresh_token(&self, rotation: RefreshRotation)
    -> StoreResult<RotationOutcome>;
    /// Replaces the current refresh token of a live session of the user in one statement, as
    /// a rotation does (the replaced token becomes the previous one, replaced `now`; the
    /// client of the request is recorded), keeping the session's id, public id, opening
    /// instant and absolute expiry. `None`, with nothing changed, when the session is not
    /// live or not the user's.
    async fn replace_refresh_token(
        &self,
        replacement: RefreshReplacement,
    ) -> StoreResult<Option<RotatedSession>>;
    /// The user's live sessions at `now`, newest first.
    async fn live_sessions(&self, user_id: UserId, now: Timestamp)
    -> StoreResult<Vec<SessionInfo>>;
    /// Ends sessions at `at`: none of their refresh tokens works again. Returns how many live
    /// sessions it ended (for [`EndSessions::Everyone`], 0: no row is written per session).
    async fn end_sessions(&self, which: EndSessions, at: Timestamp) -> StoreResult<u64>;
    /// The global cut-off, if one was ever set.
    async fn session_cutoff(&self) -> StoreResult<Option<Millis>>;
}
