# staging. Placeholders to replace for a real account: the repository, the
# CIDRs allowed to reach the API, the state bucket, the alarm addresses.
region                = "ap-south-1"
name                  = "flask-auth-staging"
vpc_cidr              = "10.20.0.0/16"
github_repository     = "flask-auth/flask-auth"
api_allowed_cidrs     = ["203.0.113.0/24"]
state_bucket_name     = "flask-auth-terraform-state"
state_lock_table_name = "flask-auth-terraform-locks"
alarm_email_addresses = ["platform-alerts@example.com"]

tags = {
  Owner      = "platform-team"
  CostCenter = "flask-auth-staging"
}
