//! Errors: the domain enum and its stable wire form `{"detail", "code"}`.

use std::borrow::Cow;
use std::error::Error as StdError;

/// A boxed error from an infrastructure component, kept as the source of a 503.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Everything a request can fail with.
///
/// Each variant has a status, a stable snake_case [`code`](AuthError::code) and a human
/// [`detail`](AuthError::detail); `docs/errors.md` lists them all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The body is not JSON, not an object, or a field has the wrong type.
    #[error("{0}")]
    InvalidBody(String),
    /// A JSON body was sent with a content type other than JSON.
    #[error("Content-Type must be application/json")]
    UnsupportedContentType,
    /// A required field is absent.
    #[error("Field required: {0}")]
    MissingField(&'static str),
    /// A query parameter has a malformed value.
    #[error("Invalid query parameter: {0}")]
    InvalidQuery(&'static str),
    /// The body is over the size limit.
    #[error("Payload too large")]
    PayloadTooLarge,
    /// The request's header block is over the size limit
    /// ([`HEADER_LIMIT`](crate::config::HEADER_LIMIT)).
    #[error("Request header fields too large")]
    HeadersTooLarge,
    /// The email is not a valid address.
    #[error("Invalid email")]
    InvalidEmail,
    /// Another account has this email.
    #[error("Email already exists")]
    EmailExists,
    /// The username is too short or too long.
    #[error("Username must contain from 3 to 20 symbols")]
    UsernameLength,
    /// The username has characters outside `A-Z a-z 0-9 _ -`.
    #[error("Username must not contain special characters")]
    UsernameCharacters,
    /// The username is reserved.
    #[error("Wrong username")]
    UsernameReserved,
    /// Another account has this username.
    #[error("Username already exists")]
    UsernameExists,
    /// The password is too short or too long.
    #[error("Password must contain from {min} to {max} symbols")]
    PasswordLength {
        /// Fewest characters allowed.
        min: usize,
        /// Most characters allowed.
        max: usize,
    },
    /// `password1` and `password2` differ.
    #[error("Passwords mismatch")]
    PasswordMismatch,
    /// The password equals the username or the email.
    #[error("Password must differ from username and email")]
    PasswordMatchesIdentity,
    /// The CAPTCHA response was missing or refused.
    #[error("Wrong captcha")]
    WrongCaptcha,
    /// No account has this login or id.
    #[error("User not found")]
    UserNotFound,
    /// Wrong password (or unknown user with `hide_user_existence`).
    #[error("Invalid credentials")]
    InvalidCredentials,
    /// The account is banned.
    #[error("User is banned")]
    UserBanned,
    /// No token was sent.
    #[error("Not authenticated")]
    NotAuthenticated,
    /// A bad, expired, revoked or wrong-type token.
    #[error("Invalid token")]
    InvalidToken,
    /// The email is confirmed already.
    #[error("Email already confirmed")]
    EmailAlreadyConfirmed,
    /// A rate limit or lockout is in force.
    #[error("Too many requests")]
    TooManyRequests {
        /// Seconds until the request may be retried.
        retry_after: u64,
    },
    /// An emailed token is unknown, used, expired or stale.
    #[error("Invalid or expired token")]
    InvalidOrExpiredToken,
    /// The caller may not act on this resource.
    #[error("Forbidden")]
    Forbidden,
    /// The new username equals the current one.
    #[error("Enter NEW username")]
    SameUsername,
    /// An admin action aimed at the admin themself that would lock them out (banning
    /// oneself, removing one's own `admin`).
    #[error("Cannot do this to yourself")]
    SelfTarget,
    /// A permission change with an action other than `ADD`, `REMOVE` or `CLEAR`.
    #[error("Wrong action")]
    WrongAction,
    /// A permission name outside 1 to 64 characters of `a-z 0-9 _ : . -`.
    #[error("Invalid permission")]
    InvalidPermission,
    /// The current password given to change it is not the account's.
    #[error("Wrong password")]
    WrongPassword,
    /// The account has a password already (`POST /password` only sets a first one).
    #[error("Password exists")]
    PasswordExists,
    /// A wrong second-factor code (TOTP or recovery code): `401` when completing a login,
    /// `400` on the enrolment and account routes.
    #[error("Invalid code")]
    InvalidCode {
        /// Whether it completed a login (`POST /login/2fa`), which answers `401`.
        at_login: bool,
    },
    /// The password was right, and the account has a second factor: the answer carries the
    /// challenge cookie for `POST /login/2fa`, and no session.
    #[error("Second factor required")]
    SecondFactorRequired,
    /// `POST /login/2fa` without a live challenge: none sent, forged, expired, used already or
    /// ended by too many wrong codes. Log in again.
    #[error("Invalid or expired challenge")]
    InvalidChallenge,
    /// An enrolment was started while a second factor is enabled (disable it first).
    #[error("Second factor already enabled")]
    TwoFactorEnabled,
    /// The account has no second factor enabled (or no enrolment pending) to act on.
    #[error("Second factor not enabled")]
    TwoFactorNotEnabled,
    /// `redirect` of `GET /{provider}` is not a path starting with one `/`.
    #[error("Invalid redirect")]
    InvalidRedirect,
    /// A social callback's state is missing, unknown, replayed, or another browser's (sent to
    /// `{base_url}/login?error=invalid_state`, not as JSON).
    #[error("Invalid state")]
    InvalidState,
    /// The social provider refused the sign-in, the code exchange failed, or its ID token is
    /// invalid (sent to `{base_url}/login?error=provider_error`).
    #[error("Provider error")]
    ProviderError,
    /// The social provider does not vouch for the account's email (sent to
    /// `{base_url}/login?error=email_unverified`).
    #[error("Email not verified")]
    EmailUnverified,
    /// No such route, or a path parameter that is not valid.
    #[error("Not found")]
    NotFound,
    /// The route exists but not for this method.
    #[error("Method not allowed")]
    MethodNotAllowed,
    /// A cross-site request was refused by the CSRF check.
    #[error("Cross-site request refused")]
    CrossSiteRequest,
    /// A database, cache, mail queue or verifier is unreachable, or the server is saturated.
    #[error("Service unavailable")]
    Unavailable {
        /// What failed, for the log.
        #[source]
        source: BoxError,
        /// Seconds after which a retry may succeed, when known.
        retry_after: Option<u64>,
    },
}

impl AuthError {
    /// An infrastructure failure, with its cause kept for the log.
    pub fn unavailable(source: impl Into<BoxError>) -> Self {
        Self::Unavailable {
            source: source.into(),
            retry_after: None,
        }
    }

    /// A body that could not be read as sent: a broken chunked encoding, or a connection that
    /// ended before the body did (`400`, code `invalid_body`). Adapters answer this, in every
    /// framework alike.
    pub fn malformed_body() -> Self {
        Self::InvalidBody("Malformed request body".into())
    }

    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        match self {
            Self::InvalidBody(_)
            | Self::UnsupportedContentType
            | Self::MissingField(_)
            | Self::InvalidQuery(_)
            | Self::InvalidEmail
            | Self::EmailExists
            | Self::UsernameLength
            | Self::UsernameCharacters
            | Self::UsernameReserved
            | Self::UsernameExists
            | Self::PasswordLength { .. }
            | Self::PasswordMismatch
            | Self::PasswordMatchesIdentity
            | Self::WrongCaptcha
            | Self::UserBanned
            | Self::EmailAlreadyConfirmed
            | Self::SameUsername
            | Self::SelfTarget
            | Self::WrongAction
            | Self::InvalidPermission
            | Self::WrongPassword
            | Self::PasswordExists
            | Self::InvalidCode { at_login: false }
            | Self::TwoFactorEnabled
            | Self::TwoFactorNotEnabled
            | Self::InvalidRedirect
            | Self::InvalidState
            | Self::EmailUnverified => 400,
            Self::ProviderError => 502,
            Self::InvalidCredentials
            | Self::NotAuthenticated
            | Self::InvalidToken
            | Self::InvalidCode { at_login: true }
            | Self::SecondFactorRequired
            | Self::InvalidChallenge => 401,
            Self::InvalidOrExpiredToken | Self::Forbidden | Self::CrossSiteRequest => 403,
            Self::UserNotFound | Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::PayloadTooLarge => 413,
            Self::HeadersTooLarge => 431,
            Self::TooManyRequests { .. } => 429,
            Self::Unavailable { .. } => 503,
        }
    }

    /// The stable machine-readable code a front end can switch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidBody(_) => "invalid_body",
            Self::UnsupportedContentType => "unsupported_content_type",
            Self::MissingField(_) => "field_required",
            Self::InvalidQuery(_) => "invalid_query",
            Self::PayloadTooLarge => "payload_too_large",
            Self::HeadersTooLarge => "headers_too_large",
            Self::InvalidEmail => "invalid_email",
            Self::EmailExists => "email_exists",
            Self::UsernameLength => "username_length",
            Self::UsernameCharacters => "username_characters",
            Self::UsernameReserved => "username_reserved",
            Self::UsernameExists => "username_exists",
            Self::PasswordLength { .. } => "password_length",
            Self::PasswordMismatch => "password_mismatch",
            Self::PasswordMatchesIdentity => "password_matches_identity",
            Self::WrongCaptcha => "wrong_captcha",
            Self::UserNotFound => "user_not_found",
            Self::InvalidCredentials => "invalid_credentials",
            Self::UserBanned => "user_banned",
            Self::NotAuthenticated => "not_authenticated",
            Self::InvalidToken => "invalid_token",
            Self::EmailAlreadyConfirmed => "email_already_confirmed",
            Self::TooManyRequests { .. } => "too_many_requests",
            Self::InvalidOrExpiredToken => "invalid_or_expired_token",
            Self::Forbidden => "forbidden",
            Self::SameUsername => "same_username",
            Self::SelfTarget => "self_target",
            Self::WrongAction => "wrong_action",
            Self::InvalidPermission => "invalid_permission",
            Self::WrongPassword => "wrong_password",
            Self::PasswordExists => "password_exists",
            Self::InvalidCode { .. } => "invalid_code",
            Self::SecondFactorRequired => "second_factor_required",
            Self::InvalidChallenge => "invalid_challenge",
            Self::TwoFactorEnabled => "two_factor_enabled",
            Self::TwoFactorNotEnabled => "two_factor_not_enabled",
            Self::InvalidRedirect => "invalid_redirect",
            Self::InvalidState => "invalid_state",
            Self::ProviderError => "provider_error",
            Self::EmailUnverified => "email_unverified",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::CrossSiteRequest => "cross_site_request",
            Self::Unavailable { .. } => "service_unavailable",
        }
    }

    /// The human-readable message (the `detail` of the wire form).
    pub fn detail(&self) -> Cow<'static, str> {
        match self {
            Self::InvalidBody(message) => Cow::Owned(message.clone()),
            Self::MissingField(_) | Self::InvalidQuery(_) | Self::PasswordLength { .. } => {
                Cow::Owned(self.to_string())
            }
            other => Cow::Borrowed(other.static_detail()),
        }
    }

    fn static_detail(&self) -> &'static str {
        match self {
            Self::UnsupportedContentType => "Content-Type must be application/json",
            Self::PayloadTooLarge => "Payload too large",
            Self::HeadersTooLarge => "Request header fields too large",
            Self::InvalidEmail => "Invalid email",
            Self::EmailExists => "Email already exists",
            Self::UsernameLength => "Username must contain from 3 to 20 symbols",
            Self::UsernameCharacters => "Username must not contain special characters",
            Self::UsernameReserved => "Wrong username",
            Self::UsernameExists => "Username already exists",
            Self::PasswordMismatch => "Passwords mismatch",
            Self::PasswordMatchesIdentity => "Password must differ from username and email",
            Self::WrongCaptcha => "Wrong captcha",
            Self::UserNotFound => "User not found",
            Self::InvalidCredentials => "Invalid credentials",
            Self::UserBanned => "User is banned",
            Self::NotAuthenticated => "Not authenticated",
            Self::InvalidToken => "Invalid token",
            Self::EmailAlreadyConfirmed => "Email already confirmed",
            Self::TooManyRequests { .. } => "Too many requests",
            Self::InvalidOrExpiredToken => "Invalid or expired token",
            Self::Forbidden => "Forbidden",
            Self::SameUsername => "Enter NEW username",
            Self::SelfTarget => "Cannot do this to yourself",
            Self::WrongAction => "Wrong action",
            Self::InvalidPermission => "Invalid permission",
            Self::WrongPassword => "Wrong password",
            Self::PasswordExists => "Password exists",
            Self::InvalidCode { .. } => "Invalid code",
            Self::SecondFactorRequired => "Second factor required",
            Self::InvalidChallenge => "Invalid or expired challenge",
            Self::TwoFactorEnabled => "Second factor already enabled",
            Self::TwoFactorNotEnabled => "Second factor not enabled",
            Self::InvalidRedirect => "Invalid redirect",
            Self::InvalidState => "Invalid state",
            Self::ProviderError => "Provider error",
            Self::EmailUnverified => "Email not verified",
            Self::NotFound => "Not found",
            Self::MethodNotAllowed => "Method not allowed",
            Self::CrossSiteRequest => "Cross-site request refused",
            Self::Unavailable { .. } => "Service unavailable",
            Self::InvalidBody(_)
            | Self::MissingField(_)
            | Self::InvalidQuery(_)
            | Self::PasswordLength { .. } => "",
        }
    }

    /// Seconds to put in `Retry-After`, for 429 and some 503 answers.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::TooManyRequests { retry_after } => Some(*retry_after),
            Self::Unavailable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The JSON wire form: `{"detail": "...", "code": "..."}`.
    pub fn to_json(&self) -> String {
        // Written by hand so that `detail` comes first, as in the contract.
        let detail = serde_json::Value::from(self.detail().into_owned());
        format!(r#"{{"detail":{detail},"code":"{}"}}"#, self.code())
    }
}

/// Every error code with its status and an example detail, as documented in `docs/errors.md`.
pub fn error_codes() -> Vec<(&'static str, u16, String)> {
    let all = [
        AuthError::InvalidBody("Request body must be a JSON object".into()),
        AuthError::UnsupportedContentType,
        AuthError::MissingField("email"),
        AuthError::InvalidQuery("p"),
        AuthError::PayloadTooLarge,
        AuthError::HeadersTooLarge,
        AuthError::InvalidEmail,
        AuthError::EmailExists,
        AuthError::UsernameLength,
        AuthError::UsernameCharacters,
        AuthError::UsernameReserved,
        AuthError::UsernameExists,
        AuthError::PasswordLength { min: 8, max: 128 },
        AuthError::PasswordMismatch,
        AuthError::PasswordMatchesIdentity,
        AuthError::WrongCaptcha,
        AuthError::UserNotFound,
        AuthError::InvalidCredentials,
        AuthError::UserBanned,
        AuthError::NotAuthenticated,
        AuthError::InvalidToken,
        AuthError::EmailAlreadyConfirmed,
        AuthError::TooManyRequests { retry_after: 60 },
        AuthError::InvalidOrExpiredToken,
        AuthError::Forbidden,
        AuthError::SameUsername,
        AuthError::SelfTarget,
        AuthError::WrongAction,
        AuthError::InvalidPermission,
        AuthError::WrongPassword,
        AuthError::PasswordExists,
        AuthError::InvalidCode { at_login: false },
        AuthError::InvalidCode { at_login: true },
        AuthError::SecondFactorRequired,
        AuthError::InvalidChallenge,
        AuthError::TwoFactorEnabled,
        AuthError::TwoFactorNotEnabled,
        AuthError::InvalidRedirect,
        AuthError::InvalidState,
        AuthError::ProviderError,
        AuthError::EmailUnverified,
        AuthError::NotFound,
        AuthError::MethodNotAllowed,
        AuthError::CrossSiteRequest,
        AuthError::unavailable("example"),
    ];
    all.iter()
        .map(|e| (e.code(), e.status(), e.detail().into_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_snake_case_and_documented() {
        let doc = include_str!("../../../docs/errors.md");
        let codes = error_codes();
        let mut seen = std::collections::HashSet::new();
        for (code, status, detail) in &codes {
            // One code may answer with two statuses (`invalid_code`), never twice with one.
            assert!(seen.insert((*code, *status)), "duplicate code {code}");
            assert!(
                code.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{code} is not snake_case"
            );
            assert!(
                doc.contains(&format!("`{code}`")),
                "docs/errors.md does not document `{code}` ({status} {detail})"
            );
        }
    }

    #[test]
    fn unavailable_hides_its_cause_on_the_wire() {
        let e = AuthError::unavailable("connection refused to 10.0.0.1");
        assert_eq!(e.status(), 503);
        assert_eq!(
            e.to_json(),
            r#"{"detail":"Service unavailable","code":"service_unavailable"}"#
        );
    }
}
