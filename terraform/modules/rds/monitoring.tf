# --- Enhanced Monitoring ----------------------------------------------------

locals {
  service_role = { sid = "RdsEnhancedMonitoring", service = "monitoring.rds.amazonaws.com", source_arn = null }
}

resource "aws_iam_role" "monitoring" {
  count = local.monitoring_interval > 0 ? 1 : 0

  name               = "${local.identifier}-monitoring"
  description        = "Lets RDS Enhanced Monitoring publish OS metrics for ${local.identifier}"
  assume_role_policy = data.aws_iam_policy_document.service_role_trust.json

  tags = merge(var.tags, { Name = "${local.identifier}-monitoring" })
}

resource "aws_iam_role_policy_attachment" "monitoring" {
  count = local.monitoring_interval > 0 ? 1 : 0

  role       = aws_iam_role.monitoring[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
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
      threshold   = 80 # percent
      description = "${var.environment}: ${local.identifier} average CPU above 80% for 15 minutes"
    }
    free-storage = {
      metric      = "FreeStorageSpace"
      statistic   = "Minimum"
      comparison  = "LessThanThreshold"
      threshold   = 2147483648 # bytes: 2 GiB
      description = "${var.environment}: ${local.identifier} free storage below 2147483648 bytes for 15 minutes"
    }
    connections = {
      metric      = "DatabaseConnections"
      statistic   = "Maximum"
      comparison  = "GreaterThanThreshold"
      threshold   = 80 # connections
      description = "${var.environment}: ${local.identifier} more than 80 connections for 15 minutes"
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
