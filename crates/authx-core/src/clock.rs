//! Time, injectable so that expiry is tested without sleeping.
//!
//! Stored instants are whole seconds ([`Timestamp`]); session cut-offs are exact to the
//! millisecond ([`Millis`]), so that a login right after "log out everywhere" works while a
//! session opened a moment before it does not, even within the same second.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, the unit of every stored instant.
pub type Timestamp = i64;

/// Milliseconds since the Unix epoch: when sessions open and when cut-offs end them.
pub type Millis = i64;

/// A source of the current time.
///
/// The service asks its clock, never the system, so tests can move time forward.
pub trait Clock: Send + Sync + 'static {
    /// The current time in milliseconds since the Unix epoch.
    fn now_ms(&self) -> Millis;

    /// The current time in whole seconds since the Unix epoch.
    fn now(&self) -> Timestamp {
        self.now_ms().div_euclid(1000)
    }
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> Millis {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }
}

/// A clock that only moves when told to, for tests.
///
/// ```
/// use authx_core::clock::{Clock, ManualClock};
/// let clock = ManualClock::new(1_000);
/// clock.advance(60);
/// assert_eq!(clock.now(), 1_060);
/// clock.advance_ms(1_500);
/// assert_eq!((clock.now(), clock.now_ms()), (1_061, 1_061_500));
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock stopped at `now` (whole seconds).
    pub fn new(now: Timestamp) -> Self {
        Self(Arc::new(AtomicI64::new(now.saturating_mul(1000))))
    }

    /// A clock stopped at the current system time, to the millisecond.
    pub fn at_system_time() -> Self {
        Self(Arc::new(AtomicI64::new(SystemClock.now_ms())))
    }

    /// Moves the clock forward by `seconds`.
    pub fn advance(&self, seconds: i64) {
        self.advance_ms(seconds.saturating_mul(1000));
    }

    /// Moves the clock forward by `millis` milliseconds.
    pub fn advance_ms(&self, millis: i64) {
        self.0.fetch_add(millis, Ordering::SeqCst);
    }

    /// Sets the clock to `now` (whole seconds).
    pub fn set(&self, now: Timestamp) {
        self.0.store(now.saturating_mul(1000), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> Millis {
        self.0.load(Ordering::SeqCst)
    }
}
