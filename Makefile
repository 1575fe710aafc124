# schemagate — the README's two commands: `make demo` and `make test`.
# Everything the project needs is installed here, by package name.

SHELL := /bin/bash
VENV  := $(CURDIR)/.venv
export PATH := $(VENV)/bin:$(HOME)/.cargo/bin:$(PATH)
export CARGO_TERM_COLOR ?= never

PY_PACKAGES := moto[server] cargo-lambda ziglang cfn-lint boto3 alembic SQLAlchemy PyMySQL psycopg2-binary

.PHONY: help setup services python-tools node-tools test test-rust test-cdk lint demo bench build clean

help:
	@echo "make demo   rehearse a whole deploy on this machine (no AWS account)"
	@echo "make test   all tests: Rust (real MariaDB/PostgreSQL, moto, Lambda emulator), lint, CDK"
	@echo "make bench  400-migration benchmark against the mariadb client"
	@echo "make build  the Lambda zip (cargo lambda build --release --arm64)"

# --- set-up ------------------------------------------------------------------
services:
	@bash scripts/services.sh

$(VENV)/.installed: Makefile
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q $(PY_PACKAGES)
	touch $@

python-tools: $(VENV)/.installed

cdk/node_modules/.installed: cdk/package-lock.json
	cd cdk && npm ci --no-audit --no-fund
	touch $@

node-tools: cdk/node_modules/.installed

setup: services python-tools

# --- the demo ----------------------------------------------------------------
# A deploy rehearsed on this machine: cdk synth of three releases, then the
# real Lambda (the synthesized package) under cargo lambda watch, moto and
# MariaDB, played through Create, Update, rollback, a failed release, a
# redeployed older build (Jenkins' rollback), Delete.
# Exits non-zero when anything differs from what is expected.
demo: setup node-tools
	cargo run -p schemagate-e2e --bin demo

# --- tests -------------------------------------------------------------------
# The Rust tests, then lint (formatting and clippy with -D warnings), then
# the CDK tests; any failure stops the run.
test: setup node-tools
	cargo nextest run --workspace --no-fail-fast
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory test-cdk

test-rust: setup node-tools
	cargo nextest run --workspace --no-fail-fast

test-cdk: node-tools python-tools
	cd cdk && npm test

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	python3 scripts/module-cycles.py
	python3 scripts/long-functions.py

# --- the Lambda package ------------------------------------------------------
# target/lambda/schemagate-lambda/bootstrap is what the CDK construct bundles
# (with the migrations folder) in a checkout, VERSION beside it the crate's
# version; the zip holds both, for deploys without CDK.
build: python-tools
	cargo lambda build --release --arm64 --bin schemagate-lambda
	sed -n 's/^version = "\(.*\)"$$/\1/p' lambda/Cargo.toml | head -1 > target/lambda/schemagate-lambda/VERSION
	cd target/lambda && rm -f schemagate-lambda.zip && \
	  python3 -c 'import sys, zipfile, pathlib; z = zipfile.ZipFile("schemagate-lambda.zip", "w", zipfile.ZIP_DEFLATED); i = zipfile.ZipInfo("bootstrap"); i.external_attr = 0o755 << 16; z.writestr(i, pathlib.Path("schemagate-lambda/bootstrap").read_bytes(), zipfile.ZIP_DEFLATED); [z.write(p, "migrations/" + p.name) for p in sorted(pathlib.Path("../../migrations").glob("*.sql"))]'
	@ls -l target/lambda/schemagate-lambda/bootstrap target/lambda/schemagate-lambda.zip

# --- benchmark (not part of `make test`) ---------------------------------------
bench: setup
	cargo build --release --bin schemagate
	bash scripts/bench.sh

clean:
	rm -rf target cdk/cdk.out $(VENV)
