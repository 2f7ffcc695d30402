//! What social login needs of storage: the sign-ins under way (their state, PKCE verifier and
//! nonce, single use) and the identities (provider, subject) linked to local accounts.

use async_trait::async_trait;

use super::{NewUser, StoreResult, User, UserId};
use crate::clock::Timestamp;

/// A sign-in under way: what `GET /{provider}` issued, kept until its callback consumes it.
#[derive(Clone, PartialEq, Eq)]
pub struct PendingSignIn {
    /// Lower-case hex SHA-256 of the state (the state itself is only in the browser's cookie
    /// and the provider's redirect).
    pub state_hash: String,
    /// The provider's name.
    pub provider: String,
    /// The PKCE code verifier.
    pub pkce_verifier: String,
    /// The OpenID Connect nonce (empty for OAuth2 providers).
    pub nonce: String,
    /// The relative path to go to after the sign-in.
    pub redirect: String,
    /// When it expires.
    pub expires_at: Timestamp,
}

impl std::fmt::Debug for PendingSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingSignIn")
            .field("provider", &self.provider)
            .field("redirect", &self.redirect)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// An identity at a provider, to link to a local account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIdentity {
    /// The provider's name.
    pub provider: String,
    /// The account's key at the provider (OIDC `sub`, GitHub's numeric id).
    pub subject: String,
    /// The address the provider gave, if any.
    pub email: Option<String>,
    /// When it was linked.
    pub linked_at: Timestamp,
}

/// Sign-ins under way and linked identities.
#[async_trait]
pub trait IdentityStore: Send + Sync {
    /// Records a sign-in under way.
    async fn save_sign_in(&self, sign_in: PendingSignIn) -> StoreResult<()>;
    /// Removes and returns the sign-in of `state_hash` if it has not expired at `now`: a
    /// single write, so of concurrent callbacks with one state (on any instance) one gets it.
    async fn take_sign_in(
        &self,
        state_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<PendingSignIn>>;
    /// The user linked to `subject` at `provider`.
    async fn user_by_identity(&self, provider: &str, subject: &str) -> StoreResult<Option<User>>;
    /// Links an identity to user `user_id`; `Ok(false)`, with nothing written, when the
    /// identity is already linked (to anyone).
    async fn link_identity(&self, user_id: UserId, identity: NewIdentity) -> StoreResult<bool>;
    /// Creates a user and links the identity to it in one transaction.
    ///
    /// Fails with [`StoreError::Conflict`](super::StoreError::Conflict) when the email or
    /// username is taken; `Ok(None)`, with nothing written, when the identity is already linked.
    async fn create_user_with_identity(
        &self,
        user: NewUser,
        identity: NewIdentity,
    ) -> StoreResult<Option<User>>;
}
