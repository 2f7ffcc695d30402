//! An actix-web application with routes of its own that mounts authx at `/api/users` (and
//! social login at `/auth`).
//!
//! ```sh
//! cargo run -p authx-example-actix
//! ```
//!
//! Configuration comes from the environment (see `authx::env`), exactly as in the axum and
//! rocket examples: SQLite in the working directory, debug cookies and mail printed to stdout
//! unless told otherwise.

use actix_web::{App, HttpResponse, HttpServer, web};
use authx::actix::AuthUser;

async fn index() -> &'static str {
    "authx actix example: the auth routes are under /api/users\n"
}

/// A route of the application, protected by the `AuthUser` extractor.
async fn me(AuthUser(claims): AuthUser) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(serde_json::json!({ "id": claims.id, "username": claims.username }).to_string())
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let env = authx::env::Environment::load()?;
    let auth = env.builder().await?.build()?;

    let server = HttpServer::new(move || {
        App::new()
            // The extractors of the application's own routes find `Auth` here.
            .app_data(web::Data::new(auth.clone()))
            .route("/", web::get().to(index))
            .route("/me", web::get().to(me))
            .service(authx::actix::scope("/api/users", auth.clone()))
            .service(authx::actix::social_scope("/auth", auth.clone()))
    })
    .bind(env.addr)?;
    for addr in server.addrs() {
        println!("authx actix example listening on http://{addr}");
    }
    server.run().await?;
    Ok(())
}
