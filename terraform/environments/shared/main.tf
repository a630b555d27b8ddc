# Every environment root (dev, staging, prod) links this file: one call of
# modules/platform, with the environment's terraform.tfvars as its values.

locals {
  environment = var.environment
  tags = merge(
    {
      Project     = "flask-auth"
      Environment = local.environment
      ManagedBy   = "terraform"
    },
    var.tags,
  )
}

module "platform" {
  source = "../../modules/platform"

  providers = {
    aws             = aws
    aws.backup_copy = aws.backup_copy
  }

  name        = var.name
  environment = local.environment
  tags        = local.tags

  vpc_cidr           = var.vpc_cidr
  nodes_in_one_zone  = var.nodes_in_one_zone
  log_retention_days = var.log_retention_days

  network = {
    az_count           = var.az_count
    single_nat_gateway = var.single_nat_gateway
  }

  github = {
    repository            = var.github_repository
    create_oidc_provider  = var.create_github_oidc_provider
    state_bucket_name     = var.state_bucket_name
    state_lock_table_name = var.state_lock_table_name
  }
  state_kms_key_alias = var.state_kms_key_alias

  waf = {
    enabled    = var.enable_waf
    rate_limit = var.waf_rate_limit
  }
  ecr_keep_tagged_images = var.ecr_keep_tagged_images

  cluster = {
    api_allowed_cidrs    = var.api_allowed_cidrs
    admin_principal_arns = var.admin_principal_arns
    route53_zone_id      = var.route53_zone_id
    node_groups = {
      on_demand = var.on_demand_node_group
      spot      = var.spot_node_group
    }
  }

  create_database = var.create_database
  database        = var.database
  create_cache    = var.create_cache
  cache           = var.cache

  alerts = {
    email_addresses                   = var.alarm_email_addresses
    monthly_budget_usd                = var.monthly_budget_usd
    alb_exists                        = var.alb_exists
    alb_5xx_threshold_percent         = var.alb_5xx_threshold_percent
    alb_p99_latency_threshold_seconds = var.alb_p99_latency_threshold_seconds
    waf_blocked_requests_threshold    = var.waf_blocked_requests_threshold
  }

  backup = {
    retention_days      = var.backup_retention_days
    copy_enabled        = var.backup_copy_enabled
    copy_retention_days = var.backup_copy_retention_days
  }
}
