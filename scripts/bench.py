#!/usr/bin/env python3
"""make bench: schemagate against its peers and against the physical limit.

The same histories, rendered in each tool's own format, applied by
schemagate, sqlx-cli, dbmate and Alembic on MariaDB and PostgreSQL, and by
the limit: the same SQL through one client session (`mariadb` with the up
scripts concatenated; `psql -1`, one transaction, on PostgreSQL).

Workloads (each on a fresh database per run):
  apply-400 create   400 migrations, each CREATE TABLE + INSERT
  apply-400 ddl      400 migrations, 3 of 4 DDL-only (ALTER ADD COLUMN,
                     CREATE INDEX, CREATE TABLE without data), 1 of 4
                     CREATE TABLE + INSERT
  apply-1600 ddl     the same mix, 1600 migrations
  no-op 1600         a run at head with the 1600 files (limit: one
                     session running `SELECT 1`)
  down-400 ddl       revert all 400 (limit: the down scripts, newest first,
                     in one session), each run right after apply-400 ddl
  temporal           the Temporal history (../shared/corpus/temporal-*)

Runs alternate the tools (round robin, the first tool rotating) so machine
load hits all alike; the median of RUNS runs is reported. Prints one table
and writes it to bench/results.md with the machine, the versions and the
date, then the Lambda figures of scripts/bench_lambda.py when it exists.

Environment: RUNS (5), RUNS_BIG (RUNS: for apply-1600), QUICK=1 (N 40/160, results to a temporary file
unless OUT is set), OUT, BIN (target/release/schemagate), ENGINES
(mariadb,postgres), TOOLS (schemagate,sqlx,dbmate,alembic), WORKLOADS
(comma-separated names as printed, e.g. `apply-400 ddl,temporal`),
CORPUS (../shared/corpus). Peers come from .tools/ (`make bench-tools`)
and the venv; a missing one is reported and left out, not an error.
"""

import datetime
import importlib.metadata
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOLS_DIR = ROOT / ".tools"
HOST = "127.0.0.1"
BOOKKEEPING = {"_sqlx_migrations", "schema_migrations", "alembic_version"}


@dataclass
class Migration:
    version: int
    name: str
    up: str
    down: str | None  # None: irreversible (sqlx `<v>_<name>.sql`)


# --- histories ----------------------------------------------------------------
def create_mix(n, dialect):
    """Every migration CREATE TABLE + INSERT (the old `make bench` history)."""
    del dialect
    return [
        Migration(
            i,
            f"create_t{i}",
            f"CREATE TABLE t{i} (id BIGINT PRIMARY KEY, name VARCHAR(64) NOT NULL, "
            f"created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP);\n"
            f"INSERT INTO t{i} (id, name) VALUES (1, 'row {i}');\n",
            f"DROP TABLE t{i};\n",
        )
        for i in range(1, n + 1)
    ]


def ddl_step(i, dialect):
    """Migration i of the DDL mix: groups of four on table g<k>."""
    k, slot = divmod(i - 1, 4)
    if slot == 0:
        return (
            f"create_g{k}",
            f"CREATE TABLE g{k} (id BIGINT PRIMARY KEY, name VARCHAR(64) NOT NULL, "
            f"created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP);\n"
            f"INSERT INTO g{k} (id, name) VALUES (1, 'row {i}');\n",
            f"DROP TABLE g{k};\n",
        )
    if slot == 1:
        return (
            f"add_g{k}_note",
            f"ALTER TABLE g{k} ADD COLUMN note VARCHAR(255) NULL;\n",
            f"ALTER TABLE g{k} DROP COLUMN note;\n",
        )
    if slot == 2:
        drop = f"DROP INDEX ix_g{k}_name" + (f" ON g{k}" if dialect == "mariadb" else "")
        return (f"index_g{k}_name", f"CREATE INDEX ix_g{k}_name ON g{k} (name);\n", drop + ";\n")
    return (
        f"create_h{k}",
        f"CREATE TABLE h{k} (id BIGINT PRIMARY KEY, g_id BIGINT NOT NULL, body TEXT);\n",
        f"DROP TABLE h{k};\n",
    )


def ddl_mix(n, dialect):
    """Three of every four migrations DDL-only."""
    return [Migration(i, *ddl_step(i, dialect)) for i in range(1, n + 1)]


def corpus_history(corpus, dialect):
    """The Temporal history: `<v>_<name>.sql`, forward only."""
    folder = corpus / ("temporal-mysql" if dialect == "mariadb" else "temporal-pg")
    out = []
    for path in sorted(folder.glob("*.sql")):
        version, name = path.stem.split("_", 1)
        out.append(Migration(int(version), name, path.read_text(), None))
    return out


def split_sql(text):
    """Statements of a script, comments dropped: quotes, `--` and `/* */`
    comments respected (enough for these histories; no procedures)."""
    stmts, cur, i, n, quote = [], [], 0, len(text), None
    while i < n:
        c = text[i]
        if quote:
            cur.append(c)
            if c == "\\" and quote == "'" and i + 1 < n:
                cur.append(text[i + 1])
                i += 1
            elif c == quote:
                quote = None
        elif c in "'\"`":
            quote = c
            cur.append(c)
        elif text.startswith("--", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
            continue
        elif c == ";":
            stmts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(c)
        i += 1
    stmts.append("".join(cur).strip())
    return [s for s in stmts if s]


# --- rendering in each tool's format --------------------------------------------
def stem(m):
    return f"{m.version:04d}_{m.name}"


def render_sqlx(hist, d):
    """sqlx (and schemagate): `<v>_<name>.up.sql` / `.down.sql`, or `.sql`."""
    d.mkdir(parents=True)
    for m in hist:
        if m.down is None:
            (d / f"{stem(m)}.sql").write_text(m.up)
        else:
            (d / f"{stem(m)}.up.sql").write_text(m.up)
            (d / f"{stem(m)}.down.sql").write_text(m.down)
    return d


def render_dbmate(hist, d):
    """dbmate: one file, `-- migrate:up` then `-- migrate:down`."""
    d.mkdir(parents=True)
    for m in hist:
        body = f"-- migrate:up\n{m.up}\n-- migrate:down\n{m.down or ''}\n"
        (d / f"{stem(m)}.sql").write_text(body)
    return d


ALEMBIC_ENV = """\
import os

from alembic import context
from sqlalchemy import create_engine, pool

engine = create_engine(os.environ["BENCH_ALEMBIC_URL"], poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()
"""


def alembic_calls(sql):
    """`op.execute(...)` lines, one per statement; `:word` escaped so that
    SQLAlchemy's text() does not read it as a bind parameter."""
    out = []
    for s in split_sql(sql or ""):
        s = re.sub(r"(?<![:\w\\]):(?=\w)", r"\\:", s)
        out.append(f"    op.execute({s!r})")
    return "\n".join(out) or "    pass"


def alembic_revision(m, prev):
    return (
        f'"""{m.name}"""\nfrom alembic import op\n\n'
        f'revision = "{m.version:04d}"\n'
        f"down_revision = {prev!r}\nbranch_labels = None\ndepends_on = None\n\n\n"
        f"def upgrade():\n{alembic_calls(m.up)}\n\n\n"
        f"def downgrade():\n{alembic_calls(m.down)}\n"
    )


def render_alembic(hist, d):
    """Alembic: a project with a minimal env.py and versions/*.py in a chain."""
    (d / "versions").mkdir(parents=True)
    (d / "alembic.ini").write_text(f"[alembic]\nscript_location = {d}\n")
    (d / "env.py").write_text(ALEMBIC_ENV)
    prev = None
    for m in hist:
        (d / "versions" / f"{stem(m)}.py").write_text(alembic_revision(m, prev))
        prev = f"{m.version:04d}"
    return d


def render_limit(hist, d, direction):
    """One file: the up scripts in order, or the down scripts newest first."""
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"all.{direction}.sql"
    if direction == "up":
        path.write_text("".join(m.up.rstrip() + "\n" for m in hist))
    else:
        path.write_text("".join((m.down or "").rstrip() + "\n" for m in reversed(hist)))
    return path


# --- the databases --------------------------------------------------------------
class BenchError(Exception):
    pass


def run(argv, stdin=None, env=None, check=True):
    """Run a command; its stdout (text). A failure raises BenchError with the
    tail of its stderr."""
    with open(stdin, "rb") if stdin else open(os.devnull, "rb") as inp:
        p = subprocess.run(argv, stdin=inp, capture_output=True, env=env)
    if check and p.returncode != 0:
        tail = p.stderr.decode(errors="replace").strip().splitlines()[-3:]
        raise BenchError(f"`{Path(argv[0]).name}` exited {p.returncode}: {' | '.join(tail)}")
    return p.stdout.decode(errors="replace")


class MariaDb:
    name = "mariadb"
    client = ["mariadb", "-uroot", f"-h{HOST}", "--batch"]
    limit_label = "limit (one mariadb session)"

    def admin(self, sql, db=""):
        return run(self.client + ["-N", "-e", sql] + ([db] if db else []))

    def reset(self, db):
        self.admin(f"DROP DATABASE IF EXISTS {db}; CREATE DATABASE {db}")

    def drop(self, db):
        self.admin(f"DROP DATABASE IF EXISTS {db}")

    def tables(self, db):
        sql = f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{db}'"
        return set(self.admin(sql).split())

    def url(self, db, kind="sqlx"):
        scheme = "mysql+pymysql" if kind == "alembic" else "mysql"
        return f"{scheme}://root@{HOST}:3306/{db}"

    def limit(self, db, path):
        return self.client + [db], path

    def ping(self, db):
        return self.client + ["-e", "SELECT 1", db]

    def versions(self):
        client = run(["mariadb", "--version"]).strip()
        return {"MariaDB server": self.admin("SELECT VERSION()").strip(), "mariadb client": client}


class Postgres:
    name = "postgres"
    client = ["psql", "-h", HOST, "-U", "postgres", "-X", "-q", "-v", "ON_ERROR_STOP=1"]
    limit_label = "limit (psql -1, one transaction)"

    def admin(self, sql, db="postgres"):
        return run(self.client + ["-At", "-d", db, "-c", sql])

    def reset(self, db):
        self.drop(db)
        self.admin(f"CREATE DATABASE {db}")

    def drop(self, db):
        self.admin(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")

    def tables(self, db):
        return set(self.admin("SELECT tablename FROM pg_tables WHERE schemaname = 'public'", db).split())

    def url(self, db, kind="sqlx"):
        scheme = "postgresql+psycopg2" if kind == "alembic" else "postgres"
        suffix = "?sslmode=disable" if kind == "dbmate" else ""
        return f"{scheme}://postgres@{HOST}:5432/{db}{suffix}"

    def limit(self, db, path):
        return self.client + ["-1", "-d", db, "-f", str(path)], None

    def ping(self, db):
        return self.client + ["-d", db, "-c", "SELECT 1"]

    def versions(self):
        server = self.admin("SHOW server_version").strip()
        return {"PostgreSQL server": server, "psql": run(["psql", "--version"]).strip()}


# --- the tools ------------------------------------------------------------------
@dataclass
class Cmd:
    argv: list
    stdin: Path | None = None
    env: dict | None = None


class Limit:
    name = "limit"
    peer = False

    def available(self):
        return True

    def render(self, hist, d):
        return {"up": render_limit(hist, d, "up"), "down": render_limit(hist, d, "down")}

    def cmds(self, action, engine, db, r):
        if action == "noop":
            return [Cmd(engine.ping(db))]
        argv, stdin = engine.limit(db, r[action])
        return [Cmd(argv, stdin)]

    def version(self):
        return {}


class Schemagate:
    name = "schemagate"
    peer = False

    def __init__(self, binary):
        self.binary = binary

    def available(self):
        return self.binary.exists()

    def render(self, hist, d):
        return render_sqlx(hist, d)

    def cmds(self, action, engine, db, r):
        base = [str(self.binary), "--database-url", engine.url(db), "--migrations", str(r), "--json"]
        tail = ["down", "--to", "0"] if action == "down" else ["up"]
        # The peers do not gate; neither does schemagate here (Temporal drops a table).
        return [Cmd(base + tail + ["--allow-breaking"])]

    def version(self):
        return {"schemagate": run([str(self.binary), "--version"]).strip()}


class Sqlx:
    name = "sqlx"
    peer = True
    binary = TOOLS_DIR / "bin" / "sqlx"

    def available(self):
        return self.binary.exists()

    def render(self, hist, d):
        return render_sqlx(hist, d)

    def cmds(self, action, engine, db, r):
        sub = ["revert", "--target-version", "0"] if action == "down" else ["run"]
        args = ["--source", str(r), "--database-url", engine.url(db)]
        return [Cmd([str(self.binary), "migrate"] + sub + args)]

    def version(self):
        return {"sqlx-cli": run([str(self.binary), "--version"]).strip()}


class Dbmate:
    name = "dbmate"
    peer = True

    def binary(self):
        """The Go binary the npm package ships (its `bin` is a Node shim
        that starts it: measured without Node's start-up)."""
        native = sorted(TOOLS_DIR.glob("npm/node_modules/@dbmate/*/bin/dbmate"))
        return native[0] if native else TOOLS_DIR / "npm" / "node_modules" / ".bin" / "dbmate"

    def available(self):
        return self.binary().exists()

    def render(self, hist, d):
        return (render_dbmate(hist, d), len(hist))

    def cmds(self, action, engine, db, r):
        d, n = r
        base = [str(self.binary()), "--url", engine.url(db, "dbmate"), "--migrations-dir", str(d)]
        base += ["--no-dump-schema"]
        if action == "down":  # dbmate reverts one migration per run
            return [Cmd(base + ["rollback"]) for _ in range(n)]
        return [Cmd(base + ["migrate"])]

    def version(self):
        return {"dbmate": run([str(self.binary()), "--version"]).strip()}


class Alembic:
    name = "alembic"
    peer = True

    def binary(self):
        return shutil.which("alembic")

    def available(self):
        return self.binary() is not None

    def render(self, hist, d):
        return render_alembic(hist, d)

    def cmds(self, action, engine, db, r):
        env = dict(os.environ, BENCH_ALEMBIC_URL=engine.url(db, "alembic"))
        sub = ["downgrade", "base"] if action == "down" else ["upgrade", "head"]
        return [Cmd([self.binary(), "-c", str(r / "alembic.ini")] + sub, env=env)]

    def version(self):
        out = {"alembic": run([self.binary(), "--version"]).strip()}
        for pkg in ("SQLAlchemy", "PyMySQL", "psycopg2-binary"):
            try:
                out[pkg] = importlib.metadata.version(pkg)
            except importlib.metadata.PackageNotFoundError:
                out[pkg] = "not in this Python"
        return out


# --- measuring ------------------------------------------------------------------
@dataclass
class Workload:
    name: str
    action: str  # up, noop, down
    history: object  # dialect -> [Migration]
    target: str = ""  # schemagate's target (issue #11): "1.10x" (of the limit) or "100ms"
    key: str = ""  # the history: a no-op reuses the databases an apply left at its head
    big: bool = False  # RUNS_BIG runs instead of RUNS
    then: "Workload | None" = None  # run after this one, each run, on the database it left


@dataclass
class Row:
    engine: str
    workload: str
    tool: str
    n: int
    samples: list = field(default_factory=list)
    engine_ms: list = field(default_factory=list)
    error: str | None = None

    def median(self):
        return statistics.median(self.samples) if self.samples and not self.error else None


def workloads(quick, corpus):
    small, big = (40, 160) if quick else (400, 1600)
    tgt = (lambda t: "") if quick else (lambda t: t)  # the targets are for 400/1600
    return [  # the slowest last: a run cut short still has the rest
        Workload("temporal", "up", lambda d: corpus_history(corpus, d)),
        Workload(f"apply-{small} ddl", "up", lambda d: ddl_mix(small, d), tgt("1.10x"),
                 then=Workload(f"down-{small} ddl", "down", None)),
        Workload(f"apply-{small} create", "up", lambda d: create_mix(small, d), tgt("1.10x")),
        Workload(f"apply-{big} ddl", "up", lambda d: ddl_mix(big, d), tgt(f"flat:apply-{small} ddl"), "ddl-big", True),
        Workload(f"no-op {big}", "noop", lambda d: ddl_mix(big, d), tgt("100ms"), key="ddl-big"),
    ]


def execute(cmds):
    """Run the commands one after the other; wall seconds, last stdout."""
    out = ""
    t0 = time.perf_counter()
    for c in cmds:
        out = run(c.argv, c.stdin, c.env)
    return time.perf_counter() - t0, out


def user_tables(engine, db):
    return {t for t in engine.tables(db) if t not in BOOKKEEPING and not t.startswith("_")}


def prepare(tool, action, engine, db, r, ready):
    """A fresh database for `up`; at head (untimed, by the tool itself) for
    `down` every run and for `noop` once."""
    if action == "noop" and tool.name in ready:
        return
    engine.reset(db)
    if action in ("noop", "down"):
        execute(tool.cmds("up", engine, db, r))
    ready.add(tool.name)


def one_run(tool, wl, engine, r, row, ready, expect, fresh):
    db = f"sg_bench_{tool.name}"
    if fresh:
        prepare(tool, wl.action, engine, db, r, ready)
    secs, out = execute(tool.cmds(wl.action, engine, db, r))
    row.samples.append(secs)
    if tool.name == "schemagate":
        row.engine_ms.append(json.loads(out)["elapsed_ms"])
    if len(row.samples) == 1 and wl.action != "noop":
        got = user_tables(engine, db)
        expect.setdefault("tables", got)  # the limit runs first in the first round
        if got != expect["tables"]:
            raise BenchError(f"left {len(got)} tables, the limit {len(expect['tables'])}")


def measure(wl, engine, tools, runs, tmp, heads):
    """Round robin over the tools, the first one rotating; per run and tool
    the workload, then its `then` (a revert) on the database it left.
    `heads`: tool → the history key its database is at the head of.
    [(workload, [Row per tool])]."""
    hist = wl.history(engine.name)
    rendered = {t.name: t.render(hist, tmp / f"{engine.name}-{wl.name}-{t.name}".replace(" ", "_")) for t in tools}
    phases = [wl] + ([wl.then] if wl.then else [])
    rows = {(p.name, t.name): Row(engine.name, p.name, t.name, len(hist)) for p in phases for t in tools}
    ready, expect = {t for t, k in heads.items() if wl.key and k == wl.key}, {p.name: {} for p in phases}
    for k in range(runs):
        for tool in tools[k % len(tools):] + tools[: k % len(tools)]:
            for i, p in enumerate(phases):
                row = rows[(p.name, tool.name)]
                if any(rows[(q.name, tool.name)].error for q in phases):
                    break
                try:
                    one_run(tool, p, engine, rendered[tool.name], row, ready, expect[p.name], i == 0)
                except (BenchError, ValueError, KeyError) as e:
                    row.error = str(e)
                    print(f"  {tool.name}: {p.name} on {engine.name} failed: {e}", file=sys.stderr)
    for t in tools:
        ok = not any(rows[(p.name, t.name)].error for p in phases)
        heads[t.name] = wl.key if phases[-1].action != "down" and ok else ""
    return [(p, [rows[(p.name, t.name)] for t in tools]) for p in phases]


# --- the machine and its load ------------------------------------------------------
def machine():
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), "unknown")
    mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    return {"nproc": os.cpu_count(), "memory": f"{mem_kb / 1024 / 1024:.1f} GiB", "cpu": cpu}


class Load:
    """Load averages seen during the run; warns (once) when one is high."""

    def __init__(self):
        self.seen = []

    def check(self, when):
        one, cores = os.getloadavg()[0], os.cpu_count() or 1
        high = one > 0.75 * cores and not any(s > 0.75 * cores for s in self.seen)
        self.seen.append(one)
        if high:
            print(f"warning: load average {one:.2f} on {cores} cores {when}: other work skews "
                  "the timings (the ratios less: runs alternate); results.md notes the load",
                  file=sys.stderr)

    def summary(self):
        return f"start {self.seen[0]:.2f}, max {max(self.seen):.2f}, end {self.seen[-1]:.2f}"


# --- the report ---------------------------------------------------------------------
HEADER = ["engine", "workload", "tool", "median", "runs", "× limit", "× best peer", "per migration", "target"]


def fmt_secs(s):
    return "" if s is None else (f"{s * 1000:.0f} ms" if s < 1 else f"{s:.2f} s")


def fmt_ratio(a, b):
    return f"{a / b:.2f}×" if a is not None and b else ""


def verdict(target, secs, ratio, seen):
    """`1.10x` of the limit, `100ms`, or `flat:<workload>`: a ratio to the
    limit no worse than schemagate's on that workload (same engine)."""
    if not target:
        return ""
    if target.startswith("flat:"):
        before = seen.get(target[5:])
        ok = ratio is not None and before is not None and ratio <= before
        return f"≤ {before:.2f}× (at {target[5:].split()[0]}) {'met' if ok else 'missed'}" if before else ""
    if target.endswith("x"):
        ok = ratio is not None and ratio <= float(target[:-1])
        return f"≤ {target[:-1]}× {'met' if ok else 'missed'}"
    ok = secs is not None and secs * 1000 < float(target[:-2])
    return f"< {target[:-2]} ms {'met' if ok else 'missed'}"


def table_rows(rows, wl, tools, seen):
    """The cells for one workload on one engine; `seen`: schemagate's ratio to
    the limit on the workloads before, by name (for `flat:`)."""
    by = {r.tool: r for r in rows}
    limit = by["limit"].median() if "limit" in by else None
    peers = [by[t.name].median() for t in tools if t.peer and by[t.name].median() is not None]
    best = min(peers) if peers else None
    out = []
    for r in rows:
        m = r.median()
        label = r.engine == "mariadb" and MariaDb.limit_label or Postgres.limit_label
        tool = label if r.tool == "limit" else r.tool
        per = fmt_secs(m / r.n) if m is not None and wl.action != "noop" else ""
        ratio = m / limit if m is not None and limit else None
        target = verdict(wl.target, m, ratio, seen) if r.tool == "schemagate" else ""
        if r.tool == "schemagate" and ratio is not None:
            seen[wl.name] = ratio
        cells = [fmt_secs(m) if not r.error else f"failed: {r.error[:60]}", len(r.samples),
                 "" if r.tool == "limit" else fmt_ratio(m, limit), fmt_ratio(m, best), per, target]
        out.append([r.engine, wl.name, tool] + cells)
        if r.engine_ms and not r.error:
            e = statistics.median(r.engine_ms) / 1000
            tgt = "< 20 ms " + ("met" if e < 0.02 else "missed") if wl.action == "noop" and wl.target else ""
            out.append([r.engine, wl.name, "schemagate, engine's own time", fmt_secs(e), len(r.engine_ms),
                        "", "", "", tgt])
    return out


def render_text(cells, header=HEADER):
    widths = [max(len(str(row[i])) for row in [header] + cells) for i in range(len(header))]
    line = lambda row: "  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in cells])


def render_md(cells, header=HEADER):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in r) + " |" for r in cells])


LAMBDA_KEYS = [
    ("zip_bytes", "zip", lambda v: f"{v / 1e6:.2f} MB", "≤ 5 MB", lambda v: v <= 5e6),
    ("bootstrap_bytes", "bootstrap", lambda v: f"{v / 1e6:.2f} MB", "≤ 12 MB", lambda v: v <= 12e6),
    ("init_ms", "init (start → first runtime API request)", lambda v: f"{v:.0f} ms", "≤ 30 ms", lambda v: v <= 30),
    ("rss_mb_1600", "peak RSS, applying 1600", lambda v: f"{v:.0f} MB", "≤ 64 MB", lambda v: v <= 64),
    ("noop_update_ms", "no-op Update, invoke → response in S3", lambda v: f"{v:.0f} ms", "", None),
]


LAMBDA_HEADER = ["figure", "value", "target"]
LAMBDA_SCRIPT = ROOT / "scripts" / "bench_lambda.py"
LAMBDA_MISSING = "Lambda figures: not measured (scripts/bench_lambda.py is not in this tree)."
LAMBDA_PENDING = "Lambda figures: pending (measured after the workloads)."


def lambda_figures():
    """The Lambda's figures from scripts/bench_lambda.py --json: (cells, note)."""
    script = LAMBDA_SCRIPT
    if not script.exists():
        return None, LAMBDA_MISSING
    try:
        p = subprocess.run([sys.executable, str(script), "--json"], capture_output=True, text=True,
                           timeout=1800, cwd=ROOT)
        data = json.loads(p.stdout.strip().splitlines()[-1])
    except (subprocess.TimeoutExpired, json.JSONDecodeError, IndexError) as e:
        return None, f"Lambda figures: scripts/bench_lambda.py --json gave no figures ({type(e).__name__})."
    cells = []
    for key, label, fmt, target, ok in LAMBDA_KEYS:
        v = data.get(key)
        if v is None:
            cells.append([label, "not reported", target])
        else:
            cells.append([label, fmt(v), f"{target} {'met' if ok(v) else 'missed'}" if ok else ""])
    return cells, ""


def versions(tools, engines):
    out = {"python": sys.version.split()[0]}
    for e in engines:
        out.update(e.versions())
    for t in tools:
        out.update(t.version())
    return out


def write_results(path, cells, lambda_cells, note, info):
    mach = info["machine"]
    parts = [
        "# `make bench` results",
        "",
        f"Date: {info['date']}. Machine: {mach['nproc']} CPUs ({mach['cpu']}), {mach['memory']} memory; "
        f"load average during the run: {info['load']}. The median of `runs` runs each, "
        f"the tools alternating (round robin). Written by `scripts/bench.py` (`make bench`), settings: "
        f"{info['settings']}.",
        *(["", info["state"]] if info["state"] else []),
        "",
        "Limit: the same SQL through one client session (MariaDB: the up scripts concatenated into one "
        "`mariadb` session; PostgreSQL: `psql -1`, one transaction); for a no-op, a session running "
        "`SELECT 1`; for a revert, the down scripts newest first. Best peer: the fastest of sqlx-cli, "
        "dbmate and Alembic. dbmate reverts one migration per run (`dbmate rollback` × N).",
        "",
        render_md(cells),
        "",
        "## The Lambda",
        "",
        render_md(lambda_cells, LAMBDA_HEADER) if lambda_cells else note,
        "",
        "## Versions",
        "",
    ]
    parts += [f"- {k}: {v}" for k, v in info["versions"].items()]
    if info["skipped"]:
        parts += ["", "Not measured: " + "; ".join(info["skipped"]) + "."]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts) + "\n")


SETTINGS = ["RUNS", "RUNS_BIG", "QUICK", "ENGINES", "TOOLS", "WORKLOADS", "BIN"]


def config():
    quick = os.environ.get("QUICK") == "1"
    out = os.environ.get("OUT") or (None if quick else str(ROOT / "bench" / "results.md"))
    return {
        "runs": int(os.environ.get("RUNS", "5")),
        "runs_big": int(os.environ.get("RUNS_BIG") or os.environ.get("RUNS", "5")),
        "quick": quick,
        "out": Path(out) if out else Path(tempfile.gettempdir()) / "schemagate-bench-quick.md",
        "bin": Path(os.environ.get("BIN", ROOT / "target" / "release" / "schemagate")),
        "engines": os.environ.get("ENGINES", "mariadb,postgres").split(","),
        "tools": os.environ.get("TOOLS", "schemagate,sqlx,dbmate,alembic").split(","),
        "workloads": [w for w in os.environ.get("WORKLOADS", "").split(",") if w],
        "corpus": Path(os.environ.get("CORPUS", ROOT.parent / "shared" / "corpus")),
    }


def pick_tools(cfg):
    """The limit first, then the tools asked for that are installed."""
    every = {"schemagate": Schemagate(cfg["bin"]), "sqlx": Sqlx(), "dbmate": Dbmate(), "alembic": Alembic()}
    tools, skipped = [Limit()], []
    for name in cfg["tools"]:
        t = every[name]
        if t.available():
            tools.append(t)
        else:
            skipped.append(f"{name} (not installed: `make bench-tools`, or `cargo build --release` for schemagate)")
    return tools, skipped


def run_all(cfg, tools, engines, report):
    """Every workload on every engine; the report rewritten after each."""
    load, cells, heads, seen = Load(), [], {e.name: {} for e in engines}, {}
    load.check("at the start")
    try:
        with tempfile.TemporaryDirectory(prefix="sg-bench-") as tmp:
            measure_all(cfg, tools, engines, report, (load, cells, heads, seen), Path(tmp))
    finally:
        for engine in engines:
            for t in tools:
                engine.drop(f"sg_bench_{t.name}")
    return cells, load


def measure_all(cfg, tools, engines, report, state, tmp):
    load, cells, heads, seen = state
    for wl in workloads(cfg["quick"], cfg["corpus"]):
        if cfg["workloads"] and wl.name not in cfg["workloads"]:
            continue
        for engine in engines:
            print(f"  {engine.name}: {wl.name} …", file=sys.stderr)
            runs = cfg["runs_big"] if wl.big else cfg["runs"]
            for p, rows in measure(wl, engine, tools, runs, tmp, heads[engine.name]):
                cells += table_rows(rows, p, tools, seen.setdefault(engine.name, {}))
            load.check(f"after {wl.name} on {engine.name}")
            report(cells, load, None, LAMBDA_PENDING if LAMBDA_SCRIPT.exists() else LAMBDA_MISSING,
                   f"Partial: written after "
                   f"{wl.name} on {engine.name}; the run had not finished.")


def main():
    sys.stdout.reconfigure(line_buffering=True)
    # A stopped run (kill PID) still drops its databases; results.md keeps
    # what was measured.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    cfg = config()
    tools, skipped = pick_tools(cfg)
    engines = [{"mariadb": MariaDb, "postgres": Postgres}[e]() for e in cfg["engines"]]
    for s in skipped:
        print(f"note: {s}", file=sys.stderr)
    print(f"schemagate bench: {', '.join(t.name for t in tools)}; median of {cfg['runs']} runs"
          + (" (QUICK)" if cfg["quick"] else ""), file=sys.stderr)
    settings = " ".join(f"{k}={os.environ[k]}" for k in SETTINGS if k in os.environ) or "defaults"
    fixed = {"machine": machine(), "versions": versions(tools, engines), "skipped": skipped, "settings": settings}

    def report(cells, load, lambda_cells, note, state=""):
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        info = dict(fixed, date=now, load=load.summary(), state=state)
        write_results(cfg["out"], cells, lambda_cells, note, info)

    cells, load = run_all(cfg, tools, engines, report)
    lambda_cells, note = lambda_figures()
    print(render_text(cells))
    print()
    print(render_text(lambda_cells, LAMBDA_HEADER) if lambda_cells else note)
    report(cells, load, lambda_cells, note)
    print(f"\nwritten to {cfg['out']}", file=sys.stderr)


if __name__ == "__main__":
    main()
