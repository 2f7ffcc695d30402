//! Abuse limits (login throttling per client IP and per account, the confirmation-mail limit,
//! the password-reset limits) and the state that ends sessions at once (revoked sessions,
//! per-user and global cut-offs), over a pluggable [`LimitStore`]: in-process by default,
//! Redis for several instances.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use crate::clock::{Millis, Timestamp};
use crate::store::{StoreResult, UserId};

/// A rate limit: at most `max` events in **any** `window` (a sliding window, to the
/// millisecond), so no alignment to the clock lets a burst through at a window's edge.
///
/// Refused events are not counted: a client that waits the `Retry-After` it was given is let
/// in, however often it knocked meanwhile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Events allowed in any window; `0` turns the limit off.
    pub max: u32,
    /// The window (at least a millisecond).
    pub window: Duration,
}

impl RateLimit {
    /// The window in milliseconds, at least 1.
    pub fn window_ms(&self) -> Millis {
        i64::try_from(self.window.as_millis())
            .unwrap_or(i64::MAX)
            .max(1)
    }
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
    /// Login attempts per client IP, an IPv6 client by its /64 (default 30 in any 60 s).
    pub login_per_ip: RateLimit,
    /// Account lockout after failed logins.
    pub lockout: Lockout,
    /// `POST /confirm` per user (default 2 in any 30 minutes).
    pub confirmation_per_user: RateLimit,
    /// `POST /forgot_password` per client IP (default 10 per 60 s), whatever the address.
    pub forgot_password_per_ip: RateLimit,
    /// Password reset mails per account (default 2 per 30 minutes); requests beyond it are
    /// answered like any other and send nothing.
    pub reset_mail_per_user: RateLimit,
    /// Social sign-ins started (`GET /{provider}`) per client IP (default 30 per 60 s): each
    /// one stores a pending sign-in until its callback or expiry.
    pub social_per_ip: RateLimit,
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
            forgot_password_per_ip: RateLimit {
                max: 10,
                window: Duration::from_mins(1),
            },
            reset_mail_per_user: RateLimit {
                max: 2,
                window: Duration::from_mins(30),
            },
            social_per_ip: RateLimit {
                max: 30,
                window: Duration::from_mins(1),
            },
        }
    }
}

/// What [`LimitStore::hit`] did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hit {
    /// Counted: fewer than `max` events were counted in the window before it.
    Counted,
    /// Refused and not counted: `max` events were counted in the last window.
    Refused {
        /// Milliseconds until the oldest of them leaves the window, when an event is counted
        /// again (at least 1).
        retry_in_ms: u64,
    },
}

/// Consecutive failures of one account and the lock they earned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FailureState {
    /// Consecutive failures.
    pub failures: u32,
    /// Locked until this instant, if locked.
    pub locked_until: Option<Timestamp>,
}

/// What the limit store knows of one session: whether it was revoked, and the latest cut-off
/// (of its user or of everyone) that applies to it. The service decides: a session opened
/// before the cut-off has ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SessionStatus {
    /// The session was revoked by itself (logout, replay, ended from the sessions list).
    pub revoked: bool,
    /// The later of its user's cut-off and the global one, if any is in force.
    pub cutoff_ms: Option<Millis>,
}

impl SessionStatus {
    /// Whether a session opened at `opened_ms` has ended.
    pub fn ends(&self, opened_ms: Millis) -> bool {
        self.revoked || self.cutoff_ms.is_some_and(|cutoff| opened_ms < cutoff)
    }
}

/// Where limit state and the session revocation state live (in-process by default, Redis when
/// several instances serve one user base). Every method is atomic: concurrent calls never lose
/// a count, and a cut-off never moves back.
///
/// Revocations and cut-offs are kept until `keep_until`, when no access token they concern can
/// still be valid; storage, not this store, remembers ended sessions for good.
#[async_trait]
pub trait LimitStore: Send + Sync + 'static {
    /// Counts one event of `key` at `now_ms` if fewer than `limit.max` events of `key` were
    /// counted in the window of `limit.window` before it, i.e. after `now_ms - window`
    /// (a sliding window: the store keeps the instants of the last `max` counted events). A
    /// refused event is not counted. A `max` of 0 counts everything (the limit is off).
    async fn hit(&self, key: &str, limit: RateLimit, now_ms: Millis) -> StoreResult<Hit>;
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
    /// Marks sessions `sids` revoked until `keep_until`.
    async fn revoke_sessions(&self, sids: &[String], keep_until: Timestamp) -> StoreResult<()>;
    /// Ends every session of `user` opened before `at`: sets the user's cut-off to the later
    /// of the stored one and `at`.
    async fn cut_off_user(
        &self,
        user: UserId,
        at: Millis,
        keep_until: Timestamp,
    ) -> StoreResult<()>;
    /// Ends every session opened before `at`: sets the global cut-off to the later of the
    /// stored one and `at`.
    async fn cut_off_everyone(&self, at: Millis, keep_until: Timestamp) -> StoreResult<()>;
    /// What is known of session `sid` of `user` at `now`, in one round trip.
    async fn session_status(
        &self,
        sid: &str,
        user: UserId,
        now: Timestamp,
    ) -> StoreResult<SessionStatus>;
    /// Moves the marker `key` forward to `value`: `true`, storing `value` until `keep_until`,
    /// if no marker is kept at `now` or the kept one is below `value`; `false`, changing
    /// nothing, otherwise. Atomic: of concurrent calls with one value, one gets `true`. The
    /// second factor keeps the last accepted TOTP step of each user here, so a code is never
    /// accepted twice, on any instance.
    async fn advance(
        &self,
        key: &str,
        value: i64,
        now: Timestamp,
        keep_until: Timestamp,
    ) -> StoreResult<bool>;
}

/// The instants of the last counted events of one key, oldest first, and when the newest
/// leaves its window (after which the key can go).
#[derive(Debug)]
struct EventLog {
    counted: VecDeque<Millis>,
    forget_at: Millis,
}

#[derive(Debug, Default)]
struct MemoryState {
    rates: HashMap<String, EventLog>,
    failures: HashMap<String, (FailureState, Timestamp)>,
    revoked: HashMap<String, Timestamp>,
    user_cutoffs: HashMap<UserId, (Millis, Timestamp)>,
    global_cutoff: Option<(Millis, Timestamp)>,
    markers: HashMap<String, (i64, Timestamp)>,
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
            let now_ms = now.saturating_mul(1000);
            state.rates.retain(|_, log| log.forget_at > now_ms);
            state.failures.retain(|_, (_, forget_at)| *forget_at > now);
            state.revoked.retain(|_, until| *until > now);
            state.user_cutoffs.retain(|_, (_, keep)| *keep > now);
            state.markers.retain(|_, (_, keep)| *keep > now);
        }
        f(&mut state)
    }
}

#[async_trait]
impl LimitStore for MemoryLimitStore {
    async fn hit(&self, key: &str, limit: RateLimit, now_ms: Millis) -> StoreResult<Hit> {
        if limit.max == 0 {
            return Ok(Hit::Counted);
        }
        let max = usize::try_from(limit.max).unwrap_or(usize::MAX);
        let window = limit.window_ms();
        Ok(self.with_state(now_ms.div_euclid(1000), |s| {
            let log = s.rates.entry(key.to_owned()).or_insert_with(|| EventLog {
                counted: VecDeque::new(),
                forget_at: Millis::MIN,
            });
            // Only the last `max` counted events matter (more are kept only if `max` was
            // lowered since), and only those still in the window.
            while log.counted.len() > max {
                log.counted.pop_front();
            }
            while log
                .counted
                .front()
                .is_some_and(|oldest| *oldest <= now_ms.saturating_sub(window))
            {
                log.counted.pop_front();
            }
            if log.counted.len() < max {
                log.counted.push_back(now_ms);
                log.forget_at = log.forget_at.max(now_ms.saturating_add(window));
                return Hit::Counted;
            }
            let oldest = log.counted.front().copied().unwrap_or(now_ms);
            Hit::Refused {
                retry_in_ms: u64::try_from(oldest.saturating_add(window).saturating_sub(now_ms))
                    .unwrap_or(1)
                    .max(1),
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

    async fn revoke_sessions(&self, sids: &[String], keep_until: Timestamp) -> StoreResult<()> {
        self.with_state(0, |s| {
            for sid in sids {
                let entry = s.revoked.entry(sid.clone()).or_insert(keep_until);
                *entry = (*entry).max(keep_until);
            }
        });
        Ok(())
    }

    async fn cut_off_user(
        &self,
        user: UserId,
        at: Millis,
        keep_until: Timestamp,
    ) -> StoreResult<()> {
        self.with_state(0, |s| {
            let entry = s.user_cutoffs.entry(user).or_insert((at, keep_until));
            *entry = (entry.0.max(at), entry.1.max(keep_until));
        });
        Ok(())
    }

    async fn cut_off_everyone(&self, at: Millis, keep_until: Timestamp) -> StoreResult<()> {
        self.with_state(0, |s| {
            let (cutoff, keep) = s.global_cutoff.unwrap_or((at, keep_until));
            s.global_cutoff = Some((cutoff.max(at), keep.max(keep_until)));
        });
        Ok(())
    }

    async fn session_status(
        &self,
        sid: &str,
        user: UserId,
        now: Timestamp,
    ) -> StoreResult<SessionStatus> {
        Ok(self.with_state(now, |s| {
            let live = |(cutoff, keep): (Millis, Timestamp)| (keep > now).then_some(cutoff);
            let user_cutoff = s.user_cutoffs.get(&user).copied().and_then(live);
            let global_cutoff = s.global_cutoff.and_then(live);
            SessionStatus {
                revoked: s.revoked.get(sid).is_some_and(|until| *until > now),
                cutoff_ms: user_cutoff.max(global_cutoff),
            }
        }))
    }

    async fn advance(
        &self,
        key: &str,
        value: i64,
        now: Timestamp,
        keep_until: Timestamp,
    ) -> StoreResult<bool> {
        Ok(self.with_state(now, |s| match s.markers.get(key) {
            Some((stored, keep)) if *keep > now && *stored >= value => false,
            _ => {
                s.markers.insert(key.to_owned(), (value, keep_until));
                true
            }
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
    async fn sliding_windows_have_no_edge() {
        let s = MemoryLimitStore::new();
        let limit = RateLimit {
            max: 2,
            window: Duration::from_mins(1),
        };
        // Two events just before a minute boundary fill the window...
        assert_eq!(s.hit("k", limit, 119_000).await.unwrap(), Hit::Counted);
        assert_eq!(s.hit("k", limit, 119_500).await.unwrap(), Hit::Counted);
        // ...which does not reset at the boundary: the first leaves it at 179 s exactly.
        assert_eq!(
            s.hit("k", limit, 120_000).await.unwrap(),
            Hit::Refused {
                retry_in_ms: 59_000
            }
        );
        assert_eq!(
            s.hit("k", limit, 178_999).await.unwrap(),
            Hit::Refused { retry_in_ms: 1 }
        );
        assert_eq!(s.hit("k", limit, 179_000).await.unwrap(), Hit::Counted);
        assert_eq!(
            s.hit("k", limit, 179_000).await.unwrap(),
            Hit::Refused { retry_in_ms: 500 }
        );
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
        let s = &MemoryLimitStore::new();
        let revoked = |now| async move { s.session_status("sid", 1, now).await.unwrap().revoked };
        assert!(!revoked(10).await);
        s.revoke_sessions(&["sid".into()], 100).await.unwrap();
        assert!(revoked(99).await);
        assert!(!revoked(100).await);
    }

    #[tokio::test]
    async fn cut_offs_take_the_latest_and_never_move_back() {
        let s = MemoryLimitStore::new();
        assert_eq!(
            s.session_status("a", 7, 10).await.unwrap(),
            SessionStatus::default()
        );
        s.cut_off_user(7, 5_000, 100).await.unwrap();
        s.cut_off_user(7, 4_000, 100).await.unwrap();
        let status = s.session_status("a", 7, 10).await.unwrap();
        assert_eq!(status.cutoff_ms, Some(5_000));
        assert!(status.ends(4_999) && !status.ends(5_000));
        // Other users are untouched; the global cut-off applies to all, the later one wins.
        assert_eq!(s.session_status("b", 8, 10).await.unwrap().cutoff_ms, None);
        s.cut_off_everyone(6_000, 100).await.unwrap();
        s.cut_off_everyone(1_000, 100).await.unwrap();
        assert_eq!(
            s.session_status("b", 8, 10).await.unwrap().cutoff_ms,
            Some(6_000)
        );
        assert_eq!(
            s.session_status("a", 7, 10).await.unwrap().cutoff_ms,
            Some(6_000)
        );
        // Kept until their access tokens are gone.
        assert_eq!(s.session_status("a", 7, 100).await.unwrap().cutoff_ms, None);
    }

    #[tokio::test]
    async fn markers_only_move_forward_and_expire() {
        let s = MemoryLimitStore::new();
        assert!(s.advance("m", 10, 100, 200).await.unwrap());
        assert!(!s.advance("m", 10, 101, 200).await.unwrap());
        assert!(!s.advance("m", 9, 101, 200).await.unwrap());
        assert!(s.advance("m", 11, 102, 200).await.unwrap());
        // Once no longer kept, any value is taken.
        assert!(s.advance("m", 1, 200, 300).await.unwrap());
        assert!(s.advance("other", 1, 200, 300).await.unwrap());
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
