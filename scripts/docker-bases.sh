#!/usr/bin/env bash
# Local STAND-INS for the base images the project names, for a machine that
# cannot pull from a registry. For each tag that the Dockerfile, compose and
# SAM name, and only where that exact tag is missing locally, builds one from
# Debian packages (debootstrap) and labels it org.order-back-office.stand-in:
#   debian:bookworm-slim                       debootstrap --variant=minbase, trimmed like -slim
#   rust:<version>-slim-bookworm               the above + gcc + this machine's Rust toolchain
#   mysql:8.4                                  the above + Debian's MariaDB behind the official entrypoint contract
#   public.ecr.aws/lambda/provided:al2023-<arch> a Debian (not Amazon Linux) with the Lambda
#                                              image's layout, for `sam local` (this machine's
#                                              architecture, or SAM_LOCAL_ARCH's)
# They are not the upstream images (docs/testing.md says what they do not
# prove), are never pushed, and a machine with a registry never needs them.
#   scripts/docker-bases.sh            build the missing ones
#   scripts/docker-bases.sh --list     the tags, and whether each is here
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"

# The tags, read from the files that name them, so that a new base cannot be
# missed: every FROM of the Dockerfile that is not a stage, compose's images
# that it does not build, and the Lambda base `sam local` runs template.yaml's
# function on.
stages=$(sed -n 's/^FROM .* AS \([a-z0-9_-]*\).*/\1/ip' Dockerfile)
# A FROM ${NAME} takes the default of the global ARG NAME (what a build
# without --build-arg uses); flags such as --platform are skipped.
dockerfile_bases=$(awk '
  toupper($1) == "ARG" && !seen_from { split($2, kv, "="); args[kv[1]] = kv[2] }
  toupper($1) == "FROM" { seen_from = 1; i = 2; while ($i ~ /^--/) i++; base = $i
    if (base ~ /^\$\{[A-Za-z_]+\}$/) { name = substr(base, 3, length(base) - 3); base = args[name] }
    print base }' Dockerfile | grep -vxF "$stages" | sort -u)
compose_bases=$(python3 - <<'PY'
import yaml
doc = yaml.safe_load(open("docker-compose.yml"))
for svc in doc["services"].values():
    if "build" not in svc and "image" in svc:
        print(svc["image"])
PY
)
lambda_base=$(python3 - <<'PY'
import os
import platform
from samcli.yamlhelper import yaml_parse
t = yaml_parse(open("template.yaml").read())
glob = t.get("Globals", {}).get("Function", {})
# Only `sam local` runs the image: for this machine's architecture, unless
# SAM_LOCAL_ARCH asks for another (scripts/sam-local.sh). A deployment
# uploads a zip and needs no image.
host = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}[platform.machine()]
arch = os.environ.get("SAM_LOCAL_ARCH") or host
for r in t["Resources"].values():
    if r["Type"] != "AWS::Serverless::Function":
        continue
    runtime = r.get("Properties", {}).get("Runtime", glob.get("Runtime"))
    if runtime.startswith("provided."):
        print(f"public.ecr.aws/lambda/provided:{runtime.split('.', 1)[1]}-{arch}")
PY
)
# `ARM64_IMAGES=1 scripts/docker-bases.sh`: also the arm64 runtime base.
arm64_base=""; [ "${ARM64_IMAGES:-0}" = 1 ] && arm64_base=arm64v8/debian:bookworm-slim
tags=$(printf '%s\n' $dockerfile_bases $compose_bases $lambda_base $arm64_base | sort -u)

have() { docker image inspect "$1" >/dev/null 2>&1; }
if [ "${1:-}" = "--list" ]; then
  for t in $tags; do
    if have "$t"; then
      echo "$t: here$(docker image inspect -f '{{with index .Config.Labels "org.order-back-office.stand-in"}} (stand-in){{end}}' "$t")"
    else echo "$t: missing"; fi
  done
  exit 0
fi

work=$(mktemp -d)
trap 'as_root rm -rf "$work"' EXIT
ensure_debootstrap() {
  command -v debootstrap >/dev/null 2>&1 && return
  apt_install debootstrap
}

# A minbase Debian root file system, trimmed as the -slim images are: no
# documentation, manual pages or translations, now or in later installs.
rootfs() { # arch dir
  ensure_debootstrap
  echo "debootstrap bookworm ($1) from $mirror" >&2
  as_root debootstrap --arch="$1" --variant=minbase bookworm "$2" "$mirror" >"$work/debootstrap-$1.log" 2>&1 \
    || { tail -n 20 "$work/debootstrap-$1.log" >&2; exit 1; }
  as_root sh -c "cat > '$2/etc/dpkg/dpkg.cfg.d/docker-slim'" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
CFG
  as_root sh -c "cat > '$2/etc/apt/apt.conf.d/docker-clean'" <<'CFG'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
CFG
  as_root sh -c "printf 'deb %s bookworm main\ndeb %s bookworm-updates main\n' '$mirror' '$mirror' > '$2/etc/apt/sources.list'"
  as_root find "$2/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  as_root rm -rf "$2"/usr/share/man/* "$2"/usr/share/info/* "$2"/usr/share/locale/* \
    "$2"/var/lib/apt/lists/* "$2"/var/cache/apt/*.bin "$2"/var/cache/apt/archives/*.deb "$2"/var/log/*.log
}

# Imports a root file system under a tag, with the image config's
# architecture and labels set (docker import ignores --platform).
import_rootfs() { # dir tag arch [docker import --change...]
  local dir=$1 tag=$2 arch=$3; shift 3
  as_root tar -C "$dir" --numeric-owner -c . | docker import "$@" - "$tag.stand-in-tmp" >/dev/null
  docker save "$tag.stand-in-tmp" | python3 "$root/scripts/lib/relabel_image.py" "$arch" "$tag" \
    "org.order-back-office.stand-in=$tag built locally from Debian packages by scripts/docker-bases.sh; not the upstream image" \
    | docker load >/dev/null
  docker rmi "$tag.stand-in-tmp" >/dev/null
}

build_debian() {
  rootfs amd64 "$work/debian"
  import_rootfs "$work/debian" debian:bookworm-slim amd64 --change 'CMD ["bash"]'
}

build_debian_arm64() { # tag (arm64v8/debian:bookworm-slim, for ARCH=arm64 images)
  [ "$(uname -m)" != aarch64 ] && scripts/arm64-emulation.sh
  rootfs arm64 "$work/debian-arm64"
  import_rootfs "$work/debian-arm64" "$1" arm64 --change 'CMD ["bash"]'
}

build_rust() { # tag
  local version=${1#rust:}; version=${version%%-*}
  local have_version; have_version=$(rustc --version | awk '{print $2}')
  case "$have_version" in
    "$version" | "$version".*) ;;
    *) echo "$1 needs Rust $version; this machine's rustc is $have_version" >&2; exit 1 ;;
  esac
  local toolchain; toolchain=$(dirname "$(dirname "$(rustup which rustc)")")
  mkdir -p "$work/rust/ca-certificates"
  cp "$root/docker/stand-ins/rust.Dockerfile" "$work/rust/Dockerfile"
  find /usr/local/share/ca-certificates -maxdepth 1 -name '*.crt' -exec cp {} "$work/rust/ca-certificates/" \; 2>/dev/null || true
  # The toolchain without documentation or sources; its x86_64 and aarch64
  # standard libraries (the Dockerfile cross-compiles for ARCH=arm64).
  mkdir -p "$work/rust/toolchain"
  tar -C "$toolchain" -c --exclude='./share/doc' --exclude='./lib/rustlib/src' \
      --exclude='./lib/rustlib/*-musl' --exclude='./lib/rustlib/wasm*' . \
    | tar -C "$work/rust/toolchain" -x
  docker build -q --network host --build-arg "RUST_VERSION=$have_version" -t "$1" "$work/rust" >/dev/null
}

build_mysql() { # tag
  docker build -q --network host -f docker/stand-ins/mysql.Dockerfile -t "$1" docker/stand-ins >/dev/null
}

build_lambda() { # tag
  local arch=${1##*-}
  [ "$arch" = x86_64 ] && arch=amd64
  [ "$arch" = arm64 ] && [ "$(uname -m)" != aarch64 ] && scripts/arm64-emulation.sh
  as_root rm -rf "$work/lambda"
  rootfs "$arch" "$work/lambda"
  as_root mkdir -p "$work/lambda/var/task" "$work/lambda/var/runtime" "$work/lambda/opt"
  as_root sh -c "cat > '$work/lambda/lambda-entrypoint.sh'" <<'SH'
#!/bin/sh
# Stand-in of the Lambda base image's entry point: the handler is the
# custom runtime's bootstrap (sam local replaces this with its emulator).
exec /var/runtime/bootstrap "$@" 2>/dev/null || exec /var/task/bootstrap "$@"
SH
  as_root chmod 0755 "$work/lambda/lambda-entrypoint.sh"
  import_rootfs "$work/lambda" "$1" "$arch" \
    --change 'ENV LAMBDA_TASK_ROOT=/var/task' --change 'ENV LAMBDA_RUNTIME_DIR=/var/runtime' \
    --change 'WORKDIR /var/task' --change 'ENTRYPOINT ["/lambda-entrypoint.sh"]'
}

# debian:bookworm-slim first: the rust and mysql stand-ins are built on it.
for t in debian:bookworm-slim $tags; do
  if have "$t"; then continue; fi
  started=$(date +%s)
  case "$t" in
    debian:bookworm-slim) build_debian ;;
    arm64v8/debian:bookworm-slim) build_debian_arm64 "$t" ;;
    rust:*-slim-bookworm) build_rust "$t" ;;
    mysql:*) build_mysql "$t" ;;
    public.ecr.aws/lambda/provided:al2023-*) build_lambda "$t" ;;
    *) echo "no stand-in is known for $t: add one to scripts/docker-bases.sh" >&2; exit 1 ;;
  esac
  echo "built stand-in $t ($(( $(date +%s) - started )) s, $(docker image inspect -f '{{.Size}}' "$t" | awk '{printf "%.0f MB", $1/1e6}'))"
done
"$0" --list
