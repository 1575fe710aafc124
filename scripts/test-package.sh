#!/usr/bin/env bash
# `make test-package`: the library packaged with a STAND-IN bootstrap (a
# shell script; the arm64 build takes 13 minutes and `make package` is the
# real thing), its wheel installed into a fresh virtualenv, and the Python
# example's tests (examples/python-app/tests) run there.
#
#   scripts/test-package.sh DEPS_VENV
#
# DEPS_VENV holds aws-cdk-lib, constructs and cdk-nag from PyPI (made once by
# the Makefile); the fresh virtualenv sees them through a .pth file, so the
# wheel's install resolves its dependencies offline, and only the wheel is new.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
deps_venv=$(cd "$1" && pwd)
out="$root/target/cdk-package-standin"
standin="$out/standin-lambda"
fresh="$root/target/python-example-fresh"

rm -rf "$standin"
mkdir -p "$standin"
printf '#!/bin/sh\necho "schemagate stand-in bootstrap (make test-package), not the arm64 build" >&2\nexit 1\n' >"$standin/bootstrap"
chmod 0755 "$standin/bootstrap"
sed -n 's/^version = "\(.*\)"$/\1/p' "$root/lambda/Cargo.toml" | head -1 >"$standin/VERSION"

bash "$root/scripts/package-cdk.sh" "$standin" "$out"

rm -rf "$fresh"
python3 -m venv "$fresh"
site() { "$1/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'; }
site "$deps_venv" >"$(site "$fresh")/schemagate-example-deps.pth"
"$fresh/bin/pip" install -q --no-index --find-links "$out/dist/python" schemagate-cdk
"$fresh/bin/pip" show schemagate-cdk | sed -n 's/^Version: /installed schemagate-cdk /p'

export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20
cd "$root/examples/python-app"
SCHEMAGATE_PACKAGE_OUT="$out" SCHEMAGATE_STANDIN_DIR="$standin" \
  "$fresh/bin/python" tests/test_package.py
