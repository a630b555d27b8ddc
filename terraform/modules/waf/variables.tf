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

variable "enable_waf" {
  type        = bool
  description = "Create the WAFv2 web ACL (and its logging) for the ALB."
  default     = true
}

variable "waf_rate_limit" {
  type        = number
  description = "Requests allowed per client IP in a 5-minute window before the WAF blocks it."
  default     = 1000

  validation {
    condition     = var.waf_rate_limit >= 100 && var.waf_rate_limit <= 2000000000 && floor(var.waf_rate_limit) == var.waf_rate_limit
    error_message = "waf_rate_limit must be an integer between 100 and 2000000000."
  }
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the CloudWatch log groups created here (must be a value CloudWatch accepts)."
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "log_kms_key_arn" {
  type        = string
  description = "ARN of the KMS key that encrypts the log groups created here (modules/kms logs_kms_key_arn)."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.log_kms_key_arn))
    error_message = "log_kms_key_arn must be a KMS key ARN."
  }
}
