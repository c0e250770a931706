#!/usr/bin/env bash
# Build the smsgate container image from a release binary already built (no compilation):
#   scripts/build-image.sh [BINARY] [TAG]
# BINARY defaults to $CARGO_TARGET_DIR/release/smsgate, TAG to localhost/smsgate:<version>.
# The image is distroless: the binary, the shared libraries `ldd` names, CA certificates (for
# HTTPS callbacks), passwd/group entries for uid 10001 and deploy/container.toml. Nothing is
# pulled from a registry. Uses podman, else docker. Prints the tag.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:-${CARGO_TARGET_DIR:-$root/target}/release/smsgate}"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -1)
tag="${2:-localhost/smsgate:$version}"
[ -x "$bin" ] || { echo "build-image: no executable at $bin (build with cargo build --release)" >&2; exit 1; }
engine=$(command -v podman || command -v docker || true)
[ -n "$engine" ] || { echo "build-image: neither podman nor docker is installed" >&2; exit 1; }

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
fs="$ctx/rootfs"
install -D -m 0755 "$bin" "$fs/usr/bin/smsgate"
strip --strip-debug "$fs/usr/bin/smsgate" 2>/dev/null || true
# The dynamic loader and every library the binary links, at the paths ldd gives.
for lib in $(ldd "$bin" | grep -o '/[^ ]*' | sort -u); do
  install -D -m 0755 "$(readlink -f "$lib")" "$fs$lib"
done
install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$fs/etc/ssl/certs/ca-certificates.crt"
install -D -m 0644 "$root/deploy/container.toml" "$fs/etc/smsgate/smsgate.toml"
printf 'root:x:0:0:root:/root:/sbin/nologin\nsmsgate:x:10001:10001:smsgate:/var/lib/smsgate:/sbin/nologin\n' > "$fs/etc/passwd"
printf 'root:x:0:\nsmsgate:x:10001:\n' > "$fs/etc/group"
install -d -m 1777 "$fs/tmp"
mkdir -p "$ctx/data"
cp "$root/deploy/Containerfile" "$ctx/Containerfile"
# podman writes OCI images by default, which have no HEALTHCHECK: ask for Docker's format.
format=()
case "$engine" in *podman) format=(--format docker) ;; esac
"$engine" build --quiet "${format[@]}" -f "$ctx/Containerfile" -t "$tag" "$ctx" >/dev/null
echo "$tag"
