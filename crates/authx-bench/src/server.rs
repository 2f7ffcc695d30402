//! The server side, run as a child process (`authx-bench serve ...`) so that its peak memory
//! and CPU time are its own: the run's copy of a seeded database (`crate::seed`), the chosen
//! adapter on `127.0.0.1:0`. It prints `authx-bench-ready <address>` and serves until its
//! standard input closes; a line `janitor` on it runs the janitor once, and the server prints
//! `authx-bench-janitor <sessions deleted> <seconds>` when that is done.

use std::io::Write as _;
use std::sync::Arc;

use async_trait::async_trait;
use authx::Auth;
use authx::config::Hashing;
use authx::limit::Limits;
use authx::mail::{Mail, MailError, Mailer};
use authx::store::Repo;
use authx::token::JwtBackend;

use crate::Adapter;
use crate::adapter::Pool;

/// The line the parent waits for.
pub(crate) const READY: &str = "authx-bench-ready";
/// The line the janitor's report starts with.
pub(crate) const JANITOR_DONE: &str = "authx-bench-janitor";
/// The environment variable that carries the database URL to the child (not its arguments,
/// which any local user can read).
pub(crate) const DB_URL_VAR: &str = "AUTHX_BENCH_SERVER_DB";
/// Every seeded user's password.
pub(crate) const PASSWORD: &str = "correct horse battery";

/// The seeded user number `i`: `(username, email)`, as `crate::seed` writes them. Seven
/// digits, so that the seven digits of one user are a substring of that user's name alone.
pub(crate) fn user(i: u64) -> (String, String) {
    (format!("u{i:07}"), format!("u{i:07}@example.com"))
}

/// The server's settings, from the parent.
#[derive(Debug, Clone)]
pub(crate) struct ServerOptions {
    pub(crate) adapter: Adapter,
    /// Hashing concurrency and queue; `None` keeps the library's defaults.
    pub(crate) hash_concurrency: Option<usize>,
    pub(crate) hash_queue: Option<usize>,
    /// The SQLite pool size; `None` keeps `SqliteStore::connect`'s.
    pub(crate) sqlite_pool: Option<u32>,
    /// The PostgreSQL or MySQL pool size; `None` keeps the store's `connect`'s.
    pub(crate) pg_pool: Option<u32>,
}

impl ServerOptions {
    pub(crate) fn to_args(&self) -> Vec<String> {
        let mut args = vec![
            "serve".to_owned(),
            "--adapter".to_owned(),
            self.adapter.name().to_owned(),
        ];
        let optional = [
            (
                "--hash-concurrency",
                self.hash_concurrency.map(|v| v as u64),
            ),
            ("--hash-queue", self.hash_queue.map(|v| v as u64)),
            ("--sqlite-pool", self.sqlite_pool.map(u64::from)),
            ("--pg-pool", self.pg_pool.map(u64::from)),
        ];
        for (flag, value) in optional {
            if let Some(value) = value {
                args.push(flag.to_owned());
                args.push(value.to_string());
            }
        }
        args
    }
}

/// Mail is delivered by the outbox worker, off the request path, to a relay that accepts at
/// once: what is measured is authx, not a mail server (or a terminal printing mail).
struct AcceptingRelay;

#[async_trait]
impl Mailer for AcceptingRelay {
    async fn deliver(&self, _from: &str, _mail: &Mail) -> Result<(), MailError> {
        Ok(())
    }
}

/// Runs the child: never returns while the parent keeps its standard input open.
pub(crate) fn run(options: &ServerOptions) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let (repo, pool) = open_database(options).await?;
        let auth = build(repo, options)?;
        let addr = crate::adapter::start(options.adapter, auth.clone(), pool).await?;
        say(&format!("{READY} {addr}"))?;
        // Serve until the parent closes our standard input (or dies); `janitor` runs it.
        let runtime = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            use std::io::BufRead as _;
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                if line.trim() == "janitor" {
                    runtime.spawn(janitor(auth.clone()));
                }
            }
        })
        .await
        .map_err(|e| e.to_string())?;
        Ok::<(), String>(())
    })?;
    // Adapters with threads of their own (actix) are not waited for.
    std::process::exit(0);
}

/// One clean-up, timed, reported on standard output.
async fn janitor(auth: Auth) {
    let started = std::time::Instant::now();
    match auth.run_janitor().await {
        Ok(report) => {
            let _ = say(&format!(
                "{JANITOR_DONE} {} {:.3}",
                report.sessions,
                started.elapsed().as_secs_f64()
            ));
        }
        Err(e) => eprintln!("authx-bench: the janitor failed: {e}"),
    }
}

fn say(line: &str) -> Result<(), String> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}").map_err(|e| e.to_string())?;
    stdout.flush().map_err(|e| e.to_string())
}

/// Opens the run's copy of the seeded database (already migrated): the store, and its pool
/// for the `bare-db` floor.
async fn open_database(options: &ServerOptions) -> Result<(Arc<dyn Repo>, Pool), String> {
    let url = std::env::var(DB_URL_VAR).map_err(|_| format!("{DB_URL_VAR} unset"))?;
    if url.starts_with("sqlite:") {
        let store = match options.sqlite_pool {
            None => authx::sqlx::SqliteStore::connect(&url)
                .await
                .map_err(|e| e.to_string())?,
            Some(size) => {
                // The settings of `SqliteStore::connect`, another pool size.
                let connect =
                    authx::sqlx::SqliteStore::connect_options(&url).map_err(|e| e.to_string())?;
                let pool = authx::sqlx::SqliteStore::pool_options()
                    .max_connections(size)
                    .connect_with(connect)
                    .await
                    .map_err(|e| e.to_string())?;
                let store = authx::sqlx::SqliteStore::from_pool(pool);
                store.migrate().await.map_err(|e| e.to_string())?;
                store
            }
        };
        let pool = Pool::Sqlite(store.pool().clone());
        return Ok((Arc::new(store), pool));
    }
    if url.starts_with("mysql:") {
        let store = match options.pg_pool {
            None => authx::sqlx::MySqlStore::connect(&url)
                .await
                .map_err(|e| e.to_string())?,
            Some(size) => {
                let pool = authx::sqlx::MySqlStore::pool_options()
                    .max_connections(size)
                    .connect(&url)
                    .await
                    .map_err(|e| e.to_string())?;
                let store = authx::sqlx::MySqlStore::from_pool(pool);
                store.migrate().await.map_err(|e| e.to_string())?;
                store
            }
        };
        let pool = Pool::MySql(store.pool().clone());
        return Ok((Arc::new(store), pool));
    }
    let store = match options.pg_pool {
        None => authx::sqlx::PostgresStore::connect(&url)
            .await
            .map_err(|e| e.to_string())?,
        Some(size) => {
            let pool = authx::sqlx::PostgresStore::pool_options()
                .max_connections(size)
                .connect(&url)
                .await
                .map_err(|e| e.to_string())?;
            let store = authx::sqlx::PostgresStore::from_pool(pool);
            store.migrate().await.map_err(|e| e.to_string())?;
            store
        }
    };
    let pool = Pool::Postgres(store.pool().clone());
    Ok((Arc::new(store), pool))
}

/// The library's defaults, except what a benchmark from one address needs: the per-IP limits
/// of login and of `POST /forgot_password` are off (CONTRACT section 8,
/// `AUTHX_LOGIN_LIMIT_PER_IP=0`), and so is the per-account reset-mail limit, so that every
/// `POST /forgot_password` for a seeded address writes its token and mail (with it, a small
/// database's accounts would reach their limit and most requests would write nothing).
pub(crate) fn build(repo: Arc<dyn Repo>, options: &ServerOptions) -> Result<Auth, String> {
    let mut limits = Limits::default();
    limits.login_per_ip.max = 0;
    limits.forgot_password_per_ip.max = 0;
    limits.reset_mail_per_user.max = 0;
    let mut hashing = Hashing::default();
    if let Some(concurrency) = options.hash_concurrency {
        hashing.concurrency = concurrency;
    }
    if let Some(queue) = options.hash_queue {
        hashing.queue = queue;
    }
    let secret = authx::random::token(48);
    Auth::builder()
        .repo(repo)
        .auth_backend(JwtBackend::hs256(secret.as_bytes()).map_err(|e| e.to_string())?)
        .base_url("http://localhost:8000")
        .site("authx-bench")
        .limits(limits)
        .hashing(hashing)
        .mailer(Arc::new(AcceptingRelay))
        .build()
        .map_err(|e| e.to_string())
}
