-- Version 2 of the contract.
-- * A session row holds its current and its previous refresh token id, so a refresh writes no
--   new row; the table of rotated tokens and its trigger go.
-- * A session has a public id (shown in GET /sessions, not the secret sid), records the client
--   (IP, User-Agent) of its login and of its last refresh, opens at an instant to the
--   millisecond (cut-offs compare with it), and ends at an absolute expiry however often it is
--   refreshed. `revoked_at` becomes `ended_at`.
-- * Users record when their password last changed (reset tokens issued before no longer work).
-- * Emailed tokens are bound to a state as well as to their address.
-- * The global session cut-off ("log out everyone") and the janitor's lease get tables.
-- Live version-1 sessions keep working: their absolute expiry is 30 days after their login.

ALTER TABLE users ADD COLUMN password_changed_at INTEGER;

CREATE TABLE sessions_v3 (
    sid                 TEXT    PRIMARY KEY NOT NULL,
    public_id           TEXT    NOT NULL,
    user_id             INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- When it opened, in milliseconds.
    created_at_ms       INTEGER NOT NULL,
    -- When its current refresh token expires (never after absolute_expires_at).
    expires_at          INTEGER NOT NULL,
    absolute_expires_at INTEGER NOT NULL,
    refresh_jti         TEXT    NOT NULL,
    -- The token the current one replaced, and when: a retry within the grace period.
    previous_jti        TEXT,
    rotated_at          INTEGER,
    ended_at            INTEGER,
    login_ip            TEXT    NOT NULL,
    login_user_agent    TEXT    NOT NULL,
    last_ip             TEXT,
    last_user_agent     TEXT
) STRICT;

INSERT INTO sessions_v3 (sid, public_id, user_id, created_at_ms, expires_at, absolute_expires_at,
                         refresh_jti, previous_jti, rotated_at, ended_at, login_ip,
                         login_user_agent)
SELECT s.sid, lower(hex(randomblob(16))), s.user_id, s.created_at * 1000,
       min(s.expires_at, s.created_at + 2592000), s.created_at + 2592000, s.refresh_jti,
       (SELECT r.jti FROM rotated_refresh_tokens r WHERE r.sid = s.sid
        ORDER BY r.rotated_at DESC, r.jti LIMIT 1),
       s.rotated_at, s.revoked_at, '', ''
FROM sessions s;

DROP TRIGGER sessions_record_rotated_refresh_token;
DROP TABLE rotated_refresh_tokens;
DROP TABLE sessions;
ALTER TABLE sessions_v3 RENAME TO sessions;

CREATE UNIQUE INDEX sessions_public_id_key ON sessions (public_id);
CREATE INDEX sessions_user_id_idx ON sessions (user_id, created_at_ms);
-- The janitor's: expired, and ended.
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);
CREATE INDEX sessions_ended_at_idx ON sessions (ended_at) WHERE ended_at IS NOT NULL;
CREATE INDEX sessions_created_at_ms_idx ON sessions (created_at_ms);

ALTER TABLE email_tokens ADD COLUMN state TEXT NOT NULL DEFAULT '';
CREATE INDEX email_tokens_expires_at_idx ON email_tokens (expires_at);
CREATE INDEX email_tokens_used_at_idx ON email_tokens (used_at) WHERE used_at IS NOT NULL;

CREATE INDEX mail_outbox_done_idx ON mail_outbox (coalesce(sent_at, failed_at))
    WHERE sent_at IS NOT NULL OR failed_at IS NOT NULL;

CREATE TABLE session_cutoff (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    -- Sessions opened before this instant (milliseconds) have ended.
    cutoff_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE leases (
    name   TEXT    PRIMARY KEY NOT NULL,
    holder TEXT    NOT NULL,
    until  INTEGER NOT NULL
) STRICT;
