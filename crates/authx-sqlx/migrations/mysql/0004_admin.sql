-- The admin router.
-- * A ban records why, when, and when it lifts itself (NULL: until an admin lifts it); `active`
--   stays the flag every flow reads. A ban past its expiry counts as lifted, and is lifted in
--   storage by the first login, refresh or admin check that finds it.
-- * The blackout record ("everyone was logged out at ...") is what admins see; the global
--   cut-off in `session_cutoff` is what ends the sessions, and removing the record leaves it.

ALTER TABLE users
    ADD COLUMN ban_reason     TEXT,
    ADD COLUMN banned_at      BIGINT,
    ADD COLUMN ban_expires_at BIGINT,
    -- The blacklist: the few banned users, without reading every user (no partial indexes
    -- here: inactive users come first in this one).
    ADD KEY users_banned_idx (active, id);

CREATE TABLE blackout (
    id     INTEGER NOT NULL PRIMARY KEY,
    set_at BIGINT  NOT NULL,
    CONSTRAINT blackout_single CHECK (id = 1)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
