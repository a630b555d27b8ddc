# The inputs of every environment root (dev, staging and prod link this file):
# each environment's terraform.tfvars gives the values that make it what it is.
# The grouped settings (network, github, waf, cluster, database, cache, alerts,
# backup) go to modules/platform as they are: their attributes, defaults and
# checks are its variables' (terraform/modules/platform/README.md), so they are
# untyped here and a wrong value is reported against them.

variable "environment" {
  type        = string
  description = "Which environment this root is: dev, staging or prod (also the GitHub environment whose jobs may assume the deploy role)."
}

variable "region" {
  type        = string
  description = "AWS region of every resource in this environment."
  default     = "ap-south-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as ap-south-1."
  }
}

variable "backup_copy_region" {
  type        = string
  description = "Second region holding a copy of every AWS Backup snapshot of the database (with backup.copy_enabled)."
  default     = "ap-southeast-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.backup_copy_region)) && var.backup_copy_region != "ap-south-1"
    error_message = "backup_copy_region must be an AWS region other than ap-south-1."
  }
}

variable "name" {
  type        = string
  description = "Prefix of every resource name: the cluster, the repository, the keys."
}

variable "tags" {
  type        = map(string)
  description = "Tags on every resource, merged over the environment's own."
  default     = {}
}

variable "vpc_cidr" {
  type        = string
  description = "The VPC's CIDR; the Helm chart's values-<environment>.yaml lists subnets carved from it."
}

variable "log_retention_days" {
  type        = number
  description = "Retention of every CloudWatch log group of the environment (flow logs, EKS, WAF, RDS, Redis, app)."
}

variable "ecr_keep_tagged_images" {
  type        = number
  description = "Tagged images the ECR lifecycle policy keeps (the rollback window)."
}

variable "state_kms_key_alias" {
  type        = string
  description = "Alias of the KMS key that encrypts the state (setup-backend.sh creates it)."
  default     = "alias/flask-auth-terraform-state"
}

# --- Switches ------------------------------------------------------------------------------

variable "create_github_oidc_provider" {
  type        = bool
  description = "Create the account's GitHub OIDC provider in this environment (exactly one per account: dev); the others look it up."
  default     = false
}

variable "nodes_in_one_zone" {
  type        = bool
  description = "Put the nodes in the first private subnet only (dev: the pod, its node and its EBS volume share a zone)."
  default     = false
}

variable "create_database" {
  type        = bool
  description = "Create the RDS PostgreSQL database (the database setting) and its AWS Backup plan (false in dev: SQLite on the pod's volume)."
}

variable "create_cache" {
  type        = bool
  description = "Create the ElastiCache Redis of the rate-limit counters (the cache setting; false in dev: counted in the one pod)."
}

variable "alb_exists" {
  type        = bool
  description = "Set true once the first deploy has created the Ingress's ALB: Terraform then looks it up by its controller tags and creates the ALB alarms."
  default     = false
}

# --- Grouped settings: modules/platform's variables of the same names -----------------------

variable "network" {
  type        = any
  description = "modules/platform's network: { az_count, single_nat_gateway }."
}

variable "github" {
  type        = any
  description = "modules/platform's github: { repository, state_bucket_name, state_lock_table_name }."
}

variable "waf" {
  type        = any
  description = "modules/platform's waf: { enabled, rate_limit }."
}

variable "cluster" {
  type        = any
  description = "modules/platform's cluster: { api_allowed_cidrs, admin_principal_arns, route53_zone_id, node_groups = { on_demand, spot } }."
}

variable "database" {
  type        = any
  description = "modules/platform's database (with create_database): { instance_class, allocated_storage, ... }."
  default     = null
}

variable "cache" {
  type        = any
  description = "modules/platform's cache (with create_cache): { node_type, num_cache_clusters, snapshot_retention_days }."
  default     = null
}

variable "alerts" {
  type        = any
  description = "modules/platform's alerts: { email_addresses, monthly_budget_usd, alb_5xx_threshold_percent, ... }."
}

variable "backup" {
  type        = any
  description = "modules/platform's backup (with create_database): { retention_days, copy_enabled, copy_retention_days }; null: its defaults."
  default     = null
}
