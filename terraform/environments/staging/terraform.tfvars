# staging: production's shape at a smaller size, to rehearse every release.
# - Three AZs, one NAT gateway (staging tolerates losing egress with one zone).
# - RDS PostgreSQL single-AZ (7-day backups, no deletion protection) and a
#   one-node Redis for the rate-limit counters.
# - t3.medium on-demand nodes plus a small spot group; no WAF.


environment        = "staging"
network            = { az_count = 3, single_nat_gateway = true }
log_retention_days = 90
waf                = { enabled = false }

ecr_keep_tagged_images = 30

cluster = {
  api_allowed_cidrs = ["203.0.113.0/24"]
  node_groups = {
    on_demand = { instance_types = ["t3.medium"], min_size = 2, desired_size = 2, max_size = 4 }
    spot      = { instance_types = ["t3.medium", "t3a.medium"], min_size = 0, desired_size = 0, max_size = 3 }
  }
}

create_database = true
database = {
  instance_class        = "db.t4g.small"
  allocated_storage     = 20
  max_allocated_storage = 100
  multi_az              = false
  deletion_protection   = false
  backup_retention_days = 7
}

create_cache = true
cache = {
  node_type          = "cache.t4g.micro"
  num_cache_clusters = 1
}

# staging. Placeholders to replace for a real account: the repository, the
# CIDRs allowed to reach the API (cluster above), the state bucket, the alarm addresses.
region   = "ap-south-1"
name     = "flask-auth-staging"
vpc_cidr = "10.20.0.0/16"
github = {
  repository            = "flask-auth/flask-auth"
  state_bucket_name     = "flask-auth-terraform-state"
  state_lock_table_name = "flask-auth-terraform-locks"
}

tags = {
  Owner      = "platform-team"
  CostCenter = "flask-auth-staging"
}

alerts = {
  email_addresses = ["platform-alerts@example.com"]
  # Cost: dev's baseline plus t3.medium nodes, db.t4g.small and cache.t4g.micro,
  # three zones of endpoints: roughly 400 USD a month.
  monthly_budget_usd = 500
}

# Daily AWS Backup snapshots kept a week (RDS keeps its own 7 days as well).
backup = { retention_days = 7 }
