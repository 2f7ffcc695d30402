//! Email and CAPTCHA end to end: the axum router over real TCP, a real SMTP server
//! (mailin-embedded, in this process) and a real siteverify endpoint, on SQLite and PostgreSQL.
//!
//! The mail machinery lives in the core, so one adapter is enough here. Waits are bounded
//! polls; time moves through the `ManualClock` and `Auth::wake_mail_worker`.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use authx::Auth;
use authx::config::{Hashing, MailSettings};
use authx::mail::{SmtpSettings, SmtpTls};
use authx::password::PasswordParams;
use authx::token::JwtBackend;
use authx_testkit::ReservedPort;
use authx_testkit::siteverify::{Behaviour, SiteVerifyServer};
use authx_testkit::smtp::{AuthMechanism, Received, SilentServer, SmtpServer, TestCert};
use serde_json::{Value, json};

use crate::support::{
    Adapter, Backend, CAPTCHA_SECRET, Db, Options, PASSWORD, SECRET, TestServer, registration,
    start_axum,
};

macro_rules! mail_tests {
    ($module:ident, $backend:expr, [$($test:ident),* $(,)?]) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test($backend).await;
                }
            )*
        }
    };
}

macro_rules! all_mail_tests {
    ($module:ident, $backend:expr) => {
        mail_tests!(
            $module,
            $backend,
            [
                registration_mail_arrives_over_smtp_and_confirms,
                starttls_with_a_private_ca_and_auth,
                smtp_down_then_up_delivers_every_mail_once,
                a_server_that_never_greets_does_not_hold_the_outbox,
                captcha_is_verified_before_validation,
                captcha_verifier_down_or_silent_is_503_and_stores_nothing,
            ]
        );
    };
}

all_mail_tests!(sqlite, crate::support::Backend::Sqlite);
all_mail_tests!(postgres, crate::support::Backend::Postgres);
all_mail_tests!(mysql, crate::support::Backend::MySql);

/// Every wait for something asynchronous (a mail, a row) gives up after this long.
const PATIENCE: Duration = Duration::from_secs(30);
/// The sender the conformance servers use: the site's name and `noreply@<base host>`.
const DISPLAY_NAME: &str = "Conformance";
const SENDER: &str = "noreply@localhost";
const LINK_PREFIX: &str = "http://localhost:8000/confirm?token=";
const SMTP_USER: &str = "authx-mailer";
const SMTP_PASSWORD: &str = "smtp password with spaces";

fn with_captcha(mut body: Value, captcha: &str) -> Value {
    body["captcha"] = json!(captcha);
    body
}

fn smtp_settings(addr: SocketAddr, tls: SmtpTls) -> SmtpSettings {
    let mut settings = SmtpSettings::new(addr.ip().to_string());
    settings.port = Some(addr.port());
    settings.tls = tls;
    settings
}

async fn start(backend: Backend, options: Options) -> Option<TestServer> {
    TestServer::start(Adapter::Axum, backend, options).await
}

/// Polls `check` every 25 ms until it gives a value; panics after [`PATIENCE`].
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A row of `mail_outbox`.
#[derive(Debug, Clone)]
struct OutboxRow {
    recipient: String,
    attempts: i64,
    next_attempt_at: i64,
    sent_at: Option<i64>,
    failed_at: Option<i64>,
    last_error: Option<String>,
}

type OutboxTuple = (String, i64, i64, Option<i64>, Option<i64>, Option<String>);

async fn outbox(s: &TestServer) -> Vec<OutboxRow> {
    const SQL: &str = "SELECT recipient, CAST(attempts AS BIGINT), next_attempt_at, sent_at, \
                       failed_at, last_error FROM mail_outbox ORDER BY id";
    let rows: Vec<OutboxTuple> = match &s.db {
        Db::Sqlite(pool, _) => sqlx::query_as(SQL).fetch_all(pool).await.unwrap(),
        Db::Postgres(pool) => sqlx::query_as(SQL).fetch_all(pool).await.unwrap(),
        // `attempts` is a BIGINT there already (and MySQL casts to SIGNED, not BIGINT).
        Db::MySql(pool) => sqlx::query_as(
            "SELECT recipient, attempts, next_attempt_at, sent_at, failed_at, last_error \
             FROM mail_outbox ORDER BY id",
        )
        .fetch_all(pool)
        .await
        .unwrap(),
    };
    rows.into_iter()
        .map(
            |(recipient, attempts, next_attempt_at, sent_at, failed_at, last_error)| OutboxRow {
                recipient,
                attempts,
                next_attempt_at,
                sent_at,
                failed_at,
                last_error,
            },
        )
        .collect()
}

async fn users_named(s: &TestServer, username: &str) -> i64 {
    const SQL: &str = "SELECT COUNT(*) FROM users WHERE lower(username) = lower($1)";
    match &s.db {
        Db::Sqlite(pool, _) => sqlx::query_scalar(SQL)
            .bind(username)
            .fetch_one(pool)
            .await
            .unwrap(),
        Db::Postgres(pool) => sqlx::query_scalar(SQL)
            .bind(username)
            .fetch_one(pool)
            .await
            .unwrap(),
        Db::MySql(pool) => sqlx::query_scalar(sqlx::AssertSqlSafe(crate::support::positional(SQL)))
            .bind(username)
            .fetch_one(pool)
            .await
            .unwrap(),
    }
}

/// Checks a confirmation mail as the SMTP server received it and returns its token.
fn check_confirmation_mail(received: &Received, to: &str) -> String {
    assert_eq!(received.envelope_from, SENDER);
    assert_eq!(received.envelope_to, [to]);
    let message = received.message();
    // `"Conformance" <noreply@localhost>`; lettre drops quotes a name does not need.
    let from = message.header("from");
    let (name, address) = from
        .rsplit_once(' ')
        .expect("a display name and an address");
    assert_eq!(name.trim_matches('"'), DISPLAY_NAME, "From: {from}");
    assert_eq!(address, format!("<{SENDER}>"), "From: {from}");
    assert_eq!(message.header("to"), to);
    assert_eq!(message.header("subject"), "Confirm email");

    let parts = message.alternative_parts();
    assert_eq!(parts.len(), 2, "{parts:?}");
    assert!(parts[0].content_type.starts_with("text/plain"), "{parts:?}");
    assert!(parts[1].content_type.starts_with("text/html"), "{parts:?}");
    let (text, html) = (&parts[0].body, &parts[1].body);
    let link = text
        .lines()
        .find(|line| line.starts_with(LINK_PREFIX))
        .unwrap_or_else(|| panic!("no line with the link alone in {text:?}"));
    assert!(html.contains(&format!("href=\"{link}\"")), "{html}");
    let token = link.trim_start_matches(LINK_PREFIX).to_owned();
    assert!(
        token.len() >= 22
            && token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "token {token:?}"
    );
    token
}

/// Registers `name`, follows the link of the mail `received` with `POST /confirm/{token}`, and
/// checks that `GET /confirm` tells the change.
async fn confirm_by_mail(s: &TestServer, name: &str, smtp: &SmtpServer) {
    let email = format!("{name}@example.com");
    let mut user = s.client();
    user.post("/register", registration(name))
        .await
        .assert_null();
    let r = user.get("/confirm").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, json!({"email": email, "confirmed": false}));

    let received = eventually("the confirmation mail", || async {
        smtp.inbox.to(&email).pop()
    })
    .await;
    let token = check_confirmation_mail(&received, &email);

    // The link is followed from wherever the mail was read: no session needed.
    s.client()
        .post_empty(&format!("/confirm/{token}"))
        .await
        .assert_null();
    let r = user.get("/confirm").await;
    assert_eq!(r.body, json!({"email": email, "confirmed": true}));
    // Single use.
    s.client()
        .post_empty(&format!("/confirm/{token}"))
        .await
        .assert_error(403, "Invalid or expired token", "invalid_or_expired_token");
    assert_eq!(smtp.inbox.to(&email).len(), 1);
}

async fn registration_mail_arrives_over_smtp_and_confirms(backend: Backend) {
    let smtp = SmtpServer::start();
    let options = Options {
        smtp: Some(smtp_settings(smtp.addr, SmtpTls::None)),
        ..Options::default()
    };
    let Some(s) = start(backend, options).await else {
        return;
    };
    confirm_by_mail(&s, "alice", &smtp).await;

    // A new confirmation requested over HTTP arrives the same way.
    let mut bob = s.register("bob").await;
    bob.post_empty("/confirm").await.assert_null();
    let mails = eventually("both of bob's mails", || async {
        let mails = smtp.inbox.to("bob@example.com");
        (mails.len() == 2).then_some(mails)
    })
    .await;
    let first = check_confirmation_mail(&mails[0], "bob@example.com");
    let second = check_confirmation_mail(&mails[1], "bob@example.com");
    assert_ne!(first, second);
    s.client()
        .post_empty(&format!("/confirm/{second}"))
        .await
        .assert_null();
    assert_eq!(
        bob.get("/confirm").await.body,
        json!({"email": "bob@example.com", "confirmed": true})
    );

    let rows = outbox(&s).await;
    assert_eq!(rows.len(), 3, "{rows:?}");
    for row in &rows {
        assert!(row.sent_at.is_some(), "{row:?}");
        assert_eq!(row.attempts, 0, "{row:?}");
    }
}

async fn starttls_with_a_private_ca_and_auth(backend: Backend) {
    let cert = TestCert::generate();
    let smtp = SmtpServer::builder()
        .starttls(&cert)
        .auth(
            &[AuthMechanism::Plain, AuthMechanism::Login],
            SMTP_USER,
            SMTP_PASSWORD,
        )
        .start();
    let mut settings = smtp_settings(smtp.addr, SmtpTls::StartTls);
    settings.ca_file = Some(cert.cert_path.clone());
    settings.username = Some(SMTP_USER.into());
    settings.password = Some(SMTP_PASSWORD.into());
    let options = Options {
        smtp: Some(settings),
        ..Options::default()
    };
    let Some(s) = start(backend, options).await else {
        return;
    };
    confirm_by_mail(&s, "carol", &smtp).await;
    // The server offers AUTH only after STARTTLS: authenticated means encrypted too.
    let received = smtp.inbox.messages();
    assert_eq!(received[0].authenticated_as.as_deref(), Some(SMTP_USER));
}

async fn smtp_down_then_up_delivers_every_mail_once(backend: Backend) {
    const NAMES: [&str; 5] = ["dave", "erin", "fay", "gus", "hal"];
    // Bound but not listening: every connection is refused until the server takes the port.
    let port = ReservedPort::new();
    let smtp_addr = port.addr();
    let options = Options {
        smtp: Some(smtp_settings(smtp_addr, SmtpTls::None)),
        ..Options::default()
    };
    let Some(s) = start(backend, options).await else {
        return;
    };

    // Registration does not wait for mail: every answer is a success.
    for name in NAMES {
        s.register(name).await;
    }
    let rows = eventually("a failed attempt for every mail", || async {
        let rows = outbox(&s).await;
        (rows.len() == NAMES.len() && rows.iter().all(|r| r.attempts >= 1)).then_some(rows)
    })
    .await;
    let now = authx::clock::Clock::now(&s.clock);
    for row in &rows {
        assert_eq!(row.sent_at, None, "{row:?}");
        assert_eq!(row.failed_at, None, "{row:?}");
        assert!(row.next_attempt_at > now, "{row:?}");
        let error = row.last_error.as_deref().unwrap_or_default();
        assert!(error.contains("refused"), "{row:?}");
    }

    // The server comes up; once the retry is due, every mail goes out.
    let smtp = SmtpServer::builder().start_on(port.listen());
    s.clock.advance(5 + 1);
    s.auth.wake_mail_worker();
    smtp.inbox.wait_for(NAMES.len(), PATIENCE).await;
    eventually("every mail marked sent", || async {
        outbox(&s)
            .await
            .iter()
            .all(|r| r.sent_at.is_some())
            .then_some(())
    })
    .await;
    for name in NAMES {
        let email = format!("{name}@example.com");
        let received = smtp.inbox.to(&email);
        assert_eq!(received.len(), 1, "mail to {email}");
        check_confirmation_mail(&received[0], &email);
    }

    // A restart (a second instance on the same database, its worker on) sends nothing again.
    // It delivers a new mail; had it resent any old one, that would have gone out before.
    let repo: Arc<dyn authx::store::Repo> = match &s.db {
        Db::Sqlite(pool, _) => Arc::new(authx::sqlx::SqliteStore::from_pool(pool.clone())),
        Db::Postgres(pool) => Arc::new(authx::sqlx::PostgresStore::from_pool(pool.clone())),
        Db::MySql(pool) => Arc::new(authx::sqlx::MySqlStore::from_pool(pool.clone())),
    };
    let restarted = Auth::builder()
        .repo(repo)
        .auth_backend(JwtBackend::hs256(SECRET).unwrap())
        .debug(true)
        .base_url("http://localhost:8000")
        .site("Conformance")
        .hashing(Hashing {
            params: PasswordParams::INSECURE_FAST_FOR_TESTS,
            concurrency: 2,
            queue: 64,
        })
        .clock(Arc::new(s.clock.clone()))
        .smtp_host("127.0.0.1")
        .smtp_port(smtp_addr.port())
        .smtp_tls(SmtpTls::None)
        .build()
        .unwrap();
    let (addr, running) = start_axum(restarted, "/api/users").await;
    let r = s
        .client()
        .post(
            &format!("http://{addr}/api/users/register"),
            registration("ivy"),
        )
        .await;
    r.assert_null();
    let all = smtp.inbox.wait_for(NAMES.len() + 1, PATIENCE).await;
    assert_eq!(smtp.inbox.to("ivy@example.com").len(), 1);
    assert_eq!(all.len(), NAMES.len() + 1, "{all:?}");
    for name in NAMES {
        assert_eq!(smtp.inbox.to(&format!("{name}@example.com")).len(), 1);
    }
    drop(running);
}

async fn a_server_that_never_greets_does_not_hold_the_outbox(backend: Backend) {
    let silent = SilentServer::start().await;
    // The SMTP client's own timeout stays at its default (30 s): the outbox's bound on the
    // whole attempt is what must end it.
    let options = Options {
        smtp: Some(smtp_settings(silent.addr, SmtpTls::None)),
        mail: MailSettings {
            delivery_timeout: Duration::from_secs(2),
            ..MailSettings::default()
        },
        ..Options::default()
    };
    let Some(s) = start(backend, options).await else {
        return;
    };
    let mut judy = s.register("judy").await;
    eventually("the worker to connect", || async {
        (silent.accepted() >= 1).then_some(())
    })
    .await;

    // While the worker waits for a greeting, the service answers as usual.
    let mut ken = s.register("ken").await;
    let r = ken.get("/confirm").await;
    assert_eq!(
        r.body,
        json!({"email": "ken@example.com", "confirmed": false})
    );
    let r = judy
        .post("/login", json!({"login": "judy", "password": PASSWORD}))
        .await;
    r.assert_null();

    let row = eventually("judy's mail rescheduled", || async {
        outbox(&s)
            .await
            .into_iter()
            .find(|r| r.recipient == "judy@example.com" && r.attempts >= 1)
    })
    .await;
    assert_eq!(row.attempts, 1, "{row:?}");
    assert_eq!(row.sent_at, None, "{row:?}");
    assert_eq!(row.failed_at, None, "{row:?}");
    let error = row.last_error.as_deref().unwrap_or_default();
    assert!(error.contains("timed out after 2s"), "{row:?}");
    let now = authx::clock::Clock::now(&s.clock);
    assert!(row.next_attempt_at > now, "{row:?}");
}

async fn captcha_is_verified_before_validation(backend: Backend) {
    let verifier = SiteVerifyServer::start(Behaviour::REFUSE).await;
    let options = Options {
        captcha_verify_url: Some(verifier.url().to_owned()),
        ..Options::default()
    };
    let Some(s) = start(backend, options).await else {
        return;
    };

    // No captcha: refused without asking the verifier.
    let r = s.client().post("/register", registration("lena")).await;
    r.assert_error(400, "Wrong captcha", "wrong_captcha");
    assert_eq!(
        r.body,
        json!({"detail": "Wrong captcha", "code": "wrong_captcha"})
    );
    let r = s
        .client()
        .post("/register", with_captcha(registration("lena"), "  "))
        .await;
    r.assert_error(400, "Wrong captcha", "wrong_captcha");
    assert!(verifier.requests().is_empty());

    // Refused by the verifier.
    let r = s
        .client()
        .post("/register", with_captcha(registration("lena"), "bot-token"))
        .await;
    r.assert_error(400, "Wrong captcha", "wrong_captcha");
    assert_eq!(verifier.requests().len(), 1);

    // The captcha comes first: an invalid email with a wrong captcha is a wrong captcha.
    let mut invalid = with_captcha(registration("lena"), "bot-token");
    invalid["email"] = json!("not an email");
    let r = s.client().post("/register", invalid.clone()).await;
    r.assert_error(400, "Wrong captcha", "wrong_captcha");
    invalid.as_object_mut().unwrap().remove("captcha");
    let r = s.client().post("/register", invalid.clone()).await;
    r.assert_error(400, "Wrong captcha", "wrong_captcha");
    assert_eq!(users_named(&s, "lena").await, 0);

    // Accepted: then validation runs, then the user is stored.
    verifier.set_behaviour(Behaviour::ACCEPT);
    let r = s
        .client()
        .post("/register", with_captcha(invalid, "human-token"))
        .await;
    r.assert_error(400, "Invalid email", "invalid_email");
    let r = s
        .client()
        .post(
            "/register",
            with_captcha(registration("lena"), "human-token"),
        )
        .await;
    r.assert_null();
    assert_eq!(users_named(&s, "lena").await, 1);

    let requests = verifier.requests();
    let request = requests.last().unwrap();
    assert_eq!(request.request_line, "POST /siteverify HTTP/1.1");
    assert_eq!(request.content_type, "application/x-www-form-urlencoded");
    assert_eq!(request.field("secret"), Some(CAPTCHA_SECRET));
    assert_eq!(request.field("response"), Some("human-token"));
    assert_eq!(request.field("remoteip"), Some("127.0.0.1"));
}

async fn captcha_verifier_down_or_silent_is_503_and_stores_nothing(backend: Backend) {
    // Down: nothing listens on the verifier's port yet.
    let port = ReservedPort::new();
    let options = Options {
        captcha_verify_url: Some(format!("http://{}/siteverify", port.addr())),
        ..Options::default()
    };
    let Some(s) = start(backend, options).await else {
        return;
    };
    let body = with_captcha(registration("mona"), "human-token");
    let r = s.client().post("/register", body.clone()).await;
    r.assert_error(503, "Service unavailable", "service_unavailable");
    assert!(r.set_cookies().is_empty(), "{:?}", r.set_cookies());
    assert_eq!(users_named(&s, "mona").await, 0);
    assert!(outbox(&s).await.is_empty());

    // Up again: the same registration goes through.
    let verifier = SiteVerifyServer::start_on(port.listen_async(), Behaviour::ACCEPT);
    s.client().post("/register", body).await.assert_null();
    assert_eq!(users_named(&s, "mona").await, 1);
    assert_eq!(verifier.requests().len(), 1);

    // Silent: the verification times out (the default bound, 10 s), and nothing is stored.
    verifier.set_behaviour(Behaviour::Silent);
    let body = with_captcha(registration("ned"), "human-token");
    let r = s.client().post("/register", body.clone()).await;
    r.assert_error(503, "Service unavailable", "service_unavailable");
    assert_eq!(users_named(&s, "ned").await, 0);
    assert_eq!(outbox(&s).await.len(), 1, "only mona's mail");

    verifier.set_behaviour(Behaviour::ACCEPT);
    s.client().post("/register", body).await.assert_null();
    assert_eq!(users_named(&s, "ned").await, 1);
}
