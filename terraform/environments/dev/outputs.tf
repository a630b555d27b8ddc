# What the pipeline and scripts/deploy.sh read (terraform output -json).

output "region" {
  description = "AWS region of the environment."
  value       = var.region
}

output "cluster_name" {
  description = "EKS cluster name, for aws eks update-kubeconfig."
  value       = module.eks.cluster_name
}

output "ecr_repository_url" {
  description = "Where the pipeline pushes the image."
  value       = module.ecr.repository_url
}

output "database_secret_arn" {
  description = "dev has no RDS: the app uses SQLite on its volume."
  value       = null
}

output "redis_url_secret_arn" {
  description = "dev has no Redis: rate limits are counted in the one pod."
  value       = null
}

output "app_irsa_role_arn" {
  description = "IAM role of the app's service account (Helm serviceAccount.roleArn)."
  value       = module.eks.app_irsa_role_arn
}

output "deploy_role_arn" {
  description = "The role GitHub Actions assumes through OIDC (AWS_DEPLOY_ROLE_ARN)."
  value       = module.security.deploy_role_arn
}

output "plan_role_arn" {
  description = "The read-only role pull-request plans of this environment assume through OIDC."
  value       = module.security.plan_role_arn
}

output "waf_web_acl_arn" {
  description = "No WAF in dev."
  value       = null
}

output "public_subnet_cidrs" {
  description = "The ALB's subnets (Helm networkPolicy.loadBalancerCidrs)."
  value       = module.vpc.public_subnet_cidrs
}

output "database_subnet_cidrs" {
  description = "dev has no RDS or Redis for the pods to reach."
  value       = null
}

output "lb_controller_role_arn" {
  description = "IRSA role for the AWS Load Balancer Controller's Helm release."
  value       = module.eks.lb_controller_role_arn
}

output "cluster_autoscaler_role_arn" {
  description = "IRSA role for the cluster autoscaler's Helm release."
  value       = module.eks.cluster_autoscaler_role_arn
}

output "external_dns_role_arn" {
  description = "IRSA role for ExternalDNS's Helm release (null without route53_zone_id)."
  value       = module.eks.external_dns_role_arn
}

output "alerts_topic_arn" {
  description = "The environment's alerts SNS topic (alarms, budget)."
  value       = module.monitoring.topic_arn
}

output "db_instance_identifier" {
  description = "dev has no RDS."
  value       = null
}

output "backup_vault_name" {
  description = "dev has no database to back up."
  value       = null
}
