//! The schema operations: "drop column t.c", "rename table a → b", "add a
//! unique index"… Each applies one change to the [`Schema`] and checks it
//! against the rules, in one place, whichever reading of the statement
//! (syntax tree or fallback) found it. Names arrive as [`Name`]s, already
//! compared the way the server compares them.
//!
//! [`Schema`]: super::schema::Schema
//! [`Name`]: super::name::Name

mod columns;
mod constraints;
mod objects;
mod options;

pub(super) use columns::Redefined;
pub(super) use objects::Index;
