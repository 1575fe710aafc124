//! `make demo`: a whole deploy rehearsed on this machine, no AWS account.
//!
//! The real parts: the `schemagate-lambda` binary packaged by `cdk synth`
//! (the asset folder: `bootstrap` + `migrations/`) and run under
//! `cargo lambda watch`; Secrets Manager and the S3 ResponseURL from moto;
//! the MariaDB server. The demo reads the `Custom::SchemaMigrations`
//! resource from the synthesized data stack and plays CloudFormation's side
//! of the steps of a release's life, printing a timeline; the last one
//! is an online rename with two app releases serving through it. It exits
//! non-zero when anything differs from what is expected, so it doubles as
//! an end-to-end test.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::Value;

use schemagate_e2e::cdk::{self, SynthesizedMigrations};
use schemagate_e2e::{online, proof, Options, Rehearsal};
use testkit::cfn::{Response, Status, RESOURCE_TYPE};
use testkit::lambda;
use testkit::moto::{ACCOUNT, REGION};
use testkit::release::{BROKEN_INDEX, BROKEN_INDEX_ERROR};
use testkit::require::{self, Unavailable};
use testkit::{workspace_root, Migrations, Package};

const DATABASE: &str = "schemagate_demo";
const SYNTH_TIMEOUT: Duration = Duration::from_secs(600);

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut work = match tempfile::Builder::new()
        .prefix("schemagate-demo-")
        .tempdir()
    {
        Ok(w) => w,
        Err(e) => {
            eprintln!("demo: cannot make a temporary folder: {e}");
            return ExitCode::from(2);
        }
    };
    let result = run(work.path()).await;
    if !matches!(result, Ok(true)) {
        work.disable_cleanup(true);
        println!(
            "logs, templates and packages are kept in {}",
            work.path().display()
        );
    }
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            if e.downcast_ref::<Unavailable>().is_some() {
                eprintln!(
                    "\ndemo: {e:#}\n`make demo` installs and starts everything the demo needs."
                );
            } else {
                eprintln!("\ndemo: {e:#}");
            }
            ExitCode::from(2)
        }
    }
}

/// What one step expects to see.
enum Expect {
    Success {
        version: i64,
    },
    /// SUCCESS and the database where it was (Data does not matter).
    Deleted {
        version: i64,
    },
    Failed {
        version: i64,
        reason: Vec<String>,
    },
}

struct Demo {
    started: Instant,
    differences: Vec<String>,
}

impl Demo {
    fn setup(&self, what: &str, text: impl AsRef<str>) {
        let mut lines = text.as_ref().lines();
        println!("  {what:<20} {}", lines.next().unwrap_or_default());
        for l in lines {
            println!("  {:<20} {l}", "");
        }
    }

    fn expect(&mut self, ok: bool, what: impl Into<String>) {
        if !ok {
            let what = what.into();
            println!("           ✗ {what}");
            self.differences.push(what);
        }
    }

    /// One timeline entry: the step, the response, the database's version.
    fn timeline(&mut self, step: &str, res: &Response, db_version: Option<i64>, expect: &Expect) {
        let at = format!("+{:.1}s", self.started.elapsed().as_secs_f64());
        let db = db_version.map_or("-".into(), |v| format!("v{v}"));
        println!(
            "{at:>8}  {step:<50} {:<8} {db:<4} {:>7}  {}",
            res.status.to_string(),
            format!("{:.2} s", res.elapsed.as_secs_f64()),
            res.data_line()
        );
        println!("{:>10}Reason: {}", "", res.reason);
        match expect {
            Expect::Success { version } => {
                self.expect(
                    res.status == Status::Success,
                    format!("{step}: expected SUCCESS, got {}", res.status),
                );
                self.expect(
                    res.schema_version() == Some(*version),
                    format!(
                        "{step}: expected SchemaVersion {version}, got {:?}",
                        res.data.get("SchemaVersion")
                    ),
                );
                self.expect(db_version == Some(*version), format!("{step}: expected the database at version {version}, it is at {db_version:?}"));
            }
            Expect::Deleted { version } => {
                self.expect(
                    res.status == Status::Success,
                    format!("{step}: expected SUCCESS, got {}", res.status),
                );
                self.expect(db_version == Some(*version), format!("{step}: expected the database still at version {version}, it is at {db_version:?}"));
            }
            Expect::Failed { version, reason } => {
                self.expect(
                    res.status == Status::Failed,
                    format!("{step}: expected FAILED, got {}", res.status),
                );
                for part in reason {
                    self.expect(
                        res.reason.contains(part.as_str()),
                        format!("{step}: the Reason does not say {part:?}"),
                    );
                }
                self.expect(db_version == Some(*version), format!("{step}: expected the database at version {version}, it is at {db_version:?}"));
            }
        }
    }

    fn note(&self, text: impl AsRef<str>) {
        println!("{:>10}{}", "", text.as_ref());
    }
}

async fn run(work: &Path) -> Result<bool> {
    let mut demo = Demo {
        started: Instant::now(),
        differences: Vec::new(),
    };
    println!("schemagate demo: a deploy rehearsed on this machine, without an AWS account");
    println!("(the real Lambda binary under cargo lambda's emulator, Secrets Manager and S3 from moto, MariaDB)\n");
    println!("set-up");

    // The Lambda binary, as cdk synth will package it.
    let binary = lambda::binary()?;
    let lambda_dir = work.join("lambda");
    std::fs::create_dir_all(&lambda_dir)?;
    let bootstrap = lambda_dir.join("bootstrap");
    std::fs::copy(&binary, &bootstrap).context("copy the binary as bootstrap")?;
    let stripped = std::process::Command::new("strip")
        .arg("--strip-debug")
        .arg(&bootstrap)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    demo.setup(
        "Lambda binary",
        format!(
            "{} (cargo build: debug, {}), copied as {}{}\nthe deploy packages `make build`'s arm64 release; here cdk synth packages this copy, and the emulator runs what it packaged",
            short(&binary),
            std::env::consts::ARCH,
            bootstrap.display(),
            if stripped { " without debug info" } else { "" }
        ),
    );

    // Three releases of the example app's migrations, as real folders.
    let releases = [
        Migrations::example()?,
        Migrations::example()?.next_release(),
        Migrations::example()?.next_release().with(BROKEN_INDEX),
    ];
    let mut dirs = Vec::new();
    for (i, m) in releases.iter().enumerate() {
        let dir = work.join(format!("releases/release-{}/migrations", i + 1));
        m.write_to(&dir)?;
        dirs.push(dir);
    }
    demo.setup(
        "releases",
        format!(
            "release 1: migrations/ (v1..v{})\nrelease 2: + 0007_create_invoices, 0008_add_orders_status\nrelease 3: release 2 + {} (broken: {BROKEN_INDEX_ERROR})",
            releases[0].latest_version(),
            BROKEN_INDEX.0
        ),
    );

    // cdk synth, once per release (concurrently).
    let cdk_dir = workspace_root().join("cdk");
    if !cdk_dir.join("node_modules").is_dir() {
        return Err(require::unavailable(
            "cdk/node_modules",
            "run `make node-tools` (npm ci in cdk/)",
        ));
    }
    let t = Instant::now();
    let mut synths = Vec::new();
    for (i, dir) in dirs.iter().enumerate() {
        let out = work.join(format!("cdk.out.release-{}", i + 1));
        let log = work.join(format!("synth-{}.log", i + 1));
        synths.push((
            out.clone(),
            cdk::start_synth(&cdk_dir, &lambda_dir, dir, &out, &log)?,
        ));
    }
    let mut synthesized: Vec<SynthesizedMigrations> = Vec::new();
    for (i, (out, proc)) in synths.into_iter().enumerate() {
        cdk::finish_synth(proc, SYNTH_TIMEOUT)
            .await
            .with_context(|| format!("cdk synth of release {}", i + 1))?;
        synthesized.push(cdk::read(&out)?);
    }
    let s1 = synthesized[0].clone();
    demo.setup(
        "cdk synth",
        format!(
            "cd cdk && npx cdk synth -c schemagateLambdaDir={} -c schemagateMigrationsDir=<release>, 3 releases in {:.0} s",
            lambda_dir.display(),
            t.elapsed().as_secs_f64()
        ),
    );
    let targets: Vec<String> = synthesized
        .iter()
        .map(|s| {
            s.properties["TargetVersion"]
                .as_str()
                .unwrap_or("?")
                .to_string()
        })
        .collect();
    demo.setup(
        &format!("{} template", s1.stack),
        format!(
            "{} `{}`: {}\nTargetVersion per release: {}\nLambda `{}`: Timeout {} s, {}, env {}",
            RESOURCE_TYPE,
            s1.logical_id,
            properties_line(&s1.properties),
            targets.join(", "),
            s1.function_logical_id,
            s1.timeout_seconds.map_or("?".into(), |t| t.to_string()),
            s1.architectures.join(","),
            s1.function_env
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        ),
    );
    for (s, m) in synthesized.iter().zip(&releases) {
        let want = m.latest_version().to_string();
        demo.expect(
            s.properties["TargetVersion"] == Value::String(want.clone()),
            format!(
                "the synthesized TargetVersion is {}, not {want}",
                s.properties["TargetVersion"]
            ),
        );
    }

    // The rehearsal: database, moto, emulator.
    let user = s1
        .secret_username
        .clone()
        .unwrap_or_else(|| "schemagate_demo".into());
    let options = Options {
        label: "demo".into(),
        database: Some((DATABASE.into(), user.clone())),
        function_env: Vec::new(),
        stack_name: s1.stack.clone(),
        logical_id: s1.logical_id.clone(),
        response_timeout: Duration::from_secs(120),
        parent_dir: Some(work.to_path_buf()),
    };
    let mut r = Rehearsal::start_with(options).await?;
    let function_arn = format!(
        "arn:aws:lambda:{REGION}:{ACCOUNT}:function:{}-{}",
        s1.stack, s1.function_logical_id
    );
    r.resource.service_token = function_arn.clone();
    demo.setup("MariaDB", format!("127.0.0.1:3306, database `{DATABASE}` (re-created empty), user `{user}` (the secret template's) with a new password"));
    demo.setup(
        "moto",
        format!(
            "{}: the RDS secret {}\nand the bucket of the presigned ResponseURLs",
            r.moto.url, r.secret_arn
        ),
    );
    demo.setup("cargo lambda watch", format!("127.0.0.1:{} (invoke API and runtime API, --only-lambda-apis): the function is the asset's bootstrap, started with LAMBDA_TASK_ROOT at the asset", r.emulator.port));

    // The function's environment: the template's, with two local overrides.
    let mut env = s1.function_env.clone();
    let mut overrides = Vec::new();
    if env
        .iter()
        .any(|(k, v)| k == "SCHEMAGATE_SSL_MODE" && v != "preferred" && v != "disabled")
    {
        env.retain(|(k, _)| k != "SCHEMAGATE_SSL_MODE");
        env.push(("SCHEMAGATE_SSL_MODE".into(), "preferred".into()));
        overrides.push("SCHEMAGATE_SSL_MODE=preferred (RDS is TLS-only; the local MariaDB may have no certificate)".to_string());
    }
    if let Some(t) = s1.timeout_seconds {
        env.push(("SCHEMAGATE_BUDGET_SECONDS".into(), t.to_string()));
        overrides.push(format!("SCHEMAGATE_BUDGET_SECONDS={t} (the function's Timeout: the emulator's deadline is not a time)"));
    }
    demo.setup("function env", overrides.join("\n"));

    // The maintenance page's listener: the example's network stack exports
    // its ALB listener (construct id `Http` of `Alb`); here an ALB in
    // moto's ELBv2 stands in for it.
    let listener_arn = r.moto.listener("schemagate-demo").await?;
    demo.setup(
        "ALB listener",
        format!("{listener_arn} (moto's ELBv2; the network stack's export `…AlbHttp…` the DataStack imports for the maintenance page)"),
    );
    let secret_id = s1.secret_logical_id.clone();
    let (secret_arn, fn_id) = (r.secret_arn.clone(), s1.function_logical_id.clone());
    let lookup = move |id: &str, attr: Option<&str>| -> Option<String> {
        if Some(id) == secret_id.as_deref() && attr.is_none() {
            Some(secret_arn.clone())
        } else if id == fn_id && attr == Some("Arn") {
            Some(function_arn.clone())
        } else if attr == Some("Fn::ImportValue") && id.contains("AlbHttp") {
            Some(listener_arn.clone())
        } else {
            None
        }
    };
    let props: Vec<Value> = synthesized
        .iter()
        .map(|s| cdk::resolve(&s.properties, &lookup))
        .collect::<Result<_>>()?;
    let code: Vec<Package> = synthesized
        .iter()
        .map(|s| Package::existing(&s.package_dir))
        .collect::<Result<_>>()?;
    for (c, m) in code.iter().zip(&releases) {
        let packaged = Migrations::read(&c.dir.join("migrations"))?;
        demo.expect(
            &packaged == m,
            format!(
                "the package {} does not hold the release's migrations",
                c.dir.display()
            ),
        );
    }

    println!(
        "\ntimeline ({} `{}` in stack {}; the function's log, kept if anything differs: {})",
        RESOURCE_TYPE,
        s1.logical_id,
        s1.stack,
        r.dir().join("function.log").display()
    );
    println!(
        "{:>8}  {:<50} {:<8} {:<4} {:>7}  Data",
        "time", "step", "status", "db", "elapsed"
    );
    demo.started = Instant::now();
    let (v1, v2) = (releases[0].latest_version(), releases[1].latest_version());

    // 1. Create.
    r.run_package(&code[0], &env, 1)?;
    let res = r.create(&props[0]).await?;
    let db = r.db.schema_version().await;
    demo.timeline(
        "1 Create: deploy release 1",
        &res,
        db,
        &Expect::Success { version: v1 },
    );
    let tables = r.db.all_tables().await;
    demo.expect(
        tables
            == names(&[
                "_schemagate_history",
                "_sqlx_migrations",
                "orders",
                "plans",
                "users",
            ]),
        format!("tables after the Create: {tables:?}"),
    );
    r.db.exec("INSERT INTO users (email) VALUES ('ada@example.com'), ('grace@example.com'); INSERT INTO orders (user_id, total_cents) SELECT id, 4200 FROM users").await;
    demo.note(format!(
        "the app runs on v{v1} and writes 2 users and 2 orders"
    ));
    let written = app_data(&r).await;

    // 2. Update to release 2.
    r.run_package(&code[1], &env, 1)?;
    let res = r.update(&props[1], &props[0]).await?;
    let db = r.db.schema_version().await;
    demo.timeline(
        "2 Update: deploy release 2 (two more migrations)",
        &res,
        db,
        &Expect::Success { version: v2 },
    );
    demo.expect(
        r.db.all_tables().await.contains("invoices"),
        "release 2 should have created `invoices`",
    );

    // 3. A later resource fails: the rollback Update, run by the new code.
    demo.note("dev-data: a resource after the migrations fails (simulated) → UPDATE_ROLLBACK with release 1's properties");
    let res = r.update(&props[0], &props[1]).await?;
    let db = r.db.schema_version().await;
    demo.timeline(
        "3 rollback Update: back to release 1",
        &res,
        db,
        &Expect::Success { version: v1 },
    );
    demo.expect(
        !r.db.all_tables().await.contains("invoices"),
        "the rollback should have dropped `invoices`",
    );
    demo.expect(
        app_data(&r).await == written,
        "the app's users and orders changed in the rollback",
    );
    demo.note(format!(
        "the app's data is intact ({written}); the function's code rolls back to release 1"
    ));
    r.run_package(&code[0], &env, 1)?;

    // 4. A release with a broken migration, and CloudFormation's rollback.
    r.run_package(&code[2], &env, 1)?;
    let res = r.update(&props[2], &props[0]).await?;
    let db = r.db.schema_version().await;
    let reason = vec![
        format!("failed at `{}`", BROKEN_INDEX.0),
        BROKEN_INDEX_ERROR.to_string(),
        format!("schema is at version {v2}"),
    ];
    demo.timeline(
        "4 Update: deploy release 3 (broken migration)",
        &res,
        db,
        &Expect::Failed {
            version: v2,
            reason,
        },
    );
    let res = r.update(&props[0], &props[2]).await?;
    let db = r.db.schema_version().await;
    demo.timeline(
        "4b UPDATE_ROLLBACK: back to release 1",
        &res,
        db,
        &Expect::Success { version: v1 },
    );
    demo.expect(
        app_data(&r).await == written,
        "the app's users and orders changed in the failed deploy",
    );
    r.run_package(&code[0], &env, 1)?;

    // 5. Release 2 again, then Jenkins "rolls back" by redeploying release 1.
    jenkins(&mut demo, &mut r, &code, &props, &env, (v1, v2), &written).await?;

    // 6. Delete: nothing in the database changes.
    let before = r.db.snapshot().await;
    let res = r.delete(&props[0]).await?;
    let db = r.db.schema_version().await;
    demo.timeline(
        "6 Delete: the stack goes away",
        &res,
        db,
        &Expect::Deleted { version: v1 },
    );
    demo.expect(
        r.db.snapshot().await == before,
        "Delete changed the database",
    );
    demo.note(format!(
        "database `{DATABASE}` untouched: tables, history and the app's data as before"
    ));

    // 7. An online rename with both releases serving.
    online(&mut demo, work).await?;

    // The log.
    match r.check_logs() {
        Ok(()) => println!("\n  the function's log holds neither the database password nor a ResponseURL signature"),
        Err(e) => demo.expect(false, format!("{e:#}")),
    }

    drop(r);
    if demo.differences.is_empty() {
        println!("\nall 9 steps as expected: the deploy, its rollback, a failed release, a redeployed older build and the stack's deletion keep schema and software together, and an online rename ran with both releases serving");
        println!("(database `{DATABASE}` is left for a look: mysql -uroot -h127.0.0.1 {DATABASE})");
        Ok(true)
    } else {
        println!(
            "\n{} difference(s) from what is expected:",
            demo.differences.len()
        );
        for d in &demo.differences {
            println!("  - {d}");
        }
        Ok(false)
    }
}

/// Step 7: `ALTER TABLE items RENAME COLUMN name TO title` marked online,
/// on 100k rows, in a database of its own; the old release (SQL with
/// `name`) serves through the expand, the new one (`title`) from then on,
/// the old one stops ("the fleet is replaced") and the next release's
/// Update contracts. The figures, and what must hold.
async fn online(demo: &mut Demo, work: &Path) -> Result<()> {
    let case = proof::RENAME;
    let options = Options {
        parent_dir: Some(work.to_path_buf()),
        ..Options::test("demo_online")
    };
    let mut r = Rehearsal::start_with(options).await?;
    demo.note(format!(
        "7: `{}` (online) on {}k rows in `{}`, two app releases serving (at most {} statements/s each)",
        case.up.lines().nth(1).unwrap_or_default(),
        case.rows / 1000,
        r.db.name,
        online::RATE
    ));
    let t = Instant::now();
    let p = proof::prove(&mut r, &case, proof::PACE).await?;
    let at = format!("+{:.1}s", demo.started.elapsed().as_secs_f64());
    for (step, res) in [
        ("7 Update: expand (old release serving)", &p.expand),
        ("7b Update: the next release contracts", &p.contract),
    ] {
        println!(
            "{at:>8}  {step:<50} {:<8} {:<4} {:>7}  {}",
            res.status.to_string(),
            "-",
            format!("{:.2} s", res.elapsed.as_secs_f64()),
            res.data_line()
        );
    }
    for line in p.report(&case).lines().skip(1) {
        demo.note(line.trim());
    }
    demo.note(format!(
        "longest single query of the old release during the expand: {:.3} s; the step took {:.1} s",
        p.expand_stall().as_secs_f64(),
        t.elapsed().as_secs_f64()
    ));
    if let Err(e) = p.check() {
        demo.expect(false, format!("7: {e:#}"));
    }
    demo.expect(
        p.expand_stall() < Duration::from_secs(1),
        "7: a query of the old release waited a second or more during the expand",
    );
    demo.expect(
        r.db.columns("items").await == ["id", "title", "total", "nick", "legacy"],
        "7: after the contract `items` should have `title` and no `name`",
    );
    Ok(())
}

/// Release 2 deployed again, then Jenkins' usual "rollback": it redeploys
/// release 1's build, whose package lacks release 2's migrations; its
/// Update reverts them with the down scripts the database keeps.
async fn jenkins(
    demo: &mut Demo,
    r: &mut Rehearsal,
    code: &[Package],
    props: &[Value],
    env: &[(String, String)],
    (v1, v2): (i64, i64),
    written: &str,
) -> Result<()> {
    r.run_package(&code[1], env, 1)?;
    let res = r.update(&props[1], &props[0]).await?;
    let db = r.db.schema_version().await;
    demo.timeline(
        "5 Update: deploy release 2 again",
        &res,
        db,
        &Expect::Success { version: v2 },
    );
    demo.note(
        "Jenkins \"rolls back\" by redeploying release 1's build: its package holds v1..v6 only",
    );
    r.run_package(&code[0], env, 1)?;
    let res = r.update(&props[0], &props[1]).await?;
    let db = r.db.schema_version().await;
    demo.timeline(
        "5b Jenkins redeploys release 1",
        &res,
        db,
        &Expect::Success { version: v1 },
    );
    demo.expect(
        res.reason.contains("the down scripts of 0008_add_orders_status, 0007_create_invoices came from the database"),
        "5b: the Reason should name the down scripts that came from the database",
    );
    demo.expect(
        !r.db.all_tables().await.contains("invoices"),
        "the redeployed release 1 should have dropped `invoices`",
    );
    demo.expect(
        app_data(r).await == written,
        "the app's users and orders changed when release 1 was redeployed",
    );
    demo.note(format!(
        "release 1's code reverted release 2's migrations with the down scripts kept in `_schemagate_history`; the app's data is intact ({written})"
    ));
    Ok(())
}

/// Rows the app wrote, as a comparable line.
async fn app_data(r: &Rehearsal) -> String {
    format!(
        "{} users, {} orders, {} plans",
        r.db.rows("users").await,
        r.db.rows("orders").await,
        r.db.rows("plans").await
    )
}

fn names(n: &[&str]) -> BTreeSet<String> {
    n.iter().map(|s| s.to_string()).collect()
}

/// `SecretArn={Ref …} TargetVersion=6 …` without the service token.
fn properties_line(p: &Value) -> String {
    let Some(m) = p.as_object() else {
        return p.to_string();
    };
    m.iter()
        .filter(|(k, _)| k.as_str() != "ServiceToken")
        .map(|(k, v)| match v {
            Value::String(s) if s.len() > 16 => format!("{k}={}…", &s[..12]),
            Value::String(s) => format!("{k}={s}"),
            other => format!("{k}={other}"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn short(p: &Path) -> String {
    let root = workspace_root();
    p.strip_prefix(&root)
        .map(PathBuf::from)
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
}
