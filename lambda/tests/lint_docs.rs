//! `docs/breaking-migrations.md` shows the rule table as the code has it.

use schemagate::lint::RULES;

#[test]
fn the_documented_rule_table_is_the_code_s() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/breaking-migrations.md"
    );
    let doc = std::fs::read_to_string(path).unwrap();
    let rows: Vec<&str> = doc.lines().filter(|l| l.starts_with("| `")).collect();
    for r in RULES {
        let row = rows
            .iter()
            .find(|l| l.starts_with(&format!("| `{}` |", r.id)))
            .unwrap_or_else(|| panic!("rule `{}` is missing from {path}", r.id));
        assert!(
            row.contains(&format!("| {} |", r.severity.as_str())),
            "{}: class differs: {row}",
            r.id
        );
        assert!(
            row.contains(&r.reason.replace('|', "\\|")),
            "{}: reason differs: {row}",
            r.id
        );
        assert!(
            row.contains(&r.fix.replace('|', "\\|")),
            "{}: fix differs: {row}",
            r.id
        );
    }
    let documented = rows
        .iter()
        .filter(|l| {
            l.contains("` | refused |")
                || l.contains("` | breaking |")
                || l.contains("` | unknown |")
                || l.contains("` | blocking |")
                || l.contains("` | warning |")
        })
        .count();
    assert_eq!(
        documented,
        RULES.len(),
        "rules in the doc that the code does not have"
    );
}
