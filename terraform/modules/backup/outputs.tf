output "vault_name" {
  description = "Name of the backup vault (aws backup list-recovery-points-by-backup-vault --backup-vault-name)."
  value       = aws_backup_vault.this.name
}


output "copy_vault_arn" {
  description = "ARN of the cross-region copy vault; null when copy_enabled is false."
  value       = one(aws_backup_vault.copy[*].arn)
}
