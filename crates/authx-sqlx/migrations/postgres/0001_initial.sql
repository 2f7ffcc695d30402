-- authx schema, PostgreSQL. Instants are unix seconds.

CREATE TABLE users (
    id            BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         TEXT    NOT NULL,
    username      TEXT    NOT NULL,
    password_hash TEXT,
    active        BOOLEAN NOT NULL DEFAULT TRUE,
    confirmed     BOOLEAN NOT NULL DEFAULT FALSE,
    permissions   TEXT[]  NOT NULL DEFAULT '{}'
                  CHECK (array_position(permissions, NULL) IS NULL),
    created_at    BIGINT  NOT NULL,
    last_login    BIGINT
);

-- Unique without regard to case; the index names identify the field in a conflict.
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));
CREATE UNIQUE INDEX users_username_lower_key ON users (lower(username));

CREATE TABLE sessions (
    sid        TEXT   PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    -- When its current refresh token expires.
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE INDEX sessions_user_id_idx ON sessions (user_id);

CREATE TABLE refresh_tokens (
    jti        TEXT   PRIMARY KEY,
    sid        TEXT   NOT NULL REFERENCES sessions (sid) ON DELETE CASCADE,
    issued_at  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    rotated_at BIGINT
);

CREATE INDEX refresh_tokens_sid_idx ON refresh_tokens (sid);

CREATE TABLE email_tokens (
    -- Lower-case hex SHA-256 of the mailed token.
    hash       TEXT   PRIMARY KEY,
    purpose    TEXT   NOT NULL,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email      TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);

CREATE INDEX email_tokens_unused_idx ON email_tokens (user_id, purpose) WHERE used_at IS NULL;

CREATE TABLE mail_outbox (
    id              BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recipient       TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    body_text       TEXT    NOT NULL,
    body_html       TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at BIGINT  NOT NULL,
    claim           TEXT,
    claimed_until   BIGINT,
    sent_at         BIGINT,
    failed_at       BIGINT,
    last_error      TEXT
);

-- The due-mail query: pending rows by due time.
CREATE INDEX mail_outbox_due_idx ON mail_outbox (next_attempt_at, id)
    WHERE sent_at IS NULL AND failed_at IS NULL;
