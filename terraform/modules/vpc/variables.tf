variable "cidr" {
  type        = string
  description = <<-EOT
    IPv4 CIDR of the VPC, with a prefix between /16 and /20. Subnets are carved from it:
    public = cidrsubnet(cidr, 8, i), database = cidrsubnet(cidr, 8, 10 + i),
    private = cidrsubnet(cidr, 4, i + 1). With a /16 the public and database subnets are /24s
    and the private ones /20s; note that an ALB needs subnets of at least /27, which a
    /20 VPC (giving /28 public subnets) does not provide, so use /19 or larger when the ALB
    is to live in the public subnets.
  EOT

  validation {
    condition = (
      can(regex("^\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}/\\d{1,2}$", var.cidr))
      && can(cidrhost(var.cidr, 0))
      && try(tonumber(split("/", var.cidr)[1]) >= 16 && tonumber(split("/", var.cidr)[1]) <= 20, false)
    )
    error_message = "cidr must be a valid IPv4 CIDR block with a prefix length between /16 and /20, e.g. \"10.30.0.0/16\"."
  }

  validation {
    # AWS stores the network address; a CIDR with host bits set would show a diff forever.
    condition     = try(cidrsubnet(var.cidr, 0, 0) == var.cidr, false)
    error_message = "cidr must be a network address (no host bits set), e.g. \"10.30.0.0/16\" rather than \"10.30.1.0/16\"."
  }
}

variable "az_count" {
  type        = number
  description = "Number of Availability Zones to spread the subnets over, 2 or 3. The minimum is 2 because EKS requires its cluster subnets in at least two AZs and an ALB requires subnets in at least two AZs."
}

variable "single_nat_gateway" {
  type        = bool
  description = "true: one NAT gateway shared by every AZ (cheaper, for dev/staging; an outage of its AZ cuts egress for all). false: one NAT gateway per AZ (prod)."
}

variable "cluster_name" {
  type        = string
  description = "Name of the EKS cluster that uses this VPC; subnets get the kubernetes.io/cluster/<cluster_name> tag so the AWS Load Balancer Controller can discover them."
}

variable "flow_log_max_aggregation_interval" {
  type        = number
  description = "Seconds over which a flow is aggregated into one flow-log record: 60 or 600."
  default     = 600
}

variable "enable_interface_endpoints" {
  type        = bool
  description = "Create interface VPC endpoints (ecr.api, ecr.dkr, sts, logs) in the private subnets, so image pulls, IRSA token exchange and log shipping stay off the NAT gateways."
  default     = true
}

variable "az_name_suffixes" {
  type        = list(string)
  description = "Letters of the AZs the VPC may use (region name + letter, e.g. ap-south-1a); the first az_count of them that are available, in alphabetical order, are used. Pinning keeps the AZ set stable when AWS adds zones."
  default     = ["a", "b", "c"]
}

variable "log_kms_key_arn" {
  type        = string
  description = "ARN of the KMS key that encrypts the module's log groups (modules/kms logs_kms_key_arn): its policy lets logs.<region>.amazonaws.com use it."
}
