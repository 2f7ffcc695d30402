//! What differs between SQL dialects: the statements, how writes are serialised, and a few
//! driver details. Everything else (the storage traits, their transactions, the mapping of rows)
//! is written once, generically, in [`crate::store`].

use sqlx::Database;

/// A SQL dialect authx stores its data in: implemented by `sqlx::Sqlite` (feature `sqlite`)
/// and `sqlx::Postgres` (feature `postgres`), and sealed. A third dialect provides its
/// statements and these few details.
pub trait Dialect: Database + sealed::Sealed {
    /// Every statement, in this dialect.
    const SQL: &'static Statements;
    /// Whether writers queue on the store's own lock before the database's (SQLite lets one
    /// writer in at a time and makes the others poll; the lock hands over without polling).
    const QUEUE_WRITES: bool;
    /// The statement that begins a write transaction, if not the driver's `BEGIN`.
    const BEGIN_WRITE: Option<&'static str>;
    /// Rows a statement changed.
    fn rows_affected(result: &Self::QueryResult) -> u64;
}

pub(crate) mod sealed {
    /// Only this crate's dialects implement [`Dialect`](super::Dialect).
    pub trait Sealed {}
}

/// The statements of a dialect, one field per storage operation. Parameters are listed as
/// `$1`, `$2`, ... in each field's documentation (the dialect decides how it writes them).
#[derive(Debug)]
pub struct Statements {
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
    /// unless held, computed from the stored value.
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
    /// `$1` now, `$2` limit: deletes ended and expired sessions and those before the cut-off.
    pub(crate) purge_sessions: &'static str,
    /// `$1` now, `$2` limit: deletes used and expired emailed tokens.
    pub(crate) purge_email_tokens: &'static str,
    /// `$1` before, `$2` limit: deletes mail delivered or given up on before then.
    pub(crate) purge_mail: &'static str,
}
