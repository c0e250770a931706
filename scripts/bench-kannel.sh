#!/usr/bin/env bash
# smsgate beside Kannel on this machine: the same SMSC simulator, the same load tool
# (smsgate-bench), runs alternated so that machine noise hits both alike; prints the median of
# each figure, the ratio smsgate/Kannel, smsgate's SMPP server as the front door, and the raw
# ESME -> simulator pipe with the same window (this setup's physical limit); then smsgate's
# HTTP API at offered loads of 50%, 100% and 200% of its maximum.
#
#   scripts/bench-kannel.sh [ROUNDS] [SECONDS]
#
# Needs the release build (`cargo build --release -p smsgate -p smsgate-bench`; the directory
# is $SMSGATE_RELEASE_DIR, default $CARGO_TARGET_DIR/release) and Kannel (Debian's `kannel`
# package, installed here when missing). Kannel's configuration is written by smsgate-bench
# (bench/src/peer.rs, README "Benchmark"): bearerbox + smsbox, one SMPP smsc with
# max-pending-submits = $WINDOW, store-type = file, log level warning, sendsms over HTTP.
# Every gateway gets the same window towards the SMSC: WINDOW (200) is smsgate's connector
# window, Kannel's max-pending-submits and the raw pipe's ESME window.
set -euo pipefail
ROUNDS=${1:-3}
SECS=${2:-10}
WINDOW=${WINDOW:-200}
DIR=${SMSGATE_RELEASE_DIR:-${CARGO_TARGET_DIR:-$HOME/.cache/smsgate-target}/release}
# Not passed on: the gateway reads every SMSGATE_* variable as configuration (and refuses this one).
unset SMSGATE_RELEASE_DIR
BENCH="$DIR/smsgate-bench"
[ -x "$BENCH" ] || { echo "$BENCH not found: cargo build --release -p smsgate -p smsgate-bench" >&2; exit 1; }
if ! [ -x /usr/sbin/bearerbox ]; then
  echo "installing Kannel (apt-get install kannel)" >&2
  apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kannel >/dev/null
fi
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

# run NAME ARGS...: one benchmark, its JSON summary (the last line) appended to $OUT/NAME.
run() {
  local name=$1
  shift
  "$BENCH" "$@" --duration "$SECS" --connector-window "$WINDOW" 2>"$OUT/$name.err" | tail -1 >>"$OUT/$name" \
    || { echo "$name failed:" >&2; tail -5 "$OUT/$name.err" >&2; exit 1; }
}

for i in $(seq 1 "$ROUNDS"); do
  if (( i % 2 )); then
    run smsgate-http --concurrency 64
    run kannel-http --peer kannel --concurrency 64
  else
    run kannel-http --peer kannel --concurrency 64
    run smsgate-http --concurrency 64
  fi
  run smsgate-smpp smpp
  run raw-smpp smpp --peer raw --window "$WINDOW"
  echo "round $i/$ROUNDS done" >&2
done

# Offered loads of 50%, 100% and 200% of smsgate's maximum (the median accepted rate above),
# paced (open loop: a request behind its slot is sent at once and timed from its slot).
MAX=$(python3 -c 'import json, statistics, sys; print(int(statistics.median(json.loads(l)["accepted_per_s"] for l in open(sys.argv[1]) if l.startswith("{"))))' "$OUT/smsgate-http")
for pct in 50 100 200; do
  run "load-$pct" --concurrency 64 --rate $(( MAX * pct / 100 ))
done
echo "offered loads done (maximum $MAX msg/s)" >&2

python3 - "$OUT" "$SECS" <<'EOF'
import json, os, statistics, sys
out = sys.argv[1]
runs = {n: [json.loads(l) for l in open(os.path.join(out, n)) if l.startswith('{')]
        for n in ('smsgate-http', 'kannel-http', 'smsgate-smpp', 'raw-smpp', 'load-50', 'load-100', 'load-200')
        if os.path.exists(os.path.join(out, n))}

def med(name, f):
    vals = [v for v in (f(r) for r in runs[name]) if v is not None]
    return statistics.median(vals) if vals else None

figures = [
    ('accepted msg/s', lambda r: r['accepted_per_s']),
    ('delivered during load msg/s', lambda r: r['delivered_during_per_s']),
    ('delivered during / accepted %', lambda r: 100.0 * r['delivered_during'] / r['accepted'] if r['accepted'] else None),
    ('end to end msg/s (delivered / (load + drain))', lambda r: r['delivered_total'] / (r['duration_s'] + r['drain_s'])),
    ('gateway CPU us per message', lambda r: r.get('gateway_cpu_us_per_msg')),
    ('gateway peak RSS MB', lambda r: r['peak_rss_mb']),
    ('gateway end RSS MB', lambda r: r['end_rss_mb']),
    ('  of it anonymous (heap, stacks, caches) MB', lambda r: r.get('end_rss_anon_mb')),
    ('  of it file-backed (code, read-only data) MB', lambda r: r.get('end_rss_file_mb')),
    ('latency p50 us', lambda r: r['p50_us']),
    ('latency p99 us', lambda r: r['p99_us']),
    ('simulator CPU s', lambda r: r['sim_cpu_s']),
    ('load generator CPU s', lambda r: r['bench_cpu_s']),
]
def fmt(v):
    return '-' if v is None else f'{v:,.1f}'
print(f"{'median of %d rounds, %s s loads' % (len(runs['smsgate-http']), sys.argv[2]):<46}"
      f"{'smsgate http':>14}{'kannel http':>14}{'smsgate/kannel':>16}{'smsgate smpp':>14}{'raw pipe':>12}")
for label, f in figures:
    s, k = med('smsgate-http', f), med('kannel-http', f)
    ratio = f'{s / k:.2f}' if s is not None and k else '-'
    print(f"{label:<46}{fmt(s):>14}{fmt(k):>14}{ratio:>16}{fmt(med('smsgate-smpp', f)):>14}{fmt(med('raw-smpp', f)):>12}")
print()
print(f"{'smsgate HTTP, offered load':<28}{'offered/s':>11}{'accepted/s':>12}{'delivered during / accepted':>29}{'refused':>9}{'p50 us':>9}{'p99 us':>9}")
for pct in (50, 100, 200):
    for r in runs.get(f'load-{pct}', []):
        during = 100.0 * r['delivered_during'] / r['accepted'] if r['accepted'] else 0.0
        print(f"{str(pct) + '% of the maximum':<28}{r['target_rate']:>11,.0f}{r['accepted_per_s']:>12,.0f}"
              f"{during:>28.1f}%{r['errors']:>9}{str(r['p50_us']):>9}{str(r['p99_us']):>9}")
print()
raw = med('raw-smpp', figures[3][1])
for name in ('smsgate-http', 'smsgate-smpp', 'kannel-http'):
    e2e = med(name, figures[3][1])
    if raw and e2e:
        print(f"{name} end to end as a fraction of the raw pipe: {e2e / raw:.3f}")
EOF
