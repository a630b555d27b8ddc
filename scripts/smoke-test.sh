#!/usr/bin/env bash
# Smoke test of a deployed flask-auth: the readiness probe says the database
# answers, the sign-in page renders its form, and a wrong sign-in is refused with
# 422 (not a 500: the whole sign-in path runs, CSRF, rate limiter and database).
# Used by scripts/deploy.sh after `helm upgrade` and by the pipeline's deploy job.
set -euo pipefail

PROG=smoke-test.sh

usage() {
  cat <<'EOF'
Usage: scripts/smoke-test.sh URL
       scripts/smoke-test.sh --help

Checks a deployed flask-auth at URL (e.g. https://auth.example.com):
  1. GET URL/health/ready answers 200 with {"status":"ok"} (the database answers)
  2. GET URL/auth/login answers 200 with the sign-in form (fields "login" and "password")
  3. a wrong sign-in: GET URL/auth/login for its CSRF token and cookie, then POST a
     wrong password for a random address that has no account; the answer must be
     422 with "Invalid username/e-mail or password." (a 500 here means the rate-limit
     store or the database fails sign-in even though readiness passed)
Each check is retried until it passes or the attempts run out; each check runs
only once the one before it has passed.

Environment:
  SMOKE_ATTEMPTS   attempts per check (default 10)
  SMOKE_DELAY      seconds between attempts (default 6)

Every request uses curl --max-time 10 and verifies TLS; redirects are not
followed (a redirect is a failure). Exit status: 0 all checks passed,
1 a check failed, 2 usage error.
EOF
}

# The shared helpers (die, usage_error, log, require, run, json_fields...), next to this script.
case "${BASH_SOURCE[0]}" in
  */*) SCRIPT_DIR="${BASH_SOURCE[0]%/*}" ;;
  *) SCRIPT_DIR=. ;;
esac
# shellcheck source=lib/common.sh source-path=SCRIPTDIR
source "$SCRIPT_DIR/lib/common.sh"

URL=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    *) positional_argument URL " (one URL only)" "$1"; shift ;;
  esac
done

[[ -n "$URL" ]] || usage_error "no URL given (see $PROG --help)"
[[ "$URL" =~ ^https?://[^/[:space:]]+ ]] || usage_error "URL must start with http:// or https:// and name a host: '$URL' (see $PROG --help)"
URL="${URL%/}"

ATTEMPTS="${SMOKE_ATTEMPTS:-10}"
DELAY="${SMOKE_DELAY:-6}"
[[ "$ATTEMPTS" =~ ^[1-9][0-9]*$ ]] || usage_error "SMOKE_ATTEMPTS must be a positive whole number, not '$ATTEMPTS' (see $PROG --help)"
[[ "$DELAY" =~ ^[0-9]+$ ]] || usage_error "SMOKE_DELAY must be a whole number of seconds, not '$DELAY' (see $PROG --help)"

require curl "send the requests"

WORK="$(mktemp -d)"
trap 'rm -rf -- "$WORK"' EXIT
BODY="$WORK/body"
ERRORS="$WORK/errors"
COOKIES="$WORK/cookies"
CURL=(curl --silent --show-error --max-time 10 --user-agent flask-auth-smoke-test)

# One request (curl arguments after the path): sets STATUS (000 when no HTTP answer)
# and PROBLEM (empty when an HTTP answer came).
request() {
  local path="$1"
  shift
  : >"$BODY"
  STATUS="$("${CURL[@]}" --output "$BODY" --write-out '%{http_code}' "$@" -- "$URL$path" 2>"$ERRORS")" || true
  STATUS="${STATUS:-000}"
  PROBLEM=""
  if [[ "$STATUS" == 000 ]]; then
    PROBLEM="no HTTP answer: $(tr '\n' ' ' <"$ERRORS")"
    return 1
  fi
}

# expect CODE MARKER...: the last answer had status CODE and a body matching every
# extended regular expression MARKER; sets PROBLEM otherwise.
expect() {
  local code="$1" marker
  shift
  if [[ "$STATUS" != "$code" ]]; then
    PROBLEM="HTTP $STATUS (expected $code): $(head -c 200 "$BODY" | tr '\n' ' ')"
    return 1
  fi
  for marker in "$@"; do
    if ! grep -qE -- "$marker" "$BODY"; then
      PROBLEM="HTTP $code but the body does not match $marker"
      return 1
    fi
  done
  PROBLEM=""
}

# probe PATH MARKER...: GET PATH answers 200 and its body matches every MARKER.
probe() {
  local path="$1"
  shift
  request "$path" && expect 200 "$@"
}

# A wrong sign-in, as a browser sends it: the form's CSRF token and the session cookie
# from a GET, then a POST (with the Referer that CSRF checks over HTTPS) of a random
# address that has no account, so no real account's lockout counter moves.
wrong_sign_in() {
  local token login password
  rm -f -- "$COOKIES"
  request /auth/login --cookie-jar "$COOKIES" || return 1
  expect 200 'name="csrf_token"' || return 1
  token="$(grep -oE 'name="csrf_token"[^>]*value="[^"]+"' "$BODY" | head -n 1 | grep -oE 'value="[^"]+"' | tr -d '"')" || true
  token="${token#value=}"
  if [[ -z "$token" ]]; then
    PROBLEM="no CSRF token in the sign-in form"
    return 1
  fi
  login="smoke-test-${RANDOM}${RANDOM}${RANDOM}@example.com"
  password="wrong-${RANDOM}${RANDOM}${RANDOM}${RANDOM}"
  request /auth/login --cookie "$COOKIES" --cookie-jar "$COOKIES" --referer "$URL/auth/login" \
    --data-urlencode "csrf_token=$token" --data-urlencode "login=$login" \
    --data-urlencode "password=$password" || return 1
  expect 422 'Invalid username/e-mail or password\.'
}

# check NAME WHAT PROBE [ARG...]: retry PROBE ARG... until it passes or ATTEMPTS run out.
check() {
  local name="$1" what="$2"
  shift 2
  local attempt
  for ((attempt = 1; attempt <= ATTEMPTS; attempt++)); do
    if "$@"; then
      printf 'PASS  %s: %s answered %s (attempt %d/%d)\n' "$name" "$what" "$STATUS" "$attempt" "$ATTEMPTS"
      return 0
    fi
    if ((attempt < ATTEMPTS)); then
      printf '      %s: attempt %d/%d: %s; retrying in %ss\n' "$name" "$attempt" "$ATTEMPTS" "$PROBLEM" "$DELAY"
      sleep "$DELAY"
    fi
  done
  printf 'FAIL  %s: %s after %d attempts: %s\n' "$name" "$what" "$ATTEMPTS" "$PROBLEM" >&2
  return 1
}

printf 'smoke test of %s (%s attempts, %ss apart)\n' "$URL" "$ATTEMPTS" "$DELAY"

# The app's readiness answer is {"checks":{"database":"ok"},"status":"ok"}
# (app/health/routes.py); 503 with "unavailable" when the database does not answer.
if ! check readiness "GET $URL/health/ready" probe /health/ready '"status" ?: ?"ok"'; then
  printf 'SKIP  sign-in page, wrong sign-in: not checked, the app is not ready\n' >&2
  printf '%s: FAILED (readiness)\n' "$PROG" >&2
  exit 1
fi

# The sign-in form (app/templates/login.html): its "login" and "password" inputs.
if ! check sign-in-page "GET $URL/auth/login" probe /auth/login 'name="login"' 'name="password"'; then
  printf 'SKIP  wrong sign-in: not checked, no sign-in page\n' >&2
  printf '%s: FAILED (sign-in page)\n' "$PROG" >&2
  exit 1
fi

# A wrong password is refused with 422 (app/auth/routes.py login()).
if ! check wrong-sign-in "POST $URL/auth/login" wrong_sign_in; then
  printf '%s: FAILED (wrong sign-in)\n' "$PROG" >&2
  exit 1
fi

printf '%s: all checks passed for %s\n' "$PROG" "$URL"
