//! The Lambda side: the `schemagate-lambda` binary, cargo lambda's runtime
//! emulator (`cargo lambda watch`), and the function process that polls it.
//!
//! The emulator runs with `--only-lambda-apis`: it serves the invoke API
//! and the Lambda runtime API, and the harness starts the function itself,
//! as the Lambda service starts `bootstrap` in a package: with
//! `LAMBDA_TASK_ROOT` at the package, a clean Lambda-like environment, and
//! its output captured as the function's log. So one emulator serves
//! several code versions in turn (a deploy replaces the package), and the
//! binary is the one `cargo nextest` built, not a second build with other
//! features.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use tokio::task::JoinHandle;

use crate::process::{free_port, read_lossy, tail, wait_for, Proc};
use crate::release::Package;
use crate::{require, workspace_root};

/// The function's name: the binary's, as `cargo lambda watch` names it.
pub const FUNCTION: &str = "schemagate-lambda";

static BINARY: OnceLock<PathBuf> = OnceLock::new();

/// The `schemagate-lambda` executable: `SCHEMAGATE_E2E_LAMBDA_BIN` if set,
/// else built now by cargo (once per process; cargo's lock serialises
/// parallel test processes and finds the work done).
///
/// The build is `cargo build --workspace --bin schemagate-lambda`, what
/// `cargo nextest run --workspace` and `cargo run -p schemagate-e2e` build
/// too: the test crates' dependencies are normal dependencies of the
/// testkit or the e2e crate (no dev-dependency adds a feature), so every
/// build of the workspace resolves the same features and the AWS SDK is
/// compiled once.
pub fn binary() -> Result<PathBuf> {
    if let Some(p) = BINARY.get() {
        return Ok(p.clone());
    }
    let path = match std::env::var_os("SCHEMAGATE_E2E_LAMBDA_BIN") {
        Some(p) => {
            let p = PathBuf::from(p);
            if !p.is_file() {
                bail!("SCHEMAGATE_E2E_LAMBDA_BIN={} is not a file", p.display());
            }
            p
        }
        None => cargo_build(FUNCTION)?,
    };
    Ok(BINARY.get_or_init(|| path).clone())
}

static CLI: OnceLock<PathBuf> = OnceLock::new();

/// The `schemagate` CLI executable, built as [`binary`] is (for an
/// end-to-end test that prepares a folder with it, e.g. `schemagate import
/// alembic`).
pub fn cli_binary() -> Result<PathBuf> {
    if let Some(p) = CLI.get() {
        return Ok(p.clone());
    }
    let path = cargo_build("schemagate")?;
    Ok(CLI.get_or_init(|| path).clone())
}

/// `cargo` in the workspace, without the variables cargo sets for the test
/// or `cargo run` process that runs this: inherited, they change the
/// fingerprint of crates that read them (ring reads CARGO_MANIFEST_DIR) and
/// rebuild half the tree each time.
fn cargo() -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        if k.starts_with("CARGO_PKG_")
            || k.starts_with("CARGO_BIN_")
            || [
                "CARGO_MANIFEST_DIR",
                "CARGO_MANIFEST_PATH",
                "CARGO_CRATE_NAME",
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_TARGET_TMPDIR",
                "CARGO_RUSTC_CURRENT_DIR",
            ]
            .contains(&k.as_ref())
        {
            cmd.env_remove(&key);
        }
    }
    cmd.current_dir(workspace_root());
    cmd
}

fn cargo_build(bin: &str) -> Result<PathBuf> {
    let mut cmd = cargo();
    cmd.args([
        "build",
        "--message-format=json-render-diagnostics",
        "--workspace",
        "--bin",
        bin,
    ]);
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("run cargo build")?;
    let mut exe = None;
    for line in BufReader::new(child.stdout.take().expect("piped")).lines() {
        let line = line?;
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if msg["reason"] == "compiler-artifact"
            && msg["target"]["name"] == bin
            && msg["profile"]["test"] == false
        {
            if let Some(e) = msg["executable"].as_str() {
                exe = Some(PathBuf::from(e));
            }
        }
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("`cargo build` of {bin} failed ({status}); its errors are above");
    }
    exe.ok_or_else(|| anyhow!("`cargo build` did not report the {bin} executable"))
}

/// `cargo lambda watch --only-lambda-apis` on a free port.
pub struct Emulator {
    proc: Proc,
    pub port: u16,
    http: reqwest::Client,
}

impl Emulator {
    /// Start the emulator; its log goes to `dir/emulator.log`.
    pub async fn start(dir: &Path) -> Result<Emulator> {
        let exe = require::tool("cargo-lambda")?;
        let log = dir.join("emulator.log");
        let mut last = anyhow!("the emulator did not start");
        for _ in 0..3 {
            let port = free_port();
            let mut cmd = Command::new(&exe);
            cmd.current_dir(workspace_root())
                .args([
                    "lambda",
                    "watch",
                    "--only-lambda-apis",
                    "--ignore-changes",
                    "--invoke-address",
                    "127.0.0.1",
                    "--invoke-port",
                ])
                .arg(port.to_string())
                .env("NO_COLOR", "1");
            let mut proc = Proc::spawn("cargo lambda watch", cmd, &log)?;
            let listening = format!("runtime_addr=127.0.0.1:{port}");
            let ready = wait_for(
                "cargo lambda watch to listen",
                Duration::from_secs(60),
                || match proc.exited() {
                    Some(s) => Err(anyhow!(
                        "cargo lambda watch exited ({s}):\n{}",
                        proc.log_tail(15)
                    )),
                    None => Ok(()),
                },
                // Its own log line first: a bare TCP connect could reach
                // another server that took the port meanwhile.
                || {
                    let said = read_lossy(&log).contains(&listening);
                    async move {
                        if !said {
                            return None;
                        }
                        tokio::net::TcpStream::connect(("127.0.0.1", port))
                            .await
                            .ok()
                            .map(|_| ())
                    }
                },
            )
            .await;
            match ready {
                Ok(()) => {
                    return Ok(Emulator {
                        proc,
                        port,
                        http: reqwest::Client::new(),
                    })
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// `AWS_LAMBDA_RUNTIME_API` for the function named [`FUNCTION`].
    pub fn runtime_api(&self) -> String {
        format!("http://127.0.0.1:{}/.rt/{FUNCTION}", self.port)
    }

    /// Invoke the function with `event`. CloudFormation invokes
    /// asynchronously (`X-Amz-Invocation-Type: Event`); cargo lambda 1.9
    /// answers synchronously whatever the header says, so the call runs in
    /// the background and the caller, like CloudFormation, waits for the
    /// response at the `ResponseURL`. The task's result (the emulator's
    /// answer) is only for diagnostics.
    pub fn invoke(&self, event: &serde_json::Value) -> JoinHandle<Result<(u16, String)>> {
        let url = format!(
            "http://127.0.0.1:{}/2015-03-31/functions/{FUNCTION}/invocations",
            self.port
        );
        let req = self
            .http
            .post(url)
            .header("X-Amz-Invocation-Type", "Event")
            .body(event.to_string());
        tokio::spawn(async move {
            let res = req.send().await.context("POST to the emulator")?;
            let status = res.status().as_u16();
            Ok((status, res.text().await.unwrap_or_default()))
        })
    }

    pub fn log(&self) -> String {
        self.proc.log()
    }

    pub fn describe(&mut self) -> String {
        format!(
            "{}; log {}:\n{}",
            self.proc.describe(),
            self.proc.log_path().display(),
            tail(&self.proc.log(), 10)
        )
    }
}

/// The function: `bootstrap` of a package, polling the emulator's runtime API.
pub struct Function {
    proc: Proc,
    pub package: Package,
}

impl Function {
    /// Start `package/bootstrap` with a Lambda-like environment plus `env`
    /// (AWS endpoint and credentials, the function's own variables). Its
    /// output is appended to `log`.
    pub fn start(
        package: &Package,
        emulator: &Emulator,
        env: &[(String, String)],
        log: &Path,
    ) -> Result<Function> {
        let mut cmd = Command::new(package.bootstrap());
        cmd.current_dir(&package.dir).env_clear();
        for (k, v) in [
            ("PATH", "/usr/local/bin:/usr/bin:/bin"),
            ("LANG", "en_US.UTF-8"),
            ("TZ", ":UTC"),
            ("LAMBDA_TASK_ROOT", &package.dir.to_string_lossy()),
            ("_HANDLER", "bootstrap"),
            ("AWS_LAMBDA_RUNTIME_API", &emulator.runtime_api()),
            ("AWS_LAMBDA_FUNCTION_NAME", FUNCTION),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
            ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/schemagate-lambda"),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "e2e"),
        ] {
            cmd.env(k, v);
        }
        cmd.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let proc = Proc::spawn("the function (bootstrap)", cmd, log)?;
        Ok(Function {
            proc,
            package: package.clone(),
        })
    }

    /// Fails when the process has ended: the function should poll forever.
    pub fn check(&mut self) -> Result<()> {
        match self.proc.exited() {
            Some(s) => Err(anyhow!(
                "the function exited ({s}); its log:\n{}",
                self.proc.log_tail(20)
            )),
            None => Ok(()),
        }
    }

    pub fn describe(&mut self) -> String {
        self.proc.describe()
    }

    pub fn stop(&mut self) {
        self.proc.stop();
    }

    /// Kill the function as a crash does (SIGKILL, its pid only); the pid.
    pub fn kill(&mut self) -> u32 {
        let pid = self.proc.pid();
        self.proc.kill();
        pid
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::cargo;

    /// Every package outside the workspace with its resolved features, as
    /// `cargo tree` resolves them for `args`.
    fn features(args: &[&str]) -> BTreeSet<String> {
        let out = cargo()
            .args(["tree", "--offline", "--prefix", "none", "-f", "{p} {f}"])
            .args(args)
            .output()
            .expect("run cargo tree");
        assert!(
            out.status.success(),
            "cargo tree {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim_end_matches(" (*)").to_string())
            .filter(|l| !l.is_empty() && !l.contains(" (/"))
            .collect()
    }

    /// `binary()` finds the work done only while the tests' build, the
    /// demo's and `cargo build --bin schemagate-lambda` resolve the same
    /// features: a dev-dependency that turns on a feature (wiremock did, of
    /// hyper) makes a second build of hyper and the AWS SDK.
    #[test]
    fn tests_demo_and_the_lambda_binary_share_one_build() {
        let lambda = features(&["--workspace", "-e", "normal,build"]);
        let tests = features(&["--workspace", "-e", "normal,build,dev"]);
        let demo = features(&["-p", "schemagate-e2e", "-e", "normal,build"]);
        let added: Vec<_> = tests.difference(&lambda).collect();
        assert!(added.is_empty(), "the tests' build differs from the Lambda's: {added:#?}\nmake the dev-dependency a normal dependency of the testkit");
        let differ: Vec<_> = demo.symmetric_difference(&lambda).collect();
        assert!(
            differ.is_empty(),
            "the demo's build differs from the Lambda's: {differ:#?}"
        );
    }
}
