resource "aws_cloudwatch_log_group" "flow_logs" {
  #checkov:skip=CKV_AWS_338:Retention is the environment's log_retention_days: prod keeps a year, staging 90 and dev 30 days (terraform.tfvars), a cost choice for the environments without real users.
  name              = "/aws/vpc-flow-logs/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn

  tags = merge(var.tags, { Name = "${var.name}-vpc-flow-logs" })
}

# Only flow logs of this account and region may use the role.
# The role itself is aws_iam_role.service[0] (service_role_trust.tf).
locals {
  service_role = {
    enabled          = true
    name             = "${var.name}-vpc-flow-logs"
    description      = "Lets VPC Flow Logs of ${var.name} write to its CloudWatch log group."
    sid              = "VpcFlowLogsAssume"
    service          = "vpc-flow-logs.amazonaws.com"
    source_arn       = "arn:${local.partition}:ec2:${local.region}:${local.account_id}:vpc-flow-log/*"
    managed_policies = []
  }
}

data "aws_iam_policy_document" "flow_logs" {
  statement {
    sid    = "WriteFlowLogGroup"
    effect = "Allow"
    actions = [
      "logs:CreateLogStream",
      "logs:PutLogEvents",
      "logs:DescribeLogStreams",
    ]
    resources = [
      aws_cloudwatch_log_group.flow_logs.arn,
      "${aws_cloudwatch_log_group.flow_logs.arn}:*",
    ]
  }

  # The delivery service looks its destination up with DescribeLogGroups, a
  # list call that cannot be narrowed to one group; it returns metadata only.
  statement {
    sid       = "FindFlowLogGroup"
    effect    = "Allow"
    actions   = ["logs:DescribeLogGroups"]
    resources = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*"]
  }
}

resource "aws_iam_role_policy" "flow_logs" {
  name   = "write-flow-log-group"
  role   = aws_iam_role.service[0].id
  policy = data.aws_iam_policy_document.flow_logs.json
}

resource "aws_flow_log" "this" {
  vpc_id                   = aws_vpc.this.id
  traffic_type             = "ALL"
  log_destination_type     = "cloud-watch-logs"
  log_destination          = aws_cloudwatch_log_group.flow_logs.arn
  iam_role_arn             = aws_iam_role.service[0].arn
  max_aggregation_interval = var.flow_log_max_aggregation_interval

  tags = merge(var.tags, { Name = "${var.name}-vpc" })

  # Without the policy in place the first deliveries fail with an access error.
  depends_on = [aws_iam_role_policy.flow_logs]
}
