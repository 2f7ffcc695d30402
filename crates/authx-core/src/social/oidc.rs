//! Any OpenID Connect provider by its issuer (Google is one): discovery at
//! `{issuer}/.well-known/openid-configuration` (the document's issuer must be the configured
//! one), the authorization code flow with PKCE `S256` and a nonce, and the ID token verified
//! against the provider's JWKS (`iss`, `aud`, `exp`, `nonce`, signature). The discovery
//! document and the keys are cached; a token signed with a key the cache does not hold makes
//! one refetch of the JWKS (the provider rotated its keys), then is refused if still unknown.

use async_trait::async_trait;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJsonWebKeySet, CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, SignatureVerificationError, TokenResponse as _,
};
use tokio::sync::RwLock;

use super::client::ProviderHttp;
use super::{
    Authorization, AuthorizationRequest, CodeExchange, IdentityProvider, ProviderError,
    ProviderIdentity,
};
use crate::Secret;

/// An OpenID Connect provider's settings.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// Its name in paths (`google`, `acme`).
    pub name: String,
    /// Its name for people (`Google`, `Acme`).
    pub label: String,
    /// The issuer URL, possibly with a path (`https://id.example.com/realms/acme`).
    pub issuer: String,
    /// The client id registered at the provider.
    pub client_id: String,
    /// The client secret.
    pub client_secret: Secret,
    /// The scopes asked for (default `openid email profile`).
    pub scopes: Vec<String>,
}

impl OidcSettings {
    /// The scopes asked for by default.
    pub const DEFAULT_SCOPES: &'static str = "openid email profile";
    /// Google's issuer.
    pub const GOOGLE_ISSUER: &'static str = "https://accounts.google.com";

    /// A provider named `name` at `issuer`, with the default scopes.
    pub fn new(
        name: impl Into<String>,
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<Secret>,
    ) -> Self {
        let name = name.into();
        let mut label = name.clone();
        if let Some(first) = label.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        Self {
            name,
            label,
            issuer: issuer.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            scopes: Self::DEFAULT_SCOPES.split(' ').map(str::to_owned).collect(),
        }
    }

    /// Google (`google`, issuer `https://accounts.google.com`).
    pub fn google(client_id: impl Into<String>, client_secret: impl Into<Secret>) -> Self {
        Self::new("google", Self::GOOGLE_ISSUER, client_id, client_secret)
    }
}

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// An OpenID Connect provider.
#[derive(Debug)]
pub struct OidcProvider {
    settings: OidcSettings,
    issuer: IssuerUrl,
    http: ProviderHttp,
    /// The discovery document with the keys last fetched; `None` until the first sign-in (a
    /// provider down at start-up does not stop the application).
    metadata: RwLock<Option<CoreProviderMetadata>>,
}

fn failed(what: &str) -> impl FnOnce(&dyn std::fmt::Display) -> ProviderError + '_ {
    move |e| ProviderError::new(format!("{what}: {e}"))
}

impl OidcProvider {
    /// A provider with these settings and the standard HTTP client (10 s, 1 MiB).
    pub fn new(settings: OidcSettings) -> Result<Self, ProviderError> {
        Self::with_http(settings, ProviderHttp::standard()?)
    }

    /// A provider calling through `http`.
    pub fn with_http(settings: OidcSettings, http: ProviderHttp) -> Result<Self, ProviderError> {
        let issuer = IssuerUrl::new(settings.issuer.trim_end_matches('/').to_owned())
            .map_err(|e| failed("issuer URL")(&e))?;
        Ok(Self {
            settings,
            issuer,
            http,
            metadata: RwLock::new(None),
        })
    }

    async fn metadata(&self) -> Result<CoreProviderMetadata, ProviderError> {
        if let Some(metadata) = self.metadata.read().await.as_ref() {
            return Ok(metadata.clone());
        }
        let caller = self.http.caller();
        let metadata = CoreProviderMetadata::discover_async(self.issuer.clone(), &caller)
            .await
            .map_err(|e| failed("discovery")(&e))?;
        *self.metadata.write().await = Some(metadata.clone());
        Ok(metadata)
    }

    /// Fetches the keys again, for a token signed with a key the cache does not hold.
    async fn refetch_keys(
        &self,
        metadata: CoreProviderMetadata,
    ) -> Result<CoreProviderMetadata, ProviderError> {
        let caller = self.http.caller();
        let jwks = CoreJsonWebKeySet::fetch_async(metadata.jwks_uri(), &caller)
            .await
            .map_err(|e| failed("JWKS")(&e))?;
        let metadata = metadata.set_jwks(jwks);
        *self.metadata.write().await = Some(metadata.clone());
        Ok(metadata)
    }

    fn client(
        &self,
        metadata: CoreProviderMetadata,
        redirect_uri: &str,
    ) -> Result<Client, ProviderError> {
        let redirect =
            RedirectUrl::new(redirect_uri.to_owned()).map_err(|e| failed("redirect URI")(&e))?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.settings.client_id.clone()),
            Some(ClientSecret::new(
                self.settings.client_secret.expose().to_owned(),
            )),
        )
        .set_redirect_uri(redirect))
    }
}

#[async_trait]
impl IdentityProvider for OidcProvider {
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
        let client = self.client(self.metadata().await?, request.redirect_uri)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = request.state.to_owned();
        let nonce = request.nonce.to_owned();
        let mut authorize = client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            move || CsrfToken::new(state),
            move || Nonce::new(nonce),
        );
        // `openid` is always asked for by the client itself.
        for scope in self.settings.scopes.iter().filter(|s| *s != "openid") {
            authorize = authorize.add_scope(Scope::new(scope.clone()));
        }
        let (url, _, _) = authorize.set_pkce_challenge(challenge).url();
        Ok(Authorization {
            url: url.into(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    async fn identity(
        &self,
        exchange: CodeExchange<'_>,
    ) -> Result<ProviderIdentity, ProviderError> {
        let metadata = self.metadata().await?;
        let client = self.client(metadata.clone(), exchange.redirect_uri)?;
        let caller = self.http.caller();
        let token = client
            .exchange_code(AuthorizationCode::new(exchange.code.to_owned()))
            .map_err(|e| failed("token endpoint")(&e))?
            .set_pkce_verifier(PkceCodeVerifier::new(exchange.pkce_verifier.to_owned()))
            .request_async(&caller)
            .await
            .map_err(|e| failed("code exchange")(&e))?;
        let id_token = token
            .id_token()
            .ok_or_else(|| ProviderError::new("the token answer has no ID token"))?;
        let nonce = Nonce::new(exchange.nonce.to_owned());
        let now = chrono::DateTime::from_timestamp(exchange.now, 0).unwrap_or_default();
        let verify = |client: &Client| {
            let verifier = client.id_token_verifier().set_time_fn(move || now);
            id_token
                .claims(&verifier, &nonce)
                .map(|claims| ProviderIdentity {
                    subject: claims.subject().as_str().to_owned(),
                    email: claims.email().map(|e| e.as_str().to_owned()),
                    email_verified: claims.email_verified() == Some(true),
                })
        };
        let verified = match verify(&client) {
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                let client =
                    self.client(self.refetch_keys(metadata).await?, exchange.redirect_uri)?;
                verify(&client)
            }
            other => other,
        };
        verified.map_err(|e| failed("ID token")(&e))
    }
}
