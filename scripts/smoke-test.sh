#!/usr/bin/env bash
# Smoke test of a deployed flask-auth: the readiness probe says the database
# answers, and the sign-in page renders its form. Used by scripts/deploy.sh
# after `helm upgrade` and by the pipeline's deploy job.
set -euo pipefail

PROG=smoke-test.sh

usage() {
  cat <<'EOF'
Usage: scripts/smoke-test.sh URL
       scripts/smoke-test.sh --help

Checks a deployed flask-auth at URL (e.g. https://auth.example.com):
  1. GET URL/health/ready answers 200 with {"status":"ok"} (the database answers)
  2. GET URL/auth/login answers 200 with the sign-in form (fields "login" and "password")
Each check is retried until it passes or the attempts run out; the second
check runs only once the first has passed.

Environment:
  SMOKE_ATTEMPTS   attempts per check (default 10)
  SMOKE_DELAY      seconds between attempts (default 6)

Every request uses curl --max-time 10 and verifies TLS; redirects are not
followed (a redirect is a failure). Exit status: 0 all checks passed,
1 a check failed, 2 usage error.
EOF
}

usage_error() {
  printf '%s: %s (see %s --help)\n' "$PROG" "$1" "$PROG" >&2
  exit 2
}

URL=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    -*) usage_error "unknown option '$1'" ;;
    *)
      [[ -z "$URL" ]] || usage_error "unexpected argument '$1' (one URL only)"
      URL="$1"
      shift
      ;;
  esac
done

[[ -n "$URL" ]] || usage_error "no URL given"
[[ "$URL" =~ ^https?://[^/[:space:]]+ ]] || usage_error "URL must start with http:// or https:// and name a host: '$URL'"
URL="${URL%/}"

ATTEMPTS="${SMOKE_ATTEMPTS:-10}"
DELAY="${SMOKE_DELAY:-6}"
[[ "$ATTEMPTS" =~ ^[1-9][0-9]*$ ]] || usage_error "SMOKE_ATTEMPTS must be a positive whole number, not '$ATTEMPTS'"
[[ "$DELAY" =~ ^[0-9]+$ ]] || usage_error "SMOKE_DELAY must be a whole number of seconds, not '$DELAY'"

if ! command -v curl >/dev/null 2>&1; then
  printf "%s: 'curl' is not installed (needed to send the requests)\n" "$PROG" >&2
  exit 1
fi

WORK="$(mktemp -d)"
trap 'rm -rf -- "$WORK"' EXIT
BODY="$WORK/body"
ERRORS="$WORK/errors"

# One request: sets STATUS (000 when no HTTP answer) and PROBLEM (why it failed,
# empty when it passed); every argument after the path is an extended regular
# expression the body must match.
probe() {
  local path="$1"
  shift
  local marker
  : >"$BODY"
  STATUS="$(curl --silent --show-error --max-time 10 --user-agent flask-auth-smoke-test \
    --output "$BODY" --write-out '%{http_code}' -- "$URL$path" 2>"$ERRORS")" || true
  STATUS="${STATUS:-000}"
  if [[ "$STATUS" == 000 ]]; then
    PROBLEM="no HTTP answer: $(tr '\n' ' ' <"$ERRORS")"
    return 1
  fi
  if [[ "$STATUS" != 200 ]]; then
    PROBLEM="HTTP $STATUS: $(head -c 200 "$BODY" | tr '\n' ' ')"
    return 1
  fi
  for marker in "$@"; do
    if ! grep -qE -- "$marker" "$BODY"; then
      PROBLEM="HTTP 200 but the body does not match $marker"
      return 1
    fi
  done
  PROBLEM=""
}

# check NAME PATH MARKER...: retry probe until it passes or ATTEMPTS run out.
check() {
  local name="$1" path="$2"
  shift 2
  local attempt
  for ((attempt = 1; attempt <= ATTEMPTS; attempt++)); do
    if probe "$path" "$@"; then
      printf 'PASS  %s: GET %s%s answered 200 (attempt %d/%d)\n' "$name" "$URL" "$path" "$attempt" "$ATTEMPTS"
      return 0
    fi
    if ((attempt < ATTEMPTS)); then
      printf '      %s: attempt %d/%d: %s; retrying in %ss\n' "$name" "$attempt" "$ATTEMPTS" "$PROBLEM" "$DELAY"
      sleep "$DELAY"
    fi
  done
  printf 'FAIL  %s: GET %s%s after %d attempts: %s\n' "$name" "$URL" "$path" "$ATTEMPTS" "$PROBLEM" >&2
  return 1
}

printf 'smoke test of %s (%s attempts, %ss apart)\n' "$URL" "$ATTEMPTS" "$DELAY"

# The app's readiness answer is {"checks":{"database":"ok"},"status":"ok"}
# (app/health/routes.py); 503 with "unavailable" when the database does not answer.
if ! check readiness /health/ready '"status" ?: ?"ok"'; then
  printf 'SKIP  sign-in page: not checked, the app is not ready\n' >&2
  printf '%s: FAILED (readiness)\n' "$PROG" >&2
  exit 1
fi

# The sign-in form (app/templates/login.html): its "login" and "password" inputs.
if ! check sign-in-page /auth/login 'name="login"' 'name="password"'; then
  printf '%s: FAILED (sign-in page)\n' "$PROG" >&2
  exit 1
fi

printf '%s: all checks passed for %s\n' "$PROG" "$URL"
