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
# Wasm plugins: the wasm32-wasip2 target, then the first-party plugins (host/tests/plugins.rs
# loads them; cargo's freshness check makes rebuilding free when nothing changed).
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
  rustup target add wasm32-wasip2
fi
echo "== plugins (wasm32-wasip2)"
CARGO_TARGET_DIR="$CARGO_TARGET_DIR/wasm-plugins" \
  cargo build --release --target wasm32-wasip2 --manifest-path plugins/Cargo.toml
CARGO_TARGET_DIR="$CARGO_TARGET_DIR/wasm-plugins" \
  cargo clippy --manifest-path plugins/Cargo.toml --all-targets -- -D warnings
CARGO_TARGET_DIR="$CARGO_TARGET_DIR/wasm-plugins" \
  cargo test --manifest-path plugins/Cargo.toml
echo "== cargo test"
cargo test --workspace 2>&1 | tee /tmp/smsgate-test.log
