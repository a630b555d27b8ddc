# terraform -chdir=terraform/environments/dev init -backend-config=../../backend-config/dev.hcl
# The bucket and table come from terraform/setup-backend.sh (same names).
bucket       = "flask-auth-terraform-state"
key          = "flask-auth/dev/terraform.tfstate"
region       = "ap-south-1"
encrypt      = true
kms_key_id   = "alias/flask-auth-terraform-state"
use_lockfile = true
# Kept for Terraform older than 1.10, which cannot use the lock file. With both
# set, Terraform 1.10+ takes both locks, so mixed versions never write at once.
dynamodb_table = "flask-auth-terraform-locks"
