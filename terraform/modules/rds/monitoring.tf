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

# The database's CloudWatch alarms are modules/monitoring's
# (local.database_alarms, given db_instance_identifier), with the environment's
# other alarms.
