//! What schemagate's tests share: the engine and handler suites
//! (`lambda/tests/`) and the end-to-end harness (`tests/`) use this crate,
//! as a dev-dependency and a dependency.
//!
//! It talks to servers, processes and HTTP, never to schemagate's own
//! types: it does not depend on the `schemagate` crate (see Cargo.toml).
//! What needs those types stays with the tests (`lambda/tests/kit/`).
//!
//! - [`db`]: a database of the test's own on the shared MariaDB and
//!   PostgreSQL servers, with a user and password of its own if asked, and
//!   what a user sees in it (tables, history rows, counts).
//! - [`private_mariadb`]: a `mariadbd` of the test's own, to kill, freeze
//!   and restart.
//! - [`folder`], [`release`]: migrations folders on disk, releases of the
//!   example app and the Lambda packages made from them.
//! - [`cli`]: the `schemagate` binary run as a user runs it.
//! - [`moto`]: AWS played by `moto_server` (Secrets Manager, S3 with
//!   presigned PUT URLs, Auto Scaling).
//! - [`cfn`], [`response_url`]: CloudFormation's side of a custom resource
//!   (events, the response as CloudFormation reads it) and a local
//!   ResponseURL that records every request.
//! - [`lambda`]: the Lambda binary, `cargo lambda watch` and the function
//!   process.
//! - [`tls`]: throw-away certificate authorities and server certificates
//!   (openssl), for a private server with TLS.
//! - [`process`], [`require`]: child processes killed with their group,
//!   bounded waits, and a missing tool or server failing with the command
//!   that installs it.

use std::path::{Path, PathBuf};

pub mod cfn;
pub mod cli;
pub mod db;
pub mod folder;
pub mod lambda;
pub mod moto;
pub mod private_mariadb;
pub mod process;
pub mod release;
pub mod require;
pub mod response_url;
pub mod tls;

pub use cli::text;
pub use db::{Kind, TestDb};
pub use folder::Folder;
pub use moto::Moto;
pub use private_mariadb::PrivateMariaDb;
pub use process::free_port;
pub use release::{Migrations, Package};
pub use response_url::ResponseUrl;
pub use tls::TestCa;

/// The repository root (the workspace).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("tests/support lies two folders below the root")
        .to_path_buf()
}
