#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS each (default 30): the SMPP PDU decoder, the HTTP
# API's query strings and bodies, the REST APIs' JSON bodies, jCli input (telnet included)
# and receipt texts. Installs cargo-fuzz when missing; builds on the stable toolchain
# (RUSTC_BOOTSTRAP lets it take the sanitizer flags). Fails on the first crash or hang,
# leaving the input in $CARGO_TARGET_DIR/fuzz-artifacts/<target>/. The corpus grows in
# $CARGO_TARGET_DIR/fuzz-corpus/<target>/ from one run to the next. See docs/fuzzing.md.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs="${1:-30}"
base="${CARGO_TARGET_DIR:-$HOME/.cache/smsgate-target}"
export CARGO_TARGET_DIR="$base/fuzz"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz
RUSTC_BOOTSTRAP=1 cargo fuzz build -O
bin="$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release"
for t in pdu_decode receipt http_api rest_json jcli; do
  corpus="$base/fuzz-corpus/$t"
  artifacts="$base/fuzz-artifacts/$t"
  mkdir -p "$corpus" "$artifacts"
  log="$base/fuzz-$t.log"
  if ! "$bin/$t" -max_total_time="$secs" -timeout=30 -rss_limit_mb=4096 \
      -artifact_prefix="$artifacts/" "$corpus" "seeds/$t" >"$log" 2>&1; then
    tail -40 "$log" >&2
    echo "fuzz target $t failed: input kept in $artifacts" >&2
    exit 1
  fi
  echo "$t: $(grep -o 'Done [0-9]* runs in [0-9]* second(s)' "$log" | tail -1), corpus $(ls "$corpus" | wc -l) inputs"
done
