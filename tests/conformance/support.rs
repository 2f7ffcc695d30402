//! Test servers over real TCP for each adapter and backend, and a small cookie-keeping client.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use authx::Auth;
use authx::clock::ManualClock;
use authx::config::{Hashing, MailSettings};
use authx::limit::Limits;
use authx::mail::{LogMailer, Mail, SmtpSettings};
use authx::password::PasswordParams;
use authx::token::{JwtBackend, SigningAlgorithm};
use authx_example_common::ServerLimits;
use serde_json::Value;

pub const SECRET: &[u8] = b"conformance-suite-secret-of-32-bytes!!";
pub const PASSWORD: &str = "correct horse 1";
/// The key that seals the suite's TOTP secrets.
pub static TOTP_KEY: std::sync::LazyLock<authx::two_factor::TotpKey> =
    std::sync::LazyLock::new(|| authx::two_factor::TotpKey::from_bytes([42; 32]));
/// The CAPTCHA secret of servers started with `Options::captcha_verify_url`.
pub const CAPTCHA_SECRET: &str = "conformance-captcha-secret";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adapter {
    Axum,
    Actix,
    Rocket,
}

impl Adapter {
    pub const ALL: [Self; 3] = [Self::Axum, Self::Actix, Self::Rocket];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    /// MySQL 8 or MariaDB 10.6+, from `AUTHX_TEST_MYSQL_URL`.
    MySql,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub hide_user_existence: bool,
    pub login_per_ip: u32,
    pub csrf_double_submit: bool,
    pub tokens_in_body: bool,
    /// Sign with the test Ed25519 key (and keep the HS256 secret as a previous key).
    pub eddsa: bool,
    /// Deliver mail through this SMTP server instead of the in-memory `LogMailer`.
    pub smtp: Option<SmtpSettings>,
    /// Outgoing mail settings (delivery timeout, attempts).
    pub mail: MailSettings,
    /// Verify `captcha` on register against this siteverify URL, with [`CAPTCHA_SECRET`].
    pub captcha_verify_url: Option<String>,
    /// The absolute session lifetime (default 30 days).
    pub session_lifetime: Option<Duration>,
    /// Run the background janitor at this interval (default: not at all; tests call
    /// `auth.run_janitor()`).
    pub janitor_interval: Option<Duration>,
    /// Addresses granted `admin` once confirmed.
    pub admin_emails: Vec<String>,
    /// Users per search page (default 20).
    pub search_page_size: Option<u32>,
    /// Proxies whose forwarding headers are believed (none by default).
    pub trusted_proxies: Vec<&'static str>,
    /// Sign with this asymmetric algorithm's test key (and keep the HS256 secret as a
    /// previous key), as `eddsa` does for EdDSA.
    pub signing: Option<SigningAlgorithm>,
    /// Serve the adapter's example application (`examples/`) with these server limits,
    /// instead of the suite's host application.
    pub example: Option<ServerLimits>,
    /// OpenID Connect providers for social login (mounted at `/auth`).
    pub oidc: Vec<authx::social::OidcSettings>,
    /// GitHub for social login.
    pub github: Option<authx::social::GitHubSettings>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            hide_user_existence: false,
            login_per_ip: 30,
            csrf_double_submit: false,
            tokens_in_body: false,
            eddsa: false,
            smtp: None,
            mail: MailSettings::default(),
            captcha_verify_url: None,
            session_lifetime: None,
            janitor_interval: None,
            admin_emails: Vec::new(),
            search_page_size: None,
            trusted_proxies: Vec::new(),
            signing: None,
            example: None,
            oidc: Vec::new(),
            github: None,
        }
    }
}

/// The test key of an asymmetric algorithm, private and public (PEM).
pub fn test_key(algorithm: SigningAlgorithm) -> (&'static [u8], &'static str) {
    match algorithm {
        SigningAlgorithm::EdDSA => (
            ED25519_PEM,
            include_str!("../../crates/authx-core/testdata/ed25519.pub.pem"),
        ),
        SigningAlgorithm::ES256 => (
            include_bytes!("../../crates/authx-core/testdata/p256.pem"),
            include_str!("../../crates/authx-core/testdata/p256.pub.pem"),
        ),
        SigningAlgorithm::RS256 => (
            include_bytes!("../../crates/authx-core/testdata/rsa2048.pem"),
            include_str!("../../crates/authx-core/testdata/rsa2048.pub.pem"),
        ),
        other => panic!("no test key for {other}"),
    }
}

pub const ED25519_PEM: &[u8] = include_bytes!("../../crates/authx-core/testdata/ed25519.pem");

pub enum Db {
    Sqlite(sqlx::SqlitePool, #[allow(dead_code)] tempfile::TempDir),
    Postgres(sqlx::PgPool),
    MySql(sqlx::MySqlPool),
}

/// `sql`, written with `$1`, `$2`, ... each once and in order, as MySQL takes it (`?`).
pub fn positional(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

pub struct TestServer {
    pub adapter: Adapter,
    pub backend: Backend,
    /// `http://127.0.0.1:port`
    pub root: String,
    /// The server's address.
    pub addr: SocketAddr,
    /// The mount prefix of the auth router.
    pub prefix: &'static str,
    pub clock: ManualClock,
    pub mailer: LogMailer,
    pub auth: Auth,
    pub db: Db,
    pub http: reqwest::Client,
    /// Held for its `Drop`, which stops the server.
    _running: Running,
    /// The PostgreSQL or MySQL database made for this server, held to be dropped after it.
    _scratch: Option<ScratchDatabase>,
}

/// A running test server, stopped when this is dropped.
pub enum Running {
    /// A task on the test's runtime (axum, rocket).
    Task(tokio::task::JoinHandle<()>),
    /// An actix system on a thread of its own.
    Actix(actix_web::dev::ServerHandle),
}

impl Drop for Running {
    fn drop(&mut self) {
        match self {
            Running::Task(task) => task.abort(),
            // The stop command is sent at once; the server's thread ends when it has stopped.
            Running::Actix(handle) => drop(handle.stop(false)),
        }
    }
}

/// A PostgreSQL database made for one test, dropped (connections and all) when this is.
pub struct PostgresDatabase {
    pub url: String,
    admin_url: String,
    name: String,
}

impl PostgresDatabase {
    pub async fn create(admin_url: &str) -> Self {
        use sqlx::Connection as _;
        let name = format!(
            "authx_test_{}",
            &authx::random::sha256_hex(&authx::random::token(16))[..16]
        );
        let mut conn = sqlx::PgConnection::connect(admin_url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap();
        let (base, _) = admin_url.rsplit_once('/').unwrap();
        Self {
            url: format!("{base}/{name}"),
            admin_url: admin_url.to_owned(),
            name,
        }
    }
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop cannot await: use a thread with a runtime of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                use sqlx::Connection as _;
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url).await {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}

/// A MySQL/MariaDB database made for one test, dropped when this is.
pub struct MySqlDatabase {
    pub url: String,
    admin_url: String,
    name: String,
}

impl MySqlDatabase {
    pub async fn create(admin_url: &str) -> Self {
        use sqlx::Connection as _;
        let name = format!(
            "authx_test_{}",
            &authx::random::sha256_hex(&authx::random::token(16))[..16]
        );
        let mut conn = sqlx::MySqlConnection::connect(admin_url).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE `{name}`")))
            .execute(&mut conn)
            .await
            .unwrap();
        let (base, _) = admin_url.rsplit_once('/').unwrap();
        Self {
            url: format!("{base}/{name}"),
            admin_url: admin_url.to_owned(),
            name,
        }
    }
}

impl Drop for MySqlDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop cannot await: use a thread with a runtime of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                use sqlx::Connection as _;
                if let Ok(mut conn) = sqlx::MySqlConnection::connect(&admin_url).await {
                    let sql = format!("DROP DATABASE IF EXISTS `{name}`");
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}

/// A database made for one test on a server, dropped when this is.
pub enum ScratchDatabase {
    Postgres(PostgresDatabase),
    MySql(MySqlDatabase),
}

impl ScratchDatabase {
    /// A new database on the server of `backend` (PostgreSQL or MySQL), or `None` (after
    /// saying so) when it is not configured.
    pub async fn create(backend: Backend) -> Option<Self> {
        Some(match backend {
            Backend::Postgres => Self::Postgres(
                PostgresDatabase::create(&authx_testkit::service_url("AUTHX_TEST_POSTGRES_URL")?)
                    .await,
            ),
            Backend::MySql => Self::MySql(
                MySqlDatabase::create(&authx_testkit::service_url("AUTHX_TEST_MYSQL_URL")?).await,
            ),
            Backend::Sqlite => panic!("SQLite needs no server"),
        })
    }

    pub fn url(&self) -> &str {
        match self {
            Self::Postgres(db) => &db.url,
            Self::MySql(db) => &db.url,
        }
    }
}

impl TestServer {
    /// Starts a server, or `None` (after saying so) when the backend is not configured.
    pub async fn start(adapter: Adapter, backend: Backend, options: Options) -> Option<Self> {
        let mut scratch = None;
        let (repo, db): (Arc<dyn authx::store::Repo>, Db) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("authx.db").display());
                let store = authx::sqlx::SqliteStore::connect(&url).await.unwrap();
                let pool = store.pool().clone();
                (Arc::new(store), Db::Sqlite(pool, dir))
            }
            Backend::Postgres => {
                let database = ScratchDatabase::create(backend).await?;
                let store = authx::sqlx::PostgresStore::connect(database.url())
                    .await
                    .unwrap();
                scratch = Some(database);
                let pool = store.pool().clone();
                (Arc::new(store), Db::Postgres(pool))
            }
            Backend::MySql => {
                let database = ScratchDatabase::create(backend).await?;
                let store = authx::sqlx::MySqlStore::connect(database.url())
                    .await
                    .unwrap();
                scratch = Some(database);
                let pool = store.pool().clone();
                (Arc::new(store), Db::MySql(pool))
            }
        };
        let clock = ManualClock::at_system_time();
        let mailer = LogMailer::new();
        let mut limits = Limits::default();
        limits.login_per_ip.max = options.login_per_ip;
        let hs256 = JwtBackend::hs256(SECRET).unwrap();
        let signing = options
            .signing
            .or(options.eddsa.then_some(SigningAlgorithm::EdDSA));
        let jwt = match signing {
            Some(algorithm) => JwtBackend::from_private_pem(algorithm, test_key(algorithm).0)
                .unwrap()
                .with_previous(hs256),
            None => hs256,
        };
        let builder = Auth::builder()
            .repo(repo)
            .auth_backend(jwt)
            .csrf_double_submit(options.csrf_double_submit)
            .tokens_in_body(options.tokens_in_body)
            .debug(true)
            .base_url("http://localhost:8000")
            .site("Conformance")
            .hide_user_existence(options.hide_user_existence)
            .limits(limits)
            .hashing(Hashing {
                params: PasswordParams::INSECURE_FAST_FOR_TESTS,
                concurrency: 2,
                queue: 1024,
            })
            .mail(options.mail.clone())
            .configure(|s| {
                if let Some(lifetime) = options.session_lifetime {
                    s.lifetimes.session = lifetime;
                }
                s.janitor.enabled = options.janitor_interval.is_some();
                if let Some(interval) = options.janitor_interval {
                    s.janitor.interval = interval;
                }
                if let Some(size) = options.search_page_size {
                    s.search_page_size = size;
                }
            })
            .admin_emails(options.admin_emails.clone())
            .totp_key(TOTP_KEY.clone())
            .clock(Arc::new(clock.clone()))
            .trusted_proxies(options.trusted_proxies.iter().copied())
            .unwrap();
        let builder = match &options.smtp {
            Some(smtp) => builder.smtp(smtp.clone()),
            None => builder.mailer(Arc::new(mailer.clone())),
        };
        let builder = match &options.captcha_verify_url {
            Some(url) => builder
                .recaptcha_secret(CAPTCHA_SECRET)
                .captcha_verify_url(url.clone()),
            None => builder,
        };
        let mut builder = builder;
        for provider in &options.oidc {
            builder = builder.oidc(provider.clone()).unwrap();
        }
        if let Some(github) = &options.github {
            builder = builder.github(github.clone()).unwrap();
        }
        let auth = builder.build().unwrap();
        let prefix = "/api/users";
        let (addr, running) = match (adapter, options.example) {
            (adapter, Some(limits)) => {
                crate::examples::start_example(adapter, auth.clone(), limits).await
            }
            (Adapter::Axum, None) => start_axum(auth.clone(), prefix).await,
            (Adapter::Actix, None) => start_actix(auth.clone(), prefix),
            (Adapter::Rocket, None) => start_rocket(auth.clone(), prefix).await,
        };
        Some(Self {
            adapter,
            backend,
            root: format!("http://{addr}"),
            addr,
            prefix,
            clock,
            mailer,
            auth,
            db,
            _scratch: scratch,
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(64)
                .build()
                .unwrap(),
            _running: running,
        })
    }

    /// Another server of the same adapter and backend, with other options and a fresh database.
    pub async fn variant(&self, options: Options) -> Self {
        Self::start(self.adapter, self.backend, options)
            .await
            .expect("the backend was available a moment ago")
    }

    /// A client that follows no redirect, as a test of redirects needs (social login).
    pub fn browser(&self) -> Client<'_> {
        Client {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            ..self.client()
        }
    }

    pub fn client(&self) -> Client<'_> {
        Client {
            server: self,
            http: self.http.clone(),
            cookies: BTreeMap::new(),
            bearer: None,
            user_agent: None,
        }
    }

    /// A client connecting from `ip` (any address of 127.0.0.0/8) and sending `user_agent`.
    pub fn client_from(&self, ip: [u8; 4], user_agent: &str) -> Client<'_> {
        Client {
            http: reqwest::Client::builder()
                .local_address(std::net::IpAddr::from(ip))
                .build()
                .unwrap(),
            user_agent: Some(user_agent.to_owned()),
            ..self.client()
        }
    }

    /// The service clock's current time, in seconds.
    pub fn clock_now(&self) -> i64 {
        use authx::clock::Clock as _;
        self.clock.now()
    }

    /// The number of rows of `table`.
    pub async fn count(&self, table: &str) -> i64 {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        match &self.db {
            Db::Sqlite(pool, _) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(pool)
                .await
                .unwrap(),
            Db::Postgres(pool) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(pool)
                .await
                .unwrap(),
            Db::MySql(pool) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(pool)
                .await
                .unwrap(),
        }
    }

    /// The number of rows of every table authx writes, by table.
    pub async fn row_counts(&self) -> Vec<(&'static str, i64)> {
        let mut counts = Vec::new();
        for table in [
            "users",
            "sessions",
            "email_tokens",
            "mail_outbox",
            "session_cutoff",
            "leases",
            "identities",
            "social_sign_ins",
        ] {
            counts.push((table, self.count(table).await));
        }
        counts
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}{}", self.root, self.prefix, path)
    }

    /// Registers `name` (`name@example.com`, [`PASSWORD`]) and returns its logged-in client.
    pub async fn register(&self, name: &str) -> Client<'_> {
        let mut client = self.client();
        let r = client.post("/register", registration(name)).await;
        assert_eq!(r.status, 200, "register {name}: {}", r.body);
        client
    }

    /// The id of user `name`, from the token endpoint.
    pub async fn id_of(&self, client: &mut Client<'_>) -> i64 {
        let r = client.post_empty("/token").await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["id"].as_i64().unwrap()
    }

    /// Runs an UPDATE-like statement with one integer parameter, in the backend's dialect
    /// (`$1` works in SQLite and PostgreSQL, and becomes `?` for MySQL).
    pub async fn exec(&self, sql: &'static str, id: i64) {
        match &self.db {
            Db::Sqlite(pool, _) => {
                sqlx::query(sql).bind(id).execute(pool).await.unwrap();
            }
            Db::Postgres(pool) => {
                sqlx::query(sql).bind(id).execute(pool).await.unwrap();
            }
            Db::MySql(pool) => {
                sqlx::query(sqlx::AssertSqlSafe(positional(sql)))
                    .bind(id)
                    .execute(pool)
                    .await
                    .unwrap();
            }
        }
    }

    /// Runs `sql` as it is (both dialects), e.g. a multi-row INSERT that seeds users.
    pub async fn execute(&self, sql: &str) {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        match &self.db {
            Db::Sqlite(pool, _) => {
                sqlx::raw_sql(sql).execute(pool).await.unwrap();
            }
            Db::Postgres(pool) => {
                sqlx::raw_sql(sql).execute(pool).await.unwrap();
            }
            Db::MySql(pool) => {
                sqlx::raw_sql(sql).execute(pool).await.unwrap();
            }
        }
    }

    /// Runs an UPDATE-like statement with a text parameter `$1` and an integer `$2`.
    pub async fn exec_text(&self, sql: &'static str, text: &str, id: i64) {
        match &self.db {
            Db::Sqlite(pool, _) => {
                sqlx::query(sql)
                    .bind(text)
                    .bind(id)
                    .execute(pool)
                    .await
                    .unwrap();
            }
            Db::Postgres(pool) => {
                sqlx::query(sql)
                    .bind(text)
                    .bind(id)
                    .execute(pool)
                    .await
                    .unwrap();
            }
            Db::MySql(pool) => {
                sqlx::query(sqlx::AssertSqlSafe(positional(sql)))
                    .bind(text)
                    .bind(id)
                    .execute(pool)
                    .await
                    .unwrap();
            }
        }
    }

    /// The argon2 verifications the service has run so far.
    pub fn verifications(&self) -> u64 {
        self.auth.passwords().verifications()
    }

    /// Sends `request` as it is on a connection of its own and reads the answer.
    pub async fn raw(&self, request: &[u8]) -> RawReply {
        raw_exchange(self.addr, request).await
    }

    pub async fn ban(&self, id: i64) {
        self.exec("UPDATE users SET active = FALSE WHERE id = $1", id)
            .await;
    }

    pub async fn make_admin(&self, id: i64) {
        match self.backend {
            // A JSON array in SQLite and MySQL.
            Backend::Sqlite | Backend::MySql => {
                self.exec(
                    r#"UPDATE users SET permissions = '["admin"]' WHERE id = $1"#,
                    id,
                )
                .await;
            }
            Backend::Postgres => {
                self.exec("UPDATE users SET permissions = '{admin}' WHERE id = $1", id)
                    .await;
            }
        }
    }

    /// The stored password hash of user `id`.
    pub async fn password_hash(&self, id: i64) -> String {
        let sql = "SELECT password_hash FROM users WHERE id = $1";
        match &self.db {
            Db::Sqlite(pool, _) => sqlx::query_scalar(sql)
                .bind(id)
                .fetch_one(pool)
                .await
                .unwrap(),
            Db::Postgres(pool) => sqlx::query_scalar(sql)
                .bind(id)
                .fetch_one(pool)
                .await
                .unwrap(),
            Db::MySql(pool) => sqlx::query_scalar(sqlx::AssertSqlSafe(positional(sql)))
                .bind(id)
                .fetch_one(pool)
                .await
                .unwrap(),
        }
    }

    /// Waits (bounded) until `count` mails were delivered to `to`; returns the last.
    pub async fn mail_to(&self, to: &str, count: usize) -> Mail {
        for _ in 0..200 {
            let mails: Vec<Mail> = self
                .mailer
                .sent()
                .into_iter()
                .filter(|m| m.to == to)
                .collect();
            if mails.len() >= count {
                return mails[count - 1].clone();
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("no mail number {count} to {to} was delivered");
    }
}

/// The register body for `name` (`name@example.com`, [`PASSWORD`] twice).
pub fn registration(name: &str) -> Value {
    serde_json::json!({
        "email": format!("{name}@example.com"),
        "username": name,
        "password1": PASSWORD,
        "password2": PASSWORD,
    })
}

/// Joins concurrent requests that race for one unique name: exactly one may win with `200`,
/// every other must lose with `400 Username already exists`.
pub async fn assert_one_winner(mut tasks: tokio::task::JoinSet<(u16, Value)>) {
    let mut winners = 0;
    while let Some(res) = tasks.join_next().await {
        let (status, body) = res.unwrap();
        match status {
            200 => winners += 1,
            400 => assert_eq!(body["detail"], "Username already exists"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(winners, 1);
}

/// The token of the confirmation link in `mail`'s text part (the link is on a line of its own).
pub fn link_token(mail: &Mail) -> String {
    let line = mail
        .text
        .lines()
        .find(|l| l.starts_with("http://localhost:8000/confirm?token="))
        .expect("a link line");
    line.trim_start_matches("http://localhost:8000/confirm?token=")
        .to_owned()
}

pub async fn start_axum(auth: Auth, prefix: &str) -> (SocketAddr, Running) {
    use authx::axum::{AdminUser, AuthUser};
    use axum::routing::get;
    async fn me(AuthUser(claims): AuthUser) -> impl axum::response::IntoResponse {
        (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            me_json(&claims),
        )
    }
    async fn maybe(user: Option<AuthUser>) -> String {
        user.map_or_else(|| "anonymous".into(), |AuthUser(c)| c.username)
    }
    async fn admin(AdminUser(claims): AdminUser) -> String {
        claims.username
    }
    let app = axum::Router::new()
        .route("/me", get(me))
        .route("/maybe", get(maybe))
        .route("/admin", get(admin))
        .nest(prefix, authx::axum::router(auth.clone()))
        .nest("/auth", authx::axum::social_router(auth.clone()))
        .with_state(auth);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    (addr, Running::Task(task))
}

/// The host routes' answers, shared by the three host applications.
fn me_json(claims: &authx::Claims) -> String {
    serde_json::json!({ "id": claims.id, "username": claims.username }).to_string()
}

fn start_actix(auth: Auth, prefix: &'static str) -> (SocketAddr, Running) {
    use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
    use authx::actix::{AdminUser, AuthUser};
    async fn me(AuthUser(claims): AuthUser) -> HttpResponse {
        HttpResponse::Ok()
            .content_type("application/json")
            .body(me_json(&claims))
    }
    async fn maybe(user: Option<AuthUser>) -> String {
        user.map_or_else(|| "anonymous".into(), |AuthUser(c)| c.username)
    }
    async fn admin(AdminUser(claims): AdminUser) -> String {
        claims.username
    }
    /// Every route's URL by its name, through actix's `url_for`.
    async fn urls(req: HttpRequest) -> String {
        let urls: Vec<String> = authx::ROUTES
            .iter()
            .map(|route| {
                let params: &[&str] = match route.param {
                    authx::routes::PathParam::None => &[],
                    _ => &["7"],
                };
                req.url_for(route.name, params)
                    .map_or_else(|e| e.to_string(), |url| url.path().to_owned())
            })
            .collect();
        urls.join(" ")
    }
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(move || {
                App::new()
                    .app_data(web::Data::new(auth.clone()))
                    .route("/me", web::get().to(me))
                    .route("/maybe", web::get().to(maybe))
                    .route("/admin", web::get().to(admin))
                    .route("/urls", web::get().to(urls))
                    .service(authx::actix::scope(prefix, auth.clone()))
                    .service(authx::actix::social_scope("/auth", auth.clone()))
            })
            .workers(2)
            .disable_signals()
            .bind(("127.0.0.1", 0))
            .unwrap();
            let addr = server.addrs()[0];
            let server = server.run();
            tx.send((addr, server.handle())).unwrap();
            server.await
        })
    });
    let (addr, handle) = rx.recv().unwrap();
    (addr, Running::Actix(handle))
}

mod rocket_host {
    use authx::rocket::{AdminUser, AuthUser};
    use rocket::http::ContentType;

    #[rocket::get("/me")]
    pub fn me(user: AuthUser) -> (ContentType, String) {
        let AuthUser(claims) = user;
        (ContentType::JSON, super::me_json(&claims))
    }

    #[rocket::get("/maybe")]
    pub fn maybe(user: Option<AuthUser>) -> String {
        user.map_or_else(|| "anonymous".into(), |AuthUser(c)| c.username)
    }

    #[rocket::get("/admin")]
    pub fn admin(user: AdminUser) -> String {
        user.0.username
    }
}

/// A rocket configuration for tests: 127.0.0.1, port 0, silent, no signal handling.
pub fn quiet_rocket_config() -> rocket::Config {
    rocket::Config {
        address: std::net::Ipv4Addr::LOCALHOST.into(),
        port: 0,
        log_level: rocket::config::LogLevel::Off,
        cli_colors: false,
        shutdown: rocket::config::Shutdown {
            ctrlc: false,
            #[cfg(unix)]
            signals: std::collections::HashSet::new(),
            ..rocket::config::Shutdown::default()
        },
        ..rocket::Config::debug_default()
    }
}

async fn start_rocket(auth: Auth, prefix: &'static str) -> (SocketAddr, Running) {
    let (tx, rx) = std::sync::mpsc::channel();
    let rocket = rocket::custom(quiet_rocket_config())
        .attach(authx::rocket::AuthFairing::new(prefix, auth.clone()))
        .attach(authx::rocket::AuthFairing::social("/auth", auth))
        .mount(
            "/",
            rocket::routes![rocket_host::me, rocket_host::maybe, rocket_host::admin],
        )
        .register("/", authx::rocket::guard_catchers())
        .attach(rocket::fairing::AdHoc::on_liftoff("port", move |rocket| {
            Box::pin(async move {
                let config = rocket.config();
                tx.send(SocketAddr::new(config.address, config.port))
                    .unwrap();
            })
        }));
    let task = tokio::spawn(async move {
        rocket.launch().await.unwrap();
    });
    let addr = tokio::task::spawn_blocking(move || rx.recv().unwrap())
        .await
        .unwrap();
    (addr, Running::Task(task))
}

/// One HTTP answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    /// The JSON body (`Value::String` of the raw text when it is not JSON).
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    /// Asserts the contract's error form.
    #[track_caller]
    pub fn assert_error(&self, status: u16, detail: &str, code: &str) {
        assert_eq!(self.status, status, "body: {}", self.body);
        assert_eq!(self.body["detail"], detail, "body: {}", self.body);
        assert_eq!(self.body["code"], code, "body: {}", self.body);
        assert_eq!(self.header("content-type"), Some("application/json"));
        if status == 401 {
            assert_eq!(self.header("www-authenticate"), Some("Bearer"));
        }
    }

    #[track_caller]
    pub fn assert_null(&self) {
        assert_eq!(self.status, 200, "body: {}", self.body);
        assert_eq!(self.body, Value::Null);
    }
}

/// A client that keeps cookies the way a browser would (by name; `Max-Age=0` deletes).
pub struct Client<'s> {
    pub server: &'s TestServer,
    pub http: reqwest::Client,
    pub cookies: BTreeMap<String, String>,
    pub bearer: Option<String>,
    pub user_agent: Option<String>,
}

impl Client<'_> {
    pub async fn post(&mut self, path: &str, body: Value) -> Reply {
        self.send(
            "POST",
            path,
            &[("content-type", "application/json")],
            body.to_string().into_bytes(),
        )
        .await
    }

    pub async fn post_empty(&mut self, path: &str) -> Reply {
        self.send("POST", path, &[], Vec::new()).await
    }

    pub async fn get(&mut self, path: &str) -> Reply {
        self.send("GET", path, &[], Vec::new()).await
    }

    pub async fn delete(&mut self, path: &str) -> Reply {
        self.send("DELETE", path, &[], Vec::new()).await
    }

    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Reply {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            self.server.url(path)
        };
        let mut req = self.http.request(method.parse().unwrap(), url).body(body);
        if let Some(agent) = &self.user_agent {
            req = req.header("user-agent", agent);
        }
        if !self.cookies.is_empty() {
            let cookie = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            req = req.header("cookie", cookie);
        }
        if let Some(token) = &self.bearer {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        let reply = Reply {
            status,
            headers,
            body,
        };
        for cookie in reply.set_cookies() {
            let (pair, attrs) = cookie.split_once(';').unwrap_or((&cookie, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        reply
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.get(name).cloned()
    }
}

/// An answer read off a raw connection: what arrived before the server closed it.
#[derive(Debug)]
pub struct RawReply {
    /// The status of the first answer, 0 if none arrived.
    pub status: u16,
    /// The head of the first answer (status line and headers), lower-cased.
    pub head: String,
    /// Its body (per `Content-Length`, else the rest).
    pub body: Vec<u8>,
}

impl RawReply {
    /// The body as JSON (`Value::Null` when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// Asserts the contract's error answer.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(self.json()["code"], code, "{self:?}");
        assert!(
            self.head.contains("content-type: application/json"),
            "{self:?}"
        );
    }
}

/// Parses what a raw connection received.
pub fn parse_raw(received: &[u8]) -> RawReply {
    let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") else {
        return RawReply {
            status: 0,
            head: String::from_utf8_lossy(received).to_lowercase(),
            body: Vec::new(),
        };
    };
    let head = String::from_utf8_lossy(&received[..end]).to_lowercase();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let rest = &received[end + 4..];
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|l| l.trim().parse::<usize>().ok())
        .unwrap_or(rest.len());
    RawReply {
        status,
        head,
        body: rest[..length.min(rest.len())].to_vec(),
    }
}

/// Sends `request` on a new connection to `addr` and reads until the server closes it (or 10 s
/// pass, or it resets: what arrived counts).
pub async fn raw_exchange(addr: SocketAddr, request: &[u8]) -> RawReply {
    raw_exchange_then(addr, request, false).await
}

/// [`raw_exchange`], half-closing the connection after the request when `half_close`, as a
/// client that stops sending mid-body does.
pub async fn raw_exchange_then(addr: SocketAddr, request: &[u8], half_close: bool) -> RawReply {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    // A server may answer and close before it read everything (a head too large): a failed
    // write is then no failure of the test.
    let _ = stream.write_all(request).await;
    if half_close {
        let _ = stream.shutdown().await;
    }
    let mut received = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = [0_u8; 8192];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    parse_raw(&received)
}

/// A request with a JSON body, closing the connection after it.
pub fn raw_post(target: &str, extra_headers: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {target} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n{extra_headers}Connection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}
