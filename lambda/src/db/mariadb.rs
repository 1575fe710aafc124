//! The MariaDB (and MySQL) engine.
//!
//! # One round trip per migration
//!
//! `step` is the whole batch of a migration:
//!
//! ```text
//! SET @schemagate_t0 = NOW(6), autocommit = 0[, max_statement_time = …];
//! SAVEPOINT schemagate_previous          — only after a deferred finish (below)
//! INSERT its row: success = FALSE, execution_time = -1   (down: mark the row -3)
//! INSERT what is kept of it: name, down script, class   (down: nothing)
//! <the script>
//! UPDATE the row to success   (down: DELETE it) — only while the session is still in its database
//! (down: DELETE what is kept of it, once its row is gone)
//! SET autocommit = 1                     — not when the finish is deferred (below)
//! ```
//!
//! With `autocommit = 0` nothing commits until a DDL (MariaDB commits
//! implicitly before and after each DDL) or the final `SET autocommit = 1`:
//! - a script with DDL: its row commits just before the first DDL runs, so
//!   from the moment anything of it can be committed, a failure or a crash
//!   finds the row on record saying the script started;
//! - a script of DML only: row, script and finish commit together; a
//!   failure or a crash rolls all of it back and no row stays;
//! - nothing is written ahead for the next migration, so a run killed
//!   between two batches leaves no row for a migration that did not start;
//! - the kept row (`_schemagate_history`) commits in the same commit as the
//!   history row, in both directions: the two tables hold both rows or
//!   neither.
//!
//! # The finish rides in the next migration's commit
//!
//! When the next migration of the run is an up whose first statement
//! commits implicitly (`CREATE`, `ALTER`, `DROP`, `RENAME`, `TRUNCATE`:
//! [`crate::migrate::script::opens_with_commit`]), the batch ends without
//! `SET autocommit = 1`: its finish (and whatever ran after its last DDL)
//! commits in the implicit commit the next migration's first DDL makes,
//! together with that migration's started row. A DDL-only migration so
//! costs one commit beyond its own DDL instead of two; a DML-only one
//! followed by a DDL migration costs none of its own. Every other batch —
//! the last of a run, one before a migration that opens with DML, a down —
//! commits at its end as before; a stop between two migrations and the
//! end of the run commit what is pending before the lock is released
//! (`unlock`), and a failure commits it as below.
//!
//! The batch after a deferred finish sets a savepoint before its rows. If
//! it fails before anything of it committed (its first statement did not
//! parse, so there was no implicit commit), the engine rolls back to the
//! savepoint, which keeps the previous migration's finish, and commits it;
//! if a statement of it committed implicitly the savepoint is gone (error
//! 1305), everything before that statement is committed, and the engine
//! rolls back as before. Either way the previous migration is recorded as
//! applied and the failed one is read back as before (`settle`).
//!
//! What the history says when the connection is lost — killed, the
//! client killed, the server gone — with migration N deferred:
//!
//! | lost | N's row | N+1's row | what the database holds |
//! |---|---|---|---|
//! | during N, before its first DDL | none | none | nothing of N |
//! | during N, after a DDL of it | started (-1) | none | part of N, or all of it |
//! | after N's batch, before N+1's first DDL committed | started (-1) if N holds DDL; none if N is DML only | none | all of N; nothing of a DML-only N (rolled back with its row) |
//! | once N+1's first DDL started | applied | started (-1) | all of N; N+1 as in the first two rows |
//!
//! So "started, not finished" means "partly *or wholly* applied", as it
//! already did when a connection was lost between a script's last
//! statement and its commit: the next run refuses it with the recovery
//! hint (compare the database with the file, then `schemagate resolve N
//! --as applied` or `--as undone`), never marks it applied and never runs
//! it again by itself. The history cannot tell the two apart after the
//! fact — N's finish is the only record that its last statement ran, and
//! it is what was lost — so the deferral trades a commit per migration
//! for that wider window. Nothing is ever recorded as applied that did
//! not run: a finish is written only after the script's last statement.
//!
//! The engine checks each batch's affected-row counts (`Batch::prefix`,
//! `Batch::suffix`): the finish must have changed exactly its row. After
//! a failure it ends the batch's transaction, puts the session back in its
//! database and reads the row back (`settle`).
//!
//! # The lock
//!
//! MariaDB ignores `GET_LOCK(name, -1)` (returns NULL, takes nothing), which
//! is what sqlx's MySQL migrator sends; here the timeout is positive and the
//! result is checked. The lock is tied to the connection, so a crashed run
//! frees it when it disconnects.

use std::time::Duration;

use futures_util::future::BoxFuture;
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlDatabaseError};
use sqlx::{ConnectOptions as _, Connection as _};

use super::driver::Wire;
use super::driver::{read_alembic, read_history};
use super::engine::{Engine, Limits, LockError, LockId, StepRun};
use super::error::{Attempt, DbError, ErrorKind, ServerError};
use super::history::{History, Home, StoredDowns};
use super::options::Kind;
use super::probe;
use super::rows::{self, Entry, Literals, Mark, Row};
use super::step::{settle, Left, StepError, StepFailed, Then};
use crate::deadline::Deadline;

pub struct MariaDb {
    conn: MySqlConnection,
    /// The last step's finish rides in the next step's first implicit
    /// commit: it has not committed yet (see the module's documentation).
    pending: bool,
    /// Tests: called before each of the engine's round trips.
    #[cfg(test)]
    seam: Option<super::engine::Seam>,
}

/// One connection attempt, unbounded (the caller bounds it), that tells a
/// PostgreSQL server on the port from a silent one.
pub(super) async fn connect(o: &MySqlConnectOptions) -> Result<MariaDb, Attempt> {
    let connect = o.connect();
    tokio::pin!(connect);
    let tcp = o.get_socket().is_none();
    let check = async {
        tokio::time::sleep(probe::SILENT_BEFORE_PROBE).await;
        probe::postgres(o.get_host(), o.get_port(), probe::SILENT_BEFORE_PROBE).await
    };
    tokio::select! {
        r = &mut connect => r.map(MariaDb::new).map_err(|e| Attempt::Db(server_error(e))),
        Some(found) = check, if tcp => Err(Attempt::Wrong(found)),
    }
}

/// The server's error, with its number and what it means to the engine.
fn server_error(e: sqlx::Error) -> ServerError {
    let number = e
        .as_database_error()
        .and_then(|db| db.try_downcast_ref::<MySqlDatabaseError>())
        .map(|my| my.number().to_string());
    ServerError::new(e, number, kind)
}

/// The kind of a MariaDB error, for a caller that holds the error itself
/// (a [`super::DbError::Query`]'s source).
pub fn error_kind(e: &sqlx::Error) -> ErrorKind {
    let number = e
        .as_database_error()
        .and_then(|db| db.try_downcast_ref::<MySqlDatabaseError>())
        .map(|my| my.number().to_string());
    ErrorKind::of(e, number.as_deref(), kind)
}

fn kind(number: &str) -> ErrorKind {
    match number {
        "1969" => ErrorKind::StoppedForTime,
        "1205" => ErrorKind::LockWaitTimeout,
        "1153" => ErrorKind::PacketTooLarge,
        "1146" => ErrorKind::UndefinedTable,
        "1040" | "1053" => ErrorKind::Busy,
        "1045" => ErrorKind::Auth,
        "1049" => ErrorKind::UnknownDatabase,
        _ => ErrorKind::Other,
    }
}

impl Literals for MariaDb {
    fn quote(name: &str) -> String {
        format!("`{}`", name.replace('`', "``"))
    }
    fn bytes(b: &[u8]) -> String {
        format!("X'{}'", hex::encode(b))
    }
    fn text(s: &str) -> String {
        format!("CONVERT({} USING utf8mb4)", Self::bytes(s.as_bytes()))
    }
    fn bigint(expr: &str) -> String {
        format!("CAST({expr} AS SIGNED)")
    }
    fn upsert(columns: &[&str]) -> String {
        let set: Vec<String> = columns
            .iter()
            .map(|c| format!("{c} = VALUES({c})"))
            .collect();
        format!(" ON DUPLICATE KEY UPDATE {}", set.join(", "))
    }
    fn still_home(home: &Home) -> String {
        format!(
            " AND CAST(DATABASE() AS BINARY) <=> {}",
            Self::bytes(home.name.as_bytes())
        )
    }
}

/// Session limits. Whole seconds only on MariaDB 10.11 (`= 0.5` is error
/// 1232, `WAIT 0.5` truncates to 0 = no wait): round up, at least 1.
fn session(limits: Limits) -> String {
    let lock_secs = (limits.lock_wait.as_secs_f64().ceil() as u64).max(1);
    let stmt = limits.statement.map_or(0.0, |d| d.as_secs_f64().max(1.0));
    format!(
        "SET SESSION lock_wait_timeout = {lock_secs}; SET SESSION innodb_lock_wait_timeout = {lock_secs}; SET SESSION max_statement_time = {stmt:.3}"
    )
}

/// sqlx's history table, and the kept table: InnoDB, so it commits and
/// rolls back with the history row, and utf8mb4 whatever the database's
/// default, so a down script is kept as written.
fn create_history(home: &Home) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {} (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    success BOOLEAN NOT NULL,
    checksum BLOB NOT NULL,
    execution_time BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS {} (
    version BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    down_sql LONGTEXT NULL,
    class VARCHAR(16) NOT NULL,
    rules TEXT NOT NULL,
    since BIGINT NOT NULL
) ENGINE = InnoDB CHARACTER SET utf8mb4",
        home.table(),
        home.kept()
    )
}

/// A batch: `prefix` bookkeeping statements before the script and `suffix`
/// after it, whose affected-row counts the engine checks.
struct Batch {
    sql: String,
    prefix: usize,
    suffix: usize,
}

/// A migration's whole batch (see the module's documentation).
/// `statement` (time left before the deadline) renews the session's
/// `max_statement_time` for this batch, so a statement that starts late in
/// a run is still stopped by the server in time. (The engine sends
/// [`step_in`], which joins it to its neighbours.)
#[cfg(test)]
fn step(home: &Home, this: &Mark<'_>, body: Option<&str>, statement: Option<Duration>) -> Batch {
    step_in(home, this, body, statement, Chain::default())
}

/// How a batch joins its neighbours: the previous step's finish has not
/// committed yet (`after_pending`: a savepoint keeps it apart from this
/// step), and this step's finish is left to the next step's implicit
/// commit (`defer`: no `SET autocommit = 1` at its end).
#[derive(Debug, Clone, Copy, Default)]
struct Chain {
    after_pending: bool,
    defer: bool,
}

/// The savepoint a batch sets after a deferred finish.
const SAVEPOINT: &str = "schemagate_previous";

/// `step`, joined to its neighbours as `chain` says.
fn step_in(
    home: &Home,
    this: &Mark<'_>,
    body: Option<&str>,
    statement: Option<Duration>,
    chain: Chain,
) -> Batch {
    let started = rows::started::<MariaDb>(home, this);
    let finish = rows::finish::<MariaDb>(
        home,
        this,
        "TIMESTAMPDIFF(MICROSECOND, @schemagate_t0, NOW(6)) * 1000",
    );
    let savepoint = if chain.after_pending {
        format!("SAVEPOINT {SAVEPOINT};\n")
    } else {
        String::new()
    };
    Batch {
        sql: format!(
            "SET @schemagate_t0 = NOW(6), autocommit = 0{limit};\n{savepoint}{started};\n{body}{finish}{end}",
            limit = statement.map_or(String::new(), |d| format!(
                ", max_statement_time = {:.3}",
                d.as_secs_f64().max(1.0)
            )),
            started = started.join(";\n"),
            body = body.unwrap_or(""),
            finish = finish.join(";\n"),
            end = if chain.defer { "" } else { ";\nSET autocommit = 1" },
        ),
        prefix: 1 + usize::from(chain.after_pending) + started.len(),
        suffix: finish.len() + usize::from(!chain.defer),
    }
}

/// After a failed [`step_in`]: end its transaction (what did not commit is
/// undone) and put the session back in its database.
fn abort(home: &Home) -> String {
    format!(
        "ROLLBACK; SET autocommit = 1; USE {}",
        MariaDb::quote(&home.name)
    )
}

impl MariaDb {
    fn new(conn: MySqlConnection) -> MariaDb {
        MariaDb {
            conn,
            pending: false,
            #[cfg(test)]
            seam: None,
        }
    }

    /// The connection, for the next round trip (tests: after the seam).
    async fn wire(&mut self) -> &mut MySqlConnection {
        #[cfg(test)]
        if let Some(seam) = self.seam.as_mut() {
            seam().await;
        }
        &mut self.conn
    }

    async fn home(&mut self) -> Result<Home, DbError> {
        let row = self
            .wire()
            .await
            .row_text("SELECT DATABASE(), CAST(@@max_allowed_packet AS CHAR)")
            .await?;
        let name = row.first().cloned().flatten().filter(|n| !n.is_empty());
        let Some(name) = name else {
            return Err(DbError::Url("the session has no database selected: name the database in the URL (`mysql://user@host:3306/db`), the secret's `dbname` or `--database-name`".into()));
        };
        Ok(Home {
            table: rows::table::<MariaDb>(&name),
            kept: rows::kept_table::<MariaDb>(&name),
            name,
            search_path: None,
            max_packet: row.get(1).cloned().flatten().and_then(|s| s.parse().ok()),
        })
    }

    /// The first statement's affected rows of a bookkeeping batch.
    async fn record(&mut self, sql: String, context: String) -> Result<u64, DbError> {
        let affected = self
            .wire()
            .await
            .batch(sql)
            .await
            .map_err(|e| DbError::query(context, e.source))?;
        Ok(affected.first().copied().unwrap_or(0))
    }

    async fn lock(&mut self, lock: &LockId, timeout: Duration) -> Result<(), LockError> {
        let secs = timeout.as_secs().max(1);
        let sql = format!("SELECT GET_LOCK('{}', {secs})", lock.name);
        match self.wire().await.scalar(&sql).await? {
            Some(1) => Ok(()),
            Some(0) => Err(LockError::Timeout { seconds: secs }),
            _ => Err(LockError::NotTaken {
                detail: format!(
                    "GET_LOCK(…, {secs}) returned NULL instead of 1 (the wait was interrupted, e.g. by max_statement_time near the deadline, or the server does not support the lock)"
                ),
            }),
        }
    }

    /// The step's one batch, then its affected-row counts checked; after a
    /// failure, what committed is read back.
    async fn run_step(
        &mut self,
        home: &Home,
        s: &StepRun<'_>,
        deadline: Option<Deadline>,
    ) -> Result<(), StepFailed> {
        let limit = deadline.map(|d| d.statement_limit());
        let chain = Chain {
            after_pending: std::mem::take(&mut self.pending),
            defer: s.next_commits && matches!(s.mark, Mark::Up(_)),
        };
        let batch = step_in(home, &s.mark, s.body, limit, chain);
        match self.wire().await.batch(batch.sql).await {
            Ok(affected) => {
                let finish = affected
                    .len()
                    .checked_sub(batch.suffix)
                    .and_then(|i| affected.get(i));
                if finish == Some(&1) {
                    self.pending = chain.defer;
                    return Ok(());
                }
                let ran = affected.len().saturating_sub(batch.prefix + batch.suffix);
                let message = self.not_finished(home, chain.defer).await;
                let left = Left::Partly { statements: ran };
                Err(StepFailed::new(StepError::Bookkeeping(message), left))
            }
            Err(e) => {
                let error = server_error(e.source);
                let retry = error.kind == ErrorKind::LockWaitTimeout;
                if let Err(abort) = self.abort(home, chain.after_pending).await {
                    let then = Box::new(Then::ConnectionFailed(abort));
                    return Err(StepFailed::new(
                        StepError::Then { error, then },
                        Left::Unknown,
                    ));
                }
                let ran = e.completed.saturating_sub(batch.prefix);
                settle::<MariaDb, _>(self.wire().await, home, &s.mark, ran, error, retry).await
            }
        }
    }

    /// End a failed batch: what did not commit of it is undone, and the
    /// session is put back in its database. After a deferred finish the
    /// rollback goes to the batch's savepoint: the previous step's finish,
    /// and what ran after its last DDL, stay and commit. The savepoint is
    /// gone (error 1305) when a statement of this batch committed
    /// implicitly, and everything before that statement with it.
    async fn abort(&mut self, home: &Home, after_pending: bool) -> Result<(), DbError> {
        if after_pending {
            let back = format!("ROLLBACK TO SAVEPOINT {SAVEPOINT}");
            match self.wire().await.batch(back).await {
                Ok(_) => {
                    let commit = format!("SET autocommit = 1; USE {}", MariaDb::quote(&home.name));
                    return self.wire().await.execute(&commit).await;
                }
                Err(e) => {
                    let e = server_error(e.source);
                    if e.code.as_deref() != Some("1305") {
                        return Err(DbError::query(
                            "rolling back to the step's savepoint",
                            e.source,
                        ));
                    }
                }
            }
        }
        self.wire().await.execute(&abort(home)).await
    }

    /// Commit a finish left for the next step's implicit commit, when no
    /// such step follows (a stop, the end of a run that did not reach it).
    async fn commit_pending(&mut self) -> Result<(), DbError> {
        if std::mem::take(&mut self.pending) {
            self.wire().await.execute("SET autocommit = 1").await?;
        }
        Ok(())
    }

    /// Everything committed, but the finish changed nothing: the script
    /// moved the session to another database (its row stays "started", in
    /// the right place), or removed the row. Says which, and moves the
    /// session back.
    async fn not_finished(&mut self, home: &Home, deferred: bool) -> String {
        // The batch did not end its transaction: end it, as it would have.
        if deferred {
            if let Err(e) = self.wire().await.execute("SET autocommit = 1").await {
                return format!("recording it failed, then the connection failed: {e}");
            }
        }
        let now = self.wire().await.row_text("SELECT DATABASE()").await;
        match now.map(|r| r.into_iter().next().flatten()) {
            Ok(now) if now.as_deref() != Some(home.name.as_str()) => {
                let use_home = format!("USE {}", MariaDb::quote(&home.name));
                let back = match self.wire().await.execute(&use_home).await {
                    Ok(()) => "the session was moved back".to_string(),
                    Err(e) => format!("moving the session back failed: {e}"),
                };
                format!(
                    "the migration left the session in database {} instead of `{}` (a `USE` statement?), so what it ran after that went there and its history row in `{}` was not marked as applied; {back}",
                    now.map_or("none".into(), |n| format!("`{n}`")),
                    home.name,
                    home.name,
                )
            }
            Ok(_) => format!(
                "its history row in {} was not there to be marked as applied (did the migration change `_sqlx_migrations`?)",
                home.table()
            ),
            Err(e) => format!("recording it failed, then the connection failed: {e}"),
        }
    }
}

impl Engine for MariaDb {
    fn kind(&self) -> Kind {
        Kind::MariaDb
    }

    fn set_up(&mut self, limits: Limits) -> BoxFuture<'_, Result<(), DbError>> {
        Box::pin(async move { self.wire().await.execute(&session(limits)).await })
    }

    fn execute<'a>(&'a mut self, sql: &'a str) -> BoxFuture<'a, Result<(), DbError>> {
        Box::pin(async move { self.wire().await.execute(sql).await })
    }

    fn home(&mut self) -> BoxFuture<'_, Result<Home, DbError>> {
        Box::pin(MariaDb::home(self))
    }

    fn history<'a>(
        &'a mut self,
        home: &'a Home,
    ) -> BoxFuture<'a, Result<Option<History>, DbError>> {
        Box::pin(
            async move { read_history::<MariaDb, _>(self.wire().await, home, server_error).await },
        )
    }

    fn create_history<'a>(&'a mut self, home: &'a Home) -> BoxFuture<'a, Result<(), DbError>> {
        Box::pin(async move { self.wire().await.execute(&create_history(home)).await })
    }

    fn alembic_version<'a>(
        &'a mut self,
        home: &'a Home,
    ) -> BoxFuture<'a, Result<Option<Vec<String>>, DbError>> {
        Box::pin(read_alembic::<MariaDb, _>(
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
        let sql = rows::baseline::<MariaDb>(home, entries);
        Box::pin(self.record(sql, "recording the baseline".into()))
    }

    fn stored_downs<'a>(
        &'a mut self,
        home: &'a Home,
        versions: &'a [i64],
    ) -> BoxFuture<'a, Result<StoredDowns, DbError>> {
        Box::pin(async move {
            self.wire()
                .await
                .texts(&rows::stored_downs(home, versions))
                .await
        })
    }

    fn resolve<'a>(
        &'a mut self,
        home: &'a Home,
        version: i64,
        row: Option<Row<'a>>,
    ) -> BoxFuture<'a, Result<u64, DbError>> {
        let sql = rows::resolve::<MariaDb>(home, version, row.as_ref());
        Box::pin(self.record(sql, format!("recording version {version}")))
    }

    fn lock<'a>(
        &'a mut self,
        lock: &'a LockId,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<(), LockError>> {
        Box::pin(MariaDb::lock(self, lock, timeout))
    }

    fn unlock<'a>(&'a mut self, lock: &'a LockId) -> BoxFuture<'a, Result<(), DbError>> {
        Box::pin(async move {
            self.commit_pending().await?;
            let sql = format!("SELECT RELEASE_LOCK('{}')", lock.name);
            self.wire().await.scalar(&sql).await.map(|_| ())
        })
    }

    fn run_step<'a>(
        &'a mut self,
        home: &'a Home,
        step: &'a StepRun<'a>,
        deadline: Option<Deadline>,
    ) -> BoxFuture<'a, Result<(), StepFailed>> {
        Box::pin(MariaDb::run_step(self, home, step, deadline))
    }

    /// MariaDB takes a query of at most `max_allowed_packet` bytes and
    /// drops the connection on a larger one, mid-run and with nothing to
    /// tell what ran: the bookkeeping as sent, the script, its terminator
    /// and the command byte must fit.
    fn too_large(&self, home: &Home, s: &StepRun<'_>) -> Option<u64> {
        let limit = home.max_packet?;
        let widest = Chain {
            after_pending: true,
            defer: false,
        };
        let size = step_in(home, &s.mark, None, Some(Duration::from_secs(1)), widest)
            .sql
            .len()
            + s.sql.len()
            + 4;
        (size as u64 > limit).then_some(limit)
    }

    fn read_text<'a>(
        &'a mut self,
        sql: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Vec<Option<String>>>, ServerError>> {
        Box::pin(async move { self.wire().await.rows_text(sql).await.map_err(server_error) })
    }

    fn close(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let _ = self.conn.close().await;
        })
    }

    #[cfg(test)]
    fn set_seam(&mut self, seam: super::engine::Seam) {
        self.seam = Some(seam);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn home() -> Home {
        Home {
            name: "app".into(),
            table: rows::table::<MariaDb>("app"),
            kept: rows::kept_table::<MariaDb>("app"),
            search_path: None,
            max_packet: Some(16 << 20),
        }
    }

    fn entry(row: Row<'static>) -> Entry<'static> {
        Entry {
            row,
            keep: rows::Keep {
                name: "0001_a".into(),
                down: Some("DROP TABLE a; -- it's"),
                class: "expand",
                rules: String::new(),
                since: 0,
            },
        }
    }

    #[test]
    fn names_are_qualified_and_quoted() {
        assert_eq!(rows::table::<MariaDb>("app"), "`app`.`_sqlx_migrations`");
        assert_eq!(rows::table::<MariaDb>("a`b"), "`a``b`.`_sqlx_migrations`");
    }

    #[test]
    fn values_are_hex_literals_so_quotes_cannot_escape() {
        let row = Row {
            version: 3,
            description: "it's; DROP TABLE x",
            checksum: &[0xab, 0x01],
        };
        let m = rows::started::<MariaDb>(&home(), &Mark::Up(entry(row))).join(";");
        assert!(!m.contains("it's"));
        assert!(m.contains("X'ab01'"));
    }

    #[test]
    fn a_step_records_its_start_then_its_end_and_nothing_for_the_next() {
        let h = home();
        let this = Mark::Up(entry(Row {
            version: 1,
            description: "a",
            checksum: &[1],
        }));
        let b = step(&h, &this, Some("CREATE TABLE a (id INT);\n"), None);
        assert_eq!((b.prefix, b.suffix), (3, 2));
        let lines: Vec<&str> = b.sql.lines().collect();
        assert_eq!(lines.len(), 6, "{}", b.sql);
        assert!(lines[0].starts_with("SET @schemagate_t0 = NOW(6), autocommit = 0;"));
        assert!(lines[1].starts_with("INSERT INTO `app`.`_sqlx_migrations`"));
        assert!(lines[1].ends_with("FALSE, X'01', -1);"), "{}", lines[1]);
        // What is kept rides in the same batch, before the script.
        assert!(
            lines[2].starts_with("INSERT INTO `app`.`_schemagate_history` (version, name, down_sql, class, rules, since) VALUES (1, CONVERT(X'"),
            "{}",
            lines[2]
        );
        assert!(
            !lines[2].contains("it's"),
            "hex, never quoted: {}",
            lines[2]
        );
        assert!(
            lines[2].ends_with("ON DUPLICATE KEY UPDATE name = VALUES(name), down_sql = VALUES(down_sql), class = VALUES(class), rules = VALUES(rules), since = VALUES(since);"),
            "{}",
            lines[2]
        );
        assert_eq!(lines[3], "CREATE TABLE a (id INT);");
        assert!(lines[4].starts_with("UPDATE `app`.`_sqlx_migrations` SET success = TRUE"));
        assert!(
            lines[4].ends_with("AND CAST(DATABASE() AS BINARY) <=> X'617070';"),
            "{}",
            lines[4]
        );
        assert_eq!(lines[5], "SET autocommit = 1");

        let down = Mark::Down {
            version: 4,
            execution_time: 77,
        };
        let d = step(&h, &down, None, Some(Duration::from_millis(2500)));
        assert!(
            d.sql.starts_with(
                "SET @schemagate_t0 = NOW(6), autocommit = 0, max_statement_time = 2.500;"
            ),
            "{}",
            d.sql
        );
        assert!(d
            .sql
            .contains("SET success = FALSE, execution_time = -3 WHERE version = 4 AND success"));
        assert!(d
            .sql
            .contains("DELETE FROM `app`.`_sqlx_migrations` WHERE version = 4 AND NOT success"));
        // What is kept goes with the row, and only once the row is gone.
        assert_eq!((d.prefix, d.suffix), (2, 3));
        assert!(d.sql.contains("DELETE FROM `app`.`_schemagate_history` WHERE version = 4 AND NOT EXISTS (SELECT 1 FROM `app`.`_sqlx_migrations` WHERE version = 4);\nSET autocommit = 1"), "{}", d.sql);
        assert!(!d.sql.contains("INSERT"));
        assert!(rows::unmark(&h, &down)
            .contains("success = TRUE, execution_time = 77 WHERE version = 4"));
    }

    #[test]
    fn every_bookkeeping_statement_names_the_database() {
        let h = home();
        let row = || Row {
            version: 2,
            description: "b",
            checksum: &[2],
        };
        let down = Mark::Down {
            version: 2,
            execution_time: 0,
        };
        for sql in [
            create_history(&h),
            rows::started::<MariaDb>(&h, &Mark::Up(entry(row()))).join(";"),
            rows::unmark(&h, &Mark::Up(entry(row()))),
            rows::finish::<MariaDb>(&h, &Mark::Up(entry(row())), "0").join(";"),
            rows::finish::<MariaDb>(&h, &down, "0").join(";"),
            rows::baseline::<MariaDb>(&h, &[entry(row())]),
            rows::row_state::<MariaDb>(&h, 2),
            rows::resolve::<MariaDb>(&h, 2, Some(&row())),
            rows::resolve::<MariaDb>(&h, 2, None),
            rows::history::<MariaDb>(&h),
        ] {
            assert!(sql.contains("`app`.`_sqlx_migrations`"), "{sql}");
        }
        // Every statement on the kept table names the database too.
        for sql in [
            create_history(&h),
            rows::started::<MariaDb>(&h, &Mark::Up(entry(row()))).join(";"),
            rows::unmark(&h, &Mark::Up(entry(row()))),
            rows::finish::<MariaDb>(&h, &down, "0").join(";"),
            rows::baseline::<MariaDb>(&h, &[entry(row())]),
            rows::resolve::<MariaDb>(&h, 2, None),
            rows::history::<MariaDb>(&h),
            rows::stored_downs(&h, &[2]),
        ] {
            assert!(sql.contains("`app`.`_schemagate_history`"), "{sql}");
            assert!(!sql.contains(" _schemagate_history"), "{sql}");
        }
    }

    #[test]
    fn session_limits() {
        let limits = |lock_wait, statement| Limits {
            lock_wait,
            statement,
        };
        let s = session(limits(
            Duration::from_secs(5),
            Some(Duration::from_millis(90_500)),
        ));
        assert!(s.contains("lock_wait_timeout = 5"));
        assert!(s.contains("max_statement_time = 90.500"));
        assert!(
            session(limits(Duration::from_secs(5), None)).contains("max_statement_time = 0.000")
        );
        // Sub-second waits: MariaDB rounds up to whole seconds.
        let half = Duration::from_millis(500);
        assert!(session(limits(half, None)).contains("SET SESSION lock_wait_timeout = 1;"));
        assert!(session(limits(Duration::from_millis(1500), None))
            .contains("SET SESSION lock_wait_timeout = 2;"));
    }

    #[test]
    fn error_numbers_are_read_as_kinds() {
        assert_eq!(kind("1969"), ErrorKind::StoppedForTime);
        assert_eq!(kind("1205"), ErrorKind::LockWaitTimeout);
        assert_eq!(kind("1146"), ErrorKind::UndefinedTable);
        assert_eq!(kind("1064"), ErrorKind::Other);
    }
}
