variable "vpc_id" {
  type        = string
  description = "VPC that holds the ALB security group."
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
}

variable "app_port" {
  type        = number
  description = "Container port of the Flask app (the ALB targets pod IPs on this port)."
  default     = 8000
}

variable "log_kms_key_arn" {
  type        = string
  description = "ARN of the KMS key that encrypts the module's log groups (modules/kms logs_kms_key_arn): its policy lets logs.<region>.amazonaws.com use it."
}
