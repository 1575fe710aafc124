#!/usr/bin/env python3
"""The Lambda's figures for `make bench` (issue #11), without AWS.

    python3 scripts/bench_lambda.py          a readable table
    python3 scripts/bench_lambda.py --json   one JSON object:
        {"zip_bytes", "bootstrap_bytes", "init_ms", "rss_mb_1600", "noop_update_ms"}

A figure that cannot be taken is null, with the reason on stderr.

- zip_bytes, bootstrap_bytes: what `make build` made for arm64
  (target/lambda/schemagate-lambda.zip and .../bootstrap); `--build` runs
  `make build` first.
- The other figures run the x86_64 build of the Lambda on this machine,
  built as `make build` builds it for arm64 (profile `lambda`, without
  default features; run here, or `--bin`), as the Lambda service runs `bootstrap`: a Lambda-like
  environment and `AWS_LAMBDA_RUNTIME_API` pointing at a small runtime API
  served by this script (in place of `cargo lambda watch`: it records when
  each request arrives).
- init_ms: process start to the first `GET /2018-06-01/runtime/invocation/next`,
  median of --runs starts.
- rss_mb_1600: peak RSS (the child's getrusage ru_maxrss) of the function
  answering a Create that applies --migrations generated migrations (three
  of every four DDL-only) to an empty database on the local MariaDB; the
  secret is in moto's Secrets Manager, the ResponseURL a presigned PUT into
  moto's S3, as in the end-to-end tests.
- noop_update_ms: an Update at head (the same 1600 migrations) to a fresh
  function process: from the event handed to the function to its response
  object readable in moto's S3 (init not included: that is init_ms), median
  of --runs.

Needs moto_server, boto3 and PyMySQL (`make python-tools` puts them in
.venv; the script re-runs itself with .venv/bin/python3 when they are not
importable) and MariaDB on 127.0.0.1:3306 (root, no password over TCP).
Not part of `make test`.
"""

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from queue import Empty, Queue

ROOT = Path(__file__).resolve().parent.parent
ARM_DIR = ROOT / "target" / "lambda"
# The Lambda's profile for this machine: --target keeps it out of
# target/lambda, which is cargo lambda's output folder.
X86_BUILD = [
    "cargo", "build", "--profile", "lambda", "--target", "x86_64-unknown-linux-gnu",
    "-p", "schemagate", "--bin", "schemagate-lambda", "--no-default-features",
]
X86_BIN = ROOT / "target" / "x86_64-unknown-linux-gnu" / "lambda" / "schemagate-lambda"
REGION = "us-east-1"
BUCKET = "cloudformation-custom-resource-response-useast1"
NEXT = "/2018-06-01/runtime/invocation/next"
EM_AARCH64 = 183


def note(msg):
    print(f"bench_lambda: {msg}", file=sys.stderr, flush=True)


def ensure_python_deps():
    """Re-run under the project's venv when boto3/PyMySQL are missing here."""
    try:
        import boto3  # noqa: F401
        import pymysql  # noqa: F401
    except ImportError:
        venv = ROOT / ".venv" / "bin" / "python3"
        if venv.exists() and Path(sys.executable).resolve() != venv.resolve():
            os.execv(str(venv), [str(venv), *sys.argv])


# --- sizes -----------------------------------------------------------------


def elf_machine(path):
    with open(path, "rb") as f:
        head = f.read(20)
    if head[:4] != b"\x7fELF":
        return None
    return int.from_bytes(head[18:20], "little")


def sizes(build):
    if build:
        subprocess.run(["make", "-C", str(ROOT), "build"], check=True, stdout=sys.stderr)
    boot = ARM_DIR / "schemagate-lambda" / "bootstrap"
    zipf = ARM_DIR / "schemagate-lambda.zip"
    out = {"bootstrap_bytes": None, "zip_bytes": None}
    if not boot.is_file():
        note(f"bootstrap_bytes: {boot} is missing: run `make build` (or pass --build)")
    elif elf_machine(boot) != EM_AARCH64:
        note(f"bootstrap_bytes: {boot} is not an arm64 executable: run `make build`")
    else:
        out["bootstrap_bytes"] = boot.stat().st_size
    if not zipf.is_file():
        note(f"zip_bytes: {zipf} is missing: run `make build` (or pass --build)")
    elif boot.is_file() and zipf.stat().st_mtime < boot.stat().st_mtime:
        note(f"zip_bytes: {zipf} is older than the bootstrap: run `make build`")
    else:
        out["zip_bytes"] = zipf.stat().st_size
    return out


# --- the runtime API ---------------------------------------------------------


class RuntimeApi:
    """The Lambda runtime API for one function instance: hands out the
    queued events and records when requests arrive."""

    def __init__(self):
        self.events = Queue()
        self.first_next = threading.Event()
        self.first_next_ns = None
        self.handed_ns = {}  # request id -> when its event was handed out
        self.answers = Queue()  # (request id, kind, body, ns)
        self.closing = threading.Event()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                if self.path != NEXT:
                    self.send_error(404)
                    return
                if api.first_next_ns is None:
                    api.first_next_ns = time.perf_counter_ns()
                    api.first_next.set()
                while not api.closing.is_set():
                    try:
                        event = api.events.get(timeout=0.2)
                        break
                    except Empty:
                        continue
                else:
                    return
                body = json.dumps(event).encode()
                rid = event["RequestId"]
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Lambda-Runtime-Aws-Request-Id", rid)
                deadline = int(time.time() * 1000) + 900_000
                self.send_header("Lambda-Runtime-Deadline-Ms", str(deadline))
                self.send_header(
                    "Lambda-Runtime-Invoked-Function-Arn",
                    f"arn:aws:lambda:{REGION}:123456789012:function:schemagate-lambda",
                )
                self.end_headers()
                api.handed_ns[rid] = time.perf_counter_ns()
                self.wfile.write(body)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                parts = self.path.strip("/").split("/")
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                kind = parts[-1]
                rid = parts[-2] if len(parts) >= 2 else ""
                api.answers.put((rid, kind, body, time.perf_counter_ns()))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()


def lambda_env(runtime_api, task_root, extra):
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LAMBDA_TASK_ROOT": str(task_root),
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "AWS_LAMBDA_FUNCTION_NAME": "schemagate-lambda",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/schemagate-lambda",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing-session",
        "RUST_LOG": "warn",
    }
    env.update(extra)
    return env


class Function:
    """`bootstrap` started as the Lambda service starts it."""

    def __init__(self, binary, task_root, env, log):
        self.api = RuntimeApi()
        self.log = open(log, "ab")
        self.started_ns = time.perf_counter_ns()
        self.proc = subprocess.Popen(
            [str(binary)],
            cwd=task_root,
            env=lambda_env(self.api.address, task_root, env),
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.rusage = None

    def init_ms(self, timeout=10):
        if not self.api.first_next.wait(timeout):
            raise RuntimeError(f"no `GET {NEXT}` within {timeout} s (exit {self.proc.poll()})")
        return (self.api.first_next_ns - self.started_ns) / 1e6

    def stop(self):
        """SIGTERM (as Lambda does), then the child's resource usage."""
        if self.rusage is None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
            try:
                _, _, self.rusage = os.wait4(self.proc.pid, 0)
            except ChildProcessError:
                self.rusage = None
            self.proc.returncode = 0
        self.api.close()
        self.log.close()
        return self.rusage


def init_times(binary, runs, work):
    task_root = work / "init"
    (task_root / "migrations").mkdir(parents=True, exist_ok=True)
    times = []
    for _ in range(runs):
        f = Function(binary, task_root, {}, work / "init.log")
        try:
            times.append(f.init_ms())
        finally:
            f.stop()
    return statistics.median(times)


# --- a history, a database, moto -----------------------------------------------


def generate(dir_, n):
    """n migrations; of each four, one CREATE TABLE + INSERT and three DDL-only."""
    dir_.mkdir(parents=True)
    for i in range(1, n + 1):
        k = (i - 1) // 4 + 1
        kind = (i - 1) % 4
        if kind == 0:
            name = f"create_t{k}"
            sql = (
                f"CREATE TABLE t{k} (id BIGINT PRIMARY KEY, name VARCHAR(64) NOT NULL);\n"
                f"INSERT INTO t{k} (id, name) VALUES (1, 'row {k}'), (2, 'row {k}b');\n"
            )
        elif kind == 1:
            name = f"add_t{k}_note"
            sql = f"ALTER TABLE t{k} ADD COLUMN note VARCHAR(255) NULL;\n"
        elif kind == 2:
            name = f"index_t{k}_name"
            sql = f"CREATE INDEX ix_t{k}_name ON t{k} (name);\n"
        else:
            name = f"create_t{k}_log"
            sql = f"CREATE TABLE t{k}_log (id BIGINT PRIMARY KEY, at TIMESTAMP NULL);\n"
        (dir_ / f"{i:04d}_{name}.sql").write_text(sql)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Moto:
    def __init__(self, work):
        exe = shutil.which("moto_server") or str(ROOT / ".venv" / "bin" / "moto_server")
        if not Path(exe).exists():
            raise RuntimeError("moto_server is missing: `make python-tools` installs it")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(work / "moto.log", "ab")
        self.proc = subprocess.Popen(
            [exe, "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto_server did not start (see {work / 'moto.log'})")
                time.sleep(0.1)
        import boto3
        from botocore.config import Config

        kw = dict(
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        self.s3 = boto3.client("s3", config=Config(s3={"addressing_style": "path"}), **kw)
        self.sm = boto3.client("secretsmanager", **kw)
        self.s3.create_bucket(Bucket=BUCKET)

    def env(self):
        return {"AWS_ENDPOINT_URL": self.url}

    def get(self, key):
        try:
            return self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return None

    def stop(self):
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait()
        self.log.close()


class Database:
    """A database and a user of its own on the local MariaDB."""

    def __init__(self):
        import pymysql

        self.name = f"sg_bench_lambda_{os.getpid()}"
        self.user = self.name[:32]
        self.password = secrets.token_hex(16)
        self.conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", autocommit=True)
        with self.conn.cursor() as c:
            c.execute(f"DROP DATABASE IF EXISTS `{self.name}`")
            c.execute(f"CREATE DATABASE `{self.name}`")
            c.execute(f"DROP USER IF EXISTS '{self.user}'@'127.0.0.1'")
            c.execute(f"CREATE USER '{self.user}'@'127.0.0.1' IDENTIFIED BY '{self.password}'")
            c.execute(f"GRANT ALL PRIVILEGES ON `{self.name}`.* TO '{self.user}'@'127.0.0.1'")

    def secret(self):
        return json.dumps(
            {
                "engine": "mysql",
                "host": "127.0.0.1",
                "port": 3306,
                "username": self.user,
                "password": self.password,
                "dbname": self.name,
            }
        )

    def drop(self):
        with self.conn.cursor() as c:
            c.execute(f"DROP DATABASE IF EXISTS `{self.name}`")
            c.execute(f"DROP USER IF EXISTS '{self.user}'@'127.0.0.1'")
        self.conn.close()


# --- CloudFormation's side -----------------------------------------------------


STACK = f"arn:aws:cloudformation:{REGION}:123456789012:stack/bench-lambda/{uuid.uuid4()}"
TOKEN = f"arn:aws:lambda:{REGION}:123456789012:function:bench-lambda-SchemaMigrations"


def event(moto, request_type, props, physical_id=None):
    rid = str(uuid.uuid4())
    key = f"{STACK}|Migrations|{rid}"
    url = moto.s3.generate_presigned_url(
        "put_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=7200
    )
    e = {
        "RequestType": request_type,
        "ServiceToken": TOKEN,
        "ResponseURL": url,
        "StackId": STACK,
        "RequestId": rid,
        "LogicalResourceId": "Migrations",
        "ResourceType": "Custom::SchemaMigrations",
        "ResourceProperties": {"ServiceToken": TOKEN, **props},
    }
    if physical_id:
        e["PhysicalResourceId"] = physical_id
        e["OldResourceProperties"] = e["ResourceProperties"]
    return e, key


def answer(function, moto, ev, key, timeout):
    """Hand `ev` to the function; wait for the response object in S3.
    Returns (the response, ms from handing out to the object readable)."""
    function.api.events.put(ev)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = moto.get(key)
        if body is not None:
            seen = time.perf_counter_ns()
            handed = function.api.handed_ns[ev["RequestId"]]
            return json.loads(body), (seen - handed) / 1e6
        if function.proc.poll() is not None:
            raise RuntimeError(f"the function exited ({function.proc.returncode})")
        time.sleep(0.002)
    raise RuntimeError(f"no response object within {timeout} s")


def apply_figures(binary, n, runs, work):
    """(peak RSS in MB of a Create of n migrations, median no-op Update ms)."""
    task_root = work / "package"
    generate(task_root / "migrations", n)
    db = Database()
    moto = Moto(work)
    try:
        arn = moto.sm.create_secret(Name=f"bench/{db.name}", SecretString=db.secret())["ARN"]
        props = {"SecretArn": arn, "TargetVersion": str(n), "MigrationsHash": uuid.uuid4().hex}
        env = {**moto.env(), "SCHEMAGATE_BUDGET_SECONDS": "880"}
        log = work / "function.log"
        f = Function(binary, task_root, env, log)
        try:
            ev, key = event(moto, "Create", props)
            r, create_ms = answer(f, moto, ev, key, 900)
        finally:
            usage = f.stop()
        check(r, n, log)
        rss_mb = usage.ru_maxrss / 1024 if usage else None
        note(f"Create of {n} migrations: {create_ms / 1000:.1f} s, peak RSS {rss_mb:.1f} MB")
        times = []
        for _ in range(runs):
            f = Function(binary, task_root, env, log)
            try:
                f.init_ms()
                ev, key = event(moto, "Update", props, r["PhysicalResourceId"])
                u, ms = answer(f, moto, ev, key, 120)
            finally:
                f.stop()
            check(u, n, log)
            times.append(ms)
        return rss_mb, statistics.median(times)
    finally:
        moto.stop()
        db.drop()


def check(response, n, log):
    if response.get("Status") != "SUCCESS":
        raise RuntimeError(f"the function answered {response.get('Status')}: {response.get('Reason')} (log {log})")
    version = str(response.get("Data", {}).get("SchemaVersion"))
    if version != str(n):
        raise RuntimeError(f"SchemaVersion `{version}` after the request, expected `{n}`")


# --- main --------------------------------------------------------------------


def x86_binary(args):
    if args.bin:
        return Path(args.bin).resolve()
    subprocess.run(
        X86_BUILD,
        cwd=ROOT,
        check=True,
        stdout=sys.stderr,
    )
    return X86_BIN


def take(name, fn, out, *keys):
    try:
        values = fn()
    except Exception as e:  # a figure that cannot be taken is null, with why
        for k in keys:
            note(f"{k}: not measured: {e}")
        return
    if len(keys) == 1:
        values = (values,)
    for k, v in zip(keys, values):
        out[k] = round(v, 1) if isinstance(v, float) else v


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--build", action="store_true", help="run `make build` (arm64) first")
    p.add_argument("--bin", help="the x86_64 Lambda binary (default: cargo build --profile lambda ...)")
    p.add_argument("--runs", type=int, default=5, help="runs for the medians (default 5)")
    p.add_argument("--migrations", type=int, default=1600, help="history size (default 1600)")
    args = p.parse_args()
    ensure_python_deps()
    out = dict.fromkeys(["zip_bytes", "bootstrap_bytes", "init_ms", "rss_mb_1600", "noop_update_ms"])
    out.update(sizes(args.build))
    try:
        binary = x86_binary(args)
    except Exception as e:
        note(f"init_ms, rss_mb_1600, noop_update_ms: not measured: the x86_64 build failed: {e}")
        binary = None
    if binary:
        with tempfile.TemporaryDirectory(prefix="bench-lambda-") as w:
            work = Path(w)
            take("init", lambda: init_times(binary, args.runs, work), out, "init_ms")
            take(
                "apply",
                lambda: apply_figures(binary, args.migrations, args.runs, work),
                out,
                "rss_mb_1600",
                "noop_update_ms",
            )
    if args.json:
        print(json.dumps(out))
    else:
        table(out, args)


def table(out, args):
    def fmt(v, unit):
        return "n/a" if v is None else f"{v:,} {unit}"

    rows = [
        ("zip (arm64, make build)", fmt(out["zip_bytes"], "B"), "≤ 5 MB"),
        ("bootstrap (arm64, make build)", fmt(out["bootstrap_bytes"], "B"), "≤ 12 MB"),
        (f"init, x86_64 release, median of {args.runs}", fmt(out["init_ms"], "ms"), "≤ 30 ms"),
        (f"peak RSS, Create of {args.migrations}", fmt(out["rss_mb_1600"], "MB"), "≤ 64 MB"),
        (f"no-op Update, invoke → S3, median of {args.runs}", fmt(out["noop_update_ms"], "ms"), ""),
    ]
    print("schemagate Lambda")
    for name, value, target in rows:
        print(f"  {name:<44} {value:>16}   {target}")


if __name__ == "__main__":
    main()
