//! Child processes (moto, the emulator, the function, `cdk synth`) in their
//! own process group, with their output in a log file, stopped with the
//! whole group when dropped; free ports; bounded waits that say what they
//! waited for.

use std::fs::{File, OpenOptions};
use std::future::Future;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// A running child process and everything it started.
pub struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
    stopped: bool,
}

impl Proc {
    /// Start `cmd` in a new process group, stdout and stderr appended to
    /// `log`. The group is killed when the `Proc` is dropped; the child is
    /// also killed if this process dies first (`PR_SET_PDEATHSIG`).
    pub fn spawn(name: &str, mut cmd: Command, log: &Path) -> Result<Proc> {
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("open {}", log.display()))?;
        let err = out.try_clone()?;
        cmd.stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("start {name} ({:?})", cmd.get_program()))?;
        Ok(Proc {
            name: name.to_string(),
            child,
            log: log.to_path_buf(),
            stopped: false,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Some(status)` once the process has ended.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Everything the process wrote so far.
    pub fn log(&self) -> String {
        read_lossy(&self.log)
    }

    /// The last `lines` lines of the log, for error messages.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.log(), lines)
    }

    /// `name (pid N, exited with …)` or `name (pid N, running)`.
    pub fn describe(&mut self) -> String {
        let pid = self.pid();
        match self.exited() {
            Some(s) => format!("{} (pid {pid}, exited: {s})", self.name),
            None => format!("{} (pid {pid}, running)", self.name),
        }
    }

    /// SIGKILL to this process only (a crash: nothing of it runs on), and
    /// wait for it.
    pub fn kill(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        // SAFETY: a plain syscall on the child this Proc started.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGKILL) };
        let _ = self.child.wait();
    }

    /// SIGTERM to the group, SIGKILL after 3 s; waits for the child.
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let group = self.child.id() as libc::pid_t;
        // SAFETY: plain syscalls on the group this Proc created.
        unsafe { libc::killpg(group, libc::SIGTERM) };
        let until = Instant::now() + Duration::from_secs(3);
        while Instant::now() < until {
            if self.exited().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // Whatever is left of the group (grandchildren too).
        unsafe { libc::killpg(group, libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A file read as text, empty when missing.
pub fn read_lossy(path: &Path) -> String {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// The last `lines` lines of `text`, indented for an error message.
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    let from = all.len().saturating_sub(lines);
    let mut out = String::new();
    if from > 0 {
        out.push_str(&format!("    … ({from} lines before)\n"));
    }
    for l in &all[from..] {
        let l: String = l.chars().take(600).collect();
        out.push_str("    ");
        out.push_str(&l);
        out.push('\n');
    }
    if all.is_empty() {
        out.push_str("    (empty)\n");
    }
    out
}

/// A TCP port nobody listens on right now. Another process may take it
/// before the caller does: callers retry when their server fails to bind.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// Poll `probe` every 100 ms until it returns `Some`, at most `timeout`.
/// `check` is called each round and may fail early (a process that died).
pub async fn wait_for<T, F, Fut>(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> Result<()>,
    mut probe: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(v) = probe().await {
            return Ok(v);
        }
        check()?;
        if started.elapsed() > timeout {
            bail!(
                "timed out after {:.0} s waiting for {what}",
                timeout.as_secs_f64()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// [`wait_for`] for callers that are not async: poll `ready` every 50 ms
/// until it returns `true`, at most `timeout`; `ready` may fail early.
pub fn wait_until(
    what: &str,
    timeout: Duration,
    mut ready: impl FnMut() -> Result<bool>,
) -> Result<()> {
    let started = Instant::now();
    while !ready()? {
        if started.elapsed() > timeout {
            bail!(
                "timed out after {:.0} s waiting for {what}",
                timeout.as_secs_f64()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// A log file that several processes append to, one after the other (the
/// function's "log group" across code deployments).
pub fn touch(path: &Path) -> Result<()> {
    File::options()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("create {}", path.display()))?;
    Ok(())
}
