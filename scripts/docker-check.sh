#!/usr/bin/env bash
# Runs what users run with containers, for real, and fails on the first path
# that breaks (CI runs it; `make docker-check`):
#   1. make up: both images from the Dockerfile, MySQL initialised from
#      db/schema.sql and db/seed.sql, both APIs healthy by the image's own
#      HEALTHCHECK, published on 127.0.0.1 only;
#   2. the RDS CA bundle is verified against its pinned checksum (a wrong pin
#      or none fails the build);
#   3. the quick start against the containers: the saga (201 CONFIRMED) with
#      the orchestrator running natively (make lambda), a customer, make invoke;
#   4. a one-line change in orders-api/src rebuilds the binaries, not the
#      dependencies (the cooked layer comes from the cache);
#   5. template.yaml's ECS task definitions run as containers (make ecs-local);
#   6. make down -v leaves no container and no volume;
#   7. sam local start-api answers the saga with a token (201) and without
#      one (401), serves the console (its page and hashed script), and sam
#      local invoke answers the saga (201), against make apis.
# Needs the engine and the base images: make docker-engine docker-bases (this
# script runs both; each is a no-op when there is nothing to do).
#   DOCKER_CHECK_REBUILD=0 skips step 4.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/common.sh
. scripts/lib/common.sh
root=$(pwd)
export SAM_CLI_TELEMETRY=0
started=$(date +%s)
step() { echo "=== docker-check: $1 ($(( $(date +%s) - started )) s)"; }
fail() { echo "docker-check FAILED: $*" >&2; exit 1; }
COMPOSE=$(docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)

# --build: only what the checks below build (the engine, the bases, both
# images as `make up` builds them, sam local's function),
# so that CI can build them while other stages run; the checks then find
# every layer and the function in the caches.
if [ "${1:-}" = --build ]; then
  step "engine and base images"
  scripts/docker-engine.sh
  scripts/docker-bases.sh
  step "both images, as make up builds them"
  scripts/dev-keys.sh >/dev/null
  $COMPOSE build
  step "sam local's function (SAM_LOCAL_ARCH, else this machine's architecture)"
  scripts/sam-local.sh build
  step "built"
  exit 0
fi

# The quick start reads .env (make setup creates it); a fresh clone has none.
# Then `make apis` (step 7) gets a database of its own, dropped at the end,
# so that repeated runs never drain the stock of a shared one.
created_env=false
check_db=""
if [ ! -f .env ]; then
  check_db="docker_check_$$"
  sed "s|^DATABASE_URL=.*|DATABASE_URL=mysql://root@127.0.0.1:3306/$check_db|" .env.example > .env
  created_env=true
fi
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -- "-$p" 2>/dev/null || kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  $COMPOSE down -v --remove-orphans >/dev/null 2>&1 || true
  git -C "$root" checkout -q -- orders-api/src/lib.rs 2>/dev/null || true
  $created_env && rm -f "$root/.env"
  [ -z "$check_db" ] || drop_database "$check_db"
  rm -rf "$work"
}
trap cleanup EXIT
# A background command in its own process group, so that cleanup stops its children too.
background() { local log=$1; shift; setsid "$@" >"$log" 2>&1 & pids+=($!); }
stop_background() { for p in "${pids[@]}"; do kill -- "-$p" 2>/dev/null || true; done; wait 2>/dev/null || true; pids=(); }
# free_port and wait_http
# shellcheck source=lib/apis.sh
. scripts/lib/apis.sh
wait_for() { wait_http "$@" || fail "$1 did not answer"; }
health() { docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$1"; }
container_of() { $COMPOSE ps -q "$1"; }

step "engine and base images"
scripts/docker-engine.sh
scripts/docker-bases.sh

step "make up (build both images, start MySQL and both APIs)"
t0=$(date +%s)
make -s up >"$work/up.log" 2>&1 || { tail -n 40 "$work/up.log" >&2; fail "make up"; }
echo "make up: $(( $(date +%s) - t0 )) s"
for svc in mysql customers-api orders-api; do
  for _ in $(seq 1 90); do [ "$(health "$(container_of $svc)")" = healthy ] && break; sleep 2; done
  [ "$(health "$(container_of $svc)")" = healthy ] || { $COMPOSE logs --tail 30 "$svc" >&2; fail "$svc is not healthy"; }
  echo "$svc: healthy"
done
for port in 3001 3002; do
  published=$(docker port "$(container_of "$([ $port = 3001 ] && echo customers-api || echo orders-api)")" "$port/tcp")
  [ "$published" = "127.0.0.1:$port" ] || fail "port $port is published on $published, not 127.0.0.1 only"
done
echo "ports: 127.0.0.1:3001 and 127.0.0.1:3002 only"
project=$(docker inspect -f '{{index .Config.Labels "com.docker.compose.project"}}' "$(container_of mysql)")
for svc in customers-api orders-api; do
  echo "image $svc:local: $(docker image inspect -f '{{.Size}}' "$svc:local" | awk '{printf "%.1f MB", $1/1e6}'), user $(docker image inspect -f '{{.Config.User}}' "$svc:local")"
done

step "the RDS CA bundle is checked against its pin (a local file stands in for AWS's URL)"
mkdir "$work/rds"
openssl req -x509 -newkey rsa:2048 -nodes -keyout /dev/null -subj /CN=stand-in-rds-ca -days 1 \
  -out "$work/rds/bundle.pem" 2>/dev/null
pin=$(sha256sum "$work/rds/bundle.pem" | awk '{print $1}')
rport=$(free_port)
background "$work/http.log" python3 -m http.server --bind 127.0.0.1 --directory "$work/rds" "$rport"
wait_for "http://127.0.0.1:$rport/bundle.pem" 20 "$work/http.log"
url="http://127.0.0.1:$rport/bundle.pem"
rds_build() { docker build -q --force-rm --network host --build-arg SERVICE=orders-api --build-arg PORT=3002 --build-arg "RDS_CA_URL=$url" "$@" . ; }
rds_build --build-arg RDS_CA_SHA256="$pin" -t order-back-office-rds-check >/dev/null 2>"$work/rds.log" \
  || { cat "$work/rds.log" >&2; fail "the image did not build with the right pin"; }
cid=$(docker create order-back-office-rds-check)
docker cp "$cid:/etc/ssl/certs/rds-global-bundle.pem" - | tar -xO | cmp - "$work/rds/bundle.pem" \
  || fail "the image does not carry the pinned bundle"
docker rm "$cid" >/dev/null; docker rmi order-back-office-rds-check >/dev/null
echo "right pin: the image carries the bundle at /etc/ssl/certs/rds-global-bundle.pem"
if rds_build --target certs --build-arg RDS_CA_SHA256="$(printf '0%.0s' $(seq 64))" >/dev/null 2>&1; then
  fail "a bundle that does not match the pin was accepted"
fi
echo "wrong pin: the build fails"
if rds_build --target certs >/dev/null 2>&1; then fail "a bundle without a pin was accepted"; fi
echo "no pin: the build fails"
stop_background

step "the quick start against the containers (make lambda, the README's curls, make invoke)"
background "$work/lambda.log" make -s lambda
wait_for http://127.0.0.1:3003/orchestrator/health 180 "$work/lambda.log"
TOKEN=$(make -s token)
saga=$(curl -s -w '\n%{http_code}' localhost:3003/orchestrator/create-and-confirm-order -H 'Content-Type: application/json' \
  -H "Authorization: Bearer $TOKEN" \
  -d '{"customer_id": 1, "items": [{"product_id": 2, "qty": 3}], "idempotency_key": "docker-check-'"$started"'", "correlation_id": "req-001"}')
echo "saga: $(tail -n 1 <<<"$saga") $(head -n 1 <<<"$saga" | cut -c1-140)"
[ "$(tail -n 1 <<<"$saga")" = 201 ] && grep -q '"status":"CONFIRMED"' <<<"$saga" || fail "the quick start's saga did not answer 201 CONFIRMED"
customer=$(curl -s -o /dev/null -w '%{http_code}' localhost:3001/customers/1 -H "Authorization: Bearer $TOKEN")
[ "$customer" = 200 ] || fail "GET /customers/1 answered $customer"
make -s invoke >"$work/invoke.log" 2>&1 || { cat "$work/invoke.log" >&2; fail "make invoke"; }
python3 - "$work/invoke.log" <<'PY' || fail "make invoke answered other statuses than expected"
import json, re, sys
text = open(sys.argv[1]).read()
want = {"health": 200, "create-and-confirm-order": 201, "unknown-customer": 404, "bad-body": 400}
for name, status in want.items():
    part = text.split(f"--- {name}\n", 1)[1].split("\n--- ", 1)[0]
    got = json.loads(part.strip().splitlines()[0])["statusCode"]
    print(f"make invoke {name}: {got}")
    assert got == status, f"{name}: {got}, expected {status}"
PY
stop_background

if [ "${DOCKER_CHECK_REBUILD:-1}" = 1 ] && [ "$COMPOSE" != docker-compose ]; then
  step "the rebuild after a one-line change: skipped (it reads the step log of docker-compose v1's classic builder)"
elif [ "${DOCKER_CHECK_REBUILD:-1}" = 1 ]; then
  step "a one-line change in orders-api/src rebuilds the binaries only"
  # A line of its own each run: the same line twice would come from the cache.
  echo "// docker-check: a one-line change, $(date +%s%N)" >> orders-api/src/lib.rs
  t0=$(date +%s)
  $COMPOSE build orders-api >"$work/rebuild.log" 2>&1 || { tail -n 30 "$work/rebuild.log" >&2; fail "rebuild"; }
  echo "rebuild after a one-line change: $(( $(date +%s) - t0 )) s"
  git checkout -q -- orders-api/src/lib.rs
  # The cook step must come from the cache; the build step must not.
  python3 - "$work/rebuild.log" <<'PY' || fail "a one-line change did not rebuild the binaries alone (see above)"
import re, sys
steps = re.split(r"\nStep \d+/\d+ : ", "\n" + open(sys.argv[1]).read())[1:]
cook = [s for s in steps if s.startswith("RUN cargo chef cook")]
build = [s for s in steps if s.startswith("RUN cargo build")]
assert cook and build, "cook or build step not found"
assert "Using cache" in cook[0], "cook step ran again"
assert "Using cache" not in build[0], "build step was not rerun"
print("cook: from the cache; build: rerun")
PY
  changed=$(docker image inspect -f '{{.Id}}' orders-api:local)
  $COMPOSE build orders-api >/dev/null 2>&1
  # The changed image and its layers would pile up run after run.
  docker rmi "$changed" >/dev/null 2>&1 || true
fi

step "template.yaml's ECS task definitions as containers"
python3 scripts/ecs-local.py

step "make down -v"
make -s down ARGS=-v >/dev/null 2>&1
left=$(docker ps -aq --filter "label=com.docker.compose.project=$project")
[ -z "$left" ] || fail "containers left after make down: $left"
vols=$(docker volume ls -q --filter "label=com.docker.compose.project=$project")
[ -z "$vols" ] || fail "volumes left after make down -v: $vols"
echo "no container and no volume left"

step "sam local start-api and sam local invoke (make apis on the host)"
scripts/setup-db.sh >/dev/null
background "$work/apis.log" make -s apis
wait_for http://127.0.0.1:3001/ready 180 "$work/apis.log"
wait_for http://127.0.0.1:3002/ready 60 "$work/apis.log"
background "$work/sam-local.log" make -s sam-local SAM_LOCAL_ARGS=--skip-pull-image
# It builds the function first (the first time: minutes); it is up once SAM
# prints its address, and has failed if it exits before.
for _ in $(seq 1 3600); do
  grep -q "Running on http" "$work/sam-local.log" && break
  kill -0 "${pids[-1]}" 2>/dev/null || break
  sleep 0.5
done
grep -q "Running on http" "$work/sam-local.log" || { tail -n 30 "$work/sam-local.log" >&2; fail "sam local start-api did not start"; }
TOKEN=$(make -s token)
body='{"customer_id": 1, "items": [{"product_id": 2, "qty": 1}], "idempotency_key": "sam-local-'"$started"'"}'
with=$(curl -s -m 120 -w '\n%{http_code}' localhost:3003/orchestrator/create-and-confirm-order \
  -H 'Content-Type: application/json' -H "Authorization: Bearer $TOKEN" -d "$body")
echo "sam local, with a token: $(tail -n 1 <<<"$with") $(head -n 1 <<<"$with" | cut -c1-140)"
[ "$(tail -n 1 <<<"$with")" = 201 ] && grep -q '"status":"CONFIRMED"' <<<"$with" \
  || { tail -n 30 "$work/sam-local.log" >&2; fail "sam local did not answer the saga with 201 CONFIRMED"; }
without=$(curl -s -m 120 -o /dev/null -w '%{http_code}' localhost:3003/orchestrator/create-and-confirm-order \
  -H 'Content-Type: application/json' -d "$body")
echo "sam local, without a token: $without"
[ "$without" = 401 ] || fail "sam local answered $without without a token"
# The console, through the template's open routes: the page names its
# hashed script relative to itself, and it is served for a year.
page=$(curl -s -m 120 -D "$work/console.headers" localhost:3003/console)
grep -qi '^content-security-policy: .*script-src .self.;' "$work/console.headers" || fail "sam local served /console without its CSP"
script=$(grep -o 'console/app\.[0-9a-f]*\.js' <<<"$page" | head -n 1)
[ -n "$script" ] || fail "the console page names no script"
curl -s -m 120 -o /dev/null -D "$work/script.headers" "localhost:3003/$script"
grep -qi '^cache-control: .*immutable' "$work/script.headers" || fail "sam local served $script without its long cache"
echo "sam local, the console: /console and /$script"
kill -- "-${pids[-1]}" 2>/dev/null || true; wait "${pids[-1]}" 2>/dev/null || true; unset 'pids[-1]'
make -s sam-invoke SAM_LOCAL_ARGS=--skip-pull-image >"$work/sam-invoke.log" 2>&1 || { tail -n 30 "$work/sam-invoke.log" >&2; fail "make sam-invoke"; }
python3 - "$work/sam-invoke.log" <<'PY' || { tail -n 30 "$work/sam-invoke.log" >&2; fail "make sam-invoke did not answer 201"; }
import json, sys
for line in open(sys.argv[1]):
    line = line.strip()
    if line.startswith("{") and '"statusCode"' in line:
        answer = json.loads(line)
        print(f"sam local invoke: {answer['statusCode']} {answer['body'][:120]}")
        assert answer["statusCode"] == 201 and '"CONFIRMED"' in answer["body"]
        break
else:
    raise SystemExit("no answer in sam local invoke's output")
PY
stop_background

step "done: every container path works"
