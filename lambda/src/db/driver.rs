//! What every engine asks of its sqlx connection, written once for any
//! sqlx database: run statements, run a batch and count what each of its
//! statements changed, read one value or one row, read the history table.
//! Every query goes as text (`raw_sql`: MariaDB `COM_QUERY`, PostgreSQL's
//! simple query): each is sent once per run, so a prepared statement
//! would cost a round trip more and save nothing.
//! The engines (`mariadb.rs`, `postgres.rs`) and the bookkeeping both share
//! ([`super::step`]) reach their connection through [`Wire`].

use std::future::Future;

use futures_util::TryStreamExt;
use sqlx::{AssertSqlSafe, Database, Either, Executor, FromRow, Row as _};

use super::error::{DbError, ErrorKind, ServerError};
use super::history::{Applied, History, Home, Kept, ALEMBIC_TABLE};
use super::rows::{self, Literals};

/// The rows a statement changed, for each database's query result.
pub trait Affected {
    fn affected(&self) -> u64;
}

impl Affected for sqlx::mysql::MySqlQueryResult {
    fn affected(&self) -> u64 {
        self.rows_affected()
    }
}

impl Affected for sqlx::postgres::PgQueryResult {
    fn affected(&self) -> u64 {
        self.rows_affected()
    }
}

/// A batch stopped at a statement: `completed` statements before it succeeded.
#[derive(Debug)]
pub struct BatchError {
    pub completed: usize,
    pub source: sqlx::Error,
}

/// `version, description, success, checksum, execution_time`, then the
/// kept row's `name, reversible, class, rules, since` (all NULL without
/// one): [`super::rows::history`].
type HistoryRow = (
    i64,
    String,
    bool,
    Vec<u8>,
    i64,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<i64>,
);

/// A history row and what is kept of it.
fn applied(r: HistoryRow) -> Applied {
    let (version, description, success, checksum, execution_time_ns) = (r.0, r.1, r.2, r.3, r.4);
    let kept = match (r.5, r.6, r.7, r.8, r.9) {
        (Some(name), Some(reversible), Some(class), Some(rules), Some(since)) => Some(Kept {
            name,
            reversible: reversible != 0,
            class,
            rules,
            since,
        }),
        _ => None,
    };
    Applied {
        version,
        description,
        success,
        checksum,
        execution_time_ns,
        kept,
    }
}

fn first_line(sql: &str) -> &str {
    sql.lines().next().unwrap_or("")
}

/// Run statements whose results do not matter.
async fn execute<C, DB>(c: &mut C, sql: &str) -> Result<(), DbError>
where
    DB: Database,
    for<'c> &'c mut C: Executor<'c, Database = DB>,
{
    sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
        .execute(c)
        .await
        .map(|_| ())
        .map_err(|e| DbError::query(format!("`{}`", first_line(sql)), e))
}

/// Send several statements in one round trip. Returns the number of rows
/// each statement affected, in order (one entry per statement result), so
/// bookkeeping that rides along can be checked; on failure, says how many
/// statements completed before the failing one.
async fn batch<C, DB>(c: &mut C, sql: String) -> Result<Vec<u64>, BatchError>
where
    DB: Database,
    DB::QueryResult: Affected,
    for<'c> &'c mut C: Executor<'c, Database = DB>,
{
    let mut affected: Vec<u64> = Vec::new();
    let mut s = sqlx::raw_sql(AssertSqlSafe(sql)).fetch_many(c);
    loop {
        match s.try_next().await {
            Ok(Some(Either::Left(r))) => affected.push(r.affected()),
            Ok(Some(Either::Right(_))) => {}
            Ok(None) => return Ok(affected),
            Err(source) => {
                return Err(BatchError {
                    completed: affected.len(),
                    source,
                })
            }
        }
    }
}

/// One nullable integer.
async fn scalar<C, DB>(c: &mut C, sql: &str) -> Result<Option<i64>, DbError>
where
    DB: Database,
    (Option<i64>,): for<'r> FromRow<'r, DB::Row>,
    for<'c> &'c mut C: Executor<'c, Database = DB>,
{
    sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
        .fetch_one(c)
        .await
        .and_then(|row| <(Option<i64>,)>::from_row(&row).map(|(v,)| v))
        .map_err(|e| DbError::query(format!("`{sql}`"), e))
}

/// One row, each column as text (`NULL` as `None`); the SQL casts.
async fn row_text<C, DB>(c: &mut C, sql: &str) -> Result<Vec<Option<String>>, DbError>
where
    DB: Database,
    Option<String>: for<'r> sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
    for<'c> &'c mut C: Executor<'c, Database = DB>,
{
    let row = sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
        .fetch_one(c)
        .await;
    row.and_then(|row| {
        (0..row.len())
            .map(|i| row.try_get::<Option<String>, _>(i))
            .collect()
    })
    .map_err(|e| DbError::query(format!("`{sql}`"), e))
}

/// Every row, each column as text (`NULL` as `None`); the SQL casts.
async fn rows_text<C, DB>(c: &mut C, sql: &str) -> Result<Vec<Vec<Option<String>>>, sqlx::Error>
where
    DB: Database,
    Option<String>: for<'r> sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
    for<'c> &'c mut C: Executor<'c, Database = DB>,
{
    let rows = sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
        .fetch_all(c)
        .await?;
    rows.iter()
        .map(|row| {
            (0..row.len())
                .map(|i| row.try_get::<Option<String>, _>(i))
                .collect()
        })
        .collect()
}

/// The history rows `sql` reads ([`super::rows::history`]), in version
/// order. The engine tells a missing table from other failures.
async fn history<C, DB>(c: &mut C, sql: &str) -> Result<Vec<Applied>, sqlx::Error>
where
    DB: Database,
    HistoryRow: for<'r> FromRow<'r, DB::Row>,
    for<'c> &'c mut C: Executor<'c, Database = DB>,
{
    let rows = sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
        .fetch_all(c)
        .await?;
    rows.iter()
        .map(|row| HistoryRow::from_row(row).map(applied))
        .collect()
}

/// `(version, text)` pairs a query returns (the stored down scripts).
async fn texts<C, DB>(c: &mut C, sql: &str) -> Result<Vec<(i64, Option<String>)>, DbError>
where
    DB: Database,
    (i64, Option<String>): for<'r> FromRow<'r, DB::Row>,
    for<'c> &'c mut C: Executor<'c, Database = DB>,
{
    sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
        .fetch_all(c)
        .await
        .and_then(|rows| rows.iter().map(<(i64, Option<String>)>::from_row).collect())
        .map_err(|e| DbError::query(format!("`{}`", first_line(sql)), e))
}

/// The history with what is kept of each row, in one query; `None` when
/// there is no history table. A database whose kept table does not exist
/// yet (migrated before it, or by sqlx) is read without it, and says so.
/// `server_error`: the engine's reading of an error.
pub(super) async fn read_history<L: Literals, W: Wire>(
    conn: &mut W,
    home: &Home,
    server_error: fn(sqlx::Error) -> ServerError,
) -> Result<Option<History>, DbError> {
    let failed = |e: ServerError| DbError::query(format!("reading {}", home.table()), e.source);
    match conn.history(&rows::history::<L>(home)).await {
        Ok(rows) => {
            return Ok(Some(History {
                rows,
                kept_table: true,
            }))
        }
        Err(e) => match server_error(e) {
            e if e.kind == ErrorKind::UndefinedTable => {}
            e => return Err(failed(e)),
        },
    }
    match conn.history(&rows::history_only(home)).await {
        Ok(rows) => Ok(Some(History {
            rows,
            kept_table: false,
        })),
        Err(e) => match server_error(e) {
            e if e.kind == ErrorKind::UndefinedTable => Ok(None),
            e => Err(failed(e)),
        },
    }
}

/// The revisions in Alembic's version table
/// ([`super::history::ALEMBIC_TABLE`]) of the home database or schema,
/// sorted; `None` when there is no such table.
pub(super) async fn read_alembic<L: Literals, W: Wire>(
    conn: &mut W,
    home: &Home,
    server_error: fn(sqlx::Error) -> ServerError,
) -> Result<Option<Vec<String>>, DbError> {
    let table = format!("{}.{}", L::quote(&home.name), L::quote(ALEMBIC_TABLE));
    let sql = format!("SELECT version_num FROM {table} ORDER BY version_num");
    match conn.rows_text(&sql).await {
        Ok(rows) => Ok(Some(
            rows.into_iter()
                .filter_map(|r| r.into_iter().next().flatten())
                .collect(),
        )),
        Err(e) => match server_error(e) {
            e if e.kind == ErrorKind::UndefinedTable => Ok(None),
            e => Err(DbError::query(format!("reading {table}"), e.source)),
        },
    }
}

/// A sqlx connection, as the engines use it.
pub trait Wire: Send {
    /// Run statements whose results do not matter.
    fn execute<'a>(
        &'a mut self,
        sql: &'a str,
    ) -> impl Future<Output = Result<(), DbError>> + Send + 'a;
    /// Several statements in one round trip: the rows each changed.
    fn batch(
        &mut self,
        sql: String,
    ) -> impl Future<Output = Result<Vec<u64>, BatchError>> + Send + '_;
    /// One nullable integer.
    fn scalar<'a>(
        &'a mut self,
        sql: &'a str,
    ) -> impl Future<Output = Result<Option<i64>, DbError>> + Send + 'a;
    /// One row, each column as text.
    fn row_text<'a>(
        &'a mut self,
        sql: &'a str,
    ) -> impl Future<Output = Result<Vec<Option<String>>, DbError>> + Send + 'a;
    /// Every row, each column as text.
    fn rows_text<'a>(
        &'a mut self,
        sql: &'a str,
    ) -> impl Future<Output = Result<Vec<Vec<Option<String>>>, sqlx::Error>> + Send + 'a;
    /// The history rows a query reads.
    fn history<'a>(
        &'a mut self,
        sql: &'a str,
    ) -> impl Future<Output = Result<Vec<Applied>, sqlx::Error>> + Send + 'a;
    /// `(version, text)` pairs.
    fn texts<'a>(
        &'a mut self,
        sql: &'a str,
    ) -> impl Future<Output = Result<Vec<(i64, Option<String>)>, DbError>> + Send + 'a;
}

/// [`Wire`] for a sqlx connection type, through the functions above.
macro_rules! wire {
    ($conn:ty) => {
        impl Wire for $conn {
            fn execute<'a>(
                &'a mut self,
                sql: &'a str,
            ) -> impl Future<Output = Result<(), DbError>> + Send + 'a {
                execute(self, sql)
            }
            fn batch(
                &mut self,
                sql: String,
            ) -> impl Future<Output = Result<Vec<u64>, BatchError>> + Send + '_ {
                batch(self, sql)
            }
            fn scalar<'a>(
                &'a mut self,
                sql: &'a str,
            ) -> impl Future<Output = Result<Option<i64>, DbError>> + Send + 'a {
                scalar(self, sql)
            }
            fn row_text<'a>(
                &'a mut self,
                sql: &'a str,
            ) -> impl Future<Output = Result<Vec<Option<String>>, DbError>> + Send + 'a {
                row_text(self, sql)
            }
            fn rows_text<'a>(
                &'a mut self,
                sql: &'a str,
            ) -> impl Future<Output = Result<Vec<Vec<Option<String>>>, sqlx::Error>> + Send + 'a
            {
                rows_text(self, sql)
            }
            fn history<'a>(
                &'a mut self,
                sql: &'a str,
            ) -> impl Future<Output = Result<Vec<Applied>, sqlx::Error>> + Send + 'a {
                history(self, sql)
            }
            fn texts<'a>(
                &'a mut self,
                sql: &'a str,
            ) -> impl Future<Output = Result<Vec<(i64, Option<String>)>, DbError>> + Send + 'a {
                texts(self, sql)
            }
        }
    };
}

wire!(sqlx::mysql::MySqlConnection);
wire!(sqlx::postgres::PgConnection);
