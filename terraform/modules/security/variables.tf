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

variable "vpc_id" {
  type        = string
  description = "VPC that holds the ALB security group."

  validation {
    condition     = can(regex("^vpc-[0-9a-f]{8,17}$", var.vpc_id))
    error_message = "vpc_id must look like vpc-0123456789abcdef0."
  }
}

variable "vpc_cidr_block" {
  type        = string
  description = "IPv4 CIDR of the VPC; the ALB may only send traffic to pod IPs inside it."

  validation {
    condition     = can(cidrnetmask(var.vpc_cidr_block))
    error_message = "vpc_cidr_block must be a valid IPv4 CIDR, e.g. 10.0.0.0/16."
  }
}

variable "alb_ingress_cidrs" {
  type        = list(string)
  description = "IPv4 CIDRs allowed to reach the public ALB on 80 and 443."
  default     = ["0.0.0.0/0"]

  validation {
    condition     = length(var.alb_ingress_cidrs) > 0 && alltrue([for c in var.alb_ingress_cidrs : can(cidrnetmask(c))])
    error_message = "alb_ingress_cidrs must be a non-empty list of valid IPv4 CIDRs."
  }
}

variable "app_port" {
  type        = number
  description = "Container port of the Flask app (the ALB targets pod IPs on this port)."
  default     = 8000

  validation {
    condition     = var.app_port >= 1 && var.app_port <= 65535 && floor(var.app_port) == var.app_port
    error_message = "app_port must be an integer between 1 and 65535."
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
