#!/usr/bin/env bash
# Compares two builds of smsgate on the committed benchmarks, alternating their runs so that
# machine noise hits both alike, and prints the median of each figure and the ratio new/old.
#
#   scripts/bench-compare.sh OLD_DIR NEW_DIR [ROUNDS] [SECONDS]
#
# Each DIR is a release directory holding `smsgate`, `smsgate-bench` and `examples/`
# (`plugin_bench`, `cluster_bench`), e.g. a copy of `$CARGO_TARGET_DIR/release` made after
# `cargo build --release -p smsgate -p smsgate-bench && cargo build --release -p smsgate
# --examples`. Benchmarks: HTTP `/send` and SMPP `submit_sm` end to end (smsgate-bench), the
# plugin throughput (plugin_bench, PLUGIN_BENCH_ONLY=throughput) and the embedded and
# two-node cluster end to end (cluster_bench; needs the local RabbitMQ, Redis, PostgreSQL).
# BENCH_ONLY="http smpp plugins cluster" (any subset) runs some of them.
set -euo pipefail
OLD=${1:?old release dir}
NEW=${2:?new release dir}
ROUNDS=${3:-5}
SECS=${4:-8}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

# one NAME DIR: append "figure value" lines for build NAME to $OUT/NAME.
ONLY=" ${BENCH_ONLY:-http smpp plugins cluster} "
want() { [[ $ONLY == *" $1 "* ]]; }

one() {
  local name=$1 dir=$2 r
  if want http; then
  r=$("$dir/smsgate-bench" --smsgate "$dir/smsgate" --duration "$SECS" --concurrency 64 2>/dev/null)
  echo "http-accepted/s $(awk '/^accepted/ {gsub(/\(/,"",$3); print $3}' <<<"$r")" >>"$OUT/$name"
  echo "http-delivered-during/s $(awk '/^delivered-during/ {gsub(/\(/,"",$3); print $3}' <<<"$r")" >>"$OUT/$name"
  echo "http-cpu-us/msg $(awk '/^gateway-cpu/ {print $4}' <<<"$r")" >>"$OUT/$name"
  echo "http-peak-rss-MB $(awk '/^gateway-peak-rss/ {print $2}' <<<"$r")" >>"$OUT/$name"
  fi
  if want smpp; then
  r=$("$dir/smsgate-bench" smpp --smsgate "$dir/smsgate" --duration "$SECS" 2>/dev/null)
  echo "smpp-accepted/s $(awk '/^accepted/ {gsub(/\(/,"",$3); print $3}' <<<"$r")" >>"$OUT/$name"
  echo "smpp-delivered-during/s $(awk '/^delivered-during/ {gsub(/\(/,"",$3); print $3}' <<<"$r")" >>"$OUT/$name"
  echo "smpp-cpu-us/msg $(awk '/^gateway-cpu/ {print $4}' <<<"$r")" >>"$OUT/$name"
  echo "smpp-peak-rss-MB $(awk '/^gateway-peak-rss/ {print $2}' <<<"$r")" >>"$OUT/$name"
  fi
  if want plugins; then
  r=$(PLUGIN_BENCH_ONLY=throughput "$dir/examples/plugin_bench" "$SECS" 2>/dev/null)
  echo "plugins-with/s $(sed -n 's/^throughput: with plugins \([0-9]*\) msg\/s.*/\1/p' <<<"$r")" >>"$OUT/$name"
  fi
  if want cluster; then
  r=$("$dir/examples/cluster_bench" "$SECS" 64 2>/dev/null)
  echo "cluster-embedded-e2e/s $(awk '$1 == "embedded" {print $4}' <<<"$r")" >>"$OUT/$name"
  echo "cluster-2nodes-e2e/s $(awk '$1 == "cluster-2nodes" {print $4}' <<<"$r")" >>"$OUT/$name"
  fi
}

for i in $(seq 1 "$ROUNDS"); do
  # Alternate which build goes first.
  if (( i % 2 )); then one old "$OLD"; one new "$NEW"; else one new "$NEW"; one old "$OLD"; fi
  echo "round $i/$ROUNDS done" >&2
done

python3 - "$OUT/old" "$OUT/new" <<'EOF'
import sys, statistics
def read(p):
    d = {}
    for line in open(p):
        k, _, v = line.strip().partition(' ')
        try:
            d.setdefault(k, []).append(float(v))
        except ValueError:
            pass
    return d
old, new = read(sys.argv[1]), read(sys.argv[2])
print(f"{'figure':<26}{'old median':>12}{'new median':>12}{'new/old':>9}   runs (old | new)")
for k in old:
    if k not in new or not old[k] or not new[k]:
        continue
    o, n = statistics.median(old[k]), statistics.median(new[k])
    runs = ' '.join(f'{x:g}' for x in old[k]) + ' | ' + ' '.join(f'{x:g}' for x in new[k])
    print(f"{k:<26}{o:>12.1f}{n:>12.1f}{n / o:>9.3f}   {runs}")
EOF
