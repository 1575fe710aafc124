//! The deploy of an online change with both releases serving (issue #14),
//! played end to end: [`prove`] runs a [`Case`] through the real Lambda
//! (Create of release 1; the Update that brings the online migration and
//! expands; the fleet replaced; the next release's Update that contracts)
//! with the two [`Release`]s of [`crate::online`] serving throughout.

use std::time::Duration;

use anyhow::{bail, Result};
use testkit::cfn::{Response, Status};
use testkit::Migrations;

use crate::online::{Clock, Figures, Phase, Release, Running, Written, UPDATED};
use crate::Rehearsal;

/// The table every case starts from (version 1).
pub const ITEMS: &str = "CREATE TABLE items (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(40) NOT NULL, total DECIMAL(12,2) NOT NULL DEFAULT 0, nick VARCHAR(20) NULL, legacy VARCHAR(10) NOT NULL, UNIQUE KEY u_name (name));";

/// One online change with the SQL of the release before it and after it.
#[derive(Clone, Copy)]
pub struct Case {
    pub label: &'static str,
    /// Rows in `items` before the deploy.
    pub rows: u64,
    /// `0002_online.up.sql` and its down.
    pub up: &'static str,
    pub down: &'static str,
    pub old: Release,
    pub new: Release,
    /// A count of rows whose two shapes disagree, while both are live.
    pub disagree: &'static str,
}

/// What the deploy did and what each release saw.
pub struct Proof {
    pub expand: Response,
    pub contract: Response,
    pub old: Figures,
    pub new: Figures,
    /// Rows of the table whose two shapes disagreed after the expand.
    pub disagree: i64,
}

impl Proof {
    /// The figures, as the test and the demo print them.
    pub fn report(&self, case: &Case) -> String {
        format!(
            "{} ({} rows): expand {:.2}s, contract {:.2}s\n  {}\n  {}\n  rows disagreeing after the expand: {}",
            case.label,
            case.rows,
            self.expand.elapsed.as_secs_f64(),
            self.contract.elapsed.as_secs_f64(),
            self.old.line(),
            self.new.line(),
            self.disagree
        )
    }

    /// The longest single query while the Lambda expanded.
    pub fn expand_stall(&self) -> Duration {
        self.old.stall[Phase::Expand as usize]
    }

    /// What must hold: no error, every row of each release read right by
    /// the other, the shapes in step, both Updates SUCCESS.
    pub fn check(&self) -> Result<()> {
        let mut bad = Vec::new();
        for (what, r) in [("expand", &self.expand), ("contract", &self.contract)] {
            if r.status != Status::Success {
                bad.push(format!("the {what} Update failed: {}", r.reason));
            }
        }
        for f in [&self.old, &self.new] {
            bad.extend(f.errors.iter().take(5).cloned());
            bad.extend(f.wrong.iter().cloned());
            if f.final_right != f.final_rows || f.cross_right != f.cross_reads {
                bad.push(format!("{} release read rows wrong: {}", f.label, f.line()));
            }
            if f.final_rows == 0 || f.cross_reads == 0 {
                bad.push(format!(
                    "{} release read no row of the other: {}",
                    f.label,
                    f.line()
                ));
            }
        }
        if self.disagree != 0 {
            bad.push(format!(
                "{} rows disagree between the shapes",
                self.disagree
            ));
        }
        if bad.is_empty() {
            Ok(())
        } else {
            bail!("{}", bad.join("\n"))
        }
    }
}

/// Release 1, 2 (brings the change) and 3 (the next release).
pub fn releases(case: &Case) -> [Migrations; 3] {
    let v1 = Migrations::none().with(("0001_items", ITEMS, "DROP TABLE items;"));
    let v2 = v1.clone().with(("0002_online", case.up, case.down));
    let v3 = v2.clone().with((
        "0003_next",
        "CREATE TABLE next_release (id INT PRIMARY KEY);",
        "DROP TABLE next_release;",
    ));
    [v1, v2, v3]
}

/// How long each phase lets the releases run.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    pub before: Duration,
    pub both: Duration,
    pub replaced: Duration,
    pub after: Duration,
}

pub const PACE: Pace = Pace {
    before: Duration::from_millis(300),
    both: Duration::from_millis(1200),
    replaced: Duration::from_millis(300),
    after: Duration::from_millis(300),
};

/// Release 1 created and `case.rows` rows in `items`.
pub async fn start(r: &mut Rehearsal, case: &Case) -> Result<[Migrations; 3]> {
    let [v1, v2, v3] = releases(case);
    r.deploy(&v1)?;
    let created = r.create(&r.properties(&v1)).await?;
    if created.status != Status::Success {
        bail!("the Create failed: {}", created.reason);
    }
    r.db.exec(&format!(
        "INSERT INTO items (name, total, nick, legacy) SELECT CONCAT('b', seq), seq / 4, IF(seq % 3 = 0, NULL, 'n'), 'l' FROM seq_1_to_{}",
        case.rows
    ))
    .await;
    Ok([v1, v2, v3])
}

/// The whole deploy with both releases serving.
pub async fn prove(r: &mut Rehearsal, case: &Case, pace: Pace) -> Result<Proof> {
    let [v1, v2, v3] = start(r, case).await?;
    let (p1, p2, p3) = (r.properties(&v1), r.properties(&v2), r.properties(&v3));
    let clock = Clock::default();
    let (olds, news) = (Written::default(), Written::default());
    let url = r.db.url();
    let old = Running::start(case.old, &url, clock.clone(), olds.clone(), news.clone()).await?;
    tokio::time::sleep(pace.before).await;

    clock.set(Phase::Expand);
    r.deploy(&v2)?;
    let expand = r.update(&p2, &p1).await?;
    clock.set(Phase::Both);
    if expand.status != Status::Success {
        old.stop().await?;
        bail!("the expand failed: {}", expand.raw);
    }
    let new = Running::start(case.new, &url, clock.clone(), news, olds).await?;
    tokio::time::sleep(pace.both).await;
    let disagree = r.db.count(case.disagree).await;

    clock.set(Phase::Replaced);
    let old = old.stop().await?;
    tokio::time::sleep(pace.replaced).await;

    clock.set(Phase::Contract);
    r.deploy(&v3)?;
    let contract = r.update(&p3, &p2).await?;
    clock.set(Phase::After);
    tokio::time::sleep(pace.after).await;
    let new = new.stop().await?;
    Ok(Proof {
        expand,
        contract,
        old,
        new,
        disagree,
    })
}

fn name(i: u64) -> Option<String> {
    Some(format!("r{}", i % UPDATED))
}
fn nick(j: u64) -> Option<String> {
    Some(format!("n{j}"))
}

/// Rename a column (`name` → `title`, a unique index on it).
pub const RENAME: Case = Case {
    label: "rename column",
    rows: 100_000,
    up: "-- schemagate: online\nALTER TABLE items RENAME COLUMN name TO title;\n",
    down: "ALTER TABLE items RENAME COLUMN title TO name;\n",
    old: Release {
        label: "old",
        insert: "INSERT INTO items (name, legacy) VALUES (?, 'l')",
        insert_binds: |i| vec![name(i)],
        update: "UPDATE items SET name = ? WHERE id = ?",
        update_binds: |j| vec![Some(format!("u{j}"))],
        read: "SELECT name FROM items WHERE id = ?",
        expect: |j| Some(format!("u{j}")),
    },
    new: Release {
        label: "new",
        insert: "INSERT INTO items (title, legacy) VALUES (?, 'l')",
        insert_binds: |i| vec![name(i)],
        update: "UPDATE items SET title = ? WHERE id = ?",
        update_binds: |j| vec![Some(format!("u{j}"))],
        read: "SELECT title FROM items WHERE id = ?",
        expect: |j| Some(format!("u{j}")),
    },
    disagree: "SELECT COUNT(*) FROM items WHERE NOT (name <=> title)",
};

fn dec(j: u64) -> Option<String> {
    Some(format!("{}.{:02}", j / 4, (j % 4) * 25))
}
fn cents(j: u64) -> Option<String> {
    Some((j * 25).to_string())
}

/// Change a column's type under a new name (DECIMAL `total` → BIGINT `total_cents`).
pub const TYPE_CHANGE: Case = Case {
    label: "type change",
    rows: 5_000,
    up: "-- schemagate: online up=ROUND(total * 100) down=total_cents / 100\nALTER TABLE items CHANGE total total_cents BIGINT NOT NULL DEFAULT 0;\n",
    down: "ALTER TABLE items CHANGE total_cents total DECIMAL(12,2) NOT NULL DEFAULT 0;\n",
    old: Release {
        label: "old",
        insert: "INSERT INTO items (name, total, legacy) VALUES (?, ?, 'l')",
        insert_binds: |i| vec![name(i), dec(i)],
        update: "UPDATE items SET total = ? WHERE id = ?",
        update_binds: |j| vec![dec(j)],
        read: "SELECT CAST(total AS CHAR) FROM items WHERE id = ?",
        expect: dec,
    },
    new: Release {
        label: "new",
        insert: "INSERT INTO items (name, total_cents, legacy) VALUES (?, ?, 'l')",
        insert_binds: |i| vec![name(i), cents(i)],
        update: "UPDATE items SET total_cents = ? WHERE id = ?",
        update_binds: |j| vec![cents(j)],
        read: "SELECT CAST(total_cents AS CHAR) FROM items WHERE id = ?",
        expect: cents,
    },
    disagree: "SELECT COUNT(*) FROM items WHERE total_cents <> ROUND(total * 100)",
};

/// What the old release writes to `nick`: NULL for one row in two of its own.
fn nick_or_null(j: u64) -> Option<String> {
    (j % 4 != 1).then(|| format!("n{j}"))
}
fn nick_filled(j: u64) -> Option<String> {
    nick_or_null(j).or(Some("anon".into()))
}

/// Make a column NOT NULL, the old release still writing NULL.
pub const NOT_NULL: Case = Case {
    label: "NOT NULL",
    rows: 5_000,
    up: "-- schemagate: online fill='anon'\nALTER TABLE items MODIFY nick VARCHAR(20) NOT NULL;\n",
    down: "ALTER TABLE items MODIFY nick VARCHAR(20) NULL;\n",
    old: Release {
        label: "old",
        insert: "INSERT INTO items (name, nick, legacy) VALUES (?, ?, 'l')",
        insert_binds: |i| vec![name(i), nick_or_null(i)],
        update: "UPDATE items SET nick = ? WHERE id = ?",
        update_binds: |j| vec![nick_or_null(j)],
        read: "SELECT nick FROM items WHERE id = ?",
        expect: nick_filled,
    },
    new: Release {
        label: "new",
        insert: "INSERT INTO items (name, nick, legacy) VALUES (?, ?, 'l')",
        insert_binds: |i| vec![name(i), nick(i)],
        update: "UPDATE items SET nick = ? WHERE id = ?",
        update_binds: |j| vec![nick(j)],
        read: "SELECT nick FROM items WHERE id = ?",
        expect: nick_filled,
    },
    disagree: "SELECT COUNT(*) FROM items WHERE nick IS NULL",
};

/// The city the new release writes, or the fill the old release's rows get.
fn city(j: u64) -> Option<String> {
    if j % 2 == 1 {
        Some(format!("city-r{}", j % UPDATED))
    } else {
        Some(format!("c{j}"))
    }
}

/// Add a NOT NULL column without a default (the old release leaves it out).
pub const ADD_NOT_NULL: Case = Case {
    label: "add NOT NULL column",
    rows: 5_000,
    up: "-- schemagate: online fill=CONCAT('city-', name)\nALTER TABLE items ADD COLUMN city VARCHAR(40) NOT NULL AFTER name;\n",
    down: "ALTER TABLE items DROP COLUMN city;\n",
    old: Release {
        label: "old",
        insert: "INSERT INTO items (name, legacy) VALUES (?, 'l')",
        insert_binds: |i| vec![name(i)],
        update: "UPDATE items SET nick = ? WHERE id = ?",
        update_binds: |j| vec![nick(j)],
        read: "SELECT nick FROM items WHERE id = ?",
        expect: nick,
    },
    new: Release {
        label: "new",
        insert: "INSERT INTO items (name, city, legacy) VALUES (?, ?, 'l')",
        insert_binds: |i| vec![name(i), city(i)],
        update: "UPDATE items SET city = ?, nick = ? WHERE id = ?",
        update_binds: |j| vec![city(j), nick(j)],
        read: "SELECT city FROM items WHERE id = ?",
        expect: city,
    },
    disagree: "SELECT COUNT(*) FROM items WHERE city IS NULL OR city = ''",
};

/// `nick/legacy` as the old release reads it: the new release leaves
/// `legacy` out, so its rows get the fill, `''`.
fn nick_legacy(j: u64) -> Option<String> {
    Some(format!("n{j}/{}", if j % 2 == 1 { "u" } else { "" }))
}

/// Drop a NOT NULL column the old release still writes.
pub const DROP_COLUMN: Case = Case {
    label: "drop column",
    rows: 5_000,
    up: "-- schemagate: online fill=''\nALTER TABLE items DROP COLUMN legacy;\n",
    down: "ALTER TABLE items ADD COLUMN legacy VARCHAR(10) NOT NULL DEFAULT '';\n",
    old: Release {
        label: "old",
        insert: "INSERT INTO items (name, legacy) VALUES (?, 'l')",
        insert_binds: |i| vec![name(i)],
        update: "UPDATE items SET nick = ?, legacy = 'u' WHERE id = ?",
        update_binds: |j| vec![nick(j)],
        read: "SELECT CONCAT(nick, '/', legacy) FROM items WHERE id = ?",
        expect: nick_legacy,
    },
    new: Release {
        label: "new",
        insert: "INSERT INTO items (name) VALUES (?)",
        insert_binds: |i| vec![name(i)],
        update: "UPDATE items SET nick = ? WHERE id = ?",
        update_binds: |j| vec![nick(j)],
        read: "SELECT nick FROM items WHERE id = ?",
        expect: nick,
    },
    disagree: "SELECT COUNT(*) FROM items WHERE legacy IS NULL",
};

/// Rename a table (`items` → `products`; the old name a view meanwhile).
pub const TABLE_RENAME: Case = Case {
    label: "table rename",
    rows: 5_000,
    up: "-- schemagate: online\nRENAME TABLE items TO products;\n",
    down: "RENAME TABLE products TO items;\n",
    old: Release {
        label: "old",
        insert: "INSERT INTO items (name, legacy) VALUES (?, 'l')",
        insert_binds: |i| vec![name(i)],
        update: "UPDATE items SET nick = ? WHERE id = ?",
        update_binds: |j| vec![nick(j)],
        read: "SELECT nick FROM items WHERE id = ?",
        expect: nick,
    },
    new: Release {
        label: "new",
        insert: "INSERT INTO products (name, legacy) VALUES (?, 'l')",
        insert_binds: |i| vec![name(i)],
        update: "UPDATE products SET nick = ? WHERE id = ?",
        update_binds: |j| vec![nick(j)],
        read: "SELECT nick FROM products WHERE id = ?",
        expect: nick,
    },
    disagree: "SELECT (SELECT COUNT(*) FROM items) - (SELECT COUNT(*) FROM products)",
};
