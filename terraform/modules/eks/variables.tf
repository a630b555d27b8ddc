variable "name" {
  type        = string
  description = "Cluster name and prefix for resource names, e.g. \"flask-auth-prod\"."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,38}$", var.name))
    error_message = "name must match ^[a-z][a-z0-9-]{1,38}$."
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

variable "kubernetes_version" {
  type        = string
  description = "Kubernetes minor version of the control plane and the managed node groups (the Helm chart needs >= 1.30)."
  default     = "1.33"

  validation {
    condition     = can(regex("^1\\.3[0-9]$", var.kubernetes_version))
    error_message = "kubernetes_version must be 1.30 to 1.39 (e.g. \"1.33\")."
  }
}

variable "vpc_id" {
  type        = string
  description = "VPC of the cluster."

  validation {
    condition     = can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "vpc_id must look like vpc-0123456789abcdef0."
  }
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets for the control-plane ENIs, in at least two AZs (EKS requires two)."

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "subnet_ids needs at least two subnets (in two AZs)."
  }

  validation {
    condition     = alltrue([for s in var.subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "Every subnet_ids entry must look like subnet-0123456789abcdef0."
  }
}

variable "node_subnet_ids" {
  type        = list(string)
  description = "Subnets for the node groups. Empty = subnet_ids. dev passes one subnet so its nodes and the SQLite EBS volume stay in one AZ."
  default     = []

  validation {
    condition     = alltrue([for s in var.node_subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "Every node_subnet_ids entry must look like subnet-0123456789abcdef0."
  }
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

  validation {
    condition     = alltrue([for c in var.public_access_cidrs : can(cidrhost(c, 0))])
    error_message = "Every public_access_cidrs entry must be a valid CIDR, e.g. 203.0.113.10/32."
  }

  validation {
    condition     = !anytrue([for c in var.public_access_cidrs : contains(["0.0.0.0/0", "::/0"], c)])
    error_message = "public_access_cidrs must not contain 0.0.0.0/0 (or ::/0): list the admin / CI egress addresses."
  }

  # Cross-variable validation (Terraform >= 1.9): EKS would otherwise default to 0.0.0.0/0.
  validation {
    condition     = !var.endpoint_public_access || length(var.public_access_cidrs) > 0
    error_message = "endpoint_public_access = true needs at least one public_access_cidrs entry (EKS would open the endpoint to 0.0.0.0/0)."
  }
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key (ARN) for Kubernetes secrets envelope encryption and the node EBS volumes."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-zA-Z-]+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)."
  }
}

variable "log_kms_key_arn" {
  type        = string
  description = "KMS key (ARN) for the control-plane CloudWatch log group."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-zA-Z-]+$", var.log_kms_key_arn))
    error_message = "log_kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)."
  }
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the control-plane log group, in days (a CloudWatch Logs allowed value)."
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of 1,3,5,7,14,30,60,90,120,150,180,365,400,545,731,1096,1827,2192,2557,2922,3288,3653."
  }
}

variable "on_demand_node_group" {
  type = object({
    instance_types = list(string)
    min_size       = number
    desired_size   = number
    max_size       = number
  })
  description = "On-demand managed node group (always created). desired_size is only the initial value: the cluster autoscaler owns it afterwards."

  validation {
    condition = (
      length(var.on_demand_node_group.instance_types) > 0 &&
      alltrue([for t in var.on_demand_node_group.instance_types : can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", t))])
    )
    error_message = "on_demand_node_group.instance_types needs at least one EC2 instance type such as m5.large."
  }

  validation {
    condition = (
      var.on_demand_node_group.min_size >= 1 &&
      var.on_demand_node_group.min_size <= var.on_demand_node_group.desired_size &&
      var.on_demand_node_group.desired_size <= var.on_demand_node_group.max_size &&
      var.on_demand_node_group.max_size <= 100 &&
      alltrue([for n in [var.on_demand_node_group.min_size, var.on_demand_node_group.desired_size, var.on_demand_node_group.max_size] : floor(n) == n])
    )
    error_message = "on_demand_node_group needs whole numbers with 1 <= min_size <= desired_size <= max_size <= 100."
  }
}

variable "spot_node_group" {
  type = object({
    instance_types = list(string)
    min_size       = number
    desired_size   = number
    max_size       = number
  })
  description = "Spot managed node group over several instance types; created only when max_size > 0."

  validation {
    condition = (
      var.spot_node_group.max_size == 0 ||
      (
        length(var.spot_node_group.instance_types) > 0 &&
        alltrue([for t in var.spot_node_group.instance_types : can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", t))])
      )
    )
    error_message = "spot_node_group.instance_types needs at least one EC2 instance type (several, for Spot capacity) when max_size > 0."
  }

  validation {
    condition = (
      var.spot_node_group.min_size >= 0 &&
      var.spot_node_group.min_size <= var.spot_node_group.desired_size &&
      var.spot_node_group.desired_size <= var.spot_node_group.max_size &&
      var.spot_node_group.max_size <= 100 &&
      alltrue([for n in [var.spot_node_group.min_size, var.spot_node_group.desired_size, var.spot_node_group.max_size] : floor(n) == n])
    )
    error_message = "spot_node_group needs whole numbers with 0 <= min_size <= desired_size <= max_size <= 100."
  }
}

variable "node_disk_size_gb" {
  type        = number
  description = "Size of each node's root gp3 volume, in GiB."
  default     = 50

  validation {
    condition     = var.node_disk_size_gb >= 20 && var.node_disk_size_gb <= 1000 && floor(var.node_disk_size_gb) == var.node_disk_size_gb
    error_message = "node_disk_size_gb must be a whole number from 20 to 1000."
  }
}

variable "node_ami_type" {
  type        = string
  description = "EKS-optimised AMI family of the node groups. Use an ARM64 type only with Graviton instance types."
  default     = "AL2023_x86_64_STANDARD"

  # AL2023 only: the launch template sizes its single root volume /dev/xvda
  # (Bottlerocket keeps its data on a second volume; AL2 has no 1.33+ AMIs).
  validation {
    condition     = contains(["AL2023_x86_64_STANDARD", "AL2023_ARM_64_STANDARD"], var.node_ami_type)
    error_message = "node_ami_type must be AL2023_x86_64_STANDARD or AL2023_ARM_64_STANDARD."
  }
}

variable "admin_principal_arns" {
  type        = list(string)
  description = "IAM roles/users given cluster admin (AmazonEKSClusterAdminPolicy, cluster scope) through access entries."
  default     = []

  validation {
    condition     = alltrue([for a in var.admin_principal_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/.+$", a))])
    error_message = "Every admin_principal_arns entry must be an IAM role or user ARN (not an assumed-role session ARN)."
  }

  validation {
    condition     = length(distinct(var.admin_principal_arns)) == length(var.admin_principal_arns)
    error_message = "admin_principal_arns must not repeat an ARN (one access entry per principal)."
  }
}

variable "deployer_principal_arns" {
  type        = list(string)
  description = "IAM roles (e.g. the GitHub Actions deploy role) given AmazonEKSAdminPolicy in app_namespace only."
  default     = []

  validation {
    condition     = alltrue([for a in var.deployer_principal_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/.+$", a))])
    error_message = "Every deployer_principal_arns entry must be an IAM role or user ARN (not an assumed-role session ARN)."
  }

  # A principal has one access entry: EKS rejects duplicates.
  validation {
    condition = (
      length(distinct(var.deployer_principal_arns)) == length(var.deployer_principal_arns) &&
      length(setintersection(var.deployer_principal_arns, var.admin_principal_arns)) == 0
    )
    error_message = "deployer_principal_arns must not repeat an ARN or name one that is in admin_principal_arns (admins already have cluster-wide access)."
  }
}

variable "app_namespace" {
  type        = string
  description = "Kubernetes namespace of the app (deployer access scope and IRSA subject)."
  default     = "flask-auth"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.app_namespace))
    error_message = "app_namespace must be a Kubernetes namespace name (DNS label)."
  }
}

variable "app_service_account" {
  type        = string
  description = "Service account of the app pods (IRSA subject)."
  default     = "flask-app"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$", var.app_service_account))
    error_message = "app_service_account must be a Kubernetes object name (DNS subdomain)."
  }
}

variable "app_secret_arns" {
  type        = list(string)
  description = "Secrets Manager secrets the app's IRSA role may read (GetSecretValue, DescribeSecret), e.g. for External Secrets."
  default     = []

  validation {
    condition     = alltrue([for a in var.app_secret_arns : can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$", a))])
    error_message = "Every app_secret_arns entry must be a Secrets Manager secret ARN."
  }
}

# ---------------------------------------------------------------------------
# Optional tuning (defaults fit every environment; the environments pass none).
# ---------------------------------------------------------------------------

variable "support_type" {
  type        = string
  description = "EKS upgrade policy: STANDARD (auto-upgrade at end of standard support) or EXTENDED (paid extended support)."
  default     = "STANDARD"

  validation {
    condition     = contains(["STANDARD", "EXTENDED"], var.support_type)
    error_message = "support_type must be STANDARD or EXTENDED."
  }
}

variable "addon_versions" {
  type        = map(string)
  description = "Pinned add-on versions by add-on name (e.g. { coredns = \"v1.12.1-eksbuild.2\" }). Unlisted add-ons get EKS's default version for kubernetes_version."
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.addon_versions) : contains(["vpc-cni", "coredns", "kube-proxy", "aws-ebs-csi-driver", "eks-pod-identity-agent"], k)])
    error_message = "addon_versions keys must be vpc-cni, coredns, kube-proxy, aws-ebs-csi-driver or eks-pod-identity-agent."
  }
}

variable "addon_configuration_values" {
  type        = map(string)
  description = "JSON configuration_values by add-on name, replacing the module's default for that add-on (vpc-cni defaults to enableNetworkPolicy = true)."
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.addon_configuration_values : contains(["vpc-cni", "coredns", "kube-proxy", "aws-ebs-csi-driver", "eks-pod-identity-agent"], k) && can(jsondecode(v))])
    error_message = "addon_configuration_values keys must be module add-on names and the values JSON strings."
  }
}

variable "iam_permissions_boundary_arn" {
  type        = string
  description = "Permissions boundary (policy ARN) for every IAM role this module creates; null = none."
  default     = null

  validation {
    condition     = var.iam_permissions_boundary_arn == null || can(regex("^arn:aws[a-z-]*:iam::([0-9]{12}|aws):policy/.+$", var.iam_permissions_boundary_arn))
    error_message = "iam_permissions_boundary_arn must be an IAM policy ARN or null."
  }
}

variable "route53_zone_id" {
  type        = string
  description = "Route53 hosted zone of the Ingress host; ExternalDNS gets an IRSA role that may change only this zone. Empty = no role."
  default     = ""

  validation {
    condition     = var.route53_zone_id == "" || can(regex("^Z[A-Z0-9]{1,31}$", var.route53_zone_id))
    error_message = "route53_zone_id must be empty or a hosted zone ID such as Z0123456789ABCDEFGHIJ."
  }
}
