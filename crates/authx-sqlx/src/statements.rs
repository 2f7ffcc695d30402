//! Statements that SQLite and PostgreSQL write alike (both bind `$1`, `$2`, ...). Each
//! dialect's [`Statements`](crate::dialect::Statements) takes these and writes the rest its own
//! way.

/// The columns of a [`UserRow`](crate::rows::UserRow).
macro_rules! user_columns {
    () => {
        "id, email, username, password_hash, password_changed_at, active, confirmed, \
         permissions, created_at, last_login"
    };
}

/// Whether a session opened after the global cut-off (the subquery reads its single row).
macro_rules! after_cutoff {
    () => {
        "created_at_ms >= coalesce((SELECT cutoff_ms FROM session_cutoff WHERE id = 1), 0)"
    };
}
pub(crate) use after_cutoff;

pub(crate) const USER_BY_ID: &str =
    concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1");
/// Served by the unique index on `lower(email)`.
pub(crate) const USER_BY_EMAIL: &str = concat!(
    "SELECT ",
    user_columns!(),
    " FROM users WHERE lower(email) = lower($1)"
);
/// Served by the unique index on `lower(username)`.
pub(crate) const USER_BY_USERNAME: &str = concat!(
    "SELECT ",
    user_columns!(),
    " FROM users WHERE lower(username) = lower($1)"
);
pub(crate) const INSERT_USER: &str = concat!(
    "INSERT INTO users (email, username, password_hash, confirmed, created_at) \
     VALUES ($1, $2, $3, $4, $5) RETURNING ",
    user_columns!()
);
pub(crate) const CHANGE_USERNAME: &str = "UPDATE users SET username = $2 WHERE id = $1";
/// A rehash replaces only the hash it was verified against, so it never undoes a password
/// change that committed meanwhile; the login time is written either way.
pub(crate) const RECORD_LOGIN: &str = "UPDATE users SET last_login = $2, \
     password_hash = CASE WHEN password_hash = $4 THEN COALESCE($3, password_hash) \
                          ELSE password_hash END \
     WHERE id = $1";
/// A hash is never empty, so `''` stands for "no password" on both sides.
pub(crate) const CHANGE_PASSWORD: &str = "UPDATE users \
     SET password_hash = $2, password_changed_at = $3 \
     WHERE id = $1 AND coalesce(password_hash, '') = coalesce($4, '')";

/// Whether a ban is in force at `$now` (a placeholder): the user is inactive and the ban has no
/// expiry or one still to come.
macro_rules! ban_in_force {
    ($now:literal) => {
        concat!(
            "(NOT active AND (ban_expires_at IS NULL OR ban_expires_at > ",
            $now,
            "))"
        )
    };
}

/// The ban is lifted when no ban is in force: toggled on one row, so concurrent toggles queue
/// on it and each sees the state the previous one left.
pub(crate) const TOGGLE_BAN: &str = concat!(
    "UPDATE users SET active = ",
    ban_in_force!("$4"),
    ", ban_reason = CASE WHEN ",
    ban_in_force!("$4"),
    " THEN NULL ELSE $2 END, banned_at = CASE WHEN ",
    ban_in_force!("$4"),
    " THEN NULL ELSE $4 END, ban_expires_at = CASE WHEN ",
    ban_in_force!("$4"),
    " THEN NULL ELSE $3 END WHERE id = $1 RETURNING active"
);
pub(crate) const LIFT_EXPIRED_BAN: &str = "UPDATE users \
     SET active = TRUE, ban_reason = NULL, banned_at = NULL, ban_expires_at = NULL \
     WHERE id = $1 AND NOT active AND ban_expires_at <= $2";
/// Served by the partial index of inactive users.
pub(crate) const BANNED_USERS: &str = concat!(
    "SELECT id, username, ban_reason, banned_at, ban_expires_at FROM users WHERE ",
    ban_in_force!("$1"),
    " ORDER BY id"
);

/// The columns of a [`UserDetailsRow`](crate::rows::UserDetailsRow), `$now` the placeholder of
/// now (a ban past its expiry counts as lifted). `$providers` and `$two_factor` are the
/// dialect's expressions for the linked social providers (a list column) and whether a second
/// factor is enabled: constants until those features store their data, then subqueries (the second factor's:
/// `EXISTS (SELECT 1 FROM two_factor t WHERE t.user_id = users.id AND t.enabled)`).
macro_rules! user_details_columns {
    ($now:literal, $providers:expr, $two_factor:expr) => {
        concat!(
            "id, username, email, \
             (active OR (ban_expires_at IS NOT NULL AND ban_expires_at <= ",
            $now,
            ")) AS active, confirmed, permissions, ",
            $providers,
            " AS providers, (password_hash IS NOT NULL) AS has_password, ",
            $two_factor,
            " AS two_factor, created_at, last_login"
        )
    };
}

pub(crate) use user_details_columns;

/// The names of a user's linked providers, as the dialect's list column: a JSON array in
/// SQLite, a `TEXT[]` in PostgreSQL (for [`user_details_columns`]).
macro_rules! linked_providers {
    (sqlite) => {
        "(SELECT json_group_array(provider) FROM (SELECT DISTINCT provider FROM identities \
         WHERE user_id = users.id ORDER BY provider))"
    };
    (postgres) => {
        "ARRAY(SELECT DISTINCT provider FROM identities WHERE user_id = users.id \
         ORDER BY provider)"
    };
}
pub(crate) use linked_providers;

pub(crate) const INSERT_SIGN_IN: &str = "INSERT INTO social_sign_ins \
     (state_hash, provider, pkce_verifier, nonce, redirect, expires_at) \
     VALUES ($1, $2, $3, $4, $5, $6)";
/// One DELETE: of concurrent callbacks with one state, one gets the row.
pub(crate) const TAKE_SIGN_IN: &str = "DELETE FROM social_sign_ins WHERE state_hash = $1 \
     RETURNING state_hash, provider, pkce_verifier, nonce, redirect, expires_at";
pub(crate) const USER_BY_IDENTITY: &str = concat!(
    "SELECT ",
    user_columns!(),
    " FROM users WHERE id = (SELECT user_id FROM identities WHERE provider = $1 AND subject = $2)"
);
/// Nothing written (no row changed) when the identity is linked already.
pub(crate) const LINK_IDENTITY: &str = "INSERT INTO identities \
     (provider, subject, user_id, email, linked_at) VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (provider, subject) DO NOTHING";
pub(crate) const PURGE_SIGN_INS: &str = "DELETE FROM social_sign_ins WHERE state_hash IN (\
     SELECT state_hash FROM social_sign_ins WHERE expires_at <= $1 LIMIT $2)";

pub(crate) const SET_BLACKOUT: &str = "INSERT INTO blackout (id, set_at) VALUES (1, $1) \
     ON CONFLICT (id) DO UPDATE SET set_at = excluded.set_at";
pub(crate) const BLACKOUT: &str = "SELECT set_at FROM blackout WHERE id = 1";
pub(crate) const DELETE_BLACKOUT: &str = "DELETE FROM blackout WHERE id = 1";

pub(crate) const INSERT_EMAIL_TOKEN: &str = "INSERT INTO email_tokens \
     (hash, purpose, user_id, email, state, created_at, expires_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7)";
pub(crate) const EMAIL_TOKEN: &str = "SELECT user_id, email, state, created_at, expires_at \
     FROM email_tokens WHERE hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3";
pub(crate) const USE_EMAIL_TOKEN: &str = "UPDATE email_tokens SET used_at = $4 \
     WHERE hash = $1 AND purpose = $2 AND user_id = $3 AND used_at IS NULL AND expires_at > $4";
pub(crate) const USE_USER_EMAIL_TOKENS: &str = "UPDATE email_tokens SET used_at = $3 \
     WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL";
pub(crate) const CONFIRM_USER: &str = "UPDATE users SET confirmed = TRUE \
     WHERE id = $1 AND email = $2 AND coalesce(password_changed_at, -1) = coalesce($3, -1)";
pub(crate) const RESET_PASSWORD: &str = "UPDATE users \
     SET password_hash = $4, password_changed_at = $5, confirmed = TRUE \
     WHERE id = $1 AND email = $2 AND coalesce(password_changed_at, -1) = coalesce($3, -1)";

pub(crate) const INSERT_SESSION: &str = "INSERT INTO sessions \
     (sid, public_id, user_id, created_at_ms, expires_at, absolute_expires_at, refresh_jti, \
      login_ip, login_user_agent) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
pub(crate) const REFRESH_TOKEN_STATE: &str = concat!(
    "SELECT refresh_jti, previous_jti, rotated_at, \
     (ended_at IS NULL AND expires_at > $2 AND ",
    after_cutoff!(),
    ") AS live FROM sessions WHERE sid = $1"
);
pub(crate) const LIVE_SESSIONS: &str = concat!(
    "SELECT sid, public_id, created_at_ms, rotated_at, login_ip, login_user_agent, last_ip, \
     last_user_agent FROM sessions \
     WHERE user_id = $1 AND ended_at IS NULL AND expires_at > $2 AND ",
    after_cutoff!(),
    " ORDER BY created_at_ms DESC, sid"
);
// Only live sessions are ended, so the count is of live sessions (`end_sessions`' contract); a
// session that expired or opened before the cut-off can never be live again.
pub(crate) const END_SESSION: &str = concat!(
    "UPDATE sessions SET ended_at = $2 \
     WHERE sid = $1 AND ended_at IS NULL AND expires_at > $2 AND ",
    after_cutoff!()
);
pub(crate) const END_OTHER_SESSIONS: &str = concat!(
    "UPDATE sessions SET ended_at = $3 \
     WHERE user_id = $1 AND sid <> $2 AND ended_at IS NULL AND expires_at > $3 AND ",
    after_cutoff!()
);
pub(crate) const END_USER_SESSIONS: &str = concat!(
    "UPDATE sessions SET ended_at = $2 \
     WHERE user_id = $1 AND ended_at IS NULL AND expires_at > $2 AND ",
    after_cutoff!()
);
pub(crate) const SESSION_CUTOFF: &str = "SELECT cutoff_ms FROM session_cutoff WHERE id = 1";

pub(crate) const INSERT_MAIL: &str = "INSERT INTO mail_outbox \
     (recipient, subject, body_text, body_html, created_at, next_attempt_at) \
     VALUES ($1, $2, $3, $4, $5, $5)";
/// The mail columns of a [`MailRow`](crate::rows::MailRow).
macro_rules! mail_columns {
    () => {
        "id, CAST(attempts AS BIGINT) AS attempts, recipient, subject, body_text, body_html"
    };
}
/// Claims due mail; `$lock` ends the subquery that picks the rows: how the dialect keeps two
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
            $crate::statements::mail_columns!()
        )
    };
}
pub(crate) use {claim_due_mail, mail_columns};
pub(crate) const MARK_MAIL_SENT: &str = "UPDATE mail_outbox SET sent_at = $3, claimed_until = NULL \
     WHERE id = $1 AND claim = $2 AND sent_at IS NULL AND failed_at IS NULL";
pub(crate) const RESCHEDULE_MAIL: &str = "UPDATE mail_outbox \
     SET attempts = attempts + 1, last_error = $3, next_attempt_at = $4, \
         claim = NULL, claimed_until = NULL \
     WHERE id = $1 AND claim = $2 AND sent_at IS NULL AND failed_at IS NULL";
pub(crate) const GIVE_UP_MAIL: &str = "UPDATE mail_outbox \
     SET attempts = attempts + 1, last_error = $3, failed_at = $4, \
         claim = NULL, claimed_until = NULL \
     WHERE id = $1 AND claim = $2 AND sent_at IS NULL AND failed_at IS NULL";
/// The earliest instant a pending mail can be claimed: its next attempt, or for a mail under a
/// live lease the second after the lease ends (claims need `claimed_until < now`).
pub(crate) const NEXT_MAIL_DUE: &str = "SELECT MIN(CASE \
         WHEN claim IS NOT NULL AND claimed_until >= next_attempt_at THEN claimed_until + 1 \
         ELSE next_attempt_at END) AS due \
     FROM mail_outbox WHERE sent_at IS NULL AND failed_at IS NULL";

/// Inserts the lease, or takes it over when it expired or is already the holder's.
pub(crate) const ACQUIRE_LEASE: &str = "INSERT INTO leases (name, holder, until) \
     VALUES ($1, $2, $4) \
     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until \
     WHERE leases.until <= $3 OR leases.holder = excluded.holder";
// The janitor's batches: each one range of one index, read in the index's order, so a batch
// stops at its limit whatever the table holds. One condition with OR over three indexes is a
// plan the optimizer picks afresh as the table changes: MariaDB went from a scan to a union of
// the three ranges read whole and sorted, every batch (see docs/benchmarks.md, the janitor).
/// `$1` now, `$2` limit: expired sessions.
pub(crate) const PURGE_EXPIRED_SESSIONS: &str = "DELETE FROM sessions WHERE sid IN (\
     SELECT sid FROM sessions WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2)";
/// `$1` now, `$2` limit: ended sessions (served by the partial index on `ended_at`).
pub(crate) const PURGE_ENDED_SESSIONS: &str = "DELETE FROM sessions WHERE sid IN (\
     SELECT sid FROM sessions WHERE ended_at <= $1 ORDER BY ended_at LIMIT $2)";
/// `$1` the cut-off (milliseconds), `$2` limit: sessions opened before it.
pub(crate) const PURGE_SESSIONS_BEFORE_CUTOFF: &str = "DELETE FROM sessions WHERE sid IN (\
     SELECT sid FROM sessions WHERE created_at_ms < $1 ORDER BY created_at_ms LIMIT $2)";
/// `$1` now, `$2` limit: expired emailed tokens.
pub(crate) const PURGE_EXPIRED_EMAIL_TOKENS: &str = "DELETE FROM email_tokens WHERE hash IN (\
     SELECT hash FROM email_tokens WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2)";
/// `$1` now, `$2` limit: used emailed tokens (served by the partial index on `used_at`).
pub(crate) const PURGE_USED_EMAIL_TOKENS: &str = "DELETE FROM email_tokens WHERE hash IN (\
     SELECT hash FROM email_tokens WHERE used_at <= $1 ORDER BY used_at LIMIT $2)";
/// Served by the index on `coalesce(sent_at, failed_at)`; pending mail has neither.
pub(crate) const PURGE_MAIL: &str = "DELETE FROM mail_outbox WHERE id IN (\
     SELECT id FROM mail_outbox WHERE coalesce(sent_at, failed_at) < $1 LIMIT $2)";

// Migration 4's rewrite of stored emails into their one form (`crate::email_forms`).
pub(crate) const PENDING_EMAIL_FORMS: &str = "SELECT p.user_id, u.email FROM email_forms_pending p \
     JOIN users u ON u.id = p.user_id ORDER BY p.user_id";
pub(crate) const REWRITE_USER_EMAIL: &str =
    "UPDATE users SET email = $3 WHERE id = $1 AND email = $2";
pub(crate) const REWRITE_TOKEN_EMAILS: &str =
    "UPDATE email_tokens SET email = $3 WHERE user_id = $1 AND email = $2";
pub(crate) const DONE_EMAIL_FORM: &str = "DELETE FROM email_forms_pending WHERE user_id = $1";

// The second factor (migration 6).
pub(crate) const TWO_FACTOR: &str = "SELECT t.totp_secret, t.enabled, \
     (SELECT count(*) FROM recovery_codes r WHERE r.user_id = t.user_id AND r.used_at IS NULL) \
     AS recovery_codes_left FROM two_factor t WHERE t.user_id = $1";
/// A pending enrolment is replaced; an enabled second factor is left as it is (no row changed).
pub(crate) const START_TOTP: &str = "INSERT INTO two_factor (user_id, totp_secret, enabled, created_at) \
     VALUES ($1, $2, FALSE, $3) \
     ON CONFLICT (user_id) DO UPDATE SET totp_secret = excluded.totp_secret, \
     created_at = excluded.created_at WHERE NOT two_factor.enabled";
pub(crate) const ENABLE_TOTP: &str = "UPDATE two_factor SET enabled = TRUE, enabled_at = $3, \
     codes_at = $3 WHERE user_id = $1 AND totp_secret = $2 AND NOT enabled";
pub(crate) const TOUCH_RECOVERY_CODES: &str =
    "UPDATE two_factor SET codes_at = $2 WHERE user_id = $1 AND enabled";
pub(crate) const DELETE_RECOVERY_CODES: &str = "DELETE FROM recovery_codes WHERE user_id = $1";
pub(crate) const INSERT_RECOVERY_CODE: &str =
    "INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)";
/// One conditional write: of concurrent uses of one code, one changes the row.
pub(crate) const USE_RECOVERY_CODE: &str = "UPDATE recovery_codes SET used_at = $3 \
     WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL";
pub(crate) const RESEAL_SECRET: &str =
    "UPDATE two_factor SET totp_secret = $3 WHERE user_id = $1 AND totp_secret = $2";
pub(crate) const DELETE_TWO_FACTOR: &str = "DELETE FROM two_factor WHERE user_id = $1";
