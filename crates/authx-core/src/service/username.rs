//! `POST /{id}/change_username`.

use crate::error::AuthError;
use crate::request::{AuthRequest, AuthResponse, Fields};
use crate::store::UserId;

use super::Auth;

/// A path id: a decimal integer that fits a user id, else `404 Not found`.
pub(crate) fn parse_id(raw: Option<&str>) -> Result<UserId, AuthError> {
    let raw = raw.unwrap_or_default();
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AuthError::NotFound);
    }
    raw.parse().map_err(|_| AuthError::NotFound)
}

impl Auth {
    pub(crate) async fn change_username(
        &self,
        req: &AuthRequest,
    ) -> Result<AuthResponse, AuthError> {
        let inner = &self.inner;
        let id = parse_id(req.param.as_deref())?;
        let claims = self.authenticate(req).await?;
        if claims.id != id {
            // Admin rights are read from storage, not from a possibly stale token.
            let actor = inner.repo.user_by_id(claims.id).await?;
            if !actor.is_some_and(|a| a.active && a.is_admin()) {
                return Err(AuthError::Forbidden);
            }
        }
        let fields = Fields::of(req)?;
        let username = inner.config.policy.username(fields.string("username")?)?;
        let user = inner
            .repo
            .user_by_id(id)
            .await?
            .ok_or(AuthError::UserNotFound)?;
        if user.username == username {
            return Err(AuthError::SameUsername);
        }
        if let Some(other) = inner.repo.user_by_username(&username).await?
            && other.id != id
        {
            return Err(AuthError::UsernameExists);
        }
        // The unique index settles races between concurrent renames.
        if !inner.repo.change_username(id, &username).await? {
            return Err(AuthError::UserNotFound);
        }
        Ok(AuthResponse::null())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert_eq!(parse_id(Some("42")).unwrap(), 42);
        assert_eq!(parse_id(Some("007")).unwrap(), 7);
        for bad in [
            "",
            "-1",
            "+1",
            "1.0",
            "abc",
            "1e3",
            "99999999999999999999999",
            " 1",
        ] {
            assert!(
                matches!(parse_id(Some(bad)), Err(AuthError::NotFound)),
                "{bad}"
            );
        }
    }
}
