//! The sessions routes (CONTRACT 9.2): listing one's sessions, ending one, the others or all,
//! each taking effect at once; absolute lifetime; storage bounded by live data.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Client, Options, PASSWORD, Reply, TestServer};

async fn login_from<'s>(s: &'s TestServer, name: &str, ip: [u8; 4], agent: &str) -> Client<'s> {
    let mut c = s.client_from(ip, agent);
    c.post("/login", json!({"login": name, "password": PASSWORD}))
        .await
        .assert_null();
    c
}

fn sid_of(c: &Client<'_>) -> String {
    use base64::Engine as _;
    let token = c.cookie("access_token").unwrap();
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    claims["sid"].as_str().unwrap().to_owned()
}

#[track_caller]
fn assert_dead(r: &Reply) {
    r.assert_error(401, "Invalid token", "invalid_token");
}

async fn list(c: &mut Client<'_>) -> Vec<Value> {
    let r = c.get("/sessions").await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body.as_array().unwrap().clone()
}

pub async fn sessions_are_listed_with_their_clients(s: &TestServer) {
    s.register("nina").await;
    s.clock.advance(1);
    let mut a = login_from(s, "nina", [127, 0, 0, 2], "agent-a").await;
    s.clock.advance(1);
    let b = login_from(s, "nina", [127, 0, 0, 3], "agent-b").await;
    s.clock.advance(1);
    let mut c = login_from(s, "nina", [127, 0, 0, 4], &"x".repeat(300)).await;
    // Another user's sessions never show.
    s.register("otto").await;

    let listed = list(&mut a).await;
    assert_eq!(listed.len(), 4, "{listed:?}");
    let now = s.clock_now();
    // Newest first: c, b, a, then the registration's session.
    let agents: Vec<_> = listed.iter().map(|l| l["user_agent"].clone()).collect();
    assert_eq!(
        agents,
        [
            json!("x".repeat(256)),
            json!("agent-b"),
            json!("agent-a"),
            json!("")
        ]
    );
    let ips: Vec<_> = listed.iter().map(|l| l["ip"].clone()).collect();
    assert_eq!(
        ips,
        [
            json!("127.0.0.4"),
            json!("127.0.0.3"),
            json!("127.0.0.2"),
            json!("127.0.0.1")
        ]
    );
    let created: Vec<_> = listed
        .iter()
        .map(|l| l["created_at"].as_i64().unwrap())
        .collect();
    assert_eq!(created, [now, now - 1, now - 2, now - 3]);
    assert_eq!(listed[2]["last_seen_at"], json!(now - 2));
    let current: Vec<_> = listed.iter().map(|l| l["current"].clone()).collect();
    assert_eq!(
        current,
        [json!(false), json!(false), json!(true), json!(false)]
    );
    for entry in &listed {
        let keys: Vec<_> = entry.as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            keys,
            [
                "created_at",
                "current",
                "id",
                "ip",
                "last_seen_at",
                "user_agent"
            ]
        );
    }
    // The public id is not the session id, and is no credential.
    let ids: Vec<&str> = listed.iter().map(|l| l["id"].as_str().unwrap()).collect();
    for sid in [sid_of(&a), sid_of(&b), sid_of(&c)] {
        assert!(!ids.contains(&sid.as_str()));
    }
    let mut forged = s.client();
    forged
        .cookies
        .insert("access_token".into(), ids[0].to_owned());
    forged
        .get("/sessions")
        .await
        .assert_error(401, "Invalid token", "invalid_token");
    // `current` follows the token presented.
    let listed = list(&mut c).await;
    assert_eq!(listed[0]["current"], json!(true));
    assert_eq!(listed[2]["current"], json!(false));

    // A refresh records its client: the list shows the last refresh's IP and agent.
    s.clock.advance(5);
    let mut b_again = s.client_from([127, 0, 0, 9], "agent-b2");
    b_again.cookies = b.cookies.clone();
    assert_eq!(b_again.post_empty("/token/refresh").await.status, 200);
    let listed = list(&mut a).await;
    let b_entry = listed
        .iter()
        .find(|l| l["created_at"] == json!(now - 1))
        .unwrap();
    assert_eq!(b_entry["ip"], "127.0.0.9");
    assert_eq!(b_entry["user_agent"], "agent-b2");
    assert_eq!(b_entry["last_seen_at"], json!(now + 5));
    assert_eq!(b_entry["created_at"], json!(now - 1));
    // Without a token: 401.
    s.client()
        .get("/sessions")
        .await
        .assert_error(401, "Not authenticated", "not_authenticated");
}

pub async fn ending_one_session_kills_its_tokens_at_once(s: &TestServer) {
    s.register("olga").await;
    let mut a = login_from(s, "olga", [127, 0, 0, 2], "agent-a").await;
    let mut b = login_from(s, "olga", [127, 0, 0, 3], "agent-b").await;
    let b_access = b.cookie("access_token").unwrap();
    let b_id = list(&mut b)
        .await
        .into_iter()
        .find(|l| l["current"] == json!(true))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Another user's session id answers exactly like an unknown one.
    let mut eve = s.register("evelyn").await;
    let unknown = eve.delete("/sessions/no-such-session").await;
    unknown.assert_error(404, "Not found", "not_found");
    let foreign = eve.delete(&format!("/sessions/{b_id}")).await;
    foreign.assert_error(404, "Not found", "not_found");
    assert_eq!(foreign.body, unknown.body);
    assert_eq!(b.post_empty("/token").await.status, 200);

    // A ends B: B's access token (cookie or bearer) and refresh token die at once.
    let r = a.delete(&format!("/sessions/{b_id}")).await;
    r.assert_null();
    assert!(
        r.set_cookies().is_empty(),
        "ending another session keeps A's cookies"
    );
    assert_dead(&b.post_empty("/token").await);
    let mut bearer = s.client();
    bearer.bearer = Some(b_access);
    assert_dead(&bearer.post_empty("/token").await);
    assert_dead(&b.post_empty("/token/refresh").await);
    // A continues; the list no longer shows B; ending it again is 404.
    assert_eq!(a.post_empty("/token").await.status, 200);
    assert!(list(&mut a).await.iter().all(|l| l["id"] != json!(b_id)));
    a.delete(&format!("/sessions/{b_id}"))
        .await
        .assert_error(404, "Not found", "not_found");

    // Ending the current session answers like logout: cookies deleted, tokens dead.
    let a_refresh = a.cookie("refresh_token").unwrap();
    let a_id = list(&mut a)
        .await
        .into_iter()
        .find(|l| l["current"] == json!(true))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut keep = a.cookies.clone();
    let r = a.delete(&format!("/sessions/{a_id}")).await;
    r.assert_null();
    let cookies = r.set_cookies();
    assert_eq!(cookies.len(), 2);
    assert!(
        cookies.iter().all(|c| c.contains("Max-Age=0")),
        "{cookies:?}"
    );
    assert!(a.cookies.is_empty());
    let mut replay = s.client();
    replay.cookies.append(&mut keep);
    assert_dead(&replay.post_empty("/token").await);
    replay.cookies.clear();
    replay.cookies.insert("refresh_token".into(), a_refresh);
    assert_dead(&replay.post_empty("/token/refresh").await);
    // A cross-site DELETE is refused like any state change.
    let mut c = login_from(s, "olga", [127, 0, 0, 4], "agent-c").await;
    let id = list(&mut c).await[0]["id"].as_str().unwrap().to_owned();
    c.send(
        "DELETE",
        &format!("/sessions/{id}"),
        &[("origin", "https://evil.example")],
        vec![],
    )
    .await
    .assert_error(403, "Cross-site request refused", "cross_site_request");
    assert_eq!(c.post_empty("/token").await.status, 200);
}

pub async fn revoke_others_and_logout_all(s: &TestServer) {
    s.register("petra").await;
    let mut a = login_from(s, "petra", [127, 0, 0, 2], "agent-a").await;
    let mut b = login_from(s, "petra", [127, 0, 0, 3], "agent-b").await;
    let mut c = login_from(s, "petra", [127, 0, 0, 4], "agent-c").await;
    let mut other_user = s.register("quinn").await;

    let r = a.post_empty("/sessions/revoke_others").await;
    r.assert_null();
    assert!(r.set_cookies().is_empty());
    assert_dead(&b.post_empty("/token").await);
    assert_dead(&c.post_empty("/token/refresh").await);
    assert_eq!(a.post_empty("/token").await.status, 200);
    assert_eq!(list(&mut a).await.len(), 1);
    assert_eq!(other_user.post_empty("/token").await.status, 200);
    // A's refresh still works after.
    assert_eq!(a.post_empty("/token/refresh").await.status, 200);

    // "Log out everywhere": every session of the user, the caller's included, at once.
    let mut d = login_from(s, "petra", [127, 0, 0, 5], "agent-d").await;
    let d_refresh = d.cookie("refresh_token").unwrap();
    // A session opened one millisecond before the cut-off ends with it ...
    s.clock.advance_ms(1);
    let r = a.post_empty("/logout_all").await;
    r.assert_null();
    assert!(r.set_cookies().iter().all(|c| c.contains("Max-Age=0")));
    assert_dead(&d.post_empty("/token").await);
    let mut thief = s.client();
    thief.cookies.insert("refresh_token".into(), d_refresh);
    assert_dead(&thief.post_empty("/token/refresh").await);
    // ... and a login right after it, in the same millisecond, works.
    let mut e = login_from(s, "petra", [127, 0, 0, 6], "agent-e").await;
    assert_eq!(e.post_empty("/token").await.status, 200);
    assert_eq!(e.post_empty("/token/refresh").await.status, 200);
    assert_eq!(list(&mut e).await.len(), 1);
    // Other users are untouched.
    assert_eq!(other_user.post_empty("/token").await.status, 200);
    assert_eq!(other_user.post_empty("/token/refresh").await.status, 200);
}

pub async fn sessions_end_at_their_absolute_lifetime(s: &TestServer) {
    let s = s
        .variant(Options {
            session_lifetime: Some(Duration::from_secs(6)),
            ..Options::default()
        })
        .await;
    let mut c = s.register("rosa").await;
    let cookies = c.post_empty("/token/refresh").await.set_cookies();
    // No token outlives the session: 6 seconds, not 900 or 14 days.
    assert!(cookies[0].ends_with("Max-Age=6"), "{cookies:?}");
    assert!(cookies[1].ends_with("Max-Age=6"), "{cookies:?}");
    for elapsed in [2, 4] {
        s.clock.advance(2);
        let r = c.post_empty("/token/refresh").await;
        assert_eq!(r.status, 200, "refresh after {elapsed} s");
        let left = 6 - elapsed;
        let cookies = r.set_cookies();
        assert!(
            cookies[0].ends_with(&format!("Max-Age={left}")),
            "{cookies:?}"
        );
        let claims = c.post_empty("/token").await.body;
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            left
        );
    }
    let access = c.cookie("access_token").unwrap();
    s.clock.advance(2);
    assert_dead(&c.post_empty("/token/refresh").await);
    let mut late = s.client();
    late.bearer = Some(access);
    assert_dead(&late.post_empty("/token").await);
    // A new login opens a new session of 6 seconds.
    let mut again = s.client();
    again
        .post("/login", json!({"login": "rosa", "password": PASSWORD}))
        .await
        .assert_null();
    assert_eq!(again.post_empty("/token/refresh").await.status, 200);
}

pub async fn storage_stays_bounded_by_live_data(s: &TestServer) {
    let mut c = s.register("sven").await;
    let before = s.row_counts().await;
    for _ in 0..120 {
        assert_eq!(c.post_empty("/token/refresh").await.status, 200);
    }
    assert_eq!(s.row_counts().await, before, "refreshes wrote rows");

    // Ended sessions, used tokens and old mail disappear with the janitor.
    for _ in 0..3 {
        let mut other = s.client();
        other
            .post("/login", json!({"login": "sven", "password": PASSWORD}))
            .await
            .assert_null();
        other.post_empty("/logout").await.assert_null();
    }
    let mail = s.mail_to("sven@example.com", 1).await;
    s.client()
        .post_empty(&format!("/confirm/{}", crate::support::link_token(&mail)))
        .await
        .assert_null();
    assert_eq!(s.count("sessions").await, 4);
    assert_eq!(s.count("email_tokens").await, 1);
    let report = s.auth.run_janitor().await.unwrap();
    assert!(report.ran);
    assert_eq!((report.sessions, report.email_tokens), (3, 1));
    assert_eq!(s.count("sessions").await, 1);
    assert_eq!(s.count("email_tokens").await, 0);
    // The live session is untouched; a second run finds nothing.
    assert_eq!(c.post_empty("/token/refresh").await.status, 200);
    let report = s.auth.run_janitor().await.unwrap();
    assert_eq!(
        (report.sessions, report.email_tokens, report.mail),
        (0, 0, 0)
    );
    // Delivered mail goes after seven days.
    s.clock.advance(7 * 86_400 + 1);
    let report = s.auth.run_janitor().await.unwrap();
    assert_eq!(report.mail, 1);
    // The live session stays until its refresh token expires (14 days after the last refresh).
    assert_eq!(report.sessions, 0);
    s.clock.advance(8 * 86_400);
    assert_eq!(s.auth.run_janitor().await.unwrap().sessions, 1);
    assert_eq!(s.count("sessions").await, 0);

    // The background janitor runs on its own at its interval.
    let s = s
        .variant(Options {
            janitor_interval: Some(Duration::from_millis(300)),
            ..Options::default()
        })
        .await;
    let mut t = s.register("tove").await;
    t.post_empty("/logout").await.assert_null();
    for _ in 0..100 {
        if s.count("sessions").await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(s.count("sessions").await, 0, "the janitor never ran");
}
