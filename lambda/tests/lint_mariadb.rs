//! The `blocking` rules for MariaDB are claims about the server: "this
//! ALTER copies the table" / "needs a lock". Check each against the real
//! MariaDB: the rule's example must be refused with ALGORITHM=INPLACE (for
//! `copy-*`) or LOCK=NONE (for `lock-*`), and its look-alike accepted.

use schemagate::lint::rules::{Engines, PRELUDE_MARIADB};
use schemagate::lint::{Id, Severity, RULES};
use sqlx::{AssertSqlSafe, Executor, MySqlConnection};
use testkit::TestDb;

async fn fresh() -> (TestDb, MySqlConnection) {
    let db = TestDb::mariadb("blocking").await;
    // utf8mb4, as on RDS: VARCHAR(50) is 200 bytes, VARCHAR(100) 400.
    db.exec(&format!("ALTER DATABASE {} CHARACTER SET utf8mb4", db.name))
        .await;
    let mut c = db.my().await;
    c.execute(sqlx::raw_sql(AssertSqlSafe(PRELUDE_MARIADB.to_string())))
        .await
        .unwrap();
    (db, c)
}

/// Run `sql` online-only: the last statement under ALGORITHM=INPLACE (copy
/// rules) or with LOCK=NONE (lock rules). `Err` = the server refused.
async fn online(c: &mut MySqlConnection, id: &str, sql: &str) -> Result<(), String> {
    let statements: Vec<&str> = sql
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let (last, before) = statements.split_last().unwrap();
    for s in before {
        c.execute(sqlx::raw_sql(AssertSqlSafe(s.to_string())))
            .await
            .map_err(|e| e.to_string())?;
    }
    let last = if id.starts_with("lock-") {
        if last.to_ascii_uppercase().starts_with("CREATE") {
            format!("{last} LOCK=NONE")
        } else {
            format!("{last}, LOCK=NONE")
        }
    } else {
        c.execute("SET SESSION alter_algorithm = 'INPLACE'")
            .await
            .unwrap();
        last.to_string()
    };
    let r = c
        .execute(sqlx::raw_sql(AssertSqlSafe(last)))
        .await
        .map(|_| ())
        .map_err(|e| e.to_string());
    c.execute("SET SESSION alter_algorithm = DEFAULT")
        .await
        .unwrap();
    r
}

#[tokio::test]
async fn every_mariadb_blocking_rule_is_what_mariadb_does() {
    let mut checked = Vec::new();
    let mut wrong = Vec::new();
    for r in RULES
        .iter()
        .filter(|r| r.severity == Severity::Blocking && r.engines == Engines::MariaDb)
    {
        if r.id == Id::CopyAlgorithm {
            continue; // says so itself
        }
        let (_db, mut c) = fresh().await;
        match online(&mut c, r.id.as_str(), r.example).await {
            Err(e) if e.contains("not supported") || e.contains("1846") || e.contains("1845") => {}
            Err(e) => wrong.push(format!("{}: example failed for another reason: {e}", r.id)),
            Ok(()) => wrong.push(format!(
                "{}: MariaDB ran the example online: {}",
                r.id, r.example
            )),
        }
        let (_db, mut c) = fresh().await;
        if let Err(e) = online(&mut c, r.id.as_str(), r.lookalike).await {
            wrong.push(format!(
                "{}: MariaDB refused the look-alike online: {e}",
                r.id
            ));
        }
        checked.push(r.id);
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
    assert!(checked.len() >= 10, "{checked:?}");
}
