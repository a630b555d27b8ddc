# Partial configuration: bucket, key, region and locking come from
# ../../backend-config/dev.hcl (terraform init -backend-config=...), written by
# ../../setup-backend.sh's bucket and table.
terraform {
  backend "s3" {}
}
