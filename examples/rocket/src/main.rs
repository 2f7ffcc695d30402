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

use std::io::Cursor;

use authx::rocket::{AuthFairing, AuthUser};
use authx_example_frontend::FrontendConfig;
use rocket::data::ToByteUnit as _;
use rocket::fairing::AdHoc;
use rocket::http::{ContentType, Method, Status};
use rocket::route::{Handler, Outcome, Route};
use rocket::{Data, Request, Response};

/// The demo front end (`/`, the mail links' landing pages, its assets), as a handler for every
/// path no other route takes; anything else is `404`.
#[derive(Clone)]
struct Frontend(FrontendConfig);

#[rocket::async_trait]
impl Handler for Frontend {
    async fn handle<'r>(&self, req: &'r Request<'_>, data: Data<'r>) -> Outcome<'r> {
        let body = match data.open(16.kibibytes()).into_bytes().await {
            Ok(bytes) => bytes.into_inner(),
            Err(_) => return Outcome::Error(Status::BadRequest),
        };
        let path = req.uri().path().as_str();
        let Some(reply) =
            authx_example_frontend::respond(req.method().as_str(), path, &body, &self.0)
        else {
            return Outcome::Error(Status::NotFound);
        };
        let mut response = Response::build();
        response.status(Status::new(reply.status));
        for (name, value) in reply.headers {
            response.raw_header(name, value);
        }
        let body = reply.body.into_owned();
        response.sized_body(body.len(), Cursor::new(body));
        Outcome::Success(response.finalize())
    }
}

fn frontend_routes(config: FrontendConfig) -> Vec<Route> {
    let handler = Frontend(config);
    [Method::Get, Method::Head, Method::Post]
        .into_iter()
        .map(|method| Route::ranked(2000, method, "/<_..>", handler.clone()))
        .collect()
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
        .mount("/", rocket::routes![me])
        .mount(
            "/",
            frontend_routes(FrontendConfig::examples(Vec::<String>::new())),
        )
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
