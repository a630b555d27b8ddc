variable "create_autoscaling_service_linked_role" {
  type        = bool
  description = "Create AWSServiceRoleForAutoScaling. Only needed in an account where no Auto Scaling group was ever created: the eks key policy names that role and KMS rejects policies naming a role that does not exist."
  default     = false
}

variable "alerts_publishing_services" {
  type        = list(string)
  description = "Service principals that publish to modules/monitoring's alerts topic: the alerts key's policy lets them use the key (the topic's policy names the same services)."
}

variable "create_backup_key" {
  type        = bool
  description = "Create the key of modules/backup's vault (key_arns[\"backup\"]): true where the environment has backups."
  default     = false
}
