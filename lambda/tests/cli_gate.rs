//! The CLI gates like the Lambda: `up` and `down` refuse an unmarked
//! breaking migration before any statement (exit 5, the lint's
//! diagnostics), apply it with `--allow-breaking`, drain the tagged Auto
//! Scaling groups first with `--drain-tag` (moto) and give them back when
//! the migration fails or `down` reverts it. Tables and history rows are
//! read back from the servers, capacities from moto.

pub mod kit;

use std::process::{Command, Output};

use kit::{capacity, group, schemagate, Moto};
use testkit::{text, Folder, TestDb};

const DROP: &str = "0007_drop_plan_code";
const DRAIN: (&str, &str) = ("schemagate:drain", "shop-prod");
const DRAIN_TAG: &str = "schemagate:drain=shop-prod";

/// The CLI with `env` added (AWS pointed at moto), nothing else from the
/// environment.
fn schemagate_with(args: &[&str], env: &[(String, String)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_schemagate"))
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("SCHEMAGATE_SECRET_ARN")
        .env_remove("SCHEMAGATE_MIGRATIONS_DIR")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap()
}

/// The example at version 6 (a first deploy: not gated), and an unmarked
/// drop of the column 0006 added.
async fn at_six_with_a_drop(db: &TestDb) -> Folder {
    let folder = Folder::with_example();
    let m = folder.path();
    let o = schemagate(&[
        "--database-url",
        &db.url(),
        "--migrations",
        m.to_str().unwrap(),
        "up",
    ]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    folder.write(
        &format!("{DROP}.up.sql"),
        "-- the old release reads it\nALTER TABLE users DROP COLUMN plan_code;\n",
    );
    folder.write(
        &format!("{DROP}.down.sql"),
        "ALTER TABLE users ADD COLUMN plan_code VARCHAR(32) NULL DEFAULT 'free';\n",
    );
    folder
}

fn up(db: &TestDb, folder: &Folder, extra: &[&str]) -> Output {
    let url = db.url();
    let m = folder.path();
    let mut args = vec!["--database-url", &url, "--migrations", m.to_str().unwrap()];
    args.extend_from_slice(extra);
    schemagate(&args)
}

#[tokio::test]
async fn an_unmarked_drop_is_refused_with_nothing_applied_and_allow_breaking_applies_it() {
    let db = TestDb::mariadb("cligate").await;
    let folder = at_six_with_a_drop(&db).await;
    let before = db.snapshot().await;

    // Twice: a refusal changes nothing, so it refuses again the same way.
    for _ in 0..2 {
        let o = up(&db, &folder, &["up"]);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(5), "{out}{err}");
        assert!(
            err.contains(&format!("{DROP}.up.sql:2: breaking[drop-column]: DROP COLUMN users.plan_code — the running release may still read or write it; fix: ")),
            "the lint's diagnostic line: {err}"
        );
        assert!(err.contains(&format!("schemagate: error: refused before running anything: a pending migration would break the release that is running now: `{DROP}` line 2: breaking[drop-column]")), "{err}");
        assert!(err.contains("Nothing was applied"), "{err}");
        assert!(
            err.contains("pass --drain-tag KEY=VALUE") && err.contains("pass --allow-breaking"),
            "the CLI's ways out, not the construct's: {err}"
        );
        assert!(!err.contains("AllowBreaking=true"), "{err}");
        assert!(!out.contains("applied "), "{out}");
        assert_eq!(db.snapshot().await, before, "nothing applied");
        assert_eq!(db.history().await.len(), 6);
        assert!(db.columns("users").await.contains(&"plan_code".to_string()));
    }

    // `plan` shows the finding and exits 0: it runs nothing.
    let o = up(&db, &folder, &["plan"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(out.contains("breaking — drop-column (line 2)"), "{out}");

    // --json: one document with the refusal and the lint.
    let o = up(&db, &folder, &["up", "--json"]);
    assert_eq!(o.status.code(), Some(5));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["exit_code"], 5);
    assert!(doc["error"]
        .as_str()
        .unwrap()
        .starts_with("refused before running anything"));
    assert_eq!(doc["lint"]["migrations"][0]["name"], DROP);
    assert_eq!(
        doc["lint"]["migrations"][0]["findings"][0]["rule"],
        "drop-column"
    );
    assert_eq!(db.history().await.len(), 6);

    // --allow-breaking: applied, and said so; then nothing to do.
    let o = up(&db, &folder, &["up", "--allow-breaking"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(
        err.contains(&format!(
            "--allow-breaking: applying {DROP} while the old release may be running"
        )),
        "{err}"
    );
    assert!(out.contains(&format!("applied   {DROP}")), "{out}");
    assert_eq!(db.history().await.len(), 7);
    assert!(!db.columns("users").await.contains(&"plan_code".to_string()));
    let o = up(&db, &folder, &["up", "--allow-breaking"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o).0.contains("nothing to do"));
}

#[tokio::test]
async fn a_contract_marked_drop_passes_and_an_unknown_statement_is_refused() {
    let db = TestDb::mariadb("cligatec").await;
    let folder = at_six_with_a_drop(&db).await;
    folder.write("0008_odd.sql", "ALTER TABLE users FROBNICATE;\n");
    // The unknown statement is refused too (never silently safe) …
    let o = up(&db, &folder, &["up"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(5), "{err}");
    assert!(err.contains("0008_odd.sql:1: unknown[unparsed]"), "{err}");
    assert!(
        err.contains("pending migrations would break the release"),
        "{err}"
    );
    folder.remove("0008_odd.sql");
    // … and the drop, once marked contract, passes.
    folder.write(
        &format!("{DROP}.up.sql"),
        "-- schemagate: contract\n-- release 2 stopped reading it\nALTER TABLE users DROP COLUMN plan_code;\n",
    );
    for _ in 0..2 {
        let o = up(&db, &folder, &["up"]);
        assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    }
    assert_eq!(db.history().await.len(), 7);
    assert!(!db.columns("users").await.contains(&"plan_code".to_string()));
}

#[tokio::test]
async fn a_first_deploy_is_not_gated_on_either_engine() {
    for db in [
        TestDb::mariadb("cligatef").await,
        TestDb::postgres("cligatef").await,
    ] {
        // A table made by other tools: dropping its column is breaking.
        db.exec("CREATE TABLE legacy (id INT PRIMARY KEY, note TEXT NULL)")
            .await;
        let folder = Folder::empty();
        folder.write(
            "0001_create_other.up.sql",
            "CREATE TABLE other (id INT PRIMARY KEY);\n",
        );
        folder.write("0001_create_other.down.sql", "DROP TABLE other;\n");
        folder.write(
            "0002_drop_legacy_note.up.sql",
            "ALTER TABLE legacy DROP COLUMN note;\n",
        );
        folder.write(
            "0002_drop_legacy_note.down.sql",
            "ALTER TABLE legacy ADD COLUMN note TEXT NULL;\n",
        );
        // With a migration applied, a release may run on it: refused.
        let o = up(&db, &folder, &["up", "--to", "1"]);
        assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
        let o = up(&db, &folder, &["up"]);
        assert_eq!(o.status.code(), Some(5), "{:?}", text(&o));
        assert_eq!(db.history().await.len(), 1);
        assert_eq!(db.columns("legacy").await.len(), 2);

        // Empty history: no release runs on it, so nothing is gated.
        let o = up(&db, &folder, &["down", "--to", "0"]);
        assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
        let o = up(&db, &folder, &["up"]);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(0), "{out}{err}");
        assert!(
            err.contains("first deploy: no release runs on this database yet"),
            "{err}"
        );
        assert_eq!(db.history().await.len(), 2);
        assert_eq!(db.columns("legacy").await, vec!["id".to_string()]);
    }
}

#[tokio::test]
async fn drain_tag_drains_two_groups_gives_them_back_when_the_migration_fails_and_after_down() {
    let moto = Moto::start();
    let asg = moto.autoscaling().await;
    group(&asg, "shop-web", 1, 4, 2, &[DRAIN, ("app", "shop")]).await;
    group(&asg, "shop-worker", 2, 2, 2, &[DRAIN]).await;
    group(&asg, "other-app", 1, 3, 2, &[("schemagate:drain", "other")]).await;
    let env = moto.env();
    let db = TestDb::mariadb("cligated").await;
    let folder = at_six_with_a_drop(&db).await;
    let url = db.url();
    let m = folder.path();
    let m = m.to_str().unwrap();
    let run = |cmd: &[&str]| {
        let mut args = vec!["--database-url", &url, "--migrations", m];
        args.extend_from_slice(cmd);
        schemagate_with(&args, &env)
    };

    // 1. The breaking migration fails on its first statement: the groups
    //    were drained first, and get their capacity back.
    folder.write(
        &format!("{DROP}.up.sql"),
        "ALTER TABLE users DROP COLUMN plan_code, DROP COLUMN no_such_column;\n",
    );
    let o = run(&["up", "--drain-tag", DRAIN_TAG]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(out.contains("schemagate: drained `shop-web` (min 1, max 4, desired 2), `shop-worker` (min 2, max 2, desired 2) to 0"), "{out}");
    assert!(err.contains("no_such_column"), "{err}");
    assert!(err.contains("gave the capacity back to `shop-web` (min 1, max 4, desired 2), `shop-worker` (min 2, max 2, desired 2)"), "{err}");
    assert_eq!(capacity(&asg, "shop-web").await, (1, 4, 2, 2, None));
    assert_eq!(capacity(&asg, "shop-worker").await, (2, 2, 2, 2, None));
    assert_eq!(capacity(&asg, "other-app").await, (1, 3, 2, 2, None));
    assert_eq!(db.history().await.len(), 6);
    assert!(db.columns("users").await.contains(&"plan_code".to_string()));

    // 2. Fixed: drained (capacity saved in the tag, set to 0), applied; the
    //    groups stay at 0 for the new release.
    folder.write(
        &format!("{DROP}.up.sql"),
        "ALTER TABLE users DROP COLUMN plan_code;\n",
    );
    let o = run(&["up", "--drain-tag", DRAIN_TAG]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(out.contains(&format!("applied   {DROP}")), "{out}");
    assert!(
        out.contains("they stay at 0 until the new release replaces them"),
        "{out}"
    );
    assert_eq!(
        capacity(&asg, "shop-web").await,
        (0, 0, 0, 0, Some("min=1 max=4 desired=2".into()))
    );
    assert_eq!(
        capacity(&asg, "shop-worker").await,
        (0, 0, 0, 0, Some("min=2 max=2 desired=2".into()))
    );
    assert_eq!(capacity(&asg, "other-app").await, (1, 3, 2, 2, None));
    assert_eq!(db.history().await.len(), 7);

    // 3. `down` reverts it: the old schema is back, and so is the old
    //    release's capacity.
    let o = run(&["down", "--to", "6", "--drain-tag", DRAIN_TAG]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(out.contains("the old schema is back: gave the capacity back to `shop-web` (min 1, max 4, desired 2), `shop-worker` (min 2, max 2, desired 2)"), "{out}");
    assert_eq!(capacity(&asg, "shop-web").await, (1, 4, 2, 2, None));
    assert_eq!(capacity(&asg, "shop-worker").await, (2, 2, 2, 2, None));
    assert_eq!(db.history().await.len(), 6);
    assert!(db.columns("users").await.contains(&"plan_code".to_string()));
}

#[tokio::test]
async fn a_drain_that_cannot_reach_auto_scaling_exits_3_with_nothing_applied() {
    let db = TestDb::mariadb("cligatex").await;
    let folder = at_six_with_a_drop(&db).await;
    let env: Vec<(String, String)> = [
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_MAX_ATTEMPTS", "1"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let url = db.url();
    let m = folder.path();
    let o = schemagate_with(
        &[
            "--database-url",
            &url,
            "--migrations",
            m.to_str().unwrap(),
            "up",
            "--drain-tag",
            DRAIN_TAG,
        ],
        &env,
    );
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(3), "{out}{err}");
    assert!(err.contains(&format!("refused before running anything: {DROP} must run after the old release is stopped, but draining the groups tagged `{DRAIN_TAG}` failed: cannot list the Auto Scaling groups")), "{err}");
    assert!(err.contains("Nothing was applied"), "{err}");
    assert_eq!(db.history().await.len(), 6);
}

#[tokio::test]
async fn a_bad_drain_tag_is_a_usage_error() {
    let o = schemagate(&["up", "--drain-tag", "no-equals-sign"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("is not a tag: write it as KEY=VALUE"), "{err}");
}
