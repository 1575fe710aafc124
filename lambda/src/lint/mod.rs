//! Classifying pending migrations for the release that is running now:
//! read each script the way the server does ([`scan`]) and cut it into
//! statements ([`split`]); read each statement ([`statement`]) as a syntax
//! tree ([`tree`]) or, where sqlparser gives up, by its words
//! ([`fallback`]); both change what the applied migrations created
//! ([`schema`], names compared as the server does: [`name`]) only through
//! the schema operations ([`ops`]), which check the rule table ([`rules`]).
//! Report like a compiler ([`report`]), decide the deploy ([`gate`]), and
//! refuse what must never run ([`refusal`]).

mod body;
mod cx;
mod fallback;
pub mod finding;
pub mod gate;
mod input;
pub mod name;
mod ops;
pub mod refusal;
pub mod report;
pub mod rules;
pub mod scan;
pub mod schema;
mod script;
mod session;
pub mod split;
mod statement;
mod tokens;
mod tree;
mod types;

pub use finding::{Class, Finding, MigrationLint};
pub use gate::{decide, decide_for, Decision, Fixes};
pub use input::{Migration, Migrations, Planned, Side, Text};
pub use refusal::{refusals, Refusal, Refusals};
pub use rules::{Id, Rule, Severity, RULES};
pub use script::{after, lint, lint_each};
pub use split::Intent;
