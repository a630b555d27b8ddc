# The inputs of every environment root (dev, staging and prod link this file):
# each environment's terraform.tfvars gives the values that make it what it is.
# modules/platform validates the values it is passed (grouped by part: main.tf).

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

variable "name" {
  type        = string
  description = "Prefix of every resource name: the cluster, the repository, the keys."
}

variable "vpc_cidr" {
  type        = string
  description = "The VPC's CIDR; the Helm chart's values-<environment>.yaml lists subnets carved from it."
}

variable "github_repository" {
  type        = string
  description = "owner/repo of the repository whose workflow may assume the deploy role."
}

variable "create_github_oidc_provider" {
  type        = bool
  description = "Create the account's GitHub OIDC provider in this environment (exactly one per account: dev); the others look it up."
  default     = false
}

variable "api_allowed_cidrs" {
  type        = list(string)
  description = "CIDRs that may reach the cluster's API from outside the VPC. Empty (the default) keeps the endpoint private: deploy from a runner inside the VPC."
  default     = []
}

variable "admin_principal_arns" {
  type        = list(string)
  description = "IAM roles or users that administer the cluster (EKS access entries)."
  default     = []
}

variable "state_bucket_name" {
  type        = string
  description = "The Terraform state bucket (setup-backend.sh): the deploy role may read it."
}

variable "state_kms_key_alias" {
  type        = string
  description = "Alias of the KMS key that encrypts the state (setup-backend.sh creates it)."
  default     = "alias/flask-auth-terraform-state"
}

variable "state_lock_table_name" {
  type        = string
  description = "The DynamoDB lock table kept for Terraform older than 1.10."
  default     = ""
}

variable "tags" {
  type        = map(string)
  description = "Tags on every resource, merged over the environment's own."
  default     = {}
}

variable "alarm_email_addresses" {
  type        = list(string)
  description = "Who the alerts topic (database, ALB, WAF, backup alarms) and the budget e-mail."
  default     = []
}

variable "route53_zone_id" {
  type        = string
  description = "Route53 hosted zone of the Ingress host (the Helm values' host name): ExternalDNS's IRSA role may change only it. Empty = no ExternalDNS role."
  default     = ""
}

variable "monthly_budget_usd" {
  type        = number
  description = "The environment's monthly AWS cost budget in USD: notified at 80% forecast and 100% actual."
}

variable "alb_exists" {
  type        = bool
  description = "Set true once the first deploy has created the Ingress's ALB: Terraform then looks it up by its controller tags and creates the ALB alarms."
  default     = false
}

# ALB alarm thresholds (modules/monitoring): the defaults there, unless the
# environment's terraform.tfvars says otherwise.
variable "alb_5xx_threshold_percent" {
  type        = number
  description = "Alarm when more than this percentage of the requests get a 5xx from the pods."
  default     = 5
}

variable "alb_p99_latency_threshold_seconds" {
  type        = number
  description = "Alarm when the p99 target response time stays above this many seconds."
  default     = 1.5
}

variable "backup_retention_days" {
  type        = number
  description = "Days AWS Backup keeps each daily snapshot of the database (with create_database)."
  default     = 7
}

variable "waf_blocked_requests_threshold" {
  type        = number
  description = "Alarm when the WAF blocks more than this many requests in 5 minutes."
  default     = 500
}

variable "backup_copy_region" {
  type        = string
  description = "Second region holding a copy of every AWS Backup snapshot of the database."
  default     = "ap-southeast-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.backup_copy_region)) && var.backup_copy_region != "ap-south-1"
    error_message = "backup_copy_region must be an AWS region other than ap-south-1."
  }
}

variable "backup_copy_retention_days" {
  type        = number
  description = "Days the cross-region copies are kept."
  default     = 30
}

# --- Sizes and switches: what differs between the environments ---------------------------

variable "az_count" {
  type        = number
  description = "Availability zones of the VPC (EKS and the ALB need at least 2)."
}

variable "single_nat_gateway" {
  type        = bool
  description = "One NAT gateway for the whole VPC instead of one per zone."
}

variable "nodes_in_one_zone" {
  type        = bool
  description = "Put the nodes in the first private subnet only (dev: the pod, its node and its EBS volume share a zone)."
  default     = false
}

variable "log_retention_days" {
  type        = number
  description = "Retention of every CloudWatch log group of the environment (flow logs, EKS, WAF, RDS, Redis, app)."
}

variable "enable_waf" {
  type        = bool
  description = "Put a WAFv2 web ACL in front of the ALB."
}

variable "waf_rate_limit" {
  type        = number
  description = "Requests per client IP in 5 minutes before the WAF blocks it."
  default     = 1000
}

variable "ecr_keep_tagged_images" {
  type        = number
  description = "Tagged images the ECR lifecycle policy keeps (the rollback window)."
}

variable "on_demand_node_group" {
  type = object({
    instance_types = list(string)
    min_size       = number
    desired_size   = number
    max_size       = number
  })
  description = "The EKS on-demand node group: the baseline capacity."
}

variable "spot_node_group" {
  type = object({
    instance_types = list(string)
    min_size       = number
    desired_size   = number
    max_size       = number
  })
  description = "The EKS spot node group for bursts (max_size 0: none)."
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
  description = "Size and protection of the RDS database (with create_database)."
  default     = null
}

variable "create_cache" {
  type        = bool
  description = "Create the ElastiCache Redis of the rate-limit counters (false in dev: counted in the one pod)."
}

variable "cache" {
  type = object({
    node_type               = string
    num_cache_clusters      = number
    snapshot_retention_days = optional(number, 1)
  })
  description = "Size of the Redis replication group (with create_cache)."
  default     = null
}

variable "backup_copy_enabled" {
  type        = bool
  description = "Copy every AWS Backup snapshot of the database to backup_copy_region."
  default     = false
}
