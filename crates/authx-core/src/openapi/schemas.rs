//! The request bodies the flows read and the answers they build inline, as schemas. The flows
//! read bodies field by field in validation order ([`Fields`](crate::request)), so these types
//! are what the document says of those reads; answers with a struct of their own derive their
//! schema on that struct (`Claims`, sessions, users, bans, the blackout).

// Schema types only: nothing constructs them.
#![allow(dead_code)]

use utoipa::ToSchema;

/// `POST /register`.
#[derive(ToSchema)]
pub(crate) struct Register {
    /// An email address (at most 254 characters).
    #[schema(format = "email", max_length = 254)]
    email: String,
    /// 3 to 20 characters of `A-Z a-z 0-9 _ -`, not a reserved name.
    #[schema(pattern = "^[A-Za-z0-9_-]{3,20}$")]
    username: String,
    /// The password (8 to 128 characters by default).
    password1: String,
    /// The password again.
    password2: String,
    /// The CAPTCHA response, when a CAPTCHA is configured.
    captcha: Option<String>,
}

/// `POST /login`.
#[derive(ToSchema)]
pub(crate) struct Login {
    /// An email (contains `@`) or a username.
    login: String,
    /// The password.
    password: String,
}

/// `POST /token/refresh` and `POST /logout`: the refresh token, for clients without the
/// cookie.
#[derive(ToSchema)]
pub(crate) struct Refresh {
    /// A refresh token (the refresh cookie is read first).
    refresh: Option<String>,
}

/// `POST /{id}/change_username`.
#[derive(ToSchema)]
pub(crate) struct ChangeUsername {
    /// The new username.
    #[schema(pattern = "^[A-Za-z0-9_-]{3,20}$")]
    username: String,
}

/// `POST /forgot_password`.
#[derive(ToSchema)]
pub(crate) struct ForgotPassword {
    /// The account's address.
    #[schema(format = "email", max_length = 254)]
    email: String,
}

/// `POST /password` and `POST /password/{token}`.
#[derive(ToSchema)]
pub(crate) struct NewPassword {
    /// The new password.
    password1: String,
    /// The new password again.
    password2: String,
}

/// `PUT /password` (`oldPassword` is accepted for `old_password`).
#[derive(ToSchema)]
pub(crate) struct ChangePassword {
    /// The current password.
    old_password: String,
    /// The new password.
    password1: String,
    /// The new password again.
    password2: String,
}

/// `POST /{id}/blacklist` when banning (ignored when lifting a ban).
#[derive(ToSchema)]
pub(crate) struct Ban {
    /// Why (at most 500 characters).
    #[schema(max_length = 500)]
    reason: Option<String>,
    /// Seconds until the ban lifts itself.
    #[schema(minimum = 1)]
    expires_in: Option<u64>,
}

/// What `POST /{id}/permissions` does.
#[derive(ToSchema)]
pub(crate) enum PermissionAction {
    /// Adds `payload`.
    #[schema(rename = "ADD")]
    Add,
    /// Removes `payload`.
    #[schema(rename = "REMOVE")]
    Remove,
    /// Removes every permission.
    #[schema(rename = "CLEAR")]
    Clear,
}

/// `POST /{id}/permissions`.
#[derive(ToSchema)]
pub(crate) struct UpdatePermissions {
    /// `ADD`, `REMOVE` or `CLEAR`.
    action: PermissionAction,
    /// The permission: 1 to 64 characters of `a-z 0-9 _ : . -` (not needed for `CLEAR`).
    payload: Option<String>,
}

/// `GET /confirm`.
#[derive(ToSchema)]
pub(crate) struct ConfirmationStatus {
    /// The account's address.
    email: String,
    /// Whether it is confirmed.
    confirmed: bool,
}

/// What `GET /password` tells the front end to offer.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub(crate) enum PasswordAction {
    /// The account has no password: `POST /password` sets one.
    Set,
    /// `PUT /password` changes it.
    Change,
}

/// `GET /password`.
#[derive(ToSchema)]
pub(crate) struct PasswordStatus {
    /// `set` or `change`.
    status: PasswordAction,
}

/// `POST /token/refresh` (and token-issuing routes with `tokens_in_body`).
#[derive(ToSchema)]
pub(crate) struct Tokens {
    /// The new access token.
    access: String,
    /// The new refresh token (with `tokens_in_body` only).
    refresh: Option<String>,
}

/// `GET /id_by_username`.
#[derive(ToSchema)]
pub(crate) struct IdOfUsername {
    /// The user id.
    id: i64,
}

/// `GET /{id}/permissions`.
#[derive(ToSchema)]
pub(crate) struct Permissions {
    /// The user's permissions.
    permissions: Vec<String>,
}

/// `GET /.well-known/jwks.json`: a JSON Web Key Set (RFC 7517).
#[derive(ToSchema)]
pub(crate) struct Jwks {
    /// The public keys.
    keys: Vec<serde_json::Value>,
}

/// `POST /2fa/totp`: the current password.
#[derive(ToSchema)]
pub(crate) struct PasswordOnly {
    /// The current password.
    password: String,
}

/// `POST /2fa/totp/confirm`.
#[derive(ToSchema)]
pub(crate) struct TotpCode {
    /// The 6-digit code the authenticator app shows.
    #[schema(pattern = "^[0-9]{6}$")]
    code: String,
}

/// `POST /2fa/recovery_codes` and `DELETE /2fa`.
#[derive(ToSchema)]
pub(crate) struct PasswordAndCode {
    /// The current password.
    password: String,
    /// A TOTP code or a recovery code.
    code: String,
}

/// `POST /login/2fa`, with the challenge cookie: `code` or `recovery_code`.
#[derive(ToSchema)]
pub(crate) struct SecondFactorCode {
    /// A TOTP code (6 digits) or a recovery code.
    code: Option<String>,
    /// A recovery code only (read first when present).
    recovery_code: Option<String>,
}

/// `GET /2fa`.
#[derive(ToSchema)]
pub(crate) struct TwoFactorStatus {
    /// Whether a second factor is enabled.
    enabled: bool,
    /// The enabled methods: `["totp"]` or `[]`.
    methods: Vec<String>,
    /// Recovery codes not yet used.
    recovery_codes_left: u32,
}

/// `POST /2fa/totp`: the secret to enter into an authenticator app.
#[derive(ToSchema)]
pub(crate) struct TotpEnrolment {
    /// The secret, base32.
    secret: String,
    /// `otpauth://totp/<site>:<username>?secret=...&issuer=<site>`.
    otpauth_uri: String,
}

/// Ten single-use recovery codes, shown once.
#[derive(ToSchema)]
pub(crate) struct RecoveryCodes {
    /// `xxxx-xxxx-xxxx-xxxx` each.
    recovery_codes: Vec<String>,
}
