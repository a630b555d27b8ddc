output "eks_kms_key_arn" {
  description = "ARN of the KMS key for EKS secrets encryption and node EBS volumes."
  value       = aws_kms_key.this["eks"].arn
}

output "rds_kms_key_arn" {
  description = "ARN of the KMS key for RDS storage, Performance Insights, the master-user secret and the RDS alarm SNS topic."
  value       = aws_kms_key.this["rds"].arn
}

output "logs_kms_key_arn" {
  description = "ARN of the KMS key for CloudWatch Logs log groups in this account and region."
  value       = aws_kms_key.this["logs"].arn
}

output "ecr_kms_key_arn" {
  description = "ARN of the KMS key for ECR repositories."
  value       = aws_kms_key.this["ecr"].arn
}

output "elasticache_kms_key_arn" {
  description = "ARN of the KMS key for ElastiCache at-rest encryption and its Secrets Manager secret."
  value       = aws_kms_key.this["elasticache"].arn
}

output "waf_web_acl_arn" {
  description = "ARN of the WAFv2 web ACL for the ALB (Ingress annotation alb.ingress.kubernetes.io/wafv2-acl-arn); null when enable_waf is false."
  value       = one(aws_wafv2_web_acl.this[*].arn)
}

output "waf_web_acl_metric_name" {
  description = "CloudWatch metric name of the web ACL (the WebACL dimension of AWS/WAFV2 metrics); null when enable_waf is false."
  value       = one(aws_wafv2_web_acl.this[*].visibility_config[0].metric_name)
}

output "alb_security_group_id" {
  description = "ID of the ALB security group (Ingress annotation alb.ingress.kubernetes.io/security-groups)."
  value       = aws_security_group.alb.id
}

output "github_oidc_provider_arn" {
  description = "ARN of the account's GitHub Actions OIDC provider (created here or looked up)."
  value       = local.github_oidc_provider_arn
}

output "deploy_role_arn" {
  description = "ARN of the GitHub Actions deploy role (aws-actions/configure-aws-credentials role-to-assume)."
  value       = aws_iam_role.deploy.arn
}

output "deploy_role_name" {
  description = "Name of the GitHub Actions deploy role."
  value       = aws_iam_role.deploy.name
}

output "app_log_group_name" {
  description = "Name of the application's container log group."
  value       = aws_cloudwatch_log_group.app.name
}

output "waf_log_group_name" {
  description = "Name of the WAF log group; null when enable_waf is false."
  value       = one(aws_cloudwatch_log_group.waf[*].name)
}

output "kms_key_aliases" {
  description = "KMS alias names by purpose (eks, rds, logs, ecr, elasticache)."
  value       = { for k, a in aws_kms_alias.this : k => a.name }
}

output "plan_role_arn" {
  description = "ARN of the read-only role pull-request jobs assume to plan this environment."
  value       = aws_iam_role.plan.arn
}
