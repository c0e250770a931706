#!/usr/bin/env bash
# Write tests/data/upgrade/<version>.db: an embedded database as this release leaves it with
# messages still queued (the SMSC down), for the upgrade test of later releases
# (tests/operations.rs, `a_database_written_by_an_earlier_release_opens_and_drains`):
#   scripts/make-upgrade-fixture.sh [BINARY]
# What it queues (user foo/bar, connector `sim`): 5 short messages with level-1 receipts asked,
# 2 long ones (2 parts each), 1 in UCS-2 (coding=8: content given as UTF-16BE octets, as Jasmin
# takes it). Run it once per release and commit the file.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:-${CARGO_TARGET_DIR:-$root/target}/release/smsgate}"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -1)
out="$root/tests/data/upgrade/$version.db"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
http=$(port); dead=$(port)
cat > "$work/smsgate.toml" <<TOML
data_dir = "$work/data"
log = "warn"
[http-api]
bind = "127.0.0.1"
port = $http
[smpp-server]
enabled = false
[rest-api]
enabled = false
[jcli]
enabled = false
[[groups]]
gid = "g1"
[[users]]
username = "foo"
password = "bar"
gid = "g1"
[[smppccs]]
cid = "sim"
host = "127.0.0.1"
port = $dead
[[mtroutes]]
type = "DefaultRoute"
order = 0
connector = "smppc(sim)"
TOML
"$bin" --config "$work/smsgate.toml" run &
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$http/ready" >/dev/null && break; sleep 0.1; done
send() { curl -sf "http://127.0.0.1:$http/send?username=foo&password=bar&$1" | grep -q '^Success'; }
for i in 1 2 3 4 5; do send "to=3361000000$i&content=short+$i&dlr=yes&dlr-level=1&dlr-url=http://127.0.0.1:9/dlr"; done
long=$(printf 'x%.0s' $(seq 1 200))
send "to=33620000001&content=$long"
send "to=33620000002&content=$long"
send "to=33630000001&coding=8&content=%04%3F%04%40%04%38%04%32%04%35%04%42"
rm -f "$out"
"$bin" --config "$work/smsgate.toml" backup --out "$out"
