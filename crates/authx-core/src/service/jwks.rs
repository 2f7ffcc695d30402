//! `GET /.well-known/jwks.json`: the public keys, when they are asymmetric.

use crate::error::AuthError;
use crate::request::AuthResponse;

use super::Auth;

impl Auth {
    pub(crate) fn jwks(&self) -> Result<AuthResponse, AuthError> {
        let jwks = self.inner.tokens.jwks().ok_or(AuthError::NotFound)?;
        let body = serde_json::to_string(&jwks).map_err(AuthError::unavailable)?;
        Ok(AuthResponse::ok(body).with("Cache-Control", "public, max-age=300".into()))
    }
}
