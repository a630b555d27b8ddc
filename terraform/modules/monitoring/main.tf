locals {
  topic_name = coalesce(var.topic_name, "${var.name}-alerts")
}

# --- The environment's alerts topic -------------------------------------------

# Encrypted with modules/kms's alerts key: its policy lets the publishing
# services (var.publishing_services) use it, as publishing to an encrypted topic
# takes (an SNS topic encrypted with the AWS-managed aws/sns key cannot receive
# from them).
resource "aws_sns_topic" "alerts" {
  name              = local.topic_name
  kms_master_key_id = var.kms_key_arn

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

  # The AWS services that publish to the topic (CloudWatch alarms, Budgets
  # notifications and AWS Backup vault events), of this account only
  # (confused-deputy guard).
  statement {
    sid       = "AwsServicesOfThisAccountPublish"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]

    principals {
      type        = "Service"
      identifiers = var.publishing_services
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
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
