#!/usr/bin/env bash
# Create what Terraform's S3 backend needs, once per AWS account, idempotently:
# a KMS key, the state bucket (versioned, KMS-encrypted, public access blocked,
# TLS-only) and the DynamoDB lock table (encrypted, point-in-time recovery).
# Running it again changes nothing that exists and re-applies the settings.
set -euo pipefail

REGION="${AWS_REGION:-${AWS_DEFAULT_REGION:-ap-south-1}}"
BUCKET="flask-auth-terraform-state"
TABLE="flask-auth-terraform-locks"
KEY_ALIAS="alias/flask-auth-terraform-state"
DRY_RUN=false

usage() {
  cat <<'EOF'
Usage: terraform/setup-backend.sh [--region REGION] [--bucket NAME] [--table NAME]
                                  [--key-alias alias/NAME] [--dry-run] [--help]

Creates, if missing, the Terraform state backend for every environment:
  - a KMS key with rotation (default alias/flask-auth-terraform-state)
  - the S3 bucket (default flask-auth-terraform-state): versioning, SSE-KMS,
    all public access blocked, a policy refusing non-TLS requests
  - the DynamoDB lock table (default flask-auth-terraform-locks): PAY_PER_REQUEST,
    KMS encryption, point-in-time recovery (kept for Terraform < 1.10; newer
    versions lock with use_lockfile)

The names must match terraform/backend-config/*.hcl.

Options:
  --region REGION   AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION or
                    ap-south-1, the region backend-config/*.hcl names)
  --dry-run         print the AWS CLI commands instead of running them
  --help            show this help

Then, per environment:
  terraform -chdir=terraform/environments/dev init -backend-config=../../backend-config/dev.hcl
EOF
}

die() {
  echo "setup-backend: $*" >&2
  exit 1
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --region) REGION="${2:?--region needs a value}"; shift 2 ;;
    --bucket) BUCKET="${2:?--bucket needs a value}"; shift 2 ;;
    --table) TABLE="${2:?--table needs a value}"; shift 2 ;;
    --key-alias) KEY_ALIAS="${2:?--key-alias needs a value}"; shift 2 ;;
    --dry-run) DRY_RUN=true; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

[[ "$KEY_ALIAS" == alias/* ]] || die "--key-alias must start with alias/"
[[ "$BUCKET" =~ ^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$ ]] || die "invalid bucket name: $BUCKET"

log() { printf '==> %s\n' "$*" >&2; }

# Run a command, or print it on --dry-run.
run() {
  if $DRY_RUN; then
    printf '+'
    printf ' %q' "$@"
    printf '\n'
  else
    "$@"
  fi
}

# Read-only checks run even on --dry-run, so the plan shows only what is missing.
exists() {
  "$@" >/dev/null 2>&1
}

command -v aws >/dev/null 2>&1 || die "the AWS CLI (aws) is not on PATH"
# Every call goes to REGION, including those without --region (sts, s3api): with
# no region configured the CLI would otherwise refuse them all.
export AWS_REGION="$REGION" AWS_DEFAULT_REGION="$REGION"
IDENTITY="$(aws sts get-caller-identity --query Account --output text 2>&1)" \
  || die "cannot identify the AWS account in $REGION (aws sts get-caller-identity): $(tr -s '\n' ' ' <<<"$IDENTITY")"
ACCOUNT_ID="$IDENTITY"
log "account $ACCOUNT_ID, region $REGION$($DRY_RUN && echo ' (dry run)')"

# -- KMS key ---------------------------------------------------------------------------------
if KEY_ID="$(aws kms describe-key --region "$REGION" --key-id "$KEY_ALIAS" \
  --query KeyMetadata.KeyId --output text 2>/dev/null)"; then
  log "KMS key $KEY_ALIAS exists ($KEY_ID)"
else
  log "creating KMS key $KEY_ALIAS"
  if $DRY_RUN; then
    KEY_ID="<new-key-id>"
    run aws kms create-key --region "$REGION" --description "Terraform state" \
      --tags TagKey=Project,TagValue=flask-auth --query KeyMetadata.KeyId --output text
  else
    KEY_ID="$(aws kms create-key --region "$REGION" --description "Terraform state" \
      --tags TagKey=Project,TagValue=flask-auth --query KeyMetadata.KeyId --output text)"
  fi
  run aws kms create-alias --region "$REGION" --alias-name "$KEY_ALIAS" --target-key-id "$KEY_ID"
fi
run aws kms enable-key-rotation --region "$REGION" --key-id "$KEY_ID"

# -- S3 bucket -------------------------------------------------------------------------------
if exists aws s3api head-bucket --bucket "$BUCKET" --expected-bucket-owner "$ACCOUNT_ID"; then
  log "bucket $BUCKET exists"
else
  log "creating bucket $BUCKET"
  if [[ "$REGION" == "us-east-1" ]]; then
    run aws s3api create-bucket --bucket "$BUCKET" --region "$REGION"
  else
    run aws s3api create-bucket --bucket "$BUCKET" --region "$REGION" \
      --create-bucket-configuration "LocationConstraint=$REGION"
  fi
fi
run aws s3api put-bucket-versioning --bucket "$BUCKET" --versioning-configuration Status=Enabled
run aws s3api put-bucket-encryption --bucket "$BUCKET" --server-side-encryption-configuration \
  "{\"Rules\":[{\"ApplyServerSideEncryptionByDefault\":{\"SSEAlgorithm\":\"aws:kms\",\"KMSMasterKeyID\":\"$KEY_ID\"},\"BucketKeyEnabled\":true}]}"
run aws s3api put-public-access-block --bucket "$BUCKET" --public-access-block-configuration \
  BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true
run aws s3api put-bucket-ownership-controls --bucket "$BUCKET" --ownership-controls \
  'Rules=[{ObjectOwnership=BucketOwnerEnforced}]'
run aws s3api put-bucket-policy --bucket "$BUCKET" --policy \
  "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"DenyInsecureTransport\",\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"s3:*\",\"Resource\":[\"arn:aws:s3:::$BUCKET\",\"arn:aws:s3:::$BUCKET/*\"],\"Condition\":{\"Bool\":{\"aws:SecureTransport\":\"false\"}}}]}"

# -- DynamoDB lock table ---------------------------------------------------------------------
if exists aws dynamodb describe-table --region "$REGION" --table-name "$TABLE"; then
  log "lock table $TABLE exists"
else
  log "creating lock table $TABLE"
  run aws dynamodb create-table --region "$REGION" --table-name "$TABLE" \
    --attribute-definitions AttributeName=LockID,AttributeType=S \
    --key-schema AttributeName=LockID,KeyType=HASH \
    --billing-mode PAY_PER_REQUEST \
    --sse-specification "Enabled=true,SSEType=KMS,KMSMasterKeyId=$KEY_ID" \
    --tags Key=Project,Value=flask-auth
  run aws dynamodb wait table-exists --region "$REGION" --table-name "$TABLE"
fi
run aws dynamodb update-continuous-backups --region "$REGION" --table-name "$TABLE" \
  --point-in-time-recovery-specification PointInTimeRecoveryEnabled=true

log "done: bucket $BUCKET, table $TABLE, key $KEY_ALIAS in $REGION"
