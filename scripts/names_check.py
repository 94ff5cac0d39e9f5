#!/usr/bin/env python3
"""Names live in one place: the header names this project defines
(`contracts/src/headers.rs`) and the event kinds (`EventKind` in
`contracts/src/events.rs`) appear as string literals nowhere else in the
Rust code, tests included, nor in the bench. OpenAPI attributes
(`#[utoipa::path(...)]`), which take literals only, are the one exception;
each literal there must be a defined name.

`--root DIR` checks another tree (the tests use it). Exits 1 naming every
literal out of place.
"""
import os
import re

import tree

HEADERS = "contracts/src/headers.rs"
EVENTS = "contracts/src/events.rs"


def defined(root):
    """The defined header names and event kinds, as written in their files."""
    with open(os.path.join(root, HEADERS)) as f:
        headers = set(re.findall(r'pub const \w+: &str = "([^"]+)";', f.read()))
    with open(os.path.join(root, EVENTS)) as f:
        text = f.read()
    body = text[text.index("enum EventKind"):]
    kinds = set(re.findall(r'\w+ = "([a-z]+\.[a-z]+)",', body))
    return headers, kinds


def rust_files(root):
    yield from tree.files(root, ".rs")


def utoipa_spans(text):
    """(start, end) of every `#[utoipa::path(...)]` attribute."""
    spans = []
    for m in re.finditer(r"#\[utoipa::path\(", text):
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            i += 1
        spans.append((m.start(), i))
    return spans


def check(root):
    headers, kinds = defined(root)
    lower_headers = {h.lower() for h in headers}
    problems = []
    if not headers or not kinds:
        problems.append("no header names or event kinds found where they are defined")
    for path in rust_files(root):
        rel = os.path.relpath(path, root)
        if rel in (HEADERS, EVENTS):
            continue
        with open(path) as f:
            text = f.read()
        spans = utoipa_spans(text)
        for m in re.finditer(r'"([^"\\\n]{1,64})"', text):
            lit = m.group(1)
            inside = any(a <= m.start() < b for a, b in spans)
            line = text.count("\n", 0, m.start()) + 1
            if lit in kinds:
                problems.append(f"{rel}:{line}: event kind {lit!r} as a literal (contracts::EventKind)")
            elif lit.lower() in lower_headers and not inside:
                problems.append(f"{rel}:{line}: header name {lit!r} as a literal (contracts::headers)")
    return problems


if __name__ == "__main__":
    tree.run(check, "names: every header name and event kind is named from contracts")
