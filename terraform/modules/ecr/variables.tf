variable "kms_key_arn" {
  type        = string
  description = "ARN of the customer-managed KMS key that encrypts the images. Fixed at creation: changing it replaces the repository (and deletes its images)."
}

variable "keep_tagged_images" {
  type        = number
  description = "How many tagged images to keep: the newest N are kept, older ones expire. Keep enough for rollbacks."
}

variable "untagged_expiry_days" {
  type        = number
  description = "Untagged images (layers of superseded pushes, failed builds) expire this many days after being pushed."
  default     = 3
}

variable "force_delete" {
  type        = bool
  description = "Let `terraform destroy` delete the repository even if it still holds images. Keep false outside throwaway environments."
  default     = false
}
