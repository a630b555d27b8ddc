# The base of every customer-managed key policy: the account owns the key and
# IAM policies decide who uses it. Each module that creates keys (kms,
# monitoring, backup) links this file as its key_policy.tf and adds its service
# statements on top (source_policy_documents).
data "aws_iam_policy_document" "key_owner" {
  #checkov:skip=CKV_AWS_109:Key policy, not an IAM policy: Resource "*" is this key only, and the account-root admin statement is the AWS-required default that lets IAM policies govern the key.
  #checkov:skip=CKV_AWS_111:Key policy, not an IAM policy: Resource "*" is this key only, and the account-root admin statement is the AWS-required default that lets IAM policies govern the key.
  #checkov:skip=CKV_AWS_356:Key policy: "*" is the only valid resource in a KMS key policy and means this key.
  statement {
    sid       = "EnableRootAccountAndIAMPolicies"
    effect    = "Allow"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }
}
