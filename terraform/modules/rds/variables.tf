variable "engine_version" {
  type        = string
  description = "PostgreSQL version: the major only (\"16\"), so that AWS applies minor upgrades (auto_minor_version_upgrade) and no later plan tries to move the instance back; a pinned minor (\"16.6\") needs raising after each upgrade."
  default     = "16"
}

variable "instance_class" {
  type        = string
  description = "DB instance class, e.g. db.t4g.small or db.m6g.large."

  validation {
    condition     = can(regex("^db\\.[a-z0-9]+\\.[a-z0-9]+$", var.instance_class))
    error_message = "instance_class must look like db.<family>.<size>, e.g. db.m6g.large."
  }
}

variable "allocated_storage" {
  type        = number
  description = "Initial gp3 storage in GiB (20..65536)."

  validation {
    condition     = var.allocated_storage >= 20 && var.allocated_storage <= 65536 && floor(var.allocated_storage) == var.allocated_storage
    error_message = "allocated_storage must be a whole number of GiB from 20 to 65536."
  }
}

variable "max_allocated_storage" {
  type        = number
  description = "Upper limit in GiB for storage autoscaling; 0 turns autoscaling off."

  validation {
    condition     = var.max_allocated_storage == 0 || (var.max_allocated_storage > var.allocated_storage && var.max_allocated_storage <= 65536)
    error_message = "max_allocated_storage must be 0 (no autoscaling) or above allocated_storage and at most 65536."
  }
}

variable "multi_az" {
  type        = bool
  description = "Run a synchronous standby in a second AZ with automatic failover."
}

variable "deletion_protection" {
  type        = bool
  description = "Block deletion of the instance. When true a final snapshot is also taken on destroy."
}

variable "backup_retention_days" {
  type        = number
  description = "Days to keep automated backups (1..35)."

  validation {
    condition     = var.backup_retention_days >= 1 && var.backup_retention_days <= 35 && floor(var.backup_retention_days) == var.backup_retention_days
    error_message = "backup_retention_days must be a whole number between 1 and 35."
  }
}

variable "performance_insights_retention_days" {
  type        = number
  description = "Performance Insights retention: 7 (free tier), a multiple of 31 up to 713, or 731."

  validation {
    condition     = contains(concat([7, 731], [for n in range(1, 24) : 31 * n]), var.performance_insights_retention_days)
    error_message = "performance_insights_retention_days must be 7, 31*n for n in 1..23, or 731."
  }
}
