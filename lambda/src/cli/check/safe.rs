//! Can release V run on this schema? Pure: the database's head and the
//! migrations applied above V, with the class `_schemagate_history`
//! recorded for each (its class for the release before it), decide.
//!
//! Safe for V: `expand` and `baseline` always; `contract` when the run
//! that applied it started at a version `since <= V` (it removes what the
//! release at `since` no longer used; that release and newer ones run
//! without it, an older one may still use it); `breaking` and `unknown`
//! never above V. A migration above V with no recorded class (applied by an
//! older schemagate or another tool) is not safe: nothing says it is.

use std::fmt;

/// A migration applied above the release's version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Above {
    pub version: i64,
    /// `_sqlx_migrations.description` (`drop legacy email`).
    pub description: String,
    /// `false`: recorded as failed (it may be partly applied).
    pub success: bool,
    /// Its row in `_schemagate_history`, when there is one.
    pub recorded: Option<Recorded>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// `0043_drop_legacy_email`
    pub name: Option<String>,
    /// `expand`, `contract`, `breaking`, `unknown`, `baseline`.
    pub class: String,
    /// Gating rule ids, comma separated.
    pub rules: String,
    /// The version the run that applied it started at.
    pub since: Option<i64>,
}

/// What the one query found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Found {
    /// The highest version applied successfully (0: none).
    pub head: i64,
    /// The migrations applied (or failed) above the release's version, in
    /// version order.
    pub above: Vec<Above>,
}

/// Why a migration above V is not safe for V.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unsafe {
    /// `breaking` or `unknown` for the release before it.
    Breaks,
    /// `contract`, applied by a run that started above V (or at an unknown
    /// version): the release it was safe for is newer than V.
    ContractAfter { since: Option<i64> },
    /// No row in `_schemagate_history`.
    Unrecorded,
    /// A class schemagate does not know.
    UnknownClass,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every migration above V is safe for V.
    Safe,
    /// V's own migrations are not all applied yet.
    Behind,
    /// The first migration above V that V cannot run on.
    Breaks { migration: Above, why: Unsafe },
}

impl Above {
    /// `` `0043_drop_legacy_email` `` from its recorded name, else
    /// ``version 43 (`drop legacy email`)``.
    pub fn shown(&self) -> String {
        match self.recorded.as_ref().and_then(|r| r.name.as_deref()) {
            Some(name) => format!("`{name}`"),
            None => format!("version {} (`{}`)", self.version, self.description),
        }
    }

    /// Why release `release` cannot run on it; `None`: it can.
    pub fn unsafe_for(&self, release: i64) -> Option<Unsafe> {
        let Some(r) = &self.recorded else {
            return Some(Unsafe::Unrecorded);
        };
        match r.class.as_str() {
            "expand" | "baseline" => None,
            "contract" => match r.since {
                Some(since) if since <= release => None,
                since => Some(Unsafe::ContractAfter { since }),
            },
            "breaking" | "unknown" if self.version <= release => None,
            "breaking" | "unknown" => Some(Unsafe::Breaks),
            _ => Some(Unsafe::UnknownClass),
        }
    }
}

/// Decide for release `release`.
pub fn judge(release: i64, found: &Found) -> Verdict {
    if found.head < release {
        return Verdict::Behind;
    }
    for a in &found.above {
        if let Some(why) = a.unsafe_for(release) {
            return Verdict::Breaks {
                migration: a.clone(),
                why,
            };
        }
    }
    Verdict::Safe
}

/// The one-line reason of a verdict that is not [`Verdict::Safe`].
pub struct Reason<'a> {
    pub release: i64,
    pub found: &'a Found,
    pub verdict: &'a Verdict,
}

impl fmt::Display for Reason<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.release;
        let (m, why) = match self.verdict {
            Verdict::Safe => {
                return write!(f, "release {v} can run on this schema (at version {})", self.found.head)
            }
            Verdict::Behind if self.found.head == 0 => return write!(
                f,
                "the database is behind release {v}: no migration is applied; run the migrations first (the deploy, or `schemagate up`)"
            ),
            Verdict::Behind => return write!(
                f,
                "the database is behind release {v}: its schema is at version {}, and release {v} needs version {v}; run the migrations first (the deploy, or `schemagate up --to {v}`)",
                self.found.head
            ),
            Verdict::Breaks { migration, why } => (migration, why),
        };
        let at = m.version;
        let failed = if m.success {
            "applied"
        } else {
            "recorded as failed (it may be partly applied)"
        };
        let replace = format!("this instance must not serve: replace it with a release built for version {at} or later");
        let r = m.recorded.as_ref();
        match why {
            Unsafe::Breaks => {
                let r = r.expect("a class was recorded");
                let rules = if r.rules.is_empty() { String::new() } else { format!(": {}", r.rules) };
                write!(f, "{} is {failed} and breaks release {v} ({}{rules}); {replace}", m.shown(), r.class)
            }
            Unsafe::ContractAfter { since: Some(since) } => write!(
                f,
                "{} is {failed} and breaks release {v}: it is a contract for the release at version {since} (it removes what that release no longer used), and release {v} is older and may still use it; {replace}",
                m.shown()
            ),
            Unsafe::ContractAfter { since: None } => write!(
                f,
                "{} is {failed}: a contract whose run's starting version is not recorded, so it may remove what release {v} uses; {replace}",
                m.shown()
            ),
            Unsafe::Unrecorded => write!(
                f,
                "{} is {failed} above release {v} but has no class in `_schemagate_history` (applied by an older schemagate or another tool), so nothing says release {v} can run on it; {replace}, or, once you know release {v} runs on it, record it: INSERT INTO _schemagate_history (version, name, class, rules, since) VALUES ({at}, '…', 'expand', '', {v})",
                m.shown()
            ),
            Unsafe::UnknownClass => write!(
                f,
                "{} is {failed} with class `{}` in `_schemagate_history`, which this schemagate does not know; {replace}",
                m.shown(),
                r.map_or("", |r| r.class.as_str())
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn above(version: i64, class: Option<&str>, since: Option<i64>) -> Above {
        Above {
            version,
            description: format!("m{version}"),
            success: true,
            recorded: class.map(|c| Recorded {
                name: Some(format!("{version:04}_m")),
                class: c.into(),
                rules: if c == "breaking" {
                    "drop-column".into()
                } else {
                    String::new()
                },
                since,
            }),
        }
    }

    fn found(head: i64, above: Vec<Above>) -> Found {
        Found { head, above }
    }

    #[test]
    fn expand_and_baseline_are_safe_for_every_older_release() {
        let f = found(
            8,
            vec![
                above(7, Some("expand"), Some(6)),
                above(8, Some("baseline"), None),
            ],
        );
        assert_eq!(judge(6, &f), Verdict::Safe);
        assert_eq!(
            judge(3, &found(8, vec![above(4, Some("expand"), Some(3))])),
            Verdict::Safe
        );
    }

    #[test]
    fn breaking_and_unknown_above_the_release_break_it() {
        for class in ["breaking", "unknown"] {
            let f = found(
                8,
                vec![
                    above(7, Some("expand"), Some(6)),
                    above(8, Some(class), Some(6)),
                ],
            );
            let v = judge(6, &f);
            assert!(
                matches!(&v, Verdict::Breaks { migration, why: Unsafe::Breaks } if migration.version == 8),
                "{v:?}"
            );
            let reason = Reason {
                release: 6,
                found: &f,
                verdict: &v,
            }
            .to_string();
            assert!(
                reason.starts_with(&format!(
                    "`0008_m` is applied and breaks release 6 ({class}"
                )),
                "{reason}"
            );
            // The release built for 8 runs on it.
            assert_eq!(judge(8, &f), Verdict::Safe);
        }
    }

    #[test]
    fn a_contract_is_safe_for_the_release_it_was_made_for_and_newer_ones_only() {
        let f = found(9, vec![above(9, Some("contract"), Some(7))]);
        assert_eq!(
            judge(7, &f),
            Verdict::Safe,
            "the release running when it ran"
        );
        assert_eq!(judge(8, &f), Verdict::Safe, "a newer one");
        let v = judge(6, &f);
        assert_eq!(
            v,
            Verdict::Breaks {
                migration: f.above[0].clone(),
                why: Unsafe::ContractAfter { since: Some(7) }
            }
        );
        let reason = Reason {
            release: 6,
            found: &f,
            verdict: &v,
        }
        .to_string();
        assert!(
            reason.contains("a contract for the release at version 7"),
            "{reason}"
        );
        let unknown_since = found(9, vec![above(9, Some("contract"), None)]);
        assert!(matches!(
            judge(8, &unknown_since),
            Verdict::Breaks {
                why: Unsafe::ContractAfter { since: None },
                ..
            }
        ));
    }

    #[test]
    fn a_migration_without_a_recorded_class_is_not_safe_and_the_reason_says_how_to_fix_it() {
        let f = found(7, vec![above(7, None, None)]);
        let v = judge(6, &f);
        assert!(matches!(
            v,
            Verdict::Breaks {
                why: Unsafe::Unrecorded,
                ..
            }
        ));
        let reason = Reason {
            release: 6,
            found: &f,
            verdict: &v,
        }
        .to_string();
        assert!(reason.starts_with("version 7 (`m7`) is applied above release 6 but has no class in `_schemagate_history`"), "{reason}");
        assert!(
            reason.contains("INSERT INTO _schemagate_history"),
            "{reason}"
        );
        let odd = found(7, vec![above(7, Some("sideways"), Some(6))]);
        assert!(matches!(
            judge(6, &odd),
            Verdict::Breaks {
                why: Unsafe::UnknownClass,
                ..
            }
        ));
    }

    #[test]
    fn a_database_behind_the_release_is_its_own_failure() {
        let f = found(4, vec![]);
        assert_eq!(judge(6, &f), Verdict::Behind);
        let reason = Reason {
            release: 6,
            found: &f,
            verdict: &Verdict::Behind,
        }
        .to_string();
        assert!(
            reason.starts_with("the database is behind release 6: its schema is at version 4"),
            "{reason}"
        );
        assert_eq!(judge(0, &found(0, vec![])), Verdict::Safe);
        assert_eq!(judge(4, &f), Verdict::Safe);
    }
}
