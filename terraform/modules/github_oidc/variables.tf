variable "github_repository" {
  type        = string
  description = "GitHub repository allowed to deploy, as \"owner/repo\" (case must match GitHub's)."
}

variable "github_environment" {
  type        = string
  description = "GitHub Actions environment whose jobs may assume the deploy role, e.g. \"production\"."
}

variable "create_github_oidc_provider" {
  type        = bool
  description = "Create the account's token.actions.githubusercontent.com OIDC provider here. IAM allows one per account: true in exactly one environment of the account, the others look it up (and must be applied after it)."
  default     = false
}

variable "plan_readable_secret_names" {
  type        = list(string)
  description = "Names of this environment's Secrets Manager secrets whose value a plan refreshes (the Redis URL): the plan role may read them, and only them."
  default     = []
}

variable "ecr_repository_name" {
  type        = string
  description = "Name of the app's ECR repository (the deploy role may push/pull only there)."
}

variable "eks_cluster_name" {
  type        = string
  description = "Name of the EKS cluster the deploy role may describe."
}

variable "state_bucket_name" {
  type        = string
  description = "S3 bucket holding Terraform state; the deploy role may read it (the pipeline reads terraform outputs)."
}

variable "state_key_prefix" {
  type        = string
  description = "Key prefix of this environment's state in the bucket (e.g. \"flask-auth/prod/\"): the deploy and plan roles may read only objects under it."
}

variable "state_lock_table_name" {
  type        = string
  description = "DynamoDB lock table of the state backend, if one is used (the S3 backend reads its digest item). Empty = none (S3 native locking)."
  default     = ""
}

variable "state_kms_key_arn" {
  type        = string
  description = "ARN of the KMS key encrypting the state objects, if SSE-KMS is used. Empty = none."
  default     = ""
}

variable "secrets_kms_key_arn" {
  type        = string
  description = "ARN of the KMS key of the secrets named in plan_readable_secret_names (modules/kms elasticache_kms_key_arn): the plan role may decrypt with it."
}
