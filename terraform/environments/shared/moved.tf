# The state of the layout before modules/platform (each environment called the
# child modules itself, module.security held the keys, the GitHub roles and the
# WAF) maps onto the new addresses: a plan moves these, it creates and destroys
# nothing (tests/infra/test_terraform.py applies the old layout to the emulator
# and plans this one against its state). Keep them while any state may still
# have the old addresses.

moved {
  from = module.vpc
  to   = module.platform.module.vpc
}

moved {
  from = module.ecr
  to   = module.platform.module.ecr
}

moved {
  from = module.eks
  to   = module.platform.module.eks
}

moved {
  from = module.rds
  to   = module.platform.module.rds[0]
}

moved {
  from = module.elasticache
  to   = module.platform.module.elasticache[0]
}

moved {
  from = module.monitoring
  to   = module.platform.module.monitoring
}

moved {
  from = module.backup
  to   = module.platform.module.backup[0]
}

# The alarm topic and its subscriptions were module.rds's (the environments with a
# database): they belong to modules/monitoring, unchanged.
moved {
  from = module.rds.aws_sns_topic.alarms
  to   = module.platform.module.monitoring.aws_sns_topic.alerts
}

moved {
  from = module.rds.aws_sns_topic_subscription.email
  to   = module.platform.module.monitoring.aws_sns_topic_subscription.email
}

# modules/security, split by concern: the KMS keys, the GitHub OIDC roles and
# the WAF are modules of their own; the ALB group and the app log group stay.
moved {
  from = module.security.aws_kms_key.this
  to   = module.platform.module.kms.aws_kms_key.this
}

moved {
  from = module.security.aws_kms_alias.this
  to   = module.platform.module.kms.aws_kms_alias.this
}

moved {
  from = module.security.aws_iam_service_linked_role.autoscaling
  to   = module.platform.module.kms.aws_iam_service_linked_role.autoscaling
}

moved {
  from = module.security.aws_iam_openid_connect_provider.github
  to   = module.platform.module.github_oidc.aws_iam_openid_connect_provider.github
}

moved {
  from = module.security.aws_iam_role.deploy
  to   = module.platform.module.github_oidc.aws_iam_role.deploy
}

moved {
  from = module.security.aws_iam_role.plan
  to   = module.platform.module.github_oidc.aws_iam_role.plan
}

moved {
  from = module.security.aws_iam_role_policy.deploy
  to   = module.platform.module.github_oidc.aws_iam_role_policy.deploy
}

moved {
  from = module.security.aws_iam_role_policy.plan
  to   = module.platform.module.github_oidc.aws_iam_role_policy.plan
}

moved {
  from = module.security.aws_iam_role_policy_attachment.plan_read_only
  to   = module.platform.module.github_oidc.aws_iam_role_policy_attachment.plan_read_only
}

moved {
  from = module.security.aws_wafv2_web_acl.this
  to   = module.platform.module.waf.aws_wafv2_web_acl.this
}

moved {
  from = module.security.aws_wafv2_web_acl_logging_configuration.this
  to   = module.platform.module.waf.aws_wafv2_web_acl_logging_configuration.this
}

moved {
  from = module.security.aws_cloudwatch_log_group.waf
  to   = module.platform.module.waf.aws_cloudwatch_log_group.waf
}

moved {
  from = module.security.aws_cloudwatch_log_resource_policy.waf
  to   = module.platform.module.waf.aws_cloudwatch_log_resource_policy.waf
}

moved {
  from = module.security
  to   = module.platform.module.security
}
