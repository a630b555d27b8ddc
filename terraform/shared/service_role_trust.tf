# The role an AWS service assumes for a module (the VPC's flow logs, RDS
# Enhanced Monitoring, AWS Backup), with its trust policy and the AWS managed
# service-role policies it is given. The module describes it in
#   local.service_role = { enabled, name, description, sid, service, source_arn,
#                          managed_policies }
# (enabled false: no role; source_arn null: any of the account's resources;
# managed_policies: names under arn:<partition>:iam::aws:policy/service-role/)
# and links this file as its service_role_trust.tf. The role is
# aws_iam_role.service[0]; a policy of the module's own attaches to it there.
resource "aws_iam_role" "service" {
  count = local.service_role.enabled ? 1 : 0

  name               = local.service_role.name
  description        = local.service_role.description
  assume_role_policy = data.aws_iam_policy_document.service_role_trust.json

  tags = merge(var.tags, { Name = local.service_role.name })
}

resource "aws_iam_role_policy_attachment" "service" {
  for_each = toset(local.service_role.enabled ? local.service_role.managed_policies : [])

  role       = aws_iam_role.service[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/${each.key}"
}

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
