#!/usr/bin/env python3
"""The docs say what the tree is:

1. CONTRIBUTING.md's layout: every path it names exists (`src/{a,b}.rs` and
   nested braces expanded, relative to the line's first column), and every
   top-level entry of the repository is on it.
2. CONTRIBUTING.md's command table: every `make <target>` it lists is a
   target of the Makefile, and every documented target (`## ...`) is listed.
3. Code the docs name (`kit_server::db::unique_key`, `contracts::headers`):
   in every Markdown file, each path through a crate of the workspace
   resolves to a module file and, when its last part is no module, to an
   item defined or re-exported there.
4. Files the docs name in backticks (`orders-api/src/commands.rs`,
   `scripts/deploy.py`) exist.
5. Figures: every sentence of README.md that states a ratio (×), a share
   (%) or a rate (sagas/s) links to the file it comes from.

`--root DIR` checks another tree (the tests use it). Exits 1 naming every
breach.
"""
import os
import re
import subprocess

import tree

CRATES = {
    "contracts": "contracts/src",
    "kit_identity": "kit/identity/src",
    "kit_runtime": "kit/runtime/src",
    "kit_server": "kit/server/src",
    "kit_client": "kit/client/src",
    "kit_testing": "kit/testing/src",
    "orders_api": "orders-api/src",
    "customers_api": "customers-api/src",
    "orchestrator_lambda": "orchestrator-lambda/src",
}
# Crates that no longer exist: naming one is always stale.
GONE = ("service_kit",)


def expand(pattern):
    """`a/{b,c/{d,e}}.rs` as every path it names (innermost braces first)."""
    m = re.search(r"\{([^{}]*)\}", pattern)
    if not m:
        return [pattern]
    return [p for alt in m.group(1).split(",")
            for p in expand(pattern[: m.start()] + alt + pattern[m.end():])]


def layout(root, text):
    problems = []
    block = re.search(r"\nLayout[^\n]*\n(?:[^\n]*\n)*?```\n(.*?)```", text, re.S)
    if not block:
        return ["CONTRIBUTING.md: no layout block"]
    listed, base = set(), None
    for line in block.group(1).splitlines():
        if not line.strip():
            continue
        if line.startswith(" "):
            rest = line.strip()
        else:
            first, _, rest = line.partition(" ")
            base = first
            if not os.path.exists(os.path.join(root, first)):
                problems.append(f"CONTRIBUTING.md layout: {first} does not exist")
            listed.add(first.split("/")[0])
        for token in re.findall(r"[\w.-]+/[\w./{},-]*|[\w-]+\.\w+\{?[\w,]*\}?", rest):
            token = token.rstrip(",.")
            if "/" not in token and "{" not in token or token.startswith("."):
                continue  # a word, or a path made on the machine (.venv/)
            # Relative to the line's path, unless it starts from the root.
            start = "" if token.startswith(base) else base
            for rel in expand(token):
                path = os.path.join(root, start, rel)
                if not os.path.exists(path):
                    problems.append(f"CONTRIBUTING.md layout: {start}{rel} does not exist")
    tracked = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True).stdout
    for top in sorted({p.split("/")[0] for p in tracked.splitlines()}):
        if top in (".gitignore", ".dockerignore"):
            continue
        if top not in listed and f"{top}/" not in listed:
            problems.append(f"CONTRIBUTING.md layout: {top} is not listed")
    return problems


def commands(root, text):
    problems = []
    with open(os.path.join(root, "Makefile")) as f:
        makefile = f.read()
    targets = set(re.findall(r"^([a-z][a-z0-9-]*):", makefile, re.M))
    documented = set(re.findall(r"^([a-z][a-z0-9-]*):[^\n]*##", makefile, re.M))
    table = text[text.index("| command | does |"):]
    table = table[: table.index("\n\n")]
    listed = set(re.findall(r"`make ([a-z][a-z0-9-]*)", table))
    for t in sorted(listed - targets):
        problems.append(f"CONTRIBUTING.md commands: make {t} is no target of the Makefile")
    for t in sorted(documented - listed - {"help", "ci"}):
        problems.append(f"CONTRIBUTING.md commands: make {t} is not listed")
    return problems


def defines(text, name):
    item = r"(?:fn|struct|enum|trait|const|static|type|mod|macro_rules!)"
    return bool(re.search(rf"\b{item}\s+{re.escape(name)}\b", text)
                or re.search(rf"\buse\s[^;]*\b{re.escape(name)}\b[^;]*;", text)
                or re.search(rf"\b{re.escape(name)}\s*=\s*\"", text))


def resolve(root, path):
    """None when `a::b::c` names something of the workspace, else why not."""
    parts = path.split("::")
    if parts[0] in GONE:
        return "no such crate"
    src = os.path.join(root, CRATES[parts[0]])
    module = os.path.join(src, "lib.rs")
    here = src
    for part in parts[1:]:
        candidates = [os.path.join(here, part + ".rs"), os.path.join(here, part, "mod.rs")]
        found = next((c for c in candidates if os.path.exists(c)), None)
        if found:
            module, here = found, os.path.join(here, part)
            continue
        with open(module) as f:
            text = f.read()
        # An item (or an inline module, `pub mod plans { ... }`): what
        # follows it is not checked.
        if not defines(text, part):
            return f"{part} is not in {os.path.relpath(module, root)}"
        return None
    return None


def in_markdown(root, pattern):
    """Each match of `pattern` in the Markdown files: (where, match)."""
    for path in tree.files(root, ".md"):
        with open(path) as fh:
            text = fh.read()
        for m in re.finditer(pattern, text):
            line = text.count("\n", 0, m.start()) + 1
            yield f"{os.path.relpath(path, root)}:{line}", m


def code_refs(root):
    names = "|".join(list(CRATES) + list(GONE))
    problems = []
    for where, m in in_markdown(root, rf"\b(?:{names})(?:::\w+)+"):
        why = resolve(root, m.group(0))
        if why:
            problems.append(f"{where}: {m.group(0)}: {why}")
    return problems


EXTENSIONS = r"(?:rs|py|sh|md|yaml|yml|json|toml|mjs|js|css|html|sql|txt)"


def file_refs(root):
    """Backticked paths with a directory and a known extension: a path from
    the root, or the end of one (`saga/failure.rs`)."""
    problems = []
    tracked = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True).stdout
    known = tracked.splitlines()
    for where, m in in_markdown(root, rf"`([\w.-]+(?:/[\w.-]+)+\.{EXTENSIONS})`"):
        rel = m.group(1)
        if "<" in rel or rel.startswith(("~", "/")):
            continue
        if not (os.path.exists(os.path.join(root, rel)) or any(t.endswith("/" + rel) for t in known)):
            problems.append(f"{where}: {rel} does not exist")
    return problems


def figures(root):
    problems = []
    with open(os.path.join(root, "README.md")) as f:
        text = f.read()
    # Code blocks and tables hold no claims of this kind.
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    prose = "\n".join(l for l in prose.splitlines() if not l.startswith("|"))
    for paragraph in re.split(r"\n\s*\n", prose):
        flat = " ".join(paragraph.split())
        for sentence in re.split(r"(?<=[.;])\s+(?=[A-Z(*])", flat):
            if re.search(r"\d(?:\.\d+)?\s*(?:×|%)|\d\s*sagas/s", sentence) and "](" not in sentence:
                problems.append(f"README.md: a figure without the file it comes from: {sentence[:90]}...")
    return problems


def check(root):
    with open(os.path.join(root, "CONTRIBUTING.md")) as f:
        contributing = f.read()
    return (layout(root, contributing) + commands(root, contributing) + code_refs(root)
            + file_refs(root) + figures(root))


if __name__ == "__main__":
    tree.run(check, "docs: the layout, the commands, the code they name and the figures' sources match the tree")
