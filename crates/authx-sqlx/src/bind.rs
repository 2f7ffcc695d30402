//! Statements with their parameters, bound the way the dialect takes them.
//!
//! Every statement is written with numbered parameters (`$1`, `$2`, ...), in every dialect, so
//! a statement reads the same everywhere and a parameter can appear twice. SQLite and
//! PostgreSQL take them as written. MySQL takes only `?`, bound by position: for it each
//! statement is rewritten once (`$N` becomes `?`, outside quoted text) with the list of which
//! parameter each `?` is, and the values are bound in that order. The store binds its values in
//! the order of the numbers, whatever the dialect.
//!
//! [`query`] and [`query_as`] stand in for sqlx's functions of the same names: the same
//! `.bind(...)` chain, then `.execute`, `.fetch_one`, `.fetch_optional` or `.fetch_all`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::{OnceLock, RwLock};

use sqlx::error::BoxDynError;
use sqlx::{Arguments as _, AssertSqlSafe, Encode, Executor, FromRow, IntoArguments, Type};

use crate::dialect::Dialect;

/// A value a statement takes: every statement binds only these. (Public only because
/// [`Dialect::add_parameter`] names it; not reachable from outside the crate.)
#[derive(Debug, Clone, Copy)]
#[allow(unreachable_pub)]
pub enum Param<'p> {
    /// `BIGINT`, or NULL.
    Int(Option<i64>),
    /// A boolean.
    Bool(bool),
    /// Text, or NULL.
    Text(Option<&'p str>),
}

impl Param<'_> {
    /// Adds the value to `arguments`, with the type sqlx gives it in `DB`.
    pub(crate) fn add_to<DB>(self, arguments: &mut DB::Arguments) -> Result<(), BoxDynError>
    where
        DB: sqlx::Database,
        for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
        for<'q> bool: Encode<'q, DB> + Type<DB>,
        for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    {
        match self {
            Self::Int(value) => arguments.add(value),
            Self::Bool(value) => arguments.add(value),
            Self::Text(value) => arguments.add(value),
        }
    }
}

impl From<i64> for Param<'_> {
    fn from(value: i64) -> Self {
        Self::Int(Some(value))
    }
}

impl From<Option<i64>> for Param<'_> {
    fn from(value: Option<i64>) -> Self {
        Self::Int(value)
    }
}

impl From<bool> for Param<'_> {
    fn from(value: bool) -> Self {
        Self::Bool(value)
    }
}

impl<'p> From<&'p str> for Param<'p> {
    fn from(value: &'p str) -> Self {
        Self::Text(Some(value))
    }
}

impl<'p> From<Option<&'p str>> for Param<'p> {
    fn from(value: Option<&'p str>) -> Self {
        Self::Text(value)
    }
}

/// A statement rewritten for positional parameters, and which parameter each `?` binds.
#[derive(Debug)]
struct Positional {
    sql: &'static str,
    /// Indexes into the parameters, in placeholder order.
    order: Vec<usize>,
}

/// Rewrites `$N` placeholders as `?`, listing which parameter (0-based) each one is. Text in
/// single or double quotes or backticks is copied as it is.
pub(crate) fn positional(sql: &str) -> (String, Vec<usize>) {
    let mut out = String::with_capacity(sql.len());
    let mut order = Vec::new();
    let mut quote: Option<char> = None;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                out.push(c);
                if c == '\\' && q != '`' {
                    // An escaped character inside a literal (MySQL's default).
                    if let Some(next) = chars.next() {
                        out.push(next);
                    }
                } else if c == q {
                    quote = None;
                }
            }
            None if matches!(c, '\'' | '"' | '`') => {
                quote = Some(c);
                out.push(c);
            }
            None if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) => {
                let mut number = 0_usize;
                while let Some(digit) = chars.peek().and_then(|d| d.to_digit(10)) {
                    number = number * 10 + digit as usize;
                    chars.next();
                }
                out.push('?');
                order.push(number.saturating_sub(1));
            }
            None => out.push(c),
        }
    }
    (out, order)
}

/// `sql` rewritten for positional parameters, once per statement and kept.
fn positional_once(sql: &'static str) -> &'static Positional {
    static CACHE: OnceLock<RwLock<HashMap<&'static str, &'static Positional>>> = OnceLock::new();
    let cache = CACHE.get_or_init(RwLock::default);
    if let Some(found) = cache.read().ok().and_then(|map| map.get(sql).copied()) {
        return found;
    }
    let mut map = cache
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    map.entry(sql).or_insert_with(|| {
        let (rewritten, order) = positional(sql);
        // The statements are a fixed set, each rewritten once: kept for the process.
        Box::leak(Box::new(Positional {
            sql: Box::leak(rewritten.into_boxed_str()),
            order,
        }))
    })
}

/// A statement's text: one of the dialect's set, or one built for a call (the admin search's,
/// from fixed fragments and numbered placeholders only: never a value).
#[derive(Debug, Clone)]
enum Sql {
    /// Rewritten for positional parameters once and kept; prepared for reuse.
    Fixed(&'static str),
    /// Rewritten on each call; prepared for reuse only where the server plans each execution
    /// with its values ([`Dialect::PLANS_EACH_EXECUTION`]).
    Built(String),
}

/// A statement as sqlx takes it: its text (fixed: the dialect's statements, or fragments and
/// placeholders), whether to prepare it for reuse, and its arguments.
struct Ready<A> {
    sql: AssertSqlSafe<Cow<'static, str>>,
    persistent: bool,
    arguments: A,
}

/// A statement and the values bound so far, in the order of their numbers.
#[derive(Debug, Clone)]
pub(crate) struct Query<'p> {
    sql: Sql,
    params: Vec<Param<'p>>,
}

/// A statement whose rows are read as `O`.
#[derive(Debug)]
pub(crate) struct QueryAs<'p, O> {
    query: Query<'p>,
    output: PhantomData<fn() -> O>,
}

/// A statement of the dialect's set, to bind values to.
pub(crate) fn query(sql: &'static str) -> Query<'static> {
    Query {
        sql: Sql::Fixed(sql),
        params: Vec::new(),
    }
}

/// A statement of the dialect's set whose rows are read as `O`.
pub(crate) fn query_as<O>(sql: &'static str) -> QueryAs<'static, O> {
    QueryAs {
        query: query(sql),
        output: PhantomData,
    }
}

/// A statement built for this call (from fixed fragments: no value is ever written into it),
/// whose rows are read as `O`. It is prepared for reuse only where the server plans each
/// execution again ([`Dialect::PLANS_EACH_EXECUTION`]): a search's text depends only on the
/// criteria given and the substrings' lengths, and sqlx's statement cache per connection
/// (least recently used out) bounds how many are kept.
pub(crate) fn built_query_as<O>(sql: String) -> QueryAs<'static, O> {
    QueryAs {
        query: Query {
            sql: Sql::Built(sql),
            params: Vec::new(),
        },
        output: PhantomData,
    }
}

impl<'p> Query<'p> {
    /// Binds the next parameter (`$1`, then `$2`, ...).
    pub(crate) fn bind<'b>(self, value: impl Into<Param<'b>>) -> Query<'b>
    where
        'p: 'b,
    {
        let mut params: Vec<Param<'b>> = self.params;
        params.push(value.into());
        Query {
            sql: self.sql,
            params,
        }
    }

    /// The same statement, its rows (its `RETURNING`) read as `O`.
    pub(crate) fn returning<O>(self) -> QueryAs<'p, O> {
        QueryAs {
            query: self,
            output: PhantomData,
        }
    }

    /// The statement and its arguments, as sqlx takes them for `DB`.
    /// With whether to prepare it for reuse.
    fn build<DB: Dialect>(&self) -> Result<Ready<DB::Arguments>, sqlx::Error> {
        let rewritten;
        let (sql, order, persistent): (Cow<'static, str>, _, _) =
            match (&self.sql, DB::NUMBERED_PARAMETERS) {
                (Sql::Fixed(sql), true) => (Cow::Borrowed(*sql), None, true),
                (Sql::Fixed(sql), false) => {
                    let positional = positional_once(sql);
                    (
                        Cow::Borrowed(positional.sql),
                        Some(positional.order.as_slice()),
                        true,
                    )
                }
                (Sql::Built(sql), true) => {
                    (Cow::Owned(sql.clone()), None, DB::PLANS_EACH_EXECUTION)
                }
                (Sql::Built(sql), false) => {
                    let (text, order) = positional(sql);
                    rewritten = order;
                    (
                        Cow::Owned(text),
                        Some(rewritten.as_slice()),
                        DB::PLANS_EACH_EXECUTION,
                    )
                }
            };
        let mut arguments = DB::Arguments::default();
        let mut add = |param: &Param<'_>| DB::add_parameter(&mut arguments, *param);
        match order {
            None => self.params.iter().try_for_each(&mut add),
            Some(order) => order.iter().try_for_each(|&index| {
                let param = self
                    .params
                    .get(index)
                    .ok_or_else(|| format!("statement parameter ${} is not bound", index + 1))?;
                add(param)
            }),
        }
        .map_err(sqlx::Error::Encode)?;
        Ok(Ready {
            sql: AssertSqlSafe(sql),
            persistent,
            arguments,
        })
    }

    /// Runs the statement.
    pub(crate) async fn execute<'c, DB, E>(
        self,
        executor: E,
    ) -> Result<DB::QueryResult, sqlx::Error>
    where
        DB: Dialect,
        E: Executor<'c, Database = DB>,
        DB::Arguments: IntoArguments<DB>,
    {
        let ready = self.build::<DB>()?;
        sqlx::query_with(ready.sql, ready.arguments)
            .persistent(ready.persistent)
            .execute(executor)
            .await
    }
}

impl<O> Clone for QueryAs<'_, O> {
    fn clone(&self) -> Self {
        Self {
            query: self.query.clone(),
            output: PhantomData,
        }
    }
}

impl<'p, O> QueryAs<'p, O> {
    /// Binds the next parameter (`$1`, then `$2`, ...).
    pub(crate) fn bind<'b>(self, value: impl Into<Param<'b>>) -> QueryAs<'b, O>
    where
        'p: 'b,
    {
        QueryAs {
            query: self.query.bind(value),
            output: PhantomData,
        }
    }
}

/// The sqlx capabilities reading rows as `O` takes.
macro_rules! fetch {
    ($(#[$doc:meta])* $name:ident -> $output:ty) => {
        $(#[$doc])*
        pub(crate) async fn $name<'c, DB, E>(self, executor: E) -> Result<$output, sqlx::Error>
        where
            DB: Dialect,
            E: Executor<'c, Database = DB>,
            DB::Arguments: IntoArguments<DB>,
            O: for<'r> FromRow<'r, DB::Row> + Send + Unpin,
        {
            let ready = self.query.build::<DB>()?;
            sqlx::query_as_with(ready.sql, ready.arguments)
                .persistent(ready.persistent)
                .$name(executor)
                .await
        }
    };
}

impl<O> QueryAs<'_, O> {
    fetch!(
        /// The one row, or an error without it.
        fetch_one -> O
    );
    fetch!(
        /// The row if there is one.
        fetch_optional -> Option<O>
    );
    fetch!(
        /// Every row.
        fetch_all -> Vec<O>
    );
}

#[cfg(test)]
mod tests {
    use super::positional;

    #[test]
    fn numbered_parameters_become_positional() {
        assert_eq!(
            positional("UPDATE t SET a = $2 WHERE id = $1 AND b = $2"),
            (
                "UPDATE t SET a = ? WHERE id = ? AND b = ?".to_owned(),
                vec![1, 0, 1]
            )
        );
        assert_eq!(
            positional("SELECT '$1', \"$2\", `$3`, 'it''s $4', 'a\\'$5' FROM t WHERE x = $10"),
            (
                "SELECT '$1', \"$2\", `$3`, 'it''s $4', 'a\\'$5' FROM t WHERE x = ?".to_owned(),
                vec![9]
            )
        );
        assert_eq!(
            positional("SELECT JSON_EXTRACT(p, '$[0]') + $1"),
            ("SELECT JSON_EXTRACT(p, '$[0]') + ?".to_owned(), vec![0])
        );
    }
}
