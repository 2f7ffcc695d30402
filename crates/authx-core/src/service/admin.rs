//! The admin router but bans (see `bans.rs`): kick, blackout, permissions and the id of a
//! username. Every route needs an admin as the one admin rule reads it from storage
//! ([`Auth::authenticate_admin`]); every action that ends sessions goes through
//! [`Auth::end_sessions`], so it takes effect at once on every instance; every action is
//! logged at info level with its actor, what it did and its target.

use serde::Serialize;

use crate::clock::Timestamp;
use crate::error::AuthError;
use crate::request::{AuthRequest, AuthResponse, Fields, Query};
use crate::store::{PermissionChange, User, UserId};

use super::Auth;
use super::sessions::{EndReason, Ending};

/// Longest permission name, in characters.
const PERMISSION_LIMIT: usize = 64;

/// What an admin did, as the log names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AdminAction {
    Ban,
    Unban,
    Kick,
    SetBlackout,
    DeleteBlackout,
    AddPermission,
    RemovePermission,
    ClearPermissions,
}

impl AdminAction {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Ban => "ban",
            Self::Unban => "unban",
            Self::Kick => "kick",
            Self::SetBlackout => "set_blackout",
            Self::DeleteBlackout => "delete_blackout",
            Self::AddPermission => "add_permission",
            Self::RemovePermission => "remove_permission",
            Self::ClearPermissions => "clear_permissions",
        }
    }
}

/// The log line of an admin action: who did what to whom (no target: everyone).
pub(crate) fn audit(actor: UserId, action: AdminAction, target: Option<UserId>) {
    tracing::info!(
        actor_id = actor,
        action = action.as_str(),
        target_id = target,
        "authx: admin action"
    );
}

/// The user id of the path; the route table only lets decimal ids through.
pub(crate) fn target_id(req: &AuthRequest) -> Result<UserId, AuthError> {
    req.param
        .as_deref()
        .and_then(crate::routes::parse_id)
        .ok_or(AuthError::NotFound)
}

/// A permission name: 1 to 64 characters of `a-z 0-9 _ : . -`.
fn permission(fields: &Fields) -> Result<String, AuthError> {
    let name = fields.string("payload")?;
    let valid = (1..=PERMISSION_LIMIT).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_:.-".contains(&b));
    if valid {
        Ok(name.to_owned())
    } else {
        Err(AuthError::InvalidPermission)
    }
}

/// The blackout record as the original showed it, plus the instant.
#[derive(Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub(crate) struct Blackout {
    ts: String,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    at: Timestamp,
}

/// `20.03.2022, 14:05 UTC`, the original's format.
fn blackout_ts(at: Timestamp) -> String {
    match time::OffsetDateTime::from_unix_timestamp(at) {
        Ok(t) => format!(
            "{:02}.{:02}.{}, {:02}:{:02} UTC",
            t.day(),
            u8::from(t.month()),
            t.year(),
            t.hour(),
            t.minute()
        ),
        Err(_) => String::new(),
    }
}

impl Auth {
    /// The answer of an admin action that ended sessions: `200 null`, and when the caller's
    /// own sessions ended with them, the cookies deleted (as "log out everywhere" does).
    fn after_ending(&self, own_sessions_ended: bool) -> AuthResponse {
        if own_sessions_ended {
            self.cookies_removed()
        } else {
            AuthResponse::null()
        }
    }

    /// `POST /{id}/kick`: ends every session of the user; they may log in again at once.
    pub(crate) async fn kick(
        &self,
        req: &AuthRequest,
        admin: &User,
    ) -> Result<AuthResponse, AuthError> {
        let target = target_id(req)?;
        if self.inner.repo.users().user_by_id(target).await?.is_none() {
            return Err(AuthError::UserNotFound);
        }
        audit(admin.id, AdminAction::Kick, Some(target));
        self.end_sessions(Ending::AllOf(target), EndReason::Kicked)
            .await?;
        Ok(self.after_ending(target == admin.id))
    }

    /// `POST /blackout`: ends every session of every user, the caller's included (one write,
    /// the global cut-off), then records when for `GET /blackout`.
    pub(crate) async fn set_blackout(&self, admin: &User) -> Result<AuthResponse, AuthError> {
        let at = self.now();
        self.end_sessions(Ending::Everyone, EndReason::Blackout)
            .await?;
        self.inner.repo.admin().set_blackout(at).await?;
        audit(admin.id, AdminAction::SetBlackout, None);
        Ok(self.after_ending(true))
    }

    /// `GET /blackout`: when everyone was last logged out; `404` when no record is kept.
    pub(crate) async fn get_blackout(&self) -> Result<AuthResponse, AuthError> {
        let at = self
            .inner
            .repo
            .admin()
            .blackout()
            .await?
            .ok_or(AuthError::NotFound)?;
        let body = serde_json::to_string(&Blackout {
            ts: blackout_ts(at),
            at,
        })
        .map_err(AuthError::unavailable)?;
        Ok(AuthResponse::ok(body))
    }

    /// `DELETE /blackout`: removes the record, not the cut-off: sessions it ended stay ended.
    pub(crate) async fn delete_blackout(&self, admin: &User) -> Result<AuthResponse, AuthError> {
        self.inner.repo.admin().delete_blackout().await?;
        audit(admin.id, AdminAction::DeleteBlackout, None);
        Ok(AuthResponse::null())
    }

    /// `GET /id_by_username?username=`: `{"id"}`, the name compared without regard to case.
    pub(crate) async fn id_by_username(
        &self,
        req: &AuthRequest,
    ) -> Result<AuthResponse, AuthError> {
        let query = Query::of(req);
        let username = query
            .string("username")
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .ok_or(AuthError::InvalidQuery("username"))?;
        let user = self
            .inner
            .repo
            .users()
            .user_by_username(username)
            .await?
            .ok_or(AuthError::UserNotFound)?;
        Ok(AuthResponse::ok(format!(r#"{{"id":{}}}"#, user.id)))
    }

    /// `GET /{id}/permissions`: `{"permissions": [...]}`.
    pub(crate) async fn get_permissions(
        &self,
        req: &AuthRequest,
    ) -> Result<AuthResponse, AuthError> {
        #[derive(Serialize)]
        struct Permissions<'a> {
            permissions: &'a [String],
        }
        let user = self
            .inner
            .repo
            .users()
            .user_by_id(target_id(req)?)
            .await?
            .ok_or(AuthError::UserNotFound)?;
        let body = serde_json::to_string(&Permissions {
            permissions: &user.permissions,
        })
        .map_err(AuthError::unavailable)?;
        Ok(AuthResponse::ok(body))
    }

    /// `POST /{id}/permissions` `{"action": "ADD"|"REMOVE"|"CLEAR", "payload"}`: one atomic
    /// change in storage, then every session of the user ends, so no token carries stale
    /// permissions. Removing one's own `admin` (`REMOVE admin`, `CLEAR`): `400 self_target`.
    pub(crate) async fn update_permissions(
        &self,
        req: &AuthRequest,
        admin: &User,
    ) -> Result<AuthResponse, AuthError> {
        let target = target_id(req)?;
        let fields = Fields::of(req)?;
        let (change, action) = match fields.string("action")? {
            "ADD" => (
                PermissionChange::Add(permission(&fields)?),
                AdminAction::AddPermission,
            ),
            "REMOVE" => (
                PermissionChange::Remove(permission(&fields)?),
                AdminAction::RemovePermission,
            ),
            "CLEAR" => (PermissionChange::Clear, AdminAction::ClearPermissions),
            _ => return Err(AuthError::WrongAction),
        };
        let drops_own_admin = match &change {
            PermissionChange::Remove(name) => name == "admin",
            PermissionChange::Clear => true,
            PermissionChange::Add(_) => false,
        };
        if target == admin.id && drops_own_admin {
            return Err(AuthError::SelfTarget);
        }
        self.inner
            .repo
            .admin()
            .change_permissions(target, change)
            .await?
            .ok_or(AuthError::UserNotFound)?;
        audit(admin.id, action, Some(target));
        self.end_sessions(Ending::AllOf(target), EndReason::PermissionsChanged)
            .await?;
        Ok(self.after_ending(target == admin.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blackout_ts_is_the_originals_format() {
        // 2022-03-20 14:05:59 UTC
        assert_eq!(blackout_ts(1_647_785_159), "20.03.2022, 14:05 UTC");
        assert_eq!(blackout_ts(0), "01.01.1970, 00:00 UTC");
    }

    #[test]
    fn permission_names() {
        let of = |body: &str| {
            let req = AuthRequest::new([127, 0, 0, 1].into()).body(body.as_bytes().to_vec());
            permission(&Fields::of(&req).unwrap())
        };
        for good in ["admin", "a", "billing:read", "v1.2-beta_x", &"x".repeat(64)] {
            let body = serde_json::json!({ "payload": good }).to_string();
            assert_eq!(of(&body).unwrap(), good);
        }
        for bad in ["", "Admin", "a b", "a/b", "é", "a%", &"x".repeat(65)] {
            let body = serde_json::json!({ "payload": bad }).to_string();
            assert_eq!(of(&body).unwrap_err().code(), "invalid_permission", "{bad}");
        }
        assert_eq!(of("{}").unwrap_err().code(), "field_required");
    }
}
