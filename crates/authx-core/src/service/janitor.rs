//! The janitor: storage stays bounded by live data. Ended and expired sessions, used and
//! expired emailed tokens, and mail delivered or given up on long ago are deleted in bounded
//! batches, with a pause between batches, by one instance at a time (a lease in storage).
//!
//! A batch is bounded by time as well as by rows: what deleting a row costs depends on the
//! table (a session leaves seven B-tree entries, at random places in a large table, most of
//! them not cached), so a fixed number of rows could hold the store's write turn for a
//! millisecond on a small database and for a hundred on a million cold sessions. The size of
//! each batch follows from the time the previous one took ([`BatchSize`]).

use std::sync::Weak;
use std::time::Duration;

use crate::error::AuthError;
use crate::store::Purge;

use super::{Auth, Inner, secs};

/// The lease the janitor takes.
const LEASE: &str = "authx-janitor";

/// What one clean-up deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct JanitorReport {
    /// Whether this instance held the lease (another instance may be cleaning).
    pub ran: bool,
    /// Sessions deleted.
    pub sessions: u64,
    /// Emailed tokens deleted.
    pub email_tokens: u64,
    /// Social sign-ins that expired before their callback, deleted.
    pub sign_ins: u64,
    /// Mail deleted.
    pub mail: u64,
}

impl Auth {
    /// Runs one clean-up now, if no other instance holds the janitor's lease, and reports what
    /// it deleted. The background janitor calls it every
    /// [`JanitorSettings::interval`](crate::config::JanitorSettings::interval); call it
    /// yourself from a scheduler with [`JanitorSettings::enabled`](crate::config::JanitorSettings::enabled)
    /// off.
    pub async fn run_janitor(&self) -> Result<JanitorReport, AuthError> {
        clean(&self.inner, &self.inner.holder).await
    }
}

async fn clean(inner: &Inner, holder: &str) -> Result<JanitorReport, AuthError> {
    let settings = inner.config.janitor;
    let maintenance = inner.repo.maintenance();
    let now = inner.clock.now();
    // Held a little longer than the interval, so instances do not take turns mid-period.
    let until = now
        .saturating_add(secs(settings.interval))
        .saturating_add(60);
    if !maintenance.acquire_lease(LEASE, holder, now, until).await? {
        return Ok(JanitorReport::default());
    }
    let mut report = JanitorReport {
        ran: true,
        ..JanitorReport::default()
    };
    let mail_before = now.saturating_sub(secs(settings.mail_retention));
    for (what, count) in [
        (Purge::Sessions, &mut report.sessions),
        (Purge::EmailTokens, &mut report.email_tokens),
        (Purge::SignIns, &mut report.sign_ins),
        (
            Purge::Mail {
                before: mail_before,
            },
            &mut report.mail,
        ),
    ] {
        let mut size = BatchSize::new(settings.batch, settings.batch_time);
        loop {
            let limit = size.rows();
            let started = tokio::time::Instant::now();
            let deleted = maintenance.purge(what, now, limit).await?;
            size.took(started.elapsed());
            *count += deleted;
            if deleted < u64::from(limit) {
                break;
            }
            tokio::time::sleep(settings.pause).await;
        }
    }
    if report.sessions + report.email_tokens + report.sign_ins + report.mail > 0 {
        tracing::info!(
            sessions = report.sessions,
            email_tokens = report.email_tokens,
            sign_ins = report.sign_ins,
            mail = report.mail,
            "authx: janitor deleted dead rows"
        );
    }
    Ok(report)
}

/// The number of rows the next batch deletes: it starts small, doubles while batches take
/// under half of the time aimed at, and halves after one that took longer, within
/// [`MIN_BATCH`] and the configured most.
#[derive(Debug, Clone, Copy)]
struct BatchSize {
    rows: u32,
    most: u32,
    aim: Duration,
}

/// The fewest rows a batch deletes: below this, each statement's fixed cost would dominate.
const MIN_BATCH: u32 = 16;

impl BatchSize {
    fn new(most: u32, aim: Duration) -> Self {
        Self {
            rows: MIN_BATCH.min(most),
            most,
            aim,
        }
    }

    fn rows(&self) -> u32 {
        self.rows
    }

    /// Sizes the next batch from the time the last one took.
    fn took(&mut self, elapsed: Duration) {
        let least = MIN_BATCH.min(self.most);
        if elapsed > self.aim {
            self.rows = (self.rows / 2).max(least);
        } else if elapsed < self.aim / 2 {
            self.rows = self.rows.saturating_mul(2).min(self.most);
        }
    }
}

/// Runs until every [`Auth`] handle is dropped (or the runtime stops).
pub(crate) async fn run(auth: Weak<Inner>) {
    loop {
        let interval = match auth.upgrade() {
            Some(inner) => inner.config.janitor.interval,
            None => return,
        };
        tokio::time::sleep(interval).await;
        let Some(inner) = auth.upgrade() else { return };
        if let Err(e) = clean(&inner, &inner.holder).await {
            tracing::warn!(error = %e, cause = ?e, "authx: the janitor could not clean up");
            // Try again soon rather than a whole interval later.
            drop(inner);
            tokio::time::sleep(Duration::from_secs(30).min(interval)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AIM: Duration = Duration::from_millis(5);

    #[test]
    fn batches_grow_while_quick_and_shrink_when_slow() {
        let mut size = BatchSize::new(1000, AIM);
        assert_eq!(size.rows(), 16);
        for expected in [32, 64, 128, 256, 512, 1000, 1000] {
            size.took(Duration::from_millis(1));
            assert_eq!(size.rows(), expected);
        }
        // Between half the aim and the aim: the size holds.
        size.took(Duration::from_millis(4));
        assert_eq!(size.rows(), 1000);
        size.took(Duration::from_millis(40));
        assert_eq!(size.rows(), 500);
        for _ in 0..10 {
            size.took(Duration::from_millis(40));
        }
        assert_eq!(size.rows(), 16);
    }

    #[test]
    fn a_configured_batch_below_the_least_is_kept() {
        let mut size = BatchSize::new(4, AIM);
        assert_eq!(size.rows(), 4);
        size.took(Duration::from_millis(1));
        assert_eq!(size.rows(), 4);
        size.took(Duration::from_millis(40));
        assert_eq!(size.rows(), 4);
    }
}
