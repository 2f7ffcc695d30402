//! The axum example application: [`app`] builds it, [`serve`] serves it with the examples'
//! server limits (see `authx-example-common`). `main.rs` reads the environment and runs both;
//! tests start the same application.

use std::net::SocketAddr;

use std::sync::Arc;

use authx::Auth;
use authx::axum::AuthUser;
use authx_example_common::{ServerLimits, error_response};
use authx_example_frontend::FrontendConfig;
use axum::body::Bytes;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

/// The demo front end (`/`, the mail links' landing pages, its assets); anything else is the
/// contract's JSON `404`.
fn frontend(config: &FrontendConfig, method: &Method, uri: &Uri, body: &Bytes) -> Response {
    let Some(reply) = authx_example_frontend::respond(method.as_str(), uri.path(), body, config)
    else {
        return error_response(&authx::AuthError::NotFound).into_response();
    };
    let mut response = reply.body.into_owned().into_response();
    *response.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    for (name, value) in reply.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// A route of the application, protected by the `AuthUser` extractor.
async fn me(AuthUser(claims): AuthUser) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "id": claims.id, "username": claims.username }))
}

/// The application: its own routes, authx at `/api/users` and social login at `/auth`, the
/// demo front end at `/`, and the contract's JSON for every other path (`404`) and method
/// (`405`).
pub fn app(auth: Auth) -> Router {
    let config = Arc::new(FrontendConfig::examples(auth.social_providers()));
    Router::new()
        .route("/me", get(me))
        .nest("/api/users", authx::axum::router(auth.clone()))
        .nest("/auth", authx::axum::social_router(auth.clone()))
        .fallback(move |method: Method, uri: Uri, body: Bytes| {
            let config = config.clone();
            async move { frontend(&config, &method, &uri, &body) }
        })
        .method_not_allowed_fallback(|| async {
            error_response(&authx::AuthError::MethodNotAllowed)
        })
        .with_state(auth)
}

/// Serves `app` on `listener` with `limits` until `shutdown` resolves. axum's own `serve`
/// takes no hyper settings, so this is hyper's HTTP/1 server with the examples' limits; each
/// request carries its peer address as axum's `ConnectInfo`, which authx's per-IP limit reads.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()>,
) {
    use tower::ServiceExt as _;
    authx_example_common::serve_http1(listener, limits, shutdown, move |peer: SocketAddr| {
        let app = app
            .clone()
            .map_request(move |mut request: axum::extract::Request<_>| {
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                request
            });
        hyper_util::service::TowerToHyperService::new(app)
    })
    .await;
}
