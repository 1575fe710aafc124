#!/usr/bin/env python3
"""Functions longer than a limit (default 80 lines, `--max=N`), outside
`#[cfg(test)]` modules and `tests.rs` files, in the Rust files given
(default: every file under lambda/src).

A function's length is the lines from its `fn` to its closing brace.
Strings, raw strings, character literals and comments are skipped while
matching braces. Exits 1 when one is found.
"""

import os
import re
import sys


def blank(text):
    """The text with strings, chars and comments replaced by spaces
    (newlines kept, so line numbers stay)."""
    out, i, n = list(text), 0, len(text)

    def wipe(a, b):
        for k in range(a, min(b, n)):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            wipe(i, j)
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            wipe(i, j)
            i = j
        elif re.match(r'b?r(#*)"', text[i : i + 260]) and not re.match(r"\w", text[i - 1 : i] or " "):
            m = re.match(r'b?r(#*)"', text[i:])
            end = text.find('"' + m.group(1), i + m.end())
            j = n if end < 0 else end + 1 + len(m.group(1))
            wipe(i, j)
            i = j
        elif text[i] == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            wipe(i, j + 1)
            i = j + 1
        elif text[i] == "'" and re.match(r"'(\\[^']+|[^\\'])'", text[i:]):
            j = i + re.match(r"'(\\[^']+|[^\\'])'", text[i:]).end()
            wipe(i, j)
            i = j
        else:
            i += 1
    return "".join(out)


def functions(path):
    # A test module in its own file (`plan/tests.rs`).
    if os.path.basename(path) == "tests.rs":
        return
    text = blank(open(path, encoding="utf-8").read())
    tests = re.search(r"#\[cfg\(test\)\]\s*(pub(\([^)]*\))?\s+)?mod\s+\w+", text)
    limit = tests.start() if tests else len(text)
    for m in re.finditer(r"\bfn\s+(\w+)", text[:limit]):
        # The body: the first `{` after the signature, unless a `;` comes
        # first (a trait method without a body).
        j = m.end()
        while j < len(text) and text[j] not in "{;":
            j += 1
        if j >= len(text) or text[j] == ";":
            continue
        depth, k = 0, j
        while k < len(text):
            if text[k] == "{":
                depth += 1
            elif text[k] == "}":
                depth -= 1
                if depth == 0:
                    break
            k += 1
        first = text.count("\n", 0, m.start()) + 1
        last = text.count("\n", 0, k) + 1
        yield m.group(1), first, last - first + 1


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    limit = 80
    for a in sys.argv[1:]:
        if a.startswith("--max="):
            limit = int(a[6:])
    if not args:
        root = os.path.join(os.path.dirname(__file__), "..", "lambda", "src")
        args = [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if f.endswith(".rs")]
    found = 0
    for path in sorted(args):
        for name, line, length in functions(path):
            if length > limit:
                found += 1
                print(f"{os.path.normpath(path)}:{line}: fn {name} is {length} lines (over {limit})")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
