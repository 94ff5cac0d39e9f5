#!/usr/bin/env bash
# cargo deny check (advisories, bans, licenses, sources), offline.
# RustSec's advisory database comes from a git bundle when one is at hand
# ($ADVISORY_DB_BUNDLE, default /work/shared/rustsec-advisory-db.bundle),
# else from the network (cargo deny fetch). Without either it fails: an
# advisory check that checked nothing is not a pass.
set -euo pipefail
cd "$(dirname "$0")/.."
version=0.20.2
if ! cargo deny --version 2>/dev/null | grep -q "$version"; then
  echo "installing cargo-deny $version (a few minutes, once)" >&2
  cargo install --locked --quiet cargo-deny --version "$version"
fi
db_root="${CARGO_HOME:-$HOME/.cargo}/advisory-dbs"
# The folder cargo-deny 0.20 uses for the default advisory-db URL.
db="$db_root/advisory-db-3157b0e258782691"
bundle="${ADVISORY_DB_BUNDLE:-/work/shared/rustsec-advisory-db.bundle}"
if [ -f "$bundle" ]; then
  if [ -d "$db/.git" ]; then
    git -C "$db" fetch -q "$bundle" main && git -C "$db" reset -q --hard FETCH_HEAD
  else
    mkdir -p "$db_root"
    git -c init.defaultBranch=main clone -q -b main "$bundle" "$db"
  fi
elif [ ! -d "$db/.git" ]; then
  cargo deny fetch db
fi
echo "advisory database: $(git -C "$db" log -1 --format='%h of %cs')"
cargo fetch --locked --quiet
cargo deny --offline check
