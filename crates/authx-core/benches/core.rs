//! Micro-benchmarks of authx-core: argon2id with the OWASP defaults, token signing and
//! verification per algorithm, cookie rendering, and each service flow through `Auth::handle`
//! on in-memory SQLite.
//!
//! Run with `cargo bench -p authx-core --bench core` (a filter narrows it:
//! `cargo bench -p authx-core --bench core -- token/`). The flows use fast argon2 parameters
//! except where hashing is the point; `docs/benchmarks.md` has figures and the load benchmark.

// A benchmark harness is not part of the published API.
#![allow(missing_docs, clippy::unwrap_used, clippy::missing_panics_doc)]

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use authx_core::clock::{Clock as _, SystemClock};
use authx_core::config::Hashing;
use authx_core::limit::Limits;
use authx_core::mail::{Mail, MailError, Mailer};
use authx_core::password::{PasswordHasher, PasswordParams};
use authx_core::token::{JwtBackend, SigningAlgorithm, TokenKind};
use authx_core::{Auth, AuthRequest, AuthResponse, Claims, Routers, Secret};
use criterion::{Criterion, criterion_group, criterion_main};
use tokio::runtime::Runtime;

const PEER: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const PASSWORD: &str = "correct horse battery";
const SECRET: &[u8] = b"benchmark-secret-of-at-least-32-bytes!";

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn passwords(c: &mut Criterion) {
    let rt = runtime();
    // One hash at a time: this is the latency of one hash, not the machine's throughput
    // (the load benchmark measures that on all cores).
    let hasher = PasswordHasher::new(PasswordParams::OWASP, 1, 0).unwrap();
    let phc = rt.block_on(hasher.hash(Secret::new(PASSWORD))).unwrap();
    let mut group = c.benchmark_group("argon2id_owasp");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(4));
    group.bench_function("hash", |b| {
        b.to_async(&rt)
            .iter(|| async { hasher.hash(Secret::new(PASSWORD)).await.unwrap() });
    });
    group.bench_function("verify", |b| {
        b.to_async(&rt).iter(|| async {
            let v = hasher
                .verify(Secret::new(PASSWORD), Some(phc.clone()))
                .await
                .unwrap();
            assert!(v.matches);
        });
    });
    group.finish();
}

fn claims(kind: TokenKind) -> Claims {
    let now = SystemClock.now();
    Claims {
        sub: "42".into(),
        id: 42,
        username: "benchmark_user".into(),
        permissions: vec!["admin".into()],
        kind,
        iat: now,
        exp: now + 900,
        jti: "c2lnbmVkLXRva2VuLWp0aQ".into(),
        sid: "c2Vzc2lvbi1pZC0xMjM0NQ".into(),
        auth_ms: Some(now * 1000),
    }
}

fn tokens(c: &mut Criterion) {
    let backends = [
        ("HS256", JwtBackend::hs256(SECRET).unwrap()),
        (
            "EdDSA",
            JwtBackend::from_private_pem(
                SigningAlgorithm::EdDSA,
                include_bytes!("../testdata/ed25519.pem"),
            )
            .unwrap(),
        ),
        (
            "ES256",
            JwtBackend::from_private_pem(
                SigningAlgorithm::ES256,
                include_bytes!("../testdata/p256.pem"),
            )
            .unwrap(),
        ),
        (
            "RS256",
            JwtBackend::from_private_pem(
                SigningAlgorithm::RS256,
                include_bytes!("../testdata/rsa2048.pem"),
            )
            .unwrap(),
        ),
    ];
    let access = claims(TokenKind::Access);
    let now = SystemClock.now();
    let mut group = c.benchmark_group("token");
    for (name, backend) in &backends {
        group.bench_function(format!("sign/{name}"), |b| {
            b.iter(|| backend.encode(black_box(&access)).unwrap());
        });
        let token = backend.encode(&access).unwrap();
        group.bench_function(format!("verify/{name}"), |b| {
            b.iter(|| {
                backend
                    .decode(black_box(&token), TokenKind::Access, now)
                    .unwrap()
            });
        });
    }
    group.finish();
}

/// Mail is delivered off the request path by the outbox worker; the flows run without it.
struct NoMail;

#[async_trait]
impl Mailer for NoMail {
    async fn deliver(&self, _from: &str, _mail: &Mail) -> Result<(), MailError> {
        Ok(())
    }
}

async fn service(params: PasswordParams) -> Auth {
    let store = authx_sqlx::SqliteStore::connect("sqlite::memory:")
        .await
        .unwrap();
    let mut limits = Limits::default();
    // Every request comes from one address.
    limits.login_per_ip.max = 0;
    Auth::builder()
        .repo(Arc::new(store))
        .auth_backend(JwtBackend::hs256(SECRET).unwrap())
        .base_url("http://localhost:8000")
        .site("Bench")
        .limits(limits)
        .hashing(Hashing {
            params,
            concurrency: 1,
            queue: 16,
        })
        .mailer(Arc::new(NoMail))
        .mail_worker(false)
        .configure(|s| s.janitor.enabled = false)
        .build()
        .unwrap()
}

/// Serves `req` as a `method` of `path` under the main routers, as an adapter does.
async fn call(auth: &Auth, method: &str, path: &str, req: &AuthRequest) -> AuthResponse {
    auth.serve(
        Routers::main(),
        req.clone().at(method, "/api/users", path, None),
    )
    .await
}

fn json(value: &serde_json::Value) -> AuthRequest {
    AuthRequest::new(PEER)
        .header("content-type", b"application/json")
        .body(value.to_string().into_bytes())
}

fn cookie_value(response: &AuthResponse, name: &str) -> String {
    let prefix = format!("{name}=");
    let cookie = response
        .set_cookies()
        .find(|c| c.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no {name} cookie in {response:?}"));
    cookie[prefix.len()..]
        .split(';')
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn register_body(name: &str) -> serde_json::Value {
    serde_json::json!({
        "email": format!("{name}@example.com"),
        "username": name,
        "password1": PASSWORD,
        "password2": PASSWORD,
    })
}

fn flows(c: &mut Criterion) {
    let rt = runtime();
    let auth = rt.block_on(service(PasswordParams::INSECURE_FAST_FOR_TESTS));
    let registered = rt.block_on(call(
        &auth,
        "POST",
        "/register",
        &json(&register_body("alice")),
    ));
    assert_eq!(registered.status, 200, "{}", registered.body);
    let access = cookie_value(&registered, "access_token");
    let bearer =
        AuthRequest::new(PEER).header("authorization", format!("Bearer {access}").as_bytes());

    let mut group = c.benchmark_group("flow_fast_argon2");
    let counter = AtomicU64::new(0);
    group.bench_function("register", |b| {
        b.to_async(&rt).iter(|| async {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            let body = json(&register_body(&format!("user_{n}")));
            let r = call(&auth, "POST", "/register", &body).await;
            assert_eq!(r.status, 200, "{}", r.body);
        });
    });
    let login = json(&serde_json::json!({ "login": "alice", "password": PASSWORD }));
    group.bench_function("login", |b| {
        b.to_async(&rt).iter(|| async {
            let r = call(&auth, "POST", "/login", &login).await;
            assert_eq!(r.status, 200, "{}", r.body);
        });
    });
    // Rotation: each refresh presents the token the previous one handed out.
    let refresh = Mutex::new(cookie_value(&registered, "refresh_token"));
    group.bench_function("refresh", |b| {
        b.to_async(&rt).iter(|| async {
            let token = refresh.lock().unwrap().clone();
            let req = AuthRequest::new(PEER)
                .header("cookie", format!("refresh_token={token}").as_bytes());
            let r = call(&auth, "POST", "/token/refresh", &req).await;
            assert_eq!(r.status, 200, "{}", r.body);
            *refresh.lock().unwrap() = cookie_value(&r, "refresh_token");
        });
    });
    group.bench_function("get_confirm", |b| {
        b.to_async(&rt).iter(|| async {
            let r = call(&auth, "GET", "/confirm", &bearer).await;
            assert_eq!(r.status, 200, "{}", r.body);
        });
    });
    group.bench_function("token", |b| {
        b.to_async(&rt).iter(|| async {
            let r = call(&auth, "POST", "/token", &bearer).await;
            assert_eq!(r.status, 200, "{}", r.body);
        });
    });
    // The cookie renderer is crate-private; its cheapest public path is a logout without a
    // session: no storage, two removal `Set-Cookie` values. Setting a token pair's cookies is
    // part of the login, register and refresh flows above.
    let anonymous = AuthRequest::new(PEER);
    group.bench_function("logout_cookie_removal", |b| {
        b.to_async(&rt).iter(|| async {
            let r = call(&auth, "POST", "/logout", &anonymous).await;
            assert_eq!(r.set_cookies().count(), 2);
        });
    });
    group.finish();

    // Login as it runs in production: the flow is dominated by one argon2id verification.
    let owasp = rt.block_on(service(PasswordParams::OWASP));
    let r = rt.block_on(call(
        &owasp,
        "POST",
        "/register",
        &json(&register_body("bob")),
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    let login = json(&serde_json::json!({ "login": "bob", "password": PASSWORD }));
    let mut group = c.benchmark_group("flow_owasp_argon2");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(4));
    group.bench_function("login", |b| {
        b.to_async(&rt).iter(|| async {
            let r = call(&owasp, "POST", "/login", &login).await;
            assert_eq!(r.status, 200, "{}", r.body);
        });
    });
    group.finish();
}

criterion_group!(benches, passwords, tokens, flows);
criterion_main!(benches);
