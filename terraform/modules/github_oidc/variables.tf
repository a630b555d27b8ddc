variable "name" {
  type        = string
  description = "Prefix for resource names, e.g. \"flask-auth-prod\"."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,38}$", var.name))
    error_message = "name must match ^[a-z][a-z0-9-]{1,38}$ (lowercase, starts with a letter, 2-39 chars)."
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

variable "github_repository" {
  type        = string
  description = "GitHub repository allowed to deploy, as \"owner/repo\" (case must match GitHub's)."

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must be \"owner/repo\" using only letters, digits, '_', '.', '-'."
  }
}

variable "github_environment" {
  type        = string
  description = "GitHub Actions environment whose jobs may assume the deploy role, e.g. \"production\"."

  validation {
    # ':' would break the sub claim format; '*' and '?' suggest a wildcard that StringEquals would not honour.
    condition     = length(var.github_environment) > 0 && length(var.github_environment) <= 255 && !can(regex("[:*?]", var.github_environment))
    error_message = "github_environment must be 1-255 characters and must not contain ':', '*' or '?'."
  }
}

variable "create_github_oidc_provider" {
  type        = bool
  description = "Create the account's token.actions.githubusercontent.com OIDC provider here. IAM allows one per account: true in exactly one environment of the account, the others look it up (and must be applied after it)."
  default     = false
}

variable "plan_readable_secret_names" {
  type        = list(string)
  description = "Names of this environment's Secrets Manager secrets whose value a plan refreshes (the Redis URL): the plan role may read them, and only them."
  default     = []
}

variable "ecr_repository_name" {
  type        = string
  description = "Name of the app's ECR repository (the deploy role may push/pull only there)."

  validation {
    condition     = length(var.ecr_repository_name) >= 2 && length(var.ecr_repository_name) <= 256 && can(regex("^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$", var.ecr_repository_name))
    error_message = "ecr_repository_name must be a valid ECR repository name (lowercase, 2-256 chars, optional / namespaces)."
  }
}

variable "eks_cluster_name" {
  type        = string
  description = "Name of the EKS cluster the deploy role may describe."

  validation {
    condition     = can(regex("^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$", var.eks_cluster_name))
    error_message = "eks_cluster_name must be 1-100 characters: letters, digits, '-' and '_', starting with a letter or digit."
  }
}

variable "state_bucket_name" {
  type        = string
  description = "S3 bucket holding Terraform state; the deploy role may read it (the pipeline reads terraform outputs)."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.state_bucket_name))
    error_message = "state_bucket_name must be a valid S3 bucket name."
  }
}

variable "state_key_prefix" {
  type        = string
  description = "Key prefix of this environment's state in the bucket (e.g. \"flask-auth/prod/\"): the deploy and plan roles may read only objects under it."

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.()'-]+(/[A-Za-z0-9!_.()'-]+)*/$", var.state_key_prefix))
    error_message = "state_key_prefix must be a non-empty key prefix ending in '/', without wildcards or a leading '/'."
  }
}

variable "state_lock_table_name" {
  type        = string
  description = "DynamoDB lock table of the state backend, if one is used (the S3 backend reads its digest item). Empty = none (S3 native locking)."
  default     = ""

  validation {
    condition     = var.state_lock_table_name == "" || can(regex("^[A-Za-z0-9_.-]{3,255}$", var.state_lock_table_name))
    error_message = "state_lock_table_name must be empty or a valid DynamoDB table name."
  }
}

variable "state_kms_key_arn" {
  type        = string
  description = "ARN of the KMS key encrypting the state objects, if SSE-KMS is used. Empty = none."
  default     = ""

  validation {
    condition     = var.state_kms_key_arn == "" || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.state_kms_key_arn))
    error_message = "state_kms_key_arn must be empty or a KMS key ARN (arn:...:kms:<region>:<account>:key/<id>; aliases do not work in IAM policies)."
  }
}

variable "secrets_kms_key_arn" {
  type        = string
  description = "ARN of the KMS key of the secrets named in plan_readable_secret_names (modules/kms elasticache_kms_key_arn): the plan role may decrypt with it."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.secrets_kms_key_arn))
    error_message = "secrets_kms_key_arn must be a KMS key ARN."
  }
}
