# The Enhanced Monitoring role and its policy attachment are declared once for
# the service roles of all modules (service_role_trust.tf); these move the old
# addresses onto the new ones so a plan keeps the objects. Keep them while any
# state may still have the old addresses.

moved {
  from = aws_iam_role.monitoring
  to   = aws_iam_role.service
}

moved {
  from = aws_iam_role_policy_attachment.monitoring[0]
  to   = aws_iam_role_policy_attachment.service["AmazonRDSEnhancedMonitoringRole"]
}
