-- Social login (CONTRACT 9.6).
-- * `identities`: an account at a provider (provider, subject) linked to a local user; the
--   subject is the provider's stable key (OIDC `sub`, GitHub's numeric id), never the email.
-- * `social_sign_ins`: sign-ins under way, keyed by the SHA-256 of their state (the state itself
--   is only in the browser's cookie and the provider's redirect), taken by the callback in one
--   DELETE (single use); the janitor deletes those that expired.

CREATE TABLE identities (
    provider  TEXT    NOT NULL,
    subject   TEXT    NOT NULL,
    user_id   BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email     TEXT,
    linked_at BIGINT  NOT NULL,
    PRIMARY KEY (provider, subject)
);

CREATE INDEX identities_user_id_idx ON identities (user_id);

CREATE TABLE social_sign_ins (
    state_hash    TEXT    PRIMARY KEY NOT NULL,
    provider      TEXT    NOT NULL,
    pkce_verifier TEXT    NOT NULL,
    nonce         TEXT    NOT NULL,
    redirect      TEXT    NOT NULL,
    expires_at    BIGINT  NOT NULL
);

CREATE INDEX social_sign_ins_expires_idx ON social_sign_ins (expires_at);
