# dev: the cheapest environment that still runs like production.
# - No RDS and no Redis: the app runs one pod on SQLite on an EBS volume (Helm values-dev.yaml).
# - Two AZs for the VPC, because EKS and the ALB both refuse fewer, but one NAT
#   gateway and nodes in ONE subnet: the pod, its node and its EBS volume always
#   share a zone, and there is no cross-AZ traffic to pay for.
# - t3.small on-demand nodes only, public API endpoint limited to api_allowed_cidrs.

locals {
  environment = "dev"
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
  log_retention_days = 30

  github_repository           = var.github_repository
  github_environment          = "dev"
  create_github_oidc_provider = var.create_github_oidc_provider
  # This environment's state only (backend-config/dev.hcl key).
  state_key_prefix      = "flask-auth/${local.environment}/"
  ecr_repository_name   = var.name
  eks_cluster_name      = var.name
  state_bucket_name     = var.state_bucket_name
  state_lock_table_name = var.state_lock_table_name
  state_kms_key_arn     = data.aws_kms_alias.state.target_key_arn
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
  az_count                = 2
  single_nat_gateway      = true
  cluster_name            = var.name
  flow_log_kms_key_arn    = module.security.logs_kms_key_arn
  flow_log_retention_days = 30
}

module "ecr" {
  source = "../../modules/ecr"

  name        = var.name
  environment = local.environment
  tags        = local.tags

  kms_key_arn        = module.security.ecr_kms_key_arn
  keep_tagged_images = 10
}

module "eks" {
  source = "../../modules/eks"

  name        = var.name
  environment = local.environment
  tags        = local.tags

  vpc_id          = module.vpc.vpc_id
  subnet_ids      = module.vpc.private_subnet_ids
  node_subnet_ids = [module.vpc.private_subnet_ids[0]]

  endpoint_public_access = true
  public_access_cidrs    = var.api_allowed_cidrs

  kms_key_arn        = module.security.eks_kms_key_arn
  log_kms_key_arn    = module.security.logs_kms_key_arn
  log_retention_days = 30

  on_demand_node_group = {
    instance_types = ["t3.small"]
    min_size       = 1
    desired_size   = 2
    max_size       = 3
  }
  spot_node_group = {
    instance_types = []
    min_size       = 0
    desired_size   = 0
    max_size       = 0
  }

  route53_zone_id = var.route53_zone_id

  admin_principal_arns    = var.admin_principal_arns
  deployer_principal_arns = [module.security.deploy_role_arn]
}

# The environment's alerts topic, with the ALB, WAF and cost alarms; the RDS
# alarms and AWS Backup notify the same topic.
module "monitoring" {
  source = "../../modules/monitoring"

  name        = var.name
  environment = local.environment
  tags        = local.tags

  alert_email_addresses = var.alarm_email_addresses
  monthly_budget_usd    = var.monthly_budget_usd

  # The ALB is the AWS Load Balancer Controller's (Helm ingress.groupName = var.name).
  alb_exists                        = var.alb_exists
  cluster_name                      = module.eks.cluster_name
  alb_ingress_group                 = var.name
  alb_5xx_threshold_percent         = var.alb_5xx_threshold_percent
  alb_p99_latency_threshold_seconds = var.alb_p99_latency_threshold_seconds
}
