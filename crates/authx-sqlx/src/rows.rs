//! The rows the statements return, by name, and how they become the core's types.

use authx_core::mail::Mail;
use authx_core::store::{
    BannedUser, EmailToken, OutboxMail, RefreshRotation, RotatedSession, RotationOutcome,
    SessionInfo, User, UserDetails,
};

/// A list of names as a column (a user's permissions, its linked providers): a JSON array in
/// SQLite and MySQL, `text[]` in PostgreSQL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Permissions(pub(crate) Vec<String>);

/// A row of `users`.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct UserRow {
    id: i64,
    email: String,
    username: String,
    password_hash: Option<String>,
    password_changed_at: Option<i64>,
    active: bool,
    confirmed: bool,
    permissions: Permissions,
    created_at: i64,
    last_login: Option<i64>,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        Self {
            id: row.id,
            email: row.email,
            username: row.username,
            password_hash: row.password_hash,
            password_changed_at: row.password_changed_at,
            active: row.active,
            confirmed: row.confirmed,
            permissions: row.permissions.0,
            created_at: row.created_at,
            last_login: row.last_login,
        }
    }
}

/// A user's ban state after a toggle.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct BanStateRow {
    pub(crate) active: bool,
}

/// A user under a ban in force.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct BannedUserRow {
    id: i64,
    username: String,
    ban_reason: Option<String>,
    banned_at: Option<i64>,
    ban_expires_at: Option<i64>,
}

impl From<BannedUserRow> for BannedUser {
    fn from(row: BannedUserRow) -> Self {
        Self {
            id: row.id,
            username: row.username,
            reason: row.ban_reason,
            banned_at: row.banned_at,
            expires_at: row.ban_expires_at,
        }
    }
}

/// A user's permissions after a change.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct PermissionsRow {
    pub(crate) permissions: Permissions,
}

/// A user as an admin sees it: no hash, no secret.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct UserDetailsRow {
    id: i64,
    username: String,
    email: String,
    active: bool,
    confirmed: bool,
    permissions: Permissions,
    providers: Permissions,
    has_password: bool,
    two_factor: bool,
    created_at: i64,
    last_login: Option<i64>,
}

impl From<UserDetailsRow> for UserDetails {
    fn from(row: UserDetailsRow) -> Self {
        Self {
            id: row.id,
            username: row.username,
            email: row.email,
            active: row.active,
            confirmed: row.confirmed,
            permissions: row.permissions.0,
            providers: row.providers.0,
            has_password: row.has_password,
            two_factor: row.two_factor,
            created_at: row.created_at,
            last_login: row.last_login,
        }
    }
}

/// A social sign-in under way.
#[derive(sqlx::FromRow)]
pub(crate) struct SignInRow {
    pub(crate) state_hash: String,
    pub(crate) provider: String,
    pub(crate) pkce_verifier: String,
    pub(crate) nonce: String,
    pub(crate) redirect: String,
    pub(crate) expires_at: i64,
}

impl From<SignInRow> for authx_core::store::PendingSignIn {
    fn from(row: SignInRow) -> Self {
        Self {
            state_hash: row.state_hash,
            provider: row.provider,
            pkce_verifier: row.pkce_verifier,
            nonce: row.nonce,
            redirect: row.redirect,
            expires_at: row.expires_at,
        }
    }
}

/// A number of rows.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct CountRow {
    pub(crate) total: i64,
}

/// The blackout record.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct BlackoutRow {
    pub(crate) set_at: i64,
}

/// The `LIKE` pattern (escape character `\`) matching `text` anywhere, every character of it
/// literally: `%`, `_` and `\` are escaped, so no input is a wildcard.
pub(crate) fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// An unused, unexpired emailed token.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct EmailTokenRow {
    user_id: i64,
    email: String,
    state: String,
    created_at: i64,
    expires_at: i64,
}

impl From<EmailTokenRow> for EmailToken {
    fn from(row: EmailTokenRow) -> Self {
        Self {
            user_id: row.user_id,
            email: row.email,
            state: row.state,
            created_at: row.created_at,
            expires_at: row.expires_at,
        }
    }
}

/// A session whose refresh token was just rotated.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct RotatedRow {
    created_at_ms: i64,
    expires_at: i64,
    absolute_expires_at: i64,
}

impl From<RotatedRow> for RotatedSession {
    fn from(row: RotatedRow) -> Self {
        Self {
            opened_ms: row.created_at_ms,
            expires_at: row.expires_at,
            absolute_expires_at: row.absolute_expires_at,
        }
    }
}

/// Why a refresh token was not rotated: the session's tokens and whether it is live.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct RefreshStateRow {
    refresh_jti: String,
    previous_jti: Option<String>,
    rotated_at: Option<i64>,
    live: bool,
}

impl RefreshStateRow {
    /// What a refused rotation found. A token whose signature and session id are ours but that
    /// is neither current nor the one replaced within the grace period was issued in this
    /// session and replaced since: a replay.
    pub(crate) fn outcome(row: Option<Self>, rotation: &RefreshRotation) -> RotationOutcome {
        let Some(row) = row.filter(|row| row.live) else {
            return RotationOutcome::Invalid;
        };
        if row.refresh_jti == rotation.presented_jti {
            // Current and live, yet the rotation matched nothing: a concurrent change we
            // cannot explain. Refused without touching the session.
            return RotationOutcome::Invalid;
        }
        let within_grace = row
            .rotated_at
            .is_some_and(|at| rotation.now.saturating_sub(at) <= rotation.grace_seconds);
        if within_grace && row.previous_jti.as_deref() == Some(rotation.presented_jti.as_str()) {
            RotationOutcome::RecentlyRotated
        } else {
            RotationOutcome::Replayed
        }
    }
}

/// A live session as listed.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct SessionInfoRow {
    sid: String,
    public_id: String,
    created_at_ms: i64,
    rotated_at: Option<i64>,
    login_ip: String,
    login_user_agent: String,
    last_ip: Option<String>,
    last_user_agent: Option<String>,
}

impl From<SessionInfoRow> for SessionInfo {
    fn from(row: SessionInfoRow) -> Self {
        Self {
            sid: row.sid,
            public_id: row.public_id,
            created_at_ms: row.created_at_ms,
            rotated_at: row.rotated_at,
            login_ip: row.login_ip,
            login_user_agent: row.login_user_agent,
            last_ip: row.last_ip,
            last_user_agent: row.last_user_agent,
        }
    }
}

/// The global session cut-off.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct CutoffRow {
    pub(crate) cutoff_ms: i64,
}

/// When the next pending mail is due.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct DueRow {
    pub(crate) due: Option<i64>,
}

/// A claimed mail.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct MailRow {
    id: i64,
    attempts: i64,
    recipient: String,
    subject: String,
    body_text: String,
    body_html: String,
}

impl MailRow {
    /// The claimed mail, oldest first (RETURNING gives no order).
    pub(crate) fn claimed(rows: Vec<Self>, claim: &str) -> Vec<OutboxMail> {
        let mut mails: Vec<OutboxMail> = rows
            .into_iter()
            .map(|row| OutboxMail {
                id: row.id,
                claim: claim.to_owned(),
                // A CHECK keeps attempts non-negative; saturate rather than fail on absurd
                // counts.
                attempts: u32::try_from(row.attempts).unwrap_or(u32::MAX),
                mail: Mail {
                    to: row.recipient,
                    subject: row.subject,
                    text: row.body_text,
                    html: row.body_html,
                },
            })
            .collect();
        mails.sort_by_key(|m| m.id);
        mails
    }
}

/// A fresh claim id for a batch of mail: 128 random bits, hex.
pub(crate) fn new_claim() -> Result<String, getrandom::Error> {
    let mut bytes = [0_u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(authx_core::random::hex(&bytes))
}

/// At most this many bytes of a delivery error are kept.
const MAX_ERROR_LEN: usize = 2000;

/// The delivery error as stored: bounded, cut on a character boundary.
pub(crate) fn stored_error(error: &str) -> &str {
    if error.len() <= MAX_ERROR_LEN {
        return error;
    }
    let mut end = MAX_ERROR_LEN;
    while !error.is_char_boundary(end) {
        end -= 1;
    }
    &error[..end]
}

#[cfg(feature = "sqlite")]
mod sqlite_permissions {
    use sqlx::error::BoxDynError;
    use sqlx::sqlite::{SqliteTypeInfo, SqliteValueRef};
    use sqlx::{Decode, Sqlite, Type};

    use super::Permissions;

    impl Type<Sqlite> for Permissions {
        fn type_info() -> SqliteTypeInfo {
            <String as Type<Sqlite>>::type_info()
        }

        fn compatible(ty: &SqliteTypeInfo) -> bool {
            <String as Type<Sqlite>>::compatible(ty)
        }
    }

    impl<'r> Decode<'r, Sqlite> for Permissions {
        fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
            let json = <&str as Decode<Sqlite>>::decode(value)?;
            Ok(Self(serde_json::from_str(json)?))
        }
    }
}

#[cfg(feature = "postgres")]
mod postgres_permissions {
    use sqlx::error::BoxDynError;
    use sqlx::postgres::{PgTypeInfo, PgValueRef};
    use sqlx::{Decode, Postgres, Type};

    use super::Permissions;

    impl Type<Postgres> for Permissions {
        fn type_info() -> PgTypeInfo {
            <Vec<String> as Type<Postgres>>::type_info()
        }

        fn compatible(ty: &PgTypeInfo) -> bool {
            <Vec<String> as Type<Postgres>>::compatible(ty)
        }
    }

    impl<'r> Decode<'r, Postgres> for Permissions {
        fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
            Ok(Self(<Vec<String> as Decode<Postgres>>::decode(value)?))
        }
    }
}

#[cfg(feature = "mysql")]
mod mysql_permissions {
    use sqlx::error::BoxDynError;
    use sqlx::mysql::{MySqlTypeInfo, MySqlValueRef};
    use sqlx::{Decode, MySql, Type, TypeInfo as _};

    use super::Permissions;

    /// A JSON column (MySQL's `JSON`; MariaDB's is `LONGTEXT`), or a literal such as `'[]'`.
    impl Type<MySql> for Permissions {
        fn type_info() -> MySqlTypeInfo {
            <String as Type<MySql>>::type_info()
        }

        fn compatible(ty: &MySqlTypeInfo) -> bool {
            <String as Type<MySql>>::compatible(ty)
                || <[u8] as Type<MySql>>::compatible(ty)
                || ty.name() == "JSON"
        }
    }

    impl<'r> Decode<'r, MySql> for Permissions {
        fn decode(value: MySqlValueRef<'r>) -> Result<Self, BoxDynError> {
            let json = <&[u8] as Decode<MySql>>::decode(value)?;
            Ok(Self(serde_json::from_slice(json)?))
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn contains_patterns_escape_every_wildcard() {
        assert_eq!(super::contains_pattern("ada"), "%ada%");
        assert_eq!(super::contains_pattern(r"a%b_c\d.*"), r"%a\%b\_c\\d.*%");
        assert_eq!(super::contains_pattern(""), "%%");
    }
}

/// A row of `two_factor`, with its unused recovery codes counted.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct TwoFactorRow {
    totp_secret: String,
    enabled: bool,
    recovery_codes_left: i64,
}

impl From<TwoFactorRow> for authx_core::store::TwoFactorRecord {
    fn from(row: TwoFactorRow) -> Self {
        Self {
            sealed_secret: row.totp_secret,
            enabled: row.enabled,
            recovery_codes_left: u32::try_from(row.recovery_codes_left).unwrap_or(u32::MAX),
        }
    }
}
