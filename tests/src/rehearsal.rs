//! Everything together: a database with its secret in moto, the emulator,
//! the function running a package, and CloudFormation's side of the
//! protocol. Used by the end-to-end tests and by `make demo`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use tokio::task::JoinHandle;

use testkit::cfn::{
    response_key, uuid, Delivery, RequestType, Resource, Response, MAX_BODY, RESPONSE_BUCKET,
};
use testkit::lambda::{self, Emulator, Function};
use testkit::process::{read_lossy, tail, touch, wait_for};
use testkit::release::{Migrations, Package};
use testkit::{require, Moto, TestDb};

/// How to set a rehearsal up.
#[derive(Debug, Clone)]
pub struct Options {
    /// Names the database (`sg_e2e_<label>_…`) and the stack.
    pub label: String,
    /// `Some((database, user))`: that database, re-created and kept
    /// afterwards (the demo); `None`: a fresh one, dropped afterwards.
    pub database: Option<(String, String)>,
    /// The function's own variables (e.g. `SCHEMAGATE_BUDGET_SECONDS`).
    pub function_env: Vec<(String, String)>,
    pub stack_name: String,
    pub logical_id: String,
    /// How long CloudFormation waits for a response here (its own limit is
    /// an hour; the tests want an answer in seconds).
    pub response_timeout: Duration,
    /// Where the rehearsal's folder (logs, packages) goes; the system's
    /// temporary folder by default. With a parent, the caller owns the
    /// clean-up (the folder is left for the parent's).
    pub parent_dir: Option<PathBuf>,
}

impl Options {
    pub fn test(label: &str) -> Options {
        Options {
            label: label.to_string(),
            database: None,
            function_env: vec![("RUST_LOG".into(), "info".into())],
            stack_name: format!("e2e-{}", label.replace('_', "-")),
            logical_id: "Migrations".into(),
            response_timeout: Duration::from_secs(90),
            parent_dir: None,
        }
    }

    pub fn env(mut self, key: &str, value: &str) -> Options {
        self.function_env.retain(|(k, _)| k != key);
        self.function_env.push((key.to_string(), value.to_string()));
        self
    }
}

// Fields drop in order: the functions stop before the emulator, the
// processes before their folder goes.
pub struct Rehearsal {
    functions: Vec<Function>,
    pub emulator: Emulator,
    pub moto: Moto,
    pub db: TestDb,
    pub secret_arn: String,
    pub resource: Resource,
    pub binary: PathBuf,
    options: Options,
    packages: usize,
    /// Query strings of every ResponseURL used: never to be logged.
    url_queries: Vec<String>,
    dir: tempfile::TempDir,
}

impl Rehearsal {
    /// A rehearsal with a fresh database, for a test.
    pub async fn start(label: &str) -> Result<Rehearsal> {
        Self::start_with(Options::test(label)).await
    }

    pub async fn start_with(options: Options) -> Result<Rehearsal> {
        let mut builder = tempfile::Builder::new();
        let prefix = format!("schemagate-e2e-{}-", options.label);
        builder.prefix(&prefix);
        let dir = match &options.parent_dir {
            Some(parent) => {
                let mut d = builder.tempdir_in(parent)?;
                d.disable_cleanup(true);
                d
            }
            None => builder.tempdir()?,
        };
        // Tools first (a missing one fails naming its installer), then the build.
        require::tool("moto_server")?;
        require::tool("cargo-lambda")?;
        let db = match &options.database {
            None => TestDb::mariadb_with_user(&format!("e2e_{}", options.label)).await?,
            Some((name, user)) => TestDb::mariadb_kept(name, user).await?,
        };
        let binary = lambda::binary()?;
        // moto starts from this thread: its process dies with the thread
        // that spawned it (PR_SET_PDEATHSIG), so not from a blocking pool.
        let moto = Moto::start_in(dir.path())?;
        let emulator = Emulator::start(dir.path()).await?;
        let secret_arn = moto
            .create_secret(
                &format!("schemagate/{}/{}", options.label, db.name),
                &db.secret(),
            )
            .await?;
        moto.create_bucket(RESPONSE_BUCKET).await?;
        touch(&dir.path().join("function.log"))?;
        let resource = Resource::new(&options.stack_name, &options.logical_id);
        Ok(Rehearsal {
            functions: Vec::new(),
            emulator,
            moto,
            db,
            secret_arn,
            resource,
            binary,
            options,
            packages: 0,
            url_queries: Vec::new(),
            dir,
        })
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The custom resource's properties for a release of `migrations`, as
    /// the construct synthesizes them (strings).
    pub fn properties(&self, migrations: &Migrations) -> Value {
        json!({
            "SecretArn": self.secret_arn,
            "TargetVersion": migrations.latest_version().to_string(),
            "MigrationsHash": migrations.hash(),
        })
    }

    /// Deploy new function code: a package of the binary and `migrations`.
    pub fn deploy(&mut self, migrations: &Migrations) -> Result<Package> {
        self.deploy_instances(migrations, 1)
    }

    /// Deploy and run `instances` copies of the function (concurrent
    /// invocations reach different ones).
    pub fn deploy_instances(
        &mut self,
        migrations: &Migrations,
        instances: usize,
    ) -> Result<Package> {
        self.packages += 1;
        let package = Package::create(
            &self.dir.path().join(format!("package-{}", self.packages)),
            &self.binary,
            migrations,
        )?;
        self.run_package(&package, &[], instances)?;
        Ok(package)
    }

    /// Run `package` (replacing the running code) with `env` on top of the
    /// rehearsal's function environment.
    pub fn run_package(
        &mut self,
        package: &Package,
        env: &[(String, String)],
        instances: usize,
    ) -> Result<()> {
        for f in &mut self.functions {
            f.stop();
        }
        self.functions.clear();
        let mut all = self.moto.env();
        all.extend(self.options.function_env.iter().cloned());
        all.extend(env.iter().cloned());
        for _ in 0..instances {
            self.functions.push(Function::start(
                package,
                &self.emulator,
                &all,
                &self.function_log_path(),
            )?);
        }
        Ok(())
    }

    /// Kill the running function processes as a crash does (the Lambda
    /// service then retries the event on a new one: [`Self::run_package`]
    /// and [`Self::send_again`]); their pids.
    pub fn kill_functions(&mut self) -> Vec<u32> {
        let pids = self.functions.iter_mut().map(|f| f.kill()).collect();
        self.functions.clear();
        pids
    }

    /// A new request from CloudFormation, with its own RequestId and
    /// presigned ResponseURL.
    pub async fn request(
        &mut self,
        request_type: RequestType,
        properties: &Value,
        old: Option<&Value>,
    ) -> Result<Delivery> {
        let request_id = uuid();
        let key = response_key(&self.resource, &request_id);
        let url = self.moto.presigned_put(RESPONSE_BUCKET, &key).await?;
        Delivery::new(
            &self.resource,
            request_type,
            properties,
            old,
            key,
            url,
            request_id,
        )
    }

    pub async fn create(&mut self, properties: &Value) -> Result<Response> {
        let d = self.request(RequestType::Create, properties, None).await?;
        self.send(&d).await
    }

    pub async fn update(&mut self, properties: &Value, old: &Value) -> Result<Response> {
        let d = self
            .request(RequestType::Update, properties, Some(old))
            .await?;
        self.send(&d).await
    }

    pub async fn delete(&mut self, properties: &Value) -> Result<Response> {
        let d = self.request(RequestType::Delete, properties, None).await?;
        self.send(&d).await
    }

    /// Invoke the function with the delivery's event, without waiting.
    pub fn invoke(&mut self, d: &Delivery) -> Result<JoinHandle<Result<(u16, String)>>> {
        if let Some(q) = d.url_query() {
            self.url_queries.push(q.to_string());
        }
        if self.functions.is_empty() {
            bail!("no function code is deployed; call deploy() first");
        }
        for f in &mut self.functions {
            f.check()?;
        }
        Ok(self.emulator.invoke(&d.event))
    }

    /// Deliver the request and wait for its response at the ResponseURL,
    /// as CloudFormation does. Checks what CloudFormation checks: the ids
    /// match the request, the body fits in 4096 bytes.
    pub async fn send(&mut self, d: &Delivery) -> Result<Response> {
        let started = Instant::now();
        let invocation = self.invoke(d)?;
        let response = self.wait_response(d, started, invocation).await?;
        if self.resource.physical_id.is_none() {
            self.resource.physical_id = Some(response.physical_id.clone());
        }
        Ok(response)
    }

    /// Deliver the same request again (Lambda's retry of an async event):
    /// the old response object is removed first, so the new one is seen.
    pub async fn send_again(&mut self, d: &Delivery) -> Result<Response> {
        self.moto.delete_object(RESPONSE_BUCKET, &d.key).await?;
        self.send(d).await
    }

    async fn wait_response(
        &mut self,
        d: &Delivery,
        started: Instant,
        invocation: JoinHandle<Result<(u16, String)>>,
    ) -> Result<Response> {
        let timeout = self.options.response_timeout;
        let moto = &self.moto;
        let functions = &mut self.functions;
        let body = wait_for(
            &format!("the {} response at the ResponseURL", d.request_type),
            timeout,
            || functions.iter_mut().try_for_each(|f| f.check()),
            || async {
                moto.get_object(RESPONSE_BUCKET, &d.key)
                    .await
                    .ok()
                    .flatten()
            },
        )
        .await;
        let elapsed = started.elapsed();
        let body = match body {
            Ok(b) => b,
            Err(e) => return Err(self.diagnose(e, invocation).await),
        };
        let raw = String::from_utf8(body).context("the response body is not UTF-8")?;
        if raw.len() > MAX_BODY {
            bail!(
                "the response body has {} bytes; CloudFormation takes at most {MAX_BODY}: {raw}",
                raw.len()
            );
        }
        let r = Response::parse(&raw, elapsed)?;
        let e = &d.event;
        for (got, field) in [
            (&r.request_id, "RequestId"),
            (&r.stack_id, "StackId"),
            (&r.logical_id, "LogicalResourceId"),
        ] {
            if e[field].as_str() != Some(got.as_str()) {
                bail!(
                    "the response's {field} `{got}` is not the request's `{}`",
                    e[field]
                );
            }
        }
        if let Some(expected) = e["PhysicalResourceId"].as_str() {
            if r.physical_id != expected {
                bail!("the response changes PhysicalResourceId `{expected}` to `{}`: CloudFormation would replace the resource", r.physical_id);
            }
        }
        Ok(r)
    }

    /// Wait for the invocation task (the emulator's answer), when it is
    /// already over; it is only shown in errors.
    async fn diagnose(
        &mut self,
        e: anyhow::Error,
        invocation: JoinHandle<Result<(u16, String)>>,
    ) -> anyhow::Error {
        let answer = if invocation.is_finished() {
            match invocation.await {
                Ok(Ok((status, body))) => {
                    format!("the emulator answered the invocation with HTTP {status}: {body}")
                }
                Ok(Err(e)) => format!("the invocation failed: {e:#}"),
                Err(e) => format!("the invocation task failed: {e}"),
            }
        } else {
            invocation.abort();
            "the invocation is still running".to_string()
        };
        let functions: Vec<String> = self.functions.iter_mut().map(|f| f.describe()).collect();
        anyhow!(
            "{e:#}\n{answer}\nfunction: {}; log {}:\n{}\nemulator: {}\nmoto: {}",
            functions.join(", "),
            self.function_log_path().display(),
            tail(&self.function_log(), 25),
            self.emulator.describe(),
            self.moto.describe()
        )
    }

    fn function_log_path(&self) -> PathBuf {
        self.dir.path().join("function.log")
    }

    /// The function's log (all its deployments): what CloudWatch would hold.
    pub fn function_log(&self) -> String {
        read_lossy(&self.function_log_path())
    }

    /// Neither the function's log nor the emulator's holds the database
    /// password or a ResponseURL's query string (its signature).
    pub fn check_logs(&self) -> Result<()> {
        let mut secrets: Vec<(&str, &str)> =
            vec![(self.db.password.as_str(), "the database password")];
        for q in &self.url_queries {
            secrets.push((q.as_str(), "a ResponseURL query string"));
            for part in q.split('&') {
                if let Some(sig) = part.strip_prefix("X-Amz-Signature=") {
                    secrets.push((sig, "a ResponseURL signature"));
                }
            }
        }
        let mut found = Vec::new();
        for (name, log) in [
            ("function", self.function_log()),
            ("emulator", self.emulator.log()),
        ] {
            for (secret, what) in &secrets {
                if let Some(line) = log.lines().find(|l| l.contains(secret)) {
                    found.push(format!(
                        "the {name} log holds {what}: {}",
                        line.replace(secret, "<HERE>")
                    ));
                }
            }
        }
        if found.is_empty() {
            Ok(())
        } else {
            bail!("{}", found.join("\n"))
        }
    }

    /// Keep the folder (logs, packages) when the caller is failing.
    pub fn keep_dir(&mut self) -> PathBuf {
        self.dir.disable_cleanup(true);
        self.dir.path().to_path_buf()
    }
}

impl Drop for Rehearsal {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let dir = self.keep_dir();
            eprintln!(
                "the rehearsal's logs are kept in {}; the function's log ends with:\n{}",
                dir.display(),
                tail(&self.function_log(), 30)
            );
        }
    }
}
