//! A rocket application with routes of its own that mounts authx at `/api/users` (and social
//! login at `/auth`).
//!
//! ```sh
//! cargo run -p authx-example-rocket
//! ```
//!
//! Configuration comes from the environment (see `authx::env`), exactly as in the axum and
//! actix examples: SQLite in the working directory, debug cookies and mail printed to stdout
//! unless told otherwise. `AUTHX_ADDR` is the listen address; `ROCKET_*` variables and
//! `Rocket.toml` configure the rest of rocket (not its address, port, keep-alive or TLS: the
//! example serves HTTP itself, see `lib.rs`).

use authx_example_common::{ServerLimits, ctrl_c, exit_on_error};

#[rocket::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    if let Err(e) = run().await {
        exit_on_error(&*e);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let env = authx::env::Environment::load()?;
    let auth = env.builder().await?.build()?;
    // The tracing subscriber above already logs; keep rocket's own output short.
    let figment = rocket::Config::figment().merge(("log_level", "critical"));
    let app = authx_example_rocket::app_with(figment, auth);
    let listener = tokio::net::TcpListener::bind(env.addr).await?;
    println!(
        "authx rocket example listening on http://{}",
        listener.local_addr()?
    );
    authx_example_rocket::serve(listener, app, ServerLimits::default(), ctrl_c()).await?;
    Ok(())
}
