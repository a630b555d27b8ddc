# One environment of flask-auth: the network, the cluster, the image registry,
# the keys and GitHub roles, the WAF, the alerts and, where the environment has
# them, the database, the Redis and their backups. The environment roots
# (terraform/environments/<env>) call this module once; what differs between
# them is in their terraform.tfvars.

locals {
  # The Redis URL secret of modules/elasticache, which a pull-request plan refreshes.
  redis_url_secret_name = "${var.name}/redis/ratelimit-storage-uri"

  # The AWS services that publish to the alerts topic: CloudWatch alarms and the
  # budget (modules/monitoring), the backup vault's events (modules/backup).
  # The topic's policy and its key's policy name them.
  alerts_publishing_services = ["cloudwatch.amazonaws.com", "budgets.amazonaws.com", "backup.amazonaws.com"]
}

# The state is encrypted with setup-backend.sh's key: the deploy role reads the
# outputs (scripts/deploy.sh), so it needs kms:Decrypt on that key.
data "aws_kms_alias" "state" {
  name = var.state_kms_key_alias
}

# The environment's keys, the alerts topic's and the backup vault's included.
module "kms" {
  source = "../kms"

  name        = var.name
  environment = var.environment
  tags        = var.tags

  alerts_publishing_services = local.alerts_publishing_services
  # The vault's key exists where the vault does (module.backup).
  create_backup_key = var.create_database
}

# The alerts topic's key was modules/monitoring's and the backup vault's
# modules/backup's; both are modules/kms's keys now, with the same policies.
moved {
  from = module.monitoring.aws_kms_key.alerts
  to   = module.kms.aws_kms_key.this["alerts"]
}

moved {
  from = module.monitoring.aws_kms_alias.alerts
  to   = module.kms.aws_kms_alias.this["alerts"]
}

moved {
  from = module.backup[0].aws_kms_key.vault
  to   = module.kms.aws_kms_key.this["backup"]
}

moved {
  from = module.backup[0].aws_kms_alias.vault
  to   = module.kms.aws_kms_alias.this["backup"]
}

module "github_oidc" {
  source = "../github_oidc"

  name        = var.name
  environment = var.environment
  tags        = var.tags

  github_repository           = var.github.repository
  github_environment          = var.environment
  create_github_oidc_provider = var.create_github_oidc_provider
  # This environment's state only (backend-config/<env>.hcl key).
  state_key_prefix           = "flask-auth/${var.environment}/"
  plan_readable_secret_names = var.create_cache ? [local.redis_url_secret_name] : []
  ecr_repository_name        = var.name
  eks_cluster_name           = var.name
  state_bucket_name          = var.github.state_bucket_name
  state_lock_table_name      = var.github.state_lock_table_name
  state_kms_key_arn          = data.aws_kms_alias.state.target_key_arn
  secrets_kms_key_arn        = module.kms.key_arns["elasticache"]
}

module "waf" {
  source = "../waf"

  name        = var.name
  environment = var.environment
  tags        = var.tags

  enable_waf         = var.waf.enabled
  waf_rate_limit     = var.waf.rate_limit
  log_retention_days = var.log_retention_days
  log_kms_key_arn    = module.kms.key_arns["logs"]
}

module "security" {
  source = "../security"

  name        = var.name
  environment = var.environment
  tags        = var.tags

  vpc_id             = module.vpc.vpc_id
  vpc_cidr_block     = module.vpc.vpc_cidr_block
  log_retention_days = var.log_retention_days
  log_kms_key_arn    = module.kms.key_arns["logs"]
}

module "vpc" {
  source = "../vpc"

  name        = var.name
  environment = var.environment
  tags        = var.tags

  cidr               = var.vpc_cidr
  az_count           = var.network.az_count
  single_nat_gateway = var.network.single_nat_gateway
  cluster_name       = var.name
  log_kms_key_arn    = module.kms.key_arns["logs"]
  log_retention_days = var.log_retention_days
}

module "ecr" {
  source = "../ecr"

  name        = var.name
  environment = var.environment
  tags        = var.tags

  kms_key_arn        = module.kms.key_arns["ecr"]
  keep_tagged_images = var.ecr_keep_tagged_images
}

module "eks" {
  source = "../eks"

  name        = var.name
  environment = var.environment
  tags        = var.tags

  vpc_id     = module.vpc.vpc_id
  subnet_ids = module.vpc.private_subnet_ids
  # One zone (dev): the pod, its node and its EBS volume always share it.
  node_subnet_ids = var.nodes_in_one_zone ? [module.vpc.private_subnet_ids[0]] : []

  endpoint_public_access = length(var.cluster.api_allowed_cidrs) > 0
  public_access_cidrs    = var.cluster.api_allowed_cidrs

  kms_key_arn        = module.kms.key_arns["eks"]
  log_kms_key_arn    = module.kms.key_arns["logs"]
  log_retention_days = var.log_retention_days

  node_groups = var.cluster.node_groups

  route53_zone_id = var.cluster.route53_zone_id

  admin_principal_arns    = var.cluster.admin_principal_arns
  deployer_principal_arns = [module.github_oidc.deploy_role_arn]
  app_secret_arns = concat(
    module.rds[*].master_user_secret_arn,
    module.elasticache[*].url_secret_arn,
  )
}

module "rds" {
  source = "../rds"
  count  = var.create_database ? 1 : 0

  name        = var.name
  environment = var.environment
  tags        = var.tags

  vpc_id                     = module.vpc.vpc_id
  subnet_ids                 = module.vpc.database_subnet_ids
  allowed_security_group_ids = [module.eks.node_security_group_id]

  instance_class                      = var.database.instance_class
  allocated_storage                   = var.database.allocated_storage
  max_allocated_storage               = var.database.max_allocated_storage
  multi_az                            = var.database.multi_az
  deletion_protection                 = var.database.deletion_protection
  backup_retention_days               = var.database.backup_retention_days
  performance_insights_retention_days = var.database.performance_insights_retention_days
  kms_key_arn                         = module.kms.key_arns["rds"]
  log_retention_days                  = var.log_retention_days
}

module "elasticache" {
  source = "../elasticache"
  count  = var.create_cache ? 1 : 0

  name        = var.name
  environment = var.environment
  tags        = var.tags

  vpc_id                     = module.vpc.vpc_id
  subnet_ids                 = module.vpc.database_subnet_ids
  allowed_security_group_ids = [module.eks.node_security_group_id]

  node_type               = var.cache.node_type
  num_cache_clusters      = var.cache.num_cache_clusters
  snapshot_retention_days = var.cache.snapshot_retention_days
  kms_key_arn             = module.kms.key_arns["elasticache"]
  log_retention_days      = var.log_retention_days
}

# The environment's alerts topic, with the ALB, WAF, database and cost alarms;
# AWS Backup notifies the same topic.
module "monitoring" {
  source = "../monitoring"

  name        = var.name
  environment = var.environment
  tags        = var.tags

  # An environment with a database keeps the topic the RDS module created
  # before this module existed (moved blocks in the roots): a rename would
  # replace it and drop its confirmed e-mail subscriptions.
  topic_name          = var.create_database ? "${var.name}-postgres-alarms" : null
  kms_key_arn         = module.kms.key_arns["alerts"]
  publishing_services = local.alerts_publishing_services

  alert_email_addresses = var.alerts.email_addresses
  monthly_budget_usd    = var.alerts.monthly_budget_usd

  # The ALB is the AWS Load Balancer Controller's (Helm ingress.groupName = var.name).
  alb_exists                        = var.alb_exists
  cluster_name                      = module.eks.cluster_name
  alb_ingress_group                 = var.name
  alb_5xx_threshold_percent         = var.alerts.alb_5xx_threshold_percent
  alb_p99_latency_threshold_seconds = var.alerts.alb_p99_latency_threshold_seconds

  waf_web_acl_metric_name        = module.waf.web_acl_metric_name
  waf_blocked_requests_threshold = var.alerts.waf_blocked_requests_threshold

  db_instance_identifier = one(module.rds[*].db_instance_identifier)
}

# The database's alarms were modules/rds's own; they are modules/monitoring's
# alarm definitions now, named and wired as before.
moved {
  from = module.rds[0].aws_cloudwatch_metric_alarm.this["cpu"]
  to   = module.monitoring.aws_cloudwatch_metric_alarm.this["postgres-cpu"]
}

moved {
  from = module.rds[0].aws_cloudwatch_metric_alarm.this["free-storage"]
  to   = module.monitoring.aws_cloudwatch_metric_alarm.this["postgres-free-storage"]
}

moved {
  from = module.rds[0].aws_cloudwatch_metric_alarm.this["connections"]
  to   = module.monitoring.aws_cloudwatch_metric_alarm.this["postgres-connections"]
}

# Daily AWS Backup snapshots of the database, on top of RDS's own automated
# backups (point-in-time restore), copied to backup_copy_region when
# backup.copy_enabled.
module "backup" {
  source = "../backup"
  count  = var.create_database ? 1 : 0

  name        = var.name
  environment = var.environment
  tags        = var.tags

  providers = {
    aws      = aws
    aws.copy = aws.backup_copy
  }

  resource_arns       = [module.rds[0].db_instance_arn]
  kms_key_arn         = module.kms.key_arns["backup"]
  alert_topic_arn     = module.monitoring.topic_arn
  retention_days      = var.backup.retention_days
  copy_enabled        = var.backup.copy_enabled
  copy_retention_days = var.backup.copy_retention_days
}
