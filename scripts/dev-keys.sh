#!/usr/bin/env bash
# The local issuer: an RSA key pair that signs development user tokens
# (make token) and its public key set (JWKS), the only thing the services
# are given to check them with.
#   scripts/dev-keys.sh          make them if they are missing, print the dir
#   scripts/dev-keys.sh --rotate a new key; the JWKS keeps the old one too
#                                (tokens it signed stay valid until they expire)
#   scripts/dev-keys.sh --retire drop every key but the current from the JWKS
#   scripts/dev-keys.sh --inline make them if missing, print the JWKS on one
#                                line (JWT_JWKS's value for a container)
# Kept in $DEV_KEYS_DIR (default .dev-keys/, gitignored): signing-key.pem
# (private, 0600), kid (its key id) and jwks.json (public). Needs openssl and
# python3 only.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${DEV_KEYS_DIR:-.dev-keys}"
mode="${1:-}"
case "$mode" in ""|--rotate|--retire|--inline) ;; *) echo "usage: $0 [--rotate|--retire|--inline]" >&2; exit 2;; esac
mkdir -p "$dir"
key="$dir/signing-key.pem"
if [ ! -s "$key" ] || [ "$mode" = --rotate ]; then
  (umask 077 && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$key.new" 2>/dev/null)
  mv "$key.new" "$key"
fi
openssl rsa -in "$key" -noout -text 2>/dev/null | grep -q 'publicExponent: 65537' \
  || { echo "$key: expected an RSA key with exponent 65537" >&2; exit 1; }
modulus=$(openssl rsa -in "$key" -noout -modulus | cut -d= -f2)
python3 - "$dir" "$modulus" "$mode" <<'PY'
import base64, hashlib, json, os, sys
folder, modulus, mode = sys.argv[1], bytes.fromhex(sys.argv[2]), sys.argv[3]
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
kid = hashlib.sha256(modulus).hexdigest()[:16]
jwk = {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": b64(modulus), "e": "AQAB"}
path = os.path.join(folder, "jwks.json")
keys = []
if mode != "--retire" and os.path.exists(path):
    with open(path) as f:
        keys = [k for k in json.load(f).get("keys", []) if k.get("kid") != kid]
with open(path + ".new", "w") as f:
    json.dump({"keys": [jwk] + keys[:7]}, f, indent=2)
    f.write("\n")
os.chmod(path + ".new", 0o644)  # public, and read by the containers' own user
os.replace(path + ".new", path)
with open(os.path.join(folder, "kid"), "w") as f:
    f.write(kid + "\n")
if mode == "--inline":
    with open(path) as f:
        print(json.dumps(json.load(f), separators=(",", ":")))
else:
    print(folder)
PY
