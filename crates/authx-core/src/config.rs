//! Configuration: the original authx's knobs (`repo`, `auth_backend`, `debug`, `base_url`,
//! `site`, `recaptcha_secret`, `smtp_*`, `display_name`) plus the contract's, in a builder.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;

use crate::captcha::CaptchaVerifier;
use crate::clock::{Clock, SystemClock};
use crate::cookie::CookieSettings;
use crate::limit::{LimitStore, Limits, MemoryLimitStore};
use crate::mail::{LogMailer, MailTemplates, Mailer};
use crate::password::PasswordParams;
use crate::policy::Policy;
use crate::service::Auth;
use crate::store::Repo;
use crate::token::JwtBackend;

/// A configuration that cannot work.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required setting is absent.
    #[error("missing setting: {0}")]
    Missing(&'static str),
    /// A setting has an unusable value.
    #[error("invalid setting: {0}")]
    Invalid(String),
}

/// The body limit of the contract: 16 KiB.
pub const BODY_LIMIT: usize = 16 * 1024;

/// Token lifetimes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    /// Access token (default 900 s).
    pub access: Duration,
    /// Refresh token (default 14 days).
    pub refresh: Duration,
    /// A rotated refresh token presented again within this period is refused without revoking
    /// its session (default 10 s); later, it revokes the session.
    pub refresh_grace: Duration,
    /// Emailed confirmation tokens (default 24 hours).
    pub confirmation: Duration,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Self {
            access: Duration::from_mins(15),
            refresh: Duration::from_hours(336),
            refresh_grace: Duration::from_secs(10),
            confirmation: Duration::from_hours(24),
        }
    }
}

/// Password hashing settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hashing {
    /// argon2id parameters (default OWASP: m=19456 KiB, t=2, p=1).
    pub params: PasswordParams,
    /// Hashes running at once (default: the number of cores).
    pub concurrency: usize,
    /// Hash requests waiting beyond those; more are shed with 503 (default 64 per core).
    pub queue: usize,
}

impl Default for Hashing {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        Self {
            params: PasswordParams::OWASP,
            concurrency: cores,
            queue: 64 * cores,
        }
    }
}

/// Outgoing mail settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailSettings {
    /// The sender address (default `noreply@<host of base_url>`).
    pub sender: Option<String>,
    /// The confirmation link; `{base_url}` and `{token}` are replaced (default
    /// `{base_url}/confirm?token={token}`).
    pub confirmation_link: String,
    /// Bound on one delivery attempt, end to end (default 30 s).
    pub delivery_timeout: Duration,
    /// Attempts before a mail is given up (default 20: backoff from 5 s doubling to an hour, about 11 hours in all).
    pub max_attempts: u32,
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            sender: None,
            confirmation_link: "{base_url}/confirm?token={token}".into(),
            delivery_timeout: Duration::from_secs(30),
            max_attempts: 20,
        }
    }
}

/// The validated configuration an [`Auth`] runs with.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Cookies without `Secure` when true.
    pub debug: bool,
    /// The front end's base URL, for mail links (no trailing slash).
    pub base_url: String,
    /// The origin of `base_url` (`scheme://host[:port]`).
    pub base_origin: String,
    /// The site's name, used in mail.
    pub site: String,
    /// The display name of the mail sender.
    pub display_name: String,
    /// Token lifetimes.
    pub lifetimes: Lifetimes,
    /// Cookie names and attributes.
    pub cookies: CookieSettings,
    /// Abuse limits.
    pub limits: Limits,
    /// Unknown logins answer `401 Invalid credentials` like a wrong password.
    pub hide_user_existence: bool,
    /// Proxies whose `X-Forwarded-For`/`Forwarded` headers are believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Validation rules.
    pub policy: Policy,
    /// Password hashing.
    pub hashing: Hashing,
    /// Outgoing mail.
    pub mail: MailSettings,
    /// The `From` mailbox, `"display_name" <sender>`.
    pub from: String,
    /// Origins allowed to make state-changing requests with cookies: the origin of `base_url`
    /// plus configured ones (`scheme://host[:port]`).
    pub allowed_origins: Vec<String>,
    /// Whether the cross-site check runs (default true).
    pub csrf_check: bool,
    /// Double-submit CSRF tokens: a readable `csrf_token` cookie that cookie-authenticated
    /// requests echo in `X-CSRF-Token` (default off).
    pub csrf_double_submit: bool,
    /// Register, login and refresh also answer `{"access", "refresh"}` (default off).
    pub tokens_in_body: bool,
    /// Check each access token's session against the revocation cache (default on).
    pub revocation_check: bool,
}

/// Builds an [`Auth`].
///
/// ```no_run
/// # async fn demo(repo: std::sync::Arc<dyn authx_core::store::Repo>) -> Result<(), authx_core::config::ConfigError> {
/// use authx_core::{Auth, token::JwtBackend};
/// let auth = Auth::builder()
///     .repo(repo)
///     .auth_backend(JwtBackend::hs256(std::env::var("AUTHX_JWT_SECRET").unwrap())?)
///     .base_url("https://example.com")
///     .site("Example")
///     .build()?;
/// # Ok(()) }
/// ```
#[must_use]
pub struct AuthBuilder {
    pub(crate) repo: Option<Arc<dyn Repo>>,
    pub(crate) auth_backend: Option<JwtBackend>,
    pub(crate) debug: bool,
    pub(crate) base_url: Option<String>,
    pub(crate) site: String,
    pub(crate) display_name: Option<String>,
    pub(crate) lifetimes: Lifetimes,
    pub(crate) cookies: CookieSettings,
    pub(crate) limits: Limits,
    pub(crate) hide_user_existence: bool,
    pub(crate) trusted_proxies: Vec<IpNet>,
    pub(crate) policy: Policy,
    pub(crate) hashing: Hashing,
    pub(crate) mail: MailSettings,
    pub(crate) mailer: Option<Arc<dyn Mailer>>,
    pub(crate) limit_store: Option<Arc<dyn LimitStore>>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) start_mail_worker: bool,
    pub(crate) templates: MailTemplates,
    pub(crate) allowed_origins: Vec<String>,
    pub(crate) csrf_check: bool,
    pub(crate) csrf_double_submit: bool,
    pub(crate) tokens_in_body: bool,
    pub(crate) revocation_check: bool,
    pub(crate) captcha: Option<Arc<dyn CaptchaVerifier>>,
    #[cfg(feature = "captcha")]
    pub(crate) recaptcha: Option<(crate::Secret, Option<String>)>,
    #[cfg(feature = "smtp")]
    pub(crate) smtp: Option<crate::mail::SmtpSettings>,
}

/// A validated builder, taken apart for [`Auth`].
pub(crate) struct Parts {
    pub(crate) config: AuthConfig,
    pub(crate) repo: Arc<dyn Repo>,
    pub(crate) tokens: JwtBackend,
    pub(crate) mailer: Arc<dyn Mailer>,
    pub(crate) limits: Arc<dyn LimitStore>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) start_mail_worker: bool,
    pub(crate) templates: MailTemplates,
    pub(crate) captcha: Option<Arc<dyn CaptchaVerifier>>,
}

impl Default for AuthBuilder {
    fn default() -> Self {
        Self {
            repo: None,
            auth_backend: None,
            debug: false,
            base_url: None,
            site: "authx".into(),
            display_name: None,
            lifetimes: Lifetimes::default(),
            cookies: CookieSettings::default(),
            limits: Limits::default(),
            hide_user_existence: false,
            trusted_proxies: Vec::new(),
            policy: Policy::default(),
            hashing: Hashing::default(),
            mail: MailSettings::default(),
            mailer: None,
            limit_store: None,
            clock: Arc::new(SystemClock),
            start_mail_worker: true,
            templates: MailTemplates::default(),
            allowed_origins: Vec::new(),
            csrf_check: true,
            csrf_double_submit: false,
            tokens_in_body: false,
            revocation_check: true,
            captcha: None,
            #[cfg(feature = "captcha")]
            recaptcha: None,
            #[cfg(feature = "smtp")]
            smtp: None,
        }
    }
}

impl AuthBuilder {
    /// The storage (required): users, sessions, emailed tokens and the mail outbox.
    pub fn repo(mut self, repo: Arc<dyn Repo>) -> Self {
        self.repo = Some(repo);
        self
    }

    /// The token signer and verifier (required).
    pub fn auth_backend(mut self, backend: JwtBackend) -> Self {
        self.auth_backend = Some(backend);
        self
    }

    /// Debug mode: cookies without `Secure`, for plain-HTTP development (default off).
    pub fn debug(mut self, debug: bool) -> Self {
        self.debug = debug;
        self
    }

    /// The front end's base URL, used for mail links (required, `http(s)://host[:port][/path]`).
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = Some(base_url.into());
        self
    }

    /// The site's name, shown in mail (default `authx`).
    pub fn site(mut self, site: impl Into<String>) -> Self {
        self.site = site.into();
        self
    }

    /// The mail sender's display name (default: the site's name).
    pub fn display_name(mut self, display_name: impl Into<String>) -> Self {
        self.display_name = Some(display_name.into());
        self
    }

    /// The sender address of mail (default `noreply@<host of base_url>`).
    pub fn sender(mut self, sender: impl Into<String>) -> Self {
        self.mail.sender = Some(sender.into());
        self
    }

    /// Token lifetimes and the refresh grace period.
    pub fn lifetimes(mut self, lifetimes: Lifetimes) -> Self {
        self.lifetimes = lifetimes;
        self
    }

    /// Cookie names and attributes.
    pub fn cookies(mut self, cookies: CookieSettings) -> Self {
        self.cookies = cookies;
        self
    }

    /// Abuse limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Where limit state lives (default: in this process).
    pub fn limit_store(mut self, store: Arc<dyn LimitStore>) -> Self {
        self.limit_store = Some(store);
        self
    }

    /// Answer unknown logins exactly like wrong passwords (default off, as the original).
    pub fn hide_user_existence(mut self, hide: bool) -> Self {
        self.hide_user_existence = hide;
        self
    }

    /// Proxies (addresses or networks such as `10.0.0.0/8`) whose forwarding headers are
    /// believed; without any, the client IP is the socket peer.
    pub fn trusted_proxies<I, S>(mut self, proxies: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for proxy in proxies {
            let text = proxy.as_ref().trim();
            let net = text
                .parse::<IpNet>()
                .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| ConfigError::Invalid(format!("invalid trusted proxy {text:?}")))?;
            self.trusted_proxies.push(net);
        }
        Ok(self)
    }

    /// Password length bounds and extra reserved usernames.
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Password hashing parameters and concurrency.
    pub fn hashing(mut self, hashing: Hashing) -> Self {
        self.hashing = hashing;
        self
    }

    /// Mail settings (sender, link template, delivery timeout, attempts).
    pub fn mail(mut self, mail: MailSettings) -> Self {
        self.mail = mail;
        self
    }

    /// Origins, besides that of `base_url`, allowed to send state-changing requests with
    /// cookies (`https://app.example.com`); see [`csrf_check`](Self::csrf_check).
    pub fn allowed_origins<I, S>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_origins
            .extend(origins.into_iter().map(Into::into));
        self
    }

    /// The CSRF defence (default on): a POST not authenticated by `Authorization: Bearer` is
    /// refused with `403` when the browser marks it `Sec-Fetch-Site: cross-site` or its
    /// `Origin` is not allowed. Requests without either header (curl, servers) pass.
    pub fn csrf_check(mut self, on: bool) -> Self {
        self.csrf_check = on;
        self
    }

    /// Double-submit CSRF tokens (default off): login, register and refresh also set a
    /// readable `csrf_token` cookie bound to the session, and every cookie-authenticated POST
    /// must echo it in an `X-CSRF-Token` header. Bearer-authenticated requests are exempt.
    pub fn csrf_double_submit(mut self, on: bool) -> Self {
        self.csrf_double_submit = on;
        self
    }

    /// For clients that keep tokens themselves (mobile, CLI): register, login and refresh
    /// answer `{"access": ..., "refresh": ...}` besides setting the cookies (default off).
    pub fn tokens_in_body(mut self, on: bool) -> Self {
        self.tokens_in_body = on;
        self
    }

    /// Refuse access tokens of revoked sessions at once (logout, refresh-token reuse, ban),
    /// checked against the limit store's revocation cache (default on; microseconds in
    /// process, one round trip with Redis). Off, they work until they expire.
    pub fn revocation_check(mut self, on: bool) -> Self {
        self.revocation_check = on;
        self
    }

    /// A CAPTCHA verifier: register then requires a `captcha` field it accepts
    /// (`400 Wrong captcha` otherwise; `503` when the verifier is unreachable).
    pub fn captcha(mut self, verifier: Arc<dyn CaptchaVerifier>) -> Self {
        self.captcha = Some(verifier);
        self
    }

    /// The original's `recaptcha_secret`: verify `captcha` on register with the siteverify
    /// protocol (reCAPTCHA unless [`captcha_verify_url`](Self::captcha_verify_url) names
    /// hCaptcha's, Turnstile's or another).
    #[cfg(feature = "captcha")]
    pub fn recaptcha_secret(mut self, secret: impl Into<crate::Secret>) -> Self {
        let url = self.recaptcha.take().and_then(|(_, url)| url);
        self.recaptcha = Some((secret.into(), url));
        self
    }

    /// The siteverify endpoint for [`recaptcha_secret`](Self::recaptcha_secret), e.g.
    /// `SiteVerifySettings::HCAPTCHA_URL` or
    /// `SiteVerifySettings::TURNSTILE_URL`.
    #[cfg(feature = "captcha")]
    pub fn captcha_verify_url(mut self, url: impl Into<String>) -> Self {
        let secret = self.recaptcha.take().map(|(s, _)| s).unwrap_or_default();
        self.recaptcha = Some((secret, Some(url.into())));
        self
    }

    #[cfg(feature = "smtp")]
    fn smtp_settings(&mut self) -> &mut crate::mail::SmtpSettings {
        self.smtp
            .get_or_insert_with(|| crate::mail::SmtpSettings::new(String::new()))
    }

    /// The original's `smtp_host`: deliver mail through this SMTP server instead of the log.
    #[cfg(feature = "smtp")]
    pub fn smtp_host(mut self, host: impl Into<String>) -> Self {
        self.smtp_settings().host = host.into();
        self
    }

    /// The SMTP port (default: 25 plain, 587 STARTTLS, 465 implicit TLS).
    #[cfg(feature = "smtp")]
    pub fn smtp_port(mut self, port: u16) -> Self {
        self.smtp_settings().port = Some(port);
        self
    }

    /// The original's `smtp_tls`, meaning "use TLS" (the original used it as the port by
    /// mistake): [`SmtpTls::StartTls`](crate::mail::SmtpTls) (default), `Tls` or `None`.
    #[cfg(feature = "smtp")]
    pub fn smtp_tls(mut self, tls: crate::mail::SmtpTls) -> Self {
        self.smtp_settings().tls = tls;
        self
    }

    /// The original's `smtp_username`.
    #[cfg(feature = "smtp")]
    pub fn smtp_username(mut self, username: impl Into<String>) -> Self {
        self.smtp_settings().username = Some(username.into());
        self
    }

    /// The original's `smtp_password`.
    #[cfg(feature = "smtp")]
    pub fn smtp_password(mut self, password: impl Into<crate::Secret>) -> Self {
        self.smtp_settings().password = Some(password.into());
        self
    }

    /// A PEM file of an extra CA to trust for SMTP TLS (self-hosted relays).
    #[cfg(feature = "smtp")]
    pub fn smtp_ca_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.smtp_settings().ca_file = Some(path.into());
        self
    }

    /// All SMTP settings at once.
    #[cfg(feature = "smtp")]
    pub fn smtp(mut self, settings: crate::mail::SmtpSettings) -> Self {
        self.smtp = Some(settings);
        self
    }

    /// The subject, text and HTML of the mail authx sends.
    pub fn templates(mut self, templates: MailTemplates) -> Self {
        self.templates = templates;
        self
    }

    /// How mail is delivered (default: [`LogMailer`], mail written to stdout and the log).
    pub fn mailer(mut self, mailer: Arc<dyn Mailer>) -> Self {
        self.mailer = Some(mailer);
        self
    }

    /// The clock (default: the system clock); tests inject a [`ManualClock`](crate::clock::ManualClock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Whether `build` starts the outbox worker that delivers queued mail (default true).
    /// Turn it off on instances that should only queue; another instance delivers.
    pub fn mail_worker(mut self, start: bool) -> Self {
        self.start_mail_worker = start;
        self
    }

    /// Validates the settings and builds the service. Starts the outbox worker on the current
    /// tokio runtime (so call it inside one).
    pub fn build(self) -> Result<Auth, ConfigError> {
        Auth::from_builder(self)
    }

    pub(crate) fn into_parts(self) -> Result<Parts, ConfigError> {
        let repo = self.repo.ok_or(ConfigError::Missing("repo"))?;
        let backend = self
            .auth_backend
            .ok_or(ConfigError::Missing("auth_backend"))?;
        let raw_base = self.base_url.ok_or(ConfigError::Missing("base_url"))?;
        let (base_url, base_origin, host) = parse_base_url(&raw_base)?;
        check_lifetimes(&self.lifetimes)?;
        if self.policy.password_min == 0 || self.policy.password_min > self.policy.password_max {
            return Err(ConfigError::Invalid(
                "password length bounds must satisfy 1 <= min <= max".into(),
            ));
        }
        if !self.mail.confirmation_link.contains("{token}") {
            return Err(ConfigError::Invalid(
                "the confirmation link template must contain {token}".into(),
            ));
        }
        let display_name = self.display_name.unwrap_or_else(|| self.site.clone());
        let sender = self
            .mail
            .sender
            .clone()
            .unwrap_or_else(|| format!("noreply@{host}"));
        if sender.contains(['<', '>', '"', '\r', '\n']) || !sender.contains('@') {
            return Err(ConfigError::Invalid(format!(
                "invalid sender address {sender:?}"
            )));
        }
        let quoted = display_name.replace('\\', "\\\\").replace('"', "\\\"");
        let from = format!("\"{quoted}\" <{sender}>");
        let mut allowed_origins = vec![base_origin.clone()];
        for origin in &self.allowed_origins {
            allowed_origins.push(parse_origin(origin)?);
        }
        let config = AuthConfig {
            debug: self.debug,
            base_url,
            base_origin,
            site: self.site,
            display_name,
            lifetimes: self.lifetimes,
            cookies: self.cookies,
            limits: self.limits,
            hide_user_existence: self.hide_user_existence,
            trusted_proxies: self.trusted_proxies,
            policy: self.policy,
            hashing: self.hashing,
            mail: self.mail,
            from,
            allowed_origins,
            csrf_check: self.csrf_check,
            csrf_double_submit: self.csrf_double_submit,
            tokens_in_body: self.tokens_in_body,
            revocation_check: self.revocation_check,
        };
        #[cfg(feature = "smtp")]
        let smtp_mailer: Option<Arc<dyn Mailer>> = match self.smtp {
            Some(settings) => Some(Arc::new(
                crate::mail::SmtpMailer::new(settings)
                    .map_err(|e| ConfigError::Invalid(format!("SMTP: {e}")))?,
            )),
            None => None,
        };
        #[cfg(not(feature = "smtp"))]
        let smtp_mailer: Option<Arc<dyn Mailer>> = None;
        let mailer = self
            .mailer
            .or(smtp_mailer)
            .unwrap_or_else(|| Arc::new(LogMailer::new()));
        #[cfg(feature = "captcha")]
        let site_verify: Option<Arc<dyn CaptchaVerifier>> = match self.recaptcha {
            Some((secret, url)) => {
                if secret.expose().is_empty() {
                    return Err(ConfigError::Invalid(
                        "captcha_verify_url needs recaptcha_secret".into(),
                    ));
                }
                let settings = match url {
                    Some(url) => crate::captcha::SiteVerifySettings::custom(url, secret),
                    None => crate::captcha::SiteVerifySettings::recaptcha(secret),
                };
                Some(Arc::new(
                    crate::captcha::SiteVerify::new(settings)
                        .map_err(|e| ConfigError::Invalid(format!("CAPTCHA: {e}")))?,
                ))
            }
            None => None,
        };
        #[cfg(not(feature = "captcha"))]
        let site_verify: Option<Arc<dyn CaptchaVerifier>> = None;
        let captcha = self.captcha.or(site_verify);
        let limits = self
            .limit_store
            .unwrap_or_else(|| Arc::new(MemoryLimitStore::new()));
        Ok(Parts {
            config,
            repo,
            tokens: backend,
            mailer,
            limits,
            clock: self.clock,
            start_mail_worker: self.start_mail_worker,
            templates: self.templates,
            captcha,
        })
    }
}

fn check_lifetimes(l: &Lifetimes) -> Result<(), ConfigError> {
    if l.access.as_secs() == 0 || l.refresh.as_secs() == 0 || l.confirmation.as_secs() == 0 {
        return Err(ConfigError::Invalid(
            "token lifetimes must be at least one second".into(),
        ));
    }
    if l.refresh < l.access {
        return Err(ConfigError::Invalid(
            "the refresh token must live at least as long as the access token".into(),
        ));
    }
    Ok(())
}

/// The serialised origin (`scheme://host[:port]`, default port omitted) of `raw`.
fn parse_origin(raw: &str) -> Result<String, ConfigError> {
    let url = url::Url::parse(raw.trim())
        .map_err(|e| ConfigError::Invalid(format!("allowed origin {raw:?} is not a URL: {e}")))?;
    let origin = url.origin();
    if !origin.is_tuple() || !matches!(url.scheme(), "http" | "https") {
        return Err(ConfigError::Invalid(format!(
            "allowed origin {raw:?} must be http(s)://host[:port]"
        )));
    }
    Ok(origin.ascii_serialization())
}

/// Returns the base URL without a trailing slash, its origin and its host.
fn parse_base_url(raw: &str) -> Result<(String, String, String), ConfigError> {
    let invalid = |why: &str| ConfigError::Invalid(format!("base_url {raw:?} {why}"));
    let url = url::Url::parse(raw.trim()).map_err(|e| invalid(&format!("is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("must be http or https"));
    }
    let host = url
        .host_str()
        .ok_or_else(|| invalid("has no host"))?
        .to_owned();
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(invalid("must not have a query, fragment or credentials"));
    }
    let origin = url.origin().ascii_serialization();
    let base = url.as_str().trim_end_matches('/').to_owned();
    Ok((base, origin, host.trim_matches(['[', ']']).to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        let (base, origin, host) = parse_base_url("http://localhost:8000/").unwrap();
        assert_eq!(
            (base.as_str(), origin.as_str(), host.as_str()),
            (
                "http://localhost:8000",
                "http://localhost:8000",
                "localhost"
            )
        );
        let (base, origin, _) = parse_base_url("https://example.com/app/").unwrap();
        assert_eq!(
            (base.as_str(), origin.as_str()),
            ("https://example.com/app", "https://example.com")
        );
        for bad in [
            "",
            "localhost:8000",
            "ftp://x.org",
            "https://x.org/?a=1",
            "http://u:p@x.org",
        ] {
            assert!(parse_base_url(bad).is_err(), "{bad}");
        }
    }
}
