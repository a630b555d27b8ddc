data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

# --- Exported logs ----------------------------------------------------------

resource "aws_cloudwatch_log_group" "this" {
  for_each = toset(local.log_exports)

  # The exact name RDS writes to; creating it first sets retention and KMS.
  name              = "/aws/rds/instance/${local.identifier}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = merge(var.tags, { Name = "/aws/rds/instance/${local.identifier}/${each.key}" })
}

# --- Enhanced Monitoring ----------------------------------------------------

data "aws_iam_policy_document" "monitoring_assume" {
  count = var.monitoring_interval > 0 ? 1 : 0

  statement {
    sid     = "RdsEnhancedMonitoring"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["monitoring.rds.amazonaws.com"]
    }

    # Confused-deputy guard: only RDS acting for this account may assume it.
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "monitoring" {
  count = var.monitoring_interval > 0 ? 1 : 0

  name               = "${local.identifier}-monitoring"
  description        = "Lets RDS Enhanced Monitoring publish OS metrics for ${local.identifier}"
  assume_role_policy = data.aws_iam_policy_document.monitoring_assume[0].json

  tags = merge(var.tags, { Name = "${local.identifier}-monitoring" })
}

resource "aws_iam_role_policy_attachment" "monitoring" {
  count = var.monitoring_interval > 0 ? 1 : 0

  role       = aws_iam_role.monitoring[0].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

# --- Alarms -----------------------------------------------------------------

# The alarms notify the environment's alerts topic (modules/monitoring), which
# also carries the ALB, WAF, budget and backup notifications.
locals {
  # 3 x 5 minutes: long enough to ignore a migration or a vacuum spike,
  # short enough to page before a full disk or connection exhaustion.
  alarms = {
    cpu = {
      metric      = "CPUUtilization"
      statistic   = "Average"
      comparison  = "GreaterThanThreshold"
      threshold   = var.cpu_alarm_threshold_percent
      description = "${var.environment}: ${local.identifier} average CPU above ${var.cpu_alarm_threshold_percent}% for 15 minutes"
    }
    free-storage = {
      metric      = "FreeStorageSpace"
      statistic   = "Minimum"
      comparison  = "LessThanThreshold"
      threshold   = var.free_storage_alarm_threshold_bytes
      description = "${var.environment}: ${local.identifier} free storage below ${var.free_storage_alarm_threshold_bytes} bytes for 15 minutes"
    }
    connections = {
      metric      = "DatabaseConnections"
      statistic   = "Maximum"
      comparison  = "GreaterThanThreshold"
      threshold   = var.connections_alarm_threshold
      description = "${var.environment}: ${local.identifier} more than ${var.connections_alarm_threshold} connections for 15 minutes"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.alarms

  alarm_name          = "${local.identifier}-${each.key}"
  alarm_description   = each.value.description
  namespace           = "AWS/RDS"
  metric_name         = each.value.metric
  statistic           = each.value.statistic
  comparison_operator = each.value.comparison
  threshold           = each.value.threshold
  period              = 300
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  # No data (instance stopped or being replaced) shows as INSUFFICIENT_DATA,
  # neither a false OK nor a false page.
  treat_missing_data = "missing"

  dimensions = {
    DBInstanceIdentifier = aws_db_instance.this.identifier
  }

  alarm_actions = [var.alarm_topic_arn]
  ok_actions    = [var.alarm_topic_arn]

  tags = merge(var.tags, { Name = "${local.identifier}-${each.key}" })
}
