//! The `schemagate` binary run as a user runs it.
//!
//! The binary's path comes from the caller (`env!("CARGO_BIN_EXE_schemagate")`
//! is only known inside the lambda crate's tests).

use std::ffi::OsStr;
use std::process::{Command, Output};

/// Run `bin` with `args`, with no database, secret or migrations folder
/// coming from the environment.
pub fn run(bin: impl AsRef<OsStr>, args: &[&str]) -> Output {
    let bin = bin.as_ref();
    Command::new(bin)
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("SCHEMAGATE_SECRET_ARN")
        .env_remove("SCHEMAGATE_MIGRATIONS_DIR")
        .output()
        .unwrap_or_else(|e| panic!("run {bin:?}: {e}"))
}

/// stdout and stderr as text.
pub fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}
