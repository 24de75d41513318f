#!/usr/bin/env bash
# dtrace-ide set-up on a fresh Debian/Ubuntu machine, as root:
#   ./setup.sh serve [dtrace-ide serve options]   install everything, then start the IDE
#   ./setup.sh test  [pytest options]             install everything the tests need, then run them all
set -euo pipefail
cd "$(dirname "$0")"
what=${1:-serve}
shift || true

if [ "$(id -u)" != 0 ]; then
  echo "dtrace-ide traces the kernel and must run as root: sudo $0 $what $*" >&2
  exit 1
fi

say() { printf '\n== %s\n' "$*" >&2; }

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

packages=(bpftrace ca-certificates)
command -v python3 >/dev/null || packages+=(python3)
python3 -c 'import ensurepip, venv' 2>/dev/null || packages+=(python3-venv)
if [ "$what" = test ]; then
  packages+=(chromium fonts-dejavu-core rabbitmq-server)
  command -v npm >/dev/null || packages+=(nodejs npm)
fi
apt_install "${packages[@]}"

python3 - <<'PY' || { echo "dtrace-ide needs Python 3.11 or newer" >&2; exit 1; }
import sys
sys.exit(0 if sys.version_info >= (3, 11) else 1)
PY

# bpftrace finds tracepoints through tracefs, which fresh machines often leave unmounted.
mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing || true
mountpoint -q /sys/kernel/debug || mount -t debugfs nodev /sys/kernel/debug || true

if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  python3 -m venv .venv
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1

case "$what" in
  serve)
    say "installing dtrace-ide into .venv"
    .venv/bin/pip install -q .
    exec .venv/bin/dtrace-ide serve "$@"
    ;;
  test)
    say "installing dtrace-ide and its test tools into .venv"
    .venv/bin/pip install -q '.[test]'
    if [ -f editor/package-lock.json ]; then
      say "installing the editor's build tools (npm ci)"
      (cd editor && npm ci --no-audit --no-fund --loglevel=error)
    fi
    say "ruff"
    .venv/bin/ruff check .
    say "mypy --strict"
    .venv/bin/mypy
    say "pytest"
    exec .venv/bin/python -m pytest "$@"
    ;;
  *)
    echo "usage: $0 serve|test [options]" >&2
    exit 2
    ;;
esac
