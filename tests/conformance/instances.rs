//! Two application instances serving one user base: one PostgreSQL (or MySQL/MariaDB) database
//! and one Redis,
//! as behind a load balancer. A lockout earned on one instance holds on the other, and a
//! session ended on one (logout, refresh-token replay, the sessions routes, "log out
//! everywhere", and the admin's kick, ban, permission change and blackout) is refused by the
//! other at once.
//!
//! Needs `AUTHX_TEST_POSTGRES_URL` (or `AUTHX_TEST_MYSQL_URL`) and `AUTHX_TEST_REDIS_URL`;
//! skips (saying so) otherwise.

use std::sync::Arc;

use authx::Auth;
use authx::clock::ManualClock;
use authx::config::Hashing;
use authx::password::PasswordParams;
use authx::token::JwtBackend;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Backend, PASSWORD, SECRET, ScratchDatabase};

struct Instance {
    base: String,
    /// Held for its `Drop`, which stops the server.
    _running: crate::support::Running,
}

async fn instance(
    database_url: &str,
    redis_url: &str,
    prefix: &str,
    clock: &ManualClock,
) -> Instance {
    let repo = authx::sqlx::connect(database_url).await.unwrap();
    let limits = authx::redis::RedisLimitStore::connect(redis_url, prefix)
        .await
        .unwrap();
    let auth = Auth::builder()
        .repo(repo)
        .auth_backend(JwtBackend::hs256(SECRET).unwrap())
        .debug(true)
        .base_url("http://localhost:8000")
        .limit_store(Arc::new(limits))
        .hashing(Hashing {
            params: PasswordParams::INSECURE_FAST_FOR_TESTS,
            concurrency: 2,
            queue: 64,
        })
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    let (addr, running) = crate::support::start_axum(auth, "/api/users").await;
    Instance {
        base: format!("http://{addr}/api/users"),
        _running: running,
    }
}

/// The value of cookie `name` among a response's `Set-Cookie` headers.
fn cookie(res: &reqwest::Response, name: &str) -> String {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix(&format!("{name}=")))
        .and_then(|rest| rest.split(';').next())
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_lockouts_and_revocations() {
    two_instances(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_mysql_share_lockouts_and_revocations() {
    two_instances(Backend::MySql).await;
}

async fn two_instances(backend: Backend) {
    let Some(redis) = authx_testkit::service_url("AUTHX_TEST_REDIS_URL") else {
        return;
    };
    let Some(db) = ScratchDatabase::create(backend).await else {
        return;
    };
    let prefix = format!(
        "authx-test-{}",
        &authx::random::sha256_hex(&authx::random::token(16))[..12]
    );
    let clock = ManualClock::at_system_time();
    let a = instance(db.url(), &redis, &prefix, &clock).await;
    let b = instance(db.url(), &redis, &prefix, &clock).await;
    let http = reqwest::Client::new();

    // Register on A, log in on B: one user base.
    let res = http
        .post(format!("{}/register", a.base))
        .json(&json!({"email": "ann@example.com", "username": "ann", "password1": PASSWORD, "password2": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let login = |base: &str, password: &str| {
        http.post(format!("{base}/login"))
            .json(&json!({"login": "ann", "password": password}))
            .send()
    };
    let res = login(&b.base, PASSWORD).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let access_b = cookie(&res, "access_token");
    let refresh_b = cookie(&res, "refresh_token");

    // A session opened on B, logged out on A: its access token dies on B at once.
    let token = |base: &str, access: &str| {
        http.post(format!("{base}/token"))
            .bearer_auth(access.to_owned())
            .send()
    };
    assert_eq!(
        token(&b.base, &access_b).await.unwrap().status(),
        StatusCode::OK
    );
    let res = http
        .post(format!("{}/logout", a.base))
        .header("cookie", format!("refresh_token={refresh_b}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        token(&b.base, &access_b).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let res = http
        .post(format!("{}/token/refresh", b.base))
        .header("cookie", format!("refresh_token={refresh_b}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // A refresh token replayed on B after its rotation on A revokes the session everywhere.
    let res = login(&a.base, PASSWORD).await.unwrap();
    let first = cookie(&res, "refresh_token");
    let res = http
        .post(format!("{}/token/refresh", a.base))
        .header("cookie", format!("refresh_token={first}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let rotated_access = cookie(&res, "access_token");
    clock.advance(11);
    let res = http
        .post(format!("{}/token/refresh", b.base))
        .header("cookie", format!("refresh_token={first}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        token(&a.base, &rotated_access).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );

    // The sessions routes: a session ended on B through A's list is refused by B at once.
    let res = login(&b.base, PASSWORD).await.unwrap();
    let access_b = cookie(&res, "access_token");
    let refresh_b = cookie(&res, "refresh_token");
    let res = login(&a.base, PASSWORD).await.unwrap();
    let access_a = cookie(&res, "access_token");
    let listed: serde_json::Value = http
        .get(format!("{}/sessions", a.base))
        .bearer_auth(&access_a)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let victim = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == false)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        token(&b.base, &access_b).await.unwrap().status(),
        StatusCode::OK
    );
    let res = http
        .delete(format!("{}/sessions/{victim}", a.base))
        .bearer_auth(&access_a)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        token(&b.base, &access_b).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let res = http
        .post(format!("{}/token/refresh", b.base))
        .header("cookie", format!("refresh_token={refresh_b}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // "Log out everywhere" on B ends A's sessions on A at once (one cut-off in Redis); a
    // login right after it works on both.
    let res = login(&b.base, PASSWORD).await.unwrap();
    let access_b = cookie(&res, "access_token");
    assert_eq!(
        token(&a.base, &access_a).await.unwrap().status(),
        StatusCode::OK
    );
    clock.advance_ms(1);
    let res = http
        .post(format!("{}/logout_all", b.base))
        .bearer_auth(&access_b)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        token(&a.base, &access_a).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let res = login(&a.base, PASSWORD).await.unwrap();
    let fresh = cookie(&res, "access_token");
    assert_eq!(
        token(&b.base, &fresh).await.unwrap().status(),
        StatusCode::OK
    );

    // Five failures on A lock the account on B, and the lock is enforced before the password.
    for _ in 0..5 {
        assert_eq!(
            login(&a.base, "wrong password").await.unwrap().status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let res = login(&b.base, PASSWORD).await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers()["retry-after"], "60");

    // The admin routes: an admin on A kicks, bans, changes the permissions of and logs out a
    // user whose session lives on B; each takes effect on B at once.
    let register = |base: &str, name: &str| {
        http.post(format!("{base}/register"))
            .json(
                &json!({"email": format!("{name}@example.com"), "username": name,
                          "password1": PASSWORD, "password2": PASSWORD}),
            )
            .send()
    };
    let login_as = |base: &str, name: &str| {
        http.post(format!("{base}/login"))
            .json(&json!({"login": name, "password": PASSWORD}))
            .send()
    };
    let res = register(&a.base, "root").await.unwrap();
    let root = cookie(&res, "access_token");
    let res = register(&a.base, "zed").await.unwrap();
    let zed_id = token(&a.base, &cookie(&res, "access_token"))
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    match &db {
        ScratchDatabase::Postgres(db) => {
            let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
            sqlx::query("UPDATE users SET permissions = '{admin}' WHERE username = 'root'")
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
        }
        ScratchDatabase::MySql(db) => {
            let pool = sqlx::MySqlPool::connect(&db.url).await.unwrap();
            sqlx::query(r#"UPDATE users SET permissions = '["admin"]' WHERE username = 'root'"#)
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
        }
    }
    let admin_post = |path: String, body: serde_json::Value| {
        http.post(format!("{}{path}", a.base))
            .bearer_auth(&root)
            .json(&body)
            .send()
    };
    let zed_on_b = cookie(&login_as(&b.base, "zed").await.unwrap(), "access_token");
    assert_eq!(
        token(&b.base, &zed_on_b).await.unwrap().status(),
        StatusCode::OK
    );
    // A session opened in the very millisecond of a cut-off survives it.
    clock.advance_ms(1);
    let res = admin_post(format!("/{zed_id}/kick"), json!({}))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        token(&b.base, &zed_on_b).await.unwrap().status(),
        StatusCode::UNAUTHORIZED,
        "kick"
    );

    let zed_on_b = cookie(&login_as(&b.base, "zed").await.unwrap(), "access_token");
    clock.advance_ms(1);
    let res = admin_post(format!("/{zed_id}/blacklist"), json!({"reason": "x"}))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        token(&b.base, &zed_on_b).await.unwrap().status(),
        StatusCode::UNAUTHORIZED,
        "ban"
    );
    let res = login_as(&b.base, "zed").await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = admin_post(format!("/{zed_id}/blacklist"), json!({}))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    let zed_on_b = cookie(&login_as(&b.base, "zed").await.unwrap(), "access_token");
    clock.advance_ms(1);
    let res = admin_post(
        format!("/{zed_id}/permissions"),
        json!({"action": "ADD", "payload": "editor"}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        token(&b.base, &zed_on_b).await.unwrap().status(),
        StatusCode::UNAUTHORIZED,
        "permission change"
    );

    let zed_on_b = cookie(&login_as(&b.base, "zed").await.unwrap(), "access_token");
    let root_on_b = cookie(&login_as(&b.base, "root").await.unwrap(), "access_token");
    clock.advance_ms(1);
    let res = admin_post("/blackout".into(), json!({})).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    for (who, access) in [("zed", &zed_on_b), ("root", &root_on_b)] {
        assert_eq!(
            token(&b.base, access).await.unwrap().status(),
            StatusCode::UNAUTHORIZED,
            "blackout: {who}"
        );
    }
    let fresh = cookie(&login_as(&a.base, "zed").await.unwrap(), "access_token");
    assert_eq!(
        token(&b.base, &fresh).await.unwrap().status(),
        StatusCode::OK
    );

    drop((a, b));
    let mut conn = redis::Client::open(redis.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL")
            .arg(keys)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
}
