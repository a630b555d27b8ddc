output "vault_name" {
  description = "Name of the backup vault (aws backup list-recovery-points-by-backup-vault --backup-vault-name)."
  value       = aws_backup_vault.this.name
}

output "vault_arn" {
  description = "ARN of the backup vault."
  value       = aws_backup_vault.this.arn
}

output "copy_vault_arn" {
  description = "ARN of the cross-region copy vault; null when copy_enabled is false."
  value       = one(aws_backup_vault.copy[*].arn)
}

output "plan_id" {
  description = "ID of the backup plan."
  value       = aws_backup_plan.this.id
}

output "role_arn" {
  description = "IAM role AWS Backup uses for the backups and restores."
  value       = aws_iam_role.backup.arn
}
