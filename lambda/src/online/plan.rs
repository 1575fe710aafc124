//! An online change as SQL, decided from the change and the table's facts
//! alone (pure, unit-tested): what expand runs (the new shape beside the
//! old, and triggers that keep both in step), the backfill, what finishes
//! the expand after it (indexes of a moved column), what contract runs
//! when the old release is gone, and what reverts the expand.
//!
//! Triggers are BEFORE INSERT / BEFORE UPDATE and only `SET NEW.…`: they
//! write no other row, so they cannot call each other in a loop. Their
//! names start with `_sg_<version>_`, so the application's own triggers on
//! the table stay as they are (MariaDB runs several per event).

use std::ops::ControlFlow;

use serde::{Deserialize, Serialize};
use sqlparser::ast::{visit_expressions_mut, Expr, Ident};
use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;

use super::change::{Change, ColumnSpec, Op, Unsupported};
use super::facts::Facts;

/// The user variable the backfill's session sets so the triggers leave
/// its updates alone (it computes the new shape itself).
pub const BACKFILL_VAR: &str = "@schemagate_backfill";

/// The statements of each phase, in order; each phase's progress is
/// recorded statement by statement ([`super::state`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Plan {
    /// Queries run before anything changes: the expressions on the table's
    /// rows (a failing one refuses the change).
    #[serde(default)]
    pub check: Vec<String>,
    pub expand: Vec<String>,
    pub backfill: Option<Backfill>,
    /// After the backfill (indexes on the new column need its values).
    pub finish: Vec<String>,
    pub contract: Vec<String>,
    pub revert: Vec<String>,
}

/// `UPDATE table SET set WHERE key > last AND key <= bound AND (pending)`,
/// one range of the primary key at a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backfill {
    pub table: String,
    pub key: String,
    pub set: String,
    pub pending: String,
}

/// `` `name` ``
pub fn q(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// The plan of `change`, the migration `version`, on a table with `facts`.
pub fn plan(version: i64, change: &Change, facts: &Facts) -> Result<Plan, Unsupported> {
    let t = &change.table;
    match facts.kind.as_deref() {
        Some("BASE TABLE") => {}
        Some(k) => return Err(format!("`{t}` is a {}, not a table", k.to_lowercase())),
        None => return Err(format!("there is no table `{t}` in the database")),
    }
    match &change.op {
        Op::Move { from, to, spec } => moved(version, change, facts, from, to, spec.as_ref()),
        Op::NotNull { column, spec } => not_null(version, change, facts, column, spec),
        Op::AddNotNull {
            column,
            spec,
            after,
        } => added(version, change, facts, column, spec, after.as_deref()),
        Op::DropColumn { column } => dropped(change, facts, column),
        Op::RenameTable { to } => renamed(version, facts, t, to),
    }
}

/// The single-column primary key a backfill walks.
fn key(facts: &Facts) -> Result<&str, Unsupported> {
    match facts.primary_key.as_slice() {
        [k] => Ok(k),
        [] => Err(format!("`{}` has no primary key: the backfill walks the table by it; add one in a migration of its own first", facts.table)),
        _ => Err(format!("`{}` has a primary key of several columns: the backfill walks a single-column key; drain instead", facts.table)),
    }
}

fn trigger_names(version: i64) -> [String; 2] {
    [format!("_sg_{version}_ins"), format!("_sg_{version}_upd")]
}

fn drop_triggers(version: i64) -> Vec<String> {
    trigger_names(version)
        .iter()
        .map(|n| format!("DROP TRIGGER IF EXISTS {}", q(n)))
        .collect()
}

/// `statements` as one, with the table locked against the application's
/// queries meanwhile: a column that is NOT NULL without a default (the
/// new one while its triggers are not there yet, the old one once they
/// are gone) is never seen without the triggers that fill it, so an
/// INSERT that leaves it out never fails. The statements take
/// milliseconds; the lock waits at most the run's `lock_wait_timeout`
/// for the application's running statements, and those queue behind it
/// for as long. The runner unlocks when one of them fails.
pub fn locked(table: &str, statements: &[String]) -> String {
    format!(
        "LOCK TABLES {} WRITE; {}; UNLOCK TABLES",
        q(table),
        statements.join("; ")
    )
}

/// A string literal.
fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}

/// `statement` only while `table` still has `column`: a contract that
/// committed but was not recorded (the run was killed) is not run again
/// (it drops and renames indexes by name).
fn if_column(table: &str, column: &str, statement: &str) -> String {
    format!(
        "BEGIN NOT ATOMIC IF EXISTS (SELECT 1 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = {} AND COLUMN_NAME = {}) THEN {statement}; END IF; END",
        lit(table),
        lit(column)
    )
}

/// `CREATE OR REPLACE TRIGGER` for insert and update with these bodies.
fn triggers(version: i64, table: &str, ins: &str, upd: &str) -> Vec<String> {
    let [i, u] = trigger_names(version);
    vec![
        format!("CREATE OR REPLACE TRIGGER {} BEFORE INSERT ON {} FOR EACH ROW BEGIN {ins} END", q(&i), q(table)),
        format!("CREATE OR REPLACE TRIGGER {} BEFORE UPDATE ON {} FOR EACH ROW BEGIN IF {BACKFILL_VAR} IS NULL THEN {upd} END IF; END", q(&u), q(table)),
    ]
}

fn parse(expr: &str) -> Result<Expr, Unsupported> {
    Parser::new(&MySqlDialect {})
        .try_with_sql(expr)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| format!("`{expr}` is not one SQL expression: {e}"))
}

/// `expr` with each name `pick` chooses replaced by what it returns.
fn replace(expr: &str, pick: impl Fn(&Ident) -> Option<Expr>) -> Result<String, Unsupported> {
    let mut e = parse(expr)?;
    let _ = visit_expressions_mut(&mut e, |e| {
        if let Expr::Identifier(i) = e {
            if let Some(new) = pick(i) {
                *e = new;
            }
        }
        ControlFlow::<()>::Continue(())
    });
    Ok(e.to_string())
}

/// `expr` over the table's columns, read in a trigger: each column `c`
/// becomes `NEW.c`.
pub fn on_new(expr: &str, facts: &Facts, extra: &[&str]) -> Result<String, Unsupported> {
    let is_column = |i: &Ident| {
        facts.column(&i.value).is_some() || extra.iter().any(|x| x.eq_ignore_ascii_case(&i.value))
    };
    replace(expr, |i| {
        is_column(i).then(|| Expr::CompoundIdentifier(vec![Ident::new("NEW"), i.clone()]))
    })
}

/// `expr` with the column `name` read as `with` (the down expression over
/// a column that does not exist yet, checked on what up makes of a row).
fn substitute(expr: &str, name: &str, with: &str) -> Result<String, Unsupported> {
    let with = parse(with)?;
    replace(expr, |i| {
        i.value
            .eq_ignore_ascii_case(name)
            .then(|| Expr::Nested(Box::new(with.clone())))
    })
}

/// The query that evaluates `exprs` on a row of `table`.
fn check(table: &str, exprs: &[String]) -> String {
    let cast: Vec<String> = exprs
        .iter()
        .map(|e| format!("CAST(({e}) AS CHAR)"))
        .collect();
    format!("SELECT {} FROM {} LIMIT 1", cast.join(", "), q(table))
}

fn moved(
    version: i64,
    change: &Change,
    facts: &Facts,
    from: &str,
    to: &str,
    spec: Option<&ColumnSpec>,
) -> Result<Plan, Unsupported> {
    let t = &change.table;
    let key = key(facts)?;
    let old = facts
        .column(from)
        .ok_or_else(|| format!("`{t}` has no column `{from}`"))?;
    if facts.column(to).is_some() {
        return Err(format!("`{t}` has a column `{to}` already"));
    }
    if let Some(why) = facts.pinned(from) {
        return Err(why);
    }
    let spec = spec.cloned().unwrap_or_else(|| ColumnSpec {
        type_sql: old.type_sql(),
        not_null: !old.nullable,
        default: old.default.clone().filter(|d| d != "NULL"),
    });
    let a = &change.args;
    let needs_fill = (spec.not_null && old.nullable) || (!old.nullable && !spec.not_null);
    if needs_fill && a.fill.is_none() {
        return Err(format!("`{t}.{from}` and `{to}` differ in NULL: give `fill=<expression>` for the rows where the side that allows NULL holds one"));
    }
    let coalesce = |e: String, side_not_null: bool| match (&a.fill, side_not_null && needs_fill) {
        (Some(f), true) => format!("COALESCE({e}, {f})"),
        _ => e,
    };
    let up = coalesce(a.up.clone().unwrap_or_else(|| q(from)), spec.not_null);
    let down = coalesce(a.down.clone().unwrap_or_else(|| q(to)), !old.nullable);
    let (up_new, down_new) = (on_new(&up, facts, &[to])?, on_new(&down, facts, &[to])?);
    let (qf, qt, qtab) = (q(from), q(to), q(t));
    let ins = format!(
        "IF NEW.{qt} IS NULL THEN SET NEW.{qt} = {up_new}; ELSE SET NEW.{qf} = {down_new}; END IF;"
    );
    let upd = format!("IF NOT (NEW.{qt} <=> OLD.{qt}) THEN SET NEW.{qf} = {down_new}; ELSEIF NOT (NEW.{qf} <=> OLD.{qf}) THEN SET NEW.{qt} = {up_new}; END IF;");
    let null = if spec.not_null { " NOT NULL" } else { " NULL" };
    let mut parts = vec![format!(
        "ALTER TABLE {qtab} ADD COLUMN IF NOT EXISTS {qt} {}{null} AFTER {qf}, LOCK=NONE",
        spec.type_sql
    )];
    parts.extend(triggers(version, t, &ins, &upd));
    let expand = vec![locked(t, &parts)];
    let (finish, contract, revert) = moved_ends(version, facts, from, to, spec.default.as_deref());
    let check = vec![check(t, &[up.clone(), substitute(&down, to, &up)?])];
    Ok(Plan {
        check,
        expand,
        backfill: Some(Backfill {
            table: t.clone(),
            key: key.to_string(),
            set: format!("{qt} = {up}"),
            pending: format!("NOT ({qt} <=> {up})"),
        }),
        finish,
        contract,
        revert,
    })
}

/// Contract (the old column and its indexes dropped, the new ones named as
/// they were, the default set) and revert (the new column and indexes
/// dropped), with the indexes that finish the expand.
fn moved_ends(
    version: i64,
    facts: &Facts,
    from: &str,
    to: &str,
    default: Option<&str>,
) -> (Vec<String>, Vec<String>, Vec<String>) {
    let (qf, qt, qtab) = (q(from), q(to), q(&facts.table));
    let (finish, renames, drops) = moved_indexes(version, facts, from, to);
    let mut contract = drop_triggers(version);
    let mut parts: Vec<String> = facts
        .indexes
        .iter()
        .filter(|i| i.columns.iter().any(|(c, _)| c.eq_ignore_ascii_case(from)))
        .map(|i| format!("DROP INDEX {}", q(&i.name)))
        .collect();
    parts.push(format!("DROP COLUMN {qf}"));
    parts.extend(renames);
    if let Some(d) = default {
        parts.push(format!("ALTER COLUMN {qt} SET DEFAULT {d}"));
    }
    let alter = format!("ALTER TABLE {qtab} {}, LOCK=NONE", parts.join(", "));
    contract.push(if_column(&facts.table, from, &alter));
    let mut revert = drop_triggers(version);
    let mut undo = drops;
    undo.push(format!("DROP COLUMN IF EXISTS {qt}"));
    revert.push(format!("ALTER TABLE {qtab} {}, LOCK=NONE", undo.join(", ")));
    let t = &facts.table;
    (finish, vec![locked(t, &contract)], vec![locked(t, &revert)])
}

/// The moved column's indexes, again on the new column under a name of
/// schemagate's: `(create them, rename them back at contract, drop them
/// at revert)`.
fn moved_indexes(
    version: i64,
    facts: &Facts,
    from: &str,
    to: &str,
) -> (Vec<String>, Vec<String>, Vec<String>) {
    let (mut create, mut rename, mut drop) = (Vec::new(), Vec::new(), Vec::new());
    for i in facts
        .indexes
        .iter()
        .filter(|i| i.columns.iter().any(|(c, _)| c.eq_ignore_ascii_case(from)))
    {
        let name = format!("_sg_{version}_{}", i.name);
        let cols: Vec<String> = i
            .columns
            .iter()
            .map(|(c, len)| {
                let c = if c.eq_ignore_ascii_case(from) { to } else { c };
                match len {
                    Some(n) => format!("{}({n})", q(c)),
                    None => q(c),
                }
            })
            .collect();
        let unique = if i.unique { "UNIQUE " } else { "" };
        create.push(format!(
            "ALTER TABLE {} ADD {unique}INDEX IF NOT EXISTS {} ({}), LOCK=NONE",
            q(&facts.table),
            q(&name),
            cols.join(", ")
        ));
        rename.push(format!("RENAME INDEX {} TO {}", q(&name), q(&i.name)));
        drop.push(format!("DROP INDEX IF EXISTS {}", q(&name)));
    }
    (create, rename, drop)
}

/// Rows (existing and incoming) where the column is NULL get `fill`.
fn filled(
    version: i64,
    facts: &Facts,
    t: &str,
    column: &str,
    fill: &str,
) -> Result<(Vec<String>, Backfill), Unsupported> {
    let key = key(facts)?;
    let c = q(column);
    let body = format!(
        "IF NEW.{c} IS NULL THEN SET NEW.{c} = {}; END IF;",
        on_new(fill, facts, &[column])?
    );
    Ok((
        triggers(version, t, &body, &body),
        Backfill {
            table: t.to_string(),
            key: key.to_string(),
            set: format!("{c} = {fill}"),
            pending: format!("{c} IS NULL"),
        },
    ))
}

fn fill_of(change: &Change) -> &str {
    change
        .args
        .fill
        .as_deref()
        .expect("checked by change::read")
}

fn not_null(
    version: i64,
    change: &Change,
    facts: &Facts,
    column: &str,
    spec: &ColumnSpec,
) -> Result<Plan, Unsupported> {
    let t = &change.table;
    let col = facts
        .column(column)
        .ok_or_else(|| format!("`{t}` has no column `{column}`"))?;
    if col.generated {
        return Err(format!(
            "`{t}.{column}` is generated or auto-increment: the server fills it"
        ));
    }
    let (expand, backfill) = filled(version, facts, t, column, fill_of(change))?;
    let mut contract = drop_triggers(version);
    contract.push(format!(
        "ALTER TABLE {} MODIFY COLUMN {} {}",
        q(t),
        q(column),
        spec.sql()
    ));
    Ok(Plan {
        check: vec![check(t, &[fill_of(change).to_string()])],
        expand,
        backfill: Some(backfill),
        finish: Vec::new(),
        contract,
        revert: drop_triggers(version),
    })
}

fn added(
    version: i64,
    change: &Change,
    facts: &Facts,
    column: &str,
    spec: &ColumnSpec,
    after: Option<&str>,
) -> Result<Plan, Unsupported> {
    let t = &change.table;
    if facts.column(column).is_some() {
        return Err(format!("`{t}` has a column `{column}` already"));
    }
    let position = after.map_or(String::new(), |a| format!(" AFTER {}", q(a)));
    let mut expand = vec![format!(
        "ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {} NULL{position}, LOCK=NONE",
        q(t),
        q(column),
        spec.type_sql
    )];
    let (trig, backfill) = filled(version, facts, t, column, fill_of(change))?;
    expand.extend(trig);
    let mut contract = drop_triggers(version);
    contract.push(format!(
        "ALTER TABLE {} MODIFY COLUMN {} {}",
        q(t),
        q(column),
        spec.sql()
    ));
    let mut revert = drop_triggers(version);
    revert.push(format!(
        "ALTER TABLE {} DROP COLUMN IF EXISTS {}, LOCK=NONE",
        q(t),
        q(column)
    ));
    Ok(Plan {
        check: vec![check(t, &[fill_of(change).to_string()])],
        expand,
        backfill: Some(backfill),
        finish: Vec::new(),
        contract,
        revert,
    })
}

fn dropped(change: &Change, facts: &Facts, column: &str) -> Result<Plan, Unsupported> {
    let t = &change.table;
    let col = facts
        .column(column)
        .ok_or_else(|| format!("`{t}` has no column `{column}`"))?;
    if let Some(why) = facts.pinned(column) {
        return Err(why);
    }
    if let Some(i) = facts.indexes.iter().find(|i| {
        i.unique
            && i.columns
                .iter()
                .any(|(c, _)| c.eq_ignore_ascii_case(column))
    }) {
        return Err(format!("`{t}.{column}` is in the unique index `{}`: the new release leaves it out of its rows, so they would collide; drop the index in a migration of its own first", i.name));
    }
    let needs_default = !col.nullable && col.default.is_none();
    let (expand, revert) = match (&change.args.fill, needs_default) {
        (Some(f), _) => (
            vec![format!("ALTER TABLE {} ALTER COLUMN {} SET DEFAULT {}", q(t), q(column), default_sql(f))],
            vec![match &col.default {
                Some(d) => format!("ALTER TABLE {} ALTER COLUMN {} SET DEFAULT {d}", q(t), q(column)),
                None => format!("ALTER TABLE {} ALTER COLUMN {} DROP DEFAULT", q(t), q(column)),
            }],
        ),
        (None, true) => return Err(format!("`{t}.{column}` is NOT NULL without a default and the new release leaves it out of its inserts: give `fill=<value>`, its default until contract drops it")),
        (None, false) => (Vec::new(), Vec::new()),
    };
    Ok(Plan {
        check: Vec::new(),
        expand,
        backfill: None,
        finish: Vec::new(),
        contract: vec![format!(
            "ALTER TABLE {} DROP COLUMN IF EXISTS {}",
            q(t),
            q(column)
        )],
        revert,
    })
}

/// A default: a literal as written, anything else in parentheses.
fn default_sql(fill: &str) -> String {
    let literal =
        fill.starts_with('\'') || fill.parse::<f64>().is_ok() || fill.eq_ignore_ascii_case("NULL");
    if literal {
        fill.to_string()
    } else {
        format!("({fill})")
    }
}

fn renamed(version: i64, facts: &Facts, t: &str, to: &str) -> Result<Plan, Unsupported> {
    if let Some(k) = &facts.target_kind {
        return Err(format!("`{to}` exists already (a {})", k.to_lowercase()));
    }
    if let Some((v, _)) = facts.views.first() {
        return Err(format!(
            "the view `{v}` reads `{t}`: change it in a migration of its own first"
        ));
    }
    let (view, gone) = (format!("_sg_{version}_view"), format!("_sg_{version}_gone"));
    let cols: Vec<String> = facts.columns.iter().map(|c| q(&c.name)).collect();
    let cols = cols.join(", ");
    Ok(Plan {
        check: Vec::new(),
        expand: vec![
            format!(
                "CREATE OR REPLACE ALGORITHM=MERGE VIEW {} AS SELECT {cols} FROM {}",
                q(to),
                q(t)
            ),
            format!(
                "CREATE OR REPLACE ALGORITHM=MERGE VIEW {} AS SELECT {cols} FROM {}",
                q(&view),
                q(to)
            ),
            if_kind(
                t,
                "BASE TABLE",
                &format!(
                    "RENAME TABLE {} TO {}, {} TO {}, {} TO {}",
                    q(to),
                    q(&gone),
                    q(t),
                    q(to),
                    q(&view),
                    q(t)
                ),
            ),
            format!("DROP VIEW IF EXISTS {}", q(&gone)),
        ],
        backfill: None,
        finish: Vec::new(),
        contract: vec![format!("DROP VIEW IF EXISTS {}", q(t))],
        revert: vec![
            if_kind(
                to,
                "BASE TABLE",
                &format!(
                    "RENAME TABLE {} TO {}, {} TO {}",
                    q(t),
                    q(&gone),
                    q(to),
                    q(t)
                ),
            ),
            format!("DROP VIEW IF EXISTS {}", q(&gone)),
            // An expand stopped before its swap left its two views.
            if_kind(to, "VIEW", &format!("DROP VIEW {}", q(to))),
            format!("DROP VIEW IF EXISTS {}", q(&view)),
        ],
    })
}

/// `statement` only while `name` is a `kind` (`BASE TABLE`, `VIEW`): the
/// swaps of a table rename, run again after a kill that left them
/// unrecorded, find the names swapped already and do nothing.
fn if_kind(name: &str, kind: &str, statement: &str) -> String {
    format!(
        "BEGIN NOT ATOMIC IF (SELECT TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = {}) = {} THEN {statement}; END IF; END",
        lit(name),
        lit(kind)
    )
}

#[cfg(test)]
mod tests;
