//! An axum application with routes of its own that nests authx at `/api/users` (and social
//! login at `/auth`).
//!
//! ```sh
//! cargo run -p authx-example-axum
//! ```
//!
//! Configuration comes from the environment (see `authx::env`): SQLite in the working
//! directory, debug cookies and mail printed to stdout unless told otherwise.

use authx_example_common::{ServerLimits, ctrl_c, exit_on_error};

#[tokio::main]
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
    let listener = tokio::net::TcpListener::bind(env.addr).await?;
    println!(
        "authx axum example listening on http://{}",
        listener.local_addr()?
    );
    authx_example_axum::serve(
        listener,
        authx_example_axum::app(auth),
        ServerLimits::default(),
        ctrl_c(),
    )
    .await;
    Ok(())
}
