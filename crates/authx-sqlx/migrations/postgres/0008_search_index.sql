-- The admin search's substring index: trigram GIN indexes (pg_trgm) on the lower-case username
-- and email, which PostgreSQL's planner uses for the search's `lower(column) LIKE lower($n)`
-- when the substring has three characters or more and is selective; for common substrings it
-- walks the primary key in id order and stops once the page is full. Shorter substrings have
-- no trigram (see docs/benchmarks.md, "Admin search"). pg_trgm ships with PostgreSQL
-- (contrib) and is a trusted extension: the database's owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE INDEX users_username_trgm_idx ON users USING gin (lower(username) gin_trgm_ops);
CREATE INDEX users_email_trgm_idx ON users USING gin (lower(email) gin_trgm_ops);
