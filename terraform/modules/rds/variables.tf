variable "name" {
  type        = string
  description = "Prefix for resource names, e.g. \"flask-auth-prod\". The DB instance is \"<name>-postgres\"."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,38}$", var.name))
    error_message = "name must match ^[a-z][a-z0-9-]{1,38}$."
  }

  # RDS identifiers may not end with a hyphen or contain two in a row.
  validation {
    condition     = !endswith(var.name, "-") && !strcontains(var.name, "--")
    error_message = "name must not end with a hyphen or contain \"--\" (RDS identifier rules)."
  }
}

variable "environment" {
  type        = string
  description = "Deployment environment: dev, staging or prod."

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be one of dev, staging, prod."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags merged into every taggable resource."
  default     = {}
}

variable "vpc_id" {
  type        = string
  description = "VPC that holds the database subnets."

  validation {
    condition     = can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "vpc_id must look like vpc-0123456789abcdef0."
  }
}

variable "subnet_ids" {
  type        = list(string)
  description = "Database subnets (at least two, in different AZs) for the DB subnet group."

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "subnet_ids needs at least two subnets: a DB subnet group must span two AZs."
  }

  validation {
    condition     = alltrue([for s in var.subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "Every subnet_ids entry must look like subnet-0123456789abcdef0."
  }
}

variable "allowed_security_group_ids" {
  type        = list(string)
  description = "Security groups (the EKS nodes) that may connect on 5432. Nothing else is allowed in."

  validation {
    condition     = length(var.allowed_security_group_ids) >= 1
    error_message = "allowed_security_group_ids needs at least one security group, or nothing can reach the database."
  }

  validation {
    condition     = alltrue([for s in var.allowed_security_group_ids : can(regex("^sg-[0-9a-f]+$", s))])
    error_message = "Every allowed_security_group_ids entry must look like sg-0123456789abcdef0."
  }
}

variable "engine_version" {
  type        = string
  description = "PostgreSQL 16 version. With auto minor upgrades on, \"16\" avoids a plan that tries to move back after AWS upgrades the minor version."
  default     = "16.6"

  validation {
    condition     = can(regex("^16(\\.[0-9]+)?$", var.engine_version))
    error_message = "engine_version must be PostgreSQL 16: \"16\" or \"16.<minor>\"."
  }
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
  default     = 20

  validation {
    condition     = var.allocated_storage >= 20 && var.allocated_storage <= 65536 && floor(var.allocated_storage) == var.allocated_storage
    error_message = "allocated_storage must be a whole number of GiB between 20 and 65536."
  }
}

variable "max_allocated_storage" {
  type        = number
  description = "Upper limit in GiB for storage autoscaling; 0 turns autoscaling off."
  default     = 100

  validation {
    condition = var.max_allocated_storage == 0 || (
      var.max_allocated_storage > var.allocated_storage && var.max_allocated_storage <= 65536
    )
    error_message = "max_allocated_storage must be 0 (no autoscaling) or greater than allocated_storage and at most 65536."
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

variable "kms_key_arn" {
  type        = string
  description = "Customer-managed KMS key for storage, Performance Insights, the master secret and the log groups."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)."
  }
}

variable "monitoring_interval" {
  type        = number
  description = "Enhanced Monitoring interval in seconds; 0 turns it off (and creates no IAM role)."
  default     = 60

  validation {
    condition     = contains([0, 1, 5, 10, 15, 30, 60], var.monitoring_interval)
    error_message = "monitoring_interval must be one of 0, 1, 5, 10, 15, 30, 60."
  }
}

variable "performance_insights_retention_days" {
  type        = number
  description = "Performance Insights retention: 7 (free tier), a multiple of 31 up to 713, or 731."
  default     = 7

  validation {
    condition = (
      var.performance_insights_retention_days == 7 ||
      var.performance_insights_retention_days == 731 ||
      (
        var.performance_insights_retention_days >= 31 &&
        var.performance_insights_retention_days <= 713 &&
        var.performance_insights_retention_days % 31 == 0
      )
    )
    error_message = "performance_insights_retention_days must be 7, 31*n for n in 1..23, or 731."
  }
}

variable "database_name" {
  type        = string
  description = "Name of the database created on the instance."
  default     = "flask_auth"

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9_]{0,62}$", var.database_name)) && !contains(["postgres", "template0", "template1", "rdsadmin"], lower(var.database_name))
    error_message = "database_name must start with a letter, hold only letters, digits and underscores (max 63), and not be a reserved name."
  }
}

variable "master_username" {
  type        = string
  description = "Master user name. Its password is generated and kept in Secrets Manager by RDS."
  default     = "flask_auth_admin"

  validation {
    condition = (
      can(regex("^[a-zA-Z][a-zA-Z0-9_]{0,62}$", var.master_username)) &&
      !startswith(lower(var.master_username), "pg_") &&
      !startswith(lower(var.master_username), "rds") &&
      lower(var.master_username) != "public"
    )
    error_message = "master_username must start with a letter, hold only letters, digits and underscores (max 63), and not be reserved (public, pg_*, rds*)."
  }
}

variable "alarm_topic_arn" {
  type        = string
  description = "SNS topic the alarms notify on ALARM and OK: the environment's alerts topic (modules/monitoring topic_arn)."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:.+$", var.alarm_topic_arn))
    error_message = "alarm_topic_arn must be an SNS topic ARN."
  }
}

variable "cpu_alarm_threshold_percent" {
  type        = number
  description = "Alarm when average CPU stays above this percentage."
  default     = 80

  validation {
    condition     = var.cpu_alarm_threshold_percent > 0 && var.cpu_alarm_threshold_percent <= 100
    error_message = "cpu_alarm_threshold_percent must be in (0, 100]."
  }
}

variable "free_storage_alarm_threshold_bytes" {
  type        = number
  description = "Alarm when free storage drops below this many bytes (default 2 GiB)."
  default     = 2147483648

  validation {
    condition     = var.free_storage_alarm_threshold_bytes > 0
    error_message = "free_storage_alarm_threshold_bytes must be positive."
  }
}

variable "connections_alarm_threshold" {
  type        = number
  description = "Alarm when the number of database connections stays above this."
  default     = 80

  validation {
    condition     = var.connections_alarm_threshold > 0
    error_message = "connections_alarm_threshold must be positive."
  }
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the exported PostgreSQL logs in CloudWatch."
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  }
}

# ap-south-1 is UTC+05:30: 19:30-20:30 UTC is 01:00-02:00 IST, the quietest hour.
variable "backup_window" {
  type        = string
  description = "Daily backup window in UTC (hh24:mi-hh24:mi, at least 30 minutes). Default: 01:00-02:00 IST."
  default     = "19:30-20:30"

  validation {
    condition     = can(regex("^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$", var.backup_window))
    error_message = "backup_window must be hh24:mi-hh24:mi in UTC."
  }
}

# After the backup window so the two never overlap: Sunday 21:00-22:00 UTC is
# Monday 02:30-03:30 IST.
variable "maintenance_window" {
  type        = string
  description = "Weekly maintenance window in UTC (ddd:hh24:mi-ddd:hh24:mi); must not overlap backup_window. Default: Mon 02:30-03:30 IST."
  default     = "sun:21:00-sun:22:00"

  validation {
    condition     = can(regex("^(mon|tue|wed|thu|fri|sat|sun):([01][0-9]|2[0-3]):[0-5][0-9]-(mon|tue|wed|thu|fri|sat|sun):([01][0-9]|2[0-3]):[0-5][0-9]$", var.maintenance_window))
    error_message = "maintenance_window must be ddd:hh24:mi-ddd:hh24:mi in UTC, e.g. sun:21:00-sun:22:00."
  }
}

variable "delete_automated_backups" {
  type        = bool
  description = "Delete automated backups together with the instance. false keeps them (point-in-time restore) until backup_retention_days runs out."
  default     = false
}
