//! Shared by the integration tests: a fresh database per test on the real
//! servers (MariaDB 127.0.0.1:3306, PostgreSQL 127.0.0.1:5432). A server
//! that cannot be reached fails the test, with the command that starts it.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_autoscaling::config::{BehaviorVersion, Credentials, Region};

use schemagate::db::{Conn, ConnectOptions, Kind};
use sqlx::{AssertSqlSafe, Connection, Executor, MySqlConnection, PgConnection, Row};

pub const MARIADB_URL: &str = "mysql://root@127.0.0.1:3306";
pub const POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A database of its own, dropped again at the end of the test.
pub struct TestDb {
    pub kind: Kind,
    pub name: String,
}

impl TestDb {
    pub async fn mariadb(tag: &str) -> TestDb {
        Self::create(Kind::MariaDb, tag).await
    }

    pub async fn postgres(tag: &str) -> TestDb {
        Self::create(Kind::Postgres, tag).await
    }

    async fn create(kind: Kind, tag: &str) -> TestDb {
        let name = format!(
            "sg_{}_{}_{}",
            tag,
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let stmt = match kind {
            Kind::MariaDb => format!("DROP DATABASE IF EXISTS {name}; CREATE DATABASE {name}"),
            Kind::Postgres => format!("DROP DATABASE IF EXISTS {name}"),
        };
        match kind {
            Kind::MariaDb => {
                let mut c = server_mariadb().await;
                c.execute(sqlx::raw_sql(AssertSqlSafe(stmt))).await.unwrap();
            }
            Kind::Postgres => {
                let mut c = server_postgres().await;
                c.execute(sqlx::raw_sql(AssertSqlSafe(stmt))).await.unwrap();
                c.execute(sqlx::raw_sql(AssertSqlSafe(format!(
                    "CREATE DATABASE {name}"
                ))))
                .await
                .unwrap();
            }
        }
        TestDb { kind, name }
    }

    pub fn url(&self) -> String {
        match self.kind {
            Kind::MariaDb => format!("{MARIADB_URL}/{}", self.name),
            Kind::Postgres => format!("{POSTGRES_URL}/{}", self.name),
        }
    }

    pub fn options(&self) -> ConnectOptions {
        ConnectOptions::from_url(&self.url()).unwrap()
    }

    pub async fn conn(&self) -> Conn {
        Conn::connect(&self.options(), std::time::Duration::ZERO)
            .await
            .unwrap()
    }

    pub async fn my(&self) -> MySqlConnection {
        MySqlConnection::connect(&self.url()).await.unwrap()
    }

    pub async fn pg(&self) -> PgConnection {
        PgConnection::connect(&self.url()).await.unwrap()
    }

    /// Table names, sorted, without the history table.
    pub async fn tables(&self) -> Vec<String> {
        let mut t: Vec<String> = match self.kind {
            Kind::MariaDb => {
                let mut c = self.my().await;
                sqlx::query(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = ?",
                )
                .bind(&self.name)
                .fetch_all(&mut c)
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<String, _>(0))
                .collect()
            }
            Kind::Postgres => {
                let mut c = self.pg().await;
                sqlx::query("SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'")
                    .fetch_all(&mut c)
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| r.get::<String, _>(0))
                    .collect()
            }
        };
        t.retain(|n| n != "_sqlx_migrations");
        t.sort();
        t
    }

    /// `(version, success)` rows of the history, in version order.
    pub async fn history(&self) -> Vec<(i64, bool)> {
        let sql = "SELECT version, success FROM _sqlx_migrations ORDER BY version";
        match self.kind {
            Kind::MariaDb => sqlx::query_as(sql)
                .fetch_all(&mut self.my().await)
                .await
                .unwrap_or_default(),
            Kind::Postgres => sqlx::query_as(sql)
                .fetch_all(&mut self.pg().await)
                .await
                .unwrap_or_default(),
        }
    }

    pub async fn exec(&self, sql: &str) {
        match self.kind {
            Kind::MariaDb => {
                self.my()
                    .await
                    .execute(sqlx::raw_sql(AssertSqlSafe(sql.to_string())))
                    .await
                    .unwrap();
            }
            Kind::Postgres => {
                self.pg()
                    .await
                    .execute(sqlx::raw_sql(AssertSqlSafe(sql.to_string())))
                    .await
                    .unwrap();
            }
        }
    }

    pub async fn count(&self, sql: &str) -> i64 {
        match self.kind {
            Kind::MariaDb => sqlx::query_scalar(AssertSqlSafe(sql.to_string()))
                .fetch_one(&mut self.my().await)
                .await
                .unwrap(),
            Kind::Postgres => sqlx::query_scalar(AssertSqlSafe(sql.to_string()))
                .fetch_one(&mut self.pg().await)
                .await
                .unwrap(),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (kind, name) = (self.kind, self.name.clone());
        // Best effort: a fresh runtime, since Drop cannot await.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                match kind {
                    Kind::MariaDb => {
                        if let Ok(mut c) = MySqlConnection::connect(MARIADB_URL).await {
                            let _ = c
                                .execute(sqlx::raw_sql(AssertSqlSafe(format!(
                                    "DROP DATABASE IF EXISTS {name}"
                                ))))
                                .await;
                        }
                    }
                    Kind::Postgres => {
                        if let Ok(mut c) =
                            PgConnection::connect(&format!("{POSTGRES_URL}/postgres")).await
                        {
                            let _ = c
                                .execute(sqlx::raw_sql(AssertSqlSafe(format!(
                                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                                ))))
                                .await;
                        }
                    }
                }
            })
        })
        .join();
    }
}

async fn server_mariadb() -> MySqlConnection {
    MySqlConnection::connect(MARIADB_URL).await.unwrap_or_else(|e| {
        panic!("MariaDB is not reachable at 127.0.0.1:3306 ({e}); run `make services` (scripts/services.sh) to install/start it")
    })
}

async fn server_postgres() -> PgConnection {
    PgConnection::connect(&format!("{POSTGRES_URL}/postgres")).await.unwrap_or_else(|e| {
        panic!("PostgreSQL is not reachable at 127.0.0.1:5432 ({e}); run `make services` (scripts/services.sh) to install/start it")
    })
}

/// A migrations folder of its own: a copy of the repository's `migrations/`
/// (`with_example`) or empty, plus files written by the test.
pub struct Folder {
    pub dir: tempfile::TempDir,
}

impl Folder {
    pub fn empty() -> Folder {
        Folder {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn with_example() -> Folder {
        let f = Folder::empty();
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
        for e in std::fs::read_dir(src).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), f.path().join(e.file_name())).unwrap();
        }
        f
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    pub fn write(&self, name: &str, sql: &str) -> &Self {
        std::fs::write(self.dir.path().join(name), sql).unwrap();
        self
    }

    pub fn remove(&self, name: &str) {
        std::fs::remove_file(self.dir.path().join(name)).unwrap();
    }

    pub fn set(&self) -> schemagate::migrate::MigrationSet {
        schemagate::migrate::MigrationSet::load(self.dir.path()).unwrap()
    }
}

/// moto's server on a free port, stopped when dropped.
pub struct Moto {
    child: Child,
    pub url: String,
}

impl Moto {
    pub fn start() -> Moto {
        let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/moto_server");
        assert!(
            bin.exists(),
            "moto_server is missing at {}; run `make python-tools` (installs moto[server] into .venv)",
            bin.display()
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "moto_server did not listen on {port} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    pub async fn autoscaling(&self) -> aws_sdk_autoscaling::Client {
        let cfg = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.url)
            .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
            .load()
            .await;
        aws_sdk_autoscaling::Client::new(&cfg)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The CLI binary, with no database or folder coming from the environment.
pub fn schemagate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_schemagate"))
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("SCHEMAGATE_SECRET_ARN")
        .env_remove("SCHEMAGATE_MIGRATIONS_DIR")
        .output()
        .unwrap()
}

/// stdout and stderr as text.
pub fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A MariaDB server of the test's own — its own port, data directory and
/// socket — for tests that kill, stop or freeze a server (never the shared
/// one on 3306). Started with `mariadb-install-db` + `mariadbd`, root over
/// TCP without a password; ended by its own pid when dropped.
pub struct PrivateMariaDb {
    child: Option<Child>,
    dir: tempfile::TempDir,
    extra: Vec<String>,
    pub port: u16,
}

impl PrivateMariaDb {
    /// A fresh server with an empty database `app`. `extra` are more
    /// `mariadbd` options (`--max-allowed-packet=1M`, …).
    pub fn start(extra: &[&str]) -> PrivateMariaDb {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        // A temporary folder of its own too: installs running side by side
        // in the shared /tmp collide on their temporary tables.
        std::fs::create_dir(dir.path().join("tmp")).unwrap();
        let out = Command::new("mariadb-install-db")
            .args([
                "--no-defaults",
                &format!("--datadir={}", data.display()),
                &format!("--tmpdir={}", dir.path().join("tmp").display()),
                "--user=root",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ])
            .output()
            .unwrap_or_else(|e| {
                panic!("mariadb-install-db is missing ({e}); run `make services` (installs mariadb-server)")
            });
        assert!(
            out.status.success(),
            "mariadb-install-db failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let mut db = PrivateMariaDb {
            child: None,
            dir,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            port,
        };
        db.launch();
        db.exec_root("CREATE DATABASE app");
        db
    }

    fn launch(&mut self) {
        let d = self.dir.path();
        let mut cmd = Command::new("/usr/sbin/mariadbd");
        cmd.args([
            "--no-defaults".to_string(),
            format!("--datadir={}", d.join("data").display()),
            format!("--port={}", self.port),
            "--bind-address=127.0.0.1".to_string(),
            format!("--socket={}", d.join("sock").display()),
            format!("--tmpdir={}", d.join("tmp").display()),
            format!("--pid-file={}", d.join("pid").display()),
            format!("--log-error={}", d.join("error.log").display()),
            "--user=root".to_string(),
            "--skip-log-bin".to_string(),
            "--innodb-buffer-pool-size=32M".to_string(),
        ]);
        cmd.args(&self.extra);
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mariadbd");
        self.child = Some(child);
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the private mariadbd did not listen on {} within 30 s: {}",
                self.port,
                std::fs::read_to_string(d.join("error.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `mysql://root@127.0.0.1:<port>/<database>`
    pub fn url(&self, database: &str) -> String {
        format!("mysql://root@127.0.0.1:{}/{database}", self.port)
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().expect("running").id() as i32
    }

    /// `kill -9` the server, as a crash or an OOM kill would.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Freeze the server (`SIGSTOP`): it keeps its connections and says nothing.
    pub fn freeze(&self) {
        unsafe { libc::kill(self.pid(), libc::SIGSTOP) };
    }

    /// Let a frozen server go on (`SIGCONT`).
    pub fn thaw(&self) {
        unsafe { libc::kill(self.pid(), libc::SIGCONT) };
    }

    /// Start it again on the same data directory and port (after [`kill9`]).
    pub fn restart(&mut self) {
        self.kill9();
        self.launch();
    }

    /// Run statements as root with the `mariadb` client.
    pub fn exec_root(&self, sql: &str) {
        let out = Command::new("mariadb")
            .args([
                "-h127.0.0.1",
                &format!("-P{}", self.port),
                "-uroot",
                "-e",
                sql,
            ])
            .output()
            .expect("the mariadb client");
        assert!(
            out.status.success(),
            "`{sql}` on the private server: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for PrivateMariaDb {
    fn drop(&mut self) {
        if let Some(c) = &self.child {
            // SIGKILL ends a stopped process too; continue it anyway so it
            // is not left frozen if the kill fails.
            unsafe { libc::kill(c.id() as i32, libc::SIGCONT) };
        }
        self.kill9();
    }
}

/// A TCP port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
