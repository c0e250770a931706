#!/usr/bin/env bash
# Builds smsgate's Python runtime component (one Wasm component, CPython inside, that runs
# Jasmin interceptor / EvalPyFilter scripts given at run time) with componentize-py.
#
#   plugins/python/build.sh [OUT]            build; skipped when OUT is newer than every input
#   plugins/python/build.sh --bindings DIR   write the world's Python bindings to DIR (tests)
#
# OUT defaults to ${CARGO_TARGET_DIR:-$HOME/.cache/smsgate-target}/wasm-plugins/smsgate-python.wasm.
# componentize-py comes from PyPI into a cached venv ($SMSGATE_COMPONENTIZE_PY_VENV, default
# $HOME/.cache/smsgate-componentize-py); its wheel carries CPython 3.14 for wasm32-wasi, so the
# build is offline after that first install.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
WIT="$ROOT/wit/python"
WORLD=runtime
APP=app
VERSION=0.25.1
VENV="${SMSGATE_COMPONENTIZE_PY_VENV:-$HOME/.cache/smsgate-componentize-py}"

# componentize-py: `$VENV/bin/componentize-py`, or (no venv module on this python3) a
# `pip install --target $VENV/site` run with PYTHONPATH.
cpy() {
  if [ -x "$VENV/bin/componentize-py" ]; then
    "$VENV/bin/componentize-py" "$@"
  else
    PYTHONPATH="$VENV/site${PYTHONPATH:+:$PYTHONPATH}" python3 -c \
      'import sys; from componentize_py import script; sys.argv[0] = "componentize-py"; sys.exit(script())' "$@"
  fi
}

ensure_tool() {
  if cpy --version 2>/dev/null | grep -qx "componentize-py $VERSION"; then
    return
  fi
  echo "build.sh: installing componentize-py $VERSION into $VENV" >&2
  rm -rf "$VENV"
  if python3 -m venv "$VENV" >/dev/null 2>&1 && [ -x "$VENV/bin/pip" ]; then
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "componentize-py==$VERSION"
  else
    rm -rf "$VENV"
    python3 -m pip install --quiet --disable-pip-version-check --target "$VENV/site" \
      "componentize-py==$VERSION"
  fi
  cpy --version | grep -qx "componentize-py $VERSION" || {
    echo "build.sh: componentize-py $VERSION did not install" >&2
    exit 1
  }
}

if [ "${1:-}" = "--bindings" ]; then
  DIR="${2:?usage: build.sh --bindings DIR}"
  ensure_tool
  rm -rf "$DIR"
  cpy -d "$WIT" -w "$WORLD" bindings "$DIR" >/dev/null
  exit 0
fi

OUT="${1:-${CARGO_TARGET_DIR:-$HOME/.cache/smsgate-target}/wasm-plugins/smsgate-python.wasm}"

inputs() {
  find "$WIT" -type f -name '*.wit'
  find "$HERE" -type f \( -name '*.py' -o -name 'build.sh' \) -not -path "$HERE/tests/*" \
    -not -path '*/__pycache__/*'
}

if [ -f "$OUT" ] && [ -z "$(inputs | while read -r f; do [ "$f" -nt "$OUT" ] && echo "$f"; done)" ]; then
  echo "build.sh: $OUT is up to date"
  exit 0
fi

ensure_tool
mkdir -p "$(dirname "$OUT")"
TMP="$OUT.tmp.$$"
trap 'rm -f "$TMP"' EXIT
START=$(date +%s%N)
# The app, the runtime and the shims (smpp.pdu, requests, jasmin.routing) are all the Python
# the component needs (only modules imported at build time end up in it).
(cd "$HERE" && unset VIRTUAL_ENV && PYTHONDONTWRITEBYTECODE=1 cpy -d "$WIT" -w "$WORLD" componentize "$APP" \
  -p "$HERE" -p "$HERE/shims" -o "$TMP")
mv -f "$TMP" "$OUT"
trap - EXIT
END=$(date +%s%N)
SIZE=$(stat -c %s "$OUT")
MS=$(( (END - START) / 1000000 ))
printf 'build.sh: built %s (%s bytes) in %d.%03d s\n' "$OUT" "$SIZE" $((MS / 1000)) $((MS % 1000))
