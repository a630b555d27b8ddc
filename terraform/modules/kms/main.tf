################################################################################
# KMS keys: one per data domain so a key policy (and a compromise or a
# scheduled deletion) only ever touches one kind of data.
################################################################################

locals {
  base_keys = {
    eks         = "EKS Kubernetes secrets envelope encryption and node EBS volumes"
    rds         = "RDS storage, Performance Insights, the master-user secret and RDS alarm topics"
    logs        = "CloudWatch Logs log groups"
    ecr         = "ECR repositories"
    elasticache = "ElastiCache at-rest encryption and its Secrets Manager secret"
    # modules/monitoring's topic.
    alerts = "alerts SNS topic (CloudWatch alarms, Budgets, AWS Backup)"
  }

  # modules/backup's vault in the backups' region (its cross-region copy key
  # lives with the copy provider in modules/backup), only where there are backups.
  kms_keys = merge(local.base_keys, var.create_backup_key ? { backup = "AWS Backup vault" } : {})

  # Referencing the created role (when we create it) orders the eks key after it.
  autoscaling_service_linked_role_arn = (
    var.create_autoscaling_service_linked_role
    ? aws_iam_service_linked_role.autoscaling[0].arn
    : "arn:${local.partition}:iam::${local.account_id}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
  )

  # What each key's policy grants on top of the base (key_policy.tf, where IAM
  # policies decide): the principals that use the key directly. RDS, ECR,
  # ElastiCache, EKS secrets and Secrets Manager create their grants with the
  # caller's IAM permissions (kms:ViaService), so they need no statement.
  key_statements = {
    # EKS managed node groups launch through Auto Scaling, which attaches the
    # encrypted launch-template volumes with its service-linked role. That role
    # has no KMS permissions in IAM, so the key policy must name it directly;
    # its grants may only be made for AWS resources (the EBS volumes).
    eks = [
      {
        sid        = "AllowAutoScalingToUseKeyForEBS"
        actions    = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
        principals = { type = "AWS", identifiers = [local.autoscaling_service_linked_role_arn] }
        conditions = []
      },
      {
        sid        = "AllowAutoScalingToGrantEBSAccess"
        actions    = ["kms:CreateGrant"]
        principals = { type = "AWS", identifiers = [local.autoscaling_service_linked_role_arn] }
        conditions = [{ test = "Bool", variable = "kms:GrantIsForAWSResource", values = ["true"] }]
      },
    ]
    # Encrypted the RDS alarm topic before modules/monitoring took it over (with
    # the alerts key below); kept for SNS topics of RDS events. Services publishing to an
    # encrypted SNS topic need Decrypt/GenerateDataKey, limited to SNS topics of
    # this account through the encryption context SNS always sets.
    rds = [
      {
        sid        = "AllowAlarmPublishingToEncryptedTopics"
        actions    = ["kms:Decrypt", "kms:GenerateDataKey*"]
        principals = { type = "Service", identifiers = ["cloudwatch.amazonaws.com", "sns.amazonaws.com", "events.rds.amazonaws.com"] }
        conditions = [{ test = "ArnLike", variable = "kms:EncryptionContext:aws:sns:topicArn", values = ["arn:${local.partition}:sns:${local.region}:${local.account_id}:*"] }]
      },
    ]
    # CloudWatch Logs encrypts with the key as the regional logs service
    # principal; the encryption context keeps it to log groups of this account
    # and region.
    logs = [
      {
        sid        = "AllowCloudWatchLogsInThisAccount"
        actions    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        principals = { type = "Service", identifiers = ["logs.${local.region}.${local.dns_suffix}"] }
        conditions = [{ test = "ArnLike", variable = "kms:EncryptionContext:aws:logs:arn", values = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*"] }]
      },
    ]
    # The services publishing to modules/monitoring's alerts topic, of this
    # account only (confused-deputy guard), get what publishing to an encrypted
    # topic takes on its key; the topic's policy lets the same services Publish.
    alerts = [
      {
        sid        = "AllowServicesToPublishToTheAlertsTopic"
        actions    = ["kms:Decrypt", "kms:GenerateDataKey*"]
        principals = { type = "Service", identifiers = var.alerts_publishing_services }
        conditions = [{ test = "StringEquals", variable = "aws:SourceAccount", values = [local.account_id] }]
      },
    ]
    # AWS Backup uses the vault key through grants it creates with the backup
    # role's and the operator's IAM permissions.
    backup      = []
    ecr         = []
    elasticache = []
  }
}

data "aws_iam_policy_document" "key" {
  #checkov:skip=CKV_AWS_111:Key policy: the only write actions go to the named Auto Scaling service-linked role, Resource "*" means this key, and CreateGrant is limited to AWS resources.
  #checkov:skip=CKV_AWS_356:Key policy: "*" is the only valid resource in a KMS key policy and means this key.
  for_each = local.kms_keys

  source_policy_documents = [data.aws_iam_policy_document.key_owner.json]

  dynamic "statement" {
    for_each = local.key_statements[each.key]

    content {
      sid       = statement.value.sid
      effect    = "Allow"
      actions   = statement.value.actions
      resources = ["*"]

      principals {
        type        = statement.value.principals.type
        identifiers = statement.value.principals.identifiers
      }

      dynamic "condition" {
        for_each = statement.value.conditions

        content {
          test     = condition.value.test
          variable = condition.value.variable
          values   = condition.value.values
        }
      }
    }
  }
}

resource "aws_kms_key" "this" {
  for_each = local.kms_keys

  description             = "${var.name} ${each.value}"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.key[each.key].json

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
