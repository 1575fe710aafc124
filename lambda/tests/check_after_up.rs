//! `schemagate up`, then `schemagate check`, end to end: the classes the
//! check reads are the ones the engine records in `_schemagate_history`
//! as it applies each migration (nothing written by the test). Needs the
//! engine that writes `_schemagate_history` (the history side of #10).

pub mod kit;

use std::process::Output;

use kit::schemagate;
use testkit::{text, Folder, TestDb};

fn cli(url: &str, folder: &Folder, args: &[&str]) -> Output {
    let m = folder.path();
    let mut all = vec!["--database-url", url, "--migrations", m.to_str().unwrap()];
    all.extend_from_slice(args);
    schemagate(&all)
}

fn check(url: &str, release: i64) -> Output {
    let v = release.to_string();
    schemagate(&["--database-url", url, "check", "--release-version", &v])
}

#[tokio::test]
async fn check_reads_the_classes_up_recorded() {
    let db = TestDb::mariadb("checkup").await;
    let url = db.url();
    let folder = Folder::with_example();
    let o = cli(&url, &folder, &["up"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    assert_eq!(check(&url, 6).status.code(), Some(0));

    // An expand-only 7: release 6 keeps serving.
    folder.write(
        "0007_add_nickname.up.sql",
        "ALTER TABLE users ADD COLUMN nickname VARCHAR(40) NULL;\n",
    );
    folder.write(
        "0007_add_nickname.down.sql",
        "ALTER TABLE users DROP COLUMN nickname;\n",
    );
    let o = cli(&url, &folder, &["up"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let o = check(&url, 6);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));

    // A breaking 8, let through by hand: release 6 (and 7) must stop.
    folder.write(
        "0008_drop_plan_code.up.sql",
        "ALTER TABLE users DROP COLUMN plan_code;\n",
    );
    folder.write(
        "0008_drop_plan_code.down.sql",
        "ALTER TABLE users ADD COLUMN plan_code VARCHAR(32) NULL DEFAULT 'free';\n",
    );
    let o = cli(&url, &folder, &["up", "--allow-breaking"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let o = check(&url, 6);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(6), "{err}");
    assert!(
        err.contains("breaks release 6 (breaking: drop-column)"),
        "{err}"
    );
    assert!(err.contains("0008") || err.contains("version 8"), "{err}");
    assert_eq!(check(&url, 7).status.code(), Some(6));
    assert_eq!(check(&url, 8).status.code(), Some(0));

    // Reverted: release 7 runs again.
    let o = cli(&url, &folder, &["down", "--to", "7"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    assert_eq!(check(&url, 7).status.code(), Some(0));
    assert_eq!(check(&url, 8).status.code(), Some(7));
}
