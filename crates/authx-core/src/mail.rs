//! Mail: the confirmation message, the [`Mailer`] trait that delivers it, the embedded
//! [`LogMailer`], and the outbox worker that delivers queued mail with retries.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use crate::error::BoxError;

pub(crate) mod outbox;
mod template;

pub use template::{MailTemplate, MailTemplates, TemplateValues};

#[cfg(feature = "smtp")]
mod smtp;
#[cfg(feature = "smtp")]
pub use smtp::{ParseSmtpTlsError, SmtpMailer, SmtpSettings, SmtpSettingsError, SmtpTls};

/// A mail ready to send. The sender comes from the configuration at delivery time.
#[derive(Clone, PartialEq, Eq)]
pub struct Mail {
    /// Recipient address.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text part.
    pub text: String,
    /// HTML part.
    pub html: String,
}

impl fmt::Debug for Mail {
    // Bodies carry one-time tokens: keep them out of debug output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mail")
            .field("to", &self.to)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// A failed delivery attempt.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MailError {
    /// The attempt did not finish within its timeout.
    #[error("mail delivery timed out after {0:?}")]
    Timeout(Duration),
    /// The server refused the mail for good (e.g. a bad address): retrying will not help.
    #[error("mail permanently refused")]
    Permanent(#[source] BoxError),
    /// A failure that may pass (connection refused, 4xx reply, TLS error).
    #[error("mail delivery failed")]
    Transient(#[source] BoxError),
}

/// Delivers mail. Implemented by [`LogMailer`] and, with the `smtp` feature, by `SmtpMailer`.
#[async_trait]
pub trait Mailer: Send + Sync + 'static {
    /// Delivers one mail from `from` (a mailbox such as `"authx" <noreply@example.com>`).
    async fn deliver(&self, from: &str, mail: &Mail) -> Result<(), MailError>;
}

/// The embedded mailer: writes each mail to stdout and the log, link included on a line of its
/// own, and keeps it in an outbox the developer can read.
#[derive(Debug, Clone, Default)]
pub struct LogMailer {
    sent: Arc<Mutex<Vec<Mail>>>,
}

impl LogMailer {
    /// A mailer with an empty outbox.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every mail delivered so far, oldest first.
    pub fn sent(&self) -> Vec<Mail> {
        self.sent.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl Mailer for LogMailer {
    async fn deliver(&self, from: &str, mail: &Mail) -> Result<(), MailError> {
        tracing::info!(to = %mail.to, subject = %mail.subject, "mail written to the log outbox");
        println!(
            "----- authx mail -----\nFrom: {from}\nTo: {}\nSubject: {}\n\n{}\n----- end of mail -----",
            mail.to, mail.subject, mail.text
        );
        if let Ok(mut sent) = self.sent.lock() {
            sent.push(mail.clone());
        }
        Ok(())
    }
}
