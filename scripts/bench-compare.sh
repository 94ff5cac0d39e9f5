#!/usr/bin/env bash
# Judges this tree against a base ref on the same machine, in one run:
#   scripts/bench-compare.sh <git ref> [bench options]
# The base is checked out in a separate worktree and built with its own
# target directory (kept in the build cache, so the next comparison is
# incremental); its `bench` and this tree's run with the same options in the
# order base, head, head, base, and `compare` prints the ratios of the means
# (sagas/s, p99, CPU per saga, the database ceiling). Writes
# bench/results/<date>-vs-<base commit>.md and keeps the four reports beside
# it (...-base-1.json, ...-head-1.json, ...-head-2.json, ...-base-2.json).
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

# Base, head, head, base: on a shared machine the run that goes first is
# measured faster (by about 10%); in this order that drift cancels out.
mkdir -p "$results"
dirty=$(git diff --quiet HEAD && echo "" || echo ", uncommitted changes")
name="$results/$date-vs-$(git rev-parse --short "$rev")"
bench_in "$worktree" "$base_target" "$scratch/base-1"
bench_in "$PWD" "$head_target" "$scratch/head-1"
bench_in "$PWD" "$head_target" "$scratch/head-2"
bench_in "$worktree" "$base_target" "$scratch/base-2"
for run in base-1 head-1 head-2 base-2; do
  cp "$scratch/$run/$date.json" "$name-$run.json"
done
"$head_target/release/compare" --base "$name-base-1.json" --base "$name-base-2.json" \
  --head "$name-head-1.json" --head "$name-head-2.json" \
  --base-name "$base" --head-name "HEAD$dirty" --out "$name.md"
echo "=== written: $name.md" >&2
