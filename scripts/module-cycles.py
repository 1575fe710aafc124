#!/usr/bin/env python3
"""Import cycles between the modules of a Rust crate (default: lambda/src).

Each file is a module (`db/conn.rs` is `db::conn`, `db/mod.rs` is `db`).
An edge A -> B means A names something defined in B: a `use crate::…`,
`use super::…` or an inline `crate::…::Item` path, followed through
`pub use` re-exports to the module that defines the item (so importing
`crate::migrate::Step` is an edge to `migrate::plan`, not to `migrate`).
Doc comments, comments and `#[cfg(test)]` modules are not read.

Prints the cycles (strongly connected components of more than one module)
and exits 1 when there is one; `--graph` also prints every edge.
Written by hand: cargo-modules would do it but is not installed here, and
the check needs nothing but the source text.
"""

import os
import re
import sys

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def strip(text):
    # Tests: from the first `#[cfg(test)]` that opens a module to the end.
    m = re.search(r"#\[cfg\(test\)\]\s*(pub(\([^)]*\))?\s+)?mod\s+\w+", text)
    if m:
        text = text[: m.start()]
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append('""')
            i = j + 1
        elif c == "r" and re.match(r'r#*"', text[i:]):
            hashes = re.match(r'r(#*)"', text[i:]).group(1)
            end = text.find('"' + hashes, i + len(hashes) + 2)
            out.append('""')
            i = n if end < 0 else end + 1 + len(hashes)
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", text[i:]):
            i += len(re.match(r"'(\\.|[^\\'])'", text[i:]).group(0))
        else:
            out.append(c)
            i += 1
    return "".join(out)


def modules(src):
    mods = {}
    for root, _, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs"):
                continue
            path = os.path.join(root, f)
            rel = os.path.relpath(path, src)[:-3].split(os.sep)
            if rel[0] == "bin":
                continue
            if rel[-1] in ("mod", "lib"):
                rel = rel[:-1]
            mods[tuple(rel)] = path
    return mods


def use_trees(text):
    """Every `use` statement's paths, braces expanded: (path, alias, is_pub)."""
    for m in re.finditer(r"\b(pub(\([^)]*\))?\s+)?use\s+([^;]+);", text):
        is_pub = bool(m.group(1)) and "(" not in (m.group(1) or "")
        for path, alias in expand(re.sub(r"\s+", "", re.sub(r"\s+as\s+", "@as@", m.group(3)))):
            yield path, alias, is_pub


def expand(tree, prefix=()):
    if "{" not in tree:
        path, _, alias = tree.partition("@as@")
        yield prefix + tuple(p for p in path.split("::") if p), alias or None
        return
    i = tree.index("{")
    head = tuple(p for p in tree[:i].split("::") if p)
    inner = tree[i + 1 : tree.rindex("}")]
    depth, start = 0, 0
    for j, c in enumerate(inner + ","):
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif c == "," and depth == 0:
            part = inner[start:j]
            start = j + 1
            if part:
                yield from expand(part, prefix + head)


def absolute(mod, path, mods=()):
    """The path from the crate root, or None for an external crate."""
    path = list(path)
    if not path:
        return None
    if tuple(mod) + (path[0],) in mods:
        return tuple(mod) + tuple(path)
    if path[0] == "crate":
        return tuple(path[1:])
    if path[0] in ("super", "self"):
        base = list(mod)
        while path and path[0] in ("super", "self"):
            if path.pop(0) == "super":
                base = base[:-1]
        return tuple(base + path)
    return None


class Crate:
    def __init__(self, src):
        self.mods = modules(src)
        self.text = {m: strip(open(p, encoding="utf-8").read()) for m, p in self.mods.items()}
        # module -> {name: absolute path} for `pub use` re-exports
        self.reexports = {}
        self.globs = {}
        for m, t in self.text.items():
            names, globs = {}, []
            for path, _, is_pub in use_trees(t):
                if not is_pub:
                    continue
                a = absolute(m, path, self.mods)
                if a is None:
                    continue
                if a[-1] == "*":
                    globs.append(a[:-1])
                elif a[-1] == "self":
                    names[a[-2]] = a[:-1]
                else:
                    names[a[-1]] = a
            self.reexports[m] = names
            self.globs[m] = globs

    def resolve(self, path, seen=None):
        """The module that defines what `path` names."""
        seen = seen or set()
        if path in seen:
            return None
        seen.add(path)
        if path and path[-1] == "self":
            path = path[:-1]
        for k in range(len(path), -1, -1):
            if path[:k] in self.mods:
                mod, rest = path[:k], path[k:]
                break
        else:
            return None
        if not rest:
            return mod
        name = rest[0]
        if name in self.reexports.get(mod, {}):
            target = self.reexports[mod][name]
            return self.resolve(target + rest[1:], seen) or mod
        for g in self.globs.get(mod, []):
            r = self.resolve(g + rest, seen)
            if r is not None and r != g:
                return r
        return mod

    def edges(self):
        out = {}
        for m, t in self.text.items():
            targets = set()
            imported_mods = {}
            for path, _, _ in use_trees(t):
                a = absolute(m, path, self.mods)
                if a is None:
                    continue
                if a[-1] == "*":
                    a = a[:-1]
                r = self.resolve(a)
                if r is None:
                    continue
                if a in self.mods or (a[-1:] == ("self",) and a[:-1] in self.mods):
                    mod = a if a in self.mods else a[:-1]
                    imported_mods[mod[-1]] = mod
                    continue
                targets.add(r)
            body = re.sub(r"\b(pub(\([^)]*\))?\s+)?use\s+[^;]+;", "", t)
            for p in re.finditer(rf"\b((?:crate|super|self)(?:::{IDENT})+)", body):
                a = absolute(m, p.group(1).split("::"), self.mods)
                r = self.resolve(a) if a else None
                if r is not None:
                    targets.add(r)
            for alias, mod in imported_mods.items():
                for p in re.finditer(rf"(?<![:\w]){alias}((?:::{IDENT})+)", body):
                    r = self.resolve(mod + tuple(p.group(1).split("::")[1:]))
                    targets.add(r if r is not None else mod)
            # A module is not "imported" by naming its own children or parents
            # through `pub mod`; keep only real names.
            targets.discard(m)
            targets.discard(None)
            out[m] = targets
        return out


def cycles(graph):
    index, low, stack, on, comps = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return comps


def name(m):
    return "::".join(m) or "crate"


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    src = args[0] if args else os.path.join(os.path.dirname(__file__), "..", "lambda", "src")
    crate = Crate(src)
    graph = crate.edges()
    if "--graph" in sys.argv:
        for m in sorted(graph):
            for t in sorted(graph[m]):
                print(f"{name(m)} -> {name(t)}")
    found = cycles(graph)
    for comp in found:
        print("cycle: " + ", ".join(name(m) for m in comp))
        members = set(comp)
        for m in comp:
            for t in sorted(graph[m] & members):
                print(f"  {name(m)} -> {name(t)}")
    if found:
        return 1
    edges = sum(len(t) for t in graph.values())
    print(f"no import cycle between the {len(graph)} modules of {os.path.normpath(src)} ({edges} edges)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
