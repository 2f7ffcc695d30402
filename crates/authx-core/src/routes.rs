//! The route table every adapter iterates: one source of truth for names, methods and paths,
//! and for how a request path is matched against them ([`lookup`]), so that every adapter
//! answers `404`/`405` and decodes path parameters the same way whatever its router does.

use crate::error::AuthError;

/// An HTTP method used by the auth routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
}

impl Method {
    /// The method as written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
        }
    }

    /// Whether a request with method `method` (as written on the wire) is served by a route of
    /// this method: the same name, or `HEAD` for a `GET` route.
    pub fn accepts(self, method: &str) -> bool {
        method == self.as_str() || (self == Self::Get && method == "HEAD")
    }
}

/// One of the auth routes.
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
}

/// The kind of path parameter a route takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathParam {
    /// No parameter.
    None,
    /// `{token}`: an emailed token.
    Token,
    /// `{id}`: a user id, a decimal integer.
    Id,
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
    /// Its path relative to the mount prefix, with parameters written `{param}`.
    pub path: &'static str,
    /// Its path parameter, if any.
    pub param: PathParam,
}

impl Route {
    /// The path as a list of segments; a parameter segment is `{name}`.
    pub fn segments(&self) -> impl Iterator<Item = &'static str> {
        self.path.trim_start_matches('/').split('/')
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
    /// (so `/register/` and `/%72egister` are other paths), parameter segments not empty.
    pub fn matches(&self, path: &str) -> bool {
        let Some(rest) = path.strip_prefix('/') else {
            return false;
        };
        let mut wanted = self.segments();
        let mut given = rest.split('/');
        loop {
            match (wanted.next(), given.next()) {
                (None, None) => return true,
                (Some(w), Some(g)) if w.starts_with('{') && !g.is_empty() => {}
                (Some(w), Some(g)) if w == g => {}
                _ => return false,
            }
        }
    }

    /// The route's path parameter, percent-decoded, read from the end of `path`: the segment
    /// at the parameter's position counted from the end, so `path` may still carry the mount
    /// prefix. `None` when the route has no parameter, or the segment is empty, not valid
    /// percent-encoding, or not UTF-8.
    pub fn param_in(&self, path: &str) -> Option<String> {
        let segments: Vec<&str> = self.segments().collect();
        let from_end = segments.len() - segments.iter().position(|s| s.starts_with('{'))?;
        let raw = path.rsplit('/').nth(from_end - 1)?;
        if raw.is_empty() {
            return None;
        }
        percent_decode(raw)
    }
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

/// Resolves a request against the table, for adapters whose router cannot express the
/// contract's routing by itself: `method` as written on the wire, `path` relative to the mount
/// prefix and as received (not percent-decoded).
///
/// A path of the table with another method is `405 Method not allowed`; any other path, or a
/// parameter that does not decode, `404 Not found`. Where two routes match (`/confirm/x` and
/// `/{id}/change_username` both match `/confirm/change_username`), the one with a static
/// segment first wins, as in axum's router.
///
/// ```
/// use authx_core::routes::lookup;
/// let found = lookup("POST", "/confirm/a%20b").unwrap();
/// assert_eq!((found.route.name, found.param.as_deref()), ("auth:confirm_email", Some("a b")));
/// assert_eq!(lookup("GET", "/login").unwrap_err().status(), 405);
/// assert_eq!(lookup("POST", "/login/").unwrap_err().status(), 404);
/// ```
pub fn lookup(method: &str, path: &str) -> Result<Match, AuthError> {
    let mut candidates: Vec<&'static Route> = ROUTES.iter().filter(|r| r.matches(path)).collect();
    if candidates.is_empty() {
        return Err(AuthError::NotFound);
    }
    candidates.retain(|r| r.method.accepts(method));
    // Static segments before parameters, left to right.
    let route = candidates
        .into_iter()
        .min_by_key(|r| r.segments().map(|s| s.starts_with('{')).collect::<Vec<_>>())
        .ok_or(AuthError::MethodNotAllowed)?;
    let param = match route.param {
        PathParam::None => None,
        PathParam::Token | PathParam::Id => Some(route.param_in(path).ok_or(AuthError::NotFound)?),
    };
    Ok(Match { route, param })
}

/// Every auth route, in the order of the contract.
pub const ROUTES: &[Route] = &[
    Route {
        route: RouteName::Register,
        name: "auth:register",
        method: Method::Post,
        path: "/register",
        param: PathParam::None,
    },
    Route {
        route: RouteName::Login,
        name: "auth:login",
        method: Method::Post,
        path: "/login",
        param: PathParam::None,
    },
    Route {
        route: RouteName::Logout,
        name: "auth:logout",
        method: Method::Post,
        path: "/logout",
        param: PathParam::None,
    },
    Route {
        route: RouteName::Token,
        name: "auth:token",
        method: Method::Post,
        path: "/token",
        param: PathParam::None,
    },
    Route {
        route: RouteName::RefreshAccessToken,
        name: "auth:refresh_access_token",
        method: Method::Post,
        path: "/token/refresh",
        param: PathParam::None,
    },
    Route {
        route: RouteName::GetEmailConfirmationStatus,
        name: "auth:get_email_confirmation_status",
        method: Method::Get,
        path: "/confirm",
        param: PathParam::None,
    },
    Route {
        route: RouteName::RequestEmailConfirmation,
        name: "auth:request_email_confirmation",
        method: Method::Post,
        path: "/confirm",
        param: PathParam::None,
    },
    Route {
        route: RouteName::ConfirmEmail,
        name: "auth:confirm_email",
        method: Method::Post,
        path: "/confirm/{token}",
        param: PathParam::Token,
    },
    Route {
        route: RouteName::ChangeUsername,
        name: "auth:change_username",
        method: Method::Post,
        path: "/{id}/change_username",
        param: PathParam::Id,
    },
    Route {
        route: RouteName::Jwks,
        name: "auth:jwks",
        method: Method::Get,
        path: "/.well-known/jwks.json",
        param: PathParam::None,
    },
];

/// Looks a route up by its name (`auth:login`).
pub fn by_name(name: &str) -> Option<&'static Route> {
    ROUTES.iter().find(|r| r.name == name)
}

/// The distinct paths of the table, each with the routes (methods) it serves.
pub fn paths() -> Vec<(&'static str, Vec<&'static Route>)> {
    let mut out: Vec<(&'static str, Vec<&'static Route>)> = Vec::new();
    for route in ROUTES {
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
        assert_eq!(names.len(), 10);
        assert!(names.iter().all(|n| n.starts_with("auth:")));
    }

    #[test]
    fn path_with_rewrites_parameters() {
        let r = by_name("auth:change_username").map(|r| r.path_with(|p| format!("<{p}>")));
        assert_eq!(r.as_deref(), Some("/<id>/change_username"));
        assert_eq!(paths().len(), 9);
    }

    #[test]
    fn lookup_resolves_like_a_router() {
        let name = |m, p| {
            lookup(m, p)
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
        for (method, path, status) in [
            ("GET", "/login", 405),
            ("DELETE", "/confirm", 405),
            ("GET", "/1/change_username", 405),
            ("POST", "/register/", 404),
            ("POST", "/%72egister", 404),
            ("POST", "//change_username", 404),
            ("POST", "/confirm/", 404),
            ("POST", "/confirm/%zz", 404),
            ("POST", "/confirm/%ff", 404),
            ("POST", "", 404),
            ("POST", "/", 404),
            ("POST", "register", 404),
        ] {
            assert_eq!(
                lookup(method, path).map_err(|e| e.status()).err(),
                Some(status),
                "{method} {path}"
            );
        }
    }

    #[test]
    fn param_in_reads_from_the_end() {
        let route = by_name("auth:change_username").unwrap();
        assert_eq!(
            route
                .param_in("/api/users/a%20b/change_username")
                .as_deref(),
            Some("a b")
        );
        assert_eq!(route.param_in("/api/users/%zz/change_username"), None);
        assert_eq!(route.param_in("/api/users/%+1/change_username"), None);
        assert_eq!(route.param_in("/api/users/%ff/change_username"), None);
        assert_eq!(route.param_in("/api/users/%/change_username"), None);
        assert_eq!(by_name("auth:login").unwrap().param_in("/login"), None);
    }
}
