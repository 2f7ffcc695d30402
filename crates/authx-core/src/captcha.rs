//! CAPTCHA verification for registration: the [`CaptchaVerifier`] trait the register flow
//! calls and, with the `captcha` feature, `SiteVerify`, a client of the siteverify protocol
//! spoken by reCAPTCHA, hCaptcha and Cloudflare Turnstile.

use std::net::IpAddr;
use std::time::Duration;

use async_trait::async_trait;

use crate::error::BoxError;

/// Checks the CAPTCHA response a client sent with its registration.
///
/// Held as `Arc<dyn CaptchaVerifier>`; `Ok(false)` means the response was refused (the client
/// gets `400 Wrong captcha`), `Err` that the verifier could not give an answer (`503`).
///
/// ```
/// use std::net::IpAddr;
/// use std::sync::Arc;
/// use authx_core::captcha::{CaptchaError, CaptchaVerifier};
///
/// /// Accepts one fixed response: for tests of the register flow.
/// struct Fixed(&'static str);
///
/// #[async_trait::async_trait]
/// impl CaptchaVerifier for Fixed {
///     async fn verify(&self, response: &str, _: Option<IpAddr>) -> Result<bool, CaptchaError> {
///         Ok(response == self.0)
///     }
/// }
///
/// let verifier: Arc<dyn CaptchaVerifier> = Arc::new(Fixed("ok"));
/// # drop(verifier);
/// ```
#[async_trait]
pub trait CaptchaVerifier: Send + Sync {
    /// Verifies `response` (the token the CAPTCHA widget gave the client), passing on the
    /// client's address when known.
    async fn verify(&self, response: &str, remote_ip: Option<IpAddr>)
    -> Result<bool, CaptchaError>;
}

/// The verifier gave no usable answer: the caller answers `503`, not `Wrong captcha`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaptchaError {
    /// No complete answer within the timeout.
    #[error("CAPTCHA verification timed out after {0:?}")]
    Timeout(Duration),
    /// The verifier could not be reached (DNS, connection, TLS).
    #[error("CAPTCHA verifier unreachable")]
    Unreachable(#[source] BoxError),
    /// The verifier answered with an HTTP status other than 2xx.
    #[error("CAPTCHA verifier answered with HTTP status {0}")]
    Status(u16),
    /// The answer was not siteverify JSON (`{"success": bool, ...}`).
    #[error("CAPTCHA verifier sent an invalid answer")]
    InvalidAnswer(#[source] BoxError),
    /// The verifier's settings cannot work (bad URL, empty secret).
    #[error("invalid CAPTCHA verifier settings")]
    Settings(#[source] BoxError),
}

#[cfg(feature = "captcha")]
pub use site_verify::{SiteVerify, SiteVerifySettings};

#[cfg(feature = "captcha")]
mod site_verify {
    use std::fmt;
    use std::net::IpAddr;
    use std::time::Duration;

    use async_trait::async_trait;
    use reqwest::{Client, Url, redirect};

    use super::{CaptchaError, CaptchaVerifier};
    use crate::secret::Secret;

    /// The most bytes of a siteverify answer read; real answers are a few hundred.
    const MAX_ANSWER_BYTES: usize = 64 * 1024;

    /// Where and how [`SiteVerify`] checks responses (`AUTHX_RECAPTCHA_SECRET`,
    /// `AUTHX_CAPTCHA_VERIFY_URL` in the examples).
    ///
    /// ```
    /// use std::time::Duration;
    /// use authx_core::captcha::SiteVerifySettings;
    ///
    /// let mut settings = SiteVerifySettings::turnstile("0x4AAA...");
    /// settings.timeout = Duration::from_secs(5);
    /// assert_eq!(settings.url, SiteVerifySettings::TURNSTILE_URL);
    /// ```
    #[derive(Debug, Clone, PartialEq, Eq)]
    #[non_exhaustive]
    pub struct SiteVerifySettings {
        /// The siteverify endpoint.
        pub url: String,
        /// The site's secret key, sent as the `secret` form field.
        pub secret: Secret,
        /// Bound on one whole verification: connect, request and answer. Default 10 s.
        pub timeout: Duration,
        /// Bound on establishing the connection (DNS, TCP, TLS). Default 5 s.
        pub connect_timeout: Duration,
    }

    impl SiteVerifySettings {
        /// Google reCAPTCHA's endpoint (v2 and v3).
        pub const RECAPTCHA_URL: &'static str = "https://www.google.com/recaptcha/api/siteverify";
        /// hCaptcha's endpoint.
        pub const HCAPTCHA_URL: &'static str = "https://api.hcaptcha.com/siteverify";
        /// Cloudflare Turnstile's endpoint.
        pub const TURNSTILE_URL: &'static str =
            "https://challenges.cloudflare.com/turnstile/v0/siteverify";
        /// The default bound on a whole verification.
        pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
        /// The default bound on connecting.
        pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

        /// Settings for any siteverify endpoint (a self-hosted or test verifier).
        pub fn custom(url: impl Into<String>, secret: impl Into<Secret>) -> Self {
            Self {
                url: url.into(),
                secret: secret.into(),
                timeout: Self::DEFAULT_TIMEOUT,
                connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            }
        }

        /// Settings for Google reCAPTCHA.
        pub fn recaptcha(secret: impl Into<Secret>) -> Self {
            Self::custom(Self::RECAPTCHA_URL, secret)
        }

        /// Settings for hCaptcha.
        pub fn hcaptcha(secret: impl Into<Secret>) -> Self {
            Self::custom(Self::HCAPTCHA_URL, secret)
        }

        /// Settings for Cloudflare Turnstile.
        pub fn turnstile(secret: impl Into<Secret>) -> Self {
            Self::custom(Self::TURNSTILE_URL, secret)
        }
    }

    /// Verifies CAPTCHA responses with the siteverify protocol: a form POST of `secret`,
    /// `response` and `remoteip`, answered by JSON `{"success": bool, ...}`.
    ///
    /// An empty response is refused without a request. Redirects are not followed (the form
    /// carries the secret). Any answer other than a 2xx with a boolean `success` is an error.
    ///
    /// ```no_run
    /// # async fn check() -> Result<(), authx_core::captcha::CaptchaError> {
    /// use authx_core::captcha::{CaptchaVerifier, SiteVerify, SiteVerifySettings};
    ///
    /// let verifier = SiteVerify::new(SiteVerifySettings::hcaptcha("0x0000..."))?;
    /// let human = verifier.verify("token-from-the-widget", None).await?;
    /// # let _ = human; Ok(()) }
    /// ```
    pub struct SiteVerify {
        client: Client,
        url: Url,
        secret: Secret,
        timeout: Duration,
    }

    impl fmt::Debug for SiteVerify {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("SiteVerify")
                .field("url", &self.url.as_str())
                .field("secret", &self.secret)
                .field("timeout", &self.timeout)
                .finish_non_exhaustive()
        }
    }

    impl SiteVerify {
        /// Checks the settings and builds the HTTP client. Connects to nothing.
        pub fn new(settings: SiteVerifySettings) -> Result<Self, CaptchaError> {
            let url = Url::parse(settings.url.trim()).map_err(|e| {
                CaptchaError::Settings(format!("verify URL {:?}: {e}", settings.url).into())
            })?;
            if !matches!(url.scheme(), "https" | "http") {
                return Err(CaptchaError::Settings(
                    format!("verify URL {url} is neither https nor http").into(),
                ));
            }
            if settings.secret.expose().is_empty() {
                return Err(CaptchaError::Settings("the CAPTCHA secret is empty".into()));
            }
            if settings.timeout.is_zero() || settings.connect_timeout.is_zero() {
                return Err(CaptchaError::Settings(
                    "CAPTCHA timeouts must be greater than zero".into(),
                ));
            }
            let client = Client::builder()
                .connect_timeout(settings.connect_timeout)
                .timeout(settings.timeout)
                .redirect(redirect::Policy::none())
                .user_agent(concat!("authx/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| CaptchaError::Settings(Box::new(e)))?;
            Ok(Self {
                client,
                url,
                secret: settings.secret,
                timeout: settings.timeout,
            })
        }

        async fn ask(&self, form: &[(&str, &str)]) -> Result<bool, CaptchaError> {
            let mut answer = self
                .client
                .post(self.url.clone())
                .form(form)
                .send()
                .await
                .map_err(|e| self.transport_error(e))?;
            let status = answer.status();
            if !status.is_success() {
                return Err(CaptchaError::Status(status.as_u16()));
            }
            let mut body = Vec::new();
            while let Some(chunk) = answer.chunk().await.map_err(|e| self.transport_error(e))? {
                if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                    return Err(CaptchaError::InvalidAnswer(
                        format!("answer longer than {MAX_ANSWER_BYTES} bytes").into(),
                    ));
                }
                body.extend_from_slice(&chunk);
            }
            let answer: Answer = serde_json::from_slice(&body)
                .map_err(|e| CaptchaError::InvalidAnswer(Box::new(e)))?;
            if !answer.success {
                tracing::debug!(error_codes = %answer.error_codes, "CAPTCHA response refused");
            }
            Ok(answer.success)
        }

        fn transport_error(&self, error: reqwest::Error) -> CaptchaError {
            if error.is_timeout() && !error.is_connect() {
                CaptchaError::Timeout(self.timeout)
            } else {
                CaptchaError::Unreachable(Box::new(error))
            }
        }
    }

    /// The fields of a siteverify answer that matter here.
    #[derive(serde::Deserialize)]
    struct Answer {
        success: bool,
        #[serde(default, rename = "error-codes")]
        error_codes: serde_json::Value,
    }

    #[async_trait]
    impl CaptchaVerifier for SiteVerify {
        async fn verify(
            &self,
            response: &str,
            remote_ip: Option<IpAddr>,
        ) -> Result<bool, CaptchaError> {
            let response = response.trim();
            if response.is_empty() {
                return Ok(false);
            }
            // An IPv4 client seen through a dual-stack socket is sent as IPv4.
            let remote_ip = remote_ip.map(|ip| ip.to_canonical().to_string());
            let mut form = vec![("secret", self.secret.expose()), ("response", response)];
            if let Some(ip) = &remote_ip {
                form.push(("remoteip", ip));
            }
            tokio::time::timeout(self.timeout, self.ask(&form))
                .await
                .unwrap_or(Err(CaptchaError::Timeout(self.timeout)))
        }
    }
}

#[cfg(all(test, feature = "captcha"))]
mod tests {
    //! Against a small HTTP/1.1 server on 127.0.0.1 that plays the siteverify endpoint.

    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    use std::sync::Arc;
    use std::time::Duration;

    use authx_testkit::ReservedPort;
    use authx_testkit::siteverify::{Behaviour, SiteVerifyServer, VerifyRequest};

    use super::*;
    use crate::secret::Secret;

    /// A secret and a response with characters the form encoding must escape.
    const SECRET: &str = "0x4A secret+/=&";
    const RESPONSE: &str = "03AFcWeA token+/=&é";

    fn verifier(url: &str, timeout: Duration) -> SiteVerify {
        let mut settings = SiteVerifySettings::custom(url, SECRET);
        settings.timeout = timeout;
        settings.connect_timeout = timeout;
        SiteVerify::new(settings).expect("valid settings")
    }

    async fn verify_once(behaviour: Behaviour) -> (Result<bool, CaptchaError>, Vec<VerifyRequest>) {
        let server = SiteVerifyServer::start(behaviour).await;
        let ip = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7));
        let outcome = verifier(server.url(), Duration::from_secs(10))
            .verify(RESPONSE, Some(ip))
            .await;
        (outcome, server.requests())
    }

    #[tokio::test]
    async fn success_is_accepted_and_the_form_carries_all_fields() {
        let answer =
            r#"{"success": true, "challenge_ts": "2026-01-01T00:00:00Z", "hostname": "localhost"}"#;
        let (outcome, requests) = verify_once(Behaviour::Answer(200, answer)).await;
        assert!(outcome.expect("an answer"));

        assert_eq!(requests.len(), 1, "{requests:?}");
        let request = &requests[0];
        assert_eq!(request.request_line, "POST /siteverify HTTP/1.1");
        assert_eq!(request.content_type, "application/x-www-form-urlencoded");
        assert_eq!(request.field("secret"), Some(SECRET));
        assert_eq!(request.field("response"), Some(RESPONSE));
        assert_eq!(request.field("remoteip"), Some("203.0.113.7"));
        assert_eq!(request.fields.len(), 3, "{:?}", request.fields);
    }

    #[tokio::test]
    async fn refusal_is_false_not_an_error() {
        let answer = r#"{"success": false, "error-codes": ["invalid-input-response"]}"#;
        let (outcome, requests) = verify_once(Behaviour::Answer(200, answer)).await;
        assert!(!outcome.expect("an answer"));
        assert_eq!(requests.len(), 1);
    }

    #[tokio::test]
    async fn remote_ip_is_optional_and_sent_canonical() {
        let server = SiteVerifyServer::start(Behaviour::ACCEPT).await;
        let verifier = verifier(server.url(), Duration::from_secs(10));

        assert!(verifier.verify(RESPONSE, None).await.expect("an answer"));
        let mapped = IpAddr::V6(Ipv4Addr::new(198, 51, 100, 1).to_ipv6_mapped());
        assert!(
            verifier
                .verify(RESPONSE, Some(mapped))
                .await
                .expect("an answer")
        );
        let v6 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
        assert!(
            verifier
                .verify(RESPONSE, Some(v6))
                .await
                .expect("an answer")
        );

        let requests = server.requests();
        let ips: Vec<_> = requests.iter().map(|r| r.field("remoteip")).collect();
        assert_eq!(ips, [None, Some("198.51.100.1"), Some("2001:db8::1")]);
    }

    #[tokio::test]
    async fn an_empty_response_is_refused_without_asking() {
        let server = SiteVerifyServer::start(Behaviour::ACCEPT).await;
        let verifier = verifier(server.url(), Duration::from_secs(10));
        assert!(!verifier.verify("", None).await.expect("an answer"));
        assert!(!verifier.verify("  ", None).await.expect("an answer"));
        assert!(server.requests().is_empty());
    }

    #[tokio::test]
    async fn a_silent_verifier_times_out() {
        let server = SiteVerifyServer::start(Behaviour::Silent).await;
        let verifier = verifier(server.url(), Duration::from_secs(1));
        // The outer bound only turns a hang into a failure.
        let outcome =
            tokio::time::timeout(Duration::from_secs(30), verifier.verify(RESPONSE, None))
                .await
                .expect("verification must end by itself");
        assert!(
            matches!(outcome, Err(CaptchaError::Timeout(t)) if t == Duration::from_secs(1)),
            "{outcome:?}"
        );
        assert_eq!(server.requests().len(), 1);
    }

    #[tokio::test]
    async fn garbage_answers_are_errors() {
        for answer in [
            "<html>busy</html>",
            r#"{"ok": true}"#,
            r#"{"success": "true"}"#,
            "",
        ] {
            let (outcome, _) = verify_once(Behaviour::Answer(200, answer)).await;
            assert!(
                matches!(outcome, Err(CaptchaError::InvalidAnswer(_))),
                "{answer:?} gave {outcome:?}"
            );
        }
    }

    #[tokio::test]
    async fn error_statuses_and_redirects_are_errors() {
        let (outcome, _) = verify_once(Behaviour::Answer(500, r#"{"success":true}"#)).await;
        assert!(
            matches!(outcome, Err(CaptchaError::Status(500))),
            "{outcome:?}"
        );
        // A redirect is not followed: the form carries the secret.
        let (outcome, requests) = verify_once(Behaviour::Answer(307, "")).await;
        assert!(
            matches!(outcome, Err(CaptchaError::Status(307))),
            "{outcome:?}"
        );
        assert_eq!(requests.len(), 1);
    }

    #[tokio::test]
    async fn an_unreachable_verifier_is_an_error() {
        // Bound, not listening: connections are refused.
        let down = ReservedPort::new();
        let url = format!("http://{}/siteverify", down.addr());
        let outcome = verifier(&url, Duration::from_secs(5))
            .verify(RESPONSE, None)
            .await;
        assert!(
            matches!(outcome, Err(CaptchaError::Unreachable(_))),
            "{outcome:?}"
        );
    }

    #[test]
    fn presets_point_at_the_providers() {
        let recaptcha = SiteVerifySettings::recaptcha("s");
        assert_eq!(
            recaptcha.url,
            "https://www.google.com/recaptcha/api/siteverify"
        );
        assert_eq!(recaptcha.timeout, Duration::from_secs(10));
        assert_eq!(
            SiteVerifySettings::hcaptcha("s").url,
            "https://api.hcaptcha.com/siteverify"
        );
        assert_eq!(
            SiteVerifySettings::turnstile("s").url,
            "https://challenges.cloudflare.com/turnstile/v0/siteverify"
        );
        for settings in [
            SiteVerifySettings::recaptcha("s"),
            SiteVerifySettings::hcaptcha("s"),
            SiteVerifySettings::turnstile("s"),
        ] {
            SiteVerify::new(settings).expect("presets are valid");
        }
    }

    #[test]
    fn unusable_settings_are_refused_and_the_secret_never_shows() {
        for settings in [
            SiteVerifySettings::custom("not a url", "s"),
            SiteVerifySettings::custom("ftp://example.com/siteverify", "s"),
            SiteVerifySettings::recaptcha(""),
        ] {
            let error = SiteVerify::new(settings).expect_err("invalid settings");
            assert!(matches!(error, CaptchaError::Settings(_)), "{error:?}");
        }
        let mut zero = SiteVerifySettings::recaptcha("s");
        zero.timeout = Duration::ZERO;
        assert!(SiteVerify::new(zero).is_err());

        let settings = SiteVerifySettings::hcaptcha(Secret::new(SECRET));
        assert!(!format!("{settings:?}").contains(SECRET));
        let verifier = SiteVerify::new(settings).expect("valid settings");
        assert!(!format!("{verifier:?}").contains(SECRET));
    }

    #[test]
    fn the_trait_is_object_safe() {
        fn assert_shareable<T: Send + Sync + ?Sized>() {}
        assert_shareable::<dyn CaptchaVerifier>();
        let verifier = SiteVerify::new(SiteVerifySettings::recaptcha("s")).expect("valid");
        let _shared: Arc<dyn CaptchaVerifier> = Arc::new(verifier);
    }
}
