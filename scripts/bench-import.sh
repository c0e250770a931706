#!/usr/bin/env bash
# The import's speed on a large store: a Jasmin 0.11.1 (scripts/jasmin.sh's venv) pickles a
# store of USERS users (ten groups), ROUTES static MT routes each with a destination filter and
# a user filter, and their filters; `smsgate import-jasmin` then converts it (dry run) and
# writes it (--out). Prints wall time, items per second and peak RSS.
#   scripts/bench-import.sh [USERS] [ROUTES] [SMSGATE_BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
users="${1:-10000}"
routes="${2:-1000}"
bin="${3:-${CARGO_TARGET_DIR:-target}/release/smsgate}"
[ -x "$bin" ] || { echo "no smsgate binary at $bin (cargo build --release -p smsgate)" >&2; exit 2; }
venv="${SMSGATE_JASMIN_DIR:-$HOME/.cache/smsgate-jasmin}/v0111"
[ -x "$venv/bin/python" ] || bash scripts/jasmin.sh >&2
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$venv/bin/python" - "$work" "$users" "$routes" <<'PY'
import pickle, sys
from jasmin.routing.jasminApi import User, Group, MtMessagingCredential, SmppClientConnector
from jasmin.routing.Filters import DestinationAddrFilter, UserFilter
from jasmin.routing.Routes import StaticMTRoute, DefaultRoute
from jasmin.routing.RoutingTables import MTRoutingTable
from jasmin.protocols.cli.smppccm import JCliSMPPClientConfig
out, n_users, n_routes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
hdr = b"Persisted on Fri Dec  4 17:13:58 2026 [Jasmin 0.11.1]\n"
groups = [Group('g%d' % i) for i in range(10)]
users = []
for i in range(n_users):
    mt = MtMessagingCredential(default_authorizations=True)
    mt.setQuota('balance', 100.0 + i)
    users.append(User(uid='u%d' % i, group=groups[i % 10], username='user%d' % i,
                      password='pw%d' % i, mt_credential=mt))
filters, table, c = {}, MTRoutingTable(), SmppClientConnector('cc1')
table.add(DefaultRoute(c), 0)
for i in range(n_routes):
    f, u = DestinationAddrFilter(r'^33%04d\d+' % i), UserFilter(users[i % n_users])
    filters['d%d' % i], filters['u%d' % i] = f, u
    table.add(StaticMTRoute([f, u], c, 0.01 * i), i + 1)
def write(name, obj, proto=2):
    open('%s/big.%s' % (out, name), 'wb').write(hdr + pickle.dumps(obj, proto))
write('router-groups', groups)
write('router-users', users)
write('filters', filters, pickle.HIGHEST_PROTOCOL)
write('router-mtroutes', table)
write('smppccs', [{'id': 'cc1', 'config': JCliSMPPClientConfig(id='cc1'), 'service_status': 0}])
PY
size=$(du -sk "$work" | cut -f1)
items=$((users + 2 * routes + routes))
run() { # label args...
  local label="$1"; shift
  local t0 t1 rss
  t0=$(date +%s.%N)
  rss=$( { /usr/bin/time -f "%M" "$bin" import-jasmin "$work" --profile big "$@" >/dev/null; } 2>&1 | tail -1)
  t1=$(date +%s.%N)
  awk -v l="$label" -v a="$t0" -v b="$t1" -v n="$items" -v r="$rss" \
    'BEGIN { printf "%-8s %7.2f s  %9.0f items/s  peak RSS %6.1f MB\n", l, b - a, n / (b - a), r / 1024 }'
}
echo "store: $users users, $routes routes, $((2 * routes)) filters ($size kB of pickles)"
run "dry-run" --dry-run
run "write" --out "$work/out/smsgate.toml"
