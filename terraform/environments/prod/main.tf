# prod: highly available and locked down.
# - Three AZs with a NAT gateway in each (no zone depends on another's egress).
# - RDS PostgreSQL Multi-AZ with deletion protection and 30-day backups; Redis
#   with a replica and automatic failover.
# - m5.large on-demand nodes for the baseline plus mixed-type spot for bursts.
# - WAF on the ALB; the cluster API has no public endpoint unless
#   api_allowed_cidrs names one.

locals {
  environment = "prod"
  tags = merge(
    {
      Project     = "flask-auth"
      Environment = local.environment
      ManagedBy   = "terraform"
    },
    var.tags,
  )
}

module "security" {
  source = "../../modules/security"

  name        = var.name
  environment = local.environment
  tags        = local.tags

  vpc_id             = module.vpc.vpc_id
  vpc_cidr_block     = module.vpc.vpc_cidr_block
  enable_waf         = true
  waf_rate_limit     = 1000
  log_retention_days = 365

  github_repository           = var.github_repository
  github_environment          = "prod"
  create_github_oidc_provider = var.create_github_oidc_provider
  # This environment's state only (backend-config/prod.hcl key).
  state_key_prefix = "flask-auth/${local.environment}/"
  # The Redis URL secret of modules/elasticache, which a plan refreshes.
  plan_readable_secret_names = ["${var.name}/redis/ratelimit-storage-uri"]
  ecr_repository_name        = var.name
  eks_cluster_name           = var.name
  state_bucket_name          = var.state_bucket_name
  state_lock_table_name      = var.state_lock_table_name
  state_kms_key_arn          = data.aws_kms_alias.state.target_key_arn
}

# The state is encrypted with setup-backend.sh's key: the deploy role reads the
# outputs (scripts/deploy.sh), so it needs kms:Decrypt on that key.
data "aws_kms_alias" "state" {
  name = var.state_kms_key_alias
}

module "vpc" {
  source = "../../modules/vpc"

  name        = var.name
  environment = local.environment
  tags        = local.tags

  cidr                    = var.vpc_cidr
  az_count                = 3
  single_nat_gateway      = false
  cluster_name            = var.name
  flow_log_kms_key_arn    = module.security.logs_kms_key_arn
  flow_log_retention_days = 365
}

module "ecr" {
  source = "../../modules/ecr"

  name        = var.name
  environment = local.environment
  tags        = local.tags

  kms_key_arn        = module.security.ecr_kms_key_arn
  keep_tagged_images = 100
}

module "eks" {
  source = "../../modules/eks"

  name        = var.name
  environment = local.environment
  tags        = local.tags

  vpc_id     = module.vpc.vpc_id
  subnet_ids = module.vpc.private_subnet_ids

  endpoint_public_access = length(var.api_allowed_cidrs) > 0
  public_access_cidrs    = var.api_allowed_cidrs

  kms_key_arn        = module.security.eks_kms_key_arn
  log_kms_key_arn    = module.security.logs_kms_key_arn
  log_retention_days = 365

  on_demand_node_group = {
    instance_types = ["m5.large"]
    min_size       = 2
    desired_size   = 3
    max_size       = 6
  }
  spot_node_group = {
    instance_types = ["m5.large", "m5a.large", "m6i.large", "m6a.large"]
    min_size       = 0
    desired_size   = 2
    max_size       = 10
  }

  route53_zone_id = var.route53_zone_id

  admin_principal_arns    = var.admin_principal_arns
  deployer_principal_arns = [module.security.deploy_role_arn]
  app_secret_arns         = [module.rds.master_user_secret_arn, module.elasticache.url_secret_arn]
}

module "rds" {
  source = "../../modules/rds"

  name        = var.name
  environment = local.environment
  tags        = local.tags

  vpc_id                     = module.vpc.vpc_id
  subnet_ids                 = module.vpc.database_subnet_ids
  allowed_security_group_ids = [module.eks.node_security_group_id]

  engine_version                      = "16" # the major only: AWS applies minor upgrades, and a plan never reverts one
  instance_class                      = "db.m6g.large"
  allocated_storage                   = 100
  max_allocated_storage               = 500
  multi_az                            = true
  deletion_protection                 = true
  backup_retention_days               = 30
  kms_key_arn                         = module.security.rds_kms_key_arn
  performance_insights_retention_days = 31
  alarm_topic_arn                     = module.monitoring.topic_arn
  log_retention_days                  = 365
}

module "elasticache" {
  source = "../../modules/elasticache"

  name        = var.name
  environment = local.environment
  tags        = local.tags

  vpc_id                     = module.vpc.vpc_id
  subnet_ids                 = module.vpc.database_subnet_ids
  allowed_security_group_ids = [module.eks.node_security_group_id]

  node_type               = "cache.t4g.small"
  num_cache_clusters      = 2
  kms_key_arn             = module.security.elasticache_kms_key_arn
  snapshot_retention_days = 7
  log_retention_days      = 365
}

# The environment's alerts topic, with the ALB, WAF and cost alarms; the RDS
# alarms and AWS Backup notify the same topic.
module "monitoring" {
  source = "../../modules/monitoring"

  name        = var.name
  environment = local.environment
  tags        = local.tags

  # The topic the RDS module created before this module existed, kept by name
  # (moved blocks below): a rename would replace it and drop its confirmed
  # e-mail subscriptions.
  topic_name = "${var.name}-postgres-alarms"

  alert_email_addresses = var.alarm_email_addresses
  monthly_budget_usd    = var.monthly_budget_usd

  # The ALB is the AWS Load Balancer Controller's (Helm ingress.groupName = var.name).
  alb_exists                        = var.alb_exists
  cluster_name                      = module.eks.cluster_name
  alb_ingress_group                 = var.name
  alb_5xx_threshold_percent         = var.alb_5xx_threshold_percent
  alb_p99_latency_threshold_seconds = var.alb_p99_latency_threshold_seconds

  waf_web_acl_metric_name        = module.security.waf_web_acl_metric_name
  waf_blocked_requests_threshold = var.waf_blocked_requests_threshold
}

# The alarm topic and its subscriptions were module.rds's: they move, unchanged.
moved {
  from = module.rds.aws_sns_topic.alarms
  to   = module.monitoring.aws_sns_topic.alerts
}

moved {
  from = module.rds.aws_sns_topic_subscription.email
  to   = module.monitoring.aws_sns_topic_subscription.email
}

# Daily AWS Backup snapshots of the database, on top of RDS's own automated
# backups (point-in-time restore), copied to a second region.
module "backup" {
  source = "../../modules/backup"

  name        = var.name
  environment = local.environment
  tags        = local.tags

  providers = {
    aws      = aws
    aws.copy = aws.backup_copy
  }

  resource_arns       = [module.rds.db_instance_arn]
  alert_topic_arn     = module.monitoring.topic_arn
  retention_days      = var.backup_retention_days
  copy_enabled        = true
  copy_retention_days = var.backup_copy_retention_days
}
