variable "enable_waf" {
  type        = bool
  description = "Create the WAFv2 web ACL (and its logging) for the ALB."
}

variable "waf_rate_limit" {
  type        = number
  description = "Requests allowed per client IP in a 5-minute window before the WAF blocks it."
}

variable "log_kms_key_arn" {
  type        = string
  description = "ARN of the KMS key that encrypts the module's log groups (modules/kms logs_kms_key_arn): its policy lets logs.<region>.amazonaws.com use it."
}
