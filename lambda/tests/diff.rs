//! `schemagate diff --url A --url B` on MariaDB and PostgreSQL: the same
//! schema built twice compares equal whatever the bookkeeping tables hold;
//! each kind of difference — a table, a column's type, nullability and
//! default, an index, a foreign key's rule, a check — is listed, exit 1;
//! two engines or an unreachable database are errors.

pub mod kit;

use kit::schemagate;
use serde_json::Value;
use testkit::{text, Kind, TestDb};

const SCHEMA_MY: &str = "CREATE TABLE account (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, email VARCHAR(255) NOT NULL, name VARCHAR(200) NULL, status VARCHAR(16) NOT NULL DEFAULT 'active', UNIQUE KEY ix_email (email), KEY ix_name (name(20)));
CREATE TABLE plan (id INT NOT NULL PRIMARY KEY, code VARCHAR(20) NOT NULL, CONSTRAINT ck_code CHECK (code <> ''));
CREATE TABLE subscription (id INT NOT NULL PRIMARY KEY, account_id INT NOT NULL, plan_id INT NOT NULL, CONSTRAINT fk_account FOREIGN KEY (account_id) REFERENCES account (id) ON DELETE CASCADE, CONSTRAINT fk_plan FOREIGN KEY (plan_id) REFERENCES plan (id));
CREATE VIEW active_account AS SELECT id, email FROM account WHERE status = 'active';";

const SCHEMA_PG: &str = "CREATE TABLE account (id SERIAL PRIMARY KEY, email VARCHAR(255) NOT NULL, name VARCHAR(200) NULL, status VARCHAR(16) NOT NULL DEFAULT 'active');
CREATE UNIQUE INDEX ix_email ON account (email);
CREATE INDEX ix_name ON account (lower(name));
CREATE TABLE plan (id INT PRIMARY KEY, code VARCHAR(20) NOT NULL, CONSTRAINT ck_code CHECK (code <> ''));
CREATE TABLE subscription (id INT PRIMARY KEY, account_id INT NOT NULL, plan_id INT NOT NULL, CONSTRAINT fk_account FOREIGN KEY (account_id) REFERENCES account (id) ON DELETE CASCADE, CONSTRAINT fk_plan FOREIGN KEY (plan_id) REFERENCES plan (id));
CREATE VIEW active_account AS SELECT id, email FROM account WHERE status = 'active';";

async fn pair(kind: Kind, tag: &str) -> (TestDb, TestDb) {
    let (a, b, sql) = match kind {
        Kind::MariaDb => (
            TestDb::mariadb(&format!("{tag}_a")).await,
            TestDb::mariadb(&format!("{tag}_b")).await,
            SCHEMA_MY,
        ),
        Kind::Postgres => (
            TestDb::postgres(&format!("{tag}_a")).await,
            TestDb::postgres(&format!("{tag}_b")).await,
            SCHEMA_PG,
        ),
    };
    a.exec(sql).await;
    b.exec(sql).await;
    (a, b)
}

fn diff(a: &TestDb, b: &TestDb, json: bool) -> (Option<i32>, String, String) {
    let (ua, ub) = (a.url(), b.url());
    let mut args = vec!["diff", "--url", ua.as_str(), "--url", ub.as_str()];
    if json {
        args.push("--json");
    }
    let o = schemagate(&args);
    let (out, err) = text(&o);
    (o.status.code(), out, err)
}

async fn same_schema_compares_equal_whatever_the_bookkeeping(kind: Kind) {
    let (a, b) = pair(kind, "diffsame").await;
    // Bookkeeping in one of them only: not part of the schema.
    a.exec("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
        .await;
    a.exec("INSERT INTO alembic_version VALUES ('f5ab2e8f4c9e')")
        .await;
    b.exec("CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY)")
        .await;
    let (code, out, err) = diff(&a, &b, false);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("have the same schema: 4 tables, 11 columns"),
        "{out}"
    );
    assert!(
        out.contains("not compared: _sqlx_migrations, _schemagate_history, alembic_version"),
        "{out}"
    );
}

#[tokio::test]
async fn mariadb_same_schema_compares_equal_whatever_the_bookkeeping() {
    same_schema_compares_equal_whatever_the_bookkeeping(Kind::MariaDb).await;
}

#[tokio::test]
async fn postgres_same_schema_compares_equal_whatever_the_bookkeeping() {
    same_schema_compares_equal_whatever_the_bookkeeping(Kind::Postgres).await;
}

/// Change `b` in every way the diff must see; the listed differences.
async fn every_kind_of_difference_is_listed(kind: Kind, changes: &str, expected: &[&str]) {
    let (a, b) = pair(kind, "diffkinds").await;
    b.exec(changes).await;
    let (code, out, err) = diff(&a, &b, false);
    assert_eq!(code, Some(1), "{out}{err}");
    for e in expected {
        assert!(
            out.lines().any(|l| l.trim() == *e),
            "missing `{e}` in:\n{out}"
        );
    }
    assert!(
        out.trim_end()
            .ends_with(&format!("{} differences", expected.len())),
        "{out}"
    );
    let (code, out, _) = diff(&a, &b, true);
    assert_eq!(code, Some(1));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["same"], false);
    assert_eq!(v["differences"].as_array().unwrap().len(), expected.len());
    assert_eq!(v["exit_code"], 1);
}

#[tokio::test]
async fn mariadb_every_kind_of_difference_is_listed() {
    every_kind_of_difference_is_listed(
        Kind::MariaDb,
        "ALTER TABLE account MODIFY name VARCHAR(80) NULL;
         ALTER TABLE account MODIFY email VARCHAR(255) NULL;
         ALTER TABLE account ALTER status SET DEFAULT 'new';
         ALTER TABLE account DROP INDEX ix_name;
         ALTER TABLE subscription DROP FOREIGN KEY fk_account;
         ALTER TABLE subscription ADD CONSTRAINT fk_account FOREIGN KEY (account_id) REFERENCES account (id);
         ALTER TABLE plan DROP CONSTRAINT ck_code;
         CREATE TABLE extra (id INT);",
        &[
            "column account.name: `varchar(200) COLLATE utf8mb4_general_ci NULL` in A, `varchar(80) COLLATE utf8mb4_general_ci NULL` in B",
            "column account.email: `varchar(255) COLLATE utf8mb4_general_ci NOT NULL` in A, `varchar(255) COLLATE utf8mb4_general_ci NULL` in B",
            "column account.status: `varchar(16) COLLATE utf8mb4_general_ci NOT NULL DEFAULT 'active'` in A, `varchar(16) COLLATE utf8mb4_general_ci NOT NULL DEFAULT 'new'` in B",
            "index account.ix_name: only in A",
            // A view's column is as nullable as the column it shows.
            "column active_account.email: `varchar(255) COLLATE utf8mb4_general_ci NOT NULL` in A, `varchar(255) COLLATE utf8mb4_general_ci NULL` in B",
            "constraint plan.ck_code: only in A",
            "constraint subscription.fk_account: `FOREIGN KEY (account_id) REFERENCES account (id) ON UPDATE RESTRICT ON DELETE CASCADE` in A, `FOREIGN KEY (account_id) REFERENCES account (id) ON UPDATE RESTRICT ON DELETE RESTRICT` in B",
            "table extra: only in B",
        ],
    )
    .await;
}

#[tokio::test]
async fn postgres_every_kind_of_difference_is_listed() {
    every_kind_of_difference_is_listed(
        Kind::Postgres,
        "ALTER TABLE account ALTER COLUMN name TYPE VARCHAR(80);
         ALTER TABLE account ALTER COLUMN email DROP NOT NULL;
         ALTER TABLE account ALTER COLUMN status SET DEFAULT 'new';
         DROP INDEX ix_name;
         CREATE INDEX ix_name ON account (name);
         ALTER TABLE subscription DROP CONSTRAINT fk_account;
         ALTER TABLE subscription ADD CONSTRAINT fk_account FOREIGN KEY (account_id) REFERENCES account (id);
         ALTER TABLE plan DROP CONSTRAINT ck_code;
         CREATE TABLE extra (id INT);",
        &[
            "column account.name: `character varying(200) NULL` in A, `character varying(80) NULL` in B",
            "column account.email: `character varying(255) NOT NULL` in A, `character varying(255) NULL` in B",
            "column account.status: `character varying(16) NOT NULL DEFAULT 'active'::character varying` in A, `character varying(16) NOT NULL DEFAULT 'new'::character varying` in B",
            "index account.ix_name: `CREATE INDEX ix_name ON account USING btree (lower((name)::text))` in A, `CREATE INDEX ix_name ON account USING btree (name)` in B",
            "constraint plan.ck_code: only in A",
            "constraint subscription.fk_account: `FOREIGN KEY (account_id) REFERENCES account(id) ON DELETE CASCADE` in A, `FOREIGN KEY (account_id) REFERENCES account(id)` in B",
            "table extra: only in B",
        ],
    )
    .await;
}

#[tokio::test]
async fn two_engines_or_a_database_that_cannot_be_had_are_errors() {
    let my = TestDb::mariadb("diffengines").await;
    let pg = TestDb::postgres("diffengines").await;
    let (code, _, err) = diff(&my, &pg, false);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("are of different engines"), "{err}");
    let o = schemagate(&[
        "diff",
        "--url",
        &my.url(),
        "--url",
        "mysql://root:S3cretPw@127.0.0.1:3306/sg_no_such_database",
    ]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(3), "{out}{err}");
    assert!(
        err.contains("cannot connect to mariadb://127.0.0.1:3306/sg_no_such_database"),
        "{err}"
    );
    assert!(
        !out.contains("S3cretPw") && !err.contains("S3cretPw"),
        "{err}"
    );
    let o = schemagate(&["diff", "--url", &my.url()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("give --url twice (got 1)"));
}
