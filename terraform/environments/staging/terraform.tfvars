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

# Cost: dev's baseline plus t3.medium nodes, db.t4g.small and cache.t4g.micro,
# three zones of endpoints: roughly 400 USD a month.
monthly_budget_usd = 500

# Daily AWS Backup snapshots kept a week (RDS keeps its own 7 days as well).
backup_retention_days = 7
