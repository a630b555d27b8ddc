output "eks_kms_key_arn" {
  description = "ARN of the KMS key for EKS secrets encryption and node EBS volumes."
  value       = aws_kms_key.this["eks"].arn
}

output "rds_kms_key_arn" {
  description = "ARN of the KMS key for RDS storage, Performance Insights, the master-user secret (and SNS topics of RDS events)."
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

output "kms_key_aliases" {
  description = "KMS alias names by purpose (eks, rds, logs, ecr, elasticache)."
  value       = { for k, a in aws_kms_alias.this : k => a.name }
}
