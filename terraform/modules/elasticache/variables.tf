variable "name" {
  type        = string
  description = "Prefix for resource names, e.g. \"flask-auth-prod\". The replication group is \"<name>-redis\"."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,38}$", var.name))
    error_message = "name must match ^[a-z][a-z0-9-]{1,38}$."
  }

  # replication_group_id = "<name>-redis" must stay within ElastiCache's 40 characters.
  validation {
    condition     = length(var.name) <= 34
    error_message = "name must be at most 34 characters here: the replication group id \"<name>-redis\" is limited to 40."
  }

  # ElastiCache identifiers may not end with a hyphen or contain two in a row.
  validation {
    condition     = !endswith(var.name, "-") && !strcontains(var.name, "--")
    error_message = "name must not end with a hyphen or contain \"--\" (ElastiCache identifier rules)."
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
  description = "VPC that holds the cache subnets."

  validation {
    condition     = can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "vpc_id must look like vpc-0123456789abcdef0."
  }
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets for the cache subnet group (spread over AZs; two or more when num_cache_clusters > 1)."

  validation {
    condition     = length(var.subnet_ids) >= 1
    error_message = "subnet_ids needs at least one subnet."
  }

  validation {
    condition     = alltrue([for s in var.subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "Every subnet_ids entry must look like subnet-0123456789abcdef0."
  }
}

variable "allowed_security_group_ids" {
  type        = list(string)
  description = "Security groups (the EKS nodes) that may connect on 6379. Nothing else is allowed in."

  validation {
    condition     = length(var.allowed_security_group_ids) >= 1
    error_message = "allowed_security_group_ids needs at least one security group, or nothing can reach Redis."
  }

  validation {
    condition     = alltrue([for s in var.allowed_security_group_ids : can(regex("^sg-[0-9a-f]+$", s))])
    error_message = "Every allowed_security_group_ids entry must look like sg-0123456789abcdef0."
  }
}

variable "node_type" {
  type        = string
  description = "Cache node type, e.g. cache.t4g.small."

  validation {
    condition     = can(regex("^cache\\.[a-z0-9]+\\.[a-z0-9]+$", var.node_type))
    error_message = "node_type must look like cache.<family>.<size>, e.g. cache.t4g.small."
  }
}

variable "num_cache_clusters" {
  type        = number
  description = "Nodes in the replication group (1 primary + replicas), 1..6. More than 1 turns on automatic failover and Multi-AZ."

  validation {
    condition     = var.num_cache_clusters >= 1 && var.num_cache_clusters <= 6 && floor(var.num_cache_clusters) == var.num_cache_clusters
    error_message = "num_cache_clusters must be a whole number between 1 and 6."
  }

  # Multi-AZ needs the subnet group to offer a second AZ.
  validation {
    condition     = var.num_cache_clusters == 1 || length(var.subnet_ids) >= 2
    error_message = "num_cache_clusters > 1 (Multi-AZ) needs at least two subnets in different AZs."
  }
}

variable "engine_version" {
  type        = string
  description = "Redis OSS 7 engine version (major.minor), e.g. \"7.1\"."
  default     = "7.1"

  validation {
    condition     = can(regex("^7\\.[0-9]+$", var.engine_version))
    error_message = "engine_version must be Redis 7 as major.minor, e.g. \"7.1\" (the module uses the redis7 parameter family)."
  }
}

variable "kms_key_arn" {
  type        = string
  description = "Customer-managed KMS key for data at rest, the URL secret and the log groups."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)."
  }
}

variable "snapshot_retention_days" {
  type        = number
  description = "Days to keep automatic snapshots (0 turns snapshots off)."
  default     = 1

  validation {
    condition     = var.snapshot_retention_days >= 0 && var.snapshot_retention_days <= 35 && floor(var.snapshot_retention_days) == var.snapshot_retention_days
    error_message = "snapshot_retention_days must be a whole number between 0 and 35."
  }
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the slow-log and engine-log groups in CloudWatch."
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  }
}

# ap-south-1 is UTC+05:30: 18:30-19:30 UTC is 00:00-01:00 IST.
variable "snapshot_window" {
  type        = string
  description = "Daily snapshot window in UTC (hh24:mi-hh24:mi, at least 60 minutes). Default: 00:00-01:00 IST."
  default     = "18:30-19:30"

  validation {
    condition     = can(regex("^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$", var.snapshot_window))
    error_message = "snapshot_window must be hh24:mi-hh24:mi in UTC."
  }
}

# After the snapshot window, never overlapping it: Sunday 20:00-21:00 UTC is
# Monday 01:30-02:30 IST.
variable "maintenance_window" {
  type        = string
  description = "Weekly maintenance window in UTC (ddd:hh24:mi-ddd:hh24:mi); must not overlap snapshot_window. Default: Mon 01:30-02:30 IST."
  default     = "sun:20:00-sun:21:00"

  validation {
    condition     = can(regex("^(mon|tue|wed|thu|fri|sat|sun):([01][0-9]|2[0-3]):[0-5][0-9]-(mon|tue|wed|thu|fri|sat|sun):([01][0-9]|2[0-3]):[0-5][0-9]$", var.maintenance_window))
    error_message = "maintenance_window must be ddd:hh24:mi-ddd:hh24:mi in UTC, e.g. sun:20:00-sun:21:00."
  }
}
