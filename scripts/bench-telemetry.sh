#!/usr/bin/env bash
# What message traces cost: the HTTP and SMPP benchmarks of one release build, without traces
# and with messages traced (`sample_ratio = RATIO`, 1 by default: every message) to a local
# OTLP/HTTP sink, alternated by scripts/bench-compare.sh (ratio = traced / untraced).
#
#   [RATIO=0.1] scripts/bench-telemetry.sh RELEASE_DIR [ROUNDS] [SECONDS]
#
# RELEASE_DIR holds `smsgate` and `smsgate-bench` (a build with the `otel` feature, the
# default). The sink answers every export 200 and prints how many requests and bytes it took.
set -euo pipefail
REL=$(cd "${1:?release dir}" && pwd)
ROUNDS=${2:-3}
SECS=${3:-8}
RATIO=${RATIO:-1}
WORK=$(mktemp -d)
cleanup() { [ -n "${SINK:-}" ] && kill "$SINK" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

cat >"$WORK/sink.py" <<'PY'
import http.server, signal, sys, threading
stats = {"requests": 0, "bytes": 0}
lock = threading.Lock()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        n = int(self.headers.get("content-length", 0))
        self.rfile.read(n)
        with lock:
            stats["requests"] += 1
            stats["bytes"] += n
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
try:
    s.serve_forever()
finally:
    print(f"sink: {stats['requests']} exports, {stats['bytes']} bytes", file=sys.stderr)
PY
python3 -u "$WORK/sink.py" >"$WORK/port" &
SINK=$!
for _ in $(seq 1 50); do [ -s "$WORK/port" ] && break; sleep 0.1; done
PORT=$(head -1 "$WORK/port")

mkdir -p "$WORK/plain" "$WORK/traced"
for d in plain traced; do ln -s "$REL/smsgate-bench" "$WORK/$d/smsgate-bench"; done
ln -s "$REL/smsgate" "$WORK/plain/smsgate"
cat >"$WORK/traced/smsgate" <<SH
#!/bin/sh
SMSGATE_TELEMETRY__OTLP_ENDPOINT=http://127.0.0.1:$PORT/v1/traces SMSGATE_TELEMETRY__SAMPLE_RATIO=$RATIO exec "$REL/smsgate" "\$@"
SH
chmod +x "$WORK/traced/smsgate"
BENCH_ONLY="${BENCH_ONLY:-http smpp}" bash "$(dirname "$0")/bench-compare.sh" "$WORK/plain" "$WORK/traced" "$ROUNDS" "$SECS"
kill -TERM "$SINK" 2>/dev/null || true
wait "$SINK" 2>/dev/null || true
SINK=
