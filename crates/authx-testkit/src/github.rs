//! A GitHub-shaped API over real HTTP: `/login/oauth/authorize` and
//! `/login/oauth/access_token` (the code grant with PKCE, as GitHub's OAuth apps use it), then
//! `/user` and `/user/emails` (with `primary` and `verified` flags) for a bearer token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};

use crate::oauth::{self, Codes};

/// One address of a GitHub account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitHubEmail {
    /// The address.
    pub email: String,
    /// Whether it is the primary one.
    pub primary: bool,
    /// Whether GitHub verified it.
    pub verified: bool,
}

/// The account signed in at the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitHubAccount {
    /// The numeric id (the account key).
    pub id: u64,
    /// The login (renamable).
    pub login: String,
    /// Its addresses.
    pub emails: Vec<GitHubEmail>,
}

impl GitHubAccount {
    /// An account whose primary address is `email`, verified or not, beside a verified
    /// secondary one that must never be used.
    pub fn new(id: u64, login: &str, email: &str, verified: bool) -> Self {
        Self {
            id,
            login: login.into(),
            emails: vec![
                GitHubEmail {
                    email: format!("{login}-secondary@example.org"),
                    primary: false,
                    verified: true,
                },
                GitHubEmail {
                    email: email.into(),
                    primary: true,
                    verified,
                },
            ],
        }
    }
}

#[derive(Default)]
struct Api {
    account: Option<GitHubAccount>,
    codes: Codes<Option<GitHubAccount>>,
    tokens: HashMap<String, GitHubAccount>,
}

type Shared = Arc<Mutex<Api>>;

/// A running API; it stops when dropped.
pub struct GitHubServer {
    url: String,
    api: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for GitHubServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHubServer")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Drop for GitHubServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl GitHubServer {
    /// Starts on an ephemeral port of 127.0.0.1, signed in as `octo` (id 4242,
    /// `octo@example.com` primary and verified).
    pub async fn start() -> Self {
        let api: Shared = Arc::new(Mutex::new(Api {
            account: Some(GitHubAccount::new(4242, "octo", "octo@example.com", true)),
            ..Api::default()
        }));
        let app = axum::Router::new()
            .route("/login/oauth/authorize", get(authorize))
            .route("/login/oauth/access_token", post(token))
            .route("/user", get(user))
            .route("/user/emails", get(emails))
            .with_state(api.clone());
        let (addr, task) = oauth::serve(app).await;
        Self {
            url: format!("http://{addr}"),
            api,
            task,
        }
    }

    /// The authorization endpoint.
    pub fn authorize_url(&self) -> String {
        format!("{}/login/oauth/authorize", self.url)
    }

    /// The token endpoint.
    pub fn token_url(&self) -> String {
        format!("{}/login/oauth/access_token", self.url)
    }

    /// The REST API's base (`/user`, `/user/emails`).
    pub fn api_url(&self) -> String {
        self.url.clone()
    }

    /// Who the next authorization signs in.
    pub fn sign_in_as(&self, account: GitHubAccount) {
        self.api.lock().expect("api").account = Some(account);
    }
}

async fn authorize(
    State(api): State<Shared>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let mut api = api.lock().expect("api");
    let account = api.account.clone();
    match api.codes.authorize(&params, account) {
        Ok(location) => oauth::found(&location),
        Err((status, body)) => oauth::json(status, body),
    }
}

async fn token(
    State(api): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut api = api.lock().expect("api");
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok());
    let grant = match api.codes.exchange(&form, authorization) {
        Ok(grant) => grant,
        Err((status, body)) => return oauth::json(status, body),
    };
    let Some(account) = grant.account else {
        return oauth::json(400, r#"{"error":"access_denied"}"#.into());
    };
    let token = format!("gho_{}", oauth::random_token(16));
    api.tokens.insert(token.clone(), account);
    let body = serde_json::json!({
        "access_token": token,
        "token_type": "bearer",
        "scope": "read:user,user:email",
    });
    oauth::json(200, body.to_string())
}

fn account_of(api: &Shared, headers: &HeaderMap) -> Option<GitHubAccount> {
    let token = headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?;
    api.lock().expect("api").tokens.get(token).cloned()
}

const UNAUTHORIZED: &str = r#"{"message":"Requires authentication"}"#;

async fn user(State(api): State<Shared>, headers: HeaderMap) -> Response {
    match account_of(&api, &headers) {
        Some(account) => oauth::json(
            200,
            serde_json::json!({ "id": account.id, "login": account.login }).to_string(),
        ),
        None => oauth::json(401, UNAUTHORIZED.into()),
    }
}

async fn emails(State(api): State<Shared>, headers: HeaderMap) -> Response {
    match account_of(&api, &headers) {
        Some(account) => {
            let list: Vec<_> = account
                .emails
                .iter()
                .map(|e| {
                    serde_json::json!({
                        "email": e.email, "primary": e.primary, "verified": e.verified,
                        "visibility": null,
                    })
                })
                .collect();
            oauth::json(200, serde_json::Value::from(list).to_string())
        }
        None => oauth::json(401, UNAUTHORIZED.into()),
    }
}
