#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what is missing, then lint + tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/smsgate-target}"
export CARGO_TERM_COLOR=never
# One build per run: incremental caches would only grow the shared target dir (tens of GB).
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install Rust (rustup) first" >&2
  exit 1
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
# python-smpplib: the third-party ESME of tests/smpp_thirdparty.rs
if ! python3 -c 'import smpplib' >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check smpplib \
    || echo "warning: could not install smpplib: the smpp_thirdparty test will fail" >&2
fi
# Cluster mode services (tests/cluster_*.rs): RabbitMQ, Redis, PostgreSQL, started when
# not running (idempotent). Tests that need Redis with AOF start their own redis-server.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") >/dev/null 2>&1; }
need_pkg() { command -v "$1" >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null 2>&1 || true; }; }
if ! port_open 6379; then
  need_pkg redis-server redis-server
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 >/dev/null || echo "warning: redis did not start" >&2
fi
need_pkg redis-server redis-server
if ! port_open 5672; then
  need_pkg rabbitmq-server rabbitmq-server
  rabbitmq-server -detached >/dev/null 2>&1 || true
  for _ in $(seq 1 60); do port_open 5672 && break; sleep 1; done
fi
rabbitmqctl await_startup >/dev/null 2>&1 || true
if ! port_open 5432; then
  need_pkg pg_ctlcluster postgresql
  (service postgresql start || pg_ctlcluster --skip-systemctl-redirect 15 main start) >/dev/null 2>&1 || true
  for _ in $(seq 1 30); do port_open 5432 && break; sleep 1; done
fi
if ! psql -h 127.0.0.1 -U postgres -d test -c 'select 1' >/dev/null 2>&1; then
  # trust for local TCP connections and a `test` database, as the tests expect
  hba=$(ls /etc/postgresql/*/main/pg_hba.conf 2>/dev/null | head -1)
  if [ -n "$hba" ] && ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
    sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
    (service postgresql reload || pg_ctlcluster --skip-systemctl-redirect 15 main reload) >/dev/null 2>&1 || true
  fi
  su postgres -c "createdb test" >/dev/null 2>&1 || true
fi
# libfaketime steps the wall clock of the gateway's process in tests/faults.rs (clock case).
[ -e /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 ] || [ -e /usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1 ] \
  || need_pkg faketime faketime
# The PostgreSQL restart case of tests/cluster_chaos.rs runs a server of its own (initdb).
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_pkg pg_ctlcluster postgresql
# Headless Chromium and its WebDriver for the web console's browser tests (tests/console.rs).
if ! command -v chromedriver >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1; then
  echo "== chromium (browser tests)"
  apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 \
    || echo "warning: could not install chromium: tests/console.rs will fail" >&2
fi
# The real Jasmin for tests/jasmin_diff.rs: 0.11.1 and 0.11.0 in cached venvs under
# ~/.cache/smsgate-jasmin, and a RabbitMQ vhost (idempotent; after RabbitMQ is up). A failed
# install is not fatal here: the jasmin_diff tests then fail and say why.
echo "== jasmin (differential tests)"
bash scripts/jasmin.sh || echo "warning: Jasmin install incomplete: tests/jasmin_diff.rs will fail" >&2
# Wasm plugins: the wasm32-wasip2 target, then the first-party plugins (tests/plugins.rs
# loads them; cargo's freshness check makes rebuilding free when nothing changed).
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
  rustup target add wasm32-wasip2
fi
echo "== plugins (wasm32-wasip2)"
CARGO_TARGET_DIR="$CARGO_TARGET_DIR/wasm-plugins" \
  cargo build --release --target wasm32-wasip2 --manifest-path plugins/Cargo.toml
CARGO_TARGET_DIR="$CARGO_TARGET_DIR/wasm-plugins" \
  cargo clippy --manifest-path plugins/Cargo.toml --all-targets -- -D warnings
CARGO_TARGET_DIR="$CARGO_TARGET_DIR/wasm-plugins" \
  cargo test --manifest-path plugins/Cargo.toml
# The Python runtime of Jasmin's scripts (componentize-py from PyPI, cached; the build is
# skipped when the component is newer than its sources), and its own tests on the host's
# Python (the runtime's logic against Jasmin's smpp.pdu types and coercions).
echo "== python runtime (plugins/python)"
bash plugins/python/build.sh
# wasmtime-py runs the built component in tests/test_component.py (skipped without it)
if ! python3 -c 'import wasmtime' >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check wasmtime \
    || echo "warning: could not install wasmtime-py: the component tests will be skipped" >&2
fi
python3 -m unittest discover -s plugins/python/tests 2>&1 | tail -3
echo "== cargo test"
cargo test --workspace 2>&1 | tee /tmp/smsgate-test.log
# The embedded-only build: no cluster clients in its dependency graph, and its own tests (the
# crates' unit tests and the end-to-end tests without the cluster modules).
echo "== embedded-only build (--no-default-features --features embedded)"
if cargo tree -p smsgate --no-default-features --features embedded -e normal --prefix none \
    | grep -qE '^(lapin|redis|tokio-postgres) v'; then
  echo "the embedded-only build depends on a cluster client" >&2
  exit 1
fi
cargo clippy -p smsgate --no-default-features --features embedded --all-targets -- -D warnings
cargo test -p smsgate --no-default-features --features embedded 2>&1 | tee /tmp/smsgate-test-embedded.log
# Coverage-guided fuzzing (cargo-fuzz, libFuzzer): every target for 30 s (docs/fuzzing.md
# says how to run them for hours); a crash or hang fails the run.
echo "== cargo fuzz (30 s per target)"
bash scripts/fuzz.sh 30
# Schema-based fuzzing of every HTTP API against a running gateway (installs schemathesis).
echo "== schemathesis"
bash scripts/schemathesis.sh 20
# The store-and-forward queue with a backlog of 100,000 messages: the SMSC down while they are
# accepted, then back; the script fails if one is lost (release build: the figures it prints
# are the benchmark's; 5,000,000 is the by-hand version).
echo "== backlog (100,000 messages, release build)"
cargo build --release -p smsgate -p smsgate-bench
bash scripts/bench-backlog.sh 100000 5
# Soak, short version: 3 minutes of HTTP, REST batches, SMPP, receipts and MO at once; fails
# on a lost message or callback, an error logged, or RSS / descriptors growing (an hour by
# hand: --minutes 60).
echo "== soak (3 minutes, release build)"
# With the Wasm filter and the Python interceptor on every MT (an hour by hand: flat, see
# docs/operations.md); the Python instances' memory is judged apart from the rest of the RSS.
python3 scripts/soak.py "$CARGO_TARGET_DIR/release/smsgate" --minutes 3 --rate 100 \
  --plugins "$CARGO_TARGET_DIR/wasm-plugins/wasm32-wasip2/release" \
  --python-runtime "$CARGO_TARGET_DIR/wasm-plugins/smsgate-python.wasm"
# The Debian package from that release binary: built, installed on this machine, its unit
# verified, its command run as the packaged user with the packaged config, then purged.
echo "== package (.deb)"
need_pkg dpkg-shlibdeps dpkg-dev
deb=$(bash scripts/package-deb.sh "$CARGO_TARGET_DIR/release/smsgate" "$CARGO_TARGET_DIR")
python3 scripts/test_package.py "$deb"
# The container image from the same binary (distroless, nothing pulled), run with podman:
# healthy through its own HEALTHCHECK, a message sent, data kept on its volume across containers.
echo "== container image"
need_pkg podman podman
need_pkg runc runc
tag=$(bash scripts/build-image.sh "$CARGO_TARGET_DIR/release/smsgate")
SMSGATE_BIN="$CARGO_TARGET_DIR/release/smsgate" python3 scripts/test_image.py "$tag"
# The compose, Prometheus, Grafana and Kubernetes files: the image they name, and the
# configuration each node would start with passes `smsgate check-config`.
python3 -c 'import yaml' 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check pyyaml
python3 scripts/check_deploy.py "$CARGO_TARGET_DIR/release/smsgate" "$tag"
