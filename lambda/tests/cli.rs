//! The CLI binary as a person or a Jenkins job runs it: output, `--json`,
//! exit codes, and credentials from Secrets Manager (moto's server).

pub mod kit;

use std::process::Command;

use kit::schemagate;
use testkit::{text, Folder, Moto, TestDb};

#[tokio::test]
async fn up_prints_a_line_per_migration_and_exits_0_then_reports_nothing_to_do() {
    let db = TestDb::mariadb("cliup").await;
    let url = db.url();
    let dir = Folder::with_example();
    let m = dir.path();
    let o = schemagate(&[
        "--database-url",
        &url,
        "--migrations",
        m.to_str().unwrap(),
        "up",
    ]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(
        out.contains(&format!("schemagate: mariadb://127.0.0.1:3306/{}", db.name)),
        "{out}"
    );
    assert_eq!(
        out.lines()
            .filter(|l| l.trim_start().starts_with("applied "))
            .count(),
        6,
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.contains("0003_index_users_email") && l.trim_end().ends_with("ms")),
        "{out}"
    );
    assert!(out.trim_end().ends_with("schema at version 6"), "{out}");

    let again = schemagate(&[
        "--database-url",
        &url,
        "--migrations",
        m.to_str().unwrap(),
        "up",
    ]);
    assert_eq!(again.status.code(), Some(0));
    assert!(text(&again)
        .0
        .contains("already at version 6; nothing to do"));

    let status = schemagate(&[
        "--database-url",
        &url,
        "--migrations",
        m.to_str().unwrap(),
        "status",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(v["version"], 6);
    assert_eq!(v["ok"], true);
    assert_eq!(v["migrations"].as_array().unwrap().len(), 6);
    assert_eq!(v["migrations"][5]["state"], "applied");
}

#[tokio::test]
async fn plan_shows_without_running_and_down_reverts() {
    let db = TestDb::mariadb("cliplan").await;
    let url = db.url();
    let dir = Folder::with_example();
    let m = dir.path();
    let m = m.to_str().unwrap();
    let plan = schemagate(&[
        "--database-url",
        &url,
        "--migrations",
        m,
        "plan",
        "--to",
        "4",
        "--json",
    ]);
    assert_eq!(plan.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    assert_eq!(v["steps"].as_array().unwrap().len(), 4);
    assert_eq!(v["steps"][0]["name"], "0001_create_users");
    assert!(db.tables().await.is_empty(), "plan ran nothing");
    assert!(
        db.history().await.is_empty(),
        "plan did not even create the history table"
    );

    assert_eq!(
        schemagate(&["--database-url", &url, "--migrations", m, "up"])
            .status
            .code(),
        Some(0)
    );
    let down = schemagate(&[
        "--database-url",
        &url,
        "--migrations",
        m,
        "down",
        "--to",
        "2",
        "--json",
    ]);
    assert_eq!(down.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&down.stdout).unwrap();
    assert_eq!(
        (v["reverted"].as_u64(), v["to"].as_i64()),
        (Some(4), Some(2))
    );
    assert_eq!(db.tables().await, vec!["orders", "users"]);
}

#[tokio::test]
async fn exit_codes_scripts_can_trust() {
    let db = TestDb::mariadb("cliexit").await;
    let url = db.url();
    let dir = Folder::with_example();
    let m = dir.path();
    let m = m.to_str().unwrap();

    // 2: usage
    assert_eq!(
        schemagate(&["--database-url", &url, "down"]).status.code(),
        Some(2)
    );
    // 3: the database cannot be had — and the password is never printed
    let bad = schemagate(&[
        "--database-url",
        &format!("mysql://root:S3cretPw@127.0.0.1:3306/{}", db.name),
        "--migrations",
        m,
        "up",
    ]);
    let (out, err) = text(&bad);
    assert_eq!(bad.status.code(), Some(3), "{out}{err}");
    assert!(err.contains("rejected the credentials"), "{err}");
    assert!(!out.contains("S3cretPw") && !err.contains("S3cretPw"));
    // 1: a migration failed while running
    dir.write("0007_broken.sql", "ALTER TABLE users DROP COLUMN nope;");
    let failed = schemagate(&["--database-url", &url, "--migrations", m, "up"]);
    let (out, err) = text(&failed);
    assert_eq!(failed.status.code(), Some(1), "{out}{err}");
    assert!(err.contains("failed at `0007_broken`"), "{err}");
    assert!(
        out.contains("applied   0006_add_users_plan"),
        "what ran before is shown: {out}"
    );
    // 4: refused before running anything
    dir.remove("0007_broken.sql");
    dir.write("0002_create_orders.up.sql", "-- edited\n");
    let refused = schemagate(&["--database-url", &url, "--migrations", m, "up", "--json"]);
    assert_eq!(refused.status.code(), Some(4));
    let v: serde_json::Value = serde_json::from_slice(&refused.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert!(v["error"]
        .as_str()
        .unwrap()
        .contains("0002_create_orders.up.sql"));
    // no database given at all: a usage error
    let none = schemagate(&["--migrations", m, "status"]);
    assert_eq!(none.status.code(), Some(2));
    assert!(text(&none).1.contains("pass --database-url"));
}

#[tokio::test]
async fn credentials_from_secrets_manager_for_jenkins() {
    let moto = Moto::start();
    let db = TestDb::mariadb("clisecret").await;
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&moto.url)
        .region(aws_config::Region::new("eu-west-1"))
        .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .load()
        .await;
    let sm = aws_sdk_secretsmanager::Client::new(&conf);
    let secret = serde_json::json!({"engine": "mariadb", "host": "127.0.0.1", "port": 3306, "username": "root", "password": "", "dbname": db.name});
    let arn = sm
        .create_secret()
        .name("app/db")
        .secret_string(secret.to_string())
        .send()
        .await
        .unwrap()
        .arn
        .unwrap();

    let dir = Folder::with_example();
    let out = Command::new(env!("CARGO_BIN_EXE_schemagate"))
        .args([
            "--secret-arn",
            &arn,
            "--migrations",
            dir.path().to_str().unwrap(),
            "up",
        ])
        .env("AWS_ENDPOINT_URL", &moto.url)
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{o}{e}");
    assert_eq!(db.history().await.len(), 6);

    let missing = Command::new(env!("CARGO_BIN_EXE_schemagate"))
        .args([
            "--secret-arn",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:nope-AbCdEf",
            "--migrations",
            dir.path().to_str().unwrap(),
            "status",
        ])
        .env("AWS_ENDPOINT_URL", &moto.url)
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(3));
    let err = text(&missing).1;
    assert!(
        err.contains(
            "cannot read secret `arn:aws:secretsmanager:eu-west-1:123456789012:secret:nope-AbCdEf`"
        ),
        "{err}"
    );
}

/// `schemagate up | head -1`, made deterministic: the reader end of the
/// pipe is closed before the CLI starts, so every line it prints meets a
/// closed pipe. Before the fix, the first line panicked the process
/// (`failed printing to stdout: Broken pipe`) before any migration ran.
fn into_closed_pipe(args: &[&str]) -> std::process::Output {
    use std::os::fd::FromRawFd;
    use std::process::Stdio;
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe(2) writes.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: both descriptors were just created and are owned here once.
    let (reader, writer) = unsafe {
        (
            std::fs::File::from_raw_fd(fds[0]),
            std::fs::File::from_raw_fd(fds[1]),
        )
    };
    drop(reader);
    Command::new(env!("CARGO_BIN_EXE_schemagate"))
        .args(args)
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

#[tokio::test]
async fn a_reader_that_closes_the_pipe_early_neither_panics_nor_stops_up() {
    let db = TestDb::mariadb("clipipe").await;
    let url = db.url();
    let dir = Folder::with_example();
    let path = dir.path();
    let m = path.to_str().unwrap();
    let up = into_closed_pipe(&["--database-url", &url, "--migrations", m, "up"]);
    let err = String::from_utf8_lossy(&up.stderr);
    assert_eq!(up.status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(
        db.history().await,
        (1..=6).map(|v| (v, true)).collect::<Vec<_>>()
    );

    for args in [vec!["status"], vec!["status", "--json"], vec!["plan"]] {
        let mut all = vec!["--database-url", &url, "--migrations", m];
        all.extend(args.iter().copied());
        let o = into_closed_pipe(&all);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}
