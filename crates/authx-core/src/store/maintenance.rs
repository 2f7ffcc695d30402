//! Clean-up: storage stays bounded by live data.
//!
//! The service's janitor takes a lease (so one instance cleans at a time), then deletes in
//! bounded batches what can never be used again.

use async_trait::async_trait;

use super::StoreResult;
use crate::clock::Timestamp;

/// What the janitor deletes, one bounded batch at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Purge {
    /// Sessions that ended, expired, or opened before the global cut-off.
    Sessions,
    /// Emailed tokens that were used or expired.
    EmailTokens,
    /// Social sign-ins that expired before their callback.
    SignIns,
    /// Mail delivered or given up on before `before`.
    Mail {
        /// The age limit.
        before: Timestamp,
    },
}

/// Clean-up of rows that can never be used again.
#[async_trait]
pub trait Maintenance: Send + Sync {
    /// Takes or renews the lease `name` for `holder` until `until`, if it is free at `now`
    /// (expired, or already `holder`'s). Of instances asking at once, one gets it.
    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> StoreResult<bool>;
    /// Deletes at most `limit` rows of `what` that are dead at `now`; returns how many it
    /// deleted (fewer than `limit`: nothing is left).
    async fn purge(&self, what: Purge, now: Timestamp, limit: u32) -> StoreResult<u64>;
}
