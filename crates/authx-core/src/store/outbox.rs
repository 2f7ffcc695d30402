//! The outbox of mail to deliver, so that no mail is lost.

use async_trait::async_trait;

use super::StoreResult;
use crate::clock::Timestamp;
use crate::mail::Mail;

/// A mail claimed from the outbox for delivery.
#[derive(Debug, Clone)]
pub struct OutboxMail {
    /// Its id in the outbox.
    pub id: i64,
    /// The claim this worker holds; marking sent or rescheduling requires it.
    pub claim: String,
    /// Delivery attempts made before this one.
    pub attempts: u32,
    /// The mail.
    pub mail: Mail,
}

/// The outbox of mail to deliver.
#[async_trait]
pub trait MailOutbox: Send + Sync {
    /// Claims up to `limit` mails due at `now` (not sent, next attempt due, no live claim) until
    /// `lease_until`; concurrent workers never claim the same mail.
    async fn claim_due_mail(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<OutboxMail>>;
    /// Marks a claimed mail sent.
    async fn mark_mail_sent(&self, id: i64, claim: &str, at: Timestamp) -> StoreResult<()>;
    /// Records a failed attempt, made at `at`, and when to try again; `next_attempt_at = None`
    /// gives up (dated `at`).
    async fn reschedule_mail(
        &self,
        id: i64,
        claim: &str,
        at: Timestamp,
        next_attempt_at: Option<Timestamp>,
        error: &str,
    ) -> StoreResult<()>;
    /// The earliest time a pending mail is due, if any (lets the worker sleep until then).
    async fn next_mail_due(&self) -> StoreResult<Option<Timestamp>>;
}
