#!/usr/bin/env bash
# Installs the real Jasmin for tests/jasmin_diff.rs (idempotent, cached under
# $HOME/.cache/smsgate-jasmin): 0.11.1 (the version smsgate replaces) in v0111/, and 0.11.0 in
# v0110/ (0.11.1 never publishes the SMSC's answer, so receipts, MO and billing are compared with
# 0.11.0). Also creates the RabbitMQ vhost `jasmin-diff` Jasmin runs in. A failure is reported
# but not fatal here: the test group then fails loudly (it never skips).
set -uo pipefail
base="${SMSGATE_JASMIN_DIR:-$HOME/.cache/smsgate-jasmin}"
mkdir -p "$base"
py="${JASMIN_PYTHON:-}"
if [ -z "$py" ]; then
  for c in python3.11 python3; do
    if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' 2>/dev/null; then
      py="$c"; break
    fi
  done
fi
status=0
install() { # dir version
  local dir="$base/$1" version="$2"
  if [ -x "$dir/bin/jasmind.py" ] && "$dir/bin/pip" show jasmin 2>/dev/null | grep -qx "Version: $version"; then
    return 0
  fi
  if [ -z "$py" ]; then
    echo "jasmin.sh: no Python 3.11 found: jasmin $version not installed" >&2
    return 1
  fi
  echo "== jasmin $version -> $dir"
  rm -rf "$dir"
  "$py" -m venv "$dir" \
    && "$dir/bin/pip" install --quiet --disable-pip-version-check "jasmin==$version" \
    && [ -x "$dir/bin/jasmind.py" ] \
    || { echo "jasmin.sh: installing jasmin $version failed" >&2; return 1; }
}
install v0111 0.11.1 || status=1
install v0110 0.11.0 || status=1
if command -v rabbitmqctl >/dev/null 2>&1; then
  if ! rabbitmqctl -q list_vhosts 2>/dev/null | grep -qx jasmin-diff; then
    rabbitmqctl -q add_vhost jasmin-diff >/dev/null 2>&1 || { echo "jasmin.sh: add_vhost failed" >&2; status=1; }
  fi
  rabbitmqctl -q set_permissions -p jasmin-diff guest ".*" ".*" ".*" >/dev/null 2>&1 \
    || { echo "jasmin.sh: set_permissions failed" >&2; status=1; }
else
  echo "jasmin.sh: rabbitmqctl not found" >&2
  status=1
fi
exit $status
