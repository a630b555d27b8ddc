# The inputs every module under terraform/modules takes: each one links this
# file as its inputs.tf, so they are declared once. modules/platform, where the
# values enter, declares and validates its own.

variable "name" {
  type        = string
  description = "Prefix of the module's resource names, e.g. \"flask-auth-prod\" (validated by modules/platform)."
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
  description = "Tags merged into every taggable resource of the module."
  default     = {}
}
