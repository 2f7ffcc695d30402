//! Social login (CONTRACT 9.6) against the testkit's OpenID Connect provider and GitHub-shaped
//! API, over real HTTP, driven like a browser: the app's redirect to the provider, the
//! provider's redirect back with a code, the callback with the state cookie.

use authx::social::{GitHubSettings, OidcSettings};
use authx_testkit::github::{GitHubAccount, GitHubServer};
use authx_testkit::oidc::{OidcAccount, OidcServer};
use authx_testkit::{CLIENT_ID, CLIENT_SECRET};

use crate::support::{Adapter, Backend, Client, Options, Reply, TestServer};

/// The public base URL of the suite's servers (`base_url`).
const BASE: &str = "http://localhost:8000";

/// An app with two providers (`acme`, OpenID Connect; `github`) and their test servers.
pub struct Fixture {
    pub oidc: OidcServer,
    pub github: GitHubServer,
    pub server: TestServer,
}

impl Fixture {
    pub async fn start(adapter: Adapter, backend: Backend) -> Option<Self> {
        Self::serving(adapter, backend, None).await
    }

    /// The fixture serving the adapter's example application with `example`'s limits.
    pub async fn serving(
        adapter: Adapter,
        backend: Backend,
        example: Option<authx_example_common::ServerLimits>,
    ) -> Option<Self> {
        let oidc = OidcServer::start().await;
        let github = GitHubServer::start().await;
        let mut gh = GitHubSettings::new(CLIENT_ID, CLIENT_SECRET);
        gh.authorize_url = github.authorize_url();
        gh.token_url = github.token_url();
        gh.api_url = github.api_url();
        let options = Options {
            oidc: vec![OidcSettings::new(
                "acme",
                oidc.issuer(),
                CLIENT_ID,
                CLIENT_SECRET,
            )],
            github: Some(gh),
            example,
            ..Options::default()
        };
        let server = TestServer::start(adapter, backend, options).await?;
        Some(Self {
            oidc,
            github,
            server,
        })
    }
}

/// The path of the app's URL `url` (its public origin is `BASE`), on the test server.
fn on_server(s: &TestServer, url: &str) -> String {
    let path = url
        .strip_prefix(BASE)
        .unwrap_or_else(|| panic!("{url} is not under {BASE}"));
    format!("{}{path}", s.root)
}

/// `GET /auth/{provider}?redirect=`: the provider's authorization URL.
async fn start(browser: &mut Client<'_>, provider: &str, redirect: Option<&str>) -> String {
    let query = redirect.map_or_else(String::new, |r| format!("?redirect={}", url_encode(r)));
    let url = format!("{}/auth/{provider}{query}", browser.server.root);
    let r = browser.send("GET", &url, &[], Vec::new()).await;
    assert_eq!(r.status, 307, "{:?}", r.body);
    r.header("location").unwrap().to_owned()
}

fn url_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The provider signs the user in and redirects back: the callback URL on the test server.
async fn authorize(authorization_url: &str, s: &TestServer) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = http.get(authorization_url).send().await.unwrap();
    assert_eq!(r.status(), 302, "{}", r.text().await.unwrap());
    let location = r.headers()["location"].to_str().unwrap();
    on_server(s, location)
}

/// The callback, in the browser.
async fn callback(browser: &mut Client<'_>, url: &str) -> Reply {
    browser.send("GET", url, &[], Vec::new()).await
}

/// A whole sign-in; the callback's answer.
async fn sign_in(browser: &mut Client<'_>, provider: &str, redirect: Option<&str>) -> Reply {
    let authorization = start(browser, provider, redirect).await;
    let back = authorize(&authorization, browser.server).await;
    callback(browser, &back).await
}

#[track_caller]
fn assert_signed_in(r: &Reply, redirect: &str) {
    assert_eq!(r.status, 307, "{:?}", r.body);
    assert_eq!(
        r.header("location"),
        Some(format!("{BASE}{redirect}").as_str())
    );
    let cookies = r.set_cookies();
    assert!(
        cookies.iter().any(|c| c.starts_with("access_token=")),
        "{cookies:?}"
    );
    assert!(
        cookies.iter().any(|c| c.starts_with("refresh_token=")),
        "{cookies:?}"
    );
}

#[track_caller]
fn assert_refused(r: &Reply, code: &str) {
    assert_eq!(r.status, 307, "{:?}", r.body);
    assert_eq!(
        r.header("location"),
        Some(format!("{BASE}/login?error={code}").as_str())
    );
    let cookies = r.set_cookies();
    assert!(
        !cookies
            .iter()
            .any(|c| c.starts_with("access_token=") || c.starts_with("refresh_token=")),
        "{cookies:?}"
    );
}

/// Who the browser's session cookies belong to.
async fn whoami(browser: &mut Client<'_>) -> (i64, String) {
    let r = browser.post_empty("/token").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    (
        r.body["id"].as_i64().unwrap(),
        r.body["username"].as_str().unwrap().to_owned(),
    )
}

pub async fn a_new_account_then_the_same_account_again(f: &Fixture) {
    let s = &f.server;
    let mut browser = s.browser();
    let authorization = start(&mut browser, "acme", Some("/after?x=1")).await;
    // The state cookie: bound to the callback's path, HttpOnly, Lax, ten minutes.
    let cookie = browser.cookie("authx_oauth").unwrap();
    assert!(cookie.len() >= 43, "{cookie}");
    assert_eq!(s.count("social_sign_ins").await, 1);
    let back = authorize(&authorization, s).await;
    let asked = f.oidc.authorizations().pop().unwrap();
    assert_eq!(asked.param("response_type"), Some("code"));
    assert_eq!(asked.param("client_id"), Some(CLIENT_ID));
    assert_eq!(
        asked.param("redirect_uri"),
        Some(format!("{BASE}/auth/acme/callback").as_str())
    );
    assert_eq!(asked.param("state"), Some(cookie.as_str()));
    assert_eq!(asked.param("code_challenge_method"), Some("S256"));
    assert!(asked.param("code_challenge").is_some_and(|c| c.len() == 43));
    assert!(asked.param("nonce").is_some_and(|n| n.len() >= 22));
    let scopes: Vec<_> = asked.param("scope").unwrap().split(' ').collect();
    for scope in ["openid", "email", "profile"] {
        assert!(scopes.contains(&scope), "{scopes:?}");
    }
    let r = callback(&mut browser, &back).await;
    assert_signed_in(&r, "/after?x=1");
    let removal = r
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("authx_oauth="))
        .unwrap();
    assert!(removal.contains("Max-Age=0"), "{removal}");
    assert!(removal.contains("Path=/auth/acme/callback"), "{removal}");
    assert_eq!(s.count("social_sign_ins").await, 0);

    let (id, username) = whoami(&mut browser).await;
    assert_eq!(username, "ada");
    // No password: the account sets a first one; the provider vouched the address.
    let r = browser.get("/password").await;
    assert_eq!(r.body["status"], "set");
    let r = browser.get("/confirm").await;
    assert_eq!(r.body["confirmed"], true);

    // A second sign-in, in another browser: the same account, no new one.
    let mut other = s.browser();
    assert_signed_in(&sign_in(&mut other, "acme", None).await, "/");
    assert_eq!(whoami(&mut other).await.0, id);
    assert_eq!(s.count("users").await, 1);
    assert_eq!(s.count("identities").await, 1);

    // Another person with a clashing local part gets a free username.
    f.oidc
        .sign_in_as(OidcAccount::verified("someone-else", "ada@example.org"));
    let mut third = s.browser();
    assert_signed_in(&sign_in(&mut third, "acme", None).await, "/");
    assert_eq!(whoami(&mut third).await.1, "ada1");
}

pub async fn the_start_is_checked(f: &Fixture) {
    let s = &f.server;
    let mut browser = s.browser();
    for redirect in [
        "//evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "https://evil.example",
        "evil.example",
        "javascript:alert(1)",
        "/\tevil",
        "/\nevil",
    ] {
        let url = format!("{}/auth/acme?redirect={}", s.root, url_encode(redirect));
        let r = browser.send("GET", &url, &[], Vec::new()).await;
        r.assert_error(400, "Invalid redirect", "invalid_redirect");
        assert!(r.set_cookies().is_empty(), "{redirect:?}");
    }
    // Encoded by hand, as an attacker would: `%2F%2F`, `%2F%5C`, double slashes in any case.
    for raw in ["%2F%2Fevil.example", "%2f%5cevil.example", "%2F%09%2Fevil"] {
        let url = format!("{}/auth/acme?redirect={raw}", s.root);
        let r = browser.send("GET", &url, &[], Vec::new()).await;
        r.assert_error(400, "Invalid redirect", "invalid_redirect");
    }
    assert_eq!(s.count("social_sign_ins").await, 0);
    for path in ["/auth/nope", "/auth/nope/callback?state=x&code=y"] {
        let r = browser
            .send("GET", &format!("{}{path}", s.root), &[], Vec::new())
            .await;
        r.assert_error(404, "Not found", "not_found");
    }
    let r = browser
        .send("POST", &format!("{}/auth/acme", s.root), &[], Vec::new())
        .await;
    assert_eq!(r.status, 405);
}

pub async fn github_uses_the_primary_verified_address_only(f: &Fixture) {
    let s = &f.server;
    let mut browser = s.browser();
    let authorization = start(&mut browser, "github", None).await;
    assert!(authorization.starts_with(&f.github.authorize_url()));
    assert!(authorization.contains("code_challenge_method=S256"));
    let back = authorize(&authorization, s).await;
    assert_signed_in(&callback(&mut browser, &back).await, "/");
    let (id, username) = whoami(&mut browser).await;
    assert_eq!(username, "octo");
    let r = browser.get("/confirm").await;
    assert_eq!(r.body["email"], "octo@example.com");

    // The account key is the numeric id: a renamed login is the same account.
    f.github.sign_in_as(GitHubAccount::new(
        4242,
        "octo-renamed",
        "octo@example.com",
        true,
    ));
    let mut again = s.browser();
    assert_signed_in(&sign_in(&mut again, "github", None).await, "/");
    assert_eq!(whoami(&mut again).await.0, id);

    // A primary address GitHub has not verified is never used, though a secondary one is.
    f.github.sign_in_as(GitHubAccount::new(
        7,
        "mallory",
        "victim@example.com",
        false,
    ));
    let before = s.row_counts().await;
    let mut other = s.browser();
    assert_refused(
        &sign_in(&mut other, "github", None).await,
        "email_unverified",
    );
    assert_eq!(s.row_counts().await, before, "a refusal stored something");
}

pub async fn linking_needs_both_sides_to_vouch(f: &Fixture) {
    let s = &f.server;
    // An unconfirmed local account with the address: refused (no pre-registration takeover).
    let mut owner = s.register("ada").await;
    let id = s.id_of(&mut owner).await;
    let before = s.row_counts().await;
    let mut browser = s.browser();
    assert_refused(&sign_in(&mut browser, "acme", None).await, "email_exists");
    assert_eq!(s.row_counts().await, before, "a refusal stored something");

    // Confirmed, but the provider does not vouch for the address: refused too.
    s.exec("UPDATE users SET confirmed = TRUE WHERE id = $1", id)
        .await;
    f.oidc.sign_in_as(OidcAccount {
        email_verified: false,
        ..OidcAccount::verified("ada-subject", "ada@example.com")
    });
    let before = s.row_counts().await;
    assert_refused(&sign_in(&mut browser, "acme", None).await, "email_exists");
    assert_eq!(s.row_counts().await, before);

    // Both vouch: linked to the existing account, whose password still works.
    f.oidc
        .sign_in_as(OidcAccount::verified("ada-subject", "ada@example.com"));
    assert_signed_in(&sign_in(&mut browser, "acme", None).await, "/");
    assert_eq!(whoami(&mut browser).await.0, id);
    assert_eq!(s.count("users").await, 1);
    assert_eq!(s.count("identities").await, 1);
    let r = s
        .client()
        .post(
            "/login",
            serde_json::json!({ "login": "ada", "password": crate::support::PASSWORD }),
        )
        .await;
    assert_eq!(r.status, 200);

    // An address nobody vouches for makes no new account either.
    f.oidc.sign_in_as(OidcAccount {
        email_verified: false,
        ..OidcAccount::verified("eve-subject", "eve@example.com")
    });
    let before = s.row_counts().await;
    assert_refused(
        &sign_in(&mut s.browser(), "acme", None).await,
        "email_unverified",
    );
    assert_eq!(s.row_counts().await, before);
    // Nor does an account without an address.
    f.oidc.sign_in_as(OidcAccount {
        email: None,
        ..OidcAccount::verified("anon-subject", "x@example.com")
    });
    assert_refused(
        &sign_in(&mut s.browser(), "acme", None).await,
        "email_unverified",
    );
    assert_eq!(s.row_counts().await, before);
}

pub async fn the_state_is_this_browsers_and_single_use(f: &Fixture) {
    let s = &f.server;
    // Login CSRF: the attacker's callback URL, opened in the victim's browser.
    let mut attacker = s.browser();
    let authorization = start(&mut attacker, "acme", None).await;
    let attackers_callback = authorize(&authorization, s).await;
    let mut victim = s.browser();
    assert_refused(
        &callback(&mut victim, &attackers_callback).await,
        "invalid_state",
    );
    // ... also when the victim has a sign-in of its own under way.
    let _own = start(&mut victim, "acme", None).await;
    assert_refused(
        &callback(&mut victim, &attackers_callback).await,
        "invalid_state",
    );
    // A missing state, or one not bound to any cookie.
    let bare = format!("{}/auth/acme/callback?code=x", s.root);
    assert_refused(&callback(&mut s.browser(), &bare).await, "invalid_state");
    assert_eq!(s.count("users").await, 0);
    assert_eq!(s.count("sessions").await, 0);

    // The attacker's own browser can still finish; once.
    let cookie = attacker.cookie("authx_oauth").unwrap();
    assert_signed_in(&callback(&mut attacker, &attackers_callback).await, "/");
    assert_eq!(s.count("sessions").await, 1);
    let mut replay = s.browser();
    replay.cookies.insert("authx_oauth".into(), cookie);
    assert_refused(
        &callback(&mut replay, &attackers_callback).await,
        "invalid_state",
    );
    assert_eq!(s.count("sessions").await, 1);

    // Concurrent callbacks with one state: one wins.
    let mut first = s.browser();
    let authorization = start(&mut first, "acme", None).await;
    let back = authorize(&authorization, s).await;
    let cookie = first.cookie("authx_oauth").unwrap();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let http = first.http.clone();
        let (url, cookie) = (back.clone(), format!("authx_oauth={cookie}"));
        tasks.push(tokio::spawn(async move {
            let r = http.get(url).header("cookie", cookie).send().await.unwrap();
            r.headers()["location"].to_str().unwrap().to_owned()
        }));
    }
    let mut winners = 0;
    for task in tasks {
        let location = task.await.unwrap();
        if location == format!("{BASE}/") {
            winners += 1;
        } else {
            assert_eq!(location, format!("{BASE}/login?error=invalid_state"));
        }
    }
    assert_eq!(winners, 1);
    assert_eq!(s.count("sessions").await, 2);

    // A sign-in older than ten minutes is refused.
    let mut late = s.browser();
    let authorization = start(&mut late, "acme", None).await;
    let back = authorize(&authorization, s).await;
    s.clock.advance(601);
    assert_refused(&callback(&mut late, &back).await, "invalid_state");

    // A sign-in nobody finishes is deleted by the janitor once expired.
    // (The victim's own sign-in above expired unfinished too: the first round takes it.)
    assert_eq!(s.auth.run_janitor().await.unwrap().sign_ins, 1);
    let _abandoned = start(&mut s.browser(), "acme", None).await;
    assert_eq!(s.count("social_sign_ins").await, 1);
    assert_eq!(s.auth.run_janitor().await.unwrap().sign_ins, 0);
    s.clock.advance(601);
    assert_eq!(s.auth.run_janitor().await.unwrap().sign_ins, 1);
    assert_eq!(s.count("social_sign_ins").await, 0);
}

pub async fn id_tokens_are_verified(f: &Fixture) {
    let s = &f.server;
    f.oidc.wrong_nonce(true);
    assert_refused(
        &sign_in(&mut s.browser(), "acme", None).await,
        "provider_error",
    );
    f.oidc.wrong_nonce(false);
    f.oidc.expired_tokens(true);
    assert_refused(
        &sign_in(&mut s.browser(), "acme", None).await,
        "provider_error",
    );
    f.oidc.expired_tokens(false);
    assert_eq!(s.count("users").await, 0);
    assert_eq!(s.count("social_sign_ins").await, 0);

    // The provider said no.
    let mut browser = s.browser();
    let authorization = start(&mut browser, "acme", None).await;
    let back = authorize(&authorization, s).await;
    let (before_code, _) = back.split_once("code=").unwrap();
    let state = back.split_once("state=").unwrap().1;
    let denied = format!("{before_code}error=access_denied&state={state}");
    assert_refused(&callback(&mut browser, &denied).await, "provider_error");

    // A code that is not the provider's.
    let mut browser = s.browser();
    let authorization = start(&mut browser, "acme", None).await;
    let back = authorize(&authorization, s).await;
    let forged = back.replacen("code=", "code=0", 1);
    assert_refused(&callback(&mut browser, &forged).await, "provider_error");
    assert_eq!(s.count("users").await, 0);

    // Keys: cached after the first sign-in, fetched again once when the provider rotates.
    assert_signed_in(&sign_in(&mut s.browser(), "acme", None).await, "/");
    let fetched = f.oidc.jwks_fetches();
    assert_signed_in(&sign_in(&mut s.browser(), "acme", None).await, "/");
    assert_eq!(f.oidc.jwks_fetches(), fetched, "the keys were not cached");
    f.oidc.rotate_keys();
    assert_signed_in(&sign_in(&mut s.browser(), "acme", None).await, "/");
    assert_eq!(f.oidc.jwks_fetches(), fetched + 1);
    // A key the provider never published: one refetch, then refused.
    f.oidc.sign_with_unpublished_key();
    assert_refused(
        &sign_in(&mut s.browser(), "acme", None).await,
        "provider_error",
    );
    assert_eq!(f.oidc.jwks_fetches(), fetched + 2);
}

pub async fn banned_accounts_are_refused(f: &Fixture) {
    let s = &f.server;
    let mut browser = s.browser();
    assert_signed_in(&sign_in(&mut browser, "acme", None).await, "/");
    let (id, _) = whoami(&mut browser).await;
    s.ban(id).await;
    let before = s.count("sessions").await;
    assert_refused(
        &sign_in(&mut s.browser(), "acme", None).await,
        "user_banned",
    );
    assert_eq!(s.count("sessions").await, before);
}

/// The example applications: their front end lists the providers, a sign-in through their
/// `/auth` mount opens a session the API accepts, and the login page takes the error back.
pub async fn the_examples_sign_in(adapter: Adapter) {
    let f = Fixture::serving(
        adapter,
        Backend::Sqlite,
        Some(authx_example_common::ServerLimits::default()),
    )
    .await
    .unwrap();
    let s = &f.server;
    let mut browser = s.browser();
    let r = browser
        .send("GET", &format!("{}/config.json", s.root), &[], Vec::new())
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["social"], "/auth");
    assert_eq!(
        r.body["providers"],
        serde_json::json!([
            { "name": "acme", "label": "Acme" },
            { "name": "github", "label": "GitHub" },
        ])
    );
    assert_signed_in(
        &sign_in(&mut browser, "acme", Some("/sessions")).await,
        "/sessions",
    );
    assert_eq!(whoami(&mut browser).await.1, "ada");
    let mut victim = s.browser();
    let authorization = start(&mut s.browser(), "github", None).await;
    let back = authorize(&authorization, s).await;
    assert_refused(&callback(&mut victim, &back).await, "invalid_state");
    let r = victim
        .send(
            "GET",
            &format!("{}/login?error=invalid_state", s.root),
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
}

pub async fn admins_see_the_linked_providers(f: &Fixture) {
    let s = &f.server;
    let mut browser = s.browser();
    assert_signed_in(&sign_in(&mut browser, "acme", None).await, "/");
    let (id, _) = whoami(&mut browser).await;
    let mut admin = s.register("root").await;
    let admin_id = s.id_of(&mut admin).await;
    s.make_admin(admin_id).await;
    let r = admin.get(&format!("/{id}")).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["providers"], serde_json::json!(["acme"]));
    assert_eq!(r.body["has_password"], false);
    let r = admin.get(&format!("/{admin_id}")).await;
    assert_eq!(r.body["providers"], serde_json::json!([]));
}
