//! Abuse limits: login throttling per client IP and per account, and the confirmation-mail
//! limit, over a pluggable [`LimitStore`] (in-process by default, Redis for several instances).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use crate::clock::Timestamp;
use crate::store::StoreResult;

/// A fixed-window rate limit: `max` events per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Events allowed per window; `0` turns the limit off.
    pub max: u32,
    /// The window.
    pub window: Duration,
}

/// The account lockout: after `threshold` consecutive failures the account is locked for
/// `base`, doubling with each further failure up to `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lockout {
    /// Consecutive failures that lock the account (default 5); `0` turns lockout off.
    pub threshold: u32,
    /// First lock (default 60 s).
    pub base: Duration,
    /// Longest lock (default 15 minutes).
    pub max: Duration,
    /// How long failures are remembered after the last one (default 24 hours).
    pub memory: Duration,
}

impl Lockout {
    /// Lock duration in seconds after `failures` consecutive failures, or 0.
    pub fn lock_seconds(&self, failures: u32) -> i64 {
        if self.threshold == 0 || failures < self.threshold {
            return 0;
        }
        let doublings = (failures - self.threshold).min(30);
        let base = i64::try_from(self.base.as_secs()).unwrap_or(i64::MAX);
        let max = i64::try_from(self.max.as_secs()).unwrap_or(i64::MAX);
        base.saturating_mul(1_i64 << doublings).min(max)
    }
}

/// The limits in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Login attempts per client IP (default 30 per 60 s).
    pub login_per_ip: RateLimit,
    /// Account lockout after failed logins.
    pub lockout: Lockout,
    /// `POST /confirm` per user (default 2 per 30 minutes).
    pub confirmation_per_user: RateLimit,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            login_per_ip: RateLimit {
                max: 30,
                window: Duration::from_mins(1),
            },
            lockout: Lockout {
                threshold: 5,
                base: Duration::from_mins(1),
                max: Duration::from_mins(15),
                memory: Duration::from_hours(24),
            },
            confirmation_per_user: RateLimit {
                max: 2,
                window: Duration::from_mins(30),
            },
        }
    }
}

/// A counted event in a fixed window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowCount {
    /// Events in the window, this one included.
    pub count: u64,
    /// Seconds until the window ends.
    pub resets_in: u64,
}

/// Consecutive failures of one account and the lock they earned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FailureState {
    /// Consecutive failures.
    pub failures: u32,
    /// Locked until this instant, if locked.
    pub locked_until: Option<Timestamp>,
}

/// Where limit state and the revocation cache live (in-process by default, Redis when several
/// instances serve one user base). Every method is atomic: concurrent calls never lose a count.
#[async_trait]
pub trait LimitStore: Send + Sync + 'static {
    /// Counts one event for `key` in the fixed window of `window` seconds containing `now`.
    async fn hit(&self, key: &str, window: u64, now: Timestamp) -> StoreResult<WindowCount>;
    /// The failure state of `key` at `now`.
    async fn failures(&self, key: &str, now: Timestamp) -> StoreResult<FailureState>;
    /// Records one failure for `key` and the lock it earns under `lockout`.
    async fn record_failure(
        &self,
        key: &str,
        lockout: &Lockout,
        now: Timestamp,
    ) -> StoreResult<FailureState>;
    /// Forgets the failures of `key` (after a successful login).
    async fn reset_failures(&self, key: &str) -> StoreResult<()>;
    /// Marks session `sid` revoked until `until` (when its last access token has expired).
    async fn revoke(&self, sid: &str, until: Timestamp) -> StoreResult<()>;
    /// Whether session `sid` is marked revoked at `now`.
    async fn is_revoked(&self, sid: &str, now: Timestamp) -> StoreResult<bool>;
}

#[derive(Debug, Default)]
struct MemoryState {
    windows: HashMap<String, (Timestamp, u64)>,
    failures: HashMap<String, (FailureState, Timestamp)>,
    revoked: HashMap<String, Timestamp>,
    ops: u64,
}

/// The in-process [`LimitStore`]: right for one instance; use Redis for several.
#[derive(Debug, Default)]
pub struct MemoryLimitStore {
    state: Mutex<MemoryState>,
}

impl MemoryLimitStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn with_state<T>(&self, now: Timestamp, f: impl FnOnce(&mut MemoryState) -> T) -> T {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        state.ops += 1;
        // Sweep expired entries now and then so memory stays bounded by live keys.
        if state.ops.is_multiple_of(1024) {
            state.windows.retain(|_, (end, _)| *end > now);
            state.failures.retain(|_, (_, forget_at)| *forget_at > now);
            state.revoked.retain(|_, until| *until > now);
        }
        f(&mut state)
    }
}

fn window_end(window: u64, now: Timestamp) -> Timestamp {
    let window = i64::try_from(window.max(1)).unwrap_or(i64::MAX);
    (now.div_euclid(window) + 1).saturating_mul(window)
}

#[async_trait]
impl LimitStore for MemoryLimitStore {
    async fn hit(&self, key: &str, window: u64, now: Timestamp) -> StoreResult<WindowCount> {
        let end = window_end(window, now);
        Ok(self.with_state(now, |s| {
            let entry = s.windows.entry(key.to_owned()).or_insert((end, 0));
            if entry.0 != end {
                *entry = (end, 0);
            }
            entry.1 += 1;
            WindowCount {
                count: entry.1,
                resets_in: u64::try_from(end - now).unwrap_or(0),
            }
        }))
    }

    async fn failures(&self, key: &str, now: Timestamp) -> StoreResult<FailureState> {
        Ok(self.with_state(now, |s| match s.failures.get(key) {
            Some((state, forget_at)) if *forget_at > now => *state,
            _ => FailureState::default(),
        }))
    }

    async fn record_failure(
        &self,
        key: &str,
        lockout: &Lockout,
        now: Timestamp,
    ) -> StoreResult<FailureState> {
        let memory = i64::try_from(lockout.memory.as_secs()).unwrap_or(i64::MAX);
        Ok(self.with_state(now, |s| {
            let entry = s
                .failures
                .entry(key.to_owned())
                .or_insert((FailureState::default(), 0));
            if entry.1 <= now {
                entry.0 = FailureState::default();
            }
            entry.0.failures = entry.0.failures.saturating_add(1);
            let lock = lockout.lock_seconds(entry.0.failures);
            if lock > 0 {
                entry.0.locked_until = Some(now.saturating_add(lock));
            }
            entry.1 = now.saturating_add(memory.max(lock));
            entry.0
        }))
    }

    async fn reset_failures(&self, key: &str) -> StoreResult<()> {
        self.with_state(0, |s| s.failures.remove(key));
        Ok(())
    }

    async fn revoke(&self, sid: &str, until: Timestamp) -> StoreResult<()> {
        self.with_state(0, |s| {
            let entry = s.revoked.entry(sid.to_owned()).or_insert(until);
            *entry = (*entry).max(until);
        });
        Ok(())
    }

    async fn is_revoked(&self, sid: &str, now: Timestamp) -> StoreResult<bool> {
        Ok(self.with_state(now, |s| {
            s.revoked.get(sid).is_some_and(|until| *until > now)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_doubles_up_to_the_cap() {
        let l = Limits::default().lockout;
        let locks: Vec<_> = (3..=11).map(|f| l.lock_seconds(f)).collect();
        assert_eq!(locks, [0, 0, 60, 120, 240, 480, 900, 900, 900]);
        assert_eq!(l.lock_seconds(u32::MAX), 900);
    }

    #[tokio::test]
    async fn fixed_windows_reset() {
        let s = MemoryLimitStore::new();
        assert_eq!(
            s.hit("k", 60, 120).await.unwrap(),
            WindowCount {
                count: 1,
                resets_in: 60
            }
        );
        assert_eq!(
            s.hit("k", 60, 150).await.unwrap(),
            WindowCount {
                count: 2,
                resets_in: 30
            }
        );
        assert_eq!(s.hit("k", 60, 180).await.unwrap().count, 1);
    }

    #[tokio::test]
    async fn failures_lock_and_reset() {
        let s = MemoryLimitStore::new();
        let l = Limits::default().lockout;
        for _ in 0..4 {
            assert_eq!(
                s.record_failure("a", &l, 1000).await.unwrap().locked_until,
                None
            );
        }
        assert_eq!(
            s.record_failure("a", &l, 1000).await.unwrap().locked_until,
            Some(1060)
        );
        assert_eq!(s.failures("a", 1001).await.unwrap().failures, 5);
        s.reset_failures("a").await.unwrap();
        assert_eq!(
            s.failures("a", 1001).await.unwrap(),
            FailureState::default()
        );
    }

    #[tokio::test]
    async fn revocations_expire() {
        let s = MemoryLimitStore::new();
        assert!(!s.is_revoked("sid", 10).await.unwrap());
        s.revoke("sid", 100).await.unwrap();
        assert!(s.is_revoked("sid", 99).await.unwrap());
        assert!(!s.is_revoked("sid", 100).await.unwrap());
    }

    #[tokio::test]
    async fn concurrent_hits_all_count() {
        let s = std::sync::Arc::new(MemoryLimitStore::new());
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let s = s.clone();
                tokio::spawn(
                    async move { s.record_failure("x", &Limits::default().lockout, 5).await },
                )
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(s.failures("x", 5).await.unwrap().failures, 50);
    }
}
