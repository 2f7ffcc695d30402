-- The admin search's substring index: an FTS5 table with the trigram tokenizer over the
-- username and the email of every user (external content: it stores only the index; the
-- text stays in `users`), kept in step with `users` by triggers. A search for a substring of
-- three characters or more reads the rows holding its trigrams, in id order, instead of every
-- user; the store still checks each row with the search's own `LIKE`, so what matches is
-- exactly what matched before. Shorter substrings have no trigram: they walk `users` by id
-- and stop once the page is full (see docs/benchmarks.md, "Admin search").
CREATE VIRTUAL TABLE users_search USING fts5(
    username, email, content = 'users', content_rowid = 'id', tokenize = 'trigram'
);

INSERT INTO users_search (users_search) VALUES ('rebuild');

CREATE TRIGGER users_search_insert AFTER INSERT ON users BEGIN
    INSERT INTO users_search (rowid, username, email) VALUES (new.id, new.username, new.email);
END;

CREATE TRIGGER users_search_delete AFTER DELETE ON users BEGIN
    INSERT INTO users_search (users_search, rowid, username, email)
    VALUES ('delete', old.id, old.username, old.email);
END;

-- Logins and other changes of a user leave the index alone: only these two columns are in it.
CREATE TRIGGER users_search_update AFTER UPDATE OF username, email ON users BEGIN
    INSERT INTO users_search (users_search, rowid, username, email)
    VALUES ('delete', old.id, old.username, old.email);
    INSERT INTO users_search (rowid, username, email) VALUES (new.id, new.username, new.email);
END;
