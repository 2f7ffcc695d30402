//! Configuration from environment variables: the variables and defaults every example reads
//! (CONTRACT section 8), so one walk-through fits all three frameworks.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `AUTHX_ADDR` | listen address | `127.0.0.1:8000` |
//! | `DATABASE_URL` | `sqlite://...`, `postgres://...` or `mysql://...` | `sqlite://authx.db` in the working directory |
//! | `AUTHX_JWT_SECRET` | HS256 secret, at least 32 bytes | generated on first start, kept in `.authx/jwt-secret` |
//! | `AUTHX_TOTP_KEY` | 32-byte key (64 hex digits or base64) sealing TOTP secrets; enables the second factor | generated on first start, kept in `.authx/totp-key` |
//! | `AUTHX_JWT_ALGORITHM`, `AUTHX_JWT_PRIVATE_KEY` | `EdDSA`, `ES256` or `RS256` and the path of its PEM private key | HS256 with the secret |
//! | `AUTHX_DEBUG` | `true`/`false`: cookies without `Secure` when true | `true` |
//! | `AUTHX_BASE_URL` | front-end base for mail links | `http://localhost:8000` |
//! | `AUTHX_LOGIN_LIMIT_PER_IP` | login attempts per client IP per 60 s; `0` turns it off | `30` |
//! | `AUTHX_ALLOWED_ORIGINS` | extra origins allowed by the CSRF check, comma-separated | the origin of `AUTHX_BASE_URL` |
//! | `SMTP_HOST`, `SMTP_PORT`, `SMTP_USERNAME`, `SMTP_PASSWORD`, `SMTP_TLS` (`none`/`starttls`/`tls`), `AUTHX_SENDER` | send mail through SMTP | mail printed to stdout |
//! | `SMTP_CA_FILE` | a PEM file of an extra CA to trust for SMTP TLS | system roots only |
//! | `AUTHX_RECAPTCHA_SECRET`, `AUTHX_CAPTCHA_VERIFY_URL` | CAPTCHA on register (siteverify; reCAPTCHA unless another verify URL is given) | off |
//! | `REDIS_URL` | `redis://[user:password@]host[:port][/db]`: login limits, lockout and session revocations in Redis, shared by every instance using it | in-process |
//! | `AUTHX_REDIS_PREFIX` | key prefix in Redis; instances sharing it share a user base | `authx` |
//! | `AUTHX_SESSION_ABSOLUTE_LIFETIME` | seconds after its login that a session ends however often it is refreshed | `2592000` (30 days) |
//! | `AUTHX_JANITOR_INTERVAL` | seconds between clean-ups of ended sessions, used tokens and old mail | `3600` |
//! | `AUTHX_ADMIN_EMAILS` | comma-separated emails whose accounts are granted `admin` once that address is confirmed | none |
//! | `AUTHX_GOOGLE_CLIENT_ID`, `AUTHX_GOOGLE_CLIENT_SECRET`, `AUTHX_GOOGLE_ISSUER` | Google sign-in (issuer overridable for tests) | off; `https://accounts.google.com` |
//! | `AUTHX_GITHUB_CLIENT_ID`, `AUTHX_GITHUB_CLIENT_SECRET`, `AUTHX_GITHUB_AUTHORIZE_URL`, `AUTHX_GITHUB_TOKEN_URL`, `AUTHX_GITHUB_API_URL` | GitHub sign-in (URLs overridable for tests) | off; GitHub's own |
//! | `AUTHX_OIDC_PROVIDERS` | comma-separated names of OpenID Connect providers; `acme` reads `AUTHX_OIDC_ACME_ISSUER`, `_CLIENT_ID`, `_CLIENT_SECRET` and `_SCOPES` (space-separated, default `openid email profile`) | none |
//! | `AUTHX_SOCIAL_REDIRECT_BASE` | public URL of the social router, for each provider's `redirect_uri` (`{base}/{provider}/callback`) | `{AUTHX_BASE_URL}/auth` |
//!
//! Redis and the SMTP server may be down at start-up: the application starts, requests that
//! need Redis answer `503` until it answers, and mail waits in the outbox. The database must
//! answer at start-up (the migrations run then); when it does not, [`Environment::builder`]
//! fails with [`EnvError::Database`], which names the URL (its password hidden).
//!
//! In debug mode the origin of `AUTHX_ADDR` (`http://127.0.0.1:8000`) is allowed by the CSRF
//! check too, so the front end works whether opened at the base URL or at the listen address.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use authx_core::token::{JwtBackend, SigningAlgorithm};
use authx_core::{AuthBuilder, ConfigError};

/// Why the environment could not be turned into a configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnvError {
    /// A variable has an unusable value.
    #[error("{name}: {message}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A file could not be read or written.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The configuration was refused.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The database could not be reached or migrated: it is needed at start-up (the
    /// migrations run then).
    #[error(
        "DATABASE_URL: cannot open and migrate the database at {url} (authx needs it at \
         start-up)"
    )]
    Database {
        /// The URL, its password hidden.
        url: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// `REDIS_URL` is not a Redis URL. (A Redis that does not answer is no error: requests
    /// that need it answer `503` until it does.)
    #[error("REDIS_URL: {0}")]
    Redis(#[source] authx_redis::Error),
}

/// The settings read from the environment.
#[derive(Debug, Clone)]
pub struct Environment {
    /// `AUTHX_ADDR`.
    pub addr: SocketAddr,
    /// `DATABASE_URL`.
    pub database_url: String,
    /// `AUTHX_DEBUG`.
    pub debug: bool,
    /// `AUTHX_BASE_URL`.
    pub base_url: String,
    /// `AUTHX_LOGIN_LIMIT_PER_IP`.
    pub login_limit_per_ip: u32,
    /// `AUTHX_ALLOWED_ORIGINS`.
    pub allowed_origins: Vec<String>,
    /// `REDIS_URL` (wrapped: it may carry a password).
    pub redis_url: Option<authx_core::Secret>,
    /// `AUTHX_REDIS_PREFIX`.
    pub redis_prefix: String,
    /// `AUTHX_SESSION_ABSOLUTE_LIFETIME`, in seconds.
    pub session_lifetime: u64,
    /// `AUTHX_JANITOR_INTERVAL`, in seconds.
    pub janitor_interval: u64,
    /// `AUTHX_ADMIN_EMAILS`.
    pub admin_emails: Vec<String>,
    /// `SMTP_HOST` and the other `SMTP_*` variables; `None` prints mail to stdout.
    pub smtp: Option<authx_core::mail::SmtpSettings>,
    /// `AUTHX_SENDER`.
    pub sender: Option<String>,
    /// `AUTHX_RECAPTCHA_SECRET` and `AUTHX_CAPTCHA_VERIFY_URL`.
    pub captcha: Option<(authx_core::Secret, Option<String>)>,
    /// `AUTHX_TOTP_KEY`; `None` uses the key kept in `.authx/totp-key`.
    pub totp_key: Option<authx_core::two_factor::TotpKey>,
    /// `AUTHX_GOOGLE_*` and `AUTHX_OIDC_*`: the OpenID Connect providers, Google first.
    pub oidc: Vec<authx_core::social::OidcSettings>,
    /// `AUTHX_GITHUB_*`.
    pub github: Option<authx_core::social::GitHubSettings>,
    /// `AUTHX_SOCIAL_REDIRECT_BASE`.
    pub social_redirect_base: Option<String>,
    jwt: JwtSource,
}

#[derive(Debug, Clone)]
enum JwtSource {
    Secret(Option<authx_core::Secret>),
    Pem(SigningAlgorithm, String),
}

/// The variables, read through a lookup (the process environment, or a map in tests).
struct Vars<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Vars<'_> {
    fn var(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|v| !v.trim().is_empty())
    }

    fn parse<T: std::str::FromStr>(&self, name: &'static str, default: T) -> Result<T, EnvError>
    where
        T::Err: std::fmt::Display,
    {
        parse_var(name, self.var(name), default)
    }

    /// A comma-separated list, empty entries dropped.
    fn list(&self, name: &str) -> Vec<String> {
        self.var(name)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A number of seconds above zero.
    fn positive(&self, name: &'static str, default: u64) -> Result<u64, EnvError> {
        match self.parse(name, default)? {
            0 => Err(EnvError::Invalid {
                name,
                message: "must be at least 1".into(),
            }),
            seconds => Ok(seconds),
        }
    }
}

fn parse_var<T: std::str::FromStr>(
    name: &'static str,
    value: Option<String>,
    default: T,
) -> Result<T, EnvError>
where
    T::Err: std::fmt::Display,
{
    match value {
        None => Ok(default),
        Some(raw) => raw.trim().parse().map_err(|e: T::Err| EnvError::Invalid {
            name,
            message: format!("{raw:?}: {e}"),
        }),
    }
}

/// `url` with the password of its user info, if any, hidden.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

impl Environment {
    /// Reads the variables of the process environment, applying the defaults.
    pub fn load() -> Result<Self, EnvError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the variables through `lookup` (a variable's value, or `None`), applying the
    /// defaults: the same as [`load`](Self::load) from another source, a map in tests say.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, EnvError> {
        let vars = Vars(&lookup);
        let var = |name: &str| vars.var(name);
        let jwt = match (var("AUTHX_JWT_ALGORITHM"), var("AUTHX_JWT_PRIVATE_KEY")) {
            (None, None) => JwtSource::Secret(var("AUTHX_JWT_SECRET").map(authx_core::Secret::new)),
            (Some(alg), None) if alg.trim() == "HS256" => {
                JwtSource::Secret(var("AUTHX_JWT_SECRET").map(authx_core::Secret::new))
            }
            (Some(alg), Some(path)) => {
                let alg = alg.parse().map_err(|e: ConfigError| EnvError::Invalid {
                    name: "AUTHX_JWT_ALGORITHM",
                    message: e.to_string(),
                })?;
                JwtSource::Pem(alg, path)
            }
            _ => {
                return Err(EnvError::Invalid {
                    name: "AUTHX_JWT_PRIVATE_KEY",
                    message: "set both AUTHX_JWT_ALGORITHM and AUTHX_JWT_PRIVATE_KEY".into(),
                });
            }
        };
        let smtp = match var("SMTP_HOST") {
            None => None,
            Some(host) => {
                let mut settings = authx_core::mail::SmtpSettings::new(host.trim());
                settings.tls = vars.parse("SMTP_TLS", authx_core::mail::SmtpTls::StartTls)?;
                settings.port = var("SMTP_PORT")
                    .map(|_| vars.parse::<u16>("SMTP_PORT", 0))
                    .transpose()?;
                settings.username = var("SMTP_USERNAME");
                settings.password = var("SMTP_PASSWORD").map(authx_core::Secret::new);
                settings.ca_file = var("SMTP_CA_FILE").map(Into::into);
                Some(settings)
            }
        };
        let captcha = match (
            var("AUTHX_RECAPTCHA_SECRET"),
            var("AUTHX_CAPTCHA_VERIFY_URL"),
        ) {
            (Some(secret), url) => Some((authx_core::Secret::new(secret), url)),
            (None, None) => None,
            (None, Some(_)) => {
                return Err(EnvError::Invalid {
                    name: "AUTHX_CAPTCHA_VERIFY_URL",
                    message: "needs AUTHX_RECAPTCHA_SECRET".into(),
                });
            }
        };
        let totp_key = var("AUTHX_TOTP_KEY")
            .map(|key| {
                authx_core::two_factor::TotpKey::parse(&key).map_err(|e| EnvError::Invalid {
                    name: "AUTHX_TOTP_KEY",
                    message: e.to_string(),
                })
            })
            .transpose()?;
        let (oidc, github) = social_providers(&vars)?;
        Ok(Self {
            smtp,
            totp_key,
            sender: var("AUTHX_SENDER"),
            captcha,
            oidc,
            github,
            social_redirect_base: var("AUTHX_SOCIAL_REDIRECT_BASE"),
            addr: vars.parse("AUTHX_ADDR", SocketAddr::from(([127, 0, 0, 1], 8000)))?,
            database_url: var("DATABASE_URL").unwrap_or_else(|| "sqlite://authx.db".into()),
            debug: vars.parse("AUTHX_DEBUG", true)?,
            base_url: var("AUTHX_BASE_URL").unwrap_or_else(|| "http://localhost:8000".into()),
            login_limit_per_ip: vars.parse("AUTHX_LOGIN_LIMIT_PER_IP", 30)?,
            allowed_origins: vars.list("AUTHX_ALLOWED_ORIGINS"),
            redis_url: var("REDIS_URL").map(authx_core::Secret::new),
            redis_prefix: var("AUTHX_REDIS_PREFIX").unwrap_or_else(|| "authx".into()),
            session_lifetime: vars.positive("AUTHX_SESSION_ABSOLUTE_LIFETIME", 2_592_000)?,
            janitor_interval: vars.positive("AUTHX_JANITOR_INTERVAL", 3600)?,
            admin_emails: vars.list("AUTHX_ADMIN_EMAILS"),
            jwt,
        })
    }

    /// The token backend: the configured key, or the HS256 secret (generated and kept in
    /// `.authx/jwt-secret` when none is given).
    pub async fn auth_backend(&self) -> Result<JwtBackend, EnvError> {
        match &self.jwt {
            JwtSource::Secret(Some(secret)) => Ok(JwtBackend::hs256(secret.expose())?),
            JwtSource::Secret(None) => Ok(JwtBackend::hs256(kept_secret().await?)?),
            JwtSource::Pem(alg, path) => {
                let pem = tokio::fs::read(path).await.map_err(|source| EnvError::Io {
                    what: format!("reading AUTHX_JWT_PRIVATE_KEY {path}"),
                    source,
                })?;
                Ok(JwtBackend::from_private_pem(*alg, &pem)?)
            }
        }
    }

    /// A builder with everything the environment configures: storage (connected and
    /// migrated), tokens, debug, base URL, limits and, with `REDIS_URL`, their store in Redis.
    /// Add your own settings, then `build()`.
    #[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
    pub async fn builder(&self) -> Result<AuthBuilder, EnvError> {
        let repo =
            authx_sqlx::connect(&self.database_url)
                .await
                .map_err(|e| EnvError::Database {
                    url: redacted(&self.database_url),
                    source: Box::new(e),
                })?;
        self.builder_with_repo(repo).await
    }

    /// Like [`builder`](Self::builder), with storage of your own.
    pub async fn builder_with_repo(
        &self,
        repo: Arc<dyn authx_core::store::Repo>,
    ) -> Result<AuthBuilder, EnvError> {
        let mut limits = authx_core::limit::Limits::default();
        limits.login_per_ip.max = self.login_limit_per_ip;
        let mut origins = self.allowed_origins.clone();
        if self.debug {
            origins.push(format!("http://{}", self.addr));
        }
        let session = std::time::Duration::from_secs(self.session_lifetime);
        let janitor = std::time::Duration::from_secs(self.janitor_interval);
        let totp_key = match &self.totp_key {
            Some(key) => key.clone(),
            None => kept_totp_key().await?,
        };
        let builder = authx_core::Auth::builder()
            .repo(repo)
            .auth_backend(self.auth_backend().await?)
            .totp_key(totp_key)
            .debug(self.debug)
            .base_url(self.base_url.clone())
            .allowed_origins(origins)
            .admin_emails(self.admin_emails.clone())
            .limits(limits)
            .configure(|s| {
                // Tokens never outlive their session, however short it is.
                s.lifetimes.session = session;
                s.janitor.interval = janitor;
            });
        let builder = match &self.sender {
            Some(sender) => builder.sender(sender.clone()),
            None => builder,
        };
        let redirect_base = self.social_redirect_base.clone();
        let mut builder = builder.configure(|s| s.social.redirect_base = redirect_base);
        for provider in &self.oidc {
            builder = builder.oidc(provider.clone())?;
        }
        if let Some(github) = &self.github {
            builder = builder.github(github.clone())?;
        }
        let builder = match &self.smtp {
            Some(smtp) => {
                tracing::info!(host = %smtp.host, port = smtp.port(), "authx: mail goes through SMTP");
                builder.smtp(smtp.clone())
            }
            None => builder,
        };
        let builder = match &self.captcha {
            Some((secret, url)) => {
                let builder = builder.recaptcha_secret(secret.clone());
                match url {
                    Some(url) => builder.captcha_verify_url(url.clone()),
                    None => builder,
                }
            }
            None => builder,
        };
        match &self.redis_url {
            None => Ok(builder),
            Some(url) => {
                // Made whether Redis answers or not: the application starts, and what needs
                // Redis answers 503 until it does.
                let store = authx_redis::RedisLimitStore::new(url.expose(), &self.redis_prefix)
                    .map_err(EnvError::Redis)?;
                match store.ping().await {
                    Ok(()) => tracing::info!("authx: limits and revocations are kept in Redis"),
                    Err(e) => tracing::warn!(
                        error = %e,
                        "authx: Redis does not answer yet; requests that need it answer 503 \
                         until it does"
                    ),
                }
                Ok(builder.limit_store(Arc::new(store)))
            }
        }
    }
}

/// A client id and secret, both or neither.
fn client(
    vars: &Vars<'_>,
    id_var: &'static str,
    secret_var: &'static str,
) -> Result<Option<(String, authx_core::Secret)>, EnvError> {
    match (vars.var(id_var), vars.var(secret_var)) {
        (Some(id), Some(secret)) => Ok(Some((id, authx_core::Secret::new(secret)))),
        (None, None) => Ok(None),
        (Some(_), None) => Err(EnvError::Invalid {
            name: secret_var,
            message: format!("needed with {id_var}"),
        }),
        (None, Some(_)) => Err(EnvError::Invalid {
            name: id_var,
            message: format!("needed with {secret_var}"),
        }),
    }
}

/// The social login providers of CONTRACT 9.10.
fn social_providers(
    vars: &Vars<'_>,
) -> Result<
    (
        Vec<authx_core::social::OidcSettings>,
        Option<authx_core::social::GitHubSettings>,
    ),
    EnvError,
> {
    use authx_core::social::{GitHubSettings, OidcSettings};
    let mut oidc = Vec::new();
    if let Some((id, secret)) =
        client(vars, "AUTHX_GOOGLE_CLIENT_ID", "AUTHX_GOOGLE_CLIENT_SECRET")?
    {
        let mut google = OidcSettings::google(id, secret);
        if let Some(issuer) = vars.var("AUTHX_GOOGLE_ISSUER") {
            google.issuer = issuer;
        }
        google.label = "Google".into();
        oidc.push(google);
    }
    for name in vars.list("AUTHX_OIDC_PROVIDERS") {
        let name = name.to_ascii_lowercase();
        let key = name.to_ascii_uppercase().replace('-', "_");
        let var_name = |suffix: &str| format!("AUTHX_OIDC_{key}_{suffix}");
        // Reported under AUTHX_OIDC_PROVIDERS, naming the variable that is missing.
        let missing = |suffix: &str| EnvError::Invalid {
            name: "AUTHX_OIDC_PROVIDERS",
            message: format!("the provider {name:?} needs {}", var_name(suffix)),
        };
        let issuer = vars
            .var(&var_name("ISSUER"))
            .ok_or_else(|| missing("ISSUER"))?;
        let id = vars
            .var(&var_name("CLIENT_ID"))
            .ok_or_else(|| missing("CLIENT_ID"))?;
        let secret = vars
            .var(&var_name("CLIENT_SECRET"))
            .ok_or_else(|| missing("CLIENT_SECRET"))?;
        let mut settings = OidcSettings::new(name, issuer, id, secret);
        if let Some(scopes) = vars.var(&var_name("SCOPES")) {
            settings.scopes = scopes.split_whitespace().map(str::to_owned).collect();
        }
        oidc.push(settings);
    }
    let github = client(vars, "AUTHX_GITHUB_CLIENT_ID", "AUTHX_GITHUB_CLIENT_SECRET")?.map(
        |(id, secret)| {
            let mut github = GitHubSettings::new(id, secret);
            if let Some(url) = vars.var("AUTHX_GITHUB_AUTHORIZE_URL") {
                github.authorize_url = url;
            }
            if let Some(url) = vars.var("AUTHX_GITHUB_TOKEN_URL") {
                github.token_url = url;
            }
            if let Some(url) = vars.var("AUTHX_GITHUB_API_URL") {
                github.api_url = url;
            }
            github
        },
    );
    Ok((oidc, github))
}

/// The HS256 secret kept in `.authx/jwt-secret`, made on first use (0600 on Unix).
async fn kept_secret() -> Result<String, EnvError> {
    kept_file(
        "jwt-secret",
        "a JWT secret",
        |text| text.len() >= 32,
        || authx_core::random::token(48),
    )
    .await
}

/// The TOTP key kept in `.authx/totp-key` (64 hex digits), made on first use (0600 on Unix).
/// Losing it makes every enrolled second factor unusable: keep it with the database's backups.
async fn kept_totp_key() -> Result<authx_core::two_factor::TotpKey, EnvError> {
    let hex = kept_file(
        "totp-key",
        "a TOTP key",
        |text| authx_core::two_factor::TotpKey::parse(text).is_ok(),
        || authx_core::two_factor::TotpKey::generate().to_hex(),
    )
    .await?;
    authx_core::two_factor::TotpKey::parse(&hex).map_err(EnvError::Config)
}

/// The secret kept in `.authx/{name}`, made by `make` when the file is missing or fails
/// `usable`, and written 0600 on Unix.
async fn kept_file(
    name: &str,
    what: &str,
    usable: impl Fn(&str) -> bool,
    make: impl Fn() -> String,
) -> Result<String, EnvError> {
    let path = Path::new(".authx").join(name);
    let io = |what: &str| {
        let what = format!("{what} {}", path.display());
        move |source| EnvError::Io { what, source }
    };
    if let Ok(secret) = tokio::fs::read_to_string(&path).await {
        let secret = secret.trim().to_owned();
        if usable(&secret) {
            return Ok(secret);
        }
    }
    tokio::fs::create_dir_all(".authx")
        .await
        .map_err(io("creating the directory of"))?;
    let secret = make();
    tokio::fs::write(&path, &secret)
        .await
        .map_err(io("writing"))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let _ = tokio::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).await;
    }
    tracing::info!("authx: generated {what} and kept it in {}", path.display());
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_hidden() {
        assert_eq!(
            redacted("postgres://authx:s3cret@db:5432/authx"),
            "postgres://authx:***@db:5432/authx"
        );
        assert_eq!(
            redacted("postgres://authx@db/authx"),
            "postgres://authx@db/authx"
        );
        assert_eq!(redacted("sqlite://authx.db"), "sqlite://authx.db");
    }

    #[test]
    fn social_providers_come_from_the_variables_of_9_10() {
        let vars = std::collections::HashMap::from([
            ("AUTHX_GOOGLE_CLIENT_ID", "g-id"),
            ("AUTHX_GOOGLE_CLIENT_SECRET", "g-secret"),
            ("AUTHX_GITHUB_CLIENT_ID", "gh-id"),
            ("AUTHX_GITHUB_CLIENT_SECRET", "gh-secret"),
            ("AUTHX_GITHUB_API_URL", "http://127.0.0.1:9/api"),
            ("AUTHX_OIDC_PROVIDERS", "acme, Corp-ID"),
            (
                "AUTHX_OIDC_ACME_ISSUER",
                "https://id.example.com/realms/acme",
            ),
            ("AUTHX_OIDC_ACME_CLIENT_ID", "acme-id"),
            ("AUTHX_OIDC_ACME_CLIENT_SECRET", "acme-secret"),
            ("AUTHX_OIDC_ACME_SCOPES", "openid email"),
            ("AUTHX_OIDC_CORP_ID_ISSUER", "https://corp.example.com"),
            ("AUTHX_OIDC_CORP_ID_CLIENT_ID", "corp-id"),
            ("AUTHX_OIDC_CORP_ID_CLIENT_SECRET", "corp-secret"),
            ("AUTHX_SOCIAL_REDIRECT_BASE", "https://app.example.com/auth"),
        ]);
        let env = Environment::from_lookup(|name| vars.get(name).map(|v| (*v).to_owned()))
            .expect("valid");
        let names: Vec<_> = env.oidc.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["google", "acme", "corp-id"]);
        assert_eq!(env.oidc[0].issuer, "https://accounts.google.com");
        assert_eq!(env.oidc[1].issuer, "https://id.example.com/realms/acme");
        assert_eq!(env.oidc[1].scopes, ["openid", "email"]);
        assert_eq!(env.oidc[2].scopes, ["openid", "email", "profile"]);
        let github = env.github.expect("GitHub configured");
        assert_eq!(github.api_url, "http://127.0.0.1:9/api");
        assert_eq!(
            github.token_url,
            authx_core::social::GitHubSettings::TOKEN_URL
        );
        assert_eq!(
            env.social_redirect_base.as_deref(),
            Some("https://app.example.com/auth")
        );
        // A client id without its secret, or a listed provider without its issuer.
        for missing in ["AUTHX_GOOGLE_CLIENT_SECRET", "AUTHX_OIDC_ACME_ISSUER"] {
            let bad = Environment::from_lookup(|name| {
                (name != missing)
                    .then(|| vars.get(name).map(|v| (*v).to_owned()))
                    .flatten()
            });
            assert!(matches!(bad, Err(EnvError::Invalid { .. })), "{missing}");
        }
    }

    #[test]
    fn variables_come_from_the_lookup() {
        let vars = std::collections::HashMap::from([
            ("AUTHX_ADDR", "127.0.0.1:9000"),
            ("REDIS_URL", "redis://127.0.0.1:1"),
            (
                "AUTHX_ALLOWED_ORIGINS",
                "https://a.example, ,https://b.example",
            ),
            ("AUTHX_DEBUG", " "),
        ]);
        let env = Environment::from_lookup(|name| vars.get(name).map(|v| (*v).to_owned()))
            .expect("valid");
        assert_eq!(env.addr, SocketAddr::from(([127, 0, 0, 1], 9000)));
        assert_eq!(
            env.allowed_origins,
            ["https://a.example", "https://b.example"]
        );
        // Blank is unset: the default.
        assert!(env.debug);
        let bad = Environment::from_lookup(|name| {
            (name == "AUTHX_JANITOR_INTERVAL").then(|| "0".to_owned())
        });
        assert!(matches!(
            bad,
            Err(EnvError::Invalid {
                name: "AUTHX_JANITOR_INTERVAL",
                ..
            })
        ));
    }
}
