//! `POST /forgot_password`: the answer, and its time, must not tell an address with an account
//! from one without, a social-only account, a banned one or one over its mail limit.
//!
//! So the request does the same cheap work for every address: the per-IP limit, the email's
//! syntax, and a place on a bounded in-process queue; it answers `200 null` and never reads
//! storage. A background task takes the addresses off the queue, one at a time, and does what
//! differs: the lookup, the per-account limit, and the token and its mail written to the
//! outbox (the mail itself goes out through the outbox worker, never in a request).

use std::sync::Weak;

use tokio::sync::mpsc;

use crate::error::AuthError;
use crate::request::{AuthRequest, AuthResponse, Fields};
use crate::store::TokenPurpose;

use super::{Auth, Inner};

/// An address whose account, if any, should get a reset mail; normalised by the policy.
pub(crate) struct ResetRequest {
    email: String,
}

/// The queue's sending half, and its receiving half for the task [`run`] drains it with.
pub(crate) fn queue(capacity: usize) -> (mpsc::Sender<ResetRequest>, mpsc::Receiver<ResetRequest>) {
    mpsc::channel(capacity)
}

/// Puts a request on the queue without waiting: a full queue (or one whose task stopped)
/// sheds the request with `503` and `Retry-After: 1`, the same for every address.
fn enqueue(queue: &mpsc::Sender<ResetRequest>, request: ResetRequest) -> Result<(), AuthError> {
    queue.try_send(request).map_err(|e| {
        let why = match e {
            mpsc::error::TrySendError::Full(_) => "the forgot-password queue is full",
            mpsc::error::TrySendError::Closed(_) => "the forgot-password task has stopped",
        };
        AuthError::Unavailable {
            source: why.into(),
            retry_after: Some(1),
        }
    })
}

impl Auth {
    /// `POST /forgot_password` `{email}`: `400 Invalid email` for bad syntax, `429` past the
    /// per-IP limit, else `200 null` whatever the address.
    pub(crate) async fn forgot_password(
        &self,
        req: &AuthRequest,
    ) -> Result<AuthResponse, AuthError> {
        let inner = &self.inner;
        // Every request counts, malformed ones too, as for login.
        self.throttle(
            &format!("forgot:ip:{}", self.client_network(req)),
            inner.config.limits.forgot_password_per_ip,
        )
        .await?;
        let fields = Fields::of(req)?;
        let email = inner.config.policy.email(fields.string("email")?)?;
        enqueue(&inner.reset_requests, ResetRequest { email })?;
        Ok(AuthResponse::null())
    }

    /// The background half of a request: an existing, active account within its mail limit
    /// gets a reset token and its mail, queued in the outbox together and addressed to the
    /// stored address. Accounts without a password get one too: the mailbox is proven, and the
    /// link lets them set a password.
    async fn queue_reset_mail(&self, request: &ResetRequest) -> Result<(), AuthError> {
        let inner = &self.inner;
        let Some(user) = inner.repo.users().user_by_email(&request.email).await? else {
            tracing::debug!("authx: password reset asked for an address without an account");
            return Ok(());
        };
        if !user.active {
            tracing::info!(
                user_id = user.id,
                "authx: no password reset mail for a banned account"
            );
            return Ok(());
        }
        let limited = self
            .throttle(
                &format!("forgot:user:{}", user.id),
                inner.config.limits.reset_mail_per_user,
            )
            .await;
        match limited {
            Ok(()) => {}
            Err(AuthError::TooManyRequests { .. }) => {
                tracing::info!(
                    user_id = user.id,
                    "authx: password reset mail limit reached; nothing sent"
                );
                return Ok(());
            }
            Err(other) => return Err(other),
        }
        let token = self.email_token(TokenPurpose::ResetPassword, &(&user).into(), self.now());
        inner
            .repo
            .email_tokens()
            .queue_email_token(user.id, token)
            .await?;
        inner.outbox_wakeup.notify_one();
        tracing::info!(user_id = user.id, "authx: password reset mail queued");
        Ok(())
    }
}

/// Drains the queue, one request at a time in arrival order, until every [`Auth`] handle is
/// dropped. A request that fails (storage or limit store unreachable) is logged and dropped:
/// its sender already had its answer, and may ask again.
pub(crate) async fn run(inner: Weak<Inner>, mut requests: mpsc::Receiver<ResetRequest>) {
    while let Some(request) = requests.recv().await {
        let Some(inner) = inner.upgrade() else { return };
        let auth = Auth { inner };
        if let Err(e) = auth.queue_reset_mail(&request).await {
            tracing::warn!(error = %e, cause = ?e, "authx: a password reset request failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(email: &str) -> ResetRequest {
        ResetRequest {
            email: email.to_owned(),
        }
    }

    #[test]
    fn a_full_queue_sheds_with_503_and_retry_after() {
        let (sender, mut receiver) = queue(1);
        assert!(enqueue(&sender, request("a@example.com")).is_ok());
        let shed = enqueue(&sender, request("b@example.com")).unwrap_err();
        assert_eq!(
            (shed.status(), shed.retry_after()),
            (503, Some(1)),
            "{shed:?}"
        );
        // Taking one off makes room again; a queue whose task stopped sheds the same way.
        assert_eq!(receiver.try_recv().unwrap().email, "a@example.com");
        assert!(enqueue(&sender, request("c@example.com")).is_ok());
        drop(receiver);
        let stopped = enqueue(&sender, request("d@example.com")).unwrap_err();
        assert_eq!((stopped.status(), stopped.retry_after()), (503, Some(1)));
    }
}
