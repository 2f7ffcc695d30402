//! The route table every adapter serves: one source of truth for names, methods, paths, the
//! router each route belongs to, the credential it needs and its CSRF rule. The core resolves
//! every request against it ([`lookup`]), so adapters route nothing themselves: a new route
//! (any method, any query parameter) needs no adapter code, and every adapter answers
//! `404`/`405` and decodes path parameters the same way.

use crate::error::AuthError;

/// An HTTP method of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET` (and `HEAD`).
    Get,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `DELETE`
    Delete,
}

impl Method {
    /// Every method of the table.
    pub const ALL: [Self; 4] = [Self::Get, Self::Post, Self::Put, Self::Delete];

    /// The method as written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Delete => "DELETE",
        }
    }

    /// Whether a request with method `method` (as written on the wire) is served by a route of
    /// this method: the same name, or `HEAD` for a `GET` route.
    pub fn accepts(self, method: &str) -> bool {
        method == self.as_str() || (self == Self::Get && method == "HEAD")
    }

    /// Whether requests of this method change state (and so get the CSRF checks).
    pub fn changes_state(self) -> bool {
        self != Self::Get
    }
}

/// The routers of the contract (section 9.1). `router(auth)` in each adapter serves every
/// enabled one but [`Social`](Self::Social) under one prefix; `social_router(auth)` serves the
/// social one under a prefix of its own; a chosen set can be mounted alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RouterKind {
    /// Register, login, logout, tokens, refresh, email confirmation, change username, JWKS.
    Auth,
    /// Forgot, reset, change and set password.
    Password,
    /// One's sessions and "log out everywhere".
    Sessions,
    /// Ban, kick, blackout, permissions.
    Admin,
    /// User lookup and search.
    Search,
    /// The TOTP second factor.
    TwoFactor,
    /// The OpenAPI document.
    OpenApi,
    /// Social login (OAuth2 / OpenID Connect).
    Social,
}

impl RouterKind {
    /// Every router.
    pub const ALL: [Self; 8] = [
        Self::Auth,
        Self::Password,
        Self::Sessions,
        Self::Admin,
        Self::Search,
        Self::TwoFactor,
        Self::OpenApi,
        Self::Social,
    ];

    /// The routers `router(auth)` serves (all but social login).
    pub const MAIN: [Self; 7] = [
        Self::Auth,
        Self::Password,
        Self::Sessions,
        Self::Admin,
        Self::Search,
        Self::TwoFactor,
        Self::OpenApi,
    ];

    const fn bit(self) -> u16 {
        1 << self as u16
    }
}

/// A set of routers: what one mounting serves, or what the configuration enables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Routers(u16);

impl Routers {
    /// No router.
    pub const NONE: Self = Self(0);

    /// The set of `routers`.
    pub const fn of(routers: &[RouterKind]) -> Self {
        let mut bits = 0;
        let mut i = 0;
        while i < routers.len() {
            bits |= routers[i].bit();
            i += 1;
        }
        Self(bits)
    }

    /// What `router(auth)` mounts: every router but social login.
    pub const fn main() -> Self {
        Self::of(&RouterKind::MAIN)
    }

    /// What `social_router(auth)` mounts.
    pub const fn social() -> Self {
        Self::of(&[RouterKind::Social])
    }

    /// Whether `router` is in the set.
    pub const fn contains(self, router: RouterKind) -> bool {
        self.0 & router.bit() != 0
    }

    /// The set with `router` added.
    #[must_use]
    pub const fn with(self, router: RouterKind) -> Self {
        Self(self.0 | router.bit())
    }

    /// The set without `router`.
    #[must_use]
    pub const fn without(self, router: RouterKind) -> Self {
        Self(self.0 & !router.bit())
    }

    /// The routers in both sets.
    #[must_use]
    pub const fn and(self, other: Self) -> Self {
        Self(self.0 & other.0)
    }

    /// The routes of this set, in table order.
    pub fn routes(self) -> impl Iterator<Item = &'static Route> {
        ROUTES.iter().filter(move |r| self.contains(r.router))
    }
}

/// What a route needs before it runs; the core checks it for every adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Guard {
    /// Nothing (the route reads what it needs itself, e.g. a refresh token or an emailed one).
    None,
    /// A valid access token of a live session (`401` otherwise).
    AccessToken,
    /// An access token whose user holds `admin` in storage (`401`, then `403`).
    Admin,
    /// The second-factor challenge cookie.
    Challenge,
}

/// The CSRF rule of a route (see [`AuthBuilder::csrf_check`](crate::AuthBuilder::csrf_check)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Csrf {
    /// A read: no check.
    None,
    /// A state change before there is a session (register, login, emailed tokens): the
    /// cross-site check only.
    CrossSite,
    /// A state change that may ride on a session's cookies: the cross-site check and, in
    /// double-submit mode, the session's CSRF token.
    Session,
}

/// One of the routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RouteName {
    /// `POST /register`
    Register,
    /// `POST /login`
    Login,
    /// `POST /logout`
    Logout,
    /// `POST /token`
    Token,
    /// `POST /token/refresh`
    RefreshAccessToken,
    /// `GET /confirm`
    GetEmailConfirmationStatus,
    /// `POST /confirm`
    RequestEmailConfirmation,
    /// `POST /confirm/{token}`
    ConfirmEmail,
    /// `POST /{id}/change_username`
    ChangeUsername,
    /// `GET /.well-known/jwks.json` (asymmetric keys only)
    Jwks,
    /// `POST /forgot_password`
    ForgotPassword,
    /// `GET /password`
    PasswordStatus,
    /// `POST /password`
    PasswordSet,
    /// `PUT /password`
    PasswordChange,
    /// `POST /password/{token}`
    PasswordReset,
    /// `GET /sessions`
    ListSessions,
    /// `DELETE /sessions/{session_id}`
    RevokeSession,
    /// `POST /sessions/revoke_others`
    RevokeOtherSessions,
    /// `POST /logout_all`
    LogoutAll,
    /// `GET /blacklist`
    GetBlacklist,
    /// `POST /{id}/blacklist`
    ToggleBlacklist,
    /// `POST /{id}/kick`
    Kick,
    /// `GET /blackout`
    GetBlackout,
    /// `POST /blackout`
    SetBlackout,
    /// `DELETE /blackout`
    DeleteBlackout,
    /// `GET /id_by_username?username=`
    GetIdByUsername,
    /// `GET /{id}/permissions`
    GetPermissions,
    /// `POST /{id}/permissions`
    UpdatePermissions,
    /// `GET /{id}`
    GetUser,
    /// `GET` on the prefix itself (`?id=&username=&email=&p=`)
    Search,
    /// `GET /2fa`
    TwoFactorStatus,
    /// `POST /2fa/totp`
    TotpEnroll,
    /// `POST /2fa/totp/confirm`
    TotpConfirm,
    /// `POST /2fa/recovery_codes`
    RecoveryCodes,
    /// `DELETE /2fa`
    TwoFactorDisable,
    /// `POST /login/2fa`
    LoginSecondFactor,
    /// `GET /openapi.json`
    OpenApi,
    /// `GET /{provider}` (social router)
    SocialLogin,
    /// `GET /{provider}/callback` (social router)
    SocialCallback,
}

/// The kind of path parameter a route takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PathParam {
    /// No parameter.
    None,
    /// `{token}`: an emailed token.
    Token,
    /// `{id}`: a user id, a decimal integer (a path with anything else there is another path).
    Id,
    /// `{session_id}`: the public id of a session.
    SessionId,
    /// `{provider}`: a social login provider's name.
    Provider,
}

/// A row of the route table.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    /// Which route this is.
    pub route: RouteName,
    /// The route's name, the same string in every adapter (`auth:login`, ...).
    pub name: &'static str,
    /// Its method.
    pub method: Method,
    /// Its path relative to the mount prefix, parameters written `{param}`; `""` is the prefix
    /// itself.
    pub path: &'static str,
    /// Its path parameter, if any.
    pub param: PathParam,
    /// The router it belongs to.
    pub router: RouterKind,
    /// What it needs before it runs.
    pub guard: Guard,
    /// Its CSRF rule.
    pub csrf: Csrf,
    /// One line for humans (and the OpenAPI document).
    pub summary: &'static str,
}

impl Route {
    /// The path as a list of segments; a parameter segment is `{name}`. The prefix itself has
    /// none.
    pub fn segments(&self) -> impl Iterator<Item = &'static str> {
        self.path.split('/').skip(1)
    }

    /// The path with its parameter written by `write_param` (e.g. `<id>` for rocket).
    pub fn path_with(&self, write_param: impl Fn(&str) -> String) -> String {
        let mut out = String::new();
        for segment in self.segments() {
            out.push('/');
            match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(param) => out.push_str(&write_param(param)),
                None => out.push_str(segment),
            }
        }
        out
    }

    /// Whether `path`, relative to the mount prefix and as received (not percent-decoded), is
    /// this route's path: the same number of segments, static segments equal byte for byte
    /// (so `/register/` and `/%72egister` are other paths), a parameter segment not empty and,
    /// for `{id}`, a decimal user id once decoded.
    fn match_path(&self, path: &str) -> Option<PathMatch> {
        if self.path.is_empty() {
            return path.is_empty().then_some(PathMatch { param: None });
        }
        let rest = path.strip_prefix('/')?;
        let mut wanted = self.segments();
        let mut given = rest.split('/');
        let mut param = None;
        loop {
            match (wanted.next(), given.next()) {
                (None, None) => return Some(PathMatch { param }),
                (Some(w), Some(g)) if w.starts_with('{') => {
                    let decoded = percent_decode(g).filter(|p| !p.is_empty())?;
                    if self.param == PathParam::Id && parse_id(&decoded).is_none() {
                        return None;
                    }
                    param = Some(decoded);
                }
                (Some(w), Some(g)) if w == g => {}
                _ => return None,
            }
        }
    }

    /// Whether the path has a parameter at segment `i`, for ordering: static segments first.
    fn param_positions(&self) -> Vec<bool> {
        self.segments().map(|s| s.starts_with('{')).collect()
    }
}

/// A path that matched a route, with its decoded parameter.
struct PathMatch {
    param: Option<String>,
}

/// A user id from a path segment: decimal digits only, within range.
pub(crate) fn parse_id(raw: &str) -> Option<i64> {
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    raw.parse().ok()
}

fn percent_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = raw.get(i + 1..i + 3)?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A request resolved against the table by [`lookup`].
#[derive(Debug, Clone)]
pub struct Match {
    /// The route that serves it.
    pub route: &'static Route,
    /// Its path parameter, percent-decoded (`None` for a route without one).
    pub param: Option<String>,
}

/// Resolves a request against the routes of `routers`: `method` as written on the wire, `path`
/// relative to the mount prefix and as received (not percent-decoded; `""` for the prefix
/// itself).
///
/// A static segment always wins over a parameter, whatever the method: of the route paths
/// that match, the one with static segments furthest left serves the request. No route of
/// that path for this method is `405 Method not allowed`; no matching path (or a parameter
/// that does not decode, or an `{id}` that is not a decimal id), `404 Not found`.
///
/// ```
/// use authx_core::routes::{Routers, lookup};
/// let all = Routers::main();
/// let found = lookup(all, "POST", "/confirm/a%20b").unwrap();
/// assert_eq!((found.route.name, found.param.as_deref()), ("auth:confirm_email", Some("a b")));
/// assert_eq!(lookup(all, "GET", "/login").unwrap_err().status(), 405);
/// assert_eq!(lookup(all, "POST", "/login/").unwrap_err().status(), 404);
/// ```
pub fn lookup(routers: Routers, method: &str, path: &str) -> Result<Match, AuthError> {
    let mut best: Option<(Vec<bool>, &'static str)> = None;
    for route in routers.routes() {
        if route.match_path(path).is_some() {
            let rank = route.param_positions();
            if best.as_ref().is_none_or(|(r, _)| rank < *r) {
                best = Some((rank, route.path));
            }
        }
    }
    let (_, pattern) = best.ok_or(AuthError::NotFound)?;
    let route = routers
        .routes()
        .find(|r| r.path == pattern && r.method.accepts(method))
        .ok_or(AuthError::MethodNotAllowed)?;
    let found = route.match_path(path).ok_or(AuthError::NotFound)?;
    Ok(Match {
        route,
        param: found.param,
    })
}

// One argument per column of the table, named at the call site by their order in the table.
#[allow(clippy::too_many_arguments)]
const fn row(
    route: RouteName,
    name: &'static str,
    method: Method,
    path: &'static str,
    param: PathParam,
    router: RouterKind,
    guard: Guard,
    summary: &'static str,
) -> Route {
    let csrf = match (method, guard) {
        (Method::Get, _) => Csrf::None,
        (_, Guard::AccessToken | Guard::Admin) => Csrf::Session,
        _ => Csrf::CrossSite,
    };
    Route {
        route,
        name,
        method,
        path,
        param,
        router,
        guard,
        csrf,
        summary,
    }
}

const fn session_csrf(mut route: Route) -> Route {
    route.csrf = Csrf::Session;
    route
}

use Method::{Delete, Get, Post, Put};
use PathParam as P;
use RouterKind as R;

/// Every route, in the order of the contract.
#[rustfmt::skip]
pub const ROUTES: &[Route] = &[
    row(RouteName::Register, "auth:register", Post, "/register", P::None, R::Auth, Guard::None,
        "Create an account, open a session and queue the confirmation mail"),
    row(RouteName::Login, "auth:login", Post, "/login", P::None, R::Auth, Guard::None,
        "Log in by username or email and open a session"),
    // Logout and refresh read the session's cookies themselves.
    session_csrf(row(RouteName::Logout, "auth:logout", Post, "/logout", P::None, R::Auth,
        Guard::None, "End the session of the presented tokens and delete the cookies")),
    row(RouteName::Token, "auth:token", Post, "/token", P::None, R::Auth, Guard::AccessToken,
        "The access token's claims"),
    session_csrf(row(RouteName::RefreshAccessToken, "auth:refresh_access_token", Post,
        "/token/refresh", P::None, R::Auth, Guard::None,
        "Rotate the refresh token and issue a new access token")),
    row(RouteName::GetEmailConfirmationStatus, "auth:get_email_confirmation_status", Get,
        "/confirm", P::None, R::Auth, Guard::AccessToken, "The email and whether it is confirmed"),
    row(RouteName::RequestEmailConfirmation, "auth:request_email_confirmation", Post,
        "/confirm", P::None, R::Auth, Guard::AccessToken, "Mail a new confirmation link"),
    row(RouteName::ConfirmEmail, "auth:confirm_email", Post, "/confirm/{token}", P::Token,
        R::Auth, Guard::None, "Confirm the email with the mailed token"),
    row(RouteName::ChangeUsername, "auth:change_username", Post, "/{id}/change_username", P::Id,
        R::Auth, Guard::AccessToken, "Change one's username (or, as an admin, anyone's)"),
    row(RouteName::Jwks, "auth:jwks", Get, "/.well-known/jwks.json", P::None, R::Auth,
        Guard::None, "The public keys that verify the tokens (asymmetric keys only)"),
    row(RouteName::ForgotPassword, "auth:forgot_password", Post, "/forgot_password", P::None,
        R::Password, Guard::None,
        "Queue a password reset mail for an address (the same answer whatever the address)"),
    row(RouteName::PasswordStatus, "auth:password_status", Get, "/password", P::None,
        R::Password, Guard::AccessToken,
        "Whether the account sets a first password or changes one"),
    row(RouteName::PasswordSet, "auth:password_set", Post, "/password", P::None, R::Password,
        Guard::AccessToken, "Set a first password on an account without one"),
    row(RouteName::PasswordChange, "auth:password_change", Put, "/password", P::None,
        R::Password, Guard::AccessToken,
        "Change the password, ending every other session and rotating this one's tokens"),
    row(RouteName::PasswordReset, "auth:password_reset", Post, "/password/{token}", P::Token,
        R::Password, Guard::None,
        "Set a new password with the mailed token, ending every session"),
    row(RouteName::ListSessions, "auth:list_sessions", Get, "/sessions", P::None, R::Sessions,
        Guard::AccessToken, "One's live sessions, newest first"),
    row(RouteName::RevokeSession, "auth:revoke_session", Delete, "/sessions/{session_id}",
        P::SessionId, R::Sessions, Guard::AccessToken, "End one of one's sessions"),
    row(RouteName::RevokeOtherSessions, "auth:revoke_other_sessions", Post,
        "/sessions/revoke_others", P::None, R::Sessions, Guard::AccessToken,
        "End every session but the current one"),
    row(RouteName::LogoutAll, "auth:logout_all", Post, "/logout_all", P::None, R::Sessions,
        Guard::AccessToken, "End every session of the user and delete the cookies"),
    row(RouteName::GetBlacklist, "admin:get_blacklist", Get, "/blacklist", P::None, R::Admin,
        Guard::Admin, "The users under a ban, and those banned within the access-token lifetime"),
    row(RouteName::ToggleBlacklist, "admin:toggle_blacklist", Post, "/{id}/blacklist", P::Id,
        R::Admin, Guard::Admin, "Ban a user (ending their sessions), or lift their ban"),
    row(RouteName::Kick, "admin:kick", Post, "/{id}/kick", P::Id, R::Admin, Guard::Admin,
        "End every session of a user"),
    row(RouteName::GetBlackout, "admin:get_blackout", Get, "/blackout", P::None, R::Admin,
        Guard::Admin, "When everyone was last logged out"),
    row(RouteName::SetBlackout, "admin:set_blackout", Post, "/blackout", P::None, R::Admin,
        Guard::Admin, "End every session of every user, the caller's included"),
    row(RouteName::DeleteBlackout, "admin:delete_blackout", Delete, "/blackout", P::None,
        R::Admin, Guard::Admin, "Remove the blackout record (ended sessions stay ended)"),
    row(RouteName::GetIdByUsername, "admin:get_id_by_username", Get, "/id_by_username",
        P::None, R::Admin, Guard::Admin, "The id of a username, without regard to case"),
    row(RouteName::GetPermissions, "admin:get_permissions", Get, "/{id}/permissions", P::Id,
        R::Admin, Guard::Admin, "A user's permissions"),
    row(RouteName::UpdatePermissions, "admin:update_permissions", Post, "/{id}/permissions",
        P::Id, R::Admin, Guard::Admin,
        "Add, remove or clear a user's permissions (ending their sessions)"),
    row(RouteName::GetUser, "auth:get_user", Get, "/{id}", P::Id, R::Search, Guard::Admin,
        "A user as an admin sees it"),
    row(RouteName::Search, "auth:search", Get, "", P::None, R::Search, Guard::Admin,
        "Users by id, username and email substrings, 20 a page"),
    row(RouteName::TwoFactorStatus, "auth:two_factor_status", Get, "/2fa", P::None,
        R::TwoFactor, Guard::AccessToken,
        "Whether a second factor is enabled, and the recovery codes left"),
    row(RouteName::TotpEnroll, "auth:totp_enroll", Post, "/2fa/totp", P::None, R::TwoFactor,
        Guard::AccessToken,
        "Start a TOTP enrolment with the password: the secret and its otpauth:// URI"),
    row(RouteName::TotpConfirm, "auth:totp_confirm", Post, "/2fa/totp/confirm", P::None,
        R::TwoFactor, Guard::AccessToken,
        "Enable TOTP with a first code; answers the recovery codes, once"),
    row(RouteName::RecoveryCodes, "auth:recovery_codes", Post, "/2fa/recovery_codes", P::None,
        R::TwoFactor, Guard::AccessToken,
        "Replace the recovery codes (password and a code)"),
    row(RouteName::TwoFactorDisable, "auth:two_factor_disable", Delete, "/2fa", P::None,
        R::TwoFactor, Guard::AccessToken, "Disable the second factor (password and a code)"),
    row(RouteName::LoginSecondFactor, "auth:login_second_factor", Post, "/login/2fa", P::None,
        R::TwoFactor, Guard::Challenge,
        "Complete a login with a TOTP or recovery code and the challenge cookie"),
    row(RouteName::OpenApi, "auth:openapi", Get, "/openapi.json", P::None, R::OpenApi,
        Guard::None, "This OpenAPI 3.1 document: every enabled route of this mounting"),
    // The callback is a cross-site top-level GET: its state cookie binds it (CONTRACT 9.6).
    row(RouteName::SocialLogin, "social:login", Get, "/{provider}", P::Provider, R::Social,
        Guard::None, "Start a sign-in at a social provider (307 to its authorization page)"),
    row(RouteName::SocialCallback, "social:callback", Get, "/{provider}/callback", P::Provider,
        R::Social, Guard::None,
        "The provider's redirect back: sign in, link or create the account, open a session"),
];

/// Looks a route up by its name (`auth:login`).
pub fn by_name(name: &str) -> Option<&'static Route> {
    ROUTES.iter().find(|r| r.name == name)
}

/// The distinct paths of the routes of `routers`, each with the routes (methods) it serves.
pub fn paths(routers: Routers) -> Vec<(&'static str, Vec<&'static Route>)> {
    let mut out: Vec<(&'static str, Vec<&'static Route>)> = Vec::new();
    for route in routers.routes() {
        match out.iter_mut().find(|(p, _)| *p == route.path) {
            Some((_, routes)) => routes.push(route),
            None => out.push((route.path, vec![route])),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_prefixed() {
        let mut names: Vec<_> = ROUTES.iter().map(|r| r.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ROUTES.len());
        for route in ROUTES {
            let (router, _) = route.name.split_once(':').unwrap();
            assert!(
                ["auth", "admin", "social"].contains(&router),
                "{}",
                route.name
            );
            assert!(!route.summary.is_empty(), "{} has no summary", route.name);
        }
    }

    #[test]
    fn every_state_change_is_csrf_checked() {
        for route in ROUTES {
            assert_eq!(
                route.method.changes_state(),
                route.csrf != Csrf::None,
                "{}",
                route.name
            );
        }
    }

    #[test]
    fn ids_are_decimal_user_ids() {
        assert_eq!(parse_id("42"), Some(42));
        assert_eq!(parse_id("007"), Some(7));
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
            assert_eq!(parse_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn path_with_rewrites_parameters() {
        let r = by_name("auth:change_username").map(|r| r.path_with(|p| format!("<{p}>")));
        assert_eq!(r.as_deref(), Some("/<id>/change_username"));
    }

    #[test]
    fn lookup_resolves_like_a_router() {
        let name = |m, p| {
            lookup(Routers::main(), m, p)
                .map(|f| (f.route.name, f.param))
                .map_err(|e| e.status())
        };
        assert_eq!(name("POST", "/login"), Ok(("auth:login", None)));
        assert_eq!(
            name("HEAD", "/confirm"),
            Ok(("auth:get_email_confirmation_status", None))
        );
        assert_eq!(
            name("POST", "/confirm"),
            Ok(("auth:request_email_confirmation", None))
        );
        assert_eq!(
            name("POST", "/confirm/change_username"),
            Ok(("auth:confirm_email", Some("change_username".into())))
        );
        assert_eq!(
            name("POST", "/%31/change_username"),
            Ok(("auth:change_username", Some("1".into())))
        );
        assert_eq!(
            name("DELETE", "/sessions/abc"),
            Ok(("auth:revoke_session", Some("abc".into())))
        );
        assert_eq!(
            name("POST", "/sessions/revoke_others"),
            Ok(("auth:revoke_other_sessions", None))
        );
        // Static segments win over `{id}`, which takes decimal ids only.
        for (method, path, route) in [
            ("GET", "/blacklist", "admin:get_blacklist"),
            ("GET", "/blackout", "admin:get_blackout"),
            ("POST", "/blackout", "admin:set_blackout"),
            ("DELETE", "/blackout", "admin:delete_blackout"),
            ("GET", "/id_by_username", "admin:get_id_by_username"),
            ("GET", "/sessions", "auth:list_sessions"),
            ("GET", "/confirm", "auth:get_email_confirmation_status"),
            ("GET", "", "auth:search"),
            ("HEAD", "", "auth:search"),
        ] {
            assert_eq!(name(method, path), Ok((route, None)), "{method} {path}");
        }
        for (method, path, route) in [
            ("GET", "/7", "auth:get_user"),
            ("POST", "/7/blacklist", "admin:toggle_blacklist"),
            ("POST", "/7/kick", "admin:kick"),
            ("GET", "/7/permissions", "admin:get_permissions"),
            ("POST", "/7/permissions", "admin:update_permissions"),
        ] {
            assert_eq!(
                name(method, path),
                Ok((route, Some("7".into()))),
                "{method} {path}"
            );
        }
        // One path, three methods; the token route beside it shadows nothing.
        assert_eq!(name("GET", "/password"), Ok(("auth:password_status", None)));
        assert_eq!(name("POST", "/password"), Ok(("auth:password_set", None)));
        assert_eq!(name("PUT", "/password"), Ok(("auth:password_change", None)));
        assert_eq!(
            name("POST", "/password/a%2Bb"),
            Ok(("auth:password_reset", Some("a+b".into())))
        );
        assert_eq!(
            name("POST", "/password/change_username"),
            Ok(("auth:password_reset", Some("change_username".into())))
        );
        assert_eq!(
            name("POST", "/forgot_password"),
            Ok(("auth:forgot_password", None))
        );
        for (method, path, route) in [
            ("GET", "/2fa", "auth:two_factor_status"),
            ("DELETE", "/2fa", "auth:two_factor_disable"),
            ("POST", "/2fa/totp", "auth:totp_enroll"),
            ("POST", "/2fa/totp/confirm", "auth:totp_confirm"),
            ("POST", "/2fa/recovery_codes", "auth:recovery_codes"),
            ("POST", "/login/2fa", "auth:login_second_factor"),
        ] {
            assert_eq!(name(method, path), Ok((route, None)), "{method} {path}");
        }
        // `/{id}` takes decimal ids only, so `password` never reaches it.
        assert_eq!(
            name("POST", "/7/change_username"),
            Ok(("auth:change_username", Some("7".into())))
        );
        for (method, path, status) in [
            ("GET", "/login", 405),
            ("DELETE", "/confirm", 405),
            ("PUT", "/confirm", 405),
            ("GET", "/1/change_username", 405),
            // The static segment wins over `{session_id}`, whatever the method.
            ("DELETE", "/sessions/revoke_others", 405),
            ("POST", "/register/", 404),
            ("POST", "/%72egister", 404),
            ("POST", "//change_username", 404),
            ("POST", "/abc/change_username", 404),
            ("POST", "/-1/change_username", 404),
            ("POST", "/99999999999999999999/change_username", 404),
            ("POST", "/confirm/", 404),
            ("POST", "/confirm/%zz", 404),
            ("POST", "/confirm/%ff", 404),
            ("DELETE", "/sessions/", 404),
            ("GET", "/abc", 404),
            ("GET", "/-7", 404),
            ("GET", "/7/", 404),
            ("POST", "/abc/blacklist", 404),
            ("POST", "/blacklist", 405),
            ("PUT", "/blackout", 405),
            ("POST", "/7", 405),
            ("DELETE", "/7/kick", 405),
            ("POST", "/id_by_username", 405),
            // The prefix itself is the search route.
            ("POST", "", 405),
            ("DELETE", "/password", 405),
            ("GET", "/password/abc", 405),
            ("PUT", "/password/abc", 405),
            ("POST", "/password/", 404),
            ("POST", "/password/abc/", 404),
            ("GET", "/forgot_password", 405),
            ("POST", "/2fa", 405),
            ("GET", "/login/2fa", 405),
            ("POST", "/login/2fa/", 404),
            ("POST", "/", 404),
            ("POST", "register", 404),
        ] {
            assert_eq!(
                lookup(Routers::main(), method, path)
                    .map_err(|e| e.status())
                    .err(),
                Some(status),
                "{method} {path}"
            );
        }
    }

    #[test]
    fn only_mounted_routers_answer() {
        let auth_only = Routers::of(&[RouterKind::Auth]);
        assert_eq!(
            lookup(auth_only, "GET", "/sessions").unwrap_err().status(),
            404
        );
        assert!(lookup(auth_only, "POST", "/login").is_ok());
        for (method, path) in [("PUT", "/password"), ("POST", "/forgot_password")] {
            assert_eq!(
                lookup(auth_only, method, path).unwrap_err().status(),
                404,
                "{method} {path}"
            );
        }
        // In the social router `/login` is a provider's name: GET only.
        assert_eq!(
            lookup(Routers::social(), "POST", "/login")
                .unwrap_err()
                .status(),
            405
        );
        assert_eq!(
            lookup(Routers::social(), "POST", "/register/x")
                .unwrap_err()
                .status(),
            404
        );
        assert!(
            Routers::main()
                .without(RouterKind::Sessions)
                .contains(RouterKind::Auth)
        );
        let social = |m, p| {
            lookup(Routers::social(), m, p)
                .map(|f| (f.route.name, f.param))
                .map_err(|e| e.status())
        };
        assert_eq!(
            social("GET", "/acme"),
            Ok(("social:login", Some("acme".into())))
        );
        assert_eq!(
            social("GET", "/acme/callback"),
            Ok(("social:callback", Some("acme".into())))
        );
        assert_eq!(social("POST", "/acme"), Err(405));
        assert_eq!(social("GET", "/acme/x"), Err(404));
        assert_eq!(social("GET", "/login/x/callback"), Err(404));
        assert_eq!(
            lookup(Routers::main(), "GET", "/acme")
                .unwrap_err()
                .status(),
            404
        );
    }
}
