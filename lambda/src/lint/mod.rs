//! Classifying pending migrations for the release that is running now:
//! read each script the way the server does ([`scan`]) and cut it into
//! statements ([`split`]), parse them with sqlparser and check them against
//! the rule table ([`rules`]) with what the applied migrations created
//! ([`schema`], [`classify`]); report like a compiler ([`report`]), decide
//! the deploy ([`gate`]), and refuse what must never run ([`refusal`]).

mod body;
pub mod classify;
pub mod finding;
pub mod gate;
pub mod refusal;
pub mod report;
pub mod rules;
pub mod scan;
pub mod schema;
mod session;
pub mod split;

pub use classify::{after, lint, lint_each};
pub use finding::{Class, Finding, MigrationLint};
pub use gate::{decide, Decision};
pub use refusal::{refusals, Refusal, Refusals};
pub use rules::{Id, Rule, Severity, RULES};
pub use split::Intent;
