#!/usr/bin/env bash
# Build the smsgate .deb from a release binary already built (it does not compile):
#   scripts/package-deb.sh [BINARY] [OUT_DIR]
# BINARY defaults to $CARGO_TARGET_DIR/release/smsgate (or target/release/smsgate), OUT_DIR to
# the current directory. Prints the path of the package it wrote.
#
# Layout: /usr/bin/smsgate, /etc/smsgate/smsgate.toml (a conffile), the systemd unit in
# /lib/systemd/system, docs in /usr/share/doc/smsgate; the maintainer scripts in
# packaging/deb make the `smsgate` system user, /var/lib/smsgate and a random jCli password.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:-${CARGO_TARGET_DIR:-$root/target}/release/smsgate}"
out="${2:-.}"
[ -x "$bin" ] || { echo "package-deb: no executable at $bin (build with cargo build --release)" >&2; exit 1; }
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -1)
arch=$(dpkg --print-architecture)
stage=$(mktemp -d)
trap 'rm -rf "$stage" "$stage.src"' EXIT

install -D -m 0755 "$bin" "$stage/usr/bin/smsgate"
strip --strip-debug "$stage/usr/bin/smsgate" 2>/dev/null || true
install -D -m 0640 "$root/packaging/smsgate.toml" "$stage/etc/smsgate/smsgate.toml"
install -D -m 0644 "$root/packaging/smsgate.service" "$stage/lib/systemd/system/smsgate.service"
install -D -m 0644 "$root/README.md" "$stage/usr/share/doc/smsgate/README.md"
for d in "$root"/docs/*.md; do install -m 0644 "$d" "$stage/usr/share/doc/smsgate/"; done
install -m 0644 "$root/examples/smsgate.toml" "$stage/usr/share/doc/smsgate/example.toml"
cat > "$stage/usr/share/doc/smsgate/copyright" <<COPY
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: smsgate
License: Apache-2.0
 On Debian systems the full text is in /usr/share/common-licenses/Apache-2.0.
COPY

mkdir -p "$stage/DEBIAN"
install -m 0755 "$root"/packaging/deb/postinst "$root"/packaging/deb/prerm "$root"/packaging/deb/postrm "$stage/DEBIAN/"
echo /etc/smsgate/smsgate.toml > "$stage/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
# dpkg-shlibdeps reads the shared libraries' package versions; it wants a debian/control.
mkdir -p "$stage.src/debian"
printf 'Source: smsgate\n\nPackage: smsgate\nArchitecture: any\n' > "$stage.src/debian/control"
depends=$(cd "$stage.src" && dpkg-shlibdeps -O -e"$stage/usr/bin/smsgate" 2>/dev/null | sed -n 's/^shlibs:Depends=//p' || true)
rm -rf "$stage.src"
[ -n "$depends" ] || depends="libc6 (>= 2.34)"
cat > "$stage/DEBIAN/control" <<CTRL
Package: smsgate
Version: $version
Architecture: $arch
Maintainer: smsgate developers <smsgate@localhost>
Installed-Size: $size
Depends: $depends, adduser
Section: net
Priority: optional
Homepage: https://github.com/smsgate/smsgate
Description: SMS gateway with Jasmin-compatible APIs, SMPP and durable queues
 smsgate speaks SMPP v3.4 to clients and upstream SMSCs, serves Jasmin's HTTP and REST
 APIs, jCli, smstools-http-api and retarus' jobs API, routes, bills and stores and forwards
 messages (embedded SQLite or RabbitMQ and Redis), and runs filters, routes and
 interceptors as sandboxed WebAssembly plugins or Jasmin's Python scripts.
CTRL
deb="$out/smsgate_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
