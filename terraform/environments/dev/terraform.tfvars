# dev: the cheapest environment that still runs like production.
# - No RDS and no Redis: the app runs one pod on SQLite on an EBS volume (Helm values-dev.yaml).
# - Two AZs for the VPC, because EKS and the ALB both refuse fewer, but one NAT
#   gateway and nodes in ONE subnet: the pod, its node and its EBS volume always
#   share a zone, and there is no cross-AZ traffic to pay for.
# - t3.small on-demand nodes only, public API endpoint limited to api_allowed_cidrs.


environment        = "dev"
network            = { az_count = 2, single_nat_gateway = true }
nodes_in_one_zone  = true
log_retention_days = 30
waf                = { enabled = false }

ecr_keep_tagged_images = 10

cluster = {
  api_allowed_cidrs = ["203.0.113.0/24"]
  node_groups = {
    on_demand = { instance_types = ["t3.small"], min_size = 1, desired_size = 2, max_size = 3 }
    spot      = { instance_types = [], min_size = 0, desired_size = 0, max_size = 0 }
  }
}

create_database = false
create_cache    = false

# dev. Placeholders to replace for a real account: the repository, the CIDRs
# allowed to reach the API (cluster above), the state bucket (setup-backend.sh prints it).
region   = "ap-south-1"
name     = "flask-auth-dev"
vpc_cidr = "10.10.0.0/16"
github = {
  repository            = "flask-auth/flask-auth"
  state_bucket_name     = "flask-auth-terraform-state"
  state_lock_table_name = "flask-auth-terraform-locks"
}

# The account's one GitHub OIDC provider is created here; staging and prod look
# it up, so apply dev first in a new account.
create_github_oidc_provider = true

tags = {
  Owner      = "platform-team"
  CostCenter = "flask-auth-dev"
}

alerts = {
  # Cost: EKS control plane, one NAT gateway, two t3.small nodes, the interface
  # endpoints and the ALB come to roughly 200 USD a month.
  monthly_budget_usd = 250

  # One pod on SQLite: slower, and a handful of errors is a larger share.
  alb_5xx_threshold_percent         = 10
  alb_p99_latency_threshold_seconds = 3
}
