#!/usr/bin/env python3
"""Which pinned Python tools have a newer release on PyPI (make
tools-outdated). The deploy checks are only as good as their linters: a
cfn-lint left behind once stopped seeing SAM's resources at all. Exits 1
when a linter of the deploy checks (cfn-lint, checkov, aws-sam-cli,
aws-sam-translator) is behind; the others are listed for information.
Asks PyPI's JSON API; nothing is installed."""
import json
import re
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILES = ("requirements-dev.txt", "requirements-deploy.txt", "requirements-checkov.txt")
LINTERS = {"cfn-lint", "checkov", "aws-sam-cli", "aws-sam-translator"}


def pins() -> dict[str, str]:
    found = {}
    for name in FILES:
        for line in (ROOT / name).read_text().splitlines():
            m = re.match(r"^([A-Za-z0-9_.-]+)(?:\[[^]]*\])?==([^\s#]+)", line)
            if m:
                found[m.group(1).lower()] = m.group(2)
    return found


def installed_translator() -> str | None:
    """aws-sam-translator comes with SAM CLI, unpinned: the version .venv has."""
    for meta in (ROOT / ".venv").glob("lib/python*/site-packages/aws_sam_translator-*.dist-info"):
        return meta.name.split("-")[1].removesuffix(".dist")
    return None


def latest(package: str) -> str:
    with urllib.request.urlopen(f"https://pypi.org/pypi/{package}/json", timeout=20) as res:
        return json.load(res)["info"]["version"]


def main() -> int:
    current = pins()
    translator = installed_translator()
    if translator:
        current["aws-sam-translator"] = translator
    behind_linters = False
    for package, version in sorted(current.items()):
        newest = latest(package)
        mark = "" if newest == version else f"  <- {newest} is out"
        print(f"{package:22} {version:10}{mark}")
        behind_linters |= bool(mark) and package in LINTERS
    return 1 if behind_linters else 0


if __name__ == "__main__":
    sys.exit(main())
