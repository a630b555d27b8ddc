# dev. Placeholders to replace for a real account: the repository, the CIDRs
# allowed to reach the API, the state bucket (setup-backend.sh prints it).
region                = "ap-south-1"
name                  = "flask-auth-dev"
vpc_cidr              = "10.10.0.0/16"
github_repository     = "flask-auth/flask-auth"
api_allowed_cidrs     = ["203.0.113.0/24"]
state_bucket_name     = "flask-auth-terraform-state"
state_lock_table_name = "flask-auth-terraform-locks"

# The account's one GitHub OIDC provider is created here; staging and prod look
# it up, so apply dev first in a new account.
create_github_oidc_provider = true

tags = {
  Owner      = "platform-team"
  CostCenter = "flask-auth-dev"
}

# Cost: EKS control plane, one NAT gateway, two t3.small nodes, the interface
# endpoints and the ALB come to roughly 200 USD a month.
monthly_budget_usd = 250

# One pod on SQLite: slower, and a handful of errors is a larger share.
alb_5xx_threshold_percent         = 10
alb_p99_latency_threshold_seconds = 3
