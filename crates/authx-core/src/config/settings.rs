//! Every setting, written once: a struct with its default. The builder edits these; `build()`
//! validates them into an [`AuthConfig`](super::AuthConfig).

use std::time::Duration;

use ipnet::IpNet;

use crate::cookie::CookieSettings;
use crate::limit::Limits;
use crate::mail::MailTemplates;
use crate::password::PasswordParams;
use crate::policy::Policy;
use crate::routes::{RouterKind, Routers};

/// All settings of an [`Auth`](crate::Auth), with their defaults.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Settings {
    /// Debug mode: cookies without `Secure`, for plain-HTTP development (default off).
    pub debug: bool,
    /// The front end's base URL, for mail links and redirects (required,
    /// `http(s)://host[:port][/path]`).
    pub base_url: String,
    /// The site's name, shown in mail (default `authx`).
    pub site: String,
    /// The display name of the mail sender (default: the site's name).
    pub display_name: Option<String>,
    /// Token and session lifetimes.
    pub lifetimes: Lifetimes,
    /// How far a token's `iat` (and `nbf`) may lie ahead of the service's clock (default 60 s,
    /// for instances whose clocks differ a little); a token issued further in the future is
    /// refused, however well signed.
    pub token_leeway: Duration,
    /// Cookie names and attributes.
    pub cookies: CookieSettings,
    /// Abuse limits.
    pub limits: Limits,
    /// Unknown logins answer `401 Invalid credentials` like a wrong password (default off, as
    /// the original).
    pub hide_user_existence: bool,
    /// Proxies whose `X-Forwarded-For`/`Forwarded` headers are believed; without any, the
    /// client IP is the socket peer.
    pub trusted_proxies: Vec<IpNet>,
    /// Validation rules.
    pub policy: Policy,
    /// Password hashing.
    pub hashing: Hashing,
    /// Outgoing mail.
    pub mail: MailSettings,
    /// The emailed tokens of each purpose: lifetime and link.
    pub email_tokens: EmailTokens,
    /// The subject, text and HTML of every mail.
    pub templates: MailTemplates,
    /// Origins, besides that of `base_url`, allowed to send state-changing requests with
    /// cookies (`https://app.example.com`).
    pub allowed_origins: Vec<String>,
    /// The CSRF defence (default on); see
    /// [`AuthBuilder::csrf_check`](crate::AuthBuilder::csrf_check).
    pub csrf_check: bool,
    /// Double-submit CSRF tokens (default off); see
    /// [`AuthBuilder::csrf_double_submit`](crate::AuthBuilder::csrf_double_submit).
    pub csrf_double_submit: bool,
    /// Register, login and refresh also answer `{"access", "refresh"}` (default off).
    pub tokens_in_body: bool,
    /// Check each access token's session in the limit store, so ended sessions lose access at
    /// once (default on).
    pub revocation_check: bool,
    /// Addresses whose accounts are granted `admin` once that address is confirmed
    /// (bootstrapping the first admin; compared without regard to case).
    pub admin_emails: Vec<String>,
    /// Users per page of the search route (default 20, at most 1,000).
    pub search_page_size: u32,
    /// The routers served (default: auth, password, sessions, admin, search, OpenAPI; the
    /// second factor and social login are enabled by configuring them).
    pub routers: Routers,
    /// The background clean-up of dead rows.
    pub janitor: JanitorSettings,
    /// Social login (the providers themselves are given to the builder).
    pub social: SocialSettings,
    /// Whether `build` starts the outbox worker that delivers queued mail (default true).
    pub mail_worker: bool,
    /// The second factor (enabled by [`AuthBuilder::totp_key`](crate::AuthBuilder::totp_key)).
    pub two_factor: TwoFactorSettings,
    /// `POST /forgot_password` requests waiting for the background task that looks the address
    /// up and queues the mail (default 1,024); when it is full, requests are shed with `503`
    /// and `Retry-After: 1`, whatever the address.
    pub forgot_password_queue: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            debug: false,
            base_url: String::new(),
            site: "authx".into(),
            display_name: None,
            lifetimes: Lifetimes::default(),
            token_leeway: crate::token::DEFAULT_LEEWAY,
            cookies: CookieSettings::default(),
            limits: Limits::default(),
            hide_user_existence: false,
            trusted_proxies: Vec::new(),
            policy: Policy::default(),
            hashing: Hashing::default(),
            mail: MailSettings::default(),
            email_tokens: EmailTokens::default(),
            templates: MailTemplates::default(),
            allowed_origins: Vec::new(),
            csrf_check: true,
            csrf_double_submit: false,
            tokens_in_body: false,
            revocation_check: true,
            admin_emails: Vec::new(),
            search_page_size: 20,
            routers: default_routers(),
            janitor: JanitorSettings::default(),
            social: SocialSettings::default(),
            mail_worker: true,
            two_factor: TwoFactorSettings::default(),
            forgot_password_queue: 1024,
        }
    }
}

/// The second factor's settings (the key is given to
/// [`AuthBuilder::totp_key`](crate::AuthBuilder::totp_key), which enables it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TwoFactorSettings {
    /// How long the challenge of a login that needs a second factor lasts (default 5 minutes).
    pub challenge_lifetime: Duration,
    /// Codes one challenge takes before it ends (default 5); each wrong one also counts in
    /// the account lockout.
    pub challenge_attempts: u32,
    /// Recovery codes issued at a time (default 10).
    pub recovery_codes: u32,
}

impl Default for TwoFactorSettings {
    fn default() -> Self {
        Self {
            challenge_lifetime: Duration::from_mins(5),
            challenge_attempts: 5,
            recovery_codes: 10,
        }
    }
}

/// Token and session lifetimes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    /// Access token (default 900 s).
    pub access: Duration,
    /// Refresh token (default 14 days); each refresh issues a new one.
    pub refresh: Duration,
    /// A rotated refresh token presented again within this period is refused without ending
    /// its session (default 10 s); later, it ends the session.
    pub refresh_grace: Duration,
    /// A session ends this long after its login however often it is refreshed (default 30
    /// days); no token outlives it.
    pub session: Duration,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Self {
            access: Duration::from_mins(15),
            refresh: Duration::from_hours(336),
            refresh_grace: Duration::from_secs(10),
            session: Duration::from_hours(720),
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
    /// Bound on one delivery attempt, end to end (default 30 s).
    pub delivery_timeout: Duration,
    /// Attempts before a mail is given up (default 20: backoff from 5 s doubling to an hour,
    /// about 11 hours in all).
    pub max_attempts: u32,
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            sender: None,
            delivery_timeout: Duration::from_secs(30),
            max_attempts: 20,
        }
    }
}

/// One purpose of emailed tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailTokenSettings {
    /// How long a token works.
    pub lifetime: Duration,
    /// The link mailed; `{base_url}` and `{token}` are replaced.
    pub link: String,
}

/// The emailed tokens of every purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailTokens {
    /// Email confirmation (default 24 hours, `{base_url}/confirm?token={token}`).
    pub confirmation: EmailTokenSettings,
    /// Password reset (default 1 hour, `{base_url}/reset_password?token={token}`).
    pub reset: EmailTokenSettings,
}

impl Default for EmailTokens {
    fn default() -> Self {
        Self {
            confirmation: EmailTokenSettings {
                lifetime: Duration::from_hours(24),
                link: "{base_url}/confirm?token={token}".into(),
            },
            reset: EmailTokenSettings {
                lifetime: Duration::from_hours(1),
                link: "{base_url}/reset_password?token={token}".into(),
            },
        }
    }
}

/// Social login's settings (CONTRACT 9.6).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SocialSettings {
    /// The public URL of the social router's mount point, for the `redirect_uri` of each
    /// provider (`{redirect_base}/{provider}/callback`); default `{base_url}/auth`.
    pub redirect_base: Option<String>,
    /// The cookie that binds a sign-in's state to the browser (default `authx_oauth`).
    pub cookie_name: String,
    /// How long a sign-in may take from `GET /{provider}` to its callback (default 10
    /// minutes), the cookie's `Max-Age` too.
    pub sign_in_lifetime: Duration,
}

impl Default for SocialSettings {
    fn default() -> Self {
        Self {
            redirect_base: None,
            cookie_name: "authx_oauth".into(),
            sign_in_lifetime: Duration::from_mins(10),
        }
    }
}

/// The background clean-up: ended and expired sessions, used and expired emailed tokens, and
/// mail delivered or given up on more than [`mail_retention`](Self::mail_retention) ago.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JanitorSettings {
    /// Whether this instance runs it (default true; one instance at a time does, by lease).
    pub enabled: bool,
    /// Time between clean-ups (default an hour).
    pub interval: Duration,
    /// The most rows one statement deletes (default 1,000).
    pub batch: u32,
    /// How long one batch should take (default 5 ms). Each statement's size follows from the
    /// time the previous one took: half as many rows after one that took longer than this, twice
    /// as many (up to [`batch`](Self::batch)) after one that took under half of it. A request
    /// that has to wait for a batch (on SQLite every write does) then waits about this long,
    /// however large and cold the tables are.
    pub batch_time: Duration,
    /// Pause between batches (default 10 ms), so requests are never queued behind a clean-up.
    pub pause: Duration,
    /// How long delivered and failed mail is kept (default 7 days).
    pub mail_retention: Duration,
}

impl Default for JanitorSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: Duration::from_hours(1),
            batch: 1000,
            batch_time: Duration::from_millis(5),
            pause: Duration::from_millis(10),
            mail_retention: Duration::from_hours(168),
        }
    }
}

/// Enabled by default: every router but the second factor (enabled by its key) and social
/// login (enabled by a provider); the OpenAPI router only where its generator is built in
/// (feature `openapi`, on by default).
fn default_routers() -> Routers {
    let routers = Routers::main()
        .without(RouterKind::TwoFactor)
        .without(RouterKind::Social);
    if cfg!(feature = "openapi") {
        routers
    } else {
        routers.without(RouterKind::OpenApi)
    }
}
