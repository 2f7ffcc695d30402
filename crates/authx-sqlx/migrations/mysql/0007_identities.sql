-- Social login (CONTRACT 9.6).
-- * `identities`: an account at a provider (provider, subject) linked to a local user; the
--   subject is the provider's stable key (OIDC `sub`, GitHub's numeric id), never the email.
-- * `social_sign_ins`: sign-ins under way, keyed by the SHA-256 of their state (the state itself
--   is only in the browser's cookie and the provider's redirect), taken by the callback once
--   (a locked read, then DELETE); the janitor deletes those that expired.

CREATE TABLE identities (
    provider  VARCHAR(64)  NOT NULL,
    subject   VARCHAR(255) NOT NULL,
    user_id   BIGINT       NOT NULL,
    email     VARCHAR(512),
    linked_at BIGINT       NOT NULL,
    PRIMARY KEY (provider, subject),
    KEY identities_user_id_idx (user_id),
    CONSTRAINT identities_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE social_sign_ins (
    state_hash    VARCHAR(128)  NOT NULL PRIMARY KEY,
    provider      VARCHAR(64)   NOT NULL,
    pkce_verifier VARCHAR(255)  NOT NULL,
    nonce         VARCHAR(255)  NOT NULL,
    redirect      VARCHAR(2048) NOT NULL,
    expires_at    BIGINT        NOT NULL,
    KEY social_sign_ins_expires_idx (expires_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
