//! A MariaDB server of the test's own, for tests that kill, stop or freeze
//! a server: never the shared one on 3306.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::free_port;
use crate::tls::TestCa;

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
        Self::start_in(tempfile::tempdir().unwrap(), extra)
    }

    /// [`PrivateMariaDb::start`] with TLS: the server's certificate for
    /// `names` (`IP:127.0.0.1`, `DNS:localhost`) is signed by `ca` and kept
    /// in the server's own folder; `--ssl-ca` is `ca`'s certificate.
    pub fn start_tls(ca: &TestCa, names: &[&str], extra: &[&str]) -> PrivateMariaDb {
        let dir = tempfile::tempdir().unwrap();
        let server = ca.issue(dir.path(), names);
        let tls = [
            format!("--ssl-ca={}", ca.pem.display()),
            format!("--ssl-cert={}", server.cert.display()),
            format!("--ssl-key={}", server.key.display()),
        ];
        let mut all: Vec<&str> = tls.iter().map(String::as_str).collect();
        all.extend_from_slice(extra);
        Self::start_in(dir, &all)
    }

    fn start_in(dir: tempfile::TempDir, extra: &[&str]) -> PrivateMariaDb {
        Self::start_on(dir, extra, free_port())
    }

    /// [`PrivateMariaDb::start_in`], trying `port` first.
    fn start_on(dir: tempfile::TempDir, extra: &[&str], port: u16) -> PrivateMariaDb {
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
        let mut db = PrivateMariaDb {
            child: None,
            dir,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            port,
        };
        // Tests start their servers side by side, and a port `free_port`
        // found free can be taken by another test's server before this one
        // binds it: then this one exits, and the port answers for the other
        // server. On that, try again on another port.
        for _ in 0..5 {
            match db.launch() {
                Launch::Ready => {
                    db.exec_root("CREATE DATABASE app");
                    return db;
                }
                Launch::PortTaken => db.port = free_port(),
            }
        }
        panic!("the private mariadbd found its port taken by another server 5 times");
    }

    /// Start `mariadbd` on `self.port` and wait until that port answers as
    /// this server (its data directory), at most 30 s.
    fn launch(&mut self) -> Launch {
        let d = self.dir.path();
        let data = d.join("data");
        let mut cmd = Command::new("/usr/sbin/mariadbd");
        cmd.args([
            "--no-defaults".to_string(),
            format!("--datadir={}", data.display()),
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
        let log = || std::fs::read_to_string(d.join("error.log")).unwrap_or_default();
        loop {
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                self.child = None;
                let log = log();
                if log.contains("Bind on TCP/IP port") {
                    return Launch::PortTaken;
                }
                panic!(
                    "the private mariadbd exited ({status}) before it listened on {}: {log}",
                    self.port
                );
            }
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                match self.datadir() {
                    Some(at) if at == data => return Launch::Ready,
                    // Another test's server: this one cannot bind the port.
                    Some(_) => {
                        self.kill9();
                        return Launch::PortTaken;
                    }
                    // Listening, not answering queries yet.
                    None => {}
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the private mariadbd did not listen on {} within 30 s: {}",
                self.port,
                log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The data directory of the server answering on `self.port`, if one
    /// answers a query.
    fn datadir(&self) -> Option<PathBuf> {
        let out = self
            .client("SELECT @@datadir")
            .arg("--connect-timeout=2")
            .output()
            .ok()?;
        out.status.success().then(|| {
            let at = String::from_utf8_lossy(&out.stdout);
            PathBuf::from(at.trim().trim_end_matches('/'))
        })
    }

    /// The server's own folder (data directory, socket, log, certificates).
    pub fn dir(&self) -> &Path {
        self.dir.path()
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
        if let Launch::PortTaken = self.launch() {
            panic!(
                "the private mariadbd's port {} was taken by another server while it was down",
                self.port
            );
        }
    }

    /// Run statements as root with the `mariadb` client.
    pub fn exec_root(&self, sql: &str) {
        self.query_root(sql);
    }

    /// The `mariadb` client running `sql` as root on this server's port.
    fn client(&self, sql: &str) -> Command {
        let mut c = Command::new("mariadb");
        c.args(["-h127.0.0.1", &format!("-P{}", self.port), "-uroot"])
            .args(["--batch", "--skip-column-names", "-e", sql]);
        c
    }

    /// Run a query as root with the `mariadb` client: its rows, one a line,
    /// tab-separated, without the header.
    pub fn query_root(&self, sql: &str) -> String {
        let out = self.client(sql).output().expect("the mariadb client");
        assert!(
            out.status.success(),
            "`{sql}` on the private server: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// How a [`PrivateMariaDb::launch`] ended.
enum Launch {
    Ready,
    /// Another server holds the port: this one exited or was ended.
    PortTaken,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A port another test's server took first: the new server starts on
    /// another one and answers there as itself.
    #[test]
    fn a_server_whose_port_is_taken_starts_on_another() {
        let first = PrivateMariaDb::start(&[]);
        let second = PrivateMariaDb::start_on(tempfile::tempdir().unwrap(), &[], first.port);
        assert_ne!(second.port, first.port);
        assert_eq!(second.datadir(), Some(second.dir().join("data")));
        assert_eq!(first.datadir(), Some(first.dir().join("data")));
    }
}
