#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what is missing, then lint + tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/smsgate-target}"
export CARGO_TERM_COLOR=never

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install Rust (rustup) first" >&2
  exit 1
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
# python-smpplib: the third-party ESME of host/tests/smpp_thirdparty.rs
if ! python3 -c 'import smpplib' >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check smpplib \
    || echo "warning: could not install smpplib: the smpp_thirdparty test will fail" >&2
fi
echo "== cargo test"
cargo test --workspace 2>&1 | tee /tmp/smsgate-test.log
# Schema-based fuzzing of every HTTP API against a running gateway (installs schemathesis).
echo "== schemathesis"
bash scripts/schemathesis.sh 20
