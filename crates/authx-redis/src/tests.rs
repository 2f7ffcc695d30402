//! One set of scenarios run against the in-process `MemoryLimitStore` and against Redis, so the
//! two cannot drift apart, plus what only Redis has: sharing between instances, and outages.
//!
//! The Redis tests need `AUTHX_TEST_REDIS_URL` (e.g. `redis://127.0.0.1:6379`) and skip without
//! it. Each uses its own random key prefix and deletes its keys when it ends, failing or not.

use std::collections::BTreeSet;
use std::hash::{BuildHasher as _, RandomState};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use authx_core::limit::{FailureState, LimitStore, Limits, Lockout, MemoryLimitStore, WindowCount};
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
        let Some(url) = std::env::var("AUTHX_TEST_REDIS_URL")
            .ok()
            .filter(|u| !u.trim().is_empty())
        else {
            println!("skipped: AUTHX_TEST_REDIS_URL not set");
            return None;
        };
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

async fn fixed_windows_reset(s: Arc<dyn LimitStore>) {
    let hit = |key: &'static str, window, now| {
        let s = s.clone();
        async move { s.hit(key, window, now).await.expect("hit") }
    };
    assert_eq!(
        hit("k", 60, 120).await,
        WindowCount {
            count: 1,
            resets_in: 60
        }
    );
    assert_eq!(
        hit("k", 60, 150).await,
        WindowCount {
            count: 2,
            resets_in: 30
        }
    );
    assert_eq!(
        hit("k", 60, 179).await,
        WindowCount {
            count: 3,
            resets_in: 1
        }
    );
    // Windows are aligned to multiples of their length: 180 starts a new one.
    assert_eq!(
        hit("k", 60, 180).await,
        WindowCount {
            count: 1,
            resets_in: 60
        }
    );
    // Keys are independent.
    assert_eq!(hit("other", 60, 181).await.count, 1);
    assert_eq!(hit("k", 60, 181).await.count, 2);
    // Skipping windows starts at 1 again; so does going back to an earlier window.
    assert_eq!(hit("k", 60, 1_000).await.count, 1);
    assert_eq!(hit("k", 60, 130).await.count, 1);
    // Negative instants are aligned the same way (Euclidean division).
    assert_eq!(
        hit("neg", 60, -1).await,
        WindowCount {
            count: 1,
            resets_in: 1
        }
    );
    assert_eq!(hit("neg", 60, -60).await.count, 2);
    // A zero window counts as one second.
    assert_eq!(
        hit("zero", 0, 10).await,
        WindowCount {
            count: 1,
            resets_in: 1
        }
    );
    // Realistic instants.
    let now = 1_767_225_600; // 2026-01-01T00:00:00Z, a multiple of 1800
    assert_eq!(
        hit("mail", 1800, now + 5).await,
        WindowCount {
            count: 1,
            resets_in: 1795
        }
    );
    assert_eq!(hit("mail", 1800, now + 1799).await.count, 2);
    assert_eq!(hit("mail", 1800, now + 1800).await.count, 1);
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

async fn revocations_expire(s: Arc<dyn LimitStore>) {
    assert!(!s.is_revoked("sid", 10).await.expect("is_revoked"));
    s.revoke("sid", 100).await.expect("revoke");
    assert!(s.is_revoked("sid", 99).await.expect("is_revoked"));
    assert!(!s.is_revoked("sid", 100).await.expect("is_revoked"));
    assert!(!s.is_revoked("other", 99).await.expect("is_revoked"));
    // The later `until` wins.
    s.revoke("sid", 50).await.expect("revoke");
    assert!(s.is_revoked("sid", 99).await.expect("is_revoked"));
    s.revoke("sid", 200).await.expect("revoke");
    assert!(s.is_revoked("sid", 199).await.expect("is_revoked"));
    assert!(!s.is_revoked("sid", 200).await.expect("is_revoked"));
    // Realistic instants.
    let until = 1_767_225_600 + 900;
    s.revoke("real", until).await.expect("revoke");
    assert!(s.is_revoked("real", until - 1).await.expect("is_revoked"));
    assert!(!s.is_revoked("real", until).await.expect("is_revoked"));
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
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.hit("ip", 60, 6_000).await.expect("hit").count })
        })
        .collect();
    let mut seen = BTreeSet::new();
    for t in tasks {
        seen.insert(t.await.expect("task"));
    }
    assert_eq!(seen, (1..=100).collect(), "each call saw its own count");
    assert_eq!(s.hit("ip", 60, 6_001).await.expect("hit").count, 101);
}

/// A pseudo-random walk of every operation, with time moving mostly forward: the store must
/// answer exactly as a fresh `MemoryLimitStore` does.
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
        match next(7) {
            0 | 1 => {
                let window = [1, 7, 60][usize::try_from(next(3)).expect("small")];
                assert_eq!(
                    s.hit(key, window, now).await.expect("hit"),
                    reference.hit(key, window, now).await.expect("hit"),
                    "step {step}: hit {key} {window} at {now}"
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
                    let until = now + i64::try_from(next(60)).expect("small") - 10;
                    s.revoke(key, until).await.expect("revoke");
                    reference.revoke(key, until).await.expect("revoke");
                }
            }
            _ => assert_eq!(
                s.is_revoked(key, now).await.expect("is_revoked"),
                reference.is_revoked(key, now).await.expect("is_revoked"),
                "step {step}: is_revoked {key} at {now}"
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
    fixed_windows_reset,
    lock_doubles_up_to_the_cap,
    failures_are_forgotten,
    failures_reset,
    revocations_expire,
    concurrent_failures_all_count,
    concurrent_hits_all_count,
    agrees_with_memory_store,
);

// ---------------------------------------------------------------------------------------------
// Redis only.

#[tokio::test]
async fn keys_are_namespaced_and_collected_no_earlier_than_needed() {
    let Some(redis) = TestRedis::new() else {
        return;
    };
    let s = redis.store().await;
    s.hit("login:ip:127.0.0.1", 60, 120).await.expect("hit");
    s.record_failure("login:user:7", &Limits::default().lockout, 1000)
        .await
        .expect("record");
    s.revoke("sid-1", 100).await.expect("revoke");
    let p = &redis.prefix;
    assert_eq!(
        redis.keys(),
        BTreeSet::from([
            format!("{p}:window:login:ip:127.0.0.1"),
            format!("{p}:failures:login:user:7"),
            format!("{p}:revoked:sid-1"),
        ])
    );
    // Expiry is relative to the caller's `now`, whatever Redis's clock says, plus a margin.
    let window = redis.ttl("window:login:ip:127.0.0.1");
    assert!((60..=60 + 300).contains(&window), "window TTL {window}");
    let failures = redis.ttl("failures:login:user:7");
    assert!(failures >= 24 * 3600, "failures TTL {failures}");
    // A revocation already over by the system clock is kept for the margin only.
    let revoked = redis.ttl("revoked:sid-1");
    assert!((1..=300).contains(&revoked), "revocation TTL {revoked}");
    let until = super::system_now() + 900;
    s.revoke("sid-2", until).await.expect("revoke");
    let revoked = redis.ttl("revoked:sid-2");
    assert!((900..=1200).contains(&revoked), "revocation TTL {revoked}");
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

    a.revoke("sid", now + 900).await.expect("revoke");
    assert!(b.is_revoked("sid", now).await.expect("is_revoked"));
    assert_eq!(a.hit("ip", 60, now).await.expect("hit").count, 1);
    assert_eq!(b.hit("ip", 60, now).await.expect("hit").count, 2);

    // Another prefix is another user base.
    let other = RedisLimitStore::connect(&redis.url, format!("{}-other", redis.prefix))
        .await
        .expect("connect");
    assert!(!other.is_revoked("sid", now).await.expect("is_revoked"));
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
    for call in 0..6 {
        let started = Instant::now();
        let result = match call {
            0 => s.hit("k", 60, 0).await.map(drop),
            1 => s.failures("k", 0).await.map(drop),
            2 => s.record_failure("k", &l, 0).await.map(drop),
            3 => s.reset_failures("k").await,
            4 => s.revoke("sid", 100).await,
            _ => s.is_revoked("sid", 0).await.map(drop),
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
/// forwarded: a hung Redis), cut it off (a Redis that is down) and bring it back.
struct Proxy {
    port: u16,
    frozen: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl Proxy {
    async fn start(port: u16, target: String) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let frozen = Arc::new(AtomicBool::new(false));
        let flag = frozen.clone();
        let task = tokio::spawn(async move {
            // Dropping the set (when the task is aborted) closes every proxied connection.
            let mut pipes = tokio::task::JoinSet::new();
            while let Ok((inbound, _)) = listener.accept().await {
                let Ok(outbound) = TcpStream::connect(&target).await else {
                    continue;
                };
                let (from_client, to_client) = inbound.into_split();
                let (from_redis, to_redis) = outbound.into_split();
                pipes.spawn(pipe(from_client, to_redis, flag.clone()));
                pipes.spawn(pipe(from_redis, to_client, flag.clone()));
            }
        });
        Self { port, frozen, task }
    }

    fn freeze(&self, frozen: bool) {
        self.frozen.store(frozen, Ordering::SeqCst);
    }

    async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

/// Copies bytes one way, holding them while the proxy is frozen.
async fn pipe(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, frozen: Arc<AtomicBool>) {
    let mut buf = vec![0_u8; 16 * 1024];
    while let Ok(n) = from.read(&mut buf).await {
        if n == 0 {
            break;
        }
        while frozen.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
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
    let info = redis::Client::open(redis.url.as_str())
        .expect("url")
        .get_connection_info()
        .clone();
    let target = match info.addr() {
        redis::ConnectionAddr::Tcp(host, port) => format!("{host}:{port}"),
        other => {
            println!("skipped: the test Redis is not plain TCP ({other:?})");
            return;
        }
    };
    let proxy = Proxy::start(0, target.clone()).await;
    let port = proxy.port;
    let through_proxy = info.set_addr(redis::ConnectionAddr::Tcp("127.0.0.1".into(), port));
    let client = redis::Client::open(through_proxy).expect("client");
    let timeout = Duration::from_millis(500);
    let manager = ConnectionManager::new_with_config(client, manager_config(timeout))
        .await
        .expect("connect through the proxy");
    let s = RedisLimitStore::from_manager(manager, redis.prefix.clone()).with_timeout(timeout);
    let l = Limits::default().lockout;
    s.record_failure("acct", &l, 1000).await.expect("record");

    // Redis hangs on an open connection: every call gives up after the timeout.
    proxy.freeze(true);
    assert_every_call_unavailable(&s, timeout).await;
    // It answers again: calls succeed, and no late answer is taken for another call's. (The
    // calls that gave up may still be applied, each whole, when Redis gets them: they touched
    // other keys.)
    proxy.freeze(false);
    assert_eq!(once_back(&s, "acct", 1000).await.failures, 1);
    for expected in 2..=4 {
        let state = s.record_failure("acct", &l, 1000).await.expect("record");
        assert_eq!(state.failures, expected);
    }
    s.revoke("sid-2", 2000).await.expect("revoke");
    assert!(s.is_revoked("sid-2", 1999).await.expect("is_revoked"));
    assert!(!s.is_revoked("sid-3", 0).await.expect("is_revoked"));

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
