//! The end-to-end harness of schemagate: the real `schemagate-lambda`
//! binary under cargo lambda's runtime emulator, AWS played by moto, and the
//! MariaDB server, driven the way CloudFormation drives a custom resource.
//!
//! The parts come from the testkit (`tests/support`, crate
//! `schemagate-testkit`); [`rehearsal::Rehearsal`] puts them together for
//! `Custom::SchemaMigrations`, and [`cdk`] reads what `cdk synth` made. The
//! end-to-end tests (`e2e/`) and `make demo` (`src/bin/demo.rs`) both use
//! them.

pub mod alembic;
pub mod cdk;
pub mod online;
pub mod proof;
pub mod rehearsal;

pub use rehearsal::{Options, Rehearsal};
