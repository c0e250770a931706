#!/usr/bin/env bash
# What the message journal costs: the HTTP and SMPP benchmarks of one release build without
# the journal (`SMSGATE_JOURNAL__ENABLED=false`, the default) and with it (`=true`), alternated by
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
for d in plain:false journaled:true; do
  cat >"$WORK/${d%%:*}/smsgate" <<SH
#!/bin/sh
SMSGATE_JOURNAL__ENABLED=${d#*:} exec "$REL/smsgate" "\$@"
SH
  chmod +x "$WORK/${d%%:*}/smsgate"
done
BENCH_ONLY="${BENCH_ONLY:-http smpp}" bash "$(dirname "$0")/bench-compare.sh" "$WORK/plain" "$WORK/journaled" "$ROUNDS" "$SECS"
