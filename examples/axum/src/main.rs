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

use authx::axum::AuthUser;
use axum::routing::get;
use axum::{Json, Router};

async fn index() -> &'static str {
    "authx axum example: the auth routes are under /api/users\n"
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

    let app = Router::new()
        .route("/", get(index))
        .route("/me", get(me))
        .nest("/api/users", authx::axum::router(auth.clone()))
        .nest("/auth", authx::axum::social_router(auth.clone()))
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
