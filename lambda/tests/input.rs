//! Bad input: misnamed migration files, and credentials in malformed
//! arguments. The CLI binary as a user runs it; the database is checked
//! afterwards (nothing may have run).

pub mod kit;

use std::process::{Command, Output};

use kit::schemagate;
use testkit::{text, Folder, TestDb};

fn up(url: &str, folder: &Folder) -> Output {
    schemagate(&[
        "--database-url",
        url,
        "--migrations",
        folder.path().to_str().unwrap(),
        "up",
    ])
}

#[tokio::test]
async fn an_upper_case_up_suffix_is_refused_not_applied_as_irreversible() {
    let db = TestDb::mariadb("upcase").await;
    let folder = Folder::empty();
    folder.write("0001_x.UP.sql", "CREATE TABLE x (id INT);");
    for _ in 0..2 {
        let o = up(&db.url(), &folder);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(4), "{out}{err}");
        assert!(
            err.contains("0001_x.UP.sql` is not a migration file name: the suffix must be lowercase; rename it to `0001_x.up.sql`"),
            "{err}"
        );
        assert!(!out.contains("applied"), "{out}");
        assert!(db.tables().await.is_empty(), "nothing ran");
        assert!(db.history().await.is_empty(), "nothing recorded");
    }
}

#[tokio::test]
async fn each_misnamed_file_is_refused_before_anything_runs() {
    let db = TestDb::mariadb("misnamed").await;
    let cases = [
        ("abc.sql", "it has no version"),
        (
            "1.sql",
            "it has no description; name it `1_<description>.sql`",
        ),
        (
            "0001add.sql",
            "the version is not followed by `_`; rename it to `0001_add.sql`",
        ),
        (
            "0001_x.SQL",
            "the suffix must be lowercase; rename it to `0001_x.sql`",
        ),
        ("0001_x.sql.bak", "rename or remove it"),
        (
            "0001_x.sql ",
            "starts or ends with a space; rename it to `0001_x.sql`",
        ),
        ("-1_x.sql", "version `-1` is not positive"),
        ("0_x.sql", "version `0` is not positive"),
    ];
    for (name, fix) in cases {
        let folder = Folder::empty();
        folder.write(name, "CREATE TABLE x (id INT);");
        for _ in 0..2 {
            let o = up(&db.url(), &folder);
            let (out, err) = text(&o);
            assert_eq!(o.status.code(), Some(4), "{name}: {out}{err}");
            assert!(
                err.contains(&format!("{name}` is not a migration file name")),
                "{name}: {err}"
            );
            assert!(err.contains(fix), "{name}: {err}");
            assert!(err.contains(".schemagateignore"), "{name}: {err}");
        }
        assert!(db.tables().await.is_empty(), "{name}: nothing ran");
        assert!(db.history().await.is_empty(), "{name}: nothing recorded");
    }
}

#[tokio::test]
async fn readmes_subfolders_and_listed_files_do_not_stop_a_run() {
    let db = TestDb::postgres("ignored").await;
    let folder = Folder::empty();
    folder
        .write("0001_create_t.sql", "CREATE TABLE t (id INT);")
        .write("README.md", "# our migrations")
        .write("notes.txt", "ask ops before 0002")
        .write(
            ".schemagateignore",
            "# kept for reference\nnotes.txt\n*.bak\n",
        )
        .write("0001_create_t.sql.bak", "CREATE TABLE old (id INT);");
    std::fs::create_dir(folder.path().join("drafts")).unwrap();
    folder.write("drafts/0002_draft.SQL", "CREATE TABLE draft (id INT);");
    let o = up(&db.url(), &folder);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(out.contains("schema at version 1"), "{out}");
    assert_eq!(db.tables().await, ["t"]);
    assert_eq!(db.history().await, [(1, true)]);
    let again = up(&db.url(), &folder);
    assert_eq!(again.status.code(), Some(0));
    assert!(text(&again)
        .0
        .contains("already at version 1; nothing to do"));
}

const PW: &str = "SuperSecret123";

/// No part of the password in either stream.
fn assert_hidden(o: &Output, case: &str) {
    let (out, err) = text(o);
    for part in [PW, "uperSecret123", "Secret123", "%53uper"] {
        assert!(
            !out.contains(part) && !err.contains(part),
            "{case}: `{part}` shown:\n{out}{err}"
        );
    }
}

fn with_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_schemagate"));
    c.args(args)
        .env_remove("DATABASE_URL")
        .env_remove("SCHEMAGATE_SECRET_ARN")
        .env_remove("SCHEMAGATE_MIGRATIONS_DIR");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

#[test]
fn a_malformed_database_url_is_refused_without_its_password() {
    let folder = Folder::empty();
    let m = folder.path();
    let m = m.to_str().unwrap();
    let forms = [
        (
            "u:SuperSecret123@127.0.0.1:3307/rt1",
            "write it as `mysql://u:***@127.0.0.1:3307/rt1`",
        ),
        (
            "mysql:/u:SuperSecret123@127.0.0.1:3307/rt1",
            "write it as `mysql://u:***@127.0.0.1:3307/rt1`",
        ),
        (
            "mysql//u:SuperSecret123@127.0.0.1:3307/rt1",
            "write it as `mysql://u:***@127.0.0.1:3307/rt1`",
        ),
        (
            "mysql:///u:SuperSecret123@127.0.0.1:3306/rt1",
            "write two slashes after `mysql:`",
        ),
        (
            "mysql://u:Super/Secret123@127.0.0.1:3306/rt1",
            "percent-encode a `/`",
        ),
        (
            "postgres://u:Super#Secret123@127.0.0.1:5432/rt1",
            "percent-encode a `/`",
        ),
        (
            "mysql://u:%53uperSecret123@127.0.0.1:99999/rt1",
            "invalid port number",
        ),
    ];
    for (url, fix) in forms {
        for json in [false, true] {
            let mut args = vec!["--database-url", url, "--migrations", m, "status"];
            if json {
                args.push("--json");
            }
            let o = schemagate(&args);
            let (out, err) = text(&o);
            assert_eq!(o.status.code(), Some(3), "{url}: {out}{err}");
            assert_hidden(&o, url);
            let shown = if json { out } else { err };
            assert!(shown.contains("invalid database url"), "{url}: {shown}");
            assert!(shown.contains(fix), "{url}: {shown}");
        }
    }

    // The same from the environment.
    let o = with_env(
        &["--migrations", m, "status"],
        &[("DATABASE_URL", "u:SuperSecret123@127.0.0.1:3307/rt1")],
    );
    assert_eq!(o.status.code(), Some(3));
    assert_hidden(&o, "DATABASE_URL");
    assert!(text(&o)
        .1
        .contains("write it as `mysql://u:***@127.0.0.1:3307/rt1`"));
}

#[test]
fn a_password_holding_an_at_sign_is_hidden_when_the_connection_fails() {
    let folder = Folder::empty();
    let port = testkit::free_port().to_string();
    let url = format!("mysql://u:Super@Secret123@127.0.0.1:{port}/rt1");
    let o = schemagate(&[
        "--database-url",
        &url,
        "--migrations",
        folder.path().to_str().unwrap(),
        "status",
    ]);
    assert_eq!(o.status.code(), Some(3), "{:?}", text(&o));
    assert_hidden(&o, &url);
    assert!(text(&o)
        .1
        .contains("cannot connect to mariadb://127.0.0.1:"));
}

#[test]
fn a_url_in_the_wrong_place_is_a_usage_error_without_its_password() {
    let url = "mysql://u:SuperSecret123@127.0.0.1:3306/rt1";
    let tip = "tip: a database URL is given with '--database-url <URL>'";
    let cases: [(&[&str], &str); 7] = [
        (
            &[url, "status"],
            "unrecognized subcommand 'mysql://u:***@127.0.0.1:3306/rt1'",
        ),
        (
            &["status", url],
            "unexpected argument 'mysql://u:***@127.0.0.1:3306/rt1'",
        ),
        (
            &["--lock-wait", url, "status"],
            "invalid value 'mysql://u:***@127.0.0.1:3306/rt1' for '--lock-wait",
        ),
        (
            &["--ssl-mode", url, "status"],
            "unknown ssl mode `mysql://u:***@127.0.0.1:3306/rt1`",
        ),
        (&["plan", "--to", url], "for '--to <V>'"),
        (
            &["--secret-arn", url, "status"],
            "not a URL; give a database URL with --database-url",
        ),
        (
            &["--databse-url", url, "status"],
            "tip: a similar argument exists: '--database-url'",
        ),
    ];
    for (args, says) in cases {
        let o = schemagate(args);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {out}{err}");
        assert_hidden(&o, &format!("{args:?}"));
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(err.contains("For more information, try '--help'."), "{err}");
    }
    let o = schemagate(&[url, "status"]);
    assert!(text(&o).1.contains(tip), "{}", text(&o).1);

    // `--dialect` is matched in lowercase, and was quoted so: shown as given,
    // redacted, even with a space in the password; an unknown dialect is a
    // usage error (exit 2).
    let folder = Folder::empty();
    let o = schemagate(&[
        "--migrations",
        folder.path().to_str().unwrap(),
        "lint",
        "--dialect",
        "mysql://u:Super Secret123@h/db",
    ]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}{err}");
    assert!(!err.to_lowercase().contains("secret123"), "{err}");
    assert!(!err.to_lowercase().contains("super"), "{err}");
    assert!(
        err.contains("unknown dialect `mysql://u:***@h/db`"),
        "{err}"
    );

    // A folder that does not exist is refused before anything (exit 4).
    let o = schemagate(&["--migrations", url, "status"]);
    assert_eq!(o.status.code(), Some(4));
    assert_hidden(&o, "--migrations");
    assert!(text(&o)
        .1
        .contains("migrations folder `mysql://u:***@127.0.0.1:3306/rt1` does not exist"));
}

#[test]
fn usage_help_version_and_suggestions_print_as_before() {
    let help = schemagate(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(text(&help)
        .0
        .contains("Usage: schemagate [OPTIONS] <COMMAND>"));
    let version = schemagate(&["--version"]);
    assert_eq!(version.status.code(), Some(0));
    assert!(text(&version).0.starts_with("schemagate "));
    let typo = schemagate(&["stauts"]);
    assert_eq!(typo.status.code(), Some(2));
    assert!(text(&typo)
        .1
        .contains("tip: a similar subcommand exists: 'status'"));
    let none = schemagate(&[]);
    assert_eq!(none.status.code(), Some(2));
    assert!(text(&none).1.contains("Usage: schemagate"));
}

#[tokio::test]
async fn an_init_sql_literal_is_not_shown_when_its_statement_fails() {
    let db = TestDb::mariadb("initsql").await;
    let folder = Folder::empty();
    folder.write("0001_t.sql", "CREATE TABLE t (id INT);");
    let init = format!("SET @k = '{PW}' garbage");
    for _ in 0..2 {
        let o = schemagate(&[
            "--database-url",
            &db.url(),
            "--migrations",
            folder.path().to_str().unwrap(),
            "--init-sql",
            &init,
            "up",
        ]);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(3), "{out}{err}");
        assert_hidden(&o, "--init-sql");
        assert!(err.contains("SET @k = '***' garbage"), "{err}");
        assert!(err.contains("1064"), "the server's error stays: {err}");
        assert!(db.tables().await.is_empty(), "nothing ran");
    }
}
