//! What differs between SQL dialects: the statements, how writes are serialised, and a few
//! driver details. Everything else (the storage traits, their transactions, the mapping of rows)
//! is written once, generically, in [`crate::store`].

use sqlx::Database;

/// A SQL dialect authx stores its data in: implemented by `sqlx::Sqlite` (feature `sqlite`),
/// `sqlx::Postgres` (feature `postgres`) and `sqlx::MySql` (feature `mysql`), and sealed. A
/// dialect provides its statements and these few details.
pub trait Dialect: Database + sqlx::database::HasStatementCache + sealed::Sealed {
    /// Every statement, in this dialect.
    const SQL: &'static Statements;
    /// Whether writers queue on the store's own lock before the database's (SQLite lets one
    /// writer in at a time and makes the others poll; the lock hands over without polling).
    const QUEUE_WRITES: bool;
    /// The statement that begins a write transaction, if not the driver's `BEGIN`.
    const BEGIN_WRITE: Option<&'static str>;
    /// Whether the driver takes numbered parameters (`$1`) as written; if not, each statement
    /// is rewritten once with `?` and its values bound by position (see `crate::bind`).
    const NUMBERED_PARAMETERS: bool;
    /// Whether the server plans a prepared statement again at each execution, with its
    /// values (MySQL and MariaDB keep no plan): statements built per call (the admin search)
    /// are then prepared once and kept like the fixed ones. Elsewhere they are not, so that a
    /// kept plan made for any value (PostgreSQL's generic plan) cannot hide an index.
    const PLANS_EACH_EXECUTION: bool;
    /// Rows a statement changed.
    fn rows_affected(result: &Self::QueryResult) -> u64;
    /// Adds a statement's value to its arguments (see `crate::bind`).
    #[doc(hidden)]
    fn add_parameter(
        arguments: &mut Self::Arguments,
        param: crate::bind::Param<'_>,
    ) -> Result<(), sqlx::error::BoxDynError>;
}

pub(crate) mod sealed {
    /// Only this crate's dialects implement [`Dialect`](super::Dialect).
    pub trait Sealed {}
}

/// The statements of a dialect, one field per storage operation. Parameters are written `$1`,
/// `$2`, ... in every dialect, as each field's documentation lists them (a dialect that takes
/// `?` gets them rewritten, see [`Dialect::NUMBERED_PARAMETERS`]).
#[derive(Debug)]
pub struct Statements {
    /// For a dialect without `UPDATE ... RETURNING` (MySQL): the statements that read what a
    /// write changed, in its transaction. The fields whose documentation says "→ row" then
    /// write without returning it, and these read it.
    pub(crate) no_returning: Option<&'static NoReturning>,
    /// `$1` id → [`UserRow`](crate::rows::UserRow).
    pub(crate) user_by_id: &'static str,
    /// `$1` email, compared without regard to case → `UserRow`.
    pub(crate) user_by_email: &'static str,
    /// `$1` username, compared without regard to case → `UserRow`.
    pub(crate) user_by_username: &'static str,
    /// `$1` email, `$2` username, `$3` password hash or NULL, `$4` confirmed, `$5` created at →
    /// `UserRow`. Active, no permissions.
    pub(crate) insert_user: &'static str,
    /// `$1` id, `$2` username.
    pub(crate) change_username: &'static str,
    /// `$1` id, `$2` login time, `$3` new hash of the same password or NULL, `$4` the hash it
    /// was verified against or NULL: the new hash is written only over that one.
    pub(crate) record_login: &'static str,
    /// `$1` id, `$2` new hash, `$3` changed at (ms), `$4` the current hash as checked, or NULL
    /// for none: sets the password if the stored one is still that (one row changed).
    pub(crate) change_password: &'static str,

    /// `$1` hash, `$2` purpose, `$3` user id, `$4` email, `$5` state, `$6` created at,
    /// `$7` expires at.
    pub(crate) insert_email_token: &'static str,
    /// `$1` hash, `$2` purpose, `$3` now → [`EmailTokenRow`](crate::rows::EmailTokenRow), if
    /// unused and unexpired.
    pub(crate) email_token: &'static str,
    /// `$1` hash, `$2` purpose, `$3` user id, `$4` now: uses the token if it is still unused
    /// and unexpired (one row changed), a single write, so one of concurrent uses wins.
    pub(crate) use_email_token: &'static str,
    /// `$1` user id, `$2` purpose, `$3` now: uses up every unused token of the purpose.
    pub(crate) use_user_email_tokens: &'static str,
    /// `$1` id, `$2` email, `$3` password changed at (or NULL) as checked: confirms the user if
    /// neither changed.
    pub(crate) confirm_user: &'static str,
    /// `$1` id, `$2` permission: adds it unless the user holds it.
    pub(crate) grant_permission: &'static str,
    /// `$1` id, `$2` email, `$3` password changed at (or NULL) as checked, `$4` new hash,
    /// `$5` changed at: sets the password and confirms the user if neither changed.
    pub(crate) reset_password: &'static str,

    /// `$1` sid, `$2` public id, `$3` user id, `$4` created at (ms), `$5` expires at, `$6`
    /// absolute expiry, `$7` refresh jti, `$8` IP, `$9` user agent.
    pub(crate) insert_session: &'static str,
    /// `$1` sid, `$2` presented jti, `$3` now, `$4` next jti, `$5` next expiry (clamped to the
    /// absolute one), `$6` IP, `$7` user agent → [`RotatedRow`](crate::rows::RotatedRow) when the
    /// presented token was the current one of a live session: a single write, so one of
    /// concurrent rotations wins.
    pub(crate) rotate_refresh_token: &'static str,
    /// `$1` sid, `$2` user id, `$3` next jti, `$4` now, `$5` next expiry (clamped to the
    /// absolute one), `$6` IP, `$7` user agent → [`RotatedRow`](crate::rows::RotatedRow) when the
    /// session is live and the user's: replaces its current refresh token without one being
    /// presented.
    pub(crate) replace_refresh_token: &'static str,
    /// `$1` sid → [`RefreshStateRow`](crate::rows::RefreshStateRow): why a rotation did not
    /// happen.
    pub(crate) refresh_token_state: &'static str,
    /// `$1` user id, `$2` now → [`SessionInfoRow`](crate::rows::SessionInfoRow)s, newest first.
    pub(crate) live_sessions: &'static str,
    /// `$1` sid, `$2` now: ends it if it is live (one row changed).
    pub(crate) end_session: &'static str,
    /// `$1` user id, `$2` sid kept, `$3` now: ends the user's other live sessions.
    pub(crate) end_other_sessions: &'static str,
    /// `$1` user id, `$2` now: ends the user's live sessions.
    pub(crate) end_user_sessions: &'static str,
    /// `$1` cut-off (ms): raises the global cut-off to it, never lowers it.
    pub(crate) raise_session_cutoff: &'static str,
    /// → [`CutoffRow`](crate::rows::CutoffRow), if one was ever set.
    pub(crate) session_cutoff: &'static str,

    /// `$1` recipient, `$2` subject, `$3` text, `$4` html, `$5` now (created and due).
    pub(crate) insert_mail: &'static str,
    /// `$1` now, `$2` lease end, `$3` claim, `$4` limit → [`MailRow`](crate::rows::MailRow)s:
    /// claims due mail so that two workers never claim the same.
    pub(crate) claim_due_mail: &'static str,
    /// `$1` id, `$2` claim, `$3` sent at.
    pub(crate) mark_mail_sent: &'static str,
    /// `$1` id, `$2` claim, `$3` error, `$4` next attempt.
    pub(crate) reschedule_mail: &'static str,
    /// `$1` id, `$2` claim, `$3` error, `$4` now.
    pub(crate) give_up_mail: &'static str,
    /// → [`DueRow`](crate::rows::DueRow): the earliest instant a pending mail can be claimed.
    pub(crate) next_mail_due: &'static str,

    /// `$1` id, `$2` reason or NULL, `$3` expiry or NULL, `$4` now →
    /// [`BanStateRow`](crate::rows::BanStateRow): unbans a user under a ban in force at `$4`,
    /// bans any other, in one write.
    pub(crate) toggle_ban: &'static str,
    /// `$1` id, `$2` now: lifts the user's ban if it expires at or before `$2` (one row changed).
    pub(crate) lift_expired_ban: &'static str,
    /// `$1` now → [`BannedUserRow`](crate::rows::BannedUserRow)s of bans in force, by id.
    pub(crate) banned_users: &'static str,
    /// `$1` id, `$2` permission → [`PermissionsRow`](crate::rows::PermissionsRow): adds it
    /// unless held, computed from the stored value. Unused (empty) with
    /// [`no_returning`](Self::no_returning): the three permission changes are then a locking
    /// read and a write.
    pub(crate) add_permission: &'static str,
    /// `$1` id, `$2` permission → `PermissionsRow`: removes it, computed from the stored value.
    pub(crate) remove_permission: &'static str,
    /// `$1` id → `PermissionsRow`: removes every permission.
    pub(crate) clear_permissions: &'static str,
    /// `$1` id, `$2` now → [`UserDetailsRow`](crate::rows::UserDetailsRow).
    pub(crate) user_details: &'static str,
    /// The admin search: page and count, written for the criteria of each search
    /// ([`SearchSql::build`](crate::search::SearchSql::build)).
    pub(crate) search: crate::search::SearchSql,
    /// `$1` when: records the blackout, replacing an earlier record.
    pub(crate) set_blackout: &'static str,
    /// → [`BlackoutRow`](crate::rows::BlackoutRow), if one is recorded.
    pub(crate) blackout: &'static str,
    /// Removes the blackout record (one row changed if there was one).
    pub(crate) delete_blackout: &'static str,

    /// `$1` name, `$2` holder, `$3` now, `$4` until: takes or renews a lease (one row changed)
    /// if it is free or already the holder's.
    pub(crate) acquire_lease: &'static str,
    /// → `(user id, email)` of the users migration 4 listed for a rewrite of their email.
    pub(crate) pending_email_forms: &'static str,
    /// `$1` id, `$2` email as stored, `$3` email in its one form.
    pub(crate) rewrite_user_email: &'static str,
    /// `$1` user id, `$2` email as stored, `$3` email in its one form: the user's emailed
    /// tokens bound to the old form are bound to the new one.
    pub(crate) rewrite_token_emails: &'static str,
    /// `$1` user id: takes the user off migration 4's list.
    pub(crate) done_email_form: &'static str,
    /// `$1` now, `$2` limit, each: deletes expired, then ended sessions, each statement one
    /// range of one index in its order (a batch stops at its limit).
    pub(crate) purge_sessions: [&'static str; 2],
    /// `$1` the cut-off (milliseconds), `$2` limit: deletes sessions opened before it.
    pub(crate) purge_sessions_before_cutoff: &'static str,
    /// `$1` now, `$2` limit, each: deletes expired, then used emailed tokens.
    pub(crate) purge_email_tokens: [&'static str; 2],
    /// `$1` before, `$2` limit: deletes mail delivered or given up on before then.
    pub(crate) purge_mail: &'static str,
    /// `$1` now, `$2` limit: deletes social sign-ins that expired.
    pub(crate) purge_sign_ins: &'static str,
    /// Run after each purge batch, outside the write turn: SQLite checkpoints its WAL there
    /// (see `sqlite.rs`), so the pages a batch wrote are not checkpointed by a request.
    pub(crate) after_purge: Option<&'static str>,

    /// `$1` state hash, `$2` provider, `$3` PKCE verifier, `$4` nonce, `$5` redirect, `$6`
    /// expires at: records a social sign-in under way.
    pub(crate) insert_sign_in: &'static str,
    /// `$1` state hash → [`SignInRow`](crate::rows::SignInRow): deletes the sign-in and returns
    /// it, in one write.
    pub(crate) take_sign_in: &'static str,
    /// `$1` provider, `$2` subject → `UserRow` of the linked user.
    pub(crate) user_by_identity: &'static str,
    /// `$1` provider, `$2` subject, `$3` user id, `$4` email or NULL, `$5` linked at: links
    /// the identity unless it is linked (one row changed).
    pub(crate) link_identity: &'static str,

    /// `$1` user id → [`TwoFactorRow`](crate::rows::TwoFactorRow).
    pub(crate) two_factor: &'static str,
    /// `$1` user id, `$2` sealed secret, `$3` now: stores a pending enrolment, replacing a
    /// pending one, unless one is enabled (one row changed when written).
    pub(crate) start_totp: &'static str,
    /// `$1` user id, `$2` sealed secret as checked, `$3` now: enables the pending enrolment of
    /// that secret (one row changed).
    pub(crate) enable_totp: &'static str,
    /// `$1` user id, `$2` now: records new recovery codes if enabled (one row changed).
    pub(crate) touch_recovery_codes: &'static str,
    /// `$1` user id: deletes the user's recovery codes.
    pub(crate) delete_recovery_codes: &'static str,
    /// `$1` user id, `$2` code hash.
    pub(crate) insert_recovery_code: &'static str,
    /// `$1` user id, `$2` code hash, `$3` now: uses the code if unused (one row changed).
    pub(crate) use_recovery_code: &'static str,
    /// `$1` user id, `$2` old sealed secret, `$3` new one (one row changed).
    pub(crate) reseal_secret: &'static str,
    /// `$1` user id: deletes the second factor (one row changed if there was one).
    pub(crate) delete_two_factor: &'static str,
}

/// What a dialect without `RETURNING` reads back after a write, in the write's transaction (the
/// write holds the row's lock, so what is read is what it wrote), and the two statements of the
/// writes it makes in two steps.
#[derive(Debug)]
pub struct NoReturning {
    /// → `UserRow` of the user the transaction's `insert_user` inserted.
    pub(crate) inserted_user: &'static str,
    /// `$1` sid → [`RotatedRow`](crate::rows::RotatedRow), after a rotation or replacement.
    pub(crate) rotated_session: &'static str,
    /// `$1` id → [`BanStateRow`](crate::rows::BanStateRow), after a toggle.
    pub(crate) ban_state: &'static str,
    /// `$1` id → [`PermissionsRow`](crate::rows::PermissionsRow), the row locked until the
    /// transaction ends.
    pub(crate) lock_permissions: &'static str,
    /// `$1` id, `$2` permissions (a JSON array).
    pub(crate) set_permissions: &'static str,
    /// `$1` claim → [`MailRow`](crate::rows::MailRow)s, after `claim_due_mail`.
    pub(crate) claimed_mail: &'static str,
    /// `$1` name: inserts the lease, expired and held by no one, unless it exists; then
    /// `acquire_lease` is a conditional `UPDATE`.
    pub(crate) ensure_lease: &'static str,
    /// `$1` id: deletes a pending (not enabled) TOTP enrolment, so that `start_totp` can be an
    /// `INSERT IGNORE` that writes nothing while one is enabled.
    pub(crate) clear_pending_totp: &'static str,
    /// `$1` state hash → [`SignInRow`](crate::rows::SignInRow), the row locked until the
    /// transaction ends; `take_sign_in` is then a plain `DELETE`.
    pub(crate) lock_sign_in: &'static str,
}
