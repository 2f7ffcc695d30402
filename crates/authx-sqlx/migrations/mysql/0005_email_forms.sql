-- Emails take one form from this version on (authx_core::policy::Policy::email): the local
-- part in Unicode NFC, the domain in its IDNA ASCII form, lower-case. SQL cannot compute that
-- form, so this migration lists the users whose stored email may not be in it (those with a
-- character beyond ASCII); the store rewrites them right after the migrations, in Rust, one
-- user per transaction, taking each off the list. An address whose new form another account
-- already has is left as it was (and logged).
CREATE TABLE email_forms_pending (
    user_id BIGINT NOT NULL PRIMARY KEY,
    CONSTRAINT email_forms_pending_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id)
        ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

INSERT INTO email_forms_pending (user_id)
SELECT id FROM users WHERE octet_length(email) <> char_length(email);
