//! The statements both backends share (sqlx binds `$1`, `$2`, ... on SQLite as on PostgreSQL),
//! and the conversion of their rows.

use authx_core::mail::Mail;
use authx_core::store::{OutboxMail, RefreshRotation, RotationOutcome, StoreResult, User};

/// The columns of a [`User`], in the order of [`UserRow`].
macro_rules! user_columns {
    () => {
        "id, email, username, password_hash, active, confirmed, permissions, created_at, last_login"
    };
}

/// The columns of an [`OutboxMail`], in the order of [`MailRow`].
macro_rules! mail_columns {
    () => {
        "id, attempts, recipient, subject, body_text, body_html"
    };
}
pub(crate) use mail_columns;

/// Claims due mail (`$1` now, `$2` lease end, `$3` claim, `$4` limit), returning
/// [`mail_columns!`]. `$lock` ends the subquery that picks the rows: how the backend keeps two
/// workers from claiming the same mail.
macro_rules! claim_due_mail {
    ($lock:literal) => {
        concat!(
            "UPDATE mail_outbox SET claim = $3, claimed_until = $2 WHERE id IN (\
                 SELECT id FROM mail_outbox \
                 WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $1 \
                   AND (claim IS NULL OR claimed_until < $1) \
                 ORDER BY next_attempt_at, id LIMIT $4",
            $lock,
            ") RETURNING ",
            $crate::sql::mail_columns!()
        )
    };
}
pub(crate) use claim_due_mail;

/// `$1`: id.
pub(crate) const USER_BY_ID: &str =
    concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1");
/// `$1`: email. Served by the unique index on `lower(email)`.
pub(crate) const USER_BY_EMAIL: &str = concat!(
    "SELECT ",
    user_columns!(),
    " FROM users WHERE lower(email) = lower($1)"
);
/// `$1`: username. Served by the unique index on `lower(username)`.
pub(crate) const USER_BY_USERNAME: &str = concat!(
    "SELECT ",
    user_columns!(),
    " FROM users WHERE lower(username) = lower($1)"
);
/// `$1` email, `$2` username, `$3` password hash, `$4` created at. The other columns take their
/// defaults: active, unconfirmed, no permissions.
pub(crate) const INSERT_USER: &str = concat!(
    "INSERT INTO users (email, username, password_hash, created_at) VALUES ($1, $2, $3, $4) \
     RETURNING ",
    user_columns!()
);
/// `$1` id, `$2` username.
pub(crate) const CHANGE_USERNAME: &str = "UPDATE users SET username = $2 WHERE id = $1";
/// `$1` id, `$2` login time, `$3` new password hash or NULL to keep it.
pub(crate) const RECORD_LOGIN: &str =
    "UPDATE users SET last_login = $2, password_hash = COALESCE($3, password_hash) WHERE id = $1";

/// `$1` hash, `$2` purpose, `$3` user id, `$4` email, `$5` created at, `$6` expires at.
pub(crate) const INSERT_EMAIL_TOKEN: &str = "INSERT INTO email_tokens \
     (hash, purpose, user_id, email, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)";
/// `$1` hash, `$2` now, `$3` purpose. Uses the token if it qualifies, returning its user: a
/// single write, so that of concurrent uses only one finds it unused.
pub(crate) const USE_CONFIRMATION_TOKEN: &str = "UPDATE email_tokens SET used_at = $2 \
     WHERE hash = $1 AND purpose = $3 AND used_at IS NULL AND expires_at > $2 \
     AND email = (SELECT u.email FROM users u WHERE u.id = email_tokens.user_id) \
     RETURNING user_id";
/// `$1` user id.
pub(crate) const CONFIRM_USER: &str = "UPDATE users SET confirmed = TRUE WHERE id = $1";
/// `$1` user id, `$2` now, `$3` purpose.
pub(crate) const USE_USER_TOKENS: &str = "UPDATE email_tokens SET used_at = $2 \
     WHERE user_id = $1 AND purpose = $3 AND used_at IS NULL";

/// `$1` sid, `$2` user id, `$3` created at, `$4` expires at, `$5` jti of its first refresh token.
pub(crate) const INSERT_SESSION: &str = "INSERT INTO sessions \
     (sid, user_id, created_at, expires_at, refresh_jti) VALUES ($1, $2, $3, $4, $5)";
/// `$1` sid, `$2` presented jti, `$3` now, `$4` next jti, `$5` expiry of the next token.
/// Swaps in the next token if the presented one is current and the session live, and extends
/// the session to the next token's expiry: a single write, so that of concurrent rotations only
/// one succeeds. The trigger `sessions_record_rotated_refresh_token` records the replaced token
/// in `rotated_refresh_tokens` within the same statement.
pub(crate) const ROTATE_REFRESH_TOKEN: &str = "UPDATE sessions \
     SET refresh_jti = $4, rotated_at = $3, expires_at = $5 \
     WHERE sid = $1 AND refresh_jti = $2 AND revoked_at IS NULL AND expires_at > $3";
/// `$1` sid, `$2` presented jti. Why a rotation did not happen: the session's revocation and
/// expiry, and when the presented token was rotated if it was.
pub(crate) const REFRESH_TOKEN_STATE: &str = "SELECT s.revoked_at, s.expires_at, r.rotated_at \
     FROM sessions s LEFT JOIN rotated_refresh_tokens r ON r.jti = $2 AND r.sid = s.sid \
     WHERE s.sid = $1";
/// `$1` sid, `$2` now.
pub(crate) const REVOKE_SESSION: &str =
    "UPDATE sessions SET revoked_at = $2 WHERE sid = $1 AND revoked_at IS NULL";
/// `$1` sid.
pub(crate) const SESSION_REVOKED_AT: &str = "SELECT revoked_at FROM sessions WHERE sid = $1";

/// `$1` recipient, `$2` subject, `$3` text, `$4` html, `$5` now (created and due).
pub(crate) const INSERT_MAIL: &str = "INSERT INTO mail_outbox \
     (recipient, subject, body_text, body_html, created_at, next_attempt_at) \
     VALUES ($1, $2, $3, $4, $5, $5)";
/// `$1` id, `$2` claim, `$3` sent at.
pub(crate) const MARK_MAIL_SENT: &str = "UPDATE mail_outbox SET sent_at = $3, claimed_until = NULL \
     WHERE id = $1 AND claim = $2 AND sent_at IS NULL AND failed_at IS NULL";
/// `$1` id, `$2` claim, `$3` error, `$4` next attempt.
pub(crate) const RESCHEDULE_MAIL: &str = "UPDATE mail_outbox \
     SET attempts = attempts + 1, last_error = $3, next_attempt_at = $4, \
         claim = NULL, claimed_until = NULL \
     WHERE id = $1 AND claim = $2 AND sent_at IS NULL AND failed_at IS NULL";
/// `$1` id, `$2` claim, `$3` error, `$4` now.
pub(crate) const GIVE_UP_MAIL: &str = "UPDATE mail_outbox \
     SET attempts = attempts + 1, last_error = $3, failed_at = $4, \
         claim = NULL, claimed_until = NULL \
     WHERE id = $1 AND claim = $2 AND sent_at IS NULL AND failed_at IS NULL";
/// The earliest instant a pending mail can be claimed: its next attempt, or for a mail under a
/// live lease the second after the lease ends (claims need `claimed_until < now`).
pub(crate) const NEXT_MAIL_DUE: &str = "SELECT MIN(CASE \
         WHEN claim IS NOT NULL AND claimed_until >= next_attempt_at THEN claimed_until + 1 \
         ELSE next_attempt_at END) \
     FROM mail_outbox WHERE sent_at IS NULL AND failed_at IS NULL";

/// A row of [`user_columns!`], with the backend's encoding of the permissions.
pub(crate) type UserRow<P> = (
    i64,
    String,
    String,
    Option<String>,
    bool,
    bool,
    P,
    i64,
    Option<i64>,
);

/// Builds a [`User`] from its row, decoding the permissions with `permissions`.
pub(crate) fn user<P>(
    row: UserRow<P>,
    permissions: impl FnOnce(P) -> StoreResult<Vec<String>>,
) -> StoreResult<User> {
    let (id, email, username, password_hash, active, confirmed, perms, created_at, last_login) =
        row;
    Ok(User {
        id,
        email,
        username,
        password_hash,
        active,
        confirmed,
        permissions: permissions(perms)?,
        created_at,
        last_login,
    })
}

/// A row of [`mail_columns!`], with the backend's integer type for `attempts`.
pub(crate) type MailRow<A> = (i64, A, String, String, String, String);

/// Builds claimed mail from its rows, oldest first.
pub(crate) fn claimed_mail<A>(rows: Vec<MailRow<A>>, claim: &str) -> Vec<OutboxMail>
where
    A: TryInto<u32>,
{
    let mut mails: Vec<OutboxMail> = rows
        .into_iter()
        .map(|(id, attempts, to, subject, text, html)| OutboxMail {
            id,
            claim: claim.to_owned(),
            // A CHECK keeps attempts non-negative; saturate rather than fail on absurd counts.
            attempts: attempts.try_into().unwrap_or(u32::MAX),
            mail: Mail {
                to,
                subject,
                text,
                html,
            },
        })
        .collect();
    // RETURNING gives no order.
    mails.sort_by_key(|m| m.id);
    mails
}

/// A fresh claim id for a batch of mail: 128 random bits, hex.
pub(crate) fn new_claim() -> Result<String, getrandom::Error> {
    let mut bytes = [0_u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(bytes.iter().fold(String::with_capacity(32), |mut hex, b| {
        use std::fmt::Write as _;
        let _ = write!(hex, "{b:02x}");
        hex
    }))
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

/// A row of [`REFRESH_TOKEN_STATE`]: session revocation, session expiry, when the presented
/// token was rotated.
pub(crate) type RefreshTokenState = (Option<i64>, i64, Option<i64>);

/// Why a presented refresh token was not rotated, from the state of its session
/// ([`REFRESH_TOKEN_STATE`]).
///
/// [`RotationOutcome::Replayed`] means the caller must revoke the session.
pub(crate) fn refused_rotation(
    state: Option<RefreshTokenState>,
    rotation: &RefreshRotation,
) -> RotationOutcome {
    let now = rotation.now;
    let Some((revoked_at, session_expires_at, rotated_at)) = state else {
        return RotationOutcome::Invalid;
    };
    if revoked_at.is_some() || session_expires_at <= now {
        return RotationOutcome::Invalid;
    }
    match rotated_at {
        Some(at) if now.saturating_sub(at) <= rotation.grace_seconds => {
            RotationOutcome::RecentlyRotated
        }
        Some(_) => RotationOutcome::Replayed,
        // Never issued in this session, or current and live yet the rotation matched nothing
        // (a concurrent change we cannot explain): refused without touching the session.
        None => RotationOutcome::Invalid,
    }
}
