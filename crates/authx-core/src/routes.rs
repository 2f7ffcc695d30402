//! The route table every adapter iterates: one source of truth for names, methods and paths.

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
}
