//! Bad input: misnamed migration files, and credentials in malformed
//! arguments. The CLI binary as a user runs it; the database is checked
//! afterwards (nothing may have run).

mod common;

use std::process::{Command, Output};

use common::{schemagate, text, Folder, TestDb};

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
