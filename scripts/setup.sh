#!/usr/bin/env bash
# One idempotent bootstrap for a new developer. Run it again at any time:
# it only does what is missing.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/setup.sh [--help]

Prepares this checkout for development:
  1. checks that python3 is 3.11 or newer (PYTHON=... to choose another interpreter)
  2. creates .venv if it does not exist
  3. installs the pinned runtime, test and lint dependencies
  4. writes .env from .env.example with a fresh SECRET_KEY and POSTGRES_PASSWORD
     (an existing .env, or a value already set in it, is never overwritten)
  5. applies the database migrations (SQLite under instance/ unless DATABASE_URL is set)
and then says what to run next.
USAGE
}

case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  "") ;;
  *) echo "setup.sh: unknown argument: $1 (try --help)" >&2; exit 2 ;;
esac

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"
VENV=".venv"

step() { printf '\n==> %s\n' "$*"; }
fail() { printf 'setup.sh: %s\n' "$*" >&2; exit 1; }

step "checking Python"
command -v "$PYTHON" >/dev/null 2>&1 || fail "$PYTHON not found; install Python 3.11+ or set PYTHON=/path/to/python3"
if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  fail "Python 3.11 or newer is required; $PYTHON is $("$PYTHON" -V 2>&1)"
fi
"$PYTHON" -V

step "virtual environment ($VENV)"
if [ -x "$VENV/bin/python" ]; then
  echo "exists"
else
  "$PYTHON" -m venv "$VENV"
  echo "created"
fi

step "dependencies"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes -r requirements-dev.txt
"$VENV/bin/python" -m pip check
echo "installed (requirements-dev.txt: the runtime set and the test tools, hashed)"

step ".env"
if [ ! -f .env ]; then
  cp .env.example .env
  chmod 600 .env
  echo "created from .env.example"
fi
fill_secret() {
  local name="$1" value
  if grep -Eq "^${name}=.+" .env; then
    echo "$name: kept the existing value"
    return
  fi
  value="$("$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(48))')"
  if grep -Eq "^${name}=" .env; then
    "$VENV/bin/python" - "$name" "$value" <<'PY'
import sys
from pathlib import Path

name, value = sys.argv[1], sys.argv[2]
path = Path(".env")
lines = path.read_text().splitlines()
path.write_text("\n".join(f"{name}={value}" if line == f"{name}=" else line for line in lines) + "\n")
PY
  else
    printf '%s=%s\n' "$name" "$value" >>.env
  fi
  echo "$name: generated"
}
fill_secret SECRET_KEY
fill_secret POSTGRES_PASSWORD

step "database migrations"
set -a
# shellcheck disable=SC1091
. ./.env
set +a
"$VENV/bin/flask" --app app db upgrade

cat <<'NEXT'

Ready. Next:
  make run            serve http://127.0.0.1:5000 (SQLite, gunicorn)
  make test           run the test suite
  make deploy-local   the app with PostgreSQL, Redis and Mailpit in Docker (needs Docker Compose v2)
  make help           every target
NEXT
