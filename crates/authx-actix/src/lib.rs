//! The actix-web adapter of authx: [`configure`] (or [`scope`]) registers the auth routes in a
//! scope under any prefix, and the extractors [`AuthUser`], `Option<AuthUser>` and [`AdminUser`]
//! serve the host application's own handlers.
//!
//! ```no_run
//! use actix_web::{App, HttpServer, web};
//! use authx_actix::AuthUser;
//!
//! async fn me(AuthUser(claims): AuthUser) -> String {
//!     format!("hello {}", claims.username)
//! }
//!
//! # async fn run(auth: authx_core::Auth) -> std::io::Result<()> {
//! HttpServer::new(move || {
//!     App::new()
//!         // For the extractors of the application's own routes.
//!         .app_data(web::Data::new(auth.clone()))
//!         .route("/me", web::get().to(me))
//!         .service(web::scope("/api/users").configure(authx_actix::configure(auth.clone())))
//! })
//! .bind("127.0.0.1:8000")?
//! .run()
//! .await
//! # }
//! ```
//!
//! Every route is registered with its name, so `req.url_for("auth:login", [""; 0])` works.
//! [`configure_social`] (or [`social_scope`]) serves social login under a prefix of its own.
//! The adapter only translates: every route, message, status and cookie comes from
//! `authx-core`, so the same requests get the same answers as in the axum and rocket adapters.
//!
//! # Where the extractors find [`Auth`]
//! In the app data, as `web::Data<Auth>` (or a plain `Auth`), looked up from the resource
//! outwards. [`configure`] puts it in the data of the scope it configures, so handlers inside
//! that scope see it; handlers elsewhere need `App::app_data(web::Data::new(auth))`. Without
//! it the extractors answer `503` and log why.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, dev, web};
use authx_core::config::BODY_LIMIT;
use authx_core::routes::Routers;
use authx_core::{Auth, AuthError, AuthRequest, AuthResponse, Claims};

pub use authx_core;

/// Registers every router the configuration enables but social login in the scope (or app) it
/// configures, with `Auth` as its data.
///
/// ```
/// # fn app(auth: authx_core::Auth) {
/// use actix_web::{App, web};
/// let app = App::new().service(web::scope("/api/users").configure(authx_actix::configure(auth)));
/// # }
/// ```
///
/// The core resolves each request of the scope (any method, path and query): unknown paths
/// answer `404`, another method on a known path `405`, both in the contract's JSON form. Each
/// route is also named (`auth:login`, ...) for `url_for`, as an external resource: in actix's
/// resource map, never matched against a request. This sets the
/// scope's default service: configure a scope of its own rather than the whole `App`, or every
/// unknown path of the application answers the JSON `404`.
pub fn configure(auth: Auth) -> impl FnOnce(&mut web::ServiceConfig) {
    configure_routers(auth, Routers::main())
}

/// Registers the social login router (`/{provider}`, `/{provider}/callback`) in the scope it
/// configures (the examples use `/auth`).
pub fn configure_social(auth: Auth) -> impl FnOnce(&mut web::ServiceConfig) {
    configure_routers(auth, Routers::social())
}

/// Registers the chosen `routers` alone in the scope it configures.
pub fn configure_routers(auth: Auth, routers: Routers) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(web::Data::new(auth));
        name_routes(cfg, routers);
        cfg.default_service(web::to(move |req, body| dispatch(req, body, routers)));
    }
}

/// Names each route of `routers` for `url_for`, without a resource that requests are matched
/// against: every request reaches the default service, where the core resolves it on the path
/// as received (actix matches a partly decoded one). actix's external resources are that: a
/// pattern and a name in the resource map, which `url_for` (and `match_pattern`) read, never
/// tried at request time. A resource per route, even one no guard lets in, would have actix try
/// each pattern on every request of the scope (a regular expression for the routes with a
/// parameter) before the default service: several microseconds per request, for nothing.
fn name_routes(cfg: &mut web::ServiceConfig, routers: Routers) {
    for route in routers.routes() {
        // The prefix itself (`""`, the search route) is the scope's path without a trailing
        // slash, which is what `url_for` then gives (and what the core serves). A pattern that
        // starts with `/` (or is empty) is placed under the scope's prefix, like a resource's.
        cfg.external_resource(route.name, route.path);
    }
}

/// `web::scope(prefix)` with [`configure`]: `App::new().service(authx_actix::scope("/api/users", auth))`.
pub fn scope(prefix: &str, auth: Auth) -> actix_web::Scope {
    web::scope(prefix).configure(configure(auth))
}

/// `web::scope(prefix)` with [`configure_social`].
pub fn social_scope(prefix: &str, auth: Auth) -> actix_web::Scope {
    web::scope(prefix).configure(configure_social(auth))
}

/// Serves a request of the scope: the core resolves its route.
async fn dispatch(req: HttpRequest, body: web::Payload, routers: Routers) -> HttpResponse {
    let auth = match auth_of(&req) {
        Ok(auth) => auth,
        Err(e) => return error(&e),
    };
    let Some(peer) = req.peer_addr() else {
        return error(&AuthError::unavailable(
            "authx-actix: the request has no peer address",
        ));
    };
    // What the scope left of the path, taken from the path as received.
    let full = req.uri().path();
    let relative = tail(full, req.match_info().unprocessed().matches('/').count());
    let prefix = &full[..full.len() - relative.len()];
    let mut core = core_request(peer.ip(), &req).at(
        req.method().as_str(),
        prefix,
        relative,
        req.uri().query(),
    );
    // Beyond the limit `413`; a body that cannot be read as sent (a broken chunked
    // encoding, a connection cut short) `400 invalid_body`, as in the other adapters.
    match body.to_bytes_limited(BODY_LIMIT).await {
        Ok(Ok(bytes)) => core.body = bytes.to_vec(),
        Ok(Err(_)) => return error(&AuthError::malformed_body()),
        Err(_) => return error(&AuthError::PayloadTooLarge),
    }
    into_response(auth.serve(routers, core).await)
}

/// The last `segments` segments of `path`, with their leading `/` (`""` for none).
fn tail(path: &str, segments: usize) -> &str {
    let mut start = path.len();
    for _ in 0..segments {
        start = path[..start].rfind('/').unwrap_or(0);
    }
    &path[start..]
}

fn auth_of(req: &HttpRequest) -> Result<Auth, AuthError> {
    req.app_data::<web::Data<Auth>>()
        .map(|data| data.get_ref().clone())
        .or_else(|| req.app_data::<Auth>().cloned())
        .ok_or_else(|| {
            tracing::error!("authx-actix: no Auth in the app data");
            AuthError::unavailable(
                "authx-actix: no Auth in the app data: add App::app_data(web::Data::new(auth))",
            )
        })
}

fn core_request(peer: IpAddr, req: &HttpRequest) -> AuthRequest {
    let mut core = AuthRequest::new(peer);
    for (name, value) in req.headers() {
        core.push_header(name.as_str(), value.as_bytes());
    }
    core
}

fn error(error: &AuthError) -> HttpResponse {
    into_response(AuthResponse::from_error(error))
}

/// Copies the core's answer into an actix response, headers verbatim and in order.
fn into_response(answer: AuthResponse) -> HttpResponse {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::with_body(status, answer.body).map_into_boxed_body();
    let headers = response.headers_mut();
    for (name, value) in answer.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            headers.append(name, value);
        }
    }
    response
}

/// The authenticated user of a request (access token from `Authorization: Bearer`, else the
/// access cookie). Rejects with the contract's `401` JSON.
///
/// `Option<AuthUser>` is `None` when no valid token came. Unlike the axum adapter it is also
/// `None` on a `503`: actix's own `Option<T>` extractor swallows every error. Where a storage
/// fault (the revocation check) must not pass for "anonymous", take
/// `Result<AuthUser, AuthRejection>` and return the rejection when its status is `503`.
#[derive(Debug, Clone)]
pub struct AuthUser(pub Claims);

/// An authenticated user holding the `admin` permission; others get `403 Forbidden`.
#[derive(Debug, Clone)]
pub struct AdminUser(pub Claims);

/// The rejection of the authx extractors: the contract's JSON error, sent as it is when
/// returned as an actix error.
#[derive(Debug)]
pub struct AuthRejection(pub AuthResponse);

impl std::fmt::Display for AuthRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.0.status, self.0.body)
    }
}

impl ResponseError for AuthRejection {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        into_response(self.0.clone())
    }
}

impl From<AuthError> for AuthRejection {
    fn from(error: AuthError) -> Self {
        Self(AuthResponse::from_error(&error))
    }
}

type Extraction<T> = Pin<Box<dyn Future<Output = Result<T, AuthRejection>>>>;

/// The `Auth` of the app and the core's view of a request's credentials, for the extractors.
fn credentials(req: &HttpRequest) -> (Result<Auth, AuthError>, AuthRequest) {
    // The peer is irrelevant to token checks; it is not required here.
    let core = core_request(
        req.peer_addr()
            .map_or(std::net::Ipv4Addr::UNSPECIFIED.into(), |a| a.ip()),
        req,
    );
    (auth_of(req), core)
}

fn authenticate(req: &HttpRequest) -> Extraction<Claims> {
    let (auth, core) = credentials(req);
    Box::pin(async move { Ok(auth?.authenticate(&core).await?) })
}

impl FromRequest for AuthUser {
    type Error = AuthRejection;
    type Future = Extraction<Self>;

    fn from_request(req: &HttpRequest, _: &mut dev::Payload) -> Self::Future {
        let claims = authenticate(req);
        Box::pin(async move { claims.await.map(AuthUser) })
    }
}

impl FromRequest for AdminUser {
    type Error = AuthRejection;
    type Future = Extraction<Self>;

    fn from_request(req: &HttpRequest, _: &mut dev::Payload) -> Self::Future {
        let (auth, core) = credentials(req);
        Box::pin(async move { Ok(AdminUser(auth?.authenticate_admin(&core).await?)) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tails() {
        assert_eq!(
            tail("/api/users/1/change_username", 2),
            "/1/change_username"
        );
        assert_eq!(tail("/api/users/login", 1), "/login");
        assert_eq!(tail("/login", 3), "/login");
        assert_eq!(tail("/api/users", 0), "");
    }

    /// Every route's URL by its name, and the path the default service is left with.
    #[test]
    fn routes_are_named_but_never_matched() {
        use actix_web::{App, test};
        async fn urls(req: HttpRequest) -> String {
            let urls: Vec<String> = Routers::main()
                .routes()
                .map(|route| {
                    let params: &[&str] = if route.path.contains('{') {
                        &["7"]
                    } else {
                        &[]
                    };
                    req.url_for(route.name, params)
                        .map_or_else(|e| e.to_string(), |url| url.path().to_owned())
                })
                .collect();
            urls.join(" ")
        }
        async fn unprocessed(req: HttpRequest) -> String {
            let segments = req.match_info().unprocessed().matches('/').count();
            format!(
                "{} {}",
                tail(req.uri().path(), segments),
                req.match_pattern().unwrap_or_default()
            )
        }
        actix_web::rt::System::new().block_on(async {
            let app = test::init_service(
                App::new().route("/urls", web::get().to(urls)).service(
                    web::scope("/api/users")
                        .configure(|cfg| name_routes(cfg, Routers::main()))
                        .default_service(web::to(unprocessed)),
                ),
            )
            .await;
            let request = test::TestRequest::get().uri("/urls").to_request();
            let body = test::call_and_read_body(&app, request).await;
            let expected: Vec<String> = Routers::main()
                .routes()
                .map(|route| format!("/api/users{}", route.path_with(|_| "7".into())))
                .collect();
            assert_eq!(std::str::from_utf8(&body).unwrap(), expected.join(" "));
            assert!(expected.contains(&"/api/users/7/change_username".to_owned()));
            assert!(expected.contains(&"/api/users".to_owned()));
            // Every request, on a route's path or not, reaches the default service with the
            // path below the prefix as received; actix still finds the route's pattern.
            for (uri, seen) in [
                (
                    "/api/users/7/change_username",
                    "/7/change_username /api/users/{id}/change_username",
                ),
                ("/api/users/login", "/login /api/users/login"),
                ("/api/users/%6Cogin", "/%6Cogin /api/users/{id}"),
                ("/api/users/nowhere/at/all", "/nowhere/at/all "),
                ("/api/users", " /api/users"),
            ] {
                let request = test::TestRequest::post().uri(uri).to_request();
                let body = test::call_and_read_body(&app, request).await;
                assert_eq!(std::str::from_utf8(&body).unwrap(), seen, "{uri}");
            }
        });
    }

    #[test]
    fn extractors_without_auth_answer_503_json() {
        use actix_web::{App, test};
        async fn me(AuthUser(claims): AuthUser) -> String {
            claims.username
        }
        async fn maybe(user: Option<AuthUser>) -> &'static str {
            if user.is_some() { "user" } else { "anonymous" }
        }
        actix_web::rt::System::new().block_on(async {
            let app = test::init_service(
                App::new()
                    .route("/me", web::get().to(me))
                    .route("/maybe", web::get().to(maybe)),
            )
            .await;
            let response =
                test::call_service(&app, test::TestRequest::get().uri("/me").to_request()).await;
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(
                response
                    .headers()
                    .get("content-type")
                    .map(HeaderValue::as_bytes),
                Some(&b"application/json"[..])
            );
            let body = test::read_body(response).await;
            assert_eq!(
                &body[..],
                br#"{"detail":"Service unavailable","code":"service_unavailable"}"#
            );
            // actix's `Option<T>` swallows the rejection (documented).
            let request = test::TestRequest::get().uri("/maybe").to_request();
            let body = test::call_and_read_body(&app, request).await;
            assert_eq!(&body[..], b"anonymous");
        });
    }
}
