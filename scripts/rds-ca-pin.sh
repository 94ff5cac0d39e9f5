#!/usr/bin/env bash
# Downloads Amazon RDS's CA bundle (the one the images carry for AWS), lists
# its certificates for review (subject, issuer, expiry) and prints the
# checksum to pin: RDS_CA_SHA256 for `make images`. Run it again when AWS
# publishes a new bundle (a build with the old pin then fails on purpose).
#   scripts/rds-ca-pin.sh [url]
set -euo pipefail
url="${1:-https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem}"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
curl -fsSL --proto '=https' -o "$tmp/bundle.pem" "$url"
awk -v dir="$tmp" '/-----BEGIN CERTIFICATE-----/ { n++ } n { print > (dir "/cert-" n ".pem") }' "$tmp/bundle.pem"
for c in "$tmp"/cert-*.pem; do
  openssl x509 -in "$c" -noout -subject -issuer -enddate | tr '\n' ' '; echo
done
echo "certificates: $(ls "$tmp"/cert-*.pem | wc -l)"
echo "RDS_CA_SHA256=$(sha256sum "$tmp/bundle.pem" | awk '{print $1}')"
