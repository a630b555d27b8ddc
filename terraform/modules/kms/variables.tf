variable "create_autoscaling_service_linked_role" {
  type        = bool
  description = "Create AWSServiceRoleForAutoScaling. Only needed in an account where no Auto Scaling group was ever created: the eks key policy names that role and KMS rejects policies naming a role that does not exist."
  default     = false
}
