# shellcheck shell=bash
# Helpers shared by scripts/deploy.sh, scripts/db-restore-drill.sh and scripts/smoke-test.sh:
# sourced, never run. The sourcing script sets PROG (its name in messages) first, and DRY_RUN
# (true/false) before calling run.

# die MESSAGE [STATUS]: "PROG: MESSAGE" on stderr, exit STATUS (default 1).
die() {
  printf '%s: %s\n' "$PROG" "$1" >&2
  exit "${2:-1}"
}

# usage_error MESSAGE: die with exit status 2.
usage_error() {
  die "$1" 2
}

log() {
  printf '==> %s\n' "$*"
}

# require TOOL WHY: die unless TOOL is on PATH ("needed to WHY").
require() {
  command -v "$1" >/dev/null 2>&1 || die "'$1' is not installed (needed to $2)"
}

# positional_argument VAR ONLY ARG: for the argument loop's catch-all: ARG is an unknown option,
# a second positional argument (ONLY says how many are taken) or the value of VAR.
positional_argument() {
  case "$3" in
    -*) usage_error "unknown option '$3' (see $PROG --help)" ;;
  esac
  [[ -z "${!1}" ]] || usage_error "unexpected argument '$3'$2 (see $PROG --help)"
  printf -v "$1" '%s' "$3"
}

# A command: printed as "+ cmd args", then run (only printed when DRY_RUN is true).
run() {
  printf '+'
  printf ' %q' "$@"
  printf '\n'
  if ! $DRY_RUN; then
    "$@"
  fi
}

# json_fields PATH... <JSON: one line per dotted PATH (a number indexes a list), empty for null
# or missing; a list or object is printed as JSON.
json_fields() {
  python3 -c '
import json, sys
try:
    doc = json.load(sys.stdin)
except ValueError as exc:
    sys.exit("not valid JSON: %s" % exc)
for path in sys.argv[1:]:
    value = doc
    for key in path.split("."):
        if isinstance(value, list) and key.isdigit():
            value = value[int(key)] if int(key) < len(value) else None
        else:
            value = value.get(key) if isinstance(value, dict) else None
    if value is None:
        value = ""
    elif isinstance(value, (dict, list)):
        value = json.dumps(value)
    print(str(value).replace("\n", " "))
' "$@"
}
