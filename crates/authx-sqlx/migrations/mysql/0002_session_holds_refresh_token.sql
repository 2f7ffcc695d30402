-- A session row holds its current refresh token, so that a rotation is one UPDATE; the tokens it
-- replaced move to `rotated_refresh_tokens`, which tells a token rotated within the grace
-- period from a replay.
--
-- SQLite and PostgreSQL also add a trigger here that records each replaced token; migration 3
-- drops it again. No MySQL database ever ran at this version (the MySQL backend came with
-- version 5 of the schema), so the trigger, which would only need the TRIGGER privilege, is
-- not created: the tables and their data take the same path as elsewhere.

ALTER TABLE sessions
    -- The `jti` of its current refresh token.
    ADD COLUMN refresh_jti VARCHAR(255),
    -- When the current refresh token replaced the previous one; NULL before the first rotation.
    ADD COLUMN rotated_at  BIGINT;

UPDATE sessions s SET
    refresh_jti = (SELECT c.jti FROM refresh_tokens c
                   WHERE c.sid = s.sid AND c.rotated_at IS NULL
                   ORDER BY c.issued_at DESC, c.jti LIMIT 1),
    rotated_at = (SELECT max(r.rotated_at) FROM refresh_tokens r WHERE r.sid = s.sid);

-- Every session has exactly one current (unrotated) token; a session without one could not be
-- refreshed and is dropped, which makes its access tokens count as revoked.
DELETE FROM sessions WHERE refresh_jti IS NULL;

ALTER TABLE sessions MODIFY COLUMN refresh_jti VARCHAR(255) NOT NULL;

CREATE TABLE rotated_refresh_tokens (
    jti        VARCHAR(255) NOT NULL PRIMARY KEY,
    sid        VARCHAR(255) NOT NULL,
    rotated_at BIGINT       NOT NULL,
    KEY rotated_refresh_tokens_sid_idx (sid),
    CONSTRAINT rotated_refresh_tokens_sid_fkey FOREIGN KEY (sid) REFERENCES sessions (sid)
        ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

INSERT INTO rotated_refresh_tokens (jti, sid, rotated_at)
SELECT t.jti, t.sid, t.rotated_at FROM refresh_tokens t
JOIN sessions s ON s.sid = t.sid
WHERE t.rotated_at IS NOT NULL;

DROP TABLE refresh_tokens;
