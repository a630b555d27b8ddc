# The retention of the CloudWatch log groups, an input of every module that
# creates log groups (eks, elasticache, rds, security, vpc, waf) and of
# modules/platform, which passes it to them: each links this file as its
# log_inputs.tf.

variable "log_retention_days" {
  type        = number
  description = "Retention of the module's CloudWatch log groups (modules/platform: every one of the environment's: flow logs, EKS, WAF, RDS, Redis, app), in days (a value CloudWatch Logs accepts)."

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}
