-- authx schema, MySQL 8 and MariaDB 10.6+. Instants are unix seconds in BIGINT (never
-- TIMESTAMP, which ends in 2038); booleans are BOOLEAN (TINYINT(1)).
--
-- Every table is utf8mb4 with the binary collation `utf8mb4_bin` (the servers' defaults are
-- case- and accent-insensitive): token hashes, session ids and everything else compare
-- exactly. Emails and usernames are unique and found without regard to case, but not to
-- accents, through a stored lower-case copy (`email_lower`, `username_lower`) under the same
-- binary collation, indexed in place of SQLite's and PostgreSQL's indexes on `lower(...)`.
--
-- DDL is not transactional here: the store runs a migration one statement at a time and
-- records each statement done, so a migration cut off half-way resumes where it stopped (see
-- `src/mysql/migrate.rs`). Each statement ends with `;` at the end of a line, and no `;`
-- ends a line anywhere else.

CREATE TABLE users (
    id             BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    email          VARCHAR(512) NOT NULL,
    username       VARCHAR(255) NOT NULL,
    password_hash  TEXT,
    active         BOOLEAN      NOT NULL DEFAULT TRUE,
    confirmed      BOOLEAN      NOT NULL DEFAULT FALSE,
    -- A JSON array of permission names.
    permissions    JSON         NOT NULL DEFAULT ('[]'),
    created_at     BIGINT       NOT NULL,
    last_login     BIGINT,
    email_lower    VARCHAR(512) GENERATED ALWAYS AS (lower(email)) STORED,
    username_lower VARCHAR(255) GENERATED ALWAYS AS (lower(username)) STORED,
    CONSTRAINT users_permissions_array CHECK (json_type(permissions) = 'ARRAY'),
    -- Unique without regard to case; the index names identify the field in a conflict.
    UNIQUE KEY users_email_lower_key (email_lower),
    UNIQUE KEY users_username_lower_key (username_lower)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE sessions (
    sid        VARCHAR(255) NOT NULL PRIMARY KEY,
    user_id    BIGINT       NOT NULL,
    created_at BIGINT       NOT NULL,
    -- When its current refresh token expires.
    expires_at BIGINT       NOT NULL,
    revoked_at BIGINT,
    KEY sessions_user_id_idx (user_id),
    CONSTRAINT sessions_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id)
        ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE refresh_tokens (
    jti        VARCHAR(255) NOT NULL PRIMARY KEY,
    sid        VARCHAR(255) NOT NULL,
    issued_at  BIGINT       NOT NULL,
    expires_at BIGINT       NOT NULL,
    rotated_at BIGINT,
    KEY refresh_tokens_sid_idx (sid),
    CONSTRAINT refresh_tokens_sid_fkey FOREIGN KEY (sid) REFERENCES sessions (sid)
        ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE email_tokens (
    -- Lower-case hex SHA-256 of the mailed token.
    hash       VARCHAR(255) NOT NULL PRIMARY KEY,
    purpose    VARCHAR(64)  NOT NULL,
    user_id    BIGINT       NOT NULL,
    email      VARCHAR(512) NOT NULL,
    created_at BIGINT       NOT NULL,
    expires_at BIGINT       NOT NULL,
    used_at    BIGINT,
    -- No partial indexes here: the unused ones are those with `used_at` NULL, its last column.
    KEY email_tokens_unused_idx (user_id, purpose, used_at),
    CONSTRAINT email_tokens_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id)
        ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE mail_outbox (
    id              BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    recipient       TEXT        NOT NULL,
    subject         TEXT        NOT NULL,
    body_text       MEDIUMTEXT  NOT NULL,
    body_html       MEDIUMTEXT  NOT NULL,
    created_at      BIGINT      NOT NULL,
    attempts        BIGINT      NOT NULL DEFAULT 0,
    next_attempt_at BIGINT      NOT NULL,
    claim           VARCHAR(64),
    claimed_until   BIGINT,
    sent_at         BIGINT,
    failed_at       BIGINT,
    last_error      TEXT,
    CONSTRAINT mail_outbox_attempts_check CHECK (attempts >= 0),
    -- The due-mail query: rows by due time (delivered rows are purged).
    KEY mail_outbox_due_idx (next_attempt_at, id),
    -- A claim reads back the rows it claimed (MySQL has no UPDATE ... RETURNING).
    KEY mail_outbox_claim_idx (claim)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
