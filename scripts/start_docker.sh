#!/usr/bin/env bash
# Make a Docker engine answer here and build the sandbox image, for the docker backend and its tests
# (pytest -m docker). Installs Debian's docker.io if it is missing and starts dockerd without iptables or a
# bridge: the sandbox's containers have no network anyway. Run as root. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v dockerd >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
  mkdir -p /var/log
  nohup dockerd --iptables=false --ip-masq=false --bridge=none >/var/log/prime-dockerd.log 2>&1 &
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "start_docker.sh: dockerd did not start; see /var/log/prime-dockerd.log" >&2; tail -20 /var/log/prime-dockerd.log >&2; exit 1; }
fi
bash scripts/build_sandbox_image.sh
