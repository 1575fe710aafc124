"""schemagate's driver for Alembic: `schemagate import alembic` runs it with
the user's Python (the one that has Alembic and whatever the revisions
import), embedded in the schemagate binary.

It reads the revision graph with Alembic itself and renders each revision's
upgrade and downgrade to SQL statements, in one of two ways:

- offline: Alembic's `--sql` mode through its API (an EnvironmentContext
  with `as_sql=True`, `literal_binds`), no database;
- captured: the revision runs online against a scratch database, and every
  statement it sends (SQLAlchemy's `before_cursor_execute`) is recorded,
  except reads.

The user's env.py is never executed: the driver is the environment (it may
import the whole app, need its settings, or connect somewhere). Alembic's
own `alembic_version` bookkeeping is never generated (the driver calls each
revision's `upgrade()` / `downgrade()` itself) and statements a revision
sends to that table are dropped.

It reports facts; schemagate decides (what is written, what is an error).

Protocol: the request is one JSON document on stdin; the answer one JSON
document on the process's original stdout. Everything else the user's code
prints goes to stderr (stdout is pointed there), so a revision or the app
printing cannot corrupt the answer.
"""

import sys

# `python -c` puts the working directory first on the path: a `json.py`
# there must not shadow the standard library the driver needs. The user's
# PYTHONPATH stays.
if sys.path and sys.path[0] == "":
    del sys.path[0]

import ast  # noqa: E402
import contextlib  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import signal  # noqa: E402
import traceback  # noqa: E402


class Stop(Exception):
    """The import cannot go on; `error` says why (a `kind` and its facts)."""

    def __init__(self, **error):
        super().__init__(error.get("kind"))
        self.error = error


def need(module):
    """Import `module`, or stop saying which module is missing."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise Stop(kind="missing_module", module=e.name or module, detail=str(e))


# --- reading SQL statements -------------------------------------------------
# A few words of a statement decide whether it can change anything. This is
# not a SQL parser (schemagate's lint reads the written files properly); it
# only keeps reads out of the captured statements, so a statement is a read
# only when it starts as one and calls nothing known to write.
READ_START = re.compile(r"^[\s(]*(select|show|describe|desc|explain|with|values)\b", re.I)
WRITES = re.compile(
    r"\b(insert|update|delete|merge|into|nextval|setval|set_config|"
    r"pg_advisory\w*|get_lock|release_lock|release_all_locks|lo_\w+)\b",
    re.I,
)
# Reads of the catalog (reflection) do not depend on the data.
CATALOG = re.compile(r"\b(information_schema|pg_catalog|performance_schema|mysql\s*\.)", re.I)
FROM = re.compile(r"\bfrom\b", re.I)
BOOKKEEPING = re.compile(r"\balembic_version\b", re.I)
COMMENT = re.compile(r"^\s*(--[^\n]*\n|/\*.*?\*/)", re.S)


def strip_comments(text):
    while True:
        m = COMMENT.match(text)
        if not m:
            return text
        text = text[m.end():]


def is_read(text):
    body = strip_comments(text)
    return bool(READ_START.match(body)) and not WRITES.search(body)


def is_data_read(text):
    body = strip_comments(text)
    if not is_read(body) or re.match(r"^\s*(show|describe|desc|explain)\b", body, re.I):
        return False
    return bool(FROM.search(body)) and not CATALOG.search(body)


# --- reading the revision's Python ------------------------------------------
WRITE_CALLS = {
    "execute", "exec_driver_sql", "bulk_insert", "bulk_insert_mappings",
    "bulk_update_mappings", "add", "add_all", "merge", "delete", "flush",
    "commit", "update", "insert",
}
READ_CALLS = {
    "execute", "exec_driver_sql", "fetchall", "fetchmany", "scalars", "all",
    "query", "mappings", "yield_per", "partitions", "scalar",
}


def calls(node):
    """The names of the functions and methods `node` calls."""
    for n in ast.walk(node):
        if isinstance(n, ast.Call):
            f = n.func
            if isinstance(f, ast.Attribute):
                yield f.attr, n
            elif isinstance(f, ast.Name):
                yield f.id, n


def python_data(fn, functions):
    """`(line, reason)` when `fn` (or a function of the module it calls)
    changes rows from Python: a loop over rows it read that writes inside,
    or the ORM's Session. Such a migration cannot be written as SQL by
    recording what it sent: on another database it sends other
    statements."""
    seen = set()
    todo = [fn]
    while todo:
        f = todo.pop()
        if f.name in seen:
            continue
        seen.add(f.name)
        read_names = set()
        for n in ast.walk(f):
            if isinstance(n, ast.Assign) and any(c in READ_CALLS for c, _ in calls(n.value)):
                read_names.update(t.id for t in n.targets if isinstance(t, ast.Name))
        for n in ast.walk(f):
            if isinstance(n, ast.Call):
                name = n.func.attr if isinstance(n.func, ast.Attribute) else getattr(n.func, "id", "")
                if name in ("Session", "sessionmaker", "scoped_session"):
                    return n.lineno, "it changes rows through the ORM (`%s`) from Python" % name
            if isinstance(n, (ast.For, ast.AsyncFor, ast.While)):
                it = n.iter if not isinstance(n, ast.While) else n.test
                reads = any(c in READ_CALLS for c, _ in calls(it)) or any(
                    isinstance(x, ast.Name) and x.id in read_names for x in ast.walk(it)
                )
                writes = any(c in WRITE_CALLS for b in n.body for c, _ in calls(b)) or any(
                    isinstance(x, ast.Attribute) and isinstance(x.value, ast.Name) and x.value.id == "op"
                    for b in n.body for x in ast.walk(b)
                )
                if reads and writes:
                    return n.lineno, "it loops over rows it reads and writes each one from Python"
        for name, _ in calls(f):
            if name in functions:
                todo.append(functions[name])
    return None


def trivial(fn):
    """A function that does nothing: only `pass`, `...` or a docstring."""
    if fn is None:
        return True
    for s in fn.body:
        if isinstance(s, ast.Pass):
            continue
        if isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant):
            continue
        return False
    return True


def study(path):
    """What the revision's source says: empty functions, Python data changes
    (with the function's text, for the placeholder a person fills in)."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    tree = ast.parse(text, filename=path)
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    out = {}
    for side in ("upgrade", "downgrade"):
        fn = functions.get(side)
        found = python_data(fn, functions) if fn is not None else None
        out[side] = {
            "defined": fn is not None,
            "empty": trivial(fn),
            "python": {"line": found[0], "reason": found[1],
                       "text": ast.get_source_segment(text, fn) or ""} if found else None,
        }
    return out


# --- running a revision ---------------------------------------------------
def first_line(exc):
    """`OperationalError: (1045, "Access denied …")`: the exception's type and
    the first line of its message (SQLAlchemy adds a line of links)."""
    text = str(exc).strip()
    return "%s: %s" % (type(exc).__name__, text.splitlines()[0] if text else "")


def where(exc, path):
    """`(line, source)` of the deepest frame of `exc` in the revision file."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if os.path.abspath(frame.filename) == path:
            line = (frame.lineno, (frame.line or "").strip())
    return line


def failure(exc, path, offline):
    at = where(exc, path)
    message = first_line(exc)
    if offline:
        text = (at[1] if at else "") + " " + message
        if "inspect" in text.lower() or "Inspection" in message:
            reason = "it reflects the live schema"
        elif "NoneType" in message or "fetch" in text or "scalar" in text:
            reason = "it reads rows back from the database"
        elif "bind parameters" in message:
            reason = "it sends statements with bind parameters"
        else:
            reason = "it needs a live database"
    else:
        reason = "it failed against the scratch database"
    return {
        "line": at[0] if at else None,
        "source": at[1] if at else None,
        "message": message,
        "reason": reason,
    }


class Collect:
    """The output buffer of Alembic's offline mode: one `write` per statement."""

    def __init__(self):
        self.statements = []

    def write(self, text):
        text = text.strip()
        if text:
            self.statements.append(text)

    def flush(self):
        pass


class Offline(Exception):
    pass


def watch_autocommit(ctx):
    """A list that gets an item when the revision opens an autocommit block
    (`op.get_context().autocommit_block()`, e.g. for PostgreSQL's
    `CREATE INDEX CONCURRENTLY`): its file must run outside a transaction."""
    used = []
    original = ctx.autocommit_block

    @contextlib.contextmanager
    def block():
        used.append(True)
        with original():
            yield

    ctx.autocommit_block = block
    return used


def offline(alembic, sa, cfg, script, sc, side, dialect):
    """The statements of `sc`'s `side` in Alembic's offline mode, and
    whether it asked for an autocommit block."""
    from alembic.runtime.environment import EnvironmentContext
    from alembic.operations import Operations
    from sqlalchemy.engine.mock import MockConnection

    buf = Collect()
    with EnvironmentContext(cfg, script, as_sql=True) as env:
        env.configure(
            dialect_name=dialect,
            literal_binds=True,
            dialect_opts={"paramstyle": "named"},
            output_buffer=buf,
            # No BEGIN/COMMIT written around an autocommit block: the file
            # says `-- no-transaction` instead.
            transactional_ddl=False,
        )
        ctx = env.get_context()
        used = watch_autocommit(ctx)

        # Offline mode would silently drop bind parameters (`conn.execute(
        # text(":x"), {"x": 1})` renders `:x`): refuse them instead.
        def dump(construct, parameters=None, *rest, **kw):
            if parameters:
                raise Offline("bind parameters cannot be rendered offline")
            ctx.impl._exec(construct)

        ctx.connection = MockConnection(ctx.dialect, dump)
        ctx.impl.connection = ctx.connection
        with Operations.context(ctx):
            getattr(sc.module, side)()
    return buf.statements, bool(used)


class Recorder:
    """Every statement sent while `active`, as the server received it."""

    def __init__(self, path):
        self.active = False
        self.path = path
        self.items = []

    def before(self, conn, cursor, statement, parameters, context, executemany):
        if not self.active:
            return
        line = None
        for frame in traceback.extract_stack():
            if os.path.abspath(frame.filename) == self.path:
                line = frame.lineno
        if executemany and many(parameters):
            texts = [mogrify(cursor, statement, p) for p in parameters]
        elif parameters is None or (not parameters and getattr(context, "no_parameters", False)):
            texts = [statement]
        else:
            texts = [mogrify(cursor, statement, parameters)]
        for t in texts:
            self.items.append({"sql": t.strip(), "line": line})


def many(parameters):
    """Parameters for one execution each (SQLAlchemy's "insertmanyvalues"
    sends one batch statement with one flat set under `executemany`)."""
    return isinstance(parameters, (list, tuple)) and all(
        isinstance(p, (dict, list, tuple)) for p in parameters
    )


def mogrify(cursor, statement, parameters):
    """The statement with its parameters bound by the driver, as the server
    receives it (PyMySQL and psycopg2 both offer `cursor.mogrify`)."""
    text = cursor.mogrify(statement, parameters)
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    return text


def online(script, cfg, conn, sc, side):
    from alembic.runtime.environment import EnvironmentContext
    from alembic.operations import Operations

    with EnvironmentContext(cfg, script) as env:
        # A transaction per revision, which Alembic tracks (so an autocommit
        # block in it can commit it and begin another).
        env.configure(connection=conn, transaction_per_migration=True)
        ctx = env.get_context()
        used = watch_autocommit(ctx)
        with Operations.context(ctx):
            with ctx.begin_transaction(_per_migration=True):
                getattr(sc.module, side)()
    return bool(used)


def sort(items, path):
    """Drop reads and bookkeeping; say whether writes followed a data read."""
    out, data_read = [], None
    for it in items:
        sql = it["sql"]
        if BOOKKEEPING.search(sql):
            continue
        if is_read(sql):
            if data_read is None and is_data_read(sql):
                data_read = it
            continue
        out.append(sql)
    depends = None
    if data_read is not None and out:
        depends = {"line": data_read["line"], "statement": data_read["sql"]}
    return out, depends


# --- scratch database ------------------------------------------------------
def scratch_engine(sa, url_text):
    """The scratch database, created when it does not exist (and then
    dropped at the end), refused when it holds tables."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    url = make_url(url_text)
    backend = url.get_backend_name()
    if backend in ("mysql", "mariadb"):
        url = url.set(drivername="mysql+pymysql")
        need("pymysql")
        server = url._replace(database=None)
    elif backend in ("postgres", "postgresql"):
        url = url.set(drivername="postgresql+psycopg2")
        need("psycopg2")
        server = url.set(database="postgres")
    else:
        raise Stop(kind="scratch_url", message="unknown scheme `%s`" % backend)
    name = url.database
    if not name:
        raise Stop(kind="scratch_url", message="the URL names no database")
    created = False
    admin = sa.create_engine(server, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            exists = scratch_exists(sa, c, backend, name)
            if not exists:
                q = c.dialect.identifier_preparer.quote(name)
                c.exec_driver_sql("CREATE DATABASE %s" % q)
                created = True
    except Stop:
        raise
    except Exception as e:
        raise Stop(kind="scratch_connect", message=first_line(e))
    engine = sa.create_engine(url, poolclass=NullPool)
    if not created:
        tables = sa.inspect(engine).get_table_names()
        if tables:
            raise Stop(kind="scratch_not_empty", database=name, tables=sorted(tables)[:5])

    def drop():
        if created:
            with admin.connect() as c:
                q = c.dialect.identifier_preparer.quote(name)
                c.exec_driver_sql("DROP DATABASE %s" % q)

    return engine, drop


def scratch_exists(sa, c, backend, name):
    if backend in ("mysql", "mariadb"):
        q = "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = %(n)s"
    else:
        q = "SELECT COUNT(*) FROM pg_database WHERE datname = %(n)s"
    return c.exec_driver_sql(q, {"n": name}).scalar() > 0


# --- the import --------------------------------------------------------------
def graph(alembic, cfg):
    from alembic.script import ScriptDirectory

    try:
        script = ScriptDirectory.from_config(cfg)
        revisions = list(script.walk_revisions("base", "heads"))
    except ImportError as e:
        raise Stop(kind="revision_import", module=e.name, message=str(e), **import_site(e))
    except alembic.util.CommandError as e:
        raise Stop(kind="alembic", message=str(e))
    heads = script.get_heads()
    if len(heads) > 1:
        raise Stop(
            kind="unmerged_heads",
            heads=[
                {"revision": h, "message": describe(script.get_revision(h))["message"],
                 "path": os.path.abspath(script.get_revision(h).path)}
                for h in heads
            ],
        )
    # walk_revisions goes from the heads down; Alembic upgrades in the
    # reverse of that order.
    return script, list(reversed(revisions))


def import_site(e):
    for frame in reversed(traceback.extract_tb(e.__traceback__)):
        if "/versions/" in frame.filename or frame.filename.endswith(".py") and "alembic" not in frame.filename:
            return {"path": frame.filename, "line": frame.lineno}
    return {}


def down_of(sc):
    d = sc.down_revision
    if d is None:
        return []
    return [d] if isinstance(d, str) else list(d)


def describe(sc):
    doc = (sc.doc or "").strip()
    return {
        "revision": sc.revision,
        "down": down_of(sc),
        "message": doc.splitlines()[0] if doc else "",
        "path": os.path.abspath(sc.path),
    }


def ancestors(script, rev):
    seen, todo = set(), [rev]
    while todo:
        r = todo.pop()
        if r in seen:
            continue
        seen.add(r)
        todo.extend(down_of(script.get_revision(r)))
    return seen


def dialect_of(cfg, family):
    """`(family, SQLAlchemy dialect name)`: the family schemagate was given
    (`--dialect`, the scratch URL) or the one of the ini's
    `sqlalchemy.url`. MariaDB is rendered with SQLAlchemy's `mysql`
    dialect, as apps on MariaDB mostly name it, unless the ini says
    `mariadb` (a revision may test `dialect.name`)."""
    from sqlalchemy.engine import make_url

    url = cfg.get_main_option("sqlalchemy.url") or ""
    try:
        backend = make_url(url).get_backend_name() if url else None
    except Exception:
        backend = None
    if family is None:
        if backend in ("mysql", "mariadb"):
            family = "mariadb"
        elif backend in ("postgresql", "postgres"):
            family = "postgres"
        else:
            # The scheme only: the rest may hold a password.
            raise Stop(kind="no_dialect", scheme=url.split("://")[0] if "://" in url else url[:0])
    if family == "mariadb":
        return family, "mariadb" if backend == "mariadb" else "mysql"
    return family, "postgresql"


def resolve_since(script, since):
    try:
        found = script.get_revision(since)
    except Exception:
        found = None
    if found is None:
        raise Stop(kind="unknown_revision", revision=since)
    return found.revision


def run(req):
    alembic = need("alembic")
    sa = need("sqlalchemy")
    from alembic.config import Config

    cfg = Config(req["config"])
    family, dialect = dialect_of(cfg, req.get("family"))
    script, order = graph(alembic, cfg)
    done, since = set(), None
    if req.get("since"):
        since = resolve_since(script, req["since"])
        done = ancestors(script, since)
    out = []
    for sc in order:
        r = describe(sc)
        r["before_since"] = sc.revision in done
        r["source"] = study(r["path"])
        out.append((sc, r))
    for sc, r in out:
        if r["before_since"]:
            continue
        for side in ("upgrade", "downgrade"):
            r[side] = render_offline(alembic, sa, cfg, script, sc, side, dialect, r)
    if req.get("scratch_url"):
        capture(sa, cfg, script, out, req["scratch_url"])
    return {"ok": True, "revisions": [r for _, r in out], "family": family, "since": since}


def render_offline(alembic, sa, cfg, script, sc, side, dialect, r):
    if r["source"][side]["empty"]:
        return {"offline": [], "offline_error": None}
    path = r["path"]
    try:
        statements, autocommit = offline(alembic, sa, cfg, script, sc, side, dialect)
    except Exception as e:
        return {"offline": None, "offline_error": failure(e, path, True)}
    kept = [s for s in statements if not BOOKKEEPING.search(s) and not is_read(s)]
    return {"offline": kept, "offline_error": None, "offline_autocommit": autocommit}


def capture(sa, cfg, script, out, url):
    """Run every revision online against the scratch database, recording
    what each sends; a downgrade that cannot render offline is captured by
    running it and then the upgrade again (unrecorded)."""
    from sqlalchemy import event

    engine, drop = scratch_engine(sa, url)
    try:
        with engine.connect() as conn:
            for sc, r in out:
                rec = Recorder(r["path"])
                event.listen(conn, "before_cursor_execute", rec.before)
                try:
                    capture_one(cfg, script, conn, sc, r, rec)
                finally:
                    event.remove(conn, "before_cursor_execute", rec.before)
    finally:
        engine.dispose()
        drop()


def capture_one(cfg, script, conn, sc, r, rec):
    path = r["path"]

    def run_side(side, record):
        rec.items, rec.active = [], record
        try:
            autocommit = online(script, cfg, conn, sc, side)
        except Exception as e:
            raise Stop(kind="capture_failed", revision=sc.revision, side=side,
                       path=path, **failure(e, path, False))
        finally:
            rec.active = False
        return sort(rec.items, path) + (autocommit,)

    if r["before_since"]:
        run_side("upgrade", False)
        return
    up, depends, autocommit = run_side("upgrade", True)
    r["upgrade"].update(captured=up, depends_on_data=depends, captured_autocommit=autocommit)
    down = r["downgrade"]
    if down["offline"] is None and not r["source"]["downgrade"]["empty"]:
        statements, depends, autocommit = run_side("downgrade", True)
        down.update(captured=statements, depends_on_data=depends, captured_autocommit=autocommit)
        run_side("upgrade", False)


def stopped(signum, frame):
    # schemagate's --timeout: unwind, so a scratch database made here is dropped.
    raise SystemExit(128 + signum)


def main():
    signal.signal(signal.SIGTERM, stopped)
    answer = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        req = json.load(sys.stdin)
        result = run(req)
    except Stop as s:
        result = {"ok": False, "error": s.error}
    except Exception as e:
        result = {"ok": False, "error": {"kind": "driver", "message": "%s: %s" % (type(e).__name__, e),
                                         "traceback": traceback.format_exc()[-4000:]}}
    json.dump(result, answer)
    answer.write("\n")
    answer.flush()


if __name__ == "__main__":
    main()
