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
  default     = "flask-auth-staging"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,38}$", var.name))
    error_message = "name must be 2-39 lower-case letters, digits or hyphens, starting with a letter."
  }
}

variable "vpc_cidr" {
  type        = string
  description = "The VPC's CIDR; the Helm chart's values-staging.yaml lists subnets carved from it."
  default     = "10.20.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0))
    error_message = "vpc_cidr must be an IPv4 CIDR block."
  }
}

variable "github_repository" {
  type        = string
  description = "owner/repo of the repository whose workflow may assume the deploy role."

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must look like owner/repo."
  }
}

variable "create_github_oidc_provider" {
  type        = bool
  description = "Create the account's GitHub OIDC provider in this environment (exactly one per account: dev); the others look it up."
  default     = false
}

variable "api_allowed_cidrs" {
  type        = list(string)
  description = "CIDRs that may reach the cluster's public API endpoint (operators, CI runners)."

  validation {
    condition     = alltrue([for c in var.api_allowed_cidrs : can(cidrhost(c, 0)) && c != "0.0.0.0/0"])
    error_message = "api_allowed_cidrs must be CIDR blocks, and not 0.0.0.0/0."
  }
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

  validation {
    condition     = startswith(var.state_kms_key_alias, "alias/")
    error_message = "state_kms_key_alias must start with alias/."
  }
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
  description = "Days AWS Backup keeps each daily snapshot of the database."
}
