-- A session row holds its current refresh token, so that a rotation is one UPDATE; the tokens it
-- replaced move to `rotated_refresh_tokens`, written by a trigger in the same statement, which
-- tells a token rotated within the grace period from a replay.

CREATE TABLE sessions_v2 (
    sid         TEXT    PRIMARY KEY NOT NULL,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    -- When its current refresh token expires.
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER,
    -- The `jti` of its current refresh token.
    refresh_jti TEXT    NOT NULL,
    -- When the current refresh token replaced the previous one; NULL before the first rotation.
    rotated_at  INTEGER
) STRICT;

-- Every session has exactly one current (unrotated) token; a session without one could not be
-- refreshed and is dropped, which makes its access tokens count as revoked.
INSERT INTO sessions_v2 (sid, user_id, created_at, expires_at, revoked_at, refresh_jti, rotated_at)
SELECT * FROM (
    SELECT s.sid, s.user_id, s.created_at, s.expires_at, s.revoked_at,
           (SELECT c.jti FROM refresh_tokens c
            WHERE c.sid = s.sid AND c.rotated_at IS NULL
            ORDER BY c.issued_at DESC, c.jti LIMIT 1) AS refresh_jti,
           (SELECT max(r.rotated_at) FROM refresh_tokens r WHERE r.sid = s.sid) AS rotated_at
    FROM sessions s
) WHERE refresh_jti IS NOT NULL;

CREATE TABLE rotated_refresh_tokens (
    jti        TEXT    PRIMARY KEY NOT NULL,
    sid        TEXT    NOT NULL REFERENCES sessions_v2 (sid) ON DELETE CASCADE,
    rotated_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

INSERT INTO rotated_refresh_tokens (jti, sid, rotated_at)
SELECT t.jti, t.sid, t.rotated_at FROM refresh_tokens t
JOIN sessions_v2 s ON s.sid = t.sid
WHERE t.rotated_at IS NOT NULL;

DROP TABLE refresh_tokens;
DROP TABLE sessions;
-- Renaming the table also renames the references to it (SQLite 3.26+, legacy_alter_table off).
ALTER TABLE sessions_v2 RENAME TO sessions;

CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX rotated_refresh_tokens_sid_idx ON rotated_refresh_tokens (sid);

-- A rotation replaces `refresh_jti`; the token it replaced is recorded with the rotation time.
CREATE TRIGGER sessions_record_rotated_refresh_token
AFTER UPDATE OF refresh_jti ON sessions
WHEN OLD.refresh_jti <> NEW.refresh_jti
BEGIN
    INSERT INTO rotated_refresh_tokens (jti, sid, rotated_at)
    VALUES (OLD.refresh_jti, NEW.sid, NEW.rotated_at);
END;
