-- The admin search's substring index, version 2: a table of suffixes, one row per position of
-- each user's lower-case username (field 1) and email (field 2) where three characters or more
-- remain, holding the (at most) 12 characters from there. A substring of three characters or
-- more is a prefix of the suffix at each place it occurs, so the users holding it are one range
-- of the primary key (field, suffix, user_id): a search reads the entries that match, however
-- many users there are, instead of the trigram lists of 0008, which grow with them (see
-- docs/benchmarks.md, "Admin search"). A substring longer than 12 characters is looked up by
-- its first 12 and checked whole; every row the index yields is checked with the search's own
-- `LIKE`, so what matches is what matched before.
--
-- A suffix is cut from `lower(column)`, the very expression the `LIKE` compares (SQLite's
-- `lower` folds ASCII only, as its `LIKE` does), and compared as bytes (the table's BINARY
-- collation: UTF-8's byte order is its characters' order). A user named `u0001234` with the
-- address `u0001234@example.com` has 6 + 18 = 24 rows. `WITHOUT ROWID`: the primary key is the
-- table, stored once.
--
-- Triggers keep it in step with `users`. A trigger cannot hold a common table expression, so
-- the positions come from `user_suffix_positions`, the numbers 1 to 510 (the last suffix of a
-- 512-character value; the library accepts addresses of 254 characters). Only a change of
-- username or email touches it: a login's update does not. The old rows are found by the
-- primary key (the old values' suffixes), not by a scan for the user's id.
CREATE TABLE user_suffixes (
    field   INTEGER NOT NULL,
    suffix  TEXT    NOT NULL,
    user_id INTEGER NOT NULL,
    PRIMARY KEY (field, suffix, user_id)
) WITHOUT ROWID;

CREATE TABLE user_suffix_positions (n INTEGER PRIMARY KEY);

INSERT INTO user_suffix_positions (n)
WITH RECURSIVE numbers (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM numbers WHERE n < 510)
SELECT n FROM numbers;

CREATE TRIGGER user_suffixes_insert AFTER INSERT ON users BEGIN
    INSERT OR IGNORE INTO user_suffixes (field, suffix, user_id)
    SELECT 1, substr(lower(new.username), n, 12), new.id FROM user_suffix_positions
    WHERE n <= length(lower(new.username)) - 2
    UNION ALL
    SELECT 2, substr(lower(new.email), n, 12), new.id FROM user_suffix_positions
    WHERE n <= length(lower(new.email)) - 2;
END;

CREATE TRIGGER user_suffixes_delete AFTER DELETE ON users BEGIN
    DELETE FROM user_suffixes WHERE field = 1 AND user_id = old.id AND suffix IN (
        SELECT substr(lower(old.username), n, 12) FROM user_suffix_positions
        WHERE n <= length(lower(old.username)) - 2
    );
    DELETE FROM user_suffixes WHERE field = 2 AND user_id = old.id AND suffix IN (
        SELECT substr(lower(old.email), n, 12) FROM user_suffix_positions
        WHERE n <= length(lower(old.email)) - 2
    );
END;

CREATE TRIGGER user_suffixes_update_username AFTER UPDATE OF username ON users
WHEN lower(old.username) IS NOT lower(new.username) BEGIN
    DELETE FROM user_suffixes WHERE field = 1 AND user_id = old.id AND suffix IN (
        SELECT substr(lower(old.username), n, 12) FROM user_suffix_positions
        WHERE n <= length(lower(old.username)) - 2
    );
    INSERT OR IGNORE INTO user_suffixes (field, suffix, user_id)
    SELECT 1, substr(lower(new.username), n, 12), new.id FROM user_suffix_positions
    WHERE n <= length(lower(new.username)) - 2;
END;

CREATE TRIGGER user_suffixes_update_email AFTER UPDATE OF email ON users
WHEN lower(old.email) IS NOT lower(new.email) BEGIN
    DELETE FROM user_suffixes WHERE field = 2 AND user_id = old.id AND suffix IN (
        SELECT substr(lower(old.email), n, 12) FROM user_suffix_positions
        WHERE n <= length(lower(old.email)) - 2
    );
    INSERT OR IGNORE INTO user_suffixes (field, suffix, user_id)
    SELECT 2, substr(lower(new.email), n, 12), new.id FROM user_suffix_positions
    WHERE n <= length(lower(new.email)) - 2;
END;

-- The users there before this migration, in the key's order (a B-tree filled in order).
INSERT OR IGNORE INTO user_suffixes (field, suffix, user_id)
SELECT field, suffix, user_id FROM (
    SELECT 1 AS field, substr(lower(username), n, 12) AS suffix, id AS user_id
    FROM users JOIN user_suffix_positions ON n <= length(lower(username)) - 2
    UNION ALL
    SELECT 2, substr(lower(email), n, 12), id
    FROM users JOIN user_suffix_positions ON n <= length(lower(email)) - 2
) ORDER BY field, suffix, user_id;

-- The FTS5 table of 0008 and its triggers: the suffixes replace them.
DROP TRIGGER users_search_insert;
DROP TRIGGER users_search_delete;
DROP TRIGGER users_search_update;
DROP TABLE users_search;
