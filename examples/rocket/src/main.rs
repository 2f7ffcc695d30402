//! A rocket application with routes of its own that mounts authx at `/api/users` (and social
//! login at `/auth`).
//!
//! ```sh
//! cargo run -p authx-example-rocket
//! ```
//!
//! Configuration comes from the environment (see `authx::env`), exactly as in the axum and
//! actix examples: SQLite in the working directory, debug cookies and mail printed to stdout
//! unless told otherwise. `AUTHX_ADDR` sets rocket's address and port (`ROCKET_*` variables
//! and `Rocket.toml` still configure the rest).

use authx::rocket::{AuthFairing, AuthUser};
use rocket::fairing::AdHoc;
use rocket::http::ContentType;

#[rocket::get("/")]
fn index() -> &'static str {
    "authx rocket example: the auth routes are under /api/users\n"
}

/// A route of the application, protected by the `AuthUser` request guard.
#[rocket::get("/me")]
fn me(user: AuthUser) -> (ContentType, String) {
    let AuthUser(claims) = user;
    let body = serde_json::json!({ "id": claims.id, "username": claims.username });
    (ContentType::JSON, body.to_string())
}

#[rocket::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let env = authx::env::Environment::load()?;
    let auth = env.builder().await?.build()?;

    let figment = rocket::Config::figment()
        .merge(("address", env.addr.ip()))
        .merge(("port", env.addr.port()))
        // The tracing subscriber above already logs; keep rocket's launch banner short.
        .merge(("log_level", "critical"));
    let rocket = rocket::custom(figment)
        .attach(AuthFairing::new("/api/users", auth.clone()))
        .attach(AuthFairing::social("/auth", auth))
        .mount("/", rocket::routes![index, me])
        // The guard's rejections on the application's own routes as the contract's JSON.
        .register("/", authx::rocket::guard_catchers())
        .attach(AdHoc::on_liftoff("address", |rocket| {
            Box::pin(async move {
                let config = rocket.config();
                println!(
                    "authx rocket example listening on http://{}:{}",
                    config.address, config.port
                );
            })
        }));
    rocket.launch().await?;
    Ok(())
}
