-- The admin search's substring index, version 2: a table of suffixes, one row per position of
-- each user's lower-case username (field 1) and email (field 2) where three characters or more
-- remain, holding the (at most) 12 characters from there. A substring of three characters or
-- more is a prefix of the suffix at each place it occurs, so the users holding it are one range
-- of the primary key (field, suffix, user_id): a search reads the entries that match, however
-- many users there are, instead of pg_trgm's posting lists (0008), which grow with them (see
-- docs/benchmarks.md, "Admin search"). A substring longer than 12 characters is looked up by
-- its first 12 and checked whole; every row the index yields is checked with the search's own
-- `LIKE`, so what matches is what matched before.
--
-- A suffix is cut from `lower(column)`, the expression the `LIKE` compares, and compared under
-- the "C" collation (bytes: UTF-8's byte order is its characters' order, and a range of it is
-- the strings with a prefix, which a linguistic collation's is not). A user named `u0001234`
-- with the address `u0001234@example.com` has 6 + 18 = 24 rows.
--
-- A trigger keeps it in step with `users`; only a change of username or email touches it (a
-- login's update does not). The old rows are found by the primary key (the old values'
-- suffixes), not by a scan for the user's id.
CREATE TABLE user_suffixes (
    field   SMALLINT NOT NULL,
    suffix  TEXT COLLATE "C" NOT NULL,
    user_id BIGINT   NOT NULL,
    PRIMARY KEY (field, suffix, user_id)
);

CREATE FUNCTION authx_user_suffixes(value TEXT) RETURNS SETOF TEXT
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT DISTINCT substr(lower(value), n, 12) COLLATE "C"
    FROM generate_series(1, char_length(lower(value)) - 2) AS n
$$;

CREATE FUNCTION authx_sync_user_suffixes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        IF TG_OP = 'DELETE' OR lower(OLD.username) IS DISTINCT FROM lower(NEW.username) THEN
            DELETE FROM user_suffixes WHERE field = 1 AND user_id = OLD.id
                AND suffix IN (SELECT authx_user_suffixes(OLD.username));
        END IF;
        IF TG_OP = 'DELETE' OR lower(OLD.email) IS DISTINCT FROM lower(NEW.email) THEN
            DELETE FROM user_suffixes WHERE field = 2 AND user_id = OLD.id
                AND suffix IN (SELECT authx_user_suffixes(OLD.email));
        END IF;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' OR lower(OLD.username) IS DISTINCT FROM lower(NEW.username) THEN
        INSERT INTO user_suffixes (field, suffix, user_id)
        SELECT 1, s, NEW.id FROM authx_user_suffixes(NEW.username) AS s
        ON CONFLICT DO NOTHING;
    END IF;
    IF TG_OP = 'INSERT' OR lower(OLD.email) IS DISTINCT FROM lower(NEW.email) THEN
        INSERT INTO user_suffixes (field, suffix, user_id)
        SELECT 2, s, NEW.id FROM authx_user_suffixes(NEW.email) AS s
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER users_sync_suffixes_insert AFTER INSERT ON users
FOR EACH ROW EXECUTE FUNCTION authx_sync_user_suffixes();

CREATE TRIGGER users_sync_suffixes_update AFTER UPDATE OF username, email ON users
FOR EACH ROW EXECUTE FUNCTION authx_sync_user_suffixes();

CREATE TRIGGER users_sync_suffixes_delete AFTER DELETE ON users
FOR EACH ROW EXECUTE FUNCTION authx_sync_user_suffixes();

-- The users there before this migration.
INSERT INTO user_suffixes (field, suffix, user_id)
SELECT 1, s, id FROM users, authx_user_suffixes(username) AS s
UNION ALL
SELECT 2, s, id FROM users, authx_user_suffixes(email) AS s
ON CONFLICT DO NOTHING;

-- pg_trgm's indexes of 0008: the suffixes replace them (the extension stays: it may serve
-- other tables of the database).
DROP INDEX users_username_trgm_idx;
DROP INDEX users_email_trgm_idx;
