//! Bans: `POST /{id}/blacklist` toggles one, `GET /blacklist` lists them. A ban ends every
//! session of the user at once; login then answers `400 User is banned` after a correct
//! password, refresh `401`. A ban with an expiry lifts itself at that instant: the first login,
//! refresh or admin check that finds it expired lifts it in storage (one conditional write),
//! so no janitor run is needed and a ban given meanwhile stays.

use serde::Serialize;

use crate::clock::Timestamp;
use crate::error::AuthError;
use crate::request::{AuthRequest, AuthResponse, Fields};
use crate::store::{BanToggle, NewBan, User};

use super::admin::{AdminAction, audit, target_id};
use super::sessions::{EndReason, Ending};
use super::{Auth, secs};

/// Longest ban reason kept, in characters.
const REASON_LIMIT: usize = 500;

/// A user under a ban.
#[derive(Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = Ban))]
pub(crate) struct ListedBan<'a> {
    id: i64,
    username: &'a str,
    reason: Option<&'a str>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    banned_at: Option<Timestamp>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    expires_at: Option<Timestamp>,
}

/// The users under a ban (`global`), and the ids banned within the access-token lifetime
/// (`current`).
#[derive(Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub(crate) struct Blacklist<'a> {
    global: Vec<ListedBan<'a>>,
    current: Vec<String>,
}

impl Auth {
    /// `POST /{id}/blacklist`: bans the user (optional body `{"reason", "expires_in"}`) and
    /// ends their sessions, or lifts their ban. Not oneself: `400 self_target`.
    pub(crate) async fn toggle_blacklist(
        &self,
        req: &AuthRequest,
        admin: &User,
    ) -> Result<AuthResponse, AuthError> {
        let target = target_id(req)?;
        let fields = Fields::of(req)?;
        let reason = fields
            .optional_string("reason")?
            .map(str::trim)
            .filter(|r| !r.is_empty());
        if reason.is_some_and(|r| r.chars().count() > REASON_LIMIT) {
            return Err(AuthError::InvalidBody(format!(
                "Field reason must be at most {REASON_LIMIT} characters"
            )));
        }
        let expires_in = fields.optional_positive("expires_in")?;
        if target == admin.id {
            return Err(AuthError::SelfTarget);
        }
        let now = self.now();
        let ban = NewBan {
            reason: reason.map(str::to_owned),
            expires_at: expires_in
                .map(|s| now.saturating_add(i64::try_from(s).unwrap_or(i64::MAX))),
        };
        let toggled = self
            .inner
            .repo
            .admin()
            .toggle_ban(target, ban, now)
            .await?
            .ok_or(AuthError::UserNotFound)?;
        match toggled {
            BanToggle::Banned => {
                audit(admin.id, AdminAction::Ban, Some(target));
                // Stored first: a login racing with the ban sees it, and a session it opened
                // before the ban is ended with the others.
                self.end_sessions(Ending::AllOf(target), EndReason::Banned)
                    .await?;
            }
            BanToggle::Unbanned => audit(admin.id, AdminAction::Unban, Some(target)),
        }
        Ok(AuthResponse::null())
    }

    /// `GET /blacklist`: the users under a ban in force (`global`), and the ids of those banned
    /// within the last access-token lifetime (`current`, as the original).
    pub(crate) async fn get_blacklist(&self) -> Result<AuthResponse, AuthError> {
        let now = self.now();
        let banned = self.inner.repo.admin().banned_users(now).await?;
        let recent_since = now.saturating_sub(secs(self.inner.config.lifetimes.access));
        let body = Blacklist {
            current: banned
                .iter()
                .filter(|b| b.banned_at.is_some_and(|at| at > recent_since))
                .map(|b| b.id.to_string())
                .collect(),
            global: banned
                .iter()
                .map(|b| ListedBan {
                    id: b.id,
                    username: &b.username,
                    reason: b.reason.as_deref(),
                    banned_at: b.banned_at,
                    expires_at: b.expires_at,
                })
                .collect(),
        };
        let body = serde_json::to_string(&body).map_err(AuthError::unavailable)?;
        Ok(AuthResponse::ok(body))
    }

    /// `user` if no ban is in force on them: active, or banned with an expiry that has passed,
    /// in which case the ban is lifted in storage now. `None` for a user under a ban.
    pub(crate) async fn unbanned(&self, mut user: User) -> Result<Option<User>, AuthError> {
        if user.active {
            return Ok(Some(user));
        }
        if self
            .inner
            .repo
            .admin()
            .lift_expired_ban(user.id, self.now())
            .await?
        {
            tracing::info!(user_id = user.id, "authx: an expired ban was lifted");
            user.active = true;
            return Ok(Some(user));
        }
        Ok(None)
    }
}
