#!/usr/bin/env bash
# Measures the issuer daemon's issuance rate: builds release binaries, sets up a
# rehearsal PKI in a temporary directory, starts the daemon on loopback, and
# runs ironroot-loadgen at concurrency 1, 8 and 32. Prints certificates per
# second, p50/p99 latency and the daemon's CPU time per certificate.
#
# Usage: scripts/bench.sh [REQUESTS_PER_LEVEL] [CONCURRENCY_LIST]
#   defaults: 2000 and 1,8,32
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib/tools.sh
source "$root/scripts/lib/tools.sh"

requests=${1:-2000}
concurrency=${2:-1,8,32}

ensure_build_tools
step "building release binaries"
(cd "$root" && cargo build --release --locked --quiet --bins)
bin="$root/target/release"

dir=$(mktemp -d -t ironroot-bench.XXXXXX)
daemon_pid=""
cleanup() {
  if [[ -n "$daemon_pid" ]] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -TERM "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT

step "setting up a rehearsal PKI in $dir"
mkdir -m 700 "$dir/offline"
(umask 077 && head -c 24 /dev/urandom | base64 >"$dir/offline/passphrase")
"$bin/ironroot-ceremony" init-root --out-dir "$dir/offline" --passphrase-file "$dir/offline/passphrase" >/dev/null
recipient=$("$bin/ironroot-issuer" init --data-dir "$dir/issuer" | tail -n 1)
"$bin/ironroot-ceremony" sign-intermediate --root-cert "$dir/offline/root.pem" \
  --root-key "$dir/offline/root.key.age" --passphrase-file "$dir/offline/passphrase" \
  --recipient "$recipient" --out "$dir/offline/bundle.age" >/dev/null
root_fingerprint=$(openssl x509 -in "$dir/offline/root.pem" -noout -fingerprint -sha256 | cut -d= -f2)
"$bin/ironroot-issuer" import --data-dir "$dir/issuer" --root-fingerprint "$root_fingerprint" \
  "$dir/offline/bundle.age" >/dev/null
"$bin/ironroot-issuer" admin-credential --data-dir "$dir/issuer" --name bench --out-dir "$dir/admin" >/dev/null

port=$(free_port)
"$bin/ironroot-issuer" serve --data-dir "$dir/issuer" --listen "127.0.0.1:$port" 2>"$dir/daemon.log" &
daemon_pid=$!
wait_for_port "$port" 30 || { cat "$dir/daemon.log" >&2; die "the daemon did not start"; }

step "running the load generator ($requests requests per level, concurrency $concurrency)"
"$bin/ironroot-loadgen" --server "https://127.0.0.1:$port" --root "$dir/offline/root.pem" \
  --admin-cert "$dir/admin/admin.pem" --admin-key "$dir/admin/admin.key" \
  --daemon-pid "$daemon_pid" --requests "$requests" --concurrency "$concurrency"

issued=$(python3 - "$dir/issuer/issuer.db" <<'PY'
import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("SELECT COUNT(*) FROM certificates WHERE kind = 'leaf'").fetchone()[0])
PY
)
step "the database holds $issued workload certificates"
