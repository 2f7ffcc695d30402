//! The three example applications (`examples/`), started as `cargo run` starts them, attacked
//! from outside: every path answers the contract's JSON, oversized and dribbled headers and
//! broken bodies get the same answers from the three, and they start while Redis and the mail
//! server are down.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use authx::Auth;
use authx_example_common::ServerLimits;
use serde_json::json;

use crate::support::{
    Adapter, Backend, Options, RawReply, Running, TestServer, parse_raw, raw_exchange, raw_post,
    registration,
};

/// Starts `adapter`'s example application serving `auth` on 127.0.0.1, with `limits`.
pub async fn start_example(
    adapter: Adapter,
    auth: Auth,
    limits: ServerLimits,
) -> (SocketAddr, Running) {
    match adapter {
        Adapter::Axum => {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let app = authx_example_axum::app(auth);
            let task = tokio::spawn(authx_example_axum::serve(
                listener,
                app,
                limits,
                std::future::pending(),
            ));
            (addr, Running::Task(task))
        }
        Adapter::Rocket => {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let app = authx_example_rocket::app_with(crate::support::quiet_rocket_config(), auth);
            let task = tokio::spawn(async move {
                authx_example_rocket::serve(listener, app, limits, std::future::pending())
                    .await
                    .unwrap();
            });
            (addr, Running::Task(task))
        }
        Adapter::Actix => {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                actix_web::rt::System::new().block_on(async move {
                    let server = authx_example_actix::server(auth, listener, limits).unwrap();
                    tx.send(server.handle()).unwrap();
                    server.await
                })
            });
            (addr, Running::Actix(rx.recv().unwrap()))
        }
    }
}

/// The example of `adapter` on SQLite, with `limits`.
async fn example(adapter: Adapter, limits: ServerLimits) -> TestServer {
    TestServer::start(
        adapter,
        Backend::Sqlite,
        Options {
            example: Some(limits),
            ..Options::default()
        },
    )
    .await
    .expect("SQLite is always there")
}

fn get(target: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").into_bytes()
}

/// Status and body of every probe, in order.
async fn probe(s: &TestServer, requests: &[Vec<u8>]) -> Vec<(u16, serde_json::Value)> {
    let mut answers = Vec::new();
    for request in requests {
        let r = s.raw(request).await;
        answers.push((r.status, r.json()));
    }
    answers
}

pub async fn every_path_answers_json(adapter: Adapter) {
    let s = example(adapter, ServerLimits::default()).await;
    let register = registration("ada").to_string();
    let not_found = json!({"detail": "Not found", "code": "not_found"});
    let not_allowed = json!({"detail": "Method not allowed", "code": "method_not_allowed"});
    let requests = [
        raw_post("//api/users/register", "", &register),
        raw_post("/API/users/register", "", &register),
        raw_post("/api//users/register", "", &register),
        raw_post("/api/users/register/", "", &register),
        get("/nope"),
        get("/api"),
        get("/api/users/nope"),
        raw_post("/me", "", "{}"),
        raw_post("/", "", "{}"),
        get("/api/users/register"),
    ];
    let answers = probe(&s, &requests).await;
    let expected: Vec<(u16, serde_json::Value)> = [404; 7]
        .into_iter()
        .map(|status| (status, not_found.clone()))
        .chain([405, 405, 405].map(|status| (status, not_allowed.clone())))
        .collect();
    assert_eq!(answers, expected, "{adapter:?}");
    // Nothing was registered by any of them.
    assert_eq!(s.count("users").await, 0);
    // The application's own routes and authx's still answer as before.
    let r = s.raw(&get("/me")).await;
    r.assert_error(401, "not_authenticated");
    let r = s.raw(&raw_post("/api/users/register", "", &register)).await;
    assert_eq!(r.status, 200, "{r:?}");
}

/// A header block of `size` bytes in one header.
fn padded(target: &str, size: usize) -> Vec<u8> {
    format!(
        "GET {target} HTTP/1.1\r\nHost: localhost\r\nX-Pad: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(size)
    )
    .into_bytes()
}

pub async fn oversized_headers_are_refused(adapter: Adapter) {
    let s = example(adapter, ServerLimits::default()).await;
    // Just under the limit is served; just over is refused as JSON on every path.
    let under = authx::config::HEADER_LIMIT - 200;
    let r = s.raw(&padded("/me", under)).await;
    r.assert_error(401, "not_authenticated");
    for target in ["/", "/me", "/nope", "/api/users/login", "/api/users/token"] {
        let r = s.raw(&padded(target, 40 * 1024)).await;
        r.assert_error(431, "headers_too_large");
    }
    // Many small headers count alike.
    let many = (0..90).fold(String::new(), |mut many, i| {
        use std::fmt::Write as _;
        let _ = write!(many, "X-H{i}: {}\r\n", "b".repeat(400));
        many
    });
    let r = s
        .raw(
            format!("GET /me HTTP/1.1\r\nHost: localhost\r\n{many}Connection: close\r\n\r\n")
                .as_bytes(),
        )
        .await;
    r.assert_error(431, "headers_too_large");
    // Past the server's own buffer the server refuses it, bare, before the application.
    let r = s.raw(&padded("/api/users/login", 200 * 1024)).await;
    assert_eq!(r.status, 431, "{r:?}");
    // The server still serves.
    let r = s.raw(&get("/nope")).await;
    r.assert_error(404, "not_found");
}

pub async fn broken_bodies_are_invalid(adapter: Adapter) {
    let s = example(adapter, ServerLimits::default()).await;
    s.register("ada").await;
    let login = "/api/users/login";
    let chunked = |chunks: &str| {
        format!(
            "POST {login} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
             Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{chunks}"
        )
        .into_bytes()
    };
    for broken in [
        "zz\r\n{}\r\n0\r\n\r\n",
        "2\r\n{}x\r\n0\r\n\r\n",
        "-1\r\n{}\r\n0\r\n\r\n",
    ] {
        let r = s.raw(&chunked(broken)).await;
        r.assert_error(400, "invalid_body");
        assert_eq!(r.json()["detail"], "Malformed request body");
    }
    // A well-formed chunked body is read.
    let body = json!({"login": "ada", "password": crate::support::PASSWORD}).to_string();
    let good = format!("{:x}\r\n{body}\r\n0\r\n\r\n", body.len());
    let r = s.raw(&chunked(&good)).await;
    assert_eq!(r.status, 200, "{r:?}");
    // Over 16 KiB in chunks: too large.
    let big = "a".repeat(9000);
    let r = s
        .raw(&chunked(&format!(
            "2328\r\n{big}\r\n2328\r\n{big}\r\n0\r\n\r\n"
        )))
        .await;
    r.assert_error(413, "payload_too_large");
}

/// Opens a connection, sends `steps` (bytes, then a pause) and returns what arrived and when
/// the server closed it, measured from the connection.
async fn dribble(addr: SocketAddr, steps: &[(&[u8], Duration)]) -> (RawReply, Duration) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    let (mut read, mut write) = stream.split();
    let mut received = Vec::new();
    let reading = async {
        let mut buf = [0_u8; 4096];
        loop {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
        started.elapsed()
    };
    let writing = async {
        for (bytes, pause) in steps {
            if write.write_all(bytes).await.is_err() {
                break;
            }
            tokio::time::sleep(*pause).await;
        }
        std::future::pending::<()>().await;
    };
    let closed = tokio::time::timeout(Duration::from_secs(20), async {
        tokio::select! {
            closed = reading => closed,
            () = writing => unreachable!(),
        }
    })
    .await
    .expect("the server closed the connection");
    (parse_raw(&received), closed)
}

pub async fn slow_header_senders_are_closed(adapter: Adapter) {
    let limits = ServerLimits {
        header_read_timeout: Duration::from_secs(1),
        ..ServerLimits::default()
    };
    let s = example(adapter, limits).await;
    // actix-web computes its deadline from a clock it refreshes every 500 ms, so its close
    // comes between half the timeout and the timeout; the others' at the timeout.
    let bound = |closed: Duration| {
        assert!(
            closed >= Duration::from_millis(400) && closed < Duration::from_secs(4),
            "{adapter:?}: closed after {closed:?}"
        );
    };
    // Silent: connects and sends nothing. `408`, then closed.
    let (r, closed) = dribble(s.addr, &[]).await;
    bound(closed);
    assert_eq!(r.status, 408, "{adapter:?}: {r:?}");
    assert_eq!(r.body, b"");
    // One byte, then nothing.
    let (r, closed) = dribble(s.addr, &[(b"G", Duration::ZERO)]).await;
    bound(closed);
    assert_eq!(r.status, 408, "{adapter:?}: {r:?}");
    // A head dribbled a header every 200 ms, for ever: closed at the bound all the same (the
    // close may come as a reset, the `408` lost with it).
    let mut steps: Vec<(&[u8], Duration)> = vec![(b"GET /me HTTP/1.1\r\n", Duration::ZERO)];
    steps.extend(std::iter::repeat_n(
        (&b"X-Slow: a\r\n"[..], Duration::from_millis(200)),
        100,
    ));
    let (r, closed) = dribble(s.addr, &steps).await;
    bound(closed);
    assert!(matches!(r.status, 0 | 408), "{adapter:?}: {r:?}");
    // A complete request in time is served.
    let r = raw_exchange(s.addr, &get("/nope")).await;
    r.assert_error(404, "not_found");
}

/// After one request, a second head dribbled on the same connection is bounded too (actix's
/// example serves one request per connection: it closes at once).
pub async fn slow_second_requests_are_closed(adapter: Adapter) {
    let limits = ServerLimits {
        header_read_timeout: Duration::from_secs(1),
        ..ServerLimits::default()
    };
    let s = example(adapter, limits).await;
    let first = b"GET /nope HTTP/1.1\r\nHost: localhost\r\n\r\n";
    let mut steps: Vec<(&[u8], Duration)> = vec![
        (first, Duration::from_millis(300)),
        (b"GET /me HTTP/1.1\r\n", Duration::ZERO),
    ];
    steps.extend(std::iter::repeat_n(
        (&b"X-Slow: a\r\n"[..], Duration::from_millis(200)),
        100,
    ));
    let (r, closed) = dribble(s.addr, &steps).await;
    assert_eq!(r.status, 404, "{adapter:?}: {r:?}");
    assert!(closed < Duration::from_secs(4), "{adapter:?}: {closed:?}");
}

/// A TCP forwarder on `listener` to `target`, for a service that comes up late.
fn forward(listener: tokio::net::TcpListener, target: String) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let target = target.clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    })
}

/// `host:port` of a `redis://host:port[/db]` URL.
fn redis_target(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or(rest);
    if authority.contains(':') {
        authority.to_owned()
    } else {
        format!("{authority}:6379")
    }
}

/// The example as `cargo run` configures it from its environment, with Redis and the SMTP
/// server not answering: it starts, what needs Redis answers `503`, mail waits, and both
/// recover once their servers come, without a restart.
pub async fn starts_while_redis_and_mail_are_down(adapter: Adapter) {
    use authx::config::Hashing;
    use authx_testkit::ReservedPort;
    use authx_testkit::smtp::SmtpServer;

    let Some(redis_url) = authx_testkit::service_url("AUTHX_TEST_REDIS_URL") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (redis_port, smtp_port) = (ReservedPort::new(), ReservedPort::new());
    let prefix = format!("authx-test-{}", &authx::random::token(8));
    let vars = std::collections::HashMap::from([
        (
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("authx.db").display()),
        ),
        ("REDIS_URL", format!("redis://{}", redis_port.addr())),
        ("AUTHX_REDIS_PREFIX", prefix),
        ("SMTP_HOST", "127.0.0.1".to_owned()),
        ("SMTP_PORT", smtp_port.addr().port().to_string()),
        ("SMTP_TLS", "none".to_owned()),
        (
            "AUTHX_JWT_SECRET",
            "a secret of the start-up test, 32 bytes+".to_owned(),
        ),
    ]);
    let env = authx::env::Environment::from_lookup(|name| vars.get(name).cloned()).unwrap();
    let started = Instant::now();
    let builder = env.builder().await.expect("starts without Redis and SMTP");
    let auth = builder
        .hashing(Hashing {
            params: authx::password::PasswordParams::INSECURE_FAST_FOR_TESTS,
            concurrency: 2,
            queue: 64,
        })
        .build()
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let (addr, _running) = start_example(adapter, auth, ServerLimits::default()).await;
    let http = reqwest::Client::new();
    let url = |path: &str| format!("http://{addr}/api/users{path}");
    let login = json!({"login": "ada", "password": crate::support::PASSWORD});

    // Registration needs no Redis; its mail waits for the SMTP server.
    let r = http
        .post(url("/register"))
        .json(&registration("ada"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Login is throttled through Redis: 503, as the contract's JSON.
    let r = http.post(url("/login")).json(&login).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], "service_unavailable");

    // Redis comes up on its port: logins work, with no restart.
    let redis = forward(redis_port.listen_async(), redis_target(&redis_url));
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = http.post(url("/login")).json(&login).send().await.unwrap();
        if r.status() == 200 {
            break;
        }
        assert_eq!(r.status(), 503);
        assert!(Instant::now() < deadline, "Redis back, still 503");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The mail server comes up: the confirmation mail goes out at its next attempt.
    let smtp = SmtpServer::builder().start_on(smtp_port.listen());
    let received = smtp.inbox.wait_for(1, Duration::from_secs(30)).await;
    assert_eq!(received[0].envelope_to, ["ada@example.com"]);
    redis.abort();
}

/// The database must answer at start-up (the migrations run then): the error names the URL,
/// its password hidden.
pub async fn a_missing_database_fails_start_up_clearly() {
    let port = authx_testkit::ReservedPort::new();
    let url = format!("postgres://authx:s3cret@{}/authx", port.addr());
    let env =
        authx::env::Environment::from_lookup(|name| (name == "DATABASE_URL").then(|| url.clone()))
            .unwrap();
    let error = env.builder().await.err().expect("no database, no start");
    let message = error.to_string();
    assert!(
        message.starts_with("DATABASE_URL: cannot open and migrate"),
        "{message}"
    );
    assert!(
        message.contains(&format!("postgres://authx:***@{}/authx", port.addr())),
        "{message}"
    );
    assert!(!message.contains("s3cret"), "{message}");
    assert!(std::error::Error::source(&error).is_some());
}
