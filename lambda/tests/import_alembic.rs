//! `schemagate import alembic` with real Alembic (from PyPI, in `.venv`)
//! on the shop project (`fixtures/alembic/shop`: 15 revisions with a merge
//! point, a reflecting revision, one that reads rows back, a dialect
//! branch, a Python data migration and two without a downgrade): Alembic
//! builds one database, the imported files build another with `schemagate
//! up`, and `schemagate diff` says they are the same, on MariaDB and
//! PostgreSQL. Bad input is refused with the fix, and nothing is written.

pub mod kit;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use testkit::{text, Kind, TestDb};

/// The Python of the project's `.venv` (`make python-tools`), with Alembic,
/// SQLAlchemy and both drivers.
fn python() -> PathBuf {
    let p = testkit::require::ready(testkit::require::tool("python3"));
    let ok = Command::new(&p)
        .args(["-c", "import alembic, sqlalchemy, pymysql, psycopg2"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "`{}` lacks alembic, SQLAlchemy, PyMySQL or psycopg2: run `make python-tools`",
        p.display()
    );
    p
}

/// A copy of the shop project the test may change.
struct Shop {
    dir: tempfile::TempDir,
}

impl Shop {
    fn new() -> Shop {
        let dir = tempfile::tempdir().unwrap();
        let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/alembic/shop");
        copy(&from, dir.path());
        Shop { dir }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    fn ini(&self) -> String {
        self.path().join("alembic.ini").display().to_string()
    }

    fn versions(&self) -> PathBuf {
        self.path().join("migrations/versions")
    }

    /// `schemagate import alembic --config <ini> --out <out> --python <venv> <args>`
    /// with the shop on PYTHONPATH (its revisions import `shopapp`).
    fn import(&self, out: &Path, args: &[&str]) -> Output {
        let mut all = vec![
            "import",
            "alembic",
            "--python",
            PY.as_str(),
            "--out",
            out.to_str().unwrap(),
        ];
        if !args.contains(&"--config") {
            all.extend(["--config", Box::leak(self.ini().into_boxed_str())]);
        }
        all.extend(args);
        run(&all, Some(&self.path()))
    }

    /// `alembic upgrade head` on `db`, online, with the shop's env.py.
    fn alembic_upgrade(&self, db: &TestDb) {
        let o = Command::new(PY.as_str())
            .args(["-m", "alembic", "-c", &self.ini(), "upgrade", "head"])
            .env("PYTHONPATH", self.path())
            .env("SHOP_DATABASE_URL", sqlalchemy_url(db))
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .output()
            .unwrap();
        assert!(o.status.success(), "alembic upgrade head: {:?}", text(&o));
    }
}

static PY: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| python().display().to_string());

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            if e.file_name() != "__pycache__" {
                copy(&e.path(), &target);
            }
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// The CLI with nothing from the environment but `PYTHONPATH` (when given).
fn run(args: &[&str], pythonpath: Option<&Path>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_schemagate"));
    c.args(args)
        .env_remove("DATABASE_URL")
        .env_remove("SCHEMAGATE_SECRET_ARN")
        .env_remove("SCHEMAGATE_MIGRATIONS_DIR")
        .env_remove("SHOP_DATABASE_URL")
        .env_remove("PYTHONPATH");
    if let Some(p) = pythonpath {
        c.env("PYTHONPATH", p);
    }
    c.output().unwrap()
}

fn sqlalchemy_url(db: &TestDb) -> String {
    match db.kind {
        Kind::MariaDb => db.url().replace("mysql://", "mysql+pymysql://"),
        Kind::Postgres => db.url().replace("postgres://", "postgresql+psycopg2://"),
    }
}

/// A database name on `db`'s server that does not exist yet.
fn scratch(db: &TestDb, tag: &str) -> (String, String) {
    let name = format!("sg_scratch_{tag}_{}", std::process::id());
    let url = db.url().rsplit_once('/').unwrap().0.to_string() + "/" + &name;
    (name, url)
}

async fn database_exists(db: &TestDb, name: &str) -> bool {
    let sql = match db.kind {
        Kind::MariaDb => {
            format!("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = '{name}'")
        }
        Kind::Postgres => format!("SELECT COUNT(*) FROM pg_database WHERE datname = '{name}'"),
    };
    db.count(&sql).await > 0
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {:?}", text(o)))
}

fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn dialect(db: &TestDb) -> &'static str {
    match db.kind {
        Kind::MariaDb => "mariadb",
        Kind::Postgres => "postgres",
    }
}

/// The whole move on one engine: Alembic builds `a`, the import (captured
/// where offline rendering cannot work) builds `b`, and both are equal.
async fn alembic_and_imported_history_build_the_same_schema(a: TestDb, b: TestDb) {
    let shop = Shop::new();
    shop.alembic_upgrade(&a);
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("migrations");
    let (scratch_name, scratch_url) = scratch(&a, dialect(&a));
    let o = shop.import(
        &out,
        &["--scratch-url", &scratch_url, "--allow-python", "--json"],
    );
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let report = json(&o);
    check_report(&report, dialect(&a));
    check_files(&out);
    // PostgreSQL's branch builds its index CONCURRENTLY in an autocommit
    // block: that file runs outside a transaction.
    let lookup = std::fs::read_to_string(
        out.join("0013_d38f0c6d2a7c_index_the_case_insensitive_email_lookup.up.sql"),
    )
    .unwrap();
    assert_eq!(
        lookup.starts_with("-- no-transaction\n-- alembic: d38f0c6d2a7c "),
        a.kind == Kind::Postgres,
        "{lookup}"
    );
    assert!(
        !database_exists(&a, &scratch_name).await,
        "the scratch database the import created is dropped"
    );

    // The placeholder stops `plan` (and `up`) until a person fills it in.
    let url_b = b.url();
    let m = out.to_str().unwrap();
    let plan = run(&["--database-url", &url_b, "--migrations", m, "plan"], None);
    let (_, err) = text(&plan);
    assert_eq!(plan.status.code(), Some(4), "{err}");
    assert!(
        err.contains("0014_e49a1d7e3b8d_normalize_account_emails.sql:4: refused[placeholder]"),
        "{err}"
    );
    assert!(b.tables().await.is_empty(), "nothing applied");
    fill_placeholder(&out);

    for round in 0..2 {
        let up = run(&["--database-url", &url_b, "--migrations", m, "up"], None);
        assert_eq!(up.status.code(), Some(0), "round {round}: {:?}", text(&up));
        assert_eq!(b.schema_version().await, Some(15));
    }
    assert_eq!(b.rows("plan_feature").await, 3, "the captured inserts ran");
    assert!(!b.all_tables().await.contains("alembic_version"));

    let d = run(&["diff", "--url", &a.url(), "--url", &url_b], None);
    let (stdout, stderr) = text(&d);
    assert_eq!(d.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("have the same schema: 5 tables, 22 columns"),
        "{stdout}"
    );

    // The imported files read like any history: nothing refused or unknown.
    let l = run(
        &[
            "--migrations",
            m,
            "lint",
            "--dialect",
            dialect(&a),
            "--json",
        ],
        None,
    );
    let lint = json(&l);
    let classes: Vec<&str> = lint["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["class"].as_str().unwrap())
        .collect();
    assert_eq!(classes.len(), 15, "{lint}");
    assert!(
        classes.iter().all(|c| ["expand", "breaking"].contains(c)),
        "{classes:?}"
    );
}

/// What the report says of each revision.
fn check_report(report: &Value, dialect: &str) {
    assert_eq!(report["dialect"], dialect);
    let rows = report["migrations"].as_array().unwrap();
    assert_eq!(rows.len(), 15, "{report}");
    let row = |rev: &str| {
        rows.iter()
            .find(|r| r["revision"] == rev)
            .unwrap_or_else(|| panic!("{rev} in {report}"))
    };
    assert_eq!(row("1975ea83b712")["version"], 1);
    assert_eq!(row("1975ea83b712")["up"], "offline");
    assert_eq!(row("1975ea83b712")["statements"], 2);
    assert_eq!(row("1975ea83b712")["lint"], "expand");
    // The merge point: empty both ways, after both of its branches.
    assert_eq!(row("a05c7f3a9d49")["up"], "empty");
    assert_eq!(row("a05c7f3a9d49")["down"], "empty");
    assert_eq!(row("a05c7f3a9d49")["version"], 10);
    assert_eq!(
        row("a05c7f3a9d49")["review"],
        serde_json::json!([]),
        "its branches (audit_log, account.locale) are independent"
    );
    // Reflection and reading rows back: captured.
    assert_eq!(row("b16d8a4b0e5a")["up"], "captured");
    assert_eq!(row("b16d8a4b0e5a")["down"], "captured");
    assert_eq!(row("c27e9b5c1f6b")["up"], "captured");
    assert_eq!(row("c27e9b5c1f6b")["down"], "offline");
    let review = row("c27e9b5c1f6b")["review"][0].as_str().unwrap();
    assert!(
        review.starts_with(
            "review: depends on data (upgrade read `SELECT id, code FROM plan ORDER BY id`"
        ),
        "{review}"
    );
    // The dialect branch renders offline.
    assert_eq!(row("d38f0c6d2a7c")["up"], "offline");
    // The Python data migration: a placeholder, irreversible (no downgrade).
    assert_eq!(row("e49a1d7e3b8d")["up"], "placeholder");
    assert_eq!(row("e49a1d7e3b8d")["down"], Value::Null);
    assert_eq!(row("e49a1d7e3b8d")["lint"], "refused");
    // `downgrade(): pass`: irreversible; the rename and the drop: breaking.
    assert_eq!(row("f5ab2e8f4c9e")["down"], Value::Null);
    assert_eq!(row("f5ab2e8f4c9e")["lint"], "breaking");
    assert_eq!(row("6d1e3b9c5f05")["lint"], "breaking");
    let offline = rows.iter().filter(|r| r["up"] == "offline").count();
    assert_eq!(offline, 11, "{report}");
}

fn check_files(out: &Path) {
    let names = files(out);
    assert_eq!(names.len(), 28, "{names:?}");
    assert_eq!(names[0], "0001_1975ea83b712_add_account_table.down.sql");
    assert_eq!(names[1], "0001_1975ea83b712_add_account_table.up.sql");
    assert!(names.contains(&"0014_e49a1d7e3b8d_normalize_account_emails.sql".to_string()));
    assert!(names.contains(&"0015_f5ab2e8f4c9e_drop_plan_legacy_code.sql".to_string()));
    let up = std::fs::read_to_string(out.join(&names[1])).unwrap();
    assert!(
        up.starts_with("-- alembic: 1975ea83b712 add account table\n-- alembic revises: (base)\n"),
        "{up}"
    );
    let merge =
        std::fs::read_to_string(out.join("0010_a05c7f3a9d49_merge_audit_log_and_locale.up.sql"))
            .unwrap();
    assert!(
        merge.contains("-- alembic revises: 8f3a5d1e7b27, 9a4b6e2f8c38\n"),
        "{merge}"
    );
    for n in &names {
        let t = std::fs::read_to_string(out.join(n)).unwrap();
        assert!(!t.contains("alembic_version"), "{n}: {t}");
    }
    let data = std::fs::read_to_string(
        out.join("0012_c27e9b5c1f6b_add_plan_features_one_per_plan.up.sql"),
    )
    .unwrap();
    assert!(data.contains("-- review: depends on data\n"), "{data}");
    assert!(data.contains("(3, 'business-support')"), "{data}");
}

/// What a person does with the placeholder: write the SQL, drop the marker.
fn fill_placeholder(out: &Path) {
    let p = out.join("0014_e49a1d7e3b8d_normalize_account_emails.sql");
    let t = std::fs::read_to_string(&p).unwrap();
    assert!(t.contains("-- schemagate: placeholder\n"), "{t}");
    assert!(
        t.contains(
            "--         for row in conn.execute(sa.text(\"SELECT id, email FROM account\")):"
        ),
        "the revision's Python is quoted: {t}"
    );
    let filled = t.replace("-- schemagate: placeholder\n", "")
        + "\nUPDATE account SET email = LOWER(TRIM(email));\n";
    std::fs::write(&p, filled).unwrap();
}

#[tokio::test]
async fn mariadb_alembic_and_the_imported_history_build_the_same_schema() {
    let a = TestDb::mariadb("alembic_a").await;
    let b = TestDb::mariadb("alembic_b").await;
    alembic_and_imported_history_build_the_same_schema(a, b).await;
}

#[tokio::test]
async fn postgres_alembic_and_the_imported_history_build_the_same_schema() {
    let a = TestDb::postgres("alembic_a").await;
    let b = TestDb::postgres("alembic_b").await;
    alembic_and_imported_history_build_the_same_schema(a, b).await;
}

/// A failed import: its exit code and message, and nothing written.
fn refused(o: &Output, out: &Path, code: i32) -> String {
    let (stdout, stderr) = text(o);
    assert_eq!(o.status.code(), Some(code), "{stdout}{stderr}");
    assert!(stderr.ends_with("nothing was written\n"), "{stderr}");
    assert!(!out.exists(), "{out:?} holds {:?}", files(out));
    let parent = out.parent().unwrap();
    assert!(
        files(parent).is_empty(),
        "no staging folder left: {:?}",
        files(parent)
    );
    stderr
}

#[test]
fn revisions_that_need_a_database_without_scratch_url_are_named_with_file_line_and_fix() {
    let shop = Shop::new();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("migrations");
    let err = refused(&shop.import(&out, &[]), &out, 4);
    assert!(
        err.contains("revision `b16d8a4b0e5a` cannot be rendered offline (upgrade, `migrations/versions/b16d8a4b0e5a_index_account_created_at.py:21` `inspector = sa.inspect(op.get_bind())`): it reflects the live schema"),
        "{err}"
    );
    assert!(
        err.contains("revision `c27e9b5c1f6b` cannot be rendered offline (upgrade, `migrations/versions/c27e9b5c1f6b_add_plan_features.py:24`"),
        "{err}"
    );
    assert!(
        err.contains("it reads rows back from the database"),
        "{err}"
    );
    assert!(err.contains("pass --scratch-url"), "{err}");
}

#[tokio::test]
async fn a_python_data_migration_stops_the_import_with_its_file_and_line() {
    let shop = Shop::new();
    let db = TestDb::mariadb("pydata").await;
    let (_, scratch_url) = scratch(&db, "pydata");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("migrations");
    let o = shop.import(&out, &["--scratch-url", &scratch_url]);
    let err = refused(&o, &out, 4);
    assert!(
        err.contains("revision `e49a1d7e3b8d` (`migrations/versions/e49a1d7e3b8d_normalize_account_emails.py:19`) is a Python data migration: it loops over rows it reads and writes each one from Python"),
        "{err}"
    );
    assert!(err.contains("--allow-python"), "{err}");
}

#[tokio::test]
async fn strict_stops_at_the_revision_that_depends_on_data() {
    let shop = Shop::new();
    let db = TestDb::postgres("strict").await;
    let (_, scratch_url) = scratch(&db, "strict");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("migrations");
    let o = shop.import(
        &out,
        &["--scratch-url", &scratch_url, "--allow-python", "--strict"],
    );
    let err = refused(&o, &out, 4);
    assert!(
        err.contains("revision `c27e9b5c1f6b` depends on data: it read rows (`SELECT id, code FROM plan ORDER BY id`, `migrations/versions/c27e9b5c1f6b_add_plan_features.py:24`) and then wrote"),
        "{err}"
    );
}

#[test]
fn unmerged_heads_are_refused_naming_each_head() {
    let shop = Shop::new();
    std::fs::write(
        shop.versions().join("0bad0bad0bad_side_branch.py"),
        "\"\"\"a side branch nobody merged\"\"\"\nfrom alembic import op\nimport sqlalchemy as sa\n\nrevision = \"0bad0bad0bad\"\ndown_revision = \"d38f0c6d2a7c\"\nbranch_labels = None\ndepends_on = None\n\n\ndef upgrade():\n    op.add_column(\"plan\", sa.Column(\"note\", sa.Text()))\n\n\ndef downgrade():\n    op.drop_column(\"plan\", \"note\")\n",
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("migrations");
    let err = refused(&shop.import(&out, &[]), &out, 4);
    assert!(err.contains("the history has 2 heads ("), "{err}");
    assert!(
        err.contains("`0bad0bad0bad` “a side branch nobody merged”"),
        "{err}"
    );
    assert!(
        err.contains("`f5ab2e8f4c9e` “drop plan.legacy_code”"),
        "{err}"
    );
    assert!(
        err.contains("run `alembic merge heads -m \"merge\"`"),
        "{err}"
    );
}

#[test]
fn a_missing_alembic_ini_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("migrations");
    let ini = tmp.path().join("nowhere/alembic.ini");
    let shop = Shop::new();
    let o = shop.import(&out, &["--config", ini.to_str().unwrap()]);
    let err = refused(&o, &out, 2);
    assert!(
        err.contains(&format!(
            "`{}` does not exist: pass --config",
            ini.display()
        )),
        "{err}"
    );
}

#[test]
fn a_python_without_alembic_says_how_to_install_it() {
    let shop = Shop::new();
    let tmp = tempfile::tempdir().unwrap();
    let bare = tmp.path().join("bare");
    let made = Command::new("python3")
        .args(["-m", "venv", "--without-pip"])
        .arg(&bare)
        .status()
        .unwrap();
    assert!(made.success());
    let bare_python = bare.join("bin/python3");
    let out = tmp.path().join("out/migrations");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let mut args = vec!["import", "alembic", "--config"];
    let ini = shop.ini();
    args.extend([ini.as_str(), "--out", out.to_str().unwrap(), "--python"]);
    args.push(bare_python.to_str().unwrap());
    let o = run(&args, Some(&shop.path()));
    let err = refused(&o, &out, 3);
    assert!(
        err.contains(&format!(
            "`{0}` has no `alembic` module: install it there (`{0} -m pip install alembic`)",
            bare_python.display()
        )),
        "{err}"
    );
    let o = run(
        &[
            "import",
            "alembic",
            "--config",
            &ini,
            "--out",
            out.to_str().unwrap(),
            "--python",
            "/nonexistent/python3",
        ],
        Some(&shop.path()),
    );
    let err = refused(&o, &out, 3);
    assert!(err.contains("cannot run `/nonexistent/python3`"), "{err}");
}

#[test]
fn the_apps_modules_come_from_pythonpath_and_env_py_is_never_run() {
    // The shop's env.py raises without SHOP_DATABASE_URL, which `run`
    // never sets: every successful import here shows it was not executed.
    let shop = Shop::new();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("migrations");
    let mut args = vec!["import", "alembic", "--config"];
    let ini = shop.ini();
    args.extend([
        ini.as_str(),
        "--out",
        out.to_str().unwrap(),
        "--python",
        PY.as_str(),
    ]);
    let o = run(&args, None);
    let err = refused(&o, &out, 3);
    assert!(
        err.contains("27c6a30d7c24_add_plan_table.py") && err.contains("imports `shopapp`"),
        "{err}"
    );
    assert!(err.contains("PYTHONPATH"), "{err}");
}

#[tokio::test]
async fn since_appends_only_the_new_revisions_and_refuses_a_wrong_rev() {
    let shop = Shop::new();
    let db = TestDb::mariadb("since").await;
    let (_, scratch_url) = scratch(&db, "since");
    // The history as it was before its last revision was written.
    let last = shop
        .versions()
        .join("f5ab2e8f4c9e_drop_plan_legacy_code.py");
    let kept = std::fs::read_to_string(&last).unwrap();
    std::fs::remove_file(&last).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("migrations");
    let o = shop.import(&out, &["--scratch-url", &scratch_url, "--allow-python"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    // 13 reversible, `0014` irreversible (no downgrade).
    assert_eq!(files(&out).len(), 27);
    let before: Vec<(String, String)> = files(&out)
        .into_iter()
        .map(|n| (n.clone(), std::fs::read_to_string(out.join(&n)).unwrap()))
        .collect();

    // A new revision (as `alembic revision --autogenerate` drafts one):
    // appended offline, no scratch database needed.
    std::fs::write(&last, kept).unwrap();
    let again = shop.import(&out, &[]);
    let (_, err) = text(&again);
    assert_eq!(again.status.code(), Some(4), "{err}");
    assert!(err.contains("already holds migrations"), "{err}");
    let o = shop.import(&out, &["--since", "e49a1d7e3b8d", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let report = json(&o);
    assert_eq!(
        report["migrations"].as_array().unwrap().len(),
        1,
        "{report}"
    );
    assert_eq!(report["migrations"][0]["version"], 15);
    assert_eq!(report["migrations"][0]["up"], "offline");
    let now = files(&out);
    assert_eq!(now.len(), 28);
    assert!(now.contains(&"0015_f5ab2e8f4c9e_drop_plan_legacy_code.sql".to_string()));
    for (n, t) in before {
        assert_eq!(
            std::fs::read_to_string(out.join(&n)).unwrap(),
            t,
            "{n} unchanged"
        );
    }

    // Nothing after the last one: nothing to do.
    let o = shop.import(&out, &["--since", "f5ab2e8f4c9e"]);
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("nothing to import after `f5ab2e8f4c9e`"),
        "{stdout}"
    );

    // Already imported, and a revision Alembic does not know: refused.
    for (since, says) in [
        ("e49a1d7e3b8d", "revision `f5ab2e8f4c9e` comes after --since `e49a1d7e3b8d` but is imported already, as `0015_f5ab2e8f4c9e_drop_plan_legacy_code`"),
        ("feedfacecafe", "revision `feedfacecafe` is not in the history"),
    ] {
        let o = shop.import(&out, &["--since", since]);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(4), "{err}");
        assert!(err.contains(says), "{err}");
        assert_eq!(files(&out).len(), 28, "nothing written");
    }
}

#[tokio::test]
async fn a_timeout_stops_alembic_and_drops_the_scratch_database_it_made() {
    let shop = Shop::new();
    // A revision that hangs when it runs online (as one waiting on a lock
    // would), after the scratch database was made.
    std::fs::write(
        shop.versions().join("0510ba0510ba_slow.py"),
        "\"\"\"slow\"\"\"\nimport time\nfrom alembic import context, op\n\nrevision = \"0510ba0510ba\"\ndown_revision = \"f5ab2e8f4c9e\"\nbranch_labels = None\ndepends_on = None\n\n\ndef upgrade():\n    op.execute(\"UPDATE plan SET name = name\")\n    if not context.is_offline_mode():\n        time.sleep(60)\n\n\ndef downgrade():\n    pass\n",
    )
    .unwrap();
    let db = TestDb::mariadb("timeout").await;
    let (name, scratch_url) = scratch(&db, "timeout");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("migrations");
    let started = std::time::Instant::now();
    let mut args = vec!["--timeout", "8", "import", "alembic", "--config"];
    let ini = shop.ini();
    args.extend([
        ini.as_str(),
        "--out",
        out.to_str().unwrap(),
        "--python",
        PY.as_str(),
    ]);
    args.extend(["--scratch-url", scratch_url.as_str(), "--allow-python"]);
    let o = run(&args, Some(&shop.path()));
    let took = started.elapsed();
    let err = refused(&o, &out, 3);
    assert!(
        err.contains(
            "the import did not finish within 8.0 s (`--timeout`): the Alembic driver was stopped"
        ),
        "{err}"
    );
    assert!(
        took.as_secs() < 20,
        "stopped at the deadline, not after the sleep: {took:?}"
    );
    assert!(
        !database_exists(&db, &name).await,
        "the scratch database is dropped"
    );
}

#[tokio::test]
async fn a_scratch_database_that_cannot_be_had_is_exit_3_and_its_password_is_never_shown() {
    let shop = Shop::new();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("migrations");
    let db = TestDb::mariadb("scratchpw").await;
    let (_, url) = scratch(&db, "scratchpw");
    let wrong = url.replace("root@", "root:S3cretPw@");
    for bad in [wrong.as_str(), "mysql://root:S3cretPw@127.0.0.1:1/nope"] {
        let o = shop.import(&out, &["--scratch-url", bad, "--allow-python"]);
        let (stdout, stderr) = text(&o);
        assert!(
            !stdout.contains("S3cretPw") && !stderr.contains("S3cretPw"),
            "{stdout}{stderr}"
        );
        let err = refused(&o, &out, 3);
        assert!(
            err.contains("cannot use the scratch database: OperationalError"),
            "{err}"
        );
    }
}

/// `alembic upgrade <rev>` for each of `revisions` on `db`, online.
fn alembic_upgrade_to(shop: &Shop, db: &TestDb, revisions: &[&str]) {
    for rev in revisions {
        let o = Command::new(PY.as_str())
            .args(["-m", "alembic", "-c", &shop.ini(), "upgrade", rev])
            .env("PYTHONPATH", shop.path())
            .env("SHOP_DATABASE_URL", sqlalchemy_url(db))
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .output()
            .unwrap();
        assert!(o.status.success(), "alembic upgrade {rev}: {:?}", text(&o));
    }
}

/// The shop imported (captured on a scratch database of `db`'s server),
/// its placeholder filled in: the folder a team commits.
fn imported_shop(shop: &Shop, db: &TestDb, out: &Path) {
    let (_, scratch_url) = scratch(db, &format!("adopt_{}", dialect(db)));
    let o = shop.import(out, &["--scratch-url", &scratch_url, "--allow-python"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    fill_placeholder(out);
}

/// `schemagate --database-url <db> --migrations <m> <args>`.
fn on(db: &TestDb, m: &Path, args: &[&str]) -> Output {
    let url = db.url();
    let mut all = vec![
        "--database-url",
        url.as_str(),
        "--migrations",
        m.to_str().unwrap(),
    ];
    all.extend(args);
    run(&all, None)
}

/// `alembic_version` holds exactly `revisions`.
async fn alembic_version_is(db: &TestDb, revisions: &[&str]) {
    assert_eq!(db.rows("alembic_version").await, revisions.len() as i64);
    for r in revisions {
        let n = db
            .count(&format!(
                "SELECT COUNT(*) FROM alembic_version WHERE version_num = '{r}'"
            ))
            .await;
        assert_eq!(n, 1, "alembic_version holds `{r}`");
    }
}

/// A database Alembic brought to `revisions` is adopted by `schemagate up`:
/// refused while adoption is off, with a baseline that disagrees, or with
/// a revision the folder lacks (nothing applied each time); then the
/// versions up to `at` baselined, the rest applied once, a second run a
/// no-op, `alembic_version` left as it was, and the schema the same as
/// `alembic upgrade head` builds.
async fn an_alembic_database_is_adopted_by_up(
    a: TestDb,
    full: TestDb,
    revisions: &[&str],
    at: i64,
) {
    let shop = Shop::new();
    alembic_upgrade_to(&shop, &a, revisions);
    let out_dir = tempfile::tempdir().unwrap();
    let m = out_dir.path().join("migrations");
    imported_shop(&shop, &a, &m);
    let before = a.all_tables().await;
    assert!(before.contains("alembic_version"), "{before:?}");

    // Adoption off: refused before anything runs, saying what to do.
    let off = on(&a, &m, &["--no-adopt-alembic", "up", "--allow-breaking"]);
    let (_, err) = text(&off);
    assert_eq!(off.status.code(), Some(4), "{err}");
    assert!(
        err.contains("the database has an `alembic_version` table at"),
        "{err}"
    );
    assert!(err.contains("and no schemagate history, and adoption is off (`--no-adopt-alembic` / `AdoptAlembic: false`)"), "{err}");
    assert!(err.contains("`--baseline V` / `BaselineVersion`"), "{err}");
    // A baseline that disagrees with alembic_version.
    let wrong = at - 1;
    let disagree = on(
        &a,
        &m,
        &["--baseline", &wrong.to_string(), "up", "--allow-breaking"],
    );
    let (_, err) = text(&disagree);
    assert_eq!(disagree.status.code(), Some(4), "{err}");
    assert!(
        err.contains(&format!(
            "baseline version {wrong} disagrees with the database's `alembic_version`"
        )),
        "{err}"
    );
    // A revision no imported file carries.
    let saved = revisions.last().unwrap();
    a.exec(&format!(
        "UPDATE alembic_version SET version_num = 'f00dfeed0000' WHERE version_num = '{saved}'"
    ))
    .await;
    let unknown = on(&a, &m, &["up", "--allow-breaking"]);
    let (_, err) = text(&unknown);
    assert_eq!(unknown.status.code(), Some(4), "{err}");
    assert!(err.contains("the database's `alembic_version` holds revision `f00dfeed0000`, which no migration in the folder was imported from (the last imported is `f5ab2e8f4c9e`"), "{err}");
    assert!(
        err.contains(
            "schemagate import alembic --config alembic.ini --out migrations/ --since f5ab2e8f4c9e"
        ),
        "{err}"
    );
    a.exec(&format!(
        "UPDATE alembic_version SET version_num = '{saved}' WHERE version_num = 'f00dfeed0000'"
    ))
    .await;
    assert_eq!(
        a.all_tables().await,
        before,
        "nothing applied, no history table made"
    );

    // plan and status show the adoption, and change nothing.
    let plan = on(&a, &m, &["plan"]);
    let (out, err) = text(&plan);
    assert_eq!(plan.status.code(), Some(0), "{out}{err}");
    assert!(
        out.contains("adopting the database Alembic made: `alembic_version`"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "versions up to {at} are recorded as baselined, not run"
        )),
        "{out}"
    );
    let status = on(&a, &m, &["--json", "status"]);
    let st = json(&status);
    assert_eq!(st["adopted"]["version"], at, "{st}");
    assert_eq!(a.all_tables().await, before);

    for round in 0..2 {
        let up = on(&a, &m, &["--json", "up", "--allow-breaking"]);
        let r = json(&up);
        assert_eq!(up.status.code(), Some(0), "round {round}: {r}");
        let (baselined, applied) = if round == 0 { (at, 15 - at) } else { (0, 0) };
        assert_eq!(r["baselined"], baselined, "round {round}: {r}");
        assert_eq!(r["applied"], applied, "round {round}: {r}");
        assert_eq!(r["to"], 15, "{r}");
        assert_eq!(a.schema_version().await, Some(15));
    }
    let history = a.history_rows().await;
    assert_eq!(
        history.iter().map(|h| h.version).collect::<Vec<_>>(),
        (1..=15).collect::<Vec<_>>()
    );
    assert!(history.iter().all(|h| h.success));
    let kept =
        |class: &str| format!("SELECT COUNT(*) FROM _schemagate_history WHERE class = '{class}'");
    assert_eq!(
        a.count(&kept("baseline")).await,
        at,
        "baselined as BaselineVersion does"
    );
    assert_eq!(
        a.count(&format!(
            "SELECT COUNT(*) FROM _schemagate_history WHERE class = 'baseline' AND version > {at}"
        ))
        .await,
        0
    );
    alembic_version_is(&a, revisions).await;

    // The adopted database has the schema Alembic builds to head.
    shop.alembic_upgrade(&full);
    let d = run(&["diff", "--url", &full.url(), "--url", &a.url()], None);
    let (stdout, stderr) = text(&d);
    assert_eq!(d.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("have the same schema: 5 tables, 22 columns"),
        "{stdout}"
    );

    // History tables that are there but empty (what `down 0` leaves) are a
    // history: `alembic_version` no longer says what the database holds, so
    // it is not adopted again and every migration would run.
    a.exec("DELETE FROM _schemagate_history").await;
    a.exec("DELETE FROM _sqlx_migrations").await;
    let status = on(&a, &m, &["--json", "status"]);
    let st = json(&status);
    assert_eq!(status.status.code(), Some(0), "{st}");
    assert!(st["adopted"].is_null(), "not adopted again: {st}");
    let plan = on(&a, &m, &["plan"]);
    let (out, err) = text(&plan);
    assert_eq!(plan.status.code(), Some(0), "{out}{err}");
    assert!(!out.contains("adopting the database Alembic made"), "{out}");
    alembic_version_is(&a, revisions).await;
}

#[tokio::test]
async fn mariadb_a_database_alembic_made_is_adopted_at_its_revision() {
    let a = TestDb::mariadb("adopt_a").await;
    let full = TestDb::mariadb("adopt_full").await;
    // at the merge point (version 10): 11..15 remain
    an_alembic_database_is_adopted_by_up(a, full, &["a05c7f3a9d49"], 10).await;
}

#[tokio::test]
async fn postgres_a_database_at_both_heads_of_the_merge_is_adopted_below_it() {
    let a = TestDb::postgres("adopt_a").await;
    let full = TestDb::postgres("adopt_full").await;
    // both branches, not merged: alembic_version holds two heads (8, 9)
    an_alembic_database_is_adopted_by_up(a, full, &["8f3a5d1e7b27", "9a4b6e2f8c38"], 9).await;
}
