//! The admin search's two statements, the page and the count, written for the criteria asked
//! (the planner then sees only the conditions that apply, with their values: a condition of the
//! form `($2 IS NULL OR ...)` would hide the substring index from it).
//!
//! What matches is the same for every dialect and every path: `id` exactly, `username` and
//! `email` as literal substrings without regard to case (the `LIKE` of
//! [`contains_pattern`](crate::rows::contains_pattern)), by id. The index only narrows which rows
//! are read: every row it yields is checked with that `LIKE`.
//!
//! An email substring holding an `@` asks the index only for what comes before it, when that
//! has [`MIN_INDEXED_CHARS`] or more (see [`index_piece`]): the part after it is a domain that
//! many addresses share, and its trigrams (`@ex`, `exa`, `com`) would have the index read an
//! entry for most users to find the few that hold the whole substring.
//!
//! On MySQL/MariaDB the index is a table of trigrams kept by triggers (migration 9,
//! [`SubstringIndex::Trigrams`]): a search joins the lists of a few of each substring's
//! trigrams ([`trigram_starts`]) and reads the users they share by primary key.
//!
//! The count stops at [`COUNT_CAP`] matches (or at the end of the page asked, if further), so a
//! search matching most of a million users reads ten thousand of them, not all: `pages` then
//! says 500. A search whose every substring is shorter than a trigram (and without an id) has
//! no index to count with: its count stops one match past the page asked, so `pages` is that
//! page, plus one when more matches follow (see docs/benchmarks.md, "Admin search").

use authx_core::store::UserSearch;

use crate::rows::contains_pattern;

/// The most matches a search counts, unless the page asked ends further.
pub(crate) const COUNT_CAP: u64 = 10_000;

/// The shortest substring a trigram index can serve: shorter ones hold no trigram.
pub(crate) const MIN_INDEXED_CHARS: usize = 3;

/// How a dialect indexes substrings of the username and the email.
#[derive(Debug)]
pub(crate) enum SubstringIndex {
    /// Indexes on the expressions the `LIKE` compares (pg_trgm's GIN on `lower(column)`): the
    /// planner picks them, or the primary key, from the values. When the index is asked for a
    /// piece of the substring, the whole is checked with `strpos`, which no index serves, so
    /// the planner cannot fold its trigrams into the index scan.
    Expressions,
    /// An FTS5 table (trigram tokenizer) whose rowid is the user's id, queried with a phrase per
    /// substring of [`MIN_INDEXED_CHARS`] or more and joined to `users` in rowid order.
    Fts5 {
        /// The table's name.
        table: &'static str,
    },
    /// MySQL/MariaDB's `user_trigrams (field, gram, user_id)`, primary key in that order
    /// (migration 9: InnoDB's FULLTEXT indexes words, and its ngram parser is MySQL's only and
    /// matches by collation, not as `lower`). Each trigram asked is a join of its list on
    /// `user_id`, compared with `SUBSTRING(lower(piece), start, 3)`: lowered by the server, as
    /// the `LIKE`'s pattern is, and cut in characters, as the triggers cut `username_lower` and
    /// `email_lower`; so a row the `LIKE` matches holds every one. The optimizer estimates
    /// each list's length from the index (a dive per `(field, gram)`), reads the shortest in
    /// `user_id` order and probes the others by primary key: one rare trigram anywhere in the
    /// substring keeps the search short.
    Trigrams,
}

/// The most trigrams of one substring a search asks [`SubstringIndex::Trigrams`] or
/// [`SubstringIndex::Fts5`] for.
const TRIGRAMS_PER_SUBSTRING: usize = 4;

/// Where (from 1, in characters) the trigrams that a search asks the index for start in
/// a substring of `chars` characters ([`MIN_INDEXED_CHARS`] or more): every third one, so
/// that they cover each character once with the fewest lists, and the last; at most
/// [`TRIGRAMS_PER_SUBSTRING`] of those, spread from the first to the last. A user holding
/// them all is nearly always a match (the `LIKE` rejects the rest), and each trigram more
/// would cost a probe per user read and more join orders for the optimizer to weigh, for a
/// list it would seldom read first. FTS5 reads every list it is asked for, so there fewer
/// lists are simply less work: a phrase of the whole substring would read all of its
/// trigrams' lists, with positions (a third less CPU for a 7-character username over a
/// million users, measured with the `sqlite3` shell).
fn trigram_starts(chars: usize) -> Vec<usize> {
    let last = chars + 1 - MIN_INDEXED_CHARS;
    let mut cover: Vec<usize> = (1..=last).step_by(MIN_INDEXED_CHARS).collect();
    if cover.last() != Some(&last) {
        cover.push(last);
    }
    if cover.len() <= TRIGRAMS_PER_SUBSTRING {
        return cover;
    }
    let spread = TRIGRAMS_PER_SUBSTRING - 1;
    (0..=spread)
        .map(|i| cover[i * (cover.len() - 1) / spread])
        .collect()
}

/// What the `LIKE` compares, and how the dialect writes its escape character.
#[derive(Debug)]
pub(crate) enum Compared {
    /// `lower(username)` and `lower(email)`, escaped by `'\'` (SQLite, PostgreSQL).
    Lowered,
    /// The stored lower-case copies `username_lower` and `email_lower` (MySQL/MariaDB, whose
    /// literal `'\\'` is one backslash: its literals take `\` as an escape).
    StoredLower,
}

impl Compared {
    /// The condition that `column` holds the pattern bound at `{}`.
    fn condition(&self, column: &str) -> String {
        match self {
            Self::Lowered => format!("lower({column}) LIKE lower({{}}) ESCAPE '\\'"),
            Self::StoredLower => format!("{column}_lower LIKE lower({{}}) ESCAPE '\\\\'"),
        }
    }
}

/// The search, in a dialect.
#[derive(Debug)]
pub(crate) struct SearchSql {
    /// The columns of a found user ([`UserDetailsRow`](crate::rows::UserDetailsRow)), `$1` now.
    pub(crate) columns: &'static str,
    pub(crate) index: SubstringIndex,
    pub(crate) compared: Compared,
}

/// A value bound to a statement, in the order of its `$n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Arg {
    Int(i64),
    Text(String),
}

/// The page and count statements of one search, and what they bind.
#[derive(Debug)]
pub(crate) struct Built {
    /// `$1` now, then [`args`](Self::args), then the limit and the offset.
    pub(crate) page: String,
    /// [`args`](Self::args), then the cap → `CountRow`.
    pub(crate) count: String,
    pub(crate) args: Vec<Arg>,
    /// How many matches the count stops at.
    pub(crate) cap: i64,
}

/// The part of `text` (searched for in `column`) that the index is asked for: for an email
/// substring with three characters or more before its first `@`, those characters; otherwise
/// all of it. Whatever the index yields is checked against the whole substring.
fn index_piece<'t>(column: &str, text: &'t str) -> &'t str {
    match text.split_once('@') {
        Some((local, _)) if column == "email" && local.chars().count() >= MIN_INDEXED_CHARS => {
            local
        }
        _ => text,
    }
}

/// `text` as an FTS5 string: in double quotes, each one inside doubled. With the trigram
/// tokenizer such a phrase matches the rows holding `text` as a substring, without regard to
/// case; every other character is literal.
fn fts5_phrase(column: &str, text: &str) -> String {
    format!("{column} : \"{}\"", text.replace('"', "\"\""))
}

impl SearchSql {
    /// The statements for `search`.
    pub(crate) fn build(&self, search: &UserSearch) -> Built {
        let texts = [
            ("username", search.username.as_deref()),
            ("email", search.email.as_deref()),
        ];
        // Written with `{}` for each parameter, numbered below: the page's start at `$2`
        // (after now), the count's at `$1`. Bound in the order they appear.
        let mut args = Vec::new();
        let mut conditions = Vec::new();
        // What a table of trigrams (FTS5's, MySQL's) is asked for: the piece of each
        // substring long enough, unless the id already narrows the search. (PostgreSQL's
        // planner picks its index from the conditions below.)
        let pieces: Vec<(&str, &str)> = if search.id.is_none() {
            texts
                .iter()
                .filter_map(|&(column, text)| {
                    let text = text?;
                    (text.chars().count() >= MIN_INDEXED_CHARS)
                        .then(|| (column, index_piece(column, text)))
                })
                .collect()
        } else {
            Vec::new()
        };
        let (from, order) = match self.index {
            SubstringIndex::Fts5 { table } if !pieces.is_empty() => {
                let phrases: Vec<String> = pieces
                    .iter()
                    .flat_map(|&(column, piece)| {
                        let chars: Vec<char> = piece.chars().collect();
                        trigram_starts(chars.len()).into_iter().map(move |start| {
                            let gram: String = chars[start - 1..start + 2].iter().collect();
                            fts5_phrase(column, &gram)
                        })
                    })
                    .collect();
                args.push(Arg::Text(phrases.join(" AND ")));
                (
                    format!(
                        "(SELECT rowid AS found_id FROM {table} WHERE {table} MATCH {{}}) AS found \
                         JOIN users ON users.id = found.found_id"
                    ),
                    "found.found_id",
                )
            }
            SubstringIndex::Trigrams if !pieces.is_empty() => {
                let grams = pieces.iter().flat_map(|&(column, piece)| {
                    // The fields of migration 9.
                    let field = if column == "username" { 1 } else { 2 };
                    trigram_starts(piece.chars().count())
                        .into_iter()
                        .map(move |start| (field, piece, start))
                });
                let mut tables = vec!["user_trigrams AS g0".to_owned()];
                for (g, (field, piece, start)) in grams.enumerate() {
                    if g > 0 {
                        tables.push(format!(
                            "user_trigrams AS g{g} ON g{g}.user_id = g0.user_id"
                        ));
                    }
                    conditions.push(format!(
                        "g{g}.field = {field} AND g{g}.gram = SUBSTRING(lower({{}}), {start}, 3)"
                    ));
                    args.push(Arg::Text(piece.to_owned()));
                }
                tables.push("users ON users.id = g0.user_id".to_owned());
                (tables.join(" JOIN "), "g0.user_id")
            }
            _ => ("users".to_owned(), "id"),
        };
        if let Some(id) = search.id {
            conditions.push("id = {}".to_owned());
            args.push(Arg::Int(id));
        }
        for (column, text) in texts {
            let Some(text) = text else { continue };
            let piece = index_piece(column, text);
            if matches!(self.index, SubstringIndex::Expressions) && piece != text {
                conditions.push(self.compared.condition(column));
                args.push(Arg::Text(contains_pattern(piece)));
                conditions.push(format!("strpos(lower({column}), lower({{}})) > 0"));
                args.push(Arg::Text(text.to_owned()));
            } else {
                conditions.push(self.compared.condition(column));
                args.push(Arg::Text(contains_pattern(text)));
            }
        }
        let filter = if conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conditions.join(" AND "))
        };
        let body = format!("{from}{filter}");
        let (page_body, next) = numbered(&body, 2);
        let page = format!(
            "SELECT {} FROM {page_body} ORDER BY {order} LIMIT ${next} OFFSET ${}",
            self.columns,
            next + 1
        );
        let (count_body, next) = numbered(&body, 1);
        let count = format!(
            "SELECT count(*) AS total FROM (SELECT 1 FROM {count_body} LIMIT ${next}) AS matches"
        );
        let page_end = search.offset.saturating_add(u64::from(search.limit));
        let indexed = texts
            .iter()
            .any(|(_, text)| text.is_some_and(|t| t.chars().count() >= MIN_INDEXED_CHARS));
        let cap = if indexed || search.id.is_some() || texts.iter().all(|(_, t)| t.is_none()) {
            COUNT_CAP.max(page_end)
        } else {
            page_end.saturating_add(1)
        };
        Built {
            page,
            count,
            args,
            cap: i64::try_from(cap).unwrap_or(i64::MAX),
        }
    }
}

/// `sql` with each `{}` replaced by `$first`, `$first + 1`, ...; and the next number.
fn numbered(sql: &str, first: usize) -> (String, usize) {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = first;
    let mut parts = sql.split("{}");
    if let Some(head) = parts.next() {
        out.push_str(head);
    }
    for part in parts {
        out.push('$');
        out.push_str(&n.to_string());
        out.push_str(part);
        n += 1;
    }
    (out, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SQL: SearchSql = SearchSql {
        columns: "id",
        index: SubstringIndex::Fts5 {
            table: "users_search",
        },
        compared: Compared::Lowered,
    };
    const PG: SearchSql = SearchSql {
        columns: "id",
        index: SubstringIndex::Expressions,
        compared: Compared::Lowered,
    };
    const MYSQL: SearchSql = SearchSql {
        columns: "id",
        index: SubstringIndex::Trigrams,
        compared: Compared::StoredLower,
    };

    fn search(id: Option<i64>, username: Option<&str>, email: Option<&str>) -> UserSearch {
        UserSearch {
            id,
            username: username.map(str::to_owned),
            email: email.map(str::to_owned),
            offset: 40,
            limit: 20,
        }
    }

    #[test]
    fn long_substrings_go_through_the_fts5_table() {
        let built = SQL.build(&search(None, Some("ab\"c"), Some("x@")));
        assert_eq!(
            built.page,
            "SELECT id FROM (SELECT rowid AS found_id FROM users_search WHERE users_search \
             MATCH $2) AS found JOIN users ON users.id = found.found_id WHERE \
             lower(username) LIKE lower($3) ESCAPE '\\' AND lower(email) LIKE lower($4) \
             ESCAPE '\\' ORDER BY found.found_id LIMIT $5 OFFSET $6"
        );
        assert_eq!(
            built.args,
            vec![
                Arg::Text("username : \"ab\"\"\" AND username : \"b\"\"c\"".to_owned()),
                Arg::Text("%ab\"c%".to_owned()),
                Arg::Text("%x@%".to_owned()),
            ]
        );
        assert!(built.count.starts_with(
            "SELECT count(*) AS total FROM (SELECT 1 FROM (SELECT rowid AS found_id FROM \
             users_search WHERE users_search MATCH $1)"
        ));
        assert!(built.count.ends_with("LIMIT $4) AS matches"));
        assert_eq!(built.cap, 10_000);
    }

    #[test]
    fn short_substrings_and_ids_read_users_by_id() {
        let built = SQL.build(&search(None, Some("ab"), None));
        assert_eq!(
            built.page,
            "SELECT id FROM users WHERE lower(username) LIKE lower($2) ESCAPE '\\' \
             ORDER BY id LIMIT $3 OFFSET $4"
        );
        // One past the page asked (offset 40, 20 a page): no index to count with.
        assert_eq!(built.cap, 61);
        assert_eq!(PG.build(&search(None, Some("ab"), Some("x"))).cap, 61);
        let built = SQL.build(&search(Some(7), Some("abcd"), None));
        assert_eq!(
            built.page,
            "SELECT id FROM users WHERE id = $2 AND lower(username) LIKE lower($3) ESCAPE '\\' \
             ORDER BY id LIMIT $4 OFFSET $5"
        );
        assert_eq!(
            built.args,
            vec![Arg::Int(7), Arg::Text("%abcd%".to_owned())]
        );
        let built = PG.build(&search(None, None, None));
        assert_eq!(built.cap, 10_000);
        assert_eq!(
            built.page,
            "SELECT id FROM users ORDER BY id LIMIT $2 OFFSET $3"
        );
        assert_eq!(
            built.count,
            "SELECT count(*) AS total FROM (SELECT 1 FROM users LIMIT $1) AS matches"
        );
        assert!(built.args.is_empty());
    }

    #[test]
    fn trigrams_asked_cover_the_substring_from_first_to_last() {
        assert_eq!(trigram_starts(3), [1]);
        assert_eq!(trigram_starts(4), [1, 2]);
        assert_eq!(trigram_starts(7), [1, 4, 5]);
        assert_eq!(trigram_starts(9), [1, 4, 7]);
        assert_eq!(trigram_starts(13), [1, 4, 7, 11]);
        assert_eq!(trigram_starts(20), [1, 7, 13, 18]);
        assert_eq!(trigram_starts(255), [1, 85, 169, 253]);
    }

    #[test]
    fn mysql_joins_the_lists_of_the_trigrams_then_checks_the_like() {
        let built = MYSQL.build(&search(None, Some("abcd"), Some("X@")));
        assert_eq!(
            built.page,
            "SELECT id FROM user_trigrams AS g0 JOIN user_trigrams AS g1 ON g1.user_id = \
             g0.user_id JOIN users ON users.id = g0.user_id WHERE g0.field = 1 AND g0.gram = \
             SUBSTRING(lower($2), 1, 3) AND g1.field = 1 AND g1.gram = SUBSTRING(lower($3), 2, \
             3) AND username_lower LIKE lower($4) ESCAPE '\\\\' AND email_lower LIKE lower($5) \
             ESCAPE '\\\\' ORDER BY g0.user_id LIMIT $6 OFFSET $7"
        );
        assert_eq!(
            built.args,
            vec![
                Arg::Text("abcd".to_owned()),
                Arg::Text("abcd".to_owned()),
                Arg::Text("%abcd%".to_owned()),
                Arg::Text("%X@%".to_owned()),
            ]
        );
        assert!(built.count.starts_with(
            "SELECT count(*) AS total FROM (SELECT 1 FROM user_trigrams AS g0 JOIN \
             user_trigrams AS g1 ON g1.user_id = g0.user_id JOIN users ON users.id = g0.user_id \
             WHERE g0.field = 1 AND g0.gram = SUBSTRING(lower($1), 1, 3)"
        ));
        assert!(built.count.ends_with("LIMIT $5) AS matches"));
        // The same count as elsewhere, so `pages` reads the same on every backend.
        assert_eq!(built.cap, 10_000);
        // Both fields; of the email, its local part.
        let built = MYSQL.build(&search(None, Some("Ann"), Some("0001234@Exa")));
        assert!(built.page.contains(
            "g3.field = 2 AND g3.gram = SUBSTRING(lower($5), 5, 3) AND username_lower LIKE"
        ));
        let text = |t: &str| Arg::Text(t.to_owned());
        assert_eq!(
            built.args,
            vec![
                text("Ann"),
                text("0001234"),
                text("0001234"),
                text("0001234"),
                text("%Ann%"),
                text("%0001234@Exa%"),
            ]
        );
        // Short substrings and ids read `users` by id, as elsewhere.
        let built = MYSQL.build(&search(None, Some("ab"), None));
        assert_eq!(
            built.page,
            "SELECT id FROM users WHERE username_lower LIKE lower($2) ESCAPE '\\\\' \
             ORDER BY id LIMIT $3 OFFSET $4"
        );
        assert_eq!(built.cap, 61);
        assert!(
            MYSQL
                .build(&search(Some(7), Some("abcd"), None))
                .page
                .starts_with("SELECT id FROM users WHERE id = $2 AND username_lower LIKE")
        );
    }

    #[test]
    fn an_email_substring_asks_the_index_for_its_local_part() {
        assert_eq!(index_piece("email", "1234567@exa"), "1234567");
        assert_eq!(index_piece("email", "ab@example"), "ab@example");
        assert_eq!(index_piece("email", "example.com"), "example.com");
        assert_eq!(index_piece("username", "abc@def"), "abc@def");
        let built = SQL.build(&search(None, None, Some("Ann_1@Exa")));
        assert_eq!(
            built.args,
            vec![
                Arg::Text("email : \"Ann\" AND email : \"n_1\"".to_owned()),
                Arg::Text("%Ann\\_1@Exa%".to_owned()),
            ]
        );
        let built = PG.build(&search(None, None, Some("Ann_1@Exa")));
        assert_eq!(
            built.page,
            "SELECT id FROM users WHERE lower(email) LIKE lower($2) ESCAPE '\\' \
             AND strpos(lower(email), lower($3)) > 0 ORDER BY id LIMIT $4 OFFSET $5"
        );
        assert_eq!(
            built.args,
            vec![
                Arg::Text("%Ann\\_1%".to_owned()),
                Arg::Text("Ann_1@Exa".to_owned()),
            ]
        );
        // Without a local part long enough, the whole substring goes to the index.
        let built = PG.build(&search(None, None, Some("an@exa")));
        assert_eq!(built.args, vec![Arg::Text("%an@exa%".to_owned())]);
        assert_eq!(
            MYSQL.build(&search(None, None, Some("ann@exa"))).args,
            vec![
                Arg::Text("ann".to_owned()),
                Arg::Text("%ann@exa%".to_owned()),
            ]
        );
    }

    #[test]
    fn the_count_reaches_the_page_asked() {
        let mut deep = search(None, Some("abc"), None);
        deep.offset = 50_000;
        assert_eq!(PG.build(&deep).cap, 50_020);
        deep.offset = u64::MAX;
        assert_eq!(PG.build(&deep).cap, i64::MAX);
    }
}
