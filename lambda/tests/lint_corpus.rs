//! The lint on real histories nobody here wrote: Temporal's MySQL and
//! PostgreSQL schema histories (`../shared/corpus`). Every statement must be
//! read by the parser (or recognized by its first words): none may end up
//! `unknown`. Each version is also linted on its own, on top of the ones
//! before it, as a deploy of that version would be.

use std::path::PathBuf;

use schemagate::dialect::Dialect;
use schemagate::lint::{self, report, Class, Severity};
use schemagate::migrate::MigrationSet;

fn corpus(name: &str) -> MigrationSet {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/corpus")
        .join(name);
    MigrationSet::load(&dir)
        .unwrap_or_else(|e| panic!("the corpus `{}` is missing: {e}", dir.display()))
}

fn check(name: &str, kind: Dialect) -> Vec<(String, Class, Vec<String>)> {
    let set = corpus(name);
    assert!(set.files.len() >= 20, "{name}: {} files", set.files.len());

    // The whole history as one first deploy.
    let all = lint::lint(&set, kind, &lint::after(&set, 0));
    let unknown: Vec<String> = all
        .iter()
        .flat_map(|l| {
            l.findings
                .iter()
                .filter(|f| f.severity() == Severity::Unknown)
                .map(move |f| l.diagnostic(f))
        })
        .collect();
    assert!(
        unknown.is_empty(),
        "{name}: statements not understood:\n{}",
        unknown.join("\n")
    );
    let statements: usize = all.iter().map(|l| l.statements).sum();
    assert!(statements > 60, "{name}: only {statements} statements read");

    // Each version deployed on its own.
    let mut table = Vec::new();
    for f in &set.files {
        let l = lint::lint(&set, kind, &[f.version]);
        assert_eq!(l.len(), 1);
        let l = &l[0];
        assert!(
            l.findings.iter().all(|f| f.severity() != Severity::Unknown),
            "{}",
            report::text(std::slice::from_ref(l))
        );
        let ids: Vec<String> = l
            .findings
            .iter()
            .map(|f| format!("{}[{}]", f.severity().as_str(), f.rule.id))
            .collect();
        table.push((l.name.clone(), l.class(), ids));
    }
    for (n, c, ids) in &table {
        println!("{n:<60} {c:<9} {}", ids.join(" "));
    }
    table
}

fn class_of<'a>(
    table: &'a [(String, Class, Vec<String>)],
    prefix: &str,
) -> &'a (String, Class, Vec<String>) {
    table
        .iter()
        .find(|(n, _, _)| n.starts_with(prefix))
        .unwrap()
}

#[test]
fn temporal_mysql_history_is_read_without_a_parser_error_and_classified() {
    let t = check("temporal-mysql", Dialect::MariaDb);
    // Creating tables only.
    assert_eq!(class_of(&t, "0004_").1, Class::Expand);
    // DROP of columns and tables the previous release had.
    let v5 = class_of(&t, "0005_");
    assert_eq!(v5.1, Class::Breaking);
    assert!(
        v5.2.contains(&"breaking[drop-column]".to_string()),
        "{v5:?}"
    );
    let v9 = class_of(&t, "0009_");
    assert!(v9.2.contains(&"breaking[drop-table]".to_string()), "{v9:?}");
    // ADD … NOT NULL without a default on an existing table.
    assert!(class_of(&t, "0002_")
        .2
        .contains(&"breaking[add-column-not-null]".to_string()));
    // BLOB → MEDIUMBLOB: wider, but MariaDB copies the table.
    let v3 = class_of(&t, "0003_");
    assert_eq!(v3.1, Class::Expand, "{v3:?}");
    assert!(
        v3.2.contains(&"blocking[copy-type-change]".to_string()),
        "{v3:?}"
    );
    // A nullable column added: expand.
    assert_eq!(class_of(&t, "0015_").1, Class::Expand);
}

#[test]
fn temporal_postgres_history_is_read_without_a_parser_error_and_classified() {
    let t = check("temporal-pg", Dialect::Postgres);
    assert_eq!(class_of(&t, "0004_").1, Class::Expand);
    assert_eq!(class_of(&t, "0005_").1, Class::Breaking);
    assert_eq!(class_of(&t, "0015_").1, Class::Expand);
}
