#!/usr/bin/env bash
# Restore drill: prove that the newest backup of an environment's RDS database
# restores and that the app can use it. Restores the latest automated (or AWS
# Backup) snapshot to a throwaway instance, checks it with the app's own
# migration command and a row count, and always deletes the throwaway instance.
set -euo pipefail

PROG=db-restore-drill.sh

usage() {
  cat <<'EOF'
Usage: scripts/db-restore-drill.sh <staging|prod> [--dry-run] [--help]

Restores the newest snapshot of the environment's RDS instance
(flask-auth-<env>-postgres) to a throwaway instance and checks it, in this order:
  1. checks the tools: aws, flask, psql, python3, timeout
  2. checks the AWS identity (aws sts get-caller-identity)
  3. reads the source instance (subnet group, security groups, parameter group,
     database name, master user) with aws rds describe-db-instances
  4. finds the newest available snapshot of it, automated or AWS Backup
     (aws rds describe-db-snapshots --snapshot-type automated / awsbackup)
  5. aws rds restore-db-instance-from-db-snapshot as
     flask-auth-<env>-postgres-drill-<UTC time>: same subnet group, security
     groups and parameter group, not publicly accessible, single-AZ, deletion
     protection off, a password of its own in Secrets Manager
     (--manage-master-user-password), tagged drill=true
  6. aws rds wait db-instance-available, bounded by DRILL_WAIT_MINUTES
  7. the checks, against the throwaway instance (TLS required):
       flask --app app db current   the migration revision the backup is at
       psql: SELECT count(*) FROM users
  8. prints a summary, then ALWAYS deletes the throwaway instance
     (aws rds delete-db-instance --skip-final-snapshot --delete-automated-backups),
     whether the checks passed, failed or the script was interrupted

dev has no RDS database (SQLite on the pod's volume): there is nothing to drill.

The checks connect to the throwaway instance's private address: run the drill
from a host inside the environment's VPC that the database security group
admits (prod's deploy runner, or a pod/bastion in the cluster), with the app's
virtualenv active (make install; `flask` and the app on PATH) and psql installed.

Options:
  --dry-run   print every AWS call (and check) it would make as "+ cmd args",
              run none of them: no AWS call at all, nothing created
  --help      show this help

Environment:
  AWS_PROFILE, AWS_* are used as usual by aws; AWS_REGION (default ap-south-1)
  DRILL_WAIT_MINUTES   how long to wait for the restored instance (default 90)
  DRILL_INSTANCE_CLASS restore as this class (default: the snapshot's own class)

Exit status: 0 restored and checked, 1 failed (the throwaway instance is still
deleted), 2 usage error.

Examples:
  scripts/db-restore-drill.sh staging --dry-run
  scripts/db-restore-drill.sh prod
EOF
}

# The shared helpers (die, usage_error, log, require, run, json_fields...), next to this script.
case "${BASH_SOURCE[0]}" in
  */*) SCRIPT_DIR="${BASH_SOURCE[0]%/*}" ;;
  *) SCRIPT_DIR=. ;;
esac
# shellcheck source=lib/common.sh source-path=SCRIPTDIR
source "$SCRIPT_DIR/lib/common.sh"

ENVIRONMENT=""
DRY_RUN=false

while [[ $# -gt 0 ]]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --dry-run) DRY_RUN=true; shift ;;
    *) positional_argument ENVIRONMENT ": one environment only" "$1"; shift ;;
  esac
done

case "$ENVIRONMENT" in
  staging | prod) ;;
  dev) usage_error "dev has no RDS database (SQLite on the pod's volume): nothing to drill; use staging or prod" ;;
  "") usage_error "no environment given: staging or prod (see $PROG --help)" ;;
  *) usage_error "unknown environment '$ENVIRONMENT' (staging or prod)" ;;
esac
WAIT_MINUTES="${DRILL_WAIT_MINUTES:-90}"
[[ "$WAIT_MINUTES" =~ ^[1-9][0-9]*$ ]] || usage_error "DRILL_WAIT_MINUTES must be a positive whole number, not '$WAIT_MINUTES'"
INSTANCE_CLASS="${DRILL_INSTANCE_CLASS:-}"
if [[ -n "$INSTANCE_CLASS" && ! "$INSTANCE_CLASS" =~ ^db\.[a-z0-9]+\.[a-z0-9]+$ ]]; then
  usage_error "DRILL_INSTANCE_CLASS must look like db.t4g.small, not '$INSTANCE_CLASS'"
fi
REGION="${AWS_REGION:-ap-south-1}"

# Work from the repository root whatever the caller's directory (flask --app app needs it).
cd -- "$SCRIPT_DIR/.."

# The names Terraform gives (terraform/environments/<env>: name = flask-auth-<env>;
# terraform/modules/rds: identifier = <name>-postgres).
SOURCE_ID="flask-auth-$ENVIRONMENT-postgres"
DRILL_ID="$SOURCE_ID-drill-$(date -u +%Y%m%d%H%M%S)"

# No pager around the AWS CLI's answers, even for an operator at a terminal.
export AWS_PAGER=""

$DRY_RUN && log "dry run: every command is printed as '+ ...', none is run"

# -- 1. tools -----------------------------------------------------------------------------------
log "checking tools"
require aws "find, restore and delete the snapshot's instance"
require flask "check the restored database's migration revision (activate the app's .venv: make install)"
require psql "count the users of the restored database"
require python3 "read the JSON answers of aws"
require timeout "bound the wait for the restored instance"

# -- the throwaway instance goes, whatever happens after it was asked for -----------------------
CREATED=false
WAITER=""
RESULT="failed"
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [[ -n "$WAITER" ]]; then
    kill "$WAITER" 2>/dev/null || true
  fi
  if $CREATED; then
    log "deleting the throwaway instance $DRILL_ID"
    if ! run aws rds delete-db-instance --region "$REGION" --db-instance-identifier "$DRILL_ID" \
      --skip-final-snapshot --delete-automated-backups --query DBInstance.DBInstanceStatus --output text; then
      printf '%s: could not delete %s: delete it by hand: aws rds delete-db-instance --region %s --db-instance-identifier %s --skip-final-snapshot --delete-automated-backups\n' \
        "$PROG" "$DRILL_ID" "$REGION" "$DRILL_ID" >&2
      status=1
    fi
  fi
  if ((status == 0)); then
    log "restore drill of $ENVIRONMENT: $RESULT"
  else
    printf '%s: restore drill of %s FAILED\n' "$PROG" "$ENVIRONMENT" >&2
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# -- 2. AWS identity ----------------------------------------------------------------------------
log "checking the AWS identity"
if $DRY_RUN; then
  run aws sts get-caller-identity --output json
else
  IDENTITY="$(aws sts get-caller-identity --output json)" \
    || die "no usable AWS credentials: 'aws sts get-caller-identity' failed (log in, or set AWS_PROFILE)"
  mapfile -t FIELDS < <(json_fields Account Arn <<<"$IDENTITY" || echo "!")
  [[ "${#FIELDS[@]}" -eq 2 && -n "${FIELDS[0]}" ]] || die "unexpected answer from aws sts get-caller-identity"
  log "AWS account ${FIELDS[0]} as ${FIELDS[1]}"
fi

# -- 3. the source instance ---------------------------------------------------------------------
log "reading the source instance $SOURCE_ID"
if $DRY_RUN; then
  run aws rds describe-db-instances --region "$REGION" --db-instance-identifier "$SOURCE_ID" --output json
  SUBNET_GROUP="<its subnet group>"
  SECURITY_GROUPS=("<its security groups>")
  PARAMETER_GROUP="<its parameter group>"
  DB_NAME="<its database>"
  MASTER_USER="<its master user>"
else
  SOURCE_JSON="$(aws rds describe-db-instances --region "$REGION" --db-instance-identifier "$SOURCE_ID" --output json)" \
    || die "aws rds describe-db-instances failed for $SOURCE_ID (does the environment have its database? right account and region $REGION?)"
  mapfile -t FIELDS < <(python3 -c '
import json, sys
db = json.load(sys.stdin)["DBInstances"][0]
print(db["DBSubnetGroup"]["DBSubnetGroupName"])
print(" ".join(g["VpcSecurityGroupId"] for g in db.get("VpcSecurityGroups", []) if g.get("Status", "active") == "active"))
print(next((g["DBParameterGroupName"] for g in db.get("DBParameterGroups", [])), ""))
print(db.get("DBName") or "")
print(db["MasterUsername"])
' <<<"$SOURCE_JSON" || echo "!")
  [[ "${#FIELDS[@]}" -eq 5 && -n "${FIELDS[0]}" && -n "${FIELDS[1]}" && -n "${FIELDS[4]}" ]] \
    || die "unexpected answer from aws rds describe-db-instances for $SOURCE_ID"
  SUBNET_GROUP="${FIELDS[0]}"
  read -r -a SECURITY_GROUPS <<<"${FIELDS[1]}"
  PARAMETER_GROUP="${FIELDS[2]}"
  DB_NAME="${FIELDS[3]:-postgres}"
  MASTER_USER="${FIELDS[4]}"
  log "subnet group $SUBNET_GROUP, security groups ${SECURITY_GROUPS[*]}, database $DB_NAME"
fi

# -- 4. the newest snapshot, automated or AWS Backup --------------------------------------------
log "finding the newest snapshot of $SOURCE_ID (automated, AWS Backup)"
SNAPSHOTS=()
for kind in automated awsbackup; do
  if $DRY_RUN; then
    run aws rds describe-db-snapshots --region "$REGION" --db-instance-identifier "$SOURCE_ID" --snapshot-type "$kind" --output json
  else
    SNAPSHOTS+=("$(aws rds describe-db-snapshots --region "$REGION" --db-instance-identifier "$SOURCE_ID" \
      --snapshot-type "$kind" --output json)") || die "aws rds describe-db-snapshots ($kind) failed for $SOURCE_ID"
  fi
done
if $DRY_RUN; then
  SNAPSHOT="<the newest available snapshot>"
else
  SNAPSHOT_LINE="$(python3 -c '
import json, sys
found = []
for answer in sys.argv[1:]:
    found += json.loads(answer).get("DBSnapshots", [])
ready = [s for s in found if s.get("Status") == "available" and s.get("SnapshotCreateTime")]
if ready:
    newest = max(ready, key=lambda s: s["SnapshotCreateTime"])
    print(newest["DBSnapshotIdentifier"], newest["SnapshotCreateTime"], newest.get("SnapshotType", "?"))
' "${SNAPSHOTS[@]}")" || die "unexpected answer from aws rds describe-db-snapshots for $SOURCE_ID"
  [[ -n "$SNAPSHOT_LINE" ]] \
    || die "no available automated or AWS Backup snapshot of $SOURCE_ID in $REGION: nothing to restore (are backups on? backup_retention_days in terraform/modules/rds); nothing was created"
  read -r SNAPSHOT SNAPSHOT_TIME SNAPSHOT_KIND <<<"$SNAPSHOT_LINE"
  log "newest snapshot: $SNAPSHOT ($SNAPSHOT_KIND, taken $SNAPSHOT_TIME)"
fi

# -- 5. restore ---------------------------------------------------------------------------------
RESTORE=(aws rds restore-db-instance-from-db-snapshot --region "$REGION"
  --db-instance-identifier "$DRILL_ID" --db-snapshot-identifier "$SNAPSHOT"
  --db-subnet-group-name "$SUBNET_GROUP" --vpc-security-group-ids "${SECURITY_GROUPS[@]}")
if [[ -n "$PARAMETER_GROUP" ]]; then
  RESTORE+=(--db-parameter-group-name "$PARAMETER_GROUP")
fi
if [[ -n "$INSTANCE_CLASS" ]]; then
  RESTORE+=(--db-instance-class "$INSTANCE_CLASS")
fi
RESTORE+=(--no-publicly-accessible --no-multi-az --no-deletion-protection --manage-master-user-password
  --tags "Key=drill,Value=true" "Key=source,Value=$SOURCE_ID" "Key=environment,Value=$ENVIRONMENT"
  --query DBInstance.DBInstanceStatus --output text)
log "restoring $SNAPSHOT to the throwaway instance $DRILL_ID"
# From here on the instance may exist: the EXIT trap deletes it, even if this call fails half-way.
CREATED=true
run "${RESTORE[@]}" || die "aws rds restore-db-instance-from-db-snapshot failed for $SNAPSHOT"

# -- 6. wait, bounded ---------------------------------------------------------------------------
# The CLI's waiter gives up after 30 minutes of its own; a big restore may need longer, so it is
# called again (within DRILL_WAIT_MINUTES) while the instance is still on its way.
log "waiting up to $WAIT_MINUTES minutes for $DRILL_ID to be available"
wait_available() {
  local deadline=$((SECONDS + WAIT_MINUTES * 60)) left status
  while true; do
    left=$((deadline - SECONDS))
    ((left > 0)) || return 1
    # In the background, so that a signal reaches the trap at once instead of after the waiter.
    timeout "$left" aws rds wait db-instance-available --region "$REGION" --db-instance-identifier "$DRILL_ID" &
    WAITER=$!
    if wait "$WAITER"; then
      WAITER=""
      return 0
    fi
    WAITER=""
    status="$(aws rds describe-db-instances --region "$REGION" --db-instance-identifier "$DRILL_ID" \
      --query 'DBInstances[0].DBInstanceStatus' --output text)" || return 1
    case "$status" in
      available) return 0 ;;
      creating | backing-up | modifying | configuring-* | storage-optimization | rebooting) ;;
      *) printf '%s: %s is %s\n' "$PROG" "$DRILL_ID" "$status" >&2; return 1 ;;
    esac
  done
}
if $DRY_RUN; then
  run aws rds wait db-instance-available --region "$REGION" --db-instance-identifier "$DRILL_ID"
else
  wait_available || die "$DRILL_ID did not become available within $WAIT_MINUTES minutes"
fi

# -- 7. checks ----------------------------------------------------------------------------------
log "reading the address and password of $DRILL_ID"
if $DRY_RUN; then
  run aws rds describe-db-instances --region "$REGION" --db-instance-identifier "$DRILL_ID" --output json
  run aws secretsmanager get-secret-value --region "$REGION" --secret-id "<its master user secret>" --query SecretString --output text
  ADDRESS="<its address>"
  PORT=5432
else
  mapfile -t FIELDS < <(aws rds describe-db-instances --region "$REGION" --db-instance-identifier "$DRILL_ID" --output json \
    | json_fields DBInstances.0.Endpoint.Address DBInstances.0.Endpoint.Port DBInstances.0.MasterUserSecret.SecretArn \
    || echo "!")
  [[ "${#FIELDS[@]}" -eq 3 && -n "${FIELDS[0]}" && -n "${FIELDS[2]}" ]] \
    || die "aws rds describe-db-instances $DRILL_ID gave no address or master user secret"
  ADDRESS="${FIELDS[0]}"
  PORT="${FIELDS[1]:-5432}"
  # The password goes to libpq through PGPASSWORD (psql and psycopg2 both read it): never printed.
  PGPASSWORD="$(aws secretsmanager get-secret-value --region "$REGION" --secret-id "${FIELDS[2]}" \
    --query SecretString --output text | python3 -c 'import json, sys; print(json.load(sys.stdin)["password"])')" \
    || die "could not read the master password of $DRILL_ID from Secrets Manager"
  export PGPASSWORD
fi
# TLS as the app connects (the parameter group sets rds.force_ssl).
DATABASE_URL="postgresql://$MASTER_USER@$ADDRESS:$PORT/$DB_NAME?sslmode=require"
# The app, as staging/production build it, with a throwaway key: nothing is signed, no mail is sent.
THROWAWAY_KEY="$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
APP_ENV_VARS=(APP_ENV=staging "DATABASE_URL=$DATABASE_URL" "SECRET_KEY=$THROWAWAY_KEY"
  MAIL_SENDER=off WEB_CONCURRENCY=1 LOG_LEVEL=WARNING)

FAILED_CHECKS=()
log "check: flask --app app db current (the migration revision of the restored database)"
REVISION=""
if $DRY_RUN; then
  run env "${APP_ENV_VARS[@]/SECRET_KEY=*/SECRET_KEY=<throwaway>}" flask --app app db current
elif REVISION_OUT="$(env "${APP_ENV_VARS[@]}" flask --app app db current 2>&1)"; then
  # Alembic prints "<revision> (head)" when the database is at the newest migration.
  # (Alembic refuses a revision it does not know: such a backup fails here.)
  REVISION="$(grep -E '^[A-Za-z0-9_]+( \([a-z ]+\))*$' <<<"$REVISION_OUT" | tail -1 || true)"
  if [[ -z "$REVISION" ]]; then
    FAILED_CHECKS+=("migrations: no revision recorded (alembic_version is empty or missing)")
  fi
else
  tail -5 <<<"$REVISION_OUT" >&2
  FAILED_CHECKS+=("migrations: flask --app app db current failed")
fi

log "check: SELECT count(*) FROM users"
USERS=""
if $DRY_RUN; then
  run psql "$DATABASE_URL" -X -v ON_ERROR_STOP=1 -At -c 'SELECT count(*) FROM users'
elif USERS="$(psql "$DATABASE_URL" -X -v ON_ERROR_STOP=1 -At -c 'SELECT count(*) FROM users')" \
  && [[ "$USERS" =~ ^[0-9]+$ ]]; then
  :
else
  FAILED_CHECKS+=("users: SELECT count(*) FROM users failed${USERS:+ (answered: $USERS)}")
  USERS=""
fi

# -- 8. summary (the trap deletes the instance) -------------------------------------------------
if $DRY_RUN; then
  RESULT="dry run complete; nothing was created"
  exit 0
fi
printf '\nRestore drill summary (%s)\n' "$ENVIRONMENT"
printf '  source instance    %s\n' "$SOURCE_ID"
printf '  snapshot           %s (%s, taken %s)\n' "$SNAPSHOT" "$SNAPSHOT_KIND" "$SNAPSHOT_TIME"
printf '  restored as        %s (%s:%s)\n' "$DRILL_ID" "$ADDRESS" "$PORT"
printf '  migration revision %s\n' "${REVISION:-unknown}"
if [[ -n "$REVISION" && "$REVISION" != *"(head)"* ]]; then
  printf '                     (behind this checkout'"'"'s newest migration: a deploy of it would migrate the restored database)\n'
fi
printf '  users              %s\n' "${USERS:-unknown}"
if ((${#FAILED_CHECKS[@]} > 0)); then
  for problem in "${FAILED_CHECKS[@]}"; do
    printf '  FAIL               %s\n' "$problem"
  done
  die "${#FAILED_CHECKS[@]} check(s) failed against the restored snapshot $SNAPSHOT"
fi
RESULT="passed: $SNAPSHOT restored, revision $REVISION, $USERS users"
