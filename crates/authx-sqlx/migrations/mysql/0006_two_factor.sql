-- The second factor (TOTP, RFC 6238) and its recovery codes.
-- * `totp_secret` is the secret sealed with AES-256-GCM under the configured TOTP key
--   (`v1.<key id>.<base64url>`), never the secret itself. A row with `enabled` false is an
--   enrolment waiting for its first code.
-- * Recovery codes are stored as SHA-256 hashes (hex), each used once (`used_at`).

CREATE TABLE two_factor (
    user_id     BIGINT   NOT NULL PRIMARY KEY,
    totp_secret TEXT     NOT NULL,
    enabled     BOOLEAN  NOT NULL DEFAULT FALSE,
    created_at  BIGINT   NOT NULL,
    enabled_at  BIGINT,
    codes_at    BIGINT,
    CONSTRAINT two_factor_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE recovery_codes (
    user_id   BIGINT       NOT NULL,
    code_hash VARCHAR(128) NOT NULL,
    used_at   BIGINT,
    PRIMARY KEY (user_id, code_hash),
    CONSTRAINT recovery_codes_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
