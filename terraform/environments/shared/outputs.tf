# What the pipeline and scripts/deploy.sh read (terraform output -json), passed
# through from modules/platform; null where the environment lacks the part.

output "region" {
  description = "AWS region of the environment."
  value       = var.region
}

output "cluster_name" {
  description = "EKS cluster name, for aws eks update-kubeconfig."
  value       = module.platform.cluster_name
}

output "ecr_repository_url" {
  description = "Where the pipeline pushes the image."
  value       = module.platform.ecr_repository_url
}

output "database_secret_arn" {
  description = "Secrets Manager secret of the RDS master user (External Secrets builds DATABASE_URL from it)."
  value       = module.platform.database_secret_arn
}

output "database_address" {
  description = "RDS endpoint host name."
  value       = module.platform.database_address
}

output "redis_url_secret_arn" {
  description = "Secrets Manager secret holding RATELIMIT_STORAGE_URI (rediss://...)."
  value       = module.platform.redis_url_secret_arn
}

output "app_irsa_role_arn" {
  description = "IAM role of the app's service account (Helm serviceAccount.roleArn)."
  value       = module.platform.app_irsa_role_arn
}

output "deploy_role_arn" {
  description = "The role GitHub Actions assumes through OIDC (AWS_DEPLOY_ROLE_ARN)."
  value       = module.platform.deploy_role_arn
}

output "plan_role_arn" {
  description = "The read-only role pull-request plans of this environment assume through OIDC."
  value       = module.platform.plan_role_arn
}

output "waf_web_acl_arn" {
  description = "The WAF web ACL for the ALB (Helm ingress.wafAclArn)."
  value       = module.platform.waf_web_acl_arn
}

output "public_subnet_cidrs" {
  description = "The ALB's subnets (Helm networkPolicy.loadBalancerCidrs)."
  value       = module.platform.public_subnet_cidrs
}

output "database_subnet_cidrs" {
  description = "RDS and Redis subnets (Helm networkPolicy.databaseCidrs and redisCidrs)."
  value       = module.platform.database_subnet_cidrs
}

output "lb_controller_role_arn" {
  description = "IRSA role for the AWS Load Balancer Controller's Helm release."
  value       = module.platform.lb_controller_role_arn
}

output "cluster_autoscaler_role_arn" {
  description = "IRSA role for the cluster autoscaler's Helm release."
  value       = module.platform.cluster_autoscaler_role_arn
}

output "external_dns_role_arn" {
  description = "IRSA role for ExternalDNS's Helm release (null without route53_zone_id)."
  value       = module.platform.external_dns_role_arn
}

output "alerts_topic_arn" {
  description = "The environment's alerts SNS topic (alarms, budget, AWS Backup)."
  value       = module.platform.alerts_topic_arn
}

output "db_instance_identifier" {
  description = "RDS instance identifier (aws rds describe-db-snapshots --db-instance-identifier)."
  value       = module.platform.db_instance_identifier
}

output "backup_vault_name" {
  description = "AWS Backup vault of the database's daily snapshots (aws backup list-recovery-points-by-backup-vault)."
  value       = module.platform.backup_vault_name
}

output "backup_copy_vault_arn" {
  description = "Vault in backup_copy_region holding the copies of the database snapshots."
  value       = module.platform.backup_copy_vault_arn
}
