//! The server side, run as a child process (`authx-bench serve ...`) so that its peak memory
//! and CPU time are its own: a fresh database, seeded users, the chosen adapter on
//! `127.0.0.1:0`. It prints `authx-bench-ready <address>` and serves until its standard input
//! closes.

use std::io::{Read as _, Write as _};
use std::sync::Arc;

use async_trait::async_trait;
use authx::clock::{Clock as _, SystemClock};
use authx::config::Hashing;
use authx::limit::Limits;
use authx::mail::{Mail, MailError, Mailer};
use authx::password::{PasswordHasher, PasswordParams};
use authx::store::{NewEmailToken, NewUser, QueuedToken, Repo, TokenPurpose};
use authx::token::JwtBackend;
use authx::{Auth, Secret};

use crate::Adapter;

/// The line the parent waits for.
pub(crate) const READY: &str = "authx-bench-ready";
/// The environment variable that carries a PostgreSQL URL to the child (not its arguments,
/// which any local user can read).
pub(crate) const DB_URL_VAR: &str = "AUTHX_BENCH_SERVER_DB";
/// Every seeded user's password.
pub(crate) const PASSWORD: &str = "correct horse battery";

/// The seeded user number `i`: `(username, email)`.
pub(crate) fn user(i: u64) -> (String, String) {
    (format!("user{i}"), format!("user{i}@example.com"))
}

/// The server's settings, from the parent.
#[derive(Debug, Clone)]
pub(crate) struct ServerOptions {
    pub(crate) adapter: Adapter,
    pub(crate) users: u64,
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
            "--users".to_owned(),
            self.users.to_string(),
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
        let (repo, dir) = open_database(options).await?;
        seed(repo.as_ref(), options.users).await?;
        let auth = build(repo, options)?;
        let addr = crate::adapter::start(options.adapter, auth).await?;
        let mut stdout = std::io::stdout();
        writeln!(stdout, "{READY} {addr}").map_err(|e| e.to_string())?;
        stdout.flush().map_err(|e| e.to_string())?;
        // Serve until the parent closes our standard input (or dies).
        tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
        })
        .await
        .map_err(|e| e.to_string())?;
        drop(dir);
        Ok::<(), String>(())
    })?;
    // Adapters with threads of their own (actix) are not waited for.
    std::process::exit(0);
}

async fn open_database(
    options: &ServerOptions,
) -> Result<(Arc<dyn Repo>, Option<tempfile::TempDir>), String> {
    if let Ok(url) = std::env::var(DB_URL_VAR)
        && url.starts_with("mysql:")
    {
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
        return Ok((Arc::new(store), None));
    }
    if let Ok(url) = std::env::var(DB_URL_VAR) {
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
        return Ok((Arc::new(store), None));
    }
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let url = format!("sqlite://{}", dir.path().join("authx.db").display());
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
    Ok((Arc::new(store), Some(dir)))
}

/// Creates `users` users sharing one OWASP hash of [`PASSWORD`] (verifying costs the same
/// whatever the salt), and marks their confirmation mail sent so the outbox is idle.
async fn seed(repo: &dyn Repo, users: u64) -> Result<(), String> {
    let hasher = PasswordHasher::new(PasswordParams::OWASP, 1, 0).map_err(|e| e.to_string())?;
    let password_hash = hasher
        .hash(Secret::new(PASSWORD))
        .await
        .map_err(|e| e.to_string())?;
    let now = SystemClock.now();
    for i in 0..users {
        let (username, email) = user(i);
        let token = NewEmailToken {
            hash: authx::random::sha256_hex(&format!("seed-{i}")),
            purpose: TokenPurpose::ConfirmEmail,
            email: email.clone(),
            state: String::new(),
            created_at: now,
            expires_at: now + 86_400,
        };
        let mail = Mail {
            to: email.clone(),
            subject: "Confirm email".into(),
            text: String::new(),
            html: String::new(),
        };
        let new = NewUser {
            email,
            username,
            password_hash: Some(password_hash.clone()),
            confirmed: false,
            created_at: now,
        };
        repo.users()
            .create_user(new, Some(QueuedToken { token, mail }))
            .await
            .map_err(|e| format!("seeding user {i}: {e}"))?;
    }
    // Bounded: each round claims up to 1,000 mails.
    for _ in 0..=users / 1000 + 1 {
        let batch = repo
            .outbox()
            .claim_due_mail(now, now + 600, 1000)
            .await
            .map_err(|e| e.to_string())?;
        if batch.is_empty() {
            break;
        }
        for mail in batch {
            repo.outbox()
                .mark_mail_sent(mail.id, &mail.claim, now)
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// The library's defaults, except what a benchmark from one address needs: the per-IP login
/// limit is off (CONTRACT section 8, `AUTHX_LOGIN_LIMIT_PER_IP=0`).
fn build(repo: Arc<dyn Repo>, options: &ServerOptions) -> Result<Auth, String> {
    let mut limits = Limits::default();
    limits.login_per_ip.max = 0;
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
