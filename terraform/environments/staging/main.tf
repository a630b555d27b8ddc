# staging: production's shape at a smaller size, to rehearse every release.
# - Three AZs, one NAT gateway (staging tolerates losing egress with one zone).
# - RDS PostgreSQL single-AZ (7-day backups, no deletion protection) and a
#   one-node Redis for the rate-limit counters.
# - t3.medium on-demand nodes plus a small spot group; no WAF.

locals {
  environment = "staging"
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
  enable_waf         = false
  log_retention_days = 90

  github_repository           = var.github_repository
  github_environment          = "staging"
  create_github_oidc_provider = var.create_github_oidc_provider
  # This environment's state only (backend-config/staging.hcl key).
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
  single_nat_gateway      = true
  cluster_name            = var.name
  flow_log_kms_key_arn    = module.security.logs_kms_key_arn
  flow_log_retention_days = 90
}

module "ecr" {
  source = "../../modules/ecr"

  name        = var.name
  environment = local.environment
  tags        = local.tags

  kms_key_arn        = module.security.ecr_kms_key_arn
  keep_tagged_images = 30
}

module "eks" {
  source = "../../modules/eks"

  name        = var.name
  environment = local.environment
  tags        = local.tags

  vpc_id     = module.vpc.vpc_id
  subnet_ids = module.vpc.private_subnet_ids

  endpoint_public_access = true
  public_access_cidrs    = var.api_allowed_cidrs

  kms_key_arn        = module.security.eks_kms_key_arn
  log_kms_key_arn    = module.security.logs_kms_key_arn
  log_retention_days = 90

  on_demand_node_group = {
    instance_types = ["t3.medium"]
    min_size       = 2
    desired_size   = 2
    max_size       = 4
  }
  spot_node_group = {
    instance_types = ["t3.medium", "t3a.medium"]
    min_size       = 0
    desired_size   = 0
    max_size       = 3
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

  engine_version        = "16" # the major only: AWS applies minor upgrades, and a plan never reverts one
  instance_class        = "db.t4g.small"
  allocated_storage     = 20
  max_allocated_storage = 100
  multi_az              = false
  deletion_protection   = false
  backup_retention_days = 7
  kms_key_arn           = module.security.rds_kms_key_arn
  alarm_topic_arn       = module.monitoring.topic_arn
  log_retention_days    = 90
}

module "elasticache" {
  source = "../../modules/elasticache"

  name        = var.name
  environment = local.environment
  tags        = local.tags

  vpc_id                     = module.vpc.vpc_id
  subnet_ids                 = module.vpc.database_subnet_ids
  allowed_security_group_ids = [module.eks.node_security_group_id]

  node_type          = "cache.t4g.micro"
  num_cache_clusters = 1
  kms_key_arn        = module.security.elasticache_kms_key_arn
  log_retention_days = 90
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
# backups (point-in-time restore).
module "backup" {
  source = "../../modules/backup"

  name        = var.name
  environment = local.environment
  tags        = local.tags

  providers = {
    aws      = aws
    aws.copy = aws # no cross-region copy in staging
  }

  resource_arns   = [module.rds.db_instance_arn]
  alert_topic_arn = module.monitoring.topic_arn
  retention_days  = var.backup_retention_days
}
