-- Version 2 of the contract.
-- * A session row holds its current and its previous refresh token id, so a refresh writes no
--   new row; the table of rotated tokens goes.
-- * A session has a public id (shown in GET /sessions, not the secret sid), records the client
--   (IP, User-Agent) of its login and of its last refresh, opens at an instant to the
--   millisecond (cut-offs compare with it), and ends at an absolute expiry however often it is
--   refreshed. `revoked_at` becomes `ended_at`.
-- * Users record when their password last changed (reset tokens issued before no longer work).
-- * Emailed tokens are bound to a state as well as to their address.
-- * The global session cut-off ("log out everyone") and the janitor's lease get tables.
-- Live version-1 sessions keep working: their absolute expiry is 30 days after their login.
-- Partial indexes of the other schemas are plain ones here; the index on
-- coalesce(sent_at, failed_at) is on a stored generated column, `done_at`.

ALTER TABLE users ADD COLUMN password_changed_at BIGINT;

ALTER TABLE sessions
    ADD COLUMN public_id           VARCHAR(64),
    ADD COLUMN created_at_ms       BIGINT,
    ADD COLUMN absolute_expires_at BIGINT,
    ADD COLUMN previous_jti        VARCHAR(255),
    ADD COLUMN login_ip            VARCHAR(64)   NOT NULL DEFAULT '',
    ADD COLUMN login_user_agent    VARCHAR(1024) NOT NULL DEFAULT '',
    ADD COLUMN last_ip             VARCHAR(64),
    ADD COLUMN last_user_agent     VARCHAR(1024),
    RENAME COLUMN revoked_at TO ended_at;

-- 32 lower-case hex digits, as elsewhere (MariaDB 10.6 has no RANDOM_BYTES; a public id
-- needs to be unique, not secret).
UPDATE sessions s SET
    public_id = md5(concat(uuid(), rand(), s.sid)),
    created_at_ms = s.created_at * 1000,
    absolute_expires_at = s.created_at + 2592000,
    expires_at = least(s.expires_at, s.created_at + 2592000),
    previous_jti = (SELECT r.jti FROM rotated_refresh_tokens r WHERE r.sid = s.sid
                    ORDER BY r.rotated_at DESC, r.jti LIMIT 1);

ALTER TABLE sessions
    MODIFY COLUMN public_id VARCHAR(64) NOT NULL,
    MODIFY COLUMN created_at_ms BIGINT NOT NULL,
    MODIFY COLUMN absolute_expires_at BIGINT NOT NULL,
    ALTER COLUMN login_ip DROP DEFAULT,
    ALTER COLUMN login_user_agent DROP DEFAULT,
    DROP COLUMN created_at,
    ADD UNIQUE KEY sessions_public_id_key (public_id),
    -- Replaced in one statement: the foreign key on user_id always has an index.
    DROP INDEX sessions_user_id_idx,
    ADD KEY sessions_user_id_idx (user_id, created_at_ms),
    -- The janitor's: expired, and ended.
    ADD KEY sessions_expires_at_idx (expires_at),
    ADD KEY sessions_ended_at_idx (ended_at),
    ADD KEY sessions_created_at_ms_idx (created_at_ms);

DROP TABLE rotated_refresh_tokens;

ALTER TABLE email_tokens
    ADD COLUMN state VARCHAR(1024) NOT NULL DEFAULT '',
    ADD KEY email_tokens_expires_at_idx (expires_at),
    ADD KEY email_tokens_used_at_idx (used_at);

ALTER TABLE mail_outbox
    ADD COLUMN done_at BIGINT GENERATED ALWAYS AS (coalesce(sent_at, failed_at)) STORED,
    ADD KEY mail_outbox_done_idx (done_at);

CREATE TABLE session_cutoff (
    id        INTEGER NOT NULL PRIMARY KEY,
    -- Sessions opened before this instant (milliseconds) have ended.
    cutoff_ms BIGINT  NOT NULL,
    CONSTRAINT session_cutoff_single CHECK (id = 1)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- `until` is a reserved word in MySQL: quoted wherever it is used.
CREATE TABLE leases (
    name    VARCHAR(255) NOT NULL PRIMARY KEY,
    holder  VARCHAR(255) NOT NULL,
    `until` BIGINT       NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
