# prod. Placeholders to replace for a real account: the repository, the state
# bucket, the alarm addresses. api_allowed_cidrs stays empty: the API endpoint
# is private and deploys run from inside the VPC.
region                = "ap-south-1"
name                  = "flask-auth-prod"
vpc_cidr              = "10.30.0.0/16"
github_repository     = "flask-auth/flask-auth"
api_allowed_cidrs     = []
state_bucket_name     = "flask-auth-terraform-state"
state_lock_table_name = "flask-auth-terraform-locks"
alarm_email_addresses = ["platform-alerts@example.com", "oncall@example.com"]

tags = {
  Owner      = "platform-team"
  CostCenter = "flask-auth-prod"
}

# Cost: three NAT gateways, m5.large nodes (plus spot), Multi-AZ db.m6g.large,
# two cache.t4g.small, WAF and the ALB: roughly 1,200 USD a month.
monthly_budget_usd = 1500

# Stricter than the defaults: real users, several pods.
alb_5xx_threshold_percent         = 2
alb_p99_latency_threshold_seconds = 1
waf_blocked_requests_threshold    = 500

# Daily AWS Backup snapshots kept 35 days, copied to Singapore and kept 30 days there.
backup_retention_days      = 35
backup_copy_region         = "ap-southeast-1"
backup_copy_retention_days = 30
