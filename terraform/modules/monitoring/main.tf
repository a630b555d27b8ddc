locals {
  topic_name = coalesce(var.topic_name, "${var.name}-alerts")
  # Built from its name: the key's policy below grants on the topic, and the
  # topic is encrypted with that key.
  topic_arn = "arn:${local.partition}:sns:${local.region}:${local.account_id}:${local.topic_name}"
}

# --- The environment's alerts topic -------------------------------------------

# The AWS services that publish to the topic (CloudWatch alarms, Budgets
# notifications and AWS Backup vault events), of this account only
# (confused-deputy guard), get what publishing to an encrypted topic takes:
# GenerateDataKey* and Decrypt on its key, Publish on the topic.
data "aws_iam_policy_document" "publishers" {
  #checkov:skip=CKV_AWS_111:Key policy: the only statement on top of the base (key_policy.tf) lets the publishing services of this account use the key, Resource "*" means this key.
  #checkov:skip=CKV_AWS_356:Key policy: "*" is the only valid resource in a KMS key policy and means this key.
  for_each = {
    kms   = { sid = "AllowServicesToPublishToTheAlertsTopic", actions = ["kms:Decrypt", "kms:GenerateDataKey*"], resources = ["*"] }
    topic = { sid = "AwsServicesOfThisAccountPublish", actions = ["sns:Publish"], resources = [local.topic_arn] }
  }

  statement {
    sid       = each.value.sid
    actions   = each.value.actions
    resources = each.value.resources

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com", "budgets.amazonaws.com", "backup.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

# Its own key: the publishing services above must be named in the key policy
# (an SNS topic encrypted with the AWS-managed aws/sns key cannot receive from them).
data "aws_iam_policy_document" "kms" {
  source_policy_documents = [
    data.aws_iam_policy_document.key_owner.json,
    data.aws_iam_policy_document.publishers["kms"].json,
  ]
}

resource "aws_kms_key" "alerts" {
  description             = "${var.name} alerts SNS topic (CloudWatch alarms, Budgets, AWS Backup)"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json

  tags = merge(var.tags, { Name = "${var.name}-alerts" })
}

resource "aws_kms_alias" "alerts" {
  name          = "alias/${var.name}-alerts"
  target_key_id = aws_kms_key.alerts.key_id
}

resource "aws_sns_topic" "alerts" {
  name              = local.topic_name
  kms_master_key_id = aws_kms_key.alerts.arn

  tags = merge(var.tags, { Name = local.topic_name })
}

data "aws_iam_policy_document" "topic" {
  # What the default topic policy gives: the account's own principals (IAM decides).
  statement {
    sid = "AccountPrincipals"
    actions = [
      "sns:GetTopicAttributes",
      "sns:SetTopicAttributes",
      "sns:AddPermission",
      "sns:RemovePermission",
      "sns:DeleteTopic",
      "sns:Subscribe",
      "sns:ListSubscriptionsByTopic",
      "sns:Publish",
    ]
    resources = [aws_sns_topic.alerts.arn]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  # Then the publishing services (appended after the statement above).
  override_policy_documents = [data.aws_iam_policy_document.publishers["topic"].json]
}

resource "aws_sns_topic_policy" "alerts" {
  arn    = aws_sns_topic.alerts.arn
  policy = data.aws_iam_policy_document.topic.json
}

resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.alert_email_addresses)

  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = each.key
}

# --- Monthly cost budget ---------------------------------------------------------

resource "aws_budgets_budget" "monthly" {
  account_id   = local.account_id
  name         = "${var.name}-monthly"
  budget_type  = "COST"
  limit_amount = format("%.2f", var.monthly_budget_usd)
  limit_unit   = "USD"
  time_unit    = "MONTHLY"

  # Only this environment's spend: every resource carries Environment = <env>
  # (the providers' default_tags). The tag must be activated once per account as
  # a cost allocation tag (see README), or the budget sees no cost at all.
  dynamic "cost_filter" {
    for_each = var.budget_filter_by_environment_tag ? [1] : []

    content {
      name   = "TagKeyValue"
      values = [format("user:Environment$%s", var.environment)]
    }
  }

  # Early warning: the month is on course to pass the budget (FORECASTED); then
  # the money is spent (ACTUAL).
  dynamic "notification" {
    for_each = [
      { type = "FORECASTED", threshold = var.budget_forecast_threshold_percent },
      { type = "ACTUAL", threshold = var.budget_actual_threshold_percent },
    ]

    content {
      comparison_operator        = "GREATER_THAN"
      threshold                  = notification.value.threshold
      threshold_type             = "PERCENTAGE"
      notification_type          = notification.value.type
      subscriber_sns_topic_arns  = [aws_sns_topic.alerts.arn]
      subscriber_email_addresses = var.alert_email_addresses
    }
  }

  tags = merge(var.tags, { Name = "${var.name}-monthly" })

  # Budgets must be allowed to publish before it validates the subscription.
  depends_on = [aws_sns_topic_policy.alerts]
}
