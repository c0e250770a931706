#!/usr/bin/env bash
# What the message journal costs: the HTTP and SMPP benchmarks of one release build without
# the journal (`SMSGATE_JOURNAL__ENABLED=false`) and with it (the default), alternated by
# scripts/bench-compare.sh (ratio = journaled / plain).
#
#   scripts/bench-journal.sh RELEASE_DIR [ROUNDS] [SECONDS]
#
# RELEASE_DIR holds `smsgate` and `smsgate-bench`.
set -euo pipefail
REL=$(cd "${1:?release dir}" && pwd)
ROUNDS=${2:-3}
SECS=${3:-8}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/plain" "$WORK/journaled"
for d in plain journaled; do ln -s "$REL/smsgate-bench" "$WORK/$d/smsgate-bench"; done
ln -s "$REL/smsgate" "$WORK/journaled/smsgate"
cat >"$WORK/plain/smsgate" <<SH
#!/bin/sh
SMSGATE_JOURNAL__ENABLED=false exec "$REL/smsgate" "\$@"
SH
chmod +x "$WORK/plain/smsgate"
BENCH_ONLY="${BENCH_ONLY:-http smpp}" bash "$(dirname "$0")/bench-compare.sh" "$WORK/plain" "$WORK/journaled" "$ROUNDS" "$SECS"
