#!/usr/bin/env bash
# Deploy flask-auth to one environment's EKS cluster: Terraform, kubeconfig,
# `helm upgrade` (migrations run inside it), smoke test and `helm test`, and a
# rollback to the previous Helm revision when any of those fails.
set -euo pipefail

PROG=deploy.sh
RELEASE=flask-app
NAMESPACE=flask-auth
CHART=helm/flask-app

usage() {
  cat <<'EOF'
Usage: scripts/deploy.sh <dev|staging|prod> [--image-tag TAG | --image-digest DIGEST]
                         [--dry-run] [--skip-terraform] [--yes] [--help]

Deploys the flask-app Helm release (namespace flask-auth) to the environment's
own EKS cluster, in this order:
  1. checks the tools: aws, terraform, kubectl, helm, python3 (and git, curl)
  2. checks the AWS identity (aws sts get-caller-identity)
  3. terraform init, apply (unless --skip-terraform) and output -json in
     terraform/environments/<env>; prod asks for confirmation first (below)
  4. aws eks update-kubeconfig, context flask-auth-<env> (every helm and kubectl
     command names that context, so a deploy never lands on another cluster)
  5. checks that the image exists in the environment's ECR repository
  6. staging/prod: checks that the app's existing Secret (secret.existingSecret in
     the values file) holds SECRET_KEY, DATABASE_URL and RATELIMIT_STORAGE_URI; a
     missing or empty key stops the deploy before anything changes
  7. remembers the last deployed Helm revision (helm history: the newest revision
     that is deployed or superseded, never a failed one)
  8. helm upgrade --install with helm/flask-app/values-<env>.yaml, the image,
     and the role and WAF ARNs from the Terraform outputs, --wait; the database
     migration runs inside it (a hook Job in staging/prod, an init container in dev)
  9. scripts/smoke-test.sh https://<ingress host>, then helm test
  A failed upgrade, smoke test or helm test rolls back to the remembered revision
  (database migrations are not undone) and exits 1.

Options:
  --image-tag TAG         deploy IMAGE:TAG ("latest" is refused)
  --image-digest DIGEST   deploy IMAGE@DIGEST (sha256:<64 hex>); wins over tags
                          Without either: the tag is the current commit (git rev-parse HEAD).
  --dry-run               change nothing: print every changing command as "+ cmd args"
                          instead of running it (terraform apply, update-kubeconfig,
                          helm upgrade/rollback/test, the smoke test). Read-only commands
                          still run so the plan is real: sts get-caller-identity, terraform
                          init (writes only the local .terraform directory) and output,
                          ecr describe-images, helm history, kubectl get secret/ingress.
  --skip-terraform        no terraform apply (init and output still run); the pipeline's way
  --yes                   no questions: terraform apply -auto-approve, and prod deploys
                          without typing "prod"
  --help                  show this help

prod without --yes prints what it will deploy and proceeds only when you type
"prod"; anything else, or end of input, aborts before anything is changed.
Without --yes, terraform apply shows its plan and asks as well.

Environment:
  AWS_PROFILE, AWS_* and KUBECONFIG are used as usual by aws, terraform, kubectl, helm
  DEPLOY_TIMEOUT   helm upgrade/rollback timeout (default 10m)
  SMOKE_TEST       the smoke test to run (default scripts/smoke-test.sh);
                   SMOKE_ATTEMPTS and SMOKE_DELAY are passed on to it

Exit status: 0 deployed, 1 failed (rolled back when there was a revision to go
back to) or aborted, 2 usage error.

Examples:
  scripts/deploy.sh dev
  scripts/deploy.sh staging --image-tag 3f6c2e1... --dry-run
  scripts/deploy.sh prod --image-digest sha256:... --skip-terraform --yes
EOF
}

# The shared helpers (die, usage_error, log, require, run, json_fields...), next to this script.
case "${BASH_SOURCE[0]}" in
  */*) SCRIPT_DIR="${BASH_SOURCE[0]%/*}" ;;
  *) SCRIPT_DIR=. ;;
esac
# shellcheck source=lib/common.sh source-path=SCRIPTDIR
source "$SCRIPT_DIR/lib/common.sh"

# Resolve SMOKE_TEST against the caller's directory before moving to the repo root.
SMOKE_TEST="${SMOKE_TEST:-}"
if [[ -n "$SMOKE_TEST" && "$SMOKE_TEST" != /* ]]; then
  SMOKE_TEST="$PWD/$SMOKE_TEST"
fi

ENVIRONMENT=""
IMAGE_TAG=""
IMAGE_DIGEST=""
TAG_GIVEN=false
DIGEST_GIVEN=false
DRY_RUN=false
SKIP_TERRAFORM=false
YES=false

need_value() {
  [[ $# -ge 2 && -n "$2" && "$2" != --* ]] || usage_error "$1 needs a value (see $PROG --help)"
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --image-tag) need_value "$@"; IMAGE_TAG="$2"; TAG_GIVEN=true; shift 2 ;;
    --image-tag=*) IMAGE_TAG="${1#*=}"; TAG_GIVEN=true; shift ;;
    --image-digest) need_value "$@"; IMAGE_DIGEST="$2"; DIGEST_GIVEN=true; shift 2 ;;
    --image-digest=*) IMAGE_DIGEST="${1#*=}"; DIGEST_GIVEN=true; shift ;;
    --dry-run) DRY_RUN=true; shift ;;
    --skip-terraform) SKIP_TERRAFORM=true; shift ;;
    -y | --yes) YES=true; shift ;;
    *) positional_argument ENVIRONMENT ": one environment only" "$1"; shift ;;
  esac
done

case "$ENVIRONMENT" in
  dev | staging | prod) ;;
  "") usage_error "no environment given: dev, staging or prod (see $PROG --help)" ;;
  *) usage_error "unknown environment '$ENVIRONMENT' (dev, staging or prod)" ;;
esac
if $TAG_GIVEN && $DIGEST_GIVEN; then
  usage_error "--image-tag and --image-digest exclude each other: give one"
fi
if $DIGEST_GIVEN && ! [[ "$IMAGE_DIGEST" =~ ^sha256:[0-9a-f]{64}$ ]]; then
  usage_error "malformed digest '$IMAGE_DIGEST' (expected sha256: and 64 lower-case hex digits)"
fi
if $TAG_GIVEN; then
  [[ "$IMAGE_TAG" != latest ]] || usage_error "refusing the tag 'latest': deploy a commit tag or a digest"
  [[ "$IMAGE_TAG" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || usage_error "malformed image tag '$IMAGE_TAG'"
fi
DEPLOY_TIMEOUT="${DEPLOY_TIMEOUT:-10m}"
[[ "$DEPLOY_TIMEOUT" =~ ^([0-9]+[hms])+$ ]] || usage_error "DEPLOY_TIMEOUT must be a duration like 10m or 1h30m, not '$DEPLOY_TIMEOUT'"

# Work from the repository root whatever the caller's directory.
cd -- "$SCRIPT_DIR/.."
SMOKE_TEST="${SMOKE_TEST:-scripts/smoke-test.sh}"

TF_DIR="terraform/environments/$ENVIRONMENT"
VALUES="$CHART/values-$ENVIRONMENT.yaml"
CONTEXT="flask-auth-$ENVIRONMENT"
[[ -d "$TF_DIR" ]] || die "$TF_DIR is missing (run from a complete checkout)"
[[ -f "$VALUES" ]] || die "$VALUES is missing (run from a complete checkout)"

# No pager around the AWS CLI's answers, even for an operator at a terminal.
export AWS_PAGER=""

WORK="$(mktemp -d)"
trap 'rm -rf -- "$WORK"' EXIT

$DRY_RUN && log "dry run: changing commands are printed as '+ ...', not run"

# -- 1. tools -----------------------------------------------------------------------------------
log "checking tools"
require aws "check the AWS identity, write the kubeconfig and find the image"
require terraform "apply the environment and read its outputs"
require kubectl "find the ingress host"
require helm "deploy the chart"
require python3 "read the JSON answers of aws, terraform and helm"
if ! $TAG_GIVEN && ! $DIGEST_GIVEN; then
  require git "tag the image with the current commit (or pass --image-tag/--image-digest)"
fi
if [[ "$SMOKE_TEST" == scripts/smoke-test.sh ]]; then
  require curl "run the smoke test"
fi
[[ -x "$SMOKE_TEST" ]] || die "the smoke test $SMOKE_TEST is not an executable file"

# -- 2. AWS identity ----------------------------------------------------------------------------
log "checking the AWS identity"
IDENTITY="$(aws sts get-caller-identity --output json)" \
  || die "no usable AWS credentials: 'aws sts get-caller-identity' failed (log in, or set AWS_PROFILE)"
mapfile -t FIELDS < <(json_fields Account Arn <<<"$IDENTITY" || echo "!")
[[ "${#FIELDS[@]}" -eq 2 && -n "${FIELDS[0]}" ]] || die "unexpected answer from aws sts get-caller-identity"
ACCOUNT="${FIELDS[0]}"
CALLER_ARN="${FIELDS[1]}"
log "AWS account $ACCOUNT as $CALLER_ARN"

# -- 3. image (decided now so that prod's confirmation can show it) ------------------------------
IMAGE_SEP=":"
if $DIGEST_GIVEN; then
  IMAGE_KIND=digest
  IMAGE_SEP="@"
  IMAGE_REF="$IMAGE_DIGEST"
elif $TAG_GIVEN; then
  IMAGE_KIND=tag
  IMAGE_REF="$IMAGE_TAG"
else
  IMAGE_KIND=tag
  IMAGE_REF="$(git rev-parse HEAD)" || die "no --image-tag or --image-digest, and 'git rev-parse HEAD' failed"
  [[ "$IMAGE_REF" =~ ^[0-9a-f]{40}$ ]] || die "'git rev-parse HEAD' gave '$IMAGE_REF', not a commit id"
fi
log "image $IMAGE_KIND $IMAGE_REF"

# -- 4. Terraform -------------------------------------------------------------------------------
TF=(terraform "-chdir=$TF_DIR")

# Reads the outputs into REGION, CLUSTER, ECR_URL, ROLE_ARN, WAF_ARN (empty when null).
read_outputs() {
  local outputs
  outputs="$("${TF[@]}" output -json)" || die "terraform output -json failed in $TF_DIR"
  mapfile -t FIELDS < <(json_fields region.value cluster_name.value ecr_repository_url.value \
    app_irsa_role_arn.value waf_web_acl_arn.value public_subnet_cidrs.value \
    database_subnet_cidrs.value <<<"$outputs" || echo "!")
  [[ "${#FIELDS[@]}" -eq 7 ]] || die "terraform output -json in $TF_DIR is not valid JSON"
  REGION="${FIELDS[0]}"
  CLUSTER="${FIELDS[1]}"
  ECR_URL="${FIELDS[2]}"
  ROLE_ARN="${FIELDS[3]}"
  WAF_ARN="${FIELDS[4]}"
  LB_CIDRS="${FIELDS[5]}"
  DB_CIDRS="${FIELDS[6]}"
}

log "terraform init ($TF_DIR)"
"${TF[@]}" init -input=false "-backend-config=../../backend-config/$ENVIRONMENT.hcl" \
  || die "terraform init failed in $TF_DIR"

# -- prod: confirmation before anything changes -------------------------------------------------
if [[ "$ENVIRONMENT" == prod ]] && ! $YES; then
  if $DRY_RUN; then
    log "prod: no confirmation asked on a dry run (nothing changes)"
  else
    read_outputs
    log "about to deploy to PRODUCTION"
    printf '    environment  prod (AWS account %s, as %s)\n' "$ACCOUNT" "$CALLER_ARN"
    printf '    cluster      %s\n' "${CLUSTER:-(not created yet: terraform apply creates it)}"
    printf '    image        %s%s%s\n' "${ECR_URL:-<ecr repository>}" "$IMAGE_SEP" "$IMAGE_REF"
    if $SKIP_TERRAFORM; then
      printf '    terraform    skipped (--skip-terraform)\n'
    else
      printf '    terraform    apply (shows its plan and asks again)\n'
    fi
    printf "Type 'prod' to deploy: "
    ANSWER=""
    read -r ANSWER || true
    [[ -t 0 ]] || printf '\n'
    [[ "$ANSWER" == prod ]] || die "aborted: the answer was not 'prod'; nothing was changed"
  fi
fi

if $SKIP_TERRAFORM; then
  log "terraform apply skipped (--skip-terraform)"
else
  log "terraform apply ($TF_DIR)"
  APPLY=("${TF[@]}" apply -input=false)
  $YES && APPLY+=(-auto-approve)
  run "${APPLY[@]}" || die "terraform apply failed or was not approved in $TF_DIR; nothing was deployed"
fi

log "terraform output ($TF_DIR)"
read_outputs
[[ -n "$CLUSTER" ]] || die "terraform output cluster_name is missing in $TF_DIR (has the environment been applied?)"
[[ -n "$ECR_URL" ]] || die "terraform output ecr_repository_url is missing in $TF_DIR (has the environment been applied?)"
[[ -n "$REGION" ]] || die "terraform output region is missing in $TF_DIR"
[[ -n "$ROLE_ARN" ]] || die "terraform output app_irsa_role_arn is missing in $TF_DIR"
if [[ "$ENVIRONMENT" == prod && -z "$WAF_ARN" ]]; then
  die "terraform output waf_web_acl_arn is null in prod: the ALB must sit behind the WAF"
fi
log "cluster $CLUSTER in $REGION, repository $ECR_URL"

# -- 5. kubeconfig ------------------------------------------------------------------------------
log "kubeconfig: context $CONTEXT for cluster $CLUSTER"
run aws eks update-kubeconfig --region "$REGION" --name "$CLUSTER" --alias "$CONTEXT" \
  || die "aws eks update-kubeconfig failed for cluster $CLUSTER"
HELM_TARGET=(-n "$NAMESPACE" --kube-context "$CONTEXT")

# -- 6. the image exists ------------------------------------------------------------------------
IMAGE="$ECR_URL$IMAGE_SEP$IMAGE_REF"
if [[ "$IMAGE_KIND" == digest ]]; then
  IMAGE_ID="imageDigest=$IMAGE_REF"
  IMAGE_SET=(--set "image.digest=$IMAGE_REF")
else
  IMAGE_ID="imageTag=$IMAGE_REF"
  # --set-string: a tag of digits must stay a string.
  IMAGE_SET=(--set-string "image.tag=$IMAGE_REF")
fi
log "checking that $IMAGE is in ECR"
if ! aws ecr describe-images --region "$REGION" --registry-id "${ECR_URL%%.*}" \
  --repository-name "${ECR_URL#*/}" --image-ids "$IMAGE_ID" --output json >/dev/null; then
  $DRY_RUN || die "image $IMAGE not found in ECR (build and push it first, or check the tag/digest)"
  log "warning: image $IMAGE not found in ECR; a real deploy would stop here"
fi

# -- 7. the app's Secret holds every key the app needs here -------------------------------------
# Staging and prod read SECRET_KEY, DATABASE_URL and RATELIMIT_STORAGE_URI (Redis with its AUTH
# token) from an existing Secret synced from Secrets Manager; the ConfigMap's RATELIMIT_STORAGE_URI
# is only the chart's memory:// default. A Secret without one of them would start pods that
# refuse to boot, or count rate limits per pod: refuse before anything changes.
required_secret_keys() {
  case "$1" in
    dev) echo "SECRET_KEY DATABASE_URL" ;;
    *) echo "SECRET_KEY DATABASE_URL RATELIMIT_STORAGE_URI" ;;
  esac
}

# The existing Secret the values file names (secret.existingSecret; the chart's default otherwise).
existing_secret_name() {
  python3 - "$VALUES" "$CHART/values.yaml" <<'PY'
import re, sys

for path in sys.argv[1:]:
    block = re.search(r"(?m)^secret:[ \t]*\n((?:(?:[ \t].*)?\n)*)", open(path).read())
    name = block and re.search(r"(?m)^[ \t]+existingSecret:[ \t]*[\"']?([^\"'#\s]*)", block.group(1))
    if name:
        print(name.group(1))
        break
PY
}

SECRET_NAME="$(existing_secret_name)" || die "cannot read secret.existingSecret from $VALUES"
if [[ -z "$SECRET_NAME" ]]; then
  log "secret: the chart renders the app's Secret in $ENVIRONMENT (secret.existingSecret is empty)"
else
  read -r -a NEEDED <<<"$(required_secret_keys "$ENVIRONMENT")"
  log "checking that Secret $SECRET_NAME holds ${NEEDED[*]}"
  MISSING=""
  if SECRET_JSON="$(kubectl get secret "$SECRET_NAME" -n "$NAMESPACE" --context "$CONTEXT" -o json 2>"$WORK/secret.err")"; then
    # Keys with an empty value count as missing.
    MISSING="$(python3 -c '
import json, sys
data = (json.load(sys.stdin).get("data") or {})
print(" ".join(key for key in sys.argv[1:] if not data.get(key)))
' "${NEEDED[@]}" <<<"$SECRET_JSON")" || die "unexpected answer from kubectl get secret $SECRET_NAME"
    PROBLEM="Secret $SECRET_NAME in $CONTEXT/$NAMESPACE lacks ${MISSING// /, }"
  elif grep -q 'NotFound' "$WORK/secret.err"; then
    MISSING="${NEEDED[*]}"
    PROBLEM="Secret $SECRET_NAME does not exist in $CONTEXT/$NAMESPACE"
  elif $DRY_RUN; then
    PROBLEM=""
    log "warning: kubectl get secret $SECRET_NAME failed ($(tr '\n' ' ' <"$WORK/secret.err")); not checked on a dry run"
  else
    cat "$WORK/secret.err" >&2
    die "kubectl get secret $SECRET_NAME failed in context $CONTEXT (cluster unreachable or no access?)"
  fi
  if [[ -n "$MISSING" ]]; then
    HINT="$ENVIRONMENT needs ${NEEDED[*]}; add the missing keys to the secret it is synced from, then deploy again"
    $DRY_RUN || die "$PROBLEM: $HINT; nothing was deployed"
    log "warning: $PROBLEM; a real deploy would stop here"
  fi
fi

# -- 8. rollback target: the last revision that was deployed -----------------------------------
# Not the newest revision: after a failed or interrupted upgrade that one is `failed` (or
# `pending-*`), and rolling back to it would reinstall what just broke. helm history lists every
# revision; the newest `deployed` or `superseded` one is what last ran successfully.
log "release history of $RELEASE in $CONTEXT/$NAMESPACE"
PREVIOUS_REVISION=0
if HISTORY_JSON="$(helm history "$RELEASE" "${HELM_TARGET[@]}" -o json 2>"$WORK/helm-history.err")"; then
  mapfile -t FIELDS < <(python3 -c '
import json, sys
revisions = sorted(json.load(sys.stdin), key=lambda r: int(r["revision"]))
good = [r for r in revisions if r.get("status") in ("deployed", "superseded")]
print(revisions[-1]["revision"], revisions[-1].get("status", "unknown"))
print(good[-1]["revision"] if good else 0)
' <<<"$HISTORY_JSON" || echo "!")
  [[ "${#FIELDS[@]}" -eq 2 && "${FIELDS[1]}" =~ ^[0-9]+$ ]] || die "unexpected answer from helm history $RELEASE"
  read -r NEWEST NEWEST_STATUS <<<"${FIELDS[0]}"
  PREVIOUS_REVISION="${FIELDS[1]}"
  case "$NEWEST_STATUS" in
    pending-*)
      die "release $RELEASE is $NEWEST_STATUS (another deploy running, or one was interrupted): see helm history $RELEASE -n $NAMESPACE --kube-context $CONTEXT"
      ;;
  esac
  if ((PREVIOUS_REVISION > 0)); then
    log "newest revision $NEWEST ($NEWEST_STATUS); last deployed revision $PREVIOUS_REVISION: a failure below rolls back to it"
  else
    log "newest revision $NEWEST ($NEWEST_STATUS); no revision was ever deployed: a failure below has nothing to roll back to"
  fi
elif grep -q 'release: not found' "$WORK/helm-history.err"; then
  log "no release yet: first install (a failure below has nothing to roll back to)"
elif $DRY_RUN; then
  log "warning: helm history failed ($(tr '\n' ' ' <"$WORK/helm-history.err")); assuming a first install for the plan"
else
  cat "$WORK/helm-history.err" >&2
  die "helm history $RELEASE failed in context $CONTEXT (cluster unreachable or no access?)"
fi

# Roll back to PREVIOUS_REVISION (if any) after a failure, then exit 1.
fail_and_roll_back() {
  local reason="$1"
  if ((PREVIOUS_REVISION > 0)); then
    log "rolling back $RELEASE to revision $PREVIOUS_REVISION: $reason"
    if run helm rollback "$RELEASE" "$PREVIOUS_REVISION" "${HELM_TARGET[@]}" --wait --timeout "$DEPLOY_TIMEOUT"; then
      die "$reason; rolled back to revision $PREVIOUS_REVISION (database migrations are not undone)"
    fi
    die "$reason; the rollback to revision $PREVIOUS_REVISION failed too: see helm history $RELEASE -n $NAMESPACE --kube-context $CONTEXT"
  fi
  die "$reason; first install, nothing to roll back to (inspect: helm status $RELEASE -n $NAMESPACE --kube-context $CONTEXT)"
}

# -- 9. helm upgrade ----------------------------------------------------------------------------
UPGRADE=(helm upgrade --install "$RELEASE" "$CHART" "${HELM_TARGET[@]}" -f "$VALUES"
  --set "image.repository=$ECR_URL" "${IMAGE_SET[@]}" --set "serviceAccount.roleArn=$ROLE_ARN")
if [[ -n "$WAF_ARN" ]]; then
  UPGRADE+=(--set "ingress.wafAclArn=$WAF_ARN")
fi
# The NetworkPolicy admits the ALB's subnets and lets the pods reach the data
# stores' subnets: the real CIDRs, not the values files' examples.
if [[ -n "$LB_CIDRS" ]]; then
  UPGRADE+=(--set-json "networkPolicy.loadBalancerCidrs=$LB_CIDRS")
fi
if [[ -n "$DB_CIDRS" ]]; then  # null where the environment has no data stores (dev)
  UPGRADE+=(--set-json "networkPolicy.databaseCidrs=$DB_CIDRS" --set-json "networkPolicy.redisCidrs=$DB_CIDRS")
fi
UPGRADE+=(--wait --wait-for-jobs --timeout "$DEPLOY_TIMEOUT")
log "helm upgrade $RELEASE to $IMAGE (the database migration runs first: a pre-upgrade hook Job in staging/prod, the init container in dev; a failed migration fails the upgrade before any pod changes)"
run "${UPGRADE[@]}" || fail_and_roll_back "helm upgrade failed"

# -- 10. smoke test and helm test ----------------------------------------------------------------
log "finding the ingress host"
HOST=""
if ! HOST="$(kubectl get ingress "$RELEASE" -n "$NAMESPACE" --context "$CONTEXT" -o 'jsonpath={.spec.rules[0].host}')"; then
  $DRY_RUN || fail_and_roll_back "kubectl get ingress $RELEASE failed"
  HOST=""
fi
if [[ -z "$HOST" ]]; then
  $DRY_RUN || fail_and_roll_back "ingress $RELEASE has no host"
  log "warning: no ingress host known yet (dry run)"
  HOST="<ingress host>"
fi
URL="https://$HOST"

log "smoke test of $URL"
run "$SMOKE_TEST" "$URL" || fail_and_roll_back "smoke test of $URL failed"
log "helm test"
run helm test "$RELEASE" "${HELM_TARGET[@]}" --timeout 5m || fail_and_roll_back "helm test failed"

# -- 11. done -----------------------------------------------------------------------------------
if $DRY_RUN; then
  log "dry run of $ENVIRONMENT complete: image $IMAGE, $URL; nothing was changed"
else
  log "deployed $ENVIRONMENT: image $IMAGE, $URL"
fi
