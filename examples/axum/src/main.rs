//! An axum application with routes of its own that nests authx at `/api/users` (and social
//! login at `/auth`).
//!
//! ```sh
//! cargo run -p authx-example-axum
//! ```
//!
//! Configuration comes from the environment (see `authx::env`): SQLite in the working
//! directory, debug cookies and mail printed to stdout unless told otherwise.

use std::net::SocketAddr;
use std::sync::Arc;

use authx::axum::AuthUser;
use authx_example_frontend::FrontendConfig;
use axum::body::Bytes;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

/// The demo front end (`/`, the mail links' landing pages, its assets); anything else is `404`.
fn frontend(config: &FrontendConfig, method: &Method, uri: &Uri, body: &Bytes) -> Response {
    let Some(reply) = authx_example_frontend::respond(method.as_str(), uri.path(), body, config)
    else {
        return StatusCode::NOT_FOUND.into_response();
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

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let env = authx::env::Environment::load()?;
    let auth = env.builder().await?.build()?;

    let config = Arc::new(FrontendConfig::examples(Vec::<String>::new()));
    let app = Router::new()
        .route("/me", get(me))
        .nest("/api/users", authx::axum::router(auth.clone()))
        .nest("/auth", authx::axum::social_router(auth.clone()))
        .fallback(move |method: Method, uri: Uri, body: Bytes| {
            let config = config.clone();
            async move { frontend(&config, &method, &uri, &body) }
        })
        .with_state(auth);

    let listener = tokio::net::TcpListener::bind(env.addr).await?;
    println!(
        "authx axum example listening on http://{}",
        listener.local_addr()?
    );
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
