//! `build()`: the settings checked and completed into the [`AuthConfig`] the service runs with.

use std::sync::Arc;

use super::{AuthBuilder, ConfigError, Lifetimes, Settings};
use crate::captcha::CaptchaVerifier;
use crate::clock::Clock;
use crate::limit::{LimitStore, MemoryLimitStore};
use crate::mail::{LogMailer, Mailer};
use crate::social::IdentityProvider;
use crate::store::Repo;
use crate::token::JwtBackend;

/// Most users one search page may hold, so one request never reads an unbounded table.
const MAX_SEARCH_PAGE_SIZE: u32 = 1000;
/// The largest [`Settings::token_leeway`]: an hour.
const MAX_TOKEN_LEEWAY: std::time::Duration = std::time::Duration::from_hours(1);

/// The validated configuration an [`Auth`](crate::Auth) runs with: its [`Settings`] (read
/// through `Deref`), normalised, and what follows from them.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    settings: Settings,
    /// The origin of `base_url` (`scheme://host[:port]`).
    pub base_origin: String,
    /// The `From` mailbox, `"display_name" <sender>`.
    pub from: String,
    /// Origins allowed to make state-changing requests with cookies: the origin of `base_url`
    /// plus configured ones (`scheme://host[:port]`).
    pub allowed_origins: Vec<String>,
}

impl std::ops::Deref for AuthConfig {
    type Target = Settings;

    fn deref(&self) -> &Settings {
        &self.settings
    }
}

/// A validated builder, taken apart for [`Auth`](crate::Auth).
pub(crate) struct Parts {
    pub(crate) config: AuthConfig,
    pub(crate) repo: Arc<dyn Repo>,
    pub(crate) tokens: JwtBackend,
    pub(crate) mailer: Arc<dyn Mailer>,
    pub(crate) limits: Arc<dyn LimitStore>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) captcha: Option<Arc<dyn CaptchaVerifier>>,
    pub(crate) sealer: Option<crate::two_factor::Sealer>,
    pub(crate) providers: Vec<Arc<dyn IdentityProvider>>,
}

/// Social login: provider names valid and distinct, storage for identities, the router
/// enabled (unless switched off), and the public URL of the callbacks.
fn check_social(
    settings: &mut Settings,
    providers: &[Arc<dyn IdentityProvider>],
    repo: &dyn Repo,
    switched_off: bool,
) -> Result<(), ConfigError> {
    let base = settings
        .social
        .redirect_base
        .clone()
        .unwrap_or_else(|| format!("{}/auth", settings.base_url));
    let base = base.trim_end_matches('/').to_owned();
    url::Url::parse(&base).map_err(|e| {
        ConfigError::Invalid(format!(
            "the social redirect base {base:?} is not a URL: {e}"
        ))
    })?;
    settings.social.redirect_base = Some(base);
    if settings.social.sign_in_lifetime.as_secs() == 0 {
        return Err(ConfigError::Invalid(
            "the social sign-in lifetime must be at least one second".into(),
        ));
    }
    crate::cookie::check_cookie_name(&settings.social.cookie_name)?;
    if providers.is_empty() {
        return Ok(());
    }
    let mut names = std::collections::HashSet::new();
    for provider in providers {
        if !crate::social::valid_name(provider.name()) {
            return Err(ConfigError::Invalid(format!(
                "social provider name {:?}: 1 to 32 characters of a-z 0-9 _ -, not `callback`",
                provider.name()
            )));
        }
        if !names.insert(provider.name()) {
            return Err(ConfigError::Invalid(format!(
                "two social providers are named {:?}",
                provider.name()
            )));
        }
    }
    if repo.identities().is_none() {
        return Err(ConfigError::Invalid(
            "social login needs a storage backend that stores identities".into(),
        ));
    }
    if !switched_off {
        settings.routers = settings.routers.with(crate::routes::RouterKind::Social);
    }
    Ok(())
}

impl AuthBuilder {
    pub(crate) fn into_parts(self) -> Result<Parts, ConfigError> {
        let repo = self.repo.ok_or(ConfigError::Missing("repo"))?;
        let tokens = self
            .auth_backend
            .ok_or(ConfigError::Missing("auth_backend"))?;
        let mut settings = self.settings;
        if settings.base_url.trim().is_empty() {
            return Err(ConfigError::Missing("base_url"));
        }
        let (base_url, base_origin, host) = parse_base_url(&settings.base_url)?;
        settings.base_url = base_url;
        check_lifetimes(&settings.lifetimes)?;
        if settings.token_leeway > MAX_TOKEN_LEEWAY {
            return Err(ConfigError::Invalid(format!(
                "the token leeway must be at most {} s: a token issued further in the future \
                 is a forgery or a broken clock",
                MAX_TOKEN_LEEWAY.as_secs()
            )));
        }
        let tokens = tokens.with_leeway(settings.token_leeway);
        // Admin addresses compare with stored ones, so they take the stored form too.
        settings.admin_emails = settings
            .admin_emails
            .iter()
            .map(|email| {
                settings.policy.email(email).map_err(|_| {
                    ConfigError::Invalid(format!("admin email {email:?} is not a valid address"))
                })
            })
            .collect::<Result<_, _>>()?;
        for (name, limit) in [
            ("login_per_ip", settings.limits.login_per_ip),
            (
                "confirmation_per_user",
                settings.limits.confirmation_per_user,
            ),
        ] {
            if limit.max > 0 && limit.window.is_zero() {
                return Err(ConfigError::Invalid(format!(
                    "the {name} limit needs a window above zero (or a max of 0 to turn it off)"
                )));
            }
        }
        let policy = &settings.policy;
        if policy.password_min == 0 || policy.password_min > policy.password_max {
            return Err(ConfigError::Invalid(
                "password length bounds must satisfy 1 <= min <= max".into(),
            ));
        }
        for (purpose, token) in [
            ("confirmation", &settings.email_tokens.confirmation),
            ("reset", &settings.email_tokens.reset),
        ] {
            if !token.link.contains("{token}") {
                return Err(ConfigError::Invalid(format!(
                    "the {purpose} link template must contain {{token}}"
                )));
            }
            if token.lifetime.as_secs() == 0 {
                return Err(ConfigError::Invalid(format!(
                    "the {purpose} token lifetime must be at least one second"
                )));
            }
        }
        if settings.forgot_password_queue == 0 {
            return Err(ConfigError::Invalid(
                "the forgot-password queue needs room for at least one request".into(),
            ));
        }
        if settings.janitor.interval.is_zero() || settings.janitor.batch == 0 {
            return Err(ConfigError::Invalid(
                "the janitor needs an interval and a batch size above zero".into(),
            ));
        }
        if !(1..=MAX_SEARCH_PAGE_SIZE).contains(&settings.search_page_size) {
            return Err(ConfigError::Invalid(format!(
                "the search page size must be 1 to {MAX_SEARCH_PAGE_SIZE}"
            )));
        }
        let sealer = two_factor_sealer(
            &settings,
            repo.as_ref(),
            self.totp_key,
            self.totp_previous_keys,
        )?;
        let display_name = settings
            .display_name
            .clone()
            .unwrap_or_else(|| settings.site.clone());
        let sender = settings
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
        for origin in &settings.allowed_origins {
            allowed_origins.push(parse_origin(origin)?);
        }
        settings.display_name = Some(display_name);
        check_social(
            &mut settings,
            &self.providers,
            repo.as_ref(),
            self.social_off,
        )?;
        let config = AuthConfig {
            settings,
            base_origin,
            from,
            allowed_origins,
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

        Ok(Parts {
            config,
            repo,
            tokens,
            mailer,
            limits: self
                .limit_store
                .unwrap_or_else(|| Arc::new(MemoryLimitStore::new())),
            clock: self.clock,
            captcha: self.captcha.or(site_verify),
            sealer,
            providers: self.providers,
        })
    }
}

/// The sealer of the second factor when it is enabled: it needs the key and storage that keeps
/// second factors; previous keys need a current one.
fn two_factor_sealer(
    settings: &Settings,
    repo: &dyn Repo,
    key: Option<crate::two_factor::TotpKey>,
    previous: Vec<crate::two_factor::TotpKey>,
) -> Result<Option<crate::two_factor::Sealer>, ConfigError> {
    let enabled = settings
        .routers
        .contains(crate::routes::RouterKind::TwoFactor);
    let Some(key) = key else {
        if !previous.is_empty() {
            return Err(ConfigError::Invalid(
                "totp_previous_keys needs the current totp_key".into(),
            ));
        }
        return if enabled {
            Err(ConfigError::Missing("totp_key"))
        } else {
            Ok(None)
        };
    };
    if !enabled {
        return Ok(None);
    }
    if repo.two_factor().is_none() {
        return Err(ConfigError::Invalid(
            "the second factor needs storage that keeps second factors (Repo::two_factor)".into(),
        ));
    }
    let two_factor = &settings.two_factor;
    if two_factor.challenge_lifetime.as_secs() == 0
        || two_factor.challenge_attempts == 0
        || !(1..=100).contains(&two_factor.recovery_codes)
    {
        return Err(ConfigError::Invalid(
            "the second factor needs a challenge lifetime of a second or more, at least one \
             attempt, and 1 to 100 recovery codes"
                .into(),
        ));
    }
    Ok(Some(crate::two_factor::Sealer::new(key, previous)))
}

fn check_lifetimes(l: &Lifetimes) -> Result<(), ConfigError> {
    if l.access.as_secs() == 0 || l.refresh.as_secs() == 0 || l.session.as_secs() == 0 {
        return Err(ConfigError::Invalid(
            "token and session lifetimes must be at least one second".into(),
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
