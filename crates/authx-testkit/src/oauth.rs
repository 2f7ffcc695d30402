//! The authorization code grant with PKCE, as both test providers speak it: the authorize
//! endpoint hands out a single-use code for the account signed in at the provider and sends
//! the browser back to the client's redirect URI; the token endpoint checks the client's
//! secret, the redirect URI and the PKCE `S256` verifier before it takes the code.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::{Digest as _, Sha256};

/// The client id both test providers know.
pub const CLIENT_ID: &str = "authx-test-client";
/// Its secret.
pub const CLIENT_SECRET: &str = "authx-test-secret";

/// An authorization request as the provider received it (for tests to inspect).
#[derive(Debug, Clone, Default)]
pub struct AuthorizeRequest {
    /// Every query parameter, decoded.
    pub params: HashMap<String, String>,
}

impl AuthorizeRequest {
    /// The value of `name`, if sent.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
}

/// A code handed out and not yet exchanged.
#[derive(Debug, Clone)]
pub(crate) struct Grant<A> {
    pub(crate) redirect_uri: String,
    challenge: String,
    pub(crate) nonce: Option<String>,
    pub(crate) account: A,
}

/// The codes of one provider.
#[derive(Debug)]
pub(crate) struct Codes<A> {
    grants: HashMap<String, Grant<A>>,
}

impl<A> Default for Codes<A> {
    fn default() -> Self {
        Self {
            grants: HashMap::new(),
        }
    }
}

/// `len` random bytes, URL-safe base64.
pub(crate) fn random_token(len: usize) -> String {
    let mut bytes = vec![0_u8; len];
    getrandom::fill(&mut bytes).expect("random bytes");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// An OAuth error answer: status and JSON body.
pub(crate) type Refusal = (u16, String);

fn refuse(status: u16, error: &str) -> Refusal {
    (status, serde_json::json!({ "error": error }).to_string())
}

impl<A: Clone> Codes<A> {
    /// Handles `GET /authorize`: the URL to send the browser back to (`code` and `state`), or
    /// a refusal for a request no real provider would accept.
    pub(crate) fn authorize(
        &mut self,
        params: &HashMap<String, String>,
        account: A,
    ) -> Result<String, Refusal> {
        let get = |name: &str| params.get(name).filter(|v| !v.is_empty());
        if get("response_type").map(String::as_str) != Some("code") {
            return Err(refuse(400, "unsupported_response_type"));
        }
        if get("client_id").map(String::as_str) != Some(CLIENT_ID) {
            return Err(refuse(400, "invalid_client"));
        }
        if get("code_challenge_method").map(String::as_str) != Some("S256") {
            return Err(refuse(400, "invalid_request"));
        }
        let (Some(redirect_uri), Some(challenge), Some(state)) =
            (get("redirect_uri"), get("code_challenge"), get("state"))
        else {
            return Err(refuse(400, "invalid_request"));
        };
        let code = random_token(16);
        self.grants.insert(
            code.clone(),
            Grant {
                redirect_uri: redirect_uri.clone(),
                challenge: challenge.clone(),
                nonce: get("nonce").cloned(),
                account,
            },
        );
        let mut back = url::Url::parse(redirect_uri).map_err(|_| refuse(400, "invalid_request"))?;
        back.query_pairs_mut()
            .append_pair("code", &code)
            .append_pair("state", state);
        Ok(back.into())
    }

    /// Handles `POST /token` (form `grant_type`, `code`, `redirect_uri`, `code_verifier`, and
    /// the client's credentials in HTTP Basic or the form): the grant, taken (single use).
    pub(crate) fn exchange(
        &mut self,
        form: &HashMap<String, String>,
        authorization: Option<&str>,
    ) -> Result<Grant<A>, Refusal> {
        if !client_authenticated(form, authorization) {
            return Err(refuse(401, "invalid_client"));
        }
        if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
            return Err(refuse(400, "unsupported_grant_type"));
        }
        let grant = form
            .get("code")
            .and_then(|code| self.grants.remove(code))
            .ok_or_else(|| refuse(400, "invalid_grant"))?;
        if form.get("redirect_uri") != Some(&grant.redirect_uri) {
            return Err(refuse(400, "invalid_grant"));
        }
        let verifier = form
            .get("code_verifier")
            .ok_or_else(|| refuse(400, "invalid_grant"))?;
        if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != grant.challenge {
            return Err(refuse(400, "invalid_grant"));
        }
        Ok(grant)
    }
}

/// HTTP Basic (`client_id:client_secret`, each form-encoded, RFC 6749 2.3.1) or form fields.
fn client_authenticated(form: &HashMap<String, String>, authorization: Option<&str>) -> bool {
    if let Some(basic) = authorization.and_then(|h| h.strip_prefix("Basic ")) {
        let Ok(decoded) = STANDARD.decode(basic.trim()) else {
            return false;
        };
        let decoded = String::from_utf8_lossy(&decoded).into_owned();
        let Some((id, secret)) = decoded.split_once(':') else {
            return false;
        };
        let unescape = |s: &str| -> String {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        return unescape(id) == CLIENT_ID && unescape(secret) == CLIENT_SECRET;
    }
    form.get("client_id").map(String::as_str) == Some(CLIENT_ID)
        && form.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET)
}

/// Serves `app` on an ephemeral port of 127.0.0.1; the task stops when aborted.
pub(crate) async fn serve(
    app: axum::Router,
) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("bound address");
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.expect("test provider");
    });
    (addr, task)
}

/// A JSON answer with this status.
pub(crate) fn json(status: u16, body: String) -> axum::response::Response {
    axum::response::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("cache-control", "no-store")
        .body(axum::body::Body::from(body))
        .expect("a valid response")
}

/// A `302` to `location`.
pub(crate) fn found(location: &str) -> axum::response::Response {
    axum::response::Response::builder()
        .status(302)
        .header("location", location)
        .body(axum::body::Body::empty())
        .expect("a valid response")
}
