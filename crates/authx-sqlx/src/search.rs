//! The admin search's statements, written for the criteria asked (the planner then sees only
//! the conditions that apply, with their values: a condition of the form `($2 IS NULL OR ...)`
//! would hide the index from it).
//!
//! What matches is the same for every dialect and every path: `id` exactly, `username` and
//! `email` as literal substrings without regard to case (the `LIKE` of
//! [`contains_pattern`](crate::rows::contains_pattern)), by id. The index only narrows which rows
//! are read: every row it yields is checked with that `LIKE`.
//!
//! The index is migration 10's `user_suffixes (field, suffix, user_id)`, the same in every
//! dialect: for each position of a user's lower-case username (field 1) and email (field 2)
//! where [`MIN_INDEXED_CHARS`] or more characters remain, the [`SUFFIX_CHARS`] characters from
//! there. A substring occurs where a suffix starts with it, so the users holding it are one
//! range of the primary key ([`Range`]): what a search reads is what it finds, whatever the
//! number of users (a trigram index reads lists that grow with them).
//!
//! A search first counts each substring's range, up to [`COUNT_CAP`] + 1 entries
//! ([`COUNT_RANGE`]), and goes through the narrowest; an empty one ends the search. A range
//! holding more than [`COUNT_CAP`] entries is a common substring (a domain, a frequent name): it
//! would be read whole to be put in id order, so the search walks `users` by id instead and
//! stops once the page is full, as it does for substrings too short for the index.
//!
//! An email substring holding an `@` asks the index only for what comes before it, when that
//! has [`MIN_INDEXED_CHARS`] or more (see [`index_piece`]): the part after it is a domain that
//! many addresses share.
//!
//! Through the index, the count is exact (at most [`COUNT_CAP`] entries, so at most that many
//! matches). Walking by id, a search has no index to count with: its count stops one match past
//! the page asked, so `pages` is that page, plus one when more matches follow; a search by id
//! alone, or with no criteria, counts up to [`COUNT_CAP`] (or the end of the page asked, if
//! further), so `pages` then says at most 500 (see docs/benchmarks.md, "Admin search").

use authx_core::store::UserSearch;

use crate::rows::contains_pattern;

/// The most matches a search counts, unless the page asked ends further; and the most entries
/// of a substring's range a search reads through the index.
pub(crate) const COUNT_CAP: u64 = 10_000;

/// The shortest substring the index serves (the shortest suffix it holds).
pub(crate) const MIN_INDEXED_CHARS: usize = 3;

/// The longest suffix the index holds (migration 10 cuts them to this): a longer substring is
/// looked up by its first [`SUFFIX_CHARS`] characters, and the `LIKE` checks the rest.
pub(crate) const SUFFIX_CHARS: usize = 12;

/// The last character of Unicode: a suffix of at most [`SUFFIX_CHARS`] characters starting
/// with `p` sorts at or below `p` followed by [`SUFFIX_CHARS`] of these.
const LAST_CHAR: char = '\u{10FFFF}';

/// How many entries a substring's range holds, up to `$4`: `$1` the field, `$2` and `$3` the
/// range's ends ([`Range`]), lowered by the database as migration 10's suffixes are.
pub(crate) const COUNT_RANGE: &str = "SELECT count(*) AS total FROM (SELECT 1 FROM user_suffixes \
     WHERE field = $1 AND suffix >= lower($2) AND suffix <= lower($3) LIMIT $4) AS entries";

/// The entries of `user_suffixes` that start with a substring: `field` (1 the username, 2 the
/// email), from `from` (the substring's first [`SUFFIX_CHARS`] characters) to `to` (those and
/// [`SUFFIX_CHARS`] times [`LAST_CHAR`]), both lowered by the database. Compared as bytes
/// (migration 10's collations), and UTF-8's byte order is its characters' order, so the strings
/// between are exactly those starting with `from`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Range {
    pub(crate) field: i64,
    pub(crate) from: String,
    pub(crate) to: String,
}

impl Range {
    fn new(column: &str, piece: &str) -> Self {
        let from: String = piece.chars().take(SUFFIX_CHARS).collect();
        let mut to = from.clone();
        to.extend(std::iter::repeat_n(LAST_CHAR, SUFFIX_CHARS));
        Self {
            field: if column == "username" { 1 } else { 2 },
            from,
            to,
        }
    }
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

/// The substrings of `search`, each with the column it is searched in.
fn texts(search: &UserSearch) -> [(&'static str, Option<&str>); 2] {
    [
        ("username", search.username.as_deref()),
        ("email", search.email.as_deref()),
    ]
}

/// The ranges of the index that could serve `search`: one per substring of
/// [`MIN_INDEXED_CHARS`] or more (of an email, the piece [`index_piece`] picks), none when
/// an id already narrows it to one user.
pub(crate) fn ranges(search: &UserSearch) -> Vec<Range> {
    if search.id.is_some() {
        return Vec::new();
    }
    texts(search)
        .into_iter()
        .filter_map(|(column, text)| {
            let text = text?;
            (text.chars().count() >= MIN_INDEXED_CHARS)
                .then(|| Range::new(column, index_piece(column, text)))
        })
        .collect()
}

impl SearchSql {
    /// The statements for `search`, through the index's `via` (one of [`ranges`],
    /// holding at most [`COUNT_CAP`] entries), or walking `users` by id without one.
    pub(crate) fn build(&self, search: &UserSearch, via: Option<&Range>) -> Built {
        // Written with `{}` for each parameter, numbered below: the page's start at `$2`
        // (after now), the count's at `$1`. Bound in the order they appear.
        let mut args = Vec::new();
        let mut conditions = Vec::new();
        let (from, order) = match via {
            Some(range) => {
                args.push(Arg::Text(range.from.clone()));
                args.push(Arg::Text(range.to.clone()));
                (
                    format!(
                        "(SELECT DISTINCT user_id AS found_id FROM user_suffixes WHERE field = {} \
                         AND suffix >= lower({{}}) AND suffix <= lower({{}})) AS found \
                         JOIN users ON users.id = found.found_id",
                        range.field
                    ),
                    "found.found_id",
                )
            }
            None => ("users".to_owned(), "id"),
        };
        if let Some(id) = search.id {
            conditions.push("id = {}".to_owned());
            args.push(Arg::Int(id));
        }
        let texts = texts(search);
        for (column, text) in texts {
            let Some(text) = text else { continue };
            conditions.push(self.compared.condition(column));
            args.push(Arg::Text(contains_pattern(text)));
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
        let walked = via.is_none() && search.id.is_none() && texts.iter().any(|(_, t)| t.is_some());
        let cap = if walked {
            page_end.saturating_add(1)
        } else {
            COUNT_CAP.max(page_end)
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
        compared: Compared::Lowered,
    };
    const MYSQL: SearchSql = SearchSql {
        columns: "id",
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

    fn text(t: &str) -> Arg {
        Arg::Text(t.to_owned())
    }

    #[test]
    fn a_range_holds_the_suffixes_starting_with_the_substring() {
        let range = Range::new("username", "Ab\"c");
        assert_eq!(range.field, 1);
        assert_eq!(range.from, "Ab\"c");
        assert_eq!(range.to, format!("Ab\"c{}", "\u{10FFFF}".repeat(12)));
        // A suffix is at most 12 characters: a longer substring asks for its first 12.
        let range = Range::new("email", "0123456789äbcdef");
        assert_eq!(range.field, 2);
        assert_eq!(range.from, "0123456789äb");
        // Byte order is character order: every string of at most 12 characters starting
        // with `from` is within the range, and none that does not start with it.
        let (from, to) = (range.from.as_bytes(), range.to.as_bytes());
        for inside in ["0123456789äb", "0123456789äb\u{10FFFF}", "0123456789äb"] {
            assert!(
                from <= inside.as_bytes() && inside.as_bytes() <= to,
                "{inside}"
            );
        }
        let short = Range::new("username", "abc");
        let (from, to) = (short.from.as_bytes(), short.to.as_bytes());
        for inside in [
            "abc",
            "abc\u{0}",
            "abcé",
            "abc\u{10FFFF}\u{10FFFF}zzzzzzz",
            "abczzzzzzzzz",
        ] {
            assert!(
                from <= inside.as_bytes() && inside.as_bytes() <= to,
                "{inside:?}"
            );
        }
        for outside in ["ab", "abb\u{10FFFF}", "abd", "ab\u{10FFFF}", "b", "abC"] {
            let bytes = outside.as_bytes();
            assert!(bytes < from || to < bytes, "{outside:?}");
        }
    }

    #[test]
    fn substrings_of_three_characters_or_more_have_a_range() {
        let found = ranges(&search(None, Some("ab"), Some("ann_1@exa")));
        assert_eq!(found, [Range::new("email", "ann_1")]);
        let found = ranges(&search(None, Some("abc"), Some("x@example.com")));
        assert_eq!(
            found,
            [
                Range::new("username", "abc"),
                Range::new("email", "x@example.com")
            ]
        );
        assert!(ranges(&search(Some(7), Some("abcd"), None)).is_empty());
        assert!(ranges(&search(None, None, None)).is_empty());
    }

    #[test]
    fn a_search_through_a_range_reads_its_users_in_id_order() {
        let range = Range::new("username", "ab\"c");
        let built = SQL.build(&search(None, Some("ab\"c"), Some("x@")), Some(&range));
        assert_eq!(
            built.page,
            "SELECT id FROM (SELECT DISTINCT user_id AS found_id FROM user_suffixes WHERE \
             field = 1 AND suffix >= lower($2) AND suffix <= lower($3)) AS found JOIN users \
             ON users.id = found.found_id WHERE lower(username) LIKE lower($4) ESCAPE '\\' \
             AND lower(email) LIKE lower($5) ESCAPE '\\' ORDER BY found.found_id \
             LIMIT $6 OFFSET $7"
        );
        assert_eq!(
            built.args,
            vec![
                text(&range.from),
                text(&range.to),
                text("%ab\"c%"),
                text("%x@%"),
            ]
        );
        assert!(built.count.starts_with(
            "SELECT count(*) AS total FROM (SELECT 1 FROM (SELECT DISTINCT user_id AS \
             found_id FROM user_suffixes WHERE field = 1 AND suffix >= lower($1)"
        ));
        assert!(built.count.ends_with("LIMIT $5) AS matches"));
        // Exact: a range read holds at most COUNT_CAP entries.
        assert_eq!(built.cap, 10_000);
        // MySQL: the same, against the stored lower-case copies.
        let range = Range::new("email", "0001234");
        let built = MYSQL.build(&search(None, None, Some("0001234@Exa")), Some(&range));
        assert!(built.page.contains(
            "WHERE field = 2 AND suffix >= lower($2) AND suffix <= lower($3)) AS found JOIN \
             users ON users.id = found.found_id WHERE email_lower LIKE lower($4) ESCAPE '\\\\'"
        ));
        assert_eq!(built.args[2], text("%0001234@Exa%"));
    }

    #[test]
    fn without_a_range_a_search_walks_users_by_id() {
        let built = SQL.build(&search(None, Some("ab"), None), None);
        assert_eq!(
            built.page,
            "SELECT id FROM users WHERE lower(username) LIKE lower($2) ESCAPE '\\' \
             ORDER BY id LIMIT $3 OFFSET $4"
        );
        // One past the page asked (offset 40, 20 a page): no index to count with. The same
        // for a common substring, whose range was too long to read.
        assert_eq!(built.cap, 61);
        assert_eq!(SQL.build(&search(None, Some("exa"), None), None).cap, 61);
        let built = SQL.build(&search(Some(7), Some("abcd"), None), None);
        assert_eq!(
            built.page,
            "SELECT id FROM users WHERE id = $2 AND lower(username) LIKE lower($3) ESCAPE '\\' \
             ORDER BY id LIMIT $4 OFFSET $5"
        );
        assert_eq!(built.args, vec![Arg::Int(7), text("%abcd%")]);
        assert_eq!(built.cap, 10_000);
        let built = SQL.build(&search(None, None, None), None);
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
        let built = MYSQL.build(&search(None, Some("ab"), None), None);
        assert_eq!(
            built.page,
            "SELECT id FROM users WHERE username_lower LIKE lower($2) ESCAPE '\\\\' \
             ORDER BY id LIMIT $3 OFFSET $4"
        );
    }

    #[test]
    fn an_email_substring_asks_the_index_for_its_local_part() {
        assert_eq!(index_piece("email", "1234567@exa"), "1234567");
        assert_eq!(index_piece("email", "ab@example"), "ab@example");
        assert_eq!(index_piece("email", "example.com"), "example.com");
        assert_eq!(index_piece("username", "abc@def"), "abc@def");
    }

    #[test]
    fn the_count_reaches_the_page_asked() {
        let range = Range::new("username", "abc");
        let mut deep = search(None, Some("abc"), None);
        deep.offset = 50_000;
        assert_eq!(SQL.build(&deep, Some(&range)).cap, 50_020);
        deep.offset = u64::MAX;
        assert_eq!(SQL.build(&deep, Some(&range)).cap, i64::MAX);
    }
}
