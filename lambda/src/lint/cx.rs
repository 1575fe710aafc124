//! The lint's state while it reads one script ([`Cx`]): the schema it
//! updates, the findings so far, what earlier statements of the file set
//! (`SET FOREIGN_KEY_CHECKS = 0`, prepared statements), and where the
//! statements being read run. [`Cx::hit`] is the one place a finding is
//! recorded.
//!
//! The rest of `Cx` is spread over the files of the lint, one idea each:
//! [`super::statement`] reads a statement and hands it to the syntax-tree
//! path ([`super::tree`]) or to the fallback ([`super::fallback`]), both of
//! which change the schema only through [`super::ops`].

use std::collections::{HashMap, HashSet};

use sqlparser::ast::{Ident, ObjectName};
use sqlparser::tokenizer::TokenWithSpan;

use super::finding::Finding;
use super::name::{Name, Of};
use super::rules::{Id, Severity};
use super::schema::Schema;
use super::tokens::qualified;
use crate::dialect::Dialect;

/// Where the statements being read run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Runs {
    /// In the run's own session (the script, `BEGIN NOT ATOMIC`, a
    /// prepared statement).
    Here,
    /// In another session, later (an event's or a trigger's body): what it
    /// does to its session does not touch the run.
    Elsewhere,
}

pub(super) struct Cx<'a> {
    pub(super) dialect: Dialect,
    pub(super) schema: &'a mut Schema,
    /// Findings only matter (and objects are only new) in pending scripts.
    pub(super) pending: bool,
    pub(super) findings: Vec<Finding>,
    /// `SET FOREIGN_KEY_CHECKS = 0` ran earlier in the file.
    pub(super) fk_checks_off: bool,
    /// The file starts with `-- no-transaction` (PostgreSQL: it runs
    /// outside a transaction and may manage its own).
    pub(super) no_tx: bool,
    pub(super) runs: Runs,
    /// Put before each finding's subject: `in event \`purge\``.
    pub(super) context: Option<String>,
    /// Names prepared from text read earlier in the file.
    pub(super) prepared: HashSet<String>,
    /// `@old = @@sql_mode`: user variables holding a session setting's
    /// value, so setting it back (`SET sql_mode = @old`) is recognised.
    pub(super) saved: HashMap<String, String>,
    /// How deep in bodies (a guard against pathological nesting).
    pub(super) nesting: usize,
}

/// Where a statement is, for findings.
#[derive(Clone, Copy)]
pub(super) struct At {
    pub(super) line: usize,
    pub(super) statement: usize,
}

impl<'a> Cx<'a> {
    pub(super) fn new(
        dialect: Dialect,
        schema: &'a mut Schema,
        pending: bool,
        no_tx: bool,
    ) -> Self {
        Cx {
            dialect,
            schema,
            pending,
            findings: Vec::new(),
            fk_checks_off: false,
            no_tx,
            runs: Runs::Here,
            context: None,
            prepared: HashSet::new(),
            saved: HashMap::new(),
            nesting: 0,
        }
    }
}

impl Cx<'_> {
    /// Record a finding of rule `id`, if it applies here: a rule of the
    /// other dialect never does, an applied script's findings do not
    /// matter, and what a body run elsewhere does to its own session is its
    /// business.
    pub(super) fn hit(&mut self, id: Id, at: At, subject: impl Into<String>) {
        let rule = id.rule();
        if !rule.engines.includes(self.dialect) {
            return;
        }
        if !self.pending || (self.runs == Runs::Elsewhere && rule.severity == Severity::Refused) {
            return;
        }
        let subject = subject.into();
        self.findings.push(Finding {
            rule,
            line: at.line,
            statement: at.statement,
            subject: match &self.context {
                Some(c) => format!("{c}: {subject}"),
                None => subject,
            },
        });
    }

    pub(super) fn maria(&self) -> bool {
        self.dialect == Dialect::MariaDb
    }

    /// The name of an object, as the server compares it.
    pub(super) fn name(&self, of: Of, n: &ObjectName) -> Name {
        Name::object(self.dialect, of, n)
    }

    pub(super) fn ident(&self, of: Of, i: &Ident) -> Name {
        Name::ident(self.dialect, of, i)
    }

    /// The name that starts at token `words[i]`, qualified or not.
    pub(super) fn name_at(&self, of: Of, words: &[&TokenWithSpan], i: usize) -> Option<Name> {
        match qualified(words, i) {
            Some((w, _)) => Some(Name::word(self.dialect, of, w)),
            None => words
                .get(i)
                .map(|t| Name::new(self.dialect, of, &t.token.to_string(), true)),
        }
    }

    /// The running release knows this table: findings apply.
    pub(super) fn old_table(&self, t: &Name) -> bool {
        !self.schema.is_new_table(t)
    }

    pub(super) fn old_column(&self, t: &Name, c: &Name) -> bool {
        self.old_table(t) && !self.schema.column(t, c).is_some_and(|c| c.new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finding_is_only_recorded_for_a_rule_of_the_dialect() {
        for (dialect, own, foreign) in [
            (Dialect::MariaDb, Id::CopyCheck, Id::ScanSetNotNull),
            (Dialect::Postgres, Id::ScanSetNotNull, Id::CopyCheck),
        ] {
            let mut schema = Schema::new(dialect);
            let mut cx = Cx::new(dialect, &mut schema, true, false);
            let at = At {
                line: 1,
                statement: 0,
            };
            cx.hit(foreign, at, "foreign");
            cx.hit(own, at, "own");
            cx.hit(Id::DropTable, at, "both");
            let got: Vec<Id> = cx.findings.iter().map(|f| f.rule.id).collect();
            assert_eq!(got, [own, Id::DropTable], "{dialect}");
        }
    }
}
