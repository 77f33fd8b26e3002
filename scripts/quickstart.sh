#!/usr/bin/env bash
# Runs IronRoot's whole trust chain on this machine. A rehearsal root ceremony
# with throwaway passphrases seals an age bundle, an issuer daemon imports it and
# serves on loopback with TLS, and a workload enrolls. Then `openssl verify`
# checks the chain and a real TLS handshake uses the issued certificate.
#
# Usage: scripts/quickstart.sh [DIR]
#
# Leaves root.pem, intermediate.pem, leaf.pem, leaf.key and chain.pem in DIR (a
# new temporary directory when none is given), stops the daemon, and exits
# non-zero if any step fails.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib/tools.sh
source "$root/scripts/lib/tools.sh"

dir=${1:-$(mktemp -d -t ironroot-quickstart.XXXXXX)}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
for output in root.pem intermediate.pem leaf.pem leaf.key chain.pem offline issuer admin; do
  [[ ! -e "$dir/$output" ]] || die "$dir/$output already exists; give an empty or new directory"
done
chmod 700 "$dir"

ensure_build_tools
step "building IronRoot (a cold build takes several minutes)"
(cd "$root" && cargo build --workspace --bins --locked --quiet)
bin="$root/target/debug"

daemon_pid=""
server_pid=""
cleanup() {
  [[ -z "$server_pid" ]] || kill "$server_pid" 2>/dev/null || true
  if [[ -n "$daemon_pid" ]] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -TERM "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT

# 1. Offline: a rehearsal ceremony with a throwaway passphrase.
step "offline: creating the root CA (rehearsal passphrase)"
mkdir -m 700 "$dir/offline"
passphrase_file="$dir/offline/rehearsal-passphrase"
(umask 077 && head -c 24 /dev/urandom | base64 >"$passphrase_file")
"$bin/ironroot-ceremony" init-root --out-dir "$dir/offline" \
  --common-name "IronRoot Quickstart Root CA" --organization "IronRoot Quickstart" \
  --passphrase-file "$passphrase_file"
cp "$dir/offline/root.pem" "$dir/root.pem"

# 2. Online host: its age identity, whose recipient the ceremony encrypts to.
step "issuing host: creating the data directory and age identity"
recipient=$("$bin/ironroot-issuer" init --data-dir "$dir/issuer" | tail -n 1)

# 3. Offline: sign the intermediate into a bundle for that host.
step "offline: signing the intermediate CA into an age bundle"
"$bin/ironroot-ceremony" sign-intermediate \
  --root-cert "$dir/offline/root.pem" --root-key "$dir/offline/root.key.age" \
  --passphrase-file "$passphrase_file" --recipient "$recipient" \
  --common-name "IronRoot Quickstart Intermediate CA" \
  --out "$dir/offline/intermediate.bundle.age" --cert-out "$dir/intermediate.pem"

# 4. Online host: import the bundle, mint an operator credential, start the daemon.
step "issuing host: importing the bundle"
root_fingerprint=$(openssl x509 -in "$dir/root.pem" -noout -fingerprint -sha256 | cut -d= -f2)
"$bin/ironroot-issuer" import --data-dir "$dir/issuer" --root-fingerprint "$root_fingerprint" \
  "$dir/offline/intermediate.bundle.age"
"$bin/ironroot-issuer" admin-credential --data-dir "$dir/issuer" --name quickstart --out-dir "$dir/admin"

port=$(free_port)
server="https://127.0.0.1:$port"
step "issuing host: starting the daemon on $server"
"$bin/ironroot-issuer" serve --data-dir "$dir/issuer" --listen "127.0.0.1:$port" 2>"$dir/issuer/daemon.log" &
daemon_pid=$!
wait_for_port "$port" 30 || { cat "$dir/issuer/daemon.log" >&2; die "the daemon did not start listening on $server"; }

# 5. Operator: a single-use bootstrap token for the workload's names.
step "operator: creating a bootstrap token"
"$bin/ironroot-admin" --server "$server" --root "$dir/root.pem" \
  --cert "$dir/admin/admin.pem" --key "$dir/admin/admin.key" \
  token create --dns quickstart.internal --ip 127.0.0.1 --ttl 10m --out "$dir/admin/token"

# 6. Workload: enroll, trusting the server only after checking the root fingerprint.
fingerprint=$root_fingerprint
step "workload: enrolling (root fingerprint $fingerprint)"
"$bin/ironroot-client" enroll --server "$server" --root-fingerprint "$fingerprint" \
  --token-file "$dir/admin/token" --dns quickstart.internal --ip 127.0.0.1 \
  --cert "$dir/leaf.pem" --key "$dir/leaf.key" --chain "$dir/chain.pem"

# 7. Independent checks with OpenSSL.
step "checking the chain with openssl verify"
openssl verify -x509_strict -CAfile "$dir/root.pem" -untrusted "$dir/intermediate.pem" "$dir/leaf.pem"

step "checking a real TLS handshake that uses the issued certificate"
tls_port=$(free_port)
openssl s_server -quiet -accept "127.0.0.1:$tls_port" -cert "$dir/leaf.pem" -key "$dir/leaf.key" \
  -cert_chain "$dir/chain.pem" >/dev/null 2>&1 &
server_pid=$!
wait_for_port "$tls_port" 10 || die "openssl s_server did not start on port $tls_port"
handshake=$(openssl s_client -connect "127.0.0.1:$tls_port" -servername quickstart.internal \
  -verify_hostname quickstart.internal -CAfile "$dir/root.pem" -verify_return_error -brief </dev/null 2>&1) ||
  die "the TLS handshake failed: $handshake"
grep -q "Verification: OK" <<<"$handshake" || die "the TLS handshake did not verify: $handshake"
kill "$server_pid" 2>/dev/null || true
wait "$server_pid" 2>/dev/null || true
server_pid=""

step "stopping the daemon"
kill -TERM "$daemon_pid"
wait "$daemon_pid" || die "the daemon exited with an error; see $dir/issuer/daemon.log"
daemon_pid=""

cat <<SUMMARY

IronRoot quickstart finished. In $dir:
  root.pem          root CA certificate (fingerprint $fingerprint)
  intermediate.pem  intermediate CA certificate
  leaf.pem          workload certificate for quickstart.internal and 127.0.0.1
  leaf.key          the workload's private key (mode 0600, generated on this host)
  chain.pem         intermediate chain to serve after leaf.pem
  offline/          the rehearsal root key (age-encrypted) and the bundle
  issuer/           the daemon's data directory and daemon.log
  admin/            the operator's admin credential (admin.pem, admin.key) and the used token

The binaries are in $bin; add it to PATH to try the commands in docs/.
SUMMARY
