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

ALTER TABLE users ADD COLUMN password_changed_at BIGINT;

ALTER TABLE sessions
    ADD COLUMN public_id           TEXT,
    ADD COLUMN created_at_ms       BIGINT,
    ADD COLUMN absolute_expires_at BIGINT,
    ADD COLUMN previous_jti        TEXT,
    ADD COLUMN login_ip            TEXT NOT NULL DEFAULT '',
    ADD COLUMN login_user_agent    TEXT NOT NULL DEFAULT '',
    ADD COLUMN last_ip             TEXT,
    ADD COLUMN last_user_agent     TEXT;
ALTER TABLE sessions RENAME COLUMN revoked_at TO ended_at;

UPDATE sessions s SET
    public_id = replace(gen_random_uuid()::text, '-', ''),
    created_at_ms = s.created_at * 1000,
    absolute_expires_at = s.created_at + 2592000,
    expires_at = least(s.expires_at, s.created_at + 2592000),
    previous_jti = (SELECT r.jti FROM rotated_refresh_tokens r WHERE r.sid = s.sid
                    ORDER BY r.rotated_at DESC, r.jti LIMIT 1);

ALTER TABLE sessions
    ALTER COLUMN public_id SET NOT NULL,
    ALTER COLUMN created_at_ms SET NOT NULL,
    ALTER COLUMN absolute_expires_at SET NOT NULL,
    ALTER COLUMN login_ip DROP DEFAULT,
    ALTER COLUMN login_user_agent DROP DEFAULT,
    DROP COLUMN created_at;

DROP TRIGGER sessions_record_rotated_refresh_token ON sessions;
DROP FUNCTION authx_record_rotated_refresh_token();
DROP TABLE rotated_refresh_tokens;

CREATE UNIQUE INDEX sessions_public_id_key ON sessions (public_id);
DROP INDEX sessions_user_id_idx;
CREATE INDEX sessions_user_id_idx ON sessions (user_id, created_at_ms);
-- The janitor's: expired, and ended.
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);
CREATE INDEX sessions_ended_at_idx ON sessions (ended_at) WHERE ended_at IS NOT NULL;
CREATE INDEX sessions_created_at_ms_idx ON sessions (created_at_ms);

ALTER TABLE email_tokens ADD COLUMN state TEXT NOT NULL DEFAULT '';
CREATE INDEX email_tokens_expires_at_idx ON email_tokens (expires_at);
CREATE INDEX email_tokens_used_at_idx ON email_tokens (used_at) WHERE used_at IS NOT NULL;

CREATE INDEX mail_outbox_done_idx ON mail_outbox ((coalesce(sent_at, failed_at)))
    WHERE sent_at IS NOT NULL OR failed_at IS NOT NULL;

CREATE TABLE session_cutoff (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    -- Sessions opened before this instant (milliseconds) have ended.
    cutoff_ms BIGINT  NOT NULL
);

CREATE TABLE leases (
    name   TEXT   PRIMARY KEY,
    holder TEXT   NOT NULL,
    until  BIGINT NOT NULL
);
