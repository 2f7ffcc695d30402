//! The service: one [`Auth`] handle, cheap to clone, that runs every flow of the contract on
//! plain request data. [`Auth::serve`] resolves a request against the route table, checks its
//! CSRF rule and guard, and runs the flow: one file per flow or concern.

mod admin;
mod bans;
mod client_ip;
mod confirm;
mod csrf;
mod dispatch;
mod email_tokens;
mod forgot_password;
mod janitor;
mod jwks;
mod login;
mod password;
mod password_check;
mod refresh;
mod register;
mod search;
mod sessions;
mod social;
mod tokens;
mod two_factor;
mod username;

use std::net::IpAddr;
use std::sync::Arc;

use tokio::sync::{Notify, mpsc};

use crate::clock::{Clock, Timestamp};
use crate::config::{AuthBuilder, AuthConfig, ConfigError, Parts};
use crate::cookie::CookieJar;
use crate::error::AuthError;
use crate::limit::LimitStore;
use crate::mail::Mailer;
use crate::password::PasswordHasher;
use crate::request::{AuthRequest, AuthResponse};
use crate::store::{Repo, StoreError, UniqueField};
use crate::token::JwtBackend;

pub use janitor::JanitorReport;

/// The flows' answer types, for the OpenAPI document's schemas.
#[cfg(feature = "openapi")]
pub(crate) mod answers {
    pub(crate) use super::admin::Blackout;
    pub(crate) use super::bans::Blacklist;
    pub(crate) use super::search::{SearchPage, ShownUser};
    pub(crate) use super::sessions::ListedSession;
}

/// The authx service. Build it once with [`Auth::builder`], clone it into every handler.
#[derive(Clone)]
pub struct Auth {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) config: AuthConfig,
    pub(crate) repo: Arc<dyn Repo>,
    pub(crate) tokens: JwtBackend,
    pub(crate) passwords: PasswordHasher,
    pub(crate) cookies: CookieJar,
    pub(crate) mailer: Arc<dyn Mailer>,
    pub(crate) limits: Arc<dyn LimitStore>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) outbox_wakeup: Arc<Notify>,
    /// This instance's name for leases (the janitor's).
    pub(crate) holder: String,
    pub(crate) captcha: Option<Arc<dyn crate::captcha::CaptchaVerifier>>,
    /// The social login providers, by name.
    pub(crate) providers: Vec<Arc<dyn crate::social::IdentityProvider>>,
    /// Addresses of `POST /forgot_password`, for the task that queues their mail.
    pub(crate) reset_requests: mpsc::Sender<forgot_password::ResetRequest>,
    /// Seals TOTP secrets and challenges; `Some` exactly when the second factor is enabled.
    pub(crate) sealer: Option<crate::two_factor::Sealer>,
}

pub(crate) fn secs(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

impl From<StoreError> for AuthError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(UniqueField::Email) => Self::EmailExists,
            StoreError::Conflict(UniqueField::Username) => Self::UsernameExists,
            other => Self::unavailable(other),
        }
    }
}

impl Auth {
    /// Starts a configuration.
    pub fn builder() -> AuthBuilder {
        AuthBuilder::default()
    }

    pub(crate) fn from_parts(parts: Parts) -> Result<Self, ConfigError> {
        let Parts {
            config,
            repo,
            tokens,
            mailer,
            limits,
            clock,
            captcha,
            sealer,
            providers,
        } = parts;
        let passwords = PasswordHasher::new(
            config.hashing.params,
            config.hashing.concurrency,
            config.hashing.queue,
        )?;
        let cookies = CookieJar::new(config.cookies.clone(), !config.debug)?;
        let (reset_requests, reset_queue) = forgot_password::queue(config.forgot_password_queue);
        let auth = Self {
            inner: Arc::new(Inner {
                config,
                repo,
                tokens,
                passwords,
                cookies,
                mailer,
                limits,
                clock,
                outbox_wakeup: Arc::new(Notify::new()),
                holder: crate::random::token(12),
                captcha,
                providers,
                reset_requests,
                sealer,
            }),
        };
        let config = &auth.inner.config;
        let resets = config.routers.contains(crate::routes::RouterKind::Password);
        let background = config.mail_worker || config.janitor.enabled || resets;
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let weak = Arc::downgrade(&auth.inner);
                if config.mail_worker {
                    runtime.spawn(crate::mail::outbox::run(weak.clone()));
                }
                if config.janitor.enabled {
                    runtime.spawn(janitor::run(weak.clone()));
                }
                if resets {
                    runtime.spawn(forgot_password::run(weak.clone(), reset_queue));
                }
                runtime.spawn(sessions::load_global_cutoff(weak));
            }
            Err(_) if background => {
                return Err(ConfigError::Invalid(
                    "build() must run inside a tokio runtime (it starts the mail worker, the \
                     janitor and the forgot-password task)"
                        .into(),
                ));
            }
            Err(_) => {}
        }
        Ok(auth)
    }

    /// The configuration in force.
    pub fn config(&self) -> &AuthConfig {
        &self.inner.config
    }

    /// The social login providers configured, in order: each one's name (its path in the
    /// social router) and its label for people (`("github", "GitHub")`). Empty when social
    /// login is not enabled.
    pub fn social_providers(&self) -> Vec<(&str, &str)> {
        if !self
            .inner
            .config
            .routers
            .contains(crate::routes::RouterKind::Social)
        {
            return Vec::new();
        }
        self.inner
            .providers
            .iter()
            .map(|p| (p.name(), p.label()))
            .collect()
    }

    /// The token backend (to verify tokens elsewhere, or publish the public key).
    pub fn tokens(&self) -> &JwtBackend {
        &self.inner.tokens
    }

    /// The password hasher (its [`verifications`](PasswordHasher::verifications) count what
    /// password checks cost).
    pub fn passwords(&self) -> &PasswordHasher {
        &self.inner.passwords
    }

    /// The current time of the service's clock, in seconds.
    pub fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    /// Wakes the outbox worker, so that mail due now goes out at once instead of at the
    /// worker's next round (it sleeps until the next mail is due, at most 30 s).
    ///
    /// Mail whose retry is not due yet stays scheduled: this does not skip the backoff. The
    /// worker measures its sleep in real time, so after moving an injected
    /// [`ManualClock`](crate::clock::ManualClock) forward, call this to have it look again.
    /// Mail queued elsewhere (another instance, a script writing the outbox) is picked up the
    /// same way. Does nothing when this instance runs no worker
    /// ([`mail_worker(false)`](crate::AuthBuilder::mail_worker)).
    pub fn wake_mail_worker(&self) {
        self.inner.outbox_wakeup.notify_one();
    }

    /// The error answer for `error`, for adapters' own rejections (body limit, bad request).
    pub fn error_response(&self, error: &AuthError) -> AuthResponse {
        AuthResponse::from_error(error)
    }

    /// Counts one event of `key` against `limit` (a `max` of 0 turns it off): `429 Too many
    /// requests` once `limit.max` events were counted in the last `limit.window` (a sliding
    /// window), with `Retry-After` the seconds until one is counted again, rounded up. A
    /// refused event is not counted. Every rate limit of every route goes through here.
    pub(crate) async fn throttle(
        &self,
        key: &str,
        limit: crate::limit::RateLimit,
    ) -> Result<(), AuthError> {
        if limit.max == 0 {
            return Ok(());
        }
        let now_ms = self.inner.clock.now_ms();
        match self.inner.limits.hit(key, limit, now_ms).await? {
            crate::limit::Hit::Counted => Ok(()),
            crate::limit::Hit::Refused { retry_in_ms } => Err(AuthError::TooManyRequests {
                retry_after: retry_in_ms.div_ceil(1000).max(1),
            }),
        }
    }

    /// The client's IP: the socket peer, or, when the peer is a trusted proxy, the right-most
    /// address of `X-Forwarded-For` (or `Forwarded`) that is not a trusted proxy.
    pub fn client_ip(&self, req: &AuthRequest) -> IpAddr {
        client_ip::resolve(&self.inner.config.trusted_proxies, req)
    }

    /// The client as rate limits key it: its IPv4 address (an IPv4-mapped IPv6 address counts
    /// as the IPv4 address), or the /64 network of its IPv6 address, since one IPv6 host
    /// holds a whole /64 to pick addresses from (`2001:db8:1:2::/64`).
    pub fn client_network(&self, req: &AuthRequest) -> String {
        client_ip::rate_key(self.client_ip(req))
    }
}
