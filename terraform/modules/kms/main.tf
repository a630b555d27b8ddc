data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.id
  dns_suffix = data.aws_partition.current.dns_suffix
}

################################################################################
# KMS keys: one per data domain so a key policy (and a compromise or a
# scheduled deletion) only ever touches one kind of data.
################################################################################

locals {
  kms_keys = {
    eks         = "EKS Kubernetes secrets envelope encryption and node EBS volumes"
    rds         = "RDS storage, Performance Insights, the master-user secret and RDS alarm topics"
    logs        = "CloudWatch Logs log groups"
    ecr         = "ECR repositories"
    elasticache = "ElastiCache at-rest encryption and its Secrets Manager secret"
  }

  # Referencing the created role (when we create it) orders the eks key after it.
  autoscaling_service_linked_role_arn = (
    var.create_autoscaling_service_linked_role
    ? aws_iam_service_linked_role.autoscaling[0].arn
    : "arn:${local.partition}:iam::${local.account_id}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
  )

  kms_policies = {
    eks         = data.aws_iam_policy_document.kms_eks.json
    rds         = data.aws_iam_policy_document.kms_rds.json
    logs        = data.aws_iam_policy_document.kms_logs.json
    ecr         = data.aws_iam_policy_document.kms_account.json
    elasticache = data.aws_iam_policy_document.kms_account.json
  }
}

# Base of every key policy: the account owns the key and IAM policies decide who
# uses it. RDS, ECR, ElastiCache, EKS secrets and Secrets Manager all create
# their grants with the caller's IAM permissions (kms:ViaService), so they need
# no statement of their own. In a key policy "*" as resource means "this key".
data "aws_iam_policy_document" "kms_account" {
  #checkov:skip=CKV_AWS_109:Key policy, not an IAM policy: Resource "*" is this key only, and the account-root admin statement is the AWS-required default that lets IAM policies govern the key.
  #checkov:skip=CKV_AWS_111:Key policy, not an IAM policy: Resource "*" is this key only, and the account-root admin statement is the AWS-required default that lets IAM policies govern the key.
  #checkov:skip=CKV_AWS_356:Key policy: "*" is the only valid resource in a KMS key policy and means this key.
  statement {
    sid       = "EnableRootAccountAndIAMPolicies"
    effect    = "Allow"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }
}

# EKS managed node groups launch through Auto Scaling, which attaches the
# encrypted launch-template volumes with its service-linked role. That role has
# no KMS permissions in IAM, so the key policy must name it directly.
data "aws_iam_policy_document" "kms_eks" {
  #checkov:skip=CKV_AWS_111:Key policy: the only write actions go to the named Auto Scaling service-linked role, Resource "*" means this key, and CreateGrant is limited to AWS resources.
  #checkov:skip=CKV_AWS_356:Key policy: "*" is the only valid resource in a KMS key policy and means this key.
  source_policy_documents = [data.aws_iam_policy_document.kms_account.json]

  statement {
    sid       = "AllowAutoScalingToUseKeyForEBS"
    effect    = "Allow"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = [local.autoscaling_service_linked_role_arn]
    }
  }

  statement {
    sid       = "AllowAutoScalingToGrantEBSAccess"
    effect    = "Allow"
    actions   = ["kms:CreateGrant"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = [local.autoscaling_service_linked_role_arn]
    }

    # Grants may only be made for AWS resources (the EBS volumes), not for arbitrary principals.
    condition {
      test     = "Bool"
      variable = "kms:GrantIsForAWSResource"
      values   = ["true"]
    }
  }
}

# Encrypted the RDS alarm topic before modules/monitoring took it over (with its
# own key); kept for SNS topics of RDS events. Services publishing to an
# encrypted SNS topic (CloudWatch alarms, RDS event subscriptions, SNS itself)
# need Decrypt/GenerateDataKey in the key policy. Limited to SNS topics of this
# account through the encryption context SNS always sets.
data "aws_iam_policy_document" "kms_rds" {
  source_policy_documents = [data.aws_iam_policy_document.kms_account.json]

  statement {
    sid       = "AllowAlarmPublishingToEncryptedTopics"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]

    principals {
      type = "Service"
      identifiers = [
        "cloudwatch.amazonaws.com",
        "sns.amazonaws.com",
        "events.rds.amazonaws.com",
      ]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:sns:topicArn"
      values   = ["arn:${local.partition}:sns:${local.region}:${local.account_id}:*"]
    }
  }
}

# CloudWatch Logs encrypts with the key as the regional logs service principal;
# the encryption-context condition keeps it to log groups of this account/region.
data "aws_iam_policy_document" "kms_logs" {
  source_policy_documents = [data.aws_iam_policy_document.kms_account.json]

  statement {
    sid       = "AllowCloudWatchLogsInThisAccount"
    effect    = "Allow"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.${local.dns_suffix}"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*"]
    }
  }
}

resource "aws_kms_key" "this" {
  for_each = local.kms_keys

  description             = "${var.name} ${each.value}"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = local.kms_policies[each.key]

  tags = merge(var.tags, { Name = "${var.name}-${each.key}" })
}

resource "aws_kms_alias" "this" {
  for_each = local.kms_keys

  name          = "alias/${var.name}-${each.key}"
  target_key_id = aws_kms_key.this[each.key].key_id
}

resource "aws_iam_service_linked_role" "autoscaling" {
  count = var.create_autoscaling_service_linked_role ? 1 : 0

  aws_service_name = "autoscaling.amazonaws.com"

  tags = merge(var.tags, { Name = "AWSServiceRoleForAutoScaling" })
}
