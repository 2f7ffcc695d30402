//! The second factor: a user's TOTP secret (sealed) and recovery codes (hashed).

use async_trait::async_trait;

use super::{StoreResult, UserId};
use crate::clock::Timestamp;

/// A user's second factor as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwoFactorRecord {
    /// The TOTP secret, sealed with AES-256-GCM (never the secret itself).
    pub sealed_secret: String,
    /// Whether it is enabled (confirmed by a first code); `false` while an enrolment waits for
    /// its confirmation.
    pub enabled: bool,
    /// Recovery codes not used yet.
    pub recovery_codes_left: u32,
}

/// Storage of second factors. Each method is one transaction.
#[async_trait]
pub trait TwoFactorStore: Send + Sync {
    /// User `user`'s second factor, enabled or pending.
    async fn two_factor(&self, user: UserId) -> StoreResult<Option<TwoFactorRecord>>;
    /// Starts an enrolment: stores `sealed_secret` as pending, replacing a pending one.
    /// `Ok(false)`, with nothing written, when a second factor is enabled already.
    async fn start_totp(
        &self,
        user: UserId,
        sealed_secret: &str,
        now: Timestamp,
    ) -> StoreResult<bool>;
    /// Enables the pending enrolment if its secret is still `sealed_secret` (a newer
    /// enrolment did not replace it) and stores `recovery_hashes` as the user's recovery
    /// codes, replacing any. `Ok(false)`, with nothing written, otherwise.
    async fn enable_totp(
        &self,
        user: UserId,
        sealed_secret: &str,
        recovery_hashes: &[String],
        now: Timestamp,
    ) -> StoreResult<bool>;
    /// Replaces the user's recovery codes by `recovery_hashes` if a second factor is enabled;
    /// `Ok(false)` otherwise.
    async fn replace_recovery_codes(
        &self,
        user: UserId,
        recovery_hashes: &[String],
        now: Timestamp,
    ) -> StoreResult<bool>;
    /// Uses the recovery code of hash `hash` if it is the user's and unused (one write: of
    /// concurrent uses of one code, one gets `true`).
    async fn use_recovery_code(
        &self,
        user: UserId,
        hash: &str,
        now: Timestamp,
    ) -> StoreResult<bool>;
    /// Replaces the sealed secret `old` by `new` (the same secret sealed with the current key
    /// after a key rotation); `Ok(false)` when it is no longer `old`.
    async fn reseal_secret(&self, user: UserId, old: &str, new: &str) -> StoreResult<bool>;
    /// Removes the user's second factor and recovery codes; `Ok(false)` when there was none.
    async fn disable_two_factor(&self, user: UserId) -> StoreResult<bool>;
}
