//! Configuration: the original authx's knobs (`repo`, `auth_backend`, `debug`, `base_url`,
//! `site`, `recaptcha_secret`, `smtp_*`, `display_name`) plus the contract's, in a builder.
//!
//! Every setting is written once, in [`Settings`] with its default; the builder's methods set
//! them, and [`build`](AuthBuilder::build) validates them into the [`AuthConfig`] the service
//! runs with.

use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;

use crate::captcha::CaptchaVerifier;
use crate::clock::{Clock, SystemClock};
use crate::cookie::CookieSettings;
use crate::limit::{LimitStore, Limits};
use crate::mail::{MailTemplates, Mailer};
use crate::policy::Policy;
use crate::routes::{RouterKind, Routers};
use crate::service::Auth;
use crate::social::IdentityProvider;
use crate::store::Repo;
use crate::token::JwtBackend;

mod settings;
mod validate;

pub use settings::{
    EmailTokenSettings, EmailTokens, Hashing, JanitorSettings, Lifetimes, MailSettings, Settings,
    SocialSettings, TwoFactorSettings,
};
pub use validate::AuthConfig;
pub(crate) use validate::Parts;

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

/// The largest header block authx serves: 32 KiB, measured by [`header_block_len`]. A bigger
/// one is answered `431` (code `headers_too_large`) before anything else happens. The
/// framework's server reads the block first, and may refuse bigger ones itself (see the
/// framework guides).
pub const HEADER_LIMIT: usize = 32 * 1024;

/// The size of a header block as authx measures it against [`HEADER_LIMIT`]: every field as
/// sent on the wire, `name: value` and its line end.
///
/// ```
/// use authx_core::config::header_block_len;
/// assert_eq!(header_block_len([("Host", "a"), ("Cookie", "x=1")]), 9 + 13);
/// ```
pub fn header_block_len<I, N, V>(fields: I) -> usize
where
    I: IntoIterator<Item = (N, V)>,
    N: AsRef<[u8]>,
    V: AsRef<[u8]>,
{
    fields
        .into_iter()
        .map(|(name, value)| header_field_len(name.as_ref(), value.as_ref()))
        .fold(0, usize::saturating_add)
}

/// One field's share of [`header_block_len`]: `name: value\r\n`.
pub(crate) fn header_field_len(name: &[u8], value: &[u8]) -> usize {
    name.len().saturating_add(value.len()).saturating_add(4)
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
///     .configure(|s| s.lifetimes.session = std::time::Duration::from_hours(24 * 7))
///     .build()?;
/// # Ok(()) }
/// ```
#[must_use]
pub struct AuthBuilder {
    pub(crate) settings: Settings,
    pub(crate) repo: Option<Arc<dyn Repo>>,
    pub(crate) auth_backend: Option<JwtBackend>,
    pub(crate) mailer: Option<Arc<dyn Mailer>>,
    pub(crate) limit_store: Option<Arc<dyn LimitStore>>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) captcha: Option<Arc<dyn CaptchaVerifier>>,
    pub(crate) totp_key: Option<crate::two_factor::TotpKey>,
    pub(crate) totp_previous_keys: Vec<crate::two_factor::TotpKey>,
    pub(crate) providers: Vec<Arc<dyn IdentityProvider>>,
    /// `disable(RouterKind::Social)` was called: providers do not switch social login on.
    pub(crate) social_off: bool,
    #[cfg(feature = "captcha")]
    pub(crate) recaptcha: Option<(crate::Secret, Option<String>)>,
    #[cfg(feature = "smtp")]
    pub(crate) smtp: Option<crate::mail::SmtpSettings>,
}

impl Default for AuthBuilder {
    fn default() -> Self {
        Self {
            settings: Settings::default(),
            repo: None,
            auth_backend: None,
            mailer: None,
            limit_store: None,
            clock: Arc::new(SystemClock),
            captcha: None,
            totp_key: None,
            totp_previous_keys: Vec::new(),
            providers: Vec::new(),
            social_off: false,
            #[cfg(feature = "captcha")]
            recaptcha: None,
            #[cfg(feature = "smtp")]
            smtp: None,
        }
    }
}

impl AuthBuilder {
    /// The storage (required): users, sessions, emailed tokens, the mail outbox.
    pub fn repo(mut self, repo: Arc<dyn Repo>) -> Self {
        self.repo = Some(repo);
        self
    }

    /// The token signer and verifier (required).
    pub fn auth_backend(mut self, backend: JwtBackend) -> Self {
        self.auth_backend = Some(backend);
        self
    }

    /// Changes any [`Settings`] in place: `.configure(|s| s.janitor.interval = ...)`.
    pub fn configure(mut self, change: impl FnOnce(&mut Settings)) -> Self {
        change(&mut self.settings);
        self
    }

    /// [`Settings::debug`].
    pub fn debug(self, debug: bool) -> Self {
        self.configure(|s| s.debug = debug)
    }

    /// [`Settings::base_url`] (required).
    pub fn base_url(self, base_url: impl Into<String>) -> Self {
        self.configure(|s| s.base_url = base_url.into())
    }

    /// [`Settings::site`].
    pub fn site(self, site: impl Into<String>) -> Self {
        self.configure(|s| s.site = site.into())
    }

    /// [`Settings::display_name`].
    pub fn display_name(self, display_name: impl Into<String>) -> Self {
        self.configure(|s| s.display_name = Some(display_name.into()))
    }

    /// [`MailSettings::sender`].
    pub fn sender(self, sender: impl Into<String>) -> Self {
        self.configure(|s| s.mail.sender = Some(sender.into()))
    }

    /// [`Settings::lifetimes`].
    pub fn lifetimes(self, lifetimes: Lifetimes) -> Self {
        self.configure(|s| s.lifetimes = lifetimes)
    }

    /// [`Settings::cookies`].
    pub fn cookies(self, cookies: CookieSettings) -> Self {
        self.configure(|s| s.cookies = cookies)
    }

    /// [`Settings::limits`].
    pub fn limits(self, limits: Limits) -> Self {
        self.configure(|s| s.limits = limits)
    }

    /// Where limit state and session revocations live (default: in this process; Redis for
    /// several instances).
    pub fn limit_store(mut self, store: Arc<dyn LimitStore>) -> Self {
        self.limit_store = Some(store);
        self
    }

    /// [`Settings::hide_user_existence`].
    pub fn hide_user_existence(self, hide: bool) -> Self {
        self.configure(|s| s.hide_user_existence = hide)
    }

    /// [`Settings::trusted_proxies`], from addresses or networks such as `10.0.0.0/8`.
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
            self.settings.trusted_proxies.push(net);
        }
        Ok(self)
    }

    /// [`Settings::policy`].
    pub fn policy(self, policy: Policy) -> Self {
        self.configure(|s| s.policy = policy)
    }

    /// [`Settings::hashing`].
    pub fn hashing(self, hashing: Hashing) -> Self {
        self.configure(|s| s.hashing = hashing)
    }

    /// [`Settings::mail`].
    pub fn mail(self, mail: MailSettings) -> Self {
        self.configure(|s| s.mail = mail)
    }

    /// [`Settings::email_tokens`].
    pub fn email_tokens(self, tokens: EmailTokens) -> Self {
        self.configure(|s| s.email_tokens = tokens)
    }

    /// [`Settings::janitor`].
    pub fn janitor(self, janitor: JanitorSettings) -> Self {
        self.configure(|s| s.janitor = janitor)
    }

    /// Adds to [`Settings::allowed_origins`].
    pub fn allowed_origins<I, S>(self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.configure(|s| {
            s.allowed_origins
                .extend(origins.into_iter().map(Into::into));
        })
    }

    /// The CSRF defence (default on): a state-changing request not authenticated by
    /// `Authorization: Bearer` is refused with `403` when the browser marks it
    /// `Sec-Fetch-Site: cross-site` or its `Origin` is not allowed. Requests without either
    /// header (curl, servers) pass.
    pub fn csrf_check(self, on: bool) -> Self {
        self.configure(|s| s.csrf_check = on)
    }

    /// Double-submit CSRF tokens (default off): login, register and refresh also set a
    /// readable `csrf_token` cookie bound to the session, and every cookie-authenticated
    /// state change must echo it in an `X-CSRF-Token` header. Bearer-authenticated requests
    /// are exempt.
    pub fn csrf_double_submit(self, on: bool) -> Self {
        self.configure(|s| s.csrf_double_submit = on)
    }

    /// For clients that keep tokens themselves (mobile, CLI): register, login and refresh
    /// answer `{"access": ..., "refresh": ...}` besides setting the cookies (default off).
    pub fn tokens_in_body(self, on: bool) -> Self {
        self.configure(|s| s.tokens_in_body = on)
    }

    /// Refuse access tokens of ended sessions at once (logout, "log out everywhere",
    /// refresh-token reuse, ...), checked against the limit store (default on; microseconds
    /// in process, one round trip with Redis). Off, they work until they expire.
    pub fn revocation_check(self, on: bool) -> Self {
        self.configure(|s| s.revocation_check = on)
    }

    /// Adds to [`Settings::admin_emails`]: these accounts get `admin` once their address is
    /// confirmed.
    pub fn admin_emails<I, S>(self, emails: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.configure(|s| {
            s.admin_emails
                .extend(emails.into_iter().map(|e| e.into().trim().to_owned()));
        })
    }

    /// [`Settings::search_page_size`].
    pub fn search_page_size(self, size: u32) -> Self {
        self.configure(|s| s.search_page_size = size)
    }

    /// Serves `router` too.
    pub fn enable(self, router: RouterKind) -> Self {
        self.configure(|s| s.routers = s.routers.with(router))
    }

    /// Stops serving `router`: its routes answer `404` wherever it is mounted (social login
    /// stays off even with providers configured).
    pub fn disable(mut self, router: RouterKind) -> Self {
        self.social_off |= router == RouterKind::Social;
        self.configure(|s| s.routers = s.routers.without(router))
    }

    /// A social login provider (CONTRACT 9.6); configuring one enables the social router.
    /// With the `social` feature: [`OidcProvider`](crate::social::OidcProvider) (Google or any
    /// OpenID Connect issuer) and [`GitHubProvider`](crate::social::GitHubProvider).
    pub fn social_provider(mut self, provider: Arc<dyn IdentityProvider>) -> Self {
        self.providers.push(provider);
        self
    }

    /// Google sign-in, by OpenID Connect at `https://accounts.google.com`.
    #[cfg(feature = "social")]
    pub fn google(
        self,
        client_id: impl Into<String>,
        client_secret: impl Into<crate::Secret>,
    ) -> Result<Self, ConfigError> {
        self.oidc(crate::social::OidcSettings::google(
            client_id,
            client_secret,
        ))
    }

    /// An OpenID Connect provider, found by discovery at its issuer on the first sign-in.
    #[cfg(feature = "social")]
    pub fn oidc(self, settings: crate::social::OidcSettings) -> Result<Self, ConfigError> {
        let provider = crate::social::OidcProvider::new(settings)
            .map_err(|e| ConfigError::Invalid(format!("OpenID Connect provider: {e}")))?;
        Ok(self.social_provider(Arc::new(provider)))
    }

    /// GitHub sign-in.
    #[cfg(feature = "social")]
    pub fn github(self, settings: crate::social::GitHubSettings) -> Result<Self, ConfigError> {
        let provider = crate::social::GitHubProvider::new(settings)
            .map_err(|e| ConfigError::Invalid(format!("GitHub provider: {e}")))?;
        Ok(self.social_provider(Arc::new(provider)))
    }

    /// Serves exactly `routers`.
    pub fn routers(self, routers: Routers) -> Self {
        self.configure(|s| s.routers = routers)
    }

    /// The key that seals TOTP secrets at rest (AES-256-GCM) and signs second-factor
    /// challenges. Giving it enables the second factor (CONTRACT 9.7; `docs/two-factor.md`);
    /// [`disable(RouterKind::TwoFactor)`](Self::disable) switches it off again.
    pub fn totp_key(mut self, key: crate::two_factor::TotpKey) -> Self {
        self.totp_key = Some(key);
        self.enable(RouterKind::TwoFactor)
    }

    /// Keys that sealed TOTP secrets before the current [`totp_key`](Self::totp_key): secrets
    /// they sealed still open, and are sealed again with the current key when next used (a
    /// key rotation; see `docs/two-factor.md`). Needs `totp_key`.
    pub fn totp_previous_keys(
        mut self,
        keys: impl IntoIterator<Item = crate::two_factor::TotpKey>,
    ) -> Self {
        self.totp_previous_keys.extend(keys);
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

    /// [`Settings::templates`].
    pub fn templates(self, templates: MailTemplates) -> Self {
        self.configure(|s| s.templates = templates)
    }

    /// How mail is delivered (default: [`LogMailer`](crate::mail::LogMailer), mail written to
    /// stdout and the log).
    pub fn mailer(mut self, mailer: Arc<dyn Mailer>) -> Self {
        self.mailer = Some(mailer);
        self
    }

    /// The clock (default: the system clock); tests inject a
    /// [`ManualClock`](crate::clock::ManualClock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// [`Settings::mail_worker`]: turn it off on instances that should only queue; another
    /// instance delivers.
    pub fn mail_worker(self, start: bool) -> Self {
        self.configure(|s| s.mail_worker = start)
    }

    /// Validates the settings and builds the service. Starts the outbox worker and the janitor
    /// on the current tokio runtime (so call it inside one).
    pub fn build(self) -> Result<Auth, ConfigError> {
        Auth::from_parts(self.into_parts()?)
    }
}
