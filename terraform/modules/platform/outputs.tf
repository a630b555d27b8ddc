# What the environment roots pass on to the pipeline and scripts/deploy.sh; null
# where the environment lacks the part (dev: no database, Redis, WAF or backups).

output "cluster_name" {
  description = "EKS cluster name, for aws eks update-kubeconfig."
  value       = module.eks.cluster_name
}

output "ecr_repository_url" {
  description = "Where the pipeline pushes the image."
  value       = module.ecr.repository_url
}

output "database_secret_arn" {
  description = "Secrets Manager secret of the RDS master user (External Secrets builds DATABASE_URL from it); null without create_database."
  value       = one(module.rds[*].master_user_secret_arn)
}

output "database_address" {
  description = "RDS endpoint host name; null without create_database."
  value       = one(module.rds[*].address)
}

output "redis_url_secret_arn" {
  description = "Secrets Manager secret holding RATELIMIT_STORAGE_URI (rediss://...); null without create_cache."
  value       = one(module.elasticache[*].url_secret_arn)
}

output "app_irsa_role_arn" {
  description = "IAM role of the app's service account (Helm serviceAccount.roleArn)."
  value       = module.eks.irsa_role_arns["app"]
}

output "deploy_role_arn" {
  description = "The role GitHub Actions assumes through OIDC (AWS_DEPLOY_ROLE_ARN)."
  value       = module.github_oidc.deploy_role_arn
}

output "plan_role_arn" {
  description = "The read-only role pull-request plans of this environment assume through OIDC."
  value       = module.github_oidc.plan_role_arn
}

output "waf_web_acl_arn" {
  description = "The WAF web ACL for the ALB (Helm ingress.wafAclArn); null without waf.enabled."
  value       = module.waf.web_acl_arn
}

output "public_subnet_cidrs" {
  description = "The ALB's subnets (Helm networkPolicy.loadBalancerCidrs)."
  value       = module.vpc.public_subnet_cidrs
}

output "database_subnet_cidrs" {
  description = "RDS and Redis subnets (Helm networkPolicy.databaseCidrs and redisCidrs); null when the environment has neither, and scripts/deploy.sh then opens no egress to them."
  value       = var.create_database || var.create_cache ? module.vpc.database_subnet_cidrs : null
}

output "lb_controller_role_arn" {
  description = "IRSA role for the AWS Load Balancer Controller's Helm release."
  value       = module.eks.irsa_role_arns["lb_controller"]
}

output "cluster_autoscaler_role_arn" {
  description = "IRSA role for the cluster autoscaler's Helm release."
  value       = module.eks.irsa_role_arns["cluster_autoscaler"]
}

output "external_dns_role_arn" {
  description = "IRSA role for ExternalDNS's Helm release (null without route53_zone_id)."
  value       = lookup(module.eks.irsa_role_arns, "external_dns", null)
}

output "alerts_topic_arn" {
  description = "The environment's alerts SNS topic (alarms, budget, AWS Backup)."
  value       = module.monitoring.topic_arn
}

output "db_instance_identifier" {
  description = "RDS instance identifier (aws rds describe-db-snapshots --db-instance-identifier); null without create_database."
  value       = one(module.rds[*].db_instance_identifier)
}

output "backup_vault_name" {
  description = "AWS Backup vault of the database's daily snapshots; null without create_database."
  value       = one(module.backup[*].vault_name)
}

output "backup_copy_vault_arn" {
  description = "Vault in backup_copy_region holding the copies of the database snapshots; null without backup.copy_enabled."
  value       = one(module.backup[*].copy_vault_arn)
}
