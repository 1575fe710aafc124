# schemagate — the README's two commands: `make demo` and `make test`.
# Everything the project needs is installed here, by package name.

SHELL := /bin/bash
VENV  := $(CURDIR)/.venv
export PATH := $(VENV)/bin:$(HOME)/.cargo/bin:$(PATH)
export CARGO_TERM_COLOR ?= never

PY_PACKAGES := moto[server] cargo-lambda ziglang cfn-lint boto3 alembic SQLAlchemy PyMySQL psycopg2-binary
# The Python example's CDK packages (versions: examples/python-app/requirements.txt),
# in their own virtualenv: the packaging test installs the wheel beside them.
PY_EXAMPLE_PACKAGES := aws-cdk-lib constructs cdk-nag
PY_EXAMPLE_VENV := $(CURDIR)/target/python-example-deps

.PHONY: help setup services python-tools node-tools bench-tools test test-rust test-cdk test-package lint demo bench build package clean

help:
	@echo "make demo   rehearse a whole deploy on this machine (no AWS account)"
	@echo "make test   all tests: Rust (real MariaDB/PostgreSQL, moto, Lambda emulator), lint, CDK"
	@echo "make bench  schemagate against sqlx-cli, dbmate, Alembic and the client (bench/results.md)"
	@echo "make build  the Lambda zip (cargo lambda build --release --arm64)"
	@echo "make package  the construct library: npm .tgz and Python wheel with the arm64 Lambda inside"

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

$(PY_EXAMPLE_VENV)/.installed: Makefile examples/python-app/requirements.txt
	rm -rf $(PY_EXAMPLE_VENV)
	python3 -m venv $(PY_EXAMPLE_VENV)
	$(PY_EXAMPLE_VENV)/bin/pip install -q --upgrade pip
	$(PY_EXAMPLE_VENV)/bin/pip install -q -c examples/python-app/requirements.txt $(PY_EXAMPLE_PACKAGES)
	touch $@

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
# the CDK tests, then the packaged library; any failure stops the run.
test: setup node-tools
	cargo nextest run --workspace --no-fail-fast
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory test-cdk
	$(MAKE) --no-print-directory test-package

test-rust: setup node-tools
	cargo nextest run --workspace --no-fail-fast

test-cdk: node-tools python-tools
	cd cdk && npm test

# jsii build + jsii-pacmak (npm and Python) with a STAND-IN bootstrap, the
# wheel in a fresh virtualenv, the Python example synthesized and compared
# with the TypeScript one (examples/python-app/tests).
test-package: node-tools $(PY_EXAMPLE_VENV)/.installed
	bash scripts/test-package.sh $(PY_EXAMPLE_VENV)

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	python3 scripts/module-cycles.py
	python3 scripts/long-functions.py

# --- the Lambda package ------------------------------------------------------
# target/lambda/schemagate-lambda/bootstrap is what the CDK construct bundles
# (with the migrations folder) in a checkout, VERSION beside it the crate's
# version; the zip holds both, for deploys without CDK. The `lambda`
# profile (Cargo.toml) is built for size; --no-default-features leaves out
# the CLI's SSO and credential_process providers (bench/lambda.md, #11).
build: python-tools
	cargo lambda build --profile lambda --arm64 -p schemagate --bin schemagate-lambda --no-default-features
	sed -n 's/^version = "\(.*\)"$$/\1/p' lambda/Cargo.toml | head -1 > target/lambda/schemagate-lambda/VERSION
	cd target/lambda && rm -f schemagate-lambda.zip && \
	  python3 -c 'import sys, zipfile, pathlib; z = zipfile.ZipFile("schemagate-lambda.zip", "w", zipfile.ZIP_DEFLATED); i = zipfile.ZipInfo("bootstrap"); i.external_attr = 0o755 << 16; z.writestr(i, pathlib.Path("schemagate-lambda/bootstrap").read_bytes(), zipfile.ZIP_DEFLATED); [z.write(p, "migrations/" + p.name) for p in sorted(pathlib.Path("../../migrations").glob("*.sql"))]'
	@ls -l target/lambda/schemagate-lambda/bootstrap target/lambda/schemagate-lambda.zip

# The construct library with the real Lambda: jsii + jsii-pacmak into
# target/cdk-package/dist (js/*.tgz, python/*.whl), the version the crate's.
package: build node-tools
	bash scripts/package-cdk.sh target/lambda/schemagate-lambda target/cdk-package

# --- benchmark (not part of `make test`) ---------------------------------------
# The peers, by package name, in .tools/ (gitignored): sqlx-cli from crates.io
# (compiles for several minutes), dbmate from npm; Alembic, PyMySQL and
# psycopg2 are in the venv. `RUNS=1 QUICK=1 make bench` for a short trial.
TOOLS          := $(CURDIR)/.tools
SQLX_VERSION   := 0.9.0
DBMATE_VERSION := 2.36.0

$(TOOLS)/bin/sqlx:
	cargo install sqlx-cli --version $(SQLX_VERSION) --locked --no-default-features \
	  --features mysql,postgres,rustls --root $(TOOLS)

$(TOOLS)/npm/.installed:
	mkdir -p $(TOOLS)/npm
	npm install --prefix $(TOOLS)/npm --no-audit --no-fund dbmate@$(DBMATE_VERSION)
	touch $@

bench-tools: $(TOOLS)/bin/sqlx $(TOOLS)/npm/.installed

bench: setup bench-tools
	cargo build --release --bin schemagate
	python3 scripts/bench.py

clean:
	rm -rf target cdk/cdk.out cdk/dist cdk/.jsii $(VENV) $(TOOLS)
