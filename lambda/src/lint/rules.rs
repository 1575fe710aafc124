//! The rule table: every finding schemagate can report, with its reason, its
//! fix, and an example that triggers it next to a harmless look-alike that
//! does not. The tests run every row; `docs/breaking-migrations.md` shows it.
//! A rule is named by its [`Id`] (`Id::DropColumn`), so a misspelt rule is a
//! compile error; a new rule is one row of the `rules!` list.
//!
//! Examples are linted as migration `0002` on top of [`PRELUDE_MARIADB`] or
//! [`PRELUDE_POSTGRES`] (migration `0001`, already applied).

use std::fmt;

use serde::Serialize;

use crate::dialect::Dialect;

/// How a finding affects a deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Breaks the run itself (its database, transaction, session or
    /// lock): never runs, whatever the deploy allows.
    Refused,
    /// The release that is running now may fail against the new schema:
    /// refused unless marked `contract`, drained, or `AllowBreaking`.
    Breaking,
    /// schemagate could not tell what the statement does: treated like
    /// breaking, never silently as safe.
    Unknown,
    /// Safe for the running release, but the statement blocks writes to the
    /// table while it runs (MariaDB copies the table; PostgreSQL rewrites or
    /// scans it under a lock).
    Blocking,
    /// Worth a look; does not stop a deploy.
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Refused => "refused",
            Severity::Breaking => "breaking",
            Severity::Unknown => "unknown",
            Severity::Blocking => "blocking",
            Severity::Warning => "warning",
        }
    }

    /// Stops a deploy: needs a drain (or a `contract` marker, or
    /// `AllowBreaking`); a refused one never runs at all.
    pub fn gates(self) -> bool {
        matches!(
            self,
            Severity::Refused | Severity::Breaking | Severity::Unknown
        )
    }
}

/// Which databases a rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engines {
    Both,
    MariaDb,
    Postgres,
}

impl Engines {
    pub fn includes(self, dialect: Dialect) -> bool {
        match self {
            Engines::Both => true,
            Engines::MariaDb => dialect == Dialect::MariaDb,
            Engines::Postgres => dialect == Dialect::Postgres,
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct Rule {
    pub id: Id,
    pub severity: Severity,
    pub engines: Engines,
    /// Why it matters, one line.
    pub reason: &'static str,
    /// What to do about it, one line.
    pub fix: &'static str,
    /// A migration that triggers the rule.
    pub example: &'static str,
    /// A migration that looks alike and does not.
    pub lookalike: &'static str,
}

const CONTRACT_OR_DRAIN: &str =
    "mark the file \"-- schemagate: contract\" if the running release no longer uses it, or deploy with a drain target";

/// The schema every example runs against on MariaDB (as migration 0001).
pub const PRELUDE_MARIADB: &str = "CREATE TABLE users (
    id BIGINT NOT NULL PRIMARY KEY,
    email VARCHAR(50) NOT NULL,
    name VARCHAR(100) NULL,
    legacy_email VARCHAR(255) NULL,
    age INT NOT NULL DEFAULT 0,
    plan VARCHAR(20) NOT NULL DEFAULT 'free',
    status ENUM('active', 'blocked') NOT NULL DEFAULT 'active',
    bio TEXT NULL,
    UNIQUE KEY u_email (email),
    KEY i_name (name)
);
CREATE TABLE orders (id BIGINT NOT NULL PRIMARY KEY, user_id BIGINT NOT NULL, note VARCHAR(100) NULL);
CREATE TABLE logs (id BIGINT NOT NULL, msg TEXT NULL);
CREATE VIEW active_users AS SELECT id, email FROM users;
CREATE FUNCTION full_name(u BIGINT) RETURNS VARCHAR(100) DETERMINISTIC RETURN (SELECT name FROM users WHERE id = u);
CREATE TRIGGER orders_note BEFORE INSERT ON orders FOR EACH ROW SET NEW.note = COALESCE(NEW.note, '');
";

/// The schema every example runs against on PostgreSQL (as migration 0001).
pub const PRELUDE_POSTGRES: &str = "CREATE TABLE users (
    id BIGINT NOT NULL PRIMARY KEY,
    email VARCHAR(50) NOT NULL,
    name VARCHAR(100) NULL,
    age INT NOT NULL DEFAULT 0
);
CREATE TABLE orders (id BIGINT NOT NULL PRIMARY KEY, user_id BIGINT NOT NULL);
CREATE SEQUENCE invoice_numbers;
";

const CHECK_BY_HAND: &str = "check it by hand; if the running release is unaffected, mark the file \"-- schemagate: contract\", or deploy with a drain target";

/// Declares [`Id`] and [`RULES`] from one list, in one order, so every id
/// has exactly one row and [`Id::rule`] cannot miss: a misspelt id is a
/// compile error.
macro_rules! rules {
    ($($variant:ident: $id:literal { $($field:ident: $value:expr),+ $(,)? }),+ $(,)?) => {
        /// A rule's identity; shown as its kebab-case name (`drop-column`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Id {
            $($variant),+
        }

        impl Id {
            /// The name reports and `docs/breaking-migrations.md` show.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Id::$variant => $id),+
                }
            }
        }

        /// Every rule, in the order of [`Id`].
        pub static RULES: &[Rule] = &[$(Rule { id: Id::$variant, $($field: $value),+ }),+];
    };
}

impl Id {
    /// This id's row of [`RULES`].
    pub fn rule(self) -> &'static Rule {
        &RULES[self as usize]
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

rules! {
    // --- refused: never runs ---------------------------------------------------
    ChangeDatabase: "change-database" {
        severity: Severity::Refused,
        engines: Engines::Both,
        reason: "changes the database (or schema) the run's session works in: the history row and every later migration would land there",
        fix: "name the database or schema in the statements instead (`CREATE TABLE reporting.daily …`)",
        example: "USE reporting;",
        lookalike: "CREATE TABLE reporting.daily (id INT);",
    },
    SessionSetting: "session-setting" {
        severity: Severity::Refused,
        engines: Engines::Both,
        reason: "changes a session setting the run relies on (commit mode, binary logging, time limits, read-only, role, how the server reads SQL): what follows, the history row included, would not run as schemagate promises",
        fix: "remove it: schemagate sets up the session itself (--lock-wait, the deadline); a setting the whole run needs belongs in InitSql (--init-sql)",
        example: "SET autocommit = 1;",
        lookalike: "SET foreign_key_checks = 0;",
    },
    TransactionControl: "transaction-control" {
        severity: Severity::Refused,
        engines: Engines::Postgres,
        reason: "a PostgreSQL migration runs in one transaction with its history row: ending it early keeps what ran before when a later statement fails, while the history says nothing was applied",
        fix: "remove BEGIN/COMMIT (the migration already is one transaction), or split the file and start the part that manages its own transactions with `-- no-transaction` on its first line",
        example: "CREATE TABLE tx_a (id INT);\nCOMMIT;\nCREATE TABLE tx_b (id INT);",
        lookalike: "-- no-transaction\nBEGIN;\nCREATE TABLE tx_a (id INT);\nCOMMIT;",
    },
    XaRelease: "xa-release" {
        severity: Severity::Refused,
        engines: Engines::MariaDb,
        reason: "XA transactions and COMMIT or ROLLBACK … RELEASE take over or end the session the run records the migration in",
        fix: "remove it; plain START TRANSACTION, COMMIT and ROLLBACK are fine on MariaDB",
        example: "COMMIT RELEASE;",
        lookalike: "COMMIT;",
    },
    LockTables: "lock-tables" {
        severity: Severity::Refused,
        engines: Engines::MariaDb,
        reason: "holds table locks the run's history table is not part of, so the run cannot record the migration after its statements ran",
        fix: "remove it: DDL takes the locks it needs, and ALTER TABLE … LOCK=EXCLUSIVE holds one for a single statement",
        example: "LOCK TABLES users WRITE;",
        lookalike: "UNLOCK TABLES;",
    },
    ReleaseLock: "release-lock" {
        severity: Severity::Refused,
        engines: Engines::Both,
        reason: "can give up the migration lock the run holds, so a second run could start beside it",
        fix: "remove it: the run holds its own lock (GET_LOCK, pg_advisory_lock) for its whole length; a lock of your own can be left to the end of the session",
        example: "SELECT RELEASE_ALL_LOCKS();",
        lookalike: "SELECT GET_LOCK('backfill', 10);",
    },
    HistoryTable: "history-table" {
        severity: Severity::Refused,
        engines: Engines::Both,
        reason: "writes schemagate's own history table, in which the run is recording this migration",
        fix: "leave `_sqlx_migrations` to schemagate; repair a history by hand, outside the migrations",
        example: "DELETE FROM _sqlx_migrations WHERE version = 1;",
        lookalike: "SELECT version FROM _sqlx_migrations;",
    },
    Placeholder: "placeholder" {
        severity: Severity::Refused,
        engines: Engines::Both,
        reason: "a placeholder `schemagate import` wrote for a data migration it could not turn into SQL: running it would record the migration as applied while its data change never happened",
        fix: "write the SQL that does what the revision did (its comments say what) and delete the `-- schemagate: placeholder` line",
        example: "-- alembic: e49a1d7e3b8d normalize account emails\n-- schemagate: placeholder",
        lookalike: "-- alembic: e49a1d7e3b8d normalize account emails\nUPDATE users SET email = LOWER(email) WHERE email <> LOWER(email);",
    },
    Online: "online" {
        severity: Severity::Refused,
        engines: Engines::Both,
        reason: "marked `-- schemagate: online`, but schemagate cannot run it online (see the finding): running the statement as written would break the running release",
        fix: "write one of the changes docs/online-changes.md lists, with the arguments it needs, or remove the marker and drain",
        example: "-- schemagate: online\nALTER TABLE users DROP INDEX u_email;",
        lookalike: "-- schemagate: online\nALTER TABLE users RENAME COLUMN name TO full_name;",
    },
    // --- breaking -----------------------------------------------------------
    DropTable: "drop-table" {
        severity: Severity::Breaking,
        engines: Engines::Both,
        reason: "the running release may still read or write it",
        fix: CONTRACT_OR_DRAIN,
        example: "DROP TABLE logs;",
        lookalike: "CREATE TABLE staging (id INT);\nDROP TABLE staging;",
    },
    DropColumn: "drop-column" {
        severity: Severity::Breaking,
        engines: Engines::Both,
        reason: "the running release may still read or write it",
        fix: CONTRACT_OR_DRAIN,
        example: "ALTER TABLE users DROP COLUMN legacy_email;",
        lookalike: "ALTER TABLE users DROP INDEX i_name;",
    },
    RenameTable: "rename-table" {
        severity: Severity::Breaking,
        engines: Engines::Both,
        reason: "the running release still uses the old name",
        fix: "create the new table (or a view under the new name) first and drop the old one in a later release marked \"-- schemagate: contract\"; or deploy with a drain target",
        example: "RENAME TABLE orders TO purchases;",
        lookalike: "CREATE TABLE staging (id INT);\nRENAME TABLE staging TO archive;",
    },
    RenameColumn: "rename-column" {
        severity: Severity::Breaking,
        engines: Engines::Both,
        reason: "the running release still uses the old name",
        fix: "add the new column, write both, and drop the old one in a later release marked \"-- schemagate: contract\"; or deploy with a drain target",
        example: "ALTER TABLE users CHANGE name full_name VARCHAR(100) NULL;",
        lookalike: "ALTER TABLE users CHANGE name name VARCHAR(120) NULL;",
    },
    ChangeType: "change-type" {
        severity: Severity::Breaking,
        engines: Engines::Both,
        reason: "a narrower or different type can reject or truncate what the running release writes",
        fix: "add a column of the new type and move to it over two releases; or deploy with a drain target",
        example: "ALTER TABLE users MODIFY name VARCHAR(40) NULL;",
        lookalike: "ALTER TABLE users MODIFY name VARCHAR(120) NULL;",
    },
    SetNotNull: "set-not-null" {
        severity: Severity::Breaking,
        engines: Engines::Both,
        reason: "the running release may write NULL into it",
        fix: "give the column a default first, or make it NOT NULL in a later release marked \"-- schemagate: contract\"; or deploy with a drain target",
        example: "ALTER TABLE users MODIFY name VARCHAR(100) NOT NULL;",
        lookalike: "ALTER TABLE users MODIFY name VARCHAR(100) NULL;",
    },
    AddColumnNotNull: "add-column-not-null" {
        severity: Severity::Breaking,
        engines: Engines::Both,
        reason: "the running release inserts rows without it, which fail without a default",
        fix: "add it with a DEFAULT, or as NULL, and tighten it in a later release",
        example: "ALTER TABLE users ADD COLUMN country CHAR(2) NOT NULL;",
        lookalike: "ALTER TABLE users ADD COLUMN country CHAR(2) NOT NULL DEFAULT 'US';",
    },
    DropDefault: "drop-default" {
        severity: Severity::Breaking,
        engines: Engines::Both,
        reason: "the running release may insert rows relying on the default",
        fix: "drop the default in a later release marked \"-- schemagate: contract\"; or deploy with a drain target",
        example: "ALTER TABLE users ALTER COLUMN plan DROP DEFAULT;",
        lookalike: "ALTER TABLE users ALTER COLUMN plan SET DEFAULT 'team';",
    },
    AddUnique: "add-unique" {
        severity: Severity::Breaking,
        engines: Engines::Both,
        reason: "existing rows may hold duplicates, and the running release may write them",
        fix: "check the data and the running release first, then mark the file \"-- schemagate: contract\"; or deploy with a drain target",
        example: "CREATE UNIQUE INDEX u_name ON users (name);",
        lookalike: "CREATE INDEX i_name2 ON users (name);",
    },
    AddConstraint: "add-constraint" {
        severity: Severity::Breaking,
        engines: Engines::Both,
        reason: "the running release may write rows the new CHECK or FOREIGN KEY rejects",
        fix: "check the data and the running release first, then mark the file \"-- schemagate: contract\"; or deploy with a drain target",
        example: "ALTER TABLE orders ADD CONSTRAINT fk_orders_user FOREIGN KEY (user_id) REFERENCES users (id);",
        lookalike: "ALTER TABLE orders ADD INDEX i_orders_user (user_id);",
    },
    DropView: "drop-view" {
        severity: Severity::Breaking,
        engines: Engines::Both,
        reason: "the running release may still query it",
        fix: CONTRACT_OR_DRAIN,
        example: "DROP VIEW active_users;",
        lookalike: "CREATE VIEW blocked_users AS SELECT id FROM users WHERE status = 'blocked';",
    },
    ReplaceView: "replace-view" {
        severity: Severity::Breaking,
        engines: Engines::Both,
        reason: "the running release may rely on the view's current columns",
        fix: "create a view under a new name, or mark the file \"-- schemagate: contract\" if the old columns stay; or deploy with a drain target",
        example: "CREATE OR REPLACE VIEW active_users AS SELECT id FROM users;",
        lookalike: "CREATE OR REPLACE VIEW new_users AS SELECT id FROM users;",
    },
    DropRoutine: "drop-routine" {
        severity: Severity::Breaking,
        engines: Engines::Both,
        reason: "the running release may still call it",
        fix: CONTRACT_OR_DRAIN,
        example: "DROP FUNCTION full_name;",
        lookalike: "CREATE FUNCTION add_one(x INT) RETURNS INT DETERMINISTIC RETURN x + 1;\nDROP FUNCTION add_one;",
    },
    ReplaceRoutine: "replace-routine" {
        severity: Severity::Breaking,
        engines: Engines::Both,
        reason: "the running release calls it and may rely on its current behaviour",
        fix: "create it under a new name, or mark the file \"-- schemagate: contract\" if the behaviour is compatible; or deploy with a drain target",
        example: "CREATE OR REPLACE FUNCTION full_name(u BIGINT) RETURNS VARCHAR(100) DETERMINISTIC RETURN 'x';",
        lookalike: "CREATE OR REPLACE FUNCTION short_name(u BIGINT) RETURNS VARCHAR(100) DETERMINISTIC RETURN 'x';",
    },
    DropDatabase: "drop-database" {
        severity: Severity::Breaking,
        engines: Engines::Both,
        reason: "removes everything in it",
        fix: CONTRACT_OR_DRAIN,
        example: "DROP DATABASE reporting;",
        lookalike: "CREATE DATABASE IF NOT EXISTS reporting;",
    },
    DropObject: "drop-object" {
        severity: Severity::Breaking,
        engines: Engines::Both,
        reason: "the running release may still use it",
        fix: CONTRACT_OR_DRAIN,
        example: "DROP SEQUENCE invoice_numbers;",
        lookalike: "CREATE SEQUENCE credit_numbers;",
    },
    Truncate: "truncate" {
        severity: Severity::Breaking,
        engines: Engines::Both,
        reason: "deletes every row the running release may still need",
        fix: "delete what must go with a WHERE clause, or mark the file \"-- schemagate: contract\"",
        example: "TRUNCATE TABLE logs;",
        lookalike: "DELETE FROM logs WHERE id < 100;",
    },
    DropPartition: "drop-partition" {
        severity: Severity::Breaking,
        engines: Engines::Both,
        reason: "deletes the rows of the partition, which the running release may still need",
        fix: CONTRACT_OR_DRAIN,
        example: "ALTER TABLE logs DROP PARTITION p2019;",
        lookalike: "ALTER TABLE logs ADD PARTITION (PARTITION p2030 VALUES LESS THAN (2031));",
    },
    ServerWide: "server-wide" {
        severity: Severity::Breaking,
        engines: Engines::Both,
        reason: "changes the server for every session and database, not this schema: the running release and every other application share it",
        fix: "make the change in the server's configuration (the RDS parameter group) or by hand; or mark the file \"-- schemagate: contract\" if it is meant",
        example: "SET GLOBAL max_connections = 500;",
        lookalike: "SET SESSION max_heap_table_size = 67108864;",
    },
    Privileges: "privileges" {
        severity: Severity::Breaking,
        engines: Engines::Both,
        reason: "changes users or grants, which reach beyond this schema: a revoked grant or a dropped user can lock the running release out",
        fix: "manage users and grants outside the migrations; or mark the file \"-- schemagate: contract\" if it is meant",
        example: "REVOKE INSERT ON *.* FROM 'app'@'%';",
        lookalike: "SELECT CURRENT_USER();",
    },
    ChangeEngine: "change-engine" {
        severity: Severity::Breaking,
        engines: Engines::MariaDb,
        reason: "the new storage engine may not keep what the running release writes: BLACKHOLE discards rows, ARCHIVE refuses UPDATE and DELETE, MEMORY loses them on restart",
        fix: "keep InnoDB (Aria and MyISAM keep the rows too); copy into a new table with INSERT … SELECT if another engine is really meant",
        example: "ALTER TABLE logs ENGINE = BLACKHOLE;",
        lookalike: "ALTER TABLE logs ENGINE = Aria;",
    },
    // --- unknown -----------------------------------------------------------
    Unparsed: "unparsed" {
        severity: Severity::Unknown,
        engines: Engines::Both,
        reason: "schemagate's SQL parser cannot read this statement, so it cannot tell whether it is safe",
        fix: "check it by hand; if the running release is unaffected, mark the file \"-- schemagate: contract\", or deploy with a drain target",
        example: "ALTER TABLE users FROBNICATE;",
        lookalike: "ALTER TABLE users ADD COLUMN nickname VARCHAR(40) NULL;",
    },
    Unrecognized: "unrecognized" {
        severity: Severity::Unknown,
        engines: Engines::Both,
        reason: "schemagate has no rule for this kind of statement, so it cannot tell whether it is safe",
        fix: "check it by hand; if the running release is unaffected, mark the file \"-- schemagate: contract\", or deploy with a drain target",
        example: "CALL archive_orders();",
        lookalike: "SELECT COUNT(*) FROM orders;",
    },
    CodeBody: "code-body" {
        severity: Severity::Unknown,
        engines: Engines::Postgres,
        reason: "runs PL/pgSQL that schemagate does not read (a DO block, the function of a trigger on an existing table), so it cannot tell whether it is safe",
        fix: CHECK_BY_HAND,
        example: "DO $$ BEGIN DELETE FROM orders; END $$;",
        lookalike: "CREATE FUNCTION purge() RETURNS void LANGUAGE plpgsql AS $$ BEGIN DELETE FROM orders; END $$;",
    },
    RoutineCall: "routine-call" {
        severity: Severity::Unknown,
        engines: Engines::Both,
        reason: "calls a routine the migrations created; schemagate does not follow into its body, so it cannot tell what the call does",
        fix: CHECK_BY_HAND,
        example: "SELECT full_name(1);",
        lookalike: "SELECT CONCAT(name, '!') FROM users;",
    },
    DynamicSql: "dynamic-sql" {
        severity: Severity::Unknown,
        engines: Engines::Both,
        reason: "runs SQL built at run time, which schemagate cannot read",
        fix: "write the statement out in the file (or PREPARE it FROM a string literal); or check it by hand and mark the file \"-- schemagate: contract\"",
        example: "PREPARE s FROM @sql;",
        lookalike: "PREPARE s FROM 'SELECT 1';",
    },
    // --- blocking: MariaDB ---------------------------------------------------
    CopyTypeChange: "copy-type-change" {
        severity: Severity::Blocking,
        engines: Engines::MariaDb,
        reason: "MariaDB 10.11 changes a column's type by copying the table; writes wait until it is done",
        fix: "run it in a quiet window, or with an online schema change tool on big tables",
        example: "ALTER TABLE users MODIFY age BIGINT NOT NULL DEFAULT 0;",
        lookalike: "ALTER TABLE users MODIFY age INT NOT NULL DEFAULT 1;",
    },
    CopyVarcharLength: "copy-varchar-length" {
        severity: Severity::Blocking,
        engines: Engines::MariaDb,
        reason: "growing a VARCHAR past 255 bytes (in the column's character set) copies the table on MariaDB 10.11; writes wait until it is done",
        fix: "stay within 255 bytes or start above it, or run it in a quiet window",
        example: "ALTER TABLE users MODIFY email VARCHAR(100) NOT NULL;",
        lookalike: "ALTER TABLE users MODIFY name VARCHAR(120) NULL;",
    },
    CopyCharset: "copy-charset" {
        severity: Severity::Blocking,
        engines: Engines::MariaDb,
        reason: "changing a column's character set copies the table on MariaDB 10.11; writes wait until it is done",
        fix: "run it in a quiet window, or with an online schema change tool on big tables",
        example: "ALTER TABLE users MODIFY name VARCHAR(100) CHARACTER SET latin1 NULL;",
        lookalike: "ALTER TABLE users DEFAULT CHARACTER SET latin1;",
    },
    CopyConvertCharset: "copy-convert-charset" {
        severity: Severity::Blocking,
        engines: Engines::MariaDb,
        reason: "CONVERT TO CHARACTER SET copies the table on MariaDB 10.11; writes wait until it is done",
        fix: "run it in a quiet window, or with an online schema change tool on big tables",
        example: "ALTER TABLE users CONVERT TO CHARACTER SET latin1;",
        lookalike: "ALTER TABLE users CHARACTER SET latin1;",
    },
    CopyStoredGenerated: "copy-stored-generated" {
        severity: Severity::Blocking,
        engines: Engines::MariaDb,
        reason: "adding a STORED generated column copies the table on MariaDB 10.11; writes wait until it is done",
        fix: "use a VIRTUAL generated column, or run it in a quiet window",
        example: "ALTER TABLE users ADD COLUMN age2 INT AS (age * 2) STORED;",
        lookalike: "ALTER TABLE users ADD COLUMN age2 INT AS (age * 2) VIRTUAL;",
    },
    CopyDropPrimaryKey: "copy-drop-primary-key" {
        severity: Severity::Blocking,
        engines: Engines::MariaDb,
        reason: "dropping the primary key without adding another copies the table on MariaDB 10.11; writes wait until it is done",
        fix: "drop and add the new primary key in one ALTER TABLE (an online rebuild)",
        example: "ALTER TABLE orders DROP PRIMARY KEY;",
        lookalike: "ALTER TABLE orders DROP PRIMARY KEY, ADD PRIMARY KEY (id, user_id);",
    },
    CopyCheck: "copy-check" {
        severity: Severity::Blocking,
        engines: Engines::MariaDb,
        reason: "adding a CHECK constraint copies the table on MariaDB 10.11; writes wait until it is done",
        fix: "run it in a quiet window",
        example: "ALTER TABLE users ADD CONSTRAINT ck_age CHECK (age >= 0);",
        lookalike: "ALTER TABLE users ADD INDEX i_age (age);",
    },
    CopyForeignKey: "copy-foreign-key" {
        severity: Severity::Blocking,
        engines: Engines::MariaDb,
        reason: "adding a FOREIGN KEY with foreign_key_checks on copies the table on MariaDB 10.11; writes wait until it is done",
        fix: "put `SET FOREIGN_KEY_CHECKS = 0;` before it in the file (the existing rows are then not checked) and re-enable it after",
        example: "ALTER TABLE orders ADD CONSTRAINT fk_orders_user FOREIGN KEY (user_id) REFERENCES users (id);",
        lookalike: "SET FOREIGN_KEY_CHECKS = 0;\nALTER TABLE orders ADD CONSTRAINT fk_orders_user FOREIGN KEY (user_id) REFERENCES users (id);",
    },
    LockAutoIncrement: "lock-auto-increment" {
        severity: Severity::Blocking,
        engines: Engines::MariaDb,
        reason: "adding an AUTO_INCREMENT column needs a shared lock on MariaDB 10.11; writes wait until it is done",
        fix: "run it in a quiet window",
        example: "ALTER TABLE logs ADD COLUMN seq BIGINT NOT NULL AUTO_INCREMENT UNIQUE;",
        lookalike: "ALTER TABLE logs ADD COLUMN seq BIGINT NULL;",
    },
    LockFulltext: "lock-fulltext" {
        severity: Severity::Blocking,
        engines: Engines::MariaDb,
        reason: "building a FULLTEXT index needs a shared lock on MariaDB 10.11; writes wait until it is done",
        fix: "run it in a quiet window",
        example: "CREATE FULLTEXT INDEX ft_bio ON users (bio);",
        lookalike: "CREATE INDEX i_bio ON users (bio(20));",
    },
    CopyPartitioning: "copy-partitioning" {
        severity: Severity::Blocking,
        engines: Engines::MariaDb,
        reason: "partitioning or un-partitioning a table copies it; writes wait until it is done",
        fix: "run it in a quiet window, or with an online schema change tool on big tables",
        example: "ALTER TABLE logs PARTITION BY HASH (id) PARTITIONS 4;",
        lookalike: "ALTER TABLE logs ADD INDEX i_logs_id (id);",
    },
    CopyEngine: "copy-engine" {
        severity: Severity::Blocking,
        engines: Engines::MariaDb,
        reason: "changing the storage engine copies the table; writes wait until it is done",
        fix: "run it in a quiet window",
        example: "ALTER TABLE logs ENGINE = Aria;",
        lookalike: "ALTER TABLE logs ENGINE = InnoDB;",
    },
    CopyAlgorithm: "copy-algorithm" {
        severity: Severity::Blocking,
        engines: Engines::MariaDb,
        reason: "ALGORITHM=COPY copies the table; writes wait until it is done",
        fix: "leave the algorithm to the server, or ask for INPLACE/INSTANT",
        example: "ALTER TABLE users ADD INDEX i_plan (plan), ALGORITHM=COPY;",
        lookalike: "ALTER TABLE users ADD INDEX i_plan (plan), ALGORITHM=INPLACE;",
    },
    // --- blocking: PostgreSQL ------------------------------------------------
    RewriteTypeChange: "rewrite-type-change" {
        severity: Severity::Blocking,
        engines: Engines::Postgres,
        reason: "changing a column's type rewrites the table under an ACCESS EXCLUSIVE lock; reads and writes wait",
        fix: "add a column of the new type and backfill it in batches, or run it in a quiet window",
        example: "ALTER TABLE users ALTER COLUMN age TYPE BIGINT;",
        lookalike: "ALTER TABLE users ALTER COLUMN name TYPE VARCHAR(200);",
    },
    LockCreateIndex: "lock-create-index" {
        severity: Severity::Blocking,
        engines: Engines::Postgres,
        reason: "CREATE INDEX without CONCURRENTLY blocks writes to the table while it builds",
        fix: "use CREATE INDEX CONCURRENTLY in a file of its own that starts with `-- no-transaction`",
        example: "CREATE INDEX i_users_name ON users (name);",
        lookalike: "CREATE INDEX CONCURRENTLY i_users_name ON users (name);",
    },
    ScanAddConstraint: "scan-add-constraint" {
        severity: Severity::Blocking,
        engines: Engines::Postgres,
        reason: "a FOREIGN KEY or CHECK is validated by scanning the whole table while writes wait",
        fix: "add it NOT VALID, then VALIDATE CONSTRAINT in a later migration",
        example: "ALTER TABLE orders ADD CONSTRAINT fk_orders_user FOREIGN KEY (user_id) REFERENCES users (id);",
        lookalike: "ALTER TABLE orders ADD CONSTRAINT fk_orders_user FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;",
    },
    ScanSetNotNull: "scan-set-not-null" {
        severity: Severity::Blocking,
        engines: Engines::Postgres,
        reason: "SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock",
        fix: "add a CHECK (col IS NOT NULL) NOT VALID constraint, validate it, then SET NOT NULL",
        example: "ALTER TABLE users ALTER COLUMN name SET NOT NULL;",
        lookalike: "ALTER TABLE users ALTER COLUMN name DROP NOT NULL;",
    },
    RewriteVolatileDefault: "rewrite-volatile-default" {
        severity: Severity::Blocking,
        engines: Engines::Postgres,
        reason: "a column added with a volatile default rewrites the table under an ACCESS EXCLUSIVE lock",
        fix: "add the column without the default, set the default, and backfill in batches",
        example: "ALTER TABLE users ADD COLUMN token UUID DEFAULT gen_random_uuid();",
        lookalike: "ALTER TABLE users ADD COLUMN seen_at TIMESTAMPTZ DEFAULT now();",
    },
    // --- warnings ------------------------------------------------------------
    DeleteAll: "delete-all" {
        severity: Severity::Warning,
        engines: Engines::Both,
        reason: "DELETE without WHERE removes every row",
        fix: "add a WHERE clause, or use TRUNCATE if that is really meant",
        example: "DELETE FROM logs;",
        lookalike: "DELETE FROM logs WHERE id < 100;",
    },
    UpdateAll: "update-all" {
        severity: Severity::Warning,
        engines: Engines::Both,
        reason: "UPDATE without WHERE changes every row",
        fix: "add a WHERE clause if not every row is meant",
        example: "UPDATE users SET plan = 'free';",
        lookalike: "UPDATE users SET plan = 'free' WHERE plan IS NULL;",
    },
    DropUnique: "drop-unique" {
        severity: Severity::Warning,
        engines: Engines::Both,
        reason: "the running release may rely on it (INSERT … ON DUPLICATE KEY UPDATE, ON CONFLICT, lookups by key)",
        fix: "check the running release's upserts before dropping it",
        example: "ALTER TABLE users DROP INDEX u_email;",
        lookalike: "ALTER TABLE users DROP INDEX i_name;",
    },
    DropTrigger: "drop-trigger" {
        severity: Severity::Warning,
        engines: Engines::Both,
        reason: "the running release may rely on what the trigger maintains",
        fix: "check what the trigger did before dropping it",
        example: "DROP TRIGGER orders_note;",
        lookalike: "CREATE TRIGGER orders_note2 BEFORE INSERT ON orders FOR EACH ROW SET NEW.note = COALESCE(NEW.note, '-');",
    },
    Marker: "marker" {
        severity: Severity::Warning,
        engines: Engines::Both,
        reason: "a `schemagate:` comment that is not a known marker is ignored",
        fix: "write \"-- schemagate: contract\", \"-- schemagate: breaking\" or \"-- schemagate: online\"",
        example: "-- schemagate: contracts\nALTER TABLE users ADD COLUMN nickname VARCHAR(40) NULL;",
        lookalike: "-- schemagate: contract\nALTER TABLE users ADD COLUMN nickname VARCHAR(40) NULL;",
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::finding::Finding;
    use crate::lint::schema::Schema;
    use crate::lint::script::lint_script;

    fn engine(r: &Rule) -> Dialect {
        if r.engines.includes(Dialect::MariaDb) {
            Dialect::MariaDb
        } else {
            Dialect::Postgres
        }
    }

    /// Lint `sql` as the pending migration after the prelude.
    pub(crate) fn findings(dialect: Dialect, sql: &str) -> Vec<Finding> {
        let mut schema = Schema::new(dialect);
        let prelude = match dialect {
            Dialect::MariaDb => PRELUDE_MARIADB,
            Dialect::Postgres => PRELUDE_POSTGRES,
        };
        let (_, _, f) = lint_script(&mut schema, dialect, prelude, true);
        assert!(
            f.iter().all(|f| !f.severity().gates()),
            "the prelude itself: {f:?}"
        );
        let mut schema = Schema::new(dialect);
        lint_script(&mut schema, dialect, prelude, false);
        lint_script(&mut schema, dialect, sql, true).2
    }

    #[test]
    fn ids_are_unique_and_every_row_is_complete() {
        let mut ids: Vec<&str> = RULES.iter().map(|r| r.id.as_str()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), RULES.len());
        for r in RULES {
            assert!(
                !r.reason.is_empty()
                    && !r.fix.is_empty()
                    && !r.example.is_empty()
                    && !r.lookalike.is_empty(),
                "{}",
                r.id
            );
            assert!(
                !r.reason.ends_with('.') && !r.fix.ends_with('.'),
                "{}: one line, no full stop",
                r.id
            );
        }
    }

    #[test]
    fn each_id_names_its_own_row_in_kebab_case() {
        for (i, r) in RULES.iter().enumerate() {
            assert_eq!(r.id as usize, i);
            assert!(std::ptr::eq(r.id.rule(), r));
            let kebab: String = format!("{:?}", r.id)
                .chars()
                .enumerate()
                .flat_map(|(k, c)| match (k, c.is_ascii_uppercase()) {
                    (0, _) | (_, false) => vec![c.to_ascii_lowercase()],
                    (_, true) => vec!['-', c.to_ascii_lowercase()],
                })
                .collect();
            assert_eq!(r.id.as_str(), kebab);
            assert_eq!(r.id.to_string(), kebab);
        }
    }

    #[test]
    fn a_rule_for_one_dialect_never_fires_in_the_other() {
        let mut failures = Vec::new();
        let mut checked = [0, 0];
        for r in RULES.iter().filter(|r| r.engines != Engines::Both) {
            let other = if r.engines.includes(Dialect::MariaDb) {
                checked[0] += 1;
                Dialect::Postgres
            } else {
                checked[1] += 1;
                Dialect::MariaDb
            };
            for sql in [r.example, r.lookalike] {
                if let Some(f) = findings(other, sql).iter().find(|f| f.rule.id == r.id) {
                    failures.push(format!("{}: fired on {other}: {}", r.id, f.subject));
                }
            }
        }
        assert!(checked[0] > 0 && checked[1] > 0, "{checked:?}");
        assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    }

    #[test]
    fn every_rule_fires_on_its_example_and_not_on_its_lookalike() {
        let mut failures = Vec::new();
        for r in RULES {
            let dialect = engine(r);
            let hit = findings(dialect, r.example);
            if !hit.iter().any(|f| f.rule.id == r.id) {
                failures.push(format!(
                    "{}: example did not fire; got {:?}",
                    r.id,
                    hit.iter()
                        .map(|f| (f.rule.id, &f.subject))
                        .collect::<Vec<_>>()
                ));
            }
            let miss = findings(dialect, r.lookalike);
            if let Some(f) = miss.iter().find(|f| f.rule.id == r.id) {
                failures.push(format!("{}: look-alike fired: {}", r.id, f.subject));
            }
            if r.severity.gates() {
                if let Some(f) = miss.iter().find(|f| f.severity().gates()) {
                    failures.push(format!(
                        "{}: look-alike is not harmless: {}[{}] {}",
                        r.id,
                        f.severity().as_str(),
                        f.rule.id,
                        f.subject
                    ));
                }
            }
        }
        assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    }
}
