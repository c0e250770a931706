#!/usr/bin/env bash
# The store-and-forward queue with a backlog: a normal HTTP run (the normal end-to-end rate),
# then `smsgate-bench backlog` (the SMSC down while MESSAGES are accepted over HTTP, then back):
# acceptance rate, disk bytes and RSS per message with the backlog, the drain rate and its
# ratio to the normal rate, and what was lost (the script fails if anything was).
#
#   scripts/bench-backlog.sh [MESSAGES] [NORMAL_SECONDS] [BENCH OPTIONS...]
#
# CI runs it with 100,000 messages (scripts/test.sh); 5,000,000 is the by-hand version.
# Cluster mode (queues on RabbitMQ, state on Redis; both runs):
#   scripts/bench-backlog.sh 5000000 8 --cluster amqp://guest:guest@127.0.0.1:5672/%2f
# Needs the release build (`cargo build --release -p smsgate -p smsgate-bench`; the directory
# is $SMSGATE_RELEASE_DIR, default $CARGO_TARGET_DIR/release).
set -euo pipefail
N=${1:-100000}
SECS=${2:-8}
shift $(( $# < 2 ? $# : 2 ))
EXTRA=("$@")
WINDOW=${WINDOW:-200}
DIR=${SMSGATE_RELEASE_DIR:-${CARGO_TARGET_DIR:-$HOME/.cache/smsgate-target}/release}
# Not passed on: the gateway reads every SMSGATE_* variable as configuration (and refuses this one).
unset SMSGATE_RELEASE_DIR
BENCH="$DIR/smsgate-bench"
[ -x "$BENCH" ] || { echo "$BENCH not found: cargo build --release -p smsgate -p smsgate-bench" >&2; exit 1; }
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
# run NAME ARGS...: one benchmark on ports the system hands out as free (nothing here assumes
# 1401, 2775 or 8990 are free), its JSON summary in $OUT/NAME. A port taken between being
# handed out and bound (another program's outgoing connection) is met with fresh ports, up to
# three times.
run() {
  local name=$1
  shift
  for attempt in 1 2 3; do
    read -r HP SP CP < <(python3 -c 'import socket
ss = [socket.socket() for _ in range(3)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in ss))')
    if "$BENCH" "${EXTRA[@]}" "$@" --connector-window "$WINDOW" --http-port "$HP" --smpp-port "$SP" \
        --sim-control-port "$CP" --work-dir "$OUT/$name-run" 2>"$OUT/$name.err" | tail -1 >"$OUT/$name"; then
      return 0
    fi
    grep -q "is not available" "$OUT/$name.err" || break
    echo "$name: a port was taken meanwhile (attempt $attempt), trying others" >&2
    rm -rf "$OUT/$name-run"
  done
  tail -5 "$OUT/$name.err" >&2
  exit 1
}
run normal --duration "$SECS"
run backlog backlog --messages "$N"
python3 - "$OUT/normal" "$OUT/backlog" <<'PY'
import json, sys
normal = json.load(open(sys.argv[1]))
b = json.load(open(sys.argv[2]))
e2e = normal["delivered_total"] / (normal["duration_s"] + normal["drain_s"])
rows = [
    ("messages accepted while the SMSC was down", f'{b["accepted"]:,} of {b["messages"]:,} ({b["errors"]} errors)'),
    ("acceptance rate", f'{b["accepted_per_s"]:,.0f} msg/s'),
    ("disk per message (data dir / database file)", f'{b["disk_bytes_per_msg"]:,.0f} / {b["db_file_bytes_per_msg"]:,.0f} bytes'),
    ("RSS with the backlog / peak", f'{b["rss_with_backlog_mb"]:.1f} / {b["peak_rss_mb"]:.1f} MB'),
    ("drain rate", f'{b["drain_per_s"]:,.0f} msg/s'),
    ("normal end-to-end rate (same window)", f'{e2e:,.0f} msg/s'),
    ("drain / normal", f'{b["drain_per_s"] / e2e:.2f}'),
    ("gateway CPU per message (accept + drain)", f'{b["gateway_cpu_us_per_msg"]:.1f} us'),
    ("lost", f'{b["lost"]}'),
]
rows.insert(0, ("store", b["store"]))
if b.get("broker_disk_bytes_per_msg") is not None:
    rows.insert(4, ("RabbitMQ's data directory per message", f'{b["broker_disk_bytes_per_msg"]:,.0f} bytes'))
for k, v in rows:
    print(f"{k:<46}{v}")
# The WAL is restarted past 64 MB (crates/queue/src/db.rs): it stays near that, whatever the
# backlog. The other files are the message journal (on by default: about 300 bytes per
# message, bounded by [journal] max_messages and retention_hours), allowed 400 per message.
wal_mb = (b["disk_bytes_per_msg"] - b["db_file_bytes_per_msg"]) * b["accepted"] / 1e6
print(f'{"WAL and other files":<46}{wal_mb:,.0f} MB')
if wal_mb > 100 + 400 * b["accepted"] / 1e6:
    print("the WAL grew past its bound", file=sys.stderr)
    sys.exit(1)
sys.exit(1 if b["lost"] or b["accepted"] != b["messages"] or not b["gateway_alive"] else 0)
PY
