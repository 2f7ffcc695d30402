-- A session row holds its current refresh token, so that a rotation is one UPDATE; the tokens it
-- replaced move to `rotated_refresh_tokens`, written by a trigger in the same statement, which
-- tells a token rotated within the grace period from a replay.

ALTER TABLE sessions
    -- The `jti` of its current refresh token.
    ADD COLUMN refresh_jti TEXT,
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
ALTER TABLE sessions ALTER COLUMN refresh_jti SET NOT NULL;

CREATE TABLE rotated_refresh_tokens (
    jti        TEXT   PRIMARY KEY,
    sid        TEXT   NOT NULL REFERENCES sessions (sid) ON DELETE CASCADE,
    rotated_at BIGINT NOT NULL
);

CREATE INDEX rotated_refresh_tokens_sid_idx ON rotated_refresh_tokens (sid);

INSERT INTO rotated_refresh_tokens (jti, sid, rotated_at)
SELECT jti, sid, rotated_at FROM refresh_tokens WHERE rotated_at IS NOT NULL;

DROP TABLE refresh_tokens;

-- A rotation replaces `refresh_jti`; the token it replaced is recorded with the rotation time.
CREATE FUNCTION authx_record_rotated_refresh_token() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rotated_refresh_tokens (jti, sid, rotated_at)
    VALUES (OLD.refresh_jti, NEW.sid, NEW.rotated_at);
    RETURN NULL;
END
$$;

CREATE TRIGGER sessions_record_rotated_refresh_token
AFTER UPDATE OF refresh_jti ON sessions
FOR EACH ROW WHEN (OLD.refresh_jti IS DISTINCT FROM NEW.refresh_jti)
EXECUTE FUNCTION authx_record_rotated_refresh_token();
