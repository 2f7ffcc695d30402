//! The rocket adapter of authx: [`routes`] to mount under any base, [`catchers`] that answer
//! in the contract's JSON under that base, the [`AuthFairing`] that does both and manages the
//! [`Auth`], and the request guards [`AuthUser`], `Option<AuthUser>` and [`AdminUser`].
//!
//! ```no_run
//! use authx_rocket::{AuthFairing, AuthUser};
//!
//! #[rocket::get("/me")]
//! fn me(user: AuthUser) -> String {
//!     format!("hello {}", user.0.username)
//! }
//!
//! # async fn run(auth: authx_core::Auth) -> Result<(), rocket::Error> {
//! rocket::build()
//!     .attach(AuthFairing::new("/api/users", auth))
//!     .mount("/", rocket::routes![me])
//!     // The guards' rejections as JSON on the application's own routes too.
//!     .register("/", authx_rocket::guard_catchers())
//!     .launch()
//!     .await?;
//! # Ok(())
//! # }
//! ```
//!
//! Without the fairing: `rocket::build().manage(auth).mount("/api/users", authx_rocket::routes())
//! .register("/api/users", authx_rocket::catchers())`.
//!
//! The adapter only translates: every route, message, status and cookie comes from
//! `authx-core`, so the same requests get the same answers as in the axum and actix adapters.
//! `Set-Cookie` values are the core's, written as raw headers (rocket's cookie jar would add
//! attributes of its own), and the client IP is the socket peer (`Request::remote`), never
//! `X-Real-IP`.

use std::io::Cursor;
use std::net::IpAddr;

use authx_core::config::BODY_LIMIT;
use authx_core::routes::{Method, Routers};
use authx_core::{Auth, AuthError, AuthRequest, AuthResponse, Claims};
use rocket::data::ToByteUnit as _;
use rocket::fairing::{self, Fairing, Info, Kind};
use rocket::http::{Method as HttpMethod, Status};
use rocket::request::{FromRequest, Outcome};
use rocket::response::Response;
use rocket::{Build, Catcher, Data, Request, Rocket, Route, catcher, route};

pub use authx_core;

/// The rank of the routes that answer `404`/`405` for the rest of the base: after any route
/// the application mounts there itself.
const FALLBACK_RANK: isize = 1000;

/// Every router the configuration enables but social login, to mount under any base with
/// `Auth` managed: `rocket::build().manage(auth).mount("/api/users", authx_rocket::routes())`.
///
/// Each route of the core's table is a rocket route named after it (`auth:login`, ...), plus
/// routes for every method and the rest of the base; all of them hand the request to the
/// core, which resolves it on its path as received (rocket's own matching decodes segments and
/// ignores trailing slashes), so it is answered exactly as in the other adapters: another
/// method on a known path `405`, an unknown path `404`, both in the contract's JSON form.
pub fn routes() -> Vec<Route> {
    routes_for(Routers::main())
}

/// The social login router's routes (`/{provider}`, `/{provider}/callback`), to mount under a
/// base of its own (the examples use `/auth`).
pub fn social_routes() -> Vec<Route> {
    routes_for(Routers::social())
}

/// The routes of the chosen `routers` alone, as [`routes`] does for the main set.
pub fn routes_for(routers: Routers) -> Vec<Route> {
    let mut out = Vec::new();
    let dispatch = Dispatch { routers };
    for (rank, route) in (1..).zip(routers.routes()) {
        let method = match route.method {
            Method::Get => HttpMethod::Get,
            Method::Post => HttpMethod::Post,
            Method::Put => HttpMethod::Put,
            Method::Delete => HttpMethod::Delete,
        };
        // Distinct ranks: `/confirm/<token>` and `/<id>/change_username` would collide.
        let uri = match route.path_with(|param| format!("<{param}>")) {
            path if path.is_empty() => "/".to_owned(),
            path => path,
        };
        let mut rocket_route = Route::ranked(rank, method, &uri, dispatch.clone());
        rocket_route.name = Some(route.name.into());
        out.push(rocket_route);
    }
    for method in [
        HttpMethod::Get,
        HttpMethod::Head,
        HttpMethod::Post,
        HttpMethod::Put,
        HttpMethod::Delete,
        HttpMethod::Patch,
        HttpMethod::Options,
        HttpMethod::Trace,
    ] {
        // `<_..>` matches no segment too: the base itself.
        let mut fallback = Route::ranked(FALLBACK_RANK, method, "/<_..>", dispatch.clone());
        fallback.name = Some("authx:fallback".into());
        out.push(fallback);
    }
    out
}

/// A catcher for every status that answers in the contract's JSON form, to register under the
/// base of [`routes`]: `.register("/api/users", authx_rocket::catchers())`.
///
/// A rejection of the authx guards is sent as the core made it; any other status becomes the
/// core's error for it (`401 Not authenticated`, `403 Forbidden`, `404 Not found`, `405 Method
/// not allowed`, `413 Payload too large`, another 4xx `400` with its reason, a 5xx `503
/// Service unavailable`, logged), so nothing under the base answers rocket's HTML pages.
pub fn catchers() -> Vec<Catcher> {
    let mut catcher = Catcher::new(None, JsonCatcher { only_guards: false });
    catcher.name = Some("authx".into());
    vec![catcher]
}

/// Catchers for `401`, `403` and `503` that send the rejections of the authx guards in the
/// contract's JSON form and leave every other error to rocket's default catcher: register
/// them where the application's own routes use the guards, e.g. `.register("/", ...)`.
pub fn guard_catchers() -> Vec<Catcher> {
    [401, 403, 503]
        .into_iter()
        .map(|code| {
            let mut catcher = Catcher::new(code, JsonCatcher { only_guards: true });
            catcher.name = Some("authx guards".into());
            catcher
        })
        .collect()
}

/// Manages the [`Auth`] (unless it is already), mounts [`routes`] and registers [`catchers`]
/// under `base`: `rocket::build().attach(AuthFairing::new("/api/users", auth))`.
#[derive(Debug, Clone)]
pub struct AuthFairing {
    base: String,
    auth: Auth,
    routers: Routers,
}

impl AuthFairing {
    /// The fairing for `auth` mounted at `base` (an origin path such as `/api/users`).
    pub fn new(base: impl Into<String>, auth: Auth) -> Self {
        Self::with_routers(base, auth, Routers::main())
    }

    /// The fairing of the social login router, mounted at `base` (the examples use `/auth`).
    pub fn social(base: impl Into<String>, auth: Auth) -> Self {
        Self::with_routers(base, auth, Routers::social())
    }

    /// The fairing of the chosen `routers` alone, mounted at `base`.
    pub fn with_routers(base: impl Into<String>, auth: Auth, routers: Routers) -> Self {
        Self {
            base: base.into(),
            auth,
            routers,
        }
    }
}

#[rocket::async_trait]
impl Fairing for AuthFairing {
    fn info(&self) -> Info {
        Info {
            name: "authx",
            kind: Kind::Ignite,
        }
    }

    async fn on_ignite(&self, rocket: Rocket<Build>) -> fairing::Result {
        let rocket = if rocket.state::<Auth>().is_some() {
            rocket
        } else {
            rocket.manage(self.auth.clone())
        };
        Ok(rocket
            .mount(self.base.as_str(), routes_for(self.routers))
            .register(self.base.as_str(), catchers()))
    }
}

#[derive(Clone)]
struct Dispatch {
    routers: Routers,
}

#[rocket::async_trait]
impl route::Handler for Dispatch {
    async fn handle<'r>(&self, req: &'r Request<'_>, data: Data<'r>) -> route::Outcome<'r> {
        route::Outcome::Success(respond(serve(req, data, self.routers).await))
    }
}

async fn serve(req: &Request<'_>, data: Data<'_>, routers: Routers) -> AuthResponse {
    let auth = match auth_of(req) {
        Ok(auth) => auth,
        Err(e) => return AuthResponse::from_error(&e),
    };
    let base = req.route().map_or("/", |route| route.uri.base());
    let path = req.uri().path().as_str();
    let (prefix, relative) = match base {
        "/" => ("", path),
        base => (base, path.strip_prefix(base).unwrap_or(path)),
    };
    let Some(peer) = req.remote() else {
        return AuthResponse::from_error(&AuthError::unavailable(
            "authx-rocket: the request has no remote address",
        ));
    };
    let query = req.uri().query().map(|q| q.as_str());
    let mut core = core_request(peer.ip(), req).at(req.method().as_str(), prefix, relative, query);
    // Read one byte past the limit so an oversized body is told apart from a full one; a
    // body that cannot be read as sent (a broken chunked encoding, a connection cut short) is
    // `400 invalid_body`, as in the other adapters.
    match data.open((BODY_LIMIT + 1).bytes()).into_bytes().await {
        Ok(bytes) if bytes.len() <= BODY_LIMIT => core.body = bytes.into_inner(),
        Ok(_) => return AuthResponse::from_error(&AuthError::PayloadTooLarge),
        Err(_) => return AuthResponse::from_error(&AuthError::malformed_body()),
    }
    auth.serve(routers, core).await
}

fn auth_of<'r>(req: &'r Request<'_>) -> Result<&'r Auth, AuthError> {
    req.rocket().state::<Auth>().ok_or_else(|| {
        AuthError::unavailable(
            "authx-rocket: no Auth is managed: attach AuthFairing or call .manage(auth)",
        )
    })
}

fn core_request(peer: IpAddr, req: &Request<'_>) -> AuthRequest {
    let mut core = AuthRequest::new(peer);
    for header in req.headers().iter() {
        core.push_header(header.name().as_str(), header.value().as_bytes());
    }
    core
}

/// Copies the core's answer into a rocket response, headers verbatim and in order.
fn respond<'r>(answer: AuthResponse) -> Response<'r> {
    let mut response = Response::build();
    response.status(Status::new(answer.status));
    for (name, value) in answer.headers {
        response.raw_header_adjoin(name, value);
    }
    response.sized_body(answer.body.len(), Cursor::new(answer.body));
    response.finalize()
}

/// The rejection a guard made for this request, kept for the catchers.
struct GuardRejection(Option<AuthResponse>);

#[derive(Clone)]
struct JsonCatcher {
    only_guards: bool,
}

#[rocket::async_trait]
impl catcher::Handler for JsonCatcher {
    async fn handle<'r>(&self, status: Status, req: &'r Request<'_>) -> catcher::Result<'r> {
        if let Some(rejection) = &req.local_cache(|| GuardRejection(None)).0
            && rejection.status == status.code
        {
            return Ok(respond(rejection.clone()));
        }
        if self.only_guards {
            return Catcher::default().handler.handle(status, req).await;
        }
        let error = match status.code {
            401 => AuthError::NotAuthenticated,
            403 => AuthError::Forbidden,
            404 => AuthError::NotFound,
            405 => AuthError::MethodNotAllowed,
            413 => AuthError::PayloadTooLarge,
            400..=499 => AuthError::InvalidBody(status.reason_lossy().to_owned()),
            _ => AuthError::unavailable(format!("rocket answered {status} for {}", req.uri())),
        };
        Ok(respond(AuthResponse::from_error(&error)))
    }
}

/// The authenticated user of a request (access token from `Authorization: Bearer`, else the
/// access cookie). Fails with `401` and the contract's JSON body, sent by [`catchers`] (under
/// the auth base) or [`guard_catchers`] (where the application registers them).
///
/// `Option<AuthUser>` is `None` when no valid token came. Unlike the axum adapter it is also
/// `None` on a `503`: rocket's own `Option<T>` guard turns every failure into `None`. Where a
/// storage fault (the revocation check) must not pass for "anonymous", take
/// `Result<AuthUser, AuthRejection>`.
#[derive(Debug, Clone)]
pub struct AuthUser(pub Claims);

/// An authenticated user holding the `admin` permission; others get `403 Forbidden`.
#[derive(Debug, Clone)]
pub struct AdminUser(pub Claims);

/// Why a guard failed: the contract's JSON answer, which the catchers send.
#[derive(Debug, Clone)]
pub struct AuthRejection(pub AuthResponse);

fn reject<T>(req: &Request<'_>, error: &AuthError) -> Outcome<T, AuthRejection> {
    let response = AuthResponse::from_error(error);
    // The first rejection of a request is the one its catcher sends.
    req.local_cache(|| GuardRejection(Some(response.clone())));
    Outcome::Error((Status::new(response.status), AuthRejection(response)))
}

/// The `Auth` of the app and the core's view of a request's credentials, for the guards.
fn credentials<'r>(req: &'r Request<'_>) -> Result<(&'r Auth, AuthRequest), AuthError> {
    let auth = auth_of(req)?;
    // The peer is irrelevant to token checks; it is not required here.
    let peer = req
        .remote()
        .map_or(std::net::Ipv4Addr::UNSPECIFIED.into(), |addr| addr.ip());
    Ok((auth, core_request(peer, req)))
}

async fn authenticate(req: &Request<'_>) -> Result<Claims, AuthError> {
    let (auth, core) = credentials(req)?;
    auth.authenticate(&core).await
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for AuthUser {
    type Error = AuthRejection;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        match authenticate(req).await {
            Ok(claims) => Outcome::Success(AuthUser(claims)),
            Err(e) => reject(req, &e),
        }
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for AdminUser {
    type Error = AuthRejection;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let admin = match credentials(req) {
            Ok((auth, core)) => auth.authenticate_admin(&core).await,
            Err(e) => Err(e),
        };
        match admin {
            Ok(claims) => Outcome::Success(AdminUser(claims)),
            Err(e) => reject(req, &e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rocket::http::{Accept, ContentType};
    use rocket::local::asynchronous::Client;

    #[rocket::get("/fails/<code>")]
    fn fails(code: u16) -> Status {
        Status::new(code)
    }

    #[rocket::get("/me")]
    fn me(user: AuthUser) -> String {
        let AuthUser(claims) = user;
        claims.username
    }

    async fn client() -> Client {
        let config = rocket::Config {
            log_level: rocket::config::LogLevel::Off,
            ..rocket::Config::debug_default()
        };
        let rocket = rocket::custom(config)
            .mount("/api/users", rocket::routes![fails, me])
            .register("/api/users", catchers())
            .mount("/", rocket::routes![fails, me])
            .register("/", guard_catchers());
        Client::untracked(rocket).await.expect("a valid rocket")
    }

    async fn get(client: &Client, path: &str) -> (u16, Option<ContentType>, String) {
        let response = client.get(path).header(Accept::HTML).dispatch().await;
        let status = response.status().code;
        let content_type = response.content_type();
        (
            status,
            content_type,
            response.into_string().await.unwrap_or_default(),
        )
    }

    #[rocket::async_test]
    async fn every_status_under_the_base_is_json() {
        let client = client().await;
        for (code, status, body) in [
            (
                401,
                401,
                r#"{"detail":"Not authenticated","code":"not_authenticated"}"#,
            ),
            (404, 404, r#"{"detail":"Not found","code":"not_found"}"#),
            (
                413,
                413,
                r#"{"detail":"Payload too large","code":"payload_too_large"}"#,
            ),
            (
                422,
                400,
                r#"{"detail":"Unprocessable Entity","code":"invalid_body"}"#,
            ),
            (
                500,
                503,
                r#"{"detail":"Service unavailable","code":"service_unavailable"}"#,
            ),
        ] {
            let got = get(&client, &format!("/api/users/fails/{code}")).await;
            assert_eq!(
                got,
                (status, Some(ContentType::JSON), body.to_owned()),
                "{code}"
            );
        }
    }

    #[rocket::async_test]
    async fn guard_catchers_answer_for_the_guards_only() {
        let client = client().await;
        // No `Auth` is managed: the guard fails with 503, sent as JSON by the guard catcher.
        let (status, content_type, body) = get(&client, "/me").await;
        assert_eq!((status, content_type), (503, Some(ContentType::JSON)));
        assert!(body.contains("service_unavailable"), "{body}");
        // Any other 401 is left to rocket's default catcher.
        let (status, content_type, _) = get(&client, "/fails/401").await;
        assert_eq!((status, content_type), (401, Some(ContentType::HTML)));
    }
}
