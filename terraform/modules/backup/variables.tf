variable "resource_arns" {
  type        = list(string)
  description = "ARNs of the resources the plan backs up (the RDS instance)."
}

variable "alert_topic_arn" {
  type        = string
  description = "SNS topic told about failed backup, copy and restore jobs (modules/monitoring topic_arn)."
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key of the vault in the backups' region (modules/kms key_arns[\"backup\"])."
}

# ap-south-1 is UTC+05:30: 22:30 UTC is 04:00 IST, after the RDS backup window
# (19:30-20:30 UTC) and its Sunday maintenance window (21:00-22:00 UTC).
variable "schedule" {
  type        = string
  description = "When the daily backup starts (AWS Backup cron, UTC). Default 22:30 UTC, 04:00 IST."
  default     = "cron(30 22 * * ? *)"
}

variable "retention_days" {
  type        = number
  description = "Days each daily recovery point is kept in the vault."

  validation {
    condition     = var.retention_days >= 1 && floor(var.retention_days) == var.retention_days
    error_message = "retention_days must be a whole number of at least 1."
  }
}

variable "copy_enabled" {
  type        = bool
  description = "Copy every recovery point to a vault in the aws.copy provider's region."
}

variable "copy_retention_days" {
  type        = number
  description = "Days the cross-region copies are kept."

  validation {
    condition     = var.copy_retention_days >= 1 && floor(var.copy_retention_days) == var.copy_retention_days
    error_message = "copy_retention_days must be a whole number of at least 1."
  }
}
