-- authx schema, SQLite. Instants are unix seconds; booleans are 0/1.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    email         TEXT    NOT NULL,
    username      TEXT    NOT NULL,
    password_hash TEXT,
    active        INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    confirmed     INTEGER NOT NULL DEFAULT 0 CHECK (confirmed IN (0, 1)),
    -- A JSON array of permission names.
    permissions   TEXT    NOT NULL DEFAULT '[]'
                  CHECK (json_valid(permissions) AND json_type(permissions) = 'array'),
    created_at    INTEGER NOT NULL,
    last_login    INTEGER
) STRICT;

-- Unique without regard to case; the index names identify the field in a conflict.
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));
CREATE UNIQUE INDEX users_username_lower_key ON users (lower(username));

CREATE TABLE sessions (
    sid        TEXT    PRIMARY KEY NOT NULL,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    -- When its current refresh token expires.
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
) STRICT;

CREATE INDEX sessions_user_id_idx ON sessions (user_id);

CREATE TABLE refresh_tokens (
    jti        TEXT    PRIMARY KEY NOT NULL,
    sid        TEXT    NOT NULL REFERENCES sessions (sid) ON DELETE CASCADE,
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    rotated_at INTEGER
) STRICT;

CREATE INDEX refresh_tokens_sid_idx ON refresh_tokens (sid);

CREATE TABLE email_tokens (
    -- Lower-case hex SHA-256 of the mailed token.
    hash       TEXT    PRIMARY KEY NOT NULL,
    purpose    TEXT    NOT NULL,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email      TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) STRICT;

CREATE INDEX email_tokens_unused_idx ON email_tokens (user_id, purpose) WHERE used_at IS NULL;

CREATE TABLE mail_outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    recipient       TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    body_text       TEXT    NOT NULL,
    body_html       TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at INTEGER NOT NULL,
    claim           TEXT,
    claimed_until   INTEGER,
    sent_at         INTEGER,
    failed_at       INTEGER,
    last_error      TEXT
) STRICT;

-- The due-mail query: pending rows by due time.
CREATE INDEX mail_outbox_due_idx ON mail_outbox (next_attempt_at, id)
    WHERE sent_at IS NULL AND failed_at IS NULL;
