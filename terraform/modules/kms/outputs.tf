output "key_arns" {
  description = "KMS key ARNs by purpose: eks (secrets, node volumes), rds (storage, Performance Insights, the master-user secret), logs (CloudWatch Logs of this account and region), ecr, elasticache (at rest and its Secrets Manager secret), alerts (modules/monitoring's topic), backup (modules/backup's vault; only with create_backup_key)."
  value       = { for k, key in aws_kms_key.this : k => key.arn }
}

output "kms_key_aliases" {
  description = "KMS alias names by purpose (eks, rds, logs, ecr, elasticache, alerts and, with create_backup_key, backup)."
  value       = { for k, a in aws_kms_alias.this : k => a.name }
}
