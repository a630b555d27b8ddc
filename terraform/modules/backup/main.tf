data "aws_region" "copy" {
  provider = aws.copy
}

# --- Keys ------------------------------------------------------------------------------------

# The vault's key is modules/kms's (var.kms_key_arn). A copied RDS snapshot is
# re-encrypted with the destination vault's key, which must live in the
# destination region: an account-owned key (key_policy.tf) that AWS Backup uses
# through grants it creates with the backup role's and the operator's IAM
# permissions, so no service statement.
resource "aws_kms_key" "copy" {
  count    = var.copy_enabled ? 1 : 0
  provider = aws.copy

  description             = "${var.name} AWS Backup cross-region copy vault"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.key_owner.json

  tags = merge(var.tags, { Name = "${var.name}-backup-copy" })
}

resource "aws_kms_alias" "copy" {
  count    = var.copy_enabled ? 1 : 0
  provider = aws.copy

  name          = "alias/${var.name}-backup-copy"
  target_key_id = aws_kms_key.copy[0].key_id
}

# --- Vaults -----------------------------------------------------------------------------------

resource "aws_backup_vault" "this" {
  name        = var.name
  kms_key_arn = var.kms_key_arn

  tags = merge(var.tags, { Name = var.name })
}

resource "aws_backup_vault" "copy" {
  count    = var.copy_enabled ? 1 : 0
  provider = aws.copy

  name        = "${var.name}-copy"
  kms_key_arn = aws_kms_key.copy[0].arn

  tags = merge(var.tags, { Name = "${var.name}-copy" })

  lifecycle {
    precondition {
      condition     = data.aws_region.copy.id != local.region
      error_message = "The aws.copy provider must be in another region than the backups, or the copy protects against nothing."
    }
  }
}

# Failed backups and copies land on the environment's alerts topic.
resource "aws_backup_vault_notifications" "this" {
  backup_vault_name   = aws_backup_vault.this.name
  sns_topic_arn       = var.alert_topic_arn
  backup_vault_events = ["BACKUP_JOB_FAILED", "COPY_JOB_FAILED", "RESTORE_JOB_FAILED"]
}

# --- Plan ---------------------------------------------------------------------------------------

resource "aws_backup_plan" "this" {
  name = var.name

  rule {
    rule_name         = "daily"
    target_vault_name = aws_backup_vault.this.name
    schedule          = var.schedule
    start_window      = 60
    # A large database's first (full) snapshot can take hours.
    completion_window = 480

    lifecycle {
      delete_after = var.retention_days
    }

    dynamic "copy_action" {
      for_each = var.copy_enabled ? [1] : []

      content {
        destination_vault_arn = aws_backup_vault.copy[0].arn

        lifecycle {
          delete_after = var.copy_retention_days
        }
      }
    }

    recovery_point_tags = merge(var.tags, { BackupPlan = var.name, Environment = var.environment })
  }

  tags = merge(var.tags, { Name = var.name })
}

# --- The role AWS Backup works with ---------------------------------------------------------------

# The role and its policy attachments are aws_iam_role.service[0] and
# aws_iam_role_policy_attachment.service (service_role_trust.tf).
locals {
  service_role = {
    enabled          = true
    name             = "${var.name}-backup"
    description      = "AWS Backup snapshots, copies and restores of ${var.name}"
    sid              = "AwsBackup"
    service          = "backup.amazonaws.com"
    source_arn       = null
    managed_policies = ["AWSBackupServiceRolePolicyForBackup", "AWSBackupServiceRolePolicyForRestores"]
  }
}

# Where the role and its attachments were this module's own; keep while any
# state may still have the old addresses.
moved {
  from = aws_iam_role.backup
  to   = aws_iam_role.service[0]
}

moved {
  from = aws_iam_role_policy_attachment.backup["AWSBackupServiceRolePolicyForBackup"]
  to   = aws_iam_role_policy_attachment.service["AWSBackupServiceRolePolicyForBackup"]
}

moved {
  from = aws_iam_role_policy_attachment.backup["AWSBackupServiceRolePolicyForRestores"]
  to   = aws_iam_role_policy_attachment.service["AWSBackupServiceRolePolicyForRestores"]
}

resource "aws_backup_selection" "this" {
  name         = "${var.name}-resources"
  plan_id      = aws_backup_plan.this.id
  iam_role_arn = aws_iam_role.service[0].arn
  resources    = var.resource_arns
}
