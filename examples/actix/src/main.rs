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

use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use authx::actix::AuthUser;
use authx_example_frontend::FrontendConfig;

/// The demo front end (`/`, the mail links' landing pages, its assets); anything else is `404`.
async fn frontend(
    req: HttpRequest,
    body: web::Bytes,
    config: web::Data<FrontendConfig>,
) -> HttpResponse {
    let Some(reply) =
        authx_example_frontend::respond(req.method().as_str(), req.path(), &body, &config)
    else {
        return HttpResponse::NotFound().finish();
    };
    let mut response =
        HttpResponse::build(StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK));
    for (name, value) in reply.headers {
        response.insert_header((name, value));
    }
    response.body(reply.body.into_owned())
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

    let config = web::Data::new(FrontendConfig::examples(Vec::<String>::new()));
    let server = HttpServer::new(move || {
        App::new()
            // The extractors of the application's own routes find `Auth` here.
            .app_data(web::Data::new(auth.clone()))
            .app_data(config.clone())
            .route("/me", web::get().to(me))
            .service(authx::actix::scope("/api/users", auth.clone()))
            .service(authx::actix::social_scope("/auth", auth.clone()))
            .default_service(web::to(frontend))
    })
    .bind(env.addr)?;
    for addr in server.addrs() {
        println!("authx actix example listening on http://{addr}");
    }
    server.run().await?;
    Ok(())
}
