//! The hardening scenarios (issue 19): limits without a window edge and per IPv6 /64, clock
//! claims and header attacks on tokens, path variants of `/login`, forwarding headers, the work
//! of an unknown login, Unicode identities, and request limits over raw TCP. Each runs against
//! every adapter and backend.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use crate::support::{Client, Options, PASSWORD, Reply, SECRET, TestServer, raw_post, test_key};

/// An HS256 token of `header` and `claims`, keyed with `key`.
fn hs256(header: &Value, claims: &Value, key: &[u8]) -> String {
    use hmac::{KeyInit, Mac};
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(message.as_bytes());
    format!(
        "{message}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

/// `POST /token` with `token` as the bearer.
async fn with_bearer(s: &TestServer, token: String) -> Reply {
    let mut c = s.client();
    c.bearer = Some(token);
    c.post_empty("/token").await
}

/// The claims of `c`'s access token, as `/token` shows them.
async fn claims_of(c: &mut Client<'_>) -> Value {
    let r = c.post_empty("/token").await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

async fn login(c: &mut Client<'_>, name: &str, password: &str) -> Reply {
    c.post("/login", json!({"login": name, "password": password}))
        .await
}

// ----- limits -----

pub async fn login_limit_has_no_window_edge(s: &TestServer) {
    let s = s
        .variant(Options {
            login_per_ip: 5,
            ..Options::default()
        })
        .await;
    s.register("edgar").await;
    // One second before a minute boundary.
    let edge = (s.clock_now() / 60 + 2) * 60;
    s.clock.set(edge - 1);
    let mut c = s.client();
    for _ in 0..5 {
        login(&mut c, "edgar", PASSWORD).await.assert_null();
    }
    // Two seconds later, in the next minute: still the same window, and nothing reaches the
    // password check.
    s.clock.advance(2);
    let checks = s.verifications();
    let r = login(&mut c, "edgar", PASSWORD).await;
    r.assert_error(429, "Too many requests", "too_many_requests");
    // Exact: the five leave the window at edge + 59.
    assert_eq!(r.header("retry-after"), Some("58"));
    s.clock.advance(57);
    let r = login(&mut c, "edgar", PASSWORD).await;
    assert_eq!((r.status, r.header("retry-after")), (429, Some("1")));
    assert_eq!(s.verifications(), checks);
    // Waiting what it said is enough.
    s.clock.advance(1);
    login(&mut c, "edgar", PASSWORD).await.assert_null();
}

/// A login through the trusted proxy (127.0.0.1) for client `forwarded`.
async fn login_as(s: &TestServer, header: &str, forwarded: &str) -> Reply {
    s.client()
        .send(
            "POST",
            "/login",
            &[("content-type", "application/json"), (header, forwarded)],
            json!({"login": "ivy", "password": PASSWORD})
                .to_string()
                .into_bytes(),
        )
        .await
}

pub async fn ipv6_clients_are_limited_per_64(s: &TestServer) {
    let s = s
        .variant(Options {
            login_per_ip: 3,
            trusted_proxies: vec!["127.0.0.1"],
            ..Options::default()
        })
        .await;
    s.register("ivy").await;
    // Three addresses of one /64: one client, whose budget they use up.
    for address in [
        "2001:db8:1:2::1",
        "2001:db8:1:2::2",
        "2001:db8:1:2:ffff:ffff:ffff:ffff",
    ] {
        login_as(&s, "x-forwarded-for", address).await.assert_null();
    }
    let r = login_as(&s, "x-forwarded-for", "2001:db8:1:2:abcd::9").await;
    assert_eq!(r.status, 429, "{}", r.body);
    let r = login_as(&s, "forwarded", "for=\"[2001:db8:1:2::7]:443\"").await;
    assert_eq!(r.status, 429, "{}", r.body);
    // The next /64 is another client, and so is each IPv4 address.
    login_as(&s, "x-forwarded-for", "2001:db8:1:3::1")
        .await
        .assert_null();
    login_as(&s, "x-forwarded-for", "203.0.113.7")
        .await
        .assert_null();
    login_as(&s, "x-forwarded-for", "::ffff:203.0.113.8")
        .await
        .assert_null();
}

pub async fn forwarding_headers_through_every_adapter(s: &TestServer) {
    // Not trusted: the headers are ignored, the peer is the client.
    s.register("fern").await;
    let mut c = s.client();
    let r = c
        .send(
            "POST",
            "/login",
            &[
                ("content-type", "application/json"),
                ("x-forwarded-for", "198.51.100.1"),
                ("forwarded", "for=198.51.100.2"),
            ],
            json!({"login": "fern", "password": PASSWORD})
                .to_string()
                .into_bytes(),
        )
        .await;
    r.assert_null();
    let r = c.get("/sessions").await;
    assert_eq!(r.body[0]["ip"], "127.0.0.1", "{}", r.body);

    // Through trusted proxies: the right-most untrusted hop, read across repeated header
    // lines in order, and `Forwarded` before `X-Forwarded-For`.
    let v = s
        .variant(Options {
            trusted_proxies: vec!["127.0.0.1", "10.0.0.0/8"],
            ..Options::default()
        })
        .await;
    v.register("fern").await;
    for (headers, client) in [
        (
            vec![
                ("x-forwarded-for", "6.6.6.6, 198.51.100.20"),
                ("x-forwarded-for", "203.0.113.9, 10.1.2.3"),
            ],
            "203.0.113.9",
        ),
        (
            vec![
                ("forwarded", "for=198.51.100.30"),
                (
                    "forwarded",
                    "for=\"[2001:db8::5]:4711\";proto=https, for=10.0.0.9",
                ),
                ("x-forwarded-for", "192.0.2.1"),
            ],
            "2001:db8::5",
        ),
    ] {
        let mut c = v.client();
        let mut all = vec![("content-type", "application/json")];
        all.extend(headers);
        let r = c
            .send(
                "POST",
                "/login",
                &all,
                json!({"login": "fern", "password": PASSWORD})
                    .to_string()
                    .into_bytes(),
            )
            .await;
        r.assert_null();
        let r = c.get("/sessions").await;
        let current: Vec<&Value> = r
            .body
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["current"] == true)
            .collect();
        assert_eq!(current[0]["ip"], client, "{}", r.body);
    }
}

// ----- tokens -----

pub async fn future_dated_tokens_are_refused(s: &TestServer) {
    let mut c = s.register("futura").await;
    let claims = claims_of(&mut c).await;
    let now = s.clock_now();
    let year = 365 * 24 * 3600;
    let token = |change: &dyn Fn(&mut Value)| {
        let mut claims = claims.clone();
        change(&mut claims);
        hs256(&json!({"alg": "HS256", "typ": "JWT"}), &claims, SECRET)
    };
    // The hand-made token is right: as issued, it works.
    let r = with_bearer(s, token(&|_| {})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    for (change, accepted) in [
        // A year ahead, validly signed and not expired.
        (
            Box::new(|c: &mut Value| {
                c["iat"] = json!(now + year);
                c["exp"] = json!(now + year + 900);
            }) as Box<dyn Fn(&mut Value)>,
            false,
        ),
        (Box::new(|c: &mut Value| c["iat"] = json!(now + 60)), true),
        (Box::new(|c: &mut Value| c["iat"] = json!(now + 61)), false),
        (Box::new(|c: &mut Value| c["nbf"] = json!(now - 10)), true),
        (Box::new(|c: &mut Value| c["nbf"] = json!(now + 60)), true),
        (
            Box::new(|c: &mut Value| c["nbf"] = json!(now + 3600)),
            false,
        ),
        (Box::new(|c: &mut Value| c["nbf"] = json!("soon")), false),
    ] {
        let t = token(&*change);
        let r = with_bearer(s, t.clone()).await;
        if accepted {
            assert_eq!(r.status, 200, "{t}: {}", r.body);
        } else {
            r.assert_error(401, "Invalid token", "invalid_token");
        }
    }
    // A future-dated refresh token buys nothing either.
    let refresh = c.cookie("refresh_token").unwrap();
    let payload: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(refresh.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    let mut future = payload.clone();
    future["iat"] = json!(now + year);
    future["exp"] = json!(now + year + 3600);
    let forged = hs256(&json!({"alg": "HS256"}), &future, SECRET);
    let r = s
        .client()
        .post("/token/refresh", json!({"refresh": forged}))
        .await;
    r.assert_error(401, "Invalid token", "invalid_token");
}

pub async fn token_header_attacks_are_refused(s: &TestServer) {
    let mut c = s.register("hector").await;
    let claims = claims_of(&mut c).await;
    let attacker: &[u8] = b"an attacker's own secret of 32 bytes!";
    let attacker_jwk = json!({"kty": "oct", "k": URL_SAFE_NO_PAD.encode(attacker)});
    // The control: a well-formed header with the service's key works.
    let r = with_bearer(s, hs256(&json!({"alg": "HS256"}), &claims, SECRET)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    for (header, key) in [
        (json!({"alg": "HS256", "crit": ["exp"]}), SECRET),
        (
            json!({"alg": "HS256", "crit": ["urn:example:x"], "urn:example:x": true}),
            SECRET,
        ),
        (json!({"alg": "HS256", "jwk": attacker_jwk}), attacker),
        (json!({"alg": "HS256", "jwk": attacker_jwk}), SECRET),
        (
            json!({"alg": "HS256", "jku": "https://attacker.example/jwks.json"}),
            attacker,
        ),
        (
            json!({"alg": "HS256", "x5u": "https://attacker.example/cert.pem"}),
            attacker,
        ),
        (json!({"alg": "HS256", "x5c": ["MIIBattacker"]}), SECRET),
    ] {
        let r = with_bearer(s, hs256(&header, &claims, key)).await;
        r.assert_error(401, "Invalid token", "invalid_token");
    }
    // `exp: null` is no expiry.
    let mut no_exp = claims.clone();
    no_exp["exp"] = Value::Null;
    let r = with_bearer(s, hs256(&json!({"alg": "HS256"}), &no_exp, SECRET)).await;
    r.assert_error(401, "Invalid token", "invalid_token");

    // On each asymmetric backend: HS256 keyed with the public key, and a token signed by
    // another key that brings its own public key along.
    for algorithm in [
        authx::token::SigningAlgorithm::EdDSA,
        authx::token::SigningAlgorithm::ES256,
        authx::token::SigningAlgorithm::RS256,
    ] {
        let v = s
            .variant(Options {
                signing: Some(algorithm),
                ..Options::default()
            })
            .await;
        let mut c = v.register("hector").await;
        let claims = claims_of(&mut c).await;
        let jwks = c.get("/.well-known/jwks.json").await.body;
        let jwk = jwks["keys"][0].clone();
        let kid = jwk["kid"].as_str().unwrap().to_owned();
        let public_pem = test_key(algorithm).1;
        let der: String = public_pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let mut keys: Vec<Vec<u8>> = vec![
            public_pem.as_bytes().to_vec(),
            public_pem.trim_end().as_bytes().to_vec(),
            STANDARD.decode(der).unwrap(),
            jwk.to_string().into_bytes(),
        ];
        for member in ["x", "n"] {
            if let Some(value) = jwk[member].as_str() {
                keys.push(value.as_bytes().to_vec());
                keys.push(URL_SAFE_NO_PAD.decode(value).unwrap());
            }
        }
        for key in &keys {
            for header in [json!({"alg": "HS256", "kid": kid}), json!({"alg": "HS256"})] {
                let r = with_bearer(&v, hs256(&header, &claims, key)).await;
                r.assert_error(401, "Invalid token", "invalid_token");
            }
        }
        if algorithm == authx::token::SigningAlgorithm::EdDSA {
            use ed25519_dalek::Signer as _;
            let theirs = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
            let their_jwk = json!({
                "kty": "OKP", "crv": "Ed25519",
                "x": URL_SAFE_NO_PAD.encode(theirs.verifying_key().as_bytes()),
            });
            for header in [
                json!({"alg": "EdDSA", "jwk": their_jwk}),
                json!({"alg": "EdDSA", "kid": kid, "jwk": their_jwk}),
                json!({"alg": "EdDSA", "kid": kid}),
            ] {
                let message = format!(
                    "{}.{}",
                    URL_SAFE_NO_PAD.encode(header.to_string()),
                    URL_SAFE_NO_PAD.encode(claims.to_string())
                );
                let signature = theirs.sign(message.as_bytes());
                let forged = format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()));
                let r = with_bearer(&v, forged).await;
                r.assert_error(401, "Invalid token", "invalid_token");
            }
        }
        // The backend's own token still works.
        let r = c.post_empty("/token").await;
        assert_eq!(r.status, 200, "{algorithm}: {}", r.body);
    }
}

// ----- login paths and work -----

pub async fn path_variants_of_login_never_skip_the_budget(s: &TestServer) {
    let s = s
        .variant(Options {
            login_per_ip: 3,
            ..Options::default()
        })
        .await;
    s.register("vera").await;
    let body = json!({"login": "vera", "password": PASSWORD}).to_string();
    let p = s.prefix;
    let variants: Vec<String> = [
        "//login",
        "/login/",
        "/LOGIN",
        "/Login",
        "/%6cogin",
        "/%6Cogin",
        "/login;x",
        "/login;",
        "/./login",
        "/%2e/login",
        "/%2flogin",
        "/login%2f",
        "/login/.",
        "/login%00",
        "/login%20",
        "/x/../login",
    ]
    .iter()
    .map(|v| format!("{p}{v}"))
    .chain([
        format!("/{p}/login"),
        p.to_uppercase() + "/login",
        p.replacen('/', "//", 2) + "/login",
        format!("{p}/../{}/login", &p[1..]),
    ])
    .collect();
    // Every variant is turned away before the password check: no verification runs.
    let probe = async |s: &TestServer| {
        for variant in &variants {
            let r = s.raw(&raw_post(variant, "", &body)).await;
            assert!(
                matches!(r.status, 400 | 404 | 405),
                "{variant} reached a route: {r:?}"
            );
        }
    };
    let before = s.verifications();
    probe(&s).await;
    assert_eq!(
        s.verifications(),
        before,
        "a variant reached the password check"
    );
    // The budget is the route's: three logins, then refused, also with a query string.
    let mut c = s.client();
    for _ in 0..3 {
        login(&mut c, "vera", PASSWORD).await.assert_null();
    }
    let r = s
        .raw(&raw_post(&format!("{p}/login?next=/x"), "", &body))
        .await;
    assert_eq!(r.status, 429, "{r:?}");
    let spent = s.verifications();
    assert_eq!(spent, before + 3);
    // With the budget spent, no variant gets a password checked either.
    probe(&s).await;
    assert_eq!(s.verifications(), spent);
}

pub async fn unknown_users_cost_what_wrong_passwords_cost(s: &TestServer) {
    s.register("walt").await;
    let mut c = s.client();
    // The dummy hash is made at the first unknown login (a hash, not a verification).
    login(&mut c, "nobody-yet", "warm up").await;
    for (typed, expected) in [
        ("a wrong password", 1),
        // Typed decomposed: the normalised and the typed form are both tried.
        ("cafe\u{301} wrong password", 2),
        ("\u{fb01}ne wrong password", 2),
    ] {
        let mut costs = Vec::new();
        for (name, status) in [
            ("walt", 401),
            ("nobody", 404),
            ("nobody@example.com", 404),
            ("walt@example.com", 401),
        ] {
            let before = s.verifications();
            let r = login(&mut c, name, typed).await;
            assert_eq!(r.status, status, "{name}: {}", r.body);
            costs.push(s.verifications() - before);
        }
        assert_eq!(costs, [expected; 4], "{typed}");
        // Start walt's failures again, before the lockout counts them out.
        login(&mut c, "walt", PASSWORD).await.assert_null();
    }
}

// ----- Unicode -----

const NFC: &str = "cr\u{e8}me br\u{fb}l\u{e9}e \u{2713}";
const NFD: &str = "cre\u{300}me bru\u{302}le\u{301}e \u{2713}";

pub async fn unicode_passwords_are_one_password(s: &TestServer) {
    let mut c = s.client();
    // One password, typed once composed and once decomposed: no mismatch.
    let r = c
        .post(
            "/register",
            json!({"email": "una@example.com", "username": "una", "password1": NFD, "password2": NFC}),
        )
        .await;
    r.assert_null();
    for typed in [NFC, NFD] {
        login(&mut s.client(), "una", typed).await.assert_null();
    }
    // Hashed in NFC/NFKC form.
    let id = s.id_of(&mut c).await;
    let hash = s.password_hash(id).await;
    assert!(rust_argon2::verify_encoded(&hash, NFC.as_bytes()).unwrap());
    assert!(!rust_argon2::verify_encoded(&hash, NFD.as_bytes()).unwrap());
}

pub async fn legacy_password_hashes_are_replaced_at_login(s: &TestServer) {
    let mut c = s.register("leo").await;
    let id = s.id_of(&mut c).await;
    // A hash of the decomposed password as typed, as stored before normalisation (the
    // service's parameters, so only the form asks for a rehash).
    let config = rust_argon2::Config {
        mem_cost: 64,
        time_cost: 1,
        lanes: 1,
        ..rust_argon2::Config::default()
    };
    let legacy = rust_argon2::hash_encoded(NFD.as_bytes(), b"a legacy salt!!!", &config).unwrap();
    s.exec_text(
        "UPDATE users SET password_hash = $1 WHERE id = $2",
        &legacy,
        id,
    )
    .await;
    // Only the typed bytes are known: composed, it does not match yet.
    let r = login(&mut s.client(), "leo", NFC).await;
    r.assert_error(401, "Invalid credentials", "invalid_credentials");
    login(&mut s.client(), "leo", NFD).await.assert_null();
    // Replaced by a hash of the normalised form: both spellings now work, with one
    // verification each.
    let hash = s.password_hash(id).await;
    assert_ne!(hash, legacy);
    assert!(rust_argon2::verify_encoded(&hash, NFC.as_bytes()).unwrap());
    for typed in [NFC, NFD] {
        let before = s.verifications();
        login(&mut s.client(), "leo", typed).await.assert_null();
        assert_eq!(s.verifications() - before, 1, "{typed:?}");
    }
}

async fn register_email(s: &TestServer, email: &str, username: &str) -> Reply {
    s.client()
        .post(
            "/register",
            json!({"email": email, "username": username, "password1": PASSWORD, "password2": PASSWORD}),
        )
        .await
}

pub async fn unicode_emails_are_one_account(s: &TestServer) {
    let mut c = s.client();
    c.post(
        "/register",
        json!({"email": "Ada@B\u{fc}cher.example", "username": "ada_b", "password1": PASSWORD, "password2": PASSWORD}),
    )
    .await
    .assert_null();
    // Stored and shown in one form: the domain in its IDNA ASCII form.
    let stored = "Ada@xn--bcher-kva.example";
    let r = c.get("/confirm").await;
    assert_eq!(r.body, json!({"email": stored, "confirmed": false}));
    // Mail goes to that form.
    let mail = s.mail_to(stored, 1).await;
    assert_eq!(mail.to, stored);
    // Every spelling of it is the same account.
    for spelling in [
        "ada@xn--bcher-kva.example",
        "Ada@BU\u{308}CHER.example",
        "Ada@b\u{fc}cher.EXAMPLE",
        "ada@\u{ff42}\u{fc}cher\u{ff0e}example",
    ] {
        register_email(s, spelling, "ada_x").await.assert_error(
            400,
            "Email already exists",
            "email_exists",
        );
        login(&mut s.client(), spelling, PASSWORD)
            .await
            .assert_null();
    }
    // The local part in NFC.
    register_email(s, "jose\u{301}@example.com", "jose_d")
        .await
        .assert_null();
    register_email(s, "jos\u{e9}@example.com", "jose_c")
        .await
        .assert_error(400, "Email already exists", "email_exists");
    login(&mut s.client(), "jos\u{e9}@example.com", PASSWORD)
        .await
        .assert_null();
    // A look-alike domain (Cyrillic а) is another account, shown as its own ASCII name.
    register_email(s, "ada@example.com", "ada_l")
        .await
        .assert_null();
    let mut lookalike = s.client();
    lookalike
        .post(
            "/register",
            json!({"email": "ada@ex\u{430}mple.com", "username": "ada_c", "password1": PASSWORD, "password2": PASSWORD}),
        )
        .await
        .assert_null();
    let shown = lookalike.get("/confirm").await.body["email"].clone();
    let shown = shown.as_str().unwrap();
    assert!(shown.starts_with("ada@xn--") && shown.is_ascii(), "{shown}");
    // Invalid labels are invalid emails.
    register_email(s, "ada@under_score.example", "ada_u")
        .await
        .assert_error(400, "Invalid email", "invalid_email");
}

// ----- request limits over TCP -----

pub async fn request_limits_over_tcp(s: &TestServer) {
    s.register("tess").await;
    let login = format!("{}/login", s.prefix);
    let body = json!({"login": "tess", "password": PASSWORD}).to_string();
    // A header block over 32 KiB: 431 as JSON, before anything else (no password check).
    let before = s.verifications();
    let pad = format!("X-Pad: {}\r\n", "a".repeat(40 * 1024));
    let r = s.raw(&raw_post(&login, &pad, &body)).await;
    r.assert_error(431, "headers_too_large");
    assert_eq!(
        r.json()["detail"],
        "Request header fields too large",
        "{r:?}"
    );
    assert_eq!(s.verifications(), before);
    // Under it, served.
    let pad = format!("X-Pad: {}\r\n", "a".repeat(30 * 1024));
    let r = s.raw(&raw_post(&login, &pad, &body)).await;
    assert_eq!(r.status, 200, "{r:?}");
    // Bodies that cannot be read as sent: 400 invalid_body, in every adapter alike. (They
    // break after their first 16 bytes: rocket's server reads the first bytes of every body
    // ahead, for its `_method` field, and drops a read error there; see docs/rocket.md. The
    // example applications refuse a body broken anywhere, `broken_bodies_are_invalid`.)
    let chunked = |chunks: &str| {
        format!(
            "POST {login} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
             Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{chunks}"
        )
        .into_bytes()
    };
    let first = "10\r\n{\"login\":\"tess\",\r\n";
    for broken in [
        "zz\r\n\r\n0\r\n\r\n",
        "5\r\n\"passx\r\n0\r\n\r\n",
        "-1\r\n\r\n",
    ] {
        let r = s.raw(&chunked(&format!("{first}{broken}"))).await;
        r.assert_error(400, "invalid_body");
        assert_eq!(r.json()["detail"], "Malformed request body");
    }
    // A chunked body over 16 KiB: 413.
    let big = "a".repeat(9000);
    let r = s
        .raw(&chunked(&format!(
            "2328\r\n{big}\r\n2328\r\n{big}\r\n0\r\n\r\n"
        )))
        .await;
    r.assert_error(413, "payload_too_large");
    // A well-formed chunked body is read.
    let r = s
        .raw(&chunked(&format!(
            "{:x}\r\n{body}\r\n0\r\n\r\n",
            body.len()
        )))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
}
