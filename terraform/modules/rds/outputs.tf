output "db_instance_identifier" {
  description = "RDS instance identifier (\"<name>-postgres\")."
  value       = aws_db_instance.this.identifier
}

output "db_instance_arn" {
  description = "ARN of the RDS instance."
  value       = aws_db_instance.this.arn
}


output "address" {
  description = "Hostname of the instance (for DATABASE_URL)."
  value       = aws_db_instance.this.address
}


output "master_user_secret_arn" {
  description = "ARN of the RDS-managed Secrets Manager secret with the master username and password (JSON keys username, password)."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}
