#!/usr/bin/env bash
# Lets an x86-64 Linux host run arm64 binaries and containers (the Lambda
# function is arm64): Debian's qemu-user-static registered with binfmt_misc
# under the "F" flag, so that containers find the emulator too. No-op on an
# arm64 host or where aarch64 is registered already (Docker Desktop does it).
set -euo pipefail

# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"
entry=/proc/sys/fs/binfmt_misc/qemu-aarch64

case "$(uname -m)" in aarch64 | arm64) exit 0 ;; esac
if [ -e "$entry" ] && grep -q '^enabled' "$entry"; then exit 0; fi
conf=/usr/lib/binfmt.d/qemu-aarch64.conf
if [ ! -f "$conf" ]; then
  command -v apt-get >/dev/null 2>&1 || {
    echo "arm64 emulation is not registered: install qemu-user-static and register it with binfmt_misc" >&2
    exit 1
  }
  echo "installing qemu-user-static (arm64 emulation)" >&2
  apt_install qemu-user-static
fi
[ -e /proc/sys/fs/binfmt_misc/register ] || as_root mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
[ -e "$entry" ] || as_root sh -c "cat '$conf' > /proc/sys/fs/binfmt_misc/register"
grep -q '^enabled' "$entry" || { echo "could not register arm64 emulation" >&2; exit 1; }
echo "arm64 emulation registered ($(grep '^interpreter' "$entry"))"
