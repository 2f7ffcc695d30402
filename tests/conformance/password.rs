//! The password router (CONTRACT 9.4): forgot, reset, change, set and status, the lockout every
//! password check shares, and the races: one reset token used at once, concurrent changes and
//! concurrent first passwords.
//!
//! `POST /forgot_password` does its lookup in a background task that takes requests one at a
//! time in arrival order, so a scenario that needs to know the task is done with some requests
//! sends one more for an address that gets a mail, and waits for that mail.

use std::time::Duration;

use authx::mail::Mail;
use serde_json::{Value, json};

use crate::support::{Client, Db, PASSWORD, Reply, TestServer};

const NEW_PASSWORD: &str = "a brand new secret 2";

// ----- helpers -----

/// The token of the reset link in `mail`'s text part (the link is on a line of its own).
fn reset_token(mail: &Mail) -> String {
    const LINK: &str = "http://localhost:8000/reset_password?token=";
    let line = mail
        .text
        .lines()
        .find(|l| l.starts_with(LINK))
        .unwrap_or_else(|| panic!("no reset link in {mail:?}"));
    line[LINK.len()..].to_owned()
}

/// The mails delivered so far to `to` with subject `subject`.
fn delivered(s: &TestServer, to: &str, subject: &str) -> Vec<Mail> {
    s.mailer
        .sent()
        .into_iter()
        .filter(|m| m.to == to && m.subject == subject)
        .collect()
}

/// Waits (bounded) until `count` mails with `subject` were delivered to `to`; returns the last.
async fn mail_with(s: &TestServer, to: &str, subject: &str, count: usize) -> Mail {
    for _ in 0..200 {
        let mails = delivered(s, to, subject);
        if mails.len() >= count {
            return mails[count - 1].clone();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no mail number {count} with subject {subject:?} to {to} was delivered");
}

/// Waits for reset mail number `count` to `to` and returns its token.
async fn reset_mail(s: &TestServer, to: &str, count: usize) -> String {
    reset_token(&mail_with(s, to, "Forgot password", count).await)
}

async fn forgot(c: &mut Client<'_>, email: &str) -> Reply {
    c.post("/forgot_password", json!({ "email": email })).await
}

fn new_password(password: &str) -> Value {
    json!({ "password1": password, "password2": password })
}

fn change(old: &str, new: &str) -> Value {
    json!({ "old_password": old, "password1": new, "password2": new })
}

async fn put(c: &mut Client<'_>, path: &str, body: &Value) -> Reply {
    c.send(
        "PUT",
        path,
        &[("content-type", "application/json")],
        body.to_string().into_bytes(),
    )
    .await
}

async fn login(c: &mut Client<'_>, login: &str, password: &str) -> Reply {
    c.post("/login", json!({ "login": login, "password": password }))
        .await
}

/// A logged-in client of `name`, in a session of its own.
async fn logged_in<'s>(s: &'s TestServer, name: &str, password: &str) -> Client<'s> {
    let mut c = s.client();
    login(&mut c, name, password).await.assert_null();
    c
}

/// The result of a query counting rows for one integer parameter.
async fn count_of(s: &TestServer, sql: &'static str, id: i64) -> i64 {
    match &s.db {
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
        Db::MySql(pool) => sqlx::query_scalar(sqlx::AssertSqlSafe(crate::support::positional(sql)))
            .bind(id)
            .fetch_one(pool)
            .await
            .unwrap(),
    }
}

/// How many reset tokens were ever issued to user `id`.
async fn reset_tokens_of(s: &TestServer, id: i64) -> i64 {
    count_of(
        s,
        "SELECT COUNT(*) FROM email_tokens WHERE user_id = $1 AND purpose = 'reset_password'",
        id,
    )
    .await
}

/// How many mails with `subject` were ever queued for user `id`'s address.
async fn queued_for(s: &TestServer, id: i64, subject: &'static str) -> i64 {
    let sql = match subject {
        "Forgot password" => {
            "SELECT COUNT(*) FROM mail_outbox m JOIN users u ON m.recipient = u.email \
             WHERE u.id = $1 AND m.subject = 'Forgot password'"
        }
        "Password changed" => {
            "SELECT COUNT(*) FROM mail_outbox m JOIN users u ON m.recipient = u.email \
             WHERE u.id = $1 AND m.subject = 'Password changed'"
        }
        other => panic!("no query for {other}"),
    };
    count_of(s, sql, id).await
}

/// Turns user `id` into an account without a password, as social login creates them.
async fn drop_password(s: &TestServer, id: i64) {
    s.exec("UPDATE users SET password_hash = NULL WHERE id = $1", id)
        .await;
}

/// Whether the stored hash of user `id` verifies `password` (checked with another argon2
/// implementation, so no login attempt is spent).
async fn stored_password_is(s: &TestServer, id: i64, password: &str) -> bool {
    rust_argon2::verify_encoded(&s.password_hash(id).await, password.as_bytes()).unwrap()
}

#[track_caller]
fn assert_dead(r: &Reply) {
    r.assert_error(401, "Invalid token", "invalid_token");
}

#[track_caller]
fn assert_refused_token(r: &Reply) {
    r.assert_error(403, "Invalid or expired token", "invalid_or_expired_token");
}

/// An answer as bytes: status, every header but `date`, and the body.
#[derive(Debug, PartialEq, Eq)]
struct RawAnswer {
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

async fn raw_forgot(http: &reqwest::Client, url: &str, email: &str) -> RawAnswer {
    let res = http
        .post(url)
        .header("content-type", "application/json")
        .body(json!({ "email": email }).to_string())
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let mut headers: Vec<(String, Vec<u8>)> = res
        .headers()
        .iter()
        .filter(|(name, _)| name.as_str() != "date")
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect();
    headers.sort();
    let body = res.bytes().await.unwrap().to_vec();
    RawAnswer {
        status,
        headers,
        body,
    }
}

// ----- forgot -----

pub async fn forgot_password_answers_alike_whatever_the_account(s: &TestServer) {
    // A known address stored with capitals in its local part, typed otherwise below.
    let mut ada = s.client();
    ada.post(
        "/register",
        json!({
            "email": "Ada.Lovelace@Example.COM",
            "username": "ada",
            "password1": PASSWORD,
            "password2": PASSWORD,
        }),
    )
    .await
    .assert_null();
    let ada_id = s.id_of(&mut ada).await;
    let mut sam = s.register("sam").await;
    let sam_id = s.id_of(&mut sam).await;
    drop_password(s, sam_id).await;
    let mut bob = s.register("bob").await;
    let bob_id = s.id_of(&mut bob).await;
    s.ban(bob_id).await;
    let mut lim = s.register("lim").await;
    let lim_id = s.id_of(&mut lim).await;
    // Two reset mails per account per 30 minutes: lim uses them up.
    let mut other_ip = s.client_from([127, 0, 0, 10], "agent");
    for n in 1..=2 {
        forgot(&mut other_ip, "lim@example.com").await.assert_null();
        reset_mail(s, "lim@example.com", n).await;
    }

    // Unknown, social-only, banned, over its limit, known: the same bytes.
    let http = s.client_from([127, 0, 0, 20], "agent").http;
    let url = s.url("/forgot_password");
    let mut answers = Vec::new();
    for email in [
        "nobody@example.com",
        "sam@example.com",
        "bob@example.com",
        "lim@example.com",
        "ada.lovelace@EXAMPLE.com",
    ] {
        answers.push((email, raw_forgot(&http, &url, email).await));
    }
    let (_, first) = &answers[0];
    assert_eq!(first.status, 200);
    assert_eq!(first.body, b"null");
    for (email, answer) in &answers {
        assert_eq!(answer, first, "{email}");
    }

    // The known account's mail goes to the stored address, not the typed one, with the link
    // on a line of its own in the text part and in the HTML part.
    let mail = mail_with(s, "Ada.Lovelace@example.com", "Forgot password", 1).await;
    let token = reset_token(&mail);
    assert_eq!(token.len(), 43, "256 bits, URL-safe base64");
    assert!(mail.html.contains(&token));
    assert!(mail.text.contains("ada"));
    // The social-only account gets its mail too (the link lets it set a password).
    let sam_token = reset_mail(s, "sam@example.com", 1).await;
    // The known address was last in the queue: the task is done with every other one.
    assert_eq!(delivered(s, "bob@example.com", "Forgot password").len(), 0);
    assert_eq!(reset_tokens_of(s, bob_id).await, 0);
    assert_eq!(queued_for(s, bob_id, "Forgot password").await, 0);
    assert_eq!(reset_tokens_of(s, lim_id).await, 2);
    assert_eq!(queued_for(s, lim_id, "Forgot password").await, 2);
    assert_eq!(reset_tokens_of(s, ada_id).await, 1);
    assert_eq!(
        s.count("email_tokens").await,
        4 + 4,
        "4 confirmations, 4 resets"
    );
    assert!(
        s.mailer
            .sent()
            .iter()
            .all(|m| !m.to.eq_ignore_ascii_case("nobody@example.com"))
    );

    // The social-only account sets a password with its link and logs in with it.
    s.client()
        .post(
            &format!("/password/{sam_token}"),
            new_password(NEW_PASSWORD),
        )
        .await
        .assert_null();
    let mut sam_again = logged_in(s, "sam", NEW_PASSWORD).await;
    assert_eq!(
        sam_again.get("/password").await.body,
        json!({"status": "change"})
    );

    // Bad input is told apart, as the contract says: it names no account.
    let mut c = s.client_from([127, 0, 0, 30], "agent");
    forgot(&mut c, "not an email")
        .await
        .assert_error(400, "Invalid email", "invalid_email");
    c.post("/forgot_password", json!({})).await.assert_error(
        400,
        "Field required: email",
        "field_required",
    );
    c.post("/forgot_password", json!({"email": 7}))
        .await
        .assert_error(400, "Field email must be a string", "invalid_body");
}

pub async fn forgot_password_is_limited_per_client_ip(s: &TestServer) {
    let mut c = s.client_from([127, 0, 0, 2], "agent");
    // Ten requests per minute, malformed ones included.
    forgot(&mut c, "not an email")
        .await
        .assert_error(400, "Invalid email", "invalid_email");
    for i in 0..9 {
        forgot(&mut c, &format!("someone{i}@example.com"))
            .await
            .assert_null();
    }
    let r = forgot(&mut c, "someone@example.com").await;
    r.assert_error(429, "Too many requests", "too_many_requests");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // Another address of the same client is refused alike; another client is not.
    assert_eq!(forgot(&mut c, "other@example.com").await.status, 429);
    let mut d = s.client_from([127, 0, 0, 3], "agent");
    forgot(&mut d, "someone@example.com").await.assert_null();
    // The window passes.
    s.clock.advance(60);
    forgot(&mut c, "someone@example.com").await.assert_null();
}

// ----- reset -----

pub async fn password_reset_ends_every_session_and_sets_no_cookies(s: &TestServer) {
    let mut a = s.register("rhea").await;
    let id = s.id_of(&mut a).await;
    let mut b = logged_in(s, "rhea", PASSWORD).await;
    let a_access = a.cookie("access_token").unwrap();
    let a_refresh = a.cookie("refresh_token").unwrap();
    let b_refresh = b.cookie("refresh_token").unwrap();
    // Someone locks the account by guessing.
    let mut guesser = s.client();
    for _ in 0..5 {
        assert_eq!(login(&mut guesser, "rhea", "guess guess").await.status, 401);
    }
    assert_eq!(login(&mut guesser, "rhea", PASSWORD).await.status, 429);

    // Two links asked for; the second one is used.
    let mut anonymous = s.client();
    forgot(&mut anonymous, "rhea@example.com")
        .await
        .assert_null();
    let first = reset_mail(s, "rhea@example.com", 1).await;
    forgot(&mut anonymous, "rhea@example.com")
        .await
        .assert_null();
    let second = reset_mail(s, "rhea@example.com", 2).await;
    assert_ne!(first, second);
    // A reset ends the sessions opened before it (the service's clock stands still here).
    s.clock.advance_ms(1);
    let r = anonymous
        .post(&format!("/password/{second}"), new_password(NEW_PASSWORD))
        .await;
    r.assert_null();
    assert!(r.set_cookies().is_empty(), "no automatic login");
    assert!(anonymous.cookies.is_empty());

    // Every session's access and refresh tokens are refused at once.
    assert_dead(&a.post_empty("/token").await);
    assert_dead(&b.post_empty("/token").await);
    let mut bearer = s.client();
    bearer.bearer = Some(a_access);
    assert_dead(&bearer.post_empty("/token").await);
    for refresh in [a_refresh, b_refresh] {
        let mut thief = s.client();
        thief.cookies.insert("refresh_token".into(), refresh);
        assert_dead(&thief.post_empty("/token/refresh").await);
    }
    assert!(stored_password_is(s, id, NEW_PASSWORD).await);

    // The old password is refused, the new one accepted at once: the lockout was cleared.
    login(&mut s.client(), "rhea", PASSWORD).await.assert_error(
        401,
        "Invalid credentials",
        "invalid_credentials",
    );
    let mut again = logged_in(s, "rhea", NEW_PASSWORD).await;
    // The mailbox is proven: the email is confirmed.
    assert_eq!(
        again.get("/confirm").await.body,
        json!({"email": "rhea@example.com", "confirmed": true})
    );
    // The notice went to the account's address.
    let notice = mail_with(s, "rhea@example.com", "Password changed", 1).await;
    assert!(notice.text.contains("rhea"));
    assert!(notice.text.lines().any(|l| l == "http://localhost:8000"));
    // The link is refused the second time, and the other one was used up with it.
    for token in [&second, &first] {
        assert_refused_token(
            &s.client()
                .post(
                    &format!("/password/{token}"),
                    new_password("yet another one"),
                )
                .await,
        );
    }
    assert!(stored_password_is(s, id, NEW_PASSWORD).await);
    assert_eq!(again.post_empty("/token").await.status, 200);
}

pub async fn password_reset_checks_the_token_first_then_the_rules(s: &TestServer) {
    let mut c = s.register("tess").await;
    let id = s.id_of(&mut c).await;
    let confirmation = crate::support::link_token(&s.mail_to("tess@example.com", 1).await);
    let mut anonymous = s.client();
    // An unknown or wrong-shaped token is refused before the body is read.
    for token in ["not-a-token".to_owned(), "x".repeat(500)] {
        assert_refused_token(
            &anonymous
                .send(
                    "POST",
                    &format!("/password/{token}"),
                    &[("content-type", "application/json")],
                    b"{not json".to_vec(),
                )
                .await,
        );
    }
    // A confirmation token is no reset token.
    assert_refused_token(
        &anonymous
            .post(
                &format!("/password/{confirmation}"),
                new_password(NEW_PASSWORD),
            )
            .await,
    );

    forgot(&mut anonymous, "tess@example.com")
        .await
        .assert_null();
    let token = reset_mail(s, "tess@example.com", 1).await;
    let path = format!("/password/{token}");
    // A reset token is no confirmation token.
    assert_refused_token(&anonymous.post_empty(&format!("/confirm/{token}")).await);
    // With a valid token, the rules of registration, in order.
    anonymous
        .post(&path, json!({"password1": NEW_PASSWORD}))
        .await
        .assert_error(400, "Field required: password2", "field_required");
    anonymous
        .post(&path, new_password("short"))
        .await
        .assert_error(
            400,
            "Password must contain from 8 to 128 symbols",
            "password_length",
        );
    anonymous
        .post(
            &path,
            json!({"password1": NEW_PASSWORD, "password2": "something else"}),
        )
        .await
        .assert_error(400, "Passwords mismatch", "password_mismatch");
    // Not the address, whatever its case (nor the username: below, with a name long enough
    // to be a password).
    anonymous
        .post(&path, new_password("TESS@example.com"))
        .await
        .assert_error(
            400,
            "Password must differ from username and email",
            "password_matches_identity",
        );
    let mut long_name = s.register("tessaract").await;
    let long_id = s.id_of(&mut long_name).await;
    forgot(&mut anonymous, "tessaract@example.com")
        .await
        .assert_null();
    let long_token = reset_mail(s, "tessaract@example.com", 1).await;
    anonymous
        .post(
            &format!("/password/{long_token}"),
            new_password("TESSARACT"),
        )
        .await
        .assert_error(
            400,
            "Password must differ from username and email",
            "password_matches_identity",
        );
    // The refusals used nothing up.
    anonymous
        .post(
            &format!("/password/{long_token}"),
            new_password(NEW_PASSWORD),
        )
        .await
        .assert_null();
    assert!(stored_password_is(s, long_id, NEW_PASSWORD).await);
    assert!(stored_password_is(s, id, PASSWORD).await);
    anonymous
        .post(&path, new_password(NEW_PASSWORD))
        .await
        .assert_null();
    assert!(stored_password_is(s, id, NEW_PASSWORD).await);

    // One hour, then refused.
    forgot(&mut anonymous, "tess@example.com")
        .await
        .assert_null();
    let late = reset_mail(s, "tess@example.com", 2).await;
    s.clock.advance(3600);
    assert_refused_token(
        &anonymous
            .post(&format!("/password/{late}"), new_password("too late now"))
            .await,
    );
    // A banned account's link is refused: a ban is not lifted through the mailbox.
    s.clock.advance(1800);
    forgot(&mut anonymous, "tess@example.com")
        .await
        .assert_null();
    let before_ban = reset_mail(s, "tess@example.com", 3).await;
    s.ban(id).await;
    assert_refused_token(
        &anonymous
            .post(
                &format!("/password/{before_ban}"),
                new_password("banned but new"),
            )
            .await,
    );
    assert!(stored_password_is(s, id, NEW_PASSWORD).await);
    // A cross-site reset is refused like any state change.
    s.exec("UPDATE users SET active = TRUE WHERE id = $1", id)
        .await;
    anonymous
        .send(
            "POST",
            &format!("/password/{before_ban}"),
            &[
                ("content-type", "application/json"),
                ("origin", "https://evil.example"),
            ],
            new_password("cross site one").to_string().into_bytes(),
        )
        .await
        .assert_error(403, "Cross-site request refused", "cross_site_request");
    anonymous
        .post(
            &format!("/password/{before_ban}"),
            new_password("unbanned new one"),
        )
        .await
        .assert_null();
}

pub async fn one_reset_token_used_at_once_has_one_winner(s: &TestServer) {
    let mut c = s.register("uma").await;
    let id = s.id_of(&mut c).await;
    forgot(&mut s.client(), "uma@example.com")
        .await
        .assert_null();
    let token = reset_mail(s, "uma@example.com", 1).await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..10 {
        let url = s.url(&format!("/password/{token}"));
        let http = s.http.clone();
        tasks.spawn(async move {
            let password = format!("racing password {i}");
            let status = http
                .post(url)
                .header("content-type", "application/json")
                .body(new_password(&password).to_string())
                .send()
                .await
                .unwrap()
                .status()
                .as_u16();
            (status, password)
        });
    }
    let mut winners = Vec::new();
    let mut refused = 0;
    while let Some(joined) = tasks.join_next().await {
        match joined.unwrap() {
            (200, password) => winners.push(password),
            (403, _) => refused += 1,
            (other, _) => panic!("unexpected {other}"),
        }
    }
    assert_eq!((winners.len(), refused), (1, 9));
    assert!(stored_password_is(s, id, &winners[0]).await);
    // One notice, for the one reset.
    mail_with(s, "uma@example.com", "Password changed", 1).await;
    assert_eq!(queued_for(s, id, "Password changed").await, 1);
}

pub async fn a_reset_token_issued_before_a_password_change_is_refused(s: &TestServer) {
    let mut c = s.register("vera").await;
    let id = s.id_of(&mut c).await;
    forgot(&mut s.client(), "vera@example.com")
        .await
        .assert_null();
    let token = reset_mail(s, "vera@example.com", 1).await;
    put(&mut c, "/password", &change(PASSWORD, NEW_PASSWORD))
        .await
        .assert_null();
    assert_refused_token(
        &s.client()
            .post(
                &format!("/password/{token}"),
                new_password("an attacker's one"),
            )
            .await,
    );
    assert!(stored_password_is(s, id, NEW_PASSWORD).await);
    // A link asked for after the change works.
    forgot(&mut s.client(), "vera@example.com")
        .await
        .assert_null();
    let fresh = reset_mail(s, "vera@example.com", 2).await;
    s.client()
        .post(
            &format!("/password/{fresh}"),
            new_password("the newest one"),
        )
        .await
        .assert_null();
    assert!(stored_password_is(s, id, "the newest one").await);
}

// ----- change -----

pub async fn password_change_rotates_this_session_and_ends_the_others(s: &TestServer) {
    let mut a = s.register("cleo").await;
    let id = s.id_of(&mut a).await;
    let mut b = logged_in(s, "cleo", PASSWORD).await;
    let b_refresh = b.cookie("refresh_token").unwrap();
    assert_eq!(a.get("/password").await.body, json!({"status": "change"}));

    // The current password first, then the rules.
    put(
        &mut a,
        "/password",
        &json!({"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}),
    )
    .await
    .assert_error(400, "Field required: old_password", "field_required");
    put(
        &mut a,
        "/password",
        &change("not my password", NEW_PASSWORD),
    )
    .await
    .assert_error(400, "Wrong password", "wrong_password");
    put(
        &mut a,
        "/password",
        &json!({"old_password": PASSWORD, "password1": NEW_PASSWORD, "password2": "other"}),
    )
    .await
    .assert_error(400, "Passwords mismatch", "password_mismatch");
    put(&mut a, "/password", &change(PASSWORD, "cleo@example.com"))
        .await
        .assert_error(
            400,
            "Password must differ from username and email",
            "password_matches_identity",
        );
    // A cross-site change is refused like any state change.
    a.send(
        "PUT",
        "/password",
        &[
            ("content-type", "application/json"),
            ("origin", "https://evil.example"),
        ],
        change(PASSWORD, NEW_PASSWORD).to_string().into_bytes(),
    )
    .await
    .assert_error(403, "Cross-site request refused", "cross_site_request");
    assert!(stored_password_is(s, id, PASSWORD).await);

    let before: Vec<Value> = a.get("/sessions").await.body.as_array().unwrap().clone();
    let current = before.iter().find(|l| l["current"] == json!(true)).unwrap();
    let claims_before = a.post_empty("/token").await.body;
    let old_access = a.cookie("access_token").unwrap();
    let old_refresh = a.cookie("refresh_token").unwrap();
    s.clock.advance(1);
    // `oldPassword` is the original's name for the field.
    let r = put(
        &mut a,
        "/password",
        &json!({"oldPassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}),
    )
    .await;
    r.assert_null();
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let cookies = r.set_cookies();
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    let new_access = a.cookie("access_token").unwrap();
    let new_refresh = a.cookie("refresh_token").unwrap();
    assert_eq!(
        cookies[0],
        format!("access_token={new_access}; HttpOnly; SameSite=Lax; Path=/; Max-Age=900")
    );
    assert_eq!(
        cookies[1],
        format!("refresh_token={new_refresh}; HttpOnly; SameSite=Lax; Path=/; Max-Age=1209600")
    );
    assert_ne!(new_access, old_access);
    assert_ne!(new_refresh, old_refresh);
    assert!(stored_password_is(s, id, NEW_PASSWORD).await);

    // This session continues with its id, public id and opening instant.
    let claims = a.post_empty("/token").await.body;
    assert_eq!(claims["sid"], claims_before["sid"]);
    assert_eq!(claims["auth_ms"], claims_before["auth_ms"]);
    let after: Vec<Value> = a.get("/sessions").await.body.as_array().unwrap().clone();
    assert_eq!(after.len(), 1, "the other session ended: {after:?}");
    assert_eq!(after[0]["id"], current["id"]);
    assert_eq!(after[0]["created_at"], current["created_at"]);
    assert_eq!(after[0]["current"], json!(true));
    // The other session's tokens are refused at once.
    assert_dead(&b.post_empty("/token").await);
    let mut thief = s.client();
    thief.cookies.insert("refresh_token".into(), b_refresh);
    assert_dead(&thief.post_empty("/token/refresh").await);
    // This session's replaced refresh token no longer works (within the grace period it is
    // refused without ending the session); the new one does.
    let mut stale = s.client();
    stale.cookies.insert("refresh_token".into(), old_refresh);
    assert_dead(&stale.post_empty("/token/refresh").await);
    assert_eq!(a.post_empty("/token/refresh").await.status, 200);
    assert_eq!(a.post_empty("/token").await.status, 200);

    // The notice, and the passwords.
    let notice = mail_with(s, "cleo@example.com", "Password changed", 1).await;
    assert!(notice.html.contains("cleo"));
    login(&mut s.client(), "cleo", PASSWORD).await.assert_error(
        401,
        "Invalid credentials",
        "invalid_credentials",
    );
    logged_in(s, "cleo", NEW_PASSWORD).await;
    // Without a token: 401.
    put(
        &mut s.client(),
        "/password",
        &change(NEW_PASSWORD, PASSWORD),
    )
    .await
    .assert_error(401, "Not authenticated", "not_authenticated");
}

pub async fn a_wrong_current_password_counts_toward_the_lockout(s: &TestServer) {
    let mut c = s.register("dora").await;
    let mut guesser = s.client();
    // Four failed logins and one failed change: five failures of one account.
    for _ in 0..4 {
        assert_eq!(login(&mut guesser, "dora", "guess guess").await.status, 401);
    }
    put(&mut c, "/password", &change("guess guess", NEW_PASSWORD))
        .await
        .assert_error(400, "Wrong password", "wrong_password");
    // Locked on both paths, even with the right password (never checked while locked).
    let r = login(&mut s.client(), "dora", PASSWORD).await;
    r.assert_error(429, "Too many requests", "too_many_requests");
    assert_eq!(r.header("retry-after"), Some("60"));
    let r = put(&mut c, "/password", &change(PASSWORD, NEW_PASSWORD)).await;
    r.assert_error(429, "Too many requests", "too_many_requests");
    assert_eq!(r.header("retry-after"), Some("60"));
    // One more failure through the change doubles the lock for login too.
    s.clock.advance(61);
    put(&mut c, "/password", &change("guess again", NEW_PASSWORD))
        .await
        .assert_error(400, "Wrong password", "wrong_password");
    let r = login(&mut s.client(), "dora", PASSWORD).await;
    assert_eq!(r.header("retry-after"), Some("120"));
    // Failed logins lock the change as well.
    s.clock.advance(121);
    assert_eq!(login(&mut guesser, "dora", "guess guess").await.status, 401);
    let r = put(&mut c, "/password", &change(PASSWORD, NEW_PASSWORD)).await;
    assert_eq!(r.header("retry-after"), Some("240"));
    s.clock.advance(241);
    // A right current password is a success: it resets the account's counter.
    put(&mut c, "/password", &change(PASSWORD, NEW_PASSWORD))
        .await
        .assert_null();
    for _ in 0..4 {
        assert_eq!(login(&mut guesser, "dora", "guess guess").await.status, 401);
    }
    logged_in(s, "dora", NEW_PASSWORD).await;
}

pub async fn concurrent_password_changes_have_one_winner(s: &TestServer) {
    let mut c = s.register("ella").await;
    let id = s.id_of(&mut c).await;
    let cookie = c
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    // Fewer racers than the lockout threshold: a racer that checks the old password after
    // the winner changed it fails that check, which counts.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..4 {
        let url = s.url("/password");
        let http = s.http.clone();
        let cookie = cookie.clone();
        tasks.spawn(async move {
            let password = format!("racing password {i}");
            let res = http
                .put(url)
                .header("content-type", "application/json")
                .header("cookie", cookie)
                .body(change(PASSWORD, &password).to_string())
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            let refresh = res
                .headers()
                .get_all("set-cookie")
                .iter()
                .filter_map(|v| v.to_str().ok()?.strip_prefix("refresh_token="))
                .map(|rest| rest.split(';').next().unwrap_or_default().to_owned())
                .next();
            let body: Value = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap();
            (status, body, password, refresh)
        });
    }
    let mut winners = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined.unwrap() {
            (200, body, password, refresh) => {
                assert_eq!(body, Value::Null);
                winners.push((password, refresh.expect("the winner's cookies")));
            }
            (400, body, _, refresh) => {
                assert_eq!(body["code"], "wrong_password", "{body}");
                assert_eq!(refresh, None, "a loser sets no cookies");
            }
            (other, body, _, _) => panic!("unexpected {other}: {body}"),
        }
    }
    // Exactly one change won; the password is the winner's; one notice was queued.
    assert_eq!(winners.len(), 1);
    let (password, refresh) = &winners[0];
    assert!(stored_password_is(s, id, password).await);
    assert_eq!(queued_for(s, id, "Password changed").await, 1);
    // The session continues with the winner's tokens.
    let mut winner = s.client();
    winner
        .cookies
        .insert("refresh_token".into(), refresh.clone());
    assert_eq!(winner.post_empty("/token/refresh").await.status, 200);
    assert_eq!(winner.post_empty("/token").await.status, 200);
}

// ----- set and status -----

pub async fn a_first_password_for_an_account_without_one(s: &TestServer) {
    let mut a = s.register("finn").await;
    let id = s.id_of(&mut a).await;
    let mut b = logged_in(s, "finn", PASSWORD).await;
    // A password already: POST /password refuses, whatever the body.
    a.post("/password", new_password(NEW_PASSWORD))
        .await
        .assert_error(400, "Password exists", "password_exists");
    drop_password(s, id).await;
    forgot(&mut s.client(), "finn@example.com")
        .await
        .assert_null();
    let mailed_before = reset_mail(s, "finn@example.com", 1).await;

    assert_eq!(a.get("/password").await.body, json!({"status": "set"}));
    // No password matches an account without one.
    put(&mut a, "/password", &change("", NEW_PASSWORD))
        .await
        .assert_error(400, "Wrong password", "wrong_password");
    a.post("/password", new_password("short"))
        .await
        .assert_error(
            400,
            "Password must contain from 8 to 128 symbols",
            "password_length",
        );
    a.post(
        "/password",
        json!({"password1": NEW_PASSWORD, "password2": "other"}),
    )
    .await
    .assert_error(400, "Passwords mismatch", "password_mismatch");

    // Concurrent first passwords: one is set, the others find it there.
    let cookie = format!("access_token={}", a.cookie("access_token").unwrap());
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..5 {
        let url = s.url("/password");
        let http = s.http.clone();
        let cookie = cookie.clone();
        tasks.spawn(async move {
            let password = format!("first password {i}");
            let res = http
                .post(url)
                .header("content-type", "application/json")
                .header("cookie", cookie)
                .body(new_password(&password).to_string())
                .send()
                .await
                .unwrap();
            let set_cookies = res.headers().get_all("set-cookie").iter().count();
            let status = res.status().as_u16();
            let body: Value = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap();
            (status, body, password, set_cookies)
        });
    }
    let mut winners = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (status, body, password, set_cookies) = joined.unwrap();
        assert_eq!(set_cookies, 0, "setting a password sets no cookies");
        match status {
            200 => winners.push(password),
            400 => assert_eq!(body["code"], "password_exists", "{body}"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(winners.len(), 1);
    assert!(stored_password_is(s, id, &winners[0]).await);
    assert_eq!(a.get("/password").await.body, json!({"status": "change"}));
    a.post("/password", new_password(NEW_PASSWORD))
        .await
        .assert_error(400, "Password exists", "password_exists");

    // A credential was added: the sessions continue; the notice is mailed; a reset link
    // mailed before no longer works; the new password logs in.
    assert_eq!(a.post_empty("/token").await.status, 200);
    assert_eq!(b.post_empty("/token/refresh").await.status, 200);
    mail_with(s, "finn@example.com", "Password changed", 1).await;
    assert_refused_token(
        &s.client()
            .post(
                &format!("/password/{mailed_before}"),
                new_password("stale link one"),
            )
            .await,
    );
    logged_in(s, "finn", &winners[0]).await;
}

pub async fn password_routes_shadow_nothing(s: &TestServer) {
    let mut c = s.register("gus").await;
    let id = s.id_of(&mut c).await;
    let mut anonymous = s.client();
    anonymous
        .get("/password")
        .await
        .assert_error(401, "Not authenticated", "not_authenticated");
    anonymous
        .post("/password", new_password(NEW_PASSWORD))
        .await
        .assert_error(401, "Not authenticated", "not_authenticated");
    for (method, path) in [
        ("DELETE", "/password"),
        ("PATCH", "/password"),
        ("GET", "/password/abc"),
        ("PUT", "/password/abc"),
        ("GET", "/forgot_password"),
    ] {
        c.send(method, path, &[], vec![]).await.assert_error(
            405,
            "Method not allowed",
            "method_not_allowed",
        );
    }
    for path in ["/password/", "/password/abc/", "/forgot_password/x"] {
        c.post_empty(path)
            .await
            .assert_error(404, "Not found", "not_found");
    }
    // `/{id}` routes still take decimal ids, beside `/password/{token}`.
    c.post(
        &format!("/{id}/change_username"),
        json!({"username": "gustav"}),
    )
    .await
    .assert_null();
    c.post_empty("/password/change_username")
        .await
        .assert_error(403, "Invalid or expired token", "invalid_or_expired_token");
}

/// A queue of no places could never take a request: `build()` says so.
#[tokio::test]
async fn a_forgot_password_queue_without_room_is_refused() {
    let store = authx::sqlx::SqliteStore::connect("sqlite::memory:")
        .await
        .unwrap();
    let built = authx::Auth::builder()
        .repo(std::sync::Arc::new(store))
        .auth_backend(authx::token::JwtBackend::hs256(crate::support::SECRET).unwrap())
        .base_url("http://localhost:8000")
        .configure(|s| s.forgot_password_queue = 0)
        .build();
    let error = built.unwrap_err().to_string();
    assert!(error.contains("forgot-password queue"), "{error}");
}
