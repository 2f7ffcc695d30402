//! The admin and search routers (CONTRACT 9.1, 9.5): the admin rule, ban, kick, blackout,
//! permissions, user lookup and search, the first admin bootstrapped by email, and the log
//! line of every admin action.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::support::{Backend, Client, Options, PASSWORD, Reply, TestServer, link_token};

/// Registers `name` and makes it an admin in storage; its client and id.
async fn admin<'s>(s: &'s TestServer, name: &str) -> (Client<'s>, i64) {
    let (client, id) = user(s, name).await;
    s.make_admin(id).await;
    (client, id)
}

/// Registers `name`; its client and id.
async fn user<'s>(s: &'s TestServer, name: &str) -> (Client<'s>, i64) {
    let mut client = s.register(name).await;
    let id = s.id_of(&mut client).await;
    (client, id)
}

/// A new client logged in as `name`.
async fn login<'s>(s: &'s TestServer, name: &str) -> Client<'s> {
    let mut client = s.client();
    client
        .post("/login", json!({"login": name, "password": PASSWORD}))
        .await
        .assert_null();
    client
}

async fn login_reply(s: &TestServer, name: &str, password: &str) -> Reply {
    s.client()
        .post("/login", json!({"login": name, "password": password}))
        .await
}

#[track_caller]
fn assert_dead(r: &Reply) {
    r.assert_error(401, "Invalid token", "invalid_token");
}

/// Asserts an answer deleted both token cookies.
#[track_caller]
fn assert_cookies_deleted(r: &Reply) {
    let cookies = r.set_cookies();
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    assert!(
        cookies.iter().all(|c| c.contains("Max-Age=0")),
        "{cookies:?}"
    );
}

/// A JSON answer's body, after checking it is a `200`.
#[track_caller]
fn ok(r: Reply) -> Value {
    assert_eq!(r.status, 200, "body: {}", r.body);
    assert_eq!(r.header("content-type"), Some("application/json"));
    r.body
}

/// The access token of a client, as a bearer-only client would send it.
fn bearer_client<'s>(s: &'s TestServer, of: &Client<'_>) -> Client<'s> {
    let mut c = s.client();
    c.bearer = of.cookie("access_token");
    c
}

/// `20.03.2022, 14:05 UTC` for `at`, computed apart from the service (days to civil date).
fn utc_ts(at: i64) -> String {
    let (days, secs) = (at.div_euclid(86_400), at.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{day:02}.{month:02}.{year}, {:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60
    )
}

pub async fn admin_routes_need_an_admin_in_storage(s: &TestServer) {
    let (mut bob, bob_id) = user(s, "bob").await;
    let (_, carol_id) = user(s, "carol").await;
    let routes: Vec<(&str, String)> = vec![
        ("GET", "/blacklist".into()),
        ("POST", format!("/{carol_id}/blacklist")),
        ("POST", format!("/{carol_id}/kick")),
        ("GET", "/blackout".into()),
        ("POST", "/blackout".into()),
        ("DELETE", "/blackout".into()),
        ("GET", "/id_by_username?username=carol".into()),
        ("GET", format!("/{carol_id}/permissions")),
        ("POST", format!("/{carol_id}/permissions")),
        ("GET", format!("/{carol_id}")),
        ("GET", String::new()),
        ("GET", "?username=carol".into()),
    ];
    let body = || br#"{"action": "CLEAR"}"#.to_vec();
    let json_ct: &[(&str, &str)] = &[("content-type", "application/json")];
    for (method, path) in &routes {
        // Without a token: 401, not the original's 403.
        s.client()
            .send(method, path, json_ct, body())
            .await
            .assert_error(401, "Not authenticated", "not_authenticated");
        let mut junk = s.client();
        junk.bearer = Some("junk".into());
        junk.send(method, path, json_ct, body()).await.assert_error(
            401,
            "Invalid token",
            "invalid_token",
        );
        // Authenticated, not an admin: 403, and nothing happens.
        bob.send(method, path, json_ct, body())
            .await
            .assert_error(403, "Forbidden", "forbidden");
    }
    let mut carol = login(s, "carol").await;
    assert_eq!(
        carol.post_empty("/token").await.status,
        200,
        "carol was not kicked"
    );

    // `admin` is read from storage on each request: granted, it counts at once with the token
    // issued before; withdrawn, at once too.
    s.make_admin(bob_id).await;
    let claims = ok(bob.post_empty("/token").await);
    assert_eq!(
        claims["permissions"],
        json!([]),
        "the token predates the grant"
    );
    assert_eq!(
        ok(bob.get("/blacklist").await),
        json!({"global": [], "current": []})
    );
    match s.backend {
        // A JSON array in SQLite and MySQL.
        Backend::Sqlite | Backend::MySql => {
            s.exec("UPDATE users SET permissions = '[]' WHERE id = $1", bob_id)
        }
        Backend::Postgres => s.exec("UPDATE users SET permissions = '{}' WHERE id = $1", bob_id),
    }
    .await;
    bob.get("/blacklist")
        .await
        .assert_error(403, "Forbidden", "forbidden");
    // A banned admin (here by SQL, which ends no session) is no admin.
    s.make_admin(bob_id).await;
    assert_eq!(bob.get("/blacklist").await.status, 200);
    s.ban(bob_id).await;
    bob.get("/blacklist")
        .await
        .assert_error(403, "Forbidden", "forbidden");

    // State changes get the CSRF checks; a bearer request is exempt.
    let (mut root, _) = admin(s, "root").await;
    root.send(
        "POST",
        &format!("/{carol_id}/kick"),
        &[("origin", "https://evil.example")],
        vec![],
    )
    .await
    .assert_error(403, "Cross-site request refused", "cross_site_request");
    assert_eq!(
        carol.post_empty("/token").await.status,
        200,
        "carol was not kicked"
    );
    let mut bearer = bearer_client(s, &root);
    s.clock.advance_ms(1);
    bearer
        .send(
            "POST",
            &format!("/{carol_id}/kick"),
            &[("origin", "https://evil.example")],
            vec![],
        )
        .await
        .assert_null();
    assert_dead(&carol.post_empty("/token").await);
}

pub async fn ban_ends_sessions_at_once(s: &TestServer) {
    let (mut root, root_id) = admin(s, "root").await;
    let (mut bob, bob_id) = user(s, "bob").await;
    let mut bob2 = login(s, "bob").await;
    let ban = format!("/{bob_id}/blacklist");

    root.post("/999/blacklist", json!({})).await.assert_error(
        404,
        "User not found",
        "user_not_found",
    );
    root.post_empty(&format!("/{root_id}/blacklist"))
        .await
        .assert_error(400, "Cannot do this to yourself", "self_target");
    for (body, detail) in [
        (
            json!({"expires_in": "soon"}),
            "Field expires_in must be a positive integer",
        ),
        (
            json!({"expires_in": 0}),
            "Field expires_in must be a positive integer",
        ),
        (
            json!({"expires_in": -5}),
            "Field expires_in must be a positive integer",
        ),
        (
            json!({"expires_in": 1.5}),
            "Field expires_in must be a positive integer",
        ),
        (json!({"reason": 5}), "Field reason must be a string"),
        (
            json!({"reason": "x".repeat(501)}),
            "Field reason must be at most 500 characters",
        ),
    ] {
        root.post(&ban, body)
            .await
            .assert_error(400, detail, "invalid_body");
    }
    assert_eq!(bob.post_empty("/token").await.status, 200, "nothing banned");

    // Cut-offs are exact to the millisecond: a session opened in the very millisecond of a
    // ban, kick or blackout survives it (it cannot be told from one opened right after), so
    // the manual clock moves on before each.
    s.clock.advance_ms(1);
    let now = s.clock_now();
    let r = root
        .post(&ban, json!({"reason": "  spam  ", "expires_in": 3600}))
        .await;
    r.assert_null();
    assert!(r.set_cookies().is_empty(), "the caller's cookies stay");
    // The very next request with an access token of the banned user is refused, in every
    // session, the application's own routes included; refresh too.
    assert_dead(&bob.post_empty("/token").await);
    assert_dead(&bob2.get("/sessions").await);
    let me = format!("{}/me", s.root);
    assert_dead(&bob2.send("GET", &me, &[], vec![]).await);
    assert_dead(&bob.post_empty("/token/refresh").await);
    // Login says banned only after a correct password.
    login_reply(s, "bob", PASSWORD)
        .await
        .assert_error(400, "User is banned", "user_banned");
    login_reply(s, "bob", "wrong password").await.assert_error(
        401,
        "Invalid credentials",
        "invalid_credentials",
    );

    let listed = ok(root.get("/blacklist").await);
    assert_eq!(
        listed,
        json!({
            "global": [{"id": bob_id, "username": "bob", "reason": "spam",
                        "banned_at": now, "expires_at": now + 3600}],
            "current": [bob_id.to_string()],
        })
    );
    assert_eq!(ok(root.get(&format!("/{bob_id}")).await)["active"], false);

    // `current` holds the bans of the last access-token lifetime only.
    s.clock.advance(901);
    assert_eq!(root.post_empty("/token/refresh").await.status, 200);
    let listed = ok(root.get("/blacklist").await);
    assert_eq!(listed["current"], json!([]));
    assert_eq!(listed["global"][0]["id"], bob_id);

    // Toggled again: unbanned, the same password works, the list is empty.
    root.post_empty(&ban).await.assert_null();
    let mut bob = login(s, "bob").await;
    assert_eq!(bob.post_empty("/token").await.status, 200);
    assert_eq!(
        ok(root.get("/blacklist").await),
        json!({"global": [], "current": []})
    );
    assert_eq!(ok(root.get(&format!("/{bob_id}")).await)["active"], true);

    // A ban without a body lasts until lifted, without a reason.
    s.clock.advance_ms(1);
    let now = s.clock_now();
    root.post_empty(&ban).await.assert_null();
    assert_dead(&bob.post_empty("/token").await);
    assert_eq!(
        ok(root.get("/blacklist").await)["global"],
        json!([{"id": bob_id, "username": "bob", "reason": null, "banned_at": now,
                "expires_at": null}])
    );
    s.clock.advance(30 * 86_400);
    login_reply(s, "bob", PASSWORD)
        .await
        .assert_error(400, "User is banned", "user_banned");
}

pub async fn bans_with_an_expiry_lift_themselves(s: &TestServer) {
    let (mut root, _) = admin(s, "root").await;
    let (_, bob_id) = user(s, "bob").await;
    root.post(&format!("/{bob_id}/blacklist"), json!({"expires_in": 60}))
        .await
        .assert_null();
    s.clock.advance(59);
    login_reply(s, "bob", PASSWORD)
        .await
        .assert_error(400, "User is banned", "user_banned");
    assert_eq!(ok(root.get(&format!("/{bob_id}")).await)["active"], false);
    // At the instant it expires the ban is lifted, with no janitor run: admins see it so
    // before the user comes back, and login works.
    s.clock.advance(1);
    assert_eq!(ok(root.get(&format!("/{bob_id}")).await)["active"], true);
    assert_eq!(ok(root.get("/blacklist").await)["global"], json!([]));
    let mut bob = login(s, "bob").await;
    assert_eq!(bob.post_empty("/token").await.status, 200);
    // Lifted in storage: toggling now bans again.
    root.post_empty(&format!("/{bob_id}/blacklist"))
        .await
        .assert_null();
    login_reply(s, "bob", PASSWORD)
        .await
        .assert_error(400, "User is banned", "user_banned");

    // Refresh sees an expired ban lifted too. A ban written by other means (SQL) ends no
    // session: a refresh while it is in force ends its session; one after it expired works.
    let (mut carol, carol_id) = user(s, "carol").await;
    let mut carol2 = login(s, "carol").await;
    let now = s.clock_now();
    s.execute(&format!(
        "UPDATE users SET active = FALSE, banned_at = {now}, ban_expires_at = {} WHERE id = {carol_id}",
        now + 10
    ))
    .await;
    assert_dead(&carol.post_empty("/token/refresh").await);
    s.clock.advance(10);
    assert_eq!(carol2.post_empty("/token/refresh").await.status, 200);
    assert_eq!(ok(root.get(&format!("/{carol_id}")).await)["active"], true);
    assert_eq!(
        s.count(&format!(
            "users WHERE id = {carol_id} AND (NOT active OR banned_at IS NOT NULL \
             OR ban_expires_at IS NOT NULL)"
        ))
        .await,
        0,
        "carol's ban is lifted in storage"
    );
    assert_eq!(
        s.count(&format!("users WHERE id = {bob_id} AND NOT active"))
            .await,
        1,
        "bob's ban stays"
    );
}

pub async fn kick_ends_sessions_and_login_works(s: &TestServer) {
    let (mut root, root_id) = admin(s, "root").await;
    let (mut bob, bob_id) = user(s, "bob").await;
    let mut bob2 = login(s, "bob").await;
    let (mut carol, _) = user(s, "carol").await;

    root.post_empty("/999/kick")
        .await
        .assert_error(404, "User not found", "user_not_found");
    s.clock.advance_ms(1);
    let r = root.post_empty(&format!("/{bob_id}/kick")).await;
    r.assert_null();
    assert!(r.set_cookies().is_empty());
    assert_dead(&bob.post_empty("/token").await);
    assert_dead(&bob2.post_empty("/token").await);
    assert_dead(&bob2.post_empty("/token/refresh").await);
    assert_eq!(carol.post_empty("/token").await.status, 200, "others stay");
    assert_eq!(root.post_empty("/token").await.status, 200);
    // Not a ban: a login right after the kick (the same millisecond) works.
    let mut again = login(s, "bob").await;
    assert_eq!(again.post_empty("/token").await.status, 200);
    assert_eq!(ok(root.get(&format!("/{bob_id}")).await)["active"], true);

    // Kicking oneself is logging out everywhere: the answer deletes the cookies.
    let mut root_elsewhere = login(s, "root").await;
    s.clock.advance_ms(1);
    let r = root.post_empty(&format!("/{root_id}/kick")).await;
    r.assert_null();
    assert_cookies_deleted(&r);
    assert_dead(&root_elsewhere.post_empty("/token").await);
}

pub async fn blackout_logs_everyone_out(s: &TestServer) {
    let (mut root, _) = admin(s, "root").await;
    let (mut bob, _) = user(s, "bob").await;
    let bob_before = copy(s, &bob);
    let root_before = bearer_client(s, &root);

    root.get("/blackout")
        .await
        .assert_error(404, "Not found", "not_found");
    s.clock.advance(5);
    let at = s.clock_now();
    let r = root.post_empty("/blackout").await;
    r.assert_null();
    assert_cookies_deleted(&r);
    // Everyone's sessions ended, the caller's included.
    assert_dead(&bob.post_empty("/token").await);
    assert_dead(&bob.post_empty("/token/refresh").await);
    assert_dead(&copy(s, &root_before).post_empty("/token").await);
    // A login right after it (the same millisecond) works.
    let mut root = login(s, "root").await;
    assert_eq!(root.post_empty("/token").await.status, 200);
    let mut bob = login(s, "bob").await;
    assert_eq!(
        ok(root.get("/blackout").await),
        json!({"ts": utc_ts(at), "at": at})
    );

    // Another one later replaces the record.
    s.clock.advance(3600);
    assert_eq!(root.post_empty("/token/refresh").await.status, 200);
    root.post_empty("/blackout").await.assert_null();
    assert_dead(&bob.post_empty("/token").await);
    let mut root = login(s, "root").await;
    let later = s.clock_now();
    assert_eq!(
        ok(root.get("/blackout").await),
        json!({"ts": utc_ts(later), "at": later})
    );
    let mut bob = login(s, "bob").await;

    // Deleting the record resurrects nothing: the ended sessions stay ended, access and
    // refresh tokens alike; sessions opened since carry on.
    root.delete("/blackout").await.assert_null();
    root.get("/blackout")
        .await
        .assert_error(404, "Not found", "not_found");
    let mut old = copy(s, &bob_before);
    assert_dead(&old.post_empty("/token").await);
    assert_dead(&old.post_empty("/token/refresh").await);
    assert_dead(&copy(s, &root_before).post_empty("/token").await);
    assert_eq!(s.count("session_cutoff").await, 1);
    assert_eq!(bob.post_empty("/token").await.status, 200);
    assert_eq!(bob.post_empty("/token/refresh").await.status, 200);
    // Deleting again is no error.
    root.delete("/blackout").await.assert_null();
}

/// A client holding what `of` holds now (its cookies, its bearer token).
fn copy<'s>(s: &'s TestServer, of: &Client<'_>) -> Client<'s> {
    Client {
        cookies: of.cookies.clone(),
        bearer: of.bearer.clone(),
        ..s.client()
    }
}

pub async fn permission_changes_end_sessions(s: &TestServer) {
    let (mut root, root_id) = admin(s, "root").await;
    let (mut bob, bob_id) = user(s, "bob").await;
    let path = format!("/{bob_id}/permissions");

    assert_eq!(ok(root.get(&path).await), json!({"permissions": []}));
    root.get("/999/permissions")
        .await
        .assert_error(404, "User not found", "user_not_found");
    for (body, detail, code) in [
        (
            json!({"action": "DROP", "payload": "x"}),
            "Wrong action",
            "wrong_action",
        ),
        (
            json!({"action": "add", "payload": "x"}),
            "Wrong action",
            "wrong_action",
        ),
        (
            json!({"action": 5}),
            "Field action must be a string",
            "invalid_body",
        ),
        (
            json!({"payload": "x"}),
            "Field required: action",
            "field_required",
        ),
        (
            json!({"action": "ADD"}),
            "Field required: payload",
            "field_required",
        ),
        (
            json!({"action": "REMOVE"}),
            "Field required: payload",
            "field_required",
        ),
        (
            json!({"action": "ADD", "payload": 5}),
            "Field payload must be a string",
            "invalid_body",
        ),
        (
            json!({"action": "ADD", "payload": "Editor"}),
            "Invalid permission",
            "invalid_permission",
        ),
        (
            json!({"action": "ADD", "payload": ""}),
            "Invalid permission",
            "invalid_permission",
        ),
        (
            json!({"action": "ADD", "payload": "a b"}),
            "Invalid permission",
            "invalid_permission",
        ),
        (
            json!({"action": "ADD", "payload": "x".repeat(65)}),
            "Invalid permission",
            "invalid_permission",
        ),
    ] {
        root.post(&path, body).await.assert_error(400, detail, code);
    }
    root.post("/999/permissions", json!({"action": "CLEAR"}))
        .await
        .assert_error(404, "User not found", "user_not_found");
    assert_eq!(
        bob.post_empty("/token").await.status,
        200,
        "nothing changed"
    );

    // A change ends the user's sessions at once: no token carries stale permissions.
    s.clock.advance_ms(1);
    let r = root
        .post(&path, json!({"action": "ADD", "payload": "editor"}))
        .await;
    r.assert_null();
    assert!(r.set_cookies().is_empty());
    assert_dead(&bob.post_empty("/token").await);
    let mut bob = login(s, "bob").await;
    assert_eq!(
        ok(bob.post_empty("/token").await)["permissions"],
        json!(["editor"])
    );
    for (body, after) in [
        (
            json!({"action": "ADD", "payload": "billing:read.v2-x_1"}),
            json!(["editor", "billing:read.v2-x_1"]),
        ),
        // Held already: kept once.
        (
            json!({"action": "ADD", "payload": "editor"}),
            json!(["editor", "billing:read.v2-x_1"]),
        ),
        (
            json!({"action": "REMOVE", "payload": "editor"}),
            json!(["billing:read.v2-x_1"]),
        ),
        (
            json!({"action": "REMOVE", "payload": "missing"}),
            json!(["billing:read.v2-x_1"]),
        ),
        // CLEAR needs no payload, and ignores one.
        (
            json!({"action": "CLEAR", "payload": "Not Checked"}),
            json!([]),
        ),
    ] {
        s.clock.advance_ms(1);
        root.post(&path, body).await.assert_null();
        assert_eq!(ok(root.get(&path).await), json!({"permissions": after}));
        assert_dead(&bob.post_empty("/token").await);
        bob = login(s, "bob").await;
        assert_eq!(ok(bob.post_empty("/token").await)["permissions"], after);
    }

    // An admin cannot drop their own admin.
    let own = format!("/{root_id}/permissions");
    for body in [
        json!({"action": "REMOVE", "payload": "admin"}),
        json!({"action": "CLEAR"}),
    ] {
        root.post(&own, body)
            .await
            .assert_error(400, "Cannot do this to yourself", "self_target");
    }
    assert_eq!(ok(root.get(&own).await), json!({"permissions": ["admin"]}));
    // Another change of one's own ends one's own sessions: the answer deletes the cookies.
    s.clock.advance_ms(1);
    let r = root
        .post(&own, json!({"action": "ADD", "payload": "ops"}))
        .await;
    r.assert_null();
    assert_cookies_deleted(&r);
    let mut root = login(s, "root").await;
    assert_eq!(
        ok(root.post_empty("/token").await)["permissions"],
        json!(["admin", "ops"])
    );
    // Granting `admin` makes an admin at once; another admin may take it away again.
    root.post(&path, json!({"action": "ADD", "payload": "admin"}))
        .await
        .assert_null();
    let mut bob = login(s, "bob").await;
    assert_eq!(bob.get("/blacklist").await.status, 200);
    bob.post(&own, json!({"action": "REMOVE", "payload": "admin"}))
        .await
        .assert_null();
    let mut root = login(s, "root").await;
    root.get("/blacklist")
        .await
        .assert_error(403, "Forbidden", "forbidden");
}

/// `count` POSTs at once, each `(admin's bearer token, path, body)`; every one must answer
/// `200 null`.
async fn all_at_once(s: &TestServer, requests: Vec<(String, String, Value)>) {
    let mut tasks = tokio::task::JoinSet::new();
    for (token, path, body) in requests {
        let (http, url) = (s.http.clone(), s.url(&path));
        tasks.spawn(async move {
            let res = http
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        });
    }
    while let Some(done) = tasks.join_next().await {
        let (status, body) = done.unwrap();
        assert_eq!((status, body.as_str()), (200, "null"));
    }
}

pub async fn two_admins_act_on_one_user_at_once(s: &TestServer) {
    let (root, _) = admin(s, "root").await;
    let (deputy, _) = admin(s, "deputy").await;
    let (mut bob, bob_id) = user(s, "bob").await;
    let tokens = [
        root.cookie("access_token").unwrap(),
        deputy.cookie("access_token").unwrap(),
    ];
    let mut root = bearer_client(s, &root);
    s.clock.advance_ms(1);

    // Ten toggles at once, five from each admin: each sees what the one before left, so they
    // cancel out, and the bans among them ended bob's sessions.
    let toggles = (0..10)
        .map(|i| {
            (
                tokens[i % 2].clone(),
                format!("/{bob_id}/blacklist"),
                json!({"reason": "race"}),
            )
        })
        .collect();
    all_at_once(s, toggles).await;
    assert_eq!(ok(root.get(&format!("/{bob_id}")).await)["active"], true);
    assert_eq!(ok(root.get("/blacklist").await)["global"], json!([]));
    assert_dead(&bob.post_empty("/token").await);
    let mut bob = login(s, "bob").await;
    s.clock.advance_ms(1);
    // Three more: banned.
    let toggles = (0..3)
        .map(|i| {
            (
                tokens[i % 2].clone(),
                format!("/{bob_id}/blacklist"),
                json!({}),
            )
        })
        .collect();
    all_at_once(s, toggles).await;
    assert_eq!(ok(root.get(&format!("/{bob_id}")).await)["active"], false);
    assert_dead(&bob.post_empty("/token").await);
    root.post_empty(&format!("/{bob_id}/blacklist"))
        .await
        .assert_null();

    // Permissions added by both at once are all kept.
    let names: Vec<String> = (0..12).map(|i| format!("perm{i:02}")).collect();
    let adds = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            (
                tokens[i % 2].clone(),
                format!("/{bob_id}/permissions"),
                json!({"action": "ADD", "payload": name}),
            )
        })
        .collect();
    all_at_once(s, adds).await;
    let held = ok(root.get(&format!("/{bob_id}/permissions")).await);
    let held: BTreeSet<String> = serde_json::from_value(held["permissions"].clone()).unwrap();
    assert_eq!(held, names.iter().cloned().collect::<BTreeSet<_>>());
    // One removing while the other adds: both take effect.
    let mixed = vec![
        (
            tokens[0].clone(),
            format!("/{bob_id}/permissions"),
            json!({"action": "REMOVE", "payload": "perm00"}),
        ),
        (
            tokens[1].clone(),
            format!("/{bob_id}/permissions"),
            json!({"action": "ADD", "payload": "extra"}),
        ),
    ];
    all_at_once(s, mixed).await;
    let held = ok(root.get(&format!("/{bob_id}/permissions")).await);
    let held: BTreeSet<String> = serde_json::from_value(held["permissions"].clone()).unwrap();
    assert!(
        held.contains("extra") && !held.contains("perm00"),
        "{held:?}"
    );
    assert_eq!(held.len(), 12);
}

pub async fn user_lookup_and_id_by_username(s: &TestServer) {
    let (mut root, _) = admin(s, "root").await;
    let created = s.clock_now();
    let (bob, bob_id) = user(s, "Bob_K").await;
    s.clock.advance(3);
    let bob2 = login(s, "bob_k").await;
    let last_login = s.clock_now();
    let r = root.get(&format!("/{bob_id}")).await;
    let body = ok(r);
    assert_eq!(
        body,
        json!({
            "id": bob_id, "username": "Bob_K", "email": "Bob_K@example.com",
            "active": true, "confirmed": false, "permissions": [], "providers": [],
            "has_password": true, "two_factor": false, "created_at": created,
            "last_login": last_login,
        })
    );
    // Never a hash, a secret or a token.
    let text = body.to_string();
    let hash = s.password_hash(bob_id).await;
    for secret in [
        hash.as_str(),
        "argon2",
        &bob.cookie("access_token").unwrap(),
        &bob.cookie("refresh_token").unwrap(),
        &bob2.cookie("refresh_token").unwrap(),
        &root.cookie("access_token").unwrap(),
    ] {
        assert!(!text.contains(secret), "{text}");
    }
    let (_, carol_id) = user(s, "carol").await;
    assert_eq!(
        ok(root.get(&format!("/{carol_id}")).await)["last_login"],
        Value::Null
    );
    root.get("/999")
        .await
        .assert_error(404, "User not found", "user_not_found");
    root.get("/abc")
        .await
        .assert_error(404, "Not found", "not_found");

    for name in ["Bob_K", "bob_k", "BOB_K", "%42ob_K", "+bob_k+"] {
        assert_eq!(
            ok(root.get(&format!("/id_by_username?username={name}")).await),
            json!({"id": bob_id}),
            "{name}"
        );
    }
    for name in ["bob", "bob_", "b%25", "_ob_k", "nobody"] {
        root.get(&format!("/id_by_username?username={name}"))
            .await
            .assert_error(404, "User not found", "user_not_found");
    }
    for query in ["", "?username=", "?user=bob_k"] {
        root.get(&format!("/id_by_username{query}"))
            .await
            .assert_error(400, "Invalid query parameter: username", "invalid_query");
    }
}

/// Seeds users through SQL, many per statement: `(username, email)` each, no password.
async fn seed(s: &TestServer, users: &[(String, String)]) {
    // A literal as the backend reads it: MySQL's take `\` as an escape.
    let literal = |text: &str| match s.backend {
        Backend::MySql => text.replace('\\', r"\\").replace('\'', "''"),
        Backend::Sqlite | Backend::Postgres => text.replace('\'', "''"),
    };
    for chunk in users.chunks(100) {
        let values: Vec<String> = chunk
            .iter()
            .map(|(name, email)| {
                format!(
                    "('{}', '{}', NULL, FALSE, {})",
                    literal(email),
                    literal(name),
                    s.clock_now()
                )
            })
            .collect();
        s.execute(&format!(
            "INSERT INTO users (email, username, password_hash, confirmed, created_at) VALUES {}",
            values.join(", ")
        ))
        .await;
    }
}

fn usernames(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_owned())
        .collect()
}

pub async fn search_matches_literal_substrings(s: &TestServer) {
    let (mut root, root_id) = admin(s, "root").await;
    let people: Vec<(String, String)> = [
        ("ann_lee", "ann%lee@example.com"),
        ("annxlee", "annxlee@example.com"),
        ("Ann-Lee", "ann.lee@example.org"),
        ("bob", "b.o*b@example.net"),
        ("BOBBY", r"bobby\x@example.net"),
        ("carol", "carol_x@EXAMPLE.com"),
    ]
    .iter()
    .map(|(n, e)| ((*n).to_owned(), (*e).to_owned()))
    .collect();
    seed(s, &people).await;
    let found = |r: Reply| {
        let page = ok(r);
        (
            usernames(&page),
            page["pages"].clone(),
            page["currentPage"].clone(),
        )
    };
    let names = |list: &[&str]| list.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
    for (query, expected) in [
        // `_`, `%`, `\` and `.*` match only themselves.
        ("?username=_", names(&["ann_lee"])),
        ("?username=n_l", names(&["ann_lee"])),
        ("?username=%25", names(&[])),
        ("?username=.*", names(&[])),
        ("?email=%25", names(&["ann_lee"])),
        ("?email=n%25l", names(&["ann_lee"])),
        ("?email=_", names(&["carol"])),
        ("?email=%5C", names(&["BOBBY"])),
        ("?email=y%5Cx", names(&["BOBBY"])),
        ("?email=.*", names(&[])),
        ("?email=o*b", names(&["bob"])),
        ("?email=b.o", names(&["bob"])),
        ("?email=n.l", names(&["Ann-Lee"])),
        // Without regard to case, on both sides.
        ("?username=ANN", names(&["ann_lee", "annxlee", "Ann-Lee"])),
        ("?username=bob", names(&["bob", "BOBBY"])),
        (
            "?email=example.COM",
            names(&["root", "ann_lee", "annxlee", "carol"]),
        ),
        // Criteria combine; the id is exact; unknown parameters are ignored.
        ("?username=ann&email=.org", names(&["Ann-Lee"])),
        ("?username=ann&email=.net", names(&[])),
        ("?username=&email=.net", names(&["bob", "BOBBY"])),
        ("?id=ROOT", names(&["root"])),
        ("?id=ROOT&username=ann", names(&[])),
        ("?id=999", names(&[])),
        (
            "?sort=desc",
            names(&[
                "root", "ann_lee", "annxlee", "Ann-Lee", "bob", "BOBBY", "carol",
            ]),
        ),
    ] {
        let query = query.replace("ROOT", &root_id.to_string());
        let (items, pages, current) = found(root.get(&query).await);
        assert_eq!(items, expected, "{query}");
        assert_eq!(pages, json!(usize::from(!expected.is_empty())), "{query}");
        assert_eq!(current, json!(1), "{query}");
    }
    // Items are the users as `GET /{id}` shows them.
    let page = ok(root.get("?username=bobby").await);
    let bobby_id = page["items"][0]["id"].as_i64().unwrap();
    assert_eq!(
        page["items"][0],
        ok(root.get(&format!("/{bobby_id}")).await)
    );
    assert_eq!(page["items"][0]["has_password"], false);

    for (query, name) in [
        ("?p=abc", "p"),
        ("?p=0", "p"),
        ("?p=-1", "p"),
        ("?p=1.5", "p"),
        ("?p=", "p"),
        ("?id=x", "id"),
        ("?id=-1", "id"),
        ("?id=0", "id"),
        ("?username=a&id=1x", "id"),
    ] {
        root.get(query).await.assert_error(
            400,
            &format!("Invalid query parameter: {name}"),
            "invalid_query",
        );
    }
}

pub async fn search_pages_exactly(s: &TestServer) {
    let (mut root, root_id) = admin(s, "root").await;
    let seeded: Vec<(String, String)> = (0..350)
        .map(|i| (format!("user{i:03}"), format!("user{i:03}@example.com")))
        .collect();
    seed(s, &seeded).await;
    // 351 users, 20 a page: 18 pages, the last with 11.
    let mut seen = Vec::new();
    let mut names = Vec::new();
    for p in 1..=18 {
        let page = ok(root.get(&format!("?p={p}")).await);
        assert_eq!(page["pages"], 18, "page {p}");
        assert_eq!(page["currentPage"], p, "page {p}");
        let items = page["items"].as_array().unwrap();
        assert_eq!(items.len(), if p == 18 { 11 } else { 20 }, "page {p}");
        seen.extend(items.iter().map(|u| u["id"].as_i64().unwrap()));
        names.extend(usernames(&page));
    }
    let mut sorted = seen.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(seen, sorted, "ordered by id, no user twice");
    assert_eq!(seen.len(), 351);
    assert_eq!(seen[0], root_id);
    let mut expected = vec!["root".to_owned()];
    expected.extend(seeded.iter().map(|(n, _)| n.clone()));
    assert_eq!(names, expected);
    // Past the end: no items, the page count still right.
    for p in [19_i64, 1_000_000_000_000] {
        assert_eq!(
            ok(root.get(&format!("?p={p}")).await),
            json!({"items": [], "pages": 18, "currentPage": p})
        );
    }
    // A filter pages the same way: user100 to user199 contain "user1".
    let page = ok(root.get("?username=user1&p=5").await);
    assert_eq!(page["pages"], 5);
    assert_eq!(
        usernames(&page),
        (180..200).map(|i| format!("user{i}")).collect::<Vec<_>>()
    );
    assert_eq!(
        ok(root.get("?username=nobody").await),
        json!({"items": [], "pages": 0, "currentPage": 1})
    );

    // The page size is a setting.
    let small = s
        .variant(Options {
            search_page_size: Some(7),
            ..Options::default()
        })
        .await;
    let (mut root, _) = admin(&small, "root").await;
    seed(&small, &seeded[..30]).await;
    let page = ok(root.get("?p=5").await);
    assert_eq!(page["pages"], 5);
    assert_eq!(
        usernames(&page),
        ["user027", "user028", "user029"].map(str::to_owned)
    );
    let repo = authx::sqlx::connect("sqlite::memory:").await.unwrap();
    let refused = authx::Auth::builder()
        .repo(repo)
        .auth_backend(authx::token::JwtBackend::hs256(crate::support::SECRET).unwrap())
        .base_url("http://localhost:8000")
        .search_page_size(0)
        .build();
    assert!(refused.is_err());
}

pub async fn admin_bootstrapped_by_email(s: &TestServer) {
    let s = s
        .variant(Options {
            admin_emails: vec!["  Boss@Example.com ".into()],
            ..Options::default()
        })
        .await;
    let mut boss = s.register("boss").await;
    let mut eve = s.register("eve").await;
    // Not before the address is confirmed.
    boss.get("/blacklist")
        .await
        .assert_error(403, "Forbidden", "forbidden");
    for (client, address) in [
        (&mut boss, "boss@example.com"),
        (&mut eve, "eve@example.com"),
    ] {
        let token = link_token(&s.mail_to(address, 1).await);
        s.client()
            .post_empty(&format!("/confirm/{token}"))
            .await
            .assert_null();
        assert_eq!(ok(client.get("/confirm").await)["confirmed"], true);
    }
    // An admin at once (storage decides), with the token issued before, which does not say so.
    assert_eq!(ok(boss.get("/blacklist").await)["global"], json!([]));
    assert_eq!(
        ok(boss.post_empty("/token").await)["permissions"],
        json!([])
    );
    // Tokens issued after the confirmation carry it.
    assert_eq!(boss.post_empty("/token/refresh").await.status, 200);
    assert_eq!(
        ok(boss.post_empty("/token").await)["permissions"],
        json!(["admin"])
    );
    let mut again = login(&s, "boss").await;
    assert_eq!(
        ok(again.post_empty("/token").await)["permissions"],
        json!(["admin"])
    );
    // An address not listed gets nothing.
    eve.get("/blacklist")
        .await
        .assert_error(403, "Forbidden", "forbidden");
    assert_eq!(ok(eve.post_empty("/token").await)["permissions"], json!([]));
}

pub async fn admin_actions_are_logged(s: &TestServer) {
    log::install();
    // Ids no other test uses, so this test's lines are told apart in the shared log.
    let base = log::unique_id_base();
    match s.backend {
        Backend::Sqlite => {
            s.execute(&format!(
                "INSERT INTO users (id, email, username, created_at) \
                 VALUES ({base}, 'seed@example.com', 'seed', 0)"
            ))
            .await;
        }
        Backend::Postgres => {
            s.execute(&format!(
                "ALTER TABLE users ALTER COLUMN id RESTART WITH {}",
                base + 1
            ))
            .await;
        }
        Backend::MySql => {
            s.execute(&format!("ALTER TABLE users AUTO_INCREMENT = {}", base + 1))
                .await;
        }
    }
    let (mut root, root_id) = admin(s, "root").await;
    let (_, bob_id) = user(s, "bob").await;
    assert_eq!((root_id, bob_id), (base + 1, base + 2));
    let perms = format!("/{bob_id}/permissions");
    // Refused actions are not logged.
    root.post_empty(&format!("/{root_id}/blacklist"))
        .await
        .assert_error(400, "Cannot do this to yourself", "self_target");
    root.post(&perms, json!({"action": "DROP"}))
        .await
        .assert_error(400, "Wrong action", "wrong_action");
    root.post_empty(&format!("/{bob_id}/blacklist"))
        .await
        .assert_null();
    root.post_empty(&format!("/{bob_id}/blacklist"))
        .await
        .assert_null();
    root.post_empty(&format!("/{bob_id}/kick"))
        .await
        .assert_null();
    for body in [
        json!({"action": "ADD", "payload": "p"}),
        json!({"action": "REMOVE", "payload": "p"}),
        json!({"action": "CLEAR"}),
    ] {
        root.post(&perms, body).await.assert_null();
    }
    root.post_empty("/blackout").await.assert_null();
    let mut root = login(s, "root").await;
    root.delete("/blackout").await.assert_null();
    // Reads are no actions.
    ok(root.get("/blacklist").await);
    ok(root.get(&format!("/{bob_id}")).await);
    let target = Some(bob_id);
    assert_eq!(
        log::actions_of(root_id),
        [
            ("ban", target),
            ("unban", target),
            ("kick", target),
            ("add_permission", target),
            ("remove_permission", target),
            ("clear_permissions", target),
            ("set_blackout", None),
            ("delete_blackout", None),
        ]
        .map(|(action, target)| (action.to_owned(), target))
    );
}

/// The admin actions' log lines, read by a subscriber for the whole test binary.
mod log {
    use std::sync::{Mutex, Once};

    use tracing::field::{Field, Visit};
    use tracing_subscriber::layer::SubscriberExt as _;

    /// One admin action's line: who, what, whom (`None`: everyone).
    #[derive(Debug, Default)]
    struct Line {
        level: Option<tracing::Level>,
        message: String,
        actor_id: Option<i64>,
        action: Option<String>,
        target_id: Option<i64>,
    }

    impl Visit for Line {
        fn record_i64(&mut self, field: &Field, value: i64) {
            match field.name() {
                "actor_id" => self.actor_id = Some(value),
                "target_id" => self.target_id = Some(value),
                _ => {}
            }
        }

        fn record_u64(&mut self, field: &Field, value: u64) {
            self.record_i64(field, i64::try_from(value).unwrap());
        }

        fn record_str(&mut self, field: &Field, value: &str) {
            if field.name() == "action" {
                self.action = Some(value.to_owned());
            }
        }

        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            if field.name() == "message" {
                self.message = format!("{value:?}");
            }
        }
    }

    static LINES: Mutex<Vec<Line>> = Mutex::new(Vec::new());

    struct Capture;

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
        fn on_event(
            &self,
            event: &tracing::Event<'_>,
            _: tracing_subscriber::layer::Context<'_, S>,
        ) {
            let mut line = Line::default();
            event.record(&mut line);
            if line.message == "authx: admin action" {
                line.level = Some(*event.metadata().level());
                LINES.lock().unwrap().push(line);
            }
        }
    }

    /// Installs the subscriber, once for the binary.
    pub fn install() {
        static ONCE: Once = Once::new();
        ONCE.call_once(|| {
            tracing::subscriber::set_global_default(tracing_subscriber::registry().with(Capture))
                .expect("no other global subscriber");
        });
    }

    /// A random id far above those of the other tests.
    pub fn unique_id_base() -> i64 {
        let hex = authx::random::sha256_hex(&authx::random::token(16));
        1_000_000 + i64::from_str_radix(&hex[..7], 16).unwrap() * 10
    }

    /// The actions logged at info level with actor `actor`, in order.
    pub fn actions_of(actor: i64) -> Vec<(String, Option<i64>)> {
        LINES
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.actor_id == Some(actor))
            .inspect(|l| assert_eq!(l.level, Some(tracing::Level::INFO), "{l:?}"))
            .map(|l| (l.action.clone().unwrap_or_default(), l.target_id))
            .collect()
    }
}
