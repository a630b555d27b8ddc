output "db_instance_identifier" {
  description = "RDS instance identifier (\"<name>-postgres\")."
  value       = aws_db_instance.this.identifier
}

output "db_instance_arn" {
  description = "ARN of the RDS instance."
  value       = aws_db_instance.this.arn
}

output "endpoint" {
  description = "Connection endpoint as host:port."
  value       = aws_db_instance.this.endpoint
}

output "address" {
  description = "Hostname of the instance (for DATABASE_URL)."
  value       = aws_db_instance.this.address
}

output "port" {
  description = "PostgreSQL port."
  value       = aws_db_instance.this.port
}

output "database_name" {
  description = "Name of the application database."
  value       = aws_db_instance.this.db_name
}

output "master_user_secret_arn" {
  description = "ARN of the RDS-managed Secrets Manager secret with the master username and password (JSON keys username, password)."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}

output "security_group_id" {
  description = "Security group of the instance (5432 from allowed_security_group_ids only)."
  value       = aws_security_group.this.id
}

output "parameter_group_name" {
  description = "Name of the DB parameter group (postgres16, TLS enforced)."
  value       = aws_db_parameter_group.this.name
}
