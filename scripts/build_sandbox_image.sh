#!/usr/bin/env bash
# Build prime-sandbox:latest, the docker backend's image, on a machine that reaches Debian's packages but no image
# registry: a minimal Debian root with python3 (debootstrap) is imported as the base, then sandbox/Dockerfile adds
# the runner. With a registry, `docker build -t prime-sandbox:latest -f sandbox/Dockerfile sandbox/` is enough.
#   bash scripts/build_sandbox_image.sh        (needs a running Docker engine; run as root)
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=prime-sandbox-base:bookworm
if ! docker image inspect "$BASE" >/dev/null 2>&1; then
  command -v debootstrap >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
  root=$(mktemp -d)
  trap 'rm -rf "$root"' EXIT
  mirror=$(sed -n 's/^URIs: *\(http[^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
  debootstrap --variant=minbase --include=python3 bookworm "$root" "${mirror:-http://deb.debian.org/debian}" >/dev/null
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | docker import - "$BASE" >/dev/null
fi
docker build -q --build-arg BASE="$BASE" -t prime-sandbox:latest -f sandbox/Dockerfile sandbox/ >/dev/null
echo "built prime-sandbox:latest on $BASE"
