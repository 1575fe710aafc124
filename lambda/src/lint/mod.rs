//! Classifying pending migrations for the release that is running now:
//! cut each up script into statements ([`split`]), parse them with
//! sqlparser and check them against the rule table ([`rules`]) with what the
//! applied migrations created ([`schema`], [`classify`]); report like a
//! compiler ([`report`]) and decide the deploy ([`gate`]).

pub mod classify;
pub mod finding;
pub mod gate;
pub mod report;
pub mod rules;
pub mod schema;
pub mod split;

pub use classify::{after, lint, lint_each};
pub use finding::{Class, Finding, MigrationLint};
pub use gate::{decide, Decision};
pub use rules::{Rule, Severity, RULES};
pub use split::Intent;
