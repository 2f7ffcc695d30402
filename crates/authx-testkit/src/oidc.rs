//! A local OpenID Connect provider over real HTTP: discovery, an authorize endpoint that
//! signs the configured account in at once and redirects back with a code, a token endpoint
//! that checks the client, the redirect URI and PKCE, ID tokens really signed with RS256, and
//! a JWKS. Knobs make it misbehave the ways providers do: a wrong nonce, an expired token, an
//! unverified email, rotated keys, a token signed with a key it never published.
//!
//! The issuer has a path (`http://127.0.0.1:port/realms/test`), as Keycloak's do.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};

use crate::oauth::{self, AuthorizeRequest, CLIENT_ID, Codes};

/// The account signed in at the provider: who the next authorization is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcAccount {
    /// `sub`.
    pub subject: String,
    /// `email`, if the provider gives one.
    pub email: Option<String>,
    /// `email_verified`.
    pub email_verified: bool,
}

impl OidcAccount {
    /// An account with a verified address.
    pub fn verified(subject: &str, email: &str) -> Self {
        Self {
            subject: subject.into(),
            email: Some(email.into()),
            email_verified: true,
        }
    }
}

const KEYS: [(&str, &[u8]); 2] = [
    ("key-a", include_bytes!("../keys/oidc-a.pem")),
    ("key-b", include_bytes!("../keys/oidc-b.pem")),
];

struct Provider {
    issuer: String,
    account: OidcAccount,
    codes: Codes<OidcAccount>,
    /// The key that signs ID tokens (an index of `KEYS`).
    signing: usize,
    /// The keys the JWKS publishes.
    published: Vec<usize>,
    wrong_nonce: bool,
    expired: bool,
    jwks_fetches: u32,
    authorizations: Vec<AuthorizeRequest>,
}

/// A running provider; it stops when dropped.
pub struct OidcServer {
    issuer: String,
    provider: Arc<Mutex<Provider>>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for OidcServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcServer")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl Drop for OidcServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Shared = Arc<Mutex<Provider>>;

impl OidcServer {
    /// Starts on an ephemeral port of 127.0.0.1, signed in as `ada` (`ada@example.com`,
    /// verified), signing with its first key.
    pub async fn start() -> Self {
        let provider: Shared = Arc::new(Mutex::new(Provider {
            issuer: String::new(),
            account: OidcAccount::verified("ada-subject", "ada@example.com"),
            codes: Codes::default(),
            signing: 0,
            published: vec![0],
            wrong_nonce: false,
            expired: false,
            jwks_fetches: 0,
            authorizations: Vec::new(),
        }));
        let realm = axum::Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/jwks", get(jwks))
            .with_state(provider.clone());
        let app = axum::Router::new().nest("/realms/test", realm);
        let (addr, task) = oauth::serve(app).await;
        let issuer = format!("http://{addr}/realms/test");
        provider
            .lock()
            .expect("provider")
            .issuer
            .clone_from(&issuer);
        Self {
            issuer,
            provider,
            task,
        }
    }

    /// The issuer URL (discovery is under it).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    fn with<T>(&self, f: impl FnOnce(&mut Provider) -> T) -> T {
        f(&mut self.provider.lock().expect("provider"))
    }

    /// Who the next authorization signs in.
    pub fn sign_in_as(&self, account: OidcAccount) {
        self.with(|p| p.account = account);
    }

    /// ID tokens carry another nonce than the one asked for.
    pub fn wrong_nonce(&self, on: bool) {
        self.with(|p| p.wrong_nonce = on);
    }

    /// ID tokens expired ten minutes ago.
    pub fn expired_tokens(&self, on: bool) {
        self.with(|p| p.expired = on);
    }

    /// Rotates the keys: the other key signs from now on and the JWKS publishes only it, so a
    /// client holding the old JWKS meets an unknown `kid`.
    pub fn rotate_keys(&self) {
        self.with(|p| {
            p.signing = 1 - p.signing;
            p.published = vec![p.signing];
        });
    }

    /// Signs with the other key without publishing it: a forged token, as far as any client
    /// can tell.
    pub fn sign_with_unpublished_key(&self) {
        self.with(|p| p.signing = 1 - p.published[0]);
    }

    /// How often the JWKS was fetched.
    pub fn jwks_fetches(&self) -> u32 {
        self.with(|p| p.jwks_fetches)
    }

    /// The authorization requests received, oldest first.
    pub fn authorizations(&self) -> Vec<AuthorizeRequest> {
        self.with(|p| p.authorizations.clone())
    }
}

async fn discovery(State(provider): State<Shared>) -> Response {
    let issuer = provider.lock().expect("provider").issuer.clone();
    let body = serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "email", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    });
    oauth::json(200, body.to_string())
}

async fn authorize(
    State(provider): State<Shared>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let mut p = provider.lock().expect("provider");
    p.authorizations.push(AuthorizeRequest {
        params: params.clone(),
    });
    let account = p.account.clone();
    match p.codes.authorize(&params, account) {
        Ok(location) => oauth::found(&location),
        Err((status, body)) => oauth::json(status, body),
    }
}

async fn token(
    State(provider): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut p = provider.lock().expect("provider");
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok());
    let grant = match p.codes.exchange(&form, authorization) {
        Ok(grant) => grant,
        Err((status, body)) => return oauth::json(status, body),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
        .cast_signed();
    let (iat, exp) = if p.expired {
        (now - 1200, now - 600)
    } else {
        (now, now + 300)
    };
    let nonce = if p.wrong_nonce {
        Some("not-the-nonce-of-this-sign-in".to_owned())
    } else {
        grant.nonce
    };
    let account = grant.account;
    let mut claims = serde_json::json!({
        "iss": p.issuer,
        "sub": account.subject,
        "aud": CLIENT_ID,
        "iat": iat,
        "exp": exp,
        "nonce": nonce,
        "email_verified": account.email_verified,
    });
    if let Some(email) = account.email {
        claims["email"] = email.into();
    }
    let (kid, pem) = KEYS[p.signing];
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.into());
    let key = EncodingKey::from_rsa_pem(pem).expect("test RSA key");
    let id_token = jsonwebtoken::encode(&header, &claims, &key).expect("signed ID token");
    let body = serde_json::json!({
        "access_token": oauth::random_token(16),
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": id_token,
    });
    oauth::json(200, body.to_string())
}

async fn jwks(State(provider): State<Shared>) -> Response {
    let mut p = provider.lock().expect("provider");
    p.jwks_fetches += 1;
    let keys = p
        .published
        .iter()
        .map(|&i| {
            let (kid, pem) = KEYS[i];
            let key = EncodingKey::from_rsa_pem(pem).expect("test RSA key");
            let mut jwk = Jwk::from_encoding_key(&key, Algorithm::RS256).expect("a JWK");
            jwk.common.key_id = Some(kid.into());
            jwk
        })
        .collect();
    let set = JwkSet { keys };
    oauth::json(200, serde_json::to_string(&set).expect("JWKS"))
}
