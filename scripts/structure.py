#!/usr/bin/env python3
"""Checks two rules of the workspace's structure, outside tests:

1. No crate has a circle in its module graph. A module uses another when
   its code names one of the other's items (`use crate::store::Tx`,
   `super::Tx`, `crate::idempotency::run(...)`); a module and its ancestors
   are one room (a parent re-exporting its children, a child naming its
   parent's items, are no circle).
2. No function is longer than 60 lines (tests and `#[cfg(test)]` modules
   aside), binaries included.

`--print` lists each crate's edges. Exits 1 naming every breach.
"""
import os
import re
import sys

from graphs import strongly_connected

CRATES = ["contracts", "kit/identity", "kit/runtime", "kit/client", "kit/server", "kit/testing", "customers-api", "orders-api", "orchestrator-lambda", "bench"]


def modules(src):
    """Module path (tuple) of every source file of the library."""
    found = {}
    for root, _, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(root, f), src)
            if rel.startswith("bin" + os.sep) or rel == "main.rs":
                continue
            parts = rel[:-3].split(os.sep)
            if parts[-1] in ("lib", "mod"):
                parts = parts[:-1]
            found[tuple(parts)] = os.path.join(root, f)
    return found


def strip(text):
    """`text` without comments, string literals and character literals."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            i = text.find("\n", i)
            i = n if i < 0 else i
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
        elif c == "r" and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")) and re.match(r'r#*"', text[i:]):
            hashes = re.match(r'r(#*)"', text[i:]).group(1)
            end = text.find('"' + hashes, i + 2 + len(hashes))
            i = n if end < 0 else end + 1 + len(hashes)
            out.append('""')
        elif c == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            i += 1
            out.append('""')
        elif c == "'" and re.match(r"'(\\.[^']*|[^'\\])'", text[i:]):
            i += len(re.match(r"'(\\.[^']*|[^'\\])'", text[i:]).group(0))
            out.append("' '")
        else:
            out.append(c)
            i += 1
    return "".join(out)


def code_of(path):
    """The file's code: comments, literals and `#[cfg(test)]` modules dropped."""
    text = open(path, encoding="utf-8").read()
    cut = re.search(r"^#\[cfg\(test\)\]\s*\n\s*mod tests", text, re.M)
    if cut:
        text = text[: cut.start()]
    return strip(text)


def expand(prefix, body):
    """`a::{b, c::{d, e}}` → [a::b, a::c::d, a::c::e]."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(body + ","):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            item = body[start:i].strip()
            start = i + 1
            if not item:
                continue
            m = re.match(r"^([\w:]*?)::\{(.*)\}$", item, re.S)
            if m:
                out += expand(prefix + m.group(1).split("::"), m.group(2))
            else:
                out.append(prefix + item.split(" as ")[0].strip().split("::"))
    return out


def paths_in(code):
    paths = []
    for m in re.finditer(r"\buse\s+((?:crate|super|self)::[^;]*);", code):
        paths += expand([], m.group(1))
    for m in re.finditer(r"(?<![\w:])((?:crate|super)(?:::\w+)+)", code):
        paths.append(m.group(1).split("::"))
    return paths


def resolve(here, path, known):
    """The module `path` (seen in module `here`) names, if any."""
    parts = list(path)
    base = []
    if parts[0] == "crate":
        parts = parts[1:]
    elif parts[0] in ("super", "self"):
        base = list(here)
        while parts and parts[0] in ("super", "self"):
            if parts[0] == "super":
                base = base[:-1]
            parts = parts[1:]
    full = base + parts
    for n in range(len(full), 0, -1):
        if tuple(full[:n]) in known:
            return tuple(full[:n])
    return None


MAX_LINES = 60


def long_functions(path):
    """(name, first line, length) of each function of `path` over MAX_LINES."""
    text = open(path, encoding="utf-8").read()
    cut = re.search(r"^#\[cfg\(test\)\]\s*\n\s*mod tests", text, re.M)
    lines = strip(text[: cut.start()] if cut else text).split("\n")
    found, i = [], 0
    while i < len(lines):
        m = re.match(r"^\s*(pub(\([\w:]+\))?\s+)?(const\s+)?(async\s+)?fn\s+(\w+)", lines[i])
        if not m:
            i += 1
            continue
        depth, opened, j = 0, False, i
        while j < len(lines):
            depth += lines[j].count("{") - lines[j].count("}")
            opened = opened or "{" in lines[j]
            if (opened and depth <= 0) or (not opened and lines[j].rstrip().endswith(";")):
                break
            j += 1
        if opened and j - i + 1 > MAX_LINES:
            found.append((m.group(5), i + 1, j - i + 1))
        i = j + 1 if opened else i + 1
    return found


def all_sources(root):
    for crate in CRATES:
        for base, _, files in os.walk(os.path.join(root, crate, "src")):
            for f in files:
                if f.endswith(".rs"):
                    yield os.path.join(base, f)


def cycles(edges, nodes):
    return [sorted(c) for c in strongly_connected(edges, nodes) if len(c) > 1]


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    show = "--print" in sys.argv
    failed = False
    for crate in CRATES:
        known = modules(os.path.join(root, crate, "src"))
        edges = {}
        for here, path in known.items():
            for p in paths_in(code_of(path)):
                there = resolve(here, p, known)
                # A module and its own ancestors are one room.
                if there is None or there == here or here[: len(there)] == there and there == ():
                    continue
                if here[: len(there)] == there:
                    continue
                edges.setdefault(here, set()).add(there)
        name = lambda m: "::".join(m) or "crate"
        if show:
            for a in sorted(edges):
                print(f"{crate}: {name(a)} -> {', '.join(sorted(name(b) for b in edges[a]))}")
        for comp in cycles(edges, sorted(known)):
            failed = True
            print(f"{crate}: a circle among {', '.join(sorted(name(m) for m in comp))}", file=sys.stderr)
    for path in all_sources(root):
        for fn, line, length in long_functions(path):
            failed = True
            print(f"{os.path.relpath(path, root)}:{line}: fn {fn} is {length} lines (at most {MAX_LINES})", file=sys.stderr)
    if not failed:
        print(f"structure: no circle in the module graphs, no function over {MAX_LINES} lines")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
