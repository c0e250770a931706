#!/usr/bin/env bash
# Schema-based fuzzing of the HTTP, REST and management APIs: starts the SMSC simulator and a gateway (debug
# build) on free ports with a throwaway data dir, runs schemathesis against the served
# /openapi.json for a bounded number of examples, and stops both.
# Usage: scripts/schemathesis.sh [max-examples]   (default 15; about a minute here)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/smsgate-target}"
EXAMPLES="${1:-15}"

if ! command -v st >/dev/null 2>&1 && ! python3 -c 'import schemathesis' >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check schemathesis
fi
ST=(st)
command -v st >/dev/null 2>&1 || ST=(python3 -m schemathesis.cli)

cargo build --quiet -p smsgate
BIN="$CARGO_TARGET_DIR/debug/smsgate"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SIM=$(free_port); HTTP=$(free_port); REST=$(free_port); ADMIN=$(free_port)
# The management API's token (an admin: every endpoint is fuzzed).
TOKEN=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
TOKEN_SHA=$(python3 -c "import hashlib,sys; print(hashlib.sha256(sys.argv[1].encode()).hexdigest())" "$TOKEN")
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

"$BIN" smsc-sim --port "$SIM" --pdu-log off --dlr-delay-ms 50 &
PIDS+=($!)
cat > "$WORK/smsgate.toml" <<TOML
data_dir = "$WORK/data"
log = "warn"
[http-api]
bind = "127.0.0.1"
port = $HTTP
[smpp-server]
enabled = false
[rest-api]
bind = "127.0.0.1"
port = $REST
retarus_max_requests_per_10s = 1000000
[journal]
enabled = true
[admin]
enabled = true
port = $ADMIN
[[admin.tokens]]
name = "fuzz"
sha256 = "$TOKEN_SHA"
role = "admin"
[[groups]]
gid = "g1"
[[users]]
username = "foo"
password = "bar"
gid = "g1"
mt_messaging_cred.authorization.http_bulk = true
[[smppccs]]
cid = "sim"
host = "127.0.0.1"
port = $SIM
[[mtroutes]]
type = "DefaultRoute"
order = 0
connector = "smppc(sim)"
TOML
"$BIN" --config "$WORK/smsgate.toml" &
PIDS+=($!)
for _ in $(seq 1 100); do
  python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$REST/ping', timeout=1)" \
    >/dev/null 2>&1 && break
  sleep 0.1
done

# schemathesis keeps its state in the working directory: use the throwaway one.
cd "$WORK"
COMMON=(--checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
  --max-examples "$EXAMPLES" --phases examples,coverage,fuzzing --seed 1 --workers 2
  --request-timeout 10 --suppress-health-check all)
# Jasmin's HTTP API (its own port; credentials as query parameters).
"${ST[@]}" run "http://127.0.0.1:$REST/openapi.json" --url "http://127.0.0.1:$HTTP" \
  --include-path-regex '^/(send|balance|rate)$' "${COMMON[@]}"
# The REST listener.
"${ST[@]}" run "http://127.0.0.1:$REST/openapi.json" \
  --url "http://127.0.0.1:$REST" --exclude-path-regex '^/(send|balance|rate)$' \
  --auth foo:bar \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --max-examples "$EXAMPLES" \
  --phases examples,coverage,fuzzing \
  --seed 1 \
  --workers 2 \
  --request-timeout 10 \
  --suppress-health-check all
# The management API, last (it may remove users, connectors and routes the others use).
"${ST[@]}" run "http://127.0.0.1:$ADMIN/api/v1/openapi.json" \
  --url "http://127.0.0.1:$ADMIN" -H "Authorization: Bearer $TOKEN" "${COMMON[@]}"
