output "replication_group_id" {
  description = "ElastiCache replication group id (\"<name>-redis\")."
  value       = aws_elasticache_replication_group.this.id
}

output "primary_endpoint_address" {
  description = "Hostname of the primary (follows failover)."
  value       = aws_elasticache_replication_group.this.primary_endpoint_address
}

output "port" {
  description = "Redis port."
  value       = aws_elasticache_replication_group.this.port
}

output "security_group_id" {
  description = "Security group of the replication group (6379 from allowed_security_group_ids only)."
  value       = aws_security_group.this.id
}

output "url_secret_arn" {
  description = "ARN of the Secrets Manager secret holding the rediss:// URL (RATELIMIT_STORAGE_URI)."
  value       = aws_secretsmanager_secret.url.arn
}
