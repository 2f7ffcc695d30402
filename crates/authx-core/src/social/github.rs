//! GitHub, which speaks OAuth2 but not OpenID Connect: the authorization code flow with PKCE
//! `S256` (oauth2), then `GET /user` for the account's numeric id (the account key: logins can
//! be renamed) and `GET /user/emails` for its address, of which only the primary **verified**
//! one is used.

use async_trait::async_trait;
use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse as _, TokenUrl,
};

use super::client::ProviderHttp;
use super::{
    Authorization, AuthorizationRequest, CodeExchange, IdentityProvider, ProviderError,
    ProviderIdentity,
};
use crate::Secret;

/// GitHub's settings; every URL can point elsewhere (GitHub Enterprise, tests).
#[derive(Debug, Clone)]
pub struct GitHubSettings {
    /// Its name in paths (default `github`).
    pub name: String,
    /// Its name for people (default `GitHub`).
    pub label: String,
    /// The OAuth app's client id.
    pub client_id: String,
    /// The OAuth app's client secret.
    pub client_secret: Secret,
    /// The authorization endpoint.
    pub authorize_url: String,
    /// The token endpoint.
    pub token_url: String,
    /// The REST API's base (`/user` and `/user/emails` are under it).
    pub api_url: String,
    /// The scopes asked for (default `read:user user:email`).
    pub scopes: Vec<String>,
}

impl GitHubSettings {
    /// GitHub's authorization endpoint.
    pub const AUTHORIZE_URL: &'static str = "https://github.com/login/oauth/authorize";
    /// GitHub's token endpoint.
    pub const TOKEN_URL: &'static str = "https://github.com/login/oauth/access_token";
    /// GitHub's REST API.
    pub const API_URL: &'static str = "https://api.github.com";

    /// GitHub itself, for this OAuth app.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<Secret>) -> Self {
        Self {
            name: "github".into(),
            label: "GitHub".into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            authorize_url: Self::AUTHORIZE_URL.into(),
            token_url: Self::TOKEN_URL.into(),
            api_url: Self::API_URL.into(),
            scopes: vec!["read:user".into(), "user:email".into()],
        }
    }
}

/// The GitHub provider.
#[derive(Debug)]
pub struct GitHubProvider {
    settings: GitHubSettings,
    auth_url: AuthUrl,
    token_url: TokenUrl,
    http: ProviderHttp,
}

fn failed(what: &str) -> impl FnOnce(&dyn std::fmt::Display) -> ProviderError + '_ {
    move |e| ProviderError::new(format!("{what}: {e}"))
}

impl GitHubProvider {
    /// The provider with the standard HTTP client (10 s, 1 MiB).
    pub fn new(settings: GitHubSettings) -> Result<Self, ProviderError> {
        Self::with_http(settings, ProviderHttp::standard()?)
    }

    /// The provider calling through `http`.
    pub fn with_http(settings: GitHubSettings, http: ProviderHttp) -> Result<Self, ProviderError> {
        let auth_url = AuthUrl::new(settings.authorize_url.clone())
            .map_err(|e| failed("authorize URL")(&e))?;
        let token_url =
            TokenUrl::new(settings.token_url.clone()).map_err(|e| failed("token URL")(&e))?;
        url::Url::parse(&settings.api_url).map_err(|e| failed("API URL")(&e))?;
        Ok(Self {
            settings,
            auth_url,
            token_url,
            http,
        })
    }

    fn api(&self, path: &str) -> String {
        format!("{}{path}", self.settings.api_url.trim_end_matches('/'))
    }
}

#[async_trait]
impl IdentityProvider for GitHubProvider {
    fn name(&self) -> &str {
        &self.settings.name
    }

    fn label(&self) -> &str {
        &self.settings.label
    }

    async fn authorize(
        &self,
        request: AuthorizationRequest<'_>,
    ) -> Result<Authorization, ProviderError> {
        let redirect = RedirectUrl::new(request.redirect_uri.to_owned())
            .map_err(|e| failed("redirect URI")(&e))?;
        let client = BasicClient::new(ClientId::new(self.settings.client_id.clone()))
            .set_auth_uri(self.auth_url.clone())
            .set_redirect_uri(redirect);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = request.state.to_owned();
        let (url, _) = client
            .authorize_url(move || CsrfToken::new(state))
            .add_scopes(self.settings.scopes.iter().cloned().map(Scope::new))
            .set_pkce_challenge(challenge)
            .url();
        Ok(Authorization {
            url: url.into(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    async fn identity(
        &self,
        exchange: CodeExchange<'_>,
    ) -> Result<ProviderIdentity, ProviderError> {
        let redirect = RedirectUrl::new(exchange.redirect_uri.to_owned())
            .map_err(|e| failed("redirect URI")(&e))?;
        let client = BasicClient::new(ClientId::new(self.settings.client_id.clone()))
            .set_client_secret(ClientSecret::new(
                self.settings.client_secret.expose().to_owned(),
            ))
            .set_auth_uri(self.auth_url.clone())
            .set_token_uri(self.token_url.clone())
            .set_redirect_uri(redirect);
        let caller = self.http.caller();
        let token = client
            .exchange_code(AuthorizationCode::new(exchange.code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(exchange.pkce_verifier.to_owned()))
            .request_async(&caller)
            .await
            .map_err(|e| failed("code exchange")(&e))?;
        let access = token.access_token().secret();
        let user = self.http.get_json(&self.api("/user"), access).await?;
        let subject = user
            .get("id")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| ProviderError::new("/user has no numeric id"))?
            .to_string();
        let emails = self
            .http
            .get_json(&self.api("/user/emails"), access)
            .await?;
        let email = emails
            .as_array()
            .ok_or_else(|| ProviderError::new("/user/emails is not a list"))?
            .iter()
            .find(|e| {
                e.get("primary") == Some(&serde_json::Value::Bool(true))
                    && e.get("verified") == Some(&serde_json::Value::Bool(true))
            })
            .and_then(|e| e.get("email"))
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned);
        Ok(ProviderIdentity {
            subject,
            email_verified: email.is_some(),
            email,
        })
    }
}
