//! The outbox worker: delivers queued mail, retrying with exponential backoff.
//!
//! Mail is queued in the database in the same transaction as what caused it; this worker
//! claims due mail (a lease, so several instances can share one outbox), delivers each with
//! its own end-to-end timeout, and marks it sent, or schedules the next attempt.

use std::sync::Weak;
use std::time::Duration;

use crate::clock::Timestamp;
use crate::service::{Inner, secs};

/// Mails claimed per round.
const BATCH: u32 = 16;
/// Longest sleep between rounds when nothing is due.
const IDLE: Duration = Duration::from_secs(30);
/// Pause after the outbox itself failed (database down).
const STORE_RETRY: Duration = Duration::from_secs(5);

/// Delay before attempt `attempts + 1`: 5 s, doubling, at most an hour.
pub(crate) fn backoff(attempts: u32) -> i64 {
    5_i64.saturating_mul(1_i64 << attempts.min(20)).min(3600)
}

/// Runs until every [`Auth`](crate::Auth) handle is dropped (or the runtime stops).
pub(crate) async fn run(auth: Weak<Inner>) {
    loop {
        let Some(inner) = auth.upgrade() else { return };
        let wakeup = inner.outbox_wakeup.clone();
        let pause = match deliver_due(&inner).await {
            Ok(true) => Duration::ZERO,
            Ok(false) => match inner.repo.outbox().next_mail_due().await {
                Ok(Some(due)) => {
                    let wait = u64::try_from(due - inner.clock.now()).unwrap_or(0);
                    Duration::from_secs(wait.max(1)).min(IDLE)
                }
                Ok(None) => IDLE,
                Err(e) => {
                    tracing::warn!(error = %e, cause = ?e, "authx: mail outbox unreachable");
                    STORE_RETRY
                }
            },
            Err(e) => {
                tracing::warn!(error = %e, cause = ?e, "authx: mail outbox unreachable");
                STORE_RETRY
            }
        };
        drop(inner);
        if !pause.is_zero() {
            tokio::select! {
                () = wakeup.notified() => {}
                () = tokio::time::sleep(pause) => {}
            }
        }
    }
}

/// Delivers one batch; `Ok(true)` when the batch was full (more may be due).
async fn deliver_due(inner: &Inner) -> Result<bool, crate::store::StoreError> {
    let timeout = inner.config.mail.delivery_timeout;
    let now: Timestamp = inner.clock.now();
    // The lease outlives the attempt so no other worker takes the mail meanwhile.
    let lease_until = now + secs(timeout) + 30;
    let batch = inner
        .repo
        .outbox()
        .claim_due_mail(now, lease_until, BATCH)
        .await?;
    let full = batch.len() == BATCH as usize;
    for item in batch {
        let attempt = tokio::time::timeout(
            timeout,
            inner.mailer.deliver(&inner.config.from, &item.mail),
        )
        .await
        .unwrap_or(Err(crate::mail::MailError::Timeout(timeout)));
        let now = inner.clock.now();
        match attempt {
            Ok(()) => {
                inner
                    .repo
                    .outbox()
                    .mark_mail_sent(item.id, &item.claim, now)
                    .await?;
                tracing::info!(mail_id = item.id, to = %item.mail.to, "authx: mail delivered");
            }
            Err(error) => {
                let attempts = item.attempts + 1;
                let permanent = matches!(error, crate::mail::MailError::Permanent(_));
                let next = (!permanent && attempts < inner.config.mail.max_attempts)
                    .then(|| now + backoff(attempts - 1));
                tracing::warn!(
                    mail_id = item.id,
                    attempts,
                    retry_at = ?next,
                    error = %error,
                    cause = ?error,
                    "authx: mail delivery failed"
                );
                let reason = describe(&error);
                inner
                    .repo
                    .outbox()
                    .reschedule_mail(item.id, &item.claim, now, next, &reason)
                    .await?;
            }
        }
    }
    Ok(full)
}

/// The error and its causes on one line, for `mail_outbox.last_error`: `a: b: c`, skipping a
/// cause whose text the line already holds (lettre repeats its source in its message).
fn describe(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    let mut cause = error.source();
    while let Some(source) = cause {
        let text = source.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        cause = source.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::mail::MailError;

    /// An error that repeats its source in its own message, as lettre's do.
    #[derive(Debug, thiserror::Error)]
    #[error("connection error: {0}")]
    struct Repeats(#[source] std::io::Error);

    #[test]
    fn errors_are_described_with_their_causes_once() {
        let timeout = MailError::Timeout(Duration::from_secs(2));
        assert_eq!(
            super::describe(&timeout),
            "mail delivery timed out after 2s"
        );

        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let transient = MailError::Transient(Box::new(refused));
        assert_eq!(super::describe(&transient), "mail delivery failed: refused");

        let inner = std::io::Error::other("connection refused (os error 111)");
        let permanent = MailError::Permanent(Box::new(Repeats(inner)));
        assert_eq!(
            super::describe(&permanent),
            "mail permanently refused: connection error: connection refused (os error 111)"
        );
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let delays: Vec<_> = (0..12).map(super::backoff).collect();
        assert_eq!(
            delays,
            [5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600]
        );
    }
}
