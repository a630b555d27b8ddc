# Every environment root (dev, staging, prod) links this file: one call of
# modules/platform, with the environment's terraform.tfvars as its values,
# passed through as they are (modules/platform types, defaults and checks them).

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

  vpc_cidr               = var.vpc_cidr
  log_retention_days     = var.log_retention_days
  ecr_keep_tagged_images = var.ecr_keep_tagged_images
  state_kms_key_alias    = var.state_kms_key_alias

  create_github_oidc_provider = var.create_github_oidc_provider
  nodes_in_one_zone           = var.nodes_in_one_zone
  create_database             = var.create_database
  create_cache                = var.create_cache
  alb_exists                  = var.alb_exists

  network  = var.network
  github   = var.github
  waf      = var.waf
  cluster  = var.cluster
  database = var.database
  cache    = var.cache
  alerts   = var.alerts
  backup   = var.backup
}
