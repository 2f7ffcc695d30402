//! The CSRF defences of state-changing routes: the cross-site check (`Sec-Fetch-Site`,
//! `Origin`) and, in double-submit mode, the session's CSRF token.

use crate::cookie::TokenCookie;
use crate::error::AuthError;
use crate::request::AuthRequest;
use crate::routes::Csrf;
use crate::token::TokenKind;

use super::Auth;

impl Auth {
    /// The CSRF check for a state-changing request (see
    /// [`AuthBuilder::csrf_check`](crate::AuthBuilder::csrf_check)). The core runs it for its
    /// own routes; host applications may call it for their own cookie-authenticated routes.
    pub fn check_cross_site(&self, req: &AuthRequest) -> Result<(), AuthError> {
        let config = &self.inner.config;
        if !config.csrf_check || req.bearer().is_some() {
            return Ok(());
        }
        if req
            .header_value("sec-fetch-site")
            .is_some_and(|site| site.trim().eq_ignore_ascii_case("cross-site"))
        {
            return Err(AuthError::CrossSiteRequest);
        }
        if let Some(origin) = req.header_value("origin") {
            let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
            if !config.allowed_origins.contains(&origin) {
                return Err(AuthError::CrossSiteRequest);
            }
        }
        Ok(())
    }

    /// The checks of a route's CSRF rule.
    pub(crate) fn check_csrf(&self, rule: Csrf, req: &AuthRequest) -> Result<(), AuthError> {
        match rule {
            Csrf::None => Ok(()),
            Csrf::CrossSite => self.check_cross_site(req),
            Csrf::Session => {
                self.check_cross_site(req)?;
                self.check_double_submit(req)
            }
        }
    }

    /// Double-submit mode: a request that carries a session cookie must echo that session's
    /// CSRF token in `X-CSRF-Token`. Bearer-authenticated requests are exempt.
    fn check_double_submit(&self, req: &AuthRequest) -> Result<(), AuthError> {
        let inner = &self.inner;
        if !inner.config.csrf_double_submit || req.bearer().is_some() {
            return Ok(());
        }
        let now = self.now();
        let sid = [
            (TokenCookie::Access, TokenKind::Access),
            (TokenCookie::Refresh, TokenKind::Refresh),
        ]
        .into_iter()
        .find_map(|(cookie, kind)| {
            let token = inner.cookies.read(req.header_values("cookie"), cookie)?;
            inner.tokens.decode(&token, kind, now).ok().map(|c| c.sid)
        });
        let Some(sid) = sid else {
            // No session cookie: nothing a forged request could ride on.
            return Ok(());
        };
        let sent = req.header_value("x-csrf-token").map(str::trim);
        if sent.is_some_and(|sent| constant_time_eq(sent.as_bytes(), csrf_token(&sid).as_bytes())) {
            Ok(())
        } else {
            Err(AuthError::CrossSiteRequest)
        }
    }
}

/// The double-submit token of session `sid`: unguessable without the session id, which only
/// travels in HttpOnly cookies and tokens (never in `GET /sessions`, which shows public ids).
pub(crate) fn csrf_token(sid: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(format!("authx-csrf:{sid}").as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0_u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_are_bound_to_the_session() {
        assert_ne!(csrf_token("a"), csrf_token("b"));
        assert_eq!(csrf_token("a").len(), 43);
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
