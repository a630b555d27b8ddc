variable "name" {
  type        = string
  description = "Name of the repository, e.g. \"flask-auth-prod\" (also used as the Name tag). May contain a namespace, e.g. \"team/flask-auth\"."

  validation {
    condition     = can(regex("^[a-z][a-z0-9._/-]{1,100}$", var.name))
    error_message = "name must match ^[a-z][a-z0-9._/-]{1,100}$ (lowercase, starting with a letter)."
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

variable "kms_key_arn" {
  type        = string
  description = "ARN of the customer-managed KMS key that encrypts the images. Fixed at creation: changing it replaces the repository (and deletes its images)."

  validation {
    condition     = can(regex("^arn:aws[a-zA-Z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)."
  }
}

variable "keep_tagged_images" {
  type        = number
  description = "How many tagged images to keep: the newest N are kept, older ones expire. Keep enough for rollbacks."
  default     = 30

  validation {
    condition     = var.keep_tagged_images >= 1 && var.keep_tagged_images <= 1000 && floor(var.keep_tagged_images) == var.keep_tagged_images
    error_message = "keep_tagged_images must be a whole number between 1 and 1000."
  }
}

variable "untagged_expiry_days" {
  type        = number
  description = "Untagged images (layers of superseded pushes, failed builds) expire this many days after being pushed."
  default     = 3

  validation {
    condition     = var.untagged_expiry_days >= 1 && var.untagged_expiry_days <= 30 && floor(var.untagged_expiry_days) == var.untagged_expiry_days
    error_message = "untagged_expiry_days must be a whole number between 1 and 30."
  }
}

variable "force_delete" {
  type        = bool
  description = "Let `terraform destroy` delete the repository even if it still holds images. Keep false outside throwaway environments."
  default     = false
}
