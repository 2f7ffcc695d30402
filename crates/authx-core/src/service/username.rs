//! `POST /{id}/change_username`.

use crate::error::AuthError;
use crate::request::{AuthRequest, AuthResponse, Fields};
use crate::token::Claims;

use super::Auth;

impl Auth {
    pub(crate) async fn change_username(
        &self,
        req: &AuthRequest,
        claims: Claims,
    ) -> Result<AuthResponse, AuthError> {
        let inner = &self.inner;
        // The route table only lets decimal ids through.
        let id = req
            .param
            .as_deref()
            .and_then(crate::routes::parse_id)
            .ok_or(AuthError::NotFound)?;
        // Others only for an admin, by the one admin rule (read from storage, not the token).
        if claims.id != id && self.admin_in_storage(claims.id).await?.is_none() {
            return Err(AuthError::Forbidden);
        }
        let fields = Fields::of(req)?;
        let username = inner.config.policy.username(fields.string("username")?)?;
        let user = inner
            .repo
            .users()
            .user_by_id(id)
            .await?
            .ok_or(AuthError::UserNotFound)?;
        if user.username == username {
            return Err(AuthError::SameUsername);
        }
        if let Some(other) = inner.repo.users().user_by_username(&username).await?
            && other.id != id
        {
            return Err(AuthError::UsernameExists);
        }
        // The unique index settles races between concurrent renames.
        if !inner.repo.users().change_username(id, &username).await? {
            return Err(AuthError::UserNotFound);
        }
        Ok(AuthResponse::null())
    }
}
