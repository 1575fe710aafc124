use super::*;
use crate::online::change::read;
use crate::online::facts::{ColumnFact, IndexFact};
use crate::online::marker::Args;

fn col(name: &str, ty: &str, nullable: bool, default: Option<&str>) -> ColumnFact {
    ColumnFact {
        name: name.into(),
        column_type: ty.into(),
        nullable,
        default: default.map(Into::into),
        ..ColumnFact::default()
    }
}

fn users() -> Facts {
    Facts {
        table: "users".into(),
        kind: Some("BASE TABLE".into()),
        columns: vec![
            col("id", "bigint(20)", false, None),
            col("email", "varchar(50)", false, None),
            col("plan", "varchar(20)", false, Some("'free'")),
            col("nick", "varchar(20)", true, None),
        ],
        primary_key: vec!["id".into()],
        indexes: vec![IndexFact {
            name: "u_email".into(),
            unique: true,
            columns: vec![("email".into(), None)],
        }],
        ..Facts::default()
    }
}

fn planned(sql: &str, args: Args, facts: &Facts) -> Result<Plan, String> {
    plan(7, &read(&[sql], args)?, facts)
}

#[test]
fn rename_column_adds_the_new_one_beside_keeps_both_in_step_and_moves_the_index() {
    let p = planned(
        "ALTER TABLE users RENAME COLUMN email TO email_address",
        Args::default(),
        &users(),
    )
    .unwrap();
    // One statement under LOCK TABLES: no INSERT of the running release
    // (which leaves `email_address` out) meets the column without its trigger.
    assert_eq!(p.expand.len(), 1);
    let parts: Vec<&str> = p.expand[0].split("; ").collect();
    assert_eq!(parts[0], "LOCK TABLES `users` WRITE");
    assert_eq!(parts[1], "ALTER TABLE `users` ADD COLUMN IF NOT EXISTS `email_address` varchar(50) NOT NULL AFTER `email`, LOCK=NONE");
    assert!(p.expand[0].contains("CREATE OR REPLACE TRIGGER `_sg_7_ins` BEFORE INSERT ON `users` FOR EACH ROW BEGIN IF NEW.`email_address` IS NULL THEN SET NEW.`email_address` = NEW.`email`; ELSE SET NEW.`email` = NEW.`email_address`; END IF; END; "), "{}", p.expand[0]);
    assert!(p.expand[0].contains("CREATE OR REPLACE TRIGGER `_sg_7_upd` BEFORE UPDATE ON `users` FOR EACH ROW BEGIN IF @schemagate_backfill IS NULL THEN IF NOT (NEW.`email_address` <=> OLD.`email_address`) THEN SET NEW.`email` = NEW.`email_address`; ELSEIF NOT (NEW.`email` <=> OLD.`email`) THEN SET NEW.`email_address` = NEW.`email`; END IF; END IF; END; UNLOCK TABLES"), "{}", p.expand[0]);
    let b = p.backfill.unwrap();
    assert_eq!(
        (b.key.as_str(), b.set.as_str(), b.pending.as_str()),
        (
            "id",
            "`email_address` = `email`",
            "NOT (`email_address` <=> `email`)"
        )
    );
    assert_eq!(p.finish, ["ALTER TABLE `users` ADD UNIQUE INDEX IF NOT EXISTS `_sg_7_u_email` (`email_address`), LOCK=NONE"]);
    // The contract runs its ALTER only while the old column is there: run
    // again after a kill that left it unrecorded, it drops no index.
    assert_eq!(p.contract, ["LOCK TABLES `users` WRITE; DROP TRIGGER IF EXISTS `_sg_7_ins`; DROP TRIGGER IF EXISTS `_sg_7_upd`; BEGIN NOT ATOMIC IF EXISTS (SELECT 1 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'users' AND COLUMN_NAME = 'email') THEN ALTER TABLE `users` DROP INDEX `u_email`, DROP COLUMN `email`, RENAME INDEX `_sg_7_u_email` TO `u_email`, LOCK=NONE; END IF; END; UNLOCK TABLES"]);
    assert_eq!(p.revert, ["LOCK TABLES `users` WRITE; DROP TRIGGER IF EXISTS `_sg_7_ins`; DROP TRIGGER IF EXISTS `_sg_7_upd`; ALTER TABLE `users` DROP INDEX IF EXISTS `_sg_7_u_email`, DROP COLUMN IF EXISTS `email_address`, LOCK=NONE; UNLOCK TABLES"]);
}

#[test]
fn a_type_change_converts_both_ways_and_the_default_comes_at_contract() {
    let args = Args {
        up: Some("plan = 'pro'".into()),
        down: Some("IF(is_pro, 'pro', 'free')".into()),
        fill: None,
    };
    let p = planned(
        "ALTER TABLE users CHANGE plan is_pro BOOLEAN NOT NULL DEFAULT FALSE",
        args,
        &users(),
    )
    .unwrap();
    assert!(p.expand[0].contains("SET NEW.`is_pro` = NEW.plan = 'pro'; ELSE SET NEW.`plan` = IF(NEW.is_pro, 'pro', 'free')"), "{}", p.expand[0]);
    assert!(
        p.contract[0].ends_with(
            "DROP COLUMN `plan`, ALTER COLUMN `is_pro` SET DEFAULT false, LOCK=NONE; END IF; END; UNLOCK TABLES"
        ),
        "{}",
        p.contract[0]
    );
    let e = planned(
        "ALTER TABLE users CHANGE nick nickname VARCHAR(20) NOT NULL",
        Args::default(),
        &users(),
    )
    .unwrap_err();
    assert!(e.contains("give `fill="), "{e}");
}

#[test]
fn not_null_and_new_not_null_columns_fill_what_the_old_release_leaves_null() {
    let fill = Args {
        fill: Some("'anon'".into()),
        ..Args::default()
    };
    let p = planned(
        "ALTER TABLE users MODIFY nick VARCHAR(20) NOT NULL",
        fill.clone(),
        &users(),
    )
    .unwrap();
    assert_eq!(p.expand[0], "CREATE OR REPLACE TRIGGER `_sg_7_ins` BEFORE INSERT ON `users` FOR EACH ROW BEGIN IF NEW.`nick` IS NULL THEN SET NEW.`nick` = 'anon'; END IF; END");
    assert_eq!(p.backfill.unwrap().pending, "`nick` IS NULL");
    assert_eq!(
        p.contract[2],
        "ALTER TABLE `users` MODIFY COLUMN `nick` VARCHAR(20) NOT NULL"
    );
    assert_eq!(p.revert.len(), 2);
    let p = planned(
        "ALTER TABLE users ADD COLUMN city VARCHAR(40) NOT NULL AFTER nick",
        fill,
        &users(),
    )
    .unwrap();
    assert_eq!(p.expand[0], "ALTER TABLE `users` ADD COLUMN IF NOT EXISTS `city` VARCHAR(40) NULL AFTER `nick`, LOCK=NONE");
    assert_eq!(
        p.revert[2],
        "ALTER TABLE `users` DROP COLUMN IF EXISTS `city`, LOCK=NONE"
    );
}

#[test]
fn drop_column_gives_a_not_null_column_a_default_until_contract() {
    let p = planned(
        "ALTER TABLE users DROP COLUMN nick",
        Args::default(),
        &users(),
    )
    .unwrap();
    assert!(p.expand.is_empty() && p.revert.is_empty());
    assert_eq!(
        p.contract,
        ["ALTER TABLE `users` DROP COLUMN IF EXISTS `nick`"]
    );
    let mut f = users();
    f.indexes.clear();
    let e = planned("ALTER TABLE users DROP COLUMN email", Args::default(), &f).unwrap_err();
    assert!(e.contains("give `fill=<value>`"), "{e}");
    let p = planned(
        "ALTER TABLE users DROP COLUMN email",
        Args {
            fill: Some("''".into()),
            ..Args::default()
        },
        &f,
    )
    .unwrap();
    assert_eq!(
        p.expand,
        ["ALTER TABLE `users` ALTER COLUMN `email` SET DEFAULT ''"]
    );
    assert_eq!(
        p.revert,
        ["ALTER TABLE `users` ALTER COLUMN `email` DROP DEFAULT"]
    );
    let e = planned(
        "ALTER TABLE users DROP COLUMN email",
        Args::default(),
        &users(),
    )
    .unwrap_err();
    assert!(e.contains("unique index `u_email`"), "{e}");
}

#[test]
fn rename_table_swaps_names_in_one_rename_so_no_query_sees_a_missing_one() {
    let p = planned("RENAME TABLE users TO accounts", Args::default(), &users()).unwrap();
    // Each swap only while the names are not swapped yet: run again after
    // a kill that left it unrecorded, it does nothing.
    assert_eq!(
        p.expand[2],
        "BEGIN NOT ATOMIC IF (SELECT TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'users') = 'BASE TABLE' THEN RENAME TABLE `accounts` TO `_sg_7_gone`, `users` TO `accounts`, `_sg_7_view` TO `users`; END IF; END"
    );
    assert_eq!(p.contract, ["DROP VIEW IF EXISTS `users`"]);
    assert_eq!(
        p.revert[0],
        "BEGIN NOT ATOMIC IF (SELECT TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'accounts') = 'BASE TABLE' THEN RENAME TABLE `users` TO `_sg_7_gone`, `accounts` TO `users`; END IF; END"
    );
    assert_eq!(p.revert[2], "BEGIN NOT ATOMIC IF (SELECT TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'accounts') = 'VIEW' THEN DROP VIEW `accounts`; END IF; END");
    assert_eq!(p.revert[3], "DROP VIEW IF EXISTS `_sg_7_view`");
}

#[test]
fn what_cannot_stay_in_step_is_refused_with_the_reason() {
    let mut f = users();
    f.foreign_keys.push((
        "fk_o".into(),
        "orders".into(),
        vec!["email".into()],
        "users".into(),
        vec!["email".into()],
    ));
    let e = planned(
        "ALTER TABLE users RENAME COLUMN email TO mail",
        Args::default(),
        &f,
    )
    .unwrap_err();
    assert!(e.contains("foreign key `fk_o`"), "{e}");
    let mut f = users();
    f.primary_key.clear();
    let e = planned(
        "ALTER TABLE users RENAME COLUMN email TO mail",
        Args::default(),
        &f,
    )
    .unwrap_err();
    assert!(e.contains("has no primary key"), "{e}");
    let mut f = users();
    f.generation
        .push(("domain".into(), "substring_index(`email`,'@',-1)".into()));
    let e = planned(
        "ALTER TABLE users RENAME COLUMN email TO mail",
        Args::default(),
        &f,
    )
    .unwrap_err();
    assert!(e.contains("generated column `users.domain`"), "{e}");
    let e = planned(
        "ALTER TABLE users RENAME COLUMN id TO uid",
        Args::default(),
        &users(),
    )
    .unwrap_err();
    assert!(e.contains("primary key"), "{e}");
    let mut f = users();
    f.kind = None;
    assert!(planned("RENAME TABLE users TO a", Args::default(), &f)
        .unwrap_err()
        .contains("no table `users`"));
}
