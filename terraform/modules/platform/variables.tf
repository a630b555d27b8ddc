# The environment's settings, grouped by the part of the platform they shape:
# the roots pass their terraform.tfvars straight through (the groups untyped),
# so the types and the defaults of every value a person enters are here, once,
# and so are its checks, but for the database's and the cache's: modules/rds and
# modules/elasticache check those, the only modules that take them. name,
# environment, tags (inputs.tf) and log_retention_days (log_inputs.tf) are the
# ones every module takes, declared in the files they all link.

variable "vpc_cidr" {
  type        = string
  description = "The VPC's CIDR; the Helm chart's values-<environment>.yaml lists subnets carved from it."

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0))
    error_message = "vpc_cidr must be an IPv4 CIDR block."
  }
}

variable "network" {
  type = object({
    az_count           = number
    single_nat_gateway = bool
  })
  description = "Availability zones of the VPC (2 or 3), and one NAT gateway for all of them (true) or one in each."

  validation {
    condition     = contains([2, 3], var.network.az_count)
    error_message = "network.az_count must be 2 or 3 (EKS and the ALB refuse fewer than 2)."
  }
}

variable "nodes_in_one_zone" {
  type        = bool
  description = "Put the nodes in the first private subnet only (dev: the pod, its node and its EBS volume share a zone)."
}

variable "github" {
  type = object({
    repository            = string
    state_bucket_name     = string
    state_lock_table_name = optional(string, "")
  })
  description = "The repository whose workflows assume the deploy and plan roles, and the state those roles read: setup-backend.sh's bucket and lock table (kept for Terraform older than 1.10; empty: none). Its key: state_kms_key_alias."

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github.repository))
    error_message = "github.repository must look like owner/repo."
  }

  validation {
    condition = (
      can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.github.state_bucket_name)) &&
      (var.github.state_lock_table_name == "" || can(regex("^[A-Za-z0-9_.-]{3,255}$", var.github.state_lock_table_name)))
    )
    error_message = "github.state_bucket_name must be an S3 bucket name, state_lock_table_name empty or a DynamoDB table name."
  }
}

variable "create_github_oidc_provider" {
  type        = bool
  description = "Create the account's GitHub OIDC provider in this environment (exactly one per account: dev); the others look it up."
}

variable "state_kms_key_alias" {
  type        = string
  description = "Alias of the KMS key that encrypts the state (setup-backend.sh creates it): the deploy and plan roles may decrypt with it."

  validation {
    condition     = startswith(var.state_kms_key_alias, "alias/")
    error_message = "state_kms_key_alias must start with alias/."
  }
}

variable "waf" {
  type = object({
    enabled    = bool
    rate_limit = optional(number, 1000)
  })
  description = "A WAFv2 web ACL in front of the ALB, and the requests per client IP in 5 minutes before it blocks the client."

  validation {
    condition     = var.waf.rate_limit >= 100 && var.waf.rate_limit <= 2000000000 && floor(var.waf.rate_limit) == var.waf.rate_limit
    error_message = "waf.rate_limit must be a whole number between 100 and 2000000000."
  }
}

variable "ecr_keep_tagged_images" {
  type        = number
  description = "Tagged images the ECR lifecycle policy keeps (the rollback window)."

  validation {
    condition     = var.ecr_keep_tagged_images >= 1 && var.ecr_keep_tagged_images <= 1000 && floor(var.ecr_keep_tagged_images) == var.ecr_keep_tagged_images
    error_message = "ecr_keep_tagged_images must be a whole number between 1 and 1000."
  }
}

variable "cluster" {
  type = object({
    api_allowed_cidrs    = optional(list(string), [])
    admin_principal_arns = optional(list(string), [])
    route53_zone_id      = optional(string, "")
    node_groups = map(object({
      instance_types = list(string)
      min_size       = number
      desired_size   = number
      max_size       = number
    }))
  })
  description = <<-EOT
    The EKS cluster: the CIDRs that may reach its API from outside the VPC (empty, the
    default: a private endpoint; deploy from a runner inside the VPC), the IAM roles or
    users that administer it (EKS access entries), the Route53 hosted zone of the Ingress
    host that ExternalDNS's IRSA role may change (empty: no ExternalDNS role), and its
    on_demand (the baseline) and spot (bursts; max_size 0: none) node groups.
  EOT

  validation {
    condition     = alltrue([for c in var.cluster.api_allowed_cidrs : can(cidrhost(c, 0)) && !contains(["0.0.0.0/0", "::/0"], c)])
    error_message = "cluster.api_allowed_cidrs must be CIDR blocks, and not 0.0.0.0/0."
  }

  # A principal has one access entry: EKS rejects duplicates.
  validation {
    condition = (
      alltrue([for a in var.cluster.admin_principal_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/.+$", a))]) &&
      length(distinct(var.cluster.admin_principal_arns)) == length(var.cluster.admin_principal_arns)
    )
    error_message = "cluster.admin_principal_arns must be distinct IAM role or user ARNs (not assumed-role session ARNs)."
  }

  validation {
    condition     = var.cluster.route53_zone_id == "" || can(regex("^Z[A-Z0-9]{1,31}$", var.cluster.route53_zone_id))
    error_message = "cluster.route53_zone_id must be empty or a hosted zone ID such as Z0123456789ABCDEFGHIJ."
  }

  validation {
    condition = join(",", keys(var.cluster.node_groups)) == "on_demand,spot" && alltrue([
      for group, size in var.cluster.node_groups : alltrue([for n in [size.min_size, size.desired_size, size.max_size] : floor(n) == n]) &&
      (group == "spot" ? 0 : 1) <= size.min_size && size.min_size <= size.desired_size && size.desired_size <= size.max_size && size.max_size <= 100 &&
      (size.max_size == 0 || length(size.instance_types) > 0 && alltrue([for t in size.instance_types : can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", t))]))
    ])
    error_message = "cluster.node_groups needs on_demand and spot, each with EC2 instance types such as m5.large (spot: none when max_size is 0) and whole numbers with min_size <= desired_size <= max_size <= 100 (on_demand: min_size >= 1)."
  }
}

variable "create_database" {
  type        = bool
  description = "Create the RDS PostgreSQL database and its AWS Backup plan (false in dev: SQLite on the pod's volume)."
}

variable "database" {
  type = object({
    instance_class                      = string
    allocated_storage                   = number
    max_allocated_storage               = number
    multi_az                            = bool
    deletion_protection                 = bool
    backup_retention_days               = number
    performance_insights_retention_days = optional(number, 7)
  })
  description = "Size and protection of the RDS database (with create_database); modules/rds checks each value (its inputs of the same names)."
  default     = null
}

variable "create_cache" {
  type        = bool
  description = "Create the ElastiCache Redis of the rate-limit counters (false in dev: counted in the one pod)."

  # The replication group's id, <name>-redis, is at most 40 characters.
  validation {
    condition     = !var.create_cache || length(var.name) <= 34
    error_message = "With create_cache, name must be at most 34 characters (ElastiCache's replication group id <name>-redis is at most 40)."
  }
}

variable "cache" {
  type = object({
    node_type               = string
    num_cache_clusters      = number
    snapshot_retention_days = optional(number, 1)
  })
  description = "Size of the Redis replication group (with create_cache); modules/elasticache checks each value (its inputs of the same names)."
  default     = null
}

variable "alerts" {
  type = object({
    email_addresses                   = optional(list(string), [])
    monthly_budget_usd                = number
    alb_5xx_threshold_percent         = optional(number, 5)
    alb_p99_latency_threshold_seconds = optional(number, 1.5)
    waf_blocked_requests_threshold    = optional(number, 500)
  })
  description = "Who the alerts topic (database, ALB, WAF, backup alarms) and the budget e-mail (at most 9), the monthly AWS cost budget in USD (notified at 80% forecast and 100% actual), and the alarm thresholds: more than alb_5xx_threshold_percent of the requests getting a 5xx from the pods, a p99 target response time above alb_p99_latency_threshold_seconds, more than waf_blocked_requests_threshold requests blocked by the WAF in 5 minutes."

  validation {
    condition = (
      length(var.alerts.email_addresses) <= 9 &&
      alltrue([for e in var.alerts.email_addresses : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    )
    error_message = "alerts.email_addresses must be at most 9 e-mail addresses (the budget notifies up to 10 subscribers, the topic is one)."
  }

  validation {
    condition = (
      var.alerts.monthly_budget_usd > 0 &&
      var.alerts.alb_5xx_threshold_percent > 0 && var.alerts.alb_5xx_threshold_percent <= 100 &&
      var.alerts.alb_p99_latency_threshold_seconds > 0 &&
      var.alerts.waf_blocked_requests_threshold >= 1
    )
    error_message = "alerts needs a positive monthly_budget_usd and alb_p99_latency_threshold_seconds, alb_5xx_threshold_percent in (0, 100] and waf_blocked_requests_threshold >= 1."
  }
}

variable "alb_exists" {
  type        = bool
  description = "Set true once the first deploy has created the Ingress's ALB: its alarms look it up by its controller tags."
}

variable "backup" {
  type = object({
    retention_days      = optional(number, 7)
    copy_enabled        = optional(bool, false)
    copy_retention_days = optional(number, 30)
  })
  description = "The database's daily AWS Backup snapshots (with create_database): days each is kept, and whether each is copied to the backup_copy provider's region (the root's backup_copy_region) and kept there copy_retention_days."
  default     = {}
  nullable    = false

  validation {
    condition = alltrue([
      for days in [var.backup.retention_days, var.backup.copy_retention_days] : days >= 1 && floor(days) == days
    ])
    error_message = "backup.retention_days and copy_retention_days must be whole numbers of days, at least 1."
  }
}
