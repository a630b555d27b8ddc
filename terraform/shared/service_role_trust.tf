# The trust policy of the role an AWS service assumes for a module (the VPC's
# flow logs, RDS Enhanced Monitoring, AWS Backup): the module names the service
# in local.service_role = { sid, service, source_arn } (source_arn null: any of
# the account's) and links this file as its service_role_trust.tf.
data "aws_iam_policy_document" "service_role_trust" {
  statement {
    sid     = local.service_role.sid
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = [local.service_role.service]
    }

    # Confused-deputy guard: only the service acting for this account (and, with
    # source_arn, for those resources of it) may assume the role.
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    dynamic "condition" {
      for_each = local.service_role.source_arn == null ? [] : [local.service_role.source_arn]

      content {
        test     = "ArnLike"
        variable = "aws:SourceArn"
        values   = [condition.value]
      }
    }
  }
}
