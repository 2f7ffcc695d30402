//! The janitor: storage stays bounded by live data. Ended and expired sessions, used and
//! expired emailed tokens, and mail delivered or given up on long ago are deleted in bounded
//! batches, with a pause between batches, by one instance at a time (a lease in storage).

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
        loop {
            let deleted = maintenance.purge(what, now, settings.batch).await?;
            *count += deleted;
            if deleted < u64::from(settings.batch) {
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
