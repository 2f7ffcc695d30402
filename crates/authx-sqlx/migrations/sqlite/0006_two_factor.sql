-- The second factor (TOTP, RFC 6238) and its recovery codes.
-- * `totp_secret` is the secret sealed with AES-256-GCM under the configured TOTP key
--   (`v1.<key id>.<base64url>`), never the secret itself. A row with `enabled` false is an
--   enrolment waiting for its first code.
-- * Recovery codes are stored as SHA-256 hashes, each used once (`used_at`).
CREATE TABLE two_factor (
    user_id     INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    totp_secret TEXT NOT NULL,
    enabled     INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    enabled_at  INTEGER,
    codes_at    INTEGER
) STRICT;

CREATE TABLE recovery_codes (
    user_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at   INTEGER,
    PRIMARY KEY (user_id, code_hash)
) STRICT;
