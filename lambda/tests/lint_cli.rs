//! `schemagate lint` and the lint in `schemagate plan`, as Jenkins runs
//! them before `cdk deploy`: files alone, `--since`, a database, `--json`,
//! and exit code 5 for unmarked breaking migrations.

pub mod kit;

use kit::schemagate;
use testkit::{text as out, Folder, TestDb};

/// The example history with `0003` marked (it adds a UNIQUE index to
/// `users`) and a `0007` that drops a column at line 3.
fn folder() -> Folder {
    let f = Folder::with_example();
    let unique = std::fs::read_to_string(f.path().join("0003_index_users_email.up.sql")).unwrap();
    f.write(
        "0003_index_users_email.up.sql",
        &format!("-- schemagate: contract\n{unique}"),
    );
    f.write("0007_drop_plan_code.up.sql", "-- The app stopped reading plan_code in 2.4.\n\nALTER TABLE users DROP COLUMN plan_code;\n");
    f.write(
        "0007_drop_plan_code.down.sql",
        "ALTER TABLE users ADD COLUMN plan_code VARCHAR(32) NULL DEFAULT 'free';\n",
    );
    f
}

#[test]
fn files_alone_an_unmarked_drop_exits_5_with_a_compiler_style_line() {
    let f = folder();
    let m = f.path();
    let o = schemagate(&["--migrations", m.to_str().unwrap(), "lint"]);
    let (stdout, stderr) = out(&o);
    assert_eq!(o.status.code(), Some(5), "{stdout}{stderr}");
    let line = format!(
        "{}:3: breaking[drop-column]: DROP COLUMN users.plan_code — the running release may still read or write it; fix: mark the file \"-- schemagate: contract\" if the running release no longer uses it, or deploy with a drain target",
        m.join("0007_drop_plan_code.up.sql").display()
    );
    assert!(stdout.lines().any(|l| l == line), "{stdout}");
    assert!(
        stdout.contains("0003_index_users_email  contract (marked) — add-unique (line 2)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("7 migrations: 5 expand, 1 contract, 1 breaking (1 unmarked)"),
        "{stdout}"
    );
    assert!(
        stderr.contains("1 breaking migration is not marked"),
        "{stderr}"
    );

    // Marked as the contract step of an earlier expand: passes.
    f.write(
        "0007_drop_plan_code.up.sql",
        "-- schemagate: contract\nALTER TABLE users DROP COLUMN plan_code;\n",
    );
    let o = schemagate(&["--migrations", m.to_str().unwrap(), "lint"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", out(&o));
    // Marked breaking (drain at deploy): passes lint, says so.
    f.write(
        "0007_drop_plan_code.up.sql",
        "-- schemagate: breaking\nALTER TABLE users DROP COLUMN plan_code;\n",
    );
    let o = schemagate(&["--migrations", m.to_str().unwrap(), "lint"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", out(&o));
    assert!(
        out(&o).0.contains(
            "0007_drop_plan_code     breaking (marked: drain required) — drop-column (line 2)"
        ),
        "{:?}",
        out(&o)
    );
}

#[test]
fn since_and_json_for_ci() {
    let f = folder();
    let m = f.path();
    let m = m.to_str().unwrap();
    let o = schemagate(&["--migrations", m, "lint", "--since", "6", "--json"]);
    assert_eq!(o.status.code(), Some(5));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
    assert_eq!(v["ok"], false);
    assert_eq!(v["exit_code"], 5);
    assert_eq!(v["since"], 6);
    assert_eq!(v["summary"]["unmarked"], 1);
    let m7 = &v["migrations"][0];
    assert_eq!(
        (m7["version"].as_i64(), m7["class"].as_str()),
        (Some(7), Some("breaking"))
    );
    assert_eq!(m7["findings"][0]["rule"], "drop-column");
    assert_eq!(m7["findings"][0]["line"], 3);
    assert_eq!(
        v["migrations"].as_array().unwrap().len(),
        1,
        "only the versions above 6"
    );

    // The release at 5 never had plan_code (0006 adds it in the same deploy).
    let o = schemagate(&["--migrations", m, "lint", "--since", "5"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", out(&o));
    // Bad dialect: a usage error of its own kind.
    let o = schemagate(&[
        "--migrations",
        m,
        "lint",
        "--since",
        "5",
        "--dialect",
        "oracle",
    ]);
    assert_ne!(o.status.code(), Some(0));
    assert!(out(&o).1.contains("unknown dialect `oracle`"));
}

#[test]
fn postgres_dialect_reads_postgres_sql() {
    let f = Folder::empty();
    f.write(
        "1_users.sql",
        "CREATE TABLE users (id BIGINT PRIMARY KEY, name TEXT);\n",
    );
    f.write(
        "2_index.sql",
        "-- no-transaction\nCREATE INDEX CONCURRENTLY i_users_name ON users (name);\n",
    );
    f.write(
        "3_type.sql",
        "ALTER TABLE users ALTER COLUMN id TYPE INT;\n",
    );
    let m = f.path();
    let o = schemagate(&[
        "--migrations",
        m.to_str().unwrap(),
        "lint",
        "--since",
        "1",
        "--dialect",
        "postgres",
    ]);
    let (stdout, _) = out(&o);
    assert_eq!(o.status.code(), Some(5), "{stdout}");
    assert!(stdout.contains("2_index  expand"), "{stdout}");
    assert!(
        stdout.contains(
            "3_type   breaking — change-type (line 1), blocking rewrite-type-change (line 1)"
        ),
        "{stdout}"
    );
}

#[tokio::test]
async fn with_a_database_lint_and_plan_look_at_the_pending_migrations() {
    let db = TestDb::mariadb("lintdb").await;
    let url = db.url();
    let f = folder();
    let m = f.path();
    let m = m.to_str().unwrap();
    assert_eq!(
        schemagate(&["--database-url", &url, "--migrations", m, "up", "--to", "6"])
            .status
            .code(),
        Some(0)
    );

    let o = schemagate(&["--database-url", &url, "--migrations", m, "lint"]);
    let (stdout, _) = out(&o);
    assert_eq!(o.status.code(), Some(5), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "migrations pending on mariadb://127.0.0.1:3306/{} (at version 6)",
            db.name
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("1 migration: 1 breaking (1 unmarked)"),
        "{stdout}"
    );

    let o = schemagate(&["--database-url", &url, "--migrations", m, "plan"]);
    let (stdout, _) = out(&o);
    assert_eq!(o.status.code(), Some(0), "plan only shows: {stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("  apply     0007_drop_plan_code")
                && l.ends_with("breaking — drop-column (line 3)")),
        "{stdout}"
    );
    assert!(
        stdout.contains("0007_drop_plan_code.up.sql:3: breaking[drop-column]"),
        "{stdout}"
    );

    let o = schemagate(&["--database-url", &url, "--migrations", m, "plan", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["steps"][0]["lint"]["class"], "breaking");
    assert_eq!(v["lint"]["unmarked"], 1);
    assert_eq!(db.history().await.len(), 6, "neither ran anything");
}
