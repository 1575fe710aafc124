//! The end-to-end harness of schemagate: the real `schemagate-lambda`
//! binary under cargo lambda's runtime emulator, AWS played by moto, and the
//! MariaDB server, driven the way CloudFormation drives a custom resource.
//!
//! [`rehearsal::Rehearsal`] puts the parts together; the end-to-end tests
//! (`e2e/`) and `make demo` (`src/bin/demo.rs`) both use it.

use std::path::{Path, PathBuf};

pub mod cdk;
pub mod cfn;
pub mod flaky;
pub mod lambda;
pub mod mariadb;
pub mod moto;
pub mod process;
pub mod rehearsal;
pub mod release;
pub mod require;

pub use cfn::{Delivery, RequestType, Response, Status};
pub use rehearsal::{Options, Rehearsal};
pub use release::{Migrations, Package};

/// The repository root (the workspace).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}
