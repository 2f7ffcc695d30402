-- The admin search's substring index on MySQL/MariaDB, what pg_trgm's GIN is to PostgreSQL
-- and the FTS5 trigram table to SQLite (0008): neither server has an n-gram index that
-- follows the search's `LIKE` (InnoDB's FULLTEXT indexes words; MySQL's ngram parser is
-- MySQL's only and matches by collation). So the index is a table, one row per distinct
-- trigram of each user's `username_lower` (field 1) and `email_lower` (field 2): a user named
-- `u0001234` with the address `u0001234@example.com` has 6 + 18 = 24 rows. Its primary key
-- (field, gram, user_id) is the index: the users holding a trigram, in id order. A trigram is
-- three characters (not bytes) of the stored lower-case copies, under their binary collation,
-- so a row the search's `LIKE` matches holds every trigram of the substring searched; the
-- search still checks each row it reads with that `LIKE` (see `src/search.rs`).
--
-- Triggers keep the table in step with `users`, each one statement (no `BEGIN ... END`: the
-- migration runs one statement per step, split at lines ending with `;`): a statement cannot
-- loop, so the trigrams come from a join with `user_trigram_positions`, the numbers 1 to 510
-- (where the last trigram of the longest `email_lower`, 512 characters, starts).
-- Writes cost: a registration inserts its ~24 rows; a change of username or email deletes the
-- field's old rows, then inserts the new (two triggers, ordered by `FOLLOWS`); any other
-- update of a user (a login's `last_login`) runs the update triggers with nothing to do. A
-- user is deleted only by a `DELETE` on `users` (no table `users` references cascades into
-- it), which fires the delete trigger.
-- Creating a trigger takes the `TRIGGER` privilege; with binary logging on, also `SUPER`
-- unless the server sets `log_bin_trust_function_creators`.
--
-- A migration cut off half-way resumes at the statement it stopped at (`src/mysql/migrate.rs`):
-- a table or trigger that exists counts as created; the numbers and the backfill each commit
-- with their step's record, so they run once (and would write nothing twice: `INSERT
-- IGNORE`). The triggers come before the backfill, so a
-- user registered or renamed meanwhile has its rows from one or the other (`INSERT IGNORE`:
-- both may write the same row). A backfill that read a name just changed may leave its old
-- trigrams: a stale row only costs the search a read, as the `LIKE` rejects the user.

CREATE TABLE user_trigrams (
    -- 1: `username_lower`, 2: `email_lower`.
    field   TINYINT    NOT NULL,
    gram    VARCHAR(3) NOT NULL,
    user_id BIGINT     NOT NULL,
    PRIMARY KEY (field, gram, user_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE user_trigram_positions (
    n SMALLINT NOT NULL PRIMARY KEY
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

INSERT IGNORE INTO user_trigram_positions (n)
WITH RECURSIVE numbers (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM numbers WHERE n < 510)
SELECT n FROM numbers;

CREATE TRIGGER user_trigrams_insert AFTER INSERT ON users FOR EACH ROW
    INSERT IGNORE INTO user_trigrams (field, gram, user_id)
    SELECT 1, SUBSTRING(new.username_lower, n, 3), new.id FROM user_trigram_positions
    WHERE n <= CHAR_LENGTH(new.username_lower) - 2
    UNION ALL
    SELECT 2, SUBSTRING(new.email_lower, n, 3), new.id FROM user_trigram_positions
    WHERE n <= CHAR_LENGTH(new.email_lower) - 2;

-- The old trigrams of a field that changed, found by the primary key; a field that did not
-- change (a login) yields none.
CREATE TRIGGER user_trigrams_update_old AFTER UPDATE ON users FOR EACH ROW
    DELETE user_trigrams FROM user_trigrams JOIN (
        SELECT 1 AS field, SUBSTRING(old.username_lower, n, 3) AS gram
        FROM user_trigram_positions
        WHERE old.username_lower <> new.username_lower
            AND n <= CHAR_LENGTH(old.username_lower) - 2
        UNION ALL
        SELECT 2, SUBSTRING(old.email_lower, n, 3) FROM user_trigram_positions
        WHERE old.email_lower <> new.email_lower AND n <= CHAR_LENGTH(old.email_lower) - 2
    ) AS old_grams
        ON user_trigrams.field = old_grams.field AND user_trigrams.gram = old_grams.gram
    WHERE user_trigrams.user_id = old.id;

-- Then the new ones: after the old are gone, so a trigram in both names stays.
CREATE TRIGGER user_trigrams_update_new AFTER UPDATE ON users FOR EACH ROW
    FOLLOWS user_trigrams_update_old
    INSERT IGNORE INTO user_trigrams (field, gram, user_id)
    SELECT 1, SUBSTRING(new.username_lower, n, 3), new.id FROM user_trigram_positions
    WHERE old.username_lower <> new.username_lower
        AND n <= CHAR_LENGTH(new.username_lower) - 2
    UNION ALL
    SELECT 2, SUBSTRING(new.email_lower, n, 3), new.id FROM user_trigram_positions
    WHERE old.email_lower <> new.email_lower AND n <= CHAR_LENGTH(new.email_lower) - 2;

CREATE TRIGGER user_trigrams_delete AFTER DELETE ON users FOR EACH ROW
    DELETE user_trigrams FROM user_trigrams JOIN (
        SELECT 1 AS field, SUBSTRING(old.username_lower, n, 3) AS gram
        FROM user_trigram_positions WHERE n <= CHAR_LENGTH(old.username_lower) - 2
        UNION ALL
        SELECT 2, SUBSTRING(old.email_lower, n, 3) FROM user_trigram_positions
        WHERE n <= CHAR_LENGTH(old.email_lower) - 2
    ) AS old_grams
        ON user_trigrams.field = old_grams.field AND user_trigrams.gram = old_grams.gram
    WHERE user_trigrams.user_id = old.id;

-- The users there before this migration.
INSERT IGNORE INTO user_trigrams (field, gram, user_id)
SELECT 1, SUBSTRING(username_lower, n, 3), id
FROM users JOIN user_trigram_positions ON n <= CHAR_LENGTH(username_lower) - 2
UNION ALL
SELECT 2, SUBSTRING(email_lower, n, 3), id
FROM users JOIN user_trigram_positions ON n <= CHAR_LENGTH(email_lower) - 2;
