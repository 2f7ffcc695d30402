//! Social login providers (CONTRACT 9.6): what the service asks of one, and, behind the
//! `social` feature, the clients for OpenID Connect ([`OidcProvider`], Google included) and
//! GitHub ([`GitHubProvider`]).
//!
//! The service owns the flow (state, cookie, single use, account resolution, the session); a
//! provider only builds the authorization URL and turns a callback's code into a verified
//! [`ProviderIdentity`]. Its calls to the provider have timeouts, follow no redirects and cap
//! response sizes ([`ProviderHttp`]).

use async_trait::async_trait;

use crate::clock::Timestamp;

#[cfg(feature = "social")]
mod client;
#[cfg(feature = "social")]
mod github;
#[cfg(feature = "social")]
mod oidc;

#[cfg(feature = "social")]
pub use client::ProviderHttp;
#[cfg(feature = "social")]
pub use github::{GitHubProvider, GitHubSettings};
#[cfg(feature = "social")]
pub use oidc::{OidcProvider, OidcSettings};

/// What `GET /{provider}` asks of a provider: the authorization URL for this sign-in.
#[derive(Clone, Copy)]
pub struct AuthorizationRequest<'a> {
    /// The callback URL the provider sends the browser back to.
    pub redirect_uri: &'a str,
    /// The state (random, at least 128 bits), bound to the browser by a cookie.
    pub state: &'a str,
    /// The OpenID Connect nonce (providers without ID tokens ignore it).
    pub nonce: &'a str,
}

impl std::fmt::Debug for AuthorizationRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizationRequest")
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

/// The authorization URL and the PKCE verifier of its `S256` challenge.
pub struct Authorization {
    /// Where to send the browser.
    pub url: String,
    /// The PKCE code verifier, kept server-side until the callback.
    pub pkce_verifier: String,
}

impl std::fmt::Debug for Authorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorization")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// What the callback hands a provider: the code and what the sign-in was started with.
#[derive(Clone, Copy)]
pub struct CodeExchange<'a> {
    /// The authorization code of the callback.
    pub code: &'a str,
    /// The PKCE verifier of the sign-in.
    pub pkce_verifier: &'a str,
    /// The nonce the ID token must carry.
    pub nonce: &'a str,
    /// The callback URL, as in the authorization request.
    pub redirect_uri: &'a str,
    /// Now, by the service's clock (ID token expiry is checked against it).
    pub now: Timestamp,
}

impl std::fmt::Debug for CodeExchange<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeExchange")
            .field("redirect_uri", &self.redirect_uri)
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

/// An account at a provider, as the provider vouches for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderIdentity {
    /// The account's stable key at the provider (OIDC `sub`, GitHub's numeric id).
    pub subject: String,
    /// Its address, if the provider gave one.
    pub email: Option<String>,
    /// Whether the provider vouches that the address is the account holder's.
    pub email_verified: bool,
}

/// A provider refused the sign-in or could not be used (unreachable, a bad answer, an invalid
/// ID token). The message is for the log only.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ProviderError(pub String);

impl ProviderError {
    /// A provider error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// A social login provider, as the service drives it.
#[async_trait]
pub trait IdentityProvider: Send + Sync + 'static {
    /// Its name in the social router's paths (`google`, `github`, `acme`).
    fn name(&self) -> &str;
    /// Its name for people (`Google`), for the front end's buttons.
    fn label(&self) -> &str;
    /// The authorization URL for a sign-in: `response_type=code`, the client id, the callback,
    /// the scopes, the state, a PKCE `S256` challenge and (OIDC) the nonce.
    async fn authorize(
        &self,
        request: AuthorizationRequest<'_>,
    ) -> Result<Authorization, ProviderError>;
    /// Exchanges the callback's code (with the PKCE verifier) and returns the verified
    /// identity: for OIDC from the ID token, checked against the provider's keys.
    async fn identity(&self, exchange: CodeExchange<'_>)
    -> Result<ProviderIdentity, ProviderError>;
}

/// Whether `name` may name a provider: 1 to 32 characters of `a-z 0-9 _ -`, and not
/// `callback` (which would read as another route).
pub(crate) fn valid_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        && name != "callback"
}

/// The `redirect` of `GET /{provider}`, if it is a path on this site: it starts with exactly
/// one `/`, has no `\` (browsers read `/\evil` as `//evil`) and no control or space
/// characters. Anything else (`//evil.example`, `https://...`, `javascript:`) is refused.
pub(crate) fn safe_redirect(path: &str) -> Option<&str> {
    let bytes = path.as_bytes();
    let ok = bytes.first() == Some(&b'/')
        && bytes.get(1) != Some(&b'/')
        && !path.contains('\\')
        && !path.chars().any(|c| c.is_control() || c.is_whitespace())
        && path.len() <= 1024;
    ok.then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_stay_on_the_site() {
        for good in ["/", "/account", "/a/b?c=d#e", "/%2F%2Fx"] {
            assert_eq!(safe_redirect(good), Some(good), "{good}");
        }
        for bad in [
            "",
            "//evil.example",
            "/\\evil.example",
            "\\\\evil",
            "https://evil.example",
            "evil.example",
            "javascript:alert(1)",
            "/\tevil",
            "/ evil",
            "/\u{0}x",
            "/a\nb",
        ] {
            assert_eq!(safe_redirect(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn provider_names() {
        for good in ["google", "github", "acme-id", "a_1"] {
            assert!(valid_name(good), "{good}");
        }
        for bad in ["", "Google", "a b", "callback", "x/y", &"a".repeat(33)] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
