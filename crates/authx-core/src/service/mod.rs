//! The service: one [`Auth`] handle, cheap to clone, that runs every flow of the contract on
//! plain request data. One file per flow.

mod confirm;
mod login;
mod refresh;
mod register;
mod session;
mod username;

use std::net::IpAddr;
use std::sync::Arc;

use tokio::sync::Notify;

use crate::clock::{Clock, Timestamp};
use crate::config::{AuthBuilder, AuthConfig, ConfigError};
use crate::cookie::{CookieJar, TokenCookie};
use crate::error::AuthError;
use crate::limit::LimitStore;
use crate::mail::Mailer;
use crate::password::PasswordHasher;
use crate::request::{AuthRequest, AuthResponse};
use crate::routes::{self, RouteName};
use crate::store::{Repo, StoreError, UniqueField, User};
use crate::token::{Claims, JwtBackend, TokenKind};

/// The authx service. Build it once with [`Auth::builder`], clone it into every handler.
#[derive(Clone)]
pub struct Auth {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) config: AuthConfig,
    pub(crate) repo: Arc<dyn Repo>,
    pub(crate) tokens: JwtBackend,
    pub(crate) passwords: PasswordHasher,
    pub(crate) cookies: CookieJar,
    pub(crate) mailer: Arc<dyn Mailer>,
    pub(crate) limits: Arc<dyn LimitStore>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) outbox_wakeup: Arc<Notify>,
    pub(crate) templates: crate::mail::MailTemplates,
    pub(crate) captcha: Option<Arc<dyn crate::captcha::CaptchaVerifier>>,
}

pub(crate) fn secs(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

impl From<StoreError> for AuthError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(UniqueField::Email) => Self::EmailExists,
            StoreError::Conflict(UniqueField::Username) => Self::UsernameExists,
            other => Self::unavailable(other),
        }
    }
}

impl Auth {
    /// Starts a configuration.
    pub fn builder() -> AuthBuilder {
        AuthBuilder::default()
    }

    pub(crate) fn from_builder(builder: AuthBuilder) -> Result<Self, ConfigError> {
        let crate::config::Parts {
            config,
            repo,
            tokens,
            mailer,
            limits,
            clock,
            start_mail_worker: start_worker,
            templates,
            captcha,
        } = builder.into_parts()?;
        let passwords = PasswordHasher::new(
            config.hashing.params,
            config.hashing.concurrency,
            config.hashing.queue,
        )?;
        let cookies = CookieJar::new(config.cookies.clone(), !config.debug)?;
        let auth = Self {
            inner: Arc::new(Inner {
                config,
                repo,
                tokens,
                passwords,
                cookies,
                mailer,
                limits,
                clock,
                outbox_wakeup: Arc::new(Notify::new()),
                templates,
                captcha,
            }),
        };
        if start_worker {
            let handle = tokio::runtime::Handle::try_current().map_err(|_| {
                ConfigError::Invalid(
                    "build() must run inside a tokio runtime (it starts the mail worker)".into(),
                )
            })?;
            handle.spawn(crate::mail::outbox::run(Arc::downgrade(&auth.inner)));
        }
        Ok(auth)
    }

    /// The configuration in force.
    pub fn config(&self) -> &AuthConfig {
        &self.inner.config
    }

    /// The token backend (to verify tokens elsewhere, or publish the public key).
    pub fn tokens(&self) -> &JwtBackend {
        &self.inner.tokens
    }

    /// The current time of the service's clock.
    pub fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    /// Wakes the outbox worker, so that mail due now goes out at once instead of at the
    /// worker's next round (it sleeps until the next mail is due, at most 30 s).
    ///
    /// Mail whose retry is not due yet stays scheduled: this does not skip the backoff. The
    /// worker measures its sleep in real time, so after moving an injected
    /// [`ManualClock`](crate::clock::ManualClock) forward, call this to have it look again.
    /// Mail queued elsewhere (another instance, a script writing the outbox) is picked up the
    /// same way. Does nothing when this instance runs no worker
    /// ([`mail_worker(false)`](crate::AuthBuilder::mail_worker)).
    pub fn wake_mail_worker(&self) {
        self.inner.outbox_wakeup.notify_one();
    }

    /// Runs route `route` on `req`. Never panics on input; every failure is an error answer.
    pub async fn handle(&self, route: RouteName, req: &AuthRequest) -> AuthResponse {
        if routes::ROUTES
            .iter()
            .any(|r| r.route == route && r.method == routes::Method::Post)
        {
            if let Err(e) = self.check_cross_site(req) {
                return AuthResponse::from_error(&e);
            }
            if let Err(e) = self.check_double_submit(route, req) {
                return AuthResponse::from_error(&e);
            }
        }
        let result = match route {
            RouteName::Register => self.register(req).await,
            RouteName::Login => self.login(req).await,
            RouteName::Logout => self.logout(req).await,
            RouteName::Token => self.token(req).await,
            RouteName::RefreshAccessToken => self.refresh(req).await,
            RouteName::GetEmailConfirmationStatus => self.confirmation_status(req).await,
            RouteName::RequestEmailConfirmation => self.request_confirmation(req).await,
            RouteName::ConfirmEmail => self.confirm_email(req).await,
            RouteName::ChangeUsername => self.change_username(req).await,
            RouteName::Jwks => self.jwks(),
        };
        result.unwrap_or_else(|e| AuthResponse::from_error(&e))
    }

    /// The CSRF check for a state-changing request (see
    /// [`AuthBuilder::csrf_check`](crate::AuthBuilder::csrf_check)). Adapters run it for the auth
    /// routes; host applications may call it for their own cookie-authenticated routes.
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

    /// Double-submit mode: a POST that carries a session cookie must echo that session's CSRF
    /// token in `X-CSRF-Token`. Login, register and confirmation by emailed token carry no
    /// session yet; bearer-authenticated requests are exempt.
    fn check_double_submit(&self, route: RouteName, req: &AuthRequest) -> Result<(), AuthError> {
        let inner = &self.inner;
        if !inner.config.csrf_double_submit
            || req.bearer().is_some()
            || matches!(
                route,
                RouteName::Login | RouteName::Register | RouteName::ConfirmEmail
            )
        {
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

    /// `GET /.well-known/jwks.json`: the public keys, when they are asymmetric.
    fn jwks(&self) -> Result<AuthResponse, AuthError> {
        let jwks = self.inner.tokens.jwks().ok_or(AuthError::NotFound)?;
        let body = serde_json::to_string(&jwks).map_err(AuthError::unavailable)?;
        Ok(AuthResponse::ok(body).with("Cache-Control", "public, max-age=300".into()))
    }

    /// The error answer for `error`, for adapters' own rejections (body limit, bad path).
    pub fn error_response(&self, error: &AuthError) -> AuthResponse {
        AuthResponse::from_error(error)
    }

    /// Authenticates a request by its access token: the `Authorization: Bearer` header first,
    /// else the access cookie. For the host application's own handlers (the adapters'
    /// `AuthUser` extractors call it).
    pub async fn authenticate(&self, req: &AuthRequest) -> Result<Claims, AuthError> {
        let token = match req.bearer() {
            Some(token) => token.to_owned(),
            None => self
                .inner
                .cookies
                .read(req.header_values("cookie"), TokenCookie::Access)
                .ok_or(AuthError::NotAuthenticated)?,
        };
        let now = self.now();
        let claims = self.inner.tokens.decode(&token, TokenKind::Access, now)?;
        if self.inner.config.revocation_check
            && self.inner.limits.is_revoked(&claims.sid, now).await?
        {
            return Err(AuthError::InvalidToken);
        }
        Ok(claims)
    }

    /// Authenticates a request like [`authenticate`](Self::authenticate) and requires the
    /// `admin` permission: `403 Forbidden` otherwise. The adapters' `AdminUser` extractors call
    /// it, so the rule lives here once.
    pub async fn authenticate_admin(&self, req: &AuthRequest) -> Result<Claims, AuthError> {
        let claims = self.authenticate(req).await?;
        if claims.is_admin() {
            Ok(claims)
        } else {
            Err(AuthError::Forbidden)
        }
    }

    /// The client's IP: the socket peer, or, when the peer is a trusted proxy, the right-most
    /// address of `X-Forwarded-For` (or `Forwarded`) that is not a trusted proxy.
    pub fn client_ip(&self, req: &AuthRequest) -> IpAddr {
        resolve_client_ip(&self.inner.config.trusted_proxies, req)
    }

    /// The answer that hands out a new token pair of session `sid`: both cookies (access
    /// first), the CSRF cookie in double-submit mode, `Cache-Control: no-store`, and the body:
    /// `null` for register and login, `{"access"}` for refresh, and both tokens with
    /// `tokens_in_body`.
    pub(crate) fn token_response(
        &self,
        access: &str,
        refresh: &str,
        sid: &str,
        with_access_body: bool,
    ) -> AuthResponse {
        let config = &self.inner.config;
        let lifetimes = &config.lifetimes;
        let cookies = &self.inner.cookies;
        let body = if config.tokens_in_body {
            serde_json::json!({ "access": access, "refresh": refresh }).to_string()
        } else if with_access_body {
            serde_json::json!({ "access": access }).to_string()
        } else {
            "null".to_owned()
        };
        let mut response = AuthResponse::ok(body)
            .with(
                "Set-Cookie",
                cookies.set(TokenCookie::Access, access, secs(lifetimes.access)),
            )
            .with(
                "Set-Cookie",
                cookies.set(TokenCookie::Refresh, refresh, secs(lifetimes.refresh)),
            );
        if config.csrf_double_submit {
            response = response.with(
                "Set-Cookie",
                cookies.set(TokenCookie::Csrf, &csrf_token(sid), secs(lifetimes.refresh)),
            );
        }
        response.no_store()
    }

    /// Revokes session `sid` in storage and in the revocation cache, so its refresh token and
    /// (with the revocation check) its access tokens stop working at once.
    pub(crate) async fn revoke(&self, sid: &str, now: Timestamp) -> Result<(), AuthError> {
        self.inner.repo.revoke_session(sid, now).await?;
        self.mark_revoked(sid, now).await
    }

    /// Records in the revocation cache a session already revoked in storage.
    pub(crate) async fn mark_revoked(&self, sid: &str, now: Timestamp) -> Result<(), AuthError> {
        let until = now.saturating_add(secs(self.inner.config.lifetimes.access));
        self.inner.limits.revoke(sid, until).await?;
        Ok(())
    }

    pub(crate) fn access_claims(&self, user: &User, sid: &str, now: Timestamp) -> Claims {
        Claims::for_user(
            user,
            TokenKind::Access,
            sid,
            now,
            secs(self.inner.config.lifetimes.access),
        )
    }

    pub(crate) fn refresh_claims(&self, user: &User, sid: &str, now: Timestamp) -> Claims {
        Claims::for_user(
            user,
            TokenKind::Refresh,
            sid,
            now,
            secs(self.inner.config.lifetimes.refresh),
        )
    }

    /// The user behind an access token; a token whose user is gone is an invalid token.
    pub(crate) async fn current_user(
        &self,
        req: &AuthRequest,
    ) -> Result<(Claims, User), AuthError> {
        let claims = self.authenticate(req).await?;
        let user = self
            .inner
            .repo
            .user_by_id(claims.id)
            .await?
            .ok_or(AuthError::InvalidToken)?;
        Ok((claims, user))
    }
}

/// The client's IP as seen through `trusted` proxies: the right-most untrusted hop.
fn resolve_client_ip(trusted: &[ipnet::IpNet], req: &AuthRequest) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&req.peer) {
        return req.peer;
    }
    let mut hops: Vec<IpAddr> = Vec::new();
    if req.header_value("forwarded").is_some() {
        for value in req.header_values("forwarded") {
            hops.extend(
                value
                    .split([',', ';'])
                    .filter_map(|pair| pair.trim().split_once('='))
                    .filter(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
                    .filter_map(|(_, v)| parse_forwarded_ip(v)),
            );
        }
    } else {
        for value in req.header_values("x-forwarded-for") {
            hops.extend(value.split(',').filter_map(parse_forwarded_ip));
        }
    }
    let mut client = req.peer;
    for hop in hops.into_iter().rev() {
        client = hop;
        if !is_trusted(&hop) {
            break;
        }
    }
    client
}

/// The double-submit token of session `sid`: unguessable without the session id, which only
/// travels in HttpOnly cookies and tokens.
pub(crate) fn csrf_token(sid: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(format!("authx-csrf:{sid}").as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0_u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn parse_forwarded_ip(raw: &str) -> Option<IpAddr> {
    let v = raw.trim().trim_matches('"');
    if let Ok(ip) = v.parse() {
        return Some(ip);
    }
    // `[v6]:port`, `[v6]` or `v4:port`.
    if let Some(rest) = v.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    v.rsplit_once(':').and_then(|(ip, _)| ip.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(peer: [u8; 4], headers: &[(&str, &str)]) -> AuthRequest {
        headers
            .iter()
            .fold(AuthRequest::new(peer.into()), |r, (n, v)| {
                r.header(n, v.as_bytes())
            })
    }

    #[test]
    fn forwarding_headers_only_from_trusted_proxies() {
        let trusted: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let xff = [("x-forwarded-for", "1.2.3.4, 10.0.0.7")];
        // An untrusted peer's header is ignored.
        assert_eq!(
            resolve_client_ip(&trusted, &req([8, 8, 8, 8], &xff)),
            IpAddr::from([8, 8, 8, 8])
        );
        assert_eq!(
            resolve_client_ip(&[], &req([10, 0, 0, 1], &xff)),
            IpAddr::from([10, 0, 0, 1])
        );
        // Through trusted proxies: the right-most untrusted hop, not the spoofable left-most.
        let spoofed = [("x-forwarded-for", "6.6.6.6, 1.2.3.4, 10.0.0.7")];
        assert_eq!(
            resolve_client_ip(&trusted, &req([10, 0, 0, 1], &spoofed)),
            IpAddr::from([1, 2, 3, 4])
        );
        // RFC 7239 Forwarded, with ports and IPv6.
        let fwd = [(
            "forwarded",
            "for=\"[2001:db8::1]:4711\";proto=https, for=10.1.1.1",
        )];
        assert_eq!(
            resolve_client_ip(&trusted, &req([10, 0, 0, 1], &fwd)),
            "2001:db8::1".parse::<IpAddr>().unwrap()
        );
        // Only trusted hops: the left-most.
        let all = [("x-forwarded-for", "10.9.9.9, 10.0.0.7")];
        assert_eq!(
            resolve_client_ip(&trusted, &req([10, 0, 0, 1], &all)),
            IpAddr::from([10, 9, 9, 9])
        );
        // Garbage is skipped.
        let junk = [("x-forwarded-for", "junk, 1.2.3.4:80")];
        assert_eq!(
            resolve_client_ip(&trusted, &req([10, 0, 0, 1], &junk)),
            IpAddr::from([1, 2, 3, 4])
        );
    }

    #[test]
    fn csrf_tokens_are_bound_to_the_session() {
        assert_ne!(csrf_token("a"), csrf_token("b"));
        assert_eq!(csrf_token("a").len(), 43);
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
