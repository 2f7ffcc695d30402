//! One set of scenarios run against the in-process `MemoryLimitStore` and against Redis, so the
//! two cannot drift apart, plus what only Redis has: sharing between instances, and outages.
//!
//! The Redis tests need `AUTHX_TEST_REDIS_URL` (e.g. `redis://127.0.0.1:6379`) and skip without
//! it (they fail instead with `AUTHX_REQUIRE_SERVICES=1`, see `authx_testkit::service_url`).
//! Each uses its own random key prefix and deletes its keys when it ends, failing or not.

use std::collections::BTreeSet;
use std::hash::{BuildHasher as _, RandomState};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use authx_core::limit::{
    FailureState, Hit, LimitStore, Limits, Lockout, MemoryLimitStore, RateLimit, SessionStatus,
};
use authx_core::store::StoreError;
use redis::aio::ConnectionManager;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::{Error, RedisLimitStore, manager_config};

/// A Redis for one test: a random key prefix whose keys are deleted on drop.
struct TestRedis {
    url: String,
    prefix: String,
}

impl TestRedis {
    fn new() -> Option<Self> {
        let url = authx_testkit::service_url("AUTHX_TEST_REDIS_URL")?;
        let prefix = format!("authx-test-{:016x}", RandomState::new().hash_one(0_u8));
        Some(Self { url, prefix })
    }

    async fn store(&self) -> RedisLimitStore {
        RedisLimitStore::connect(&self.url, self.prefix.clone())
            .await
            .expect("the test Redis answers")
    }

    /// A synchronous connection, usable from `Drop`.
    fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url.as_str())
            .and_then(|c| c.get_connection())
            .expect("the test Redis answers")
    }

    /// This test's keys.
    fn keys(&self) -> BTreeSet<String> {
        redis::cmd("KEYS")
            .arg(format!("{}:*", self.prefix))
            .query(&mut self.connection())
            .expect("KEYS")
    }

    /// The string stored at `key`, if any.
    fn get(&self, key: &str) -> Option<String> {
        redis::cmd("GET")
            .arg(format!("{}:{key}", self.prefix))
            .query(&mut self.connection())
            .expect("GET")
    }

    /// Seconds until `key` expires (`-1`: never, `-2`: no such key).
    fn ttl(&self, key: &str) -> i64 {
        redis::cmd("TTL")
            .arg(format!("{}:{key}", self.prefix))
            .query(&mut self.connection())
            .expect("TTL")
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let keys = self.keys();
        if !keys.is_empty() {
            let _: () = redis::cmd("DEL")
                .arg(keys.into_iter().collect::<Vec<_>>())
                .query(&mut self.connection())
                .expect("DEL");
        }
    }
}

fn lockout(threshold: u32, base: u64, max: u64, memory: u64) -> Lockout {
    Lockout {
        threshold,
        base: Duration::from_secs(base),
        max: Duration::from_secs(max),
        memory: Duration::from_secs(memory),
    }
}

// ---------------------------------------------------------------------------------------------
// Scenarios every `LimitStore` must pass.

fn rate(max: u32, window_ms: u64) -> RateLimit {
    RateLimit {
        max,
        window: Duration::from_millis(window_ms),
    }
}

fn refused(retry_in_ms: u64) -> Hit {
    Hit::Refused { retry_in_ms }
}

async fn sliding_windows_have_no_edge(s: Arc<dyn LimitStore>) {
    let hit = |key: &'static str, limit, now| {
        let s = s.clone();
        async move { s.hit(key, limit, now).await.expect("hit") }
    };
    let per_minute = rate(3, 60_000);
    // 2026-01-01T00:00:00Z, a minute boundary.
    let edge: i64 = 1_767_225_600_000;
    // Three events in the last second before the boundary fill the window...
    for at in [edge - 1_000, edge - 500, edge - 1] {
        assert_eq!(hit("k", per_minute, at).await, Hit::Counted, "{at}");
    }
    // ...and the boundary changes nothing: refused, not counted, with the exact wait until
    // the oldest leaves the window.
    assert_eq!(hit("k", per_minute, edge).await, refused(59_000));
    assert_eq!(hit("k", per_minute, edge + 58_999).await, refused(1));
    assert_eq!(hit("k", per_minute, edge + 59_000).await, Hit::Counted);
    // The next one leaves 500 ms later; the refused knocks meanwhile did not count.
    assert_eq!(hit("k", per_minute, edge + 59_000).await, refused(500));
    assert_eq!(hit("k", per_minute, edge + 59_500).await, Hit::Counted);
    assert_eq!(hit("k", per_minute, edge + 59_500).await, refused(499));
    // Keys are independent.
    assert_eq!(hit("other", per_minute, edge).await, Hit::Counted);
    // After a quiet window everything has left it.
    for at in [edge + 200_000, edge + 200_001, edge + 200_002] {
        assert_eq!(hit("k", per_minute, at).await, Hit::Counted);
    }
    assert_eq!(hit("k", per_minute, edge + 200_003).await, refused(59_997));
    // A lowered `max` applies at once, to the newest events.
    assert_eq!(
        hit("k", rate(1, 60_000), edge + 200_010).await,
        refused(59_992)
    );
    // Another window on the same key is judged on the same events.
    assert_eq!(hit("k", rate(3, 1_000), edge + 201_001).await, Hit::Counted);
    // `max` 0 is off: every event counts.
    for _ in 0..5 {
        assert_eq!(hit("off", rate(0, 60_000), edge).await, Hit::Counted);
    }
    // A zero window is a millisecond.
    assert_eq!(hit("zero", rate(1, 0), 10).await, Hit::Counted);
    assert_eq!(hit("zero", rate(1, 0), 10).await, refused(1));
    assert_eq!(hit("zero", rate(1, 0), 11).await, Hit::Counted);
    // Negative instants, and the confirmation mail limit's 30 minutes.
    assert_eq!(hit("neg", rate(1, 1_000), -1_500).await, Hit::Counted);
    assert_eq!(hit("neg", rate(1, 1_000), -501).await, refused(1));
    assert_eq!(hit("neg", rate(1, 1_000), -500).await, Hit::Counted);
    let mail = rate(2, 1_800_000);
    assert_eq!(hit("mail", mail, edge + 5_000).await, Hit::Counted);
    assert_eq!(hit("mail", mail, edge + 1_799_000).await, Hit::Counted);
    assert_eq!(hit("mail", mail, edge + 1_800_000).await, refused(5_000));
    assert_eq!(hit("mail", mail, edge + 1_805_000).await, Hit::Counted);
}

async fn lock_doubles_up_to_the_cap(s: Arc<dyn LimitStore>) {
    let l = Limits::default().lockout;
    let now = 1_767_225_600;
    let mut locks = Vec::new();
    for i in 0..12 {
        let t = now + i;
        let state = s.record_failure("a", &l, t).await.expect("record");
        assert_eq!(state.failures, u32::try_from(i + 1).expect("small"));
        assert_eq!(s.failures("a", t).await.expect("failures"), state);
        locks.push(state.locked_until.map(|until| until - t));
    }
    let expected = [
        None,
        None,
        None,
        None,
        Some(60),
        Some(120),
        Some(240),
        Some(480),
    ];
    assert_eq!(locks[..8], expected);
    assert_eq!(locks[8..], [Some(900); 4]);

    // The lock is computed exactly as `Lockout::lock_seconds` says, for other settings too.
    for (n, l) in [
        lockout(1, 1, 1 << 35, 100),
        lockout(3, 7, 1000, 5),
        lockout(2, 1 << 39, 1 << 40, 1),
        lockout(1, u64::MAX, u64::MAX, u64::MAX),
    ]
    .into_iter()
    .enumerate()
    {
        let key = format!("custom{n}");
        for failures in 1..=40_u32 {
            let state = s.record_failure(&key, &l, now).await.expect("record");
            assert_eq!(state.failures, failures, "{l:?}");
            let lock = l.lock_seconds(failures);
            let expected = (lock > 0).then(|| now.saturating_add(lock));
            if l.max.as_secs() <= 1 << 40 {
                assert_eq!(state.locked_until, expected, "{l:?} after {failures}");
            }
        }
    }

    // Lockout off: counted, never locked.
    for _ in 0..10 {
        let state = s
            .record_failure("off", &lockout(0, 60, 900, 60), now)
            .await
            .expect("record");
        assert_eq!(state.locked_until, None);
    }
    assert_eq!(s.failures("off", now).await.expect("failures").failures, 10);
}

async fn failures_are_forgotten(s: Arc<dyn LimitStore>) {
    let now = 1_000;
    let l = lockout(2, 60, 900, 100);
    assert_eq!(
        s.record_failure("f", &l, now).await.expect("record"),
        FailureState {
            failures: 1,
            locked_until: None
        }
    );
    assert_eq!(
        s.failures("f", now + 99).await.expect("failures").failures,
        1
    );
    // Remembered for `memory` after the last failure, then gone.
    assert_eq!(
        s.failures("f", now + 100).await.expect("failures"),
        FailureState::default()
    );
    // A failure after that starts again at 1.
    assert_eq!(
        s.record_failure("f", &l, now + 100)
            .await
            .expect("record")
            .failures,
        1
    );
    // A lock longer than the memory keeps the state until the lock ends.
    let short = lockout(1, 500, 900, 10);
    assert_eq!(
        s.record_failure("g", &short, now).await.expect("record"),
        FailureState {
            failures: 1,
            locked_until: Some(now + 500)
        }
    );
    assert_eq!(
        s.failures("g", now + 499).await.expect("failures"),
        FailureState {
            failures: 1,
            locked_until: Some(now + 500)
        }
    );
    assert_eq!(
        s.failures("g", now + 500).await.expect("failures"),
        FailureState::default()
    );
    // No memory and no lock: forgotten at once.
    let none = lockout(0, 60, 900, 0);
    s.record_failure("h", &none, now).await.expect("record");
    assert_eq!(
        s.failures("h", now).await.expect("failures"),
        FailureState::default()
    );
    // An earlier lock stays when new settings would not lock.
    let locks = lockout(1, 60, 900, 1000);
    s.record_failure("i", &locks, now).await.expect("record");
    assert_eq!(
        s.record_failure("i", &none, now + 1).await.expect("record"),
        FailureState {
            failures: 2,
            locked_until: Some(now + 60)
        }
    );
}

async fn failures_reset(s: Arc<dyn LimitStore>) {
    let l = Limits::default().lockout;
    for _ in 0..5 {
        s.record_failure("a", &l, 1000).await.expect("record");
    }
    assert_eq!(
        s.failures("a", 1001).await.expect("failures"),
        FailureState {
            failures: 5,
            locked_until: Some(1060)
        }
    );
    s.reset_failures("a").await.expect("reset");
    s.reset_failures("never seen").await.expect("reset");
    assert_eq!(
        s.failures("a", 1001).await.expect("failures"),
        FailureState::default()
    );
    assert_eq!(
        s.record_failure("a", &l, 1002)
            .await
            .expect("record")
            .failures,
        1
    );
}

/// `SessionStatus` with only `revoked` set.
const REVOKED: SessionStatus = SessionStatus {
    revoked: true,
    cutoff_ms: None,
};

/// `SessionStatus` with only a cut-off.
fn cut_off_at(cutoff_ms: i64) -> SessionStatus {
    SessionStatus {
        revoked: false,
        cutoff_ms: Some(cutoff_ms),
    }
}

async fn revocations_expire(s: Arc<dyn LimitStore>) {
    let status = |sid: &'static str, user, now| {
        let s = s.clone();
        async move { s.session_status(sid, user, now).await.expect("status") }
    };
    let revoke = |sid: &'static str, keep_until| {
        let s = s.clone();
        async move {
            s.revoke_sessions(&[sid.to_owned()], keep_until)
                .await
                .expect("revoke");
        }
    };
    assert_eq!(status("sid", 1, 10).await, SessionStatus::default());
    revoke("sid", 100).await;
    assert_eq!(status("sid", 1, 99).await, REVOKED);
    // Kept until `keep_until`, by the `now` the caller passes.
    assert_eq!(status("sid", 1, 100).await, SessionStatus::default());
    assert_eq!(status("sid", 1, 5_000).await, SessionStatus::default());
    // Another session is not revoked; a revocation is of the session, whatever the user.
    assert_eq!(status("other", 1, 99).await, SessionStatus::default());
    assert_eq!(status("sid", 2, 99).await, REVOKED);
    // The later `keep_until` wins: an earlier one does not shorten it.
    revoke("sid", 50).await;
    assert_eq!(status("sid", 1, 99).await, REVOKED);
    assert_eq!(status("sid", 1, 100).await, SessionStatus::default());
    revoke("sid", 200).await;
    assert_eq!(status("sid", 1, 199).await, REVOKED);
    assert_eq!(status("sid", 1, 200).await, SessionStatus::default());
    // A revocation does not touch the cut-offs.
    assert_eq!(status("sid", 1, 150).await.cutoff_ms, None);
    // Realistic instants.
    let keep_until = 1_767_225_600 + 900;
    revoke("real", keep_until).await;
    assert_eq!(status("real", 7, keep_until - 1).await, REVOKED);
    assert_eq!(
        status("real", 7, keep_until).await,
        SessionStatus::default()
    );
}

async fn many_sessions_revoked_in_one_call(s: Arc<dyn LimitStore>) {
    let sids: Vec<String> = (0..1_000).map(|i| format!("sid-{i}")).collect();
    s.revoke_sessions(&sids, 100).await.expect("revoke");
    for sid in &sids {
        assert_eq!(
            s.session_status(sid, 1, 99).await.expect("status"),
            REVOKED,
            "{sid}"
        );
        assert_eq!(
            s.session_status(sid, 1, 100).await.expect("status"),
            SessionStatus::default(),
            "{sid}"
        );
    }
    assert_eq!(
        s.session_status("sid-1000", 1, 99).await.expect("status"),
        SessionStatus::default()
    );
    // One call may mix sessions already revoked (for longer or shorter) with new ones.
    let mixed = ["sid-0", "sid-1", "new"].map(String::from);
    s.revoke_sessions(&mixed[..1], 300).await.expect("revoke");
    s.revoke_sessions(&mixed, 200).await.expect("revoke");
    for (sid, until) in [("sid-0", 300), ("sid-1", 200), ("new", 200), ("sid-2", 100)] {
        let status = |now| s.session_status(sid, 1, now);
        assert_eq!(status(until - 1).await.expect("status"), REVOKED, "{sid}");
        assert_eq!(
            status(until).await.expect("status"),
            SessionStatus::default(),
            "{sid}"
        );
    }
    // No sessions: nothing happens.
    s.revoke_sessions(&[], 1_000).await.expect("revoke none");
    assert_eq!(
        s.session_status("sid-2", 1, 100).await.expect("status"),
        SessionStatus::default()
    );
}

async fn user_cut_offs_take_the_latest(s: Arc<dyn LimitStore>) {
    let status = |user, now| {
        let s = s.clone();
        async move { s.session_status("a", user, now).await.expect("status") }
    };
    assert_eq!(status(7, 10).await, SessionStatus::default());
    s.cut_off_user(7, 5_000, 100).await.expect("cut off");
    assert_eq!(status(7, 10).await, cut_off_at(5_000));
    // An earlier cut-off never moves it back.
    s.cut_off_user(7, 4_000, 100).await.expect("cut off");
    let status_7 = status(7, 10).await;
    assert_eq!(status_7, cut_off_at(5_000));
    assert!(status_7.ends(4_999));
    assert!(!status_7.ends(5_000));
    // A later one moves it forward.
    s.cut_off_user(7, 5_001, 100).await.expect("cut off");
    assert_eq!(status(7, 10).await, cut_off_at(5_001));
    // Other users are untouched.
    assert_eq!(status(8, 10).await, SessionStatus::default());
    assert_eq!(status(-7, 10).await, SessionStatus::default());
    s.cut_off_user(8, 1_000, 100).await.expect("cut off");
    assert_eq!(status(8, 10).await, cut_off_at(1_000));
    assert_eq!(status(7, 10).await, cut_off_at(5_001));
    // Instants before 1970 compare the same way.
    s.cut_off_user(10, -5_000, 100).await.expect("cut off");
    s.cut_off_user(10, -6_000, 100).await.expect("cut off");
    assert_eq!(status(10, 10).await, cut_off_at(-5_000));
    s.cut_off_user(10, -1, 100).await.expect("cut off");
    assert_eq!(status(10, 10).await, cut_off_at(-1));
    // Realistic instants: exact to the millisecond.
    let at = 1_767_225_600_123;
    s.cut_off_user(9, at, 1_767_225_600 + 900)
        .await
        .expect("cut off");
    let status_9 = status(9, 1_767_225_600).await;
    assert_eq!(status_9, cut_off_at(at));
    assert!(status_9.ends(at - 1));
    assert!(!status_9.ends(at));
}

async fn global_cut_off_applies_to_everyone(s: Arc<dyn LimitStore>) {
    let status = |sid: &'static str, user, now| {
        let s = s.clone();
        async move { s.session_status(sid, user, now).await.expect("status") }
    };
    s.cut_off_everyone(6_000, 100).await.expect("cut off");
    s.cut_off_everyone(1_000, 100).await.expect("cut off");
    assert_eq!(status("a", 7, 10).await, cut_off_at(6_000));
    assert_eq!(status("b", 8, 10).await, cut_off_at(6_000));
    // The later of the user's and the global cut-off is reported: here the global one...
    s.cut_off_user(7, 5_000, 100).await.expect("cut off");
    assert_eq!(status("a", 7, 10).await, cut_off_at(6_000));
    // ...here the user's, for that user only.
    s.cut_off_user(7, 9_000, 100).await.expect("cut off");
    assert_eq!(status("a", 7, 10).await, cut_off_at(9_000));
    assert_eq!(status("b", 8, 10).await, cut_off_at(6_000));
    // A later global cut-off overtakes the user's.
    s.cut_off_everyone(12_000, 100).await.expect("cut off");
    assert_eq!(status("a", 7, 10).await, cut_off_at(12_000));
    assert_eq!(status("b", 8, 10).await, cut_off_at(12_000));
    // Revoked and cut off are reported together.
    s.revoke_sessions(&["a".into()], 100).await.expect("revoke");
    assert_eq!(
        status("a", 7, 10).await,
        SessionStatus {
            revoked: true,
            cutoff_ms: Some(12_000)
        }
    );
    assert_eq!(status("b", 7, 10).await, cut_off_at(12_000));
}

async fn cut_offs_are_kept_until_keep_until(s: Arc<dyn LimitStore>) {
    let status = |user, now| {
        let s = s.clone();
        async move { s.session_status("a", user, now).await.expect("status") }
    };
    s.cut_off_user(7, 5_000, 100).await.expect("cut off");
    assert_eq!(status(7, 99).await, cut_off_at(5_000));
    assert_eq!(status(7, 100).await, SessionStatus::default());
    // A later `keep_until` extends it (the cut-off itself stays the later one)...
    s.cut_off_user(7, 4_000, 200).await.expect("cut off");
    assert_eq!(status(7, 150).await, cut_off_at(5_000));
    // ...an earlier one does not shorten it.
    s.cut_off_user(7, 5_500, 120).await.expect("cut off");
    assert_eq!(status(7, 199).await, cut_off_at(5_500));
    assert_eq!(status(7, 200).await, SessionStatus::default());

    // The global cut-off, the same; once it is over, the user's shows again.
    s.cut_off_user(8, 5_000, 1_100).await.expect("cut off");
    s.cut_off_everyone(8_000, 1_050).await.expect("cut off");
    assert_eq!(status(8, 1_049).await, cut_off_at(8_000));
    assert_eq!(status(9, 1_049).await, cut_off_at(8_000));
    assert_eq!(status(8, 1_050).await, cut_off_at(5_000));
    assert_eq!(status(9, 1_050).await, SessionStatus::default());
    assert_eq!(status(8, 1_100).await, SessionStatus::default());
    s.cut_off_everyone(7_000, 1_060).await.expect("cut off");
    assert_eq!(status(9, 1_059).await, cut_off_at(8_000));
    assert_eq!(status(9, 1_060).await, SessionStatus::default());
}

async fn concurrent_failures_all_count(s: Arc<dyn LimitStore>) {
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move {
                s.record_failure("x", &Limits::default().lockout, 5_000)
                    .await
                    .expect("record")
                    .failures
            })
        })
        .collect();
    let mut seen = BTreeSet::new();
    for t in tasks {
        seen.insert(t.await.expect("task"));
    }
    assert_eq!(seen, (1..=50).collect(), "each call saw its own count");
    assert_eq!(
        s.failures("x", 5_000).await.expect("failures"),
        FailureState {
            failures: 50,
            locked_until: Some(5_900)
        }
    );
}

async fn concurrent_hits_all_count(s: Arc<dyn LimitStore>) {
    // 100 hits at once against a limit of 60: exactly 60 are counted, whatever the order.
    let limit = rate(60, 60_000);
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.hit("ip", limit, 6_000_000).await.expect("hit") })
        })
        .collect();
    let mut counted = 0;
    for t in tasks {
        match t.await.expect("task") {
            Hit::Counted => counted += 1,
            Hit::Refused { retry_in_ms } => assert_eq!(retry_in_ms, 60_000),
        }
    }
    assert_eq!(counted, 60);
    assert_eq!(
        s.hit("ip", limit, 6_000_001).await.expect("hit"),
        refused(59_999)
    );
}

/// The cut-off and its `keep_until` given by task `i` below: user 7's (even `i`) are kept
/// longer than the global ones (odd `i`), so that each shows in turn.
fn concurrent_cut_off(i: i64) -> (i64, i64) {
    let keep_base = if i % 2 == 0 { 2_000 } else { 1_000 };
    (10_000 + (i * 37) % 100 * 10, keep_base + (i * 53) % 100)
}

async fn concurrent_cut_offs_leave_the_latest(s: Arc<dyn LimitStore>) {
    // Even tasks cut user 7 off, odd tasks everyone, all at once and in no order.
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let s = s.clone();
            let (at, keep_until) = concurrent_cut_off(i);
            tokio::spawn(async move {
                if i % 2 == 0 {
                    s.cut_off_user(7, at, keep_until).await
                } else {
                    s.cut_off_everyone(at, keep_until).await
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("task").expect("cut off");
    }
    // The latest cut-off and `keep_until` of each kind, as the literals below use them.
    let latest = |parity| {
        (0..100)
            .filter(|i| i % 2 == parity)
            .map(concurrent_cut_off)
            .fold((i64::MIN, i64::MIN), |(a, k), (b, l)| (a.max(b), k.max(l)))
    };
    assert_eq!(latest(0), (10_980, 2_098));
    assert_eq!(latest(1), (10_990, 1_099));
    let status = |user, now| {
        let s = s.clone();
        async move { s.session_status("sid", user, now).await.expect("status") }
    };
    // The global cut-off is the later while it is kept...
    assert_eq!(status(7, 0).await, cut_off_at(10_990));
    assert_eq!(status(8, 0).await, cut_off_at(10_990));
    assert_eq!(status(7, 1_098).await, cut_off_at(10_990));
    assert_eq!(status(8, 1_098).await, cut_off_at(10_990));
    // ...then user 7's own shows, until it is not kept either.
    assert_eq!(status(7, 1_099).await, cut_off_at(10_980));
    assert_eq!(status(8, 1_099).await, SessionStatus::default());
    assert_eq!(status(7, 2_097).await, cut_off_at(10_980));
    assert_eq!(status(7, 2_098).await, SessionStatus::default());
}

/// A pseudo-random walk of every operation, with time moving mostly forward: the store must
/// answer exactly as a fresh `MemoryLimitStore` does. (Fewer than 1024 calls, so the reference
/// never sweeps: what it keeps past `keep_until` is what Redis keeps for the expiry margin.)
async fn agrees_with_memory_store(s: Arc<dyn LimitStore>) {
    let reference = MemoryLimitStore::new();
    let lockouts = [Limits::default().lockout, lockout(2, 3, 20, 15)];
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |n: u64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % n
    };
    let mut now: i64 = 1_767_225_600;
    for step in 0..600 {
        now += i64::try_from(next(40)).expect("small") - 8;
        let key = ["a", "b", "c"][usize::try_from(next(3)).expect("small")];
        let user = i64::try_from(next(3)).expect("small") + 1;
        match next(9) {
            0 | 1 => {
                let limit = [
                    rate(1, 1_000),
                    rate(3, 7_000),
                    rate(5, 60_000),
                    rate(2, 1_500),
                ][usize::try_from(next(4)).expect("small")];
                let at = now * 1000 + i64::try_from(next(1000)).expect("small");
                assert_eq!(
                    s.hit(key, limit, at).await.expect("hit"),
                    reference.hit(key, limit, at).await.expect("hit"),
                    "step {step}: hit {key} {limit:?} at {at}"
                );
            }
            2 => assert_eq!(
                s.failures(key, now).await.expect("failures"),
                reference.failures(key, now).await.expect("failures"),
                "step {step}: failures {key} at {now}"
            ),
            3 | 4 => {
                let l = &lockouts[usize::try_from(next(2)).expect("small")];
                assert_eq!(
                    s.record_failure(key, l, now).await.expect("record"),
                    reference.record_failure(key, l, now).await.expect("record"),
                    "step {step}: record_failure {key} at {now}"
                );
            }
            5 => {
                if next(4) == 0 {
                    s.reset_failures(key).await.expect("reset");
                    reference.reset_failures(key).await.expect("reset");
                } else {
                    // Any subset of the sessions, none included.
                    let mask = next(8);
                    let sids: Vec<String> = ["a", "b", "c"]
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| mask & (1 << i) != 0)
                        .map(|(_, sid)| (*sid).to_owned())
                        .collect();
                    let keep_until = now + i64::try_from(next(60)).expect("small") - 10;
                    s.revoke_sessions(&sids, keep_until).await.expect("revoke");
                    reference
                        .revoke_sessions(&sids, keep_until)
                        .await
                        .expect("revoke");
                }
            }
            6 => {
                // Cut-offs up to 20 s either side of `now`, exact to the millisecond.
                let at = now * 1000 + i64::try_from(next(40_000)).expect("small") - 20_000;
                let keep_until = now + i64::try_from(next(60)).expect("small") - 10;
                if next(4) == 0 {
                    s.cut_off_everyone(at, keep_until).await.expect("cut off");
                    reference
                        .cut_off_everyone(at, keep_until)
                        .await
                        .expect("cut off");
                } else {
                    s.cut_off_user(user, at, keep_until).await.expect("cut off");
                    reference
                        .cut_off_user(user, at, keep_until)
                        .await
                        .expect("cut off");
                }
            }
            _ => assert_eq!(
                s.session_status(key, user, now).await.expect("status"),
                reference
                    .session_status(key, user, now)
                    .await
                    .expect("status"),
                "step {step}: session_status {key} of {user} at {now}"
            ),
        }
    }
}

/// Instantiates each scenario for the in-process store and for Redis.
macro_rules! limit_store_tests {
    ($($scenario:ident),* $(,)?) => {
        mod in_memory {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $scenario() {
                    super::$scenario(Arc::new(MemoryLimitStore::new())).await;
                }
            )*
        }

        mod in_redis {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $scenario() {
                    let Some(redis) = TestRedis::new() else { return };
                    super::$scenario(Arc::new(redis.store().await)).await;
                }
            )*
        }
    };
}

limit_store_tests!(
    sliding_windows_have_no_edge,
    lock_doubles_up_to_the_cap,
    failures_are_forgotten,
    failures_reset,
    revocations_expire,
    many_sessions_revoked_in_one_call,
    user_cut_offs_take_the_latest,
    global_cut_off_applies_to_everyone,
    cut_offs_are_kept_until_keep_until,
    concurrent_cut_offs_leave_the_latest,
    concurrent_failures_all_count,
    concurrent_hits_all_count,
    agrees_with_memory_store,
    markers_only_move_forward,
    concurrent_advances_have_one_winner,
);

/// The second factor's replay marker: a step once taken is refused, an older one too, until the
/// marker is no longer kept.
async fn markers_only_move_forward(s: Arc<dyn LimitStore>) {
    assert!(
        s.advance("totp:1", 100, 1_000, 1_090)
            .await
            .expect("advance")
    );
    assert!(
        !s.advance("totp:1", 100, 1_001, 1_091)
            .await
            .expect("advance")
    );
    assert!(
        !s.advance("totp:1", 99, 1_001, 1_091)
            .await
            .expect("advance")
    );
    assert!(
        s.advance("totp:2", 100, 1_001, 1_091)
            .await
            .expect("advance")
    );
    assert!(
        s.advance("totp:1", 101, 1_030, 1_120)
            .await
            .expect("advance")
    );
    assert!(
        !s.advance("totp:1", 101, 1_119, 1_200)
            .await
            .expect("advance")
    );
    // No longer kept: taken again.
    assert!(s.advance("totp:1", 5, 1_120, 1_200).await.expect("advance"));
}

/// Of 20 concurrent advances to one value, exactly one moves the marker.
async fn concurrent_advances_have_one_winner(s: Arc<dyn LimitStore>) {
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.advance("race", 7, 1_000, 1_100).await })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        if task.await.expect("join").expect("advance") {
            won += 1;
        }
    }
    assert_eq!(won, 1);
}

// ---------------------------------------------------------------------------------------------
// Redis only.

#[tokio::test]
async fn keys_are_namespaced_and_collected_no_earlier_than_needed() {
    let Some(redis) = TestRedis::new() else {
        return;
    };
    let s = redis.store().await;
    s.hit("login:ip:127.0.0.1", rate(30, 60_000), 120_000)
        .await
        .expect("hit");
    s.record_failure("login:user:7", &Limits::default().lockout, 1000)
        .await
        .expect("record");
    s.revoke_sessions(&["sid-1".into()], 100)
        .await
        .expect("revoke");
    s.cut_off_user(7, 5_000, 100).await.expect("cut off");
    s.cut_off_everyone(6_000, 100).await.expect("cut off");
    let p = &redis.prefix;
    assert_eq!(
        redis.keys(),
        BTreeSet::from([
            format!("{p}:rate:login:ip:127.0.0.1"),
            format!("{p}:failures:login:user:7"),
            format!("{p}:revoked:sid-1"),
            format!("{p}:cutoff:user:7"),
            format!("{p}:cutoff:all"),
        ])
    );
    // The values are as the crate documentation says.
    assert_eq!(redis.get("revoked:sid-1").as_deref(), Some("100"));
    assert_eq!(redis.get("cutoff:user:7").as_deref(), Some("5000:100"));
    assert_eq!(redis.get("cutoff:all").as_deref(), Some("6000:100"));
    // Expiry is relative to the caller's `now`, whatever Redis's clock says, plus a margin.
    let window = redis.ttl("rate:login:ip:127.0.0.1");
    assert!((60..=60 + 300).contains(&window), "rate TTL {window}");
    let events: Vec<String> = redis::cmd("LRANGE")
        .arg(format!("{p}:rate:login:ip:127.0.0.1"))
        .arg(0)
        .arg(-1)
        .query(&mut redis.connection())
        .expect("LRANGE");
    assert_eq!(events, ["120000"]);
    let failures = redis.ttl("failures:login:user:7");
    assert!(failures >= 24 * 3600, "failures TTL {failures}");
    // A revocation or cut-off already over by the system clock is kept for the margin only.
    for key in ["revoked:sid-1", "cutoff:user:7", "cutoff:all"] {
        let ttl = redis.ttl(key);
        assert!((1..=300).contains(&ttl), "{key} TTL {ttl}");
    }
    // Otherwise until `keep_until` by the system clock, plus the margin; an earlier
    // `keep_until` never shortens it.
    let keep_until = super::system_now() + 900;
    s.revoke_sessions(&["sid-1".into(), "sid-2".into()], keep_until)
        .await
        .expect("revoke");
    s.revoke_sessions(&["sid-2".into()], 100)
        .await
        .expect("revoke");
    s.cut_off_user(7, 4_000, keep_until).await.expect("cut off");
    s.cut_off_user(7, 4_500, 100).await.expect("cut off");
    s.cut_off_everyone(7_000, keep_until)
        .await
        .expect("cut off");
    s.cut_off_everyone(6_500, 100).await.expect("cut off");
    for key in [
        "revoked:sid-1",
        "revoked:sid-2",
        "cutoff:user:7",
        "cutoff:all",
    ] {
        let ttl = redis.ttl(key);
        assert!((899..=1200).contains(&ttl), "{key} TTL {ttl}");
    }
    assert_eq!(redis.get("revoked:sid-2"), Some(keep_until.to_string()));
    assert_eq!(
        redis.get("cutoff:user:7"),
        Some(format!("5000:{keep_until}"))
    );
    assert_eq!(redis.get("cutoff:all"), Some(format!("7000:{keep_until}")));
    // The reset deletes the key.
    s.reset_failures("login:user:7").await.expect("reset");
    assert_eq!(redis.ttl("failures:login:user:7"), -2);
}

#[tokio::test]
async fn two_instances_share_lockout_and_revocations() {
    let Some(redis) = TestRedis::new() else {
        return;
    };
    let (a, b) = (redis.store().await, redis.store().await);
    let l = Limits::default().lockout;
    let now = 1_767_225_600;
    for _ in 0..3 {
        a.record_failure("acct", &l, now).await.expect("record");
    }
    for _ in 0..2 {
        b.record_failure("acct", &l, now).await.expect("record");
    }
    let expected = FailureState {
        failures: 5,
        locked_until: Some(now + 60),
    };
    assert_eq!(a.failures("acct", now).await.expect("failures"), expected);
    assert_eq!(b.failures("acct", now).await.expect("failures"), expected);
    b.reset_failures("acct").await.expect("reset");
    assert_eq!(
        a.failures("acct", now).await.expect("failures"),
        FailureState::default()
    );

    a.revoke_sessions(&["sid".into()], now + 900)
        .await
        .expect("revoke");
    assert_eq!(
        b.session_status("sid", 7, now).await.expect("status"),
        REVOKED
    );
    a.cut_off_user(7, now * 1000, now + 900)
        .await
        .expect("cut off");
    b.cut_off_everyone(now * 1000 - 1, now + 900)
        .await
        .expect("cut off");
    assert_eq!(
        b.session_status("other", 7, now).await.expect("status"),
        cut_off_at(now * 1000)
    );
    assert_eq!(
        a.session_status("other", 8, now).await.expect("status"),
        cut_off_at(now * 1000 - 1)
    );
    // One window, whichever instance counts.
    let limit = rate(2, 60_000);
    assert_eq!(
        a.hit("ip", limit, now * 1000).await.expect("hit"),
        Hit::Counted
    );
    assert_eq!(
        b.hit("ip", limit, now * 1000).await.expect("hit"),
        Hit::Counted
    );
    assert_eq!(
        a.hit("ip", limit, now * 1000 + 1).await.expect("hit"),
        refused(59_999)
    );

    // Another prefix is another user base.
    let other = RedisLimitStore::connect(&redis.url, format!("{}-other", redis.prefix))
        .await
        .expect("connect");
    assert_eq!(
        other.session_status("sid", 7, now).await.expect("status"),
        SessionStatus::default()
    );
    other.reset_failures("acct").await.expect("reset");
}

/// A port nothing listens on.
async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("addr").port()
}

/// A store over a lazily connecting manager, as one made before an outage would be.
fn lazy_store(url: &str, timeout: Duration) -> RedisLimitStore {
    let client = redis::Client::open(url).expect("url");
    let manager =
        ConnectionManager::new_lazy_with_config(client, manager_config(timeout)).expect("manager");
    RedisLimitStore::from_manager(manager, "authx-test-down").with_timeout(timeout)
}

/// Calls every method; each must fail with `Unavailable` (caused by an [`Error`]) within
/// `timeout` plus some slack, and none may panic.
async fn assert_every_call_unavailable(s: &RedisLimitStore, timeout: Duration) -> Vec<String> {
    let l = Limits::default().lockout;
    let mut causes = Vec::new();
    for call in 0..8 {
        let started = Instant::now();
        let result = match call {
            0 => s.hit("k", rate(1, 60_000), 0).await.map(drop),
            1 => s.failures("k", 0).await.map(drop),
            2 => s.record_failure("k", &l, 0).await.map(drop),
            3 => s.reset_failures("k").await,
            4 => s.revoke_sessions(&["sid".into()], 100).await,
            5 => s.cut_off_user(7, 5_000, 100).await,
            6 => s.cut_off_everyone(5_000, 100).await,
            _ => s.session_status("sid", 7, 0).await.map(drop),
        };
        let elapsed = started.elapsed();
        assert!(
            elapsed < timeout + Duration::from_millis(500),
            "call {call} took {elapsed:?}"
        );
        match result {
            Err(StoreError::Unavailable(source)) => {
                let cause = source
                    .downcast_ref::<Error>()
                    .unwrap_or_else(|| panic!("call {call}: cause {source:?}"));
                causes.push(cause.to_string());
            }
            other => panic!("call {call}: expected Unavailable, got {other:?}"),
        }
    }
    causes
}

#[tokio::test]
async fn closed_port_is_unavailable_not_a_panic() {
    let url = format!("redis://127.0.0.1:{}", closed_port().await);
    let timeout = Duration::from_millis(500);

    let started = Instant::now();
    let refused = RedisLimitStore::connect_with_timeout(&url, "authx-test-down", timeout).await;
    assert!(
        matches!(refused, Err(Error::Connect(_) | Error::Timeout(_))),
        "{refused:?}"
    );
    assert!(started.elapsed() < timeout + Duration::from_millis(500));

    assert_every_call_unavailable(&lazy_store(&url, timeout), timeout).await;
}

/// Made while nothing listens on its port (a malformed URL still fails at once); every call is
/// `Unavailable` meanwhile; once a Redis answers on that port, calls succeed, with no restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_while_redis_is_down_then_recovers() {
    for bad in ["not a url", "http://127.0.0.1:6379", "redis://[::1"] {
        assert!(
            matches!(RedisLimitStore::new(bad, "p"), Err(Error::InvalidUrl(_))),
            "{bad}"
        );
    }
    let Some(redis) = TestRedis::new() else {
        return;
    };
    let Some((_, target)) = tcp_target(&redis) else {
        return;
    };
    let port = authx_testkit::ReservedPort::new();
    let url = format!("redis://{}", port.addr());
    let timeout = Duration::from_millis(500);
    let started = Instant::now();
    let s = RedisLimitStore::new_with_timeout(&url, redis.prefix.clone(), timeout)
        .expect("made without Redis");
    assert!(started.elapsed() < Duration::from_millis(100));
    assert!(s.ping().await.is_err());
    assert_every_call_unavailable(&s, timeout).await;

    // A Redis comes up on that port (the proxy in front of the test Redis).
    let listener = port.listen_async();
    let proxy = Proxy::start_on(listener, target);
    assert_eq!(once_back(&s, "acct", 1000).await, FailureState::default());
    s.ping().await.expect("answers");
    let l = Limits::default().lockout;
    assert_eq!(
        s.record_failure("acct", &l, 1000)
            .await
            .expect("record")
            .failures,
        1
    );
    proxy.stop().await;
}

#[tokio::test]
async fn hung_redis_times_out() {
    // Accepts connections and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("redis://{}", listener.local_addr().expect("addr"));
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let timeout = Duration::from_millis(300);

    let started = Instant::now();
    let hung = RedisLimitStore::connect_with_timeout(&url, "authx-test-down", timeout).await;
    assert!(
        matches!(hung, Err(Error::Timeout(_) | Error::Connect(_))),
        "{hung:?}"
    );
    assert!(started.elapsed() < timeout + Duration::from_millis(500));

    let causes = assert_every_call_unavailable(&lazy_store(&url, timeout), timeout).await;
    assert!(!causes.is_empty());
    silent.abort();
}

/// A TCP proxy in front of the test Redis, to freeze it (connections stay open, nothing is
/// forwarded: a hung Redis), cut it off (a Redis that is down) and bring it back. It counts the
/// commands sent to Redis, so tests can see how many round trips a call takes.
struct Proxy {
    port: u16,
    frozen: Arc<AtomicBool>,
    commands: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl Proxy {
    async fn start(port: u16, target: String) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
        Self::start_on(listener, target)
    }

    fn start_on(listener: TcpListener, target: String) -> Self {
        let port = listener.local_addr().expect("addr").port();
        let frozen = Arc::new(AtomicBool::new(false));
        let commands = Arc::new(AtomicU64::new(0));
        let (flag, counted) = (frozen.clone(), commands.clone());
        let task = tokio::spawn(async move {
            // Dropping the set (when the task is aborted) closes every proxied connection.
            let mut pipes = tokio::task::JoinSet::new();
            while let Ok((inbound, _)) = listener.accept().await {
                let Ok(outbound) = TcpStream::connect(&target).await else {
                    continue;
                };
                let (from_client, to_client) = inbound.into_split();
                let (from_redis, to_redis) = outbound.into_split();
                pipes.spawn(pipe(
                    from_client,
                    to_redis,
                    flag.clone(),
                    Some(counted.clone()),
                ));
                pipes.spawn(pipe(from_redis, to_client, flag.clone(), None));
            }
        });
        Self {
            port,
            frozen,
            commands,
            task,
        }
    }

    fn freeze(&self, frozen: bool) {
        self.frozen.store(frozen, Ordering::SeqCst);
    }

    /// Commands sent to Redis so far, on every connection.
    fn commands(&self) -> u64 {
        self.commands.load(Ordering::SeqCst)
    }

    async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

/// Copies bytes one way, holding them while the proxy is frozen, and adds the commands they
/// complete to `commands` (on the way to Redis).
async fn pipe(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    frozen: Arc<AtomicBool>,
    commands: Option<Arc<AtomicU64>>,
) {
    let mut buf = vec![0_u8; 16 * 1024];
    let mut requests = CommandCounter::default();
    while let Ok(n) = from.read(&mut buf).await {
        if n == 0 {
            break;
        }
        // Counted before they are forwarded: once the answer is back, the count is final.
        if let Some(commands) = &commands {
            commands.fetch_add(requests.feed(&buf[..n]), Ordering::SeqCst);
        }
        while frozen.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
}

/// Counts the commands in a stream of RESP requests (arrays of bulk strings, which is how
/// redis-rs sends every command), however the stream is split into reads.
#[derive(Default)]
struct CommandCounter {
    pending: Vec<u8>,
}

impl CommandCounter {
    /// Takes the next bytes; returns how many commands they complete.
    fn feed(&mut self, bytes: &[u8]) -> u64 {
        self.pending.extend_from_slice(bytes);
        let mut complete = 0;
        while let Some(len) = command_len(&self.pending) {
            self.pending.drain(..len);
            complete += 1;
        }
        complete
    }
}

/// The length of the command at the start of `buf`, once it is all there.
fn command_len(buf: &[u8]) -> Option<usize> {
    // A `{marker}{n}\r\n` line at `at`: `n`, and where the next line starts.
    let line = |at: usize, marker: u8| -> Option<(usize, usize)> {
        let first = *buf.get(at)?;
        assert_eq!(first, marker, "not a RESP request: {buf:?}");
        let end = at + buf[at..].windows(2).position(|w| w == b"\r\n")?;
        let n = std::str::from_utf8(&buf[at + 1..end])
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("not a RESP length: {buf:?}"));
        Some((n, end + 2))
    };
    let (items, mut at) = line(0, b'*')?;
    for _ in 0..items {
        let (len, start) = line(at, b'$')?;
        at = start + len + 2;
        if buf.len() < at {
            return None;
        }
    }
    Some(at)
}

#[test]
fn commands_are_counted_however_they_are_split() {
    let stream = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*3\r\n$4\r\nMGET\r\n$2\r\nab\r\n$0\r\n\r\n";
    let mut whole = CommandCounter::default();
    assert_eq!(whole.feed(stream), 2);
    for split in 0..=stream.len() {
        let mut counter = CommandCounter::default();
        let first = counter.feed(&stream[..split]);
        assert_eq!(
            first + counter.feed(&stream[split..]),
            2,
            "split at {split}"
        );
    }
    let mut bytewise = CommandCounter::default();
    let counts: u64 = stream.iter().map(|b| bytewise.feed(&[*b])).sum();
    assert_eq!(counts, 2);
}

/// The test Redis's connection info and `host:port`, or `None` (after saying so) when it is not
/// reached over plain TCP, so no proxy can stand in front of it.
fn tcp_target(redis: &TestRedis) -> Option<(redis::ConnectionInfo, String)> {
    let info = redis::Client::open(redis.url.as_str())
        .expect("url")
        .get_connection_info()
        .clone();
    match info.addr() {
        redis::ConnectionAddr::Tcp(host, port) => {
            let target = format!("{host}:{port}");
            Some((info, target))
        }
        other => {
            println!("skipped: the test Redis is not plain TCP ({other:?})");
            None
        }
    }
}

/// A store with the test's key prefix that reaches Redis through `proxy`.
async fn store_through(
    proxy: &Proxy,
    info: &redis::ConnectionInfo,
    redis: &TestRedis,
    timeout: Duration,
) -> RedisLimitStore {
    let through_proxy = info
        .clone()
        .set_addr(redis::ConnectionAddr::Tcp("127.0.0.1".into(), proxy.port));
    let client = redis::Client::open(through_proxy).expect("client");
    let manager = ConnectionManager::new_with_config(client, manager_config(timeout))
        .await
        .expect("connect through the proxy");
    RedisLimitStore::from_manager(manager, redis.prefix.clone()).with_timeout(timeout)
}

/// Retries `failures` until Redis answers again (at most 10 s).
async fn once_back(s: &RedisLimitStore, key: &str, now: i64) -> FailureState {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match s.failures(key, now).await {
            Ok(state) => return state,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("still unavailable after Redis came back: {e:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_or_down_redis_is_unavailable_then_recovers() {
    let Some(redis) = TestRedis::new() else {
        return;
    };
    let Some((info, target)) = tcp_target(&redis) else {
        return;
    };
    let proxy = Proxy::start(0, target.clone()).await;
    let port = proxy.port;
    let timeout = Duration::from_millis(500);
    let s = store_through(&proxy, &info, &redis, timeout).await;
    let l = Limits::default().lockout;
    s.record_failure("acct", &l, 1000).await.expect("record");

    // Redis hangs on an open connection: every call gives up after the timeout.
    proxy.freeze(true);
    assert_every_call_unavailable(&s, timeout).await;
    // It answers again: calls succeed, and no late answer is taken for another call's. (The
    // calls that gave up may still be applied, each whole, when Redis gets them: they touched
    // other keys, and their revocation and cut-offs are kept until 100 only.)
    proxy.freeze(false);
    assert_eq!(once_back(&s, "acct", 1000).await.failures, 1);
    for expected in 2..=4 {
        let state = s.record_failure("acct", &l, 1000).await.expect("record");
        assert_eq!(state.failures, expected);
    }
    s.revoke_sessions(&["sid-2".into()], 2000)
        .await
        .expect("revoke");
    assert_eq!(
        s.session_status("sid-2", 7, 1999).await.expect("status"),
        REVOKED
    );
    assert_eq!(
        s.session_status("sid-3", 7, 1999).await.expect("status"),
        SessionStatus::default()
    );

    // Redis gone: every call fails with Unavailable, quickly.
    proxy.stop().await;
    assert_every_call_unavailable(&s, timeout).await;
    // Redis back: the manager reconnects, with the state kept.
    let proxy = Proxy::start(port, target).await;
    assert_eq!(once_back(&s, "acct", 1000).await.failures, 4);
    assert_eq!(
        s.record_failure("acct", &l, 1000)
            .await
            .expect("record")
            .failures,
        5
    );
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_checks_and_revocations_are_one_command_each() {
    let Some(redis) = TestRedis::new() else {
        return;
    };
    let Some((info, target)) = tcp_target(&redis) else {
        return;
    };
    let proxy = Proxy::start(0, target).await;
    let s = store_through(&proxy, &info, &redis, Duration::from_secs(2)).await;
    // The first call of a script may load it into Redis (one command more, once per Redis).
    s.revoke_sessions(&["warm-up".into()], 100)
        .await
        .expect("revoke");
    s.cut_off_user(1, 1, 100).await.expect("cut off");
    let commands = |call: &str, before: u64, expected: u64| {
        assert_eq!(proxy.commands() - before, expected, "{call}");
    };

    let before = proxy.commands();
    let status = s.session_status("sid-999", 7, 50).await.expect("status");
    assert_eq!(status, SessionStatus::default());
    commands("session_status", before, 1);

    let sids: Vec<String> = (0..1_000).map(|i| format!("sid-{i}")).collect();
    let before = proxy.commands();
    s.revoke_sessions(&sids, 100).await.expect("revoke");
    commands("revoke_sessions of 1000", before, 1);

    let before = proxy.commands();
    s.revoke_sessions(&[], 100).await.expect("revoke none");
    commands("revoke_sessions of none", before, 0);

    let before = proxy.commands();
    s.cut_off_user(7, 5_000, 100).await.expect("cut off");
    commands("cut_off_user", before, 1);
    let before = proxy.commands();
    s.cut_off_everyone(4_000, 100).await.expect("cut off");
    commands("cut_off_everyone", before, 1);

    // All three keys, still in one command.
    let before = proxy.commands();
    let status = s.session_status("sid-999", 7, 50).await.expect("status");
    assert_eq!(
        status,
        SessionStatus {
            revoked: true,
            cutoff_ms: Some(5_000)
        }
    );
    commands("session_status", before, 1);
    proxy.stop().await;
}

#[tokio::test]
async fn revoking_no_sessions_makes_no_call() {
    // Redis is down: any call would fail.
    let url = format!("redis://127.0.0.1:{}", closed_port().await);
    let s = lazy_store(&url, Duration::from_millis(300));
    s.revoke_sessions(&[], 100)
        .await
        .expect("nothing to send, nothing to fail");
    assert!(matches!(
        s.revoke_sessions(&["sid".into()], 100).await,
        Err(StoreError::Unavailable(_))
    ));
}

#[tokio::test]
async fn instants_beyond_exact_lua_arithmetic() {
    let Some(redis) = TestRedis::new() else {
        return;
    };
    let s = redis.store().await;
    let bound = 1_i64 << 52;
    // A cut-off instant the scripts could not compare exactly is refused, and nothing written.
    for at in [bound + 1, -bound - 1, i64::MAX, i64::MIN] {
        for everyone in [false, true] {
            let result = if everyone {
                s.cut_off_everyone(at, 100).await
            } else {
                s.cut_off_user(7, at, 100).await
            };
            match result {
                Err(StoreError::Unavailable(source)) => assert!(
                    matches!(
                        source.downcast_ref::<Error>(),
                        Some(Error::TimestampOutOfRange(t)) if *t == at
                    ),
                    "{at}: {source:?}"
                ),
                other => panic!("{at}: expected TimestampOutOfRange, got {other:?}"),
            }
        }
    }
    assert_eq!(redis.keys(), BTreeSet::new());
    // Up to the bound, comparisons are exact.
    s.cut_off_user(7, bound, 100).await.expect("cut off");
    s.cut_off_user(7, bound - 1, 100).await.expect("cut off");
    assert_eq!(
        s.session_status("sid", 7, 0).await.expect("status"),
        cut_off_at(bound)
    );
    s.cut_off_user(8, -bound, 100).await.expect("cut off");
    s.cut_off_user(8, 1 - bound, 100).await.expect("cut off");
    assert_eq!(
        s.session_status("sid", 8, 0).await.expect("status"),
        cut_off_at(1 - bound)
    );
    // A `keep_until` beyond it means "kept for ever" either way: clamped, never refused.
    s.revoke_sessions(&["sid".into()], i64::MAX)
        .await
        .expect("revoke");
    s.cut_off_everyone(1, i64::MAX).await.expect("cut off");
    assert_eq!(redis.get("revoked:sid"), Some(bound.to_string()));
    assert_eq!(redis.get("cutoff:all"), Some(format!("1:{bound}")));
    let now = 1_767_225_600;
    assert_eq!(
        s.session_status("sid", 9, now).await.expect("status"),
        SessionStatus {
            revoked: true,
            cutoff_ms: Some(1)
        }
    );
    for key in ["revoked:sid", "cutoff:all"] {
        let ttl = redis.ttl(key);
        assert!(
            ((1 << 40) + 299..=(1 << 40) + 300).contains(&ttl),
            "{key} TTL {ttl}"
        );
    }
}
