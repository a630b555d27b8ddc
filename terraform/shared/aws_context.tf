# The account, partition and region a module's policies and ARNs name. Each
# module that needs them links this file as its aws_context.tf.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.id
  dns_suffix = data.aws_partition.current.dns_suffix
}
