variable "kubernetes_version" {
  type        = string
  description = "Kubernetes minor version of the control plane and the managed node groups (the Helm chart needs >= 1.30)."
  default     = "1.33"
}

variable "vpc_id" {
  type        = string
  description = "VPC of the cluster."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets for the control-plane ENIs, in at least two AZs (EKS requires two)."
}

variable "node_subnet_ids" {
  type        = list(string)
  description = "Subnets for the node groups. Empty = subnet_ids. dev passes one subnet so its nodes and the SQLite EBS volume stay in one AZ."
  default     = []
}

variable "endpoint_public_access" {
  type        = bool
  description = "Expose the Kubernetes API endpoint publicly (limited to public_access_cidrs). The private endpoint is always on."
  default     = false
}

variable "public_access_cidrs" {
  type        = list(string)
  description = "CIDRs allowed to reach the public API endpoint. Used only when endpoint_public_access is true, and then required."
  default     = []
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key (ARN) for Kubernetes secrets envelope encryption and the node EBS volumes."
}

variable "node_groups" {
  type = map(object({
    instance_types = list(string)
    min_size       = number
    desired_size   = number
    max_size       = number
  }))
  description = "The managed node groups, on_demand (always created) and spot (over several instance types; created only when its max_size > 0). desired_size is only the initial value: the cluster autoscaler owns it afterwards."
}

variable "node_disk_size_gb" {
  type        = number
  description = "Size of each node's root gp3 volume, in GiB."
  default     = 50
}

variable "node_ami_type" {
  type        = string
  description = "EKS-optimised AMI family of the node groups. Use an ARM64 type only with Graviton instance types."
  default     = "AL2023_x86_64_STANDARD"
}

variable "admin_principal_arns" {
  type        = list(string)
  description = "IAM roles/users given cluster admin (AmazonEKSClusterAdminPolicy, cluster scope) through access entries."
  default     = []
}

variable "deployer_principal_arns" {
  type        = list(string)
  description = "IAM roles (e.g. the GitHub Actions deploy role) given AmazonEKSAdminPolicy in app_namespace only."
  default     = []
}

variable "app_namespace" {
  type        = string
  description = "Kubernetes namespace of the app (deployer access scope and IRSA subject)."
  default     = "flask-auth"
}

variable "app_service_account" {
  type        = string
  description = "Service account of the app pods (IRSA subject)."
  default     = "flask-app"
}

variable "app_secret_arns" {
  type        = list(string)
  description = "Secrets Manager secrets the app's IRSA role may read (GetSecretValue, DescribeSecret), e.g. for External Secrets."
  default     = []
}

# ---------------------------------------------------------------------------
# Optional tuning (defaults fit every environment; the environments pass none).
# ---------------------------------------------------------------------------

variable "support_type" {
  type        = string
  description = "EKS upgrade policy: STANDARD (auto-upgrade at end of standard support) or EXTENDED (paid extended support)."
  default     = "STANDARD"
}

variable "addon_versions" {
  type        = map(string)
  description = "Pinned add-on versions by add-on name (e.g. { coredns = \"v1.12.1-eksbuild.2\" }). Unlisted add-ons get EKS's default version for kubernetes_version."
  default     = {}
}

variable "addon_configuration_values" {
  type        = map(string)
  description = "JSON configuration_values by add-on name, replacing the module's default for that add-on (vpc-cni defaults to enableNetworkPolicy = true)."
  default     = {}
}

variable "iam_permissions_boundary_arn" {
  type        = string
  description = "Permissions boundary (policy ARN) for every IAM role this module creates; null = none."
  default     = null
}

variable "route53_zone_id" {
  type        = string
  description = "Route53 hosted zone of the Ingress host; ExternalDNS gets an IRSA role that may change only this zone. Empty = no role."
  default     = ""
}

variable "log_kms_key_arn" {
  type        = string
  description = "ARN of the KMS key that encrypts the module's log groups (modules/kms logs_kms_key_arn): its policy lets logs.<region>.amazonaws.com use it."
}
