#!/usr/bin/env bash
# Runs every IronRoot check and test on a fresh Debian machine: formatting,
# clippy, the dependency guards, unit and end-to-end tests, and the quickstart.
# First it installs what the tests need (openssl, and pkilint in .venv).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=scripts/lib/tools.sh
source scripts/lib/tools.sh

ensure_build_tools
ensure_pkilint "$root"

step "checking formatting"
cargo fmt --all --check

step "running clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "checking that no aws-lc or OpenSSL crate is linked"
for banned in aws-lc-sys aws-lc-rs openssl-sys; do
  if cargo tree --workspace --locked -i "$banned" >/dev/null 2>&1; then
    die "$banned is in the dependency graph; every crate must use ring (see docs/architecture.md)"
  fi
done

step "building the binaries"
cargo build --workspace --bins --locked

step "running the tests"
cargo test --workspace --locked

step "running the quickstart"
quickstart_dir=$(mktemp -d)
trap 'rm -rf "$quickstart_dir"' EXIT
scripts/quickstart.sh "$quickstart_dir"
