#!/usr/bin/env bash
# Judges this tree against a base ref on the same machine, in one run:
#   scripts/bench-compare.sh <git ref> [bench options]
# The base is checked out in a separate worktree and built with its own
# target directory (kept in the build cache, so the next comparison is
# incremental); its `bench` and this tree's run one after the other with the
# same options, and `compare` prints the ratios (sagas/s, p99, CPU per saga,
# the database ceiling). Writes bench/results/<date>-vs-<base commit>.md and
# keeps both reports beside it (...-base.json, ...-head.json).
set -euo pipefail
cd "$(dirname "$0")/.."
base="${1:?usage: scripts/bench-compare.sh <git ref> [bench options]}"
shift
opts=("$@")
if [ ${#opts[@]} -eq 0 ]; then opts=(--levels 8,32 --seconds 8 --cold-starts 3); fi

rev=$(git rev-parse --verify --quiet "$base^{commit}") || { echo "no commit named $base" >&2; exit 2; }
cache="${BENCH_CACHE:-$HOME/.cache/order-back-office}"
worktree="$cache/bench-base"
base_target="$cache/target-bench-base"
head_target="${CARGO_TARGET_DIR:-$PWD/target}"
scratch=$(mktemp -d)
results="bench/results"
date=$(date -u +%F)

git worktree remove --force "$worktree" 2>/dev/null || rm -rf "$worktree"
git worktree prune
git worktree add --detach "$worktree" "$rev" >/dev/null
cleanup() { git worktree remove --force "$worktree" 2>/dev/null || true; rm -rf "$scratch"; }
trap cleanup EXIT

# dir, target dir, report dir
bench_in() {
  echo "=== $1: building (release) and benchmarking" >&2
  (cd "$1" && export CARGO_TARGET_DIR="$2" \
    && cargo build --release --workspace --bins \
    && "$2/release/bench" "${opts[@]}" --out "$3" --notes /dev/null >/dev/null)
}

mkdir -p "$scratch/base" "$scratch/head" "$results"
bench_in "$worktree" "$base_target" "$scratch/base"
dirty=$(git diff --quiet HEAD && echo "" || echo ", uncommitted changes")
bench_in "$PWD" "$head_target" "$scratch/head"
name="$results/$date-vs-$(git rev-parse --short "$rev")"
cp "$scratch/base/$date.json" "$name-base.json"
cp "$scratch/head/$date.json" "$name-head.json"
"$head_target/release/compare" "$name-base.json" "$name-head.json" \
  --base-name "$base" --head-name "HEAD$dirty" --out "$name.md"
echo "=== written: $name.md" >&2
