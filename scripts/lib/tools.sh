# Shared shell helpers for IronRoot's scripts: logging and installing the
# programs the quickstart and the tests need. Source this file; do not run it.

# Prints a progress line on stderr.
step() {
  printf '==> %s\n' "$*" >&2
}

# Prints an error on stderr and exits.
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# Installs Debian packages that are missing. Needs root (or sudo) and apt-get.
apt_install() {
  local missing=()
  local package
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  command -v apt-get >/dev/null || die "missing packages ${missing[*]} and no apt-get to install them; install them by hand"
  local sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  step "installing ${missing[*]} with apt-get"
  "${sudo[@]}" apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
}

# Makes sure cargo, a C compiler (ring and SQLite build C code) and openssl exist.
ensure_build_tools() {
  command -v cargo >/dev/null || die "cargo is not installed; install Rust with rustup (https://rustup.rs) and run this again"
  command -v cc >/dev/null || apt_install gcc libc6-dev
  command -v openssl >/dev/null || apt_install openssl
}

# Installs pkilint into the workspace's .venv (pinned so findings do not change
# under the tests), creating the venv if needed.
ensure_pkilint() {
  local root=$1
  local version=0.13.3
  local venv="$root/.venv"
  # Read pip's whole output first: `grep -q` would close the pipe early, and
  # pipefail would then report pip's SIGPIPE as a failure.
  local installed=""
  [[ -x "$venv/bin/pip" ]] && installed=$("$venv/bin/pip" show pkilint 2>/dev/null || true)
  if [[ -x "$venv/bin/lint_pkix_cert" ]] && grep -qx "Version: $version" <<<"$installed"; then
    return 0
  fi
  command -v python3 >/dev/null || apt_install python3 python3-venv
  python3 -m venv "$venv" 2>/dev/null || { apt_install python3-venv && python3 -m venv "$venv"; }
  step "installing pkilint $version into $venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "pkilint==$version"
}

# Returns a TCP port on 127.0.0.1 that was free a moment ago.
free_port() {
  python3 - <<'PY'
import socket
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
PY
}

# Waits until something accepts TCP connections on 127.0.0.1:$1, for at most $2 seconds.
wait_for_port() {
  local port=$1 seconds=$2 i
  for ((i = 0; i < seconds * 10; i++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  return 1
}
