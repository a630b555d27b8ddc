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
    condition     = contains([1, 2, 3, 4, 5, 6], var.num_cache_clusters)
    error_message = "num_cache_clusters must be a whole number from 1 to 6."
  }
}

variable "snapshot_retention_days" {
  type        = number
  description = "Days to keep automatic snapshots (0 turns snapshots off)."

  validation {
    condition     = var.snapshot_retention_days >= 0 && var.snapshot_retention_days <= 35 && floor(var.snapshot_retention_days) == var.snapshot_retention_days
    error_message = "snapshot_retention_days must be a whole number between 0 and 35."
  }
}
