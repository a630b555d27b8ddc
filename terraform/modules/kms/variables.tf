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

variable "create_autoscaling_service_linked_role" {
  type        = bool
  description = "Create AWSServiceRoleForAutoScaling. Only needed in an account where no Auto Scaling group was ever created: the eks key policy names that role and KMS rejects policies naming a role that does not exist."
  default     = false
}
