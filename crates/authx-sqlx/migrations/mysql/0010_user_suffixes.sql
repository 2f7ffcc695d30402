-- The admin search's substring index, version 2: a table of suffixes, one row per position of
-- each user's `username_lower` (field 1) and `email_lower` (field 2) where three characters or
-- more remain, holding the (at most) 12 characters from there. A substring of three
-- characters or more is a prefix of the suffix at each place it occurs, so the users holding
-- it are one range of the primary key (field, suffix, user_id): a search reads the entries
-- that match, however many users there are, instead of the trigram lists of 0009, which grow
-- with them (see docs/benchmarks.md, "Admin search"). A substring longer than 12 characters
-- is looked up by its first 12 and checked whole; every row the index yields is checked with
-- the search's own `LIKE`, so what matches is what matched before.
--
-- A suffix is cut in characters from the stored lower-case copies (what the `LIKE` compares)
-- and kept as bytes (`VARBINARY`: compared byte by byte, without the padding of a `PAD SPACE`
-- collation; UTF-8's byte order is its characters' order). A user named `u0001234` with the
-- address `u0001234@example.com` has 6 + 18 = 24 rows, as many as 0009's trigrams.
--
-- Triggers keep the table in step with `users`, one statement each (see 0009): the positions
-- come from `user_suffix_positions`, the numbers 1 to 510. A change of username or email
-- deletes the field's old rows (found by the primary key), then inserts the new (ordered by
-- `FOLLOWS`); any other update of a user runs them with nothing to do. Resuming a migration
-- cut off half-way works as for 0009 (`INSERT IGNORE`, `IF EXISTS`).
CREATE TABLE user_suffixes (
    -- 1: `username_lower`, 2: `email_lower`.
    field   TINYINT        NOT NULL,
    suffix  VARBINARY(48)  NOT NULL,
    user_id BIGINT         NOT NULL,
    PRIMARY KEY (field, suffix, user_id)
) ENGINE = InnoDB;

CREATE TABLE user_suffix_positions (
    n SMALLINT NOT NULL PRIMARY KEY
) ENGINE = InnoDB;

INSERT IGNORE INTO user_suffix_positions (n)
WITH RECURSIVE numbers (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM numbers WHERE n < 510)
SELECT n FROM numbers;

CREATE TRIGGER user_suffixes_insert AFTER INSERT ON users FOR EACH ROW
    INSERT IGNORE INTO user_suffixes (field, suffix, user_id)
    SELECT 1, SUBSTRING(new.username_lower, n, 12), new.id FROM user_suffix_positions
    WHERE n <= CHAR_LENGTH(new.username_lower) - 2
    UNION ALL
    SELECT 2, SUBSTRING(new.email_lower, n, 12), new.id FROM user_suffix_positions
    WHERE n <= CHAR_LENGTH(new.email_lower) - 2;

CREATE TRIGGER user_suffixes_update_old AFTER UPDATE ON users FOR EACH ROW
    DELETE user_suffixes FROM user_suffixes JOIN (
        SELECT 1 AS field, SUBSTRING(old.username_lower, n, 12) AS suffix
        FROM user_suffix_positions
        WHERE old.username_lower <> new.username_lower
            AND n <= CHAR_LENGTH(old.username_lower) - 2
        UNION ALL
        SELECT 2, SUBSTRING(old.email_lower, n, 12) FROM user_suffix_positions
        WHERE old.email_lower <> new.email_lower AND n <= CHAR_LENGTH(old.email_lower) - 2
    ) AS old_suffixes
        ON user_suffixes.field = old_suffixes.field
        AND user_suffixes.suffix = CAST(old_suffixes.suffix AS BINARY)
    WHERE user_suffixes.user_id = old.id;

CREATE TRIGGER user_suffixes_update_new AFTER UPDATE ON users FOR EACH ROW
    FOLLOWS user_suffixes_update_old
    INSERT IGNORE INTO user_suffixes (field, suffix, user_id)
    SELECT 1, SUBSTRING(new.username_lower, n, 12), new.id FROM user_suffix_positions
    WHERE old.username_lower <> new.username_lower
        AND n <= CHAR_LENGTH(new.username_lower) - 2
    UNION ALL
    SELECT 2, SUBSTRING(new.email_lower, n, 12), new.id FROM user_suffix_positions
    WHERE old.email_lower <> new.email_lower AND n <= CHAR_LENGTH(new.email_lower) - 2;

CREATE TRIGGER user_suffixes_delete AFTER DELETE ON users FOR EACH ROW
    DELETE user_suffixes FROM user_suffixes JOIN (
        SELECT 1 AS field, SUBSTRING(old.username_lower, n, 12) AS suffix
        FROM user_suffix_positions WHERE n <= CHAR_LENGTH(old.username_lower) - 2
        UNION ALL
        SELECT 2, SUBSTRING(old.email_lower, n, 12) FROM user_suffix_positions
        WHERE n <= CHAR_LENGTH(old.email_lower) - 2
    ) AS old_suffixes
        ON user_suffixes.field = old_suffixes.field
        AND user_suffixes.suffix = CAST(old_suffixes.suffix AS BINARY)
    WHERE user_suffixes.user_id = old.id;

-- The users there before this migration.
INSERT IGNORE INTO user_suffixes (field, suffix, user_id)
SELECT 1, SUBSTRING(username_lower, n, 12), id
FROM users JOIN user_suffix_positions ON n <= CHAR_LENGTH(username_lower) - 2
UNION ALL
SELECT 2, SUBSTRING(email_lower, n, 12), id
FROM users JOIN user_suffix_positions ON n <= CHAR_LENGTH(email_lower) - 2;

-- The trigrams of 0009: the suffixes replace them.
DROP TRIGGER IF EXISTS user_trigrams_insert;
DROP TRIGGER IF EXISTS user_trigrams_update_new;
DROP TRIGGER IF EXISTS user_trigrams_update_old;
DROP TRIGGER IF EXISTS user_trigrams_delete;
DROP TABLE IF EXISTS user_trigrams;
DROP TABLE IF EXISTS user_trigram_positions;
