//! The axum adapter of authx: [`router`] (and [`social_router`], [`routers`]) to nest under any
//! prefix, and extractors ([`AuthUser`], `Option<AuthUser>`, [`AdminUser`]) for the host
//! application's own handlers.
//!
//! ```no_run
//! use std::net::SocketAddr;
//! use axum::{Router, routing::get};
//! use authx_axum::AuthUser;
//!
//! async fn me(AuthUser(claims): AuthUser) -> String {
//!     format!("hello {}", claims.username)
//! }
//!
//! # async fn run(auth: authx_core::Auth) {
//! let app = Router::new()
//!     .route("/me", get(me))
//!     .nest("/api/users", authx_axum::router(auth.clone()))
//!     .nest("/auth", authx_axum::social_router(auth.clone()))
//!     .with_state(auth);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await.unwrap();
//! // The client IP (login throttling) comes from the connection: serve with connect info.
//! axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await.unwrap();
//! # }
//! ```
//!
//! The adapter only translates: every route, message, status and cookie comes from
//! `authx-core`, which resolves the route of every request, so the same requests get the same
//! answers as in the actix and rocket adapters.

use std::net::SocketAddr;

use authx_core::config::BODY_LIMIT;
use authx_core::routes::Routers;
use authx_core::{Auth, AuthError, AuthRequest, AuthResponse, Claims};
use axum::Router;
use axum::body::Body;
use axum::extract::{
    ConnectInfo, FromRef, FromRequestParts, NestedPath, OptionalFromRequestParts, OriginalUri,
    Request, State,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;

pub use authx_core;

/// Every router the configuration enables but social login, as an axum [`Router`] to nest
/// under any prefix (`/api/users`).
///
/// The core resolves each request under the prefix (any method, path and query): unknown
/// paths answer `404`, another method on a known path `405`, both in the contract's JSON form.
/// Serve the application with `into_make_service_with_connect_info::<SocketAddr>()`: the client
/// IP for login throttling is the socket peer.
pub fn router<S>(auth: Auth) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    routers(auth, Routers::main())
}

/// The social login router (`/{provider}`, `/{provider}/callback`), to nest under a prefix of
/// its own (the examples use `/auth`). Empty until a provider is configured.
pub fn social_router<S>(auth: Auth) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    routers(auth, Routers::social())
}

/// The chosen `routers` alone (`Routers::of(&[RouterKind::Sessions])`), to nest under any
/// prefix.
pub fn routers<S>(auth: Auth, routers: Routers) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let serve = move |State(auth): State<Auth>, request: Request| async move {
        serve(&auth, routers, request).await
    };
    Router::new()
        .route("/", any(serve))
        .route("/{*path}", any(serve))
        .fallback(serve)
        .with_state(auth)
}

async fn serve(auth: &Auth, routers: Routers, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Some(peer) = peer(&parts) else {
        return error(&AuthError::unavailable(
            "authx-axum needs the peer address: serve with into_make_service_with_connect_info::<SocketAddr>()",
        ));
    };
    // The path as received: nesting strips the prefix from the request's own URI.
    let uri = parts
        .extensions
        .get::<OriginalUri>()
        .map_or(&parts.uri, |OriginalUri(uri)| uri);
    let prefix = parts
        .extensions
        .get::<NestedPath>()
        .map_or("", NestedPath::as_str);
    let full = uri.path();
    let relative = full.strip_prefix(prefix).unwrap_or(full);
    let mut req =
        core_request(peer, &parts.headers).at(parts.method.as_str(), prefix, relative, uri.query());
    match read_body(body).await {
        Ok(bytes) => req.body = bytes,
        Err(e) => return error(&e),
    }
    into_response(auth.serve(routers, req).await)
}

/// The body, up to the contract's limit: beyond it `413`, and a body that cannot be read as
/// sent (a broken chunked encoding, a connection cut short) `400 invalid_body`, as in the
/// other adapters.
async fn read_body(mut body: Body) -> Result<Vec<u8>, AuthError> {
    use axum::body::HttpBody as _;
    let mut bytes = Vec::new();
    while let Some(frame) =
        std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await
    {
        let frame = frame.map_err(|_| AuthError::malformed_body())?;
        if let Ok(data) = frame.into_data() {
            if bytes.len() + data.len() > BODY_LIMIT {
                return Err(AuthError::PayloadTooLarge);
            }
            bytes.extend_from_slice(&data);
        }
    }
    Ok(bytes)
}

fn peer(parts: &Parts) -> Option<std::net::IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

fn core_request(peer: std::net::IpAddr, headers: &HeaderMap) -> AuthRequest {
    let mut req = AuthRequest::new(peer);
    for (name, value) in headers {
        req.push_header(name.as_str(), value.as_bytes());
    }
    req
}

fn error(error: &AuthError) -> Response {
    into_response(AuthResponse::from_error(error))
}

/// Copies the core's answer into an axum response, headers verbatim and in order.
fn into_response(answer: AuthResponse) -> Response {
    let mut response = Response::new(Body::from(answer.body));
    *response.status_mut() =
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
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
/// The application state must give an [`Auth`] (`Auth: FromRef<S>`), e.g. `.with_state(auth)`
/// or a `#[derive(FromRef)]` state struct with an `Auth` field.
#[derive(Debug, Clone)]
pub struct AuthUser(pub Claims);

/// An authenticated user holding the `admin` permission; others get `403 Forbidden`.
#[derive(Debug, Clone)]
pub struct AdminUser(pub Claims);

/// The rejection of the authx extractors: the contract's JSON error.
#[derive(Debug)]
pub struct AuthRejection(AuthResponse);

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        into_response(self.0)
    }
}

/// The core's view of a request's credentials (its headers) for the extractors.
fn credentials(parts: &Parts) -> AuthRequest {
    // The peer is irrelevant to token checks; it is not required here.
    let peer = peer(parts).unwrap_or(std::net::Ipv4Addr::UNSPECIFIED.into());
    core_request(peer, &parts.headers)
}

async fn authenticate(parts: &Parts, auth: &Auth) -> Result<Claims, AuthError> {
    auth.authenticate(&credentials(parts)).await
}

impl<S> FromRequestParts<S> for AuthUser
where
    Auth: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let auth = Auth::from_ref(state);
        authenticate(parts, &auth)
            .await
            .map(AuthUser)
            .map_err(|e| AuthRejection(AuthResponse::from_error(&e)))
    }
}

/// `Option<AuthUser>`: `None` when no valid token came (missing, expired, invalid); only an
/// infrastructure failure rejects.
impl<S> OptionalFromRequestParts<S> for AuthUser
where
    Auth: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let auth = Auth::from_ref(state);
        match authenticate(parts, &auth).await {
            Ok(claims) => Ok(Some(AuthUser(claims))),
            Err(e @ AuthError::Unavailable { .. }) => {
                Err(AuthRejection(AuthResponse::from_error(&e)))
            }
            Err(_) => Ok(None),
        }
    }
}

impl<S> FromRequestParts<S> for AdminUser
where
    Auth: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Auth::from_ref(state)
            .authenticate_admin(&credentials(parts))
            .await
            .map(AdminUser)
            .map_err(|e| AuthRejection(AuthResponse::from_error(&e)))
    }
}
