# What the data stores of the environment (modules/rds, modules/elasticache)
# have alike: where they live and who may reach them (their subnets, and their
# security group, open on local.port to allowed_security_group_ids only), their
# key, and their CloudWatch log groups. It lives in modules/rds (a module
# directory, so scanners see its resources in use) and modules/elasticache
# links it; each names the store in local.identifier, local.engine,
# local.log_group_prefix and local.log_types.

variable "vpc_id" {
  type        = string
  description = "VPC that holds the data store's subnets."
}

variable "subnet_ids" {
  type        = list(string)
  description = "The database subnets, in different AZs, for the data store's subnet group."
}

variable "kms_key_arn" {
  type        = string
  description = "Customer-managed KMS key of the data store: its data at rest, its secret and its log groups."
}

variable "allowed_security_group_ids" {
  type        = list(string)
  description = "Security groups (the EKS nodes) that may connect on the data store's port. Nothing else is allowed in."
}

# No egress rules: Terraform drops the default allow-all egress, and the data
# store only answers connections (security groups are stateful).
resource "aws_security_group" "this" {
  name_prefix = "${local.identifier}-"
  description = "${local.engine} ${local.identifier}: ${local.port} from the EKS nodes only"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${local.identifier}-sg" })

  # The DB instance or replication group always references a security group,
  # so the replacement must exist before the old one goes.
  lifecycle {
    create_before_destroy = true
  }
}

# count, not for_each: the node security group id is usually unknown at plan
# time (created in the same apply), and for_each keys must be known.
resource "aws_vpc_security_group_ingress_rule" "this" {
  count = length(var.allowed_security_group_ids)

  security_group_id            = aws_security_group.this.id
  description                  = "${local.engine} from allowed security group ${count.index}"
  ip_protocol                  = "tcp"
  from_port                    = local.port
  to_port                      = local.port
  referenced_security_group_id = var.allowed_security_group_ids[count.index]

  tags = merge(var.tags, { Name = "${local.identifier}-ingress-${count.index}" })
}

# Created before the data store, so they carry the retention and the key rather
# than the service creating them unencrypted and never expiring.
resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338:Retention is the environment's log_retention_days: prod keeps a year, staging 90 and dev 30 days (terraform.tfvars), a cost choice for the environments without real users.
  for_each = toset(local.log_types)

  name              = "${local.log_group_prefix}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = merge(var.tags, { Name = "${local.log_group_prefix}/${each.key}" })
}
