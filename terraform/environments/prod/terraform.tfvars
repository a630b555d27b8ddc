# prod: highly available and locked down.
# - Three AZs with a NAT gateway in each (no zone depends on another's egress).
# - RDS PostgreSQL Multi-AZ with deletion protection and 30-day backups; Redis
#   with a replica and automatic failover.
# - m5.large on-demand nodes for the baseline plus mixed-type spot for bursts.
# - WAF on the ALB; the cluster API has no public endpoint unless
#   api_allowed_cidrs names one.


environment        = "prod"
network            = { az_count = 3, single_nat_gateway = false }
log_retention_days = 365
waf                = { enabled = true, rate_limit = 1000 }

ecr_keep_tagged_images = 100

cluster = {
  # Empty: the API endpoint is private and deploys run from inside the VPC.
  api_allowed_cidrs = []
  node_groups = {
    on_demand = { instance_types = ["m5.large"], min_size = 2, desired_size = 3, max_size = 6 }
    spot      = { instance_types = ["m5.large", "m5a.large", "m6i.large", "m6a.large"], min_size = 0, desired_size = 2, max_size = 10 }
  }
}

create_database = true
database = {
  instance_class                      = "db.m6g.large"
  allocated_storage                   = 100
  max_allocated_storage               = 500
  multi_az                            = true
  deletion_protection                 = true
  backup_retention_days               = 30
  performance_insights_retention_days = 31
}

create_cache = true
cache = {
  node_type               = "cache.t4g.small"
  num_cache_clusters      = 2
  snapshot_retention_days = 7
}

# prod. Placeholders to replace for a real account: the repository, the state
# bucket, the alarm addresses.
region   = "ap-south-1"
name     = "flask-auth-prod"
vpc_cidr = "10.30.0.0/16"
github = {
  repository            = "flask-auth/flask-auth"
  state_bucket_name     = "flask-auth-terraform-state"
  state_lock_table_name = "flask-auth-terraform-locks"
}

tags = {
  Owner      = "platform-team"
  CostCenter = "flask-auth-prod"
}

alerts = {
  email_addresses = ["platform-alerts@example.com", "oncall@example.com"]
  # Cost: three NAT gateways, m5.large nodes (plus spot), Multi-AZ db.m6g.large,
  # two cache.t4g.small, WAF and the ALB: roughly 1,200 USD a month.
  monthly_budget_usd = 1500

  # Stricter than the defaults: real users, several pods.
  alb_5xx_threshold_percent         = 2
  alb_p99_latency_threshold_seconds = 1
  waf_blocked_requests_threshold    = 500
}

# Daily AWS Backup snapshots kept 35 days, copied to Singapore and kept 30 days there.
backup             = { retention_days = 35, copy_enabled = true, copy_retention_days = 30 }
backup_copy_region = "ap-southeast-1"
