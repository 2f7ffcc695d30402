//! The second factor (CONTRACT 9.7): enrolment from the `otpauth://` URI, login through the
//! challenge, replay, drift, five wrong codes, recovery codes once, disabling, the challenge
//! cookie, and the secret sealed at rest; plus the replay refused across two instances.
//!
//! Codes are computed here with HMAC-SHA-1 (RFC 6238, `hmac` + `sha1`), independently of the
//! crate the service uses, on the service's injected clock.

use hmac::{KeyInit as _, Mac as _};
use serde_json::{Value, json};

use crate::support::{Client, Db, PASSWORD, Reply, TestServer};

// ----- an independent RFC 6238 -----

/// RFC 4648 base32 (upper case, no padding) to bytes.
fn base32_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut bits: u64 = 0;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.trim_end_matches('=').bytes() {
        let value = ALPHABET.iter().position(|a| *a == c).expect("base32") as u64;
        bits = (bits << 5) | value;
        count += 5;
        if count >= 8 {
            count -= 8;
            out.push(u8::try_from((bits >> count) & 0xff).unwrap());
        }
    }
    out
}

/// The 6-digit TOTP code of `secret` (base32) for `step` (unix time / 30).
pub fn code_at_step(secret: &str, step: i64) -> String {
    let key = base32_decode(secret);
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(&key).expect("any key length");
    mac.update(&u64::try_from(step).unwrap().to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let value = u32::from_be_bytes(digest[offset..offset + 4].try_into().unwrap()) & 0x7fff_ffff;
    format!("{:06}", value % 1_000_000)
}

#[test]
fn the_test_totp_matches_rfc_6238() {
    // RFC 6238 appendix B, SHA-1, truncated to 6 digits; the secret is "12345678901234567890".
    let secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    assert_eq!(code_at_step(secret, 59 / 30), "287082");
    assert_eq!(code_at_step(secret, 1_111_111_109 / 30), "081804");
    assert_eq!(code_at_step(secret, 2_000_000_000 / 30), "279037");
}

fn step(s: &TestServer) -> i64 {
    s.clock_now() / 30
}

/// Moves the clock to the start of the next step, so a scenario has a whole step ahead.
fn next_step(s: &TestServer) {
    let now = s.clock_now();
    s.clock.advance(30 - now % 30);
}

// ----- helpers -----

/// Enrols `c` (logged in as `name`): the secret as the URI carries it, and the recovery codes.
async fn enrol(s: &TestServer, c: &mut Client<'_>) -> (String, Vec<String>) {
    let r = c.post("/2fa/totp", json!({"password": PASSWORD})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let uri = r.body["otpauth_uri"].as_str().unwrap().to_owned();
    let secret = uri
        .split_once("secret=")
        .and_then(|(_, rest)| rest.split('&').next())
        .unwrap()
        .to_owned();
    assert_eq!(secret, r.body["secret"].as_str().unwrap());
    let r = c
        .post(
            "/2fa/totp/confirm",
            json!({"code": code_at_step(&secret, step(s))}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let codes: Vec<String> = r.body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    (secret, codes)
}

/// A new client that logs in as `name` and gets the challenge.
async fn challenged<'s>(s: &'s TestServer, name: &str) -> Client<'s> {
    let mut c = s.client();
    let r = c
        .post("/login", json!({"login": name, "password": PASSWORD}))
        .await;
    r.assert_error(401, "Second factor required", "second_factor_required");
    assert!(c.cookie("authx_2fa").is_some(), "{:?}", r.set_cookies());
    assert!(c.cookie("access_token").is_none());
    c
}

/// `DELETE /2fa` with a JSON body.
async fn send(c: &mut Client<'_>, body: Value) -> Reply {
    let body = body.to_string().into_bytes();
    c.send(
        "DELETE",
        "/2fa",
        &[("content-type", "application/json")],
        body,
    )
    .await
}

/// Six digits that are no code of `secret` within a step of `step`.
fn wrong_code(secret: &str, step: i64) -> String {
    (0..1000)
        .map(|n| format!("{:06}", 123_456 + n))
        .find(|w| (-2..=2).all(|d| *w != code_at_step(secret, step + d)))
        .unwrap()
}

async fn second_factor(c: &mut Client<'_>, body: Value) -> Reply {
    c.post("/login/2fa", body).await
}

// ----- scenarios -----

pub async fn totp_enrolment_and_login_with_a_code(s: &TestServer) {
    let mut c = s.register("tara").await;
    let r = c.get("/2fa").await;
    assert_eq!(
        r.body,
        json!({"enabled": false, "methods": [], "recovery_codes_left": 0})
    );
    // The password first, counted like a login.
    let r = c
        .post("/2fa/totp", json!({"password": "not the password"}))
        .await;
    r.assert_error(400, "Wrong password", "wrong_password");
    let r = c.post("/2fa/totp", json!({"password": PASSWORD})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let secret = r.body["secret"].as_str().unwrap().to_owned();
    assert_eq!(
        r.body["otpauth_uri"],
        format!("otpauth://totp/Conformance:tara?secret={secret}&issuer=Conformance")
    );
    assert_eq!(base32_decode(&secret).len(), 20);
    // Pending: login needs no code yet; a wrong first code enables nothing.
    let r = c
        .post(
            "/2fa/totp/confirm",
            json!({"code": wrong_code(&secret, step(s))}),
        )
        .await;
    r.assert_error(400, "Invalid code", "invalid_code");
    let mut fresh = s.client();
    let r = fresh
        .post("/login", json!({"login": "tara", "password": PASSWORD}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Confirmed by a first code: ten recovery codes, once.
    let r = c
        .post(
            "/2fa/totp/confirm",
            json!({"code": code_at_step(&secret, step(s))}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["recovery_codes"].as_array().unwrap().len(), 10);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let r = c
        .post(
            "/2fa/totp/confirm",
            json!({"code": code_at_step(&secret, step(s))}),
        )
        .await;
    r.assert_error(400, "Second factor already enabled", "two_factor_enabled");
    let r = c.post("/2fa/totp", json!({"password": PASSWORD})).await;
    r.assert_error(400, "Second factor already enabled", "two_factor_enabled");
    let r = c.get("/2fa").await;
    assert_eq!(
        r.body,
        json!({"enabled": true, "methods": ["totp"], "recovery_codes_left": 10})
    );

    // Login: the challenge, then the code of the next step opens a session.
    next_step(s);
    let mut c = challenged(s, "tara").await;
    let code = code_at_step(&secret, step(s));
    let r = second_factor(&mut c, json!({"code": code})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let cookies = r.set_cookies();
    assert!(cookies[0].starts_with("access_token="), "{cookies:?}");
    assert!(cookies[1].starts_with("refresh_token="), "{cookies:?}");
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("authx_2fa=;") && c.contains("Max-Age=0")),
        "{cookies:?}"
    );
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let r = c.post_empty("/token").await;
    assert_eq!(r.body["username"], "tara");

    // Replay: the same code, with a new challenge, is refused.
    let mut again = challenged(s, "tara").await;
    second_factor(&mut again, json!({"code": code}))
        .await
        .assert_error(401, "Invalid code", "invalid_code");

    // Drift: one step back and one step ahead are accepted (each later than the last taken);
    // two steps ahead is not.
    s.clock.advance(60);
    let now = step(s);
    let mut c = challenged(s, "tara").await;
    second_factor(&mut c, json!({"code": code_at_step(&secret, now + 2)}))
        .await
        .assert_error(401, "Invalid code", "invalid_code");
    let r = second_factor(&mut c, json!({"code": code_at_step(&secret, now - 1)})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut c = challenged(s, "tara").await;
    let r = second_factor(&mut c, json!({"code": code_at_step(&secret, now + 1)})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // After a step ahead was taken, the current step's code is refused too.
    let mut c = challenged(s, "tara").await;
    second_factor(&mut c, json!({"code": code_at_step(&secret, now)}))
        .await
        .assert_error(401, "Invalid code", "invalid_code");
}

pub async fn the_challenge_cookie_is_short_lived_and_single_use(s: &TestServer) {
    let mut c = s.register("cleo").await;
    let (secret, _) = enrol(s, &mut c).await;
    next_step(s);
    let mut c = s.client();
    let r = c
        .post("/login", json!({"login": "cleo", "password": PASSWORD}))
        .await;
    let set = r
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("authx_2fa="))
        .unwrap();
    assert!(set.contains("HttpOnly"), "{set}");
    assert!(set.contains("Max-Age=300"), "{set}");
    assert!(set.contains("SameSite=Lax"), "{set}");
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    // Without the cookie, or with a forged one: no.
    let mut bare = s.client();
    second_factor(&mut bare, json!({"code": code_at_step(&secret, step(s))}))
        .await
        .assert_error(401, "Invalid or expired challenge", "invalid_challenge");
    bare.cookies
        .insert("authx_2fa".into(), "v1.00000000.AAAA".into());
    second_factor(&mut bare, json!({"code": code_at_step(&secret, step(s))}))
        .await
        .assert_error(401, "Invalid or expired challenge", "invalid_challenge");
    // Used once: the same cookie again, with a fresh code, opens nothing.
    let challenge = c.cookie("authx_2fa").unwrap();
    let r = second_factor(&mut c, json!({"code": code_at_step(&secret, step(s))})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    s.clock.advance(30);
    let mut replay = s.client();
    replay.cookies.insert("authx_2fa".into(), challenge);
    second_factor(&mut replay, json!({"code": code_at_step(&secret, step(s))}))
        .await
        .assert_error(401, "Invalid or expired challenge", "invalid_challenge");
    assert!(replay.cookie("access_token").is_none());
    // Expired after 5 minutes.
    let mut c = challenged(s, "cleo").await;
    s.clock.advance(301);
    second_factor(&mut c, json!({"code": code_at_step(&secret, step(s))}))
        .await
        .assert_error(401, "Invalid or expired challenge", "invalid_challenge");
}

pub async fn five_wrong_codes_end_the_challenge_and_lock_the_account(s: &TestServer) {
    let mut c = s.register("finn").await;
    let (secret, _) = enrol(s, &mut c).await;
    next_step(s);
    let right = code_at_step(&secret, step(s));
    let wrong = wrong_code(&secret, step(s));
    let mut c = challenged(s, "finn").await;
    for _ in 0..5 {
        second_factor(&mut c, json!({"code": wrong}))
            .await
            .assert_error(401, "Invalid code", "invalid_code");
    }
    // The challenge has ended: even the right code does not open it.
    second_factor(&mut c, json!({"code": right}))
        .await
        .assert_error(401, "Invalid or expired challenge", "invalid_challenge");
    // And the account lockout counted the five: the right password is refused a while.
    let mut other = s.client();
    let r = other
        .post("/login", json!({"login": "finn", "password": PASSWORD}))
        .await;
    r.assert_error(429, "Too many requests", "too_many_requests");
    s.clock.advance(61);
    let mut c = challenged(s, "finn").await;
    let r = second_factor(&mut c, json!({"code": code_at_step(&secret, step(s))})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // The success cleared the lockout: one more wrong code locks nothing.
    let mut c = challenged(s, "finn").await;
    second_factor(&mut c, json!({"code": wrong}))
        .await
        .assert_error(401, "Invalid code", "invalid_code");
    challenged(s, "finn").await;
}

pub async fn recovery_codes_work_once_and_can_be_replaced(s: &TestServer) {
    let mut me = s.register("rosa").await;
    let (secret, codes) = enrol(s, &mut me).await;
    // As `recovery_code`, and as typed (upper case, spaces for dashes) in `code`.
    let mut c = challenged(s, "rosa").await;
    let r = second_factor(&mut c, json!({"recovery_code": codes[0]})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut c = challenged(s, "rosa").await;
    second_factor(&mut c, json!({"recovery_code": codes[0]}))
        .await
        .assert_error(401, "Invalid code", "invalid_code");
    let typed = codes[1].to_uppercase().replace('-', " ");
    let r = second_factor(&mut c, json!({"code": typed})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = me.get("/2fa").await;
    assert_eq!(r.body["recovery_codes_left"], 8);
    // A TOTP code is never taken as a recovery code.
    let mut c = challenged(s, "rosa").await;
    second_factor(
        &mut c,
        json!({"recovery_code": code_at_step(&secret, step(s) + 1)}),
    )
    .await
    .assert_error(401, "Invalid code", "invalid_code");

    // Replacing needs the password and a code; each refusal changes nothing.
    next_step(s);
    let r = me
        .post(
            "/2fa/recovery_codes",
            json!({"password": "wrong password", "code": code_at_step(&secret, step(s))}),
        )
        .await;
    r.assert_error(400, "Wrong password", "wrong_password");
    let r = me
        .post(
            "/2fa/recovery_codes",
            json!({"password": PASSWORD, "code": "zzzz-zzzz-zzzz-zzzz"}),
        )
        .await;
    r.assert_error(400, "Invalid code", "invalid_code");
    let r = me
        .post("/2fa/recovery_codes", json!({"password": PASSWORD}))
        .await;
    r.assert_error(400, "Field required: code", "field_required");
    assert_eq!(me.get("/2fa").await.body["recovery_codes_left"], 8);
    let r = me
        .post(
            "/2fa/recovery_codes",
            json!({"password": PASSWORD, "code": code_at_step(&secret, step(s))}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let fresh: Vec<String> = r.body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fresh.len(), 10);
    assert_eq!(me.get("/2fa").await.body["recovery_codes_left"], 10);
    // The old codes are void, the new ones work.
    let mut c = challenged(s, "rosa").await;
    second_factor(&mut c, json!({"recovery_code": codes[2]}))
        .await
        .assert_error(401, "Invalid code", "invalid_code");
    let r = second_factor(&mut c, json!({"recovery_code": fresh[0]})).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

pub async fn disabling_needs_the_password_and_a_code(s: &TestServer) {
    let mut me = s.register("dora").await;
    let (secret, codes) = enrol(s, &mut me).await;
    next_step(s);
    send(&mut me, json!({"password": PASSWORD}))
        .await
        .assert_error(400, "Field required: code", "field_required");
    send(
        &mut me,
        json!({"password": "wrong password", "code": code_at_step(&secret, step(s))}),
    )
    .await
    .assert_error(400, "Wrong password", "wrong_password");
    send(
        &mut me,
        json!({"password": PASSWORD, "code": wrong_code(&secret, step(s))}),
    )
    .await
    .assert_error(400, "Invalid code", "invalid_code");
    assert_eq!(me.get("/2fa").await.body["enabled"], true);
    challenged(s, "dora").await;
    // A recovery code does it too.
    let r = send(&mut me, json!({"password": PASSWORD, "code": codes[0]})).await;
    r.assert_null();
    assert_eq!(
        me.get("/2fa").await.body,
        json!({"enabled": false, "methods": [], "recovery_codes_left": 0})
    );
    send(&mut me, json!({"password": PASSWORD, "code": codes[1]}))
        .await
        .assert_error(400, "Second factor not enabled", "two_factor_not_enabled");
    // Login opens a session at once again.
    let mut c = s.client();
    let r = c
        .post("/login", json!({"login": "dora", "password": PASSWORD}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // The admin's view says so.
    let id = s.id_of(&mut me).await;
    let mut admin = s.register("dora_admin").await;
    let admin_id = s.id_of(&mut admin).await;
    s.make_admin(admin_id).await;
    let r = admin.get(&format!("/{id}")).await;
    assert_eq!(r.body["two_factor"], false);
    let (_, _) = enrol(s, &mut me).await;
    let r = admin.get(&format!("/{id}")).await;
    assert_eq!(r.body["two_factor"], true);
}

/// Every form the secret could take: base32 (as shown), the raw bytes as hex and base64.
fn secret_forms(secret: &str) -> Vec<String> {
    use base64::Engine as _;
    let raw = base32_decode(secret);
    let hex = authx::random::hex(&raw);
    vec![
        secret.to_owned(),
        secret.to_lowercase(),
        hex.clone(),
        hex.to_uppercase(),
        base64::engine::general_purpose::STANDARD.encode(&raw),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&raw),
    ]
}

pub async fn the_stored_secret_is_sealed(s: &TestServer) {
    let mut me = s.register("sam").await;
    let (secret, codes) = enrol(s, &mut me).await;
    let id = s.id_of(&mut me).await;
    let sealed: String = match &s.db {
        Db::Sqlite(pool, _) => {
            sqlx::query_scalar("SELECT totp_secret FROM two_factor WHERE user_id = $1")
                .bind(id)
                .fetch_one(pool)
                .await
                .unwrap()
        }
        Db::Postgres(pool) => {
            sqlx::query_scalar("SELECT totp_secret FROM two_factor WHERE user_id = $1")
                .bind(id)
                .fetch_one(pool)
                .await
                .unwrap()
        }
        Db::MySql(pool) => {
            sqlx::query_scalar("SELECT totp_secret FROM two_factor WHERE user_id = ?")
                .bind(id)
                .fetch_one(pool)
                .await
                .unwrap()
        }
    };
    assert!(sealed.starts_with("v1."), "{sealed}");
    for form in secret_forms(&secret) {
        assert!(
            !sealed.contains(&form),
            "the row holds the secret as {form}"
        );
    }
    assert_eq!(s.count("recovery_codes").await, 10);
    // SQLite: not in the database file (nor its write-ahead log), in any form, raw bytes
    // included; the recovery codes neither.
    if let Db::Sqlite(_, dir) = &s.db {
        let mut bytes = Vec::new();
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
        }
        let mut forms: Vec<Vec<u8>> = secret_forms(&secret)
            .into_iter()
            .map(String::into_bytes)
            .collect();
        forms.push(base32_decode(&secret));
        for code in &codes {
            forms.push(code.clone().into_bytes());
            forms.push(code.replace('-', "").into_bytes());
        }
        for form in forms {
            assert!(
                !bytes.windows(form.len()).any(|w| w == form.as_slice()),
                "the database files hold {:?}",
                String::from_utf8_lossy(&form)
            );
        }
        assert!(bytes.windows(sealed.len()).any(|w| w == sealed.as_bytes()));
    }
}

pub async fn concurrent_right_codes_open_one_session(s: &TestServer) {
    let mut me = s.register("cora").await;
    let (secret, codes) = enrol(s, &mut me).await;
    next_step(s);
    let c = challenged(s, "cora").await;
    let challenge = c.cookie("authx_2fa").unwrap();
    // Ten requests with one challenge: the TOTP code and recovery codes, all right.
    let mut tasks = tokio::task::JoinSet::new();
    for (n, recovery) in codes.iter().enumerate() {
        let http = s.http.clone();
        let url = s.url("/login/2fa");
        let body = if n == 0 {
            json!({"code": code_at_step(&secret, step(s))})
        } else {
            json!({"recovery_code": recovery})
        };
        let cookie = format!("authx_2fa={challenge}");
        tasks.spawn(async move {
            http.post(url)
                .header("cookie", cookie)
                .json(&body)
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
    // At most five were even looked at (the challenge's attempts); one opened a session.
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 401),
        "{statuses:?}"
    );
}
