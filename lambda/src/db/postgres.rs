//! The PostgreSQL engine.
//!
//! A migration and its history row (with what is kept beside it,
//! `_schemagate_history`) run as one implicit transaction (one query of
//! several statements), so a failure leaves nothing behind, and a
//! session check at its end rolls it back when the script changed
//! `search_path`. A `-- no-transaction` script runs statement by statement
//! between its start and its finish, so the count of what committed is
//! exact. The lock is a session advisory lock, freed when a crashed run
//! disconnects.

use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgDatabaseError};
use sqlx::{ConnectOptions as _, Connection as _};

use super::driver::Wire;
use super::driver::{read_alembic, read_history};
use super::engine::{Engine, Limits, LockError, LockId, StepRun};
use super::error::{Attempt, DbError, ErrorKind, ServerError, SESSION_CHANGED};
use super::history::{History, Home, StoredDowns};
use super::options::Kind;
use super::probe;
use super::rows::{self, Entry, Literals, Mark, Row};
use super::step::{settle, Left, StepError, StepFailed};
use crate::deadline::Deadline;
use crate::dialect::Dialect;

pub struct Postgres {
    conn: PgConnection,
}

/// One connection attempt, unbounded (the caller bounds it), that tells a
/// MariaDB server on the port from other protocol errors.
pub(super) async fn connect(o: &PgConnectOptions) -> Result<Postgres, Attempt> {
    match o.connect().await {
        Ok(conn) => Ok(Postgres { conn }),
        // Not the PostgreSQL protocol: is it a MariaDB greeting?
        Err(e @ sqlx::Error::Protocol(_)) if o.get_socket().is_none() => {
            match probe::mariadb(o.get_host(), o.get_port(), probe::SILENT_BEFORE_PROBE).await {
                Some(found) => Err(Attempt::Wrong(found)),
                None => Err(Attempt::Db(server_error(e))),
            }
        }
        Err(e) => Err(Attempt::Db(server_error(e))),
    }
}

/// The server's error, with its SQLSTATE and what it means to the engine.
fn server_error(e: sqlx::Error) -> ServerError {
    let code = e
        .as_database_error()
        .and_then(|db| db.try_downcast_ref::<PgDatabaseError>())
        .map(|pg| pg.code().to_string());
    ServerError::new(e, code, kind)
}

fn kind(sqlstate: &str) -> ErrorKind {
    match sqlstate {
        "57014" => ErrorKind::StoppedForTime,
        "55P03" => ErrorKind::LockWaitTimeout,
        "42P01" => ErrorKind::UndefinedTable,
        "57P03" | "53300" => ErrorKind::Busy,
        "28P01" | "28000" => ErrorKind::Auth,
        "3D000" => ErrorKind::UnknownDatabase,
        SESSION_CHANGED => ErrorKind::SessionChanged,
        _ => ErrorKind::Other,
    }
}

impl Literals for Postgres {
    fn quote(name: &str) -> String {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
    fn bytes(b: &[u8]) -> String {
        format!("'\\x{}'::bytea", hex::encode(b))
    }
    fn text(s: &str) -> String {
        format!("convert_from({}, 'UTF8')", Self::bytes(s.as_bytes()))
    }
    fn bigint(expr: &str) -> String {
        format!("({expr})::bigint")
    }
    fn upsert(columns: &[&str]) -> String {
        let set: Vec<String> = columns
            .iter()
            .map(|c| format!("{c} = EXCLUDED.{c}"))
            .collect();
        format!(" ON CONFLICT (version) DO UPDATE SET {}", set.join(", "))
    }
}

/// Session limits: `lock_timeout` in milliseconds, `statement_timeout` at
/// least a second (0: none).
fn session(limits: Limits) -> String {
    let stmt = limits
        .statement
        .map_or(0, |d| d.as_millis().max(1000) as u64);
    let lock_ms = limits.lock_wait.as_millis().max(1);
    format!("SET lock_timeout = '{lock_ms}ms'; SET statement_timeout = {stmt}")
}

fn create_history(home: &Home) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {} (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    installed_on TIMESTAMPTZ NOT NULL DEFAULT now(),
    success BOOLEAN NOT NULL,
    checksum BYTEA NOT NULL,
    execution_time BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS {} (
    version BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    down_sql TEXT NULL,
    class VARCHAR(16) NOT NULL,
    rules TEXT NOT NULL,
    since BIGINT NOT NULL
)",
        home.table(),
        home.kept()
    )
}

/// Fail (and so roll back the transaction it is in) when the session's
/// `search_path` is not what the run started with: a script that changed
/// it would send the next migration's names elsewhere.
fn session_check(home: &Home) -> String {
    let was = home.search_path.as_deref().unwrap_or("");
    let lit = format!(
        "convert_from(decode('{}', 'hex'), 'UTF8')",
        hex::encode(was.as_bytes())
    );
    format!(
        "DO $schemagate$BEGIN IF current_setting('search_path') IS DISTINCT FROM {lit} THEN RAISE EXCEPTION USING ERRCODE = '{SESSION_CHANGED}', MESSAGE = format('the migration changed the session''s search_path to %L (the run started with %L); set search_path with --init-sql / InitSql or qualify the names in the migration', current_setting('search_path'), {lit}); END IF; END$schemagate$"
    )
}

/// The script and its row in one implicit transaction, so a failure leaves
/// nothing behind; the session check fails it too. Then [`SUFFIX`]
/// statements: the row's (its affected rows are checked), what is kept of
/// it (written, or removed), and the check.
fn atomic(home: &Home, mark: &Mark<'_>, body: Option<&str>) -> String {
    let (record, kept) = match mark {
        Mark::Up(e) => (
            format!(
                "INSERT INTO {table} (version, description, success, checksum, execution_time) VALUES ({v}, {d}, TRUE, {c}, (extract(epoch from (clock_timestamp() - statement_timestamp())) * 1000000000)::bigint)",
                table = home.table(),
                v = e.row.version,
                d = Postgres::text(e.row.description),
                c = Postgres::bytes(e.row.checksum),
            ),
            rows::keep::<Postgres>(home, &[e]),
        ),
        Mark::Down { version, .. } => (
            format!("DELETE FROM {} WHERE version = {version}", home.table()),
            rows::forget(home, *version),
        ),
    };
    format!(
        "{body}{record};\n{kept};\n{check}",
        body = body.unwrap_or(""),
        check = session_check(home),
    )
}

/// `-- no-transaction`: the finish (with what is kept of a revert) and the
/// session check in one implicit transaction, so a changed `search_path`
/// leaves the row saying "started".
fn finish(home: &Home, m: &Mark<'_>, elapsed: Duration) -> String {
    format!(
        "{};\n{}",
        rows::finish::<Postgres>(home, m, &elapsed.as_nanos().to_string()).join(";\n"),
        session_check(home)
    )
}

/// The bookkeeping after the script in [`atomic`]: its row's statement,
/// what is kept of it, and the session check.
const SUFFIX: usize = 3;

/// The affected rows of a batch's row statement, [`SUFFIX`] from its end.
fn recorded(affected: &[u64]) -> Option<u64> {
    affected
        .len()
        .checked_sub(SUFFIX)
        .and_then(|i| affected.get(i))
        .copied()
}

impl Postgres {
    async fn home(&mut self) -> Result<Home, DbError> {
        let row = self
            .conn
            .row_text("SELECT current_schema()::text, current_setting('search_path')")
            .await?;
        let name = row.first().cloned().flatten().filter(|n| !n.is_empty());
        let Some(name) = name else {
            return Err(DbError::Url("the session's `search_path` names no schema that exists: create the schema or set `search_path` with `--init-sql`/`InitSql`".into()));
        };
        Ok(Home {
            table: rows::table::<Postgres>(&name),
            kept: rows::kept_table::<Postgres>(&name),
            name,
            search_path: row.get(1).cloned().flatten(),
            max_packet: None,
        })
    }

    /// The first statement's affected rows of a bookkeeping batch.
    async fn record(&mut self, sql: String, context: String) -> Result<u64, DbError> {
        let affected = self
            .conn
            .batch(sql)
            .await
            .map_err(|e| DbError::query(context, e.source))?;
        Ok(affected.first().copied().unwrap_or(0))
    }

    async fn lock(&mut self, lock: &LockId, timeout: Duration) -> Result<(), LockError> {
        let start = Instant::now();
        let sql = format!("SELECT pg_try_advisory_lock({})::int::bigint", lock.key);
        loop {
            if self.conn.scalar(&sql).await? == Some(1) {
                return Ok(());
            }
            if start.elapsed() >= timeout {
                return Err(LockError::Timeout {
                    seconds: timeout.as_secs(),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The script and its row in one implicit transaction.
    async fn atomic(&mut self, home: &Home, s: &StepRun<'_>) -> Result<(), StepFailed> {
        match self.conn.batch(atomic(home, &s.mark, s.body)).await {
            Ok(affected) if recorded(&affected) == Some(1) => Ok(()),
            Ok(_) => {
                let message = format!(
                    "the script ran, but its history row in {} was not {} (did the migration change `_sqlx_migrations`?)",
                    home.table(),
                    match s.mark { Mark::Down { .. } => "there to delete", Mark::Up(_) => "written" }
                );
                Err(StepFailed::new(
                    StepError::Bookkeeping(message),
                    Left::Unknown,
                ))
            }
            // The implicit transaction rolled everything back.
            Err(e) => {
                let error = server_error(e.source);
                let retry = error.kind == ErrorKind::LockWaitTimeout;
                Err(StepFailed::retryable(
                    StepError::Server(error),
                    Left::RolledBack,
                    retry,
                ))
            }
        }
    }

    /// `-- no-transaction`: sent as one query, a script would still run as
    /// one implicit transaction (CREATE INDEX CONCURRENTLY refuses to, and a
    /// failure would undo all of it). So: record the start, run each
    /// statement on its own (each commits), then finish; a failure says how
    /// many statements committed.
    async fn statements(&mut self, home: &Home, s: &StepRun<'_>) -> Result<(), StepFailed> {
        let statements: Vec<String> = match crate::lint::split::split(s.sql, Dialect::Postgres) {
            Ok(p) => p.pieces.into_iter().map(|p| p.text.into_owned()).collect(),
            // The tokenizer gave up (an unterminated string): send it whole
            // and let the server say what is wrong.
            Err(_) => s.body.map(str::to_string).into_iter().collect(),
        };
        match self
            .conn
            .batch(rows::started::<Postgres>(home, &s.mark).join(";\n"))
            .await
        {
            Ok(a) if a.first() == Some(&1) => {}
            Ok(_) => {
                let message = format!(
                    "its history row in {} was not as planned (did something else change `_sqlx_migrations`?); the script did not run",
                    home.table()
                );
                return Err(StepFailed::new(
                    StepError::Bookkeeping(message),
                    Left::Nothing,
                ));
            }
            Err(e) => {
                let error = StepError::Recording(server_error(e.source));
                return Err(StepFailed::new(error, Left::Nothing));
            }
        }
        let t = Instant::now();
        for (i, statement) in statements.iter().enumerate() {
            if let Err(e) = self.conn.batch(statement.clone()).await {
                let error = server_error(e.source);
                let retry = i == 0 && error.kind == ErrorKind::LockWaitTimeout;
                return settle::<Postgres, _>(&mut self.conn, home, &s.mark, i, error, retry).await;
            }
        }
        let all = Left::Partly {
            statements: statements.len(),
        };
        match self.conn.batch(finish(home, &s.mark, t.elapsed())).await {
            Ok(a) if a.first() == Some(&1) => Ok(()),
            Ok(_) => {
                let message = format!(
                    "its history row in {} was not there to be finished (did the migration change `_sqlx_migrations`?)",
                    home.table()
                );
                Err(StepFailed::new(StepError::Bookkeeping(message), all))
            }
            Err(e) => Err(StepFailed::new(
                StepError::Server(server_error(e.source)),
                all,
            )),
        }
    }
}

impl Engine for Postgres {
    fn kind(&self) -> Kind {
        Kind::Postgres
    }

    fn set_up(&mut self, limits: Limits) -> BoxFuture<'_, Result<(), DbError>> {
        Box::pin(async move { self.conn.execute(&session(limits)).await })
    }

    fn execute<'a>(&'a mut self, sql: &'a str) -> BoxFuture<'a, Result<(), DbError>> {
        Box::pin(self.conn.execute(sql))
    }

    fn home(&mut self) -> BoxFuture<'_, Result<Home, DbError>> {
        Box::pin(Postgres::home(self))
    }

    fn history<'a>(
        &'a mut self,
        home: &'a Home,
    ) -> BoxFuture<'a, Result<Option<History>, DbError>> {
        Box::pin(read_history::<Postgres, _>(
            &mut self.conn,
            home,
            server_error,
        ))
    }

    fn create_history<'a>(&'a mut self, home: &'a Home) -> BoxFuture<'a, Result<(), DbError>> {
        Box::pin(async move { self.conn.execute(&create_history(home)).await })
    }

    fn alembic_version<'a>(
        &'a mut self,
        home: &'a Home,
    ) -> BoxFuture<'a, Result<Option<Vec<String>>, DbError>> {
        Box::pin(read_alembic::<Postgres, _>(
            &mut self.conn,
            home,
            server_error,
        ))
    }

    fn baseline<'a>(
        &'a mut self,
        home: &'a Home,
        entries: &'a [Entry<'a>],
    ) -> BoxFuture<'a, Result<u64, DbError>> {
        let sql = rows::baseline::<Postgres>(home, entries);
        Box::pin(self.record(sql, "recording the baseline".into()))
    }

    fn stored_downs<'a>(
        &'a mut self,
        home: &'a Home,
        versions: &'a [i64],
    ) -> BoxFuture<'a, Result<StoredDowns, DbError>> {
        Box::pin(async move { self.conn.texts(&rows::stored_downs(home, versions)).await })
    }

    fn resolve<'a>(
        &'a mut self,
        home: &'a Home,
        version: i64,
        row: Option<Row<'a>>,
    ) -> BoxFuture<'a, Result<u64, DbError>> {
        let sql = rows::resolve::<Postgres>(home, version, row.as_ref());
        Box::pin(self.record(sql, format!("recording version {version}")))
    }

    fn lock<'a>(
        &'a mut self,
        lock: &'a LockId,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<(), LockError>> {
        Box::pin(Postgres::lock(self, lock, timeout))
    }

    fn unlock<'a>(&'a mut self, lock: &'a LockId) -> BoxFuture<'a, Result<(), DbError>> {
        Box::pin(async move {
            let sql = format!("SELECT pg_advisory_unlock({})::int::bigint", lock.key);
            self.conn.scalar(&sql).await.map(|_| ())
        })
    }

    /// The session's `statement_timeout`, set once, is the limit: a
    /// PostgreSQL step is not renewed per batch.
    fn run_step<'a>(
        &'a mut self,
        home: &'a Home,
        step: &'a StepRun<'a>,
        _deadline: Option<Deadline>,
    ) -> BoxFuture<'a, Result<(), StepFailed>> {
        Box::pin(async move {
            if step.no_tx {
                self.statements(home, step).await
            } else {
                self.atomic(home, step).await
            }
        })
    }

    fn too_large(&self, _home: &Home, _step: &StepRun<'_>) -> Option<u64> {
        None
    }

    fn read_text<'a>(
        &'a mut self,
        sql: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Vec<Option<String>>>, ServerError>> {
        Box::pin(async move { self.conn.rows_text(sql).await.map_err(server_error) })
    }

    fn close(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let _ = self.conn.close().await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn home() -> Home {
        Home {
            name: "app".into(),
            table: rows::table::<Postgres>("app"),
            kept: rows::kept_table::<Postgres>("app"),
            search_path: Some("\"$user\", public".into()),
            max_packet: None,
        }
    }

    fn row() -> Row<'static> {
        Row {
            version: 2,
            description: "b",
            checksum: &[2],
        }
    }

    fn entry(row: Row<'static>) -> Entry<'static> {
        Entry {
            row,
            keep: rows::Keep {
                name: "0002_b".into(),
                down: Some("DROP TABLE b; -- it's"),
                class: "breaking",
                rules: "drop-table".into(),
                since: 1,
            },
        }
    }

    #[test]
    fn names_are_qualified_and_quoted() {
        assert_eq!(
            rows::table::<Postgres>("pu\"b"),
            "\"pu\"\"b\".\"_sqlx_migrations\""
        );
    }

    #[test]
    fn values_are_hex_literals_so_quotes_cannot_escape() {
        let row = Row {
            version: 3,
            description: "it's; DROP TABLE x",
            checksum: &[0xab, 0x01],
        };
        let b = atomic(&home(), &Mark::Up(entry(row)), None);
        assert!(b.contains("'\\xab01'::bytea"));
        assert!(!b.contains("it's"));
        assert!(
            b.contains("ON CONFLICT (version) DO UPDATE SET name = EXCLUDED.name"),
            "{b}"
        );
        assert!(!session_check(&home()).contains("public"));
    }

    #[test]
    fn every_bookkeeping_statement_names_the_schema() {
        let p = home();
        let down = Mark::Down {
            version: 2,
            execution_time: 0,
        };
        for sql in [
            create_history(&p),
            atomic(&p, &Mark::Up(entry(row())), None),
            atomic(&p, &down, None),
            finish(&p, &Mark::Up(entry(row())), Duration::ZERO),
            finish(&p, &down, Duration::ZERO),
        ] {
            assert!(sql.contains("\"app\".\"_sqlx_migrations\""), "{sql}");
        }
        for sql in [
            create_history(&p),
            atomic(&p, &Mark::Up(entry(row())), None),
            atomic(&p, &down, None),
            finish(&p, &down, Duration::ZERO),
        ] {
            assert!(sql.contains("\"app\".\"_schemagate_history\""), "{sql}");
        }
        // The row, then what is kept of it, then the check: SUFFIX from the end.
        let statements: Vec<&str> = atomic(&p, &down, Some("DROP TABLE b;\n"))
            .split(";\n")
            .map(|s| s.split(' ').take(3).collect::<Vec<_>>().join(" "))
            .map(|s| Box::leak(s.into_boxed_str()) as &str)
            .collect();
        assert_eq!(
            statements,
            [
                "DROP TABLE b",
                "DELETE FROM \"app\".\"_sqlx_migrations\"",
                "DELETE FROM \"app\".\"_schemagate_history\"",
                "DO $schemagate$BEGIN IF"
            ]
        );
        assert_eq!(statements.len() - SUFFIX, 1);
    }

    #[test]
    fn session_limits_take_milliseconds() {
        let limits = Limits {
            lock_wait: Duration::from_millis(500),
            statement: None,
        };
        assert!(session(limits).starts_with("SET lock_timeout = '500ms';"));
    }

    #[test]
    fn sqlstates_are_read_as_kinds() {
        assert_eq!(kind("57014"), ErrorKind::StoppedForTime);
        assert_eq!(kind("55P03"), ErrorKind::LockWaitTimeout);
        assert_eq!(kind("SGSES"), ErrorKind::SessionChanged);
        assert_eq!(kind("42601"), ErrorKind::Other);
    }
}
