# The inputs every module under terraform/modules takes, modules/platform (where
# the values enter) included: each one links this file as its inputs.tf, so they
# are declared and checked once.

variable "name" {
  type        = string
  description = "Prefix of the module's resource names (modules/platform: of every resource of the environment), e.g. \"flask-auth-prod\"."

  # It prefixes the RDS instance, the ElastiCache group and the EKS cluster,
  # whose identifiers allow no trailing hyphen and no "--".
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,38}$", var.name)) && !endswith(var.name, "-") && !strcontains(var.name, "--")
    error_message = "name must be 2-39 lower-case letters, digits or hyphens, starting with a letter, not ending with a hyphen and without \"--\" (RDS and ElastiCache identifier rules)."
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
  description = "Tags merged into every taggable resource of the module."
  default     = {}
}
