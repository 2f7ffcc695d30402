//! # authx-redis
//!
//! A Redis [`LimitStore`] for authx: the per-IP login throttle, the account lockout, the
//! confirmation-mail limit and the session revocation cache live in Redis, so several instances
//! of an app share one lockout and one revocation list.
//!
//! ```no_run
//! # async fn run(builder: authx_core::AuthBuilder) -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use authx_redis::RedisLimitStore;
//!
//! // Made whether Redis answers yet or not; only a malformed URL fails here.
//! let limits = RedisLimitStore::new("redis://127.0.0.1:6379", "authx")?;
//! let builder = builder.limit_store(Arc::new(limits));
//! # Ok(()) }
//! ```
//!
//! ## Behaviour
//!
//! - It answers exactly as the in-process `MemoryLimitStore` does (the crate's tests run one
//!   scenario against both). Every method is one atomic round trip: a Lua script, or a single
//!   command for the reads and the reset, so concurrent calls from any number of instances
//!   never lose a count and a cut-off never moves back. [`session_status`], which runs on every
//!   authenticated request, is one `MGET` of the session's three keys; [`revoke_sessions`] is
//!   one script call for all the sessions given, and no call at all for none.
//! - All decisions use the `now` the service passes (its injectable clock). Redis expiry only
//!   collects garbage: each key lives as long as the logic needs it plus a margin of five
//!   minutes. The expiry is relative (`EXPIRE`), so a clock that differs from the Redis
//!   server's, such as a test clock, never makes a key vanish early. Revocations and cut-offs
//!   come without a `now`: their keys are kept until `keep_until` by the system clock, while
//!   whether they are still in force is judged, as for every key, by the service's `now`.
//! - Keys are `{prefix}:rate:{key}` (a list of the instants, in Unix milliseconds, of the last
//!   `max` counted events of a rate limit, newest first), `{prefix}:failures:{key}` (hash
//!   `failures`, `locked_until`, `forget_at`), `{prefix}:revoked:{sid}` (the instant, in Unix
//!   seconds, until which the revocation of session `sid` is kept), `{prefix}:cutoff:user:{id}`
//!   (the cut-off of user `id`) and `{prefix}:cutoff:all` (the global cut-off). A cut-off is
//!   stored as `{cutoff_ms}:{keep_until}`: the cut-off instant in Unix milliseconds, and the
//!   instant in Unix seconds until which it is kept.
//! - [`RedisLimitStore::new`] needs no live Redis: an application starts while Redis is down
//!   and its calls fail until Redis answers ([`RedisLimitStore::connect`] waits for it).
//! - When Redis is unreachable, slow or answers an error, the call fails with
//!   [`StoreError::Unavailable`] (the service answers 503) after at most the store's timeout
//!   ([`DEFAULT_TIMEOUT`] unless changed with [`RedisLimitStore::with_timeout`]). The
//!   connection manager reconnects in the background, and calls succeed again once Redis is
//!   back.
//!
//! [`session_status`]: LimitStore::session_status
//! [`revoke_sessions`]: LimitStore::revoke_sessions

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use authx_core::clock::{Millis, Timestamp};
use authx_core::limit::{FailureState, Hit, LimitStore, Lockout, RateLimit, SessionStatus};
use authx_core::store::{StoreError, StoreResult, UserId};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{FromRedisValue, ParsingError, RedisError, RedisResult, Value};

mod scripts;
#[cfg(test)]
mod tests;

/// How long a call (and [`RedisLimitStore::connect`]) may take before it fails: 2 seconds.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// Seconds a key outlives the instant the logic last needs it, so that clocks that drift apart
/// a little never drop state early.
const EXPIRY_MARGIN: i64 = 5 * 60;

/// Bound on durations sent to the scripts (about 34,800 years). Lua numbers are doubles; with
/// timestamps below [`LUA_MAX_TIMESTAMP`] the scripts' arithmetic stays exact.
const LUA_MAX_DURATION: i64 = 1 << 40;

/// Bound on the instants sent to the scripts: `now` and `keep_until` in seconds (about 142
/// million years from 1970), cut-offs in milliseconds (about 142,000 years).
const LUA_MAX_TIMESTAMP: i64 = 1 << 52;

/// Why the store could not connect or answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL is not a Redis URL.
    #[error("invalid Redis URL")]
    InvalidUrl(#[source] RedisError),
    /// Redis could not be reached when connecting.
    #[error("cannot connect to Redis")]
    Connect(#[source] RedisError),
    /// Redis failed a command, or the connection to it failed.
    #[error("Redis command failed")]
    Command(#[source] RedisError),
    /// Redis did not answer in time.
    #[error("Redis did not answer within {0:?}")]
    Timeout(Duration),
    /// An instant (in seconds, or a cut-off in milliseconds) is too far from 1970 for the
    /// scripts' arithmetic.
    #[error("timestamp {0} is out of range")]
    TimestampOutOfRange(Timestamp),
}

/// A [`LimitStore`] in Redis, shared by every instance that uses the same Redis and key prefix.
///
/// Cloning is cheap: clones share the connection.
#[derive(Clone)]
pub struct RedisLimitStore {
    manager: ConnectionManager,
    prefix: String,
    timeout: Duration,
}

impl std::fmt::Debug for RedisLimitStore {
    // The manager is left out: its client's Debug may show the URL's password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLimitStore")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisLimitStore {
    /// A store for Redis at `url` (`redis://[user:password@]host[:port][/db]`), keys under
    /// `key_prefix`, that connects when first used: it is made whether or not Redis answers
    /// now, so an application starts while Redis is down, its calls fail with
    /// [`StoreError::Unavailable`] (the service answers `503`) until Redis answers, and succeed
    /// from then on. Only a URL that is not a Redis URL fails, at once.
    ///
    /// Call it inside a tokio runtime. [`ping`](Self::ping) tells whether Redis answers.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use authx_redis::RedisLimitStore;
    /// // Nothing needs to listen yet.
    /// assert!(RedisLimitStore::new("redis://127.0.0.1:1", "authx").is_ok());
    /// assert!(RedisLimitStore::new("not a url", "authx").is_err());
    /// # }
    /// ```
    pub fn new(url: &str, key_prefix: impl Into<String>) -> Result<Self, Error> {
        Self::new_with_timeout(url, key_prefix, DEFAULT_TIMEOUT)
    }

    /// Like [`new`](Self::new), with `timeout` bounding each call and each connection
    /// attempt.
    pub fn new_with_timeout(
        url: &str,
        key_prefix: impl Into<String>,
        timeout: Duration,
    ) -> Result<Self, Error> {
        let client = redis::Client::open(url).map_err(Error::InvalidUrl)?;
        let manager = ConnectionManager::new_lazy_with_config(client, manager_config(timeout))
            .map_err(Error::Connect)?;
        Ok(Self::from_manager(manager, key_prefix).with_timeout(timeout))
    }

    /// Whether Redis answers (a `PING`, within the store's timeout).
    pub async fn ping(&self) -> Result<(), Error> {
        let answered = tokio::time::timeout(self.timeout, async {
            let mut con = self.manager.clone();
            redis::cmd("PING").query_async::<String>(&mut con).await
        })
        .await
        .map_err(|_| Error::Timeout(self.timeout))?;
        answered.map(drop).map_err(Error::Command)
    }

    /// Connects to Redis at `url` (`redis://[user:password@]host[:port][/db]`) and namespaces
    /// every key under `key_prefix` (the examples use `authx`).
    ///
    /// Fails when Redis cannot be reached within [`DEFAULT_TIMEOUT`], for applications that
    /// must not start without it; later outages only fail the calls made while they last.
    /// [`new`](Self::new) makes a store whether or not Redis answers.
    pub async fn connect(url: &str, key_prefix: impl Into<String>) -> Result<Self, Error> {
        Self::connect_with_timeout(url, key_prefix, DEFAULT_TIMEOUT).await
    }

    /// Like [`connect`](Self::connect), with `timeout` bounding the connection and each call.
    pub async fn connect_with_timeout(
        url: &str,
        key_prefix: impl Into<String>,
        timeout: Duration,
    ) -> Result<Self, Error> {
        let client = redis::Client::open(url).map_err(Error::InvalidUrl)?;
        let connecting = ConnectionManager::new_with_config(client, manager_config(timeout));
        let manager = tokio::time::timeout(timeout, connecting)
            .await
            .map_err(|_| Error::Timeout(timeout))?
            .map_err(Error::Connect)?;
        Ok(Self::from_manager(manager, key_prefix).with_timeout(timeout))
    }

    /// A store over a connection manager of your own (TLS, Sentinel-resolved address, custom
    /// reconnection), with keys under `key_prefix` and calls bounded by [`DEFAULT_TIMEOUT`].
    ///
    /// Give the manager a response timeout (`ConnectionManagerConfig::set_response_timeout`)
    /// no longer than the store's, so calls abandoned on timeout do not pile up on it.
    pub fn from_manager(manager: ConnectionManager, key_prefix: impl Into<String>) -> Self {
        Self {
            manager,
            prefix: key_prefix.into(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Bounds each call by `timeout` instead of [`DEFAULT_TIMEOUT`].
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn key(&self, kind: &str, key: &str) -> String {
        format!("{}:{kind}:{key}", self.prefix)
    }

    fn user_cutoff_key(&self, user: UserId) -> String {
        format!("{}:cutoff:user:{user}", self.prefix)
    }

    fn global_cutoff_key(&self) -> String {
        format!("{}:cutoff:all", self.prefix)
    }

    /// Sets the cut-off at `key` to the later of the stored one and `at`, kept until the later
    /// of the stored and the new `keep_until`.
    async fn cut_off(&self, key: String, at: Millis, keep_until: Timestamp) -> StoreResult<()> {
        if at.unsigned_abs() > LUA_MAX_TIMESTAMP.unsigned_abs() {
            return Err(StoreError::unavailable(Error::TimestampOutOfRange(at)));
        }
        let keep_until = lua_keep_until(keep_until);
        self.call(|mut con| async move {
            scripts::CUT_OFF
                .key(key)
                .arg(at)
                .arg(keep_until)
                .arg(system_now())
                .arg(LUA_MAX_DURATION)
                .arg(EXPIRY_MARGIN)
                .invoke_async::<()>(&mut con)
                .await
        })
        .await
    }

    /// Runs one Redis call on a handle to the shared connection, within the timeout.
    async fn call<T, F, Fut>(&self, f: F) -> StoreResult<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        match tokio::time::timeout(self.timeout, f(self.manager.clone())).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(StoreError::unavailable(Error::Command(e))),
            Err(_) => Err(StoreError::unavailable(Error::Timeout(self.timeout))),
        }
    }
}

/// The connection manager's settings for a store bounded by `timeout`: connection attempts and
/// responses time out with the store, and a failed reconnection is retried once before the next
/// call starts another, so calls during an outage fail fast.
fn manager_config(timeout: Duration) -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
        .set_number_of_retries(1)
        .set_min_delay(Duration::from_millis(100))
        .set_max_delay(Duration::from_secs(1))
}

/// Seconds as the scripts take them.
fn lua_seconds(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).map_or(LUA_MAX_DURATION, |s| s.min(LUA_MAX_DURATION))
}

/// Seconds to keep a key whose logic needs it for `needed` more seconds.
fn expiry(needed: i64) -> i64 {
    needed.clamp(0, LUA_MAX_DURATION) + EXPIRY_MARGIN
}

/// `keep_until` as the scripts take it. Beyond the bound it means "kept for ever" either way,
/// so it is clamped rather than refused: ending sessions never fails on it.
fn lua_keep_until(keep_until: Timestamp) -> Timestamp {
    keep_until.clamp(-LUA_MAX_TIMESTAMP, LUA_MAX_TIMESTAMP)
}

/// A cut-off as stored, `{cutoff_ms}:{keep_until}` (see `scripts::CUT_OFF`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct StoredCutoff {
    cutoff_ms: Millis,
    keep_until: Timestamp,
}

impl StoredCutoff {
    /// The cut-off, if it is still kept at `now`.
    fn in_force(self, now: Timestamp) -> Option<Millis> {
        (self.keep_until > now).then_some(self.cutoff_ms)
    }
}

impl FromRedisValue for StoredCutoff {
    fn from_redis_value(v: Value) -> Result<Self, ParsingError> {
        let text = String::from_redis_value(v)?;
        text.split_once(':')
            .and_then(|(cutoff_ms, keep_until)| {
                Some(Self {
                    cutoff_ms: cutoff_ms.parse().ok()?,
                    keep_until: keep_until.parse().ok()?,
                })
            })
            .ok_or_else(|| format!("not a stored cut-off: {text:?}").into())
    }
}

fn system_now() -> Timestamp {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[async_trait]
impl LimitStore for RedisLimitStore {
    async fn hit(&self, key: &str, limit: RateLimit, now_ms: Millis) -> StoreResult<Hit> {
        if limit.max == 0 {
            return Ok(Hit::Counted);
        }
        if now_ms.unsigned_abs() > LUA_MAX_TIMESTAMP.unsigned_abs() {
            return Err(StoreError::unavailable(Error::TimestampOutOfRange(now_ms)));
        }
        let key = self.key("rate", key);
        let window_ms = limit.window_ms().min(LUA_MAX_DURATION.saturating_mul(1000));
        // The key is needed until its newest event leaves the window.
        let keep = expiry(window_ms.saturating_add(999) / 1000);
        let retry_in_ms: u64 = self
            .call(|mut con| async move {
                scripts::HIT
                    .key(key)
                    .arg(now_ms)
                    .arg(window_ms)
                    .arg(limit.max)
                    .arg(keep)
                    .invoke_async(&mut con)
                    .await
            })
            .await?;
        Ok(match retry_in_ms {
            0 => Hit::Counted,
            retry_in_ms => Hit::Refused { retry_in_ms },
        })
    }

    async fn failures(&self, key: &str, now: Timestamp) -> StoreResult<FailureState> {
        let key = self.key("failures", key);
        let (failures, locked_until, forget_at): (
            Option<u32>,
            Option<Timestamp>,
            Option<Timestamp>,
        ) = self
            .call(|mut con| async move {
                redis::cmd("HMGET")
                    .arg(key)
                    .arg(&["failures", "locked_until", "forget_at"])
                    .query_async(&mut con)
                    .await
            })
            .await?;
        Ok(match forget_at {
            Some(forget_at) if forget_at > now => FailureState {
                failures: failures.unwrap_or(0),
                locked_until,
            },
            _ => FailureState::default(),
        })
    }

    async fn record_failure(
        &self,
        key: &str,
        lockout: &Lockout,
        now: Timestamp,
    ) -> StoreResult<FailureState> {
        if now.unsigned_abs() > LUA_MAX_TIMESTAMP.unsigned_abs() {
            return Err(StoreError::unavailable(Error::TimestampOutOfRange(now)));
        }
        let key = self.key("failures", key);
        let lockout = *lockout;
        let (failures, locked_until): (u32, Option<Timestamp>) = self
            .call(|mut con| async move {
                scripts::RECORD_FAILURE
                    .key(key)
                    .arg(now)
                    .arg(lockout.threshold)
                    .arg(lua_seconds(lockout.base))
                    .arg(lua_seconds(lockout.max))
                    .arg(lua_seconds(lockout.memory))
                    .arg(EXPIRY_MARGIN)
                    .invoke_async(&mut con)
                    .await
            })
            .await?;
        Ok(FailureState {
            failures,
            locked_until,
        })
    }

    async fn reset_failures(&self, key: &str) -> StoreResult<()> {
        let key = self.key("failures", key);
        self.call(|mut con| async move { redis::cmd("DEL").arg(key).exec_async(&mut con).await })
            .await
    }

    async fn revoke_sessions(&self, sids: &[String], keep_until: Timestamp) -> StoreResult<()> {
        if sids.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = sids.iter().map(|sid| self.key("revoked", sid)).collect();
        let keep_until = lua_keep_until(keep_until);
        // No `now` comes with a revocation: the keys are kept by the system clock, which only
        // decides when the garbage goes (`session_status` compares with the service's clock).
        let keep = expiry(keep_until.saturating_sub(system_now()));
        self.call(|mut con| async move {
            scripts::REVOKE_SESSIONS
                .key(keys)
                .arg(keep_until)
                .arg(keep)
                .invoke_async::<()>(&mut con)
                .await
        })
        .await
    }

    async fn cut_off_user(
        &self,
        user: UserId,
        at: Millis,
        keep_until: Timestamp,
    ) -> StoreResult<()> {
        self.cut_off(self.user_cutoff_key(user), at, keep_until)
            .await
    }

    async fn cut_off_everyone(&self, at: Millis, keep_until: Timestamp) -> StoreResult<()> {
        self.cut_off(self.global_cutoff_key(), at, keep_until).await
    }

    async fn session_status(
        &self,
        sid: &str,
        user: UserId,
        now: Timestamp,
    ) -> StoreResult<SessionStatus> {
        let keys = [
            self.key("revoked", sid),
            self.user_cutoff_key(user),
            self.global_cutoff_key(),
        ];
        let (revoked, user_cutoff, global_cutoff): (
            Option<Timestamp>,
            Option<StoredCutoff>,
            Option<StoredCutoff>,
        ) = self
            .call(
                |mut con| async move { redis::cmd("MGET").arg(&keys).query_async(&mut con).await },
            )
            .await?;
        let in_force = |cutoff: Option<StoredCutoff>| cutoff.and_then(|c| c.in_force(now));
        Ok(SessionStatus {
            revoked: revoked.is_some_and(|until| until > now),
            cutoff_ms: in_force(user_cutoff).max(in_force(global_cutoff)),
        })
    }

    async fn advance(
        &self,
        key: &str,
        value: i64,
        now: Timestamp,
        keep_until: Timestamp,
    ) -> StoreResult<bool> {
        for instant in [value, now, keep_until] {
            if instant.unsigned_abs() > LUA_MAX_TIMESTAMP.unsigned_abs() {
                return Err(StoreError::unavailable(Error::TimestampOutOfRange(instant)));
            }
        }
        let key = self.key("marker", key);
        // Kept by the system clock, which only decides when the garbage goes.
        let keep = expiry(keep_until.saturating_sub(now));
        let moved: i64 = self
            .call(|mut con| async move {
                scripts::ADVANCE
                    .key(key)
                    .arg(value)
                    .arg(now)
                    .arg(keep_until)
                    .arg(keep)
                    .invoke_async(&mut con)
                    .await
            })
            .await?;
        Ok(moved == 1)
    }
}
