# The order back office. `make help` lists the targets.
SHELL := /bin/bash
CARGO ?= cargo
# The project's Python tools (make setup creates .venv/) come first.
export PATH := $(CURDIR)/.venv/bin:$(PATH)
# Where cargo puts release binaries (the bench runs them straight, not through
# `cargo run -p`, which would build the workspace again with other features).
RELEASE_BIN = $${CARGO_TARGET_DIR:-target}/release

.PHONY: help setup setup-deploy tools-outdated migration-compat db dev apis lambda console-test console-shots seed-aws invoke deny bootstrap-check destroy sam-local sam-invoke docker-engine docker-bases image-arm64-check ecs-local docker-check up down images deploy deploy-plan operator-aws token-aws url-aws deploy-check sam-build run-customers run-orders test bench bench-compare chaos fuzz lint fmt token schema openapi sqlx-prepare sqlx-check ci clean-test-dbs

help: ## This list
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

setup: ## First run: .env from .env.example, the dev issuer's keys (.dev-keys/), .venv/ with the Python tools, MariaDB, database created and seeded, one build
	@[ -f .env ] || { cp .env.example .env; echo "created .env from .env.example"; }
	@echo "the dev issuer's key pair (make token signs with it): $$(scripts/dev-keys.sh)"
	scripts/ensure-tools.sh
	scripts/setup-db.sh
	@echo "building the workspace (all binaries, once; later targets reuse it)"
	$(CARGO) build --workspace --bins

setup-deploy: ## Only what make deploy needs (Linux or macOS): .venv/ with SAM, cargo-lambda, zig and the linters, the arm64 Rust target; says what else to install (Rust, Docker, the AWS CLI)
	scripts/setup-deploy.sh

db: ## Create and seed the database of DATABASE_URL if it is empty
	scripts/setup-db.sh

dev: ## Run customers-api (:3001), orders-api (:3002) and the orchestrator (:3003); Ctrl-C stops all
	scripts/dev.sh

apis: ## Run the two APIs only (:3001, :3002), e.g. for make sam-local
	scripts/dev.sh --apis

lambda: ## Serve the orchestrator alone on :3003 (the APIs run elsewhere; reads .env)
	scripts/dev.sh --lambda

invoke: ## Send the sample API Gateway events, with a fresh dev token, to a running `make dev` or `make lambda`
	@token=$$(scripts/mint-token.sh) && tmp=$$(mktemp -d) && \
	for e in health create-and-confirm-order unknown-customer bad-body; do \
	  sed "s|\$${TOKEN}|$$token|" orchestrator-lambda/events/$$e.json > "$$tmp/$$e.json"; \
	  echo "--- $$e"; \
	  cargo lambda invoke --invoke-address 127.0.0.1 --invoke-port 3003 --data-file "$$tmp/$$e.json" \
	    || { echo "invoke failed: is 'make dev' (or 'make lambda') running?" >&2; rm -rf "$$tmp"; exit 1; }; \
	  echo; \
	done; rm -rf "$$tmp"

run-customers: ## Run customers-api on :3001 (reads .env)
	PORT=$${PORT:-3001} $(CARGO) run -p customers-api

run-orders: ## Run orders-api on :3002 (reads .env; needs customers-api)
	PORT=$${PORT:-3002} $(CARGO) run -p orders-api

test: ## Every test, then a short fuzz of both APIs (needs MySQL/MariaDB on 127.0.0.1:3306 and .venv/ from make setup)
	$(CARGO) build --workspace --bins
	$(CARGO) nextest run --workspace --no-fail-fast
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-20} FUZZ_RECORD=0 scripts/fuzz.sh

console-test: ## The console in Chromium (playwright-core, axe-core): the stack as processes on a fresh database, every scenario, desktop and phone (installs chromium and the npm packages when missing)
	$(CARGO) build --workspace --bins
	scripts/console-test.sh

console-shots: ## make console-test, writing each page's screenshot (1440 px and 360 px) to docs/console/
	$(CARGO) build --workspace --bins
	CONSOLE_SHOTS=$(CURDIR)/docs/console scripts/console-test.sh

bench: ## Saga benchmark on release builds (c = 1, 8, 32, 64; at 32 also a hot product and `cargo lambda watch`), DB ceiling, cold starts; targets as ratios: bench/results/<date>.{md,json,svg}
	$(CARGO) build --release --workspace --bins
	$(RELEASE_BIN)/bench $(ARGS)

bench-compare: ## This tree against BASE=<git ref> (default HEAD~1), built in a worktree, benchmarked base, head, head, base: ratios of the means in bench/results/<date>-vs-<base>.md
	scripts/bench-compare.sh $${BASE:-HEAD~1} $(ARGS)

chaos: ## 1000 sagas through a fault proxy, orders-api killed twice, customers-api slowed 3 s for 6 s; checks the invariants: bench/results/<date>-chaos.{md,json}
	$(CARGO) build --release --workspace --bins
	$(RELEASE_BIN)/chaos $(ARGS)

fuzz: ## schemathesis against both OpenAPI documents (FUZZ_EXAMPLES per operation, default 100): bench/results/<date>-fuzz.txt
	$(CARGO) build --workspace --bins
	FUZZ_RECORD=$${FUZZ_RECORD:-1} scripts/fuzz.sh

migration-compat: ## The previous release's services (built from the commit before the newest migration) serve a smoke flow on this tree's schema; once per new set of migrations
	$(CARGO) build --workspace --bins
	scripts/migration-compat.sh $(BASE)

deny: ## cargo deny check: advisories, bans, licenses, sources (offline; see deny.toml)
	scripts/deny.sh

lint: ## Formatting, clippy (warnings as errors), the structure (no circle between modules, no function over 60 lines), names from contracts only, docs that match the tree
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	python3 scripts/structure.py
	python3 scripts/names_check.py
	python3 scripts/docs_check.py

fmt: ## Format the code
	$(CARGO) fmt --all

token: ## Print a dev user token, signed by the dev issuer's key (.dev-keys/; JWT_ISSUER, JWT_AUDIENCE from .env), valid 1 h: an admin's, or SCOPE="orders:read ..." and/or ROLE=viewer,...; SUB=name for another caller
	@SCOPE="$(SCOPE)" ROLE="$(ROLE)" scripts/mint-token.sh $${SUB:-dev-user}

schema: ## Regenerate db/schema.sql from the services' migrations
	UPDATE_SCHEMA=1 $(CARGO) test -q -p kit-server --test schema

openapi: ## Rewrite each API's openapi.yaml from the code
	UPDATE_OPENAPI=1 $(CARGO) test -q -p customers-api --test api openapi
	UPDATE_OPENAPI=1 $(CARGO) test -q -p orders-api --test api openapi

sqlx-prepare: ## Regenerate .sqlx/ (compile-time query metadata) against MariaDB
	scripts/sqlx-prepare.sh

sqlx-check: ## Fail if .sqlx/ does not match the queries
	scripts/sqlx-prepare.sh --check

# The Compose plugin (`docker compose`) when there is one, else docker-compose v1.
COMPOSE = $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)

up: ## docker compose: MySQL 8 (schema + seed, on 127.0.0.1:3307) and both APIs (127.0.0.1:3001, :3002), built from the Dockerfile
	@scripts/dev-keys.sh >/dev/null
	$(COMPOSE) up --build -d

down: ## Stop the compose stack (add -v to drop the database: make down ARGS=-v)
	$(COMPOSE) down $(ARGS)

images: ## Build both API images and push them to ECR (AWS_ACCOUNT_ID, AWS_REGION, TAG)
	scripts/images.sh

deploy: ## Deploy to AWS, from an empty account on: preflight, sam build, pass 1, migrate task, pass 2 (CUSTOMERS_IMAGE, ORDERS_IMAGE; docs/deploy.md)
	python3 scripts/deploy.py $(ARGS)

deploy-plan: ## What make deploy would do in this account, changing nothing (roles, quotas, concurrency, parameters)
	python3 scripts/deploy.py --dry-run $(ARGS)

sam-local: ## sam local start-api on :3003: the function built for this machine's architecture, in SAM's container (needs Docker and make apis)
	scripts/sam-local.sh start-api $(SAM_LOCAL_ARGS)

sam-invoke: ## One saga through sam local invoke, with a fresh dev token (needs Docker and make apis)
	scripts/sam-local.sh invoke $(SAM_LOCAL_ARGS)

docker-engine: ## Start Debian's dockerd (iptables off) when no Docker engine answers; a no-op when one does
	scripts/docker-engine.sh

docker-bases: ## Offline machines only: local stand-ins for the base images, where a tag is missing (docs/testing.md)
	scripts/docker-bases.sh

image-arm64-check: ## orders-api's arm64 image (cross-compiled), run under qemu: migrate --seed, healthy, /health
	scripts/image-arch-check.sh

ecs-local: ## Run template.yaml's ECS task definitions as containers (images of make up): healthy, /ready, seed, an order
	python3 scripts/ecs-local.py

docker-check: ## What CI runs of the container paths: make up, the quick start, ECS tasks, sam local, sam invoke, make down
	scripts/docker-check.sh

operator-aws: ## Create an operator in the deployed stack's user pool: OPERATOR=name, ROLE=admin (or viewer,order-operator,...), password from OPERATOR_PASSWORD
	@ROLE="$${ROLE:-admin}" python3 scripts/deploy.py --add-operator "$${OPERATOR:?OPERATOR=<name> of the operator}"

token-aws: ## Sign OPERATOR in to the deployed stack's user pool (password from OPERATOR_PASSWORD) and print their access token (1 h)
	@python3 scripts/deploy.py --token "$${OPERATOR:?OPERATOR=<name> of the operator}"

url-aws: ## The deployed stack's create-and-confirm URL
	@python3 scripts/deploy.py --url

seed-aws: ## Load the sample data into the deployed database (the migrate task with --seed)
	python3 scripts/deploy.py --migrate-only --seed

destroy: ## Delete the deployed stack (DEPLOY_STAGE, default dev; asks first, DESTROY_YES=1 does not), then list what outlives it and how to remove each
	python3 scripts/deploy.py --destroy

tools-outdated: ## Which pinned Python tools PyPI has newer releases of (fails when a deploy linter is behind: cfn-lint, checkov, SAM)
	python3 scripts/tools-outdated.py

deploy-check: ## Offline checks of what deploys: cfn-lint, sam validate, checkov, the template contract test, the deploy script against moto, hadolint, compose
	scripts/deploy-check.sh

sam-build: ## deploy-check, then sam build: the arm64 bootstrap (cargo-lambda + zig)
	scripts/deploy-check.sh --build

bootstrap-check: ## The arm64 bootstrap of `make sam-build` serves a saga under qemu-aarch64; glibc <= Amazon Linux 2023's
	$(CARGO) build -q --workspace --bins
	scripts/bootstrap-check.sh

clean-test-dbs: ## Drop databases and users left behind by interrupted test runs
	mysql -h 127.0.0.1 -u root -N -e "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 't\_%' OR schema_name LIKE 'sqlx\_prepare\_%' OR schema_name LIKE 'fuzz\_%' OR schema_name LIKE 'bootstrap\_%' OR schema_name LIKE 'docker\_check\_%' OR schema_name LIKE 'arch\_check\_%'" \
	  | while read -r db; do mysql -h 127.0.0.1 -u root -e "DROP DATABASE \`$$db\`"; done
	mysql -h 127.0.0.1 -u root -N -e "SELECT user FROM mysql.user WHERE user LIKE 't\_cu\_%' OR user LIKE 't\_or\_%'" \
	  | while read -r u; do mysql -h 127.0.0.1 -u root -e "DROP USER '$$u'@'%'"; done

ci: ## What CI runs
	bash .ci/run
