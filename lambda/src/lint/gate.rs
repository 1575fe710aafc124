//! The deploy gate: given the lint of the pending migrations, go ahead,
//! drain the running release first, or refuse with a Reason that names the
//! migration, the line and the rule. Pure, so every branch has a test.

use super::finding::MigrationLint;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nothing pending breaks the running release.
    Proceed,
    /// Nothing has ever been applied: no release runs on this schema yet.
    FirstDeploy,
    /// Breaking migrations, no drain target, `AllowBreaking=true`.
    Allowed { migrations: Vec<String> },
    /// Breaking migrations: drain the running release first.
    Drain { migrations: Vec<String> },
    /// Refused; the Reason for CloudFormation.
    Refuse(String),
}

/// How a refusal names the two ways out that are not a marker: each edge
/// has its own words for them (the construct's properties, the CLI's flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fixes {
    /// The drain target: `give the construct a drain target (…)`.
    pub drain: &'static str,
    /// Accepting it: `set AllowBreaking=true`.
    pub allow: &'static str,
}

impl Fixes {
    /// The deploy's: the construct's properties.
    pub const DEPLOY: Fixes = Fixes {
        drain: "give the construct a drain target (DrainTagKey/DrainTagValue) so the old instances are stopped first",
        allow: "set AllowBreaking=true to accept it",
    };
    /// The CLI's `up` and `down`: its flags.
    pub const CLI: Fixes = Fixes {
        drain: "pass --drain-tag KEY=VALUE so the Auto Scaling groups of the old release (tagged KEY=VALUE) are drained first",
        allow: "pass --allow-breaking to accept it",
    };
}

/// Decide for the pending up migrations `lints`, in the deploy's words.
pub fn decide(
    lints: &[MigrationLint],
    first_deploy: bool,
    drain: bool,
    allow_breaking: bool,
) -> Decision {
    decide_for(lints, first_deploy, drain, allow_breaking, &Fixes::DEPLOY)
}

/// [`decide`], with a refusal that names the ways out in `fixes`' words.
pub fn decide_for(
    lints: &[MigrationLint],
    first_deploy: bool,
    drain: bool,
    allow_breaking: bool,
    fixes: &Fixes,
) -> Decision {
    let breaking: Vec<&MigrationLint> = lints.iter().filter(|l| l.needs_drain()).collect();
    if breaking.is_empty() {
        return Decision::Proceed;
    }
    // Never run, not even on a first deploy (the engine refuses these before
    // the gate is asked; this keeps the gate honest on its own).
    let refused: Vec<&MigrationLint> = lints
        .iter()
        .filter(|l| l.refused().next().is_some())
        .collect();
    if !refused.is_empty() {
        return Decision::Refuse(super::refusal::Refusals::of(&refused).to_string());
    }
    if first_deploy {
        return Decision::FirstDeploy;
    }
    let names: Vec<String> = breaking.iter().map(|l| l.name.clone()).collect();
    if drain {
        return Decision::Drain { migrations: names };
    }
    if allow_breaking {
        return Decision::Allowed { migrations: names };
    }
    Decision::Refuse(refusal(&breaking, fixes))
}

fn refusal(breaking: &[&MigrationLint], fixes: &Fixes) -> String {
    let mut parts = Vec::new();
    for l in breaking.iter().take(3) {
        let what = match l.gating().next() {
            Some(f) => format!(
                "line {}: {}[{}]: {} ({})",
                f.line,
                f.severity().as_str(),
                f.rule.id,
                f.subject,
                f.rule.reason
            ),
            None => "marked \"-- schemagate: breaking\"".to_string(),
        };
        let more = l.gating().count().saturating_sub(1);
        let more = if more > 0 {
            format!(" (and {more} more)")
        } else {
            String::new()
        };
        parts.push(format!("`{}` {what}{more}", l.name));
    }
    if breaking.len() > 3 {
        parts.push(format!("and {} more migrations", breaking.len() - 3));
    }
    format!(
        "refused before running anything: {} would break the release that is running now: {}. Nothing was applied. \
         Fix one of: mark the migration \"-- schemagate: contract\" if the running release no longer uses what it changes; \
         {}; or {}. `schemagate lint` shows every finding",
        if breaking.len() == 1 { "a pending migration" } else { "pending migrations" },
        parts.join("; "),
        fixes.drain,
        fixes.allow,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::Dialect;
    use crate::lint::schema::Schema;
    use crate::lint::script::lint_script;
    use std::path::PathBuf;

    fn lints(files: &[(&str, &str)]) -> Vec<MigrationLint> {
        let mut schema = Schema::new(Dialect::MariaDb);
        lint_script(
            &mut schema,
            Dialect::MariaDb,
            "CREATE TABLE users (id INT PRIMARY KEY, legacy_email TEXT NULL);",
            false,
        );
        files
            .iter()
            .enumerate()
            .map(|(i, (name, sql))| {
                let (intent, statements, findings) =
                    lint_script(&mut schema, Dialect::MariaDb, sql, true);
                MigrationLint {
                    version: i as i64 + 2,
                    name: name.to_string(),
                    path: PathBuf::from(format!("migrations/{name}.up.sql")),
                    intent,
                    statements,
                    findings,
                    online: None,
                }
            })
            .collect()
    }

    const DROP: (&str, &str) = (
        "0043_drop_legacy_email",
        "-- cleanup\n\nALTER TABLE users DROP COLUMN legacy_email;",
    );

    #[test]
    fn expand_only_proceeds_without_draining() {
        let l = lints(&[("0042_add", "ALTER TABLE users ADD nickname TEXT NULL;")]);
        assert_eq!(decide(&l, false, true, false), Decision::Proceed);
    }

    #[test]
    fn an_unmarked_drop_is_refused_naming_migration_line_and_rule() {
        let l = lints(&[DROP]);
        let Decision::Refuse(reason) = decide(&l, false, false, false) else {
            panic!()
        };
        assert!(reason.contains("`0043_drop_legacy_email` line 3: breaking[drop-column]: DROP COLUMN users.legacy_email"), "{reason}");
        assert!(reason.contains("Nothing was applied"), "{reason}");
        assert!(
            reason.contains("-- schemagate: contract")
                && reason.contains("DrainTagKey")
                && reason.contains("AllowBreaking")
        );
    }

    #[test]
    fn contract_marker_drain_target_allow_breaking_and_first_deploy_each_let_it_pass() {
        let marked = lints(&[(
            "0043_drop",
            "-- schemagate: contract\nALTER TABLE users DROP COLUMN legacy_email;",
        )]);
        assert_eq!(decide(&marked, false, false, false), Decision::Proceed);
        let l = lints(&[DROP]);
        assert_eq!(
            decide(&l, false, true, false),
            Decision::Drain {
                migrations: vec!["0043_drop_legacy_email".into()]
            }
        );
        assert_eq!(
            decide(&l, false, false, true),
            Decision::Allowed {
                migrations: vec!["0043_drop_legacy_email".into()]
            }
        );
        assert_eq!(decide(&l, true, false, false), Decision::FirstDeploy);
    }

    #[test]
    fn a_breaking_marker_needs_a_drain_even_for_harmless_statements() {
        let l = lints(&[(
            "0044_backfill",
            "-- schemagate: breaking\nUPDATE users SET legacy_email = NULL WHERE id > 0;",
        )]);
        let Decision::Refuse(reason) = decide(&l, false, false, false) else {
            panic!()
        };
        assert!(
            reason.contains("`0044_backfill` marked \"-- schemagate: breaking\""),
            "{reason}"
        );
    }

    #[test]
    fn an_unknown_statement_is_never_silently_safe() {
        let l = lints(&[("0045_odd", "ALTER TABLE users FROBNICATE;")]);
        let Decision::Refuse(reason) = decide(&l, false, false, false) else {
            panic!()
        };
        assert!(reason.contains("unknown[unparsed]"), "{reason}");
    }
}
