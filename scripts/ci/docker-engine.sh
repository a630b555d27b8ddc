#!/usr/bin/env bash
# Prepare a Docker engine for the container tests on a machine without one:
# install docker.io and debootstrap from Debian if missing, start dockerd with
# its own data root and socket, and import a stand-in for the official
# python:3.12-slim base image (which cannot be pulled here): a minimal Debian
# bookworm with python3, python3-venv and this machine's CA bundle.
#
# Prints the DOCKER_HOST and BASE_IMAGE to use. Idempotent; the stand-in rootfs is cached.
#   eval "$(scripts/ci/docker-engine.sh)"
set -euo pipefail

ROOT="${FLASK_AUTH_DOCKER_ROOT:-/var/lib/flask-auth-docker}"
CACHE="${FLASK_AUTH_CACHE:-/var/cache/flask-auth}"
OFFICIAL_BASE="python:3.12-slim"
BASE_IMAGE="${STANDIN_BASE_IMAGE:-flask-auth-base:bookworm-standin}"
SOCKET="$ROOT/docker.sock"
export DOCKER_HOST="unix://$SOCKET"

say() { printf '%s\n' "$*" >&2; }

need_apt=()
command -v dockerd >/dev/null 2>&1 || need_apt+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need_apt+=(debootstrap)
if ((${#need_apt[@]})); then
  say "installing ${need_apt[*]}"
  if ! apt-get install -y --no-install-recommends "${need_apt[@]}" >&2; then
    apt-get update >&2
    apt-get install -y --no-install-recommends "${need_apt[@]}" >&2
  fi
fi

DOCKER=/usr/bin/docker
[ -x "$DOCKER" ] || DOCKER="$(command -v docker)"

if ! "$DOCKER" info >/dev/null 2>&1; then
  say "starting dockerd ($SOCKET)"
  mkdir -p "$ROOT"
  setsid dockerd --data-root "$ROOT/data" --host "$DOCKER_HOST" --pidfile "$ROOT/docker.pid" \
    >"$ROOT/dockerd.log" 2>&1 < /dev/null &
  for _ in $(seq 1 60); do
    "$DOCKER" info >/dev/null 2>&1 && break
    sleep 1
  done
  "$DOCKER" info >/dev/null
fi

# Where a registry answers (a laptop, GitHub Actions) the official base is used unchanged.
if "$DOCKER" image inspect "$OFFICIAL_BASE" >/dev/null 2>&1 \
  || timeout 60 "$DOCKER" pull --quiet "$OFFICIAL_BASE" >/dev/null 2>&1; then
  say "base image: $OFFICIAL_BASE (the official image)"
  echo "export DOCKER_HOST=$DOCKER_HOST BASE_IMAGE=$OFFICIAL_BASE BASE_IMAGE_KIND=official"
  exit 0
fi
say "base image: $BASE_IMAGE (stand-in: $OFFICIAL_BASE could not be pulled here)"

if ! "$DOCKER" image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  rootfs="$CACHE/rootfs-bookworm"
  if [ ! -x "$rootfs/usr/bin/python3" ]; then
    say "building the stand-in base image with debootstrap (about a minute)"
    rm -rf "$rootfs"
    mkdir -p "$CACHE"
    debootstrap --variant=minbase --include=python3,python3-venv,python-is-python3,ca-certificates \
      bookworm "$rootfs" http://deb.debian.org/debian >&2
  fi
  # Trust what this machine trusts (its package mirrors sit behind its CA).
  cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
  tar -C "$rootfs" -c . | "$DOCKER" import \
    --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
    --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
    - "$BASE_IMAGE" >&2
fi

echo "export DOCKER_HOST=$DOCKER_HOST BASE_IMAGE=$BASE_IMAGE BASE_IMAGE_KIND=stand-in"
