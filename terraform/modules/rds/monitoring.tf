# --- Enhanced Monitoring ----------------------------------------------------

# The role and its policy attachment are aws_iam_role.service[0] and
# aws_iam_role_policy_attachment.service (service_role_trust.tf), when
# monitoring_interval is on.
locals {
  service_role = {
    enabled          = local.monitoring_interval > 0
    name             = "${local.identifier}-monitoring"
    description      = "Lets RDS Enhanced Monitoring publish OS metrics for ${local.identifier}"
    sid              = "RdsEnhancedMonitoring"
    service          = "monitoring.rds.amazonaws.com"
    source_arn       = null
    managed_policies = ["AmazonRDSEnhancedMonitoringRole"]
  }
}

# The database's CloudWatch alarms are modules/monitoring's
# (local.database_alarms, given db_instance_identifier), with the environment's
# other alarms.
