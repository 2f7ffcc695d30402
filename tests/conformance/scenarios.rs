//! The scenarios, each written once and run against every adapter and backend.

// The sessions, password, admin, search and hardening scenarios live in their own modules.
pub use crate::admin::*;
pub use crate::hardening::*;
pub use crate::password::*;
pub use crate::sessions::*;
pub use crate::two_factor::*;

use std::fmt::Write as _;

use authx::clock::Clock as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::support::{
    Adapter, Backend, Options, PASSWORD, SECRET, TestServer, assert_one_winner, link_token,
    registration,
};

/// Verifies an HS256 JWT with a separate HMAC implementation and returns its claims.
fn verify_independently(token: &str) -> Value {
    use hmac::{KeyInit, Mac};
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["alg"], "HS256");
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET).unwrap();
    mac.update(format!("{}.{}", parts[0], parts[1]).as_bytes());
    mac.verify_slice(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap())
        .expect("signature verifies independently");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap()
}

fn sign(header: &Value, claims: &Value) -> String {
    use hmac::{KeyInit, Mac};
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET).unwrap();
    mac.update(message.as_bytes());
    format!(
        "{message}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

pub async fn register_sets_cookies_and_stores_a_verifiable_hash(s: &TestServer) {
    let mut c = s.client();
    let r = c.post("/register", registration("alice")).await;
    r.assert_null();
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let cookies = r.set_cookies();
    assert_eq!(cookies.len(), 2);
    let access = c.cookie("access_token").unwrap();
    let refresh = c.cookie("refresh_token").unwrap();
    assert_eq!(
        cookies[0],
        format!("access_token={access}; HttpOnly; SameSite=Lax; Path=/; Max-Age=900")
    );
    assert_eq!(
        cookies[1],
        format!("refresh_token={refresh}; HttpOnly; SameSite=Lax; Path=/; Max-Age=1209600")
    );

    let claims = verify_independently(&access);
    assert_eq!(claims["type"], "access");
    assert_eq!(claims["username"], "alice");
    assert_eq!(claims["permissions"], json!([]));
    assert_eq!(claims["sub"], claims["id"].as_i64().unwrap().to_string());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );
    let refresh_claims = verify_independently(&refresh);
    assert_eq!(refresh_claims["type"], "refresh");
    assert_eq!(refresh_claims["sid"], claims["sid"]);
    assert_ne!(refresh_claims["jti"], claims["jti"]);
    assert_eq!(
        refresh_claims["exp"].as_i64().unwrap() - refresh_claims["iat"].as_i64().unwrap(),
        1_209_600
    );

    // The stored hash is argon2id and verifies with an independent implementation.
    let id = claims["id"].as_i64().unwrap();
    let hash = s.password_hash(id).await;
    assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
    assert!(rust_argon2::verify_encoded(&hash, PASSWORD.as_bytes()).unwrap());
    assert!(!rust_argon2::verify_encoded(&hash, b"wrong password").unwrap());

    // Unconfirmed, active, and a confirmation mail goes out with a link on its own line.
    let r = c.get("/confirm").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        json!({"email": "alice@example.com", "confirmed": false})
    );
    let mail = s.mail_to("alice@example.com", 1).await;
    assert_eq!(mail.subject, "Confirm email");
    assert_eq!(link_token(&mail).len(), 43);

    // The host application's extractors see the user.
    let r = c.send("GET", &format!("{}/me", s.root), &[], vec![]).await;
    assert_eq!(r.body["username"], "alice");
    let r = c
        .send("GET", &format!("{}/maybe", s.root), &[], vec![])
        .await;
    assert_eq!(r.body, "alice");
    let r = c
        .send("GET", &format!("{}/admin", s.root), &[], vec![])
        .await;
    r.assert_error(403, "Forbidden", "forbidden");
    let mut anonymous = s.client();
    let r = anonymous
        .send("GET", &format!("{}/maybe", s.root), &[], vec![])
        .await;
    assert_eq!(r.body, "anonymous");
    let r = anonymous
        .send("GET", &format!("{}/me", s.root), &[], vec![])
        .await;
    r.assert_error(401, "Not authenticated", "not_authenticated");
}

pub async fn register_validation_in_order(s: &TestServer) {
    s.register("taken").await;
    let mut c = s.client();
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!({"email": "nope", "username": "x", "password1": "a"}),
            "Invalid email",
            "invalid_email",
        ),
        (
            json!({"email": "TAKEN@Example.com", "username": "x"}),
            "Email already exists",
            "email_exists",
        ),
        (
            json!({"email": "a@example.com", "username": "ab", "password1": "a"}),
            "Username must contain from 3 to 20 symbols",
            "username_length",
        ),
        (
            json!({"email": "a@example.com", "username": "a".repeat(21)}),
            "Username must contain from 3 to 20 symbols",
            "username_length",
        ),
        (
            json!({"email": "a@example.com", "username": "bad name"}),
            "Username must not contain special characters",
            "username_characters",
        ),
        (
            json!({"email": "a@example.com", "username": "Settings"}),
            "Wrong username",
            "username_reserved",
        ),
        (
            json!({"email": "a@example.com", "username": "TAKEN"}),
            "Username already exists",
            "username_exists",
        ),
        (
            json!({"email": "a@example.com", "username": "fresh", "password1": "short", "password2": "short"}),
            "Password must contain from 8 to 128 symbols",
            "password_length",
        ),
        (
            json!({"email": "a@example.com", "username": "fresh", "password1": "x".repeat(129), "password2": "x".repeat(129)}),
            "Password must contain from 8 to 128 symbols",
            "password_length",
        ),
        (
            json!({"email": "a@example.com", "username": "fresh", "password1": "password1", "password2": "password2"}),
            "Passwords mismatch",
            "password_mismatch",
        ),
        (
            json!({"email": "a@example.com", "username": "freshname", "password1": "FreshName", "password2": "FreshName"}),
            "Password must differ from username and email",
            "password_matches_identity",
        ),
        (
            json!({"username": "fresh"}),
            "Field required: email",
            "field_required",
        ),
        (
            json!({"email": "a@example.com", "username": "fresh", "password1": "password1"}),
            "Field required: password2",
            "field_required",
        ),
        (
            json!({"email": 5}),
            "Field email must be a string",
            "invalid_body",
        ),
    ];
    for (body, detail, code) in cases {
        let r = c.post("/register", body.clone()).await;
        r.assert_error(400, detail, code);
        assert!(r.set_cookies().is_empty(), "{body}");
    }
    // Trimmed fields, a lower-cased domain, non-ASCII and spaces in the password, unknown
    // fields ignored.
    let r = c
        .post(
            "/register",
            json!({
                "email": "  Bob.Smith@EXAMPLE.org ",
                "username": " bob_smith ",
                "password1": "pässwörd with spaces",
                "password2": "pässwörd with spaces",
                "unknown": [1, 2, 3],
            }),
        )
        .await;
    r.assert_null();
    let r = c.get("/confirm").await;
    assert_eq!(r.body["email"], "Bob.Smith@example.org");
    let r = c.post_empty("/token").await;
    assert_eq!(r.body["username"], "bob_smith");
    let mut again = s.client();
    let r = again
        .post(
            "/login",
            json!({"login": "bob_smith", "password": "pässwörd with spaces"}),
        )
        .await;
    r.assert_null();
}

pub async fn register_rejects_malformed_bodies(s: &TestServer) {
    let mut c = s.client();
    let json_ct = [("content-type", "application/json")];
    let r = c
        .send("POST", "/register", &json_ct, b"{not json".to_vec())
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["code"], "invalid_body");
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .starts_with("Malformed JSON"),
        "{}",
        r.body
    );
    let r = c
        .send("POST", "/register", &json_ct, b"[1,2]".to_vec())
        .await;
    r.assert_error(400, "Request body must be a JSON object", "invalid_body");
    let r = c
        .send("POST", "/register", &json_ct, b"\"text\"".to_vec())
        .await;
    r.assert_error(400, "Request body must be a JSON object", "invalid_body");
    let r = c.send("POST", "/register", &json_ct, Vec::new()).await;
    r.assert_error(400, "Field required: email", "field_required");
    let r = c
        .send(
            "POST",
            "/register",
            &[("content-type", "text/plain")],
            b"{}".to_vec(),
        )
        .await;
    r.assert_error(
        400,
        "Content-Type must be application/json",
        "unsupported_content_type",
    );
    let r = c
        .send(
            "POST",
            "/register",
            &[("content-type", "application/x-www-form-urlencoded")],
            b"email=a".to_vec(),
        )
        .await;
    r.assert_error(
        400,
        "Content-Type must be application/json",
        "unsupported_content_type",
    );
    let big = json!({"email": "x".repeat(17 * 1024)})
        .to_string()
        .into_bytes();
    let r = c.send("POST", "/register", &json_ct, big).await;
    r.assert_error(413, "Payload too large", "payload_too_large");
    // Just under the limit is read (and judged on its content).
    let fits = json!({"email": "x".repeat(16 * 1024 - 20)})
        .to_string()
        .into_bytes();
    assert!(fits.len() <= 16 * 1024);
    let r = c.send("POST", "/register", &json_ct, fits).await;
    r.assert_error(400, "Invalid email", "invalid_email");
    // No content type at all: still read as JSON.
    let r = c
        .send(
            "POST",
            "/login",
            &[],
            br#"{"login":"ghost","password":"whatever1"}"#.to_vec(),
        )
        .await;
    r.assert_error(404, "User not found", "user_not_found");
    let r = c
        .send(
            "POST",
            "/register",
            &json_ct,
            "{\"email\": \"\u{0}\"}".as_bytes().to_vec(),
        )
        .await;
    assert_eq!(r.status, 400);
}

pub async fn register_race_creates_one_user(s: &TestServer) {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50 {
        let url = s.url("/register");
        let http = s.http.clone();
        tasks.spawn(async move {
            let body = json!({
                "email": format!("racer{i}@example.com"),
                "username": "racer",
                "password1": PASSWORD,
                "password2": PASSWORD,
            });
            let r = http.post(url).json(&body).send().await.unwrap();
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap();
            (status, body)
        });
    }
    assert_one_winner(tasks).await;
}

pub async fn login_by_username_and_email(s: &TestServer) {
    s.register("carol").await;
    for login in [
        "carol",
        "CAROL",
        "carol@example.com",
        "Carol@EXAMPLE.com",
        "  carol  ",
    ] {
        let mut c = s.client();
        let r = c
            .post("/login", json!({"login": login, "password": PASSWORD}))
            .await;
        r.assert_null();
        assert_eq!(r.header("cache-control"), Some("no-store"));
        assert_eq!(r.set_cookies().len(), 2);
        assert!(r.set_cookies()[0].starts_with("access_token="));
        let claims = verify_independently(&c.cookie("access_token").unwrap());
        assert_eq!(claims["username"], "carol");
    }
    // Each login is its own session.
    let mut a = s.client();
    a.post("/login", json!({"login": "carol", "password": PASSWORD}))
        .await
        .assert_null();
    let mut b = s.client();
    b.post("/login", json!({"login": "carol", "password": PASSWORD}))
        .await
        .assert_null();
    let sa = verify_independently(&a.cookie("refresh_token").unwrap())["sid"].clone();
    let sb = verify_independently(&b.cookie("refresh_token").unwrap())["sid"].clone();
    assert_ne!(sa, sb);
}

pub async fn login_failures(s: &TestServer) {
    let mut dave = s.register("dave").await;
    let id = s.id_of(&mut dave).await;
    let mut c = s.client();
    c.post("/login", json!({"login": "nobody", "password": PASSWORD}))
        .await
        .assert_error(404, "User not found", "user_not_found");
    c.post(
        "/login",
        json!({"login": "nobody@example.com", "password": PASSWORD}),
    )
    .await
    .assert_error(404, "User not found", "user_not_found");
    let r = c
        .post(
            "/login",
            json!({"login": "dave", "password": "wrong password"}),
        )
        .await;
    r.assert_error(401, "Invalid credentials", "invalid_credentials");
    assert!(r.set_cookies().is_empty());
    c.post("/login", json!({"login": "dave"}))
        .await
        .assert_error(400, "Field required: password", "field_required");
    c.post("/login", json!({"password": PASSWORD}))
        .await
        .assert_error(400, "Field required: login", "field_required");
    c.post("/login", json!({"login": ["dave"], "password": PASSWORD}))
        .await
        .assert_error(400, "Field login must be a string", "invalid_body");
    // Banned: only after a correct password.
    s.ban(id).await;
    c.post(
        "/login",
        json!({"login": "dave", "password": "wrong password"}),
    )
    .await
    .assert_error(401, "Invalid credentials", "invalid_credentials");
    let r = c
        .post("/login", json!({"login": "dave", "password": PASSWORD}))
        .await;
    r.assert_error(400, "User is banned", "user_banned");
    assert!(r.set_cookies().is_empty());
}

pub async fn login_lockout_and_reset(s: &TestServer) {
    s.register("erin").await;
    let mut c = s.client();
    let bad = json!({"login": "erin", "password": "wrong password"});
    let good = json!({"login": "erin", "password": PASSWORD});
    // Four failures, then a success resets the account counter.
    for _ in 0..4 {
        c.post("/login", bad.clone()).await.assert_error(
            401,
            "Invalid credentials",
            "invalid_credentials",
        );
    }
    c.post("/login", good.clone()).await.assert_null();
    for _ in 0..5 {
        c.post("/login", bad.clone()).await.assert_error(
            401,
            "Invalid credentials",
            "invalid_credentials",
        );
    }
    // Locked for 60 s: even the right password is refused before it is checked.
    let r = c.post("/login", good.clone()).await;
    r.assert_error(429, "Too many requests", "too_many_requests");
    assert_eq!(r.header("retry-after"), Some("60"));
    // Also by email: the lock is the account's.
    let r = c
        .post(
            "/login",
            json!({"login": "erin@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 429);
    s.clock.advance(61);
    // One more failure doubles the lock.
    c.post("/login", bad.clone()).await.assert_error(
        401,
        "Invalid credentials",
        "invalid_credentials",
    );
    let r = c.post("/login", good.clone()).await;
    assert_eq!(r.header("retry-after"), Some("120"));
    s.clock.advance(121);
    c.post("/login", good.clone()).await.assert_null();
    // The success reset the counter: one failure does not lock.
    c.post("/login", bad.clone()).await.assert_error(
        401,
        "Invalid credentials",
        "invalid_credentials",
    );
    c.post("/login", good).await.assert_null();
}

pub async fn login_per_ip_limit(s: &TestServer) {
    let s = s
        .variant(Options {
            login_per_ip: 5,
            ..Options::default()
        })
        .await;
    s.register("frank").await;
    let mut c = s.client();
    for _ in 0..5 {
        c.post("/login", json!({"login": "frank", "password": PASSWORD}))
            .await
            .assert_null();
    }
    // Successes count too: the IP budget is never reset by a success.
    let r = c
        .post("/login", json!({"login": "frank", "password": PASSWORD}))
        .await;
    r.assert_error(429, "Too many requests", "too_many_requests");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
}

pub async fn login_concurrent_failures_all_count(s: &TestServer) {
    let s = s
        .variant(Options {
            login_per_ip: 0,
            ..Options::default()
        })
        .await;
    s.register("gina").await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let url = s.url("/login");
        let http = s.http.clone();
        tasks.spawn(async move {
            let r = http
                .post(url)
                .json(&json!({"login": "gina", "password": "wrong password"}))
                .send()
                .await
                .unwrap();
            r.status().as_u16()
        });
    }
    let mut statuses = Vec::new();
    while let Some(status) = tasks.join_next().await {
        statuses.push(status.unwrap());
    }
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 429),
        "{statuses:?}"
    );
    let failures = statuses.iter().filter(|s| **s == 401).count();
    // Every failure that reached the password check was counted: the lock now reflects them
    // all (5 failures lock 60 s, each further one doubles it, capped at 900 s).
    let mut c = s.client();
    let r = c
        .post("/login", json!({"login": "gina", "password": PASSWORD}))
        .await;
    assert_eq!(r.status, 429);
    let expected = (60_u64 << (failures - 5).min(30)).min(900);
    assert_eq!(
        r.header("retry-after").unwrap().parse::<u64>().unwrap(),
        expected,
        "{failures} failures"
    );
    assert!(failures >= 5);
}

pub async fn hidden_user_existence(s: &TestServer) {
    let s = s
        .variant(Options {
            hide_user_existence: true,
            ..Options::default()
        })
        .await;
    s.register("hank").await;
    let mut c = s.client();
    let unknown = c
        .post("/login", json!({"login": "nobody", "password": PASSWORD}))
        .await;
    let wrong = c
        .post(
            "/login",
            json!({"login": "hank", "password": "wrong password"}),
        )
        .await;
    unknown.assert_error(401, "Invalid credentials", "invalid_credentials");
    wrong.assert_error(401, "Invalid credentials", "invalid_credentials");
    assert_eq!(unknown.body, wrong.body);
}

pub async fn logout_revokes_the_session(s: &TestServer) {
    let mut c = s.register("ivan").await;
    let refresh = c.cookie("refresh_token").unwrap();
    let r = c.post_empty("/logout").await;
    r.assert_null();
    let cookies = r.set_cookies();
    assert_eq!(cookies, vec![
        "access_token=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT".to_owned(),
        "refresh_token=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT".to_owned(),
    ]);
    assert!(c.cookies.is_empty());
    // The refresh token of that session never works again.
    let mut thief = s.client();
    thief
        .cookies
        .insert("refresh_token".into(), refresh.clone());
    thief
        .post_empty("/token/refresh")
        .await
        .assert_error(401, "Invalid token", "invalid_token");
    let mut api = s.client();
    api.post("/token/refresh", json!({"refresh": refresh}))
        .await
        .assert_error(401, "Invalid token", "invalid_token");
    // Logout without anything, or with junk, is still 200 null.
    s.client().post_empty("/logout").await.assert_null();
    let mut junk = s.client();
    junk.cookies.insert("refresh_token".into(), "junk".into());
    junk.send(
        "POST",
        "/logout",
        &[("content-type", "application/json")],
        b"{oops".to_vec(),
    )
    .await
    .assert_null();
    // A non-browser client logs out with the refresh token in the body.
    let mut other = s.client();
    other
        .post("/login", json!({"login": "ivan", "password": PASSWORD}))
        .await
        .assert_null();
    let token = other.cookies.remove("refresh_token").unwrap();
    other.cookies.clear();
    other
        .post("/logout", json!({"refresh": token.clone()}))
        .await
        .assert_null();
    s.client()
        .post("/token/refresh", json!({"refresh": token}))
        .await
        .assert_error(401, "Invalid token", "invalid_token");
}

pub async fn token_returns_claims_bearer_or_cookie(s: &TestServer) {
    let mut c = s.register("judy").await;
    let access = c.cookie("access_token").unwrap();
    let r = c.post_empty("/token").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.body, verify_independently(&access));
    // Bearer alone works; the bearer wins over the cookie.
    let mut api = s.client();
    api.bearer = Some(access.clone());
    assert_eq!(api.post_empty("/token").await.body["username"], "judy");
    let mut both = s.client();
    both.cookies.insert("access_token".into(), "junk".into());
    both.bearer = Some(access);
    assert_eq!(both.post_empty("/token").await.status, 200);
    let mut bad_bearer = s.client();
    bad_bearer.cookies = c.cookies.clone();
    bad_bearer.bearer = Some("junk".into());
    bad_bearer
        .post_empty("/token")
        .await
        .assert_error(401, "Invalid token", "invalid_token");
    // Nothing sent.
    s.client().post_empty("/token").await.assert_error(
        401,
        "Not authenticated",
        "not_authenticated",
    );
    s.client()
        .get("/confirm")
        .await
        .assert_error(401, "Not authenticated", "not_authenticated");
    s.client().post_empty("/confirm").await.assert_error(
        401,
        "Not authenticated",
        "not_authenticated",
    );
    s.client()
        .post("/1/change_username", json!({"username": "x"}))
        .await
        .assert_error(401, "Not authenticated", "not_authenticated");
}

pub async fn forged_tokens_are_refused(s: &TestServer) {
    let c = s.register("kate").await;
    let access = c.cookie("access_token").unwrap();
    let refresh = c.cookie("refresh_token").unwrap();
    let claims = verify_independently(&access);
    let hs256 = json!({"alg": "HS256", "typ": "JWT"});
    // Sanity: a token signed by hand with the right key passes, so the refusals below are
    // about the forgery, not the signer.
    let mut api = s.client();
    api.bearer = Some(sign(&hs256, &claims));
    assert_eq!(api.post_empty("/token").await.status, 200);

    let mut forged: Vec<(String, String)> = Vec::new();
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    forged.push((
        "alg none".into(),
        format!(
            "{}.{}.",
            b64(&json!({"alg": "none", "typ": "JWT"})),
            b64(&claims)
        ),
    ));
    let mut admin = claims.clone();
    admin["permissions"] = json!(["admin"]);
    forged.push((
        "alg none admin".into(),
        format!("{}.{}.", b64(&json!({"alg": "none"})), b64(&admin)),
    ));
    {
        use hmac::{KeyInit, Mac};
        let message = format!("{}.{}", b64(&json!({"alg": "HS512"})), b64(&claims));
        let mut mac = hmac::Hmac::<sha2::Sha512>::new_from_slice(SECRET).unwrap();
        mac.update(message.as_bytes());
        forged.push((
            "HS512 with the same secret".into(),
            format!(
                "{message}.{}",
                URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
            ),
        ));
    }
    let parts: Vec<&str> = access.split('.').collect();
    forged.push((
        "payload swapped".into(),
        format!("{}.{}.{}", parts[0], b64(&admin), parts[2]),
    ));
    let mut sig = parts[2].to_owned();
    let last = sig.pop().unwrap();
    sig.push(if last == 'A' { 'Q' } else { 'A' });
    forged.push((
        "bad signature".into(),
        format!("{}.{}.{sig}", parts[0], parts[1]),
    ));
    let mut exp_string = claims.clone();
    exp_string["exp"] = json!(claims["exp"].as_i64().unwrap().to_string());
    forged.push(("exp as a string".into(), sign(&hs256, &exp_string)));
    let mut no_exp = claims.clone();
    no_exp.as_object_mut().unwrap().remove("exp");
    forged.push(("exp missing".into(), sign(&hs256, &no_exp)));
    let mut no_iat = claims.clone();
    no_iat.as_object_mut().unwrap().remove("iat");
    forged.push(("iat missing".into(), sign(&hs256, &no_iat)));
    let mut no_type = claims.clone();
    no_type.as_object_mut().unwrap().remove("type");
    forged.push(("type missing".into(), sign(&hs256, &no_type)));
    let mut expired = claims.clone();
    expired["exp"] = json!(s.clock.now() - 1);
    forged.push(("expired".into(), sign(&hs256, &expired)));
    forged.push(("refresh token as access token".into(), refresh.clone()));
    forged.push(("garbage".into(), "a.b.c".into()));

    for (what, token) in forged {
        let mut bearer = s.client();
        bearer.bearer = Some(token.clone());
        bearer
            .post_empty("/token")
            .await
            .assert_error(401, "Invalid token", "invalid_token");
        let mut cookie = s.client();
        cookie.cookies.insert("access_token".into(), token);
        let r = cookie.get("/confirm").await;
        assert_eq!(r.status, 401, "{what}: {}", r.body);
    }
    // An access token used as a refresh token.
    let mut swap = s.client();
    swap.cookies.insert("refresh_token".into(), access.clone());
    swap.post_empty("/token/refresh")
        .await
        .assert_error(401, "Invalid token", "invalid_token");
    // A refresh token signed with the right key but typed "access" in the wrong place, and an
    // expired access token by the service's clock.
    s.clock.advance(900);
    let mut late = s.client();
    late.bearer = Some(access);
    late.post_empty("/token")
        .await
        .assert_error(401, "Invalid token", "invalid_token");
}

pub async fn refresh_rotates_and_detects_reuse(s: &TestServer) {
    let mut c = s.register("liam").await;
    let first = c.cookie("refresh_token").unwrap();
    let r = c.post_empty("/token/refresh").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let access = r.body["access"].as_str().unwrap().to_owned();
    assert_eq!(r.body.as_object().unwrap().len(), 1);
    let cookies = r.set_cookies();
    assert_eq!(cookies.len(), 2);
    assert!(cookies[0].starts_with(&format!("access_token={access};")));
    let second = c.cookie("refresh_token").unwrap();
    assert_ne!(first, second);
    assert_eq!(verify_independently(&access)["type"], "access");
    assert_eq!(
        verify_independently(&second)["sid"],
        verify_independently(&first)["sid"]
    );

    // The old token within the grace period: refused, but the session lives.
    let mut old = s.client();
    old.cookies.insert("refresh_token".into(), first.clone());
    old.post_empty("/token/refresh")
        .await
        .assert_error(401, "Invalid token", "invalid_token");
    let r = c.post_empty("/token/refresh").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let third = c.cookie("refresh_token").unwrap();

    // After the grace period a replay of a rotated token revokes the whole session.
    s.clock.advance(11);
    old.cookies.insert("refresh_token".into(), second);
    old.post_empty("/token/refresh")
        .await
        .assert_error(401, "Invalid token", "invalid_token");
    let r = c.post_empty("/token/refresh").await;
    r.assert_error(401, "Invalid token", "invalid_token");
    assert_eq!(c.cookie("refresh_token"), Some(third));

    // Refresh from the body, for non-browser clients.
    let mut api = s.client();
    api.post("/login", json!({"login": "liam", "password": PASSWORD}))
        .await
        .assert_null();
    let token = api.cookies.remove("refresh_token").unwrap();
    api.cookies.clear();
    let r = api.post("/token/refresh", json!({"refresh": token})).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

pub async fn refresh_race_has_one_winner(s: &TestServer) {
    let c = s.register("mona").await;
    let refresh = c.cookie("refresh_token").unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let url = s.url("/token/refresh");
        let http = s.http.clone();
        let cookie = format!("refresh_token={refresh}");
        tasks.spawn(async move {
            http.post(url)
                .header("cookie", cookie)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    let mut statuses = Vec::new();
    while let Some(status) = tasks.join_next().await {
        statuses.push(status.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        19,
        "{statuses:?}"
    );
}

pub async fn refresh_edge_cases(s: &TestServer) {
    s.client().post_empty("/token/refresh").await.assert_error(
        401,
        "Not authenticated",
        "not_authenticated",
    );
    s.client()
        .post("/token/refresh", json!({}))
        .await
        .assert_error(401, "Not authenticated", "not_authenticated");
    s.client()
        .post("/token/refresh", json!({"refresh": "junk"}))
        .await
        .assert_error(401, "Invalid token", "invalid_token");
    s.client()
        .post("/token/refresh", json!({"refresh": 5}))
        .await
        .assert_error(400, "Field refresh must be a string", "invalid_body");
    // A banned user's refresh token stops working.
    let mut c = s.register("nina").await;
    let id = s.id_of(&mut c).await;
    s.ban(id).await;
    c.post_empty("/token/refresh")
        .await
        .assert_error(401, "Invalid token", "invalid_token");
    // An expired refresh token.
    let c2 = s.register("otto").await;
    let mut late = s.client();
    late.cookies
        .insert("refresh_token".into(), c2.cookie("refresh_token").unwrap());
    s.clock.advance(1_209_600);
    late.post_empty("/token/refresh")
        .await
        .assert_error(401, "Invalid token", "invalid_token");
}

pub async fn email_confirmation_flow(s: &TestServer) {
    let mut c = s.register("paul").await;
    let first = s.mail_to("paul@example.com", 1).await;
    c.post_empty("/confirm").await.assert_null();
    let second = s.mail_to("paul@example.com", 2).await;
    assert_ne!(link_token(&first), link_token(&second));
    c.post_empty("/confirm").await.assert_null();
    let r = c.post_empty("/confirm").await;
    r.assert_error(429, "Too many requests", "too_many_requests");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=1800).contains(&retry), "{retry}");
    // The mail carries both parts and the sender's display name.
    assert!(second.html.contains(&link_token(&second)));
    // A token that was never issued, and a wrong-shaped one.
    s.client()
        .post_empty("/confirm/not-a-token")
        .await
        .assert_error(403, "Invalid or expired token", "invalid_or_expired_token");
    s.client()
        .post_empty(&format!("/confirm/{}", "x".repeat(500)))
        .await
        .assert_error(403, "Invalid or expired token", "invalid_or_expired_token");
    // Confirm with the first mail's token, without being logged in.
    s.client()
        .post_empty(&format!("/confirm/{}", link_token(&first)))
        .await
        .assert_null();
    let r = c.get("/confirm").await;
    assert_eq!(
        r.body,
        json!({"email": "paul@example.com", "confirmed": true})
    );
    c.post_empty("/confirm").await.assert_error(
        400,
        "Email already confirmed",
        "email_already_confirmed",
    );
    // Single use, and the other outstanding token is used up too.
    s.client()
        .post_empty(&format!("/confirm/{}", link_token(&first)))
        .await
        .assert_error(403, "Invalid or expired token", "invalid_or_expired_token");
    s.client()
        .post_empty(&format!("/confirm/{}", link_token(&second)))
        .await
        .assert_error(403, "Invalid or expired token", "invalid_or_expired_token");
}

pub async fn confirmation_tokens_expire_and_are_single_use(s: &TestServer) {
    s.register("quinn").await;
    let mail = s.mail_to("quinn@example.com", 1).await;
    s.clock.advance(24 * 60 * 60);
    s.client()
        .post_empty(&format!("/confirm/{}", link_token(&mail)))
        .await
        .assert_error(403, "Invalid or expired token", "invalid_or_expired_token");
    // Concurrent use of one token: exactly one succeeds.
    s.register("rita").await;
    let mail = s.mail_to("rita@example.com", 1).await;
    let token = link_token(&mail);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let url = s.url(&format!("/confirm/{token}"));
        let http = s.http.clone();
        tasks.spawn(async move { http.post(url).send().await.unwrap().status().as_u16() });
    }
    let mut statuses = Vec::new();
    while let Some(status) = tasks.join_next().await {
        statuses.push(status.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 403).count(),
        9,
        "{statuses:?}"
    );
}

pub async fn change_username_rules(s: &TestServer) {
    let mut sam = s.register("sam").await;
    let sam_id = s.id_of(&mut sam).await;
    let mut tess = s.register("tess").await;
    let tess_id = s.id_of(&mut tess).await;
    let path = |id: i64| format!("/{id}/change_username");

    // Someone else's name: forbidden.
    sam.post(&path(tess_id), json!({"username": "hacked"}))
        .await
        .assert_error(403, "Forbidden", "forbidden");
    // Validation.
    sam.post(&path(sam_id), json!({})).await.assert_error(
        400,
        "Field required: username",
        "field_required",
    );
    sam.post(&path(sam_id), json!({"username": "x"}))
        .await
        .assert_error(
            400,
            "Username must contain from 3 to 20 symbols",
            "username_length",
        );
    sam.post(&path(sam_id), json!({"username": "a$b"}))
        .await
        .assert_error(
            400,
            "Username must not contain special characters",
            "username_characters",
        );
    sam.post(&path(sam_id), json!({"username": "edit"}))
        .await
        .assert_error(400, "Wrong username", "username_reserved");
    sam.post(&path(sam_id), json!({"username": "sam"}))
        .await
        .assert_error(400, "Enter NEW username", "same_username");
    sam.post(&path(sam_id), json!({"username": "TESS"}))
        .await
        .assert_error(400, "Username already exists", "username_exists");
    // A case change of one's own name is allowed.
    sam.post(&path(sam_id), json!({"username": "Sam"}))
        .await
        .assert_null();
    sam.post(&path(sam_id), json!({"username": "samuel"}))
        .await
        .assert_null();
    // The old name stops working for login at once; the new one works.
    s.client()
        .post("/login", json!({"login": "sam", "password": PASSWORD}))
        .await
        .assert_error(404, "User not found", "user_not_found");
    s.client()
        .post("/login", json!({"login": "samuel", "password": PASSWORD}))
        .await
        .assert_null();
    // The next refresh carries the new name.
    let r = sam.post_empty("/token/refresh").await;
    assert_eq!(
        verify_independently(r.body["access"].as_str().unwrap())["username"],
        "samuel"
    );
    // Admins may rename others; a missing user is 404.
    let admin_route = format!("{}/admin", s.root);
    tess.send("GET", &admin_route, &[], vec![])
        .await
        .assert_error(403, "Forbidden", "forbidden");
    s.make_admin(tess_id).await;
    // The application's admin-only route reads the permission from storage, never from the
    // token: admin at once, with the token issued before.
    let r = tess.send("GET", &admin_route, &[], vec![]).await;
    assert_eq!((r.status, r.body.clone()), (200, Value::from("tess")));
    s.client()
        .send("GET", &admin_route, &[], vec![])
        .await
        .assert_error(401, "Not authenticated", "not_authenticated");
    tess.post(&path(sam_id), json!({"username": "renamed"}))
        .await
        .assert_null();
    tess.post(&path(999_999), json!({"username": "ghost"}))
        .await
        .assert_error(404, "User not found", "user_not_found");
    // Non-numeric and huge ids, also once percent-decoded, and bad percent-encoding.
    for id in [
        "abc",
        "-1",
        "1.5",
        "99999999999999999999999",
        "1%20",
        "%2D1",
        "%zz",
        "%ff",
    ] {
        let r = tess
            .post(
                &format!("/{id}/change_username"),
                json!({"username": "whatever"}),
            )
            .await;
        r.assert_error(404, "Not found", "not_found");
    }
    // The parameter is percent-decoded like any path segment: `%31` is `1`.
    let encoded = sam_id
        .to_string()
        .bytes()
        .fold(String::new(), |mut out, b| {
            let _ = write!(out, "%{b:02X}");
            out
        });
    tess.post(
        &format!("/{encoded}/change_username"),
        json!({"username": "decoded"}),
    )
    .await
    .assert_null();
    s.client()
        .post("/login", json!({"login": "decoded", "password": PASSWORD}))
        .await
        .assert_null();
}

pub async fn change_username_race_has_one_winner(s: &TestServer) {
    let mut clients = Vec::new();
    for i in 0..50 {
        let mut c = s.register(&format!("racer{i}")).await;
        let id = s.id_of(&mut c).await;
        clients.push((id, c.cookie("access_token").unwrap()));
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (id, access) in clients {
        let url = s.url(&format!("/{id}/change_username"));
        let http = s.http.clone();
        tasks.spawn(async move {
            let r = http
                .post(url)
                .bearer_auth(access)
                .json(&json!({"username": "winner"}))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap())
        });
    }
    assert_one_winner(tasks).await;
}

pub async fn routing_errors_are_json(s: &TestServer) {
    let mut c = s.client();
    c.get("/nowhere")
        .await
        .assert_error(404, "Not found", "not_found");
    c.post_empty("/register/")
        .await
        .assert_error(404, "Not found", "not_found");
    c.get("/login")
        .await
        .assert_error(405, "Method not allowed", "method_not_allowed");
    c.send("DELETE", "/confirm", &[], vec![])
        .await
        .assert_error(405, "Method not allowed", "method_not_allowed");
    c.get("/1/change_username")
        .await
        .assert_error(405, "Method not allowed", "method_not_allowed");
}

pub async fn cross_site_requests_are_refused(s: &TestServer) {
    let login = json!({"login": "nobody", "password": PASSWORD})
        .to_string()
        .into_bytes();
    let ct = ("content-type", "application/json");
    let mut c = s.client();
    for headers in [
        vec![ct, ("origin", "https://evil.example")],
        vec![ct, ("origin", "null")],
        vec![ct, ("sec-fetch-site", "cross-site")],
        vec![
            ct,
            ("origin", "http://localhost:8000"),
            ("sec-fetch-site", "cross-site"),
        ],
    ] {
        let r = c.send("POST", "/login", &headers, login.clone()).await;
        r.assert_error(403, "Cross-site request refused", "cross_site_request");
    }
    // The front end's own origin, same-site fetches and clients that send neither header pass.
    for headers in [
        vec![ct, ("origin", "http://localhost:8000")],
        vec![
            ct,
            ("origin", "http://localhost:8000/"),
            ("sec-fetch-site", "same-origin"),
        ],
        vec![ct, ("sec-fetch-site", "same-site")],
        vec![ct],
    ] {
        let r = c.send("POST", "/login", &headers, login.clone()).await;
        r.assert_error(404, "User not found", "user_not_found");
    }
    // Register and logout are guarded too; reads are not.
    let mut user = s.register("uma").await;
    let evil = [("origin", "https://evil.example")];
    user.send("POST", "/logout", &evil, vec![])
        .await
        .assert_error(403, "Cross-site request refused", "cross_site_request");
    user.send("POST", "/token/refresh", &evil, vec![])
        .await
        .assert_error(403, "Cross-site request refused", "cross_site_request");
    assert_eq!(
        user.send("GET", "/confirm", &evil, vec![]).await.status,
        200
    );
    // Bearer-authenticated requests carry no ambient credential: exempt.
    let mut api = s.client();
    api.bearer = user.cookie("access_token");
    assert_eq!(api.send("POST", "/token", &evil, vec![]).await.status, 200);
}

pub async fn double_submit_csrf(s: &TestServer) {
    let s = s
        .variant(Options {
            csrf_double_submit: true,
            ..Options::default()
        })
        .await;
    let mut c = s.client();
    let r = c.post("/register", registration("vera")).await;
    r.assert_null();
    let cookies = r.set_cookies();
    assert_eq!(cookies.len(), 3, "{cookies:?}");
    let csrf = c.cookie("csrf_token").unwrap();
    assert_eq!(
        cookies[2],
        format!("csrf_token={csrf}; SameSite=Lax; Path=/; Max-Age=1209600")
    );
    // Without the header, or with another value: refused.
    c.post_empty("/token").await.assert_error(
        403,
        "Cross-site request refused",
        "cross_site_request",
    );
    c.send("POST", "/token", &[("x-csrf-token", "forged")], vec![])
        .await
        .assert_error(403, "Cross-site request refused", "cross_site_request");
    // Another session's token does not fit this session.
    let other = s.register("walt").await;
    let other_csrf = other.cookie("csrf_token").unwrap();
    c.send("POST", "/token", &[("x-csrf-token", &other_csrf)], vec![])
        .await
        .assert_error(403, "Cross-site request refused", "cross_site_request");
    // The right one passes; reads need none.
    assert_eq!(
        c.send("POST", "/token", &[("x-csrf-token", &csrf)], vec![])
            .await
            .status,
        200
    );
    assert_eq!(c.get("/confirm").await.status, 200);
    // Refresh keeps the session, so the token stays the same.
    let r = c
        .send("POST", "/token/refresh", &[("x-csrf-token", &csrf)], vec![])
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(c.cookie("csrf_token"), Some(csrf.clone()));
    // Bearer clients are exempt; logout deletes the CSRF cookie too.
    let mut api = s.client();
    api.bearer = c.cookie("access_token");
    assert_eq!(api.post_empty("/token").await.status, 200);
    let r = c
        .send("POST", "/logout", &[("x-csrf-token", &csrf)], vec![])
        .await;
    r.assert_null();
    assert_eq!(r.set_cookies().len(), 3);
    assert!(c.cookies.is_empty());
}

pub async fn tokens_in_body_for_api_clients(s: &TestServer) {
    let s = s
        .variant(Options {
            tokens_in_body: true,
            ..Options::default()
        })
        .await;
    let mut c = s.client();
    let r = c.post("/register", registration("xena")).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body["access"].as_str(),
        c.cookie("access_token").as_deref()
    );
    assert_eq!(
        r.body["refresh"].as_str(),
        c.cookie("refresh_token").as_deref()
    );
    let mut api = s.client();
    let r = api
        .post("/login", json!({"login": "xena", "password": PASSWORD}))
        .await;
    let refresh = r.body["refresh"].as_str().unwrap().to_owned();
    api.cookies.clear();
    let r = api
        .post("/token/refresh", json!({"refresh": refresh}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["access"].is_string() && r.body["refresh"].is_string());
    api.cookies.clear();
    api.bearer = r.body["access"].as_str().map(str::to_owned);
    assert_eq!(api.post_empty("/token").await.body["username"], "xena");
}

pub async fn revoked_sessions_lose_access_at_once(s: &TestServer) {
    let mut c = s.register("yuri").await;
    let access = c.cookie("access_token").unwrap();
    let mut other = s.client();
    other
        .post("/login", json!({"login": "yuri", "password": PASSWORD}))
        .await
        .assert_null();
    c.post_empty("/logout").await.assert_null();
    let mut stolen = s.client();
    stolen.bearer = Some(access);
    stolen
        .post_empty("/token")
        .await
        .assert_error(401, "Invalid token", "invalid_token");
    // Other sessions of the same user are untouched.
    assert_eq!(other.post_empty("/token").await.status, 200);
    // A replayed refresh token kills its session's access tokens too.
    let first = other.cookie("refresh_token").unwrap();
    assert_eq!(other.post_empty("/token/refresh").await.status, 200);
    s.clock.advance(11);
    let mut thief = s.client();
    thief.cookies.insert("refresh_token".into(), first);
    thief
        .post_empty("/token/refresh")
        .await
        .assert_error(401, "Invalid token", "invalid_token");
    other
        .post_empty("/token")
        .await
        .assert_error(401, "Invalid token", "invalid_token");
}

pub async fn jwks_serves_asymmetric_keys(s: &TestServer) {
    // HS256 has no public key to publish.
    s.client()
        .get("/.well-known/jwks.json")
        .await
        .assert_error(404, "Not found", "not_found");
    let old_token = s.register("zack").await.cookie("access_token").unwrap();

    let s = s
        .variant(Options {
            eddsa: true,
            ..Options::default()
        })
        .await;
    let r = s.client().get("/.well-known/jwks.json").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let keys = r.body["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "the HS256 secret is never published");
    let jwk = &keys[0];
    assert_eq!(jwk["kty"], "OKP");
    assert_eq!(jwk["crv"], "Ed25519");
    assert_eq!(jwk["use"], "sig");
    // A token of the new key verifies with the published key, outside jsonwebtoken.
    let c = s.register("zoe").await;
    let token = c.cookie("access_token").unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["kid"], jwk["kid"]);
    let x: [u8; 32] = URL_SAFE_NO_PAD
        .decode(jwk["x"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let key = ed25519_dalek::VerifyingKey::from_bytes(&x).unwrap();
    let sig: [u8; 64] = URL_SAFE_NO_PAD
        .decode(parts[2])
        .unwrap()
        .try_into()
        .unwrap();
    key.verify_strict(
        format!("{}.{}", parts[0], parts[1]).as_bytes(),
        &ed25519_dalek::Signature::from_bytes(&sig),
    )
    .expect("the JWKS key verifies the token");
    // A token signed with the previous key (HS256, kept for verification) still works; the
    // same claims under the new key's kid, or with no kid, or with alg none, do not.
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let old_kid = authx::token::JwtBackend::hs256(SECRET)
        .unwrap()
        .kid()
        .to_owned();
    let mut api = s.client();
    api.bearer = Some(sign(&json!({"alg": "HS256", "kid": old_kid}), &claims));
    assert_eq!(api.post_empty("/token").await.status, 200);
    for header in [
        json!({"alg": "HS256", "kid": jwk["kid"]}),
        json!({"alg": "HS256"}),
    ] {
        api.bearer = Some(sign(&header, &claims));
        api.post_empty("/token")
            .await
            .assert_error(401, "Invalid token", "invalid_token");
    }
    api.bearer = Some(format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(json!({"alg": "none", "kid": jwk["kid"]}).to_string()),
        parts[1]
    ));
    api.post_empty("/token")
        .await
        .assert_error(401, "Invalid token", "invalid_token");
    // A token issued before the rotation (by the HS256 server, same secret) still verifies.
    let mut before = s.client();
    before.bearer = Some(old_token);
    assert_eq!(before.post_empty("/token").await.body["username"], "zack");
}

/// One answer of the identity script, with what differs between runs masked: token values
/// (in bodies and cookies) and the claims that are random or time-dependent.
#[derive(Debug, PartialEq)]
struct Step {
    request: String,
    status: u16,
    headers: Vec<(&'static str, Option<String>)>,
    body: Value,
    set_cookies: Vec<Vec<String>>,
}

fn mask(value: &Value) -> Value {
    match value {
        Value::String(s) if s.starts_with("eyJ") && s.split('.').count() == 3 => json!("<jwt>"),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = if ["iat", "exp", "jti", "sid", "auth_ms"].contains(&k.as_str()) {
                        json!("<masked>")
                    } else {
                        mask(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A `Set-Cookie` value attribute by attribute, its token value masked.
fn cookie_attributes(cookie: &str) -> Vec<String> {
    cookie
        .split(';')
        .map(str::trim)
        .enumerate()
        .map(|(i, part)| match part.split_once('=') {
            Some((name, value)) if i == 0 && !value.is_empty() => format!("{name}=<token>"),
            _ => part.to_owned(),
        })
        .collect()
}

/// A request of the identity script: method, path, headers, body.
type ScriptedRequest<'a> = (&'a str, String, &'a [(&'a str, &'a str)], Vec<u8>);

/// A fixed script of requests, good and bad, with its answers masked.
async fn identity_script(s: &TestServer) -> Vec<Step> {
    let json_ct: &[(&str, &str)] = &[("content-type", "application/json")];
    let register = registration("alice").to_string().into_bytes();
    let big = json!({"email": "x".repeat(17 * 1024)})
        .to_string()
        .into_bytes();
    let login = |password: &str| {
        json!({"login": "alice", "password": password})
            .to_string()
            .into_bytes()
    };
    let me = format!("{}/me", s.root);
    let admin = format!("{}/admin", s.root);
    let script: Vec<ScriptedRequest<'_>> = vec![
        ("GET", me.clone(), &[], vec![]),
        ("POST", "/register".into(), json_ct, register.clone()),
        ("POST", "/register".into(), json_ct, register),
        ("POST", "/register".into(), json_ct, b"{not json".to_vec()),
        ("POST", "/register".into(), json_ct, b"[1]".to_vec()),
        (
            "POST",
            "/register".into(),
            json_ct,
            br#"{"email": 5}"#.to_vec(),
        ),
        (
            "POST",
            "/register".into(),
            &[("content-type", "text/plain")],
            b"{}".to_vec(),
        ),
        ("POST", "/register".into(), json_ct, big),
        ("POST", "/login".into(), json_ct, login("wrong password")),
        (
            "POST",
            "/login".into(),
            json_ct,
            br#"{"login": "nobody", "password": "whatever1"}"#.to_vec(),
        ),
        ("POST", "/login".into(), &[], login(PASSWORD)),
        ("POST", "/token".into(), &[], vec![]),
        ("GET", "/confirm".into(), &[], vec![]),
        ("HEAD", "/confirm".into(), &[], vec![]),
        ("POST", "/token/refresh".into(), &[], vec![]),
        (
            "POST",
            "/token/refresh".into(),
            json_ct,
            br#"{"refresh": "junk"}"#.to_vec(),
        ),
        ("POST", "/confirm/not-a-token".into(), &[], vec![]),
        ("POST", "/confirm/change_username".into(), &[], vec![]),
        (
            "POST",
            "/abc/change_username".into(),
            json_ct,
            br#"{"username": "bob"}"#.to_vec(),
        ),
        (
            "POST",
            "/1/change_username".into(),
            json_ct,
            br#"{"username": "alice"}"#.to_vec(),
        ),
        (
            "POST",
            "/1/change_username".into(),
            json_ct,
            br#"{"username": 7}"#.to_vec(),
        ),
        ("GET", me.clone(), &[], vec![]),
        ("GET", admin.clone(), &[], vec![]),
        // The admin and search routers, to a logged-in user who is no admin.
        ("GET", String::new(), &[], vec![]),
        ("GET", "?username=a%25&p=2".into(), &[], vec![]),
        ("GET", "/1".into(), &[], vec![]),
        ("GET", "/blacklist".into(), &[], vec![]),
        ("POST", "/1/blacklist".into(), json_ct, b"{}".to_vec()),
        ("POST", "/1/kick".into(), &[], vec![]),
        ("DELETE", "/blackout".into(), &[], vec![]),
        ("GET", "/id_by_username?username=alice".into(), &[], vec![]),
        ("POST", "/1/permissions".into(), json_ct, b"{}".to_vec()),
        ("GET", "/abc".into(), &[], vec![]),
        ("PUT", "/1".into(), &[], vec![]),
        ("GET", "/nowhere".into(), &[], vec![]),
        ("POST", "/register/".into(), &[], vec![]),
        ("POST", "/%72egister".into(), &[], vec![]),
        ("POST", String::new(), &[], vec![]),
        // Not `/api/users/`: axum's `nest` leaves it to the host application's fallback.
        ("POST", "/confirm/".into(), &[], vec![]),
        ("POST", "//change_username".into(), &[], vec![]),
        ("GET", "/login".into(), &[], vec![]),
        ("PUT", "/register".into(), json_ct, b"{}".to_vec()),
        ("DELETE", "/confirm".into(), &[], vec![]),
        ("PATCH", "/confirm/x".into(), &[], vec![]),
        ("GET", "/1/change_username".into(), &[], vec![]),
        // The password router, logged in as alice.
        ("GET", "/password".into(), &[], vec![]),
        (
            "PUT",
            "/password".into(),
            json_ct,
            br#"{"old_password": "wrong password", "password1": "x", "password2": "x"}"#.to_vec(),
        ),
        (
            "POST",
            "/password".into(),
            json_ct,
            br#"{"password1": "new password 1", "password2": "new password 1"}"#.to_vec(),
        ),
        (
            "POST",
            "/password/not-a-token".into(),
            json_ct,
            b"{}".to_vec(),
        ),
        ("DELETE", "/password".into(), &[], vec![]),
        (
            "POST",
            "/forgot_password".into(),
            json_ct,
            br#"{"email": "nobody@example.com"}"#.to_vec(),
        ),
        (
            "POST",
            "/forgot_password".into(),
            json_ct,
            br#"{"email": "alice@example.com"}"#.to_vec(),
        ),
        (
            "POST",
            "/forgot_password".into(),
            json_ct,
            br#"{"email": "not an email"}"#.to_vec(),
        ),
        ("POST", "/logout".into(), &[], vec![]),
        ("POST", "/token".into(), &[], vec![]),
        ("GET", me, &[("authorization", "Bearer junk")], vec![]),
        ("GET", admin, &[], vec![]),
        // Logged out: the admin routes ask for a token.
        ("GET", String::new(), &[], vec![]),
        ("GET", "/1".into(), &[], vec![]),
        ("POST", "/blackout".into(), &[], vec![]),
        (
            "GET",
            "/1/permissions".into(),
            &[("authorization", "Bearer junk")],
            vec![],
        ),
    ];
    let mut c = s.client();
    let mut steps = Vec::new();
    for (method, path, headers, body) in script {
        let r = c.send(method, &path, headers, body).await;
        let headers = [
            "content-type",
            "cache-control",
            "www-authenticate",
            "retry-after",
        ]
        .into_iter()
        .map(|name| (name, r.header(name).map(str::to_owned)))
        .collect();
        steps.push(Step {
            request: format!("{method} {}", path.trim_start_matches(&s.root)),
            status: r.status,
            headers,
            body: mask(&r.body),
            set_cookies: r
                .set_cookies()
                .iter()
                .map(|c| cookie_attributes(c))
                .collect(),
        });
    }
    steps
}

/// The same script against the three adapters gives the same statuses, bodies, cookies and
/// headers, step by step (tokens masked).
pub async fn same_answers_in_every_adapter(backend: Backend) {
    let mut transcripts = Vec::new();
    for adapter in Adapter::ALL {
        let Some(server) = TestServer::start(adapter, backend, Options::default()).await else {
            return;
        };
        transcripts.push((adapter, identity_script(&server).await));
    }
    let (reference, expected) = &transcripts[0];
    // The script means something: a few answers checked outright.
    let statuses = |request: &str| -> Vec<u16> {
        expected
            .iter()
            .filter(|s| s.request == request)
            .map(|s| s.status)
            .collect()
    };
    assert_eq!(
        statuses("POST /register"),
        [200, 400, 400, 400, 400, 400, 413]
    );
    assert_eq!(statuses("POST /login"), [401, 404, 200]);
    assert_eq!(statuses("POST /token"), [200, 401]);
    assert_eq!(statuses("HEAD /confirm"), [200]);
    assert_eq!(statuses("PATCH /confirm/x"), [405]);
    assert_eq!(statuses("GET "), [403, 401]);
    assert_eq!(statuses("GET /1"), [403, 401]);
    assert_eq!(statuses("POST "), [405]);
    assert_eq!(statuses("GET /abc"), [404]);
    assert_eq!(statuses("POST /blackout"), [401]);
    assert_eq!(statuses("GET /password"), [200]);
    assert_eq!(statuses("PUT /password"), [400]);
    assert_eq!(statuses("POST /forgot_password"), [200, 200, 400]);
    for (adapter, steps) in &transcripts[1..] {
        assert_eq!(steps.len(), expected.len());
        for (want, got) in expected.iter().zip(steps) {
            assert_eq!(want, got, "{adapter:?} differs from {reference:?}");
        }
    }
}
