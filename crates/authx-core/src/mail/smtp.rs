//! Mail delivery over SMTP with lettre (feature `smtp`).
//!
//! [`SmtpMailer`] opens one connection per mail: lettre's connection pool is not compiled in,
//! so a pooled connection that the server dropped in the meantime is never reused. Confirmation
//! mail is rare enough that the extra handshake costs nothing worth a pool.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{Mail, MailError, Mailer};
use crate::error::BoxError;
use crate::secret::Secret;

/// How the connection to the SMTP server is secured (`SMTP_TLS`).
///
/// Parsed case-insensitively from `none`, `starttls` or `tls`:
///
/// ```
/// use authx_core::mail::SmtpTls;
/// assert_eq!("STARTTLS".parse::<SmtpTls>(), Ok(SmtpTls::StartTls));
/// assert_eq!(SmtpTls::Tls.default_port(), 465);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SmtpTls {
    /// Plain text, for a relay on the same host or network. Default port 25.
    None,
    /// Plain connection upgraded with STARTTLS, which is required: a server that does not
    /// offer it is an error, never a silent fallback to plain text. Default port 587.
    StartTls,
    /// TLS from the first byte ("implicit TLS", SMTPS). Default port 465.
    Tls,
}

impl SmtpTls {
    /// The usual port for this kind of connection: 25, 587 or 465.
    pub fn default_port(self) -> u16 {
        match self {
            Self::None => 25,
            Self::StartTls => 587,
            Self::Tls => 465,
        }
    }

    /// The name [`FromStr`] accepts: `none`, `starttls` or `tls`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::StartTls => "starttls",
            Self::Tls => "tls",
        }
    }
}

impl fmt::Display for SmtpTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value of `SMTP_TLS` that is not `none`, `starttls` or `tls`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{hint}")]
pub struct ParseSmtpTlsError {
    hint: String,
}

impl FromStr for SmtpTls {
    type Err = ParseSmtpTlsError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let value = s.trim();
        match value.to_ascii_lowercase().as_str() {
            "none" => Ok(Self::None),
            "starttls" => Ok(Self::StartTls),
            "tls" => Ok(Self::Tls),
            // The Python authx passed its TLS setting where the port belonged; say so when a
            // port turns up here instead of a mode.
            _ if value.parse::<u16>().is_ok() => Err(ParseSmtpTlsError {
                hint: format!(
                    "SMTP TLS mode {value:?} looks like a port: the mode is none, starttls or \
                     tls, and the port is set on its own"
                ),
            }),
            _ => Err(ParseSmtpTlsError {
                hint: format!("SMTP TLS mode {value:?} is not one of none, starttls, tls"),
            }),
        }
    }
}

/// Where and how to send mail over SMTP (the `SMTP_*` variables of the examples).
///
/// Fields are public so configuration code can set them one by one after [`SmtpSettings::new`]:
///
/// ```
/// use std::time::Duration;
/// use authx_core::Secret;
/// use authx_core::mail::{SmtpSettings, SmtpTls};
///
/// let mut smtp = SmtpSettings::new("smtp.example.com");
/// smtp.tls = SmtpTls::Tls;
/// smtp.username = Some("mailer".into());
/// smtp.password = Some(Secret::new("app password"));
/// assert_eq!(smtp.port(), 465);
/// assert_eq!(smtp.timeout, Duration::from_secs(30));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SmtpSettings {
    /// Host name or IP address of the server; TLS checks the certificate against it.
    pub host: String,
    /// Port; `None` means the usual one for [`tls`](Self::tls) (see [`SmtpTls::default_port`]).
    pub port: Option<u16>,
    /// How the connection is secured. Default [`SmtpTls::StartTls`].
    pub tls: SmtpTls,
    /// Login for `AUTH` (PLAIN or LOGIN, whichever the server offers); set with `password`.
    pub username: Option<String>,
    /// Password for `AUTH`; set with `username`.
    pub password: Option<Secret>,
    /// A PEM file with extra CA certificates to trust besides the public roots, for a
    /// self-hosted relay with a private or self-signed certificate.
    pub ca_file: Option<PathBuf>,
    /// Bound on one whole delivery attempt: connect, greeting, TLS, AUTH and DATA. Default 30 s.
    pub timeout: Duration,
}

impl SmtpSettings {
    /// The default timeout of a delivery attempt.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

    /// Settings for `host` with STARTTLS on port 587, no credentials, and a 30 s timeout.
    pub fn new(host: impl Into<String>) -> Self {
        Self {
            host: host.into(),
            port: None,
            tls: SmtpTls::StartTls,
            username: None,
            password: None,
            ca_file: None,
            timeout: Self::DEFAULT_TIMEOUT,
        }
    }

    /// The port in use: [`port`](Self::port) when set, else the default for [`tls`](Self::tls).
    pub fn port(&self) -> u16 {
        self.port.unwrap_or_else(|| self.tls.default_port())
    }
}

/// SMTP settings that cannot work, found when the [`SmtpMailer`] is built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SmtpSettingsError {
    /// The host is empty.
    #[error("SMTP host is empty")]
    EmptyHost,
    /// Only one of username and password is set.
    #[error("SMTP username and password must be set together")]
    IncompleteCredentials,
    /// A zero timeout would fail every delivery.
    #[error("SMTP timeout must be greater than zero")]
    ZeroTimeout,
    /// The CA file cannot be read.
    #[error("cannot read SMTP CA file {path}")]
    CaFileUnreadable {
        /// The file named in the settings.
        path: PathBuf,
        /// Why it could not be read.
        #[source]
        source: std::io::Error,
    },
    /// The CA file holds no valid PEM certificate.
    #[error("SMTP CA file {path} holds no valid PEM certificate")]
    CaFileInvalid {
        /// The file named in the settings.
        path: PathBuf,
        /// The parser's complaint, when it had one.
        #[source]
        source: Option<BoxError>,
    },
    /// The TLS client could not be set up.
    #[error("cannot set up TLS for SMTP")]
    Tls(#[source] BoxError),
}

/// Delivers mail through an SMTP server with lettre.
///
/// Each mail goes as a `multipart/alternative` message (text, then HTML) on a connection of its
/// own. The whole attempt is bounded by [`SmtpSettings::timeout`], including a server that
/// accepts the connection and never sends its greeting, which lettre's own timeouts miss.
///
/// Errors: a 5xx reply (a recipient that does not exist, a message refused) is
/// [`MailError::Permanent`], as is a sender or recipient that is not a valid mailbox; a timeout
/// is [`MailError::Timeout`]; anything else (refused connection, 4xx reply, TLS failure, and
/// refused credentials, a configuration error that a fix should heal) is
/// [`MailError::Transient`].
///
/// ```no_run
/// # async fn send() -> Result<(), Box<dyn std::error::Error>> {
/// use authx_core::mail::{Mail, Mailer, SmtpMailer, SmtpSettings};
///
/// let mailer = SmtpMailer::new(SmtpSettings::new("smtp.example.com"))?;
/// let mail = Mail {
///     to: "ada@example.org".into(),
///     subject: "Confirm email".into(),
///     text: "Hello".into(),
///     html: "<p>Hello</p>".into(),
/// };
/// mailer.deliver(r#""Example" <noreply@example.com>"#, &mail).await?;
/// # Ok(()) }
/// ```
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    host: String,
    port: u16,
    tls: SmtpTls,
    timeout: Duration,
}

impl fmt::Debug for SmtpMailer {
    // Written by hand so that no credential can reach the output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// Checks the settings, reads the CA file, and prepares the transport. Connects to nothing.
    pub fn new(settings: SmtpSettings) -> Result<Self, SmtpSettingsError> {
        let host = settings.host.trim().to_owned();
        if host.is_empty() {
            return Err(SmtpSettingsError::EmptyHost);
        }
        if settings.timeout.is_zero() {
            return Err(SmtpSettingsError::ZeroTimeout);
        }
        let port = settings.port();

        // Read the CA file even for plain connections, so that a wrong path fails at start-up.
        let ca = settings.ca_file.as_ref().map(load_ca).transpose()?;
        let tls = match settings.tls {
            SmtpTls::None => Tls::None,
            SmtpTls::StartTls => Tls::Required(tls_parameters(&host, ca)?),
            SmtpTls::Tls => Tls::Wrapper(tls_parameters(&host, ca)?),
        };

        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.clone())
            .port(port)
            .tls(tls)
            // Per-operation socket timeouts; the end-to-end bound is in `deliver`.
            .timeout(Some(settings.timeout));
        match (settings.username, settings.password) {
            (Some(username), Some(password)) => {
                builder =
                    builder.credentials(Credentials::new(username, password.expose().to_owned()));
            }
            (None, None) => {}
            _ => return Err(SmtpSettingsError::IncompleteCredentials),
        }

        Ok(Self {
            transport: builder.build(),
            host,
            port,
            tls: settings.tls,
            timeout: settings.timeout,
        })
    }
}

fn load_ca(path: &PathBuf) -> Result<Certificate, SmtpSettingsError> {
    let pem = std::fs::read(path).map_err(|source| SmtpSettingsError::CaFileUnreadable {
        path: path.clone(),
        source,
    })?;
    // lettre's rustls backend accepts a file without any certificate: refuse it here.
    if !pem
        .windows(b"-----BEGIN CERTIFICATE-----".len())
        .any(|w| w == b"-----BEGIN CERTIFICATE-----")
    {
        return Err(SmtpSettingsError::CaFileInvalid {
            path: path.clone(),
            source: None,
        });
    }
    Certificate::from_pem(&pem).map_err(|e| SmtpSettingsError::CaFileInvalid {
        path: path.clone(),
        source: Some(Box::new(e)),
    })
}

fn tls_parameters(host: &str, ca: Option<Certificate>) -> Result<TlsParameters, SmtpSettingsError> {
    let mut builder = TlsParameters::builder(host.to_owned());
    if let Some(ca) = ca {
        builder = builder.add_root_certificate(ca);
    }
    builder
        .build()
        .map_err(|e| SmtpSettingsError::Tls(Box::new(e)))
}

/// Builds the message: From, To, Subject, Message-ID and a `multipart/alternative` body.
fn build_message(from: &str, mail: &Mail) -> Result<Message, MailError> {
    // An address that does not parse will not parse on the next attempt either.
    let from: Mailbox = from
        .parse()
        .map_err(|e| MailError::Permanent(format!("invalid sender {from:?}: {e}").into()))?;
    let to: Mailbox = mail.to.parse().map_err(|e| {
        MailError::Permanent(format!("invalid recipient {:?}: {e}", mail.to).into())
    })?;
    // Some providers refuse mail without a Message-ID, and not every relay adds one. The
    // sender's domain is the right-hand side, not this machine's host name.
    let message_id = format!("<{}@{}>", crate::random::token(18), from.email.domain());
    Message::builder()
        .message_id(Some(message_id))
        .from(from)
        .to(to)
        .subject(mail.subject.as_str())
        .multipart(MultiPart::alternative_plain_html(
            mail.text.clone(),
            mail.html.clone(),
        ))
        .map_err(|e| MailError::Permanent(Box::new(e)))
}

/// Replies that refuse the client's credentials or security (RFC 4954: authentication
/// required, mechanism too weak, credentials invalid, encryption required). They are about the
/// configuration, not the mail: retried, so that mail queued while a password was wrong goes
/// out once it is fixed instead of being given up.
const AUTH_REPLIES: [u16; 4] = [530, 534, 535, 538];

fn classify(error: lettre::transport::smtp::Error, timeout: Duration) -> MailError {
    let refused_credentials = error
        .status()
        .is_some_and(|code| AUTH_REPLIES.contains(&u16::from(code)));
    if error.is_permanent() && !refused_credentials {
        MailError::Permanent(Box::new(error))
    } else if error.is_timeout() {
        MailError::Timeout(timeout)
    } else {
        MailError::Transient(Box::new(error))
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn deliver(&self, from: &str, mail: &Mail) -> Result<(), MailError> {
        let message = build_message(from, mail)?;
        // Dropping the send future on timeout closes the connection.
        match tokio::time::timeout(self.timeout, self.transport.send(message)).await {
            Ok(Ok(_response)) => {
                tracing::debug!(to = %mail.to, host = %self.host, "mail delivered over SMTP");
                Ok(())
            }
            Ok(Err(error)) => Err(classify(error, self.timeout)),
            Err(_elapsed) => Err(MailError::Timeout(self.timeout)),
        }
    }
}

#[cfg(test)]
mod tests;
