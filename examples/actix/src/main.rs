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

use authx_example_common::{ServerLimits, exit_on_error};

#[actix_web::main]
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
    let listener = std::net::TcpListener::bind(env.addr)?;
    println!(
        "authx actix example listening on http://{}",
        listener.local_addr()?
    );
    let server = authx_example_actix::server(auth, listener, ServerLimits::default())?;
    let handle = server.handle();
    actix_web::rt::spawn(async move {
        authx_example_common::ctrl_c().await;
        handle.stop(true).await;
    });
    server.await?;
    Ok(())
}
