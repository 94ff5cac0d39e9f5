"""What the tree checks (`names_check.py`, `docs_check.py`) share: walking
the repository's files, and the command line that runs a check."""
import argparse
import os
import sys

SKIP = (".git", "target", "node_modules", ".venv", "results")


def files(root, suffix):
    """Every file under `root` ending with `suffix`, build and vendor
    folders left out."""
    for dirpath, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIP]
        for name in names:
            if name.endswith(suffix):
                yield os.path.join(dirpath, name)


def run(check, passed):
    """Runs `check(root)` (`--root DIR`, default the repository) and prints
    each problem it returns; exits 1 if any, else prints `passed`."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=os.path.join(os.path.dirname(__file__), ".."))
    problems = check(os.path.abspath(ap.parse_args().root))
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        sys.exit(1)
    print(passed)
    sys.exit(0)
